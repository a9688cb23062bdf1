"""The HTML report, the run directory it is read from, and the report in a real browser."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main
from peakdesk.experiment.replicate import simulate
from peakdesk.report.figures import FIGURES, draw_figures
from peakdesk.report.html import render
from peakdesk.report.rundata import RunData, RunDirError, write_run_dir
from peakdesk.scenario import load_scenario

SMALL_SHOP = SCENARIOS / "small-shop.toml"
ROOT = Path(__file__).resolve().parents[1]

PLANNABLE = """
[scenario]
name = "tiny <plan> & co"
currency = "CNY"

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
compose_time = { dist = "exponential", mean = "30s" }
patience = { dist = "exponential", mean = "5min" }
conversion = { base = 0.3, half_life = "2min" }

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


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    res = CliRunner().invoke(
        main,
        ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--out", str(out), "--report"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("plan")
    scen = base / "tiny.toml"
    scen.write_text(PLANNABLE, encoding="utf-8")
    out = base / "run"
    res = CliRunner().invoke(
        main, ["plan", str(scen), "-q", "-w", "1", "--out", str(out), "--report"]
    )
    assert res.exit_code in (0, 1), res.output  # 1: a target missed, still a plan
    return out


def _images(text: str) -> list[bytes]:
    srcs = re.findall(r'<img src="([^"]+)"', text)
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        out.append(base64.b64decode(src.split(",", 1)[1]))
    return out


def test_run_dir_reads_back_what_memory_holds(tmp_path: Path) -> None:
    loaded = load_scenario(SMALL_SHOP)
    ev = simulate(loaded, replications=2, keep_logs=1)
    write_run_dir(tmp_path, loaded, ev)
    mem = RunData.from_evaluation(loaded, ev)
    disk = RunData.from_dir(tmp_path)
    assert mem.summary == disk.summary
    assert set(mem.intervals) == set(disk.intervals)
    for k, v in mem.intervals.items():
        # CSV keeps 10 significant digits
        np.testing.assert_allclose(disk.intervals[k], v, rtol=1e-9, equal_nan=True)
    assert disk.scenario_text == SMALL_SHOP.read_text(encoding="utf-8")
    assert disk.agents and disk.pools
    # the same figures either way
    a, b = draw_figures(mem), draw_figures(disk)
    assert set(a) == set(b)
    plt.close("all")


def test_simulate_report_is_self_contained(sim_dir: Path) -> None:
    text = (sim_dir / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # nothing fetched from elsewhere: no external script, style sheet or image
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script" not in text
    images = _images(text)
    assert len(images) >= 4
    assert all(img[:8] == b"\x89PNG\r\n\x1a\n" and len(img) > 5_000 for img in images)
    summary = json.loads((sim_dir / "summary.json").read_text(encoding="utf-8"))
    conv = summary["summary"]["conversations"]["mean"]
    assert f"{conv:,.0f}" in text  # the headline figure, as computed
    assert "Assumptions" in text and "Scenario as run" in text
    # the scenario as run, escaped into the page
    first_line = SMALL_SHOP.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.replace('"', "&quot;").replace("<", "&lt;") in text
    # the figures written beside it, too
    for name in ("demand-capacity", "backlog", "first-response", "subaccounts"):
        assert (sim_dir / f"{name}.png").is_file() and (sim_dir / f"{name}.svg").is_file()


def test_report_command_rebuilds_the_same_report(sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.html"
    res = _invoke("report", str(sim_dir), "-o", str(out))
    assert res.exit_code == 0  # type: ignore[attr-defined]
    assert out.read_text(encoding="utf-8") == (sim_dir / "report.html").read_text(encoding="utf-8")


def test_report_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert "summary.json" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "summary.json").write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not readable" in res.stderr
    with pytest.raises(RunDirError, match="not a directory"):
        RunData.from_dir(tmp_path / "missing")


def test_report_flags_need_out() -> None:
    res = CliRunner().invoke(main, ["simulate", str(SMALL_SHOP), "--report"])
    assert res.exit_code == 2 and "--out" in res.stderr


def test_plan_report_shows_the_plan(plan_dir: Path) -> None:
    text = (plan_dir / "report.html").read_text(encoding="utf-8")
    plan = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    assert "The plan and what it costs" in text
    assert f"{plan['total_cost']:,.0f}" in text
    # the scenario name is escaped, not markup
    assert "tiny &lt;plan&gt; &amp; co" in text and "tiny <plan>" not in text
    run = RunData.from_dir(plan_dir)
    assert run.plan is not None and run.summary["staffing"] == "plan"
    figs = draw_figures(run)
    plt.close("all")
    assert {"plan-pools", "plan-shifts", "targets", "conversions-lost"} <= set(figs)
    assert len(_images(text)) == len(figs)
    # the shifts drawn are the shifts planned
    assert sum(r["agents"] for r in run.plan.shifts) == sum(r["agents"] for r in plan["shifts"])
    # P(met) shown is the verification's
    for t in plan["verification"]["targets"]:
        assert f"{t['p_met']:.0%}" in text
    # the guarantee a manager signs: the held-out figure, and the bound accepted on
    assert plan["held_out"]["text"] in text and "on seeds the search never used" in text
    assert f"{plan['guarantee']['lower_bound']:.3f}" in text


def test_every_figure_has_a_caption() -> None:
    from peakdesk.report.figures import CAPTIONS

    assert set(CAPTIONS) == set(FIGURES)


def _browser_tool() -> object:
    spec = importlib.util.spec_from_file_location(
        "check_report_in_browser", ROOT / "tools" / "check_report_in_browser.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_reports_load_in_headless_chromium(sim_dir: Path, plan_dir: Path, tmp_path: Path) -> None:
    """Both reports open in a real browser with every image and no error."""
    tool = _browser_tool()
    if tool.chromium_path() is None:  # type: ignore[attr-defined]
        pytest.skip("needs Debian's chromium on PATH (apt-get install chromium); not installed")
    pytest.importorskip("playwright", reason="needs the playwright driver (pip install playwright)")
    for run in (sim_dir, plan_dir):
        # Screenshots go to this test's own folder: the shared run folders stay as written.
        shots = tmp_path / run.name / "screenshots"
        res = tool.check_report(run / "report.html", shots)  # type: ignore[attr-defined]
        assert res.ok, (res.broken_images, res.console_errors, res.page_errors)
        assert res.images == len(_images((run / "report.html").read_text(encoding="utf-8")))
        assert "Targets: how sure we are" in res.headings
        assert all(p.stat().st_size > 10_000 for p in res.screenshots)


def test_render_without_targets_or_plan_says_so() -> None:
    loaded = load_scenario(SMALL_SHOP)
    ev = simulate(loaded, replications=1, keep_logs=0)
    text = render(RunData.from_evaluation(loaded, ev))
    assert "The scenario sets no marketplace targets" in text
    assert "n/a (one run)" in text  # one replication: no interval, said plainly


def test_a_new_run_replaces_every_file_of_the_old_one(plan_dir: Path, tmp_path: Path) -> None:
    """Simulating into a plan's folder leaves no plan behind to be shown as this run's."""
    import shutil

    out = tmp_path / "reused"
    shutil.copytree(plan_dir, out)
    # A folder of the user's own (the browser check writes "screenshots" here): made by
    # this test, so it does not depend on which other tests ran or on chromium.
    (out / "screenshots").mkdir(exist_ok=True)
    (out / "screenshots" / "desk.png").write_bytes(b"not ours")
    res = CliRunner().invoke(
        main, ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--out", str(out), "--report"]
    )
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    assert not names & {"plan.json", "shifts.csv", "online.csv", "plan-shifts.png"}
    run = RunData.from_dir(out)
    assert run.plan is None and run.scenario == "small-shop"
    assert "Staffing plan" not in (out / "report.html").read_text(encoding="utf-8")
    assert "screenshots" in names  # not ours: left alone
    assert (out / "screenshots" / "desk.png").read_bytes() == b"not ours"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: (d / "intervals.csv").write_text("replication,arrivals\n", "utf-8"),
            "no column",
        ),
        (
            lambda d: (d / "intervals.csv").write_bytes((d / "intervals.csv").read_bytes()[:3000]),
            "cut short",
        ),
        (lambda d: _edit_summary(d, seed=None), "'seed'"),
        (lambda d: _edit_summary(d, replications=5), "summary says 5"),
        (lambda d: _edit_summary(d, staffing="plan"), "plan.json is missing"),
    ],
)
def test_report_of_a_damaged_run_dir_exits_2(
    sim_dir: Path, tmp_path: Path, damage: object, message: str
) -> None:
    import shutil

    d = tmp_path / "damaged"
    shutil.copytree(sim_dir, d)
    damage(d)  # type: ignore[operator]
    res = CliRunner().invoke(main, ["report", str(d)])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.stderr


