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
  and need no agent; they never enter the event loop.

Events per human conversation with ``k`` buyer messages: one arrival, ``k``
reply completions, ``k - 1`` buyer messages and at most one delayed close.
Everything runs as callbacks on :class:`simpy.events.Timeout`; there is no
process per conversation and no scan over all agents per event.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import Timeout

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN, ChatLog

_NAN = math.nan
_INF = math.inf


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
    sim.finish()
    return ChatLog(
        workload=workload,
        start=start,
        horizon_s=horizon_s,
        msg_time_s=np.asarray(sim.msg_time, dtype=np.float64),
        reply_time_s=np.asarray(sim.reply_time, dtype=np.float64),
        reply_kind=np.asarray(sim.reply_kind, dtype=np.int8),
        reply_agent=np.asarray(sim.reply_agent, dtype=np.int32),
        reply_compose_s=np.asarray(sim.reply_compose, dtype=np.float64),
        auto_reply_s=(
            workload.arrival_s.copy()
            if config.auto_greeting
            else np.full(workload.n_conversations, np.nan)
        ),
        agent=np.asarray(sim.conv_agent, dtype=np.int32),
        assign_s=np.asarray(sim.assign_time, dtype=np.float64),
        close_s=np.asarray(sim.close_time, dtype=np.float64),
        abandoned=np.asarray(sim.abandoned, dtype=np.bool_),
        abandon_s=np.asarray(sim.abandon_time, dtype=np.float64),
        idle_closed=np.asarray(sim.idle_closed, dtype=np.bool_),
        withdrawn=np.asarray(sim.withdrawn, dtype=np.bool_),
        hold_conversation=np.asarray([h[0] for h in sim.holds], dtype=np.int64),
        hold_agent=np.asarray([h[1] for h in sim.holds], dtype=np.int32),
        hold_start_s=np.asarray([h[2] for h in sim.holds], dtype=np.float64),
        hold_end_s=np.asarray([h[3] for h in sim.holds], dtype=np.float64),
        agent_pool=config.agent_pool.astype(np.int32),
        online_agent=np.asarray([s[0] for s in sim.spells], dtype=np.int32),
        online_start_s=np.asarray([s[1] for s in sim.spells], dtype=np.float64),
        online_end_s=np.asarray([s[2] for s in sim.spells], dtype=np.float64),
        pool_names=tuple(p.name for p in config.pools),
        pool_max_concurrency=tuple(p.max_concurrency for p in config.pools),
        paid_hours_by_pool=config.paid_hours_by_pool,
        hourly_cost_by_pool=tuple(p.hourly_cost for p in config.pools),
        subaccounts=config.subaccounts,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base or (0.0,) * n_types,
        conversion_half_life_s=conversion_half_life_s or (_INF,) * n_types,
    )


