"""The shift-cover integer program: optimality, fixed shifts, limits and their diagnosis."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from peakdesk.plan.cover import CoverProblem, CoverSolution, Diagnosis, solve_cover

F64 = npt.NDArray[np.float64]


def _problem(cost: Any, cover: Any, requirement: Any, **kw: Any) -> CoverProblem:
    """CoverProblem with x >= 0 unbounded and group names g0, g1, ... by default."""
    cost = np.asarray(cost, dtype=float)
    cover = np.asarray(cover, dtype=float)
    kw.setdefault("lower", np.zeros(cost.size))
    kw.setdefault("upper", np.full(cost.size, np.inf))
    kw.setdefault("group_names", tuple(f"g{g}" for g in range(cover.shape[0])))
    return CoverProblem(cost=cost, cover=cover, requirement=requirement, **kw)


def _window(n_k: int, start: int, length: int, value: float = 1.0) -> F64:
    col = np.zeros(n_k)
    col[start : start + length] = value
    return col


def _assert_feasible(pb: CoverProblem, sol: CoverSolution) -> None:
    """Every constraint of the program holds for sol.x (up to float noise)."""
    assert sol.feasible and sol.diagnosis == ()
    x = sol.x.astype(float)
    cov = np.einsum("gkp,p->gk", pb.cover, x)
    np.testing.assert_allclose(sol.coverage, cov)
    assert (cov >= pb.requirement - 1e-9).all()
    assert (sol.shortfall == 0).all()
    assert (sol.x >= np.ceil(pb.lower - 1e-9)).all() and (sol.x <= pb.upper).all()
    if pb.presence is not None:
        assert pb.subaccount_cap is not None
        assert (pb.presence @ x <= pb.subaccount_cap + 1e-9).all()
    if pb.pool_max is not None:
        assert pb.pool_of is not None and pb.day_of is not None
        used = np.zeros_like(pb.pool_max)
        np.add.at(used, (pb.pool_of, pb.day_of), x)
        assert (used <= pb.pool_max + 1e-9).all()
    assert sol.cost == pytest.approx(float(pb.cost @ x))


# --------------------------------------------------------------------------- optimality


def _brute_force(pb: CoverProblem, x_max: int) -> float:
    """Cheapest x in {0..x_max}^P meeting every constraint; inf when none does."""
    grid = np.array(list(itertools.product(range(x_max + 1), repeat=pb.n_patterns)), float)
    ok = (np.einsum("gkp,np->ngk", pb.cover, grid) >= pb.requirement - 1e-9).all(axis=(1, 2))
    if pb.presence is not None:
        assert pb.subaccount_cap is not None
        ok &= (grid @ pb.presence.T <= pb.subaccount_cap + 1e-9).all(axis=1)
    if pb.pool_max is not None:
        assert pb.pool_of is not None and pb.day_of is not None
        for i, d in np.ndindex(pb.pool_max.shape):
            on = (pb.pool_of == i) & (pb.day_of == d)
            ok &= grid[:, on].sum(axis=1) <= pb.pool_max[i, d] + 1e-9
    return float((grid[ok] @ pb.cost).min()) if ok.any() else math.inf


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("cap", [None, 5.0, 3.0])  # no limits, binding limits, often infeasible
def test_tiny_problem_matches_brute_force(seed: int, cap: float | None) -> None:
    rng = np.random.default_rng(seed)
    n_g, n_k, n_p, x_max = 2, 5, 4, 5
    cover = rng.choice([0.0, 0.8, 1.0, 2.5], size=(n_g, n_k, n_p))
    requirement = rng.uniform(0.0, 4.0, size=(n_g, n_k))
    kw: dict[str, Any] = {"upper": np.full(n_p, float(x_max))}
    if cap is not None:
        kw |= {
            "presence": (cover[0] > 0).astype(float),
            "subaccount_cap": cap,
            "pool_of": np.array([0, 0, 1, 1]),
            "day_of": np.array([0, 1, 0, 1]),
            "pool_max": np.array([[3.0, 2.0], [4.0, np.inf]]),
        }
    pb = _problem(rng.integers(1, 10, size=n_p), cover, requirement, **kw)

    best = _brute_force(pb, x_max)
    sol = solve_cover(pb, mip_rel_gap=0.0)
    if math.isinf(best):
        assert sol.status == "infeasible" and sol.diagnosis
    else:
        assert sol.status == "optimal"
        _assert_feasible(pb, sol)
        assert sol.cost == pytest.approx(best)


def test_fixed_patterns_are_respected() -> None:
    # Pattern 2 is the expensive one; fixing it must keep it and let the rest shrink.
    n_k = 6
    cover = np.stack([_window(n_k, 0, 3), _window(n_k, 3, 3), _window(n_k, 0, 6)], axis=1)
    req = np.full((1, n_k), 4.0)
    free = solve_cover(_problem([3.0, 3.0, 10.0], cover[None], req))
    np.testing.assert_array_equal(free.x, [4, 4, 0])

    fixed = _problem([3.0, 3.0, 10.0], cover[None], req, lower=[0, 0, 3], upper=[9, 9, 3])
    sol = solve_cover(fixed)
    _assert_feasible(fixed, sol)
    np.testing.assert_array_equal(sol.x, [1, 1, 3])

    # A fractional minimum rounds up (agents are whole people).
    sol = solve_cover(_problem([3.0, 3.0, 10.0], cover[None], req, lower=[0, 0, 2.5]))
    np.testing.assert_array_equal(sol.x, [1, 1, 3])


def _greedy_day(cover: F64, req: F64) -> F64:
    """Sweep the hours; cover each deficit with the latest-starting shift that works then."""
    x = np.zeros(cover.shape[1])
    for k in range(cover.shape[0]):
        deficit = req[k] - cover[k] @ x
        if deficit > 1e-9:
            p = max(int(q) for q in np.flatnonzero(cover[k] > 0))
            x[p] += math.ceil(deficit / cover[k, p] - 1e-9)
    return x


def test_24h_curve_with_hourly_8h_shifts_beats_greedy() -> None:
    n_k = 24
    starts = range(17)  # 8 h shifts that end by midnight
    shrink = 0.85
    # 2 chats at once, no chat during the one-hour break in the 5th hour of a shift.
    cover = np.stack([_window(n_k, s, 8, 2 * shrink) for s in starts], axis=1)
    for p, s in enumerate(starts):
        cover[s + 4, p] = 0.0
    hours = np.arange(n_k)
    req = np.round(8 + 14 * np.exp(-((hours - 20.0) ** 2) / 10) + 6 * np.sin(hours / 4), 1)
    req = np.maximum(req, 1.0)
    night = np.array([sum(1 for h in range(s, s + 8) if h >= 22 or h < 6) for s in starts])
    cost = 8.0 * 50 + 25.0 * night  # hourly wage plus a night premium

    pb = _problem(cost, cover[None], req[None])
    sol = solve_cover(pb)
    assert sol.status == "optimal"
    _assert_feasible(pb, sol)

    greedy = _greedy_day(cover, req)
    assert (cover @ greedy >= req - 1e-9).all()
    assert sol.cost <= float(cost @ greedy) + 1e-9
    assert sol.gap <= 1e-4


@pytest.mark.parametrize("seed", range(5))
def test_adding_a_pattern_never_raises_the_optimal_cost(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n_k, n_p = 10, 6

    def random_shift() -> tuple[F64, float]:
        length = int(rng.integers(2, 7))
        start = int(rng.integers(0, n_k - length + 1))
        return _window(n_k, start, length, float(rng.choice([1.0, 1.5, 2.0]))), float(
            rng.uniform(1.0, 3.0) * length
        )

    shifts = [random_shift() for _ in range(n_p - 1)]
    shifts.append((_window(n_k, 0, n_k), 3.0 * n_k))  # keeps every instance feasible
    cover = np.stack([c for c, _ in shifts], axis=1)[None]
    cost = np.array([c for _, c in shifts])
    req = rng.uniform(0.0, 6.0, size=(1, n_k))
    base = solve_cover(_problem(cost, cover, req), mip_rel_gap=0.0)
    assert base.status == "optimal"

    for _ in range(3):
        col, c = random_shift()
        more = _problem(np.append(cost, c), np.concatenate([cover, col[None, :, None]], 2), req)
        sol = solve_cover(more, mip_rel_gap=0.0)
        assert sol.status == "optimal"
        assert sol.cost <= base.cost + 1e-9


# --------------------------------------------------------------------------- limits


def _single_and_double_interval_shifts(n_k: int) -> F64:
    cols = [_window(n_k, k, 1) for k in range(n_k)] + [_window(n_k, k, 2) for k in range(n_k - 1)]
    return np.stack(cols, axis=1)


def test_subaccount_cap_infeasibility_names_the_cap_and_intervals() -> None:
    n_k = 8
    cover = _single_and_double_interval_shifts(n_k)
    req = np.array([5.0, 5.0, 12.0, 15.0, 5.0, 5.0, 5.0, 5.0])
    cost = cover.sum(axis=0) * 10.0
    kw: dict[str, Any] = {"presence": cover, "subaccount_cap": 10.0}
    pb = _problem(cost, cover[None], req[None], **kw)
    sol = solve_cover(pb)

    assert sol.status == "infeasible" and not sol.feasible
    (diag,) = sol.diagnosis
    assert diag.kind == "subaccount_cap"
    assert diag.intervals == (2, 3)
    assert diag.limit == (10.0, 10.0)
    assert diag.value == pytest.approx((12.0, 15.0))
    assert diag.violation == pytest.approx((2.0, 5.0))
    text = diag.describe(lambda k: f"{k // 4:02d}:{k % 4 * 15:02d} on day 1")
    assert text.startswith("sub-account cap 10 is below the 15 agents needed online at 00:45")

    # With the cap raised to the peak it solves, and the cap binds at the peak.
    ok = _problem(cost, cover[None], req[None], presence=cover, subaccount_cap=15.0)
    sol = solve_cover(ok)
    _assert_feasible(ok, sol)
    assert (cover @ sol.x)[3] == 15


def test_integer_rounding_infeasibility_is_diagnosed() -> None:
    # 0.9 of an agent per agent (shrinkage): 8.2 needs 9.1 agents, i.e. 10 whole ones;
    # a cap of 9.5 leaves the LP relaxation feasible but the integer program not.
    cover = np.array([[[0.9]]])
    pb = _problem([1.0], cover, [[8.2]], presence=np.array([[1.0]]), subaccount_cap=9.5)
    sol = solve_cover(pb, time_limit_s=5.0)
    assert sol.status == "infeasible"
    (diag,) = sol.diagnosis
    assert diag.kind == "subaccount_cap"
    assert diag.intervals == (0,)
    assert diag.value == pytest.approx((10.0,))


def _two_pools(n_k: int) -> tuple[F64, F64, F64]:
    """Pool A (cheap, Chinese only) and pool B (dearer, also English), 3-interval shifts."""
    starts = range(n_k - 2)
    col = [_window(n_k, s, 3, 2.0) for s in starts]
    all_work = np.stack(col + col, axis=1)
    english = np.concatenate([np.zeros_like(all_work[:, : len(col)]), all_work[:, len(col) :]], 1)
    cost = np.array([3.0] * len(col) + [5.0] * len(col))
    pool_of = np.array([0] * len(col) + [1] * len(col))
    return np.stack([all_work, english]), cost, pool_of.astype(float)


def test_skill_group_only_one_pool_covers_forces_that_pool() -> None:
    n_k = 6
    cover, cost, pool_of = _two_pools(n_k)
    names = ("all", "english")
    general_only = np.array([np.full(n_k, 6.0), np.zeros(n_k)])
    sol = solve_cover(_problem(cost, cover, general_only, group_names=names))
    assert sol.x[pool_of == 1].sum() == 0  # pool B is dearer: unused when not needed

    req = general_only.copy()
    req[1, 2:4] = 2.0  # one English speaker over intervals 2-3
    pb = _problem(cost, cover, req, group_names=names)
    sol = solve_cover(pb)
    _assert_feasible(pb, sol)
    assert sol.x[pool_of == 1].sum() >= 1
    assert sol.cost == pytest.approx(_brute_force(pb, 3))

    # English needed where no pool-B shift can ever be: a requirement diagnosis.
    upper = np.where(pool_of == 1, 0.0, np.inf)
    pb = _problem(cost, cover, req, group_names=names, upper=upper)
    sol = solve_cover(pb)
    assert sol.status == "infeasible"
    (diag,) = sol.diagnosis
    assert (diag.kind, diag.group, diag.group_index) == ("requirement", "english", 1)
    assert diag.intervals == (2, 3)
    assert diag.value == pytest.approx((0.0, 0.0))
    assert "requirement 'english' cannot be covered" in diag.describe()


def _pool_days_problem(pool_max: F64) -> CoverProblem:
    # Two days of 4 intervals; each pool has one full-day shift per day.
    # Pool 0 is cheaper; the requirement needs 10 agents on each day.
    n_k = 8
    cols = [_window(n_k, 4 * d, 4) for _pool in range(2) for d in range(2)]
    cover = np.stack(cols, axis=1)[None]
    return _problem(
        [4.0, 4.0, 6.0, 6.0],
        cover,
        np.full((1, n_k), 10.0),
        pool_of=np.array([0, 0, 1, 1]),
        day_of=np.array([0, 1, 0, 1]),
        pool_max=pool_max,
    )


def test_pool_max_respected_and_binding_diagnosed() -> None:
    pb = _pool_days_problem(np.array([[6.0, 6.0], [5.0, 20.0]]))
    sol = solve_cover(pb)
    _assert_feasible(pb, sol)
    np.testing.assert_array_equal(sol.x, [6, 6, 4, 4])

    # Day 0 can staff at most 6 + 3 < 10: the cheapest minimal relaxation blames pool 0.
    pb = _pool_days_problem(np.array([[6.0, 6.0], [3.0, 20.0]]))
    sol = solve_cover(pb)
    assert sol.status == "infeasible"
    (diag,) = sol.diagnosis
    assert (diag.kind, diag.pool, diag.day, diag.intervals) == ("pool_max", 0, 0, ())
    assert diag.limit == (6.0,)
    assert diag.value == pytest.approx((7.0,))
    assert diag.describe(pool_label=lambda i: f"pool {'AB'[i]!r}") == (
        "pool 'A' on day 0 is limited to 6 agents but 7 are needed"
    )


# --------------------------------------------------------------------------- inputs


def test_bad_inputs_are_rejected() -> None:
    cover = np.ones((1, 2, 2))
    req = np.ones((1, 2))
    with pytest.raises(ValueError, match="upper < lower"):
        _problem([1.0, 1.0], cover, req, lower=[2, 0], upper=[1, 5])
    with pytest.raises(ValueError, match="requirement must be"):
        _problem([1.0, 1.0], cover, np.ones((1, 3)))
    with pytest.raises(ValueError, match="together"):
        _problem([1.0, 1.0], cover, req, subaccount_cap=3.0)
    with pytest.raises(ValueError, match="pool_of must lie"):
        _problem(
            [1.0, 1.0],
            cover,
            req,
            pool_of=np.array([0, 2]),
            day_of=np.array([0, 0]),
            pool_max=np.ones((2, 1)),
        )
    with pytest.raises(ValueError, match="cost must be"):
        _problem([1.0, -1.0], cover, req)
    with pytest.raises(ValueError, match="no integer"):
        solve_cover(_problem([1.0, 1.0], cover, req, lower=[0.2, 0], upper=[0.8, 5]))


def test_diagnosis_is_a_plain_value() -> None:
    d = Diagnosis(kind="subaccount_cap", intervals=(1,), limit=(5.0,), value=(7.0,))
    assert d == Diagnosis(kind="subaccount_cap", intervals=(1,), limit=(5.0,), value=(7.0,))
    assert d.violation == (2.0,)
