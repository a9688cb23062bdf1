"""Shift-cover integer program: how many agents to put on each shift pattern.

The caller turns pools, shift starts, lengths, breaks and shrinkage into matrices; this
module only knows the linear algebra and knows nothing about scenarios.

Model
-----
Integer decision ``x_p`` = agents working shift pattern ``p`` (``p = 0..P-1``)::

    minimise    sum_p cost[p] x_p
    subject to  sum_p cover[g, k, p] x_p    >= requirement[g, k]   every group g, interval k
                sum_p presence[k, p] x_p    <= subaccount_cap      every interval k
                sum_{p in pool i, day d} x_p <= pool_max[i, d]     every pool i, day d
                lower[p] <= x_p <= upper[p],   x_p integer

It is solved with :func:`scipy.optimize.milp` (HiGHS branch and cut).

Infeasibility diagnosis
-----------------------
When HiGHS proves the program infeasible, an *elastic* copy is solved: every requirement
row gets a shortfall variable ``s >= 0`` (``cover x + s >= requirement``) and every
sub-account-cap and pool-max row an excess variable (``presence x - s <= cap``).  The
bounds ``lower <= x <= upper`` stay hard: they are the caller's fixed decisions (e.g. a
roster already signed).  The elastic copy is solved lexicographically, in three MILPs:

1. minimise the total requirement shortfall while the caps may be exceeded freely.  What
   remains is shortfall no extra sub-account or head count can fix (no pattern covers the
   interval, a skill no pool has, upper bounds);
2. keeping that shortfall, minimise the total excess over the sub-account cap and the pool
   maxima (agents; the cap excess is summed over intervals): the smallest relaxation of
   the limits that makes the requirement coverable;
3. the cheapest plan under the constraints relaxed by exactly those amounts; that plan is
   returned and each constraint it violates becomes one :class:`Diagnosis`.

The requirement is relaxed last because it is what the service target demands, whereas
"the cap of 150 is below the 172 agents needed online at 00:15" is a statement the user
can act on.  The elastic problems are MILPs, not LP relaxations: with fractional
contributions (slots x availability x shrinkage) integer rounding alone can make the
program infeasible while its LP relaxation is feasible, and an LP elastic would then find
nothing to blame.  The slack variables are continuous, so the elastic MILPs are no harder
than the original one and usually much easier.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = [
    "CoverProblem",
    "CoverSolution",
    "CoverStatus",
    "Diagnosis",
    "DiagnosisKind",
    "solve_cover",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CoverStatus = Literal["optimal", "time_limit", "infeasible", "unknown"]
DiagnosisKind = Literal["requirement", "subaccount_cap", "pool_max"]

# Row kinds of the assembled constraint matrix.
_REQ, _CAP, _POOL = 0, 1, 2
# Relative tolerance for "this row is violated"; HiGHS' own primal feasibility tolerance
# is 1e-7, so anything below 1e-6 relative is solver noise, not a binding constraint.
_VIOLATION_RTOL = 1e-6


# --------------------------------------------------------------------------- inputs


def _as_f64(name: str, value: Any, ndim: int) -> F64:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def _as_i64(name: str, value: Any, size: int, upper: int) -> I64:
    arr = np.asarray(value)
    if arr.shape != (size,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of shape ({size},), got {arr.shape}")
    if size and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name} must lie in [0, {upper}), got [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


@dataclass(frozen=True, eq=False)
class CoverProblem:
    """Choose integer counts ``x_p`` of shift patterns ``p = 0..P-1``.

    Each pattern is one shift instance of one pool (start, length, breaks); the caller
    builds the matrices.  Arrays are coerced to ``float64`` / ``int64`` and validated on
    construction (``ValueError`` on bad shapes or values).

    Attributes
    ----------
    cost : ndarray, shape (P,)
        Cost of one agent on pattern ``p`` (currency); finite and ``>= 0``.
    lower : ndarray, shape (P,)
        Minimum agents on ``p``; finite, ``>= 0`` (fractional values round up).  Fixed
        shifts use ``lower == upper == given count``.
    upper : ndarray, shape (P,)
        Maximum agents on ``p``; ``>= lower``, ``inf`` allowed.
    cover : ndarray, shape (G, K, P)
        Contribution of one agent on pattern ``p`` to requirement group ``g`` in interval
        ``k``, in the requirement's units (e.g. conversation slots = concurrency x share of
        the interval available after breaks and shrinkage); 0 when off shift.  ``>= 0``.
    requirement : ndarray, shape (G, K)
        What group ``g`` needs in interval ``k`` (group 0 = all work, further groups =
        per-skill needs).  Entries ``<= 0`` impose nothing.
    group_names : tuple of str, length G
        Names used in diagnoses.
    presence : ndarray, shape (K, P), optional
        Agents online (sub-accounts in use) per agent on ``p`` in interval ``k``; whether
        breaks count as online is the caller's choice.  Given together with
        ``subaccount_cap``.
    subaccount_cap : float, optional
        ``sum_p presence[k, p] x_p <= subaccount_cap`` for every ``k`` (agents; ``inf`` =
        no cap).
    pool_of : ndarray of int, shape (P,), optional
        Pool index of each pattern (with ``pool_max`` and ``day_of``).
    pool_max : ndarray, shape (n_pools, D), optional
        Maximum agents working per pool per day (agents; ``inf`` = no limit).
    day_of : ndarray of int, shape (P,), optional
        Day index ``d`` of each pattern (normally the day its shift starts).
    """

    cost: F64
    lower: F64
    upper: F64
    cover: F64
    requirement: F64
    group_names: tuple[str, ...]
    presence: F64 | None = None
    subaccount_cap: float | None = None
    pool_of: I64 | None = None
    pool_max: F64 | None = None
    day_of: I64 | None = None

    def __post_init__(self) -> None:
        # Frozen dataclass: coerce through object.__setattr__ so callers may pass lists.
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        cost = _as_f64("cost", self.cost, 1)
        n_p = cost.size
        if n_p == 0:
            raise ValueError("at least one pattern is required")
        if not np.isfinite(cost).all() or (cost < 0).any():
            raise ValueError("cost must be finite and >= 0")
        lower = _as_f64("lower", self.lower, 1)
        upper = _as_f64("upper", self.upper, 1)
        if lower.shape != (n_p,) or upper.shape != (n_p,):
            raise ValueError(f"lower and upper must have shape ({n_p},)")
        if not np.isfinite(lower).all() or (lower < 0).any():
            raise ValueError("lower must be finite and >= 0")
        if (upper < lower).any():
            bad = int(np.flatnonzero(upper < lower)[0])
            raise ValueError(f"upper < lower for pattern {bad}")
        cover = _as_f64("cover", self.cover, 3)
        n_g, n_k, p3 = cover.shape
        if p3 != n_p or n_g == 0 or n_k == 0:
            raise ValueError(f"cover must have shape (G>=1, K>=1, {n_p}), got {cover.shape}")
        if not np.isfinite(cover).all() or (cover < 0).any():
            raise ValueError("cover must be finite and >= 0")
        requirement = _as_f64("requirement", self.requirement, 2)
        if requirement.shape != (n_g, n_k) or not np.isfinite(requirement).all():
            raise ValueError(f"requirement must be finite with shape ({n_g}, {n_k})")
        names = tuple(self.group_names)
        if len(names) != n_g:
            raise ValueError(f"group_names has {len(names)} names for {n_g} groups")
        put("cost", cost)
        put("lower", lower)
        put("upper", upper)
        put("cover", cover)
        put("requirement", requirement)
        put("group_names", names)

        if (self.presence is None) != (self.subaccount_cap is None):
            raise ValueError("presence and subaccount_cap must be given together")
        if self.presence is not None and self.subaccount_cap is not None:
            presence = _as_f64("presence", self.presence, 2)
            if presence.shape != (n_k, n_p):
                raise ValueError(f"presence must have shape ({n_k}, {n_p})")
            if not np.isfinite(presence).all() or (presence < 0).any():
                raise ValueError("presence must be finite and >= 0")
            cap = float(self.subaccount_cap)
            if math.isnan(cap) or cap < 0:
                raise ValueError(f"subaccount_cap must be >= 0, got {cap}")
            put("presence", presence)
            put("subaccount_cap", cap)

        given = [x is not None for x in (self.pool_of, self.pool_max, self.day_of)]
        if any(given) and not all(given):
            raise ValueError("pool_of, pool_max and day_of must be given together")
        if self.pool_max is not None:
            pool_max = _as_f64("pool_max", self.pool_max, 2)
            if (pool_max < 0).any():
                raise ValueError("pool_max must be >= 0")
            n_pools, n_days = pool_max.shape
            put("pool_max", pool_max)
            put("pool_of", _as_i64("pool_of", self.pool_of, n_p, n_pools))
            put("day_of", _as_i64("day_of", self.day_of, n_p, n_days))

    @property
    def n_patterns(self) -> int:
        """Number of patterns ``P``."""
        return int(self.cost.size)

    @property
    def n_groups(self) -> int:
        """Number of requirement groups ``G``."""
        return int(self.cover.shape[0])

    @property
    def n_intervals(self) -> int:
        """Number of intervals ``K``."""
        return int(self.cover.shape[1])


# --------------------------------------------------------------------------- outputs


def _fmt(v: float) -> str:
    # Agents and slots read best without float noise: 172 rather than 171.99999999.
    return f"{round(v, 3):.12g}"


@dataclass(frozen=True)
class Diagnosis:
    """One constraint the least-violating plan cannot meet, and by how much.

    Attributes
    ----------
    kind : {"requirement", "subaccount_cap", "pool_max"}
        Which family of constraints binds.
    group : str or None
        Requirement group name (``kind == "requirement"``).
    group_index : int or None
        Its index ``g``.
    pool : int or None
        Pool index (``kind == "pool_max"``).
    day : int or None
        Day index (``kind == "pool_max"``).
    intervals : tuple of int
        Intervals ``k`` where the constraint is violated, ascending ("requirement",
        "subaccount_cap"); empty for "pool_max".
    limit : tuple of float
        The constraint's right-hand side, one entry per interval (one entry for
        "pool_max"): ``requirement[g, k]`` (requirement units, e.g. slots), the cap
        (agents) or ``pool_max[i, d]`` (agents).
    value : tuple of float
        What the least-violating plan reaches: the most coverage attainable (``< limit``)
        for "requirement"; the agents needed (``> limit``) for the two caps.
    """

    kind: DiagnosisKind
    intervals: tuple[int, ...]
    limit: tuple[float, ...]
    value: tuple[float, ...]
    group: str | None = None
    group_index: int | None = None
    pool: int | None = None
    day: int | None = None

    @property
    def violation(self) -> tuple[float, ...]:
        """Shortfall (requirement) or excess (caps) per entry, ``> 0``, in ``limit`` units."""
        return tuple(abs(v - lim) for v, lim in zip(self.value, self.limit, strict=True))

    def describe(
        self,
        interval_label: Callable[[int], str] = lambda k: f"interval {k}",
        pool_label: Callable[[int], str] = lambda i: f"pool {i}",
    ) -> str:
        """One English sentence for the user, centred on the worst entry.

        Parameters
        ----------
        interval_label
            Maps an interval index to text, e.g. ``"00:15 on day 1"``.
        pool_label
            Maps a pool index to text, e.g. ``"pool 'night-en'"``.
        """
        viol = self.violation
        worst = int(np.argmax(viol))
        if self.kind == "pool_max":
            assert self.pool is not None
            return (
                f"{pool_label(self.pool)} on day {self.day} is limited to "
                f"{_fmt(self.limit[0])} agents but {_fmt(self.value[0])} are needed"
            )
        at = interval_label(self.intervals[worst])
        n = len(self.intervals)
        more = (
            f" (in {n} intervals, {interval_label(self.intervals[0])} to "
            f"{interval_label(self.intervals[-1])}, by up to {_fmt(viol[worst])})"
            if n > 1
            else ""
        )
        if self.kind == "subaccount_cap":
            return (
                f"sub-account cap {_fmt(self.limit[worst])} is below the "
                f"{_fmt(self.value[worst])} agents needed online at {at}{more}"
            )
        return (
            f"requirement {self.group!r} cannot be covered at {at}: needs "
            f"{_fmt(self.limit[worst])}, at most {_fmt(self.value[worst])} attainable{more}"
        )


@dataclass(frozen=True, eq=False)
class CoverSolution:
    """Result of :func:`solve_cover`.

    Attributes
    ----------
    x : ndarray of int64, shape (P,)
        Agents per pattern.  For "infeasible" this is the least-violating plan of the
        elastic solve (it breaks exactly the constraints in ``diagnosis``); for "unknown"
        it is just ``ceil(lower)``.
    cost : float
        ``cost @ x`` (currency).
    status : {"optimal", "time_limit", "infeasible", "unknown"}
        "optimal": within ``mip_rel_gap`` of the optimum.  "time_limit": feasible but not
        proven optimal when time ran out.  "infeasible": proven infeasible, see
        ``diagnosis``.  "unknown": time ran out before any feasible plan was found.
    gap : float
        Relative MIP gap ``|cost - dual bound| / |cost|`` reported by HiGHS; NaN when the
        status is "infeasible" or "unknown".
    coverage : ndarray, shape (G, K)
        ``cover @ x`` per group and interval (requirement units).
    shortfall : ndarray, shape (G, K)
        ``max(requirement - coverage, 0)``; zero for feasible plans.
    diagnosis : tuple of Diagnosis
        Binding constraints when "infeasible"; empty otherwise.
    solve_time_s : float
        Wall-clock time of all HiGHS calls, seconds.
    """

    x: I64
    cost: float
    status: CoverStatus
    gap: float
    coverage: F64
    shortfall: F64
    diagnosis: tuple[Diagnosis, ...]
    solve_time_s: float

    @property
    def feasible(self) -> bool:
        """Whether ``x`` satisfies every constraint ("optimal" or "time_limit")."""
        return self.status in ("optimal", "time_limit")


# --------------------------------------------------------------------------- assembly


@dataclass(frozen=True, eq=False)
class _Rows:
    """All non-trivial constraint rows ``lo <= A x <= hi`` with their provenance."""

    matrix: Any  # scipy.sparse.csr_array, shape (m, P)
    lo: F64
    hi: F64
    kind: I64  # _REQ, _CAP or _POOL
    first: I64  # group g (requirement) or pool i (pool_max); 0 for the cap
    second: I64  # interval k (requirement, cap) or day d (pool_max)


def _build_rows(pb: CoverProblem) -> _Rows:
    n_p = pb.n_patterns
    blocks: list[Any] = []
    lo: list[F64] = []
    hi: list[F64] = []
    kind: list[I64] = []
    first: list[I64] = []
    second: list[I64] = []

    def add(mat: Any, low: F64, high: F64, kd: int, a: I64, b: I64) -> None:
        blocks.append(sp.csr_array(mat))
        lo.append(low)
        hi.append(high)
        kind.append(np.full(low.size, kd, dtype=np.int64))
        first.append(a.astype(np.int64))
        second.append(b.astype(np.int64))

    # Rows with requirement <= 0 are implied by cover >= 0 and x >= 0; dropping them keeps
    # the model small (most skill groups need nothing in most intervals).
    g_idx, k_idx = np.nonzero(pb.requirement > 0)
    if g_idx.size:
        req = pb.requirement[g_idx, k_idx]
        add(pb.cover[g_idx, k_idx, :], req, np.full(req.size, np.inf), _REQ, g_idx, k_idx)

    if pb.presence is not None and pb.subaccount_cap is not None:
        cap = pb.subaccount_cap
        # Intervals where nobody can be online cannot break the cap (cap >= 0).
        ks = np.flatnonzero(pb.presence.any(axis=1))
        if ks.size and math.isfinite(cap):
            add(
                pb.presence[ks],
                np.full(ks.size, -np.inf),
                np.full(ks.size, cap),
                _CAP,
                np.zeros(ks.size, dtype=np.int64),
                ks,
            )

    if pb.pool_max is not None and pb.pool_of is not None and pb.day_of is not None:
        n_days = pb.pool_max.shape[1]
        cell = pb.pool_of * n_days + pb.day_of  # one row per (pool, day) cell
        cells = np.unique(cell)
        cells = cells[np.isfinite(pb.pool_max.ravel()[cells])]
        if cells.size:
            row_of_cell = np.full(pb.pool_max.size, -1, dtype=np.int64)
            row_of_cell[cells] = np.arange(cells.size)
            rows = row_of_cell[cell]
            used = rows >= 0
            mat = sp.coo_array(
                (np.ones(int(used.sum())), (rows[used], np.flatnonzero(used))),
                shape=(cells.size, n_p),
            )
            add(
                mat,
                np.full(cells.size, -np.inf),
                pb.pool_max.ravel()[cells],
                _POOL,
                cells // n_days,
                cells % n_days,
            )

    if not blocks:
        empty_i = np.zeros(0, dtype=np.int64)
        return _Rows(sp.csr_array((0, n_p)), np.zeros(0), np.zeros(0), empty_i, empty_i, empty_i)
    return _Rows(
        sp.vstack(blocks, format="csr"),
        np.concatenate(lo),
        np.concatenate(hi),
        np.concatenate(kind),
        np.concatenate(first),
        np.concatenate(second),
    )


def _milp(
    c: F64,
    integrality: F64,
    lb: F64,
    ub: F64,
    constraints: list[tuple[Any, F64, F64]],
    time_limit_s: float,
    mip_rel_gap: float,
) -> Any:
    cons = [LinearConstraint(a, low, high) for a, low, high in constraints if a.shape[0] > 0]
    return milp(
        c,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=cons or None,
        options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "disp": False},
    )


def _integral(x: Any) -> I64:
    # HiGHS returns integers within its integrality tolerance (1e-6); round them.
    return np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)


def _is_infeasible(res: Any) -> bool:
    # HiGHS sometimes stops at "unbounded or infeasible" (scipy status 4); with cost >= 0
    # and x >= 0 the program cannot be unbounded, so that verdict means infeasible.
    return bool(res.status == 2 or (res.status == 4 and "infeasible" in str(res.message)))


# --------------------------------------------------------------------------- solve


def solve_cover(
    problem: CoverProblem, time_limit_s: float = 30.0, mip_rel_gap: float = 1e-4
) -> CoverSolution:
    """Solve the shift-cover integer program; diagnose it when infeasible.

    Parameters
    ----------
    problem
        The program (see :class:`CoverProblem`).
    time_limit_s
        HiGHS time limit per MILP, seconds.  A feasible problem takes one MILP; an
        infeasible one up to four (proof plus three elastic phases, see the module
        docstring), so the worst case is about ``4 * time_limit_s``.
    mip_rel_gap
        Relative optimality gap at which HiGHS stops, e.g. ``1e-4`` = within 0.01 % of
        the optimal cost; 0 asks for a proven optimum.

    Returns
    -------
    CoverSolution
        Plan, status, gap, coverage and (when infeasible) the binding constraints.

    Raises
    ------
    RuntimeError
        When HiGHS fails for a reason other than infeasibility or the time limit.
    """
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
    if not mip_rel_gap >= 0:
        raise ValueError(f"mip_rel_gap must be >= 0, got {mip_rel_gap}")
    t0 = time.perf_counter()
    pb = problem
    rows = _build_rows(pb)
    n_p = pb.n_patterns
    # Fractional lower bounds of integer variables round up; do it here so the fallback
    # plan of an "unknown" result is consistent with the bounds.
    lower = np.ceil(pb.lower - 1e-9)

    res = _milp(
        pb.cost,
        np.ones(n_p),
        lower,
        pb.upper,
        [(rows.matrix, rows.lo, rows.hi)],
        time_limit_s,
        mip_rel_gap,
    )
    diagnosis: tuple[Diagnosis, ...] = ()
    gap = math.nan
    if res.x is not None and res.status in (0, 1):
        x = _integral(res.x)
        status: CoverStatus = "optimal" if res.status == 0 else "time_limit"
        gap = float(res.mip_gap) if res.mip_gap is not None else math.nan
    elif res.status == 1:
        x = lower.astype(np.int64)
        status = "unknown"
    elif _is_infeasible(res):
        x = _elastic(pb, rows, lower, time_limit_s, mip_rel_gap)
        status = "infeasible"
        diagnosis = _diagnose(pb, rows, x)
    else:
        raise RuntimeError(f"HiGHS failed on the cover problem: {res.message}")

    coverage = (pb.cover.reshape(-1, n_p) @ x.astype(np.float64)).reshape(pb.requirement.shape)
    short = pb.requirement - coverage
    # Coverage is exact up to float summation; don't report 1e-13 as a shortfall.
    short[short <= _VIOLATION_RTOL * (1.0 + np.abs(pb.requirement))] = 0.0
    return CoverSolution(
        x=x,
        cost=float(pb.cost @ x),
        status=status,
        gap=gap,
        coverage=coverage,
        shortfall=short,
        diagnosis=diagnosis,
        solve_time_s=time.perf_counter() - t0,
    )


def _elastic(
    pb: CoverProblem, rows: _Rows, lower: F64, time_limit_s: float, mip_rel_gap: float
) -> I64:
    """Least-violating plan by the three lexicographic elastic MILPs (module docstring)."""
    n_p = pb.n_patterns
    m = rows.lo.size
    is_req = rows.kind == _REQ
    # One slack per row: +s lifts a ">= requirement" row, -s loosens a "<= cap" row.
    sign = np.where(is_req, 1.0, -1.0)
    a_el = sp.hstack([rows.matrix, sp.diags_array(sign)], format="csr")
    integrality = np.concatenate([np.ones(n_p), np.zeros(m)])
    lb = np.concatenate([lower, np.zeros(m)])
    ub = np.concatenate([pb.upper, np.full(m, np.inf)])
    base = [(a_el, rows.lo, rows.hi)]
    zeros_x = np.zeros(n_p)

    def run(c_slack: F64, extra: list[tuple[Any, F64, F64]], c_x: F64 = zeros_x) -> Any:
        return _milp(
            np.concatenate([c_x, c_slack]),
            integrality,
            lb,
            ub,
            base + extra,
            time_limit_s,
            mip_rel_gap,
        )

    # Fallback if a phase finds no incumbent in time (the elastic program is always
    # feasible: x = lower with large enough slacks, so this is only a time-out guard).
    x_best = lower.astype(np.int64)

    # Phase 1: least total requirement shortfall, caps free.
    w_req = is_req.astype(np.float64)
    r1 = run(w_req, [])
    if r1.x is None:
        return x_best
    x_best = _integral(r1.x[:n_p])
    short_min = float(w_req @ r1.x[n_p:])

    # Phase 2: keep that shortfall, least total excess over the caps.
    tol = _VIOLATION_RTOL * (1.0 + short_min)
    keep = (
        sp.csr_array(np.concatenate([zeros_x, w_req])[None, :]),
        np.array([-np.inf]),
        np.array([short_min + tol]),
    )
    r2 = run(1.0 - w_req, [keep])
    if r2.x is None:
        return x_best
    x_best = _integral(r2.x[:n_p])

    # Phase 3: the cheapest plan under the constraints relaxed by exactly phase 2's
    # violations (plus solver tolerance), so the returned plan is a sensible roster
    # rather than an arbitrary point of the phase-2 optimal face.
    act = rows.matrix @ x_best.astype(np.float64)
    slack_tol = _VIOLATION_RTOL * (1.0 + np.abs(np.where(is_req, rows.lo, rows.hi)))
    lo3 = np.where(is_req, np.minimum(rows.lo, act) - slack_tol, rows.lo)
    hi3 = np.where(is_req, rows.hi, np.maximum(rows.hi, act) + slack_tol)
    r3 = _milp(
        pb.cost,
        np.ones(n_p),
        lower,
        pb.upper,
        [(rows.matrix, lo3, hi3)],
        time_limit_s,
        mip_rel_gap,
    )
    return _integral(r3.x) if r3.x is not None else x_best


def _diagnose(pb: CoverProblem, rows: _Rows, x: I64) -> tuple[Diagnosis, ...]:
    """One :class:`Diagnosis` per requirement group, for the cap, per (pool, day) cell."""
    act = rows.matrix @ x.astype(np.float64)
    is_req = rows.kind == _REQ
    rhs = np.where(is_req, rows.lo, rows.hi)
    viol = np.where(is_req, rows.lo - act, act - rows.hi)
    bad = viol > _VIOLATION_RTOL * (1.0 + np.abs(rhs))

    out: list[Diagnosis] = []
    for g, name in enumerate(pb.group_names):
        sel = np.flatnonzero(bad & is_req & (rows.first == g))
        if sel.size:
            sel = sel[np.argsort(rows.second[sel], kind="stable")]
            out.append(
                Diagnosis(
                    kind="requirement",
                    intervals=tuple(int(k) for k in rows.second[sel]),
                    limit=tuple(float(v) for v in rhs[sel]),
                    value=tuple(float(v) for v in act[sel]),
                    group=name,
                    group_index=g,
                )
            )
    sel = np.flatnonzero(bad & (rows.kind == _CAP))
    if sel.size:
        sel = sel[np.argsort(rows.second[sel], kind="stable")]
        out.append(
            Diagnosis(
                kind="subaccount_cap",
                intervals=tuple(int(k) for k in rows.second[sel]),
                limit=tuple(float(v) for v in rhs[sel]),
                value=tuple(float(v) for v in act[sel]),
            )
        )
    for r in np.flatnonzero(bad & (rows.kind == _POOL)):
        out.append(
            Diagnosis(
                kind="pool_max",
                intervals=(),
                limit=(float(rhs[r]),),
                value=(float(act[r]),),
                pool=int(rows.first[r]),
                day=int(rows.second[r]),
            )
        )
    return tuple(out)
