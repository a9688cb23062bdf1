"""Routing: which agent takes a new chat, and which waiting chat a free slot takes.

Agents free to take a chat are kept per pool in a heap of (key, entry number,
agent), the key being the chats held (``least_loaded``) or the time of the
last assignment (``longest_idle``); an entry is valid while it is the agent's
latest (``entry_seq``), older ones are dropped when they reach the top, and a
full heap is compacted to its valid entries (the order of valid entries does
not depend on where they sit).  Waiting chats are kept per inquiry type in a
ring buffer (first in, first out; a hand-back puts chats back at the head).
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.compiled import discipline, events, heaps, records
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    EV_PATIENCE,
    N_FREED,
    N_OPEN_RQ,
    SEQ,
    Int,
    Sim,
)

# -- queues ------------------------------------------------------------------------


@inline_kernel
def q_append(sim: Sim, typ: Int, i: Int) -> None:
    """Put conversation ``i`` at the tail of its type's queue."""
    cap = sim.q_cap[typ]
    sim.q_buf[sim.q_off[typ] + (sim.q_head[typ] + sim.q_len[typ]) % cap] = i
    sim.q_len[typ] += 1


@inline_kernel
def q_appendleft(sim: Sim, typ: Int, i: Int) -> None:
    """Put conversation ``i`` at the head of its type's queue."""
    cap = sim.q_cap[typ]
    h = (sim.q_head[typ] - 1) % cap
    sim.q_head[typ] = h
    sim.q_buf[sim.q_off[typ] + h] = i
    sim.q_len[typ] += 1


@inline_kernel
def q_peek(sim: Sim, typ: Int) -> int:
    """The conversation at the head of a non-empty queue."""
    return int(np.int64(sim.q_buf[sim.q_off[typ] + sim.q_head[typ]]))


@inline_kernel
def q_popleft(sim: Sim, typ: Int) -> int:
    """Take the conversation at the head of a non-empty queue."""
    h = sim.q_head[typ]
    i = np.int64(sim.q_buf[sim.q_off[typ] + h])
    sim.q_head[typ] = (h + 1) % sim.q_cap[typ]
    sim.q_len[typ] -= 1
    return int(i)


# -- agents free to take a chat ------------------------------------------------------


@kernel
def refresh(sim: Sim, a: Int) -> None:
    """Re-index an agent after its load or state changed."""
    p = sim.agent_pool[a]
    load = sim.load[a]
    if sim.accepting[a] != 0 and load < sim.pool_cap[p]:
        seq = sim.ctr[SEQ] + 1
        sim.ctr[SEQ] = seq
        sim.entry_seq[a] = seq
        key = sim.last_assign[a] if sim.longest_idle else float(load)
        off = sim.av_off[p]
        cap = sim.av_cap[p]
        keys = sim.av_key[off : off + cap]
        seqs = sim.av_seq[off : off + cap]
        agents = sim.av_agent[off : off + cap]
        n = sim.av_n[p]
        if n == cap:
            k = 0
            for r in range(n):
                if sim.entry_seq[agents[r]] == seqs[r]:
                    keys[k] = keys[r]
                    seqs[k] = seqs[r]
                    agents[k] = agents[r]
                    k += 1
            n = k
            heaps.heapify(keys, seqs, agents, np.int64(n))
        heaps.push(keys, seqs, agents, n, key, seq, a)
        sim.av_n[p] = n + 1
    else:
        sim.entry_seq[a] = -1


@kernel
def pick_seated(sim: Sim, typ: Int, g: Int) -> int:
    """:func:`pick_agent` when group ``g``'s seats are all taken: only an agent already
    holding one can take the chat; the best of them by the policy's order (every valid
    entry is looked at: the heap's top may be seatless)."""
    best = -1
    best_key = 0.0
    best_seq = 0
    for idx in range(sim.type_pool_ptr[typ], sim.type_pool_ptr[typ + 1]):
        p = sim.type_pools[idx]
        off = sim.av_off[p]
        for r in range(sim.av_n[p]):
            a = sim.av_agent[off + r]
            seq = sim.av_seq[off + r]
            if sim.entry_seq[a] != seq or sim.seat_held[a, g] == 0:
                continue
            key = sim.av_key[off + r]
            if best < 0 or key < best_key or (key == best_key and seq < best_seq):
                best = a
                best_key = key
                best_seq = seq
        if sim.by_priority and best >= 0:
            return int(best)
    return int(best)


