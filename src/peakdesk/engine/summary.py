"""Headline figures of one replication, computed from its chat log."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from peakdesk.engine.intervals import end_time, peak_level, spans
from peakdesk.engine.log import REPLY_HUMAN, ChatLog

#: Thresholds of the generic first-response shares, seconds.
SHARE_THRESHOLDS_S: tuple[tuple[str, float], ...] = (
    ("within_30s", 30.0),
    ("within_3min", 180.0),
    ("within_12h", 12 * 3600.0),
)


@dataclass(frozen=True)
class RunSummary:
    """Headline figures of one replication.

    First-response figures are over conversations that needed an agent (not
    bot-resolved): the delay from the first buyer message to the first human
    reply.  Shares are the generic service level with abandoned conversations
    counted as failures: a conversation succeeds when a human replied within
    the time and before the buyer left (the same definition as
    ``generic.service_level`` in :mod:`peakdesk.rules.generic`).  Percentiles are
    over every answered conversation, abandoned ones included (their message
    was still answered).  Times in seconds, costs in
    the scenario's currency.  ``agent_min_past_shift_end`` is the agent-minutes
    online after the end of the segment (shift end or break start) an agent was
    scheduled for: draining under ``shift_end = "drain"``, at most the grace
    under ``"log_off"``, none under ``"hand_back"`` (until the close-out after the
    horizon, :class:`~peakdesk.engine.config.EngineConfig`); ``handed_back`` counts the
    chats handed back at a shift end.  ``minutes_past_horizon`` is how long after
    the horizon (the last arrival) the last reply or close came: the close-out
    of the chats still open then.
    """

    conversations: int
    bot_resolved: int
    human_conversations: int
    buyer_messages: int
    replies_human: int
    unanswered_at_end: int
    first_reply_p50_s: float
    first_reply_p90_s: float
    first_reply_p95_s: float
    first_reply_mean_s: float
    within_30s: float
    within_3min: float
    within_12h: float
    abandoned: int
    abandonment_rate: float
    conversions: int
    conversions_lost: int
    occupancy: float
    slot_utilisation: float
    peak_backlog: int
    peak_queue: int
    peak_agents_online: int
    agent_hours_online: float
    paid_agent_hours: float
    labour_cost: float
    subaccount_cost: float
    total_cost: float
    cost_per_conversation: float
    agent_min_past_shift_end: float
    handed_back: int
    minutes_past_horizon: float

    def as_dict(self) -> dict[str, float]:
        """Field name -> value."""
        return {k: float(v) for k, v in asdict(self).items()}


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def summarise(log: ChatLog) -> RunSummary:
    """Compute the headline figures of a log."""
    w = log.workload
    human = ~w.bot
    n_human = int(human.sum())
    delay = (log.first_human_reply_s - w.arrival_s)[human]
    answered = delay[~np.isnan(delay)]
    late = np.where(np.isnan(delay) | log.abandoned[human], np.inf, delay)
    shares = {
        name: float(np.mean(late <= t)) if n_human else float("nan")
        for name, t in SHARE_THRESHOLDS_S
    }
    sent = ~np.isnan(log.msg_time_s)
    t_end = end_time(log)
    sp = spans(log, t_end)
    online_s = float(np.sum(log.online_end_s - log.online_start_s))
    composing_s = float(np.sum(sp["composing"][1] - sp["composing"][0]))
    held_s = float(np.sum(sp["busy"][1] - sp["busy"][0]))
    caps = np.asarray(log.pool_max_concurrency, dtype=np.float64)
    slot_s = float(
        np.sum((log.online_end_s - log.online_start_s) * caps[log.agent_pool[log.online_agent]])
    )
    converted, lost = log.conversion()
    labour = log.labour_cost
    total = labour + log.subaccount_cost
    n = w.n_conversations
    return RunSummary(
        conversations=n,
        bot_resolved=int(w.bot.sum()),
        human_conversations=n_human,
        buyer_messages=int(sent.sum()),
        replies_human=int(np.sum(log.reply_kind == REPLY_HUMAN)),
        unanswered_at_end=int(
            np.sum(sent & np.isnan(log.reply_time_s) & ~log.withdrawn[w.message_conversation])
        ),
        first_reply_p50_s=_pct(answered, 50),
        first_reply_p90_s=_pct(answered, 90),
        first_reply_p95_s=_pct(answered, 95),
        first_reply_mean_s=float(answered.mean()) if answered.size else float("nan"),
        within_30s=shares["within_30s"],
        within_3min=shares["within_3min"],
        within_12h=shares["within_12h"],
        abandoned=int(log.abandoned.sum()),
        abandonment_rate=float(log.abandoned.sum() / n_human) if n_human else float("nan"),
        conversions=int(converted.sum()),
        conversions_lost=int(lost.sum()),
        occupancy=composing_s / online_s if online_s > 0 else float("nan"),
        slot_utilisation=held_s / slot_s if slot_s > 0 else float("nan"),
        peak_backlog=peak_level(*sp["backlog"]),
        peak_queue=peak_level(*sp["queue"]),
        peak_agents_online=peak_level(log.online_start_s, log.online_end_s),
        agent_hours_online=online_s / 3600.0,
        paid_agent_hours=float(sum(log.paid_hours_by_pool)),
        labour_cost=labour,
        subaccount_cost=log.subaccount_cost,
        total_cost=total,
        cost_per_conversation=total / n if n else float("nan"),
        agent_min_past_shift_end=float(
            np.sum(np.maximum(log.online_end_s - log.online_scheduled_end_s, 0.0)) / 60.0
        ),
        handed_back=int(log.handed_back.sum()),
        minutes_past_horizon=_past_horizon_s(log) / 60.0,
    )


def _past_horizon_s(log: ChatLog) -> float:
    """Seconds from the horizon to the last reply or close after it (0: none after it)."""
    last = log.horizon_s
    for arr in (log.reply_time_s, log.close_s):
        if arr.size and not np.all(np.isnan(arr)):
            last = max(last, float(np.nanmax(arr)))
    return last - log.horizon_s
