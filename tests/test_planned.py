"""A plan is a scenario: ``plan --out DIR`` writes ``DIR/planned.toml``.

* It is the input file with the plan's shifts and sub-accounts filled in
  (comments and every other value kept), and parses to the very scenario the
  planner verified.
* Round trip: simulating it on the verification's seeds gives the
  verification's figures, replication by replication, to the bit.
* ``simulate``, ``compare --set`` and ``plan`` take it as it is; a forecast
  named relative to the input file is still found from the run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from peakdesk.cli import main
from peakdesk.experiment.replicate import simulate
from peakdesk.plan.planned import planned_scenario, planned_toml
from peakdesk.plan.search import VERIFY_OFFSET, search
from peakdesk.scenario import load_scenario
from test_cli_plan import TINY

FORECAST = "interval_start,conversations\n" + "".join(
    f"2026-11-10T{h:02d}:00:00,{25 + 10 * (8 <= h < 20)}\n" for h in range(24)
)


@pytest.fixture(scope="module")
def planned_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny scenario (demand from a forecast file beside it) planned into a run dir."""
    src = tmp_path_factory.mktemp("input")
    (src / "forecast.csv").write_text(FORECAST, encoding="utf-8")
    text = TINY.replace(
        'profile = "flat"\nvolume_per_day = 600', 'profile = "csv"\nforecast = "forecast.csv"'
    ).replace("[[pools]]", "# the team of the shop (this comment is kept)\n[[pools]]")
    scenario = src / "tiny.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("runs") / "plan"
    res = CliRunner().invoke(main, ["plan", str(scenario), "-q", "-w", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output + res.stderr
    return scenario, out


def test_planned_toml_is_the_input_with_the_plan_filled_in(planned_run: tuple[Path, Path]) -> None:
    scenario, out = planned_run
    text = (out / "planned.toml").read_text(encoding="utf-8")
    assert "this comment is kept" in text
    planned = load_scenario(out / "planned.toml")  # validates; the forecast is found
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert planned.spec.subaccounts.count == plan["subaccounts"]
    shifts = planned.spec.pools[0].shifts
    assert sum(s.agents for s in shifts) == sum(r["agents"] for r in plan["shifts"])
    assert all(s.days is not None and len(s.days) == 1 for s in shifts)
    # The same buyers as the input: the demand is the input's forecast.
    original = load_scenario(scenario)
    assert planned.spec.demand == original.spec.demand.model_copy(
        update={"forecast": planned.spec.demand.forecast}
    )
    found = planned.resolve(planned.spec.demand.forecast or "").resolve()
    assert found == (scenario.parent / "forecast.csv").resolve()


def test_simulating_the_plan_gives_the_verification_to_the_bit(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    loaded = load_scenario(path)
    plan = search(loaded, workers=1)
    assert plan.verification is not None
    doc = planned_toml(TINY, loaded.spec, plan.patterns, plan.counts, plan.subaccounts)
    (tmp_path / "planned.toml").write_text(doc, encoding="utf-8")
    planned = load_scenario(tmp_path / "planned.toml")
    assert planned.spec == planned_scenario(
        loaded.spec, plan.patterns, plan.counts, plan.subaccounts
    )
    n = len(plan.verification.replications)
    again = simulate(
        planned,
        seed=loaded.spec.simulation.seed,
        replications=n,
        first_replication=VERIFY_OFFSET,
        keep_logs=False,
    )
    for a, b in zip(plan.verification.replications, again.replications, strict=True):
        assert a.replication == b.replication
        assert a.summary == b.summary
        np.testing.assert_array_equal(a.intervals.backlog, b.intervals.backlog)
        assert [t.worst for t in a.targets] == [t.worst for t in b.targets]


def test_the_plan_simulates_compares_and_plans_as_it_is(planned_run: tuple[Path, Path]) -> None:
    _, out = planned_run
    planned = str(out / "planned.toml")
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", planned, "-r", "2", "-w", "1", "--json"])
    assert res.exit_code == 0, res.output + res.stderr
    res = runner.invoke(
        main, ["compare", planned, "--set", "demand.multiplier=1.0,1.2", "-r", "2", "-w", "1"]
    )
    assert res.exit_code == 0, res.output + res.stderr
    assert "demand.multiplier=1.2" in res.stdout
    res = runner.invoke(main, ["plan", planned, "-q", "-w", "1", "--json"])
    assert res.exit_code in (0, 1), res.output + res.stderr
