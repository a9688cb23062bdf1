"""The one way the compiled engine compiles a function: numba, nopython, cached.

``cache=True`` writes the machine code beside the source (or, where that folder
is read-only, in numba's user cache), so only the first run on a machine pays
for compiling.  The wrapper keeps the function's signature for mypy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile ``fn`` with numba in nopython mode, cached on disk."""
    return cast(F, numba.njit(cache=True, error_model="numpy")(fn))


def inline_kernel(fn: F) -> F:
    """As :func:`kernel`, inlined into its callers by numba (tiny helpers)."""
    return cast(F, numba.njit(cache=True, error_model="numpy", inline="always")(fn))
