"""One more shop for a centre: can the team take it, what it costs at the margin, its price.

``peakdesk quote centre.toml --add client.toml`` reads a client file (the fields
of a ``[[clients]]`` entry at its top level, and ``served_by = {pool = proficiency}``
naming the team's pools that take the new shop) and answers three questions:

1. **As the team is**: the centre with the new client is simulated with the
   team's current shifts; the team takes it when the one-sided lower bound on
   P(every target of every client met) (the planner's bound, Clopper-Pearson at
   ``plan.bound_level`` by default) clears the required confidence.  Each
   client's P(all its targets met) is given, so a shop the newcomer would push
   below its targets is named.
2. **At the margin**: when the team's pools have ``[pools.plan]`` tables, the
   centre is planned without and with the new client (the full planner:
   verification and held-out check) on the same base seed.  Each client draws
   its buyers from streams of its own, so the team's clients bring the same
   buyers to both plans (common random numbers).  One such pair is one draw of
   the marginal cost: a plan moves by a trim step between seeds, and the
   difference of two plans carries that noise.  The pair is repeated on
   ``plan_repeats`` base seeds and the marginal cost is the mean difference
   with its Student-t interval.  Within a pair, the cheaper plan is run on the
   other side's team (that side's verification seeds): when it keeps every
   target there at the planner's bound, that side is re-priced to it, so each
   side stands at the cheapest plan found that serves it.  A pair that cannot
   be planned is reported with its seed; the others still price the shop.
3. **Its price**: the marginal cost plus the margin (``--margin 0.2`` = 20% on
   cost), per conversation the new client's buyers bring to a person (from the
   runs of 1), per marginal paid agent-hour (the paid hours the plans with the
   client add, mean over the pairs: what an hour of added capacity costs with
   the pools and sub-accounts the plans chose), and per hour billed on the new
   client's chats in the planned team with it (its allocated paid hours, or its
   agents' writing hours under ``hours_billed = "writing"``): what a
   ``price_per_hour`` contract must charge to keep the margin.  Billed hours
   include the idle time allocated with the work, so they can exceed the hours
   added.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from peakdesk.centre.accounts import client_accounts
from peakdesk.centre.compile import centre_from_data
from peakdesk.experiment.replicate import Estimate, Evaluation, simulate
from peakdesk.plan.guarantee import lower_bound
from peakdesk.scenario.load import LoadedScenario, ScenarioError, read_toml
from peakdesk.scenario.schema import MAX_SUBACCOUNTS


def added_centre(centre_path: Path | str, client_path: Path | str) -> LoadedScenario:
    """The centre with the client file's shop added and served by its ``served_by`` pools.

    Raises
    ------
    ScenarioError
        Naming the client file's field (``served_by.nightshift``) or the compiled
        centre's, as for a centre file.
    """
    cp, kp = Path(centre_path).resolve(), Path(client_path).resolve()
    data = read_toml(cp)
    client = read_toml(kp)
    served = client.pop("served_by", None)
    names = [p.get("name") for p in data.get("pools", [])]
    if not isinstance(served, dict) or not served:
        raise ScenarioError(
            kp,
            [
                f"served_by: required: the team's pools that take the new shop, e.g. "
                f"served_by = {{ {names[0] if names else 'pool'} = 1.0 }}; pools: {names}"
            ],
            what="invalid client file",
        )
    unknown = [k for k in served if k not in names]
    if unknown:
        raise ScenarioError(
            kp,
            [f"served_by.{unknown[0]}: no such pool; pools: {names}"],
            what="invalid client file",
        )
    k_new = len(data.get("clients", []))
    # The client file's paths are its own folder's; the centre resolves them from its own.
    for key, sub in (("scenario", None), ("demand", "forecast"), ("targets", "history")):
        value = client.get(key) if sub is None else (client.get(key) or {}).get(sub)
        if isinstance(value, str) and not Path(value).is_absolute():
            absolute = str((kp.parent / value).resolve())
            if sub is None:
                client[key] = absolute
            else:
                client[key][sub] = absolute
    merged = copy.deepcopy(data)
    name = client.get("name")
    merged.setdefault("clients", []).append(client)
    for pool in merged["pools"]:
        if pool.get("name") in served:
            pool.setdefault("skills", {})[str(name)] = served[pool["name"]]
    try:
        return centre_from_data(merged, cp)
    except ScenarioError as exc:
        raise _in_client_file(exc, kp, k_new, str(name), [str(n) for n in names]) from None


def _in_client_file(
    exc: ScenarioError, client_path: Path, k: int, name: str, pools: list[str]
) -> ScenarioError:
    """The merged centre's problems told against the client file the user wrote.

    ``clients[k].seat_limit`` is the client file's ``seat_limit``, and
    ``pools[i].skills.<client>`` its ``served_by.<pool>``; a problem of the centre
    with the shop added that is neither (the team's seats, say) is named as such.
    """
    own = re.compile(rf"clients\[{k}\]\.?")
    skill = re.compile(rf"pools\[(\d+)\]\.skills\.{re.escape(name)}(?![\w-])")
    problems = []
    for problem in exc.problems:
        m = skill.match(problem)
        if own.match(problem):
            problem = own.sub("", problem, count=1)
            problem = problem if not problem.startswith(("(", ":", " ")) else "(file)" + problem
        elif m and int(m[1]) < len(pools):
            rest = problem[m.end() :].replace("take the skill away", "leave it out of served_by")
            problem = f"served_by.{pools[int(m[1])]}" + rest
        else:
            problem = f"(the centre {exc.path.name} with this shop added) {problem}"
        problems.append(problem)
    return ScenarioError(client_path, problems, what="invalid client file")


@dataclass(frozen=True)
class AddedQuote:
    """The answer of :func:`quote_addition`.

    Attributes
    ----------
    client
        The new client's name.
    runs, kept
        Runs of the team as it is with the new client, and how many kept every target.
    p_low
        One-sided lower bound on P(all met) from them.
    takes_it
        Whether that bound clears the required confidence.
    required
        The required confidence.
    by_client
        Per client: P(all its targets met) in those runs.
    handled
        The new client's conversations handled by a person per run (mean).
    base_cost, with_cost
        Cost of the planned centre without and with it (None: not planned).
    base_hours, with_hours
        Their paid agent-hours.
    status
        The two plans' statuses (``ok``, ``infeasible``, ...), or why not planned.
    margin
        Margin on cost for the prices.
    base_kept, base_p_low, base_by_client
        The team without the new client on the same seeds: runs keeping every
        target, their lower bound, and P(all met) per client.
    worse, better
        Runs (paired by seed) that kept every target without the new client and
        not with it, and the other way round.
    pairs
        The plans without and with the client, one pair per base seed (both
        planned ``ok``); ``base_cost``, ``with_cost`` and the hours are their means.
    billed_hours
        The new client's billed hours per run in the planned team with it (mean
        over the pairs' verification runs).
    relaxed
        When the plan with the client fails (infeasible, or not met and cannot be
        raised) for seats or a pool's agents per day: the limits raised to what
        the search found needed, and the plan re-run on them (its cost and
        marginal cost, or why it still fails); empty otherwise.
    """

    client: str
    runs: int
    kept: int
    p_low: float
    takes_it: bool
    required: float
    by_client: dict[str, float]
    handled: float
    base_cost: float | None
    with_cost: float | None
    base_hours: float | None
    with_hours: float | None
    status: str
    margin: float
    base_kept: int = 0
    base_p_low: float = math.nan
    base_by_client: dict[str, float] | None = None
    worse: int = 0
    better: int = 0
    pairs: tuple[PlanPair, ...] = ()
    billed_hours: float | None = None
    relaxed: str = ""

    @property
    def baseline_misses(self) -> bool:
        """The team without the new client does not pass the required bound itself (too few
        runs kept every target, or too few runs to show it): no client added could."""
        return self.base_p_low < self.required

    @property
    def level_p_value(self) -> float:
        """One-sided exact McNemar test that the new client lowers the share of runs keeping
        every target: of the runs that differ (same seeds with and without it), as many or
        more lost with it than ``worse``, if losing and gaining were equally likely."""
        n = self.worse + self.better
        if n == 0:
            return 1.0
        return float(stats.binom.sf(self.worse - 1, n, 0.5))

    @property
    def keeps_level(self) -> bool:
        """The team with the new client keeps the baseline's level (no loss at 5%)."""
        return self.level_p_value >= 0.05

    @property
    def marginal_cost(self) -> float:
        """Cost of the centre with the client less without, mean over the pairs (NaN: not
        planned)."""
        if self.base_cost is None or self.with_cost is None:
            return math.nan
        return self.with_cost - self.base_cost

    @property
    def marginal_interval(self) -> tuple[float, float]:
        """95% Student-t interval of the marginal cost over the plan pairs (NaN: fewer than
        two pairs)."""
        est = Estimate.of(np.array([p.marginal for p in self.pairs]))
        return (est.low, est.high) if est.n >= 2 else (math.nan, math.nan)

    @property
    def price_per_conversation(self) -> float:
        """Marginal cost plus margin per conversation handled (NaN: unknown)."""
        if not self.handled > 0:
            return math.nan
        return self.marginal_cost * (1.0 + self.margin) / self.handled

    @property
    def price_per_hour(self) -> float:
        """Marginal cost plus margin per marginal paid agent-hour: the hours the plans with
        the client add, paired by seed (NaN: not planned, or no hour added)."""
        if self.base_hours is None or self.with_hours is None:
            return math.nan
        extra = self.with_hours - self.base_hours
        return self.marginal_cost * (1.0 + self.margin) / extra if extra > 0 else math.nan

    @property
    def price_per_billed_hour(self) -> float:
        """Marginal cost plus margin per hour billed on the new client's chats in the planned
        team with it: what a ``price_per_hour`` contract must charge (NaN: not planned, or
        no hour billed)."""
        if self.billed_hours is None or not self.billed_hours > 0:
            return math.nan
        return self.marginal_cost * (1.0 + self.margin) / self.billed_hours


@dataclass(frozen=True)
class PlanPair:
    """One pair of plans of the centre, without and with the new client, on one base seed.

    Attributes
    ----------
    seed
        The base seed of both searches.
    without, with_
        Their costs, each side at the cheaper plan of the pair that serves it.
    hours_without, hours_with
        Their paid agent-hours (verification runs' mean).
    billed
        The new client's billed hours per run in the plan with it.
    repriced
        The side re-priced to the other side's plan (``"without"``: the plan with
        the client serves the team without it; ``"with"``: the plan without it
        serves the team with it, which takes the client within its hours), or
        ``""``.
    """

    seed: int
    without: float
    with_: float
    hours_without: float
    hours_with: float
    billed: float
    repriced: str = ""

    @property
    def marginal(self) -> float:
        """Cost with the client less without."""
        return self.with_ - self.without


def _paid_hours(ev: Evaluation | None) -> float:
    """Paid agent-hours as runs of a plan counted them (its verification: as its cost is)."""
    assert ev is not None
    return float(ev.estimates()["paid_agent_hours"].mean)


def quote_addition(
    base: LoadedScenario,
    added: LoadedScenario,
    *,
    margin: float = 0.2,
    replications: int | None = None,
    workers: int = 1,
    seed: int | None = None,
    plan: bool = True,
    plan_repeats: int = 3,
    progress: Callable[[str], None] | None = None,
) -> AddedQuote:
    """Answer the three questions of the module docstring for the last client of ``added``."""
    from peakdesk.plan.search import search

    assert added.centre is not None
    say = progress or (lambda _m: None)
    new = added.centre.clients[-1].name
    spec = added.spec
    n = replications or spec.plan.verify_cap
    level = spec.plan.bound_level
    # The baseline first: a team that already misses can take no shop, and must say so.
    say(f"the team as it is, without {new!r}: {n} runs")
    ev0 = simulate(base, replications=n, seed=seed, keep_logs=False, workers=workers)
    kept0 = [all(t.met for t in r.targets) for r in ev0.replications]
    say(f"the team as it is, with {new!r}: {n} runs")
    ev = simulate(added, replications=n, seed=seed, keep_logs=False, workers=workers)
    kept1 = [all(t.met for t in r.targets) for r in ev.replications]
    kept = sum(kept1)
    low = lower_bound(kept, n, level, spec.plan.bound)
    # Paired by run (the same seeds): runs lost with the new client, and runs gained.
    worse = sum(a and not b for a, b in zip(kept0, kept1, strict=True))
    better = sum(b and not a for a, b in zip(kept0, kept1, strict=True))
    base_by_client = {a.client: a.p_all_met for a in client_accounts(base, ev0)}
    accounts = {a.client: a for a in client_accounts(added, ev)}
    by_client = {k: a.p_all_met for k, a in accounts.items()}
    handled = accounts[new].figures["handled"].mean
    base_cost = with_cost = base_hours = with_hours = billed = None
    status = (
        "not planned: no pool has a [pools.plan] table"
        if plan
        else "not planned (--no-plan): the team as it is, without the marginal cost"
    )
    pairs: list[PlanPair] = []
    relaxed = ""
    if plan and any(p.plan is not None for p in spec.pools):
        first_seed = spec.simulation.seed if seed is None else seed
        failed: list[str] = []
        for k in range(plan_repeats):
            s = first_seed + k
            tag = f" (pair {k + 1} of {plan_repeats}, seed {s})" if plan_repeats > 1 else ""
            say(f"planning the centre without the new client{tag}")
            p0 = search(base, workers=workers, seed=s, progress=say)
            say(f"planning the centre with {new!r}{tag}")
            p1 = search(added, workers=workers, seed=s, progress=say)
            if p0.status == "ok" and p1.status == "ok":
                pairs.append(_pair(base, added, p0, p1, s, workers=workers, say=say))
                continue
            # What bound a plan that failed is in its message: the quote says it too.
            tried = (("without", p0), ("with", p1))
            why = "; ".join(f"{w}: {q.message}" for w, q in tried if q.status != "ok")
            failed.append(
                f"seed {s}: without: {p0.status}; with: {p1.status} ({why})"
                if plan_repeats > 1
                else f"without: {p0.status}; with: {p1.status} ({why})"
            )
            if not relaxed and p0.status == "ok" and p1.status != "ok" and p1.diagnosis:
                relaxed = _relax(added, p1, p0.total_cost, s, workers=workers, say=say)
            if "infeasible" in (p0.status, p1.status):
                break  # no cover exists: other seeds will not find one
        status = "without: ok; with: ok" if pairs else ""
        if failed:
            status = (
                "; ".join(failed)
                if not pairs
                else (
                    f"{len(pairs)} of {len(pairs) + len(failed)} pairs planned; "
                    + "; ".join(failed)
                )
            )
        if pairs:
            base_cost = float(np.mean([q.without for q in pairs]))
            with_cost = float(np.mean([q.with_ for q in pairs]))
            base_hours = float(np.mean([q.hours_without for q in pairs]))
            with_hours = float(np.mean([q.hours_with for q in pairs]))
            billed = float(np.mean([q.billed for q in pairs]))
    return AddedQuote(
        client=new,
        runs=n,
        kept=kept,
        p_low=low,
        takes_it=low >= spec.targets.confidence,
        required=spec.targets.confidence,
        by_client=by_client,
        handled=handled,
        base_cost=base_cost,
        with_cost=with_cost,
        base_hours=base_hours,
        with_hours=with_hours,
        status=status,
        margin=margin,
        base_kept=sum(kept0),
        base_p_low=lower_bound(sum(kept0), n, level, spec.plan.bound),
        base_by_client=base_by_client,
        worse=worse,
        better=better,
        pairs=tuple(pairs),
        billed_hours=billed,
        relaxed=relaxed,
    )


def _relax(
    added: LoadedScenario,
    failed: Any,
    base_cost: float,
    seed: int,
    *,
    workers: int,
    say: Callable[[str], None],
) -> str:
    """What raising the binding limits buys: the plan with the client on raised limits.

    Each client's seat limit and each pool's ``max_agents_per_day`` that the failed
    search named is raised to what its least-violating plan needed (rounded up); the
    centre's platform cap too.  Another limit may bind once these are raised: the
    answer then says so.  Empty when nothing named can be raised.
    """
    from peakdesk.plan.search import search

    raised, loaded = relaxed_limits(added, failed.diagnosis)
    if not raised:
        return ""
    what = ", ".join(raised)
    say(f"relaxing the binding limits ({what}) and planning again")
    again = search(loaded, workers=workers, seed=seed, progress=say)
    if again.status != "ok":
        return f"with {what}: still {again.status} ({again.message})"
    return (
        f"with {what}: planned at {again.total_cost:,.0f}, a marginal cost of "
        f"{again.total_cost - base_cost:,.0f} against the plan without on seed {seed}"
    )


def relaxed_limits(loaded: LoadedScenario, diagnosis: Any) -> tuple[list[str], LoadedScenario]:
    """The scenario with each seat limit and pool day limit a diagnosis names raised to
    what it found needed, and one phrase per change (``the seats of client 'lz' 18 -> 34``)."""
    spec = loaded.spec
    sub = spec.subaccounts
    groups = list(sub.groups)
    pools = list(spec.pools)
    cap = sub.platform_cap
    changes: list[str] = []
    for d in diagnosis:
        if d.kind == "subaccount_cap" and d.value:
            need = min(math.ceil(max(d.value) - 1e-6), MAX_SUBACCOUNTS)
            if d.group is None:
                if cap is not None and need > cap:
                    changes.append(f"the sub-account cap {cap} -> {need}")
                    cap = need
                continue
            i = next((i for i, g in enumerate(groups) if g.name == d.group), None)
            if i is not None and need > groups[i].count:
                changes.append(f"the seats of {d.group} {groups[i].count} -> {need}")
                groups[i] = groups[i].model_copy(update={"count": need})
        elif d.kind == "pool_max" and d.pool is not None and d.value:
            pool = pools[d.pool]
            settings = pool.plan
            need = math.ceil(d.value[0] - 1e-6)
            if settings is None or settings.max_agents_per_day is None:
                continue
            if need > settings.max_agents_per_day:
                most = settings.max_agents_per_day
                changes.append(f"the agents a day of pool {pool.name!r} {most} -> {need}")
                pools[d.pool] = pool.model_copy(
                    update={"plan": settings.model_copy(update={"max_agents_per_day": need})}
                )
    new_sub = sub.model_copy(update={"groups": groups, "platform_cap": cap})
    new = spec.model_copy(update={"subaccounts": new_sub, "pools": pools})
    return changes, loaded.with_spec(new)


def _pair(
    base: LoadedScenario,
    added: LoadedScenario,
    p0: Any,
    p1: Any,
    seed: int,
    *,
    workers: int,
    say: Callable[[str], None],
) -> PlanPair:
    """The pair's costs and hours, each side at the cheaper of the two plans that serves it.

    The cheaper plan of the pair is run on the other side's team (on that side's
    verification seeds): when it keeps every target there at the planner's bound,
    that side is re-priced to it.  So each side takes the cheapest plan found that
    serves it, whichever search found it, and neither side's lucky draw is kept
    while the other's is corrected.
    """
    from peakdesk.plan.search import plan_config, runs_met

    assert added.centre is not None and p1.verification is not None
    new = added.centre.clients[-1].name

    def billed_in(ev: Any) -> float:
        return next(
            a.figures["billable_hours"].mean for a in client_accounts(added, ev) if a.client == new
        )

    pair = PlanPair(
        seed,
        p0.total_cost,
        p1.total_cost,
        _paid_hours(p0.verification),
        _paid_hours(p1.verification),
        billed_in(p1.verification),
    )
    if p0.total_cost == p1.total_cost:
        return pair
    cheap, dear = (p1, p0) if p1.total_cost < p0.total_cost else (p0, p1)
    team = base if cheap is p1 else added
    first, end = dear.seeds["verification"]
    side = "without" if cheap is p1 else "with"
    say(f"the plan {'with' if cheap is p1 else 'without'} {new!r} is the cheaper: its "
        f"{end - first} runs on the team {side} it")  # fmt: skip
    cfg, _ = plan_config(team.spec, list(cheap.patterns), cheap.counts)
    ev = simulate(
        team,
        seed=seed,
        replications=end - first,
        config=cfg,
        keep_logs=False,
        workers=workers,
        first_replication=first,
    )
    spec = team.spec
    low = lower_bound(runs_met(ev), end - first, spec.plan.bound_level, spec.plan.bound)
    if low < spec.targets.confidence:
        return pair
    hours = _paid_hours(ev)
    if side == "without":
        return dataclasses.replace(
            pair, without=cheap.total_cost, hours_without=hours, repriced=side
        )
    return dataclasses.replace(
        pair, with_=cheap.total_cost, hours_with=hours, billed=billed_in(ev), repriced=side
    )
