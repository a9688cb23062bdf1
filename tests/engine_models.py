"""Random agent models for the differential test: engine configurations and workloads.

A hypothesis strategy draws an :class:`~peakdesk.engine.config.EngineConfig` and
a :class:`~peakdesk.demand.workload.Workload` straight, without a scenario file,
so it reaches what a file would also give and more: one to three inquiry types
(priority, wrap-up, patience until the first reply or the assignment, answered
after abandonment or withdrawn, a reply deadline), one to three pools (skills and
speed as time factors, a pool lacking a skill, concurrency one to four with a
multiplier list, sequential or parallel, drain / hand back / log off with a
grace), agents with one to three shifts each cut by breaks (segments back to back
included, so an agent carries on across a boundary), sub-accounts fewer than the
agents, seat groups (taken at login or while holding a chat of their types), every
routing policy with a pool order, the three queue orders (oldest, deadline, at risk
with one or two risk groups),
idle auto-close, the auto greeting, bots, buyers with and without patience.

Times are drawn on a coarse grid more often than not, so events fall at the same
instant (an arrival at a shift end, a reply due at a break, two patience limits
at once): that is where two engines ordering simultaneous events differently
would part.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig, PoolConfig

#: Horizon of a random model, seconds.
HORIZON_S = 3 * 3600.0


@st.composite
def _time(draw: Any, hi: float, grid: float) -> float:
    """A time in ``[0, hi]``: on a ``grid`` usually (ties), anywhere otherwise."""
    if draw(st.integers(0, 3)) > 0:
        return grid * draw(st.integers(0, int(hi // grid)))
    return draw(st.floats(0.0, hi, allow_nan=False, allow_infinity=False))


@st.composite
def _duration(draw: Any, lo: float, hi: float, grid: float) -> float:
    if draw(st.integers(0, 3)) > 0:
        return grid * draw(st.integers(max(1, math.ceil(lo / grid)), int(hi // grid)))
    return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@st.composite
def _pool(draw: Any, index: int, n_types: int) -> PoolConfig:
    cap = draw(st.integers(1, 4))
    steps = [draw(st.sampled_from([0.0, 0.1, 0.25, 0.5])) for _ in range(cap - 1)]
    conc = tuple(float(x) for x in np.cumsum([1.0, *steps]))
    factors = tuple(
        math.nan if draw(st.integers(0, 4)) == 0 else draw(st.sampled_from([0.5, 0.8, 1.0, 1.25]))
        for _ in range(n_types)
    )
    end = draw(st.sampled_from(["drain", "hand_back", "log_off"]))
    grace = draw(st.sampled_from([0.0, 30.0, 60.0, 300.0])) if end == "log_off" else 0.0
    return PoolConfig(
        name=f"p{index}",
        time_factor_by_type=factors,
        concurrency_multiplier=conc,
        hourly_cost=10.0,
        discipline=draw(st.sampled_from(["sequential", "parallel"])),
        shift_end=end,
        grace_s=grace,
    )


@st.composite
def _segments(draw: Any) -> list[tuple[float, float]]:
    """One agent's online segments: one to three shifts, each maybe cut by breaks."""
    out: list[tuple[float, float]] = []
    t = draw(_time(HORIZON_S / 2, 300.0))
    for _ in range(draw(st.integers(1, 3))):
        length = draw(_duration(300.0, 5400.0, 300.0))
        cuts = sorted(draw(st.lists(_time(length, 60.0), min_size=0, max_size=2, unique=True)))
        pieces = [t, *(t + c for c in cuts if 0.0 < c < length), t + length]
        # A break is a gap after each cut; a cut without a gap is a back-to-back pair.
        for a, b in itertools.pairwise(pieces):
            gap = 0.0 if a == pieces[0] else draw(st.sampled_from([0.0, 60.0, 300.0]))
            if b > a + gap:
                out.append((a + gap, b))
        t = t + length + draw(st.sampled_from([0.0, 0.0, 600.0, 1800.0]))
    return out


