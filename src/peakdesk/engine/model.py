"""The message-level chat simulator (simpy).

Model
-----
* A conversation is a sequence of buyer messages.  Each waits for a reply;
  after a reply the buyer thinks (``think_s``) and writes the next one.  It ends
  after the reply to its last message (plus the type's wrap-up), or when its
  buyer has abandoned and been answered.
* A new conversation waits in its type's queue until an eligible agent (pool
  has the skill, agent online and accepting, below its concurrency cap) takes
  it under the routing policy; that agent keeps it until it closes (or hands
  it back at its shift end).  Among agents holding equally few chats,
  ``least_loaded`` picks the one whose load changed least recently.
* How an agent works its chats is its pool's **discipline**:

  - ``sequential``: an agent is one person; replies to its open conversations
    are composed one at a time, the oldest waiting buyer message first.
    Compose time = the message's base compose time x the pool's time factor
    for the type (``1 / (speed * proficiency)``) x the concurrency multiplier
    for the number of conversations held when the reply is started.
  - ``parallel``: every waiting reply of an agent progresses at once; while
    the agent holds ``k`` conversations each progresses at rate
    ``1 / multiplier[k - 1]`` (processor sharing, re-rated whenever ``k``
    changes), so a reply of base work ``w`` written at a constant ``k`` takes
    ``w x multiplier[k - 1]``, as in the sequential formula.  With one message
    per conversation and exponential compose times this is the chat model of
    :mod:`peakdesk.analytic.chat` (exactly, when the multiplier is flat).

* Patience (per inquiry type): with ``patience_until = "first_reply"`` a buyer
  whose first message is not answered within their patience leaves and sends
  nothing more; with ``"assignment"`` the buyer leaves only if no agent has
  taken the chat within their patience.  By default the message stays in the
  queue and is still answered (silent abandonment: it counts against response
  metrics), decided when the reply is sent or the chat assigned, which needs no
  event of its own.  A type with ``answer_after_abandon = false`` withdraws the
  conversation instead: from the queue when patience runs out before an agent
  takes it, or (``first_reply``) from an agent's inbox while no reply to it has
  been started (a buyer who sees the agent typing waits for it).
* Shifts: at the start of an online segment an agent takes a free sub-account
  (or waits, first come first served, for one).  At the end of a segment (a
  shift end or a break) the agent stops taking new conversations, and then by
  the pool's ``shift_end``:

  - ``drain``: finishes the ones it holds and only then logs off and frees the
    sub-account (what agents do in Qianniu-like tools: set status to busy,
    finish, log off); the time past the segment end is recorded;
  - ``hand_back``: logs off at once; every held conversation waiting for a
    reply goes back to the head of its queue (keeping its arrival time, first
    reply and the work already done on the reply being written), and the ones
    waiting on their buyer are released (the buyer's next message reopens the
    chat into the queue, like an idle auto-close);
  - ``log_off``: drains for at most the pool's grace, then hands back the rest.

  An agent whose next segment starts at the same instant simply carries on.
  Online agents never exceed the sub-account count.
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
other chats adds a patience check).  A parallel agent has at most one
completion event in flight, for its reply due first; when its rate or its
first-due reply changes the event is replaced (the old one is skipped when it
fires).  There is no process per conversation and no scan over all agents per
event: agents free to take a chat are kept in one heap per pool, and waiting
chats in one FIFO queue per type.

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
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import NORMAL, Event

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import ChatLog
from peakdesk.engine.recorder import Recorded, chat_log

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
    env = simpy.Environment()
    sim = _Simulation(env, config, workload, progress)
    sim.schedule()
    env.run()
    if progress is not None:
        progress(1.0)
    recorded = sim.finish()
    del sim
    return chat_log(
        recorded,
        config,
        workload,
        start=start,
        horizon_s=horizon_s,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base,
        conversion_half_life_s=conversion_half_life_s,
    )


class _Call(Event):
    """A reusable simpy event, successful from the start.

    The simulation sets its ``callbacks`` (a shared one-item list, never
    appended to) and its ``_value`` (the payload), then schedules it with
    ``env.schedule``; its callback returns it to the free list.
    """

    _ok = True


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
        # The compose time of a sent reply; while a parallel agent is writing it,
        # the time it started.
        self.reply_compose: list[float] = [_NAN] * m
        # conversation state
        self.conv_agent: list[int] = [-1] * n  # the agent that took it last
        self.holder: list[int] = [-1] * n  # the agent holding it now, -1 if none
        self.assign_time: list[float] = [_NAN] * n
        self.close_time: list[float] = [_NAN] * n
        self.abandoned = bytearray(n)
        self.abandon_time: list[float] = [_NAN] * n
        self.idle_closed = bytearray(n)
        self.withdrawn = bytearray(n)
        # The message a queued conversation waits with (the first, or the one that
        # reopened it after an idle auto-close or a hand-back) and since when.
        self.queued_msg: array[int] = _compact("q", w.msg_offset[:-1], np.int64)
        self.queued_since: array[float] = _compact("d", w.arrival_s, np.float64)
        # Each spell an agent held a conversation: (conversation, agent, start, end),
        # buffered here and moved to numpy blocks now and then.
        self.hold_start: list[float] = [_NAN] * n
        self.holds: list[tuple[int, int, float, float]] = []
        self.hold_blocks: list[F64] = []
        # Waits in a queue after the first one (a reopened or handed-back chat):
        # conversation -> since when, and the finished spells.
        self.requeued_at: dict[int, float] = {}
        self.requeues: list[tuple[int, float, float]] = []
        self.handed_back: dict[int, int] = {}
        # Replies handed back while being written: message -> share of its work left.
        self.work_left: dict[int, float] = {}
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
        # The end of the agent's last segment (for the time worked past it).
        self.segment_end: list[float] = [_NAN] * na
        self.spells: list[tuple[int, float, float, float]] = []
        self.free_subaccounts = cfg.subaccounts
        self.subaccount_wait: deque[int] = deque()
        # Seat groups (a client shop's sub-accounts): free seats, and each agent's groups.
        self.group_free: list[int] = [count for count, _ in cfg.seat_groups]
        self.cfg_has_groups = bool(cfg.seat_groups)
        self.agent_groups: list[tuple[int, ...]] = [
            tuple(g for g, (_, pools) in enumerate(cfg.seat_groups) if p in pools)
            for p in self.apool
        ]
        # pools
        self.pool_cap: list[int] = [p.max_concurrency for p in cfg.pools]
        pool_conc = [list(p.concurrency_multiplier) for p in cfg.pools]
        pool_factor = [list(p.time_factor_by_type) for p in cfg.pools]
        # Each agent's pool's compose-time factors: by type, and by chats held.
        self.agent_factor: list[list[float]] = [pool_factor[p] for p in self.apool]
        self.agent_conc: list[list[float]] = [pool_conc[p] for p in self.apool]
        # Shift end per agent: 0 drain, 1 hand back, 2 log off after a grace.
        ends = {"drain": 0, "hand_back": 1, "log_off": 2}
        self.agent_end: list[int] = [ends[cfg.pools[p].shift_end] for p in self.apool]
        self.agent_grace: list[float] = [cfg.pools[p].grace_s for p in self.apool]
        # What a hand-back needs: the chats each agent holds and its reply in progress.
        self.track = any(e != 0 for e in self.agent_end)
        self.held: list[set[int] | None] = [set() if e else None for e in self.agent_end]
        self.reply_ev: list[_Call | None] = [None] * na
        self.compose_start: list[float] = [0.0] * na
        self.cut_ev: list[_Call | None] = [None] * na
        self.cut_batches: list[list[int]] = []
        # Writing that a hand-back cut short: (agent, start, end) of each attempt.
        self.aborted: list[tuple[int, float, float]] = []
        # When the last event that did something happened (the run's end; events
        # that only find themselves superseded do not move it).
        self.t_act = 0.0
        # Parallel agents: every waiting reply progresses at rate ps_rate, as the
        # agent's work clock V(t) = ps_v0 + (t - ps_t0) * ps_rate advances; a reply of
        # work w added at V is due when V reaches V + w (heap of (due V, msg, w)).
        self.par: list[bool] = [cfg.pools[p].discipline == "parallel" for p in self.apool]
        self.ps_v0: list[float] = [0.0] * na
        self.ps_t0: list[float] = [0.0] * na
        self.ps_rate: list[float] = [0.0] * na
        self.ps_heap: list[list[tuple[float, int, float]]] = [[] for _ in range(na)]
        self.ps_ev: list[_Call | None] = [None] * na
        self.ps_due: list[float] = [_NAN] * na
        self.ps_dirty: list[int] = []
        self.ps_is_dirty: list[bool] = [False] * na
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
        self.at_assign: list[bool] = list(cfg.patience_at_assignment or (False,) * n_types)
        self.any_at_assign = any(self.at_assign)
        # Per pool, the queues it serves in type order: (queue, type priority, withdraw,
        # patience until assignment, reply deadline: 0 unless the order is "deadline").
        deadline = list(cfg.type_deadline_s or (0.0,) * n_types)
        self.pool_queues: list[list[tuple[deque[int], int, bool, bool, float]]] = [
            [
                (
                    self.queues[k],
                    cfg.type_priority[k],
                    self.withdraw[k],
                    self.at_assign[k],
                    deadline[k],
                )
                for k in types
            ]
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
        self.cb_ps_reply: Callbacks = [self._on_ps_reply]
        self.cb_buyer_message: Callbacks = [self._on_buyer_message]
        self.cb_reopen: Callbacks = [self._on_reopen]
        self.cb_close: Callbacks = [self._on_close]
        self.cb_patience: Callbacks = [self._on_patience]
        self.cb_bound: Callbacks = [self._on_bound]
        self.cb_cut: Callbacks = [self._on_cut]

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

    def _at(self, t: float, now: float, value: int, callbacks: Callbacks) -> _Call:
        """Schedule a callback at time ``t`` (or now, if ``t`` is past); ``now`` is ``env.now``."""
        free = self.free
        ev = free.pop() if free else _Call(self.env)
        ev.callbacks = callbacks
        ev._value = value
        d = t - now
        self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
        return ev

    def _again(self, ev: _Call, t: float, now: float, value: int, callbacks: Callbacks) -> None:
        """Schedule the event being processed again, at time ``t``."""
        ev.callbacks = callbacks
        ev._value = value
        d = t - now
        self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)

    def finish(self) -> Recorded:
        """What the loop recorded, as numpy columns (the lists released one by one)."""
        w = self.w
        n = w.n_conversations
        # Release the compact inputs: the workload's own arrays serve from here on.
        empty_f: array[float] = array("d")
        empty_i: array[int] = array("q")
        self.think = self.compose_base = self.patience = self.arrival = empty_f
        self.queued_since = empty_f
        self.msg_conv = self.human = self.queued_msg = self.offset = self.ctype = empty_i

        reply_agent = np.fromiter(self.reply_agent, np.int32, len(self.reply_agent))
        self.reply_agent = []
        msg_time = _floats(self.msg_time)
        self.msg_time = []
        reply_time = _floats(self.reply_time)
        self.reply_time = []
        reply_compose = _floats(self.reply_compose)
        self.reply_compose = []
        agent = np.fromiter(self.conv_agent, np.int32, n)
        self.conv_agent = []
        holder = np.fromiter(self.holder, np.int32, n)
        self.holder = []
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
        self._flush_holds()
        holds = np.concatenate([*self.hold_blocks, np.empty((0, 4))])
        self.hold_blocks = []
        handed = np.zeros(n, dtype=np.int32)
        if self.handed_back:
            handed[np.fromiter(self.handed_back, np.int64)] = np.fromiter(
                self.handed_back.values(), np.int32
            )
        return Recorded(
            end_s=self.t_act,
            msg_time=msg_time,
            reply_time=reply_time,
            reply_agent=reply_agent,
            reply_compose=reply_compose,
            agent=agent,
            holder=holder,
            assign_time=assign_time,
            close_time=close_time,
            hold_start=hold_start_conv,
            abandon_time=abandon_time,
            abandoned=abandoned,
            idle_closed=idle_closed,
            withdrawn=withdrawn,
            holds=holds,
            spell_agent=np.asarray([s[0] for s in self.spells], dtype=np.int32),
            spell_start=np.asarray([s[1] for s in self.spells], dtype=np.float64),
            spell_end=np.asarray([s[2] for s in self.spells], dtype=np.float64),
            spell_sched=np.asarray([s[3] for s in self.spells], dtype=np.float64),
            requeues_closed=self.requeues,
            requeues_open=list(self.requeued_at.items()),
            handed_back=handed,
            aborted=np.asarray(self.aborted, dtype=np.float64).reshape(-1, 3),
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
        self.t_act = now
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
            if self.ps_dirty:
                self._ps_flush(now)

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
        self.holder[i] = a
        self.hold_start[i] = now
        assign_time = self.assign_time
        if assign_time[i] != assign_time[i]:  # keep the first assignment
            assign_time[i] = now
            if self.any_at_assign and self.at_assign[self.ctype[i]]:
                # Patience until assignment: a buyer taken too late has already left.
                t_left = self.arrival[i] + self.patience[i]
                if now > t_left:
                    self.abandoned[i] = 1
                    self.abandon_time[i] = t_left
        if self.requeued_at:
            since = self.requeued_at.pop(i, None)
            if since is not None:
                self.requeues.append((i, since, now))
        self.load[a] += 1
        self.last_assign[a] = now
        held = self.held[a]
        if held is not None:
            held.add(i)
        j = self.queued_msg[i]
        if self.par[a]:
            self._ps_add(a, j, i, now)
            return
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
        typ = self.ctype[i]
        if (
            j == self.offset[i]
            and composing[a] != j
            and self.withdraw[typ]
            and not self.at_assign[typ]
            and j not in self.work_left
        ):
            patience = self.patience[i]
            if patience < _INF:
                # The first reply waits behind others: the buyer may still give up.
                self._at(self.arrival[i] + patience, now, i, self.cb_patience)

    def _on_patience(self, ev: _Call) -> None:
        self.free.append(ev)
        i: int = ev._value
        if self.withdrawn[i]:
            return
        j = self.offset[i]
        a = self.holder[i]
        if self.reply_time[j] == self.reply_time[j] or j in self.work_left:
            return  # answered, or its reply was begun before a hand-back
        if a >= 0 and (self.composing[a] == j or self.par[a]):
            return  # the agent started the reply in time (a parallel agent at once)
        now = self.env.now
        self.t_act = now
        self._withdraw(i)
        if a < 0:
            return  # handed back and queued: the queue skips it
        self._close(i, a, now)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)
        if self.ps_dirty:
            self._ps_flush(now)

    def _withdraw(self, i: int) -> None:
        """The buyer gave up and the conversation is withdrawn unanswered (closed then)."""
        self.withdrawn[i] = 1
        self.abandoned[i] = 1
        t = self.arrival[i] + self.patience[i]
        self.abandon_time[i] = t
        self.close_time[i] = t
        if self.requeued_at:
            since = self.requeued_at.pop(i, None)
            if since is not None:
                self.requeues.append((i, since, t))

    def _pull(self, a: int, now: float) -> None:
        """Fill an agent's free slots from the queues (best priority, then oldest or due first)."""
        p = self.apool[a]
        cap = self.pool_cap[p]
        pool_queues = self.pool_queues[p]
        since = self.queued_since
        load = self.load
        while load[a] < cap:
            best: deque[int] | None = None
            best_prio = 0
            best_since = 0.0
            for q, prio, withdraw, at_assign, due in pool_queues:
                if not q:
                    continue
                if withdraw:
                    self._drop_expired(q, now, at_assign)
                    if not q:
                        continue
                # Each queue is in arrival order, so its head is also its soonest due.
                s = since[q[0]] + due
                if best is None or prio < best_prio or (prio == best_prio and s < best_since):
                    best, best_prio, best_since = q, prio, s
            if best is None:
                return
            self._assign(best.popleft(), a, now)

    def _drop_expired(self, q: deque[int], now: float, at_assign: bool) -> None:
        """Withdraw the buyers at the head of a queue whose patience ran out while queued.

        Only a first message: a chat reopened after an idle close had its answer,
        and its buyer's patience no longer applies; nor does it to a chat handed
        back once taken (patience until assignment) or once its first reply was
        begun.
        """
        arrival, patience = self.arrival, self.patience
        queued_msg, offset = self.queued_msg, self.offset
        withdrawn = self.withdrawn
        while q:
            i = q[0]
            if withdrawn[i]:
                q.popleft()  # withdrawn while queued after a hand-back
                continue
            j = offset[i]
            if queued_msg[i] != j or not arrival[i] + patience[i] < now:
                return
            if (self.work_left or at_assign) and self._committed(i, j, at_assign):
                return
            self._withdraw(q.popleft())

    def _committed(self, i: int, j: int, at_assign: bool) -> bool:
        """Whether a queued buyer no longer gives up: taken once (patience until
        assignment), or the first reply ``j`` was begun before a hand-back."""
        if at_assign:
            return self.assign_time[i] == self.assign_time[i]
        return j in self.work_left

    # -- agents at work -----------------------------------------------------

    def _start(self, a: int, j: int, i: int) -> None:
        """Agent ``a`` starts the reply to message ``j`` of conversation ``i``."""
        self.composing[a] = j
        dur = self.compose_base[j] * self.agent_factor[a][self.ctype[i]]
        dur *= self.agent_conc[a][self.load[a] - 1]
        if self.work_left:
            dur *= self.work_left.get(j, 1.0)
        self.reply_compose[j] = dur
        free = self.free
        ev = free.pop() if free else _Call(self.env)
        ev.callbacks = self.cb_reply
        ev._value = a
        self.sched(ev, NORMAL, dur)
        if self.track:
            self.reply_ev[a] = ev
            self.compose_start[a] = self.env.now

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
        if self.track:
            if ev is not self.reply_ev[a]:
                self.free.append(ev)  # a reply the agent handed back unfinished
                return
            self.reply_ev[a] = None
        now = self.env.now
        self.t_act = now
        composing = self.composing
        j = composing[a]
        composing[a] = -1
        self._replied(a, j, now, ev)
        if composing[a] < 0:
            if self.inbox[a]:
                self._compose_next(a)
            if composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
                self._go_offline(a)
        if self.ps_dirty:
            self._ps_flush(now)

    def _replied(self, a: int, j: int, now: float, ev: _Call) -> None:
        """Agent ``a`` sent the reply to message ``j``: what the buyer does next.

        ``ev`` is the event being processed: reused for the buyer's next message,
        else returned to the free list.
        """
        i = self.msg_conv[j]
        self.reply_time[j] = now
        self.reply_agent[j] = a
        if self.work_left:
            self.work_left.pop(j, None)
        offset = self.offset
        t = self.ctype[i]
        if (
            j == offset[i]
            and (
                self.abandoned[i] if self.at_assign[t] else now - self.arrival[i] > self.patience[i]
            )
            and not self.withdraw[t]
        ):
            # The buyer left before this reply: nothing more will come.
            self.free.append(ev)
            self.abandoned[i] = 1
            self.abandon_time[i] = self.arrival[i] + self.patience[i]
            self._close(i, a, now)
        elif j + 1 == offset[i + 1]:
            self.free.append(ev)
            wrap = self.wrap_up[t]
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

    def _on_buyer_message(self, ev: _Call) -> None:
        self.free.append(ev)
        j: int = ev._value
        now = self.env.now
        self.t_act = now
        i = self.msg_conv[j]
        a = self.holder[i]
        if a < 0:
            # Released at its agent's shift end while the buyer was thinking.
            self._reopen(j, now)
            return
        self.msg_time[j] = now
        if self.par[a]:
            self._ps_add(a, j, i, now)
            self._ps_flush(now)
            return
        inbox = self.inbox[a]
        if self.composing[a] < 0 and not inbox:
            self._start(a, j, i)
        else:
            heapq.heappush(inbox, (now, j))
            if self.composing[a] < 0:
                self._compose_next(a)

    def _on_reopen(self, ev: _Call) -> None:
        self.free.append(ev)
        self.t_act = self.env.now
        self._reopen(ev._value, self.t_act)

    def _reopen(self, j: int, now: float) -> None:
        """The buyer of a closed chat writes message ``j``: it queues for an agent."""
        self.msg_time[j] = now
        i = self.msg_conv[j]
        self.queued_msg[i] = j
        self.queued_since[i] = now
        self.requeued_at[i] = now
        typ = self.ctype[i]
        a = self._pick_agent(typ)
        if a < 0:
            self.queues[typ].append(i)
        else:
            self._assign(i, a, now)
            self._refresh(a)
            if self.ps_dirty:
                self._ps_flush(now)

    def _on_close(self, ev: _Call) -> None:
        self.free.append(ev)
        i: int = ev._value
        a = self.holder[i]
        if a < 0:
            return  # released at a hand-back before its wrap-up or idle close was due
        now = self.env.now
        self.t_act = now
        self._close(i, a, now)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)
        if self.ps_dirty:
            self._ps_flush(now)

    def _close(self, i: int, a: int, now: float) -> None:
        """Close conversation ``i`` held by agent ``a``: free the slot and refill it."""
        self.close_time[i] = now
        self.holds.append((i, a, self.hold_start[i], now))
        self.holder[i] = -1
        held = self.held[a]
        if held is not None:
            held.discard(i)
        self.load[a] -= 1
        if self.par[a]:
            self._ps_touch(a)
        if self.accepting[a] and any(self.pool_deques[self.apool[a]]):
            self._pull(a, now)
        self._refresh(a)

    # -- parallel agents ------------------------------------------------------

    def _ps_add(self, a: int, j: int, i: int, now: float) -> None:
        """A parallel agent starts on the reply to message ``j`` (conversation ``i``)."""
        work = self.compose_base[j] * self.agent_factor[a][self.ctype[i]]
        if self.work_left:
            work *= self.work_left.get(j, 1.0)
        v_now = self.ps_v0[a] + (now - self.ps_t0[a]) * self.ps_rate[a]
        heapq.heappush(self.ps_heap[a], (v_now + work, j, work))
        self.reply_compose[j] = now  # the start, until the reply is sent
        self._ps_touch(a)

    def _ps_touch(self, a: int) -> None:
        """Note that a parallel agent's load or replies changed (settled by ``_ps_flush``)."""
        if not self.ps_is_dirty[a]:
            self.ps_is_dirty[a] = True
            self.ps_dirty.append(a)

    def _ps_flush(self, now: float) -> None:
        """Re-rate the parallel agents touched at this instant and schedule their next reply.

        Called once the handler's changes are done, so an agent whose load moves
        several times at one instant is re-rated once, from its final load.
        """
        for a in self.ps_dirty:
            self.ps_is_dirty[a] = False
            load = self.load[a]
            rate = 1.0 / self.agent_conc[a][load - 1] if load > 0 else 0.0
            old = self.ps_rate[a]
            changed = rate != old
            if changed:
                self.ps_v0[a] += (now - self.ps_t0[a]) * old
                self.ps_t0[a] = now
                self.ps_rate[a] = rate
            heap = self.ps_heap[a]
            if not heap:
                self.ps_ev[a] = None
                continue
            due = heap[0][0]
            if not changed and self.ps_ev[a] is not None and due == self.ps_due[a]:
                continue  # the event in flight is still right
            d = (due - self.ps_v0[a]) / rate - (now - self.ps_t0[a])
            free = self.free
            ev = free.pop() if free else _Call(self.env)
            ev.callbacks = self.cb_ps_reply
            ev._value = a
            self.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
            self.ps_ev[a] = ev
            self.ps_due[a] = due
        self.ps_dirty.clear()

    def _on_ps_reply(self, ev: _Call) -> None:
        a: int = ev._value
        if ev is not self.ps_ev[a]:
            self.free.append(ev)  # superseded: the agent was re-rated or handed back
            return
        self.ps_ev[a] = None
        now = self.env.now
        self.t_act = now
        due, j, _ = heapq.heappop(self.ps_heap[a])
        # The work clock reached the reply's due value now (snapped: no drift).
        self.ps_v0[a] = due
        self.ps_t0[a] = now
        self.reply_compose[j] = now - self.reply_compose[j]
        self._ps_touch(a)
        self._replied(a, j, now, ev)
        if not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)
        self._ps_flush(now)

    # -- shifts and sub-accounts ----------------------------------------------

    def _on_bound(self, ev: _Call) -> None:
        # Every boundary at this instant is handled together: all segment ends first,
        # then the log-offs they allow, then the starts.  One at a time, a sub-account
        # freed by an ending agent could go to a waiting agent whose own segment ends
        # at the same instant but has not been processed yet.
        k: int = ev._value
        now = self.env.now
        self.t_act = now
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
            self.segment_end[a] = now
            if self.online[a]:
                self.accepting[a] = False
                self._refresh(a)
        starting = (
            {self.seg_agent[seg] for _, kind, seg in batch if kind == 1} if self.track else set()
        )
        back: list[int] = []
        cuts: dict[float, list[int]] = {}
        for a in ended:
            if not self.online[a] or self.want_online[a]:
                continue
            policy = self.agent_end[a]
            if policy and a in starting:
                continue  # its next segment starts now: it carries on
            if self.load[a] == 0:
                if self.composing[a] < 0:
                    self._go_offline(a)
            elif policy == 1:
                back.append(a)
            elif policy == 2:
                cuts.setdefault(self.agent_grace[a], []).append(a)
        if back:
            self._hand_back(back, now)
        for grace, agents in cuts.items():
            # One cut for the agents of a grace: their chats go back together, oldest first.
            cut = self._at(now + grace, now, len(self.cut_batches), self.cb_cut)
            self.cut_batches.append(agents)
            for a in agents:
                self.cut_ev[a] = cut
        for _, kind, seg in batch:
            if kind == 1:
                self._segment_start(self.seg_agent[seg], now)
        if self.ps_dirty:
            self._ps_flush(now)

    def _on_cut(self, ev: _Call) -> None:
        self.free.append(ev)
        k: int = ev._value
        agents, self.cut_batches[k] = self.cut_batches[k], []
        # Only the agents still draining under this cut (not back on shift, not gone).
        due = [a for a in agents if self.cut_ev[a] is ev]
        for a in due:
            self.cut_ev[a] = None
        due = [a for a in due if self.online[a] and not self.want_online[a]]
        if due:
            now = self.env.now
            self.t_act = now
            self._hand_back(due, now)
            if self.ps_dirty:
                self._ps_flush(now)

    def _hand_back(self, agents: list[int], now: float) -> None:
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
            back += self._detach(a, now)
        # Oldest first at the head of each queue, ahead of the chats already waiting.
        back.sort(key=lambda c: (self.queued_since[c], c), reverse=True)
        for i in back:
            self.queues[self.ctype[i]].appendleft(i)
        for a in agents:
            self._go_offline(a)
        # The chats handed back go to agents free to take them, as new ones would.
        for typ in sorted({self.ctype[i] for i in back}):
            q = self.queues[typ]
            while q:
                b = self._pick_agent(typ)
                if b < 0:
                    break
                self._pull(b, now)
                self._refresh(b)

    def _detach(self, a: int, now: float) -> list[int]:
        """Take agent ``a``'s chats off it (see :meth:`_hand_back`); the ones to requeue."""
        held = self.held[a]
        assert held is not None
        pending: dict[int, int] = {}  # conversation -> its message waiting for a reply
        j = self.composing[a]
        if j >= 0:
            dur = self.reply_compose[j]
            start = self.compose_start[a]
            self.composing[a] = -1
            self.reply_ev[a] = None  # its completion event is skipped when it fires
            if start + dur <= now:
                # Due now (its completion event comes later at this instant): sent.
                self._replied(a, j, now, self.free.pop() if self.free else _Call(self.env))
            else:
                # What is left of the reply's work goes with it.
                left = (start + dur - now) / dur if dur > 0.0 else 1.0
                self.work_left[j] = self.work_left.get(j, 1.0) * min(max(left, 0.0), 1.0)
                pending[self.msg_conv[j]] = j
                self.aborted.append((a, start, now))
        for _, jj in self.inbox[a]:
            pending[self.msg_conv[jj]] = jj
        self.inbox[a] = []
        if self.par[a]:
            heap = self.ps_heap[a]
            v_now = self.ps_v0[a] + (now - self.ps_t0[a]) * self.ps_rate[a]
            while heap and heap[0][0] - v_now <= 1e-9 * max(1.0, abs(v_now)):
                _, jj, _ = heapq.heappop(heap)  # due now: sent
                self.reply_compose[jj] = now - self.reply_compose[jj]
                self._replied(a, jj, now, self.free.pop() if self.free else _Call(self.env))
            for due, jj, work in heap:
                share = (due - v_now) / work if work > 0.0 else 1.0
                self.work_left[jj] = self.work_left.get(jj, 1.0) * min(max(share, 0.0), 1.0)
                self.aborted.append((a, self.reply_compose[jj], now))
                self.reply_compose[jj] = _NAN
                pending[self.msg_conv[jj]] = jj
            self.ps_heap[a] = []
            self.ps_ev[a] = None
            self.ps_v0[a] = v_now
            self.ps_t0[a] = now
            self.ps_rate[a] = 0.0
        back: list[int] = []
        for i in sorted(held):
            self.holds.append((i, a, self.hold_start[i], now))
            self.holder[i] = -1
            jj = pending.get(i, -1)
            if jj < 0 or self.withdrawn[i]:
                self.close_time[i] = now  # released: nothing to answer now
                continue
            self.queued_msg[i] = jj
            self.requeued_at[i] = now
            self.handed_back[i] = self.handed_back.get(i, 0) + 1
            back.append(i)
        held.clear()
        self.load[a] = 0
        return back

    def _segment_start(self, a: int, now: float) -> None:
        self.want_online[a] = True
        if self.online[a]:
            # Still draining the previous segment (or carrying on): accept again.
            self.cut_ev[a] = None
            self.accepting[a] = True
            self._pull(a, now)
            self._refresh(a)
        elif self._seat_free(a):
            self._take_seats(a)
            self._go_online(a)
        else:
            self.subaccount_wait.append(a)

    def _seat_free(self, a: int) -> bool:
        """A sub-account, and a seat in each of the agent's groups, are free."""
        return self.free_subaccounts > 0 and all(
            self.group_free[g] > 0 for g in self.agent_groups[a]
        )

    def _take_seats(self, a: int) -> None:
        self.free_subaccounts -= 1
        for g in self.agent_groups[a]:
            self.group_free[g] -= 1

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
        self.cut_ev[a] = None
        self._refresh(a)
        now = self.env.now
        self.spells.append((a, self.online_since[a], now, self.segment_end[a]))
        self.free_subaccounts += 1
        for g in self.agent_groups[a]:
            self.group_free[g] += 1
        if not self.subaccount_wait:
            return
        # The freed seats go to the agents still waiting, in the order they came: the
        # first whose seats are all free (without groups: the first still waiting).
        # Agents no longer wanting to be online leave the line.
        keep: deque[int] = deque()
        while self.subaccount_wait:
            b = self.subaccount_wait.popleft()
            if not self.want_online[b] or self.online[b]:
                continue
            if self._seat_free(b):
                self._take_seats(b)
                self._go_online(b)
                if not self.cfg_has_groups:
                    break
                continue
            keep.append(b)
        keep.extend(self.subaccount_wait)
        self.subaccount_wait = keep


def _ordered_pools(cfg: EngineConfig) -> list[int]:
    order = list(cfg.pool_order)
    return order + [p for p in range(len(cfg.pools)) if p not in order]
