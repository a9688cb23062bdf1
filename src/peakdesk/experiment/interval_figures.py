"""The Erlang figures per interval over a run's replications: mean and 95% interval.

``intervals.csv`` holds each replication's row per interval; a planner
comparing with an Erlang tool wants, per interval, the expected P(delay), ASA
and service level with the uncertainty of the estimate.  The interval is a
Student t interval of the mean over replications (replications are
independent; within one, intervals are not), ``nan`` with one replication,
clipped to the quantity's range (a share within 0..1, the rest 0 or more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from peakdesk.engine.intervals import ERLANG_DEFINITIONS

F64 = npt.NDArray[np.float64]

#: The columns summarised: the load and staffing beside the Erlang figures.
FIGURE_COLUMNS = (
    "human_arrivals",
    "agents_online",
    "slots_online",
    "busy_slots",
    "slot_utilisation",
    "p_delay",
    "asa_s",
    "service_level",
    "abandonment",
    "assign_wait_p50_s",
    "assign_wait_p90_s",
    "assign_wait_p95_s",
)


#: Columns that are shares (0..1); the others are counts, levels or seconds (0 or more).
SHARES = frozenset({"slot_utilisation", "p_delay", "service_level", "abandonment"})


def _short(values: F64) -> list[float]:
    """Six significant digits: the estimates carry fewer, and the summary stays small."""
    return [float(f"{v:.6g}") for v in values.tolist()]


def over_runs(table: F64, level: float = 0.95) -> tuple[F64, F64, F64]:
    """Per interval (column): the mean over replications (rows) and its t interval.

    Parameters
    ----------
    table
        Shape (replications, intervals); ``nan`` where a replication has no
        value (no arrival in the interval, or the run ended before it).
    level
        Confidence of the interval.

    Returns
    -------
    mean, low, high
        ``nan`` where fewer than one value (mean) or two values (interval);
        an infinite value (a percentile of buyers never taken) makes the mean
        infinite and the interval ``nan``.
    """
    t = np.asarray(table, dtype=np.float64)
    n = (~np.isnan(t)).sum(axis=0)
    mean = np.full(t.shape[1], np.nan)
    sd = np.full(t.shape[1], np.nan)
    some, two = n >= 1, n >= 2
    with np.errstate(invalid="ignore"):
        mean[some] = np.nanmean(t[:, some], axis=0)
        sd[two] = np.nanstd(t[:, two], axis=0, ddof=1)
    half = np.full(t.shape[1], np.nan)
    half[two] = stats.t.ppf(0.5 + level / 2.0, n[two] - 1) * sd[two] / np.sqrt(n[two])
    return mean, mean - half, mean + half


def interval_figures(
    intervals: Mapping[str, F64], interval_s: float, service_level_s: float
) -> dict[str, Any]:
    """The Erlang figures per interval, JSON-ready (``summary.json``'s ``interval_figures``).

    Parameters
    ----------
    intervals
        Interval column -> (replications, intervals) array.
    interval_s
        Reporting interval, seconds.
    service_level_s
        The service level's time, seconds.
    """
    start = np.nanmax(intervals["interval_start_s"], axis=0)
    columns: dict[str, Any] = {}
    for name in FIGURE_COLUMNS:
        if name not in intervals:
            continue
        mean, low, high = over_runs(intervals[name])
        # A t interval is symmetric; a share or a count is not below 0 (nor a share above 1).
        low = np.maximum(low, 0.0)
        if name in SHARES:
            high = np.minimum(high, 1.0)
        columns[name] = {"mean": _short(mean), "low": _short(low), "high": _short(high)}
    return {
        "interval_s": interval_s,
        "service_level_s": service_level_s,
        "confidence": 0.95,
        "definitions": ERLANG_DEFINITIONS,
        "interval_start_s": start.tolist(),
        "columns": columns,
    }
