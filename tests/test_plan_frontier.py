"""``plan --frontier``: cost against required confidence and against chats per agent.

Checked on the tiny scenario of the command-line tests: the frontier read off
the scan is recomputed from ``frontier.csv`` by hand (the cheapest scanned plan
that ``plan`` would accept at each level: its one-sided 95% Clopper-Pearson lower
bound, from the beta distribution here, reaches the level; a plan with a share
above a level but a bound below it does not count), its cost never falls as the
level rises, plans got more runs where a level was undecided, the cover's cost
never falls as the requirement scale rises, the scan's seeds are its own, and bad
lists exit 2 saying what is allowed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scipy import stats

from peakdesk.cli import main
from peakdesk.plan.frontier import FRONTIER_OFFSET
from test_cli_plan import TINY, _tiny

#: The tiny scenario at ten times the demand (about 3 agents online), where a scale
#: of the requirement moves the share of runs keeping the target.
BUSIER = TINY.replace("volume_per_day = 600", "volume_per_day = 6000").replace(
    "service_level(60s) >= 0.7", "service_level(60s) >= 0.75"
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("frontier")
    out = tmp / "plan"
    res = CliRunner().invoke(
        main,
        [
            "plan",
            str(_tiny(tmp, BUSIER)),
            "--out",
            str(out),
            "--report",
            "-q",
            "--holdout",
            "0",
            "--frontier",
            "--frontier-runs",
            "20",
            "--frontier-chats",
            "1,2",
            "--frontier-levels",
            "0.5,0.8,0.9,0.95",
        ],
    )
    assert res.exit_code == 0, res.output + res.stderr
    with (out / "frontier.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))["frontier"]
    return {"out": out, "rows": rows, "doc": doc, "stdout": res.stdout}


def _lower(met: int, runs: int) -> float:
    """One-sided 95% Clopper-Pearson lower bound on P(all met), from the beta law."""
    return 0.0 if met == 0 else float(stats.beta.ppf(0.05, met, runs - met + 1))


def test_the_frontier_is_the_cheapest_scanned_plan_at_each_level(scanned: dict[str, Any]) -> None:
    rows = [r for r in scanned["rows"] if r["chats"] == ""]
    assert len(rows) >= 2
    doc = scanned["doc"]
    assert doc["runs_per_plan"] == 20 and doc["first_replication"] == FRONTIER_OFFSET
    for r in rows:
        assert float(r["lower_bound"]) == pytest.approx(_lower(int(r["met"]), int(r["runs"])))
    costs = []
    share_only = 0
    for entry in doc["confidence"]:
        level = entry["level"]
        ok = [r for r in rows if int(r["runs"]) and _lower(int(r["met"]), int(r["runs"])) >= level]
        share_only += sum(
            1 for r in rows if int(r["met"]) / int(r["runs"]) >= level and r not in ok
        )
        if not ok:
            assert entry["plan"] is None
            continue
        best = min(ok, key=lambda r: (float(r["cost"]), float(r["scale"])))
        assert entry["plan"]["cost"] == pytest.approx(float(best["cost"]))
        assert entry["plan"]["lower_bound"] >= level
        costs.append(entry["plan"]["cost"])
    assert costs, "no level reached: the test checks nothing"
    assert share_only, "no plan with a share above a level and a bound below it: unchecked"
    # Monotone where it must be: a higher required confidence never costs less.
    assert costs == sorted(costs)
    # A plan undecided at some level got more runs than the first batch.
    assert any(int(r["runs"]) > 20 for r in rows)


def test_cover_cost_rises_with_the_requirement_scale(scanned: dict[str, Any]) -> None:
    for chats in ("", "1", "2"):
        rows = [r for r in scanned["rows"] if r["chats"] == chats]
        assert rows, chats
        scales = [float(r["scale"]) for r in rows]
        assert scales == sorted(scales)
        cost = [float(r["cost"]) for r in rows]
        assert cost == sorted(cost), (chats, cost)


def test_chats_table_and_outputs(scanned: dict[str, Any]) -> None:
    doc = scanned["doc"]
    assert [c["chats"] for c in doc["chats"]] == [1, 2]
    for entry in doc["chats"]:
        rows = [r for r in scanned["rows"] if r["chats"] == str(entry["chats"])]
        ok = [r for r in rows if _lower(int(r["met"]), int(r["runs"])) >= doc["required"]]
        if not ok:
            assert entry["plan"] is None
            continue
        best = min(ok, key=lambda r: (float(r["cost"]), float(r["scale"])))
        assert entry["plan"]["cost"] == pytest.approx(float(best["cost"]))
        assert entry["plan"]["subaccounts"] == int(best["subaccounts"])
    # The tiny pool holds one chat: the table's 1-chat scan is the scenario's own scan,
    # run for run (same requirement, same seeds).
    mine = [r for r in scanned["rows"] if r["chats"] == ""]
    one = [r for r in scanned["rows"] if r["chats"] == "1"]
    assert [{**r, "chats": ""} for r in one] == mine
    assert "cost against required confidence" in scanned["stdout"]
    assert (scanned["out"] / "plan-frontier.png").is_file()
    html = (scanned["out"] / "report.html").read_text(encoding="utf-8")
    assert "<h2>Trade-offs</h2>" in html and "Cost against required confidence" in html
    assert 'id="fig-plan-frontier"' in html


def test_the_walk_goes_both_ways_from_scale_1(scanned: dict[str, Any]) -> None:
    """Down while the plans still reach the lowest level's share; up until one is
    accepted at the highest level (0.95 here: 59 runs, within the 120-run cap)."""
    bottom, top = 0.5, 0.95
    for chats in ("", "1", "2"):
        rows = sorted(
            (r for r in scanned["rows"] if r["chats"] == chats), key=lambda r: float(r["scale"])
        )
        first = next(r for r in rows if float(r["scale"]) == 1.0)
        if first["cover_status"] not in ("optimal", "time_limit"):
            continue
        low_end, high_end = rows[0], rows[-1]
        if _lower(int(first["met"]), int(first["runs"])) >= bottom:
            assert float(low_end["scale"]) < 1.0, chats
            assert (
                int(low_end["met"]) / int(low_end["runs"]) < bottom
                or float(low_end["scale"]) < 0.3 + 0.05 + 1e-9
            ), chats
        else:
            assert float(low_end["scale"]) == 1.0, chats
        if _lower(int(first["met"]), int(first["runs"])) < top:
            assert float(high_end["scale"]) > 1.0, chats
            assert (
                high_end["cover_status"] not in ("optimal", "time_limit")
                or _lower(int(high_end["met"]), int(high_end["runs"])) >= top
                or float(high_end["scale"]) > 2.0 - 0.05 - 1e-9
            ), chats
        else:
            assert float(high_end["scale"]) == 1.0, chats


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--frontier-levels", "0.9,1.2"], "each in (0, 1)"),
        (["--frontier-levels", "ninety"], "each in (0, 1)"),
        (["--frontier-chats", "2,x"], "whole numbers 1..50"),
        (["--frontier-chats", "0"], "whole numbers 1..50"),
    ],
)
def test_bad_frontier_lists_exit_2(tmp_path: Path, args: list[str], allowed: str) -> None:
    res = CliRunner().invoke(main, ["plan", str(_tiny(tmp_path)), "--frontier", *args])
    assert res.exit_code == 2
    assert allowed in res.output + res.stderr
    assert "Traceback" not in res.output + res.stderr


def test_a_frontier_needs_targets(tmp_path: Path) -> None:
    text = TINY.replace('[targets]\nrequire = ["service_level(60s) >= 0.7"]\n', "")
    res = CliRunner().invoke(main, ["plan", str(_tiny(tmp_path, text)), "--frontier", "-q"])
    assert res.exit_code == 2
    assert "--frontier needs targets" in res.output + res.stderr


def test_the_plans_refinement_is_the_frontiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plan --frontier`` hands the plan's refined requirement to the scan: the scan
    is the one the frontier gets by refining itself, and refines nothing more."""
    import numpy as np

    from peakdesk.plan import frontier as frontier_mod
    from peakdesk.plan.search import search
    from peakdesk.scenario import load_scenario

    loaded = load_scenario(_tiny(tmp_path, BUSIER))
    plan = search(loaded, workers=1, holdout=0)
    assert plan.refined is not None and plan.refined.shape == plan.requirement.shape
    kw: dict[str, Any] = {"chats": (), "runs": 6, "levels": (0.5, 0.8)}
    own = frontier_mod.frontier(loaded, **kw)

    def no_refinement(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the frontier refined again")

    monkeypatch.setattr(frontier_mod, "refine", no_refinement)
    reused = frontier_mod.frontier(loaded, refined=plan.refined, **kw)
    assert reused == own and len(own.points) >= 2
    # A level no plan can be shown to reach within plan.verify_cap runs (0.999 at a 95%
    # bound needs 2,995) is said once, reached by nothing, and changes nothing else.
    lines: list[str] = []
    more = {**kw, "levels": (0.5, 0.8, 0.999)}
    beyond = frontier_mod.frontier(loaded, refined=plan.refined, progress=lines.append, **more)
    assert beyond.points == own.points
    assert beyond.levels[:2] == own.levels and beyond.levels[2] == (0.999, None)
    assert sum("99.9% needs 2995 runs" in line for line in lines) == 1
    with pytest.raises(ValueError, match="one value per planning interval"):
        frontier_mod.frontier(loaded, refined=np.zeros(3, dtype=np.int64), **kw)


def test_the_walk_goes_down_and_up_when_scale_1_reaches_some_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scale 1 accepted at 0.5 and rejected at 0.95: the scan walks down for cheaper
    plans at 0.5 and up for a plan at 0.95.  The runs are scored by a stand-in that
    reads the staffing: 90% of runs keep every target at scale 1's agents, 40% with
    fewer, all with more."""
    import numpy as np

    from peakdesk.plan import frontier as frontier_mod
    from peakdesk.scenario import load_scenario

    loaded = load_scenario(_tiny(tmp_path, BUSIER))
    first: list[int] = []

    def scored(_inputs: Any, cfg: Any, _seed: int, runs: int, *_a: Any) -> tuple[int, int]:
        first.append(cfg.n_agents) if not first else None
        return cfg.n_agents, runs

    def met(result: tuple[int, int]) -> int:
        agents, runs = result
        share = 0.9 if agents == first[0] else (0.4 if agents < first[0] else 1.0)
        return int(share * runs)

    monkeypatch.setattr(frontier_mod, "score_plan", scored)
    monkeypatch.setattr(frontier_mod, "runs_met", met)
    refined = np.full(_intervals(loaded), 4, dtype=np.int64)
    front = frontier_mod.frontier(loaded, refined=refined, chats=(), runs=20, levels=(0.5, 0.95))
    points = front.points
    one = next(p for p in points if p.scale == 1.0)
    # Runs were added until both levels were decided for it (the upper bound below 0.95).
    assert one.p_all_met == 0.9 and 0.5 <= one.lower < 0.95 and one.runs > 20
    low, high = points[0], points[-1]
    assert low.scale < 1.0 and low.p_all_met == 0.4  # down until below 0.5's share
    assert all(p.p_all_met == 0.9 for p in points if low.scale < p.scale <= 1.0)
    assert high.scale > 1.0 and high.lower >= 0.95  # up until accepted
    assert all(p.lower < 0.95 for p in points[:-1])
    levels = dict(front.levels)
    assert levels[0.95] == high
    cheapest_half = min((p for p in points if p.p_all_met == 0.9), key=lambda p: p.cost)
    assert levels[0.5] is not None and levels[0.5].cost == cheapest_half.cost


def _intervals(loaded: Any) -> int:
    """Planning intervals of a scenario."""
    from peakdesk.plan.inputs import PlanningInputs

    return int(PlanningInputs.of(loaded).grid.n)