@st.composite
def agent_model(draw: Any, busy: bool = False) -> tuple[EngineConfig, Workload]:
    """A random engine configuration and a workload it plays (see the module docstring).

    ``busy``: 100-250 conversations on 2-4 agents, with at least one seat group taken
    while holding (1-2 seats) and the at-risk order, where seats run out and freed seats
    are offered on (the paths light random models seldom reach)."""
    n_types = draw(st.integers(1, 3))
    n_pools = draw(st.integers(1, 3))
    pools = tuple(draw(_pool(p, n_types)) for p in range(n_pools))
    n_agents = draw(st.integers(2, 4)) if busy else draw(st.integers(1, 7))
    agent_pool = np.asarray([draw(st.integers(0, n_pools - 1)) for _ in range(n_agents)])
    seg: list[tuple[float, int, float]] = []
    for a in range(n_agents):
        # Busy: half the agents on the whole horizon, so several are online at once and
        # the seats, not the shifts, decide who takes a chat.
        whole = busy and draw(st.booleans())
        for s0, s1 in [(0.0, HORIZON_S)] if whole else draw(_segments()):
            seg.append((s0, a, s1))
    seg.sort(key=lambda x: x[0])  # stable by start, as build_config sorts
    order = "at_risk" if busy else draw(st.sampled_from(["oldest", "deadline", "at_risk"]))
    deadline = order == "deadline"
    risk: dict[str, Any] = {}
    if order == "at_risk":
        # One or two risk groups over the types (a type may be in none), each with its
        # reply deadline and bound.
        n_groups = draw(st.integers(1, min(2, n_types)))
        of_type = tuple(draw(st.integers(-1, n_groups - 1)) for _ in range(n_types))
        risk = {
            "risk_group_of_type": of_type,
            "risk_deadline_s": tuple(
                draw(st.sampled_from([30.0, 60.0, 180.0])) for _ in range(n_groups)
            ),
            "risk_bound": tuple(draw(st.sampled_from([0.5, 0.8, 0.9])) for _ in range(n_groups)),
            # Its days: the score starts afresh at none, one or two instants.
            "risk_day_starts_s": tuple(
                tuple(
                    sorted(
                        draw(st.lists(_time(HORIZON_S, 600.0), min_size=0, max_size=2, unique=True))
                    )
                )
                for _ in range(n_groups)
            ),
        }
    groups: list[tuple[int, tuple[int, ...]]] = []
    held: list[tuple[int, ...]] = []  # per group: the types whose chats take it while held
    free_types = list(range(n_types))
    for g in range(draw(st.integers(1, 2)) if busy else draw(st.integers(0, 2))):
        members = tuple(sorted(draw(st.sets(st.integers(0, n_pools - 1), min_size=1))))
        groups.append((draw(st.integers(1, 2)) if busy else draw(st.integers(1, 4)), members))
        if free_types and ((busy and g == 0) or draw(st.booleans())):
            # Taken while holding a chat of these types (a type takes one group's seat).
            types = sorted(draw(st.sets(st.sampled_from(free_types), min_size=1)))
            free_types = [t for t in free_types if t not in types]
            held.append(tuple(types))
        else:
            held.append(())
    config = EngineConfig(
        pools=pools,
        agent_pool=agent_pool.astype(np.int32),
        segment_agent=np.asarray([a for _, a, _ in seg], dtype=np.int32),
        segment_start_s=np.asarray([s for s, _, _ in seg], dtype=np.float64),
        segment_end_s=np.asarray([e for _, _, e in seg], dtype=np.float64),
        paid_hours_by_pool=(1.0,) * n_pools,
        subaccounts=draw(st.integers(1, n_agents + 1)),
        policy=draw(st.sampled_from(["least_loaded", "longest_idle", "pool_priority"])),
        pool_order=tuple(draw(st.permutations(range(n_pools)))),
        type_priority=tuple(draw(st.integers(0, 2)) for _ in range(n_types)),
        wrap_up_s=tuple(draw(st.sampled_from([0.0, 0.0, 10.0, 30.0])) for _ in range(n_types)),
        withdraw_on_abandon=tuple(draw(st.booleans()) for _ in range(n_types)),
        idle_close_s=draw(st.sampled_from([math.inf, math.inf, 60.0, 120.0])),
        auto_greeting=draw(st.booleans()),
        patience_at_assignment=tuple(draw(st.booleans()) for _ in range(n_types)),
        seat_groups=tuple(groups),
        seat_group_types=tuple(held),
        **risk,
        type_deadline_s=tuple(draw(st.sampled_from([30.0, 180.0, 600.0])) for _ in range(n_types))
        if deadline
        else (),
        # From close_out on, segment ends close out instead of their pool's shift_end.
        close_out_s=draw(st.sampled_from([math.inf, math.inf, HORIZON_S * 0.5, HORIZON_S * 0.9])),
    )
    return config, draw(workload(n_types, busy))


@st.composite
def workload(draw: Any, n_types: int, busy: bool = False) -> Workload:
    """Up to 60 conversations over the horizon (100-250 when ``busy``), one to four
    messages each."""
    n = draw(st.integers(100, 250)) if busy else draw(st.integers(0, 60))
    arrival = np.sort([draw(_time(HORIZON_S * 0.9, 30.0)) for _ in range(n)]).astype(np.float64)
    counts = [draw(st.integers(1, 4)) for _ in range(n)]
    offset = np.zeros(n + 1, dtype=np.int64)
    offset[1:] = np.cumsum(counts)
    m = int(offset[-1])
    think = np.asarray([draw(_duration(5.0, 240.0, 15.0)) for _ in range(m)], dtype=np.float64)
    if n:
        think[offset[:-1]] = 0.0
    compose = np.asarray(
        [
            draw(st.sampled_from([0.0, 15.0, 30.0, 60.0, 90.0, 45.5]))
            if draw(st.integers(0, 3))
            else draw(st.floats(1.0, 200.0))
            for _ in range(m)
        ],
        dtype=np.float64,
    )
    patience = np.asarray(
        [
            math.inf if draw(st.integers(0, 3)) == 0 else draw(_duration(15.0, 900.0, 15.0))
            for _ in range(n)
        ],
        dtype=np.float64,
    )
    return Workload(
        type_names=tuple(f"t{k}" for k in range(n_types)),
        arrival_s=arrival,
        type_idx=np.asarray([draw(st.integers(0, n_types - 1)) for _ in range(n)], dtype=np.int32),
        msg_offset=offset,
        think_s=think,
        compose_s=compose,
        patience_s=patience,
        bot=np.asarray([draw(st.integers(0, 5)) == 0 for _ in range(n)], dtype=np.bool_),
        conversion_u=np.full(n, 0.5),
    )
