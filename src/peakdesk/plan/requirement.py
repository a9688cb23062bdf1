"""Agents needed online per interval: analytic seed, then the iterative staffing algorithm.

The requirement is expressed in agents of a *reference pool* (speed,
concurrency and slowdown of the pool the planner leans on most) with every
skill, online per reporting interval.  It is seeded from the modified offered
load, then refined by simulation in the manner of the iterative staffing
algorithm (ISA; Feldman, Mandelbaum, Massey and Whitt, Management Science
2008): simulate the current requirement, measure in each interval the
distribution of the number of conversations in the system (held or waiting),
and set the next requirement to the fewest agents whose slots leave at most a
share ``alpha`` of the interval's time with every slot taken.  The backlog
carried from one interval into the next (which the stationary seed misses) is
in that distribution, so the fixed point accounts for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.demand.sample import intensity
from peakdesk.engine.config import EngineConfig, PoolConfig
from peakdesk.engine.log import ChatLog
from peakdesk.engine.setup import ShiftInstance, config_from_instances, pool_configs
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """The planning grid: reporting intervals over the horizon.

    Attributes
    ----------
    interval_s
        Width of an interval, seconds.
    n
        Number of intervals (the last may stick out of the horizon).
    """

    interval_s: float
    n: int

    @property
    def edges_s(self) -> F64:
        """Interval edges, seconds from the start (``n + 1`` values)."""
        return np.arange(self.n + 1, dtype=np.float64) * self.interval_s

    @classmethod
    def of(cls, spec: Scenario) -> Grid:
        """The scenario's reporting grid over its horizon."""
        step = spec.calendar.interval
        return cls(step, max(1, math.ceil(spec.calendar.horizon / step - 1e-9)))


def reference_pool(spec: Scenario) -> int:
    """The pool whose agents measure the requirement: the first planned pool (else the first)."""
    for k, p in enumerate(spec.pools):
        if p.plan is not None:
            return k
    return 0


def requirement_pool(spec: Scenario) -> PoolConfig:
    """A pool like the reference pool, but with every skill at full proficiency."""
    ref = pool_configs(spec)[reference_pool(spec)]
    speed = spec.pools[reference_pool(spec)].speed
    factors = tuple(1.0 / speed for _ in spec.inquiry_types)
    return PoolConfig("requirement", factors, ref.concurrency_multiplier, ref.hourly_cost)


def stacked_config(spec: Scenario, agents: I64, grid: Grid) -> EngineConfig:
    """Agents online per interval as an engine configuration.

    Agent ``i`` is online in every interval needing more than ``i`` agents, so
    the online count follows ``agents`` exactly; sub-accounts are not limited
    (the requirement is what the agents need, the cap comes later).
    """
    agents = np.asarray(agents, dtype=np.int64)
    instances = []
    for i in range(int(agents.max(initial=0))):
        on = np.concatenate(([False], agents > i, [False]))
        change = np.flatnonzero(on[1:] != on[:-1])
        for a, b in zip(change[::2], change[1::2], strict=True):
            instances.append(
                ShiftInstance(
                    pool=0,
                    group=f"req{i}",
                    start_s=float(a * grid.interval_s),
                    length_s=float((b - a) * grid.interval_s),
                    breaks=(),
                    agents=1,
                )
            )
    total = int(agents.max(initial=0))
    return config_from_instances(
        spec, instances, pools=(requirement_pool(spec),), subaccounts=max(total, 1)
    )


