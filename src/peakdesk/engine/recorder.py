"""The run's end, settled the same way for both engines, and the :class:`ChatLog` built.

An engine's event loop records what happened to the human conversations
(:class:`Recorded`); what follows from the run's end alone is settled here:
the bot conversations (answered at once, no agent), the holding spells still
open, the buyers whose patience ran out before anyone answered (abandoned, and
withdrawn where their type withdraws abandoned chats) and the waits in a queue
still open.  Both engines call :func:`chat_log`, so their logs can differ only
by what their event loops recorded.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN, ChatLog

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
B = npt.NDArray[np.bool_]


@dataclass
class Recorded:
    """What an event loop recorded (times in seconds from the scenario start).

    Attributes
    ----------
    end_s
        When the last event that did something happened.
    msg_time, reply_time, reply_agent, reply_compose
        Per buyer message (a reply a parallel agent was still writing holds its start
        in ``reply_compose``).
    agent, holder, assign_time, close_time, hold_start, abandon_time
        Per conversation: the agent that took it last, the one holding it at the end
        (-1 if none), first assignment, closure, start of the holding spell open at
        the end, when the buyer left.
    abandoned, idle_closed, withdrawn
        Per conversation flags.
    hold_conv, hold_agent, hold_start_s, hold_end_s
        Closed holding spells in the order they closed: conversation, agent, start,
        end.
    spell_agent, spell_start, spell_end, spell_sched
        Online spells in the order they ended (``spell_sched``: the end of the last
        segment the spell was scheduled for).
    requeues_closed
        Waits in a queue after the first, finished, in the order they finished:
        (conversation, start, end).
    requeues_open
        Those still open at the end, in the order they began: (conversation, start).
    handed_back
        Per conversation: times handed back.
    aborted
        Writing cut short by a hand-back: (agent, start, end) rows.
    """

    end_s: float
    msg_time: F64
    reply_time: F64
    reply_agent: I32
    reply_compose: F64
    agent: I32
    holder: I32
    assign_time: F64
    close_time: F64
    hold_start: F64
    abandon_time: F64
    abandoned: B
    idle_closed: B
    withdrawn: B
    hold_conv: npt.NDArray[np.int64] | npt.NDArray[np.int32]
    hold_agent: npt.NDArray[np.int32]
    hold_start_s: F64
    hold_end_s: F64
    spell_agent: I32
    spell_start: F64
    spell_end: F64
    spell_sched: F64
    requeues_closed: list[tuple[int, float, float]]
    requeues_open: list[tuple[int, float]]
    handed_back: I32
    aborted: F64


def chat_log(
    rec: Recorded,
    config: EngineConfig,
    w: Workload,
    *,
    start: dt.datetime,
    horizon_s: float,
    subaccount_cost: float = 0.0,
    conversion_base: tuple[float, ...] | None = None,
    conversion_half_life_s: tuple[float, ...] | None = None,
) -> ChatLog:
    """Settle the run's end and build the log (see the module docstring).

    ``rec``'s arrays are taken over (modified in place), not copied.
    """
    n_types = len(w.type_names)
    first = w.msg_offset[:-1]
    msg_time, reply_time = rec.msg_time, rec.reply_time
    reply_compose = rec.reply_compose
    reply_kind = np.where(rec.reply_agent >= 0, REPLY_HUMAN, 0).astype(np.int8)
    # A reply a parallel agent was still writing holds its start time: not a compose time.
    reply_compose[np.isnan(reply_time)] = np.nan
    close_time = rec.close_time
    abandoned, abandon_time, withdrawn = rec.abandoned, rec.abandon_time, rec.withdrawn
    agent, holder = rec.agent, rec.holder

    # Bot conversations: every message answered by the bot at once, no agent.
    bots = np.flatnonzero(w.bot)
    if bots.size:
        j0 = w.msg_offset[bots]
        count = w.msg_offset[bots + 1] - j0
        t = w.arrival_s[bots].astype(np.float64)
        for k in range(int(count.max(initial=0))):
            sel = np.flatnonzero(count > k)
            j = j0[sel] + k
            t[sel] = t[sel] + w.think_s[j]
            msg_time[j] = t[sel]
            reply_time[j] = t[sel]
            reply_kind[j] = REPLY_BOT
        close_time[bots] = t

    # Spells still open at the end, after the closed ones, in conversation order.
    still = np.flatnonzero(holder >= 0)
    hold_conversation = np.concatenate((rec.hold_conv, still)).astype(np.int64, copy=False)
    hold_agent = np.concatenate((rec.hold_agent, holder[still])).astype(np.int32, copy=False)
    hold_start_s = np.concatenate((rec.hold_start_s, rec.hold_start[still]))
    hold_end_s = np.concatenate((rec.hold_end_s, np.full(still.size, math.nan)))

    # Buyers still unanswered (or, with patience until assignment, never taken)
    # whose patience ran out by the end.
    expire = w.arrival_s + w.patience_s
    waited = np.isnan(reply_time[first])
    at_assign_types = config.patience_at_assignment or (False,) * n_types
    if any(at_assign_types):
        at_assign = np.asarray(at_assign_types, dtype=np.bool_)[w.type_idx]
        # (bot conversations are never taken: they waited for nobody)
        waited = np.where(at_assign, np.isnan(rec.assign_time) & ~w.bot, waited)
    gone = waited & ~abandoned & (expire <= rec.end_s)
    abandoned |= gone
    abandon_time[gone] = expire[gone]
    withdraw_type = np.asarray(config.withdraw_on_abandon, dtype=np.bool_)[w.type_idx]
    out = gone & withdraw_type & (agent < 0)
    withdrawn |= out
    close_time[out] = expire[out]

    requeues = [*rec.requeues_closed, *((i, t0, math.nan) for i, t0 in rec.requeues_open)]
    requeues.sort()
    rq = np.asarray(requeues, dtype=np.float64).reshape(-1, 3)
    aborted = rec.aborted.reshape(-1, 3)
    return ChatLog(
        workload=w,
        start=start,
        horizon_s=horizon_s,
        msg_time_s=msg_time,
        reply_time_s=reply_time,
        reply_kind=reply_kind,
        reply_agent=rec.reply_agent,
        reply_compose_s=reply_compose,
        auto_reply_s=(
            w.arrival_s.copy() if config.auto_greeting else np.full(w.n_conversations, np.nan)
        ),
        agent=agent,
        assign_s=rec.assign_time,
        close_s=close_time,
        abandoned=abandoned,
        abandon_s=abandon_time,
        idle_closed=rec.idle_closed,
        withdrawn=withdrawn,
        hold_conversation=hold_conversation,
        hold_agent=hold_agent,
        hold_start_s=hold_start_s,
        hold_end_s=hold_end_s,
        agent_pool=config.agent_pool.astype(np.int32),
        online_agent=rec.spell_agent,
        online_start_s=rec.spell_start,
        online_end_s=rec.spell_end,
        pool_names=tuple(p.name for p in config.pools),
        pool_max_concurrency=tuple(p.max_concurrency for p in config.pools),
        paid_hours_by_pool=config.paid_hours_by_pool,
        hourly_cost_by_pool=tuple(p.hourly_cost for p in config.pools),
        subaccounts=config.subaccounts,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base or (0.0,) * n_types,
        conversion_half_life_s=conversion_half_life_s or (math.inf,) * n_types,
        online_scheduled_end_s=rec.spell_sched,
        requeue_conversation=rq[:, 0].astype(np.int64),
        requeue_start_s=np.ascontiguousarray(rq[:, 1]),
        requeue_end_s=np.ascontiguousarray(rq[:, 2]),
        handed_back=rec.handed_back,
        pool_discipline=tuple(p.discipline for p in config.pools),
        handback_writing_agent=aborted[:, 0].astype(np.int32),
        handback_writing_start_s=np.ascontiguousarray(aborted[:, 1]),
        handback_writing_end_s=np.ascontiguousarray(aborted[:, 2]),
    )
