"""From a validated scenario (and a staffing choice) to the engine's plain inputs."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np

from peakdesk.engine.config import EngineConfig, PoolConfig
from peakdesk.scenario.schema import Pool, Scenario, Shift

Staffing = Mapping[str, Sequence[int]]
"""Agents per shift pattern, by pool name (overrides the scenario's ``agents``)."""


def scenario_staffing(spec: Scenario) -> dict[str, list[int]]:
    """The staffing written in the scenario: agents per shift, by pool."""
    return {p.name: [s.agents for s in p.shifts] for p in spec.pools}


def _concurrency_multiplier(pool: Pool) -> tuple[float, ...]:
    if pool.compose_multiplier_by_concurrency is not None:
        return tuple(pool.compose_multiplier_by_concurrency)
    return tuple(1.0 + pool.slowdown_per_extra_chat * k for k in range(pool.max_concurrency))


def _shift_instances(spec: Scenario, shift: Shift) -> list[float]:
    """Start times (seconds from the scenario start) of a shift pattern's instances.

    Instances that start before the horizon ends are kept whole (agents finish
    their shift after the last arrival); an instance that began the day before
    the start (a night shift) is kept for the part after time 0.
    """
    cal = spec.calendar
    zone = cal.zone
    start_utc = cal.start_aware.astimezone(dt.UTC)
    first_day = cal.start.date() - dt.timedelta(days=1)
    last_day = (cal.start + dt.timedelta(seconds=cal.horizon)).date()
    days = shift.days
    out = []
    d = first_day
    while d <= last_day:
        if days is None or d in days:
            clock = dt.time(
                int(shift.start // 3600), int(shift.start % 3600 // 60), int(shift.start % 60)
            )
            local = dt.datetime.combine(d, clock, tzinfo=zone)
            t0 = (local.astimezone(dt.UTC) - start_utc).total_seconds()
            if t0 < cal.horizon and t0 + shift.length > 0.0:
                out.append(t0)
        d += dt.timedelta(days=1)
    return out


def build_config(spec: Scenario, staffing: Staffing | None = None) -> EngineConfig:
    """Build the engine's inputs.

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
    staff = scenario_staffing(spec)
    if staffing is not None:
        for name, counts in staffing.items():
            if name not in staff:
                raise KeyError(f"unknown pool {name!r}; pools: {sorted(staff)}")
            if len(counts) != len(staff[name]):
                raise ValueError(f"pool {name!r} has {len(staff[name])} shifts, got {len(counts)}")
            staff[name] = [int(c) for c in counts]
    types = spec.inquiry_types
    pools: list[PoolConfig] = []
    agent_pool: list[int] = []
    seg_agent: list[int] = []
    seg_start: list[float] = []
    seg_end: list[float] = []
    paid: list[float] = []
    for p_idx, pool in enumerate(spec.pools):
        factors = tuple(
            1.0 / (pool.speed * pool.skills[t.skill_name])
            if t.skill_name in pool.skills
            else math.nan
            for t in types
        )
        pools.append(
            PoolConfig(pool.name, factors, _concurrency_multiplier(pool), pool.hourly_cost)
        )
        paid_s = 0.0
        for shift, scheduled in zip(pool.shifts, staff[pool.name], strict=True):
            starts = _shift_instances(spec, shift)
            # Absent agents (shrinkage) are paid but never come online.
            present = round(scheduled * (1.0 - pool.shrinkage))
            for t0 in starts:
                paid_s += scheduled * (t0 + shift.length - max(t0, 0.0))
            for k in range(present):
                a = len(agent_pool)
                agent_pool.append(p_idx)
                for t0 in starts:
                    pieces = [(0.0, shift.length)]
                    for br in shift.breaks:
                        off = br.after + (br.stagger * k / present if present else 0.0)
                        pieces = _cut(pieces, off, off + br.length)
                    for lo, hi in pieces:
                        s, e = max(t0 + lo, 0.0), t0 + hi
                        if e > s:
                            seg_agent.append(a)
                            seg_start.append(s)
                            seg_end.append(e)
        paid.append(paid_s / 3600.0)
    order = np.argsort(np.asarray(seg_start), kind="stable")
    names = [p.name for p in spec.pools]
    pool_order = spec.routing.pool_order or names
    return EngineConfig(
        pools=tuple(pools),
        agent_pool=np.asarray(agent_pool, dtype=np.int32),
        segment_agent=np.asarray(seg_agent, dtype=np.int32)[order],
        segment_start_s=np.asarray(seg_start, dtype=np.float64)[order],
        segment_end_s=np.asarray(seg_end, dtype=np.float64)[order],
        paid_hours_by_pool=tuple(paid),
        subaccounts=spec.subaccounts.count,
        policy=spec.routing.policy,
        pool_order=tuple(names.index(n) for n in pool_order),
        type_priority=tuple(t.priority for t in types),
        wrap_up_s=tuple(t.wrap_up for t in types),
        withdraw_on_abandon=tuple(not t.answer_after_abandon for t in types),
        idle_close_s=math.inf if spec.routing.idle_close is None else spec.routing.idle_close,
        auto_greeting=spec.routing.auto_greeting,
    )


def _cut(pieces: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
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


def subaccount_cost(spec: Scenario) -> float:
    """Sub-account cost over the horizon (monthly cost pro rata on 30-day months)."""
    sa = spec.subaccounts
    return sa.count * sa.monthly_cost * spec.calendar.horizon / (30.0 * 86400.0)
