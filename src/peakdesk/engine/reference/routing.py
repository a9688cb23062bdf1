"""Routing: which agent takes a new chat, and which waiting chat a free slot takes.

Agents free to take a chat are kept in one heap per pool of (key, entry number,
agent), the key being the chats held (``least_loaded``) or the time of the last
assignment (``longest_idle``); an entry is valid while it is the agent's latest,
older ones are dropped lazily on lookup.  Waiting chats are kept in one FIFO
queue per inquiry type; with a withdrawing type, buyers whose patience ran out
while queued leave from its head.
"""

from __future__ import annotations

import heapq
from collections import deque

from peakdesk.engine.reference import discipline, events
from peakdesk.engine.reference.state import INF, Simulation


def pick_agent(sim: Simulation, typ: int) -> int:
    """The agent the policy gives a new conversation of this type, or -1."""
    if sim.has_hold:
        g = sim.type_hgroup[typ]
        if g >= 0 and sim.group_free[g] <= 0:
            return _pick_seated(sim, typ, g)
    best = -1
    best_key = 0.0
    best_seq = 0
    avail = sim.avail
    entry_seq = sim.entry_seq
    for p in sim.type_pools[typ]:
        h = avail[p]
        while h:
            top = h[0]
            if entry_seq[top[2]] == top[1]:
                break
            heapq.heappop(h)
        else:
            continue
        if sim.by_priority:
            return top[2]
        key = top[0]
        if best < 0 or key < best_key or (key == best_key and top[1] < best_seq):
            best, best_key, best_seq = top[2], key, top[1]
    return best


def _pick_seated(sim: Simulation, typ: int, g: int) -> int:
    """:func:`pick_agent` when group ``g``'s seats are all taken: only an agent already
    holding one (holding a chat of the group) can take the chat; the best of them by
    the policy's order (every valid entry is looked at: the heap's top may be seatless)."""
    best = -1
    best_key = 0.0
    best_seq = 0
    entry_seq = sim.entry_seq
    held = sim.seat_held
    for p in sim.type_pools[typ]:
        for key, seq, a in sim.avail[p]:
            if entry_seq[a] != seq or held[a][g] == 0:
                continue
            if best < 0 or key < best_key or (key == best_key and seq < best_seq):
                best, best_key, best_seq = a, key, seq
        if sim.by_priority and best >= 0:
            return best
    return best


def take_seat(sim: Simulation, i: int, a: int) -> None:
    """Agent ``a`` takes conversation ``i``: a seat of its type's group, unless held."""
    g = sim.type_hgroup[sim.ctype[i]]
    if g >= 0:
        row = sim.seat_held[a]
        if row[g] == 0:
            sim.group_free[g] -= 1
        row[g] += 1


def release_seat(sim: Simulation, i: int, a: int) -> None:
    """Agent ``a`` lets conversation ``i`` go: the group's seat is freed with its last."""
    g = sim.type_hgroup[sim.ctype[i]]
    if g >= 0:
        row = sim.seat_held[a]
        row[g] -= 1
        if row[g] == 0:
            sim.group_free[g] += 1
            sim.seats_freed.add(g)


def wake(sim: Simulation, now: float) -> None:
    """Seats freed during the event go to the chats waiting for them (the settle step).

    Group by group (lowest first), while a freed group has a free seat: of its
    types with a chat waiting, by margin (the at-risk order), priority, then
    soonest due (head of the queue), then type, the first the policy finds an
    agent for is offered to that agent, which fills its free slots as
    :func:`pull` does.  Each offer takes or drops (patience ran out) at least one
    waiting chat, so this ends.
    """
    while sim.seats_freed:
        g = min(sim.seats_freed)
        sim.seats_freed.discard(g)
        while sim.group_free[g] > 0:
            ranked = sorted(
                (
                    margin(sim, sim.risk_of[t], now) if sim.at_risk else 0.0,
                    sim.cfg.type_priority[t],
                    sim.queued_since[q[0]] + sim.due[t],
                    t,
                )
                for t in sim.hgroup_types[g]
                if (q := sim.queues[t])
            )
            for _, _, _, t in ranked:
                a = pick_agent(sim, t)
                if a >= 0:
                    pull(sim, a, now)
                    refresh(sim, a)
                    break
            else:
                break


