"""The Erlang figures per interval over a run's replications: mean and 95% interval.

``intervals.csv`` holds each replication's row per interval; a planner
comparing with an Erlang tool wants, per interval, the expected P(delay), ASA
and service level with the uncertainty of the estimate.  The interval is a
Student t interval of the mean over replications (replications are
independent; within one, intervals are not), ``nan`` with one replication,
clipped to the quantity's range (a share within 0..1, the rest 0 or more).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
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


def over_runs(table: F64, weights: F64 | None = None, level: float = 0.95) -> tuple[F64, F64, F64]:
    """Per interval (column): the mean over replications (rows) and its t interval.

    Parameters
    ----------
    table
        Shape (replications, intervals); ``nan`` where a replication has no
        value (no arrival in the interval, or the run ended before it).
    weights
        For a per-arrival figure, each replication's arrivals in the interval:
        the mean is then the ratio of sums (delayed buyers over all buyers),
        the probability a buyer arriving in the interval is delayed, with the
        ratio estimator's standard error.  The plain mean of the runs' shares
        is biased: a run with more arrivals in an interval also has more of
        them delayed, and counts as one run all the same (7% low on P(delay)
        of an M/M/110+M interval at 100 arrivals).
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
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = ~np.isnan(t) & (w > 0.0)
    n = ok.sum(axis=0)
    wz = np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (wz * np.where(ok, t, 0.0)).sum(axis=0) / wz.sum(axis=0)
        dev = np.where(ok, wz * (t - mean), 0.0)
        w_bar = wz.sum(axis=0) / n
        se = np.sqrt((dev**2).sum(axis=0) / (n * (n - 1))) / w_bar
    mean = np.where(n >= 1, mean, np.nan)
    half = np.full(t.shape[1], np.nan)
    two = (n >= 2) & np.isfinite(mean)
    half[two] = stats.t.ppf(0.5 + level / 2.0, n[two] - 1) * se[two]
    return mean, mean - half, mean + half


#: Per-arrival figures and the column that weighs them (:func:`over_runs`).
WEIGHTS = {
    "p_delay": "human_arrivals",
    "asa_s": "human_arrivals",
    "service_level": "human_arrivals",
    "abandonment": "human_arrivals",
    "slot_utilisation": "slots_online",
}


def figure_over_runs(name: str, intervals: Mapping[str, F64]) -> tuple[F64, F64, F64]:
    """:func:`over_runs` of an interval column (weighted where a ratio), clipped to its range.

    A t interval is symmetric; a share or a count is not below 0 (nor a share above 1).
    """
    weight = intervals.get(WEIGHTS.get(name, ""))
    mean, low, high = over_runs(intervals[name], weight)
    low = np.maximum(low, 0.0)
    if name in SHARES:
        high = np.minimum(high, 1.0)
    return mean, low, high


