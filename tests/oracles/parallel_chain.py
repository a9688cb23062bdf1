"""Exact per-agent Markov chain for the PARALLEL (processor-sharing) chat discipline.

Model (this is the documentation of what the simulation engine is claimed to be)
---------------------------------------------------------------------------------
Poisson arrivals of rate ``lam`` (per second). Each conversation is ONE buyer message needing
one reply. ``n`` agents, each may hold at most ``m`` chats ("slots"). A compose/handle
multiplier table ``mult[k]``, k = 1..m (non-decreasing, ``mult[1]`` may be 1), and a mean base
work ``c`` seconds (exponential). Buyers have exponential patience with rate ``theta`` (per
second; 1/mean patience; ``theta = 0`` means none). Routing "least_loaded": an arriving chat
goes to an agent holding the fewest chats among those below m; if every agent holds m, it
joins one central FIFO queue. When an agent's chat finishes, the agent first takes the head of
the central queue if it is non-empty (so its count stays), else its count drops by one.

PARALLEL (processor-sharing) discipline, exact per-agent chain. Every chat held by an agent
with k chats is worked on at once and finishes at rate 1/(c*mult[k]) (per second; so the agent
completes at total rate k/(c*mult[k])). Patience runs until the chat is ASSIGNED to an agent:
queued chats renege at rate theta each and are withdrawn (gone).

State: the multiset of per-agent counts (agents are exchangeable, so a sorted tuple) plus the
queue length q (q > 0 only when all counts are m). The queue is truncated at a level K chosen
so that the stationary mass beyond it is < 1e-13 (K is grown until the tail mass is below
that; K is reported). The sparse generator is built and pi Q = 0 is solved with a
normalisation row (``scipy.sparse.linalg.spsolve``).

Outputs: ``p_wait`` = P(an arrival finds every slot taken) = P(all counts m) (PASTA);
``p_abandon`` = theta*E[q]/lam; ``mean_queue`` = E[q]; ``mean_wait_s`` = E[q]/lam (seconds;
wait until assignment averaged over all arrivals including abandoners); ``slot_utilisation``
= E[sum of counts]/(n*m); ``mean_in_service`` = E[sum of counts]; ``states``; ``K``.

Silent-abandonment variant (``silent=True``): the same dynamics but with no reneging at all
(queued chats stay and are served; requires lam < n*m/(c*mult[m]), else ``ValueError``); a
buyer counts as abandoned when its wait until assignment exceeds its exp(theta) patience:

    p_abandon_silent = sum over states with all counts m and queue q of
                       pi(state) * (1 - (mu_full/(mu_full+theta))**(q+1)),

with mu_full = n*m/(c*mult[m]) (per second): with every slot full the agents complete at total
rate mu_full and the arrival needs q+1 completions.

Truncation detail
-----------------
All states with q >= 1 have every count at m and form a birth-death chain hanging off the single
state (m, ..., m; q = 0): up rate lam, down rate mu_full + q*theta. Hence the truncated chain
(arrivals blocked at q = K) is exactly the infinite chain conditioned on q <= K, and the mass of
the infinite chain beyond K is pi_K*S_K/(1 + pi_K*S_K), where
S_K = sum_{j>=1} prod_{i=K+1}^{K+j} lam/(mu_full + i*theta). That is the ``tail_mass`` reported.
The first K is the smallest with tail < 1e-13 under the bound P(top state) <= 1; should the exact
tail after the solve not be below 1e-13, K is grown (to the exact requirement computed from the
untruncated top-state probability) and the chain is solved again. (In the silent variant theta
is replaced by 0 in these rates.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csc_matrix, vstack
from scipy.sparse.linalg import spsolve

TAIL_MASS = 1e-13
"""Bound on the stationary mass beyond the queue truncation level K."""

_K_LIMIT = 1 << 22

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChainResult:
    """Stationary metrics of the parallel (processor-sharing) per-agent chain.

    Attributes
    ----------
    p_wait : float
        Probability that an arrival finds every slot taken (all counts m), by PASTA.
    p_abandon : float
        Share of arrivals that renege from the central queue, theta*E[q]/lam. In the silent
        variant nobody leaves the queue, so this is 0.0 (see ``p_abandon_silent``).
    mean_queue : float
        E[q], the mean central-queue length (chats).
    mean_wait_s : float
        E[q]/lam, mean wait until assignment in seconds, over all arrivals (incl. abandoners).
    slot_utilisation : float
        E[sum of per-agent counts]/(n*m), dimensionless.
    mean_in_service : float
        E[sum of per-agent counts] (chats held by agents).
    states : int
        Number of states of the truncated chain.
    K : int
        Queue truncation level (arrivals are blocked at q = K).
    tail_mass : float
        Stationary mass of the untruncated chain beyond K (< 1e-13).
    p_abandon_silent : float | None
        Silent variant only: share of arrivals whose wait until assignment exceeds their
        exp(theta) patience. ``None`` when ``silent=False``.
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
    p_abandon_silent: float | None = None


def _handle_times(c: float, mult: Sequence[float], m: int) -> list[float]:
    """Validate the multiplier table and return c*mult[k] for k = 1..m (seconds)."""
    if len(mult) != m:
        raise ValueError(f"mult must have m={m} entries, got {len(mult)}")
    h = [float(c) * float(x) for x in mult]
    if not all(math.isfinite(x) and x > 0.0 for x in h):
        raise ValueError("c and every mult[k] must be positive and finite")
    if any(h[i + 1] < h[i] for i in range(m - 1)):
        raise ValueError("mult must be non-decreasing")
    return h


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


