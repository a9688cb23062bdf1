"""``simulation.warm_up``: the horizon starts with a day in progress, not empty.

An M/M/20 shop at 90% load (its queue relaxes over about 3 hours): started
empty, its first hour's mean wait is far below the stationary Erlang C value
(agents free, no queue yet); with a warm-up of 12 hours cut off the figures,
the first hour's mean wait over 120 runs has the Erlang C value inside its 99%
interval.  The cut log holds only the
horizon's buyers, on the scenario's own clock, and the run is otherwise the
same as the run of the longer scenario it came from.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from click.testing import CliRunner
from scipy import stats

from conftest import base_dict, loaded
from peakdesk.analytic.erlang import erlang_c_metrics
from peakdesk.cli import main
from peakdesk.experiment.replicate import simulate
from peakdesk.experiment.warm_up import extended, mser5
from peakdesk.scenario.load import ScenarioError, scenario_from_data

AGENTS, RATE_PER_MIN, SERVICE_MIN = 20, 1.8, 10.0


def _mmc(warm_up: str | None, replications: int = 120) -> dict[str, Any]:
    d = base_dict()
    d["calendar"].update(horizon="1h", interval="15min")
    d["demand"] = {"profile": "flat", "volume_per_day": RATE_PER_MIN * 60 * 24}
    t = d["inquiry_types"][0]
    t["compose_time"] = {"dist": "exponential", "mean": f"{SERVICE_MIN:g}min"}
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": AGENTS}]
    d["simulation"] = {"seed": 21, "replications": replications}
    if warm_up is not None:
        d["simulation"]["warm_up"] = warm_up
    return d


def _first_hour_waits(d: dict[str, Any]) -> np.ndarray:
    ev = simulate(loaded(d), keep_logs=True)
    out = []
    for rep in ev.replications:
        log = rep.log
        assert log is not None
        assert log.workload.arrival_s.min() >= 0.0 and log.horizon_s == 3600.0
        out.append(float(np.mean(log.assign_s - log.workload.arrival_s)))
    return np.array(out)


def test_a_warm_up_removes_the_start_up_bias_of_an_mmc_run() -> None:
    erlang = erlang_c_metrics(RATE_PER_MIN / 60.0, SERVICE_MIN * 60.0, AGENTS, 20.0)
    cold = _first_hour_waits(_mmc(None))
    warm = _first_hour_waits(_mmc("12h"))
    half = stats.t.ppf(0.995, warm.size - 1) * warm.std(ddof=1) / math.sqrt(warm.size)
    assert abs(warm.mean() - erlang.asa_s) <= half, (warm.mean(), half, erlang.asa_s)
    # Started empty, the first hour waits well under half of it (the test can tell).
    assert cold.mean() < 0.5 * erlang.asa_s, (cold.mean(), erlang.asa_s)


def test_the_cut_run_is_the_long_runs_tail() -> None:
    short = _mmc("2h", replications=1)
    ev = simulate(loaded(short), keep_logs=True)
    cut = ev.replications[0].log
    assert cut is not None
    # The same buyers and agents as the scenario moved back by hand, seen from 2 h in.
    moved = extended(loaded(short), 7200.0)
    spec = moved.spec.model_copy(
        update={"simulation": moved.spec.simulation.model_copy(update={"warm_up": None})}
    )
    full_ev = simulate(moved.with_spec(spec), keep_logs=True)
    full = full_ev.replications[0].log
    assert full is not None
    late = full.workload.arrival_s >= 7200.0
    assert np.array_equal(cut.workload.arrival_s, full.workload.arrival_s[late] - 7200.0)
    assert np.array_equal(cut.assign_s, full.assign_s[late] - 7200.0)
    assert np.array_equal(cut.agent, full.agent[late])
    s = ev.replications[0].summary
    assert s.conversations == int(late.sum())
    # Paid for the scenario's hour, not the warm-up.
    assert s.paid_agent_hours == pytest.approx(AGENTS * 24.0)
    assert cut.start == dt.datetime(2026, 11, 10, tzinfo=cut.start.tzinfo)
    # Agents were busy with the warm-up's chats at the start: chats held from time 0.
    assert cut.online_start_s.min() == 0.0


def test_mser5_finds_a_start_up_and_none_in_a_steady_series() -> None:
    rng = np.random.default_rng(3)
    steady = 10.0 + rng.normal(0.0, 1.0, 200)
    assert mser5(steady) <= 10
    ramp = np.concatenate((np.linspace(0.0, 10.0, 40), steady))
    assert 25 <= mser5(ramp) <= 50


def test_simulate_reports_the_start_up_and_the_warm_up(tmp_path: Path) -> None:
    for warm_up, expected in ((None, "start-up: the first"), ("4h", "warm-up: the run started")):
        d = _mmc(warm_up, replications=8)
        d["calendar"]["horizon"] = "6h"
        path = tmp_path / "s.toml"
        path.write_text(tomlkit.dumps(d), encoding="utf-8")
        res = CliRunner().invoke(main, ["simulate", str(path)])
        assert res.exit_code == 0, res.output
        assert expected in res.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"warm_up": "10min"}, "is not a whole number of reporting intervals (15.0min)"),
        ({"warm_up": "1h", "total": True}, "with demand.total (or [demand.business])"),
    ],
)
def test_a_warm_up_that_cannot_run_is_refused(change: dict[str, Any], expected: str) -> None:
    d = _mmc(change["warm_up"], replications=1)
    if change.get("total"):
        d["demand"] = {"profile": "flat", "total": 100.0}
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        scenario_from_data(d, "s.toml")


def test_plan_refuses_a_warm_up_and_a_forecast_needs_its_rows(tmp_path: Path) -> None:
    d = _mmc("1h", replications=1)
    d["pools"][0]["plan"] = {"lengths": ["8h"]}
    (tmp_path / "s.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["plan", str(tmp_path / "s.toml")])
    assert res.exit_code == 2
    assert "runs no warm-up yet" in res.output
    d = _mmc("1h", replications=1)
    rows = ["interval_start,conversations"]
    rows += [f"2026-11-10T00:{m:02d},30" for m in (0, 15, 30, 45)]
    (tmp_path / "f.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    d["demand"] = {"profile": "csv", "forecast": "f.csv"}
    (tmp_path / "s.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "s.toml")])
    assert res.exit_code == 2
    assert "the demand has no buyer in it" in res.output
    assert "Traceback" not in res.output


def test_the_agents_are_busy_at_the_cut() -> None:
    # Busy slots and queue of the first interval: a day in progress (about 18 of 20
    # agents busy at 90% load), not the empty start.
    ev = simulate(loaded(_mmc("12h", replications=20)), keep_logs=False)
    first = np.array([r.intervals.busy_slots[0] for r in ev.replications])
    assert abs(first.mean() - AGENTS * 0.9) < 1.5, first.mean()
    cold = simulate(loaded(_mmc(None, replications=20)), keep_logs=False)
    assert np.mean([r.intervals.busy_slots[0] for r in cold.replications]) < 12.0
    # Held chats of the warm-up count as no conversation of the horizon.
    pools = ev.replications[0].pools
    assert pools is not None
