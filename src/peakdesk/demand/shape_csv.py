"""A forecast that repeats a shape: a daily (or weekly) profile and a volume per day.

A long horizon (100 days at 1 minute is 144,000 forecast rows) is usually one
day's shape repeated, scaled by each day's volume.  ``profile = "shape"`` says
so in two small tables.

The shape (``demand.forecast``)::

    time,weight                 weekday,time,weight
    00:00,0.8                   Mon,00:00,0.8
    00:15,0.7                   ...
    ...                         Sun,23:45,1.1

* ``time`` is the local clock time (``HH:MM`` or ``HH:MM:SS``) an interval
  starts; with a ``weekday`` column (``Mon``..``Sun`` or ISO ``1``..``7``) the
  shape is a week's.  Rows run from 00:00 (Monday 00:00) in order, equally
  spaced (at least a minute, dividing the day), and cover the cycle once.
* ``weight`` is relative: within each day the weights are normalised, so a
  day's volume is spread in their proportion.  Each day's weights sum to more
  than 0.

The volume of each local day: ``demand.volume_per_day`` (every day the same),
``demand.total`` (over the horizon, spread by the shape), or
``demand.day_volumes``, a CSV of ``date,conversations`` naming every day the
horizon touches.  A day cut by the horizon (or by a start within it) gets the
share of its volume that its intervals hold; a day with a daylight-saving
change has 23 or 25 hours of the shape's clock, each interval weighted as its
clock time says.

Every problem raises :class:`~peakdesk.demand.forecast_csv.ForecastError` with
the file and line.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from peakdesk.demand.forecast_csv import MAX_COUNT, MIN_INTERVAL_S, Forecast, ForecastError
from peakdesk.units import csv_table

__all__ = ["Shape", "read_day_volumes", "read_shape_csv", "shape_forecast"]

FloatArray = NDArray[np.float64]
DAY_S = 86400.0
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, eq=False)
class Shape:
    """A repeating shape.

    Attributes
    ----------
    step_s
        Interval length, seconds.
    weights
        Relative weight of each interval of the cycle (one day, or a week from
        Monday 00:00).
    weekly
        Whether the cycle is a week.
    """

    step_s: float
    weights: FloatArray
    weekly: bool

    @property
    def per_day(self) -> int:
        """Intervals in a day."""
        return round(DAY_S / self.step_s)

    def day_sums(self) -> FloatArray:
        """The weights' sum of each day of the cycle (one value for a daily shape)."""
        # Exactly rounded sums: the same value however the shape is written out.
        days = self.weights.reshape(-1, self.per_day)
        return np.array([math.fsum(row) for row in days.tolist()], dtype=np.float64)


def _clock_s(path: Path, line: int, text: str) -> float:
    try:
        t = dt.time.fromisoformat(text)
    except ValueError:
        raise ForecastError(
            path, line, f"column 'time': not a clock time (HH:MM or HH:MM:SS): {text!r}"
        ) from None
    return t.hour * 3600.0 + t.minute * 60.0 + t.second + t.microsecond / 1e6


def _weekday(path: Path, line: int, text: str) -> int:
    low = text.strip().lower()
    for k, full in enumerate(WEEKDAYS):
        if low in (full, full[:3]):
            return k
    if low.isdigit() and 1 <= int(low) <= 7:
        return int(low) - 1
    raise ForecastError(
        path, line, f"column 'weekday': {text!r}; give Mon..Sun (or ISO 1..7, Monday = 1)"
    )


