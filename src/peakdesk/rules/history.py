"""A seller's record of the days before the simulated period, from CSV.

Columns ``date,metric,count,value``: the local date, the dotted metric name,
the units judged that day (conversations, rounds or items) and the value the
platform showed for that day (a share, ``0.93`` or ``93%``, or seconds).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from peakdesk.rules.series import DailyHistory


class HistoryError(ValueError):
    """A history file that cannot be used (names the line)."""


def read_history_csv(path: Path | str) -> dict[str, DailyHistory]:
    """Read a history CSV into one :class:`DailyHistory` per metric.

    Raises
    ------
    HistoryError
        With the file and line of the first problem.
    """
    p = Path(path)
    rows: dict[str, list[tuple[dt.date, float, float]]] = {}
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise HistoryError(f"{p}: cannot read the file: {exc.strerror or exc}") from None
    with fh:
        reader = csv.DictReader(fh)
        need = {"date", "metric", "count", "value"}
        if reader.fieldnames is None or not need <= {f.strip() for f in reader.fieldnames}:
            raise HistoryError(f"{p}: the header must have the columns {sorted(need)}")
        for n, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                day = dt.date.fromisoformat(row["date"])
            except ValueError:
                raise HistoryError(
                    f"{p}: line {n}: date {row['date']!r} is not YYYY-MM-DD"
                ) from None
            try:
                count = float(row["count"])
                raw = row["value"]
                value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            except ValueError:
                raise HistoryError(f"{p}: line {n}: count and value must be numbers") from None
            if count < 0:
                raise HistoryError(f"{p}: line {n}: count must be >= 0")
            rows.setdefault(row["metric"], []).append((day, count, value))
    out = {}
    for metric, items in rows.items():
        items.sort()
        days = [d for d, _, _ in items]
        if len(set(days)) != len(days):
            raise HistoryError(f"{p}: metric {metric!r} has a date twice")
        out[metric] = DailyHistory(
            days=tuple(days),
            count=tuple(c for _, c, _ in items),
            value=tuple(v for _, _, v in items),
        )
    return out