def risk_roll(sim: Simulation, r: int, now: float) -> None:
    """Risk group ``r``'s score starts afresh at each of its day starts up to ``now``."""
    starts = sim.risk_starts[r]
    k = sim.risk_next[r]
    if k < len(starts) and now >= starts[k]:
        while k < len(starts) and now >= starts[k]:
            k += 1
        sim.risk_next[r] = k
        sim.risk_n[r] = 0
        sim.risk_ok[r] = 0


def risk_count(sim: Simulation, r: int, now: float, at: float, in_time: bool) -> None:
    """One first reply (or a buyer withdrawn unanswered: not in time) of group ``r``, its
    outcome known at ``at`` (a buyer who gave up before today: yesterday's, not counted;
    a queue notices a withdrawn buyer only when it is looked at, ``now``)."""
    risk_roll(sim, r, now)
    k = sim.risk_next[r]
    if k > 0 and at < sim.risk_starts[r][k - 1]:
        return
    sim.risk_n[r] += 1
    if in_time:
        sim.risk_ok[r] += 1


def margin(sim: Simulation, r: int, now: float) -> float:
    """Risk group ``r``'s share of first replies in time so far today, less its bound (1
    less the bound before any; ``inf`` for a type in no group: served after the rest)."""
    if r < 0:
        return INF
    risk_roll(sim, r, now)
    n = sim.risk_n[r]
    return (sim.risk_ok[r] / n if n else 1.0) - sim.risk_bound[r]


def refresh(sim: Simulation, a: int) -> None:
    """Re-index an agent after its load or state changed (once its state is settled)."""
    p = sim.apool[a]
    load = sim.load[a]
    if sim.accepting[a] and load < sim.pool_cap[p]:
        seq = sim.seq + 1
        sim.seq = seq
        sim.entry_seq[a] = seq
        key = sim.last_assign[a] if sim.longest_idle else load
        heapq.heappush(sim.avail[p], (key, seq, a))
    else:
        sim.entry_seq[a] = -1


def assign(sim: Simulation, i: int, a: int, now: float) -> None:
    """Give conversation ``i`` to agent ``a`` (the caller re-indexes the agent)."""
    sim.conv_agent[i] = a
    sim.holder[i] = a
    sim.hold_start[i] = now
    assign_time = sim.assign_time
    if assign_time[i] != assign_time[i]:  # keep the first assignment
        assign_time[i] = now
        if sim.any_at_assign and sim.at_assign[sim.ctype[i]]:
            # Patience until assignment: a buyer taken too late has already left.
            t_left = sim.arrival[i] + sim.patience[i]
            if now > t_left:
                sim.abandoned[i] = 1
                sim.abandon_time[i] = t_left
    if sim.requeued_at:
        since = sim.requeued_at.pop(i, None)
        if since is not None:
            sim.requeues.append((i, since, now))
    sim.load[a] += 1
    sim.last_assign[a] = now
    if sim.has_hold:
        take_seat(sim, i, a)
    held = sim.held[a]
    if held is not None:
        held.add(i)
    j = sim.queued_msg[i]
    if sim.par[a]:
        discipline.ps_add(sim, a, j, i, now)
        return
    inbox = sim.inbox[a]
    composing = sim.composing
    if composing[a] < 0:
        if not inbox:
            discipline.start(sim, a, j, i)
            return
        # Only inside a reply's handler: older messages wait in the inbox.
        heapq.heappush(inbox, (sim.msg_time[j], j))
        discipline.compose_next(sim, a)
    else:
        heapq.heappush(inbox, (sim.msg_time[j], j))
    typ = sim.ctype[i]
    if (
        j == sim.offset[i]
        and composing[a] != j
        and sim.withdraw[typ]
        and not sim.at_assign[typ]
        and j not in sim.work_left
    ):
        patience = sim.patience[i]
        if patience < INF:
            # The first reply waits behind others: the buyer may still give up.
            events.at(sim, sim.arrival[i] + patience, now, i, sim.cb_patience)