def parallel_chain(
    lam: float,
    n: int,
    m: int,
    c: float,
    mult: Sequence[float],
    theta: float,
    *,
    silent: bool = False,
) -> ChainResult:
    """Solve the exact per-agent chain of the parallel discipline with least-loaded routing.

    Parameters
    ----------
    lam : float
        Poisson arrival rate, per second (> 0).
    n : int
        Number of agents (>= 1).
    m : int
        Slots per agent, the most chats an agent may hold (>= 1).
    c : float
        Mean base work of a chat, seconds (> 0).
    mult : Sequence[float]
        Multipliers; ``mult[k-1]`` is the multiplier with k chats held, k = 1..m (positive,
        non-decreasing). A chat held by an agent with k chats finishes at rate
        1/(c*mult[k-1]) per second.
    theta : float
        Patience rate, per second (1/mean patience; 0 means no abandonment).
    silent : bool, optional
        If True, nobody reneges; ``p_abandon_silent`` counts buyers whose wait until assignment
        exceeds their exp(theta) patience. Requires lam < n*m/(c*mult[m-1]).

    Returns
    -------
    ChainResult
        Stationary metrics; see :class:`ChainResult`.

    Raises
    ------
    ValueError
        On invalid inputs, or when the queue would be unstable (no reneging and
        lam >= n*m/(c*mult[m-1])).
    """
    if not (lam > 0.0 and math.isfinite(lam)):
        raise ValueError("lam must be positive and finite")
    if n < 1 or m < 1:
        raise ValueError("n and m must be at least 1")
    if not (theta >= 0.0 and math.isfinite(theta)):
        raise ValueError("theta must be >= 0 and finite")
    h = _handle_times(c, mult, m)
    mu_full = n * m / h[m - 1]
    theta_dyn = 0.0 if silent else float(theta)
    if theta_dyn == 0.0 and lam >= mu_full:
        raise ValueError(
            f"unstable without reneging: lam={lam} >= n*m/(c*mult[m])={mu_full} per second"
        )

    # ---- the K-independent part: states with q = 0 (sorted count tuples)
    base = list(combinations_with_replacement(range(m + 1), n))
    index = {t: i for i, t in enumerate(base)}
    n_base = len(base)
    full = index[(m,) * n]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, t in enumerate(base):
        if t[0] < m:  # least loaded agent (t is sorted, t[0] is the minimum) takes it
            rows.append(i)
            cols.append(index[tuple(sorted((t[0] + 1, *t[1:])))])
            vals.append(lam)
        for k in set(t):
            if k == 0:
                continue
            a = t.count(k)
            lst = list(t)
            lst[lst.index(k)] = k - 1
            rows.append(i)
            cols.append(index[tuple(sorted(lst))])
            vals.append(a * k / h[k - 1])
    held = np.array([sum(t) for t in base], dtype=float)

    # a first K from the bound P(top state) <= 1; grown below if the exact tail is too big
    k_level = _needed_k(lam, mu_full, theta_dyn, 1.0)
    while True:
        r = list(rows)
        cc = list(cols)
        v = list(vals)
        # full state -> q = 1, queue states q = 1..K at index n_base + q - 1
        r.append(full)
        cc.append(n_base)
        v.append(lam)
        for q in range(1, k_level + 1):
            s = n_base + q - 1
            if q < k_level:
                r.append(s)
                cc.append(s + 1)
                v.append(lam)
            r.append(s)
            cc.append(full if q == 1 else s - 1)
            v.append(mu_full + q * theta_dyn)
        size = n_base + k_level
        off = coo_matrix((v, (r, cc)), shape=(size, size)).tocsr()
        out = np.asarray(off.sum(axis=1)).ravel()
        gen = off - coo_matrix((out, (np.arange(size), np.arange(size))), shape=(size, size))
        a_mat = vstack([gen.T.tocsr()[:-1], np.ones((1, size))], format="csc")
        rhs = np.zeros(size)
        rhs[-1] = 1.0
        pi: FloatArray = np.asarray(
            spsolve(csc_matrix(a_mat), rhs, permc_spec="NATURAL"), dtype=float
        )
        pi_k = float(pi[-1])
        s_k = _tail_sum(lam, mu_full, theta_dyn, k_level)
        tail = pi_k * s_k / (1.0 + pi_k * s_k)
        if tail < TAIL_MASS:
            break
        # the untruncated top state's probability, then the exact K needed for the tail
        p_top = float(pi[full]) / (1.0 + pi_k * s_k)
        k_level = max(_needed_k(lam, mu_full, theta_dyn, p_top), k_level + 1)
        if k_level > _K_LIMIT:  # pragma: no cover - guarded by the stability check
            raise RuntimeError("queue truncation level grew without bound")

    p_base = pi[:n_base]
    p_queue = pi[n_base:]
    q_levels = np.arange(1, k_level + 1, dtype=float)
    mean_queue = float(p_queue @ q_levels)
    mean_in_service = float(p_base @ held + n * m * p_queue.sum())
    p_wait = float(pi[full] + p_queue.sum())
    p_silent: float | None = None
    if silent:
        ratio = mu_full / (mu_full + theta)
        p_full_q = np.concatenate(([pi[full]], p_queue))  # q = 0..K with all counts m
        exps = np.arange(1, k_level + 2, dtype=float)  # q + 1
        p_silent = float(p_full_q @ (1.0 - ratio**exps))
    return ChainResult(
        p_wait=p_wait,
        p_abandon=theta_dyn * mean_queue / lam,
        mean_queue=mean_queue,
        mean_wait_s=mean_queue / lam,
        slot_utilisation=mean_in_service / (n * m),
        mean_in_service=mean_in_service,
        states=size,
        K=k_level,
        tail_mass=tail,
        p_abandon_silent=p_silent,
    )
