"""Import of an interval forecast (conversations per interval) from a CSV file.

File format::

    interval_start,conversations[,<type name>...]
    2024-11-11T00:00:00+08:00,5230,...
    2024-11-11 00:15,4110,...

* ``interval_start`` is ISO 8601 (anything :meth:`datetime.datetime.fromisoformat` accepts). A
  time without an offset is local time in the scenario start's timezone.
* Rows are equally spaced and strictly increasing; every ``interval_start`` lies in the horizon
  ``[start, start + horizon)`` on the scenario start plus whole intervals. The interval length
  is the common spacing, at least a minute.
* Counts are expected conversations per interval: non-negative numbers, fractions allowed,
  at most 10^9.
* With one column per inquiry type (all types, any order), ``conversations`` may be omitted and
  is then their sum; if both are given they must agree within 0.5 (rounding in the planner's
  spreadsheet), and ``conversations`` is kept as the total.

Every problem raises :class:`ForecastError` naming the file, the line and, for a bad cell, the
column, so the planner can fix the file without reading a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from peakdesk.units import FileLineError, csv_records, seconds_from

__all__ = ["Forecast", "ForecastError", "read_forecast_csv"]

FloatArray = NDArray[np.float64]

_TIME_COL = "interval_start"
_TOTAL_COL = "conversations"
# Tolerance between the `conversations` column and the sum of the type columns, in
# conversations: forecasts exported from spreadsheets are often rounded per column.
_SUM_TOLERANCE = 0.5
# Tolerance on the spacing of interval starts, in seconds (timestamps carry at most microseconds).
_SPACING_TOL_S = 1e-6
#: Most expected conversations in one interval (more is a typo: the whole of Double-11 on
#: Taobao is a few hundred million inquiries).
MAX_COUNT = 1e9
#: Shortest interval, seconds (a finer forecast only multiplies the intensity's bins).
MIN_INTERVAL_S = 60.0


# eq=False: the fields are numpy arrays, for which a generated __eq__/__hash__ would be
# ambiguous (elementwise ==) or fail; identity semantics are the honest choice.
@dataclass(frozen=True, eq=False)
class Forecast:
    """Forecast volume per interval.

    Attributes
    ----------
    interval_start_s : numpy.ndarray
        float64 start of each interval, in seconds from the scenario start.
    interval_s : float
        Interval length in seconds (the common spacing of the starts).
    total : numpy.ndarray
        float64 expected conversations per interval.
    by_type : dict of str to numpy.ndarray, or None
        Expected conversations per interval for each inquiry type, when the file has type columns.
    """

    interval_start_s: FloatArray
    interval_s: float
    total: FloatArray
    by_type: dict[str, FloatArray] | None


class ForecastError(FileLineError):
    """A forecast CSV file that cannot be used (file, line, what is wrong and allowed)."""


def read_forecast_csv(
    path: Path, start: datetime, horizon_s: float, type_names: Sequence[str]
) -> Forecast:
    """Read an interval forecast from a CSV file.

    Parameters
    ----------
    path : pathlib.Path
        CSV file (UTF-8, optionally with a byte-order mark).
    start : datetime.datetime
        Timezone-aware scenario start; zone-less times in the file are read in its timezone.
    horizon_s : float
        Scenario horizon in seconds; interval starts must lie in ``[start, start + horizon_s)``.
    type_names : sequence of str
        Inquiry type names allowed as extra columns.

    Returns
    -------
    Forecast
        Interval starts in seconds from ``start``, interval length in seconds and conversations
        per interval (total and, if present, by type).

    Raises
    ------
    ForecastError
        If the file cannot be read or its content is invalid (with line and column).
    ValueError
        If ``start`` is naive, ``horizon_s`` is not positive or ``type_names`` is invalid
        (caller errors, not file errors).
    """
    path = Path(path)
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got {start.isoformat()}")
    if not (math.isfinite(horizon_s) and horizon_s > 0.0):
        raise ValueError(f"horizon_s must be a finite number > 0, got {horizon_s}")
    types = list(type_names)
    if len(set(types)) != len(types) or any(not t or t in (_TIME_COL, _TOTAL_COL) for t in types):
        raise ValueError(
            f"type_names must be unique, non-empty and not {_TIME_COL!r}/{_TOTAL_COL!r}: {types}"
        )

    return _parse(path, csv_records(path, ForecastError), start, horizon_s, types)


def _parse(
    path: Path,
    rows: list[tuple[int, list[str]]],
    start: datetime,
    horizon_s: float,
    types: list[str],
) -> Forecast:
    if not rows:
        raise ForecastError(path, None, f"empty file; expected a header starting with {_TIME_COL}")
    header_line, raw_header = rows[0]
    header = [name.strip() for name in raw_header]
    count_cols = _check_header(path, header_line, header, types)
    has_total = _TOTAL_COL in count_cols
    type_cols = [name for name in count_cols if name != _TOTAL_COL]

    data = rows[1:]
    if not data:
        raise ForecastError(path, None, "no data rows after the header")

    offsets = np.empty(len(data), dtype=np.float64)
    counts = {name: np.empty(len(data), dtype=np.float64) for name in count_cols}
    step: float | None = None
    for i, (line, record) in enumerate(data):
        if len(record) != len(header):
            expected = f"{len(header)} fields ({', '.join(header)})"
            raise ForecastError(path, line, f"expected {expected}, got {len(record)}")
        cells = dict(zip(header, (cell.strip() for cell in record), strict=True))
        offsets[i] = _offset_s(path, line, cells[_TIME_COL], start, horizon_s)
        if i > 0:
            gap = float(offsets[i] - offsets[i - 1])
            if gap <= 0.0:
                raise ForecastError(
                    path, line, f"{_TIME_COL} {cells[_TIME_COL]!r} is not after the previous row's"
                )
            if step is None:
                if gap < MIN_INTERVAL_S:
                    raise ForecastError(
                        path,
                        line,
                        f"{_TIME_COL} {cells[_TIME_COL]!r} is {gap:g} s after the previous "
                        f"row; intervals must be at least {MIN_INTERVAL_S:g} s (1 minute) long",
                    )
                step = gap
            elif abs(gap - step) > _SPACING_TOL_S:
                raise ForecastError(
                    path,
                    line,
                    f"intervals must be equally spaced: {gap:g} s after the previous row, "
                    f"expected {step:g} s",
                )
        for name in count_cols:
            counts[name][i] = _count(path, line, name, cells[name])
        if has_total and type_cols:
            type_sum = math.fsum(counts[name][i] for name in type_cols)
            if abs(type_sum - counts[_TOTAL_COL][i]) > _SUM_TOLERANCE:
                raise ForecastError(
                    path,
                    line,
                    f"{_TOTAL_COL} ({counts[_TOTAL_COL][i]:g}) differs from the sum of the type "
                    f"columns ({type_sum:g}) by more than {_SUM_TOLERANCE}",
                )
    if step is None:
        # Checked after the rows so that a bad single row is reported as such.
        raise ForecastError(
            path, None, "found 1 data row; at least two are needed to infer the interval length"
        )
    # The intervals are the run's bins, counted from the scenario start.
    pos = offsets / step
    off = np.flatnonzero(np.abs(pos - np.rint(pos)) > 1e-6)
    if off.size:
        raise ForecastError(
            path,
            data[int(off[0])][0],
            f"interval starts must fall on the scenario start plus whole {step:g}-second "
            f"intervals; this row is {offsets[off[0]]:g} s after the start "
            f"({start.isoformat()})",
        )

    by_type = {name: counts[name] for name in types} if type_cols else None
    if has_total:
        total = counts[_TOTAL_COL]
    else:
        total = np.sum([counts[name] for name in types], axis=0, dtype=np.float64)
    return Forecast(interval_start_s=offsets, interval_s=step, total=total, by_type=by_type)


def _check_header(path: Path, line: int, header: list[str], types: list[str]) -> list[str]:
    """Validate the header and return the count columns in file order."""
    if header[0] != _TIME_COL:
        raise ForecastError(path, line, f"first column must be {_TIME_COL!r}, got {header[0]!r}")
    allowed = [_TOTAL_COL, *types]
    seen: set[str] = set()
    for name in header[1:]:
        if name not in allowed:
            raise ForecastError(
                path, line, f"unknown column {name!r}; allowed columns: {', '.join(allowed)}"
            )
        if name in seen:
            raise ForecastError(path, line, f"duplicate column {name!r}")
        seen.add(name)
    type_cols = [name for name in header[1:] if name in types]
    if type_cols and len(type_cols) != len(types):
        missing = [name for name in types if name not in seen]
        # A partial split would silently drop the missing types from the inquiry mix.
        raise ForecastError(
            path, line, f"type columns must cover every inquiry type; missing: {', '.join(missing)}"
        )
    if _TOTAL_COL not in seen and not type_cols:
        raise ForecastError(
            path,
            line,
            f"need a {_TOTAL_COL!r} column or one column per inquiry type "
            f"({', '.join(types) if types else 'no types defined'})",
        )
    return header[1:]


def _offset_s(path: Path, line: int, text: str, start: datetime, horizon_s: float) -> float:
    """Seconds from the scenario start to the interval start written in ``text``."""
    try:
        offset = seconds_from(text, start)
    except ValueError:
        raise ForecastError(
            path, line, f"column {_TIME_COL!r}: not an ISO 8601 date-time: {text!r}"
        ) from None
    if not 0.0 <= offset < horizon_s:
        raise ForecastError(
            path,
            line,
            f"{_TIME_COL} {text!r} is outside the scenario horizon [{start.isoformat()}, "
            f"+{horizon_s:g} s)",
        )
    return offset


def _count(path: Path, line: int, column: str, text: str) -> float:
    """Parse one non-negative, finite count cell."""
    try:
        value = float(text)
    except ValueError:
        raise ForecastError(path, line, f"column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ForecastError(path, line, f"column {column!r}: not a finite number: {text!r}")
    if value < 0.0:
        raise ForecastError(path, line, f"column {column!r}: negative count {value:g}")
    if value > MAX_COUNT:
        raise ForecastError(
            path,
            line,
            f"column {column!r}: {value:g} conversations in one interval; at most "
            f"{MAX_COUNT:g} are allowed",
        )
    return value