def withdraw(sim: Simulation, i: int, now: float) -> None:
    """The buyer gave up and the conversation is withdrawn unanswered (closed then)."""
    if sim.at_risk and sim.risk_of[sim.ctype[i]] >= 0:
        t_left = sim.arrival[i] + sim.patience[i]
        risk_count(sim, sim.risk_of[sim.ctype[i]], now, t_left, False)  # unanswered: a miss
    sim.withdrawn[i] = 1
    sim.abandoned[i] = 1
    t = sim.arrival[i] + sim.patience[i]
    sim.abandon_time[i] = t
    sim.close_time[i] = t
    if sim.requeued_at:
        since = sim.requeued_at.pop(i, None)
        if since is not None:
            sim.requeues.append((i, since, t))


def pull(sim: Simulation, a: int, now: float) -> None:
    """Fill an agent's free slots from the queues (best priority, then oldest or due first)."""
    p = sim.apool[a]
    cap = sim.pool_cap[p]
    pool_queues = sim.pool_queues[p]
    since = sim.queued_since
    load = sim.load
    at_risk = sim.at_risk
    while load[a] < cap:
        best: deque[int] | None = None
        best_margin = 0.0
        best_prio = 0
        best_since = 0.0
        for q, prio, withdraw, at_assign, due, g, r in pool_queues:
            if not q:
                continue
            if g >= 0 and sim.group_free[g] <= 0 and sim.seat_held[a][g] == 0:
                continue  # the chat's shop has no seat free for this agent
            if withdraw:
                drop_expired(sim, q, now, at_assign)
                if not q:
                    continue
            # Each queue is in arrival order, so its head is also its soonest due.
            s = since[q[0]] + due
            if at_risk:
                m = margin(sim, r, now)
                if (
                    best is None
                    or m < best_margin
                    or (
                        m == best_margin
                        and (prio < best_prio or (prio == best_prio and s < best_since))
                    )
                ):
                    best, best_margin, best_prio, best_since = q, m, prio, s
            elif best is None or prio < best_prio or (prio == best_prio and s < best_since):
                best, best_prio, best_since = q, prio, s
        if best is None:
            return
        assign(sim, best.popleft(), a, now)


def drop_expired(sim: Simulation, q: deque[int], now: float, at_assign: bool) -> None:
    """Withdraw the buyers at the head of a queue whose patience ran out while queued.

    Only a first message: a chat reopened after an idle close had its answer,
    and its buyer's patience no longer applies; nor does it to a chat handed
    back once taken (patience until assignment) or once its first reply was
    begun.
    """
    arrival, patience = sim.arrival, sim.patience
    queued_msg, offset = sim.queued_msg, sim.offset
    withdrawn = sim.withdrawn
    while q:
        i = q[0]
        if withdrawn[i]:
            q.popleft()  # withdrawn while queued after a hand-back
            continue
        j = offset[i]
        if queued_msg[i] != j or not arrival[i] + patience[i] < now:
            return
        if (sim.work_left or at_assign) and committed(sim, i, j, at_assign):
            return
        withdraw(sim, q.popleft(), now)


def committed(sim: Simulation, i: int, j: int, at_assign: bool) -> bool:
    """Whether a queued buyer no longer gives up: taken once (patience until
    assignment), or the first reply ``j`` was begun before a hand-back."""
    if at_assign:
        return sim.assign_time[i] == sim.assign_time[i]
    return j in sim.work_left
