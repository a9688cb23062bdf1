"""Kolmogorov forward equations for a time-varying M_t/M/s_t+M queue with staffing changes.

Model (this is the documentation of what the simulation engine is claimed to be)
---------------------------------------------------------------------------------
Time-varying M_t/M/s_t+M at concurrency 1 (one chat per agent), solved by the Kolmogorov
forward equations with ``scipy.integrate.solve_ivp`` (method "BDF" with a sparse Jacobian;
rtol 1e-8, atol 1e-11), starting empty at t = 0. Inputs: a piecewise-constant arrival rate
``lam_k`` (per second) on bins [k*bin_s, (k+1)*bin_s); service rate ``mu`` (per second,
exponential); reneging rate ``theta`` (per second); and a staffing schedule given as a list of
phases, each (t_start, agents, kind, grace_s): at t_start (seconds) the number of agents online
changes to ``agents``. The first phase starts at t = 0 and sets the initial staffing (the system
is empty then, so its kind does not matter).

- kind "hand_back": agents that leave hand their chat (if busy) back to the HEAD of the queue;
  handed-back chats never renege (their buyer already has an agent's attention) and are taken
  before fresh queued chats; after the change the system is work-conserving again (a free agent
  takes the queue head at once; new agents take from the queue at once). Which agents leave does
  not matter: with work conservation the result is N -> min(N, agents), Qh -> Qh + (N - min(N,
  agents)), followed by new agents taking from the queue. ``grace_s`` is ignored.
- kind "handover": ALL agents online before t_start leave at t_start (they stop taking new
  chats) and ``agents`` new agents start (and, being free, take from the queue at once, handed-
  back chats first); each leaving busy agent keeps working its one chat for at most grace_s
  seconds (finishing at rate mu), and at t_start + grace_s the chats still unfinished go back to
  the head of the queue (then the free new agents take them at once). grace_s must be smaller
  than the time to the next phase; grace_s = 0 hands every chat back at t_start.

Fresh queued chats renege at rate theta each. State: (G = leaving agents still busy in grace,
N = busy current agents, Qh = handed-back waiting, Qf = fresh waiting), with Qh + Qf > 0 only
when N = current agents. Within a phase an arrival is taken by a free current agent if there is
one, otherwise it joins the queue as a fresh chat; a current agent that finishes takes a
handed-back chat if any, else a fresh one, else becomes free; an agent in grace that finishes
leaves. Qh never grows between events, so its range is bounded by the chats that can have been
handed back; to keep the chain small, at every break point the top Qh levels that each carry
less than 1e-15 probability are folded into the highest kept level (``pruned_mass`` reports the
total moved, far below the ODE tolerances). Qf is truncated at ``qf_max`` (arrivals blocked
there): by default the smallest level L with P(X >= L) < 1e-12 for
X ~ Poisson(min(Lambda, max(lam)/theta)), where Lambda is the expected number of arrivals up to
the end time -- Qf is stochastically dominated both by the number of arrivals and, when
theta > 0, by an M_t/M/infinity queue with service rate theta started empty (each fresh waiting
chat leaves at rate >= theta). The probability mass at
the truncation level is checked along the solution (< 1e-10, else ``ValueError``).

Outputs per reporting interval [k*interval_s, (k+1)*interval_s) up to the end time (the last
interval may be shorter and is averaged over its own length):

- ``p_delay[k]`` = (integral of lam(t) * P(N(t) = agents(t), i.e. no free current agent) dt) /
  (integral of lam(t) dt): an arrival waits when no current agent is free (leaving agents in
  grace take nothing new); NaN if no arrivals are expected in the interval;
- ``mean_queue[k]`` = time-average of E[Qh + Qf] (chats);
- ``mean_busy[k]`` = time-average of E[N + G] (agents);
- ``online[k]`` = time-average of agents online counting leaving agents still busy in grace
  (agents(t) + E[G]).

The integrals are computed by augmenting the ODE with quadrature components (accumulators). The
ODE is integrated segment by segment between all break points (arrival-rate bins, reporting
intervals, phase starts, grace ends); on each segment the generator is constant.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp
from scipy.sparse import bmat, coo_matrix, csc_matrix, csr_matrix
from scipy.special import pdtrc

RTOL = 1e-8
ATOL = 1e-11
TRUNCATION_TAIL = 1e-12
"""Poisson tail probability used to choose the default fresh-queue truncation level."""
TRUNCATION_CHECK = 1e-10
"""Largest probability mass allowed at the fresh-queue truncation level along the solution."""
PRUNE_MASS = 1e-15
"""Handed-back levels above the last one carrying more than this are folded into it."""

Kind = Literal["hand_back", "handover"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Coords = tuple[IntArray, IntArray, IntArray, IntArray]


class Phase(NamedTuple):
    """One staffing phase.

    Attributes
    ----------
    t_start_s : float
        Start of the phase, seconds.
    agents : int
        Agents online from ``t_start_s`` on.
    kind : {"hand_back", "handover"}
        How the change at ``t_start_s`` happens (see the module docstring).
    grace_s : float
        Handover only: how long leaving agents keep working their chat, seconds.
    """

    t_start_s: float
    agents: int
    kind: Kind = "hand_back"
    grace_s: float = 0.0


@dataclass(frozen=True, eq=False)
class ForwardResult:
    """Interval metrics of the forward-equation solution.

    Attributes
    ----------
    interval_start_s : numpy.ndarray
        Start of each reporting interval, seconds.
    interval_length_s : numpy.ndarray
        Length of each reporting interval, seconds (the last may be shorter).
    p_delay : numpy.ndarray
        Arrival-weighted probability that no current agent is free, per interval.
    mean_queue : numpy.ndarray
        Time-average of E[Qh + Qf] per interval (chats).
    mean_busy : numpy.ndarray
        Time-average of E[N + G] per interval (agents).
    online : numpy.ndarray
        Time-average of agents(t) + E[G] per interval (agents).
    qf_max : int
        Truncation level of the fresh queue.
    max_states : int
        Largest number of states of any segment's chain.
    max_truncation_mass : float
        Largest probability mass found at Qf = qf_max along the solution.
    max_mass_error : float
        Largest |sum of probabilities - 1| found along the solution.
    pruned_mass : float
        Total probability moved down from negligible handed-back levels (each level folded
        carried less than 1e-15; see the module docstring).
    """

    interval_start_s: FloatArray
    interval_length_s: FloatArray
    p_delay: FloatArray
    mean_queue: FloatArray
    mean_busy: FloatArray
    online: FloatArray
    qf_max: int
    max_states: int
    max_truncation_mass: float
    max_mass_error: float
    pruned_mass: float


@dataclass(frozen=True)
class _Layout:
    """State layout of one segment: s current agents, G <= g, Qh <= h, Qf <= lf."""

    s: int
    g: int
    h: int
    lf: int

    @property
    def block(self) -> int:
        return self.s + (self.h + 1) * (self.lf + 1)

    @property
    def size(self) -> int:
        return (self.g + 1) * self.block

    def coords(self) -> Coords:
        idx = np.arange(self.size, dtype=np.int64)
        g, r = np.divmod(idx, self.block)
        low = r < self.s
        rest = np.maximum(r - self.s, 0)
        n = np.where(low, r, self.s)
        qh = np.where(low, 0, rest // (self.lf + 1))
        qf = np.where(low, 0, rest % (self.lf + 1))
        return g, n, qh, qf

    def index(self, g: IntArray, n: IntArray, qh: IntArray, qf: IntArray) -> IntArray:
        if (
            np.any(g < 0)
            or np.any(g > self.g)
            or np.any(n < 0)
            or np.any(n > self.s)
            or np.any(qh < 0)
            or np.any(qh > self.h)
            or np.any(qf < 0)
            or np.any(qf > self.lf)
            or np.any((n < self.s) & ((qh > 0) | (qf > 0)))
        ):
            raise AssertionError("state outside the layout")  # pragma: no cover
        pos = np.where(n < self.s, n, self.s + qh * (self.lf + 1) + qf)
        return np.asarray(g * self.block + pos, dtype=np.int64)


def _generator(lay: _Layout, lam: float, mu: float, theta: float) -> csr_matrix:
    """Generator Q (rates per second, Q[i, j] for i -> j) of one segment."""
    g, n, qh, qf = lay.coords()
    idx = np.arange(lay.size, dtype=np.int64)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []

    def add(mask: npt.NDArray[np.bool_], target: Coords, rate: npt.ArrayLike) -> None:
        """Transitions from the states in ``mask`` to ``target`` (coordinates of those states)."""
        if np.any(mask):
            rows.append(idx[mask])
            cols.append(lay.index(*target))
            vals.append(np.asarray(rate, dtype=float))

    free = n < lay.s
    if lam > 0.0:  # taken by a free current agent, else joins the fresh queue
        m = free
        add(m, (g[m], n[m] + 1, qh[m], qf[m]), np.full(int(m.sum()), lam))
        m = ~free & (qf < lay.lf)
        add(m, (g[m], n[m], qh[m], qf[m] + 1), np.full(int(m.sum()), lam))
    # current agent finishes: takes a handed-back chat, else a fresh one, else becomes free
    m = (n >= 1) & (qh > 0)
    add(m, (g[m], n[m], qh[m] - 1, qf[m]), n[m] * mu)
    m = (n >= 1) & (qh == 0) & (qf > 0)
    add(m, (g[m], n[m], qh[m], qf[m] - 1), n[m] * mu)
    m = (n >= 1) & (qh == 0) & (qf == 0)
    add(m, (g[m], n[m] - 1, qh[m], qf[m]), n[m] * mu)
    m = g >= 1  # an agent in grace finishes and leaves
    add(m, (g[m] - 1, n[m], qh[m], qf[m]), g[m] * mu)
    if theta > 0.0:  # fresh waiting chats renege
        m = qf >= 1
        add(m, (g[m], n[m], qh[m], qf[m] - 1), qf[m] * theta)
    size = lay.size
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    off = coo_matrix((v, (r, c)), shape=(size, size)).tocsr()
    out = np.asarray(off.sum(axis=1)).ravel()
    diag = coo_matrix((out, (np.arange(size), np.arange(size))), shape=(size, size))
    return csr_matrix(off - diag)


def _fill(n: IntArray, qh: IntArray, qf: IntArray, s: int) -> tuple[IntArray, IntArray, IntArray]:
    """Free current agents take from the queue at once, handed-back chats first."""
    free = np.maximum(s - n, 0)
    take_h = np.minimum(free, qh)
    take_f = np.minimum(free - take_h, qf)
    return n + take_h + take_f, qh - take_h, qf - take_f


def _remap(p: FloatArray, old: _Layout, new: _Layout, fn: Callable[[Coords], Coords]) -> FloatArray:
    """Move the probability of every old state to the new state ``fn`` assigns it."""
    target = new.index(*fn(old.coords()))
    return np.bincount(target, weights=p, minlength=new.size).astype(float)


def _prune_handed_back(lay: _Layout, p: FloatArray) -> tuple[_Layout, FloatArray, float]:
    """Drop the top handed-back levels whose total probability is below ``PRUNE_MASS`` each.

    Their probability is moved to the same state with Qh at the highest kept level (still a
    valid state: Qh > 0 only with N = s). Returns the new layout, distribution, mass moved.
    """
    if lay.h == 0:
        return lay, p, 0.0
    _g, _n, qh, _qf = lay.coords()
    level_mass = np.bincount(qh, weights=np.abs(p), minlength=lay.h + 1)
    above = np.nonzero(level_mass > PRUNE_MASS)[0]
    keep = int(above.max()) if above.size else 0
    if keep == lay.h:
        return lay, p, 0.0
    moved = float(p[qh > keep].sum())
    new = _Layout(lay.s, lay.g, keep, lay.lf)
    out = _remap(p, lay, new, lambda x: (x[0], x[1], np.minimum(x[2], keep), x[3]))
    return new, out, moved


def _validate_phases(phases: Sequence[Phase | tuple[float, int, str, float]]) -> list[Phase]:
    out: list[Phase] = []
    for raw in phases:
        ph = raw if isinstance(raw, Phase) else Phase(*raw)  # type: ignore[arg-type]
        if ph.kind not in ("hand_back", "handover"):
            raise ValueError(f"unknown phase kind {ph.kind!r}")
        if int(ph.agents) != ph.agents or ph.agents < 0:
            raise ValueError("agents must be a non-negative integer")
        if not (ph.grace_s >= 0.0 and math.isfinite(ph.grace_s)):
            raise ValueError("grace_s must be >= 0 and finite")
        out.append(Phase(float(ph.t_start_s), int(ph.agents), ph.kind, float(ph.grace_s)))
    if not out or out[0].t_start_s != 0.0:
        raise ValueError("the first phase must start at t = 0")
    for a, b in itertools.pairwise(out):
        if not b.t_start_s > a.t_start_s:
            raise ValueError("phase starts must be strictly increasing")
        if a.kind == "handover" and not a.grace_s < b.t_start_s - a.t_start_s:
            raise ValueError("grace_s must be smaller than the time to the next phase")
    return out


def forward_equations(
    lam_per_s: Sequence[float],
    bin_s: float,
    mu: float,
    theta: float,
    phases: Sequence[Phase | tuple[float, int, str, float]],
    *,
    interval_s: float,
    end_s: float,
    qf_max: int | None = None,
) -> ForwardResult:
    """Solve the forward equations of the time-varying M_t/M/s_t+M queue from empty.

    Parameters
    ----------
    lam_per_s : Sequence[float]
        Arrival rate per second on bins [k*bin_s, (k+1)*bin_s); must cover [0, end_s).
    bin_s : float
        Width of an arrival-rate bin, seconds.
    mu : float
        Service rate per agent, per second (> 0).
    theta : float
        Reneging rate of a fresh waiting chat, per second (>= 0).
    phases : Sequence[Phase | tuple]
        Staffing schedule (t_start_s, agents, kind, grace_s); the first starts at 0.
    interval_s : float
        Reporting interval, seconds.
    end_s : float
        End time, seconds.
    qf_max : int | None, optional
        Fresh-queue truncation level; by default chosen from a Poisson bound (module docstring).

    Returns
    -------
    ForwardResult
        Per-interval p_delay, mean_queue, mean_busy and online, plus solver diagnostics.

    Raises
    ------
    ValueError
        On invalid inputs, or if the mass at the truncation level reaches 1e-10.
    """
    lam = np.asarray(lam_per_s, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0.0):
        raise ValueError("lam_per_s must be a non-empty sequence of finite rates >= 0")
    for name, value in (("bin_s", bin_s), ("mu", mu), ("interval_s", interval_s), ("end_s", end_s)):
        if not (value > 0.0 and math.isfinite(value)):
            raise ValueError(f"{name} must be positive and finite")
    if not (theta >= 0.0 and math.isfinite(theta)):
        raise ValueError("theta must be >= 0 and finite")
    tol = 1e-12 * max(1.0, end_s)  # break points closer than this are merged
    if lam.size * bin_s < end_s - tol:
        raise ValueError("lam_per_s does not cover [0, end_s)")
    plan = _validate_phases(phases)

    # ---- fresh-queue truncation
    edges = np.arange(lam.size + 1) * bin_s
    overlap = np.clip(np.minimum(edges[1:], end_s) - edges[:-1], 0.0, None)
    expected = float(lam @ overlap)
    bound = expected if theta == 0.0 else min(expected, float(lam.max()) / theta)
    if qf_max is None:
        lf = 1
        while pdtrc(lf - 1, bound) >= TRUNCATION_TAIL:
            lf += 1
    else:
        lf = int(qf_max)
        if lf < 1:
            raise ValueError("qf_max must be >= 1")

    # ---- break points and events
    events: dict[float, list[tuple[str, Phase]]] = {}
    points = [0.0, end_s]
    points += [k * bin_s for k in range(1, lam.size) if k * bin_s < end_s]
    n_int = max(1, math.ceil(end_s / interval_s - 1e-9))
    points += [k * interval_s for k in range(1, n_int)]
    for ph in plan[1:]:
        if ph.t_start_s < end_s:
            points.append(ph.t_start_s)
    for ph in plan:
        if ph.kind == "handover" and ph.t_start_s > 0.0 and ph.grace_s > tol:
            if ph.t_start_s + ph.grace_s < end_s:
                points.append(ph.t_start_s + ph.grace_s)
    points.sort()
    grid: list[float] = []
    for x in points:
        if not grid or x - grid[-1] > tol:
            grid.append(x)
    grid[-1] = end_s

    def at(x: float) -> float:
        return min(grid, key=lambda y: abs(y - x))

    for ph in plan[1:]:
        if ph.t_start_s < end_s - tol:
            events.setdefault(at(ph.t_start_s), []).append(("phase", ph))
            if ph.kind == "handover" and ph.grace_s > tol and ph.t_start_s + ph.grace_s < end_s:
                events.setdefault(at(ph.t_start_s + ph.grace_s), []).insert(0, ("grace", ph))

    # ---- integrate
    lay = _Layout(plan[0].agents, 0, 0, lf)
    p = np.zeros(lay.size)
    p[0] = 1.0  # empty system (G = N = Qh = Qf = 0)
    starts = np.arange(n_int) * interval_s
    lengths = np.minimum(starts + interval_s, end_s) - starts
    num_delay = np.zeros(n_int)
    den_delay = np.zeros(n_int)
    acc_queue = np.zeros(n_int)
    acc_busy = np.zeros(n_int)
    acc_online = np.zeros(n_int)
    max_states = lay.size
    max_trunc = 0.0
    max_mass_err = 0.0
    pruned = 0.0

    for a, b in itertools.pairwise(grid):
        for what, ph in events.get(a, []):
            old = lay
            if what == "grace":
                lay = _Layout(old.s, 0, old.h + old.g, lf)
                p = _remap(p, old, lay, partial(_grace_end, s=old.s))
            elif ph.kind == "hand_back":
                if old.g != 0:  # pragma: no cover - excluded by the grace check
                    raise AssertionError("hand_back during a grace period")
                lay = _Layout(ph.agents, 0, old.h + max(0, old.s - ph.agents), lf)
                p = _remap(p, old, lay, partial(_hand_back, s=ph.agents))
            else:
                lay = _Layout(ph.agents, old.s, old.h, lf)
                p = _remap(p, old, lay, partial(_handover, s=ph.agents))
                if ph.grace_s <= tol:  # no (or a negligible) grace: hand back at once
                    old = lay
                    lay = _Layout(old.s, 0, old.h + old.g, lf)
                    p = _remap(p, old, lay, partial(_grace_end, s=old.s))
        lay, p, folded = _prune_handed_back(lay, p)
        pruned += folded
        max_states = max(max_states, lay.size)
        mid = 0.5 * (a + b)
        rate = float(lam[min(int(mid // bin_s), lam.size - 1)])
        k = min(int(mid // interval_s), n_int - 1)
        gen = _generator(lay, rate, mu, theta)
        g, n, qh, qf = lay.coords()
        weights = np.vstack(
            [
                rate * (n == lay.s).astype(float),  # arrivals that find no free current agent
                (qh + qf).astype(float),
                (n + g).astype(float),
                g.astype(float),
            ]
        )
        m_aug = csc_matrix(
            bmat(
                [
                    [gen.T, csr_matrix((lay.size, 4))],
                    [csr_matrix(weights), csr_matrix((4, 4))],
                ],
                format="csc",
            )
        )
        # Newton matrix without the quadrature rows: their dense rows would make the sparse LU
        # fill in badly; the accumulators are linear in p, so Newton still converges (one extra
        # iteration) and accuracy is governed by the error control, not the Jacobian.
        jac = csc_matrix(
            bmat(
                [
                    [gen.T, csr_matrix((lay.size, 4))],
                    [csr_matrix((4, lay.size)), csr_matrix((4, 4))],
                ],
                format="csc",
            )
        )
        y0 = np.concatenate((p, np.zeros(4)))
        span = b - a
        sol = solve_ivp(
            lambda _t, y, mat=m_aug: mat @ y,
            (0.0, span),
            y0,
            method="BDF",
            jac=jac,
            rtol=RTOL,
            atol=ATOL,
            t_eval=np.linspace(0.0, span, 5)[1:],
        )
        if not sol.success:  # pragma: no cover
            raise RuntimeError(f"solve_ivp failed on [{a}, {b}]: {sol.message}")
        trunc = qf == lf
        for col in range(sol.y.shape[1]):
            probs = sol.y[: lay.size, col]
            max_mass_err = max(max_mass_err, abs(float(probs.sum()) - 1.0))
            max_trunc = max(max_trunc, float(probs[trunc].sum()))
        yend = sol.y[:, -1]
        p = np.array(yend[: lay.size])
        num_delay[k] += yend[lay.size]
        den_delay[k] += rate * span
        acc_queue[k] += yend[lay.size + 1]
        acc_busy[k] += yend[lay.size + 2]
        acc_online[k] += lay.s * span + yend[lay.size + 3]

    if max_trunc >= TRUNCATION_CHECK:
        raise ValueError(
            f"mass {max_trunc:.3g} at the fresh-queue truncation level {lf}; raise qf_max"
        )
    safe = np.where(den_delay > 0.0, den_delay, 1.0)
    p_delay = np.where(den_delay > 0.0, num_delay / safe, np.nan)
    return ForwardResult(
        interval_start_s=starts.astype(float),
        interval_length_s=lengths.astype(float),
        p_delay=p_delay,
        mean_queue=acc_queue / lengths,
        mean_busy=acc_busy / lengths,
        online=acc_online / lengths,
        qf_max=lf,
        max_states=max_states,
        max_truncation_mass=max_trunc,
        max_mass_error=max_mass_err,
        pruned_mass=pruned,
    )


def _hand_back(x: Coords, s: int) -> Coords:
    """Staffing changes to s: leaving busy agents hand their chat back to the queue head."""
    g, n, qh, qf = x
    keep = np.minimum(n, s)
    n2, qh2, qf2 = _fill(keep, qh + (n - keep), qf, s)
    return g, n2, qh2, qf2


def _handover(x: Coords, s: int) -> Coords:
    """All current agents leave (busy ones into grace); s new agents take from the queue."""
    _g, n, qh, qf = x
    n2, qh2, qf2 = _fill(np.zeros_like(n), qh, qf, s)
    return n, n2, qh2, qf2


def _grace_end(x: Coords, s: int) -> Coords:
    """Grace over: unfinished chats go to the queue head; free current agents take them."""
    g, n, qh, qf = x
    n2, qh2, qf2 = _fill(n, qh + g, qf, s)
    return np.zeros_like(g), n2, qh2, qf2
