"""Trade-offs a manager argues about: cost against confidence, and against chats per agent.

``plan --frontier`` scans uniform scales of the refined requirement (the ISA
fixed point of :mod:`peakdesk.plan.requirement`): each scale is covered by the
cheapest shifts and seats (:mod:`peakdesk.plan.cover`) and the shift plan is
simulated on its own seeds, replication numbers from :data:`FRONTIER_OFFSET`
(never used by the search, its verification or its held-out check), the same
seeds for every scale so that scales differ by their staffing only.  From the
scan:

* the **confidence frontier**: for each required confidence ``c`` (e.g.
  0.80-0.99), the cheapest scanned plan that ``plan`` would accept at ``c``: the
  one-sided lower bound (``plan.bound`` at ``plan.bound_level``) of its P(all
  targets met) reaches ``c``.  Its cost never falls as ``c`` rises (the plans
  qualifying for a higher ``c`` are a subset of those for a lower one);
* the **chats table**: the same scan with every planned pool's concurrency cap
  set to 2, 3, ... chats: headcount, sub-accounts, cost and P(all met) of the
  cheapest plan accepted at ``targets.confidence``.

Each plan runs ``runs`` runs, then more in batches of ``runs`` while some level
asked is neither accepted nor rejected by the bound (as ``plan`` verifies), up
to ``plan.verify_cap``.  A level that needs more runs than that (0.99 at a 95%
bound needs 299 runs keeping every target) is reached by no plan: it is said
once, reported as reached by no plan, and neither adds runs nor steers the
walk.  The share is shown with its 95% Clopper-Pearson interval.  The scan
starts at scale 1 and walks in steps of ``step``, within :data:`SCALE_RANGE`:
down, when scale 1 is accepted at some level, while the plan still keeps every
target in at least the lowest level's share of runs (a smaller one would
qualify for nothing); and up, when scale 1 is not accepted at the highest
level, until a plan is (a larger one costs more and qualifies for nothing new).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.engine.setup import seat_cost
from peakdesk.experiment.targets import scenario_targets
from peakdesk.plan.cover import solve_cover
from peakdesk.plan.guarantee import decide, interval, lower_bound, runs_to_accept
from peakdesk.plan.inputs import PlanningInputs
from peakdesk.plan.patterns import cover_problem, patterns
from peakdesk.plan.requirement import seed_requirement
from peakdesk.plan.search import (
    HELD_OUT_LEVEL,
    TRIM_FLOOR,
    plan_config,
    refine,
    runs_met,
    score_plan,
    starting_alpha,
    with_chats,
)
from peakdesk.scenario.load import LoadedScenario

#: Seeds of the frontier's runs start here: past the held-out check's (1,000,000 +
#: at most 10,000 runs), so no plan of the scan is judged on the search's seeds.
FRONTIER_OFFSET = 2_000_000
#: Required confidences of the default frontier.
DEFAULT_LEVELS = (0.80, 0.85, 0.90, 0.95, 0.99)
#: Chats per agent of the default table.
DEFAULT_CHATS = (2, 3, 4, 5, 6)
#: Smallest and largest requirement scale the scan walks to.
SCALE_RANGE = (TRIM_FLOOR, 2.00)


@dataclass(frozen=True)
class ScanPoint:
    """One scanned plan.

    Attributes
    ----------
    chats
        Concurrency cap of every planned pool (None: as the scenario has it).
    scale
        Requirement scale (1 = the refined requirement).
    cover_status
        The cover's status; the other figures are NaN / 0 when it found no plan.
    cost
        Labour and sub-accounts over the horizon (currency).
    headcount
        Agent-shifts in the plan (agents starting a shift, summed over days).
    subaccounts
        Sub-accounts the plan runs with.
    runs, met
        Runs, and runs keeping every target at once.
    p_all_met, low, high
        ``met / runs`` and its two-sided 95% Clopper-Pearson interval.
    lower
        The one-sided lower bound a plan is accepted on (``plan.bound`` at
        ``plan.bound_level``).
    """

    chats: int | None
    scale: float
    cover_status: str
    cost: float
    headcount: int
    subaccounts: int
    runs: int
    met: int
    p_all_met: float
    low: float
    high: float
    lower: float = math.nan

    @property
    def feasible(self) -> bool:
        """Whether the cover found a plan."""
        return self.cover_status in ("optimal", "time_limit")


@dataclass(frozen=True)
class Frontier:
    """The scan and what is read off it (see the module docstring).

    Attributes
    ----------
    points
        Every scanned plan, by chats then scale.
    levels
        ``(confidence, cheapest plan reaching it or None)``, at the scenario's
        concurrency.
    by_chats
        ``(chats, cheapest plan reaching targets.confidence or None)``.
    required
        ``targets.confidence``.
    runs
        Runs per scanned plan at first (more where a level is undecided).
    first_replication
        Replication number of the first run (the same for every plan).
    """

    points: tuple[ScanPoint, ...]
    levels: tuple[tuple[float, ScanPoint | None], ...]
    by_chats: tuple[tuple[int, ScanPoint | None], ...]
    required: float
    runs: int
    first_replication: int


def cheapest(points: Sequence[ScanPoint], level: float) -> ScanPoint | None:
    """The cheapest feasible plan accepted at ``level``: its lower bound reaches it."""
    ok = [p for p in points if p.feasible and p.runs and p.lower >= level - 1e-12]
    return min(ok, key=lambda p: (p.cost, p.scale)) if ok else None


def frontier(
    loaded: LoadedScenario,
    *,
    levels: Sequence[float] = DEFAULT_LEVELS,
    chats: Sequence[int] = DEFAULT_CHATS,
    step: float = 0.05,
    runs: int = 40,
    seed: int | None = None,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[str], None] | None = None,
    refined: npt.NDArray[np.int64] | None = None,
) -> Frontier:
    """Scan requirement scales at the scenario's concurrency and at each of ``chats``.

    Parameters
    ----------
    loaded
        The scenario (with targets: a frontier of P(all met) needs them).
    levels
        Required confidences of the frontier, each in (0, 1).
    chats
        Concurrency caps of the table (each 1..50); empty for none.
    step
        Requirement scale step of the walk from 1 (module docstring).
    runs
        Runs per scanned plan (the same seeds for all).
    seed
        Base seed (default: the scenario's).
    workers, dask
        Where the runs go (same results).
    progress
        Called with a line per scanned plan.
    refined
        The scenario's refined requirement when the caller has it: the
        :attr:`~peakdesk.plan.search.Plan.refined` of a plan of the same scenario
        on the same ``seed`` (the refinement is deterministic, so the scan is the
        same; on Tmall it saves a refinement of some 260 runs).  ``None``: refined
        here.
    """
    if not scenario_targets(loaded):
        raise ValueError("a frontier of P(all targets met) needs targets")
    if not levels or not all(0.0 < c < 1.0 for c in levels):
        raise ValueError(f"levels must lie in (0, 1), got {list(levels)}")
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    seed = loaded.spec.simulation.seed if seed is None else seed
    say = progress or (lambda _m: None)
    if not 0.0 < step <= 0.5:
        raise ValueError(f"step must lie in (0, 0.5], got {step}")
    settings = loaded.spec.plan
    cap = settings.verify_cap
    most = lower_bound(cap, cap, settings.bound_level, settings.bound)  # every run kept all
    reachable = sorted(c for c in levels if c <= most + 1e-12)
    for c in sorted(set(levels) - set(reachable)):
        need = runs_to_accept(c, settings.bound_level, settings.bound)
        say(
            f"frontier: {c * 100:.4g}% needs {need} runs keeping every target at the "
            f"{settings.bound_level:.0%} bound, more than plan.verify_cap "
            f"({settings.verify_cap}): no plan is shown to reach it"
        )
    points: list[ScanPoint] = []
    variants: list[tuple[int | None, LoadedScenario]] = [(None, loaded)]
    for c in chats:
        other = with_chats(loaded, c)
        if other is None:
            raise ValueError(f"chats must lie in 1..50, got {c}")
        variants.append((c, other))
    for m, variant in variants:
        label = "as written" if m is None else f"{m} chats per agent"
        inputs = PlanningInputs.of(variant)
        if m is None and refined is not None:
            if refined.shape != (inputs.grid.n,):
                raise ValueError(
                    f"refined must have one value per planning interval ({inputs.grid.n}), "
                    f"got shape {refined.shape}"
                )
            say(f"frontier, {label}: from the plan's refined requirement")
            base = np.asarray(refined, dtype=np.int64)
        else:
            say(f"frontier, {label}: refining the requirement")
            alpha = starting_alpha(inputs)
            base, _ = refine(
                inputs, seed_requirement(inputs, alpha), alpha, seed, workers, dask, lambda _m: None
            )
        if reachable:
            points += _scan(inputs, base, m, step, runs, reachable, seed, workers, dask, say)
    scanned = [p for p in points if p.chats is None]
    return Frontier(
        points=tuple(points),
        levels=tuple((float(c), cheapest(scanned, c)) for c in sorted(levels)),
        by_chats=tuple(
            (m, cheapest([p for p in points if p.chats == m], loaded.spec.targets.confidence))
            for m in chats
        ),
        required=loaded.spec.targets.confidence,
        runs=runs,
        first_replication=FRONTIER_OFFSET,
    )


def _scan(
    inputs: PlanningInputs,
    base: npt.NDArray[np.int64],
    chats: int | None,
    step: float,
    runs: int,
    levels: Sequence[float],
    seed: int,
    workers: int,
    dask: str | None,
    say: Callable[[str], None],
) -> list[ScanPoint]:
    """The walk from scale 1 (module docstring), as points in ascending scale.

    ``levels`` are the levels a plan can reach within ``plan.verify_cap`` runs.
    """
    spec = inputs.spec
    settings = spec.plan
    pats = patterns(spec)
    bottom, top = min(levels), max(levels)

    def undecided(met: int, n: int) -> bool:
        return any(
            decide(met, n, c, settings.bound_level, settings.bound) == "continue" for c in levels
        )

    def at(scale: float) -> ScanPoint:
        req = np.ceil(scale * base - 1e-9).astype(np.int64)
        sol = solve_cover(
            cover_problem(inputs, req, pats),
            time_limit_s=settings.milp_time_limit,
            mip_rel_gap=settings.milp_gap,
        )
        if not sol.feasible:
            say(f"  scale {scale:.2f}: no cover ({sol.status})")
            return ScanPoint(chats, scale, sol.status, math.nan, 0, 0, 0, 0, math.nan, 0.0, 1.0)
        cfg, seats = plan_config(spec, pats, sol.x)
        met = runs_met(score_plan(inputs, cfg, seed, runs, FRONTIER_OFFSET, workers, dask))
        n = runs
        while undecided(met, n) and n < settings.verify_cap:
            more = min(runs, settings.verify_cap - n)
            extra = score_plan(inputs, cfg, seed, more, FRONTIER_OFFSET + n, workers, dask)
            met, n = met + runs_met(extra), n + more
        low, high = interval(met, n, HELD_OUT_LEVEL, "clopper_pearson")
        labour = sum(
            hours * pool.hourly_cost
            for pool, hours in zip(spec.pools, cfg.paid_hours_by_pool, strict=True)
        )
        point = ScanPoint(
            chats,
            scale,
            sol.status,
            labour + seats * seat_cost(spec),
            int(sol.x.sum()),
            seats,
            n,
            met,
            met / n,
            low,
            high,
            lower_bound(met, n, settings.bound_level, settings.bound),
        )
        say(
            f"  scale {scale:.2f}: cost {point.cost:,.0f}, {point.headcount} agent-shifts, "
            f"{seats} sub-accounts, every target kept in {met} of {n} runs (lower "
            f"{settings.bound_level:.0%} bound {point.lower:.3f})"
        )
        return point

    first = at(1.0)
    out = [first]
    if not first.feasible:
        return out
    # Down, for the cheaper plans of the levels scale 1 reaches; up, for the levels it
    # does not.  Both, when scale 1 reaches some levels and not others.
    for down in (True, False):
        if (first.lower < bottom) if down else (first.lower >= top):
            continue
        k = 1
        while True:
            scale = round(1.0 - k * step if down else 1.0 + k * step, 6)
            if not SCALE_RANGE[0] - 1e-9 <= scale <= SCALE_RANGE[1] + 1e-9:
                break
            point = at(scale)
            out.append(point)
            if not point.feasible:
                break  # a larger requirement is no easier to cover
            if (point.p_all_met < bottom) if down else (point.lower >= top):
                break
            k += 1
    return sorted(out, key=lambda p: p.scale)


def frontier_rows(front: Frontier) -> list[dict[str, object]]:
    """The scan as CSV rows (one per scanned plan)."""
    return [
        {
            "chats": "" if p.chats is None else p.chats,
            "scale": p.scale,
            "cover_status": p.cover_status,
            "cost": p.cost,
            "headcount": p.headcount,
            "subaccounts": p.subaccounts,
            "runs": p.runs,
            "met": p.met,
            "p_all_met": p.p_all_met,
            "low_95": p.low,
            "high_95": p.high,
            "lower_bound": p.lower,
        }
        for p in front.points
    ]


def frontier_json(front: Frontier) -> dict[str, object]:
    """The frontier, JSON-ready (the caller makes non-finite floats null)."""

    def pick(p: ScanPoint | None) -> dict[str, object] | None:
        if p is None:
            return None
        return {
            "scale": p.scale,
            "cost": p.cost,
            "headcount": p.headcount,
            "subaccounts": p.subaccounts,
            "p_all_met": p.p_all_met,
            "interval_95": [p.low, p.high],
            "runs": p.runs,
            "lower_bound": p.lower,
        }

    return {
        "runs_per_plan": front.runs,
        "first_replication": front.first_replication,
        "required": front.required,
        "confidence": [{"level": c, "plan": pick(p)} for c, p in front.levels],
        "chats": [{"chats": m, "plan": pick(p)} for m, p in front.by_chats],
        "scan": frontier_rows(front),
    }
