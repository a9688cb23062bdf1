"""Shift boundaries: segment starts and ends, and what an agent does with its chats.

At a segment end an agent stops taking chats and then, by its pool's
``shift_end``: ``drain`` finishes what it holds and logs off; ``hand_back``
logs off at once, its chats waiting for a reply going back to the head of their
queues (keeping the work done on a reply being written) and the ones waiting on
their buyer released; ``log_off`` drains for the pool's grace, then hands back
the rest.  Every boundary at one instant is handled together: all ends, then
the log-offs they allow, then the starts.
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.compiled import conversation, events, heaps, records, routing, seats
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    EV_BOUND,
    EV_CUT,
    I64,
    N_CB,
    T_ACT,
    Int,
    Sim,
)


@inline_kernel
def _clip01(x: float) -> float:
    # Python's min(max(x, 0.0), 1.0), comparison for comparison.
    if 0.0 > x:
        x = 0.0
    if 1.0 < x:
        x = 1.0
    return x


@inline_kernel
def detach(sim: Sim, a: Int, now: float, back: I64, n_back: Int) -> int:
    """Take agent ``a``'s chats off it; the ones to requeue are appended to ``back``.

    Returns the new count of ``back``.
    """
    # (conversation, message waiting for a reply) pairs; a later pair wins
    cap = sim.held.shape[1] + sim.inbox_key.shape[1] + 1
    pend_c = np.empty(cap, np.int64)
    pend_m = np.empty(cap, np.int64)
    n_pend = 0
    j = sim.composing[a]
    if j >= 0:
        dur = sim.reply_compose[j]
        start = sim.compose_start[a]
        sim.composing[a] = -1
        sim.reply_ev[a] = -1  # its completion event is skipped when it fires
        if start + dur <= now:
            # Due now (its completion event comes later at this instant): sent.
            conversation.replied(sim, a, j, now)
        else:
            # What is left of the reply's work goes with it.
            left = (start + dur - now) / dur if dur > 0.0 else 1.0
            old = sim.work_left[j]
            sim.work_left[j] = (old if old == old else 1.0) * _clip01(left)
            pend_c[n_pend] = sim.msg_conv[j]
            pend_m[n_pend] = j
            n_pend += 1
            records.aborted(sim, a, start, now)
    for r in range(sim.inbox_n[a]):
        jj = sim.inbox_msg[a, r]
        pend_c[n_pend] = sim.msg_conv[jj]
        pend_m[n_pend] = jj
        n_pend += 1
    sim.inbox_n[a] = 0
    if sim.agent_par[a] != 0:
        keys = sim.ps_key[a]
        ids = sim.ps_msg[a]
        works = sim.ps_work[a]
        v_now = sim.ps_v0[a] + (now - sim.ps_t0[a]) * sim.ps_rate[a]
        av = abs(v_now)
        tol = 1e-9 * (av if av > 1.0 else 1.0)
        while sim.ps_n[a] > 0 and keys[0] - v_now <= tol:
            n = sim.ps_n[a]
            _, jj, _ = heaps.pop(keys, ids, works, n)
            sim.ps_n[a] = n - 1
            sim.reply_compose[jj] = now - sim.reply_compose[jj]  # due now: sent
            conversation.replied(sim, a, jj, now)
        for r in range(sim.ps_n[a]):
            jj = ids[r]
            work = works[r]
            share = (keys[r] - v_now) / work if work > 0.0 else 1.0
            old = sim.work_left[jj]
            sim.work_left[jj] = (old if old == old else 1.0) * _clip01(share)
            records.aborted(sim, a, sim.reply_compose[jj], now)
            sim.reply_compose[jj] = np.nan
            pend_c[n_pend] = sim.msg_conv[jj]
            pend_m[n_pend] = jj
            n_pend += 1
        sim.ps_n[a] = 0
        sim.ps_ev[a] = -1
        sim.ps_v0[a] = v_now
        sim.ps_t0[a] = now
        sim.ps_rate[a] = 0.0
    nh = sim.held_n[a]
    held = sim.held[a, :nh].copy()
    # (sorted by conversation: the same key twice, as the merge sort takes pairs)
    heaps.sort_pairs(held.astype(np.float64), held)
    for k in range(nh):
        i = held[k]
        records.hold(sim, i, a, sim.hold_start[i], now)
        sim.holder[i] = -1
        if sim.has_hold:
            routing.release_seat(sim, i, a)
        jj = -1
        for r in range(n_pend - 1, -1, -1):
            if pend_c[r] == i:
                jj = pend_m[r]
                break
        if jj < 0 or sim.withdrawn[i] != 0:
            sim.close_time[i] = now  # released: nothing to answer now
            continue
        sim.queued_msg[i] = jj
        conversation.requeued(sim, i, now)
        sim.handed_back[i] += 1
        back[n_back] = i
        n_back += 1
    sim.held_n[a] = 0
    sim.load[a] = 0
    return int(n_back)


@kernel
def hand_back(sim: Sim, agents: I64, now: float) -> None:
    """These agents log off now: their open chats go back to the head of their queues.

    The chats of all the agents go back together, the oldest at the head, before
    any of them is taken again; then they go to agents free to take them.
    """
    cap = agents.size * sim.held.shape[1] + 1
    back = np.empty(cap, np.int64)
    nb: Int = np.int64(0)
    for a in agents:
        nb = detach(sim, a, now, back, nb)
    back = back[:nb].copy()
    # Oldest first at the head of each queue: sorted by (since, conversation), the
    # newest put at the head first.
    since = np.empty(nb, np.float64)
    for k in range(nb):
        since[k] = sim.queued_since[back[k]]
    heaps.sort_pairs(since, back)
    for k in range(nb - 1, -1, -1):
        i = back[k]
        routing.q_appendleft(sim, np.int64(sim.ctype[i]), i)
    for a in agents:
        seats.go_offline(sim, a, now)
    # The chats handed back go to agents free to take them, type by type.
    handed = np.zeros(sim.type_prio.size, np.uint8)
    for k in range(nb):
        handed[sim.ctype[back[k]]] = 1
    for typ in range(handed.size):
        if handed[typ] == 0:
            continue
        while sim.q_len[typ] > 0:
            b = routing.pick_agent(sim, typ)
            if b < 0:
                break
            routing.pull(sim, b, now)
            routing.refresh(sim, b)


@inline_kernel
def segment_start(sim: Sim, a: Int, now: float) -> None:
    """Agent ``a``'s segment starts: it logs in, or accepts again, or waits for a seat."""
    sim.want_online[a] = 1
    if sim.online[a] != 0:
        # Still draining the previous segment (or carrying on): accept again.
        sim.cut_ev[a] = -1
        sim.accepting[a] = 1
        routing.pull(sim, a, now)
        routing.refresh(sim, a)
    elif seats.seat_free(sim, a):
        seats.take_seats(sim, a)
        seats.go_online(sim, a, now)
    else:
        seats.join_line(sim, a)


