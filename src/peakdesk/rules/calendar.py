"""Local clocks for calendar rules, vectorised.

Platform rules are written in market local time (Taobao's 08:00-23:00 window,
Lazada's 18:00/19:00 cycle).  These helpers turn POSIX seconds into local
seconds with the zone's UTC offset at each instant (DST-correct on a 15-minute
grid, where every real-world offset change falls).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

DAY_S = 86400.0
_GRID_S = 900.0


def utc_offset_s(time_s: F64, zone: ZoneInfo) -> F64:
    """UTC offset in force at each POSIX time, seconds.

    Offsets are read from the zone on a 15-minute grid over the span of the
    times (hourly beyond three years), then looked up per time.
    """
    if time_s.size == 0:
        return np.zeros(0)
    lo = np.floor(float(np.min(time_s)) / _GRID_S) * _GRID_S
    hi = float(np.max(time_s))
    step = _GRID_S if hi - lo < 3 * 365 * DAY_S else 3600.0
    grid = np.arange(lo, hi + step, step)
    offs = np.array([_offset(float(g), zone) for g in grid])
    if np.all(offs == offs[0]):
        return np.full(time_s.shape, offs[0])
    idx = np.clip(np.searchsorted(grid, time_s, side="right") - 1, 0, grid.size - 1)
    return np.asarray(offs[idx], dtype=np.float64)


def _offset(posix_s: float, zone: ZoneInfo) -> float:
    off = dt.datetime.fromtimestamp(posix_s, dt.UTC).astimezone(zone).utcoffset()
    return 0.0 if off is None else off.total_seconds()


def local_seconds(time_s: F64, zone: ZoneInfo) -> F64:
    """Local wall-clock seconds since 1970-01-01 00:00 local, for each POSIX time."""
    return np.asarray(time_s + utc_offset_s(time_s, zone), dtype=np.float64)


def local_day(time_s: F64, zone: ZoneInfo) -> I64:
    """Local calendar day of each POSIX time, as days since 1970-01-01."""
    return np.floor(local_seconds(time_s, zone) / DAY_S).astype(np.int64)


def local_clock_s(time_s: F64, zone: ZoneInfo) -> F64:
    """Local time of day, seconds after midnight."""
    return np.asarray(np.mod(local_seconds(time_s, zone), DAY_S), dtype=np.float64)


def weekday(day: I64) -> I64:
    """Weekday of a day number (Monday = 0 ... Sunday = 6); 1970-01-01 was a Thursday."""
    return np.asarray((day + 3) % 7, dtype=np.int64)


def day_number(d: dt.date) -> int:
    """A date as days since 1970-01-01."""
    return (d - dt.date(1970, 1, 1)).days


def day_date(n: int) -> dt.date:
    """Days since 1970-01-01 back to a date."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(n))


def local_to_posix(local_s: F64, zone: ZoneInfo) -> F64:
    """Local wall-clock seconds (since 1970-01-01 local) to POSIX seconds.

    Uses the offset in force one offset-width earlier, which is exact except in
    the hour a DST change skips or repeats.
    """
    guess = local_s - utc_offset_s(local_s, zone)
    return np.asarray(local_s - utc_offset_s(guess, zone), dtype=np.float64)


def in_clock_window(clock_s: F64, start_s: float, end_s: float) -> npt.NDArray[np.bool_]:
    """Whether each local time of day lies in ``[start_s, end_s)``.

    Parameters
    ----------
    clock_s
        Local time of day, seconds after midnight.
    start_s, end_s
        Window bounds, seconds after midnight; ``start_s > end_s`` wraps
        around midnight (e.g. 22:00-06:00).

    Returns
    -------
    numpy.ndarray of bool
    """
    if start_s <= end_s:
        return np.asarray((clock_s >= start_s) & (clock_s < end_s), dtype=np.bool_)
    return np.asarray((clock_s >= start_s) | (clock_s < end_s), dtype=np.bool_)
