"""How an agent works its chats: one reply at a time, or all at once.

``sequential``: an agent writes the oldest waiting message's reply, its compose
time fixed when it starts.  ``parallel``: every waiting reply progresses at
rate ``1 / multiplier[k - 1]`` while the agent holds ``k`` chats, on the
agent's work clock ``V(t) = v0 + (t - t0) * rate``; the agents whose load or
replies changed are re-rated once, from their final load, by the settle step
after each event (:func:`ps_flush`).
"""

from __future__ import annotations

import heapq

from simpy.events import NORMAL

from peakdesk.engine.reference.events import new_event
from peakdesk.engine.reference.state import Simulation


def start(sim: Simulation, a: int, j: int, i: int) -> None:
    """Agent ``a`` starts the reply to message ``j`` of conversation ``i``."""
    sim.composing[a] = j
    dur = sim.compose_base[j] * sim.agent_factor[a][sim.ctype[i]]
    dur *= sim.agent_conc[a][sim.load[a] - 1]
    if sim.work_left:
        dur *= sim.work_left.get(j, 1.0)
    sim.reply_compose[j] = dur
    ev = new_event(sim)
    ev.callbacks = sim.cb_reply
    ev._value = a
    sim.sched(ev, NORMAL, dur)
    if sim.track:
        sim.reply_ev[a] = ev
        sim.compose_start[a] = sim.env.now


def compose_next(sim: Simulation, a: int) -> None:
    """Start on the oldest message in the inbox, skipping withdrawn chats."""
    inbox = sim.inbox[a]
    msg_conv = sim.msg_conv
    withdrawn = sim.withdrawn
    while True:
        j = heapq.heappop(inbox)[1]
        i = msg_conv[j]
        if not withdrawn[i]:
            break
        if not inbox:
            return
    start(sim, a, j, i)


def ps_add(sim: Simulation, a: int, j: int, i: int, now: float) -> None:
    """A parallel agent starts on the reply to message ``j`` (conversation ``i``)."""
    work = sim.compose_base[j] * sim.agent_factor[a][sim.ctype[i]]
    if sim.work_left:
        work *= sim.work_left.get(j, 1.0)
    v_now = sim.ps_v0[a] + (now - sim.ps_t0[a]) * sim.ps_rate[a]
    heapq.heappush(sim.ps_heap[a], (v_now + work, j, work))
    sim.reply_compose[j] = now  # the start, until the reply is sent
    ps_touch(sim, a)


def ps_touch(sim: Simulation, a: int) -> None:
    """Note that a parallel agent's load or replies changed (settled by :func:`ps_flush`)."""
    if not sim.ps_is_dirty[a]:
        sim.ps_is_dirty[a] = True
        sim.ps_dirty.append(a)


def ps_flush(sim: Simulation, now: float) -> None:
    """Re-rate the parallel agents touched at this instant and schedule their next reply.

    Called once the handler's changes are done, so an agent whose load moves
    several times at one instant is re-rated once, from its final load.
    """
    for a in sim.ps_dirty:
        sim.ps_is_dirty[a] = False
        load = sim.load[a]
        rate = 1.0 / sim.agent_conc[a][load - 1] if load > 0 else 0.0
        old = sim.ps_rate[a]
        changed = rate != old
        if changed:
            sim.ps_v0[a] += (now - sim.ps_t0[a]) * old
            sim.ps_t0[a] = now
            sim.ps_rate[a] = rate
        heap = sim.ps_heap[a]
        if not heap:
            sim.ps_ev[a] = None
            continue
        due = heap[0][0]
        if not changed and sim.ps_ev[a] is not None and due == sim.ps_due[a]:
            continue  # the event in flight is still right
        d = (due - sim.ps_v0[a]) / rate - (now - sim.ps_t0[a])
        ev = new_event(sim)
        ev.callbacks = sim.cb_ps_reply
        ev._value = a
        sim.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
        sim.ps_ev[a] = ev
        sim.ps_due[a] = due
    sim.ps_dirty.clear()
