"""Per-agent and per-pool KPIs of one replication, as customer-service managers track them.

A CS manager's daily sheet has one row per agent (or team): hours online,
conversations handled, replies sent, average and 95th-percentile response
time, occupancy, slot utilisation and the sales won or lost.  This module
derives those rows from a :class:`~peakdesk.engine.log.ChatLog` with grouped
numpy reductions (``np.bincount``, one sort per percentile), so a Double-11
log of half a million messages costs a fraction of a second.

Definitions match the run summary (:mod:`peakdesk.engine.summary`):

* occupancy = time spent composing replies / time online;
* slot utilisation = time conversations were held / (time online x the pool's
  concurrency cap), hold spells still open at the end closed at
  :func:`~peakdesk.engine.intervals.end_time`;
* response time = a human reply's time minus the time of the buyer message it
  answers (every human reply, not only the first of a conversation);
* conversions and lost sales are from :meth:`ChatLog.conversion`, credited to
  the agent who sent the conversation's first reply (the reply whose delay
  decides the sale), or, without one, to the conversation's ``agent`` (the
  agent that held it last: a reopened chat may change hands).  Bot-resolved
  and never-assigned conversations belong to no agent, so the agent and pool
  rows can sum to less than the run's totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.engine.intervals import end_time, writing_spans
from peakdesk.engine.log import REPLY_HUMAN, ChatLog

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Percentile reported as ``response_p95_s``.
RESPONSE_PERCENTILE = 95.0


def grouped_percentile(group: I64, value: F64, n_groups: int, q: float) -> F64:
    """The ``q``-th percentile of ``value`` within each group, vectorised.

    Uses the same linear interpolation between order statistics as
    ``np.percentile``'s default method, so a group's result equals
    ``np.percentile(value[group == g], q)``.

    Parameters
    ----------
    group
        Group number of each value, in ``0 .. n_groups - 1``.
    value
        Values (finite), any unit.
    n_groups
        Number of groups.
    q
        Percentile, 0..100.

    Returns
    -------
    ndarray
        Per group, in the unit of ``value``; ``nan`` for an empty group.
    """
    out = np.full(n_groups, np.nan)
    if value.size == 0:
        return out
    # Sorting by (group, value) puts each group's order statistics side by side.  A
    # quicksort by value, then a stable (radix) sort by group, does it in half the time
    # of np.lexsort; ties in value need no stable order since only values are read.
    order = np.argsort(value)
    order = order[np.argsort(group[order], kind="stable")]
    x = value[order]
    count = np.bincount(group, minlength=n_groups)
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    has = count > 0
    c, f = count[has], first[has]
    h = (c - 1) * (q / 100.0)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, c - 1)
    frac = h - lo
    a, b = x[f + lo], x[f + hi]
    out[has] = a + frac * (b - a)
    return out


def _wsum(index: npt.NDArray[np.integer], weights: F64, n: int) -> F64:
    """Sum of ``weights`` per index ``0 .. n - 1`` (``np.bincount``, typed as float)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)