def _edit_summary(d: Path, **changes: object) -> None:
    p = d / "summary.json"
    doc = json.loads(p.read_text(encoding="utf-8"))
    doc.update(changes)
    p.write_text(json.dumps(doc), encoding="utf-8")


def test_report_to_a_place_that_cannot_be_written(sim_dir: Path) -> None:
    res = CliRunner().invoke(
        main, ["report", str(sim_dir), "-o", str(sim_dir / "summary.json" / "x.html")]
    )
    assert res.exit_code == 2 and "cannot write" in res.stderr


def test_figure_text_with_dollars_is_not_mathematics() -> None:
    from peakdesk.report.figures import plain

    assert plain("Sale: $5 off, $10 off") == r"Sale: \$5 off, \$10 off"
    fig = plt.figure()
    fig.suptitle(plain("a $x^$ b"))
    import io

    fig.savefig(io.BytesIO(), format="png")  # would raise a math parse error unescaped
    plt.close(fig)


def test_figure_times_follow_daylight_saving() -> None:
    from peakdesk.report.figures import _times

    run = RunData(
        summary={
            "scenario": "s",
            "seed": 1,
            "replications": 1,
            "start": "2026-10-31T00:00:00-04:00",
            "timezone": "America/New_York",
            "interval_s": 3600.0,
        },
        intervals={},
    )
    import matplotlib.dates as mdates

    t = mdates.num2date(_times(run, 49))
    # 48 h after midnight EDT is 23:00 EST on 1 Nov (the clocks went back an hour)
    assert (t[48].day, t[48].hour) == (1, 23)


