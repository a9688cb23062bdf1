"""A metric as the platform shows it: a value per day and over its rolling window.

Every rule reduces to, per local day, a count of judged units and a total
(successes for a rate, summed seconds for a mean time).  Rolling windows are
sums of those over the last ``window_days`` days; a seller's history of the
days before the log (daily counts and the value achieved) is prepended so the
window is full from the first simulated day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import day_date, day_number

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

Unit = Literal["share", "seconds", "score"]


@dataclass(frozen=True)
class DailyHistory:
    """A seller's record of the days before the log, for one metric.

    Attributes
    ----------
    days
        Local dates.
    count
        Units judged that day (conversations, rounds, items).
    value
        The metric's value that day (a share or a mean in seconds).
    """

    days: tuple[dt.date, ...]
    count: tuple[float, ...]
    value: tuple[float, ...]


@dataclass(frozen=True)
class MetricSeries:
    """One metric, day by day.

    Attributes
    ----------
    metric
        Dotted name, e.g. ``"taobao.response_3min"``.
    label
        What it is, for people.
    unit
        ``"share"`` (0..1), ``"seconds"`` or ``"score"`` (a rating scale, e.g. 1-5).
    higher_is_better
        Direction of the target.
    threshold
        The value to keep (``>=`` if higher is better, else ``<=``); ``None`` if none.
    window_days
        Length of the platform's rolling window, days.
    days
        Consecutive local day numbers (days since 1970-01-01), history included.
    count, total
        Per day: units judged, and successes (share) or summed seconds (mean).
    daily
        Per day: ``total / count`` (``nan`` on days with no unit).
    rolling
        Per day: the value over the window ending that day, as the platform
        would show it at the end of the day (``nan`` while undefined).
    overall
        The value over every unit of the log (history excluded).
    n_units
        Units judged in the log.
    from_history
        Per day: whether the day comes from the seller's history.
    """

    metric: str
    label: str
    unit: Unit
    higher_is_better: bool
    threshold: float | None
    window_days: int
    days: I64
    count: F64
    total: F64
    daily: F64
    rolling: F64
    overall: float
    n_units: int
    from_history: B = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))

    @property
    def dates(self) -> list[dt.date]:
        """The days as dates."""
        return [day_date(int(d)) for d in self.days]

    def meets(self, value: float) -> bool:
        """Whether a value keeps the threshold (``True`` when there is none or it is undefined)."""
        if self.threshold is None or value != value:
            return True
        return value >= self.threshold if self.higher_is_better else value <= self.threshold

    @property
    def passes(self) -> B:
        """Per day: the rolling value keeps the threshold."""
        return np.array([self.meets(float(v)) for v in self.rolling], dtype=np.bool_)

    @property
    def final(self) -> float:
        """The rolling value at the end of the last day."""
        return float(self.rolling[-1]) if self.rolling.size else float("nan")

    def first_failing_day(self) -> dt.date | None:
        """The first day whose rolling value misses the threshold, if any."""
        bad = np.flatnonzero(~self.passes & ~self.from_history)
        return day_date(int(self.days[bad[0]])) if bad.size else None


def daily_series(
    *,
    metric: str,
    label: str,
    unit: Unit,
    higher_is_better: bool,
    threshold: float | None,
    window_days: int,
    unit_day: I64,
    unit_value: F64,
    history: DailyHistory | None = None,
    min_units: int = 1,
    span: tuple[int, int] | None = None,
) -> MetricSeries:
    """Build a metric from judged units.

    Parameters
    ----------
    unit_day
        Local day number each unit counts on.
    unit_value
        Each unit's contribution: 1/0 for a rate, seconds for a mean time.
    history
        Days before the log (prepended; days that overlap the log are ignored).
    min_units
        The window's value is undefined (``nan``) below this many units.
    span
        First and last day number the series covers at least (days with no unit
        judged, e.g. the days of an export whose ratings all fell out of the count).
    """
    v = np.asarray(unit_value, dtype=np.float64)
    d = np.asarray(unit_day, dtype=np.int64)
    h_days = (
        np.array([day_number(x) for x in history.days], dtype=np.int64)
        if history is not None and history.days
        else np.zeros(0, dtype=np.int64)
    )
    lo_candidates = [int(d.min())] if d.size else []
    hi_candidates = [int(d.max())] if d.size else []
    if h_days.size:
        lo_candidates.append(int(h_days.min()))
        hi_candidates.append(int(h_days.max()))
    if span is not None:
        lo_candidates.append(int(span[0]))
        hi_candidates.append(int(span[1]))
    if not lo_candidates:
        empty = np.zeros(0)
        return MetricSeries(
            metric,
            label,
            unit,
            higher_is_better,
            threshold,
            window_days,
            np.zeros(0, dtype=np.int64),
            empty,
            empty,
            empty,
            empty,
            float("nan"),
            0,
            np.zeros(0, dtype=np.bool_),
        )
    lo, hi = min(lo_candidates), max(hi_candidates)
    days = np.arange(lo, hi + 1, dtype=np.int64)
    count = np.bincount(d - lo, minlength=days.size).astype(np.float64)
    total = np.bincount(d - lo, weights=v, minlength=days.size).astype(np.float64)
    from_hist = np.zeros(days.size, dtype=np.bool_)
    if history is not None and h_days.size:
        log_days = set(np.unique(d).tolist())
        for day, c, val in zip(h_days.tolist(), history.count, history.value, strict=True):
            if day in log_days or c <= 0:
                continue  # the log's own day wins; an empty history day adds nothing
            count[day - lo] += c
            total[day - lo] += c * val
            from_hist[day - lo] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = total / count
    rolling = window_ratio(count, total, window_days, min_units)
    overall = float(v.mean()) if v.size >= min_units and v.size else float("nan")
    return MetricSeries(
        metric=metric,
        label=label,
        unit=unit,
        higher_is_better=higher_is_better,
        threshold=threshold,
        window_days=window_days,
        days=days,
        count=count,
        total=total,
        daily=daily,
        rolling=rolling,
        overall=overall,
        n_units=int(v.size),
        from_history=from_hist,
    )


def window_sum(x: F64, window_days: int) -> F64:
    """Sum of ``x`` over the ``window_days`` days ending at each day."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    idx = np.arange(1, x.size + 1)
    return np.asarray(c[idx] - c[np.maximum(idx - window_days, 0)], dtype=np.float64)


def window_ratio(count: F64, total: F64, window_days: int, min_units: int = 1) -> F64:
    """``sum(total) / sum(count)`` over each window; ``nan`` below ``min_units``."""
    n = window_sum(count, window_days)
    t = window_sum(total, window_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = t / n
    r[n < max(min_units, 1)] = np.nan
    return np.asarray(r, dtype=np.float64)