def _number(path: Path, line: int, column: str, text: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ForecastError(path, line, f"column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0.0:
        raise ForecastError(path, line, f"column {column!r}: {text!r}; give a number >= 0")
    if value > limit:
        raise ForecastError(path, line, f"column {column!r}: {value:g}; at most {limit:g}")
    return value


def read_shape_csv(path: Path) -> Shape:
    """Read a daily or weekly shape (see the module docstring).

    Raises
    ------
    ForecastError
        With the file and line of the problem.
    """
    path = Path(path)
    table = csv_table(
        path,
        ForecastError,
        needs=("time", "weight"),
        empty="empty file; expected a header 'time,weight'",
        missing="a shape has the columns 'time,weight' (a day) or 'weekday,time,weight' (a week)",
    )
    header = table.header
    weekly = "weekday" in header
    t_col, w_col = table.col("time"), table.col("weight")
    d_col = table.col("weekday") if weekly else None
    data = table.rows
    if len(data) < 2:
        raise ForecastError(path, None, "a shape needs at least two intervals")
    offsets: list[float] = []
    weights: list[float] = []
    for line, record in data:
        day = _weekday(path, line, record[d_col]) if d_col is not None else 0
        offsets.append(day * DAY_S + _clock_s(path, line, record[t_col].strip()))
        weights.append(_number(path, line, "weight", record[w_col].strip(), MAX_COUNT))
    cycle = 7 * DAY_S if weekly else DAY_S
    step = offsets[1] - offsets[0]
    what = "Monday 00:00" if weekly else "00:00"
    if offsets[0] != 0.0:
        raise ForecastError(path, data[0][0], f"the shape starts at {what}; this row does not")
    if step < MIN_INTERVAL_S or not (DAY_S / step).is_integer():
        raise ForecastError(
            path,
            data[1][0],
            f"intervals of {step:g} s; at least {MIN_INTERVAL_S:g} s, and a whole number of "
            "them in a day",
        )
    for k in range(1, len(offsets)):
        if abs(offsets[k] - offsets[k - 1] - step) > 1e-6:
            raise ForecastError(
                path,
                data[k][0],
                f"not {step / 60:g} min after the row before: rows run in order, equally "
                "spaced, with no interval missing or repeated",
            )
    if abs(len(offsets) * step - cycle) > 1e-6:
        raise ForecastError(
            path,
            None,
            f"{len(offsets)} intervals of {step / 60:g} min cover "
            f"{len(offsets) * step / 3600:g} h; a {'week' if weekly else 'day'} is "
            f"{cycle / 3600:g} h",
        )
    shape = Shape(step, np.asarray(weights, dtype=np.float64), weekly)
    sums = shape.day_sums()
    empty = np.flatnonzero(sums <= 0.0)
    if empty.size:
        which = WEEKDAYS[int(empty[0])].title() if weekly else "the day"
        raise ForecastError(
            path, None, f"the weights of {which} sum to 0; each day needs some weight"
        )
    return shape


def read_day_volumes(path: Path) -> dict[dt.date, float]:
    """``date,conversations``: the expected conversations of each local day.

    Raises
    ------
    ForecastError
        With the file and line of the problem.
    """
    path = Path(path)
    table = csv_table(
        path,
        ForecastError,
        needs=("date", "conversations"),
        empty="empty file; expected a header 'date,conversations'",
        missing="day volumes have the columns 'date,conversations'",
    )
    d_col, n_col = table.col("date"), table.col("conversations")
    out: dict[dt.date, float] = {}
    for line, record in table.rows:
        try:
            day = dt.date.fromisoformat(record[d_col].strip())
        except ValueError:
            raise ForecastError(
                path, line, f"column 'date': not a date (YYYY-MM-DD): {record[d_col].strip()!r}"
            ) from None
        if day in out:
            raise ForecastError(path, line, f"{day} is given twice")
        out[day] = _number(path, line, "conversations", record[n_col].strip(), MAX_COUNT)
    if not out:
        raise ForecastError(path, None, "no rows after the header")
    return out


def shape_forecast(
    shape: Shape,
    start: dt.datetime,
    horizon_s: float,
    volume_of: Callable[[dt.date], float],
) -> Forecast:
    """The forecast a shape and the days' volumes make over the horizon.

    Parameters
    ----------
    shape
        The repeating shape.
    start
        Timezone-aware scenario start, on the shape's grid of local clock times.
    horizon_s
        Horizon, seconds.
    volume_of
        Expected conversations of a local day (it raises what it likes for a
        day it does not know: the caller's error, passed on).

    Raises
    ------
    ValueError
        If the start is not on the shape's grid.
    """
    step = shape.step_s
    zone = start.tzinfo
    local0 = start
    clock0 = local0.hour * 3600 + local0.minute * 60 + local0.second + local0.microsecond / 1e6
    if abs(clock0 / step - round(clock0 / step)) > 1e-9:
        raise ValueError(
            f"the scenario starts at {local0:%H:%M:%S}, between the shape's intervals of "
            f"{step / 60:g} min: start on one of them"
        )
    n = math.ceil(horizon_s / step - 1e-9)
    start_utc = start.astimezone(dt.UTC)
    per_day = shape.per_day
    sums = shape.day_sums()
    total = np.empty(n, dtype=np.float64)
    cache: dict[dt.date, float] = {}
    for k in range(n):
        local = (start_utc + dt.timedelta(seconds=k * step)).astimezone(zone)
        secs = local.hour * 3600 + local.minute * 60 + local.second
        slot = int(secs // step)
        day = local.weekday() if shape.weekly else 0
        if local.date() not in cache:
            cache[local.date()] = float(volume_of(local.date()))
        total[k] = cache[local.date()] * shape.weights[day * per_day + slot] / sums[day]
    return Forecast(
        interval_start_s=np.arange(n, dtype=np.float64) * step,
        interval_s=step,
        total=total,
        by_type=None,
    )
