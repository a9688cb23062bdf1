"""Exact Markov chain for the SEQUENTIAL chat discipline (small systems).

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

SEQUENTIAL discipline, exact chain for small systems (n in 2..4, m in 2..4; m = 1 and other
small sizes work too). Each agent is one person who writes one reply at a time: among the chats
it holds it writes the one that arrived at the agent first (oldest first); the compose time of a
reply is exponential with mean c*mult[s] seconds, where s is the number of chats the agent holds
AT THE MOMENT IT STARTS that reply (the rate is fixed for that reply even if the count changes
later). A chat closes when its reply is sent.

Per-agent state (k, s): k chats held (0..m) and, when k >= 1, s the count at which the reply
being written was started (an agent holding k >= 1 chats is always writing one of them). With
``until="assignment"`` s is in 1..k. With ``until="reply_start"`` a waiting chat may renege
while the reply is being written, so s can exceed k (s in 1..m); only reachable (k, s) occur.

- After a reply completes at an agent holding k: the chat closes (count k-1); if the central
  queue is non-empty the agent takes its head (count back to k); then, if it holds any chat, it
  starts the next reply with s = its count at that moment.
- An arrival assigned to an agent holding k >= 1 makes it k+1 with s unchanged; assigned to an
  idle agent it makes it (1, 1).
- Tie-break of least_loaded (``tie_break="lru"``): among agents with the fewest chats (below m),
  the one whose state changed least recently (every event that touches an agent -- an
  assignment to it, a completion at it, a reneging chat leaving it -- moves it to the
  most-recent end). The state is therefore the ORDERED tuple of per-agent (k, s) in order of
  last change (oldest first), plus the central queue length q. With ``tie_break="index"`` the
  tie goes to the lowest agent index and the tuple is ordered by agent index (nothing moves).

Two patience semantics, both with withdrawal (the buyer who gives up is gone):

- ``until="assignment"``: only chats in the central queue renege (rate theta each);
- ``until="reply_start"``: chats in the central queue AND chats held by an agent whose reply has
  not started yet (k-1 of them at an agent holding k) renege at rate theta each; a reneging chat
  at an agent drops its count by one (s unchanged), then that agent takes the queue head if any
  (count back), and it is moved to the most-recent end.

The queue q (q > 0 only when every agent holds m) is truncated at a level K chosen so that the
stationary mass beyond it is < 1e-13: the queue length is stochastically dominated (coupling) by
the birth-death chain with up rate lam and down rate n/(c*mult[m]) + q*theta (plus
n*(m-1)*theta with ``until="reply_start"``), because with every slot full each agent completes
at rate >= 1/(c*mult[m]) (mult is non-decreasing); K is the smallest level at which that
dominating chain's stationary mass beyond K is < 1e-13 (``tail_bound``).

Outputs: ``p_wait`` (P(an arrival finds every slot taken), PASTA), ``p_abandon`` (total
reneging rate / lam), ``mean_queue`` (central), ``mean_inbox_waiting`` (E[sum over agents of
(k-1)^+]), ``mean_wait_assign_s`` (E[q]/lam, seconds), ``mean_wait_reply_start_s``
((E[q] + E[inbox waiting])/lam, seconds: time until the reply is started, or until the buyer
leaves, averaged over all arrivals), ``slot_utilisation`` (E[sum k]/(n*m)), ``agent_busy``
(share of agents writing = P(k >= 1) averaged over agents), ``states``, ``K``.

State-space size: ``states = states_level0 + K * states_per_level``. Level 0 (q = 0) holds at
most P**n ordered tuples, P = 1 + m(m+1)/2 per-agent states for ``until="assignment"``
(P = 1 + m*m bound for ``"reply_start"``; only reachable tuples are built, by breadth-first
search); each queue level holds the tuples with every agent at k = m, at most m**n. Measured on
a 2-core machine (mult = 1 + 0.1(k-1), lam = 0.9 n/(c*mult[m]), theta = 1/90 per second; the
time is build + ``spsolve``, whose LU fill-in dominates):

========  ===========  =========  ===================  ========
n, m      until        tie_break  states               time
========  ===========  =========  ===================  ========
4, 2      assignment   lru        104 + 16 K = 424     < 0.01 s
4, 3      assignment   lru        995 + 81 K = 2615    0.09 s
4, 4      assignment   lru        5634 + 256 K = 10498 0.8 s
4, 4      assignment   index      14641 + 256 K        10 s
3, 3      reply_start  lru        724 + 27 K = 1129    0.04 s
4, 3      reply_start  lru        5716 + 81 K = 7012   4 s
4, 3      reply_start  index      10000 + 81 K         30 s
4, 4      reply_start  lru        48133 + 256 K        > 2 min
========  ===========  =========  ===================  ========
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csc_matrix, vstack
from scipy.sparse.linalg import spsolve

TAIL_MASS = 1e-13
"""Bound on the stationary mass beyond the queue truncation level K."""

Until = Literal["assignment", "reply_start"]
TieBreak = Literal["lru", "index"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SequentialResult:
    """Stationary metrics of the sequential-discipline chain.

    Attributes
    ----------
    p_wait : float
        Probability that an arrival finds every slot taken, by PASTA.
    p_abandon : float
        Total reneging rate divided by lam (share of arrivals that give up).
    mean_queue : float
        E[q], mean central-queue length (chats).
    mean_inbox_waiting : float
        E[sum over agents of (k-1)^+], chats held by agents whose reply has not started.
    mean_wait_assign_s : float
        E[q]/lam, seconds.
    mean_wait_reply_start_s : float
        (E[q] + E[inbox waiting])/lam, seconds, over all arrivals.
    slot_utilisation : float
        E[sum k]/(n*m), dimensionless.
    agent_busy : float
        P(k >= 1) averaged over agents (share of agents writing), dimensionless.
    completion_rate_per_s : float
        Stationary rate of sent replies, per second (= lam*(1 - p_abandon) up to the
        truncation's blocked arrivals).
    states : int
        Number of states of the truncated chain.
    states_level0 : int
        States with q = 0.
    states_per_level : int
        States per queue level q = 1..K (ordered tuples with every agent at k = m).
    K : int
        Queue truncation level.
    tail_bound : float
        Upper bound on the stationary mass beyond K (dominating birth-death chain).
    """

    p_wait: float
    p_abandon: float
    mean_queue: float
    mean_inbox_waiting: float
    mean_wait_assign_s: float
    mean_wait_reply_start_s: float
    slot_utilisation: float
    agent_busy: float
    completion_rate_per_s: float
    states: int
    states_level0: int
    states_per_level: int
    K: int
    tail_bound: float


def _truncation_level(lam: float, d0: float, theta_q: float) -> tuple[int, float]:
    """Smallest K with stationary mass beyond K < 1e-13 for the dominating birth-death chain.

    Up rate lam (per second), down rate d0 + q*theta_q at level q >= 1. Returns (K, tail).
    """
    if theta_q == 0.0:
        r = lam / d0
        k = max(1, math.ceil(math.log(TAIL_MASS) / math.log(r)) - 1)
        while r ** (k + 1) >= TAIL_MASS:
            k += 1
        return k, r ** (k + 1)
    logw = [0.0]  # log of unnormalised stationary weights, level 0..
    j = 0
    while True:
        j += 1
        logw.append(logw[-1] + math.log(lam / (d0 + j * theta_q)))
        if logw[-1] < logw[-2] and logw[-1] < max(logw) - 745.0:
            break
    top = max(logw)
    w = np.exp(np.array(logw) - top)
    tails = np.cumsum(w[::-1])[::-1] / w.sum()  # tails[i] = mass at levels >= i
    for k in range(1, w.size - 1):
        if tails[k + 1] < TAIL_MASS:
            return k, float(tails[k + 1])
    raise RuntimeError("truncation level search failed")  # pragma: no cover


def sequential_chain(
    lam: float,
    n: int,
    m: int,
    c: float,
    mult: Sequence[float],
    theta: float,
    *,
    until: Until = "assignment",
    tie_break: TieBreak = "lru",
) -> SequentialResult:
    """Solve the exact chain of the sequential discipline with least-loaded routing.

    Parameters
    ----------
    lam : float
        Poisson arrival rate, per second (> 0).
    n : int
        Number of agents (>= 1; keep n**... small, see the module docstring).
    m : int
        Slots per agent (>= 1).
    c : float
        Mean base compose work, seconds (> 0).
    mult : Sequence[float]
        Multipliers, ``mult[s-1]`` for a reply started while holding s chats, s = 1..m
        (positive, non-decreasing); the reply takes exp with mean c*mult[s-1] seconds.
    theta : float
        Patience rate, per second (0 means nobody reneges).
    until : {"assignment", "reply_start"}, optional
        How long patience runs (see the module docstring).
    tie_break : {"lru", "index"}, optional
        Among least-loaded agents: least recently changed (ordered state) or lowest index.

    Returns
    -------
    SequentialResult
        Stationary metrics; see :class:`SequentialResult`.

    Raises
    ------
    ValueError
        On invalid inputs, or when theta = 0 and lam >= n/(c*mult[m-1]) (unstable queue).
    """
    if not (lam > 0.0 and math.isfinite(lam)):
        raise ValueError("lam must be positive and finite")
    if n < 1 or m < 1:
        raise ValueError("n and m must be at least 1")
    if not (theta >= 0.0 and math.isfinite(theta)):
        raise ValueError("theta must be >= 0 and finite")
    if until not in ("assignment", "reply_start"):
        raise ValueError(f"unknown until={until!r}")
    if tie_break not in ("lru", "index"):
        raise ValueError(f"unknown tie_break={tie_break!r}")
    if len(mult) != m:
        raise ValueError(f"mult must have m={m} entries, got {len(mult)}")
    h = [float(c) * float(x) for x in mult]
    if not all(math.isfinite(x) and x > 0.0 for x in h):
        raise ValueError("c and every mult[k] must be positive and finite")
    if any(h[i + 1] < h[i] for i in range(m - 1)):
        raise ValueError("mult must be non-decreasing")
    d0 = n / h[m - 1]
    inbox_full = n * (m - 1) * theta if until == "reply_start" else 0.0
    if theta == 0.0 and lam >= d0:
        raise ValueError(f"unstable without reneging: lam={lam} >= n/(c*mult[m])={d0} per second")
    lru = tie_break == "lru"

    # ---- per-agent codes: 0 idle, 1 + (k-1)*m + (s-1) for (k, s), k, s in 1..m
    n_codes = 1 + m * m

    def code(k: int, s: int) -> int:
        return 1 + (k - 1) * m + (s - 1)

    k_of = [0] * n_codes
    done_rate = [0.0] * n_codes  # reply completion rate, per second
    inbox_rate = [0.0] * n_codes  # reneging rate of the not-yet-started chats, per second
    arrive = [-1] * n_codes
    done_noq = [0] * n_codes  # after a completion with an empty central queue
    done_q = [0] * n_codes  # after a completion that takes the queue head
    inbox_noq = [0] * n_codes  # after an inbox reneging with an empty central queue
    arrive[0] = code(1, 1)
    for k in range(1, m + 1):
        for s in range(1, m + 1):
            a = code(k, s)
            k_of[a] = k
            done_rate[a] = 1.0 / h[s - 1]
            done_noq[a] = 0 if k == 1 else code(k - 1, k - 1)
            done_q[a] = code(k, k)
            if k < m:
                arrive[a] = code(k + 1, s)
            if until == "reply_start" and k >= 2:
                inbox_rate[a] = (k - 1) * theta
                inbox_noq[a] = code(k - 1, s)
    # (an inbox reneging that is refilled from the queue leaves the agent's (k, s) unchanged)

    def moved(t: tuple[int, ...], pos: int, new: int) -> tuple[int, ...]:
        if lru:
            return (*t[:pos], *t[pos + 1 :], new)
        return (*t[:pos], new, *t[pos + 1 :])

    # ---- level q = 0: breadth-first search over ordered tuples
    start = (0,) * n
    idx0: dict[tuple[int, ...], int] = {start: 0}
    level0: list[tuple[int, ...]] = [start]
    rows0: list[int] = []
    cols0: list[int] = []
    vals0: list[float] = []

    def visit(t: tuple[int, ...]) -> int:
        j = idx0.get(t)
        if j is None:
            j = len(level0)
            idx0[t] = j
            level0.append(t)
        return j

    head = 0
    while head < len(level0):
        t = level0[head]
        i = head
        head += 1
        ks = [k_of[a] for a in t]
        kmin = min(ks)
        if kmin < m:
            pos = ks.index(kmin)  # fewest chats; earliest in the tuple = least recent / index
            rows0.append(i)
            cols0.append(visit(moved(t, pos, arrive[t[pos]])))
            vals0.append(lam)
        else:  # full: the level moves (from (t, 1) down to level 0) must be reachable too
            for pos, a in enumerate(t):
                visit(moved(t, pos, done_q[a]))
                if inbox_rate[a] > 0.0:
                    visit(moved(t, pos, a))
        for pos, a in enumerate(t):
            if k_of[a] == 0:
                continue
            rows0.append(i)
            cols0.append(visit(moved(t, pos, done_noq[a])))
            vals0.append(done_rate[a])
            if inbox_rate[a] > 0.0:
                rows0.append(i)
                cols0.append(visit(moved(t, pos, inbox_noq[a])))
                vals0.append(inbox_rate[a])

    n0 = len(level0)
    full_tuples = [t for t in level0 if min(k_of[a] for a in t) == m]
    idx_t = {t: j for j, t in enumerate(full_tuples)}
    n_t = len(full_tuples)
    t_to_level0 = np.array([idx0[t] for t in full_tuples], dtype=np.int64)
    # down moves at a queue level that change the tuple: (from j, to j', rate)
    lr: list[int] = []
    lc: list[int] = []
    lv: list[float] = []
    for j, t in enumerate(full_tuples):
        for pos, a in enumerate(t):
            lr.append(j)
            lc.append(idx_t[moved(t, pos, done_q[a])])
            lv.append(done_rate[a])
            if inbox_rate[a] > 0.0:
                lr.append(j)
                lc.append(idx_t[moved(t, pos, a)])
                lv.append(inbox_rate[a])
    lev_from = np.array(lr, dtype=np.int64)
    lev_to = np.array(lc, dtype=np.int64)
    lev_rate = np.array(lv, dtype=float)

    k_level, tail_bound = _truncation_level(lam, d0 + inbox_full, theta)

    # ---- generator
    ar: list[IntArray] = [np.array(rows0, dtype=np.int64)]
    ac: list[IntArray] = [np.array(cols0, dtype=np.int64)]
    av: list[FloatArray] = [np.array(vals0, dtype=float)]
    local = np.arange(n_t, dtype=np.int64)
    ar.append(t_to_level0)  # full at q = 0 -> q = 1
    ac.append(n0 + local)
    av.append(np.full(n_t, lam))
    for q in range(1, k_level + 1):
        base = n0 + (q - 1) * n_t
        below = t_to_level0 if q == 1 else (base - n_t) + local
        if q < k_level:
            ar.append(base + local)
            ac.append(base + n_t + local)
            av.append(np.full(n_t, lam))
        ar.append(base + lev_from)
        ac.append(below[lev_to])
        av.append(lev_rate)
        if theta > 0.0:
            ar.append(base + local)
            ac.append(below)
            av.append(np.full(n_t, q * theta))
    size = n0 + k_level * n_t
    rows = np.concatenate(ar)
    cols = np.concatenate(ac)
    vals = np.concatenate(av)
    keep = rows != cols
    off = coo_matrix((vals[keep], (rows[keep], cols[keep])), shape=(size, size)).tocsr()
    out = np.asarray(off.sum(axis=1)).ravel()
    diag = coo_matrix((out, (np.arange(size), np.arange(size))), shape=(size, size))
    gen = (off - diag).tocsr()
    a_mat = vstack([gen.T.tocsr()[:-1], np.ones((1, size))], format="csc")
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.asarray(spsolve(csc_matrix(a_mat), rhs), dtype=float)

    # ---- metrics
    ks0 = np.array([[k_of[a] for a in t] for t in level0], dtype=float)
    rate0 = np.array([sum(done_rate[a] for a in t) for t in level0], dtype=float)
    rate_t = np.array([sum(done_rate[a] for a in t) for t in full_tuples], dtype=float)
    p0 = pi[:n0]
    p_lev = pi[n0:].reshape(k_level, n_t)
    mass_lev = p_lev.sum(axis=1)
    full0 = ks0.min(axis=1) == m
    mean_queue = float(mass_lev @ np.arange(1, k_level + 1, dtype=float))
    lev_total = float(mass_lev.sum())
    inbox = float(p0 @ np.maximum(ks0 - 1.0, 0.0).sum(axis=1)) + n * (m - 1) * lev_total
    held = float(p0 @ ks0.sum(axis=1)) + n * m * lev_total
    busy = float(p0 @ (ks0 >= 1).sum(axis=1)) + n * lev_total
    reneging = theta * (mean_queue + (inbox if until == "reply_start" else 0.0))
    return SequentialResult(
        p_wait=float(p0[full0].sum()) + lev_total,
        p_abandon=reneging / lam,
        mean_queue=mean_queue,
        mean_inbox_waiting=inbox,
        mean_wait_assign_s=mean_queue / lam,
        mean_wait_reply_start_s=(mean_queue + inbox) / lam,
        slot_utilisation=held / (n * m),
        agent_busy=busy / n,
        completion_rate_per_s=float(p0 @ rate0) + float(p_lev.sum(axis=0) @ rate_t),
        states=size,
        states_level0=n0,
        states_per_level=n_t,
        K=k_level,
        tail_bound=tail_bound,
    )