def in_system_histogram(log: ChatLog, grid: Grid) -> F64:
    """Time each interval spent with ``c`` conversations in the system, for every ``c``.

    A conversation needing an agent is in the system from its arrival until it
    closes (or is withdrawn; or the end of the run).

    Returns
    -------
    ndarray, shape (n_intervals, max_count + 1)
        Seconds of interval ``k`` during which exactly ``c`` conversations were in
        the system.
    """
    w = log.workload
    human = ~w.bot
    start = w.arrival_s[human]
    end = log.close_s[human].copy()
    withdrawn = log.withdrawn[human]
    end[withdrawn] = log.abandon_s[human][withdrawn]
    horizon_end = grid.edges_s[-1]
    end = np.where(np.isnan(end), max(horizon_end, float(np.nanmax(end, initial=0.0))), end)
    times = np.concatenate((start, end, grid.edges_s))
    delta = np.concatenate((np.ones(start.size), -np.ones(end.size), np.zeros(grid.n + 1)))
    order = np.lexsort((delta, times))  # at equal times, leave before arrive
    times, delta = times[order], delta[order]
    level = np.cumsum(delta)
    dur = np.diff(times)
    lvl = level[:-1].astype(np.int64)
    mid = times[:-1]
    k = np.floor(mid / grid.interval_s).astype(np.int64)
    keep = (dur > 0) & (k >= 0) & (k < grid.n)
    cmax = int(lvl[keep].max(initial=0))
    hist = np.bincount(
        k[keep] * (cmax + 1) + lvl[keep], weights=dur[keep], minlength=grid.n * (cmax + 1)
    )
    return np.asarray(hist.reshape(grid.n, cmax + 1), dtype=np.float64)


def pooled_tail(histograms: list[F64]) -> F64:
    """``P(L >= c)`` per interval, pooled over replications (time-weighted)."""
    width = max(h.shape[1] for h in histograms)
    total = np.zeros((histograms[0].shape[0], width))
    for h in histograms:
        total[:, : h.shape[1]] += h
    mass = total.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pmf = np.where(mass > 0, total / mass, 0.0)
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # tail[k, c] = P(L_k >= c)
    return np.asarray(tail, dtype=np.float64)


def agents_from_tail(tail: F64, slots_per_agent: int, alpha: float) -> I64:
    """Fewest agents per interval with ``P(L >= agents * slots) <= alpha``."""
    n_int, width = tail.shape
    out = np.zeros(n_int, dtype=np.int64)
    levels = np.arange(width)
    for k in range(n_int):
        ok = tail[k] <= alpha
        # Smallest c with P(L >= c) <= alpha; capacity n * slots must reach it.
        c = int(levels[ok][0]) if ok.any() else width
        out[k] = math.ceil(c / slots_per_agent)
    return out


