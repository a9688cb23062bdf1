"""Shift-cover integer program: how many agents to put on each shift pattern.

The caller turns pools, shift starts, lengths, breaks and shrinkage into matrices; this
module only knows the linear algebra and knows nothing about scenarios.

Model
-----
Integer decision ``x_p`` = agents working shift pattern ``p`` (``p = 0..P-1``)::

    minimise    sum_p cost[p] x_p + seat_cost S
    subject to  sum_p cover[g, k, p] x_p    >= requirement[g, k]   every group g, interval k
                sum_p presence[k, p] x_p    <= S <= subaccount_cap every interval k
                sum_{p in pool i, day d} x_p <= pool_max[i, d]     every pool i, day d
                lower[p] <= x_p <= upper[p],   x_p, S integer

``S`` is the number of sub-accounts (seats) bought: one online agent holds one,
agents on different shifts share them, so the seats are the peak of agents
online, a purchase priced over the horizon (``seat_cost``) and capped by the
platform.  Without ``presence`` there are no seats in the program.
:func:`seat_price` re-solves with one seat more and one fewer: the labour a seat
saves, the figure to set beside its price (and, when the cap binds, what the
platform's cap costs).

It is solved with :func:`scipy.optimize.milp` (HiGHS branch and cut).

Infeasibility diagnosis
-----------------------
When HiGHS proves the program infeasible, an *elastic* copy is solved: every requirement
row gets a shortfall variable ``s >= 0`` (``cover x + s >= requirement``) and every
sub-account-cap and pool-max row an excess variable (``presence x - s <= cap``).  The
bounds ``lower <= x <= upper`` stay hard: they are the caller's fixed decisions (e.g. a
roster already signed).  The elastic copy is solved lexicographically:

1. minimise the total requirement shortfall while the limits may be exceeded freely.
   What remains is shortfall no extra sub-account or head count can fix (no pattern
   covers the interval, a skill no pool has, upper bounds);
2. keeping that shortfall, minimise the total excess over the sub-account cap and the
   pool maxima (agents; the cap excess is summed over intervals): the smallest relaxation
   of the limits that makes the requirement coverable;
3. keeping both totals, minimise cost: the minimal relaxation is rarely unique (two
   pools can absorb an excess in any proportion), and the cheapest one puts the blame
   where the optimiser would want more agents.

Every row the resulting plan violates becomes part of a :class:`Diagnosis`.  The
requirement is relaxed last because it is what the service target demands, whereas "the
sub-account cap 150 is below the 172 agents needed online at 00:15" is something the
user can act on.  Separate steps rather than one weighted objective because the exchange rate
between a slot of shortfall and an agent of excess depends on the shift lengths and
contributions, so no safe penalty exists without huge, numerically harmful weights.

The elastic steps are **LP relaxations** (integrality dropped).  On a realistic instance
(768 patterns, 384 intervals, 3 groups) the LPs take about 0.1 s, while the same steps as
MILPs stall a few per cent above their bound after 20 s: minimising excess has a huge
optimal face that branch and bound cannot close.  An LP-infeasible program is certainly
integer-infeasible, and the LP amounts are the minimal relaxation with fractional
agents, so reported values may be fractional (e.g. 171.6 agents online).  Only when the
LP finds nothing to blame, i.e. integer rounding alone makes the program infeasible (it
happens with fractional contributions such as slots x availability x shrinkage), are
steps 1 and 2 repeated as MILPs (continuous slacks, integer ``x``) under the time limit.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = [
    "CoverProblem",
    "CoverSolution",
    "CoverStatus",
    "Diagnosis",
    "DiagnosisKind",
    "SeatPrice",
    "seat_price",
    "solve_cover",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CoverStatus = Literal["optimal", "time_limit", "infeasible", "unknown"]
DiagnosisKind = Literal["requirement", "subaccount_cap", "pool_max"]

# Row kinds of the assembled constraint matrix.
_REQ, _CAP, _POOL = 0, 1, 2
# Relative tolerance for "this row is violated".  HiGHS' primal feasibility tolerance is
# 1e-7, and the elastic steps may redistribute up to _KEEP_RTOL of a violation total
# among rows, so anything below 1e-5 relative is solver noise, not a binding constraint
# (1e-5 of an agent or a slot matters to nobody).
_VIOLATION_RTOL = 1e-5
# Slack allowed on a violation total carried into the next elastic step, so that the
# previous optimum stays feasible despite solver tolerances.
_KEEP_RTOL = 1e-7


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
    seat_cost : float
        Price of one sub-account over the horizon (currency), ``>= 0``; with
        ``presence`` only.
    seat_groups : tuple of (str, ndarray of bool (P,), float)
        Further caps on agents online: ``sum_p mask[p] presence[k, p] x_p <= cap``
        for every ``k``, e.g. a centre client's shop, whose sub-accounts every
        agent of a pool serving it logs into; with ``presence`` only.
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
    seat_cost: float = 0.0
    seat_groups: tuple[tuple[str, Any, float], ...] = ()

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
        seat_cost = float(self.seat_cost)
        if not (math.isfinite(seat_cost) and seat_cost >= 0):
            raise ValueError(f"seat_cost must be finite and >= 0, got {seat_cost}")
        if seat_cost > 0 and self.presence is None:
            raise ValueError("seat_cost needs presence (the agents online per interval)")
        put("seat_cost", seat_cost)
        groups = []
        for name, mask, cap in self.seat_groups:
            m = np.asarray(mask, dtype=np.bool_)
            if m.shape != (n_p,):
                raise ValueError(f"seat group {name!r}: mask must have shape ({n_p},)")
            if self.presence is None:
                raise ValueError("seat_groups need presence (the agents online per interval)")
            if math.isnan(float(cap)) or float(cap) < 0:
                raise ValueError(f"seat group {name!r}: cap must be >= 0, got {cap}")
            groups.append((str(name), m, float(cap)))
        put("seat_groups", tuple(groups))

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
    # Agents and slots read best without float noise: 172 rather than 171.99999999, and
    # LP-relaxation amounts to one decimal (171.6).
    return f"{round(v, 1):.12g}"


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
        What the least-violating (elastic) plan reaches: the most coverage attainable
        (``< limit``) for "requirement"; the agents needed (``> limit``) for the two
        caps.  Usually from the LP relaxation, so possibly fractional.
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
        day_label: Callable[[int], str] = lambda d: f"day {d}",
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
            assert self.pool is not None and self.day is not None
            return (
                f"{pool_label(self.pool)} on {day_label(self.day)} is limited to "
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
            whose = "sub-account cap" if self.group is None else f"the seat limit of {self.group}"
            return (
                f"{whose} {_fmt(self.limit[worst])} is below the "
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
        Agents per pattern.  When no plan exists or was found ("infeasible", "unknown")
        it is just the fixed part, ``ceil(lower)``; ``coverage`` and ``shortfall`` then
        describe that part alone.
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
    seats : int or None
        Sub-accounts the plan needs: its peak of ``presence @ x`` over the
        intervals, rounded up (None without ``presence``).  Not in ``cost``.
    """

    x: I64
    cost: float
    status: CoverStatus
    gap: float
    coverage: F64
    shortfall: F64
    diagnosis: tuple[Diagnosis, ...]
    solve_time_s: float
    seats: int | None = None

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

    for i, (_name, mask, cap) in enumerate(pb.seat_groups):
        assert pb.presence is not None
        part = pb.presence * mask[None, :]
        ks = np.flatnonzero(part.any(axis=1))
        if ks.size and math.isfinite(cap):
            add(
                part[ks],
                np.full(ks.size, -np.inf),
                np.full(ks.size, cap),
                _CAP,
                np.full(ks.size, i + 1, dtype=np.int64),
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
    time_limit_s: float | None,
    mip_rel_gap: float,
) -> Any:
    cons = [LinearConstraint(a, low, high) for a, low, high in constraints if a.shape[0] > 0]
    options: dict[str, Any] = {"mip_rel_gap": mip_rel_gap, "disp": False}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    return milp(
        c,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=cons or None,
        options=options,
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
        HiGHS time limit per MILP, seconds.  A feasible problem takes one MILP.  An
        infeasible one adds three elastic LPs (fast), plus two elastic MILPs only when
        integer rounding alone causes the infeasibility (see the module docstring), so
        the worst case is about ``3 * time_limit_s``.
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
    # Integer x: lower <= x <= upper is the same as ceil(lower) <= x <= floor(upper).
    # Rounding here also tightens the LP relaxations of the elastic steps.
    lower = np.ceil(pb.lower - 1e-9)
    upper = np.floor(pb.upper + 1e-9)
    if (upper < lower).any():
        bad = int(np.flatnonzero(upper < lower)[0])
        raise ValueError(f"no integer between lower and upper for pattern {bad}")

    res = _solve_with_seats(pb, rows, lower, upper, time_limit_s, mip_rel_gap)
    diagnosis: tuple[Diagnosis, ...] = ()
    gap = math.nan
    # Without a plan, x reports just the fixed part (lower bounds).
    x = lower.astype(np.int64)
    if res.x is not None and res.status in (0, 1):
        x = _integral(res.x[:n_p])
        status: CoverStatus = "optimal" if res.status == 0 else "time_limit"
        gap = float(res.mip_gap) if res.mip_gap is not None else math.nan
    elif res.status == 1:
        # Out of time with no plan: an infeasible LP relaxation still proves (and
        # explains) infeasibility; otherwise we cannot tell.
        diagnosis = _diagnose(pb, rows, _elastic(pb, rows, lower, upper, None))
        status = "infeasible" if diagnosis else "unknown"
    elif _is_infeasible(res):
        status = "infeasible"
        diagnosis = _diagnose(pb, rows, _elastic(pb, rows, lower, upper, None))
        if not diagnosis:
            # LP-feasible yet integer-infeasible: blame found only with integrality.
            diagnosis = _diagnose(pb, rows, _elastic(pb, rows, lower, upper, time_limit_s))
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
        seats=_seats(pb, x),
    )


