"""Shift boundaries, and what an agent does with its chats at a segment end.

``drain`` finishes what it holds and logs off; ``hand_back`` logs off at once,
its chats waiting for a reply going back to the head of their queues and the
ones waiting on their buyer released; ``log_off`` drains for the pool's grace,
then hands back the rest.  Every boundary at one instant is handled together:
all ends, then the log-offs they allow, then the starts.
"""

from __future__ import annotations

import heapq

from peakdesk.engine.reference import conversation, events, routing, seats
from peakdesk.engine.reference.state import NAN, Call, Simulation


def on_bound(sim: Simulation, ev: Call) -> None:
    """The boundaries at this instant: ends, then the log-offs they allow, then starts."""
    # Every boundary at this instant is handled together: all segment ends first,
    # then the log-offs they allow, then the starts.  One at a time, a sub-account
    # freed by an ending agent could go to a waiting agent whose own segment ends
    # at the same instant but has not been processed yet.
    k: int = ev._value
    now = sim.env.now
    sim.t_act = now
    bounds = sim.bounds
    t = bounds[k][0]
    last = k
    while last + 1 < len(bounds) and bounds[last + 1][0] == t:
        last += 1
    if last + 1 < len(bounds):
        # The boundary chain reuses its event: one in flight at a time.
        events.again(sim, ev, bounds[last + 1][0], now, last + 1, sim.cb_bound)
    batch = bounds[k : last + 1]
    ended = [sim.seg_agent[seg] for _, kind, seg in batch if kind == 0]
    # From the horizon on, an agent closes out: it keeps taking the waiting chats and
    # logs off when it holds none (seats.go_offline, from the handlers that free it).
    closing = now >= sim.close_out
    for a in ended:
        sim.want_online[a] = False
        sim.segment_end[a] = now
        if sim.online[a] and not closing:
            sim.accepting[a] = False
            routing.refresh(sim, a)
    starting = {sim.seg_agent[seg] for _, kind, seg in batch if kind == 1} if sim.track else set()
    back: list[int] = []
    cuts: dict[float, list[int]] = {}
    for a in ended:
        if not sim.online[a] or sim.want_online[a]:
            continue
        policy = sim.agent_end[a]
        if policy and a in starting:
            continue  # its next segment starts now: it carries on
        if sim.load[a] == 0:
            if sim.composing[a] < 0:
                seats.go_offline(sim, a)
        elif closing:
            continue
        elif policy == 1:
            back.append(a)
        elif policy == 2:
            cuts.setdefault(sim.agent_grace[a], []).append(a)
    if back:
        hand_back(sim, back, now)
    for grace, agents in cuts.items():
        # One cut for the agents of a grace: their chats go back together, oldest first.
        cut = events.at(sim, now + grace, now, len(sim.cut_batches), sim.cb_cut)
        sim.cut_batches.append(agents)
        for a in agents:
            sim.cut_ev[a] = cut
    for _, kind, seg in batch:
        if kind == 1:
            segment_start(sim, sim.seg_agent[seg], now)


def on_cut(sim: Simulation, ev: Call) -> None:
    """A log-off grace ran out: the agents still draining under it hand back the rest."""
    sim.free.append(ev)
    k: int = ev._value
    agents, sim.cut_batches[k] = sim.cut_batches[k], []
    # Only the agents still draining under this cut (not back on shift, not gone).
    due = [a for a in agents if sim.cut_ev[a] is ev]
    for a in due:
        sim.cut_ev[a] = None
    due = [a for a in due if sim.online[a] and not sim.want_online[a]]
    if due:
        now = sim.env.now
        sim.t_act = now
        if now >= sim.close_out:
            # A grace running out after the horizon: close out, as a shift ending then.
            for a in due:
                sim.accepting[a] = True
                routing.pull(sim, a, now)
                routing.refresh(sim, a)
            return
        hand_back(sim, due, now)


