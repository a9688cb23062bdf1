"""The event loop: one handler per event kind, and one settle step after each event.

The settle step gives the client-shop seats the event freed to the chats
waiting for them (:func:`~peakdesk.engine.compiled.routing.wake`), then re-rates
the parallel agents the event touched
(:func:`~peakdesk.engine.compiled.discipline.ps_flush`), once, from their final
load; it is the last thing each event does in the reference engine too, so the
events it schedules take the same ids.
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.compiled import (
    conversation,
    discipline,
    events,
    heaps,
    routing,
    seats,
    shift_end,
)
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    DONE,
    EV_ARRIVAL,
    EV_BOUND,
    EV_BUYER,
    EV_CLOSE,
    EV_PATIENCE,
    EV_PS_REPLY,
    EV_REOPEN,
    EV_REPLY,
    N_DIRTY,
    N_EV,
    N_FREED,
    PAUSE,
    T_ACT,
    Int,
    Sim,
)


@inline_kernel
def _maybe_offline(sim: Sim, a: Int, now: float) -> None:
    """An agent past its segment end with nothing left logs off."""
    if sim.composing[a] < 0 and sim.want_online[a] == 0 and sim.load[a] == 0:
        seats.go_offline(sim, a, now)


@inline_kernel
def on_arrival(sim: Sim, k: Int, now: float) -> None:
    """The ``k``-th conversation needing an agent arrives."""
    human = sim.human
    arrival = sim.arrival
    if k + 1 < human.size:
        # The arrival chain: one event in flight at a time.
        events.at(sim, arrival[human[k + 1]], now, EV_ARRIVAL, k + 1)
    i = np.int64(human[k])
    sim.msg_time[sim.offset[i]] = arrival[i]
    typ = np.int64(sim.ctype[i])
    a = routing.pick_agent(sim, typ)
    if a < 0:
        routing.q_append(sim, typ, i)
    else:
        routing.assign(sim, i, a, now)
        routing.refresh(sim, a)


@inline_kernel
def on_reply(sim: Sim, a: Int, eid: Int, now: float) -> None:
    """A sequential agent finished writing a reply (unless it was handed back)."""
    if eid != sim.reply_ev[a]:
        return  # a reply the agent handed back unfinished
    sim.reply_ev[a] = -1
    sim.fctr[T_ACT] = now
    j = sim.composing[a]
    sim.composing[a] = -1
    conversation.replied(sim, a, j, now)
    if sim.composing[a] < 0:
        if sim.inbox_n[a] > 0:
            discipline.compose_next(sim, a, now)
        _maybe_offline(sim, a, now)


@inline_kernel
def on_ps_reply(sim: Sim, a: Int, eid: Int, now: float) -> None:
    """A parallel agent's reply due first is done (unless superseded)."""
    if eid != sim.ps_ev[a]:
        return  # superseded: the agent was re-rated or handed back
    sim.ps_ev[a] = -1
    sim.fctr[T_ACT] = now
    n = sim.ps_n[a]
    due, j, _ = heaps.pop(sim.ps_key[a], sim.ps_msg[a], sim.ps_work[a], n)
    sim.ps_n[a] = n - 1
    # The work clock reached the reply's due value now (snapped: no drift).
    sim.ps_v0[a] = due
    sim.ps_t0[a] = now
    sim.reply_compose[j] = now - sim.reply_compose[j]
    discipline.ps_touch(sim, a)
    conversation.replied(sim, a, j, now)
    if sim.want_online[a] == 0 and sim.load[a] == 0:
        seats.go_offline(sim, a, now)


@inline_kernel
def on_buyer(sim: Sim, j: Int, now: float) -> None:
    """The buyer of a held chat writes message ``j``."""
    i = np.int64(sim.msg_conv[j])
    a = np.int64(sim.holder[i])
    if a < 0:
        # Released at its agent's shift end while the buyer was thinking.
        conversation.reopen(sim, j, now)
        return
    sim.msg_time[j] = now
    if sim.agent_par[a] != 0:
        discipline.ps_add(sim, a, j, i, now)
        return
    if sim.composing[a] < 0 and sim.inbox_n[a] == 0:
        discipline.start(sim, a, j, i, now)
    else:
        discipline.inbox_push(sim, a, now, j)
        if sim.composing[a] < 0:
            discipline.compose_next(sim, a, now)


@inline_kernel
def on_close(sim: Sim, i: Int, now: float) -> None:
    """A wrap-up or an idle auto-close of conversation ``i`` is over."""
    a = np.int64(sim.holder[i])
    if a < 0:
        return  # released at a hand-back before its wrap-up or idle close was due
    sim.fctr[T_ACT] = now
    conversation.close(sim, i, a, now)
    _maybe_offline(sim, a, now)


@inline_kernel
def on_patience(sim: Sim, i: Int, now: float) -> None:
    """The patience of a buyer whose first reply waits behind others runs out."""
    if sim.withdrawn[i] != 0:
        return
    j = sim.offset[i]
    a = np.int64(sim.holder[i])
    if sim.reply_time[j] == sim.reply_time[j] or sim.work_left[j] == sim.work_left[j]:
        return  # answered, or its reply was begun before a hand-back
    if a >= 0 and (sim.composing[a] == j or sim.agent_par[a] != 0):
        return  # the agent started the reply in time (a parallel agent at once)
    sim.fctr[T_ACT] = now
    routing.withdraw(sim, i, now)
    if a < 0:
        return  # handed back and queued: the queue skips it
    conversation.close(sim, i, a, now)
    _maybe_offline(sim, a, now)


@kernel
def run_loop(sim: Sim, stop_arrival: Int) -> int:
    """Process events until none is left (``DONE``) or the next event is arrival
    number ``stop_arrival`` (``PAUSE``)."""
    while sim.ctr[N_EV] > 0:
        if events.next_is_arrival_from(sim, stop_arrival):
            return PAUSE
        now, eid, kind, val = events.pop(sim)
        if kind == EV_ARRIVAL:
            sim.fctr[T_ACT] = now
            on_arrival(sim, val, now)
        elif kind == EV_REPLY:
            on_reply(sim, val, eid, now)
        elif kind == EV_PS_REPLY:
            on_ps_reply(sim, val, eid, now)
        elif kind == EV_BUYER:
            sim.fctr[T_ACT] = now
            on_buyer(sim, val, now)
        elif kind == EV_REOPEN:
            sim.fctr[T_ACT] = now
            conversation.reopen(sim, val, now)
        elif kind == EV_CLOSE:
            on_close(sim, val, now)
        elif kind == EV_PATIENCE:
            on_patience(sim, val, now)
        elif kind == EV_BOUND:
            sim.fctr[T_ACT] = now
            shift_end.on_bound(sim, val, now)
        else:  # EV_CUT
            shift_end.on_cut(sim, val, eid, now)
        # The settle step: freed shop seats to the chats waiting, then re-rating.
        if sim.ctr[N_FREED] > 0:
            routing.wake(sim, now)
        if sim.ctr[N_DIRTY] > 0:
            discipline.ps_flush(sim, now)
    return DONE