@inline_kernel
def take_seat(sim: Sim, i: Int, a: Int) -> None:
    """Agent ``a`` takes conversation ``i``: a seat of its type's group, unless held."""
    g = sim.type_hgroup[sim.ctype[i]]
    if g >= 0:
        if sim.seat_held[a, g] == 0:
            sim.group_free[g] -= 1
        sim.seat_held[a, g] += 1


@inline_kernel
def release_seat(sim: Sim, i: Int, a: Int) -> None:
    """Agent ``a`` lets conversation ``i`` go: the group's seat is freed with its last."""
    g = sim.type_hgroup[sim.ctype[i]]
    if g >= 0:
        sim.seat_held[a, g] -= 1
        if sim.seat_held[a, g] == 0:
            sim.group_free[g] += 1
            if sim.seats_freed[g] == 0:
                sim.seats_freed[g] = 1
                sim.ctr[N_FREED] += 1


@kernel
def pick_agent(sim: Sim, typ: Int) -> int:
    """The agent the policy gives a new conversation of this type, or -1."""
    if sim.has_hold:
        g = sim.type_hgroup[typ]
        if g >= 0 and sim.group_free[g] <= 0:
            return pick_seated(sim, typ, g)
    best = -1
    best_key = 0.0
    best_seq = 0
    for idx in range(sim.type_pool_ptr[typ], sim.type_pool_ptr[typ + 1]):
        p = sim.type_pools[idx]
        off = sim.av_off[p]
        cap = sim.av_cap[p]
        keys = sim.av_key[off : off + cap]
        seqs = sim.av_seq[off : off + cap]
        agents = sim.av_agent[off : off + cap]
        n = sim.av_n[p]
        found = False
        while n > 0:
            if sim.entry_seq[agents[0]] == seqs[0]:
                found = True
                break
            heaps.pop(keys, seqs, agents, n)
            n -= 1
        sim.av_n[p] = n
        if not found:
            continue
        if sim.by_priority:
            return int(agents[0])
        key = keys[0]
        if best < 0 or key < best_key or (key == best_key and seqs[0] < best_seq):
            best = agents[0]
            best_key = key
            best_seq = seqs[0]
    return int(best)


# -- taking a chat ----------------------------------------------------------------------


@inline_kernel
def withdraw(sim: Sim, i: Int, now: float) -> None:
    """The buyer gave up and the conversation is withdrawn unanswered (closed then)."""
    if sim.at_risk:
        r = sim.risk_of[sim.ctype[i]]
        if r >= 0:
            t_left = sim.arrival[i] + sim.patience[i]
            risk_count(sim, r, now, t_left, False)  # unanswered: a miss
    sim.withdrawn[i] = 1
    sim.abandoned[i] = 1
    t = sim.arrival[i] + sim.patience[i]
    sim.abandon_time[i] = t
    sim.close_time[i] = t
    since = sim.requeued_at[i]
    if since == since:
        records.requeue(sim, i, since, t)
        sim.requeued_at[i] = float("nan")
        sim.ctr[N_OPEN_RQ] -= 1