def _ratio(num: F64, den: F64) -> F64:
    """``num / den`` with ``nan`` where the denominator is 0 (nothing to measure)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _distinct_count(group: I64, item: I64, n_groups: int, n_items: int) -> I64:
    """Per group, the number of distinct items among ``(group, item)`` pairs.

    Each pair is encoded as one int64 and sorted; a pair differing from its
    predecessor is new.  (``np.unique`` does the same but, in numpy 2.3+, goes
    through a hash table first and is ~15x slower here.)
    """
    # Items below 0 stand for no item (a warm-up's chat held past the cut): not counted.
    real = item >= 0
    group, item = group[real], item[real]
    if group.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    width = max(n_items, 1)
    key = np.sort(group * width + item)
    new = np.concatenate(([True], key[1:] != key[:-1]))
    return np.bincount(key[new] // width, minlength=n_groups).astype(np.int64)


@dataclass(frozen=True)
class _AgentSums:
    """Additive per-agent totals over every agent number (online or not).

    Seconds unless named otherwise; ``reply_agent`` and ``response_s`` are per
    human reply (what the percentiles need).
    """

    online_s: F64
    slot_s: F64  # online seconds x the pool's concurrency cap
    held_s: F64
    composing_s: F64
    replies: I64
    response_sum_s: F64
    conversions: I64
    conversions_lost: I64
    reply_agent: I64
    response_s: F64


def _per_agent_sums(log: ChatLog) -> _AgentSums:
    """Sum what each agent did, one ``np.bincount`` per measure."""
    n_agents = int(log.agent_pool.size)
    caps = np.asarray(log.pool_max_concurrency, dtype=np.float64)
    online_s = _wsum(log.online_agent, log.online_end_s - log.online_start_s, n_agents)
    # A hold spell still open when the run ended counts until the last event,
    # as in the run summary and the interval table.
    t_end = end_time(log)
    hold_end = np.where(np.isnan(log.hold_end_s), t_end, log.hold_end_s)
    held_s = _wsum(log.hold_agent, hold_end - log.hold_start_s, n_agents)
    # Human replies only: bot replies have no agent and cost no agent time.
    human = (log.reply_kind == REPLY_HUMAN) & (log.reply_agent >= 0)
    ra = log.reply_agent[human].astype(np.int64)
    response = log.reply_time_s[human] - log.msg_time_s[human]
    if "parallel" in log.pool_discipline or log.handback_writing_agent.size:
        # Replies a parallel agent wrote at once share its time: merged spells.
        w_start, w_end, w_agent = writing_spans(log)
        composing_s = _wsum(w_agent, w_end - w_start, n_agents)
    else:
        composing_s = _wsum(ra, log.reply_compose_s[human], n_agents)
    converted, lost = log.conversion()
    first = log.workload.msg_offset[:-1]
    first_replier = np.where(
        log.reply_kind[first] == REPLY_HUMAN, log.reply_agent[first], log.agent
    )
    has = first_replier >= 0
    conv_agent = first_replier[has].astype(np.int64)
    return _AgentSums(
        online_s=online_s,
        # An agent's cap is its pool's, fixed for the run.
        slot_s=online_s * caps[log.agent_pool],
        held_s=held_s,
        composing_s=composing_s,
        replies=np.bincount(ra, minlength=n_agents).astype(np.int64),
        response_sum_s=_wsum(ra, response, n_agents),
        conversions=np.bincount(conv_agent[converted[has]], minlength=n_agents).astype(np.int64),
        conversions_lost=np.bincount(conv_agent[lost[has]], minlength=n_agents).astype(np.int64),
        reply_agent=ra,
        response_s=response,
    )


def agent_kpis(log: ChatLog) -> dict[str, np.ndarray]:
    """One row per agent who was online at least once.

    Parameters
    ----------
    log
        The chat log of one replication.

    Returns
    -------
    dict of str to ndarray
        Columns, aligned, in agent-number order:

        ``agent`` (int)
            Agent number in the log (index of ``log.agent_pool``).
        ``agent_id`` (str)
            Readable id ``<pool>-<n>`` (:meth:`ChatLog.agent_labels`).
        ``pool`` (str)
            Pool name.
        ``online_h``
            Time online (holding a sub-account), hours.
        ``conversations`` (int)
            Distinct conversations the agent held in a slot at some time.
        ``replies`` (int)
            Human replies sent.
        ``response_mean_s``, ``response_p95_s``
            Mean and 95th percentile (linear interpolation, as
            ``np.percentile``) of reply time minus the time of the buyer message
            answered, over the agent's replies, seconds; ``nan`` without replies.
        ``occupancy``
            Composing time / online time (share, 0..1 in practice).
        ``slot_utilisation``
            Held time / (online time x pool concurrency cap) (share).
        ``conversions``, ``conversions_lost`` (int)
            Converted and lost-sale conversations whose ``agent`` is this agent.
        ``conversations_per_online_hour``
            ``conversations / online_h``, per hour.
    """
    n_agents = int(log.agent_pool.size)
    s = _per_agent_sums(log)
    conversations = _distinct_count(
        log.hold_agent.astype(np.int64),
        log.hold_conversation.astype(np.int64),
        n_agents,
        log.workload.n_conversations,
    )
    # "Online at least once": has an online spell (a zero-length one still counts).
    rows = np.flatnonzero(np.bincount(log.online_agent, minlength=n_agents) > 0)
    labels = log.agent_labels() if n_agents else np.array([], dtype=str)
    online_h = s.online_s / 3600.0
    table: dict[str, np.ndarray] = {
        "agent": rows.astype(np.int64),
        "agent_id": labels[rows],
        "pool": np.asarray(log.pool_names, dtype=str)[log.agent_pool[rows]],
        "online_h": online_h,
        "conversations": conversations,
        "replies": s.replies,
        "response_mean_s": _ratio(s.response_sum_s, s.replies.astype(np.float64)),
        "response_p95_s": grouped_percentile(
            s.reply_agent, s.response_s, n_agents, RESPONSE_PERCENTILE
        ),
        "occupancy": _ratio(s.composing_s, s.online_s),
        "slot_utilisation": _ratio(s.held_s, s.slot_s),
        "conversions": s.conversions,
        "conversions_lost": s.conversions_lost,
        "conversations_per_online_hour": _ratio(conversations.astype(np.float64), online_h),
    }
    # Per-agent columns above cover every agent number; keep the online ones.
    fixed = ("agent", "agent_id", "pool")
    return {k: v if k in fixed else v[rows] for k, v in table.items()}


def pool_kpis(log: ChatLog) -> dict[str, np.ndarray]:
    """One row per pool (every pool of the scenario, staffed or not).

    Each measure is aggregated from the pool's raw events, not from the agent
    rows: the 95th percentile is over all the pool's replies (a mean of agent
    percentiles is not a percentile), occupancy is the pool's composing time
    over its online time (agents weighted by their hours), and a conversation
    held by two agents of the pool (reopened after an idle close) counts once.

    Parameters
    ----------
    log
        The chat log of one replication.

    Returns
    -------
    dict of str to ndarray
        Columns, aligned, in pool-number order:

        ``pool`` (str)
            Pool name.
        ``agents`` (int)
            Agents of the pool online at least once.
        ``paid_hours``
            Scheduled paid agent-hours, hours.
        ``labour_cost``
            ``paid_hours x hourly_cost``, in the scenario's currency.
        ``online_h``, ``conversations``, ``replies``, ``response_mean_s``,
        ``response_p95_s``, ``occupancy``, ``slot_utilisation``,
        ``conversions``, ``conversions_lost``, ``conversations_per_online_hour``
            As in :func:`agent_kpis`, over the pool.
    """
    n_pools = len(log.pool_names)
    s = _per_agent_sums(log)
    pool_of = log.agent_pool.astype(np.int64)

    def by_pool(per_agent: npt.NDArray[np.float64] | npt.NDArray[np.int64]) -> F64:
        # Additive measures: agents' totals summed into their pool.
        return _wsum(pool_of, per_agent.astype(np.float64), n_pools)

    online_s = by_pool(s.online_s)
    replies = by_pool(s.replies)
    conversations = _distinct_count(
        pool_of[log.hold_agent],
        log.hold_conversation.astype(np.int64),
        n_pools,
        log.workload.n_conversations,
    )
    was_online = np.bincount(log.online_agent, minlength=pool_of.size) > 0
    paid = np.asarray(log.paid_hours_by_pool, dtype=np.float64)
    online_h = online_s / 3600.0
    return {
        "pool": np.asarray(log.pool_names, dtype=str),
        "agents": np.bincount(pool_of[was_online], minlength=n_pools).astype(np.int64),
        "paid_hours": paid,
        "labour_cost": paid * np.asarray(log.hourly_cost_by_pool, dtype=np.float64),
        "online_h": online_h,
        "conversations": conversations,
        "replies": replies.astype(np.int64),
        "response_mean_s": _ratio(by_pool(s.response_sum_s), replies),
        # Over all the pool's replies at once, not a mean of its agents' percentiles.
        "response_p95_s": grouped_percentile(
            pool_of[s.reply_agent], s.response_s, n_pools, RESPONSE_PERCENTILE
        ),
        "occupancy": _ratio(by_pool(s.composing_s), online_s),
        "slot_utilisation": _ratio(by_pool(s.held_s), by_pool(s.slot_s)),
        "conversions": by_pool(s.conversions).astype(np.int64),
        "conversions_lost": by_pool(s.conversions_lost).astype(np.int64),
        "conversations_per_online_hour": _ratio(conversations.astype(np.float64), online_h),
    }
