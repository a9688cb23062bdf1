"""Command line: plan, quote and erlang on small inputs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main

TINY = """
[scenario]
name = "tiny"

[calendar]
start = 2026-11-10T00:00:00
horizon = "1d"
timezone = "Asia/Shanghai"
interval = "1h"

[demand]
profile = "flat"
volume_per_day = 600

[[inquiry_types]]
name = "q"
share = 1.0
messages = { dist = "fixed", value = 1 }
think_time = { dist = "fixed", value = "10s" }
compose_time = { dist = "exponential", mean = "30s" }   # P(reply <= 60 s) = 86% at no wait
patience = { dist = "none" }

[[pools]]
name = "team"
skills = { q = 1.0 }
max_concurrency = 1
hourly_cost = 10.0

[pools.plan]
lengths = ["8h"]
start_every = "4h"

[subaccounts]
count = 50

[targets]
require = ["service_level(60s) >= 0.7"]

[plan]
replications = 2
verify_replications = 4
max_iterations = 3

[simulation]
seed = 3
"""


def _tiny(tmp_path: Path, text: str = TINY) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_plan_says_when_a_target_is_out_of_reach(tmp_path: Path) -> None:
    # The first reply includes writing it: with 2-min replies (exponential) only 39% can be
    # answered within 60 s however many agents there are.
    text = TINY.replace('mean = "30s" }', 'mean = "2min" }')
    res = CliRunner().invoke(main, ["plan", str(_tiny(tmp_path, text)), "-q", "-w", "1"])
    assert res.exit_code == 1
    assert "NOT_MET" in res.stdout and "service_level(60s) >= 0.7" in res.stdout


def test_plan_command_writes_a_verified_plan(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "plan"
    res = runner.invoke(main, ["plan", str(_tiny(tmp_path)), "--out", str(out), "-q", "-w", "1"])
    assert res.exit_code == 0, res.output + res.stderr
    # Batches of 4, then the 55 more that can clear 95% at 95% (Clopper-Pearson: 59 of 59).
    assert "OK" in res.stdout and "verification on 59 fresh runs" in res.stdout
    assert "held-out P(all met) 1.00, 95% interval [0.96, 1.00] on 100 runs" in res.stdout
    data = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert data["status"] == "ok"
    assert data["verification"]["p_all_targets_met"] == 1.0
    assert data["guarantee"]["lower_bound"] >= 0.95 and data["guarantee"]["decision"] == "accept"
    assert data["held_out"]["passed"] and data["held_out"]["replications"] == 100
    assert data["refinement"]["outcome"] in ("converged", "cycle")
    total = sum(r["agents"] for r in data["shifts"])
    assert total > 0 and data["subaccounts"] >= 1
    # Seats are free and uncapped here: one more saves nothing.
    seat = data["seat_price"]
    assert seat["shadow_price"] == 0.0 and not seat["cap_binds"]
    assert seat["text"] in res.stdout and "one more would save 0" in seat["text"]
    # Cost = paid hours x hourly cost: 8 h per agent (shifts clipped at the start only).
    assert data["total_cost"] == pytest.approx(sum(r["paid_cost"] for r in data["shifts"]))
    header = (out / "online.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("interval_start,requirement_reference_agents,online_team")


def test_plan_reports_infeasible_with_exit_1(tmp_path: Path) -> None:
    text = TINY.replace("[subaccounts]\ncount = 50", "[subaccounts]\ncount = 1\nplatform_cap = 1")
    text = text.replace("volume_per_day = 600", "volume_per_day = 6000")  # ~2 Erlangs
    res = CliRunner().invoke(main, ["plan", str(_tiny(tmp_path, text)), "-q", "-w", "1"])
    assert res.exit_code == 1
    # About 2 agents busy on average against 1 seat: said before any simulation.
    assert "INFEASIBLE" in res.stdout and "platform's cap of 1 sub-account:" in res.stdout
    assert "agents busy" in res.stdout


def test_an_infeasible_plan_replaces_the_old_run_whole(tmp_path: Path) -> None:
    # An earlier feasible plan's run in DIR, and a file of the user's own.
    out = tmp_path / "run"
    ok = CliRunner().invoke(
        main, ["plan", str(_tiny(tmp_path)), "-q", "-w", "1", "--out", str(out)]
    )
    assert ok.exit_code == 0, ok.output + ok.stderr
    assert (out / "summary.json").is_file() and (out / "planned.toml").is_file()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    text = TINY.replace("[subaccounts]\ncount = 50", "[subaccounts]\ncount = 1\nplatform_cap = 1")
    text = text.replace("volume_per_day = 600", "volume_per_day = 6000")
    bad = tmp_path / "bad"
    bad.mkdir()
    res = CliRunner().invoke(
        main, ["plan", str(_tiny(bad, text)), "-q", "-w", "1", "--out", str(out)]
    )
    assert res.exit_code == 1
    # Only the infeasible plan's plan.json: no summary, logs or planned.toml of the old plan
    # that a reader could take for this one's; the user's file stays.
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "plan.json"]
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["status"] == "infeasible"
    assert not any(p.name.endswith(".peakdesk-new") for p in tmp_path.iterdir())


def test_plan_needs_a_plannable_pool() -> None:
    res = CliRunner().invoke(main, ["plan", str(SCENARIOS / "small-shop.toml")])
    assert res.exit_code == 2 and "[pools.plan]" in res.stderr


def test_quote_command(tmp_path: Path) -> None:
    d = tomllib.loads(TINY)
    team = tmp_path / "team.toml"
    team.write_text(
        '[[pools]]\nname = "bpo"\nskills = { q = 1.0 }\nmax_concurrency = 1\n'
        'hourly_cost = 20.0\n[[pools.shifts]]\nstart = "00:00"\nlength = "24h"\nagents = 8\n',
        encoding="utf-8",
    )
    assert d["targets"]
    res = CliRunner().invoke(
        main, ["quote", str(_tiny(tmp_path)), "--team", str(team), "-r", "3", "-w", "1", "--json"]
    )
    assert res.exit_code == 0, res.output + res.stderr
    q = json.loads(res.stdout)
    # 8 agents, 30-s replies: about 960 conversations an hour at most; the flat 600 a day
    # (25 an hour) is far below, so the team takes several times the forecast.
    assert q["demand_multiplier"] > 2.0
    assert q["price_per_conversation"] == pytest.approx(
        q["cost"] * 1.2 / q["conversations"], rel=1e-9
    )
    kept = [s for s in q["steps"] if s["multiplier"] <= q["demand_multiplier"]]
    assert all(s["p_all_met"] >= 0.95 for s in kept if s["multiplier"] == q["demand_multiplier"])
    bad = CliRunner().invoke(main, ["quote", str(_tiny(tmp_path)), "--team", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "cannot read" in bad.stderr


def test_erlang_command_matches_published_values() -> None:
    # pyworkforce: 100 calls / 30 min, AHT 3 min, SL 80% in 20 s -> 14 agents, SL 0.8884.
    res = CliRunner().invoke(main, ["erlang", "--rate", "200", "--aht", "3min", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["agents"] == 14
    assert data["service_level"] == pytest.approx(0.8884, abs=5e-5)
    assert data["p_wait"] == pytest.approx(0.1741, abs=5e-5)
    res = CliRunner().invoke(
        main,
        ["erlang", "--rate", "200", "--aht", "3min", "-n", "14", "--patience", "5min", "--json"],
    )
    assert json.loads(res.stdout)["p_abandon"] == pytest.approx(0.013984, abs=2e-6)
    res = CliRunner().invoke(main, ["erlang", "--rate", "200", "--aht", "3"])
    assert res.exit_code == 2 and "cannot read duration '3'" in res.stderr


def test_pool_minimum_per_day_is_kept(tmp_path: Path) -> None:
    # Demand needs ~2-3 agents; the contract says at least 7 start each day.
    text = TINY.replace('start_every = "4h"', 'start_every = "4h"\nmin_agents_per_day = 7')
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        main, ["plan", str(_tiny(tmp_path, text)), "--out", str(out), "-q", "-w", "1"]
    )
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert data["headcount_by_day"]["team"]["2026-11-10"] >= 7
    bad = TINY.replace(
        'start_every = "4h"', 'start_every = "4h"\nmin_agents_per_day = 9\nmax_agents_per_day = 8'
    )
    res = CliRunner().invoke(main, ["validate", str(_tiny(tmp_path, bad))])
    assert res.exit_code == 2 and "min_agents_per_day" in res.stderr
