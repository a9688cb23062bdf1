"""Agents needed online per interval: analytic seed, then the iterative staffing algorithm.

The requirement is expressed in agents of a *reference pool* (speed,
concurrency, slowdown, discipline and shift end of the pool the planner leans
on most) with every skill, online per reporting interval.  It is seeded from
the modified offered load, then refined by simulation in the manner of the
iterative staffing algorithm (ISA; Feldman, Mandelbaum, Massey and Whitt,
Management Science 2008): simulate the current requirement, measure in each
interval the distribution of the number of conversations in the system (held
or waiting), and set the next requirement to the fewest agents whose slots
leave at most a share ``alpha`` of the interval's time with every slot taken.
The backlog carried from one interval into the next (which the stationary seed
misses) is in that distribution, so the fixed point accounts for it.

The seed and the measurement follow the reference pool's discipline:

* ``parallel``: slots are the only limit (every held chat progresses), so the
  seed staffs each interval by the chat model of :mod:`peakdesk.analytic.chat`
  at the modified offered load (fewest agents with P(every slot taken) <=
  ``alpha``), and the ISA measures the number in system against the slots.
* ``sequential``: an agent also writes one reply at a time, so a free slot does
  not mean a prompt reply.  The agents are also servers of replies: the seed
  adds the fewest agents whose replies, at the writing load (agents' worth of
  writing the chats in the system need), wait longer than one compose time
  with probability at most ``alpha`` (:mod:`peakdesk.analytic.sequential`: a
  delayed reply waits behind its own agent's), and the ISA measures the buyer
  messages waiting for a reply against the agents as well as the chats against
  the slots, and keeps the larger requirement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.engine.log import ChatLog
from peakdesk.plan.inputs import Grid, PlanningInputs, writes_one_at_a_time
from peakdesk.scenario.schema import REFINEMENT_GROWTH

__all__ = ["Grid", "IsaStep", "iterate_requirement", "seed_requirement"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


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
    return level_histogram(start, end, grid)


def waiting_reply_histogram(log: ChatLog, grid: Grid) -> F64:
    """Time each interval spent with ``c`` buyer messages waiting for a human reply.

    A message waits from when it is sent until its reply (or, for a first
    message withdrawn unanswered, until its buyer left; or the end of the run).
    Bot-resolved conversations never wait.
    """
    w = log.workload
    human = ~w.bot[w.message_conversation]
    sent = human & ~np.isnan(log.msg_time_s)
    start = log.msg_time_s[sent]
    end = log.reply_time_s[sent].copy()
    conv = w.message_conversation[sent]
    gone = np.isnan(end) & log.withdrawn[conv]
    end[gone] = log.abandon_s[conv][gone]
    return level_histogram(start, end, grid)


def level_histogram(start: F64, end: F64, grid: Grid) -> F64:
    """Time each interval spent with ``c`` of the spans ``[start, end)`` open, for every ``c``.

    An end that is ``nan`` (still open when the run ended) is taken as the later
    of the grid's end and the last finite end.

    Returns
    -------
    ndarray, shape (n_intervals, max_count + 1)
        Seconds of interval ``k`` during which exactly ``c`` spans were open.
    """
    horizon_end = grid.edges_s[-1]
    end = np.where(np.isnan(end), max(horizon_end, float(np.nanmax(end, initial=0.0))), end)
    # At equal times: leave, then the interval edge, then arrive (a stable sort keeps
    # this order of the blocks; it is the order of sorting by (time, delta), and
    # twice as fast as lexsort on the Tmall scenario's 340k reply waits).
    times = np.concatenate((end, grid.edges_s, start))
    delta = np.concatenate((-np.ones(end.size), np.zeros(grid.n + 1), np.ones(start.size)))
    order = np.argsort(times, kind="stable")
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


def pooled_pmf(histograms: list[F64]) -> F64:
    """``P(L = c)`` per interval, pooled over replications (time-weighted)."""
    width = max(h.shape[1] for h in histograms)
    total = np.zeros((histograms[0].shape[0], width))
    for h in histograms:
        total[:, : h.shape[1]] += h
    mass = total.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(mass > 0, total / mass, 0.0), dtype=np.float64)


def pooled_tail(histograms: list[F64]) -> F64:
    """``P(L >= c)`` per interval, pooled over replications (time-weighted)."""
    pmf = pooled_pmf(histograms)
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # tail[k, c] = P(L_k >= c)
    return np.asarray(tail, dtype=np.float64)


def agents_for_writing(pmf: F64, alpha: float, cap: I64 | None = None) -> I64:
    """Fewest agents per interval whose replies wait over one compose time w.p. <= ``alpha``.

    ``pmf[k, c]`` is the share of interval ``k`` with ``c`` buyer messages
    waiting for a reply (being written or not).  With ``n`` agents writing one
    reply at a time and least-loaded routing (the model of
    :mod:`peakdesk.analytic.sequential`), a message that finds ``c`` waiting
    goes to an agent with ``q = floor(c / n)`` of them (none if ``c < n``) and
    starts after those ``q`` replies, each exponential with the mean compose
    time ``s``; it waits longer than ``s`` with probability
    ``P(Poisson(1) <= q - 1)``.  So
    ``P(W > s) = sum_{q >= 1} P(Poisson(1) <= q - 1) P(q n <= L < (q + 1) n)``,
    from the measured distribution of ``L``, as the ISA measures.  The weights
    are 1 to double precision from ``q = 20`` on.  No interval is searched past
    ``cap`` (its answer is then ``cap``).
    """
    from scipy import stats

    n_int, width = pmf.shape
    limit = np.full(n_int, width, dtype=np.int64) if cap is None else np.minimum(cap, width)
    # tail[k, c] = P(L_k >= c), zero past the measured range.
    tail = np.concatenate((np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1], np.zeros((n_int, 1))), 1)
    q = np.arange(1, 21)
    weight = stats.poisson.cdf(q - 1, 1.0)
    weight[-1] = 1.0  # the last band is the whole tail from 20 n
    out = limit.copy()
    todo = np.flatnonzero(pmf[:, 1:].sum(axis=1) > 0.0)
    out[np.setdiff1d(np.arange(n_int), todo)] = 0  # nothing ever waits: no agent
    n = 1
    while todo.size and n <= int(limit[todo].max()):
        lo = np.minimum(q * n, width)
        hi = np.minimum((q + 1) * n, width)
        band = tail[np.ix_(todo, lo)] - np.where(q < 20, 1.0, 0.0) * tail[np.ix_(todo, hi)]
        late = band @ weight
        hit = late <= alpha
        out[todo[hit]] = np.minimum(n, limit[todo[hit]])
        todo = todo[~hit & (limit[todo] > n)]
        n += 1
    return out


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


def seed_requirement(inputs: PlanningInputs, alpha: float) -> I64:
    """The analytic seed: modified offered load, then a stationary model of the discipline.

    With the infinite-server load ``m(t)`` (conversations that would be in the
    system with unlimited agents):

    * ``parallel`` reference pool: per interval, the fewest agents whose chat
      model (:func:`~peakdesk.analytic.chat.chat_metrics`, handle time by chats
      held, no abandonment) keeps P(every slot taken) at most ``alpha`` at the
      arrival rate ``m(t) / E[hold]``: the model the engine is at stationarity;
    * ``sequential`` with concurrency ``c``: the fewest agents whose ``n c``
      slots exceed ``m(t)`` with probability ``1 - alpha`` under a Poisson
      number in system, and at least the writing seed
      (:func:`peakdesk.analytic.sequential.agents_for_reply_delay` at the
      writing load ``m(t) x`` the share of a chat's life spent being written).
    """
    from scipy import stats

    from peakdesk.analytic.offered_load import mol_staffing, offered_load
    from peakdesk.analytic.sequential import agents_for_reply_delay

    work, grid, pool = inputs.work, inputs.grid, inputs.requirement_pool
    load = offered_load(work.rate_per_s, grid.interval_s, float(np.mean(work.hold_s)))
    slots = pool.max_concurrency
    if pool.discipline == "parallel":
        need = mol_staffing(
            load,
            float(np.mean(work.hold_s)),
            0.0,
            1.0 - alpha,
            max_concurrency=slots,
            handle_time_s=work.hold_by_level_s,
        )
        return np.asarray(np.where(load > 0.0, need, 0), dtype=np.int64)
    need = stats.poisson.ppf(1.0 - alpha, np.maximum(load, 1e-9))
    by_slots = np.asarray(np.ceil(need / slots), dtype=np.int64)
    if not writes_one_at_a_time(pool):
        return by_slots
    writing = load * work.writing_share
    by_writing = np.array(
        [agents_for_reply_delay(float(a), alpha) if a > 0.0 else 0 for a in np.round(writing, 6)],
        dtype=np.int64,
    )
    return np.maximum(by_slots, by_writing)


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
    outcome
        ``"moving"``; on the last iteration ``"converged"`` (no interval moves by
        more than the tolerance), ``"cycle"`` (the update returned to an earlier
        iterate: the answer is the interval-wise max over the cycle) or
        ``"not_converged"`` (stopped at the iteration cap).
    cycle
        Length of the cycle, iterations (0 unless ``outcome == "cycle"``).
    replications
        Runs this iteration simulated.
    first_replication
        Replication number of its first run.
    """

    iteration: int
    agents: I64
    next_agents: I64
    max_change: int
    outcome: str = "moving"
    cycle: int = 0
    replications: int = 0
    first_replication: int = 0


#: The most an iteration's replications grow to, as a multiple of ``plan.replications``.
MAX_GROWTH = REFINEMENT_GROWTH


def iterate_requirement(
    inputs: PlanningInputs,
    start: I64,
    alpha: float,
    *,
    replications: int,
    max_iterations: int,
    seed: int,
    tolerance: int = 1,
    grow: bool = True,
    workers: int = 1,
    on_step: Callable[[IsaStep], None] | None = None,
    dask: str | None = None,
) -> tuple[I64, list[IsaStep]]:
    """Refine a requirement to the ISA fixed point, until it converges or cycles.

    The first iteration runs a generous staffing (``start`` x 3): close to an
    infinite-server system, so the number in system it measures is the offered
    load itself, as in the ISA's usual start.  Starting below the answer
    instead lets a backlog pile up that the next iteration over-staffs, and
    the two alternate; for the same reason an interval's requirement at most
    doubles (plus 5) from one iteration to the next, and after the first the
    steps are halved, then cut to a third, a quarter, ... of the gap.  Each
    iteration simulates fresh buyers (replication numbers ``(it - 1) *
    replications ..``): with the same buyers every time, the fixed point fits
    their sample (on the sinusoid of Feldman et al., P(delay) 0.09-0.10 on the
    refinement's own seeds and 0.03-0.25 on fresh ones, benchmarks/isa_sinusoid.py);
    with fresh ones and the falling gain the iteration is a stochastic
    approximation that averages the buyers out.  Results stay reproducible: the
    replication numbers follow from the iterations before.

    The falling gain averages the noise of a few runs only slowly: near the fixed
    point what moves the iterates is the sampling error of the measured need, and
    no interval settles within ``tolerance`` until the gain has fallen below it.
    So (``grow``) once an iteration moves the requirement no less than the one
    before it (from the fourth on: the early steps shrink by the damping alone),
    the iterations after it run twice as many replications, up to
    :data:`MAX_GROWTH` x ``replications``: the measured need's error halves every
    two doublings, and the refinement converges to the tolerance instead of
    stopping at the iteration cap still moving.

    It stops when no interval moves by more than ``tolerance`` agents (the
    last update is returned: at a fixed point it equals its input); or when the
    update returns to an iterate seen before (a cycle: the interval-wise max over
    the cycle is returned); or after
    ``max_iterations`` (the larger of the last two iterates).  The last step's
    :attr:`IsaStep.outcome` says which.
    """
    from peakdesk.experiment.replicate import measure_runs

    grid, pool = inputs.grid, inputs.requirement_pool
    slots = pool.max_concurrency
    writing = writes_one_at_a_time(pool)
    agents = np.asarray(start, dtype=np.int64) * 3 + 1
    seen: list[I64] = []  # every iterate simulated, in order
    steps: list[IsaStep] = []

    def report(step: IsaStep) -> None:
        steps.append(step)
        if on_step is not None:
            on_step(step)

    def finish(step: IsaStep, answer: I64) -> tuple[I64, list[IsaStep]]:
        report(step)
        return answer, steps

    reps, first = replications, 0
    previous_change: int | None = None
    for it in range(1, max_iterations + 1):
        seen.append(agents)
        extras = measure_runs(
            inputs.loaded,
            _Histogram(grid, writing),
            seed=seed,
            replications=reps,
            first_replication=first,
            config=inputs.stacked_config(agents),
            intensity=inputs.intensity,
            workers=workers,
            dask=dask,
        )
        if writing:
            # Slots for the chats, and (one reply at a time) agents for the waiting replies.
            by_slots = agents_from_tail(pooled_tail([e[0] for e in extras]), slots, alpha)
            cap = 2 * agents + 5
            by_writing = agents_for_writing(pooled_pmf([e[1] for e in extras]), alpha, cap)
            need = np.maximum(by_slots, by_writing)
        else:
            need = agents_from_tail(
                pooled_tail([e for e in extras if isinstance(e, np.ndarray)]), slots, alpha
            )
        target = np.minimum(need, 2 * agents + 5)
        # Damped after the first step: an under-staffed interval piles up a backlog
        # (buyers who gave up still wait for their answer), so the raw update
        # overshoots and the next undershoots; half steps settle instead.  From the
        # fourth the gain falls further (1/3, 1/4, ...): with a few replications the
        # measured need jitters by an agent or two around the fixed point, and a
        # falling gain averages that noise out (stochastic approximation) where a
        # fixed one keeps the iterates circling.  (Rounded away from zero: a
        # one-agent difference must still move.)
        gap = target - agents
        div = max(2, it - 2)
        nxt = target if it == 1 else agents + np.sign(gap) * ((np.abs(gap) + div - 1) // div)
        change = int(np.max(np.abs(nxt - agents), initial=0))
        if it > 1 and change <= tolerance:
            step = IsaStep(
                it, agents, nxt, change, "converged", replications=reps, first_replication=first
            )
            return finish(step, nxt)
        back = next((j for j, old in enumerate(seen) if np.array_equal(old, nxt)), None)
        if back is not None and it > 1:
            cycle = seen[back:]
            step = IsaStep(
                it,
                agents,
                nxt,
                change,
                "cycle",
                len(cycle),
                replications=reps,
                first_replication=first,
            )
            return finish(step, np.max(np.stack(cycle), axis=0))
        if it == max_iterations:
            # The last two iterates bracket the fixed point interval by interval
            # (they alternate around it), so keep the larger; verification decides.
            step = IsaStep(
                it, agents, nxt, change, "not_converged", replications=reps, first_replication=first
            )
            return finish(step, np.maximum(agents, nxt))
        report(IsaStep(it, agents, nxt, change, replications=reps, first_replication=first))
        first += reps
        if (
            grow
            and it >= 4
            and previous_change is not None
            and change >= previous_change
            and reps < MAX_GROWTH * replications
        ):
            reps = min(2 * reps, MAX_GROWTH * replications)
        previous_change = change
        agents = nxt
    return agents, steps  # max_iterations < 1: the generous start, no step


@dataclass(frozen=True)
class _Histogram:
    """Picklable measure: the in-system histogram of a replication's log.

    With ``writing``, the pair (in-system, waiting-reply) histograms.
    """

    grid: Grid
    writing: bool = False

    def __call__(self, log: ChatLog) -> F64 | tuple[F64, F64]:
        if self.writing:
            return in_system_histogram(log, self.grid), waiting_reply_histogram(log, self.grid)
        return in_system_histogram(log, self.grid)
