"""The message-level chat simulator (simpy).

Model
-----
* A conversation is a sequence of buyer messages.  Each waits for a reply;
  after a reply the buyer thinks (``think_s``) and writes the next one.  It ends
  after the reply to its last message (plus the type's wrap-up), or when its
  buyer has abandoned and been answered.
* A new conversation waits in its type's queue until an eligible agent (pool
  has the skill, agent online and accepting, below its concurrency cap) takes
  it under the routing policy; that agent keeps it until it closes.
* An agent is one person: replies to its open conversations are composed one
  at a time, the oldest waiting buyer message first.  Compose time = the
  message's base compose time x the pool's time factor for the type
  (``1 / (speed * proficiency)``) x the concurrency multiplier for the number
  of conversations held when the reply is started.
* Patience: a buyer whose first message is not answered within their patience
  leaves and sends nothing more, but the message stays in the queue and is
  still answered (it counts against response metrics).  This is decided when
  the reply is sent, which needs no event of its own.
* Shifts: at the start of an online segment an agent takes a free sub-account
  (or waits, first come first served, for one).  At the end of a segment the
  agent stops taking new conversations, finishes the ones it holds, and only
  then logs off and frees the sub-account.  We chose draining over handing
  open chats back to the queue because that is what agents do in Qianniu-like
  tools (set status to busy, finish, log off) and a transfer would restart the
  buyer's wait.  Agents therefore never exceed the sub-account count.
* Idle auto-close: when the buyer stays silent longer than ``idle_close`` after
  a reply, the conversation closes then (freeing the slot); if the buyer writes
  again later, it reopens and waits in the queue for an agent like a new one
  (its first assignment time is kept).
* Bot-resolved conversations get an immediate ``bot`` reply to each message
  and need no agent; they never enter the event loop (their columns are filled
  in with numpy after the run).

Events
------
simpy's :class:`~simpy.core.Environment` is the clock and the scheduler.  Per
human conversation with ``k`` buyer messages there are one arrival, ``k``
reply completions, ``k - 1`` buyer messages and at most one delayed close (an
idle auto-close adds a close and makes the buyer's next message a reopening;
where the type withdraws abandoned chats, a first message that waits behind
other chats adds a patience check).  There is no process per conversation and
no scan over all agents per event: agents free to take a chat are kept in one
heap per pool, and waiting chats in one FIFO queue per type.

Each event is a :class:`_Call`: a plain simpy event, already successful, whose
one callback is a method of :class:`_Simulation` and whose value is the
conversation, message or agent it concerns.  A processed ``_Call`` is
scheduled again (``env.schedule``): at once for the event that follows it (the
next arrival, the buyer's next message), or later from a free list, so the
run allocates a few thousand event objects rather than one per event.  Each
is scheduled where and when a :class:`~simpy.events.Timeout` was created
before, with the same delay, so simpy orders simultaneous events exactly as it
ordered those timeouts, and results are the same to the bit.

Memory
------
The workload's read-only columns are copied into :class:`array.array` (at most
8 bytes an item rather than a list's 8-byte pointer to a 24- or 28-byte object,
and cheap to read); the columns the loop writes stay Python lists
(writing a list item is several times cheaper than writing an array item) and
become numpy arrays one by one at the end, each list freed as soon as it is
converted.  Holding spells are buffered as tuples and moved to numpy in blocks.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import NORMAL, Event

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN, ChatLog

_NAN = math.nan
_INF = math.inf
#: Arrivals between two progress reports and two flushes of the holding-spell buffer
#: (a power of two, tested with a mask).
_EVERY = 4096

F64 = npt.NDArray[np.float64]
Callbacks = list[Callable[["_Call"], None]]


def run(
    config: EngineConfig,
    workload: Workload,
    *,
    start: dt.datetime,
    horizon_s: float,
    subaccount_cost: float = 0.0,
    conversion_base: tuple[float, ...] | None = None,
    conversion_half_life_s: tuple[float, ...] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ChatLog:
    """Play a workload through the agents of ``config`` and record everything.

    Parameters
    ----------
    config
        Pools, agents, online segments, sub-accounts and routing.
    workload
        The conversations to play (drawn up front, so staffing options share them).
    start
        Aware datetime of simulation time 0.
    horizon_s
        Period during which buyers arrive, seconds.  The run continues past it
        until agents have finished what they hold and no event is left.
    subaccount_cost
        Sub-account cost over the horizon (carried into the log).
    conversion_base, conversion_half_life_s
        Per inquiry type conversion model (see :meth:`ChatLog.conversion`).
    progress
        Called now and then with the share of arrivals played so far (0..1).

    Returns
    -------
    ChatLog
        The message-level log.
    """
    n_types = len(workload.type_names)
    env = simpy.Environment()
    sim = _Simulation(env, config, workload, progress)
    sim.schedule()
    env.run()
    if progress is not None:
        progress(1.0)
    c = sim.finish()
    del sim
    return ChatLog(
        workload=workload,
        start=start,
        horizon_s=horizon_s,
        msg_time_s=c.msg_time,
        reply_time_s=c.reply_time,
        reply_kind=c.reply_kind,
        reply_agent=c.reply_agent,
        reply_compose_s=c.reply_compose,
        auto_reply_s=(
            workload.arrival_s.copy()
            if config.auto_greeting
            else np.full(workload.n_conversations, np.nan)
        ),
        agent=c.agent,
        assign_s=c.assign_time,
        close_s=c.close_time,
        abandoned=c.abandoned,
        abandon_s=c.abandon_time,
        idle_closed=c.idle_closed,
        withdrawn=c.withdrawn,
        hold_conversation=c.hold_conversation,
        hold_agent=c.hold_agent,
        hold_start_s=c.hold_start,
        hold_end_s=c.hold_end,
        agent_pool=config.agent_pool.astype(np.int32),
        online_agent=np.asarray([s[0] for s in c.spells], dtype=np.int32),
        online_start_s=np.asarray([s[1] for s in c.spells], dtype=np.float64),
        online_end_s=np.asarray([s[2] for s in c.spells], dtype=np.float64),
        pool_names=tuple(p.name for p in config.pools),
        pool_max_concurrency=tuple(p.max_concurrency for p in config.pools),
        paid_hours_by_pool=config.paid_hours_by_pool,
        hourly_cost_by_pool=tuple(p.hourly_cost for p in config.pools),
        subaccounts=config.subaccounts,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base or (0.0,) * n_types,
        conversion_half_life_s=conversion_half_life_s or (_INF,) * n_types,
    )


class _Call(Event):
    """A reusable simpy event, successful from the start.

    The simulation sets its ``callbacks`` (a shared one-item list, never
    appended to) and its ``_value`` (the payload), then schedules it with
    ``env.schedule``; its callback returns it to the free list.
    """

    _ok = True


@dataclass
class _Columns:
    """What the run recorded, as numpy columns (see :class:`ChatLog`)."""

    msg_time: F64
    reply_time: F64
    reply_kind: npt.NDArray[np.int8]
    reply_agent: npt.NDArray[np.int32]
    reply_compose: F64
    agent: npt.NDArray[np.int32]
    assign_time: F64
    close_time: F64
    abandoned: npt.NDArray[np.bool_]
    abandon_time: F64
    idle_closed: npt.NDArray[np.bool_]
    withdrawn: npt.NDArray[np.bool_]
    hold_conversation: npt.NDArray[np.int64]
    hold_agent: npt.NDArray[np.int32]
    hold_start: F64
    hold_end: F64
    spells: list[tuple[int, float, float]]


def _compact(code: str, values: npt.NDArray[Any], dtype: type[np.generic]) -> array[Any]:
    """A read-only numpy column as a typed :class:`array.array` (one copy)."""
    out: array[Any] = array(code)
    data = np.ascontiguousarray(values, dtype=dtype)
    if out.itemsize != data.itemsize:  # pragma: no cover - exotic platforms
        return array(code, data.tolist())
    out.frombytes(data.data.cast("B"))
    return out


def _floats(values: list[float]) -> F64:
    return np.fromiter(values, np.float64, len(values))


class _Simulation:
    """State and callbacks of one replication.

    The event loop touches single elements: state is held in Python lists
    (fast to read and write), read-only inputs in :class:`array.array`.
    """

    def __init__(
        self,
        env: simpy.Environment,
        cfg: EngineConfig,
        w: Workload,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.env = env
        self.sched = env.schedule
        self.progress = progress
        self.cfg = cfg
        self.w = w
        n, m = w.n_conversations, w.n_messages
        # inputs (read only)
        self.arrival: array[float] = _compact("d", w.arrival_s, np.float64)
        self.ctype: array[int] = _compact("i", w.type_idx, np.int32)
        self.offset: array[int] = _compact("q", w.msg_offset, np.int64)
        self.think: array[float] = _compact("d", w.think_s, np.float64)
        self.compose_base: array[float] = _compact("d", w.compose_s, np.float64)
        self.patience: array[float] = _compact("d", w.patience_s, np.float64)
        self.msg_conv: array[int] = _compact("q", w.message_conversation, np.int64)
        self.human: array[int] = _compact("q", np.flatnonzero(~w.bot), np.int64)
        # message state (flat); the reply kind follows from the agent (bots at the end)
        self.msg_time: list[float] = [_NAN] * m
        self.reply_time: list[float] = [_NAN] * m
        self.reply_agent: list[int] = [-1] * m
        self.reply_compose: list[float] = [_NAN] * m
        # conversation state
        self.conv_agent: list[int] = [-1] * n
        self.assign_time: list[float] = [_NAN] * n
        self.close_time: list[float] = [_NAN] * n
        self.abandoned = bytearray(n)
        self.abandon_time: list[float] = [_NAN] * n
        self.idle_closed = bytearray(n)
        self.withdrawn = bytearray(n)
        # The message a queued conversation waits with (the first, or the one that
        # reopened it after an idle auto-close) and since when.
        self.queued_msg: array[int] = _compact("q", w.msg_offset[:-1], np.int64)
        self.queued_since: array[float] = _compact("d", w.arrival_s, np.float64)
        # Each spell an agent held a conversation: (conversation, agent, start, end),
        # buffered here and moved to numpy blocks now and then.
        self.hold_start: list[float] = [_NAN] * n
        self.holds: list[tuple[int, int, float, float]] = []
        self.hold_blocks: list[F64] = []
        # agent state
        na = cfg.n_agents
        self.apool: list[int] = cfg.agent_pool.tolist()
        self.load: list[int] = [0] * na
        self.inbox: list[list[tuple[float, int]]] = [[] for _ in range(na)]  # (msg time, msg)
        # Flat message being composed, -1 if none.  Between events, an agent not
        # composing has an empty inbox (it starts on a message as soon as one is there).
        self.composing: list[int] = [-1] * na
        self.accepting: list[bool] = [False] * na
        self.online: list[bool] = [False] * na
        self.want_online: list[bool] = [False] * na
        self.online_since: list[float] = [0.0] * na
        self.last_assign: list[float] = [-_INF] * na
        self.spells: list[tuple[int, float, float]] = []
        self.free_subaccounts = cfg.subaccounts
        self.subaccount_wait: deque[int] = deque()
        # pools
        self.pool_cap: list[int] = [p.max_concurrency for p in cfg.pools]
        pool_conc = [list(p.concurrency_multiplier) for p in cfg.pools]
        pool_factor = [list(p.time_factor_by_type) for p in cfg.pools]
        # Each agent's pool's compose-time factors: by type, and by chats held.
        self.agent_factor: list[list[float]] = [pool_factor[p] for p in self.apool]
        self.agent_conc: list[list[float]] = [pool_conc[p] for p in self.apool]
        # Per pool, a heap of (key, seq, agent) over agents that can take a new
        # conversation, ordered by the policy's key and then by when the agent became
        # free.  An entry is valid while entry_seq[agent] == seq: each change of an
        # agent's load or state gives it a new entry (or none) and the old one is
        # dropped lazily on lookup.
        self.avail: list[list[tuple[float, int, int]]] = [[] for _ in cfg.pools]
        self.entry_seq: list[int] = [-1] * na
        self.seq = 0
        n_types = len(w.type_names)
        self.type_pools: list[list[int]] = [
            [p for p in _ordered_pools(cfg) if cfg.pools[p].handles(k)] for k in range(n_types)
        ]
        self.pool_types: list[list[int]] = [
            [k for k in range(n_types) if cfg.pools[p].handles(k)] for p in range(len(cfg.pools))
        ]
        self.queues: list[deque[int]] = [deque() for _ in range(n_types)]
        self.wrap_up: list[float] = list(cfg.wrap_up_s)
        self.withdraw: list[bool] = list(cfg.withdraw_on_abandon)
        # Per pool, the queues it serves in type order: (queue, type priority, withdraw).
        self.pool_queues: list[list[tuple[deque[int], int, bool]]] = [
            [(self.queues[k], cfg.type_priority[k], self.withdraw[k]) for k in types]
            for types in self.pool_types
        ]
        # The same queues alone, to tell cheaply whether anything waits for a pool.
        self.pool_deques: list[list[deque[int]]] = [
            [self.queues[k] for k in types] for types in self.pool_types
        ]
        self.idle_close = cfg.idle_close_s
        self.longest_idle = cfg.policy == "longest_idle"
        self.by_priority = cfg.policy == "pool_priority"
        # events: the free list and each callback's (shared) callbacks list
        self.free: list[_Call] = []
        self.cb_arrival: Callbacks = [self._on_arrival]
        self.cb_reply: Callbacks = [self._on_reply]
        self.cb_buyer_message: Callbacks = [self._on_buyer_message]
        self.cb_reopen: Callbacks = [self._on_reopen]
        self.cb_close: Callbacks = [self._on_close]
        self.cb_patience: Callbacks = [self._on_patience]
        self.cb_bound: Callbacks = [self._on_bound]

    # -- scheduling -------------------------------------------------------

    def schedule(self) -> None:
        """Schedule the first arrival and the first shift boundary."""
        human = self.human
        if human:
            self._at(self.arrival[human[0]], self.env.now, 0, self.cb_arrival)
        cfg = self.cfg
        self.seg_agent: list[int] = cfg.segment_agent.tolist()
        self.seg_start: list[float] = cfg.segment_start_s.tolist()
        self.seg_end: list[float] = cfg.segment_end_s.tolist()
        # Boundaries as one time-ordered chain: ends before starts at equal times so a
        # back-to-back segment pair hands over without an agent being counted twice.
        bounds = sorted(
            [(e, 0, s) for s, e in enumerate(self.seg_end)]
            + [(b, 1, s) for s, b in enumerate(self.seg_start)]
        )
        self.bounds = bounds
        if bounds:
            self._at(bounds[0][0], self.env.now, 0, self.cb_bound)

    def _at(self, t: float, now: float, value: int, callbacks: Callbacks) -> None:
        """Schedule a callback at time ``t`` (or now, if ``t`` is past); ``now`` is ``env.now``."""
        free = self.free
        ev = free.pop() if free else _Call(self.env)
        ev.callbacks = callbacks
        ev._value = value
        d = t - now
        self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)

    def _again(self, ev: _Call, t: float, now: float, value: int, callbacks: Callbacks) -> None:
        """Schedule the event being processed again, at time ``t``."""
        ev.callbacks = callbacks
        ev._value = value
        d = t - now
        self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)

    def finish(self) -> _Columns:
        """The recorded columns, with the bot conversations and the end of the run settled.

        A buyer never answered whose patience ran out by the end has abandoned
        (and, where the type withdraws abandoned chats, is withdrawn).  The
        lists are released one by one as they are converted.
        """
        end = self.env.now
        w = self.w
        n = w.n_conversations
        # Release the compact inputs: the workload's own arrays serve from here on.
        empty_f: array[float] = array("d")
        empty_i: array[int] = array("q")
        self.think = self.compose_base = self.patience = self.arrival = empty_f
        self.queued_since = empty_f
        self.msg_conv = self.human = self.queued_msg = self.offset = self.ctype = empty_i
        first = w.msg_offset[:-1]

        reply_agent = np.fromiter(self.reply_agent, np.int32, len(self.reply_agent))
        self.reply_agent = []
        reply_kind = np.where(reply_agent >= 0, REPLY_HUMAN, 0).astype(np.int8)
        msg_time = _floats(self.msg_time)
        self.msg_time = []
        reply_time = _floats(self.reply_time)
        self.reply_time = []
        reply_compose = _floats(self.reply_compose)
        self.reply_compose = []
        agent = np.fromiter(self.conv_agent, np.int32, n)
        self.conv_agent = []
        assign_time = _floats(self.assign_time)
        self.assign_time = []
        close_time = _floats(self.close_time)
        self.close_time = []
        hold_start_conv = _floats(self.hold_start)
        self.hold_start = []
        abandon_time = _floats(self.abandon_time)
        self.abandon_time = []
        abandoned = np.frombuffer(self.abandoned, dtype=np.uint8).astype(np.bool_)
        idle_closed = np.frombuffer(self.idle_closed, dtype=np.uint8).astype(np.bool_)
        withdrawn = np.frombuffer(self.withdrawn, dtype=np.uint8).astype(np.bool_)
        self.abandoned = self.idle_closed = self.withdrawn = bytearray()

        # Bot conversations: every message answered by the bot at once, no agent.
        bots = np.flatnonzero(w.bot)
        if bots.size:
            j0 = w.msg_offset[bots]
            count = w.msg_offset[bots + 1] - j0
            t = w.arrival_s[bots].astype(np.float64)
            for k in range(int(count.max(initial=0))):
                sel = np.flatnonzero(count > k)
                j = j0[sel] + k
                t[sel] = t[sel] + w.think_s[j]
                msg_time[j] = t[sel]
                reply_time[j] = t[sel]
                reply_kind[j] = REPLY_BOT
            close_time[bots] = t

        # Spells still open at the end, in conversation order.
        self._flush_holds()
        still = np.flatnonzero((agent >= 0) & np.isnan(close_time))
        if still.size:
            block = np.empty((still.size, 4))
            block[:, 0] = still
            block[:, 1] = agent[still]
            block[:, 2] = hold_start_conv[still]
            block[:, 3] = _NAN
            self.hold_blocks.append(block)
        holds = np.concatenate([*self.hold_blocks, np.empty((0, 4))])
        self.hold_blocks = []

        # Buyers still unanswered whose patience ran out by the end.
        expire = w.arrival_s + w.patience_s
        gone = np.isnan(reply_time[first]) & ~abandoned & (expire <= end)
        abandoned |= gone
        abandon_time[gone] = expire[gone]
        withdraw_type = np.asarray(self.withdraw, dtype=np.bool_)[w.type_idx]
        out = gone & withdraw_type & (agent < 0)
        withdrawn |= out
        close_time[out] = expire[out]
        return _Columns(
            msg_time=msg_time,
            reply_time=reply_time,
            reply_kind=reply_kind,
            reply_agent=reply_agent,
            reply_compose=reply_compose,
            agent=agent,
            assign_time=assign_time,
            close_time=close_time,
            abandoned=abandoned,
            abandon_time=abandon_time,
            idle_closed=idle_closed,
            withdrawn=withdrawn,
            hold_conversation=holds[:, 0].astype(np.int64),
            hold_agent=holds[:, 1].astype(np.int32),
            hold_start=np.ascontiguousarray(holds[:, 2]),
            hold_end=np.ascontiguousarray(holds[:, 3]),
            spells=self.spells,
        )

    def _flush_holds(self) -> None:
        """Move the buffered holding spells to a numpy block (float64 holds the indices exactly)."""
        if self.holds:
            self.hold_blocks.append(np.array(self.holds, dtype=np.float64).reshape(-1, 4))
            self.holds.clear()

    # -- arrivals and routing ---------------------------------------------

    def _on_arrival(self, ev: _Call) -> None:
        k: int = ev._value
        human = self.human
        if k & (_EVERY - 1) == 0:
            if self.progress is not None:
                self.progress(k / len(human))
            if len(self.holds) >= _EVERY:
                self._flush_holds()
        now = self.env.now
        arrival = self.arrival
        if k + 1 < len(human):
            # The arrival chain reuses its event: one in flight at a time.
            ev.callbacks = self.cb_arrival
            ev._value = k + 1
            d = arrival[human[k + 1]] - now
            self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
        i = human[k]
        self.msg_time[self.offset[i]] = arrival[i]
        typ = self.ctype[i]
        a = self._pick_agent(typ)
        if a < 0:
            self.queues[typ].append(i)
        else:
            self._assign(i, a, now)
            self._refresh(a)

    def _pick_agent(self, typ: int) -> int:
        """The agent the policy gives a new conversation of this type, or -1."""
        best = -1
        best_key = 0.0
        best_seq = 0
        avail = self.avail
        entry_seq = self.entry_seq
        for p in self.type_pools[typ]:
            h = avail[p]
            while h:
                top = h[0]
                if entry_seq[top[2]] == top[1]:
                    break
                heapq.heappop(h)
            else:
                continue
            if self.by_priority:
                return top[2]
            key = top[0]
            if best < 0 or key < best_key or (key == best_key and top[1] < best_seq):
                best, best_key, best_seq = top[2], key, top[1]
        return best

    def _refresh(self, a: int) -> None:
        """Re-index an agent after its load or state changed (once its state is settled)."""
        p = self.apool[a]
        load = self.load[a]
        if self.accepting[a] and load < self.pool_cap[p]:
            seq = self.seq + 1
            self.seq = seq
            self.entry_seq[a] = seq
            key = self.last_assign[a] if self.longest_idle else load
            heapq.heappush(self.avail[p], (key, seq, a))
        else:
            self.entry_seq[a] = -1

    def _assign(self, i: int, a: int, now: float) -> None:
        """Give conversation ``i`` to agent ``a`` (the caller re-indexes the agent)."""
        self.conv_agent[i] = a
        self.hold_start[i] = now
        assign_time = self.assign_time
        if assign_time[i] != assign_time[i]:  # keep the first assignment
            assign_time[i] = now
        self.load[a] += 1
        self.last_assign[a] = now
        j = self.queued_msg[i]
        inbox = self.inbox[a]
        composing = self.composing
        if composing[a] < 0:
            if not inbox:
                self._start(a, j, i)
                return
            # Only inside a reply's handler: older messages wait in the inbox.
            heapq.heappush(inbox, (self.msg_time[j], j))
            self._compose_next(a)
        else:
            heapq.heappush(inbox, (self.msg_time[j], j))
        if j == self.offset[i] and composing[a] != j and self.withdraw[self.ctype[i]]:
            patience = self.patience[i]
            if patience < _INF:
                # The first reply waits behind others: the buyer may still give up.
                self._at(self.arrival[i] + patience, now, i, self.cb_patience)

    def _on_patience(self, ev: _Call) -> None:
        self.free.append(ev)
        i: int = ev._value
        j = self.offset[i]
        a = self.conv_agent[i]
        reply_time = self.reply_time
        if self.composing[a] == j or reply_time[j] == reply_time[j]:
            return  # the agent started (or sent) the reply in time
        self._withdraw(i)
        self._close(i, a, self.env.now)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)

    def _withdraw(self, i: int) -> None:
        """The buyer gave up and the conversation is withdrawn unanswered (closed then)."""
        self.withdrawn[i] = 1
        self.abandoned[i] = 1
        t = self.arrival[i] + self.patience[i]
        self.abandon_time[i] = t
        self.close_time[i] = t

    def _pull(self, a: int, now: float) -> None:
        """Fill an agent's free slots from the queues (best priority, then oldest)."""
        p = self.apool[a]
        cap = self.pool_cap[p]
        pool_queues = self.pool_queues[p]
        since = self.queued_since
        load = self.load
        while load[a] < cap:
            best: deque[int] | None = None
            best_prio = 0
            best_since = 0.0
            for q, prio, withdraw in pool_queues:
                if not q:
                    continue
                if withdraw:
                    self._drop_expired(q, now)
                    if not q:
                        continue
                s = since[q[0]]
                if best is None or prio < best_prio or (prio == best_prio and s < best_since):
                    best, best_prio, best_since = q, prio, s
            if best is None:
                return
            self._assign(best.popleft(), a, now)

    def _drop_expired(self, q: deque[int], now: float) -> None:
        """Withdraw the buyers at the head of a queue whose patience ran out while queued.

        Only a first message: a chat reopened after an idle close had its answer,
        and its buyer's patience no longer applies.
        """
        arrival, patience = self.arrival, self.patience
        queued_msg, offset = self.queued_msg, self.offset
        while q:
            i = q[0]
            if queued_msg[i] != offset[i] or not arrival[i] + patience[i] < now:
                return
            self._withdraw(q.popleft())

    # -- agents at work -----------------------------------------------------

    def _start(self, a: int, j: int, i: int) -> None:
        """Agent ``a`` starts the reply to message ``j`` of conversation ``i``."""
        self.composing[a] = j
        dur = self.compose_base[j] * self.agent_factor[a][self.ctype[i]]
        dur *= self.agent_conc[a][self.load[a] - 1]
        self.reply_compose[j] = dur
        free = self.free
        ev = free.pop() if free else _Call(self.env)
        ev.callbacks = self.cb_reply
        ev._value = a
        self.sched(ev, NORMAL, dur)

    def _compose_next(self, a: int) -> None:
        """Start on the oldest message in the inbox, skipping withdrawn chats."""
        inbox = self.inbox[a]
        msg_conv = self.msg_conv
        withdrawn = self.withdrawn
        while True:
            j = heapq.heappop(inbox)[1]
            i = msg_conv[j]
            if not withdrawn[i]:
                break
            if not inbox:
                return
        self._start(a, j, i)

    def _on_reply(self, ev: _Call) -> None:
        a: int = ev._value
        now = self.env.now
        composing = self.composing
        j = composing[a]
        composing[a] = -1
        i = self.msg_conv[j]
        self.reply_time[j] = now
        self.reply_agent[j] = a
        offset = self.offset
        if (
            j == offset[i]
            and now - self.arrival[i] > self.patience[i]
            and not self.withdraw[self.ctype[i]]
        ):
            # The buyer left before this reply: nothing more will come.
            self.free.append(ev)
            self.abandoned[i] = 1
            self.abandon_time[i] = self.arrival[i] + self.patience[i]
            self._close(i, a, now)
        elif j + 1 == offset[i + 1]:
            self.free.append(ev)
            wrap = self.wrap_up[self.ctype[i]]
            if wrap > 0.0:
                idle = self.idle_close
                self._at(now + (wrap if wrap < idle else idle), now, i, self.cb_close)
            else:
                self._close(i, a, now)
        else:
            think = self.think[j + 1]
            idle = self.idle_close
            if think > idle:
                # The chat is auto-closed after idle_close of silence; when the buyer
                # writes again it reopens and queues for an agent like a new chat.
                self.free.append(ev)
                self.idle_closed[i] = 1
                self._at(now + idle, now, i, self.cb_close)
                self._at(now + think, now, j + 1, self.cb_reopen)
            else:
                # The buyer's next message reuses this event.
                ev.callbacks = self.cb_buyer_message
                ev._value = j + 1
                d = (now + think) - now
                self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
        if composing[a] < 0:
            if self.inbox[a]:
                self._compose_next(a)
            if composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
                self._go_offline(a)

    def _on_buyer_message(self, ev: _Call) -> None:
        self.free.append(ev)
        j: int = ev._value
        now = self.env.now
        self.msg_time[j] = now
        i = self.msg_conv[j]
        a = self.conv_agent[i]
        inbox = self.inbox[a]
        if self.composing[a] < 0 and not inbox:
            self._start(a, j, i)
        else:
            heapq.heappush(inbox, (now, j))
            if self.composing[a] < 0:
                self._compose_next(a)

    def _on_reopen(self, ev: _Call) -> None:
        self.free.append(ev)
        j: int = ev._value
        now = self.env.now
        self.msg_time[j] = now
        i = self.msg_conv[j]
        self.queued_msg[i] = j
        self.queued_since[i] = now
        typ = self.ctype[i]
        a = self._pick_agent(typ)
        if a < 0:
            self.queues[typ].append(i)
        else:
            self._assign(i, a, now)
            self._refresh(a)

    def _on_close(self, ev: _Call) -> None:
        self.free.append(ev)
        i: int = ev._value
        a = self.conv_agent[i]
        self._close(i, a, self.env.now)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)

    def _close(self, i: int, a: int, now: float) -> None:
        """Close conversation ``i`` held by agent ``a``: free the slot and refill it."""
        self.close_time[i] = now
        self.holds.append((i, a, self.hold_start[i], now))
        self.load[a] -= 1
        if self.accepting[a] and any(self.pool_deques[self.apool[a]]):
            self._pull(a, now)
        self._refresh(a)

    # -- shifts and sub-accounts ----------------------------------------------

    def _on_bound(self, ev: _Call) -> None:
        # Every boundary at this instant is handled together: all segment ends first,
        # then the log-offs they allow, then the starts.  One at a time, a sub-account
        # freed by an ending agent could go to a waiting agent whose own segment ends
        # at the same instant but has not been processed yet.
        k: int = ev._value
        now = self.env.now
        bounds = self.bounds
        t = bounds[k][0]
        last = k
        while last + 1 < len(bounds) and bounds[last + 1][0] == t:
            last += 1
        if last + 1 < len(bounds):
            # The boundary chain reuses its event: one in flight at a time.
            self._again(ev, bounds[last + 1][0], now, last + 1, self.cb_bound)
        batch = bounds[k : last + 1]
        ended = [self.seg_agent[seg] for _, kind, seg in batch if kind == 0]
        for a in ended:
            self.want_online[a] = False
            if self.online[a]:
                self.accepting[a] = False
                self._refresh(a)
        for a in ended:
            if self.online[a] and not self.want_online[a] and self.load[a] == 0:
                if self.composing[a] < 0:
                    self._go_offline(a)
        for _, kind, seg in batch:
            if kind == 1:
                self._segment_start(self.seg_agent[seg], now)

    def _segment_start(self, a: int, now: float) -> None:
        self.want_online[a] = True
        if self.online[a]:
            # Still draining the previous segment: simply accept again.
            self.accepting[a] = True
            self._pull(a, now)
            self._refresh(a)
        elif self.free_subaccounts > 0:
            self.free_subaccounts -= 1
            self._go_online(a)
        else:
            self.subaccount_wait.append(a)

    def _go_online(self, a: int) -> None:
        now = self.env.now
        self.online[a] = True
        self.accepting[a] = True
        self.online_since[a] = now
        self._pull(a, now)
        self._refresh(a)

    def _go_offline(self, a: int) -> None:
        if not self.online[a]:
            return
        self.online[a] = False
        self.accepting[a] = False
        self._refresh(a)
        self.spells.append((a, self.online_since[a], self.env.now))
        # Hand the sub-account to the first agent still waiting for one.
        while self.subaccount_wait:
            b = self.subaccount_wait.popleft()
            if self.want_online[b] and not self.online[b]:
                self._go_online(b)
                return
        self.free_subaccounts += 1


def _ordered_pools(cfg: EngineConfig) -> list[int]:
    order = list(cfg.pool_order)
    return order + [p for p in range(len(cfg.pools)) if p not in order]