@kernel
def assign(sim: Sim, i: Int, a: Int, now: float) -> None:
    """Give conversation ``i`` to agent ``a`` (the caller re-indexes the agent)."""
    sim.agent[i] = a
    sim.holder[i] = a
    sim.hold_start[i] = now
    typ = np.int64(sim.ctype[i])
    if sim.assign_time[i] != sim.assign_time[i]:  # keep the first assignment
        sim.assign_time[i] = now
        if sim.any_at_assign and sim.type_at_assign[typ] != 0:
            # Patience until assignment: a buyer taken too late has already left.
            t_left = sim.arrival[i] + sim.patience[i]
            if now > t_left:
                sim.abandoned[i] = 1
                sim.abandon_time[i] = t_left
    since = sim.requeued_at[i]
    if since == since:
        records.requeue(sim, i, since, now)
        sim.requeued_at[i] = float("nan")
        sim.ctr[N_OPEN_RQ] -= 1
    sim.load[a] += 1
    sim.last_assign[a] = now
    if sim.has_hold:
        take_seat(sim, i, a)
    if sim.agent_end[a] != 0:
        n = sim.held_n[a]
        sim.held[a, n] = i
        sim.held_n[a] = n + 1
    j = np.int64(sim.queued_msg[i])
    if sim.agent_par[a] != 0:
        discipline.ps_add(sim, a, j, i, now)
        return
    if sim.composing[a] < 0:
        if sim.inbox_n[a] == 0:
            discipline.start(sim, a, j, i, now)
            return
        # Only inside a reply's handler: older messages wait in the inbox.
        discipline.inbox_push(sim, a, sim.msg_time[j], j)
        discipline.compose_next(sim, a, now)
    else:
        discipline.inbox_push(sim, a, sim.msg_time[j], j)
    if (
        j == sim.offset[i]
        and sim.composing[a] != j
        and sim.type_withdraw[typ] != 0
        and sim.type_at_assign[typ] == 0
        and sim.work_left[j] != sim.work_left[j]
    ):
        patience = sim.patience[i]
        if patience < float("inf"):
            # The first reply waits behind others: the buyer may still give up.
            events.at(sim, sim.arrival[i] + patience, now, EV_PATIENCE, i)


@kernel
def drop_expired(sim: Sim, typ: Int, now: float, at_assign: bool) -> None:
    """Withdraw the buyers at the head of a queue whose patience ran out while queued.

    Only a first message, and not a chat taken once (patience until assignment)
    or whose first reply was begun before a hand-back.
    """
    while sim.q_len[typ] > 0:
        i = q_peek(sim, typ)
        if sim.withdrawn[i] != 0:
            q_popleft(sim, typ)  # withdrawn while queued after a hand-back
            continue
        j = sim.offset[i]
        if sim.queued_msg[i] != j or not sim.arrival[i] + sim.patience[i] < now:
            return
        if at_assign:
            if sim.assign_time[i] == sim.assign_time[i]:
                return
        elif sim.work_left[j] == sim.work_left[j]:
            return
        withdraw(sim, q_popleft(sim, typ), now)


@inline_kernel
def any_waiting(sim: Sim, p: Int) -> bool:
    """Whether a queue the pool serves holds anything."""
    for idx in range(sim.pool_type_ptr[p], sim.pool_type_ptr[p + 1]):
        if sim.q_len[sim.pool_types[idx]] > 0:
            return True
    return False


@inline_kernel
def risk_roll(sim: Sim, r: Int, now: float) -> None:
    """Risk group ``r``'s score starts afresh at each of its day starts up to ``now``."""
    k = sim.risk_next[r]
    end = sim.risk_day_ptr[r + 1] - sim.risk_day_ptr[r]
    off = sim.risk_day_ptr[r]
    if k < end and now >= sim.risk_days[off + k]:
        while k < end and now >= sim.risk_days[off + k]:
            k += 1
        sim.risk_next[r] = k
        sim.risk_n[r] = 0
        sim.risk_ok[r] = 0


@inline_kernel
def risk_count(sim: Sim, r: Int, now: float, at: float, in_time: bool) -> None:
    """One first reply (or a buyer withdrawn unanswered: not in time) of group ``r``, its
    outcome known at ``at`` (a buyer who gave up before today: yesterday's, not counted;
    a queue notices a withdrawn buyer only when it is looked at, ``now``)."""
    risk_roll(sim, r, now)
    k = sim.risk_next[r]
    if k > 0 and at < sim.risk_days[sim.risk_day_ptr[r] + k - 1]:
        return
    sim.risk_n[r] += 1
    if in_time:
        sim.risk_ok[r] += 1


