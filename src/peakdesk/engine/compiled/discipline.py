"""How an agent works its chats: one reply at a time, or all at once.

``sequential``: the agent writes the oldest waiting message's reply, its
compose time fixed when it starts (base x the pool's factor for the type x the
concurrency multiplier for the chats held then x what a hand-back left of it).
``parallel``: every waiting reply progresses at rate ``1 / multiplier[k - 1]``
while the agent holds ``k`` chats; the agent's work clock
``V(t) = v0 + (t - t0) * rate`` advances, and a reply of work ``w`` added at
``V`` is due when the clock reaches ``V + w``.  Re-rating happens once per
event, in :func:`ps_flush` (the settle step), from the agent's final load.
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.compiled import events, heaps
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    EV_PS_REPLY,
    EV_REPLY,
    N_DIRTY,
    Int,
    Sim,
)


@kernel
def start(sim: Sim, a: Int, j: Int, i: Int, now: float) -> None:
    """Agent ``a`` starts the reply to message ``j`` of conversation ``i``."""
    sim.composing[a] = j
    p = sim.agent_pool[a]
    dur = sim.compose_base[j] * sim.pool_factor[p, sim.ctype[i]]
    dur *= sim.pool_conc[p, sim.load[a] - 1]
    left = sim.work_left[j]
    if left == left:
        dur *= left
    sim.reply_compose[j] = dur
    sim.reply_ev[a] = events.push(sim, now + dur, EV_REPLY, a)
    sim.compose_start[a] = now


@kernel
def inbox_push(sim: Sim, a: Int, t: float, j: Int) -> None:
    """Queue message ``j`` (sent at ``t``) in agent ``a``'s inbox."""
    n = sim.inbox_n[a]
    keys = sim.inbox_key[a]
    if n == keys.shape[0]:
        # Full: drop withdrawn chats (skipped when popped anyway).  The live ones
        # (one per chat held) fit; their pop order is their (time, message) order.
        ids = sim.inbox_msg[a]
        pay = sim.inbox_pay[a]
        k = 0
        for r in range(n):
            if sim.withdrawn[sim.msg_conv[ids[r]]] == 0:
                keys[k] = keys[r]
                ids[k] = ids[r]
                k += 1
        n = k
        heaps.heapify(keys, ids, pay, np.int64(n))
    heaps.push(keys, sim.inbox_msg[a], sim.inbox_pay[a], n, t, j, 0.0)
    sim.inbox_n[a] = n + 1


@kernel
def compose_next(sim: Sim, a: Int, now: float) -> None:
    """Start on the oldest message in the inbox, skipping withdrawn chats."""
    keys = sim.inbox_key[a]
    ids = sim.inbox_msg[a]
    pay = sim.inbox_pay[a]
    while True:
        n = sim.inbox_n[a]
        _, j, _ = heaps.pop(keys, ids, pay, n)
        sim.inbox_n[a] = n - 1
        i = np.int64(sim.msg_conv[j])
        if sim.withdrawn[i] == 0:
            break
        if n - 1 == 0:
            return
    start(sim, a, j, i, now)


@inline_kernel
def ps_touch(sim: Sim, a: Int) -> None:
    """Note that a parallel agent's load or replies changed (settled by :func:`ps_flush`)."""
    if sim.ps_is_dirty[a] == 0:
        sim.ps_is_dirty[a] = 1
        k = sim.ctr[N_DIRTY]
        sim.ps_dirty[k] = a
        sim.ctr[N_DIRTY] = k + 1


@kernel
def ps_add(sim: Sim, a: Int, j: Int, i: Int, now: float) -> None:
    """A parallel agent starts on the reply to message ``j`` (conversation ``i``)."""
    p = sim.agent_pool[a]
    work = sim.compose_base[j] * sim.pool_factor[p, sim.ctype[i]]
    left = sim.work_left[j]
    if left == left:
        work *= left
    v_now = sim.ps_v0[a] + (now - sim.ps_t0[a]) * sim.ps_rate[a]
    n = sim.ps_n[a]
    heaps.push(sim.ps_key[a], sim.ps_msg[a], sim.ps_work[a], n, v_now + work, j, work)
    sim.ps_n[a] = n + 1
    sim.reply_compose[j] = now  # the start, until the reply is sent
    ps_touch(sim, a)


@kernel
def ps_flush(sim: Sim, now: float) -> None:
    """Re-rate the parallel agents touched at this instant and schedule their next reply."""
    for k in range(sim.ctr[N_DIRTY]):
        a = sim.ps_dirty[k]
        sim.ps_is_dirty[a] = 0
        load = sim.load[a]
        rate = 1.0 / sim.pool_conc[sim.agent_pool[a], load - 1] if load > 0 else 0.0
        old = sim.ps_rate[a]
        changed = rate != old
        if changed:
            sim.ps_v0[a] += (now - sim.ps_t0[a]) * old
            sim.ps_t0[a] = now
            sim.ps_rate[a] = rate
        if sim.ps_n[a] == 0:
            sim.ps_ev[a] = -1
            continue
        due = sim.ps_key[a, 0]
        if not changed and sim.ps_ev[a] >= 0 and due == sim.ps_due[a]:
            continue  # the event in flight is still right
        d = (due - sim.ps_v0[a]) / rate - (now - sim.ps_t0[a])
        if d < 0.0:
            d = 0.0
        sim.ps_ev[a] = events.push(sim, now + d, EV_PS_REPLY, a)
        sim.ps_due[a] = due
    sim.ctr[N_DIRTY] = 0
