"""Per-interval statistics derived from a chat log.

Nothing here runs inside the event loop: every time-weighted level (agents
online, busy slots, queue, backlog, composing) is a sum of intervals
``[start, end)`` that the log already holds, integrated over the reporting grid
with sorted cumulative sums.  The engine pays nothing for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.engine.log import ChatLog

F64 = npt.NDArray[np.float64]


def level_integral(start: F64, end: F64, edges: F64) -> F64:
    """Integral of the count of open intervals up to each edge.

    Parameters
    ----------
    start, end
        Interval bounds, seconds; ``end >= start``.
    edges
        Increasing times, seconds.

    Returns
    -------
    ndarray
        ``F(T) = sum_i |[start_i, end_i) ∩ [-inf, T)|`` at each edge, in
        item-seconds.  ``diff(F) / diff(edges)`` is the time-weighted mean level
        in each bin.

    Notes
    -----
    ``F(T) = sum_{start < T} (T - start) - sum_{end < T} (T - end)``: the counts
    and sums of the bounds below each edge are cumulative sums of per-bin counts
    and sums (each bound placed by a binary search among the edges, no sort of
    the bounds).
    """
    ks, cs = _below(start, edges)
    ke, ce = _below(end, edges)
    return np.asarray((ks * edges - cs) - (ke * edges - ce), dtype=np.float64)


def _below(x: F64, edges: F64) -> tuple[npt.NDArray[np.int64], F64]:
    """For each edge: how many of ``x`` are below it, and their sum."""
    m = edges.size
    # bin b holds the x with edges[b - 1] <= x < edges[b] (b = 0: below the first edge)
    b = np.searchsorted(edges, x, side="right")
    count = np.bincount(b, minlength=m + 1)[:m]
    total = np.bincount(b, weights=x, minlength=m + 1)[:m]
    return np.cumsum(count), np.cumsum(total)


def mean_level(start: F64, end: F64, edges: F64) -> F64:
    """Time-weighted mean count of open intervals in each bin ``[edges[k], edges[k+1])``."""
    return np.diff(level_integral(start, end, edges)) / np.diff(edges)


def peak_level(start: F64, end: F64) -> int:
    """Maximum number of intervals open at once (an end at t closes before a start at t).

    The level just after the ``k``-th start (in time order) is ``k + 1`` starts
    less the ends at or before it; the peak is reached just after some start.
    """
    if start.size == 0:
        return 0
    s = np.sort(start)
    e = np.sort(end)
    closed = np.searchsorted(e, s, side="right")
    return int(max(np.max(np.arange(1, s.size + 1) - closed), 0))


#: The service level's time where the scenario sets none (the call-centre 80/20 convention).
DEFAULT_SERVICE_LEVEL_S = 20.0

#: The Erlang figures per interval, defined as ``peakdesk erlang`` defines them.
ERLANG_DEFINITIONS = {
    "wait": "from a human conversation's arrival until an agent takes it (its assignment); "
    "a buyer who leaves first waits until leaving; one still waiting at the end, until the end",
    "p_delay": "share of the interval's human arrivals not taken at once (wait > 0)",
    "asa_s": "mean wait over every human arrival, those who abandon included (their wait "
    "until they left)",
    "service_level": "share taken within the service level's time and not abandoned "
    "(abandoned count as failures)",
    "abandonment": "share whose buyer left before the first reply",
    "assign_wait_pXX_s": "percentiles of the wait; a buyer never taken counts as infinitely late",
    "slot_utilisation": "mean chats held / slots online (Erlang's occupancy)",
}


@dataclass(frozen=True)
class IntervalTable:
    """One row per reporting interval.

    Attributes
    ----------
    start_s
        Interval start, seconds from the scenario start.
    interval_s
        Interval width, seconds.
    arrivals
        Conversations arriving (all, bots included).
    human_arrivals
        Conversations needing an agent.
    agents_online
        Time-weighted mean agents online (= sub-accounts in use).
    slots_online
        Time-weighted mean conversation slots of online agents.
    busy_slots
        Time-weighted mean conversations held by agents.
    queue
        Time-weighted mean conversations waiting for an agent (new ones, and
        chats reopened or handed back that wait again).
    backlog
        Time-weighted mean buyer messages waiting for a reply.
    composing
        Time-weighted mean agents writing a reply.
    occupancy
        ``composing / agents_online`` (share of online time spent writing; a
        parallel agent writing several replies at once counts once).
    slot_utilisation
        ``busy_slots / slots_online``.
    first_reply_mean_s
        Mean first human reply delay of conversations arriving in the interval.
    first_reply_p90_s
        90th percentile of that delay (unanswered count as infinitely late).
    within_3min
        Share of the interval's human conversations answered by a human within
        180 s and before the buyer left (abandoned count as failures).
    abandoned
        Conversations arriving in the interval whose buyer left.
    conversions
        Conversations arriving in the interval that converted (a sale;
        :meth:`ChatLog.conversion`), bot-resolved ones included.
    conversions_lost
        Conversations arriving in the interval whose sale was lost to the wait
        (would have converted with an immediate reply, did not).
    first_reply_p50_s, first_reply_p95_s
        Median and 95th percentile of the first human reply delay, like
        ``first_reply_p90_s``.
    p_delay, asa_s, service_level, abandonment, assign_wait_p50_s, assign_wait_p90_s,
    assign_wait_p95_s
        The Erlang figures of the human conversations arriving in the interval,
        as ``peakdesk erlang`` defines them (:data:`ERLANG_DEFINITIONS`): the
        wait runs from arrival until an agent takes the chat.
    taken
        Human conversations arriving in the interval that an agent took.
    service_level_s
        The service level's time, seconds.
    """

    start_s: F64
    interval_s: float
    arrivals: npt.NDArray[np.int64]
    human_arrivals: npt.NDArray[np.int64]
    agents_online: F64
    slots_online: F64
    busy_slots: F64
    queue: F64
    backlog: F64
    composing: F64
    occupancy: F64
    slot_utilisation: F64
    first_reply_mean_s: F64
    first_reply_p90_s: F64
    within_3min: F64
    abandoned: npt.NDArray[np.int64]
    conversions: npt.NDArray[np.int64]
    conversions_lost: npt.NDArray[np.int64]
    first_reply_p50_s: F64
    first_reply_p95_s: F64
    p_delay: F64
    asa_s: F64
    service_level: F64
    abandonment: F64
    assign_wait_p50_s: F64
    assign_wait_p90_s: F64
    assign_wait_p95_s: F64
    taken: npt.NDArray[np.int64]
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """The table as named columns (for CSV and data frames)."""
        return {
            "interval_start_s": self.start_s,
            "arrivals": self.arrivals,
            "human_arrivals": self.human_arrivals,
            "agents_online": self.agents_online,
            "slots_online": self.slots_online,
            "busy_slots": self.busy_slots,
            "queue": self.queue,
            "backlog": self.backlog,
            "composing": self.composing,
            "occupancy": self.occupancy,
            "slot_utilisation": self.slot_utilisation,
            "first_reply_mean_s": self.first_reply_mean_s,
            "first_reply_p90_s": self.first_reply_p90_s,
            "within_3min": self.within_3min,
            "abandoned": self.abandoned,
            "conversions": self.conversions,
            "conversions_lost": self.conversions_lost,
            "first_reply_p50_s": self.first_reply_p50_s,
            "first_reply_p95_s": self.first_reply_p95_s,
            "p_delay": self.p_delay,
            "asa_s": self.asa_s,
            "service_level": self.service_level,
            "abandonment": self.abandonment,
            "assign_wait_p50_s": self.assign_wait_p50_s,
            "assign_wait_p90_s": self.assign_wait_p90_s,
            "assign_wait_p95_s": self.assign_wait_p95_s,
            "taken": self.taken,
        }


def end_time(log: ChatLog) -> float:
    """The last thing that happened (or the horizon, if later), seconds."""
    cands = [log.horizon_s]
    for arr in (log.reply_time_s, log.close_s, log.online_end_s, log.msg_time_s):
        if arr.size and not np.all(np.isnan(arr)):
            cands.append(float(np.nanmax(arr)))
    return max(cands)


def writing_spans(log: ChatLog) -> tuple[F64, F64, npt.NDArray[np.int32]]:
    """When each agent was writing: ``(start, end, agent)`` of its writing spells.

    A sequential agent writes one reply at a time, so its spells are its
    replies' compose spans (and the writing it did on replies it handed back).
    A parallel agent writes several at once: its overlapping reply spans are
    merged, so an agent writes at most once at a time and occupancy stays a
    share of its online time.
    """
    human_reply = log.reply_agent >= 0
    agent = log.reply_agent[human_reply]
    end = log.reply_time_s[human_reply]
    start = end - log.reply_compose_s[human_reply]
    if log.handback_writing_agent.size:
        # Writing on replies handed back unfinished is the agent's time too.
        agent = np.concatenate((agent, log.handback_writing_agent))
        start = np.concatenate((start, log.handback_writing_start_s))
        end = np.concatenate((end, log.handback_writing_end_s))
    parallel = [p for p, d in enumerate(log.pool_discipline) if d == "parallel"]
    if not parallel:
        return start, end, agent
    in_par = np.isin(log.agent_pool[agent], parallel)
    keep_s, keep_e, keep_a = [start[~in_par]], [end[~in_par]], [agent[~in_par]]
    order = np.lexsort((start, agent))
    order = order[in_par[order]]
    a_sorted = agent[order]
    cuts = np.flatnonzero(np.diff(a_sorted)) + 1
    for idx in np.split(order, cuts):
        if idx.size == 0:
            continue
        s, e = start[idx], end[idx]
        reach = np.maximum.accumulate(e)
        # A new spell begins where a reply starts after everything before it ended.
        new = np.concatenate(([True], s[1:] > reach[:-1]))
        first = np.flatnonzero(new)
        last = np.concatenate((first[1:] - 1, [idx.size - 1]))
        keep_s.append(s[first])
        keep_e.append(reach[last])
        keep_a.append(np.full(first.size, agent[idx[0]], dtype=agent.dtype))
    return np.concatenate(keep_s), np.concatenate(keep_e), np.concatenate(keep_a)


def spans(log: ChatLog, t_end: float) -> dict[str, tuple[F64, F64]]:
    """The ``[start, end)`` spans behind each level, open ones closed at ``t_end``."""
    w = log.workload
    human = ~w.bot
    sent = ~np.isnan(log.msg_time_s)
    # An unanswered message waits until the end, unless its buyer withdrew it.
    withdrawn_msg = log.withdrawn[w.message_conversation] & (w.message_index == 0)
    msg_end = np.where(
        np.isnan(log.reply_time_s),
        np.where(withdrawn_msg, log.abandon_s[w.message_conversation], t_end),
        log.reply_time_s,
    )
    assigned = ~np.isnan(log.assign_s)
    # A queued conversation leaves the queue when assigned, or when withdrawn.
    q_end = np.where(assigned, log.assign_s, np.where(log.withdrawn, log.abandon_s, t_end))
    # Later waits (reopened or handed-back chats) count too.
    rq_end = np.where(np.isnan(log.requeue_end_s), t_end, log.requeue_end_s)
    waiting = sent & (msg_end > log.msg_time_s)
    write_start, write_end, _ = writing_spans(log)
    return {
        "online": (log.online_start_s, log.online_end_s),
        "busy": (log.hold_start_s, np.where(np.isnan(log.hold_end_s), t_end, log.hold_end_s)),
        "queue": (
            np.concatenate((w.arrival_s[human], log.requeue_start_s)),
            np.concatenate((q_end[human], rq_end)),
        ),
        "backlog": (log.msg_time_s[waiting], msg_end[waiting]),
        "composing": (write_start, write_end),
    }


def assignment_wait(log: ChatLog, t_end: float) -> F64:
    """Per conversation: seconds from arrival until an agent took it (:data:`ERLANG_DEFINITIONS`).

    A buyer who left before being taken waits until leaving; one never taken
    nor gone, until ``t_end``.
    """
    w = log.workload
    until = np.where(
        ~np.isnan(log.assign_s),
        log.assign_s,
        np.where(np.isnan(log.abandon_s), t_end, log.abandon_s),
    )
    return np.asarray(until - w.arrival_s, dtype=np.float64)


def _bin_percentiles(
    bins: npt.NDArray[np.int64], values: F64, n: int, qs: tuple[float, ...]
) -> dict[float, F64]:
    """Nearest-rank percentiles of ``values`` within each of ``n`` bins (``nan`` where empty)."""
    out = {q: np.full(n, np.nan) for q in qs}
    if values.size == 0:
        return out
    order = np.lexsort((values, bins))
    v, b = values[order], bins[order]
    lo = np.searchsorted(b, np.arange(n), side="left")
    cnt = np.searchsorted(b, np.arange(n), side="right") - lo
    has = cnt > 0
    for q, col in out.items():
        k = lo[has] + np.ceil(q * cnt[has]).astype(np.int64) - 1
        col[has] = v[k]
    return out


def interval_table(
    log: ChatLog, interval_s: float, service_level_s: float = DEFAULT_SERVICE_LEVEL_S
) -> IntervalTable:
    """Aggregate a log onto the reporting grid.

    The grid starts at 0 and runs past the horizon until the last event, so the
    drain after the last arrival is visible.

    Parameters
    ----------
    log
        A chat log.
    interval_s
        Reporting interval, seconds.
    service_level_s
        The service level's time, seconds.
    """
    t_end = end_time(log)
    n = max(1, math.ceil(t_end / interval_s - 1e-9))
    edges = np.arange(n + 1, dtype=np.float64) * interval_s
    sp = spans(log, edges[-1])
    levels = {k: mean_level(s, e, edges) for k, s, e in ((k, *v) for k, v in sp.items())}
    # Slots online: each online spell weighted by its pool's concurrency cap.
    w = log.workload
    slots = np.zeros(n)
    spell_pool = log.agent_pool[log.online_agent]
    for p, cap in enumerate(log.pool_max_concurrency):
        sel = spell_pool == p
        slots += mean_level(log.online_start_s[sel], log.online_end_s[sel], edges) * cap
    bins = np.minimum((w.arrival_s // interval_s).astype(np.int64), n - 1)
    human = ~w.bot
    delay = log.first_human_reply_s - w.arrival_s
    late = np.where(np.isnan(delay), np.inf, delay)
    arrivals = np.bincount(bins, minlength=n)
    hb = bins[human]  # the human arrivals' intervals, used by every figure below
    human_arr = np.bincount(hb, minlength=n)
    # Served within 3 min, abandoned counting as failures (the summary's definition).
    served = np.where(log.abandoned, np.inf, late)
    ok = np.bincount(hb, weights=(served[human] <= 180.0).astype(float), minlength=n)
    answered = human & ~np.isnan(delay)
    sum_delay = np.bincount(bins[answered], weights=delay[answered], minlength=n)
    cnt_delay = np.bincount(bins[answered], minlength=n)
    qs = (0.5, 0.9, 0.95)
    pct = _bin_percentiles(hb, late[human], n, qs)
    # The Erlang figures: the wait until an agent takes the chat.
    wait = assignment_wait(log, edges[-1])[human]
    taken = ~np.isnan(log.assign_s[human])
    gone = log.abandoned[human]
    delayed = np.bincount(hb, weights=(wait > 0.0).astype(float), minlength=n)
    wait_sum = np.bincount(hb, weights=wait, minlength=n)
    in_time = taken & ~gone & (wait <= service_level_s)
    sl_ok = np.bincount(hb, weights=in_time.astype(float), minlength=n)
    wait_pct = _bin_percentiles(hb, np.where(taken, wait, np.inf), n, qs)
    with np.errstate(invalid="ignore", divide="ignore"):
        occupancy = levels["composing"] / levels["online"]
        util = levels["busy"] / slots
        mean_delay = sum_delay / cnt_delay
        within = ok / human_arr
        p_delay = delayed / human_arr
        asa = wait_sum / human_arr
        sl = sl_ok / human_arr
        abandonment = np.bincount(hb, weights=gone.astype(float), minlength=n) / human_arr
    # By arrival interval, like `abandoned`: the sale is won or lost by how the
    # buyers arriving then were served, whenever the reply came.
    converted, lost = log.conversion()
    return IntervalTable(
        start_s=edges[:-1],
        interval_s=interval_s,
        arrivals=arrivals.astype(np.int64),
        human_arrivals=human_arr.astype(np.int64),
        agents_online=levels["online"],
        slots_online=slots,
        busy_slots=levels["busy"],
        queue=levels["queue"],
        backlog=levels["backlog"],
        composing=levels["composing"],
        occupancy=occupancy,
        slot_utilisation=util,
        first_reply_mean_s=mean_delay,
        first_reply_p90_s=pct[0.9],
        within_3min=within,
        abandoned=np.bincount(bins[log.abandoned], minlength=n).astype(np.int64),
        conversions=np.bincount(bins[converted], minlength=n).astype(np.int64),
        conversions_lost=np.bincount(bins[lost], minlength=n).astype(np.int64),
        first_reply_p50_s=pct[0.5],
        first_reply_p95_s=pct[0.95],
        p_delay=p_delay,
        asa_s=asa,
        service_level=sl,
        abandonment=abandonment,
        assign_wait_p50_s=wait_pct[0.5],
        assign_wait_p90_s=wait_pct[0.9],
        assign_wait_p95_s=wait_pct[0.95],
        taken=np.bincount(hb[taken], minlength=n).astype(np.int64),
        service_level_s=service_level_s,
    )


def stack_runs(rows: list[F64]) -> F64:
    """Replications' interval columns as one (replications x intervals) table.

    Replications that ran past the horizon for different times are padded with
    ``nan`` to the longest.
    """
    if not rows:
        return np.zeros((0, 0))
    width = max(r.size for r in rows)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out


def mean_over_runs(table: F64) -> F64:
    """Per interval, the mean over replications (``nan`` where no run reached it)."""
    out = np.full(table.shape[1], np.nan)
    ok = ~np.all(np.isnan(table), axis=0)
    out[ok] = np.nanmean(table[:, ok], axis=0)
    return out


def range_over_runs(table: F64) -> tuple[F64, F64]:
    """Per interval, the least and greatest value over replications (``nan`` where none)."""
    lo = np.full(table.shape[1], np.nan)
    hi = np.full(table.shape[1], np.nan)
    ok = ~np.all(np.isnan(table), axis=0)
    lo[ok] = np.nanmin(table[:, ok], axis=0)
    hi[ok] = np.nanmax(table[:, ok], axis=0)
    return lo, hi
