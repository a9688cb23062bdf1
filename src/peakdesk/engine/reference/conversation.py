"""A conversation's life after it is taken: replies, the buyer's next message, closing."""

from __future__ import annotations

from simpy.events import NORMAL

from peakdesk.engine.reference import discipline, events, routing
from peakdesk.engine.reference.state import Call, Simulation


def replied(sim: Simulation, a: int, j: int, now: float, ev: Call) -> None:
    """Agent ``a`` sent the reply to message ``j``: what the buyer does next.

    ``ev`` is the event being processed: reused for the buyer's next message,
    else returned to the free list.
    """
    i = sim.msg_conv[j]
    sim.reply_time[j] = now
    sim.reply_agent[j] = a
    if sim.work_left:
        sim.work_left.pop(j, None)
    offset = sim.offset
    t = sim.ctype[i]
    if sim.at_risk and j == offset[i]:
        # The running score of the type's risk group: a first reply, in time or not.
        r = sim.risk_of[t]
        if r >= 0:
            routing.risk_count(sim, r, now, now, now - sim.arrival[i] <= sim.risk_deadline[r])
    if (
        j == offset[i]
        and (sim.abandoned[i] if sim.at_assign[t] else now - sim.arrival[i] > sim.patience[i])
        and not sim.withdraw[t]
    ):
        # The buyer left before this reply: nothing more will come.
        sim.free.append(ev)
        sim.abandoned[i] = 1
        sim.abandon_time[i] = sim.arrival[i] + sim.patience[i]
        close(sim, i, a, now)
    elif j + 1 == offset[i + 1]:
        sim.free.append(ev)
        wrap = sim.wrap_up[t]
        if wrap > 0.0:
            idle = sim.idle_close
            events.at(sim, now + (wrap if wrap < idle else idle), now, i, sim.cb_close)
        else:
            close(sim, i, a, now)
    else:
        think = sim.think[j + 1]
        idle = sim.idle_close
        if think > idle:
            # The chat is auto-closed after idle_close of silence; when the buyer
            # writes again it reopens and queues for an agent like a new chat.
            sim.free.append(ev)
            sim.idle_closed[i] = 1
            events.at(sim, now + idle, now, i, sim.cb_close)
            events.at(sim, now + think, now, j + 1, sim.cb_reopen)
        else:
            # The buyer's next message reuses this event.
            ev.callbacks = sim.cb_buyer_message
            ev._value = j + 1
            d = (now + think) - now
            sim.sched(ev, NORMAL, 0.0 if d < 0.0 else d)


def reopen(sim: Simulation, j: int, now: float) -> None:
    """The buyer of a closed chat writes message ``j``: it queues for an agent."""
    sim.msg_time[j] = now
    i = sim.msg_conv[j]
    sim.queued_msg[i] = j
    sim.queued_since[i] = now
    sim.requeued_at[i] = now
    typ = sim.ctype[i]
    a = routing.pick_agent(sim, typ)
    if a < 0:
        sim.queues[typ].append(i)
    else:
        routing.assign(sim, i, a, now)
        routing.refresh(sim, a)


def close(sim: Simulation, i: int, a: int, now: float) -> None:
    """Close conversation ``i`` held by agent ``a``: free the slot and refill it."""
    sim.close_time[i] = now
    sim.holds.append((i, a, sim.hold_start[i], now))
    sim.holder[i] = -1
    held = sim.held[a]
    if held is not None:
        held.discard(i)
    sim.load[a] -= 1
    if sim.has_hold:
        routing.release_seat(sim, i, a)
    if sim.par[a]:
        discipline.ps_touch(sim, a)
    if sim.accepting[a] and any(sim.pool_deques[sim.apool[a]]):
        routing.pull(sim, a, now)
    routing.refresh(sim, a)
