"""What each inquiry type took from each pool in one run: conversations and writing time.

Kept for every replication (like the pool KPIs) so a centre can bill and allocate
cost per client without the message logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.engine.log import REPLY_HUMAN, ChatLog

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TypeWork:
    """One run's work by inquiry type.

    Attributes
    ----------
    conversations
        Per type: conversations that arrived.
    human
        Per type: conversations that got a human reply.
    bot
        Per type: conversations a bot resolved (no person needed).
    abandoned
        Per type: buyers who left before the first reply.
    writing_s
        Per (pool, type): seconds agents spent writing replies.
    paid_hours, hourly_cost
        Per pool: scheduled paid agent-hours and their cost per hour.
    """

    conversations: I64
    human: I64
    bot: I64
    abandoned: I64
    writing_s: F64
    paid_hours: F64
    hourly_cost: F64


def type_work(log: ChatLog) -> TypeWork:
    """Count one run's conversations and writing time by type (and pool)."""
    w = log.workload
    n_types = len(w.type_names)
    n_pools = len(log.pool_names)
    human_reply = log.reply_kind == REPLY_HUMAN
    first_human = np.zeros(w.n_conversations, dtype=np.bool_)
    first_human[w.message_conversation[human_reply]] = True
    msg_type = w.type_idx[w.message_conversation]
    agent = log.reply_agent
    ok = human_reply & (agent >= 0) & np.isfinite(log.reply_compose_s)
    pool = log.agent_pool[agent[ok]] if log.agent_pool.size else np.zeros(0, np.int64)
    writing = np.zeros((n_pools, n_types))
    np.add.at(writing, (pool, msg_type[ok]), log.reply_compose_s[ok])
    return TypeWork(
        conversations=np.bincount(w.type_idx, minlength=n_types).astype(np.int64),
        human=np.bincount(w.type_idx[first_human], minlength=n_types).astype(np.int64),
        bot=np.bincount(w.type_idx[w.bot], minlength=n_types).astype(np.int64),
        abandoned=np.bincount(w.type_idx[log.abandoned], minlength=n_types).astype(np.int64),
        writing_s=writing,
        paid_hours=np.asarray(log.paid_hours_by_pool, dtype=np.float64),
        hourly_cost=np.asarray(log.hourly_cost_by_pool, dtype=np.float64),
    )
