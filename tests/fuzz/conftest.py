"""The fuzz suite's hypothesis profiles (registered and loaded by ``strategies``).

``ci`` (the default): derandomized, a fixed number of cases per target (see
``strategies.BUDGET``) so that the whole suite runs in about a minute on a
2-core machine, no example database.  ``long``: many more cases on random
seeds; select it with ``PEAKDESK_FUZZ=long``, or run ``benchmarks/fuzz_long.py``,
which also reports the cases tried per target and the distinct failures.
"""

from __future__ import annotations

import fuzz.strategies  # noqa: F401 - registers and loads the profile
