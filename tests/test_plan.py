"""The staffing planner: requirement (ISA), shift cover and the whole search.

What is checked
---------------
* **Stationary requirement = Erlang.**  With single-message chats, concurrency 1,
  exponential compose times and flat demand, a conversation is a customer of an
  M/M/n queue (M/M/n+M with exponential patience and
  ``answer_after_abandon = false``), and "every slot taken" is "an arrival
  waits" (PASTA).  The ISA's fixed point is then the fewest agents with Erlang
  C (Erlang A) P(wait) <= alpha.  Checked twice: with the iteration fed the
  *exact* stationary number-in-system distribution (no simulation noise; the
  iteration's own update rule is all that is tested), and with the engine's
  simulation (within one agent, in the middle of the horizon).
* **Time-varying demand.**  A sinusoidal forecast; the ISA requirement is
  simulated on fresh seeds and its achieved P(wait) per interval compared with
  alpha and with staffing to the instantaneous rate (Erlang C on lambda(t)).
* **The search** on a tiny scenario: verified, within the pool limits,
  reproducible, independent of the number of workers.
* **The cover**: more options (start times, lengths, another pool) never cost more.
* **Infeasible is an answer**, naming what binds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from conftest import base_dict, loaded
from peakdesk.analytic.erlang import erlang_a_metrics, erlang_c
from peakdesk.engine.intervals import peak_level
from peakdesk.engine.setup import config_from_instances
from peakdesk.experiment import replicate
from peakdesk.experiment.replicate import simulate
from peakdesk.plan.cover import solve_cover
from peakdesk.plan.inputs import Grid, PlanningInputs
from peakdesk.plan.patterns import cover_problem, instances_of, patterns
from peakdesk.plan.requirement import iterate_requirement, seed_requirement
from peakdesk.plan.search import Plan, search
from peakdesk.scenario import LoadedScenario, parse_scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- helpers


def _chat_dict(
    *,
    rate_per_s: float,
    aht_s: float,
    horizon: str = "2d",
    interval: str = "1h",
    patience_s: float | None = None,
) -> dict[str, Any]:
    """Single-message chats, concurrency 1, exponential compose time, flat demand.

    One pool with a ``[pools.plan]`` (the reference pool of the requirement).
    """
    d = base_dict()
    d["calendar"]["horizon"] = horizon
    d["calendar"]["interval"] = interval
    d["demand"] = {"profile": "flat", "volume_per_day": rate_per_s * 86400.0}
    typ = d["inquiry_types"][0]
    typ["compose_time"] = {"dist": "exponential", "mean": f"{aht_s}s"}
    if patience_s is not None:
        typ["patience"] = {"dist": "exponential", "mean": f"{patience_s}s"}
        typ["answer_after_abandon"] = False
    d["pools"][0]["shifts"] = []
    d["pools"][0]["plan"] = {"lengths": ["24h"], "starts": ["00:00"]}
    return d


def _in_system_pmf(n: int, load: float, theta_over_mu: float = 0.0, extra: int = 400) -> F64:
    """Stationary P(L = k) of M/M/n (+M with patience rate ``theta``), truncated far out.

    Death rate in state ``k`` (units of mu): ``min(k, n) + theta/mu * max(k - n, 0)``.
    Below the load without patience the chain is unstable; the truncation then puts
    the mass at the far end, as a simulation of a flooded system would.
    """
    k = np.arange(1, n + extra + 1, dtype=np.float64)
    death = np.minimum(k, n) + theta_over_mu * np.maximum(k - n, 0.0)
    logw = np.concatenate(([0.0], np.cumsum(math.log(load) - np.log(death))))
    w = np.exp(logw - logw.max())
    return np.asarray(w / w.sum(), dtype=np.float64)


def _erlang_c_agents(load: float, alpha: float) -> int:
    """Fewest agents with Erlang C P(wait) <= alpha."""
    return next(n for n in range(1, 1000) if n > load and erlang_c(n, load) <= alpha)


def _erlang_a_agents(rate_per_s: float, aht_s: float, patience_s: float, alpha: float) -> int:
    """Fewest agents with Erlang A P(wait) (= P(all busy), PASTA) <= alpha."""
    return next(
        n
        for n in range(1, 1000)
        if erlang_a_metrics(rate_per_s, aht_s, patience_s, n, 0.0).p_wait <= alpha
    )


# --------------------------------------------------------------------------- 1. Erlang


def _exact_measurement(
    monkeypatch: pytest.MonkeyPatch, load: float, theta_over_mu: float, grid: Grid
) -> list[I64]:
    """Replace the ISA's simulation by the exact stationary distribution of L.

    ``PlanningInputs.stacked_config`` hands the staffing through unchanged and the runs
    (``measure_runs``) return, per interval, the interval's length spread over the stationary
    number-in-system distribution of M/M/n(+M) with that interval's ``n``.
    Returns the list the staffings simulated are appended to.
    """
    seen: list[I64] = []

    def fake_config(_inputs: Any, agents: Any) -> I64:
        return np.asarray(agents, dtype=np.int64).copy()

    def fake_measure(_loaded: Any, _measure: Any, *, config: I64, **_kw: Any) -> Any:
        seen.append(config)
        pmfs = [_in_system_pmf(int(n), load, theta_over_mu) for n in config]
        width = max(p.size for p in pmfs)
        hist = np.zeros((grid.n, width))
        for k, p in enumerate(pmfs):
            hist[k, : p.size] = p * grid.interval_s
        return [hist]

    monkeypatch.setattr(PlanningInputs, "stacked_config", fake_config)
    monkeypatch.setattr(replicate, "measure_runs", fake_measure)
    return seen


@pytest.mark.parametrize(
    ("load", "alpha", "theta_over_mu"),
    [
        # The infinite-server (Poisson) quantile is already the Erlang C answer.
        pytest.param(4.0, 0.2, 0.0, id="C-a4-alpha0.2"),
        # Poisson quantile 11, first corrected by 3 (to 14), then back: ends at Erlang C 12.
        pytest.param(9.5, 0.4, 0.0, id="C-a9.5-alpha0.4"),
        # Poisson quantile 11, Erlang C 12: one agent to add after the generous start.
        pytest.param(8.0, 0.2, 0.0, id="C-a8-alpha0.2"),
        # Patience (mean = service / 4): Erlang A needs 6, one fewer than the Poisson 7.
        pytest.param(4.0, 0.2, 4.0, id="A-a4-alpha0.2"),
        # Patience (mean = service / 2): Erlang A 13, Poisson 14.
        pytest.param(10.0, 0.2, 2.0, id="A-a10-alpha0.2"),
    ],
)
def test_isa_fixed_point_is_the_erlang_staffing_with_exact_measurement(
    monkeypatch: pytest.MonkeyPatch, load: float, alpha: float, theta_over_mu: float
) -> None:
    aht = 100.0
    rate = load / aht
    if theta_over_mu == 0.0:
        expected = _erlang_c_agents(load, alpha)
    else:
        expected = _erlang_a_agents(rate, aht, aht / theta_over_mu, alpha)

    # The exact chain agrees with the library's Erlang C / A (so the fake is the model):
    # P(L >= n) <= alpha with n = expected agents, not with one fewer.
    def all_busy(n: int) -> float:
        return float(_in_system_pmf(n, load, theta_over_mu)[n:].sum())

    assert all_busy(expected) <= alpha < all_busy(expected - 1)

    ls = loaded(_chat_dict(rate_per_s=rate, aht_s=aht))
    grid = Grid(3600.0, 3)
    seen = _exact_measurement(monkeypatch, load, theta_over_mu, grid)
    start = np.full(grid.n, 3 * math.ceil(load), dtype=np.int64)  # generous: ~infinite server
    inputs = dataclasses.replace(PlanningInputs.of(ls), grid=grid)
    out, steps = iterate_requirement(inputs, start, alpha, replications=1, max_iterations=8, seed=1)
    # The first iteration measures (almost) the infinite-server system: the Poisson quantile.
    poisson_q = next(c for c in range(1000) if stats.poisson.sf(c - 1, load) <= alpha)
    np.testing.assert_array_equal(steps[0].next_agents, poisson_q)
    assert len(seen) == len(steps)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("patience_s", "load"),
    [
        pytest.param(None, 8.0, id="erlang-C"),
        pytest.param(30.0, 4.0, id="erlang-A"),
    ],
)
def test_isa_requirement_matches_erlang_in_simulation(
    patience_s: float | None, load: float
) -> None:
    """Stationary chats over two days, hourly intervals: the ISA requirement is Erlang's +-1.

    Observed (seeds 1-4, 8 replications): Erlang C case (load 8, alpha 0.2, Erlang C
    12 agents) gives 11 in ~2/3 of the middle intervals and 12 (rarely 13) in the
    rest; Erlang A case (load 4, patience = service / 4, Erlang A 6, Erlang C 7)
    gives 6 or 7, 7 in ~3/4 of them, the same as without patience.
    """
    alpha, aht = 0.2, 120.0
    rate = load / aht
    ls = loaded(_chat_dict(rate_per_s=rate, aht_s=aht, patience_s=patience_s))
    inputs = PlanningInputs.of(ls)
    assert inputs.grid.n == 48
    if patience_s is None:
        expected = _erlang_c_agents(load, alpha)
    else:
        expected = _erlang_a_agents(rate, aht, patience_s, alpha)
        assert expected < _erlang_c_agents(load, alpha)  # patience matters here
    start = seed_requirement(inputs, alpha)
    out, steps = iterate_requirement(inputs, start, alpha, replications=8, max_iterations=6, seed=3)
    assert 1 < len(steps) <= 6
    middle = out[2:-2]  # away from the empty start and the end of arrivals
    assert np.all(np.abs(middle - expected) <= 1), (expected, np.bincount(middle))
    assert abs(float(np.median(middle)) - expected) <= 1


# --------------------------------------------------------------------------- 2. sinusoid


_SIN_PERIOD_S = 6 * 3600.0
_SIN_AHT_S = 300.0


def _sinusoidal_scenario(tmp_path: Path, days: int = 2) -> tuple[LoadedScenario, F64]:
    """Forecast CSV with rate 1/30 s * (1 + 0.6 sin(2 pi t / 6 h)) per 15-min interval."""
    n = days * 96
    mid_s = (np.arange(n) + 0.5) * 900.0
    rate = (1.0 / 30.0) * (1.0 + 0.6 * np.sin(2.0 * np.pi * mid_s / _SIN_PERIOD_S))
    start = dt.datetime(2026, 11, 10)
    rows = ["interval_start,conversations"] + [
        f"{(start + dt.timedelta(seconds=900.0 * k)).isoformat()},{rate[k] * 900.0:.6f}"
        for k in range(n)
    ]
    csv = tmp_path / "sinus.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = base_dict(demand={"profile": "csv", "forecast": str(csv)})
    d["calendar"]["horizon"] = f"{days}d"
    d["inquiry_types"][0]["compose_time"] = {"dist": "exponential", "mean": f"{_SIN_AHT_S}s"}
    d["pools"][0]["shifts"] = []
    d["pools"][0]["plan"] = {"lengths": ["8h"]}
    ls = LoadedScenario(spec=parse_scenario(d), path=tmp_path / "sinus.toml")
    return ls, rate


def _p_wait_by_interval(ls: LoadedScenario, agents: I64, grid: Grid, reps: int) -> F64:
    """Share of arrivals of each interval that waited for an agent, pooled over fresh seeds."""
    ev = simulate(
        ls,
        seed=ls.spec.simulation.seed,
        replications=reps,
        config=PlanningInputs.of(ls).stacked_config(agents),
        keep_logs=True,
        workers=2,
        first_replication=50_000,
    )
    waited = np.zeros(grid.n)
    arrived = np.zeros(grid.n)
    for rep in ev.replications:
        log = rep.log
        assert log is not None
        k = np.floor(log.workload.arrival_s / grid.interval_s).astype(np.int64)
        # Never assigned (only at the very end, when the last agents go off) counts as waited.
        np.add.at(waited, k, ~(log.assign_s <= log.workload.arrival_s))
        np.add.at(arrived, k, 1.0)
    assert arrived.min() > 0
    return waited / arrived


def test_isa_keeps_delay_probability_under_sinusoidal_demand(tmp_path: Path) -> None:
    """The ISA requirement holds P(wait) near alpha; instantaneous Erlang C lags the load.

    Observed with this seed (7; 20 ISA replications, 30 fresh ones), middle intervals:
    ISA mean P(wait) 0.194, worst interval 0.399, rising half 0.200 vs falling 0.187;
    instantaneous Erlang C mean 0.137, worst 0.290, rising 0.112 vs falling 0.162.
    Seeds 1-4 and 11 give ISA means 0.188-0.207, worst 0.38-0.46, falling-minus-rising
    -0.034..+0.003 (instantaneous +0.029..+0.050).  NOT asserted, because it does not
    hold: the ISA's P(wait) spreads *more* across intervals (std 0.066-0.077) than the
    instantaneous staffing's (0.048-0.056), whose spread comes mostly from rounding up.
    """
    alpha = 0.2
    ls, rate = _sinusoidal_scenario(tmp_path)
    inputs = PlanningInputs.of(ls)
    grid = inputs.grid
    assert grid.n == rate.size == 192
    isa, _steps = iterate_requirement(
        inputs,
        seed_requirement(inputs, alpha),
        alpha,
        replications=20,
        max_iterations=8,
        seed=ls.spec.simulation.seed,
        workers=2,
    )
    instantaneous = np.array([_erlang_c_agents(r * _SIN_AHT_S, alpha) for r in rate])

    reps = 30
    pw_isa = _p_wait_by_interval(ls, isa, grid, reps)
    pw_inst = _p_wait_by_interval(ls, instantaneous, grid, reps)

    per_period = int(_SIN_PERIOD_S // grid.interval_s)
    middle = np.arange(per_period, grid.n - per_period)  # drop the first and last period
    rising = np.cos(2.0 * np.pi * (middle + 0.5) * grid.interval_s / _SIN_PERIOD_S) > 0.0

    # ISA: close to alpha on average, and no interval far above it.
    assert abs(pw_isa[middle].mean() - alpha) <= 0.07, pw_isa[middle].mean()
    assert pw_isa[middle].max() <= 2.5 * alpha, pw_isa[middle].max()

    # Instantaneous staffing lags the load: buyers wait more while demand falls than
    # at the same rates while it rises (same staffing at the same rate).
    gap_inst = pw_inst[middle][~rising].mean() - pw_inst[middle][rising].mean()
    assert instantaneous[middle][~rising].sum() == instantaneous[middle][rising].sum()
    assert gap_inst >= 0.02, gap_inst
    # The ISA moves agents to the falling half (where the load in system lags behind)
    # and loses that lag signature.
    assert isa[middle][~rising].sum() - isa[middle][rising].sum() >= 0.005 * isa[middle].sum()
    gap_isa = pw_isa[middle][~rising].mean() - pw_isa[middle][rising].mean()
    assert gap_isa <= gap_inst - 0.02, (gap_isa, gap_inst)


# --------------------------------------------------------------------------- 3. search


def _search_dict(**over: Any) -> dict[str, Any]:
    """About 3000 chats over one day, two slots per agent, one planned pool."""
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": 3000}
    typ = d["inquiry_types"][0]
    typ["messages"] = {"dist": "geometric", "mean": 2.0}
    typ["think_time"] = {"dist": "exponential", "mean": "40s"}
    typ["compose_time"] = {"dist": "lognormal", "mean": "20s", "cv": 0.5}
    pool = d["pools"][0]
    pool["max_concurrency"] = 2
    pool["shifts"] = []
    pool["plan"] = {
        "lengths": ["8h"],
        "start_every": "2h",
        "max_per_shift": 2,
        "max_agents_per_day": 12,
    }
    d["targets"] = {"confidence": 0.8, "require": ["service_level(45s) >= 0.9"]}
    d["plan"] = {"replications": 3, "verify_replications": 20, "max_rounds": 4}
    d["simulation"]["seed"] = 11
    for k, v in over.items():
        d[k] = v
    return d


@pytest.fixture(scope="module")
def searched() -> dict[str, Any]:
    """The tiny scenario searched three times: twice alike, once with two workers."""
    ls = loaded(_search_dict())
    return {
        "loaded": ls,
        "plan": search(ls),
        "again": search(ls),
        "two_workers": search(ls, workers=2),
    }


def test_search_returns_a_verified_plan_within_the_limits(searched: dict[str, Any]) -> None:
    ls: LoadedScenario = searched["loaded"]
    plan: Plan = searched["plan"]
    spec = ls.spec
    assert plan.status == "ok", plan.message
    assert plan.counts.sum() > 0

    # Evidence: the verification runs are there, on the configured count, and
    # every target was kept in at least the required share of them.
    ev = plan.verification
    assert ev is not None
    assert len(ev.replications) == spec.plan.verify_replications
    met = [all(t.met for t in rep.targets) for rep in ev.replications]
    assert plan.rounds[-1].p_all_met == pytest.approx(np.mean(met))
    assert plan.rounds[-1].p_all_met >= spec.targets.confidence
    assert "verification runs" in plan.message
    summary = plan.rounds[-1].targets
    assert [t.target.text for t in summary] == spec.targets.require

    # Limits: agents per pattern and per pool and day.
    limits = spec.pools[0].plan
    assert limits is not None and limits.max_per_shift is not None
    assert limits.max_agents_per_day is not None
    assert all(not p.fixed for p in plan.patterns)
    assert plan.counts.max() <= limits.max_per_shift
    per_day: dict[dt.date, int] = {}
    for pat, n in zip(plan.patterns, plan.counts.tolist(), strict=True):
        per_day[pat.day] = per_day.get(pat.day, 0) + n
    assert max(per_day.values()) <= limits.max_agents_per_day
    # The limits bind here (so the check above is not vacuous): without them the cheapest
    # cover puts more agents on one start or into the day.
    pb = cover_problem(PlanningInputs.of(ls), plan.requirement, list(plan.patterns))
    free = dataclasses.replace(
        pb, upper=np.full(pb.n_patterns, np.inf), pool_of=None, pool_max=None, day_of=None
    )
    unlimited = solve_cover(free, mip_rel_gap=0.0)
    assert unlimited.feasible
    day_of = np.array([p.day.toordinal() for p in plan.patterns])
    busiest = max(int(unlimited.x[day_of == d].sum()) for d in np.unique(day_of))
    assert unlimited.x.max() > limits.max_per_shift or busiest > limits.max_agents_per_day

    # The plan covers its requirement, and its cost and sub-accounts are what it says.
    coverage = pb.cover[0] @ plan.counts.astype(np.float64)
    assert np.all(coverage >= pb.requirement[0] - 1e-9)
    assert plan.labour_cost_by_pool[spec.pools[0].name] == pytest.approx(
        float(pb.cost @ plan.counts)
    )
    cfg = config_from_instances(
        spec, instances_of(list(plan.patterns), plan.counts), subaccounts=10**9
    )
    assert plan.subaccounts == peak_level(cfg.segment_start_s, cfg.segment_end_s)


def test_search_is_reproducible_and_independent_of_workers(searched: dict[str, Any]) -> None:
    plan: Plan = searched["plan"]
    for other in (searched["again"], searched["two_workers"]):
        assert other.status == plan.status
        np.testing.assert_array_equal(other.requirement, plan.requirement)
        np.testing.assert_array_equal(other.counts, plan.counts)
        assert other.total_cost == plan.total_cost
        assert other.subaccounts == plan.subaccounts
        assert [r.p_all_met for r in other.rounds] == [r.p_all_met for r in plan.rounds]


# --------------------------------------------------------------------------- 4. cover


def _cover_dict() -> dict[str, Any]:
    d = base_dict()
    d["pools"][0]["max_concurrency"] = 2
    d["pools"][0]["shifts"] = []
    d["pools"][0]["plan"] = {"lengths": ["8h"], "start_every": "4h"}
    return d


def _cheaper_pool(**over: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "name": "cheap",
        "skills": {"q": 1.0},
        "max_concurrency": 2,
        "hourly_cost": 8.0,
        "plan": {"lengths": ["8h"], "start_every": "4h"},
    }
    pool.update(over)
    return pool


def _cover_cost(d: dict[str, Any], agents: I64) -> tuple[float, int]:
    ls = loaded(d)
    pats = patterns(ls.spec)
    sol = solve_cover(cover_problem(PlanningInputs.of(ls), agents, pats), mip_rel_gap=0.0)
    assert sol.status == "optimal"
    return sol.cost, len(pats)


def _more_starts(d: dict[str, Any]) -> None:
    d["pools"][0]["plan"]["start_every"] = "1h"


def _more_lengths(d: dict[str, Any]) -> None:
    d["pools"][0]["plan"]["lengths"] = ["8h", "4h", "6h"]


def _same_pool_cheaper(d: dict[str, Any]) -> None:
    d["pools"].append(_cheaper_pool())


def _cheaper_per_hour_dearer_per_slot(d: dict[str, Any]) -> None:
    d["pools"].append(_cheaper_pool(max_concurrency=1, hourly_cost=6.0))


def _dearer_pool(d: dict[str, Any]) -> None:
    d["pools"].append(
        _cheaper_pool(hourly_cost=15.0, plan={"lengths": ["4h"], "start_every": "1h"})
    )


@pytest.mark.parametrize(
    "extend",
    [
        _more_starts,
        _more_lengths,
        _same_pool_cheaper,
        _cheaper_per_hour_dearer_per_slot,
        _dearer_pool,
    ],
)
def test_more_shift_options_never_cost_more(extend: Any) -> None:
    # A day with a morning ramp and an evening peak (reference agents per 15 min).
    hours = np.arange(96) / 4.0
    agents = np.ceil(
        2 + 4 * np.exp(-((hours - 10.5) ** 2) / 8) + 6 * np.exp(-((hours - 20.5) ** 2) / 4)
    ).astype(np.int64)
    base = _cover_dict()
    without, n_without = _cover_cost(base, agents)
    extended = _cover_dict()
    extend(extended)
    with_more, n_with = _cover_cost(extended, agents)
    assert n_with > n_without
    assert with_more <= without + 1e-6 * without
    if extend is _same_pool_cheaper:
        # The same patterns at 8 instead of 10 an hour: the whole plan moves there.
        assert with_more == pytest.approx(0.8 * without)
    if extend in (_more_starts, _more_lengths):
        # Finer patterns waste less coverage on this profile: strictly cheaper.
        assert with_more < without


# --------------------------------------------------------------------------- 5. infeasible


def _assert_no_plan(plan: Plan) -> None:
    assert plan.status == "infeasible"
    assert plan.verification is None
    assert not plan.counts.any()
    assert plan.labour_cost_by_pool == {}
    assert plan.subaccounts == 0
    assert plan.diagnosis


def test_search_reports_a_subaccount_cap_below_the_requirement() -> None:
    plan = search(loaded(_search_dict(subaccounts={"count": 2, "platform_cap": 2})))
    _assert_no_plan(plan)
    assert {d.kind for d in plan.diagnosis} == {"subaccount_cap"}
    assert plan.message.startswith("no shift plan covers the requirement")
    assert "sub-account cap 2 is below the" in plan.message
    assert int(plan.requirement.max()) > 2


def _pool_limited() -> dict[str, Any]:
    d = _search_dict()
    d["pools"][0]["plan"]["max_agents_per_day"] = 3
    return d


def test_search_reports_a_pool_limit_below_the_requirement() -> None:
    plan = search(loaded(_pool_limited()))
    _assert_no_plan(plan)
    assert [d.kind for d in plan.diagnosis] == ["pool_max"]
    assert plan.diagnosis[0].pool == 0
    assert "pool 'p'" in plan.message
    assert "is limited to 3 agents but" in plan.message


def test_pool_limit_message_names_the_date() -> None:
    plan = search(loaded(_pool_limited()))
    assert plan.status == "infeasible"
    assert "11-10" in plan.message, plan.message


def test_demand_above_the_cap_ends_before_any_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    # 30,000 chats a day keep about 15 agents busy on average; the cap is 4 seats.
    d = _search_dict(subaccounts={"count": 4, "platform_cap": 4})
    d["demand"]["volume_per_day"] = 30000

    def no_runs(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the search simulated although no staffing fits under the cap")

    monkeypatch.setattr("peakdesk.plan.requirement.simulate", no_runs, raising=False)
    monkeypatch.setattr("peakdesk.experiment.replicate.simulate", no_runs)
    monkeypatch.setattr("peakdesk.plan.search.simulate", no_runs)
    plan = search(loaded(d))
    _assert_no_plan(plan)
    assert plan.diagnosis[0].kind == "subaccount_cap"
    assert "no staffing fits under the platform's cap of 4 sub-accounts:" in plan.message
    # The number, worked by hand: rate x holding time / 2 chats at the most any agent holds.
    inputs = PlanningInputs.of(loaded(d))
    busy = inputs.work.rate_per_s * inputs.work.hold_s / 2
    assert max(plan.diagnosis[0].value) == pytest.approx(float(busy.max()))
    assert f"{float(busy.max()):.1f} agents busy" in plan.message
    # One more chat per agent does not fit either: said, still without a run.
    assert "one more chat per agent does not fit under the cap either" in plan.message
