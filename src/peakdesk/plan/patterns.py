"""Shift patterns of a scenario as a cover problem, and the chosen counts back as shifts.

Each fixed shift instance and each planned (pool, day, start, length) is a
pattern.  The requirement is in reference agents (the requirement scenario's
pool, :mod:`peakdesk.plan.requirement`).  One agent on a pattern contributes, in
each interval, the share of the interval it is online (breaks, staggered, and
shrinkage taken out) times its pool's capacity in reference agents on that
interval's mix of inquiry types (:func:`peakdesk.plan.inputs.pool_capacity`:
concurrency over holding time, so speed, proficiency and concurrency all
count).  Besides the total, each set of inquiry types that only some pools can
take is a group of its own, so the cheapest pool cannot win where it lacks the
skill.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.setup import (
    ShiftInstance,
    cut_span,
    fixed_instances,
    horizon_days,
    local_day_starts,
    seat_cost,
)
from peakdesk.plan.cover import CoverProblem
from peakdesk.plan.inputs import Grid, PlanningInputs
from peakdesk.scenario.schema import Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Offsets at which a staggered break is sampled to average its coverage.
_STAGGER_SAMPLES = 8


@dataclass(frozen=True)
class Pattern:
    """A shift pattern the planner may staff.

    Attributes
    ----------
    pool
        Pool number.
    day
        Local date the shift starts on.
    start_s
        Start, seconds from the scenario start.
    length_s
        Length, seconds (breaks included).
    breaks
        ``(after_s, length_s, stagger_s)`` per break.
    fixed
        A fixed shift of the scenario (its count is given, not chosen).
    agents
        For a fixed shift, its agents.
    group
        Agents' identity group (see :class:`~peakdesk.engine.setup.ShiftInstance`).
    """

    pool: int
    day: dt.date
    start_s: float
    length_s: float
    breaks: tuple[tuple[float, float, float], ...]
    fixed: bool
    agents: int
    group: str

    def label(self, spec: Scenario) -> str:
        """``pool day HH:MM+length`` for tables."""
        local = spec.calendar.start_aware + dt.timedelta(seconds=self.start_s)
        return (
            f"{spec.pools[self.pool].name} {local:%m-%d %H:%M} "
            f"{self.length_s / 3600:g}h{' (fixed)' if self.fixed else ''}"
        )


def patterns(spec: Scenario) -> list[Pattern]:
    """Every fixed shift instance and every plannable pattern of the scenario."""
    out: list[Pattern] = []
    start_date = spec.calendar.start.date()
    for inst in fixed_instances(spec):
        plan = spec.pools[inst.pool].plan
        if plan is not None and not plan.keep_fixed_shifts:
            continue  # the planner staffs this pool from scratch
        day = (spec.calendar.start_aware + dt.timedelta(seconds=inst.start_s)).date()
        out.append(
            Pattern(
                inst.pool,
                day,
                inst.start_s,
                inst.length_s,
                inst.breaks,
                True,
                inst.agents,
                inst.group,
            )
        )
    first, last = horizon_days(spec)
    for p, pool in enumerate(spec.pools):
        plan = pool.plan
        if plan is None:
            continue
        breaks = tuple((b.after, b.length, b.stagger) for b in plan.breaks)
        for clock in plan.start_times_s():
            for day, t0 in local_day_starts(spec, first, last, clock):
                if plan.days is not None and day not in plan.days:
                    continue
                for length in plan.lengths:
                    if t0 >= spec.calendar.horizon or t0 + length <= 0.0:
                        continue
                    if day < start_date and t0 + length <= 0.0:
                        continue
                    group = f"{pool.name}@{day.isoformat()}T{clock / 3600:05.2f}+{length / 3600:g}h"
                    out.append(Pattern(p, day, t0, length, breaks, False, 0, group))
    return out


def online_share(pattern: Pattern, grid: Grid) -> F64:
    """Share of each interval an agent of the pattern is online (staggered breaks averaged)."""
    edges = grid.edges_s
    share = np.zeros(grid.n)
    offsets = [0.0]
    if any(s > 0 for _, _, s in pattern.breaks):
        offsets = [(j + 0.5) / _STAGGER_SAMPLES for j in range(_STAGGER_SAMPLES)]
    for frac in offsets:
        pieces = [(pattern.start_s, pattern.start_s + pattern.length_s)]
        for after, length, stagger in pattern.breaks:
            lo = pattern.start_s + after + stagger * frac
            pieces = cut_span(pieces, lo, lo + length)
        for a, b in pieces:
            a, b = max(a, 0.0), min(b, edges[-1])
            if b <= a:
                continue
            overlap = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0.0, None)
            share += overlap / grid.interval_s
    return np.asarray(share / len(offsets), dtype=np.float64)


def type_groups(spec: Scenario) -> list[tuple[str, list[int], list[int]]]:
    """Sets of inquiry types that only some pools can take: (name, types, pools)."""
    by_pools: dict[tuple[int, ...], list[int]] = {}
    all_pools = tuple(range(len(spec.pools)))
    for j, t in enumerate(spec.inquiry_types):
        able = tuple(p for p, pool in enumerate(spec.pools) if t.skill_name in pool.skills)
        if able != all_pools:
            by_pools.setdefault(able, []).append(j)
    return [
        ("+".join(spec.inquiry_types[j].name for j in types), types, list(pools))
        for pools, types in by_pools.items()
    ]


#: Most restricted type sets whose every union gets a cover row (2^n - 1 rows per
#: interval); above it only the sets and their pairs do.
MAX_UNION_GROUPS = 6


def cover_groups(spec: Scenario) -> list[tuple[str, list[int], list[int]]]:
    """The type sets of :func:`type_groups` and their unions, each a row of the cover.

    One row per set alone lets an agent who can take two sets count in full in
    both (a centre's flex pool serving three clients would count three times).
    Hall's condition for the agents' time: for every union of sets, the pools
    able to take any of its types must cover the union's need; with up to
    :data:`MAX_UNION_GROUPS` sets every union gets a row, beyond that the pairs.
    """
    import itertools

    base = type_groups(spec)
    if len(base) < 2:
        return base
    sizes = range(2, len(base)) if len(base) <= MAX_UNION_GROUPS else range(2, 3)
    out = list(base)
    for size in sizes:
        for combo in itertools.combinations(base, size):
            types = sorted(j for _, ts, _ in combo for j in ts)
            pools = sorted({q for _, _, ps in combo for q in ps})
            out.append((" | ".join(name for name, _, _ in combo), types, pools))
    return out


def cover_problem(inputs: PlanningInputs, agents: I64, pats: list[Pattern]) -> CoverProblem:
    """The cover problem of a requirement (reference agents per interval)."""
    spec, grid = inputs.spec, inputs.grid
    needed = np.asarray(agents, dtype=np.float64)
    share = np.stack([online_share(pt, grid) for pt in pats], axis=1)  # (K, P)
    shrink = np.array([spec.pools[pt.pool].shrinkage for pt in pats])
    present = share * (1.0 - shrink)[None, :]
    pool_of = np.array([pt.pool for pt in pats], dtype=np.int64)
    type_share = inputs.type_share  # (T, K): each type's share of the reference work
    groups: list[tuple[str, list[int], list[int]]] = [
        ("all conversations", list(range(len(spec.inquiry_types))), [])
    ]
    cover: list[F64] = []
    need: list[F64] = []
    names: list[str] = []
    for name, types, _pools in groups + cover_groups(spec):
        # Reference agents one agent of each pool delivers on the group's mix in each
        # interval: to do its types in proportion to their shares w_j it spends
        # w_j / c_pj of its time on type j, so it delivers sum w / sum(w / c).  The
        # "all conversations" row counts a pool on the types it can take; the skill
        # groups' own rows see to the rest.
        w = type_share[types]  # (Tg, K)
        worth = inputs.capacity[:, types]  # (pools, Tg)
        able = worth > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            time_per_ref = np.where(able[:, :, None], w[None] / worth[:, :, None], 0.0).sum(axis=1)
            delivered = (able[:, :, None] * w[None]).sum(axis=1)
            per_agent = np.where(time_per_ref > 0, delivered / time_per_ref, 0.0)  # (pools, K)
        # An interval with none of the group's work still needs nothing, but a pool's
        # agents count at their mean capacity there (the mix is undefined).
        mean_cap = np.array(
            [float(np.mean(c[a])) if a.any() else 0.0 for c, a in zip(worth, able, strict=True)]
        )
        per_agent = np.where(delivered > 0, per_agent, mean_cap[:, None])
        cover.append(present * per_agent[pool_of].T)
        if not names:
            need.append(needed)
        else:
            need.append(np.ceil(needed * w.sum(axis=0) - 1e-9))
        names.append(name)
    # A pool's minimum per day rides on the requirement rows: one row per day, put in
    # the day's first interval, counting the pool's agents starting that day.
    start_day = spec.calendar.start.date()
    for p, pool in enumerate(spec.pools):
        low = pool.plan.min_agents_per_day if pool.plan is not None else None
        if not low:
            continue
        rows = np.zeros((grid.n, len(pats)))
        need_min = np.zeros(grid.n)
        for j, pt in enumerate(pats):
            if pt.pool != p or pt.day < start_day:
                continue
            k = _first_interval_of(spec, grid, pt.day)
            if k is not None:
                rows[k, j] = 1.0
                need_min[k] = low
        cover.append(rows)
        need.append(need_min)
        names.append(f"{pool.name} minimum per day")
    cost = np.array(
        [
            spec.pools[pt.pool].hourly_cost
            * (pt.start_s + pt.length_s - max(pt.start_s, 0.0))
            / 3600.0
            for pt in pats
        ]
    )
    lower = np.array([pt.agents if pt.fixed else 0 for pt in pats], dtype=np.float64)
    upper = np.array(
        [
            pt.agents
            if pt.fixed
            else (
                spec.pools[pt.pool].plan.max_per_shift  # type: ignore[union-attr]
                if spec.pools[pt.pool].plan.max_per_shift is not None  # type: ignore[union-attr]
                else math.inf
            )
            for pt in pats
        ],
        dtype=np.float64,
    )
    days = sorted({pt.day for pt in pats})
    day_of = np.array([days.index(pt.day) for pt in pats], dtype=np.int64)
    pool_max = np.full((len(spec.pools), len(days)), np.inf)
    for p, pool in enumerate(spec.pools):
        if pool.plan is not None and pool.plan.max_agents_per_day is not None:
            fixed_per_day = np.zeros(len(days))
            for pt in pats:
                if pt.fixed and pt.pool == p:
                    fixed_per_day[days.index(pt.day)] += pt.agents
            pool_max[p] = pool.plan.max_agents_per_day + fixed_per_day
    cap = spec.subaccounts.platform_cap
    return CoverProblem(
        cost=cost,
        lower=lower,
        upper=upper,
        cover=np.stack(cover),
        requirement=np.stack(need),
        group_names=tuple(names),
        presence=present,
        subaccount_cap=float(cap) if cap is not None else math.inf,
        pool_of=pool_of,
        pool_max=pool_max,
        day_of=day_of,
        seat_cost=seat_cost(spec),
        seat_groups=_client_seats(inputs, pool_of),
    )


def _client_seats(inputs: PlanningInputs, pool_of: I64) -> tuple[tuple[str, Any, float], ...]:
    """The scenario's seat groups (a centre client's shop): agents online in their pools.

    A group whose seats are taken only while holding its chats (``taken =
    "holding"``) bounds no agent's presence, so it has no row: its seats bound the
    agents holding its chats at once, which no shift choice changes (the
    verification runs, with the engine keeping the seats, say whether it holds).
    """
    spec = inputs.spec
    names = [p.name for p in spec.pools]
    return tuple(
        (g.name, np.isin(pool_of, [names.index(n) for n in g.pools]), float(g.count))
        for g in spec.subaccounts.groups
        if g.taken == "online"
    )


def _first_interval_of(spec: Scenario, grid: Grid, day: dt.date) -> int | None:
    """The planning interval holding local midnight of a day (None if outside the grid)."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=spec.calendar.zone)
    t = (midnight - spec.calendar.start_aware).total_seconds()
    k = int(max(t, 0.0) // grid.interval_s)
    return k if 0 <= k < grid.n else None


def instances_of(pats: list[Pattern], x: I64) -> list[ShiftInstance]:
    """The chosen counts as shift instances for the engine."""
    return [
        ShiftInstance(pt.pool, pt.group, pt.start_s, pt.length_s, pt.breaks, int(n))
        for pt, n in zip(pats, x, strict=True)
        if n > 0
    ]
