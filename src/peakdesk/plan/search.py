"""The staffing search: the cheapest shift plan that keeps every target, with evidence.

Steps (2-4 repeat in rounds):

1. **requirement** per interval (reference agents), seeded from the modified
   offered load and refined by the iterative staffing algorithm at a chosen
   ``alpha`` (the share of an interval's time every slot may be taken), fresh
   buyers each iteration, until no interval moves by more than
   ``plan.isa_tolerance`` agents, or the iterates cycle;
2. **shift cover and seats**: the cheapest integer counts of shift patterns
   covering that requirement, each pool's agents counted at their capacity in
   reference agents, per pool and skill group, within pool limits, with the
   sub-accounts priced and capped (:mod:`peakdesk.plan.cover`, HiGHS);
3. **verification**: the shift plan itself (not the requirement) simulated on
   fresh seeds in batches and judged by a one-sided confidence bound on
   P(all targets met) (:mod:`peakdesk.plan.guarantee`): accepted when the
   lower bound clears ``targets.confidence``, short when the upper bound is
   below it, another batch otherwise (up to a cap);
4. a short plan has the requirement of the intervals that served buyers late
   on the days a target missed raised by the measured shortfall
   (:func:`shortfall_raise`), and the cover and verification repeat.

An accepted plan is **trimmed**: the smallest scale of its requirement (in
steps of ``plan.trim_step``, down to :data:`TRIM_FLOOR`) whose plan is accepted under the same
rule is found by bisection (:func:`_trim`),
then run once more on held-out seeds that neither the refinement nor the
verification used: the held-out share of runs keeping every target, with its
interval, is the figure reported; a plan whose held-out share is below the
requirement fails.  An infeasible cover, or targets still missed after the last
round, is reported as such, with what binds, never as a plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from peakdesk.engine.config import EngineConfig
from peakdesk.engine.intervals import peak_level
from peakdesk.engine.setup import build_config, config_from_instances, seat_cost, subaccount_cost
from peakdesk.experiment.replicate import Evaluation, score_runs, simulate
from peakdesk.experiment.targets import TargetSummary, summarise_targets
from peakdesk.plan.cover import (
    CoverSolution,
    Diagnosis,
    SeatPrice,
    seat_price,
    solve_cover,
)
from peakdesk.plan.guarantee import (
    Decision,
    HeldOut,
    decide,
    held_out,
    lower_bound,
    runs_to_clear,
)
from peakdesk.plan.inputs import Grid, PlanningInputs
from peakdesk.plan.patterns import Pattern, cover_problem, instances_of, patterns
from peakdesk.plan.planned import planned_scenario
from peakdesk.plan.requirement import IsaStep, iterate_requirement, seed_requirement
from peakdesk.plan.robust import DemandBasis
from peakdesk.rules.calendar import day_date
from peakdesk.rules.targets import TargetResult
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import REFINEMENT_SEEDS, Scenario
from peakdesk.units import zone_info

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Seeds of verification runs start here, past the refinement's replications
#: (``replications x MAX_GROWTH x max_iterations <= REFINEMENT_SEEDS``, checked by
#: the schema).
VERIFY_OFFSET = REFINEMENT_SEEDS
#: Seeds of the held-out check start here: past any verification (at most
#: MAX_REPLICATIONS = 10,000 runs), never used by the search.
HOLDOUT_OFFSET = 1_000_000
#: The smallest scale of an accepted requirement the trimming tries (the refinement
#: staffs every interval to ``alpha``, which for a loose target can be three times
#: what it needs: a small shop at 80% within 3 minutes kept it at x0.35).
TRIM_FLOOR = 0.30
#: Two-sided level of the held-out interval reported beside the held-out share.
HELD_OUT_LEVEL = 0.95


@dataclass(frozen=True)
class Round:
    """One round of the search, for the trace.

    Attributes
    ----------
    round
        Number, from 1.
    alpha
        Share of each interval's time all slots may be taken.
    isa
        The refinement iterations.
    cover_status
        The cover solver's status.
    cost
        Cost of the round's plan (labour + sub-accounts), if any.
    p_all_met
        Share of verification runs keeping every target.
    targets
        Each target's verification summary.
    replications
        Verification runs of the round's plan (all batches).
    lower
        One-sided lower bound of P(all targets met) on them.
    decision
        ``accept``, ``reject`` (the upper bound is below the requirement) or
        ``continue`` (undecided at the cap); ``""`` without targets.
    raised
        Agent-intervals added to the requirement after this round (0: none).
    scale
        For a trimming round, the scale of the accepted requirement it tried
        (< 1); 1 for the rounds that raise.
    cover_s, verify_s
        Wall time of the round's cover (HiGHS) and of its verification runs, s.
    """

    round: int
    alpha: float
    isa: tuple[IsaStep, ...]
    cover_status: str
    cost: float
    p_all_met: float
    targets: tuple[TargetSummary, ...]
    replications: int = 0
    lower: float = math.nan
    decision: str = ""
    raised: int = 0
    scale: float = 1.0
    cover_s: float = 0.0
    verify_s: float = 0.0


@dataclass(frozen=True)
class Plan:
    """The planner's answer.

    Attributes
    ----------
    status
        ``"ok"`` (every target kept with the required probability),
        ``"infeasible"`` (no cover exists: see ``diagnosis``), or ``"not_met"``
        (the best plan found still misses a target: see ``message``).
    message
        One sentence for people.
    grid
        The planning grid.
    requirement
        Reference agents needed online per interval (the last round's).
    patterns
        The patterns considered.
    counts
        Agents on each pattern (the plan).
    subaccounts
        Sub-accounts the plan needs (its peak of agents online).
    labour_cost_by_pool
        Paid agent-hours x hourly cost, per pool name.
    subaccount_cost
        Sub-accounts over the horizon.
    verification
        The final plan simulated on fresh seeds (``None`` if infeasible).
    rounds
        The trace of the search.
    diagnosis
        What binds, when infeasible.
    held_out
        The accepted plan on held-out seeds (``None``: not run).
    seat_price
        What one more sub-account would save the plan (``None``: no plan).
    time_s
        Wall time by stage, seconds: ``seed``, ``refinement``, ``cover``,
        ``verification``, ``held_out`` (and ``total``).
    demand_basis
        The demand planned for when not the forecast's (``plan --margin`` or
        ``--quantile``, :mod:`peakdesk.plan.robust`); ``None``: the forecast.
    rejected_trim
        The closest trim below the plan's scale that was not accepted (the plan is
        the last accepted round's; ``None``: no such trim).
    trim_probes
        Every requirement scale the trimming verified, in the order tried.
    seeds
        Replication numbers each stage used, ``stage -> (first, end)``
        (``refinement``, ``verification``, ``held_out``), all with ``base_seed``.
    base_seed
        The base seed of every simulation of the search.
    refined
        The refined requirement of the scenario as given (the refinement's answer,
        before any raise or trim); ``None`` when no refinement ran.  ``plan
        --frontier`` starts its scan of the scenario as written from it instead of
        refining again (same scenario and seeds: the same answer).
    """

    status: str
    message: str
    grid: Grid
    requirement: I64
    patterns: tuple[Pattern, ...]
    counts: I64
    subaccounts: int
    labour_cost_by_pool: dict[str, float]
    subaccount_cost: float
    verification: Evaluation | None
    rounds: tuple[Round, ...]
    diagnosis: tuple[Diagnosis, ...] = field(default_factory=tuple)
    held_out: HeldOut | None = None
    seat_price: SeatPrice | None = None
    rejected_trim: Round | None = None
    trim_probes: tuple[Round, ...] = ()
    demand_basis: DemandBasis | None = None
    time_s: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, tuple[int, int]] = field(default_factory=dict)
    base_seed: int | None = None
    refined: I64 | None = None

    @property
    def total_cost(self) -> float:
        """Labour and sub-accounts over the horizon."""
        return sum(self.labour_cost_by_pool.values()) + self.subaccount_cost

    @classmethod
    def without_plan(
        cls,
        status: str,
        message: str,
        grid: Grid,
        pats: list[Pattern],
        *,
        requirement: I64 | None = None,
        rounds: tuple[Round, ...] = (),
        diagnosis: tuple[Diagnosis, ...] = (),
        seeds: dict[str, tuple[int, int]] | None = None,
        base_seed: int | None = None,
    ) -> Plan:
        """An answer with no plan in it (nothing covers): no agents, no cost, no runs."""
        return cls(
            status=status,
            message=message,
            grid=grid,
            requirement=(np.zeros(grid.n, dtype=np.int64) if requirement is None else requirement),
            patterns=tuple(pats),
            counts=np.zeros(len(pats), dtype=np.int64),
            subaccounts=0,
            labour_cost_by_pool={},
            subaccount_cost=0.0,
            verification=None,
            rounds=rounds,
            diagnosis=diagnosis,
            seeds=dict(seeds or {}),
            base_seed=base_seed,
        )


def starting_alpha(inputs: PlanningInputs) -> float:
    """The first round's ``alpha``: the scenario's setting, else from the strictest share target.

    A share target ``v`` (a rate to keep) starts at ``alpha = 1 - v``: having
    every slot busy for a share ``1 - v`` of the time lets some buyers wait,
    but not (for typical reply times) past the target's threshold.
    """
    spec = inputs.spec
    if spec.plan.delay_probability is not None:
        return spec.plan.delay_probability
    shares = [t.value for t in inputs.targets if t.op == ">=" and 0 < t.value < 1]
    return float(np.clip(1.0 - max(shares), 0.02, 0.5)) if shares else 0.2


def search(
    loaded: LoadedScenario,
    *,
    workers: int = 1,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
    dask: str | None = None,
    holdout: int | None = None,
) -> Plan:
    """Find the cheapest plan that keeps the scenario's targets.

    When the platform's sub-account cap is what makes the cover impossible,
    the search tries once more with one more chat per agent in every planned
    pool (fewer agents online for the same slots) and says so: the trade a
    planner makes when seats run out.

    Parameters
    ----------
    loaded
        The scenario; pools with ``[pools.plan]`` are staffed by the search,
        fixed shifts stay as given.
    workers
        Worker processes for the simulations.
    seed
        Base seed (default: the scenario's).
    progress
        Called with a line of text at each step.
    dask
        Address of a Dask scheduler to run the simulations on (same results).
    holdout
        Held-out runs of the accepted plan (default: ``plan.holdout_replications``;
        0: no held-out check).
    """
    if holdout is not None:
        settings = loaded.spec.plan.model_copy(update={"holdout_replications": holdout})
        loaded = loaded.with_spec(loaded.spec.model_copy(update={"plan": settings}))
    t0 = time.perf_counter()
    clock: dict[str, float] = {}
    refined: list[I64] = []  # the scenario's refined requirement, when it was refined
    found = _search(
        loaded, workers=workers, seed=seed, progress=progress, dask=dask, clock=clock, keep=refined
    )
    plan = dataclasses.replace(_timed(found, clock, t0), refined=refined[0] if refined else None)
    capped = plan.status == "infeasible" and any(d.kind == "subaccount_cap" for d in plan.diagnosis)
    if not capped:
        return plan
    traded = with_chats(loaded)
    if traded is None:
        return plan
    say = progress or (lambda _m: None)
    say("the sub-account cap binds: trying one more concurrent chat per planned agent")
    second = _timed(
        _search(traded, workers=workers, seed=seed, progress=progress, dask=dask, clock=clock),
        clock,
        t0,
    )
    if second.status == "infeasible":
        return _with_status(
            plan,
            "infeasible",
            plan.message + "; one more chat per agent does not fit under the cap either",
        )
    caps = ", ".join(
        f"{p.name} {p.max_concurrency}" for p in traded.spec.pools if p.plan is not None
    )
    return dataclasses.replace(
        _with_status(
            second,
            second.status,
            f"{second.message}; the sub-account cap binds at the scenario's concurrency, so "
            f"this plan has agents hold one more chat each ({caps})",
        ),
        refined=plan.refined,  # the scenario's own (as given), not the traded one's
    )


def _timed(plan: Plan, clock: dict[str, float], t0: float) -> Plan:
    """The plan with its wall time by stage (seed and refinement from ``clock``)."""
    kept = {id(r) for r in plan.rounds}
    rounds = [*plan.rounds, *(r for r in plan.trim_probes if id(r) not in kept)]
    stages = {
        "seed": clock.get("seed", 0.0),
        "refinement": clock.get("refinement", 0.0),
        "cover": sum(r.cover_s for r in rounds),
        "verification": sum(r.verify_s for r in rounds),
        "held_out": clock.get("held_out", 0.0),
    }
    return dataclasses.replace(plan, time_s=stages | {"total": time.perf_counter() - t0})


def with_chats(loaded: LoadedScenario, chats: int | None = None) -> LoadedScenario | None:
    """The scenario with each planned pool's concurrency cap set to ``chats``.

    ``chats`` None raises each by one.  A slowdown table
    (``compose_multiplier_by_concurrency``) is cut, or extended by its last step.
    None when a cap would leave 1..50.
    """
    pools = []
    for pool in loaded.spec.pools:
        if pool.plan is None:
            pools.append(pool)
            continue
        m = pool.max_concurrency + 1 if chats is None else chats
        if not 1 <= m <= 50:
            return None
        update: dict[str, object] = {"max_concurrency": m}
        table = pool.compose_multiplier_by_concurrency
        if table is not None:
            table = list(table[:m])
            while len(table) < m:
                step = table[-1] / table[-2] if len(table) > 1 else 1.0
                table.append(table[-1] * step)
            update["compose_multiplier_by_concurrency"] = table
        pools.append(pool.model_copy(update=update))
    return loaded.with_spec(loaded.spec.model_copy(update={"pools": pools}))


def _search(
    loaded: LoadedScenario,
    *,
    workers: int,
    seed: int | None,
    progress: Callable[[str], None] | None,
    dask: str | None = None,
    clock: dict[str, float] | None = None,
    keep: list[I64] | None = None,
) -> Plan:
    """The search of :func:`search` on one scenario; ``keep`` gets the refined requirement."""
    clock = {} if clock is None else clock
    spec = loaded.spec
    settings = spec.plan
    seed = spec.simulation.seed if seed is None else seed
    say = progress or (lambda _m: None)
    inputs = PlanningInputs.of(loaded)  # the scenario is read here, once
    grid = inputs.grid
    pats = patterns(spec)
    days = sorted({pt.day for pt in pats})  # the cover's day indices
    alpha = starting_alpha(inputs)
    beyond = _beyond_the_cap(inputs)
    if beyond is not None:
        # No staffing can hold the buyers under the cap: say so before any simulation.
        k = max(range(len(beyond.intervals)), key=lambda i: beyond.value[i])
        at = _interval_label(loaded, grid, beyond.intervals[k])
        return Plan.without_plan(
            "infeasible",
            f"no staffing fits under the platform's cap of {beyond.limit[k]:.0f} "
            f"sub-account{'s' if beyond.limit[k] != 1 else ''}: "
            f"at {at} the buyers alone keep {beyond.value[k]:.1f} agents busy (arrivals x "
            "holding time, at the most any pool's agent can hold; in "
            f"{len(beyond.intervals)} intervals) before any waiting is allowed",
            grid,
            pats,
            diagnosis=(beyond,),
            base_seed=seed,
        )
    held = _beyond_held_seats(inputs)
    if held is not None:
        k = max(range(len(held.intervals)), key=lambda i: held.value[i])
        at = _interval_label(loaded, grid, held.intervals[k])
        return Plan.without_plan(
            "infeasible",
            f"no staffing fits under the {held.limit[k]:.0f} seat(s) of {held.group}, taken "
            f"while holding: over a whole day its buyers alone keep more agents holding its "
            f"chats than that (at {at}, {held.value[k]:.1f}: arrivals x holding time, at "
            f"the most any pool's agent can hold; over it in {len(held.intervals)} "
            "intervals); more agents do not help, more seats or more chats per agent do",
            grid,
            pats,
            diagnosis=(held,),
            base_seed=seed,
        )
    tick = time.perf_counter()
    seed_req = seed_requirement(inputs, alpha)
    clock["seed"] = clock.get("seed", 0.0) + time.perf_counter() - tick
    say(f"seed requirement (modified offered load): peak {int(seed_req.max())} reference agents")
    say(
        f"refining the requirement by simulation at alpha = {alpha:.3g} (until no interval "
        f"moves by more than {settings.isa_tolerance} agent(s))"
    )
    tick = time.perf_counter()
    base, steps = refine(inputs, seed_req, alpha, seed, workers, dask, say)
    clock["refinement"] = clock.get("refinement", 0.0) + time.perf_counter() - tick
    if keep is not None:
        keep.append(base)
    # Fresh replication numbers each refinement iteration (plan.requirement).
    seeds = {
        "refinement": (0, steps[-1].first_replication + steps[-1].replications if steps else 0)
    }
    rounds: list[Round] = []
    required = spec.targets.confidence
    has_targets = bool(inputs.targets)
    best: Plan | None = None
    # Where a verified plan is short, the intervals that served buyers late on the days a
    # target missed get more agents, by the measured shortfall (the ISA fixed point is
    # about slots being full; what the targets measure also depends on how busy each
    # agent is, and on the forecast's heavy days).
    raised = np.zeros(grid.n, dtype=np.int64)
    req = base
    for rnd in range(1, settings.max_rounds + 1):
        req = base + raised
        problem = cover_problem(inputs, req, pats)
        sol = solve_cover(
            problem, time_limit_s=settings.milp_time_limit, mip_rel_gap=settings.milp_gap
        )
        say(
            f"round {rnd}: requirement peak {int(req.max())}; shift cover {sol.status}, "
            f"cost {sol.cost:,.0f} ({sol.solve_time_s:.1f} s)"
        )
        if not sol.feasible:
            binding = "; ".join(
                d.describe(
                    interval_label=lambda k: _interval_label(loaded, grid, k),
                    pool_label=lambda i: f"pool {spec.pools[i].name!r}",
                    day_label=lambda d: days[d].isoformat(),
                )
                for d in sol.diagnosis
            )
            if best is not None:
                # What binds goes with the best plan too (plan.json, the quote's relaxing).
                return dataclasses.replace(
                    _with_status(
                        best,
                        "not_met",
                        f"the best plan keeps every target in {best.rounds[-1].p_all_met:.0%} "
                        f"of runs (required {required:.0%}) and cannot be raised further: "
                        f"{binding}",
                        rounds,
                    ),
                    diagnosis=tuple(sol.diagnosis),
                )
            rounds.append(Round(rnd, alpha, tuple(steps), sol.status, math.nan, math.nan, ()))
            return Plan.without_plan(
                "infeasible",
                "no shift plan covers the requirement: " + binding,
                grid,
                pats,
                requirement=req,
                rounds=tuple(rounds),
                diagnosis=sol.diagnosis,
                seeds=seeds,
                base_seed=seed,
            )
        plan, decision, cfg = _verify(
            inputs, req, pats, sol, workers, seed, rnd, rounds, alpha, steps, say, dask
        )
        plan = dataclasses.replace(plan, seat_price=seat_price(problem, sol))
        steps = []  # the refinement belongs to the first round's trace
        n_verified = rounds[-1].replications
        seeds["verification"] = (
            VERIFY_OFFSET,
            max(seeds.get("verification", (0, 0))[1], VERIFY_OFFSET + n_verified),
        )
        plan = dataclasses.replace(plan, seeds=dict(seeds), base_seed=seed)
        # The best so far: the highest lower bound, then the most runs keeping every
        # target, then the cheapest.
        if best is None or _rank(plan) > _rank(best):
            best = plan
        if not has_targets:
            return _with_status(plan, "ok", _ok_message(plan, required))
        if decision == "accept":
            plan, cfg = _trim(inputs, req, pats, plan, cfg, rounds, alpha, seed, workers, say, dask)
            seeds["verification"] = (
                VERIFY_OFFSET,
                VERIFY_OFFSET + max(r.replications for r in (*rounds, *plan.trim_probes)),
            )
            plan = dataclasses.replace(plan, seeds=dict(seeds), base_seed=seed)
            tick = time.perf_counter()
            checked = _held_out_check(inputs, plan, cfg, seed, workers, say, dask, seeds)
            clock["held_out"] = clock.get("held_out", 0.0) + time.perf_counter() - tick
            return checked
        if len(rounds) >= 2 and _same_worst_days(rounds[-2], rounds[-1]):
            # The same buyers (verification seeds) with more agents, and not one target's
            # worst day moved: staffing is not what limits the targets.
            return _with_status(
                best,
                "not_met",
                f"round {rnd} added agents and no target's worst day moved by 0.1% (same "
                "buyers): "
                f"staffing is not what limits them; the best plan keeps every target in "
                f"{best.rounds[-1].p_all_met:.0%} of {best.rounds[-1].replications} runs "
                f"(required {required:.0%}). Check reply speed, concurrency, bots and the "
                "target's own threshold",
                rounds,
            )
        add = shortfall_raise(loaded, plan, grid, required)
        raised += add
        rounds[-1] = dataclasses.replace(rounds[-1], raised=int(add.sum()))
        say(
            f"  raising the requirement in {int((add > 0).sum())} intervals by the measured "
            f"shortfall (+{int(add.sum())} agent-intervals, largest +{int(add.max(initial=0))})"
        )
    assert best is not None
    failing = [
        f"{t.target.text} (P(met) {t.p_met:.0%})"
        for t in best.rounds[-1].targets
        if t.p_met < required
    ]
    last = best.rounds[-1]
    msg = (
        f"after {settings.max_rounds} rounds the best plan keeps every target in "
        f"{last.p_all_met:.0%} of {last.replications} runs, lower {settings.bound_level:.0%} "
        f"bound {last.lower:.2f} (required {required:.0%})"
        + ("; missed: " + ", ".join(failing) if failing else "")
        + ". More agents alone may not help: check concurrency, reply speed, bots and "
        "the target's own threshold."
    )
    return _with_status(best, "not_met", msg, rounds)


def _reference_busy(inputs: PlanningInputs) -> F64:
    """Reference agents the buyers of each interval keep busy on average: arrivals x
    holding time / the reference agent's chats, whatever the staffing."""
    work = inputs.work
    return work.rate_per_s * work.hold_s / inputs.requirement_pool.max_concurrency


def _beyond_the_cap(inputs: PlanningInputs) -> Diagnosis | None:
    """The intervals whose offered load alone needs more agents online than the cap allows.

    The buyers of an interval keep ``rate x holding time / m`` reference agents busy
    on average (the reference agent holding ``m`` chats), whatever the staffing; an
    agent of pool ``p`` is worth at most ``max_j capacity[p, j]`` of them, so at
    least ``load / max capacity`` agents must be online, each holding a seat.  Above
    the platform's cap, no plan exists, and the search would only learn it after
    the refinement's simulations.
    """
    cap = inputs.spec.subaccounts.platform_cap
    if cap is None:
        return None
    busy = _reference_busy(inputs)
    best = float(inputs.capacity.max(initial=0.0))
    if best <= 0:
        return None
    need = busy / best
    over = np.flatnonzero(need > cap * (1.0 + 1e-9))
    if not over.size:
        return None
    return Diagnosis(
        kind="subaccount_cap",
        intervals=tuple(int(k) for k in over),
        limit=tuple(float(cap) for _ in over),
        value=tuple(float(need[k]) for k in over),
    )


def _beyond_held_seats(inputs: PlanningInputs) -> Diagnosis | None:
    """A seat group taken while holding whose types' load alone, over a whole local day,
    needs more agents holding their chats at once than it has seats (the first such).

    As in :func:`_beyond_the_cap`: the group's types keep ``rate x holding time / m x
    their share`` reference agents busy, and an agent is worth at most the best
    capacity of a pool for them; each agent holding one of their chats holds a seat.
    An interval above the seats is not proof (a spike shorter than a chat's holding
    time never has all its chats held at once; a day's targets can absorb a bad hour),
    so the day's mean must be above them: then no staffing keeps up, whatever the
    verification would find.  Intervals above the seats on a day within them are left
    to the verification runs.
    """
    spec = inputs.spec
    names = [t.name for t in spec.inquiry_types]
    busy = _reference_busy(inputs)
    step = inputs.grid.interval_s
    t0 = spec.calendar.start_aware.timestamp()  # (absolute: no wall-clock arithmetic)
    centre = inputs.loaded.centre
    clocks = {f"client {c.name!r}": c.timezone for c in centre.clients} if centre else {}
    days_in: dict[str, I64] = {}  # each clock's local day per interval
    # A day of fewer than 12 hours on the grid (a horizon's partial first or last
    # day) is not judged: its mean may be a spike alone.
    least = 12 * 3600.0 / step
    for group in spec.subaccounts.groups:
        if group.taken != "holding":
            continue
        idx = [names.index(t) for t in group.types]
        best = float(inputs.capacity[:, idx].max(initial=0.0))
        if best <= 0:
            continue
        need = busy * inputs.type_share[idx].sum(axis=0) / best
        # The local days of the group's clock (a centre client's; else the calendar's).
        clock = clocks.get(group.name, spec.calendar.timezone)
        if clock not in days_in:
            zone = zone_info(clock)
            days_in[clock] = np.array(
                [
                    dt.datetime.fromtimestamp(t0 + k * step, zone).date().toordinal()
                    for k in range(inputs.grid.n)
                ],
                dtype=np.int64,
            )
        day = days_in[clock]
        over: list[int] = []
        for d in np.unique(day):
            on = np.flatnonzero(day == d)
            if on.size >= least and float(need[on].mean()) > group.count * (1.0 + 1e-9):
                over.extend(int(k) for k in on if need[k] > group.count)
        if over:
            return Diagnosis(
                kind="subaccount_cap",
                group=group.name,
                intervals=tuple(over),
                limit=tuple(float(group.count) for _ in over),
                value=tuple(float(need[k]) for k in over),
            )
    return None


def refine(
    inputs: PlanningInputs,
    seed_req: I64,
    alpha: float,
    seed: int,
    workers: int,
    dask: str | None,
    say: Callable[[str], None],
) -> tuple[I64, list[IsaStep]]:
    """The ISA refinement of a seed requirement with the scenario's settings, traced."""
    settings = inputs.spec.plan
    return iterate_requirement(
        inputs,
        seed_req,
        alpha,
        replications=settings.replications,
        max_iterations=settings.max_iterations,
        tolerance=settings.isa_tolerance,
        seed=seed,
        workers=workers,
        dask=dask,
        on_step=lambda st: say(
            f"  iteration {st.iteration} ({st.replications} runs): peak "
            f"{int(st.agents.max())} -> {int(st.next_agents.max())} agents, largest change "
            f"{st.max_change}"
            + (f" ({_OUTCOME[st.outcome](st)})" if st.outcome != "moving" else "")
        ),
    )


_OUTCOME: dict[str, Callable[[IsaStep], str]] = {
    "converged": lambda st: "converged",
    "cycle": lambda st: f"a cycle of {st.cycle}: the interval-wise max of it is kept",
    "not_converged": lambda st: "not converged at the iteration cap: the larger of the last two",
}


def _trim(
    inputs: PlanningInputs,
    req: I64,
    pats: list[Pattern],
    plan: Plan,
    cfg: EngineConfig,
    rounds: list[Round],
    alpha: float,
    seed: int,
    workers: int,
    say: Callable[[str], None],
    dask: str | None,
) -> tuple[Plan, EngineConfig]:
    """The cheapest accepted plan below an accepted requirement, by bisection on its scale.

    Rounds overshoot: the refinement staffs every interval to ``alpha`` and a raise
    adds a whole measured shortfall, so the first accepted plan is often dearer than
    it needs to be.  The requirement is scaled by ``1 - k * plan.trim_step`` down to
    :data:`TRIM_FLOOR`; the search keeps the largest ``k`` known to fail and the smallest known to
    pass (``k = 0``, the accepted round) and tries the one halfway, until they are
    neighbours.  A try is covered, and verified under the round's own acceptance
    rule (batches on the same verification seeds until the bound decides, up to the
    cap): accepted and cheaper, it is the plan and the search goes lower; short or
    undecided at the cap, it goes higher.  A cover no cheaper than the plan needs no
    run: a smaller requirement that costs as much buys nothing, and the search goes
    lower.  Choosing among several plans on the same seeds favours the luckiest;
    the held-out check, on seeds none of them saw, is what guards against that.
    """
    step = inputs.spec.plan.trim_step
    settings = inputs.spec.plan
    best, best_cfg = plan, cfg
    if step <= 0:
        return best, best_cfg
    # k = failed is the first step below the floor (never tried: it fails by definition)
    passed, failed = 0, math.floor((1.0 - TRIM_FLOOR) / step + 1e-9) + 1
    tried: list[Round] = []
    while failed - passed > 1:
        k = (passed + failed) // 2
        scale = round(1.0 - k * step, 6)
        trial = np.ceil(scale * req - 1e-9).astype(np.int64)
        problem = cover_problem(inputs, trial, pats)
        sol = solve_cover(
            problem, time_limit_s=settings.milp_time_limit, mip_rel_gap=settings.milp_gap
        )
        if not sol.feasible:
            say(f"trimming: requirement x{scale:.2f}: no cover ({sol.status})")
            failed = k
            continue
        if sol.cost >= sum(best.labour_cost_by_pool.values()) - 1e-6:
            say(f"trimming: requirement x{scale:.2f} costs no less ({sol.cost:,.0f}): lower")
            passed = k
            continue
        say(
            f"trimming: requirement x{scale:.2f} (peak {int(trial.max())}), shift cover "
            f"{sol.status}, cost {sol.cost:,.0f}"
        )
        trial_rounds = list(rounds)
        candidate, decision, candidate_cfg = _verify(
            inputs,
            trial,
            pats,
            sol,
            workers,
            seed,
            len(rounds) + 1,
            trial_rounds,
            alpha,
            [],
            say,
            dask,
        )
        probe = dataclasses.replace(trial_rounds[-1], scale=scale)
        tried.append(probe)
        if decision == "accept" and candidate.total_cost < best.total_cost:
            rounds[:] = [*trial_rounds[:-1], probe]
            best = dataclasses.replace(
                candidate, rounds=tuple(rounds), seat_price=seat_price(problem, sol)
            )
            best_cfg = candidate_cfg
            passed = k
        else:
            say(f"  not accepted: the x{scale:.2f} plan is kept out")
            failed = k
    final = rounds[-1].scale
    below = [r for r in tried if r.scale < final and r.decision != "accept"]
    rejected = max(below, key=lambda r: r.scale) if below else None
    return dataclasses.replace(best, rejected_trim=rejected, trim_probes=tuple(tried)), best_cfg


def _same_worst_days(a: Round, b: Round) -> bool:
    """Whether a round with more agents left P(all met) and every target's worst day put.

    "Put": no higher share of runs keeping every target, and each target's mean worst
    day within 0.1% of the target's bound of where it was.
    """
    if not a.targets or len(a.targets) != len(b.targets) or b.p_all_met > a.p_all_met:
        return False
    return all(
        abs(x.worst_mean - y.worst_mean) <= 1e-3 * abs(x.target.value)
        for x, y in zip(a.targets, b.targets, strict=True)
    )


def _rank(plan: Plan) -> tuple[float, float, float]:
    r = plan.rounds[-1]
    low = r.lower if r.lower == r.lower else -1.0
    return (low, r.p_all_met if r.p_all_met == r.p_all_met else -1.0, -plan.total_cost)


def _verify(
    inputs: PlanningInputs,
    req: I64,
    pats: list[Pattern],
    sol: CoverSolution,
    workers: int,
    seed: int,
    rnd: int,
    rounds: list[Round],
    alpha: float,
    steps: list[IsaStep],
    say: Callable[[str], None],
    dask: str | None = None,
) -> tuple[Plan, Decision, EngineConfig]:
    """Simulate the round's shift plan on fresh seeds, batch by batch, and judge it.

    Returns the plan, the decision and the plan's engine config (for the held-out check).

    Batches of ``plan.verify_replications`` are added until the bound decides
    (:func:`peakdesk.plan.guarantee.decide`) or ``plan.verify_cap`` runs are done.
    """
    grid, spec = inputs.grid, inputs.spec
    settings = spec.plan
    cfg, subaccounts = plan_config(spec, pats, sol.x)
    required = spec.targets.confidence
    has_targets = bool(inputs.targets)
    ev: Evaluation | None = None
    decision: Decision = "continue"
    batch = settings.verify_replications
    tick = time.perf_counter()
    while True:
        done = len(ev.replications) if ev is not None else 0
        batch = min(batch, settings.verify_cap - done)
        # The same verification seeds every round (fresh against the refinement's):
        # rounds then differ by their staffing, not by their buyers.
        batch_ev = run_plan(inputs, cfg, seed, batch, VERIFY_OFFSET + done, workers, dask)
        ev = (
            batch_ev
            if ev is None
            else dataclasses.replace(ev, replications=ev.replications + batch_ev.replications)
        )
        n = len(ev.replications)
        if not has_targets:
            say(f"  verifying the shift plan: {n} replications on fresh seeds (no targets)")
            break
        met = runs_met(ev)
        decision = decide(met, n, required, settings.bound_level, settings.bound)
        low = lower_bound(met, n, settings.bound_level, settings.bound)
        say(
            f"  verifying the shift plan: {met} of {n} runs keep every target, lower "
            f"{settings.bound_level:.0%} bound {low:.3f} (required {required:.0%}): "
            + {"accept": "accepted", "reject": "short", "continue": "undecided"}[decision]
        )
        if decision != "continue" or n >= settings.verify_cap:
            break
        # The next batch: at least the fewest further runs that could accept (all of
        # them keeping every target), so that no batch is too small to decide.
        clear = runs_to_clear(met, n, required, settings.bound_level, settings.bound)
        if clear > settings.verify_cap - n:
            # Futile: even if every run up to the cap kept every target, the bound would
            # not clear; stop here rather than spend the cap (the plan is not shown).
            say(
                f"  not shown within {settings.verify_cap} runs even if every further run "
                f"kept every target ({clear} more needed): short"
            )
            break
        batch = max(settings.verify_replications, clear)
    summaries = tuple(ev.targets())
    p_all = ev.p_all_targets_met
    n = len(ev.replications)
    low = (
        lower_bound(runs_met(ev), n, settings.bound_level, settings.bound)
        if has_targets
        else math.nan
    )
    labour = {
        pool.name: hours * pool.hourly_cost
        for pool, hours in zip(spec.pools, cfg.paid_hours_by_pool, strict=True)
    }
    sa_cost = subaccounts * seat_cost(spec)
    cost = sum(labour.values()) + sa_cost
    rounds.append(
        Round(
            rnd,
            alpha,
            tuple(steps),
            sol.status,
            cost,
            p_all,
            summaries,
            replications=n,
            lower=low,
            decision=decision if has_targets else "",
            cover_s=sol.solve_time_s,
            verify_s=time.perf_counter() - tick,
        )
    )
    say(
        f"  plan cost {cost:,.0f}, {subaccounts} sub-accounts"
        + (f", every target kept in {p_all:.0%} of {n} runs" if has_targets else "")
    )
    for t in summaries:
        say(f"    {t.target.text}: P(met) {t.p_met:.0%}, worst day {t.worst_mean:.4g}")
    plan = Plan(
        status="ok",
        message="",
        grid=grid,
        requirement=req,
        patterns=tuple(pats),
        counts=sol.x,
        subaccounts=subaccounts,
        labour_cost_by_pool=labour,
        subaccount_cost=sa_cost,
        verification=ev,
        rounds=tuple(rounds),
    )
    return plan, decision, cfg


def plan_config(spec: Scenario, pats: list[Pattern], counts: I64) -> tuple[EngineConfig, int]:
    """The engine config of a shift plan and its sub-accounts (its peak online, capped).

    The plan is a scenario: simulated as ``peakdesk simulate planned.toml`` runs it.
    """
    open_cfg = config_from_instances(spec, instances_of(pats, counts), subaccounts=10**9)
    need = peak_level(open_cfg.segment_start_s, open_cfg.segment_end_s)
    cap = spec.subaccounts.platform_cap
    subaccounts = min(need, cap) if cap is not None else need
    return build_config(planned_scenario(spec, pats, counts, subaccounts)), subaccounts


def run_plan(
    inputs: PlanningInputs,
    cfg: EngineConfig,
    seed: int,
    replications: int,
    first: int,
    workers: int,
    dask: str | None,
) -> Evaluation:
    """Replications ``first ..`` of a plan's engine config, on the planning intensity."""
    return simulate(
        inputs.loaded,
        seed=seed,
        replications=replications,
        config=cfg,
        keep_logs=False,
        workers=workers,
        dask=dask,
        intensity=inputs.intensity,
        first_replication=first,
    )


def score_plan(
    inputs: PlanningInputs,
    cfg: EngineConfig,
    seed: int,
    replications: int,
    first: int,
    workers: int,
    dask: str | None,
) -> list[tuple[TargetResult, ...]]:
    """Target results of replications ``first ..`` of a plan: :func:`run_plan`'s, scored only.

    For the runs whose only use is how many kept the targets (held-out check,
    frontier scan): no interval tables, summaries or KPIs.
    """
    return score_runs(
        inputs.loaded,
        seed=seed,
        replications=replications,
        config=cfg,
        workers=workers,
        dask=dask,
        intensity=inputs.intensity,
        first_replication=first,
    )


def runs_met(runs: Evaluation | Iterable[Sequence[TargetResult]]) -> int:
    """Replications keeping every target at once (of an evaluation, or of scored runs)."""
    if isinstance(runs, Evaluation):
        runs = (r.targets for r in runs.replications)
    return sum(all(t.met for t in targets) for targets in runs)


def _held_out_check(
    inputs: PlanningInputs,
    plan: Plan,
    cfg: EngineConfig,
    seed: int,
    workers: int,
    say: Callable[[str], None],
    dask: str | None,
    seeds: dict[str, tuple[int, int]],
) -> Plan:
    """Run the accepted plan on seeds the search never used; fail it if the share misses."""
    spec = inputs.spec
    settings = spec.plan
    required = spec.targets.confidence
    n = settings.holdout_replications
    accepted = _ok_message(plan, required)
    if n == 0:
        return _with_status(plan, "ok", accepted + "; no held-out check (holdout 0)")
    say(f"held-out check: the accepted plan on {n} runs with seeds the search never used")
    scored = score_plan(inputs, cfg, seed, n, HOLDOUT_OFFSET, workers, dask)
    check = held_out(
        runs_met(scored),
        n,
        required=required,
        level=HELD_OUT_LEVEL,
        bound=settings.bound,
        first_replication=HOLDOUT_OFFSET,
    )
    seeds = dict(seeds) | {"held_out": (HOLDOUT_OFFSET, HOLDOUT_OFFSET + n)}
    plan = dataclasses.replace(plan, held_out=check, seeds=seeds)
    say(f"  {check.describe()}")
    if check.passed:
        return _with_status(plan, "ok", f"{accepted}; {check.describe()}")
    worst = min(summarise_targets([list(t) for t in scored]), key=lambda t: t.p_met)
    return _with_status(
        plan,
        "not_met",
        f"the plan passed verification ({accepted}) but misses on held-out seeds: "
        f"{check.describe()}, below the required {required:.0%}; the binding target is "
        f"{worst.target.text} (held-out P(met) {worst.p_met:.0%}). Verify with more runs "
        "(plan.verify_replications, plan.max_verify_replications) or a stricter "
        "plan.bound_level",
    )


def shortfall_raise(
    loaded: LoadedScenario, plan: Plan, grid: Grid, required: float
) -> npt.NDArray[np.int64]:
    """Agents to add per interval, from the measured shortfall of the verification runs.

    For every local day on which a target's rolling value missed in some run,
    the day's shortfall is the relative gap to the target (``(v - x) / v`` for
    ``>= v``, ``(x - v) / x`` for ``<= v``), divided by the day's weight in the
    platform's rolling window (its units over the window's) so that a one-day
    change can close a gap of the window, capped at 1; over runs the
    ``required``-quantile is taken (the run at the edge of the guarantee),
    or the largest gap when fewer runs than ``1 - required`` missed.  The
    intervals of that day whose buyers were served late in the runs that
    missed (90th-percentile first reply above the verification's median over
    all intervals with buyers) get ``max(1, ceil(requirement x shortfall))``
    more agents; if no interval of the day stands out, all of its intervals
    with buyers do.

    Returns
    -------
    numpy.ndarray
        Agents to add, per planning interval (int64, ``>= 0``).
    """
    assert plan.verification is not None
    reps = plan.verification.replications
    n = grid.n
    start = loaded.spec.calendar.start_aware
    day_of = np.array(
        [(start + dt.timedelta(seconds=float(t))).date().isoformat() for t in grid.edges_s[:-1]]
    )
    p90 = np.stack([np.asarray(r.intervals.first_reply_p90_s[:n], dtype=np.float64) for r in reps])
    humans = np.stack([np.asarray(r.intervals.human_arrivals[:n], dtype=np.float64) for r in reps])
    finite = p90[(humans > 0) & np.isfinite(p90)]
    reference = float(np.median(finite)) if finite.size else 0.0
    # day -> shortfall per run (0 where the run kept every target that day)
    gaps: dict[str, np.ndarray] = {}
    for i, rep in enumerate(reps):
        for res in rep.targets:
            s = res.series
            sim = ~s.from_history if s.from_history.size else np.ones(s.days.size, dtype=bool)
            for j in np.flatnonzero(sim):
                value = float(s.rolling[j])
                if value == value and res.target.holds(value):
                    continue
                gap = _relative_gap(res.target.op, res.target.value, value)
                lo = max(0, j - s.window_days + 1)
                window = float(np.sum(s.count[lo : j + 1]))
                weight = float(s.count[j]) / window if window > 0 else 1.0
                gap = min(1.0, gap / max(weight, 1e-9))
                day = day_date(int(s.days[j])).isoformat()
                per_run = gaps.setdefault(day, np.zeros(len(reps)))
                per_run[i] = max(per_run[i], gap)
    add = np.zeros(n, dtype=np.int64)
    req = plan.requirement
    for day, per_run in gaps.items():
        in_day = day_of == day
        if not in_day.any():
            continue
        q = float(np.quantile(per_run, required))
        short = q if q > 0 else float(per_run.max())
        missed = per_run > 0
        late = np.any((p90[missed] > reference) & (humans[missed] > 0), axis=0) & in_day
        if not late.any():
            late = in_day & np.any(humans > 0, axis=0)
        add[late] = np.maximum(1, np.ceil(req[late] * short - 1e-9)).astype(np.int64)
    return add


def _relative_gap(op: str, bound: float, value: float) -> float:
    """How far a missed value is from its bound, as a share (1: all the way; nan counts 1)."""
    if value != value:
        return 1.0
    if op == ">=":
        return (bound - value) / bound if bound > 0 else 1.0
    return (value - bound) / value if value > 0 else 1.0


def _ok_message(plan: Plan, required: float) -> str:
    r = plan.rounds[-1]
    if not r.targets:
        return (
            "no targets given: the plan covers the requirement at the starting alpha "
            "(the share of each interval's time every slot may be taken)"
        )
    n = r.replications
    met = round(r.p_all_met * n)
    return (
        f"every target kept in {met} of {n} verification runs, lower bound {r.lower:.3f} "
        f"on P(all met), required {required:.0%}"
    )


def _interval_label(loaded: LoadedScenario, grid: Grid, k: int) -> str:
    """Local start of interval ``k``, e.g. ``11-11 00:15``."""
    t = loaded.spec.calendar.start_aware + dt.timedelta(seconds=k * grid.interval_s)
    return f"{t:%m-%d %H:%M}"


def _with_status(plan: Plan, status: str, message: str, rounds: list[Round] | None = None) -> Plan:
    """The plan with a verdict (and, for a best-so-far plan, the whole search's trace)."""
    if rounds is None:
        return dataclasses.replace(plan, status=status, message=message)
    return dataclasses.replace(plan, status=status, message=message, rounds=tuple(rounds))


__all__ = [
    "HOLDOUT_OFFSET",
    "VERIFY_OFFSET",
    "Plan",
    "Round",
    "search",
    "shortfall_raise",
    "starting_alpha",
    "subaccount_cost",
]