def hand_back(sim: Simulation, agents: list[int], now: float) -> None:
    """These agents log off now: their open chats go back to the head of their queues.

    A chat waiting for a reply keeps its place in time (arrival, first reply,
    the work already done on a reply being written); a chat waiting on its
    buyer (thinking, or in wrap-up) is released, and the buyer's next message
    reopens it into the queue.  A reply due this very instant is sent first.
    The chats of all the agents go back together, the oldest at the head,
    before any of them is taken again.
    """
    back: list[int] = []
    for a in agents:
        back += detach(sim, a, now)
    # Oldest first at the head of each queue, ahead of the chats already waiting.
    back.sort(key=lambda c: (sim.queued_since[c], c), reverse=True)
    for i in back:
        sim.queues[sim.ctype[i]].appendleft(i)
    for a in agents:
        seats.go_offline(sim, a)
    # The chats handed back go to agents free to take them, as new ones would.
    for typ in sorted({sim.ctype[i] for i in back}):
        q = sim.queues[typ]
        while q:
            b = routing.pick_agent(sim, typ)
            if b < 0:
                break
            routing.pull(sim, b, now)
            routing.refresh(sim, b)


def detach(sim: Simulation, a: int, now: float) -> list[int]:
    """Take agent ``a``'s chats off it (see :func:`hand_back`); the ones to requeue."""
    held = sim.held[a]
    assert held is not None
    pending: dict[int, int] = {}  # conversation -> its message waiting for a reply
    j = sim.composing[a]
    if j >= 0:
        dur = sim.reply_compose[j]
        start = sim.compose_start[a]
        sim.composing[a] = -1
        sim.reply_ev[a] = None  # its completion event is skipped when it fires
        if start + dur <= now:
            # Due now (its completion event comes later at this instant): sent.
            conversation.replied(sim, a, j, now, events.new_event(sim))
        else:
            # What is left of the reply's work goes with it.
            left = (start + dur - now) / dur if dur > 0.0 else 1.0
            sim.work_left[j] = sim.work_left.get(j, 1.0) * min(max(left, 0.0), 1.0)
            pending[sim.msg_conv[j]] = j
            sim.aborted.append((a, start, now))
    for _, jj in sim.inbox[a]:
        pending[sim.msg_conv[jj]] = jj
    sim.inbox[a] = []
    if sim.par[a]:
        heap = sim.ps_heap[a]
        v_now = sim.ps_v0[a] + (now - sim.ps_t0[a]) * sim.ps_rate[a]
        while heap and heap[0][0] - v_now <= 1e-9 * max(1.0, abs(v_now)):
            _, jj, _ = heapq.heappop(heap)  # due now: sent
            sim.reply_compose[jj] = now - sim.reply_compose[jj]
            conversation.replied(sim, a, jj, now, events.new_event(sim))
        for due, jj, work in heap:
            share = (due - v_now) / work if work > 0.0 else 1.0
            sim.work_left[jj] = sim.work_left.get(jj, 1.0) * min(max(share, 0.0), 1.0)
            sim.aborted.append((a, sim.reply_compose[jj], now))
            sim.reply_compose[jj] = NAN
            pending[sim.msg_conv[jj]] = jj
        sim.ps_heap[a] = []
        sim.ps_ev[a] = None
        sim.ps_v0[a] = v_now
        sim.ps_t0[a] = now
        sim.ps_rate[a] = 0.0
    back: list[int] = []
    for i in sorted(held):
        sim.holds.append((i, a, sim.hold_start[i], now))
        sim.holder[i] = -1
        if sim.has_hold:
            routing.release_seat(sim, i, a)
        jj = pending.get(i, -1)
        if jj < 0 or sim.withdrawn[i]:
            sim.close_time[i] = now  # released: nothing to answer now
            continue
        sim.queued_msg[i] = jj
        sim.requeued_at[i] = now
        sim.handed_back[i] = sim.handed_back.get(i, 0) + 1
        back.append(i)
    held.clear()
    sim.load[a] = 0
    return back


def segment_start(sim: Simulation, a: int, now: float) -> None:
    """Agent ``a``'s segment starts: it logs in, accepts again, or waits for a seat."""
    sim.want_online[a] = True
    if sim.online[a]:
        # Still draining the previous segment (or carrying on): accept again.
        sim.cut_ev[a] = None
        sim.accepting[a] = True
        routing.pull(sim, a, now)
        routing.refresh(sim, a)
    elif seats.seat_free(sim, a):
        seats.take_seats(sim, a)
        seats.go_online(sim, a)
    else:
        sim.subaccount_wait.append(a)