class _Simulation:
    """State and callbacks of one replication.

    Plain Python lists rather than numpy arrays hold the state: the event loop
    touches single elements, where list indexing is several times faster.
    """

    def __init__(
        self,
        env: simpy.Environment,
        cfg: EngineConfig,
        w: Workload,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.env = env
        self.progress = progress
        self.cfg = cfg
        n, m = w.n_conversations, w.n_messages
        self.arrival: list[float] = w.arrival_s.tolist()
        self.ctype: list[int] = w.type_idx.tolist()
        self.offset: list[int] = w.msg_offset.tolist()
        self.think: list[float] = w.think_s.tolist()
        self.compose_base: list[float] = w.compose_s.tolist()
        self.patience: list[float] = w.patience_s.tolist()
        self.bot = w.bot
        self.msg_conv: list[int] = w.message_conversation.tolist()
        # message state (flat)
        self.msg_time: list[float] = [_NAN] * m
        self.reply_time: list[float] = [_NAN] * m
        self.reply_kind: list[int] = [0] * m
        self.reply_agent: list[int] = [-1] * m
        self.reply_compose: list[float] = [_NAN] * m
        # conversation state
        self.next_msg: list[int] = w.msg_offset[:-1].tolist()  # flat index of the next message
        self.conv_agent: list[int] = [-1] * n
        self.assign_time: list[float] = [_NAN] * n
        self.close_time: list[float] = [_NAN] * n
        self.abandoned: list[bool] = [False] * n
        self.abandon_time: list[float] = [_NAN] * n
        self.idle_closed: list[bool] = [False] * n
        self.withdrawn: list[bool] = [False] * n
        # The message a queued conversation waits with (the first, or the one that
        # reopened it after an idle auto-close) and since when.
        self.queued_msg: list[int] = w.msg_offset[:-1].tolist()
        self.queued_since: list[float] = w.arrival_s.tolist()
        # Each spell an agent held a conversation: (conversation, agent, start, end).
        self.hold_start: list[float] = [_NAN] * n
        self.holds: list[tuple[int, int, float, float]] = []
        # agent state
        na = cfg.n_agents
        self.apool: list[int] = cfg.agent_pool.tolist()
        self.load: list[int] = [0] * na
        self.inbox: list[list[tuple[float, int]]] = [[] for _ in range(na)]  # (msg time, msg)
        self.composing: list[int] = [-1] * na  # flat message being composed, -1 if none
        self.accepting: list[bool] = [False] * na
        self.online: list[bool] = [False] * na
        self.want_online: list[bool] = [False] * na
        self.online_since: list[float] = [0.0] * na
        self.last_assign: list[float] = [-_INF] * na
        self.version: list[int] = [0] * na
        self.spells: list[tuple[int, float, float]] = []
        self.free_subaccounts = cfg.subaccounts
        self.subaccount_wait: deque[int] = deque()
        # pools
        self.pool_cap: list[int] = [p.max_concurrency for p in cfg.pools]
        self.pool_conc: list[list[float]] = [list(p.concurrency_multiplier) for p in cfg.pools]
        self.pool_factor: list[list[float]] = [list(p.time_factor_by_type) for p in cfg.pools]
        # Per pool, a heap of (key, seq, agent, version) over agents that can take a new
        # conversation; stale entries (version changed) are dropped lazily on lookup.
        self.avail: list[list[tuple[float, int, int, int]]] = [[] for _ in cfg.pools]
        self.seq = 0
        n_types = len(w.type_names)
        self.type_pools: list[list[int]] = [
            [p for p in _ordered_pools(cfg) if cfg.pools[p].handles(k)] for k in range(n_types)
        ]
        self.pool_types: list[list[int]] = [
            [k for k in range(n_types) if cfg.pools[p].handles(k)] for p in range(len(cfg.pools))
        ]
        self.queues: list[deque[int]] = [deque() for _ in range(n_types)]
        self.type_priority: list[int] = list(cfg.type_priority)
        self.wrap_up: list[float] = list(cfg.wrap_up_s)
        self.withdraw: list[bool] = list(cfg.withdraw_on_abandon)
        self.idle_close = cfg.idle_close_s
        self.policy = cfg.policy
        self.by_priority = cfg.policy == "pool_priority"

    # -- scheduling -------------------------------------------------------

    def finish(self) -> None:
        """Settle the buyers still waiting when nothing more can happen.

        A buyer never answered whose patience ran out by the end has abandoned
        (and, where the type withdraws abandoned chats, is withdrawn).
        """
        end = self.env.now
        for i in range(len(self.arrival)):
            if self.conv_agent[i] >= 0 and self.close_time[i] != self.close_time[i]:
                self.holds.append((i, self.conv_agent[i], self.hold_start[i], _NAN))
            j = self.offset[i]
            expire = self.arrival[i] + self.patience[i]
            if self.reply_time[j] != self.reply_time[j] and not self.abandoned[i] and expire <= end:
                self.abandoned[i] = True
                self.abandon_time[i] = expire
                if self.withdraw[self.ctype[i]] and self.conv_agent[i] < 0:
                    self.withdrawn[i] = True
                    self.close_time[i] = expire

    def schedule(self) -> None:
        """Record the bot conversations and schedule arrivals and shift segments."""
        self._play_bots()
        human = np.flatnonzero(~self.bot).tolist()
        self.human = human
        if human:
            self._at(self.arrival[human[0]], 0, self._on_arrival)
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
            self._at(bounds[0][0], 0, self._on_bound)

    def _at(self, t: float, value: int, fn: Callable[[Timeout], None]) -> None:
        ev = Timeout(self.env, max(t - self.env.now, 0.0), value)
        ev.callbacks.append(fn)

    def _play_bots(self) -> None:
        """Bot conversations: every message answered by the bot at once, no agent."""
        for i in np.flatnonzero(self.bot).tolist():
            t = self.arrival[i]
            for j in range(self.offset[i], self.offset[i + 1]):
                t += self.think[j]
                self.msg_time[j] = t
                self.reply_time[j] = t
                self.reply_kind[j] = REPLY_BOT
            self.close_time[i] = t

    # -- arrivals and routing ---------------------------------------------

    def _on_arrival(self, ev: Timeout) -> None:
        k = ev._value
        human = self.human
        if k & 4095 == 0 and self.progress is not None:
            self.progress(k / len(human))
        if k + 1 < len(human):
            self._at(self.arrival[human[k + 1]], k + 1, self._on_arrival)
        i = human[k]
        j = self.offset[i]
        self.msg_time[j] = self.arrival[i]
        a = self._pick_agent(self.ctype[i])
        if a < 0:
            self.queues[self.ctype[i]].append(i)
        else:
            self._assign(i, a)

    def _pick_agent(self, typ: int) -> int:
        """The agent the policy gives a new conversation of this type, or -1."""
        best = -1
        best_key: tuple[float, int] | None = None
        avail = self.avail
        version = self.version
        for p in self.type_pools[typ]:
            h = avail[p]
            while h and h[0][3] != version[h[0][2]]:
                heapq.heappop(h)
            if h:
                if self.by_priority:
                    return h[0][2]
                key = (h[0][0], h[0][1])
                if best_key is None or key < best_key:
                    best_key, best = key, h[0][2]
        return best

    def _refresh(self, a: int) -> None:
        """Re-index an agent after its load or state changed."""
        self.version[a] += 1
        if self.accepting[a] and self.load[a] < self.pool_cap[self.apool[a]]:
            self.seq += 1
            key = self.last_assign[a] if self.policy == "longest_idle" else float(self.load[a])
            heapq.heappush(self.avail[self.apool[a]], (key, self.seq, a, self.version[a]))

    def _assign(self, i: int, a: int) -> None:
        now = self.env.now
        self.conv_agent[i] = a
        self.hold_start[i] = now
        if self.assign_time[i] != self.assign_time[i]:  # keep the first assignment
            self.assign_time[i] = now
        self.load[a] += 1
        self.last_assign[a] = now
        self._refresh(a)
        j = self.queued_msg[i]
        heapq.heappush(self.inbox[a], (self.msg_time[j], j))
        if self.composing[a] < 0:
            self._compose_next(a)
        waits = j == self.offset[i] and self.composing[a] != j
        if waits and self.withdraw[self.ctype[i]] and self.patience[i] < _INF:
            # The first reply waits behind others: the buyer may still give up.
            self._at(self.arrival[i] + self.patience[i], i, self._on_patience)

    def _on_patience(self, ev: Timeout) -> None:
        i = ev._value
        j = self.offset[i]
        a = self.conv_agent[i]
        if self.composing[a] == j or self.reply_time[j] == self.reply_time[j]:
            return  # the agent started (or sent) the reply in time
        self._withdraw(i)
        self._close(i)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)

    def _withdraw(self, i: int) -> None:
        """The buyer gave up and the conversation is withdrawn unanswered (closed then)."""
        self.withdrawn[i] = True
        self.abandoned[i] = True
        self.abandon_time[i] = self.arrival[i] + self.patience[i]
        self.close_time[i] = self.abandon_time[i]

    def _pull(self, a: int) -> None:
        """Fill an agent's free slots from the queues (best priority, then oldest)."""
        cap = self.pool_cap[self.apool[a]]
        queues = self.queues
        types = self.pool_types[self.apool[a]]
        prio = self.type_priority
        arrival = self.arrival
        withdraw = self.withdraw
        while self.load[a] < cap:
            best = -1
            best_key = (0, 0.0)
            for k in types:
                q = queues[k]
                if withdraw[k]:
                    # Buyers whose patience ran out while queued have gone: drop them.
                    now = self.env.now
                    # (Only a first message: a chat reopened after an idle close had its
                    # answer, and its buyer's patience no longer applies.)
                    while (
                        q
                        and self.queued_msg[q[0]] == self.offset[q[0]]
                        and arrival[q[0]] + self.patience[q[0]] < now
                    ):
                        self._withdraw(q.popleft())
                if q:
                    key = (prio[k], self.queued_since[q[0]])
                    if best < 0 or key < best_key:
                        best, best_key = k, key
            if best < 0:
                return
            self._assign(queues[best].popleft(), a)

    # -- agents at work -----------------------------------------------------

    def _compose_next(self, a: int) -> None:
        inbox = self.inbox[a]
        while True:
            _, j = heapq.heappop(inbox)
            if not self.withdrawn[self.msg_conv[j]]:
                break
            if not inbox:
                return
        self.composing[a] = j
        p = self.apool[a]
        i = self.msg_conv[j]
        dur = self.compose_base[j] * self.pool_factor[p][self.ctype[i]]
        dur *= self.pool_conc[p][self.load[a] - 1]
        self.reply_compose[j] = dur
        ev = Timeout(self.env, dur, a)
        ev.callbacks.append(self._on_reply)

    def _on_reply(self, ev: Timeout) -> None:
        a = ev._value
        now = self.env.now
        j = self.composing[a]
        self.composing[a] = -1
        i = self.msg_conv[j]
        self.reply_time[j] = now
        self.reply_kind[j] = REPLY_HUMAN
        self.reply_agent[j] = a
        first = j == self.offset[i]
        if first and now - self.arrival[i] > self.patience[i] and not self.withdraw[self.ctype[i]]:
            # The buyer left before this reply: nothing more will come.
            self.abandoned[i] = True
            self.abandon_time[i] = self.arrival[i] + self.patience[i]
            self._close(i)
        elif j + 1 == self.offset[i + 1]:
            wrap = self.wrap_up[self.ctype[i]]
            if wrap > 0.0:
                self._at(now + min(wrap, self.idle_close), i, self._on_close)
            else:
                self._close(i)
        else:
            think = self.think[j + 1]
            if think > self.idle_close:
                # The chat is auto-closed after idle_close of silence; when the buyer
                # writes again it reopens and queues for an agent like a new chat.
                self.idle_closed[i] = True
                self._at(now + self.idle_close, i, self._on_close)
                self._at(now + think, j + 1, self._on_reopen)
            else:
                self._at(now + think, j + 1, self._on_buyer_message)
        if self.composing[a] < 0 and self.inbox[a]:
            self._compose_next(a)
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)

    def _on_buyer_message(self, ev: Timeout) -> None:
        j = ev._value
        now = self.env.now
        self.msg_time[j] = now
        a = self.conv_agent[self.msg_conv[j]]
        heapq.heappush(self.inbox[a], (now, j))
        if self.composing[a] < 0:
            self._compose_next(a)

    def _on_reopen(self, ev: Timeout) -> None:
        j = ev._value
        now = self.env.now
        self.msg_time[j] = now
        i = self.msg_conv[j]
        self.queued_msg[i] = j
        self.queued_since[i] = now
        a = self._pick_agent(self.ctype[i])
        if a < 0:
            self.queues[self.ctype[i]].append(i)
        else:
            self._assign(i, a)

    def _on_close(self, ev: Timeout) -> None:
        i = ev._value
        self._close(i)
        a = self.conv_agent[i]
        if self.composing[a] < 0 and not self.want_online[a] and self.load[a] == 0:
            self._go_offline(a)

    def _close(self, i: int) -> None:
        a = self.conv_agent[i]
        now = self.env.now
        self.close_time[i] = now
        self.holds.append((i, a, self.hold_start[i], now))
        self.load[a] -= 1
        self._refresh(a)
        if self.accepting[a]:
            self._pull(a)

    # -- shifts and sub-accounts ----------------------------------------------

    def _on_bound(self, ev: Timeout) -> None:
        # Every boundary at this instant is handled together: all segment ends first,
        # then the log-offs they allow, then the starts.  One at a time, a sub-account
        # freed by an ending agent could go to a waiting agent whose own segment ends
        # at the same instant but has not been processed yet.
        k = ev._value
        bounds = self.bounds
        t = bounds[k][0]
        last = k
        while last + 1 < len(bounds) and bounds[last + 1][0] == t:
            last += 1
        if last + 1 < len(bounds):
            self._at(bounds[last + 1][0], last + 1, self._on_bound)
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
                self._segment_start(self.seg_agent[seg])

    def _segment_start(self, a: int) -> None:
        self.want_online[a] = True
        if self.online[a]:
            # Still draining the previous segment: simply accept again.
            self.accepting[a] = True
            self._refresh(a)
            self._pull(a)
        elif self.free_subaccounts > 0:
            self.free_subaccounts -= 1
            self._go_online(a)
        else:
            self.subaccount_wait.append(a)

    def _go_online(self, a: int) -> None:
        self.online[a] = True
        self.accepting[a] = True
        self.online_since[a] = self.env.now
        self._refresh(a)
        self._pull(a)

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