def test_infeasible_plan_says_there_is_no_report(tmp_path: Path) -> None:
    scen = tmp_path / "tight.toml"
    scen.write_text(
        PLANNABLE.replace('start_every = "4h"', 'start_every = "4h"\nmax_agents_per_day = 0'),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    res = CliRunner().invoke(
        main, ["plan", str(scen), "-q", "-w", "1", "--out", str(out), "--report"]
    )
    assert res.exit_code == 1, res.output
    assert "infeasible" in res.stderr and "no figures or report" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["plan.json"]
    assert "wrote 1 file to" in res.output


def test_a_plan_in_memory_reports_as_its_run_directory(plan_dir: Path) -> None:
    """Notebook route: search() then render(), without files; the same plan as --out."""
    from peakdesk.plan.search import search
    from peakdesk.report.rundata import PlanData

    loaded = load_scenario(plan_dir.parent / "tiny.toml")
    plan = search(loaded, workers=1)
    assert plan.verification is not None
    mem = RunData.from_evaluation(loaded, plan.verification, PlanData.from_plan(loaded, plan))
    disk = RunData.from_dir(plan_dir)
    assert mem.plan is not None and disk.plan is not None
    assert mem.plan.shifts == disk.plan.shifts
    assert mem.plan.pools == disk.plan.pools == ["team"]
    np.testing.assert_array_equal(mem.plan.online["online_team"], disk.plan.online["online_team"])
    text = render(mem)
    assert "The plan and what it costs" in text
    plt.close("all")
