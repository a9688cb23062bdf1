"""Sub-accounts as a decision of the cover: priced, capped, tied to the peak online.

The instance worked by hand (three intervals, requirement 1 in each):

* ``long`` covers all three, costs 3;
* ``a`` covers intervals 0-1 and ``b`` intervals 1-2, each costs 1.4.

``a + b`` costs 2.8 of labour but both are online in interval 1 (2 seats);
``long`` costs 3 with 1 seat.  With ``s`` seats, ``1 <= s <= 2``, the LP
relaxation mixes them, ``long = 2 - s``, ``a = b = s - 1``, so the least labour is
``L(s) = 3 - 0.2 (s - 1)``: one more seat saves 0.2 at ``s = 1``, and nothing at
``s = 2`` (the unconstrained optimum).  Priced at ``c`` per seat, the cover buys
one seat (``long``) when ``c > 0.2`` and two (``a + b``) when ``c < 0.2``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pytest

from conftest import base_dict, loaded
from peakdesk.engine.setup import seat_cost
from peakdesk.plan.cover import CoverProblem, seat_price, solve_cover
from peakdesk.plan.inputs import PlanningInputs
from peakdesk.plan.patterns import cover_problem, patterns

#       long a  b
_PRESENCE = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 1.0]])


def _hand(seat_cost: float = 0.0, cap: float = np.inf) -> CoverProblem:
    return CoverProblem(
        cost=np.array([3.0, 1.4, 1.4]),
        lower=np.zeros(3),
        upper=np.full(3, np.inf),
        cover=_PRESENCE[None],
        requirement=np.ones((1, 3)),
        group_names=("all",),
        presence=_PRESENCE,
        subaccount_cap=cap,
        seat_cost=seat_cost,
    )


@pytest.mark.parametrize(
    ("price", "plan", "seats"), [(0.0, [0, 1, 1], 2), (0.1, [0, 1, 1], 2), (0.3, [1, 0, 0], 1)]
)
def test_priced_seats_trade_against_labour(price: float, plan: list[int], seats: int) -> None:
    sol = solve_cover(_hand(price), mip_rel_gap=0.0)
    assert sol.status == "optimal"
    assert sol.x.tolist() == plan and sol.seats == seats
    assert sol.cost == pytest.approx(float(np.dot([3.0, 1.4, 1.4], plan)))  # labour alone


def test_the_cap_is_a_bound_on_the_seats() -> None:
    sol = solve_cover(_hand(0.0, cap=1.0), mip_rel_gap=0.0)
    assert sol.x.tolist() == [1, 0, 0] and sol.seats == 1
    price = seat_price(_hand(0.0, cap=1.0), sol)
    assert price is not None and price.cap_binds
    # What the cap costs: one more seat would save 0.2 of labour (the hand LP).
    assert price.shadow_price == pytest.approx(0.2)
    assert "the platform cap of 1 binds" in price.describe()


@pytest.mark.parametrize(("price", "shadow"), [(0.3, 0.2), (0.1, 0.0), (0.0, 0.0)])
def test_shadow_price_is_the_hand_lp_slope(price: float, shadow: float) -> None:
    pb = _hand(price)
    sp_ = seat_price(pb, solve_cover(pb, mip_rel_gap=0.0))
    assert sp_ is not None and not sp_.cap_binds
    assert sp_.shadow_price == pytest.approx(shadow, abs=1e-9)
    # At the priced optimum a seat saves at most its price.
    assert sp_.shadow_price <= price + 1e-9


def _staggered() -> dict[str, Any]:
    d = base_dict()
    d["calendar"]["horizon"] = "1d"
    d["calendar"]["interval"] = "1h"
    d["calendar"]["start"] = dt.datetime(2026, 11, 11, 0, 0)
    d["demand"] = {"profile": "double11", "volume_per_day": 2000}
    plan = {"lengths": ["4h", "8h"], "start_every": "1h"}
    # Per reference agent a temp is cheaper (5 an hour against 12 / 2) but takes two
    # seats where a senior (twice as fast) takes one: the seats' price decides.
    d["pools"] = [
        {"name": "senior", "skills": {"q": 1.0}, "speed": 2.0, "hourly_cost": 12.0, "plan": plan},
        {"name": "temp", "skills": {"q": 1.0}, "hourly_cost": 5.0, "plan": plan},
    ]
    d["subaccounts"] = {"count": 100, "monthly_cost": 3000.0}
    return d


def test_a_priced_plan_is_never_dearer_in_labour_and_seats() -> None:
    ls = loaded(_staggered())
    inputs = PlanningInputs.of(ls)
    price = seat_cost(ls.spec)
    assert price == pytest.approx(100.0)  # 3,000 a month over one day of a 30-day month
    req = np.maximum(np.round(inputs.work.rate_per_s * inputs.work.hold_s * 1.2), 1)
    pb = cover_problem(inputs, req.astype(np.int64), patterns(ls.spec))
    assert pb.seat_cost == pytest.approx(price)
    priced = solve_cover(pb, mip_rel_gap=0.0)
    free = solve_cover(dataclasses.replace(pb, seat_cost=0.0), mip_rel_gap=0.0)
    assert priced.seats is not None and free.seats is not None
    assert priced.seats < free.seats  # fewer, faster agents
    assert priced.cost + price * priced.seats <= free.cost + price * free.seats + 1e-6
    # The seats are the plan's peak online, rounded up.
    peak = float((pb.presence @ priced.x.astype(float)).max())
    assert priced.seats == int(np.ceil(peak - 1e-6))


def _client_cap(cap: float, cover_b: float = 1.0) -> CoverProblem:
    # One interval needing 10; pool A's pattern costs 1, pool B's 2; a client whose shop
    # gives `cap` sub-accounts is served by A alone (so only A's agents count against it).
    return CoverProblem(
        cost=np.array([1.0, 2.0]),
        lower=np.zeros(2),
        upper=np.full(2, np.inf),
        cover=np.array([[[1.0, cover_b]]]),
        requirement=np.array([[10.0]]),
        group_names=("all",),
        presence=np.array([[1.0, 1.0]]),
        subaccount_cap=np.inf,
        seat_groups=(("client 'tb'", np.array([True, False]), cap),),
    )


def test_a_client_seat_limit_caps_the_pools_serving_it() -> None:
    # By hand: A is cheaper, so it takes as many as the client's seats allow (4), and B
    # the other 6: cost 4 x 1 + 6 x 2 = 16.  Without the limit: 10 of A, cost 10.
    sol = solve_cover(_client_cap(4.0), mip_rel_gap=0.0)
    assert sol.status == "optimal" and sol.x.tolist() == [4, 6]
    assert sol.cost == pytest.approx(16.0)
    free = solve_cover(_client_cap(np.inf), mip_rel_gap=0.0)
    assert free.x.tolist() == [10, 0]
    # Only A can do the work: the limit makes the cover infeasible, and says whose.
    stuck = solve_cover(_client_cap(4.0, cover_b=0.0), mip_rel_gap=0.0)
    assert stuck.status == "infeasible"
    text = " ".join(
        d.describe(lambda k: f"interval {k}", lambda p: f"pool {p}", str) for d in stuck.diagnosis
    )
    assert "the seat limit of client 'tb' 4 is below the 10 agents needed online" in text
