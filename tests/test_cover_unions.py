"""A pool that can take several restricted type sets counts once for their union.

Hall's condition for the agents' time: the pools able to take any type of a set
of type groups must together cover the set's need.  A row per group alone let
a multi-skilled agent count in full in every group it serves (a centre's flex
pool serving three clients counted three times), so the cover bought too few
dedicated agents and the verification had to raise the plan round by round.

The instance: types ``a`` and ``b`` with half the work each and ``c`` with
almost none; pools ``da`` (takes a), ``db`` (b), ``dc`` (c, very cheap) and
``flex`` (a, b and c).  Singleton rows ``da + flex >= a``, ``db + flex >= b``
and the all-work row are met by ``flex`` covering *a* alone plus cheap ``dc``
agents filling the total: a and b together get half of what they need.  The
pair row ``da + db + flex >= a + b`` (and the others) forbids that.  Measured
with the singleton rows only (the cover before this test): 30 flex and 30 dc
shifts, cost 2,880, a and b with half their need; with the unions 30 da and 30
db (and 3 dc), cost 4,824.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conftest import base_dict, loaded
from peakdesk.plan.cover import solve_cover
from peakdesk.plan.inputs import PlanningInputs
from peakdesk.plan.patterns import cover_groups, cover_problem, patterns, type_groups


def _spec() -> dict[str, Any]:
    d = base_dict()
    q = d["inquiry_types"][0]
    d["inquiry_types"] = [
        q | {"name": "a", "share": 0.495},
        q | {"name": "b", "share": 0.495},
        q | {"name": "c", "share": 0.01},
    ]
    plan = {"lengths": ["8h"], "start_every": "8h"}
    d["pools"] = [
        {"name": "da", "skills": {"a": 1.0}, "hourly_cost": 10.0, "plan": plan},
        {"name": "db", "skills": {"b": 1.0}, "hourly_cost": 10.0, "plan": plan},
        {"name": "dc", "skills": {"c": 1.0}, "hourly_cost": 1.0, "plan": plan},
        {
            "name": "flex",
            "skills": {"a": 1.0, "b": 1.0, "c": 1.0},
            "hourly_cost": 11.0,
            "plan": plan,
        },
    ]
    return d


def test_every_union_of_the_restricted_sets_is_a_row() -> None:
    spec = loaded(_spec()).spec
    singles = [(n, t) for n, t, _ in type_groups(spec)]
    assert singles == [("a", [0]), ("b", [1]), ("c", [2])]
    unions = [(n, t, p) for n, t, p in cover_groups(spec)][3:]
    # The pairs (the triple is every type: the all-conversations row).
    assert unions == [
        ("a | b", [0, 1], [0, 1, 3]),
        ("a | c", [0, 2], [0, 2, 3]),
        ("b | c", [1, 2], [1, 2, 3]),
    ]


def test_a_multi_skilled_pool_is_not_counted_twice() -> None:
    ls = loaded(_spec())
    inputs = PlanningInputs.of(ls)
    pats = patterns(ls.spec)
    need = np.full(inputs.grid.n, 20, dtype=np.int64)
    sol = solve_cover(cover_problem(inputs, need, pats), mip_rel_gap=0.0)
    assert sol.status == "optimal"
    pool = np.array([p.pool for p in pats])
    by_pool = [int(sol.x[pool == k].sum()) for k in range(4)]
    # a and b need about 10 reference agents each in every 8-hour block: whoever takes
    # them, 20 agents able to take a or b are on in every block (3 blocks: 60 shifts);
    # the cheap c-only pool covers c's 1 and no more.
    assert by_pool[0] + by_pool[1] + by_pool[3] >= 60
    assert by_pool[2] <= 3
