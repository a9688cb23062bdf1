"""The buyers' patience semantics read from a conversation table, and patience censored there.

A shop whose buyers wait (6,000 a day on 4 agents of three chats, patience 2
minutes) is simulated under each of the four semantics the engine knows:
patience until the first reply or until an agent takes the chat, a buyer who
left still answered (silent abandonment) or the chat withdrawn.  Calibrated
with the table's take times, each comes back as it was, and the exponential
patience mean, censored where that semantics stops it, holds the true 120 s in
its 99.9% interval.  Censoring at the first reply under ``assignment`` (what
the fit did before) puts the mean far above it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from conftest import calibrate_export, chat_shop, simulate_export
from peakdesk.calibrate import fit

PATIENCE_S = 120.0


def _covers(q: dict[str, Any], value: float) -> bool:
    z = stats.norm.ppf(0.9995) / stats.norm.ppf(0.975)
    return bool(abs(q["value"] - value) <= (q["high"] - q["low"]) / 2 * z)


def _calibrated(tmp: Path, until: str, answered: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    d = chat_shop(6000, 4)
    t = d["inquiry_types"][0]
    t["patience_until"] = until
    t["answer_after_abandon"] = answered
    run_dir = simulate_export(d, tmp, seed=8)
    return calibrate_export(run_dir, run_dir / "conversations-r0.csv", tmp / "fit")


@pytest.mark.parametrize("until", ["first_reply", "assignment"])
@pytest.mark.parametrize("answered", [True, False])
def test_each_semantics_comes_back_and_the_mean_with_it(
    tmp_path: Path, until: str, answered: bool
) -> None:
    report, scenario = _calibrated(tmp_path, until, answered)
    itype = scenario["inquiry_types"][0]
    assert itype["patience_until"] == until
    assert itype["answer_after_abandon"] is answered
    q = report["quantities"]
    assert _covers(q["patience_mean"], PATIENCE_S), q["patience_mean"]
    rule = q["left_after_take"]
    if until == "assignment":
        assert rule["value"] == 0 and rule["expected_if_first_reply"] >= fit.SEMANTICS_EXPECTED
    else:
        assert rule["value"] > 0


def test_censoring_at_the_reply_under_assignment_overstates_patience(tmp_path: Path) -> None:
    _calibrated(tmp_path, "assignment", True)
    with (tmp_path / "run" / "conversations-r0.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def col(name: str) -> Any:
        return [float(r[name]) if r[name] else float("nan") for r in rows]

    end = max(v for v in col("close_s") if v == v)
    naive = fit.patience(
        col("arrival_s"),
        col("first_human_reply_s"),
        [r["abandoned"] == "1" for r in rows],
        col("abandon_s"),
        end,
    )
    assert naive.exponential_mean is not None
    assert naive.exponential_mean.low > 1.2 * PATIENCE_S