@inline_kernel
def on_bound(sim: Sim, k: Int, now: float) -> None:
    """The boundaries from number ``k`` at this instant: ends, then log-offs, then starts."""
    bt = sim.bound_time
    nbounds = bt.size
    t = bt[k]
    last = k
    while last + 1 < nbounds and bt[last + 1] == t:
        last += 1
    if last + 1 < nbounds:
        # The boundary chain: one event in flight at a time.
        events.at(sim, bt[last + 1], now, EV_BOUND, last + 1)
    ended = np.empty(last + 1 - k, np.int64)
    n_end = 0
    for b in range(k, last + 1):
        if sim.bound_kind[b] == 0:
            a = sim.seg_agent[sim.bound_seg[b]]
            ended[n_end] = a
            n_end += 1
    # From the horizon on, an agent closes out: it keeps taking the waiting chats and
    # logs off when it holds none (seats.go_offline, from the handlers that free it).
    closing = now >= sim.close_out
    for e in range(n_end):
        a = ended[e]
        sim.want_online[a] = 0
        sim.segment_end[a] = now
        if sim.online[a] != 0 and not closing:
            sim.accepting[a] = 0
            routing.refresh(sim, a)
    back = np.empty(n_end, np.int64)
    n_back = 0
    # log_off agents grouped by grace, in the order their grace first appears
    graces = np.empty(n_end, np.float64)
    n_grace = 0
    cut_of = np.empty(n_end, np.int64)  # grace group of each ended agent, -1 if none
    for e in range(n_end):
        a = ended[e]
        cut_of[e] = -1
        if sim.online[a] == 0 or sim.want_online[a] != 0:
            continue
        policy = sim.agent_end[a]
        if policy != 0:
            starting = False
            for b in range(k, last + 1):
                if sim.bound_kind[b] == 1 and sim.seg_agent[sim.bound_seg[b]] == a:
                    starting = True
                    break
            if starting:
                continue  # its next segment starts now: it carries on
        if sim.load[a] == 0:
            if sim.composing[a] < 0:
                seats.go_offline(sim, a, now)
        elif closing:
            continue
        elif policy == 1:
            back[n_back] = a
            n_back += 1
        elif policy == 2:
            grace = sim.agent_grace[a]
            g = 0
            while g < n_grace and not graces[g] == grace:
                g += 1
            if g == n_grace:
                graces[g] = grace
                n_grace += 1
            cut_of[e] = g
    if n_back > 0:
        hand_back(sim, back[:n_back], now)
    for g in range(n_grace):
        # One cut for the agents of a grace: their chats go back together, oldest first.
        members = np.empty(n_end, np.int64)
        nm = 0
        for e in range(n_end):
            if cut_of[e] == g:
                members[nm] = ended[e]
                nm += 1
        cut = events.at(sim, now + graces[g], now, EV_CUT, sim.ctr[N_CB])
        records.cut_batch(sim, members[:nm])
        for r in range(nm):
            sim.cut_ev[members[r]] = cut
    for b in range(k, last + 1):
        if sim.bound_kind[b] == 1:
            segment_start(sim, sim.seg_agent[sim.bound_seg[b]], now)


@inline_kernel
def on_cut(sim: Sim, k: Int, eid: Int, now: float) -> None:
    """A log-off grace ran out: the agents still draining under it hand back the rest."""
    s = sim.cut_start[k]
    n = sim.cut_len[k]
    sim.cut_len[k] = 0
    # The agents still draining under this cut (not back on shift, not gone).
    due = np.empty(n, np.int64)
    nd = 0
    for r in range(s, s + n):
        a = sim.cut_agents[r]
        if sim.cut_ev[a] == eid:
            due[nd] = a
            nd += 1
    for r in range(nd):
        sim.cut_ev[due[r]] = -1
    nk = 0
    for r in range(nd):
        a = due[r]
        if sim.online[a] != 0 and sim.want_online[a] == 0:
            due[nk] = a
            nk += 1
    if nk > 0:
        sim.fctr[T_ACT] = now
        if now >= sim.close_out:
            # A grace running out after the horizon: close out, as a shift ending then.
            for r in range(nk):
                a = due[r]
                sim.accepting[a] = 1
                routing.pull(sim, a, now)
                routing.refresh(sim, a)
            return
        hand_back(sim, due[:nk], now)
