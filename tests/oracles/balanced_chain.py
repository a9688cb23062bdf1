"""Birth-death chain for the PARALLEL chat discipline with an idealised balancing router.

Model (this is the documentation of what the simulation engine is claimed to be)
---------------------------------------------------------------------------------
Poisson arrivals of rate ``lam`` (per second). Each conversation is ONE buyer message needing
one reply. ``n`` agents, each may hold at most ``m`` chats ("slots"). A compose/handle
multiplier table ``mult[k]``, k = 1..m (non-decreasing, ``mult[1]`` may be 1), and a mean base
work ``c`` seconds (exponential). Buyers have exponential patience with rate ``theta`` (per
second; 1/mean patience; ``theta = 0`` means none). If every slot is taken an arriving chat
joins one central FIFO queue; when an agent's chat finishes, the agent first takes the head of
the central queue if it is non-empty (so its count stays), else its count drops by one.

The same PARALLEL (processor-sharing) discipline as ``oracles.parallel_chain`` (every chat
held by an agent with k chats finishes at rate 1/(c*mult[k]) per second; patience runs until
assignment, queued chats renege at rate theta each and are withdrawn), but with an IDEALISED
router that keeps the chats spread as evenly as possible at all times. State: the total number
j in service, 0..n*m, plus the queue length q (q > 0 only when j = n*m). With j in service,
r = j mod n agents hold floor(j/n)+1 and n-r hold floor(j/n); the total completion rate is
D(j) = sum over agents of k/(c*mult[k]) (per second; computed by an explicit loop over agents).
The birth-death generator is built as a sparse matrix and solved with
``scipy.sparse.linalg.spsolve``; the queue is truncated at a level K grown until the
stationary mass beyond it is < 1e-13 (the queue part hangs off the single state j = n*m, so the
truncated chain is the infinite one conditioned on q <= K and the tail mass is exact).

Outputs: as ``oracles.parallel_chain`` (``p_wait`` = P(all slots taken) by PASTA,
``p_abandon`` = theta*E[q]/lam, ``mean_queue`` = E[q], ``mean_wait_s`` = E[q]/lam seconds,
``slot_utilisation`` = E[j]/(n*m), ``mean_in_service`` = E[j], ``states``, ``K``, and the
silent-abandonment variant), plus service levels for a threshold ``t`` (seconds) computed by an
independent route. For an arrival that finds all slots full and i others waiting, its offered
wait V_i (time until assignment if it had infinite patience) is the absorption time of a
pure-death chain on positions with rates mu_full + l*theta for l = i, i-1, ..., 0 (the ones
ahead renege too; mu_full = n*m/(c*mult[m]) per second). P(V_i <= t) is computed per i with
``scipy.sparse.linalg.expm_multiply`` on that absorbing chain, and

    sl_offered = P(no wait) + sum_i P(find i waiting) * P(V_i <= t),
    sl_served  = P(served and wait <= t)
               = P(no wait) + sum_i P(find i waiting) * P(V_i <= t and V_i < T_own),

where T_own ~ exp(theta) is the arrival's own patience: the second term is the probability of
absorption BY SERVICE by time t in the same absorbing chain with an extra exit at rate theta
(own reneging) from every position. Also ``mean_offered_wait_s`` = sum_i P(find i) E[V_i]
(seconds, averaged over all arrivals; arrivals that find a free slot contribute 0), with
E[V_i] = sum_{l=0}^{i} 1/(mu_full + l*theta).

In the silent variant nobody reneges, so the chain ahead of the arrival has rates mu_full only
(V_i is Erlang(i+1, mu_full)) while the arrival's own exp(theta) patience still decides
``sl_served``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csc_matrix, diags, vstack
from scipy.sparse.linalg import expm_multiply, spsolve

TAIL_MASS = 1e-13
"""Bound on the stationary mass beyond the queue truncation level K."""

_K_LIMIT = 1 << 22

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BalancedResult:
    """Stationary metrics of the balanced-router birth-death chain.

    Attributes
    ----------
    p_wait : float
        Probability that an arrival finds every slot taken (j = n*m), by PASTA.
    p_abandon : float
        Share of arrivals that renege from the queue, theta*E[q]/lam (0.0 when silent).
    mean_queue : float
        E[q], mean central-queue length (chats).
    mean_wait_s : float
        E[q]/lam, mean wait until assignment in seconds over all arrivals.
    slot_utilisation : float
        E[j]/(n*m), dimensionless.
    mean_in_service : float
        E[j], mean number of chats held by agents.
    states : int
        Number of states of the truncated chain.
    K : int
        Queue truncation level.
    tail_mass : float
        Stationary mass of the untruncated chain beyond K (< 1e-13).
    t_s : float
        Service-level threshold, seconds.
    sl_served : float
        P(served with wait until assignment <= t_s), over all arrivals.
    sl_offered : float
        P(offered wait V <= t_s), over all arrivals (V = 0 for those finding a free slot).
    mean_offered_wait_s : float
        E[V], mean offered wait in seconds over all arrivals.
    p_abandon_silent : float | None
        Silent variant only: share of arrivals whose wait exceeds their patience.
    """

    p_wait: float
    p_abandon: float
    mean_queue: float
    mean_wait_s: float
    slot_utilisation: float
    mean_in_service: float
    states: int
    K: int
    tail_mass: float
    t_s: float
    sl_served: float
    sl_offered: float
    mean_offered_wait_s: float
    p_abandon_silent: float | None = None


def departure_rate(j: int, n: int, h: Sequence[float]) -> float:
    """Total completion rate D(j) with j chats spread as evenly as possible over n agents.

    Parameters
    ----------
    j : int
        Chats in service, 0..n*m.
    n : int
        Number of agents.
    h : Sequence[float]
        Handle times, seconds: ``h[k-1]`` = c*mult[k] is the mean time of one chat held by an
        agent with k chats.

    Returns
    -------
    float
        D(j) = sum over agents of k/h[k-1], per second (explicit loop over agents).
    """
    floor, r = divmod(j, n)
    total = 0.0
    for agent in range(n):
        k = floor + 1 if agent < r else floor
        if k > 0:
            total += k / h[k - 1]
    return total


def _tail_sum(lam: float, mu_full: float, theta_dyn: float, k: int) -> float:
    """S_K = sum_{j>=1} prod_{i=K+1}^{K+j} lam/(mu_full + i*theta_dyn) (dimensionless)."""
    if theta_dyn == 0.0:
        r = lam / mu_full
        return r / (1.0 - r)
    total, term, i = 0.0, 1.0, k
    while True:
        i += 1
        term *= lam / (mu_full + i * theta_dyn)
        total += term
        if term <= 1e-18 * total or term < 1e-300:
            return total


def _needed_k(lam: float, mu_full: float, theta_dyn: float, p_top: float) -> int:
    """Smallest K whose exact tail mass p_top * sum_{j>K} prod_{i=1}^{j} ratio_i is < 1e-13.

    ``p_top`` is the stationary probability of the state at the top of the slots (every slot
    taken, q = 0) of the untruncated chain; ratio_i = lam/(mu_full + i*theta_dyn).
    """
    terms: list[float] = []
    term = p_top
    i = 0
    while True:  # terms p_top * prod_{i=1}^{j} ratio_i, j = 1, 2, ...
        i += 1
        term *= lam / (mu_full + i * theta_dyn)
        terms.append(term)
        if i > 8 and (term < 1e-300 or (term <= 1e-6 * TAIL_MASS and term <= terms[-2])):
            break
    tail = 0.0
    for j in range(len(terms), 0, -1):  # tail beyond K = j - 1 is terms[j-1] + tail beyond j
        tail += terms[j - 1]
        if tail >= 0.5 * TAIL_MASS:
            return j
    return 1


def _stationary(up: FloatArray, down: FloatArray) -> FloatArray:
    """Stationary law of a birth-death chain on 0..L from its sparse generator (spsolve).

    ``up[x]`` is the rate x -> x+1 (length L), ``down[x]`` the rate x+1 -> x (length L).
    """
    size = up.size + 1
    gen = diags([up, down], [1, -1], shape=(size, size), format="csr")
    out = np.zeros(size)
    out[:-1] += up
    out[1:] += down
    gen = gen - diags(out, 0, shape=(size, size), format="csr")
    a_mat = vstack([gen.T.tocsr()[:-1], np.ones((1, size))], format="csc")
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    return np.asarray(spsolve(csc_matrix(a_mat), rhs, permc_spec="NATURAL"), dtype=float)


def _absorption_by_service(
    k_level: int, mu_full: float, theta_ahead: float, theta_own: float, t_s: float
) -> FloatArray:
    """P(absorbed by service by time t_s | start with l chats ahead), l = 0..k_level.

    Transient states are positions l = 0..K (number of chats ahead). From l the arrival moves
    to l-1 (to "served" when l = 0) at rate mu_full + l*theta_ahead; with ``theta_own > 0``
    there is an extra exit at rate theta_own to "reneged". Backward equation:
    u(t) = exp(Q t) 1_served, one ``expm_multiply`` for all starting positions.
    """
    size = k_level + 3  # positions 0..K, served (K+1), reneged (K+2)
    served, reneged = k_level + 1, k_level + 2
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for pos in range(k_level + 1):
        rate = mu_full + pos * theta_ahead
        rows.append(pos)
        cols.append(served if pos == 0 else pos - 1)
        vals.append(rate)
        total = rate
        if theta_own > 0.0:
            rows.append(pos)
            cols.append(reneged)
            vals.append(theta_own)
            total += theta_own
        rows.append(pos)
        cols.append(pos)
        vals.append(-total)
    gen = csc_matrix(coo_matrix((vals, (rows, cols)), shape=(size, size)))
    indicator = np.zeros(size)
    indicator[served] = 1.0
    if t_s == 0.0:
        return np.zeros(k_level + 1)
    u = np.asarray(expm_multiply(gen * t_s, indicator), dtype=float)
    return u[: k_level + 1]


def balanced_chain(
    lam: float,
    n: int,
    m: int,
    c: float,
    mult: Sequence[float],
    theta: float,
    t_s: float,
    *,
    silent: bool = False,
) -> BalancedResult:
    """Solve the balanced-router parallel chain and its service levels at threshold ``t_s``.

    Parameters
    ----------
    lam : float
        Poisson arrival rate, per second (> 0).
    n : int
        Number of agents (>= 1).
    m : int
        Slots per agent (>= 1).
    c : float
        Mean base work, seconds (> 0).
    mult : Sequence[float]
        Multipliers, ``mult[k-1]`` for k = 1..m chats held (positive, non-decreasing).
    theta : float
        Patience rate, per second (0 means no abandonment).
    t_s : float
        Service-level threshold, seconds (>= 0).
    silent : bool, optional
        No reneging; ``p_abandon_silent`` counts waits longer than the exp(theta) patience.

    Returns
    -------
    BalancedResult
        Stationary metrics and service levels.

    Raises
    ------
    ValueError
        On invalid inputs or an unstable queue without reneging.
    """
    if not (lam > 0.0 and math.isfinite(lam)):
        raise ValueError("lam must be positive and finite")
    if n < 1 or m < 1:
        raise ValueError("n and m must be at least 1")
    if not (theta >= 0.0 and math.isfinite(theta)):
        raise ValueError("theta must be >= 0 and finite")
    if not (t_s >= 0.0 and math.isfinite(t_s)):
        raise ValueError("t_s must be >= 0 and finite")
    if len(mult) != m:
        raise ValueError(f"mult must have m={m} entries, got {len(mult)}")
    h = [float(c) * float(x) for x in mult]
    if not all(math.isfinite(x) and x > 0.0 for x in h):
        raise ValueError("c and every mult[k] must be positive and finite")
    if any(h[i + 1] < h[i] for i in range(m - 1)):
        raise ValueError("mult must be non-decreasing")
    slots = n * m
    mu_full = departure_rate(slots, n, h)  # = n*m/(c*mult[m])
    theta_dyn = 0.0 if silent else float(theta)
    if theta_dyn == 0.0 and lam >= mu_full:
        raise ValueError(
            f"unstable without reneging: lam={lam} >= n*m/(c*mult[m])={mu_full} per second"
        )
    d_in_service = np.array([departure_rate(j, n, h) for j in range(1, slots + 1)])

    # a first K from the bound P(top state) <= 1; grown below if the exact tail is too big
    k_level = _needed_k(lam, mu_full, theta_dyn, 1.0)
    while True:
        q_levels = np.arange(1, k_level + 1, dtype=float)
        down = np.concatenate((d_in_service, mu_full + q_levels * theta_dyn))
        up = np.full(down.size, lam)
        pi = _stationary(up, down)
        pi_k = float(pi[-1])
        s_k = _tail_sum(lam, mu_full, theta_dyn, k_level)
        tail = pi_k * s_k / (1.0 + pi_k * s_k)
        if tail < TAIL_MASS:
            break
        # the untruncated top state's probability, then the exact K needed for the tail
        p_top = float(pi[slots]) / (1.0 + pi_k * s_k)
        k_level = max(_needed_k(lam, mu_full, theta_dyn, p_top), k_level + 1)
        if k_level > _K_LIMIT:  # pragma: no cover - guarded by the stability check
            raise RuntimeError("queue truncation level grew without bound")

    j_all = np.arange(pi.size, dtype=float)
    in_service = np.minimum(j_all, slots)
    queue = np.maximum(j_all - slots, 0.0)
    mean_queue = float(pi @ queue)
    mean_in_service = float(pi @ in_service)
    p_no_wait = float(pi[:slots].sum())
    p_find = pi[slots:]  # P(arrival finds all slots full and i waiting), i = 0..K
    p_wait = float(p_find.sum())

    u_offered = _absorption_by_service(k_level, mu_full, theta_dyn, 0.0, t_s)
    u_served = _absorption_by_service(k_level, mu_full, theta_dyn, float(theta), t_s)
    positions = np.arange(k_level + 1, dtype=float)
    mean_v = np.cumsum(1.0 / (mu_full + positions * theta_dyn))  # E[V_i], seconds

    p_silent: float | None = None
    if silent:
        ratio = mu_full / (mu_full + theta)
        p_silent = float(p_find @ (1.0 - ratio ** (positions + 1.0)))
    return BalancedResult(
        p_wait=p_wait,
        p_abandon=theta_dyn * mean_queue / lam,
        mean_queue=mean_queue,
        mean_wait_s=mean_queue / lam,
        slot_utilisation=mean_in_service / slots,
        mean_in_service=mean_in_service,
        states=int(pi.size),
        K=k_level,
        tail_mass=tail,
        t_s=float(t_s),
        sl_served=p_no_wait + float(p_find @ u_served),
        sl_offered=p_no_wait + float(p_find @ u_offered),
        mean_offered_wait_s=float(p_find @ mean_v),
        p_abandon_silent=p_silent,
    )
