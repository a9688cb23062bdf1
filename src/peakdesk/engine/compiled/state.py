"""State of the compiled engine: plain numpy arrays, grouped by concept.

The compiled engine keeps every piece of state the reference engine
(:mod:`peakdesk.engine.reference.state`) keeps, as arrays a numba kernel can
read and write: one :class:`typing.NamedTuple` per concept (the inputs, the
conversations, the messages, the agents, routing and seats, the event queue,
the records), and two small arrays of scalar counters (``ctr``, ``fctr``)
indexed by the constants below.  Nothing here imports numba: the arrays are
built in Python (:func:`build`).

The groups are handed to the kernel as one numba *structref* holding the same
arrays (see :mod:`peakdesk.engine.compiled.refs`): a function receives one
pointer rather than every array, which keeps compiling fast, and the kernel can
replace a full buffer by a larger one.  The records and the event queue have no size
known up front (a chat can be reopened or handed back any number of times), so
they grow when full; the avail heaps and the inboxes are compacted in place
instead (their live entries are bounded).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig

#: What the kernel's functions take: a numba structref holding every field of the
#: groups below, and the counters ``ctr`` and ``fctr`` (see
#: :mod:`peakdesk.engine.compiled.refs`).  One pointer per call, not one per array.
Sim = Any

#: An integer a kernel takes: a Python int, or a numpy one (numba compiles a function
#: once per literal Python int, so constants are numpy integers).
Int = int | np.signedinteger[Any]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]

# -- scalar counters: ctr (int64) ----------------------------------------------
EID = 0  #: the next event id (simpy's insertion counter: ties at one time go by it)
SEQ = 1  #: the last avail-heap entry number
N_EV = 2  #: events in the queue
N_HOLD = 3  #: holding spells recorded
N_RQ = 4  #: closed requeue waits recorded
N_SPELL = 5  #: online spells recorded
N_AB = 6  #: hand-back writing records
N_CA = 7  #: agents in cut batches
N_CB = 8  #: cut batches
FREE_SUB = 9  #: free sub-accounts
N_DIRTY = 10  #: parallel agents to re-rate at the end of the event
WAIT_N = 11  #: agents in the sub-account waiting line
N_OPEN_RQ = 12  #: conversations waiting in a queue after their first wait
RQ_SEQ = 13  #: insertion counter of the open requeue waits (their order at the end)
N_FREED = 14  #: seat groups (taken while holding) whose seat freed during the event
N_CTR = 15

# -- scalar counters: fctr (float64) -------------------------------------------
T_ACT = 0  #: when the last event that did something happened (the run's end)
N_FCTR = 1

# -- event kinds -----------------------------------------------------------------
# numpy integers, not Python ints: numba types a Python int constant passed to a
# compiled function as a literal and compiles the function once per value.
EV_ARRIVAL = np.int64(0)
EV_REPLY = np.int64(1)
EV_PS_REPLY = np.int64(2)
EV_BUYER = np.int64(3)
EV_REOPEN = np.int64(4)
EV_CLOSE = np.int64(5)
EV_PATIENCE = np.int64(6)
EV_BOUND = np.int64(7)
EV_CUT = np.int64(8)
#: Event kinds there are room for in the packed (value, kind) of a queued event.
KINDS = np.int64(16)

# -- what the kernel returns -----------------------------------------------------
DONE = 0
PAUSE = 1


class Inputs(NamedTuple):
    """Read-only inputs: the workload, the agents, pools, types and boundaries."""

    arrival: F64
    ctype: I32
    offset: I64
    think: F64
    compose_base: F64
    patience: F64
    msg_conv: I32  # int32: a run has fewer than 2**31 messages (checked in build)
    human: I32
    # boundaries: (time, kind 0 end / 1 start, segment), sorted as the reference sorts them
    bound_time: F64
    bound_kind: I64
    bound_seg: I64
    seg_agent: I64
    agent_pool: I64
    agent_end: I64  # 0 drain, 1 hand back, 2 log off after a grace
    agent_grace: F64
    agent_par: U8
    pool_cap: I64
    pool_factor: npt.NDArray[np.float64]  # (pools, types): nan where the pool lacks the skill
    pool_conc: npt.NDArray[np.float64]  # (pools, max cap)
    pool_group_ptr: I64  # CSR: the seat groups of each pool
    pool_groups: I64
    type_pool_ptr: I64  # CSR: the pools serving each type, in routing order
    type_pools: I64
    pool_type_ptr: I64  # CSR: the types each pool serves, in type order
    pool_types: I64
    type_prio: I64
    type_withdraw: U8
    type_at_assign: U8
    type_deadline: F64
    type_hgroup: I64  # the seat group a type's chats take while held, -1 none
    hgroup_ptr: I64  # CSR: the types of each such group, ascending
    hgroup_types: I64
    risk_of: I64  # queue_order "at_risk": each type's risk group, -1 none
    risk_deadline: F64  # per risk group
    risk_bound: F64
    risk_day_ptr: I64  # CSR: each risk group's day starts (its score starts afresh)
    risk_days: F64
    wrap_up: F64
    idle_close: float
    close_out: float
    longest_idle: bool
    by_priority: bool
    any_at_assign: bool
    has_groups: bool
    has_hold: bool
    at_risk: bool
    max_batch: int  # the most boundaries at one instant


class Convs(NamedTuple):
    """Per conversation."""

    agent: I32  # the agent that took it last
    holder: I32  # the agent holding it now, -1 if none
    assign_time: F64
    close_time: F64
    abandoned: U8
    abandon_time: F64
    idle_closed: U8
    withdrawn: U8
    queued_msg: I32  # the message it waits in a queue with
    queued_since: F64
    hold_start: F64
    requeued_at: F64  # nan: not waiting in a queue after its first wait
    requeued_seq: I32  # insertion order of requeued_at
    handed_back: I32


class Msgs(NamedTuple):
    """Per buyer message."""

    msg_time: F64
    reply_time: F64
    reply_agent: I32
    reply_compose: F64  # compose time; while a parallel agent writes it, its start
    work_left: F64  # nan: no hand-back cut its reply short


class Agents(NamedTuple):
    """Per agent."""

    load: I64
    composing: I64  # message being written (sequential), -1 if none
    accepting: U8
    online: U8
    want_online: U8
    online_since: F64
    last_assign: F64
    segment_end: F64
    reply_ev: I64  # id of the reply event in flight (sequential), -1 if none
    compose_start: F64
    cut_ev: I64  # id of the cut event the agent waits for, -1 if none
    entry_seq: I64  # its valid avail-heap entry, -1 if none
    inbox_key: npt.NDArray[np.float64]  # (agents, capacity): heap of (msg time, msg)
    inbox_msg: npt.NDArray[np.int64]
    inbox_pay: npt.NDArray[np.float64]  # unused (one heap code for inboxes and replies)
    inbox_n: I64
    held: npt.NDArray[np.int64]  # (agents, cap): chats held (agents that do not drain)
    held_n: I64
    ps_v0: F64
    ps_t0: F64
    ps_rate: F64
    ps_due: F64
    ps_ev: I64
    ps_key: npt.NDArray[np.float64]  # (agents, cap): heap of (due work, msg, work)
    ps_msg: npt.NDArray[np.int64]
    ps_work: npt.NDArray[np.float64]
    ps_n: I64
    ps_is_dirty: U8
    ps_dirty: I64
    seat_held: npt.NDArray[np.int64]  # (agents, groups): chats held of a group's types


class Routes(NamedTuple):
    """Avail heaps per pool, FIFO queues per type, seats and the waiting line."""

    av_off: I64
    av_cap: I64
    av_n: I64
    av_key: F64
    av_seq: I64
    av_agent: I64
    q_off: I64
    q_cap: I64
    q_head: I64
    q_len: I64
    q_buf: I32
    group_free: I64
    seats_freed: U8  # per group: its seat freed during the event (settled after it)
    risk_n: I64  # per risk group: first replies sent so far
    risk_ok: I64  # ... and of them within its reply deadline
    risk_next: I64  # per risk group: its next day start to pass
    wait: I64


class Events(NamedTuple):
    """The event queue: a heap on (time, id)."""

    ev_time: F64
    ev_id: I64
    ev_data: I64  # value * KINDS + kind


class Records(NamedTuple):
    """What the run recorded beyond the per-item columns."""

    hold_conv: I32
    hold_agent: I32
    hold_from: F64
    hold_to: F64
    rq_conv: I32
    rq_start: F64
    rq_end: F64
    spell_agent: I32
    spell_start: F64
    spell_end: F64
    spell_sched: F64
    ab_agent: I32
    ab_start: F64
    ab_end: F64
    cut_agents: I64
    cut_start: I64
    cut_len: I64


class Engine(NamedTuple):
    """Everything the kernel takes (as built; the kernel takes :class:`refs` of them)."""

    inp: Inputs
    conv: Convs
    msg: Msgs
    ag: Agents
    rt: Routes
    ev: Events
    rec: Records
    ctr: I64
    fctr: F64


class TooLarge(ValueError):
    """A run the compiled engine's 32-bit indices cannot hold."""