def interval_figures(
    intervals: Mapping[str, F64],
    interval_s: float,
    service_level_s: float,
    horizon_s: float | None = None,
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
    horizon_s
        The horizon, seconds: with it, ``start_up`` estimates how long the run's
        start-up bias lasts (:func:`start_up`).
    """
    start = np.nanmax(intervals["interval_start_s"], axis=0)
    columns: dict[str, Any] = {}
    for name in FIGURE_COLUMNS:
        if name not in intervals:
            continue
        mean, low, high = figure_over_runs(name, intervals)
        columns[name] = {"mean": _short(mean), "low": _short(low), "high": _short(high)}
    return {
        "interval_s": interval_s,
        "service_level_s": service_level_s,
        "confidence": 0.95,
        "definitions": ERLANG_DEFINITIONS,
        "interval_start_s": start.tolist(),
        "columns": columns,
        "start_up": None if horizon_s is None else start_up(intervals, interval_s, horizon_s),
    }


def start_up(intervals: Mapping[str, F64], interval_s: float, horizon_s: float) -> dict[str, Any]:
    """How long the start-up bias lasts: MSER-5 on the number in system per interval.

    The number in system (chats held + waiting, time-weighted per interval) is
    averaged over the runs; :func:`~peakdesk.experiment.warm_up.mser5` finds
    where what is left settles.  Meaningful for a steady demand (and, over
    whole periods, a periodic one); on a peak day it only finds the peak.
    """
    from peakdesk.experiment.warm_up import mser5

    n = int(np.ceil(horizon_s / interval_s - 1e-9))
    level = np.nanmean(intervals["busy_slots"] + intervals["queue"], axis=0)[:n]
    k = mser5(level)
    return {
        "method": "MSER-5 on the number in system (chats held + waiting) per interval, "
        "mean over the runs; for a steady demand",
        "intervals": k,
        "seconds": k * interval_s,
    }


@dataclass(frozen=True)
class ErlangBeside:
    """One interval: the simulated figures (mean, 95% interval) and the stationary formula's.

    Attributes
    ----------
    start_s
        Interval start, seconds from the scenario start.
    arrivals_per_h
        Mean human arrivals, per hour.
    agents, concurrency
        Mean agents online (rounded for the formula) and slots per agent.
    load
        Offered load in agents' worth of work at full concurrency.
    simulated
        ``{figure: (mean, low, high)}`` for ``p_delay``, ``asa_s``,
        ``service_level``, ``abandonment``, ``slot_utilisation``.
    formula
        The same figures from the stationary model (``nan``: no agent online).
    outside
        Figures of :data:`JUDGED` whose formula value lies outside the simulated
        95% interval by more than :data:`SLACK`.
    """

    start_s: float
    arrivals_per_h: float
    agents: float
    concurrency: int
    load: float
    simulated: dict[str, tuple[float, float, float]]
    formula: dict[str, float]
    outside: tuple[str, ...]


#: The figures compared, in ``peakdesk erlang``'s terms.
COMPARED = ("p_delay", "asa_s", "service_level", "abandonment", "slot_utilisation")
#: The figures judged against the simulation's interval: the wait until an agent takes the
#: chat means the same in both.  The service level and abandonment differ by model where
#: buyers may leave after an agent took the chat (patience until the first reply), which
#: the formula's buyers never do.
JUDGED = ("p_delay", "asa_s")
#: How far outside the interval a formula value must lie to count: where every replication
#: gave the same value (no wait at all, say) the interval has no width, and a formula's
#: P(delay) of 1e-5 is not a difference a planner acts on.
SLACK = {"p_delay": 0.005, "asa_s": 1.0}


def slot_hold_s(intervals: Mapping[str, F64], interval_s: float) -> float:
    """Mean time a taken chat holds its slot, seconds, by Little's law over the whole run.

    Chat-seconds held (busy slots x interval) over the chats taken, summed over
    every interval (the drain after the horizon included) and replication.
    """
    held = float(np.nansum(intervals["busy_slots"])) * interval_s
    taken = float(np.nansum(intervals["taken"]))
    if taken <= 0.0:
        raise ValueError("no chat was taken by an agent in this run: no handle time to read")
    return held / taken


def erlang_beside(
    intervals: Mapping[str, F64],
    interval_s: float,
    horizon_s: float,
    service_level_s: float,
    *,
    handle_s: float | None = None,
    patience_s: float = math.inf,
) -> list[ErlangBeside]:
    """The stationary Erlang figures of each interval beside the simulated ones.

    Each interval is taken as if its arrival rate and its agents online held
    for ever (the stationary formula a WFM tool applies interval by interval):
    the chat model with every level's handle time equal, i.e. Erlang C (or A,
    with ``patience_s``) on ``agents x concurrency`` slots.  Where the peak's
    dynamics matter (a queue carried over from the interval before, agents
    logging on into a backlog), the formula falls outside the simulation's
    interval.

    Parameters
    ----------
    intervals
        Interval column -> (replications, intervals) array, as ``intervals.csv``.
    interval_s, horizon_s
        Reporting interval and horizon, seconds (intervals from the horizon on
        have no arrivals and are left out).
    service_level_s
        The service level's time, seconds.
    handle_s
        Mean time a chat holds its slot, seconds (default: the run's own, by
        :func:`slot_hold_s`).
    patience_s
        Mean exponential patience, seconds (default: none; Erlang C).
    """
    from peakdesk.analytic.chat import chat_metrics

    hold = slot_hold_s(intervals, interval_s) if handle_s is None else handle_s
    start = np.nanmax(intervals["interval_start_s"], axis=0)
    sims = {
        k: figure_over_runs(k, intervals) for k in (*COMPARED, "human_arrivals", "agents_online")
    }
    slots = over_runs(intervals["slots_online"])[0]
    out = []
    for i, t0 in enumerate(start.tolist()):
        if t0 >= horizon_s:
            break
        lam = float(sims["human_arrivals"][0][i]) / interval_s
        agents = max(float(sims["agents_online"][0][i]), 0.0)
        n = round(agents) if math.isfinite(agents) else 0
        m = max(1, round(float(slots[i]) / agents)) if n >= 1 else 1
        simulated = {
            k: (float(v[0][i]), float(v[1][i]), float(v[2][i]))
            for k, v in sims.items()
            if k in COMPARED
        }
        formula = dict.fromkeys(COMPARED, math.nan)
        if n >= 1 and math.isfinite(lam):
            r = chat_metrics(lam, n, m, hold, patience_s, service_level_s)
            formula = {
                "p_delay": r.p_wait,
                "asa_s": r.mean_wait_s,
                "service_level": r.sl_served,
                "abandonment": r.p_abandon,
                "slot_utilisation": r.slot_utilisation,
            }
        outside = tuple(
            k
            for k in JUDGED
            if math.isfinite(simulated[k][1])
            and not math.isnan(formula[k])
            and not simulated[k][1] - SLACK[k] <= formula[k] <= simulated[k][2] + SLACK[k]
        )
        out.append(
            ErlangBeside(
                start_s=t0,
                arrivals_per_h=lam * 3600.0,
                agents=agents,
                concurrency=m,
                load=lam * hold / m,
                simulated=simulated,
                formula=formula,
                outside=outside,
            )
        )
    return out