def _seats(pb: CoverProblem, x: I64) -> int | None:
    """Peak agents online of a plan, rounded up (float noise below 1e-6 ignored)."""
    if pb.presence is None:
        return None
    return math.ceil(float(np.max(pb.presence @ x.astype(np.float64), initial=0.0)) - 1e-6)


def _solve_with_seats(
    pb: CoverProblem,
    rows: _Rows,
    lower: F64,
    upper: F64,
    time_limit_s: float | None,
    mip_rel_gap: float,
) -> Any:
    """The MILP, with the seats ``S`` as a last column when they are priced.

    Unpriced seats (``seat_cost == 0``) are just the cap rows already in ``rows``
    (``S`` would be free between the peak online and the cap).  Priced ones add
    ``presence @ x - S <= 0`` with ``0 <= S <= subaccount_cap``; ``res.x`` then has
    ``P + 1`` entries.
    """
    n_p = pb.n_patterns
    cons = [(rows.matrix, rows.lo, rows.hi)]
    if pb.presence is None or pb.seat_cost == 0:
        return _milp(pb.cost, np.ones(n_p), lower, upper, cons, time_limit_s, mip_rel_gap)
    ks = np.flatnonzero(pb.presence.any(axis=1))
    seat_rows = sp.hstack(
        [sp.csr_array(pb.presence[ks]), sp.csr_array(-np.ones((ks.size, 1)))], format="csr"
    )
    grown = sp.hstack([rows.matrix, sp.csr_array((rows.matrix.shape[0], 1))], format="csr")
    cap = pb.subaccount_cap if pb.subaccount_cap is not None else math.inf
    return _milp(
        np.concatenate([pb.cost, [pb.seat_cost]]),
        np.ones(n_p + 1),
        np.concatenate([lower, [0.0]]),
        np.concatenate([upper, [math.floor(cap + 1e-9) if math.isfinite(cap) else math.inf]]),
        [(grown, rows.lo, rows.hi), (seat_rows, np.full(ks.size, -np.inf), np.zeros(ks.size))],
        time_limit_s,
        mip_rel_gap,
    )


