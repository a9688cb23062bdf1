"""Capacity quotes for outsourcing centres: how much of a client's demand a team can take.

Given a client's scenario (demand, inquiry types, targets) and a team (pools
with their shifts), find the largest demand multiplier at which the team keeps
every target in at least ``targets.confidence`` of the runs, by doubling or
halving from 1 and then bisecting.  Arrivals are sampled by inversion of the
cumulative intensity, so a larger multiplier adds buyers to the same sample
path (common random numbers): the search compares like with like.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peakdesk.experiment.replicate import Evaluation, simulate
from peakdesk.scenario.load import LoadedScenario, ScenarioError, parse_scenario, read_toml


@dataclass(frozen=True)
class QuoteStep:
    """One multiplier tried: the share of runs keeping every target."""

    multiplier: float
    p_all_met: float
    conversations: float


@dataclass(frozen=True)
class Quote:
    """A capacity quote.

    Attributes
    ----------
    multiplier
        Largest demand multiplier kept with the required confidence (0 if none tried).
    conversations
        Conversations per run at that multiplier (mean over runs).
    paid_agent_hours
        The team's paid hours over the horizon.
    cost
        The team's labour and sub-account cost over the horizon.
    conversations_per_agent_hour
        Conversations per paid agent-hour at the quoted multiplier.
    price_per_conversation, price_per_hour
        Cost plus margin, per conversation and per paid agent-hour.
    margin
        The margin on cost used for the prices (0.2 = 20%).
    steps
        Every multiplier tried.
    evaluation
        The runs at the quoted multiplier.
    """

    multiplier: float
    conversations: float
    paid_agent_hours: float
    cost: float
    conversations_per_agent_hour: float
    price_per_conversation: float
    price_per_hour: float
    margin: float
    steps: tuple[QuoteStep, ...]
    evaluation: Evaluation | None = field(repr=False)  # pages of arrays: not in the repr


def with_team(loaded: LoadedScenario, team_path: Path | str) -> LoadedScenario:
    """The client's scenario with its pools (and sub-accounts, routing) replaced by a team's.

    The team file is TOML with ``[[pools]]`` (as in a scenario) and optionally
    ``[subaccounts]`` and ``[routing]``.
    """
    tp = Path(team_path)
    # Read strictly as UTF-8 (a byte-order mark is a TOML error at line 1).
    team = read_toml(tp, allow_bom=False)
    problems = team_problems(team)
    if problems:
        raise ScenarioError(tp, problems)
    raw = read_toml(loaded.path)
    merged = copy.deepcopy(raw)
    merged.update(team)
    if "subaccounts" not in team:
        # Enough seats for the team unless the team file says otherwise.
        heads = sum(s.get("agents", 0) for p in team["pools"] for s in p.get("shifts", []))
        merged["subaccounts"] = {**raw.get("subaccounts", {}), "count": max(heads, 1)}
        merged["subaccounts"].pop("platform_cap", None)
    if "routing" not in team and "routing" in merged:
        names = {p.get("name") for p in team["pools"]}
        order = merged["routing"].get("pool_order")
        if order is not None:
            merged["routing"]["pool_order"] = [n for n in order if n in names] or None
            if merged["routing"]["pool_order"] is None:
                del merged["routing"]["pool_order"]
    spec = parse_scenario(merged, tp)
    return loaded.with_spec(spec)


def team_problems(team: dict[str, Any]) -> list[str]:
    """What keeps a team file's data from merging into a client's scenario (empty: none).

    The merge walks the ``[[pools]]`` and their ``[[pools.shifts]]`` (to count
    the seats the team needs); everything else is validated with the merged
    scenario.  Each problem names its field (``pools[1].shifts[0].agents``).
    """
    problems = [
        f"{_key(k)}: unknown field; a team file has [[pools]] and optionally [subaccounts] "
        "and [routing] (the rest comes from the client's scenario)"
        for k in team
        if k not in ("pools", "subaccounts", "routing")
    ]
    if "pools" not in team:
        problems.append("pools: required; a team file has [[pools]] tables")
    pools: Any = team.get("pools", [])
    if not _tables(pools):
        problems.append(f"pools: {_shape(pools)}; a team has [[pools]] tables")
        pools = []
    for k, pool in enumerate(pools):
        name = pool.get("name", "")
        if not isinstance(name, str):
            problems.append(f"pools[{k}].name = {name!r}: a pool's name is a string")
        if "staffing" in pool:
            problems.append(
                f"pools[{k}].staffing: a team file's pools are staffed by [[pools.shifts]] "
                "(a staffing table is read in a shop's own scenario only)"
            )
        shifts = pool.get("shifts", [])
        if not _tables(shifts):
            problems.append(f"pools[{k}].shifts: {_shape(shifts)}; give [[pools.shifts]] tables")
            continue
        for j, shift in enumerate(shifts):
            agents = shift.get("agents", 0)
            if isinstance(agents, bool) or not isinstance(agents, int):
                problems.append(
                    f"pools[{k}].shifts[{j}].agents = {agents!r}: the number of agents, "
                    "an integer >= 0"
                )
    return problems


def _key(key: str) -> str:
    return key if key.isidentifier() else json.dumps(key, ensure_ascii=False)


def _tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "an array holding a value that is not a table"
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{shown} is not an array of tables"


def at_multiplier(loaded: LoadedScenario, multiplier: float) -> LoadedScenario:
    """The scenario with its demand multiplier replaced (the model is frozen: a copy).

    Arrivals are sampled by inverting the cumulative intensity, so on the same
    seed a larger multiplier keeps every buyer of a smaller one and adds some.
    """
    demand = loaded.spec.demand.model_copy(update={"multiplier": multiplier})
    return loaded.with_spec(loaded.spec.model_copy(update={"demand": demand}))


def quote(
    loaded: LoadedScenario,
    *,
    margin: float = 0.2,
    replications: int | None = None,
    workers: int = 1,
    seed: int | None = None,
    tolerance: float = 0.02,
    progress: Callable[[str], None] | None = None,
    dask: str | None = None,
) -> Quote:
    """Find the largest demand multiplier the scenario's team keeps every target at.

    Parameters
    ----------
    loaded
        The client's scenario with the team's pools (see :func:`with_team`).
    margin
        Margin on cost for the prices (0.2 = 20%).
    replications
        Runs per multiplier (default: the scenario's ``plan.verify_replications``).
    workers
        Worker processes.
    seed
        Base seed (default: the scenario's).
    tolerance
        Relative width at which the bisection stops.
    progress
        Called with a line of text per multiplier tried.
    dask
        Address of a Dask scheduler to run the simulations on.
    """
    spec = loaded.spec
    if not spec.targets.require:
        raise ScenarioError(loaded.path, ["targets.require: a quote needs the client's targets"])
    n_rep = replications or spec.plan.verify_replications
    required = spec.targets.confidence
    say = progress or (lambda _m: None)
    base = spec.demand.multiplier
    steps: list[QuoteStep] = []
    runs: dict[float, Evaluation] = {}

    def passes(m: float) -> bool:
        ev = simulate(
            at_multiplier(loaded, base * m),
            seed=seed,
            replications=n_rep,
            keep_logs=False,
            workers=workers,
            dask=dask,
        )
        runs[m] = ev
        p = ev.p_all_targets_met
        conv = ev.estimates()["conversations"].mean
        steps.append(QuoteStep(m, p, conv))
        say(f"demand x{m:.3g}: {conv:,.0f} conversations, every target kept in {p:.0%} of runs")
        return p >= required

    lo, hi = 0.0, math.inf
    m = 1.0
    for _ in range(12):
        if passes(m):
            lo = m
            if hi < math.inf:
                break
            m *= 2.0
        else:
            hi = m
            if lo > 0.0:
                break
            m /= 2.0
        if m < 1.0 / 64 or m > 64:
            break
    while lo > 0.0 and hi < math.inf and (hi - lo) / lo > tolerance:
        mid = (lo + hi) / 2.0
        if passes(mid):
            lo = mid
        else:
            hi = mid
    ev = runs.get(lo)
    if ev is None:
        return Quote(0.0, 0.0, 0.0, 0.0, 0.0, math.nan, math.nan, margin, tuple(steps), None)
    est = ev.estimates()
    conv = est["conversations"].mean
    hours = est["paid_agent_hours"].mean
    cost = est["total_cost"].mean
    price = cost * (1.0 + margin)
    return Quote(
        multiplier=lo * base,
        conversations=conv,
        paid_agent_hours=hours,
        cost=cost,
        conversations_per_agent_hour=conv / hours if hours else math.nan,
        price_per_conversation=price / conv if conv else math.nan,
        price_per_hour=price / hours if hours else math.nan,
        margin=margin,
        steps=tuple(steps),
        evaluation=ev,
    )