@inline_kernel
def margin(sim: Sim, r: Int, now: float) -> float:
    """Risk group ``r``'s share of first replies in time so far today, less its bound (1
    less the bound before any; ``inf`` for a type in no group: served after the rest)."""
    if r < 0:
        return float("inf")
    risk_roll(sim, r, now)
    n = sim.risk_n[r]
    share = sim.risk_ok[r] / n if n != 0 else 1.0
    return float(share - sim.risk_bound[r])


@kernel
def pull(sim: Sim, a: Int, now: float) -> None:
    """Fill an agent's free slots from the queues (best priority, then oldest or due first)."""
    p = sim.agent_pool[a]
    cap = sim.pool_cap[p]
    lo = sim.pool_type_ptr[p]
    hi = sim.pool_type_ptr[p + 1]
    while sim.load[a] < cap:
        best = np.int64(-1)
        best_margin = 0.0
        best_prio = 0
        best_since = 0.0
        for idx in range(lo, hi):
            k = sim.pool_types[idx]
            if sim.q_len[k] == 0:
                continue
            if sim.has_hold:
                g = sim.type_hgroup[k]
                if g >= 0 and sim.group_free[g] <= 0 and sim.seat_held[a, g] == 0:
                    continue  # the chat's shop has no seat free for this agent
            if sim.type_withdraw[k] != 0:
                drop_expired(sim, k, now, sim.type_at_assign[k] != 0)
                if sim.q_len[k] == 0:
                    continue
            # Each queue is in arrival order, so its head is also its soonest due.
            s = sim.queued_since[q_peek(sim, k)] + sim.type_deadline[k]
            prio = sim.type_prio[k]
            if sim.at_risk:
                m = margin(sim, sim.risk_of[k], now)
                if (
                    best < 0
                    or m < best_margin
                    or (
                        m == best_margin
                        and (prio < best_prio or (prio == best_prio and s < best_since))
                    )
                ):
                    best = k
                    best_margin = m
                    best_prio = prio
                    best_since = s
            elif best < 0 or prio < best_prio or (prio == best_prio and s < best_since):
                best = k
                best_prio = prio
                best_since = s
        if best < 0:
            return
        assign(sim, q_popleft(sim, best), a, now)


@kernel
def wake(sim: Sim, now: float) -> None:
    """Seats freed during the event go to the chats waiting for them (the settle step).

    Group by group (lowest first), while a freed group has a free seat: of its
    types with a chat waiting, by margin (the at-risk order), priority, then
    soonest due (head of the queue), then type, the first the policy finds an
    agent for is offered to that agent, which fills its free slots as
    :func:`pull` does.  Each offer takes or drops (patience ran out) at least one
    waiting chat, so this ends.
    """
    ng = sim.seats_freed.size
    while sim.ctr[N_FREED] > 0:
        g = 0
        while g < ng and sim.seats_freed[g] == 0:
            g += 1
        sim.seats_freed[g] = 0
        sim.ctr[N_FREED] -= 1
        lo = sim.hgroup_ptr[g]
        hi = sim.hgroup_ptr[g + 1]
        failed = np.zeros(hi - lo, np.uint8)
        while sim.group_free[g] > 0:
            failed[:] = 0
            offered = False
            while True:
                best = np.int64(-1)
                best_idx = np.int64(-1)
                best_margin = 0.0
                best_prio = 0
                best_since = 0.0
                for idx in range(lo, hi):
                    t = sim.hgroup_types[idx]
                    if failed[idx - lo] != 0 or sim.q_len[t] == 0:
                        continue
                    m = margin(sim, sim.risk_of[t], now) if sim.at_risk else 0.0
                    s = sim.queued_since[q_peek(sim, t)] + sim.type_deadline[t]
                    prio = sim.type_prio[t]
                    if (
                        best < 0
                        or m < best_margin
                        or (
                            m == best_margin
                            and (prio < best_prio or (prio == best_prio and s < best_since))
                        )
                    ):
                        best = np.int64(t)
                        best_idx = np.int64(idx)
                        best_margin = m
                        best_prio = prio
                        best_since = s
                if best < 0:
                    break
                a = pick_agent(sim, best)
                if a >= 0:
                    pull(sim, a, now)
                    refresh(sim, a)
                    offered = True
                    break
                failed[best_idx - lo] = 1
            if not offered:
                break
