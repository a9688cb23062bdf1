"""Durations with units.

Every duration in a scenario file carries its unit, either in the field name
(``hourly_cost`` is money, ``interval`` is a duration string) or in the value
itself: ``"90s"``, ``"3min"``, ``"12h"``, ``"1d"``, ``"1h30min"``.  Internally
peakdesk uses float seconds everywhere.
"""

from __future__ import annotations

import re

_UNIT_S: dict[str, float] = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*")

ALLOWED_UNITS = "ms, s, min, h, d (e.g. '90s', '3min', '1h30min', '12h')"


def parse_duration_s(text: str) -> float:
    """Parse a duration string with units into seconds.

    Parameters
    ----------
    text
        For example ``"90s"``, ``"3min"``, ``"1h30min"``, ``"2.5h"``.

    Returns
    -------
    float
        The duration in seconds (>= 0).

    Raises
    ------
    ValueError
        If the text is not a sequence of ``<number><unit>`` parts.
    """
    s = text.strip()
    if not s:
        raise ValueError(f"empty duration; give a number with a unit: {ALLOWED_UNITS}")
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or m.group(2) not in _UNIT_S:
            raise ValueError(f"cannot read duration {text!r}; use {ALLOWED_UNITS}")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total


def format_duration(seconds: float) -> str:
    """Format seconds compactly for people (``"45s"``, ``"3.5min"``, ``"2.1h"``)."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds == float("inf"):
        return "inf"
    if abs(seconds) < 120:
        return f"{seconds:.1f}s"
    if abs(seconds) < 7200:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def error_text(exc: BaseException) -> str:
    """An exception's message for people (a ``KeyError`` without its repr quotes)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)
