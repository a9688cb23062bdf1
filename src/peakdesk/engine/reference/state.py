"""State of one replication of the reference engine: inputs, conversations, agents.

The event loop touches single elements: state is held in Python lists (fast to
read and write), read-only inputs in :class:`array.array` (at most 8 bytes an
item rather than a list's pointer to a float or int object, and cheap to read).
Every other module of the engine is functions of a :class:`Simulation`.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import Event

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig

NAN = math.nan
INF = math.inf
#: Arrivals between two progress reports and two flushes of the holding-spell buffer
#: (a power of two, tested with a mask).
EVERY = 4096

F64 = npt.NDArray[np.float64]
Callbacks = list[Callable[[Any], None]]


class Call(Event):
    """A reusable simpy event, successful from the start.

    The simulation sets its ``callbacks`` (a shared one-item list, never
    appended to) and its ``_value`` (the payload), then schedules it with
    ``env.schedule``; its callback returns it to the free list.
    """

    _ok = True


def compact(code: str, values: npt.NDArray[Any], dtype: type[np.generic]) -> array[Any]:
    """A read-only numpy column as a typed :class:`array.array` (one copy)."""
    out: array[Any] = array(code)
    data = np.ascontiguousarray(values, dtype=dtype)
    if out.itemsize != data.itemsize:  # pragma: no cover - exotic platforms
        return array(code, data.tolist())
    out.frombytes(data.data.cast("B"))
    return out


def floats(values: list[float]) -> F64:
    """A list of floats as a numpy column."""
    return np.fromiter(values, np.float64, len(values))


class Simulation:
    """State of one replication."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: EngineConfig,
        w: Workload,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """The state of a run of ``w`` through ``cfg`` before its first event."""
        self.env = env
        self.sched = env.schedule
        self.progress = progress
        self.cfg = cfg
        self.w = w
        n, m = w.n_conversations, w.n_messages
        # inputs (read only)
        self.arrival: array[float] = compact("d", w.arrival_s, np.float64)
        self.ctype: array[int] = compact("i", w.type_idx, np.int32)
        self.offset: array[int] = compact("q", w.msg_offset, np.int64)
        self.think: array[float] = compact("d", w.think_s, np.float64)
        self.compose_base: array[float] = compact("d", w.compose_s, np.float64)
        self.patience: array[float] = compact("d", w.patience_s, np.float64)
        self.msg_conv: array[int] = compact("q", w.message_conversation, np.int64)
        self.human: array[int] = compact("q", np.flatnonzero(~w.bot), np.int64)
        # message state (flat); the reply kind follows from the agent (bots at the end)
        self.msg_time: list[float] = [NAN] * m
        self.reply_time: list[float] = [NAN] * m
        self.reply_agent: list[int] = [-1] * m
        # The compose time of a sent reply; while a parallel agent is writing it,
        # the time it started.
        self.reply_compose: list[float] = [NAN] * m
        # conversation state
        self.conv_agent: list[int] = [-1] * n  # the agent that took it last
        self.holder: list[int] = [-1] * n  # the agent holding it now, -1 if none
        self.assign_time: list[float] = [NAN] * n
        self.close_time: list[float] = [NAN] * n
        self.abandoned = bytearray(n)
        self.abandon_time: list[float] = [NAN] * n
        self.idle_closed = bytearray(n)
        self.withdrawn = bytearray(n)
        # The message a queued conversation waits with (the first, or the one that
        # reopened it after an idle auto-close or a hand-back) and since when.
        self.queued_msg: array[int] = compact("q", w.msg_offset[:-1], np.int64)
        self.queued_since: array[float] = compact("d", w.arrival_s, np.float64)
        # Each spell an agent held a conversation: (conversation, agent, start, end),
        # buffered here and moved to numpy blocks now and then.
        self.hold_start: list[float] = [NAN] * n
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
        self.last_assign: list[float] = [-INF] * na
        # The end of the agent's last segment (for the time worked past it).
        self.segment_end: list[float] = [NAN] * na
        self.spells: list[tuple[int, float, float, float]] = []
        self.free_subaccounts = cfg.subaccounts
        self.subaccount_wait: deque[int] = deque()
        # Seat groups (a client shop's sub-accounts): free seats, and each agent's groups.
        self.group_free: list[int] = [count for count, _ in cfg.seat_groups]
        self.cfg_has_groups = bool(cfg.seat_groups)
        self.agent_groups: list[tuple[int, ...]] = [cfg.login_groups(p) for p in self.apool]
        # Seats taken while held: per type its group (-1 none), per agent and group the
        # chats held of it; groups whose seat freed during the event (settled after it).
        self.type_hgroup: list[int] = list(cfg.holding_group(len(w.type_names)))
        self.has_hold = any(g >= 0 for g in self.type_hgroup)
        self.seat_held: list[list[int]] = [[0] * len(cfg.seat_groups) for _ in range(na)]
        self.hgroup_types: list[list[int]] = [
            [t for t, h in enumerate(self.type_hgroup) if h == g]
            for g in range(len(cfg.seat_groups))
        ]
        self.seats_freed: set[int] = set()
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
        self.reply_ev: list[Call | None] = [None] * na
        self.compose_start: list[float] = [0.0] * na
        self.cut_ev: list[Call | None] = [None] * na
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
        self.ps_ev: list[Call | None] = [None] * na
        self.ps_due: list[float] = [NAN] * na
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
            [p for p in ordered_pools(cfg) if cfg.pools[p].handles(k)] for k in range(n_types)
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
        self.due: list[float] = deadline
        # queue_order = "at_risk": per type its risk group; per group the reply deadline,
        # the share to keep, and the first replies so far (sent, and within the deadline).
        self.at_risk = bool(cfg.risk_group_of_type)
        self.risk_of: list[int] = list(cfg.risk_group_of_type or (-1,) * n_types)
        self.risk_deadline: list[float] = list(cfg.risk_deadline_s)
        self.risk_bound: list[float] = list(cfg.risk_bound)
        self.risk_n: list[int] = [0] * len(cfg.risk_bound)
        self.risk_ok: list[int] = [0] * len(cfg.risk_bound)
        # Each group's day starts (its score starts afresh) and the next one to pass.
        self.risk_starts: list[list[float]] = [list(d) for d in cfg.risk_day_starts_s] or [
            [] for _ in cfg.risk_bound
        ]
        self.risk_next: list[int] = [0] * len(cfg.risk_bound)
        self.pool_queues: list[list[tuple[deque[int], int, bool, bool, float, int, int]]] = [
            [
                (
                    self.queues[k],
                    cfg.type_priority[k],
                    self.withdraw[k],
                    self.at_assign[k],
                    deadline[k],
                    self.type_hgroup[k],
                    self.risk_of[k],
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
        self.close_out = cfg.close_out_s
        self.longest_idle = cfg.policy == "longest_idle"
        self.by_priority = cfg.policy == "pool_priority"
        # Boundaries as one time-ordered chain: ends before starts at equal times so a
        # back-to-back segment pair hands over without an agent being counted twice.
        self.seg_agent: list[int] = cfg.segment_agent.tolist()
        self.seg_start: list[float] = cfg.segment_start_s.tolist()
        self.seg_end: list[float] = cfg.segment_end_s.tolist()
        self.bounds: list[tuple[float, int, int]] = sorted(
            [(e, 0, s) for s, e in enumerate(self.seg_end)]
            + [(b, 1, s) for s, b in enumerate(self.seg_start)]
        )
        # events: the free list, and each handler's (shared) callbacks list, which
        # loop.callbacks fills
        self.free: list[Call] = []
        self.cb_arrival: Callbacks = []
        self.cb_reply: Callbacks = []
        self.cb_ps_reply: Callbacks = []
        self.cb_buyer_message: Callbacks = []
        self.cb_reopen: Callbacks = []
        self.cb_close: Callbacks = []
        self.cb_patience: Callbacks = []
        self.cb_bound: Callbacks = []
        self.cb_cut: Callbacks = []


def ordered_pools(cfg: EngineConfig) -> list[int]:
    """Pool numbers in routing order: ``pool_order`` first, then the others."""
    order = list(cfg.pool_order)
    return order + [p for p in range(len(cfg.pools)) if p not in order]
