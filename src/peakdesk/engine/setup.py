"""From a validated scenario (and a staffing choice) to the engine's plain inputs."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from peakdesk.engine.config import EngineConfig, PoolConfig
from peakdesk.scenario.schema import Pool, Scenario, Shift
from peakdesk.units import zone_info

Staffing = Mapping[str, Sequence[int]]
"""Agents per shift pattern, by pool name (overrides the scenario's ``agents``)."""


def scenario_staffing(spec: Scenario) -> dict[str, list[int]]:
    """The staffing written in the scenario: agents per shift, by pool."""
    return {p.name: [s.agents for s in p.shifts] for p in spec.pools}


def _concurrency_multiplier(pool: Pool) -> tuple[float, ...]:
    if pool.compose_multiplier_by_concurrency is not None:
        return tuple(pool.compose_multiplier_by_concurrency)
    return tuple(1.0 + pool.slowdown_per_extra_chat * k for k in range(pool.max_concurrency))


@dataclass(frozen=True)
class ShiftInstance:
    """One shift worked by a group of agents (a pattern on one day, or a fixed rota).

    Attributes
    ----------
    pool
        Pool number.
    group
        Agents of instances with the same group are the same people (a fixed
        shift's rota over the days); different groups are different people.
    start_s
        Start, seconds from the scenario start (may be negative for a night
        shift that began the day before; only the part after 0 is worked).
    length_s
        Length, seconds (breaks included: they are paid).
    breaks
        Breaks as ``(after_s, length_s, stagger_s)``.
    agents
        Agents scheduled (before shrinkage).
    """

    pool: int
    group: str
    start_s: float
    length_s: float
    breaks: tuple[tuple[float, float, float], ...]
    agents: int


def local_day_starts(
    spec: Scenario, first: dt.date, last: dt.date, clock_s: float
) -> list[tuple[dt.date, float]]:
    """``(date, seconds from the scenario start)`` of a local clock time on each day.

    Converts through UTC, so a DST change between days is handled.
    """
    cal = spec.calendar
    zone = cal.zone
    start_utc = cal.start_aware.astimezone(dt.UTC)
    clock = dt.time(int(clock_s // 3600), int(clock_s % 3600 // 60), int(clock_s % 60))
    out = []
    d = first
    while d <= last:
        local = dt.datetime.combine(d, clock, tzinfo=zone)
        out.append((d, (local.astimezone(dt.UTC) - start_utc).total_seconds()))
        d += dt.timedelta(days=1)
    return out


def horizon_days(spec: Scenario) -> tuple[dt.date, dt.date]:
    """The local days a shift may start on: the day before the start (night shifts) to the last."""
    cal = spec.calendar
    # The last instant of the horizon, converted through UTC (a DST change shifts it).
    end_local = (cal.start_aware.astimezone(dt.UTC) + dt.timedelta(seconds=cal.horizon)).astimezone(
        cal.zone
    )
    return cal.start.date() - dt.timedelta(days=1), end_local.date()


def _shift_starts(spec: Scenario, shift: Shift) -> list[float]:
    """Start times (seconds from the scenario start) of a fixed shift's instances.

    Instances that start before the horizon ends are kept whole (agents finish
    their shift after the last arrival); an instance that began the day before
    the start (a night shift) is kept for the part after time 0.
    """
    first, last = horizon_days(spec)
    return [
        t0
        for d, t0 in local_day_starts(spec, first, last, shift.start)
        if (shift.days is None or d in shift.days)
        and t0 < spec.calendar.horizon
        and t0 + shift.length > 0.0
    ]


def fixed_instances(spec: Scenario, staffing: Staffing | None = None) -> list[ShiftInstance]:
    """The scenario's fixed shifts as instances (with ``staffing`` overriding the counts)."""
    staff = scenario_staffing(spec)
    if staffing is not None:
        for name, counts in staffing.items():
            if name not in staff:
                raise KeyError(f"unknown pool {name!r}; pools: {sorted(staff)}")
            if len(counts) != len(staff[name]):
                raise ValueError(f"pool {name!r} has {len(staff[name])} shifts, got {len(counts)}")
            staff[name] = [int(c) for c in counts]
    out = []
    for p_idx, pool in enumerate(spec.pools):
        for k, (shift, scheduled) in enumerate(zip(pool.shifts, staff[pool.name], strict=True)):
            breaks = tuple((b.after, b.length, b.stagger) for b in shift.breaks)
            for t0 in _shift_starts(spec, shift):
                out.append(
                    ShiftInstance(p_idx, f"{pool.name}/{k}", t0, shift.length, breaks, scheduled)
                )
        out.extend(table_instances(spec, p_idx))
    return out


#: The group of a staffing table's runs: ``<pool>/table<run>``.
TABLE_GROUP = "table"


def table_instances(spec: Scenario, pool: int) -> list[ShiftInstance]:
    """A pool's staffing table as the staircase of shifts it describes (none without one).

    Each run of the staircase is its own group of people, with no breaks (the
    table's level already leaves out the agents on a break).

    Raises
    ------
    ValueError
        If the pool names a staffing file that the loader has not read
        (a scenario validated without :func:`peakdesk.scenario.load.scenario_from_data`).
    """
    p = spec.pools[pool]
    if p.staffing is None:
        return []
    table = p.staffing_table
    if table is None:
        raise ValueError(
            f"pool {p.name!r}: the staffing table {p.staffing!r} was not read; load the "
            "scenario with peakdesk.scenario.load_scenario (it reads the file)"
        )
    # The table counts from the start it was read against; a run moved back for a
    # warm-up starts earlier, and the table's hours are the same hours.
    lead = 0.0
    if table.origin is not None:
        lead = (table.origin - spec.calendar.start_aware).total_seconds()
    return [
        ShiftInstance(pool, f"{p.name}/{TABLE_GROUP}{j}", t0 + lead, t1 - t0, (), n)
        for j, (t0, t1, n) in enumerate(table.runs())
        if t1 + lead > 0.0  # a run over before the start is not the scenario's
    ]


def pool_configs(spec: Scenario) -> tuple[PoolConfig, ...]:
    """The engine's view of each pool (time factors per type, concurrency multipliers)."""
    types = spec.inquiry_types
    out = []
    for pool in spec.pools:
        factors = tuple(
            1.0 / (pool.speed * pool.skills[t.skill_name])
            if t.skill_name in pool.skills
            else math.nan
            for t in types
        )
        out.append(
            PoolConfig(
                pool.name,
                factors,
                _concurrency_multiplier(pool),
                pool.hourly_cost,
                discipline=pool.discipline,
                shift_end=pool.shift_end,
                grace_s=pool.shift_end_grace or 0.0,
            )
        )
    return tuple(out)


def build_config(spec: Scenario, staffing: Staffing | None = None) -> EngineConfig:
    """Build the engine's inputs from the scenario's fixed shifts.

    Parameters
    ----------
    spec
        The validated scenario.
    staffing
        Agents per shift pattern, by pool name; default: the scenario's own.

    Returns
    -------
    EngineConfig
        Pools, agents with their online segments, sub-accounts and routing.
    """
    return config_from_instances(spec, fixed_instances(spec, staffing))


def config_from_instances(
    spec: Scenario,
    instances: Sequence[ShiftInstance],
    *,
    pools: tuple[PoolConfig, ...] | None = None,
    subaccounts: int | None = None,
) -> EngineConfig:
    """Build the engine's inputs from explicit shift instances.

    Parameters
    ----------
    spec
        The validated scenario (routing, types, shrinkage, sub-accounts).
    instances
        Shifts with their agents.
    pools
        Pool configurations (default: the scenario's pools, with their shrinkage;
        given pools have none: their agents are online agents, as the planner's
        requirement pool is).
    subaccounts
        Sub-accounts (default: the scenario's count).
    """
    pool_cfgs = pools if pools is not None else pool_configs(spec)
    shrink = [p.shrinkage for p in spec.pools] if pools is None else [0.0] * len(pool_cfgs)
    agent_pool: list[int] = []
    seg_agent: list[int] = []
    seg_start: list[float] = []
    seg_end: list[float] = []
    paid = [0.0] * len(pool_cfgs)
    group_agents: dict[str, list[int]] = {}
    # Absent agents (shrinkage) are paid but never come online.  Rounding each shift on
    # its own would lose a small shift's shrinkage (5% of 8 agents rounds to 0); a
    # running total per pool spreads the absences so the pool's total is right.
    expected = [0.0] * len(pool_cfgs)
    for inst in instances:
        if inst.agents < 0:
            raise ValueError(
                f"a shift of pool {pool_cfgs[inst.pool].name!r} has {inst.agents} agents"
            )
        paid[inst.pool] += inst.agents * (inst.start_s + inst.length_s - max(inst.start_s, 0.0))
        before = expected[inst.pool]
        expected[inst.pool] += inst.agents * (1.0 - shrink[inst.pool])
        present = math.floor(expected[inst.pool] + 0.5) - math.floor(before + 0.5)
        people = group_agents.setdefault(inst.group, [])
        while len(people) < present:
            people.append(len(agent_pool))
            agent_pool.append(inst.pool)
        for k in range(present):
            pieces = [(0.0, inst.length_s)]
            for after, length, stagger in inst.breaks:
                off = after + stagger * k / present
                pieces = cut_span(pieces, off, off + length)
            for lo, hi in pieces:
                s0, e0 = max(inst.start_s + lo, 0.0), inst.start_s + hi
                if e0 > s0:
                    seg_agent.append(people[k])
                    seg_start.append(s0)
                    seg_end.append(e0)
    seg_agent, seg_start, seg_end = _merge_overlaps(seg_agent, seg_start, seg_end)
    order = np.argsort(np.asarray(seg_start), kind="stable")
    names = [p.name for p in pool_cfgs]
    pool_order = [n for n in (spec.routing.pool_order or names) if n in names]
    types = spec.inquiry_types
    return EngineConfig(
        pools=pool_cfgs,
        agent_pool=np.asarray(agent_pool, dtype=np.int32),
        segment_agent=np.asarray(seg_agent, dtype=np.int32)[order],
        segment_start_s=np.asarray(seg_start, dtype=np.float64)[order],
        segment_end_s=np.asarray(seg_end, dtype=np.float64)[order],
        paid_hours_by_pool=tuple(h / 3600.0 for h in paid),
        subaccounts=spec.subaccounts.count if subaccounts is None else subaccounts,
        policy=spec.routing.policy,
        pool_order=tuple(names.index(n) for n in pool_order),
        type_priority=tuple(t.priority for t in types),
        wrap_up_s=tuple(t.wrap_up for t in types),
        withdraw_on_abandon=tuple(not t.answer_after_abandon for t in types),
        idle_close_s=math.inf if spec.routing.idle_close is None else spec.routing.idle_close,
        auto_greeting=spec.routing.auto_greeting,
        patience_at_assignment=tuple(t.patience_until == "assignment" for t in types),
        type_deadline_s=tuple(float(t.reply_deadline or 0.0) for t in types)
        if spec.routing.queue_order == "deadline"
        else (),
        # Given pools (the planner's requirement pool) are not the scenario's: no groups.
        close_out_s=spec.calendar.horizon
        if spec.simulation.horizon_end == "close_out"
        else math.inf,
        seat_groups=()
        if pools is not None
        else tuple(
            (g.count, tuple(names.index(n) for n in g.pools)) for g in spec.subaccounts.groups
        ),
        **_risk_fields(spec),
        seat_group_types=()
        if pools is not None
        else tuple(
            tuple([t.name for t in types].index(n) for n in g.types)
            for g in spec.subaccounts.groups
        ),
    )


def _risk_fields(spec: Scenario) -> dict[str, tuple[Any, ...]]:
    """The engine's at-risk queue order (:class:`EngineConfig`), or nothing."""
    routing = spec.routing
    if routing.queue_order != "at_risk":
        return {}
    names = [t.name for t in spec.inquiry_types]
    of_type = [-1] * len(names)
    for g, group in enumerate(routing.risk_groups):
        for t in group.types:
            of_type[names.index(t)] = g
    return {
        "risk_group_of_type": tuple(of_type),
        "risk_deadline_s": tuple(float(g.reply_deadline) for g in routing.risk_groups),
        "risk_bound": tuple(float(g.bound) for g in routing.risk_groups),
        "risk_day_starts_s": tuple(
            _midnights(spec, g.timezone or spec.calendar.timezone) for g in routing.risk_groups
        ),
    }


def _midnights(spec: Scenario, timezone: str) -> tuple[float, ...]:
    """The local midnights of ``timezone`` inside the horizon, seconds from its start."""
    zone = zone_info(timezone)
    # Absolute times (POSIX seconds): two datetimes of one ZoneInfo subtract and add as
    # wall-clock times, an hour off across a clock change.
    t0 = spec.calendar.start_aware.timestamp()
    end = t0 + spec.calendar.horizon
    day = dt.datetime.fromtimestamp(t0, zone).date() + dt.timedelta(days=1)
    out: list[float] = []
    while True:
        at = dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp()
        if at >= end:
            return tuple(out)
        out.append(at - t0)
        day += dt.timedelta(days=1)


def _merge_overlaps(
    agent: list[int], start: list[float], end: list[float]
) -> tuple[list[int], list[float], list[float]]:
    """One agent's overlapping online segments as one (order of first appearance kept).

    A person works one shift at a time, but one rota can overlap itself: a 24-hour
    shift every day is 25 hours long in absolute time on the day the clocks go
    forward (its next instance starts an hour before it ends), and the engine
    would log the agent off at the first segment's end although the second has
    begun.  Segments that only touch stay as they are (the engine carries on).
    """
    by_agent: dict[int, list[int]] = {}
    for k, a in enumerate(agent):
        by_agent.setdefault(a, []).append(k)
    drop: set[int] = set()
    new_end = list(end)
    for ks in by_agent.values():
        ks.sort(key=lambda k: start[k])
        keep = ks[0]
        for k in ks[1:]:
            if start[k] < new_end[keep]:
                new_end[keep] = max(new_end[keep], new_end[k])
                drop.add(k)
            else:
                keep = k
    if not drop:
        return agent, start, end
    kept = [k for k in range(len(agent)) if k not in drop]
    return [agent[k] for k in kept], [start[k] for k in kept], [new_end[k] for k in kept]


def cut_span(pieces: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """Remove ``[lo, hi)`` from a list of intervals."""
    out = []
    for a, b in pieces:
        if hi <= a or lo >= b:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo))
        if hi < b:
            out.append((hi, b))
    return out


def seat_cost(spec: Scenario) -> float:
    """Price of one sub-account over the horizon (monthly cost pro rata on 30-day months)."""
    return spec.subaccounts.monthly_cost * spec.calendar.horizon / (30.0 * 86400.0)


def subaccount_cost(spec: Scenario) -> float:
    """Sub-account cost over the horizon: the scenario's count at :func:`seat_cost`."""
    return spec.subaccounts.count * seat_cost(spec)
