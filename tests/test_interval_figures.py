"""The Erlang figures per interval: P(delay), ASA, service level, waits, and ``erlang --intervals``.

The time-varying check is the sinusoid of Feldman, Mandelbaum, Massey and Whitt
(2008): lambda(t) = 100 + 20 sin t per minute, handle time and patience both
exponential with mean 1 minute, patience until assignment, one chat per
agent, agents handing their chats back when the staffing falls.  With mu =
theta every buyer in the system leaves at rate 1 whether waiting or served, so
the number in system is the infinite-server queue: Poisson with mean m(t),
m' = lambda(t) - m, m(0) = 0.  An arrival is delayed when it finds s(t) or more
(arrivals see time averages), so the reference P(delay) of each minute is the
arrival-weighted mean of P(Poisson(m(t)) >= s) over it: computed here in closed
form from the forecast the engine sampled, sharing no engine code.  Staffing
is given as a staffing table, once by the modified offered load (MOL: P(delay)
held near 0.1) and once by the pointwise stationary approximation (PSA: the
stationary formula on lambda(t) alone, which lags the peak).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tomlkit
from click.testing import CliRunner
from scipy import stats

from conftest import base_dict, make_workload, run_dict
from peakdesk.cli import main
from peakdesk.engine.intervals import interval_table
from peakdesk.experiment.interval_figures import erlang_beside, over_runs
from peakdesk.experiment.replicate import simulate
from peakdesk.report.rundata import RunData
from peakdesk.scenario import load_scenario

F64 = npt.NDArray[np.float64]
MINUTES = 120
START = dt.datetime(2026, 11, 10)


def test_a_hand_built_trace_gives_the_figures_by_their_definitions() -> None:
    # One agent, one chat at a time, 30 s per reply: taken at 0, at 30 (waited 20 s) and at 60
    # (waited 40 s); a fourth buyer leaves after 5 s and a fifth arrives in the next minute.
    d = base_dict()
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 1}]
    d["inquiry_types"][0]["patience_until"] = "assignment"
    d["inquiry_types"][0]["answer_after_abandon"] = False
    w = make_workload(
        [0.0, 10.0, 20.0, 25.0, 70.0],
        [[(0.0, 30.0)]] * 5,
        patience_s=[math.inf, math.inf, math.inf, 5.0, math.inf],
    )
    log = run_dict(d, w)
    t = interval_table(log, 60.0, service_level_s=20.0)
    assert t.human_arrivals[:2].tolist() == [4, 1]
    assert t.p_delay[0] == pytest.approx(3 / 4)  # 10, 20 and the one who left waited
    assert t.asa_s[0] == pytest.approx((0 + 20 + 40 + 5) / 4)
    assert t.service_level[0] == pytest.approx(2 / 4)  # taken within 20 s: the first two
    assert t.abandonment[0] == pytest.approx(1 / 4)
    assert t.taken[:2].tolist() == [3, 1]
    # Nearest rank among 0, 20, 40 and inf (never taken).
    assert (t.assign_wait_p50_s[0], t.assign_wait_p90_s[0]) == (20.0, math.inf)
    assert t.p_delay[1] == pytest.approx(1.0)  # the agent is busy until 90 s
    assert t.asa_s[1] == pytest.approx(20.0)


def test_over_runs_is_the_t_interval_of_the_mean() -> None:
    table = np.array([[1.0, np.nan, 2.0], [3.0, np.nan, np.nan], [5.0, 4.0, np.nan]])
    mean, low, high = over_runs(table)
    half = stats.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)
    assert mean[0] == 3.0 and (low[0], high[0]) == pytest.approx((3.0 - half, 3.0 + half))
    assert mean[1] == 4.0 and math.isnan(low[1])  # one value: no interval
    assert mean[2] == 2.0 and math.isnan(high[2])


def _lambda_per_minute() -> F64:
    k = np.arange(MINUTES, dtype=np.float64)
    return 100.0 + 20.0 * (np.cos(k) - np.cos(k + 1.0))  # the integral over each minute


def _offered_load(lam: F64, steps: int = 60) -> tuple[F64, F64]:
    """m(t) of the infinite-server queue on the piecewise-constant rate the engine samples:
    per minute, the times (minutes) and m at ``steps`` midpoints, exact."""
    t_all, m_all = [], []
    m0 = 0.0
    for k, rate in enumerate(lam):
        u = (np.arange(steps) + 0.5) / steps
        t_all.append(k + u)
        m_all.append(rate + (m0 - rate) * np.exp(-u))
        m0 = rate + (m0 - rate) * math.exp(-1.0)
    return np.concatenate(t_all), np.concatenate(m_all)


def _staffing(load: F64, alpha: float = 0.1) -> list[int]:
    """Fewest agents with P(Poisson(load) >= s) <= alpha, per value of the load."""
    return [int(stats.poisson.ppf(1.0 - alpha, m)) + 1 for m in load]


def _reference_p_delay(lam: F64, staff: list[int]) -> F64:
    _, m = _offered_load(lam)
    m = m.reshape(MINUTES, -1)
    # Arrivals within a minute come at a constant rate: the plain mean over the minute.
    return np.array([stats.poisson.sf(staff[k] - 1, m[k]).mean() for k in range(MINUTES)])


def _sinusoid(folder: Path, staff: list[int], replications: int) -> Path:
    lam = _lambda_per_minute()
    rows = ["interval_start,conversations"]
    rows += [
        f"{(START + dt.timedelta(minutes=k)).isoformat()},{lam[k]:.12f}" for k in range(MINUTES)
    ]
    (folder / "f.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = ["interval_start,agents"]
    table += [f"{(START + dt.timedelta(minutes=k)).isoformat()},{s}" for k, s in enumerate(staff)]
    (folder / "staffing.csv").write_text("\n".join(table) + "\n", encoding="utf-8")
    d = base_dict()
    d["calendar"].update(horizon=f"{MINUTES}min", interval="5min")
    d["demand"] = {"profile": "csv", "forecast": "f.csv"}
    t = d["inquiry_types"][0]
    t["compose_time"] = {"dist": "exponential", "mean": "60s"}
    t["patience"] = {"dist": "exponential", "mean": "60s"}
    t.update(patience_until="assignment", answer_after_abandon=False)
    p = d["pools"][0]
    p.update(shift_end="hand_back", staffing="staffing.csv", shifts=[])
    d["subaccounts"] = {"count": 1000}
    d["simulation"] = {"seed": 2008, "replications": replications}
    path = folder / "s.toml"
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    return path


@pytest.mark.parametrize("rule", ["MOL", "PSA"])
def test_the_sinusoid_reproduces_p_delay_per_interval(tmp_path: Path, rule: str) -> None:
    lam = _lambda_per_minute()
    if rule == "MOL":
        _, m = _offered_load(lam, steps=2)
        staff = _staffing(m.reshape(MINUTES, 2)[:, 0])
    else:  # the stationary load of each minute's own rate
        staff = _staffing(lam)
    reference = _reference_p_delay(lam, staff)
    ev = simulate(load_scenario(_sinusoid(tmp_path, staff, 60)), keep_logs=False)
    # Staffing changes every minute; the figures are reported per 5 minutes.  Per minute, a
    # share near 0.1 is 0 in most runs and large in the few where the number in system
    # crossed the staffing (it moves on the scale of the 1-minute handle time): the spread
    # over 60 runs is far from normal and no t interval holds.  Over 5 minutes it does.
    blocks = MINUTES // 5
    table = np.array([r.intervals.p_delay[:blocks] for r in ev.replications])
    arrivals = np.array([r.intervals.human_arrivals[:blocks] for r in ev.replications])
    mean, low, high = over_runs(table, arrivals.astype(float), level=0.99)
    # The reference of a block: its minutes weighted by their expected arrivals.
    expected = (reference * lam).reshape(blocks, 5).sum(axis=1) / lam.reshape(blocks, 5).sum(axis=1)
    outside = np.flatnonzero((expected < low) | (expected > high))
    # 24 intervals at 99%: 2 or more outside by chance has probability 0.025.
    assert outside.size <= 1, [(int(k), mean[k], expected[k]) for k in outside]
    if rule == "MOL":  # held near the 0.1 asked for, minute by minute
        assert 0.05 <= float(reference[5:].min()) and float(reference[5:].max()) <= 0.2
    else:  # the PSA lags the peak: P(delay) swings from near 0 to over half
        assert float(reference[5:].min()) < 0.01 and float(reference[5:].max()) > 0.5


def _steady_run(folder: Path) -> Path:
    """An M/M/c shop (Erlang C): 6 agents, 4 arrivals a minute, 1-minute chats, 10 runs."""
    d = base_dict()
    d["calendar"].update(horizon="4h", interval="30min")
    d["demand"] = {"profile": "flat", "volume_per_day": 4 * 60 * 24}
    d["inquiry_types"][0]["compose_time"] = {"dist": "exponential", "mean": "60s"}
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 6}]
    d["targets"] = {"require": ["service_level(20s) >= 0.8"]}
    d["simulation"] = {"seed": 3, "replications": 10}
    (folder / "s.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(
        main, ["simulate", str(folder / "s.toml"), "--out", str(folder / "run")]
    )
    assert res.exit_code == 0, res.output
    return folder / "run"


def test_erlang_intervals_puts_erlang_c_beside_a_steady_run(tmp_path: Path) -> None:
    run = _steady_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    figures = summary["interval_figures"]
    assert figures["service_level_s"] == 20.0
    assert set(figures["columns"]["p_delay"]) == {"mean", "low", "high"}
    res = CliRunner().invoke(main, ["erlang", "--intervals", str(run), "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.output)
    assert doc["model"].startswith("Erlang C")
    assert doc["handle_time_s"] == pytest.approx(60.0, rel=0.05)
    rows = doc["intervals"]
    assert len(rows) == 8  # 4 h of 30 min; the drain after the horizon left out
    # Erlang C with 6 agents at 4 Erlangs: P(wait) 0.285 (each interval's formula takes the
    # run's own arrivals, 10 runs x 120 of them: within a few points); from the second half
    # hour (the first starts empty) the formula lies inside the simulation's interval.
    for row in rows[1:]:
        assert row["formula"]["p_delay"] == pytest.approx(0.2848, abs=0.07)
        assert "p_delay" not in row["formula_outside_simulated_interval"], row
    res = CliRunner().invoke(main, ["erlang", "--intervals", str(run)])
    assert res.exit_code == 0, res.output
    assert "Erlang C per interval" in res.output and "definitions:" in res.output


def test_erlang_intervals_from_the_api_matches_the_run_folder(tmp_path: Path) -> None:
    run = _steady_run(tmp_path)
    data = RunData.from_dir(run)
    rows = erlang_beside(data.intervals, 1800.0, 4 * 3600.0, 20.0, handle_s=60.0)
    assert [r.concurrency for r in rows] == [1] * 8
    assert all(r.agents == pytest.approx(6.0) for r in rows)


def test_erlang_intervals_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["erlang", "--intervals", str(tmp_path)])
    assert res.exit_code == 2
    assert "no summary.json" in res.output
    res = CliRunner().invoke(main, ["erlang"])
    assert res.exit_code == 2
    assert "give --rate and --aht" in res.output
