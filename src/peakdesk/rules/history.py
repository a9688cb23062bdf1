"""A seller's record of the days before the simulated period, from CSV.

Columns ``date,metric,count,value``: the local date, the dotted metric name,
the units judged that day (conversations, rounds or items) and the value the
platform showed for that day (a share, ``0.93`` or ``93%``, or seconds).
Every problem names the file and the line; nothing is left out silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

from peakdesk.rules.series import DailyHistory
from peakdesk.units import not_utf8

#: Dates a history may hold: [2000-01-01, 2100-01-01) (a year 1 or 9999 is a typo, and
#: would make every rolling series span millennia).
FIRST_DATE = dt.date(2000, 1, 1)
END_DATE = dt.date(2100, 1, 1)
#: Most units a day (conversations, rounds or items judged).
MAX_COUNT = 1e12


class HistoryError(ValueError):
    """A history file that cannot be used (names the line)."""


def read_history_csv(
    path: Path | str, *, metric_problem: Callable[[str], str | None] | None = None
) -> dict[str, DailyHistory]:
    """Read a history CSV into one :class:`DailyHistory` per metric.

    Parameters
    ----------
    path
        The CSV file (UTF-8, a BOM is fine).
    metric_problem
        Optional check of each metric name: returns why it cannot be used (an
        unknown metric, another platform's), or None; a problem stops the read
        at the metric's first line.

    Raises
    ------
    HistoryError
        With the file and line of the first problem.
    """
    p = Path(path)
    rows: dict[str, list[tuple[dt.date, float, float]]] = {}
    first_line: dict[str, int] = {}
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise HistoryError(f"{p}: cannot read the file: {exc.strerror or exc}") from None
    need = {"date", "metric", "count", "value"}
    with fh:
        reader = csv.DictReader(fh)
        n = 1
        try:
            if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
                raise HistoryError(
                    f"{p}: line 1: the header must have the columns {sorted(need)}"
                    + (f", got {reader.fieldnames}" if reader.fieldnames else " (empty file)")
                )
            for n, row in enumerate(reader, start=2):
                _read_row(p, n, row, rows, first_line)
        except UnicodeDecodeError:
            raise HistoryError(f"{p}: {not_utf8(p)}") from None
        except csv.Error as exc:
            raise HistoryError(f"{p}: line {n}: not CSV: {exc}") from None
    out = {}
    for metric, items in rows.items():
        if metric_problem is not None:
            problem = metric_problem(metric)
            if problem is not None:
                raise HistoryError(f"{p}: line {first_line[metric]}: {problem}")
        items.sort()
        days = [d for d, _, _ in items]
        if len(set(days)) != len(days):
            twice = next(d for k, d in enumerate(days) if k and days[k - 1] == d)
            raise HistoryError(f"{p}: metric {metric!r} has the date {twice.isoformat()} twice")
        out[metric] = DailyHistory(
            days=tuple(days),
            count=tuple(c for _, c, _ in items),
            value=tuple(v for _, _, v in items),
        )
    return out


def _read_row(
    p: Path,
    n: int,
    row: dict[str | None, str | list[str] | None],
    rows: dict[str, list[tuple[dt.date, float, float]]],
    first_line: dict[str, int],
) -> None:
    """Check one data row and add it (a blank line is skipped by the CSV reader itself)."""
    if None in row:
        raise HistoryError(f"{p}: line {n}: more fields than the header has columns")
    cells = {str(k).strip(): (v if isinstance(v, str) else "").strip() for k, v in row.items()}
    missing = [c for c in ("date", "metric", "count", "value") if row_value(row, c) is None]
    if missing:
        raise HistoryError(f"{p}: line {n}: fewer fields than the header; no {missing[0]}")
    try:
        day = dt.date.fromisoformat(cells["date"])
    except ValueError:
        raise HistoryError(f"{p}: line {n}: date {cells['date']!r} is not YYYY-MM-DD") from None
    if not FIRST_DATE <= day < END_DATE:
        raise HistoryError(
            f"{p}: line {n}: date {day.isoformat()} is out of range; dates must lie in "
            f"{FIRST_DATE.year}-{END_DATE.year - 1}"
        )
    metric = cells["metric"]
    if not metric:
        raise HistoryError(f"{p}: line {n}: empty metric; e.g. shopee.crr")
    try:
        count = float(cells["count"])
        raw = cells["value"]
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise HistoryError(f"{p}: line {n}: count and value must be numbers") from None
    if not (math.isfinite(count) and 0 <= count <= MAX_COUNT):
        raise HistoryError(
            f"{p}: line {n}: count {cells['count']!r}; it must be a number in 0..{MAX_COUNT:g}"
        )
    if not math.isfinite(value):
        raise HistoryError(f"{p}: line {n}: value {cells['value']!r} is not a finite number")
    rows.setdefault(metric, []).append((day, count, value))
    first_line.setdefault(metric, n)


def row_value(row: dict[str | None, str | list[str] | None], column: str) -> str | None:
    """A row's cell by (stripped) column name; None when the row is too short."""
    for k, v in row.items():
        if k is not None and k.strip() == column:
            return v if isinstance(v, str) else None
    return None
