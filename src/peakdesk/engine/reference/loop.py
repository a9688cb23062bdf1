"""The event handlers, and the one settle step after each event.

Every handler is registered through :func:`settled`: after the handler, the
seats of a client shop it freed go to the chats waiting for them
(:func:`peakdesk.engine.reference.routing.wake`), then the parallel agents it
touched are re-rated once, from their final load
(:func:`peakdesk.engine.reference.discipline.ps_flush`).  No handler has to
remember either.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from simpy.events import NORMAL

from peakdesk.engine.reference import conversation, discipline, records, routing, seats, shift_end
from peakdesk.engine.reference.events import at
from peakdesk.engine.reference.state import EVERY, Call, Callbacks, Simulation


def schedule(sim: Simulation) -> None:
    """Register the handlers and schedule the first arrival and the first shift boundary."""
    callbacks(sim)
    human = sim.human
    if human:
        at(sim, sim.arrival[human[0]], sim.env.now, 0, sim.cb_arrival)
    if sim.bounds:
        at(sim, sim.bounds[0][0], sim.env.now, 0, sim.cb_bound)


def settled(sim: Simulation, handler: Callable[[Simulation, Call], None]) -> Callbacks:
    """The callbacks list of a handler, followed by the settle step."""

    def callback(ev: Call) -> None:
        handler(sim, ev)
        if sim.seats_freed:
            routing.wake(sim, sim.env.now)
        if sim.ps_dirty:
            discipline.ps_flush(sim, sim.env.now)

    return [callback]


def callbacks(sim: Simulation) -> None:
    """Each event kind's (shared) callbacks list: its handler, then the settle step."""
    sim.cb_arrival = settled(sim, on_arrival)
    sim.cb_reply = settled(sim, on_reply)
    sim.cb_ps_reply = settled(sim, on_ps_reply)
    sim.cb_buyer_message = settled(sim, on_buyer_message)
    sim.cb_reopen = settled(sim, on_reopen)
    sim.cb_close = settled(sim, on_close)
    sim.cb_patience = settled(sim, on_patience)
    sim.cb_bound = settled(sim, shift_end.on_bound)
    sim.cb_cut = settled(sim, shift_end.on_cut)


def on_arrival(sim: Simulation, ev: Call) -> None:
    """The ``k``-th conversation needing an agent arrives."""
    k: int = ev._value
    human = sim.human
    if k & (EVERY - 1) == 0:
        if sim.progress is not None:
            sim.progress(k / len(human))
        if len(sim.holds) >= EVERY:
            records.flush_holds(sim)
    now = sim.env.now
    sim.t_act = now
    arrival = sim.arrival
    if k + 1 < len(human):
        # The arrival chain reuses its event: one in flight at a time.
        ev.callbacks = sim.cb_arrival
        ev._value = k + 1
        d = arrival[human[k + 1]] - now
        sim.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
    i = human[k]
    sim.msg_time[sim.offset[i]] = arrival[i]
    typ = sim.ctype[i]
    a = routing.pick_agent(sim, typ)
    if a < 0:
        sim.queues[typ].append(i)
    else:
        routing.assign(sim, i, a, now)
        routing.refresh(sim, a)


def on_patience(sim: Simulation, ev: Call) -> None:
    """The patience of a buyer whose first reply waits behind others runs out."""
    sim.free.append(ev)
    i: int = ev._value
    if sim.withdrawn[i]:
        return
    j = sim.offset[i]
    a = sim.holder[i]
    if sim.reply_time[j] == sim.reply_time[j] or j in sim.work_left:
        return  # answered, or its reply was begun before a hand-back
    if a >= 0 and (sim.composing[a] == j or sim.par[a]):
        return  # the agent started the reply in time (a parallel agent at once)
    now = sim.env.now
    sim.t_act = now
    routing.withdraw(sim, i, now)
    if a < 0:
        return  # handed back and queued: the queue skips it
    conversation.close(sim, i, a, now)
    if sim.composing[a] < 0 and not sim.want_online[a] and sim.load[a] == 0:
        seats.go_offline(sim, a)


def on_reply(sim: Simulation, ev: Call) -> None:
    """A sequential agent finished writing a reply (unless it was handed back)."""
    a: int = ev._value
    if sim.track:
        if ev is not sim.reply_ev[a]:
            sim.free.append(ev)  # a reply the agent handed back unfinished
            return
        sim.reply_ev[a] = None
    now = sim.env.now
    sim.t_act = now
    composing = sim.composing
    j = composing[a]
    composing[a] = -1
    conversation.replied(sim, a, j, now, ev)
    if composing[a] < 0:
        if sim.inbox[a]:
            discipline.compose_next(sim, a)
        if composing[a] < 0 and not sim.want_online[a] and sim.load[a] == 0:
            seats.go_offline(sim, a)


def on_buyer_message(sim: Simulation, ev: Call) -> None:
    """The buyer of a held chat writes message ``j``."""
    sim.free.append(ev)
    j: int = ev._value
    now = sim.env.now
    sim.t_act = now
    i = sim.msg_conv[j]
    a = sim.holder[i]
    if a < 0:
        # Released at its agent's shift end while the buyer was thinking.
        conversation.reopen(sim, j, now)
        return
    sim.msg_time[j] = now
    if sim.par[a]:
        discipline.ps_add(sim, a, j, i, now)
        return
    inbox = sim.inbox[a]
    if sim.composing[a] < 0 and not inbox:
        discipline.start(sim, a, j, i)
    else:
        heapq.heappush(inbox, (now, j))
        if sim.composing[a] < 0:
            discipline.compose_next(sim, a)


def on_reopen(sim: Simulation, ev: Call) -> None:
    """The buyer of a chat closed after its silence writes again."""
    sim.free.append(ev)
    sim.t_act = sim.env.now
    conversation.reopen(sim, ev._value, sim.t_act)


def on_close(sim: Simulation, ev: Call) -> None:
    """A wrap-up or an idle auto-close of a conversation is over."""
    sim.free.append(ev)
    i: int = ev._value
    a = sim.holder[i]
    if a < 0:
        return  # released at a hand-back before its wrap-up or idle close was due
    now = sim.env.now
    sim.t_act = now
    conversation.close(sim, i, a, now)
    if sim.composing[a] < 0 and not sim.want_online[a] and sim.load[a] == 0:
        seats.go_offline(sim, a)


def on_ps_reply(sim: Simulation, ev: Call) -> None:
    """A parallel agent's reply due first is done (unless superseded)."""
    a: int = ev._value
    if ev is not sim.ps_ev[a]:
        sim.free.append(ev)  # superseded: the agent was re-rated or handed back
        return
    sim.ps_ev[a] = None
    now = sim.env.now
    sim.t_act = now
    due, j, _ = heapq.heappop(sim.ps_heap[a])
    # The work clock reached the reply's due value now (snapped: no drift).
    sim.ps_v0[a] = due
    sim.ps_t0[a] = now
    sim.reply_compose[j] = now - sim.reply_compose[j]
    discipline.ps_touch(sim, a)
    conversation.replied(sim, a, j, now, ev)
    if not sim.want_online[a] and sim.load[a] == 0:
        seats.go_offline(sim, a)
