"""A conversation's life after it is taken: replies, the buyer's next message, closing.

After a reply the buyer thinks and writes again (or the chat auto-closes after
``idle_close`` of silence and the next message reopens it into the queue), or,
after the last reply, the chat closes once the type's wrap-up is over; a buyer
who left before the first reply sends nothing more.
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.compiled import discipline, events, records, routing
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    EV_BUYER,
    EV_CLOSE,
    EV_REOPEN,
    N_OPEN_RQ,
    RQ_SEQ,
    Int,
    Sim,
)


@kernel
def close(sim: Sim, i: Int, a: Int, now: float) -> None:
    """Close conversation ``i`` held by agent ``a``: free the slot and refill it."""
    sim.close_time[i] = now
    records.hold(sim, i, a, sim.hold_start[i], now)
    sim.holder[i] = -1
    if sim.agent_end[a] != 0:
        n = sim.held_n[a]
        for k in range(n):
            if sim.held[a, k] == i:
                sim.held[a, k] = sim.held[a, n - 1]
                sim.held_n[a] = n - 1
                break
    sim.load[a] -= 1
    if sim.has_hold:
        routing.release_seat(sim, i, a)
    if sim.agent_par[a] != 0:
        discipline.ps_touch(sim, a)
    if sim.accepting[a] != 0 and routing.any_waiting(sim, sim.agent_pool[a]):
        routing.pull(sim, a, now)
    routing.refresh(sim, a)


@kernel
def replied(sim: Sim, a: Int, j: Int, now: float) -> None:
    """Agent ``a`` sent the reply to message ``j``: what the buyer does next."""
    i = np.int64(sim.msg_conv[j])
    sim.reply_time[j] = now
    sim.reply_agent[j] = a
    sim.work_left[j] = float("nan")
    t = np.int64(sim.ctype[i])
    if sim.at_risk and j == sim.offset[i]:
        # The running score of the type's risk group: a first reply, in time or not.
        r = sim.risk_of[t]
        if r >= 0:
            routing.risk_count(sim, r, now, now, now - sim.arrival[i] <= sim.risk_deadline[r])
    if sim.type_at_assign[t] != 0:
        left = sim.abandoned[i] != 0
    else:
        left = now - sim.arrival[i] > sim.patience[i]
    if j == sim.offset[i] and left and sim.type_withdraw[t] == 0:
        # The buyer left before this reply: nothing more will come.
        sim.abandoned[i] = 1
        sim.abandon_time[i] = sim.arrival[i] + sim.patience[i]
        close(sim, i, a, now)
    elif j + 1 == sim.offset[i + 1]:
        wrap = sim.wrap_up[t]
        if wrap > 0.0:
            idle = sim.idle_close
            events.at(sim, now + (wrap if wrap < idle else idle), now, EV_CLOSE, i)
        else:
            close(sim, i, a, now)
    else:
        think = sim.think[j + 1]
        idle = sim.idle_close
        if think > idle:
            # The chat is auto-closed after idle_close of silence; when the buyer
            # writes again it reopens and queues for an agent like a new chat.
            sim.idle_closed[i] = 1
            events.at(sim, now + idle, now, EV_CLOSE, i)
            events.at(sim, now + think, now, EV_REOPEN, j + 1)
        else:
            events.at(sim, now + think, now, EV_BUYER, j + 1)


@inline_kernel
def requeued(sim: Sim, i: Int, now: float) -> None:
    """Conversation ``i`` waits in a queue again (a dict insertion in the reference)."""
    if sim.requeued_at[i] != sim.requeued_at[i]:
        seq = sim.ctr[RQ_SEQ]
        sim.ctr[RQ_SEQ] = seq + 1
        sim.requeued_seq[i] = seq
        sim.ctr[N_OPEN_RQ] += 1
    sim.requeued_at[i] = now


@kernel
def reopen(sim: Sim, j: Int, now: float) -> None:
    """The buyer of a closed chat writes message ``j``: it queues for an agent."""
    sim.msg_time[j] = now
    i = np.int64(sim.msg_conv[j])
    sim.queued_msg[i] = j
    sim.queued_since[i] = now
    requeued(sim, i, now)
    typ = np.int64(sim.ctype[i])
    a = routing.pick_agent(sim, typ)
    if a < 0:
        routing.q_append(sim, typ, i)
    else:
        routing.assign(sim, i, a, now)
        routing.refresh(sim, a)