@dataclass(frozen=True)
class SeatPrice:
    """What one sub-account is worth to a plan (see :func:`seat_price`).

    Attributes
    ----------
    seats
        Sub-accounts the plan needs (its peak of agents online).
    seat_cost
        Price of one over the horizon (currency).
    cap
        The platform's cap (None: no cap).
    cap_binds
        Whether the plan uses every seat the cap allows.
    shadow_price
        Labour one more seat saves at ``seats`` (currency per seat, ``>= 0``): the
        shadow price of the seat limit in the cover's LP relaxation.  0 when the
        seats are not what limits the plan.
    """

    seats: int
    seat_cost: float
    cap: float | None
    cap_binds: bool
    shadow_price: float

    def describe(self, currency: str = "") -> str:
        """One sentence: the seats, what one more saves, against its price or the cap."""
        cur = f" {currency}" if currency else ""
        text = (
            f"{self.seats} sub-accounts; one more would save {self.shadow_price:,.0f}{cur} of "
            f"labour (shadow price)"
        )
        if self.cap_binds:
            return text + f"; the platform cap of {self.cap:.0f} binds"
        if self.seat_cost > 0:
            return text + f", a seat costs {self.seat_cost:,.0f}{cur} over the horizon"
        return text


def seat_price(problem: CoverProblem, solution: CoverSolution) -> SeatPrice | None:
    """The shadow price of a seat at the plan's seat count.

    The LP relaxation of the cover with at most ``seats`` agents online in every
    interval (labour alone, seats unpriced) is solved by HiGHS; the duals of those
    rows sum to ``-dL/ds``, the labour one more seat saves.  At the priced optimum it
    is at most the seat's price, unless the platform's cap stops the purchase: then
    it is what the cap costs a seat.  The relaxation (fractional agents) is what has
    duals; with hundreds of agents its value is within the MILP gap of the integer
    program's, and it takes a fraction of a second where three integer re-solves
    take up to three time limits.

    Returns
    -------
    SeatPrice or None
        None when the program has no seats (no ``presence``) or no plan.
    """
    pb = problem
    if pb.presence is None or solution.seats is None or not solution.feasible:
        return None
    seats = solution.seats
    rows = _build_rows(dataclasses.replace(pb, subaccount_cap=math.inf))
    ks = np.flatnonzero(pb.presence.any(axis=1))
    # linprog's form: A_ub x <= b_ub.  Requirement rows (lo <= A x) are negated; the
    # pool rows keep their upper bounds.
    is_req = rows.kind == _REQ
    a_ub = sp.vstack(
        [-rows.matrix[is_req], rows.matrix[~is_req], sp.csr_array(pb.presence[ks])], format="csr"
    )
    b_ub = np.concatenate([-rows.lo[is_req], rows.hi[~is_req], np.full(ks.size, float(seats))])
    lower = np.ceil(pb.lower - 1e-9)
    upper = np.floor(pb.upper + 1e-9)
    res = linprog(
        pb.cost, A_ub=a_ub, b_ub=b_ub, bounds=np.column_stack([lower, upper]), method="highs"
    )
    if res.status != 0:
        return None  # the relaxation at the plan's own seats is feasible unless HiGHS fails
    seat_duals = np.asarray(res.ineqlin.marginals)[-ks.size :]
    cap = (
        pb.subaccount_cap
        if pb.subaccount_cap is not None and math.isfinite(pb.subaccount_cap)
        else None
    )
    return SeatPrice(
        seats=seats,
        seat_cost=pb.seat_cost,
        cap=cap,
        cap_binds=cap is not None and seats >= math.floor(cap + 1e-9),
        shadow_price=max(float(-seat_duals.sum()), 0.0) + 0.0,  # + 0.0: no "-0"
    )


