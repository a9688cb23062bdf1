"""Trimming: an accepted plan's requirement is scaled down while the smaller plan is accepted.

On the busier tiny scenario the first accepted round overshoots (the refinement
staffs every interval to ``alpha``): trimming must end cheaper, with every kept
round accepted on the bound, the round that ended it not accepted (or not
cheaper), the held-out check passing on seeds none of them saw, and
``trim_step = 0`` giving the untrimmed plan.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from conftest import loaded
from peakdesk.plan.search import Plan, search
from test_plan_frontier import BUSIER


def _dict(**plan: Any) -> dict[str, Any]:
    d = tomllib.loads(BUSIER)
    d["plan"].update(plan)
    return d


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {
        "trimmed": search(loaded(_dict())),
        "untrimmed": search(loaded(_dict(trim_step=0.0))),
    }


def test_trimming_ends_cheaper_and_still_shown(plans: dict[str, Plan]) -> None:
    plan = plans["trimmed"]
    assert plan.status == "ok", plan.message
    first = plan.rounds[0]
    assert first.scale == 1.0 and first.decision == "accept"
    trims = [r for r in plan.rounds if r.scale < 1.0]
    assert trims, "nothing trimmed: the test checks nothing"
    # Each kept trim is accepted on the bound and cheaper than the round before it.
    for before, after in zip(plan.rounds, plan.rounds[1:], strict=False):
        assert after.decision == "accept"
        assert after.lower >= 0.95 - 1e-12
        assert after.cost < before.cost
        assert after.scale < before.scale or before.scale == 1.0
    assert plan.total_cost == pytest.approx(plan.rounds[-1].cost)
    bad = plan.rejected_trim
    assert bad is not None and (bad.decision != "accept" or bad.cost >= plan.total_cost)
    assert bad.scale < plan.rounds[-1].scale
    assert plan.held_out is not None and plan.held_out.passed
    assert plan.held_out.first_replication == 1_000_000


def test_no_trimming_keeps_the_first_accepted_plan(plans: dict[str, Plan]) -> None:
    plain, trimmed = plans["untrimmed"], plans["trimmed"]
    assert plain.status == "ok"
    assert [r.scale for r in plain.rounds] == [1.0] and plain.rejected_trim is None
    # The same first round (same seeds), and trimming only ever lowers the cost.
    assert plain.rounds[0].cost == trimmed.rounds[0].cost
    assert trimmed.total_cost < plain.total_cost
