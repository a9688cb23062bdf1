"""Robust plans: ``plan --margin`` and ``plan --quantile``.

* The quantile is the one the simulator's own day factors have: the sampler's
  Gamma factors (many local days) fall below the planned factor in a share ``q``,
  inside a 99.9% binomial interval.
* A margin plan is the scenario at ``1 + M`` times the demand: its verification
  runs hold that many conversations, it costs more than the plan for the
  forecast, ``planned.toml`` carries the planning demand with the basis as a
  comment, and simulating that file gives the plan's verification figures.
* Bad input exits 2 saying what is allowed.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from conftest import base_dict, loaded
from peakdesk.cli import main
from peakdesk.demand.sample import _day_factors, intensity
from peakdesk.experiment.replicate import simulate
from peakdesk.plan.robust import robust_scenario
from peakdesk.plan.search import VERIFY_OFFSET
from peakdesk.scenario.load import load_scenario
from test_cli_plan import TINY, _tiny
from test_plan_frontier import BUSIER


def test_the_quantile_is_the_samplers_own() -> None:
    d = base_dict()
    d["calendar"]["horizon"] = "366d"
    d["demand"]["daily_cv"] = 0.2
    ls = loaded(d)
    _, basis = robust_scenario(ls, quantile=0.9)
    assert basis.mode == "quantile" and basis.daily_cv == 0.0 and basis.forecast_daily_cv == 0.2
    inten = intensity(ls)
    step = int(86400 / inten.bin_s)
    per_day = np.concatenate(
        [_day_factors(ls.spec, inten, np.random.default_rng(s))[::step] for s in range(6)]
    )
    n = per_day.size
    assert n >= 2190
    below = int((per_day <= basis.factor).sum())
    lo, hi = stats.binom.ppf([0.0005, 0.9995], n, 0.9)
    assert lo <= below <= hi, (below, n)
    assert basis.multiplier == pytest.approx(basis.factor)


def test_a_margin_keeps_the_uncertainty() -> None:
    d = base_dict()
    d["demand"]["daily_cv"] = 0.1
    d["demand"]["multiplier"] = 2.0
    plan_ls, basis = robust_scenario(loaded(d), margin=0.25)
    assert plan_ls.spec.demand.multiplier == pytest.approx(2.5)
    assert plan_ls.spec.demand.daily_cv == 0.1
    assert "25% above the forecast" in basis.describe()


def _plan(tmp: Path, *args: str) -> tuple[dict[str, object], Path, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "plan"
    res = CliRunner().invoke(
        main, ["plan", str(_tiny(tmp, BUSIER)), "--out", str(out), "-q", "--holdout", "0", *args]
    )
    assert res.exit_code == 0, res.output + res.stderr
    return json.loads((out / "plan.json").read_text(encoding="utf-8")), out, res.stdout


def test_a_margin_plan_is_planned_verified_and_written_on_the_raised_demand(
    tmp_path: Path,
) -> None:
    plain, _, _ = _plan(tmp_path / "a")
    robust, out, stdout = _plan(tmp_path / "b", "--margin", "0.5", "--report")
    assert plain["demand_basis"] is None
    basis = robust["demand_basis"]
    assert isinstance(basis, dict) and basis["mode"] == "margin" and basis["factor"] == 1.5
    assert "planned for demand 50% above the forecast" in stdout
    # 6,000 conversations a day: the verification saw about 9,000.
    conv = robust["verification"]["summary"]["conversations"]["mean"]  # type: ignore[index]
    assert 8_800 <= conv <= 9_200
    assert robust["total_cost"] > plain["total_cost"]  # type: ignore[operator]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Robust plan:" in html and "50% above the forecast" in html
    assert "one more would save" in html  # the seats' shadow price
    planned = (out / "planned.toml").read_text(encoding="utf-8")
    assert "# planned for demand 50% above the forecast" in planned
    assert tomllib.loads(planned)["demand"]["multiplier"] == 1.5
    # Round trip: the planned file simulated on the verification's seeds gives the
    # verification's figures (the planning demand is in the file).
    n = robust["verification"]["replications"]  # type: ignore[index]
    again = simulate(
        load_scenario(out / "planned.toml"),
        seed=3,
        replications=int(n),
        first_replication=VERIFY_OFFSET,
        keep_logs=False,
    )
    assert again.estimates()["conversations"].mean == pytest.approx(conv, rel=1e-12)
    assert again.p_all_targets_met == robust["verification"]["p_all_targets_met"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "text", "message"),
    [
        (["--quantile", "0.9"], TINY, "demand.daily_cv is 0"),
        (["--quantile", "1.5"], TINY, "--quantile"),
        (["--margin", "-0.1"], TINY, "--margin"),
        (["--margin", "0.1", "--quantile", "0.9"], TINY, "not both"),
    ],
)
def test_bad_robust_flags_exit_2(tmp_path: Path, args: list[str], text: str, message: str) -> None:
    res = CliRunner().invoke(main, ["plan", str(_tiny(tmp_path, text)), "-q", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output + res.stderr
    assert "Traceback" not in res.output + res.stderr