def offered_slots(loaded: LoadedScenario, grid: Grid) -> tuple[F64, F64]:
    """Mean conversations arriving per second, and mean slot-holding time, per interval.

    The holding time is the analytic estimate of a conversation's life at the
    reference pool's full concurrency: its buyers' think times, its replies'
    compose times (slowed by concurrency) and its wrap-up.
    """
    spec = loaded.spec
    inten = intensity(loaded)
    per_bin = inten.expected
    edges = grid.edges_s
    bins = np.arange(per_bin.shape[1]) * inten.bin_s
    k = np.minimum((bins // grid.interval_s).astype(np.int64), grid.n - 1)
    counts = np.zeros((per_bin.shape[0], grid.n))
    for t in range(per_bin.shape[0]):
        counts[t] = np.bincount(k, weights=per_bin[t], minlength=grid.n)
    bot = np.array([t.bot_resolve for t in spec.inquiry_types])
    human = counts * (1.0 - bot)[:, None]
    rate = human.sum(axis=0) / np.diff(edges)
    ref = requirement_pool(spec)
    mult = ref.concurrency_multiplier[-1]
    hold = np.zeros(len(spec.inquiry_types))
    for j, itype in enumerate(spec.inquiry_types):
        n_msg = _mean_count(itype.messages)
        hold[j] = (
            (n_msg - 1.0) * _mean_duration(itype.think_time)
            + n_msg * _mean_duration(itype.compose_time) * ref.time_factor_by_type[j] * mult
            + itype.wrap_up
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_hold = (human * hold[:, None]).sum(axis=0) / human.sum(axis=0)
    mean_hold = np.where(np.isfinite(mean_hold), mean_hold, float(np.mean(hold)))
    return rate, mean_hold


def _mean_duration(spec: object) -> float:
    from peakdesk.demand.distributions import duration_mean_s

    return duration_mean_s(spec)  # type: ignore[arg-type]


def _mean_count(spec: object) -> float:
    from peakdesk.scenario import schema as sc

    if isinstance(spec, sc.FixedCount):
        return float(spec.value)
    if isinstance(spec, (sc.GeometricCount, sc.PoissonCount)):
        return float(spec.mean)
    if isinstance(spec, sc.EmpiricalCount):
        w = np.asarray(spec.weights, dtype=np.float64)
        return float(np.dot(spec.values, w / w.sum()))
    raise TypeError(f"unknown count distribution {spec!r}")


def seed_requirement(loaded: LoadedScenario, grid: Grid, alpha: float) -> I64:
    """The analytic seed: modified offered load, then a stationary chat model per interval.

    With the infinite-server load ``m(t)`` (conversations that would be in the
    system with unlimited agents) and concurrency ``c``, the fewest agents whose
    ``n c`` slots exceed ``m(t)`` with probability ``1 - alpha`` under a Poisson
    number in system: a square-root-safety staffing that the simulation then
    corrects.
    """
    from scipy import stats

    from peakdesk.analytic.offered_load import offered_load

    rate, hold = offered_slots(loaded, grid)
    load = offered_load(rate, grid.interval_s, float(np.mean(hold)))
    slots = requirement_pool(loaded.spec).max_concurrency
    need = stats.poisson.ppf(1.0 - alpha, np.maximum(load, 1e-9))
    return np.asarray(np.ceil(need / slots), dtype=np.int64)


@dataclass(frozen=True)
class IsaStep:
    """One iteration of the staffing refinement.

    Attributes
    ----------
    iteration
        Number, from 1.
    agents
        Requirement simulated in this iteration (reference agents per interval).
    next_agents
        The requirement it implies.
    max_change
        Largest change between the two, agents.
    """

    iteration: int
    agents: I64
    next_agents: I64
    max_change: int


def iterate_requirement(
    loaded: LoadedScenario,
    grid: Grid,
    start: I64,
    alpha: float,
    *,
    replications: int,
    max_iterations: int,
    seed: int,
    workers: int = 1,
    on_step: Callable[[IsaStep], None] | None = None,
    dask: str | None = None,
) -> tuple[I64, list[IsaStep]]:
    """Refine a requirement to the ISA fixed point.

    The first iteration runs a generous staffing (``start`` x 3): close to an
    infinite-server system, so the number in system it measures is the offered
    load itself, as in the ISA's usual start.  Starting below the answer
    instead lets a backlog pile up that the next iteration over-staffs, and
    the two alternate; for the same reason an interval's requirement at most
    doubles (plus 5) from one iteration to the next.  Stops when the total
    requirement moves by less than 1% and no interval by more than 2 agents,
    or after ``max_iterations``.  Every iteration simulates the same buyers
    (same seed and replication numbers), so changes come from the staffing alone.
    """
    from peakdesk.experiment.replicate import simulate

    spec = loaded.spec
    slots = requirement_pool(spec).max_concurrency
    agents = np.asarray(start, dtype=np.int64) * 3 + 1
    previous = agents
    steps: list[IsaStep] = []
    for it in range(1, max_iterations + 1):
        ev = simulate(
            loaded,
            seed=seed,
            replications=replications,
            config=stacked_config(spec, agents, grid),
            keep_logs=False,
            workers=workers,
            measure=_Histogram(grid),
            dask=dask,
        )
        tail = pooled_tail([r.extra for r in ev.replications])
        target = np.minimum(agents_from_tail(tail, slots, alpha), 2 * agents + 5)
        # Damped after the first step: an under-staffed interval piles up a backlog
        # (buyers who gave up still wait for their answer), so the raw update
        # overshoots and the next undershoots; half steps settle instead.
        # (Rounded away from zero: a one-agent difference must still move.)
        gap = target - agents
        nxt = target if it == 1 else agents + np.sign(gap) * ((np.abs(gap) + 1) // 2)
        diff = np.abs(nxt - agents)
        change = int(np.max(diff, initial=0))
        step = IsaStep(it, agents, nxt, change)
        steps.append(step)
        if on_step is not None:
            on_step(step)
        settled = it > 1 and diff.sum() <= 0.02 * max(int(agents.sum()), 1) and change <= 2
        previous, agents = agents, nxt
        if settled:
            return agents, steps
    # Not settled: the last two iterates bracket the fixed point interval by interval
    # (they alternate around it), so keep the larger; verification decides.
    return (np.maximum(agents, previous) if steps else agents), steps


@dataclass(frozen=True)
class _Histogram:
    """Picklable measure: the in-system histogram of a replication's log."""

    grid: Grid

    def __call__(self, log: ChatLog) -> F64:
        return in_system_histogram(log, self.grid)