def _csr(rows: list[list[int]]) -> tuple[I64, I64]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    flat = np.asarray([x for r in rows for x in r], dtype=np.int64)
    return ptr, flat


def _max_run(sorted_times: F64) -> int:
    """The longest run of equal values in a sorted array."""
    if sorted_times.size == 0:
        return 0
    starts = np.flatnonzero(np.diff(sorted_times) != 0.0) + 1
    edges = np.concatenate([[0], starts, [sorted_times.size]])
    return int(np.diff(edges).max())


def _ordered_pools(cfg: EngineConfig) -> list[int]:
    order = list(cfg.pool_order)
    return order + [p for p in range(len(cfg.pools)) if p not in order]


def build(config: EngineConfig, w: Workload) -> Engine:
    """The compiled engine's arrays for one run, as the reference engine starts it."""
    cfg = config
    n, m = w.n_conversations, w.n_messages
    if m >= 2**31:
        raise TooLarge(
            f"{m:,} buyer messages in one run: the compiled engine indexes them with 32-bit "
            "integers (at most 2,147,483,647)"
        )
    nt = len(w.type_names)
    pools = cfg.pools
    np_ = len(pools)
    na = cfg.n_agents
    max_cap = max((p.max_concurrency for p in pools), default=1)
    agent_pool = cfg.agent_pool.astype(np.int64)
    ends = {"drain": 0, "hand_back": 1, "log_off": 2}

    seg_start = cfg.segment_start_s.astype(np.float64)
    seg_end = cfg.segment_end_s.astype(np.float64)
    ns = seg_start.size
    # Boundaries sorted as the reference sorts its (time, kind, segment) tuples:
    # ends (kind 0) before starts at equal times, then by segment.
    b_time = np.concatenate([seg_end, seg_start])
    b_kind = np.concatenate([np.zeros(ns, np.int64), np.ones(ns, np.int64)])
    b_seg = np.concatenate([np.arange(ns, dtype=np.int64)] * 2)
    order = np.lexsort((b_seg, b_kind, b_time))

    factor = np.full((max(np_, 1), max(nt, 1)), math.nan)
    conc = np.ones((max(np_, 1), max_cap))
    for p, pc in enumerate(pools):
        factor[p, :nt] = pc.time_factor_by_type[:nt]
        conc[p, : pc.max_concurrency] = pc.concurrency_multiplier
    ordered = _ordered_pools(cfg)
    type_pool_ptr, type_pools = _csr(
        [[p for p in ordered if pools[p].handles(k)] for k in range(nt)]
    )
    pool_type_ptr, pool_types = _csr(
        [[k for k in range(nt) if pools[p].handles(k)] for p in range(np_)]
    )
    pool_group_ptr, pool_groups = _csr([list(cfg.login_groups(p)) for p in range(np_)])
    ng = len(cfg.seat_groups)
    hgroup = cfg.holding_group(nt)
    hgroup_ptr, hgroup_types = _csr([[t for t in range(nt) if hgroup[t] == g] for g in range(ng)])
    n_risk = len(cfg.risk_bound)
    days = list(cfg.risk_day_starts_s) or [() for _ in range(n_risk)]
    risk_day_ptr = np.zeros(n_risk + 1, dtype=np.int64)
    risk_day_ptr[1:] = np.cumsum([len(d) for d in days])
    risk_days = np.asarray([t for d in days for t in d] or [0.0], dtype=np.float64)
    at_assign = tuple(cfg.patience_at_assignment or (False,) * nt)
    deadline = tuple(cfg.type_deadline_s or (0.0,) * nt)
    inp = Inputs(
        arrival=np.ascontiguousarray(w.arrival_s, dtype=np.float64),
        ctype=np.ascontiguousarray(w.type_idx, dtype=np.int32),
        offset=w.msg_offset.astype(np.int64),
        think=np.ascontiguousarray(w.think_s, dtype=np.float64),
        compose_base=np.ascontiguousarray(w.compose_s, dtype=np.float64),
        patience=np.ascontiguousarray(w.patience_s, dtype=np.float64),
        # (int32 straight: the workload's cached int64 column would stay in memory)
        msg_conv=np.repeat(np.arange(n, dtype=np.int32), np.diff(w.msg_offset)),
        human=np.flatnonzero(~w.bot).astype(np.int32),
        bound_time=np.ascontiguousarray(b_time[order]),
        bound_kind=np.ascontiguousarray(b_kind[order]),
        bound_seg=np.ascontiguousarray(b_seg[order]),
        seg_agent=cfg.segment_agent.astype(np.int64),
        agent_pool=agent_pool,
        agent_end=np.asarray([ends[pools[p].shift_end] for p in agent_pool], dtype=np.int64),
        agent_grace=np.asarray([pools[p].grace_s for p in agent_pool], dtype=np.float64),
        agent_par=np.asarray(
            [pools[p].discipline == "parallel" for p in agent_pool], dtype=np.uint8
        ),
        pool_cap=np.asarray([p.max_concurrency for p in pools], dtype=np.int64),
        pool_factor=factor,
        pool_conc=conc,
        pool_group_ptr=pool_group_ptr,
        pool_groups=pool_groups,
        type_pool_ptr=type_pool_ptr,
        type_pools=type_pools,
        pool_type_ptr=pool_type_ptr,
        pool_types=pool_types,
        type_prio=np.asarray(cfg.type_priority, dtype=np.int64),
        type_withdraw=np.asarray(cfg.withdraw_on_abandon, dtype=np.uint8),
        type_at_assign=np.asarray(at_assign, dtype=np.uint8),
        type_deadline=np.asarray(deadline, dtype=np.float64),
        type_hgroup=np.asarray(hgroup, dtype=np.int64),
        hgroup_ptr=hgroup_ptr,
        hgroup_types=hgroup_types,
        risk_of=np.asarray(cfg.risk_group_of_type or (-1,) * nt, dtype=np.int64),
        risk_deadline=np.asarray(cfg.risk_deadline_s or (0.0,), dtype=np.float64),
        risk_bound=np.asarray(cfg.risk_bound or (0.0,), dtype=np.float64),
        risk_day_ptr=risk_day_ptr,
        risk_days=risk_days,
        wrap_up=np.asarray(cfg.wrap_up_s, dtype=np.float64),
        idle_close=float(cfg.idle_close_s),
        close_out=float(cfg.close_out_s),
        longest_idle=cfg.policy == "longest_idle",
        by_priority=cfg.policy == "pool_priority",
        any_at_assign=any(at_assign),
        has_groups=bool(cfg.seat_groups),
        has_hold=any(g >= 0 for g in hgroup),
        at_risk=bool(cfg.risk_group_of_type),
        max_batch=_max_run(b_time[order]),
    )
    nan_n = np.full(n, math.nan)
    conv = Convs(
        agent=np.full(n, -1, np.int32),
        holder=np.full(n, -1, np.int32),
        assign_time=nan_n.copy(),
        close_time=nan_n.copy(),
        abandoned=np.zeros(n, np.uint8),
        abandon_time=nan_n.copy(),
        idle_closed=np.zeros(n, np.uint8),
        withdrawn=np.zeros(n, np.uint8),
        queued_msg=inp.offset[:-1].astype(np.int32),
        queued_since=inp.arrival.copy(),
        hold_start=nan_n.copy(),
        requeued_at=nan_n,
        requeued_seq=np.zeros(n, np.int32),
        handed_back=np.zeros(n, np.int32),
    )
    nan_m = np.full(m, math.nan)
    msg = Msgs(
        msg_time=nan_m.copy(),
        reply_time=nan_m.copy(),
        reply_agent=np.full(m, -1, np.int32),
        reply_compose=nan_m.copy(),
        work_left=nan_m,
    )
    # An inbox holds at most one message per chat held, plus withdrawn chats not yet
    # skipped (compacted away when it fills).
    icap = max_cap + 1
    ag = Agents(
        load=np.zeros(na, np.int64),
        composing=np.full(na, -1, np.int64),
        accepting=np.zeros(na, np.uint8),
        online=np.zeros(na, np.uint8),
        want_online=np.zeros(na, np.uint8),
        online_since=np.zeros(na),
        last_assign=np.full(na, -math.inf),
        segment_end=np.full(na, math.nan),
        reply_ev=np.full(na, -1, np.int64),
        compose_start=np.zeros(na),
        cut_ev=np.full(na, -1, np.int64),
        entry_seq=np.full(na, -1, np.int64),
        inbox_key=np.zeros((na, icap)),
        inbox_msg=np.zeros((na, icap), np.int64),
        inbox_pay=np.zeros((na, icap)),
        inbox_n=np.zeros(na, np.int64),
        held=np.zeros((na, max_cap), np.int64),
        held_n=np.zeros(na, np.int64),
        ps_v0=np.zeros(na),
        ps_t0=np.zeros(na),
        ps_rate=np.zeros(na),
        ps_due=np.full(na, math.nan),
        ps_ev=np.full(na, -1, np.int64),
        ps_key=np.zeros((na, max_cap)),
        ps_msg=np.zeros((na, max_cap), np.int64),
        ps_work=np.zeros((na, max_cap)),
        ps_n=np.zeros(na, np.int64),
        ps_is_dirty=np.zeros(na, np.uint8),
        ps_dirty=np.zeros(na, np.int64),
        seat_held=np.zeros((na, max(ng, 1)), np.int64),
    )
    per_pool = np.bincount(agent_pool, minlength=np_).astype(np.int64)
    av_cap = 2 * per_pool + 8
    av_off = np.zeros(np_, np.int64)
    av_off[1:] = np.cumsum(av_cap)[:-1]
    av_total = int(av_cap.sum())
    per_type = np.bincount(inp.ctype, minlength=nt).astype(np.int64)
    q_cap = per_type + 1
    q_off = np.zeros(nt, np.int64)
    q_off[1:] = np.cumsum(q_cap)[:-1]
    rt = Routes(
        av_off=av_off,
        av_cap=av_cap,
        av_n=np.zeros(np_, np.int64),
        av_key=np.zeros(av_total),
        av_seq=np.zeros(av_total, np.int64),
        av_agent=np.zeros(av_total, np.int64),
        q_off=q_off,
        q_cap=q_cap,
        q_head=np.zeros(nt, np.int64),
        q_len=np.zeros(nt, np.int64),
        q_buf=np.zeros(int(q_cap.sum()), np.int32),
        group_free=np.asarray([c for c, _ in cfg.seat_groups], dtype=np.int64),
        seats_freed=np.zeros(max(ng, 1), np.uint8),
        risk_n=np.zeros(max(len(cfg.risk_bound), 1), np.int64),
        risk_ok=np.zeros(max(len(cfg.risk_bound), 1), np.int64),
        risk_next=np.zeros(max(len(cfg.risk_bound), 1), np.int64),
        # one entry per segment start at most
        wait=np.zeros(ns + 1, np.int64),
    )
    n_human = int(inp.human.size)
    ev_cap = 4 * na * max_cap + 4 * na + 64
    ev = Events(
        ev_time=np.zeros(ev_cap),
        ev_id=np.zeros(ev_cap, np.int64),
        ev_data=np.zeros(ev_cap, np.int64),
    )
    hold_cap = n_human + 2 * na * max_cap + 64
    rq_cap = 64 + na * max_cap
    spell_cap = ns + na + 8
    rec = Records(
        hold_conv=np.zeros(hold_cap, np.int32),
        hold_agent=np.zeros(hold_cap, np.int32),
        hold_from=np.zeros(hold_cap),
        hold_to=np.zeros(hold_cap),
        rq_conv=np.zeros(rq_cap, np.int32),
        rq_start=np.zeros(rq_cap),
        rq_end=np.zeros(rq_cap),
        spell_agent=np.zeros(spell_cap, np.int32),
        spell_start=np.zeros(spell_cap),
        spell_end=np.zeros(spell_cap),
        spell_sched=np.zeros(spell_cap),
        ab_agent=np.zeros(16, np.int32),
        ab_start=np.zeros(16),
        ab_end=np.zeros(16),
        cut_agents=np.zeros(na + 8, np.int64),
        cut_start=np.zeros(16, np.int64),
        cut_len=np.zeros(16, np.int64),
    )
    ctr = np.zeros(N_CTR, np.int64)
    ctr[FREE_SUB] = cfg.subaccounts
    fctr = np.zeros(N_FCTR)
    return Engine(inp, conv, msg, ag, rt, ev, rec, ctr, fctr)