def _elastic(
    pb: CoverProblem, rows: _Rows, lower: F64, upper: F64, mip_time_limit_s: float | None
) -> F64 | None:
    """``x`` of the lexicographically least-violating plan (module docstring).

    An LP relaxation when ``mip_time_limit_s`` is None, else a MILP with that time limit
    per step.  None when a step returns no solution (a MILP out of time).
    """
    n_p = pb.n_patterns
    m = rows.lo.size
    is_req = rows.kind == _REQ
    # One slack per row: +s lifts a ">= requirement" row, -s loosens a "<= cap" row.
    sign = np.where(is_req, 1.0, -1.0)
    a_el = sp.hstack([rows.matrix, sp.diags_array(sign)], format="csr")
    integer = mip_time_limit_s is not None
    integrality = np.concatenate([np.full(n_p, 1.0 if integer else 0.0), np.zeros(m)])
    lb = np.concatenate([lower, np.zeros(m)])
    ub = np.concatenate([upper, np.full(m, np.inf)])
    zeros_x = np.zeros(n_p)
    w_req = is_req.astype(np.float64)

    def run(c_slack: F64, extra: list[tuple[Any, F64, F64]], c_x: F64 = zeros_x) -> Any:
        return _milp(
            np.concatenate([c_x, c_slack]),
            integrality,
            lb,
            ub,
            [(a_el, rows.lo, rows.hi), *extra],
            mip_time_limit_s,
            # The elastic objectives are violation totals; prove them minimal.
            0.0,
        )

    # Step 1: least total requirement shortfall, limits free.
    r1 = run(w_req, [])
    if r1.x is None:
        return None
    short_min = float(w_req @ r1.x[n_p:])

    # Step 2: keep that shortfall (plus solver tolerance), least total excess.
    def keep(weights: F64, total: float) -> tuple[Any, F64, F64]:
        row = sp.csr_array(np.concatenate([zeros_x, weights])[None, :])
        return row, np.array([-np.inf]), np.array([total + _KEEP_RTOL * (1.0 + total)])

    w_lim = 1.0 - w_req
    keep_short = keep(w_req, short_min)
    r2 = run(w_lim, [keep_short])
    if r2.x is None:
        return np.asarray(r1.x[:n_p], dtype=np.float64)
    if integer:
        return np.asarray(r2.x[:n_p], dtype=np.float64)
    # Step 3 (LP only; cheap there): the minimal relaxation is rarely unique, e.g. two
    # pools with the same limit can absorb the excess in any proportion.  Take the
    # cheapest plan among them, so the blame lands where the optimiser would want more
    # agents (usually the cheaper pool) instead of on an arbitrary vertex.
    r3 = run(np.zeros(m), [keep_short, keep(w_lim, float(w_lim @ r2.x[n_p:]))], pb.cost)
    x = r3.x if r3.x is not None else r2.x
    return np.asarray(x[:n_p], dtype=np.float64)


def _diagnose(pb: CoverProblem, rows: _Rows, x: F64 | None) -> tuple[Diagnosis, ...]:
    """One :class:`Diagnosis` per requirement group, for the cap, per (pool, day) cell.

    ``x`` is the elastic plan (possibly fractional); None gives no diagnosis.
    """
    if x is None:
        return ()
    act = rows.matrix @ x
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
    for c, label in enumerate([None, *(g[0] for g in pb.seat_groups)]):
        sel = np.flatnonzero(bad & (rows.kind == _CAP) & (rows.first == c))
        if sel.size:
            sel = sel[np.argsort(rows.second[sel], kind="stable")]
            out.append(
                Diagnosis(
                    kind="subaccount_cap",
                    intervals=tuple(int(k) for k in rows.second[sel]),
                    limit=tuple(float(v) for v in rhs[sel]),
                    value=tuple(float(v) for v in act[sel]),
                    group=label,
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
