"""Erlang B, Erlang C and Erlang A (M/M/n+M) queueing formulas.

Conventions
-----------
* Times are in **seconds** and rates in **per second** unless a name says otherwise.
* Offered load ``load_erl`` is in Erlangs: arrival rate times mean service time.
* Service levels are probabilities in ``[0, 1]``; ``target_s`` is the answer-time
  threshold (the "20" in "80/20").

Erlang A model
--------------
Customers arrive as a Poisson process (rate ``lam``), service times are exponential
(rate ``mu = 1 / mean_service_s``) and each waiting customer abandons after an
exponential patience (rate ``theta = 1 / mean_patience_s``).  The number in system is
a birth-death chain with birth rate ``lam`` and death rate ``min(j, n) mu`` for
``j <= n`` and ``n mu + k theta`` in state ``n + k``.  The queue is truncated where the
stationary tail mass falls below ``1e-15``; everything is computed in log space, so
the functions are stable for thousands of agents and loads well above ``n``.

The *offered* (virtual) wait ``V`` of an arrival that finds ``k`` customers waiting
is the time until the head of the line would reach it if it never abandoned: a
hypoexponential sum of rates ``n mu + i theta``, ``i = k, ..., 0``.  With
``m = n mu / theta`` the variable ``1 - exp(-theta V)`` is Beta(k + 1, m)
distributed (the product representation of a Beta(m, k + 1) variable), which gives
the closed forms used here::

    P(V <= t | k)                    = I_p(k + 1, m)
    E[exp(-theta V) 1{V <= t} | k]   = m / (m + k + 1) * I_p(k + 1, m + 1)

where ``p = 1 - exp(-theta t)`` and ``I`` is the regularised incomplete beta
function.  ``exp(-theta V)`` is the probability that the arrival's own patience
outlasts ``V``, so the second expression is P(served and wait <= t | k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, gammaln, logsumexp

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "agents_for_service_level_a",
    "agents_for_service_level_c",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
]

# Relative stationary mass allowed beyond the truncation point of the Erlang A queue.
_TAIL_TOL = 1e-15
# Guard against building absurdly long chains (e.g. load > n with patience -> inf).
_MAX_QUEUE_STATES = 20_000_000


# --------------------------------------------------------------------------- helpers


def _check_agents(n: int, *, allow_zero: bool) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"number of agents must be an int, got {type(n).__name__}")
    lo = 0 if allow_zero else 1
    if n < lo:
        raise ValueError(f"number of agents must be >= {lo}, got {n}")


def _check_nonneg(name: str, value: float, *, allow_inf: bool = False) -> None:
    if math.isnan(value) or value < 0.0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_positive(name: str, value: float, *, allow_inf: bool = False) -> None:
    if math.isnan(value) or value <= 0.0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_sl_target(service_level: float) -> None:
    if math.isnan(service_level) or not 0.0 <= service_level < 1.0:
        raise ValueError(f"service_level must be in [0, 1), got {service_level!r}")


def _erlang_c_stable(n: int, load_erl: float) -> bool:
    """Whether an M/M/n queue is stable, treating ``load`` within 1e-12 of ``n`` as not.

    The tolerance absorbs rounding in ``load = rate * service`` (e.g. 15/180 * 180).
    """
    return load_erl < n * (1.0 - 1e-12)


def _erlang_c_from_b(n: int, load_erl: float, b: float) -> float:
    """Erlang C from Erlang B with the same ``n`` and load (requires load < n)."""
    return n * b / (n - load_erl + load_erl * b)


# --------------------------------------------------------------------------- Erlang B / C


def erlang_b(n: int, load_erl: float) -> float:
    """Erlang B blocking probability of an M/M/n/n loss system.

    Uses the numerically stable recursion ``B(0) = 1``,
    ``B(k) = a B(k-1) / (k + a B(k-1))``.

    Parameters
    ----------
    n : int
        Number of servers (agents), ``n >= 0``.
    load_erl : float
        Offered load in Erlangs (arrival rate times mean service time), ``>= 0``.

    Returns
    -------
    float
        Probability that an arrival finds all ``n`` servers busy and is lost.
    """
    _check_agents(n, allow_zero=True)
    _check_nonneg("load_erl", load_erl)
    a = float(load_erl)
    b = 1.0
    for k in range(1, int(n) + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(n: int, load_erl: float) -> float:
    """Erlang C probability of waiting in an M/M/n queue.

    Parameters
    ----------
    n : int
        Number of agents, ``n >= 1``.
    load_erl : float
        Offered load in Erlangs, ``>= 0``.

    Returns
    -------
    float
        Probability that an arrival has to wait (all agents busy).  Returns ``1.0``
        when ``load_erl >= n`` (unstable queue; a load within a relative 1e-12 of
        ``n`` counts as ``n`` to absorb rounding).
    """
    _check_agents(n, allow_zero=False)
    _check_nonneg("load_erl", load_erl)
    if not _erlang_c_stable(int(n), float(load_erl)):
        return 1.0
    return _erlang_c_from_b(int(n), float(load_erl), erlang_b(n, load_erl))


@dataclass(frozen=True)
class ErlangCResult:
    """Steady-state metrics of an M/M/n (Erlang C) queue.

    Attributes
    ----------
    agents : int
        Number of agents ``n``.
    load_erl : float
        Offered load in Erlangs.
    p_wait : float
        Probability that an arrival waits (Erlang C); 1 when unstable.
    asa_s : float
        Average speed of answer (mean wait over all arrivals), seconds; inf when unstable.
    service_level : float
        P(wait <= target_s); 0 when unstable.
    occupancy : float
        Mean fraction of agents busy, ``min(load / n, 1)``.
    mean_queue : float
        Mean number waiting (Little's law: arrival rate times ``asa_s``); inf when unstable.
    target_s : float
        Answer-time threshold used for ``service_level``, seconds.
    stable : bool
        Whether ``load_erl < agents``.
    """

    agents: int
    load_erl: float
    p_wait: float
    asa_s: float
    service_level: float
    occupancy: float
    mean_queue: float
    target_s: float
    stable: bool


def _erlang_c_result(
    lam: float, mu: float, n: int, target_s: float, p_wait: float | None = None
) -> ErlangCResult:
    a = lam / mu
    if not _erlang_c_stable(n, a):
        return ErlangCResult(
            agents=n,
            load_erl=a,
            p_wait=1.0,
            asa_s=math.inf,
            service_level=0.0,
            occupancy=1.0,
            mean_queue=math.inf,
            target_s=target_s,
            stable=False,
        )
    pw = erlang_c(n, a) if p_wait is None else p_wait
    gap = n * mu - lam  # > 0, per second
    asa = pw / gap
    sl = 1.0 - pw * math.exp(-gap * target_s)
    return ErlangCResult(
        agents=n,
        load_erl=a,
        p_wait=pw,
        asa_s=asa,
        service_level=sl,
        occupancy=a / n,
        mean_queue=lam * asa,
        target_s=target_s,
        stable=True,
    )


def erlang_c_metrics(
    arrival_rate_per_s: float, mean_service_s: float, agents: int, target_s: float
) -> ErlangCResult:
    """Erlang C (M/M/n) waiting probability, ASA, service level and occupancy.

    The service level is ``1 - Pw exp(-(n mu - lam) t)``.  When the queue is unstable
    (``load >= n``) the result has ``p_wait = 1``, ``asa_s = inf`` and
    ``service_level = 0``.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson arrival rate ``lam``, contacts per second, ``>= 0``.
    mean_service_s : float
        Mean handling time ``1 / mu``, seconds, ``> 0``.
    agents : int
        Number of agents ``n >= 1``.
    target_s : float
        Answer-time threshold ``t`` of the service level, seconds, ``>= 0``.

    Returns
    -------
    ErlangCResult
        Steady-state metrics (times in seconds).
    """
    _check_nonneg("arrival_rate_per_s", arrival_rate_per_s)
    _check_positive("mean_service_s", mean_service_s)
    _check_agents(agents, allow_zero=False)
    _check_nonneg("target_s", target_s, allow_inf=True)
    return _erlang_c_result(
        float(arrival_rate_per_s), 1.0 / float(mean_service_s), int(agents), float(target_s)
    )


# --------------------------------------------------------------------------- Erlang A


@dataclass(frozen=True)
class ErlangAResult:
    """Steady-state metrics of an M/M/n+M (Erlang A, Palm) queue.

    Attributes
    ----------
    agents : int
        Number of agents ``n``.
    load_erl : float
        Offered load in Erlangs.
    p_wait : float
        Probability that an arrival finds all agents busy (has to wait).
    p_abandon : float
        Probability that an arrival abandons, ``theta E[Q] / lam``.
    mean_queue : float
        Mean number waiting ``E[Q]``.
    asa_s : float
        Mean time spent waiting over all arrivals (served and abandoned),
        ``E[Q] / lam``, seconds.
    occupancy : float
        Mean fraction of agents busy, ``lam (1 - p_abandon) / (n mu)``.
    sl_served : float
        P(served and wait <= target_s); abandoned contacts count as failures.
    sl_offered : float
        P(V <= target_s), ``V`` the offered (virtual) wait, i.e. the wait the arrival
        would have with infinite patience.
    mean_offered_wait_s : float
        ``E[V]`` over all arrivals, seconds.
    target_s : float
        Answer-time threshold used for the service levels, seconds.
    queue_states : int
        Number of queue states kept after truncation (0 when computed in closed form).
    """

    agents: int
    load_erl: float
    p_wait: float
    p_abandon: float
    mean_queue: float
    asa_s: float
    occupancy: float
    sl_served: float
    sl_offered: float
    mean_offered_wait_s: float
    target_s: float
    queue_states: int


def _erlang_a_chain(
    lam: float, mu: float, theta: float, n: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Normalised stationary probabilities of the truncated M/M/n+M chain.

    Returns
    -------
    p_free : numpy.ndarray
        Probabilities of states ``0 .. n-1`` (some agent idle).
    p_queue : numpy.ndarray
        Probabilities of states ``n + k``, ``k = 0 .. K`` (all busy, ``k`` waiting).
    """
    a = lam / mu
    n_mu = n * mu
    j = np.arange(n + 1, dtype=np.float64)
    log_w_busy = j * math.log(a) - gammaln(j + 1.0)  # states 0..n (Poisson weights)
    log_w_n = float(log_w_busy[-1])
    log_z_free = float(logsumexp(log_w_busy[:-1])) if n > 0 else -math.inf
    log_lam = math.log(lam)

    # Ratios lam / (n mu + i theta) are >= 1 up to k_peak, then decrease to 0.
    k_peak = max(0.0, math.ceil((lam - n_mu) / theta))
    if k_peak > _MAX_QUEUE_STATES:
        raise ValueError(
            "Erlang A chain too long (load far above agents with very long patience); "
            f"about {k_peak:.3g} queue states would be needed"
        )
    size = int(k_peak) + 64 + int(10.0 * math.sqrt(k_peak + 1.0))
    log_tol = math.log(_TAIL_TOL)
    while True:
        i = np.arange(1, size + 1, dtype=np.float64)
        log_ratio = log_lam - np.log(n_mu + i * theta)
        log_w_q = log_w_n + np.concatenate(([0.0], np.cumsum(log_ratio)))  # k = 0..size
        log_z = float(np.logaddexp(log_z_free, logsumexp(log_w_q)))
        # Tail beyond K=size is at most w_K r / (1 - r), r = ratio at K + 1 (< 1).
        r_next = lam / (n_mu + (size + 1) * theta)
        if r_next < 1.0:
            log_tail = float(log_w_q[-1]) + math.log(r_next) - math.log1p(-r_next) - log_z
            if log_tail < log_tol:
                break
        if size > _MAX_QUEUE_STATES:
            raise ValueError("Erlang A chain too long; patience too large for this load")
        size *= 2
    p_free = np.exp(log_w_busy[:-1] - log_z)
    p_queue = np.exp(log_w_q - log_z)
    # Drop the far end of the queue whose total mass is below the tolerance.
    tail_mass = np.cumsum(p_queue[::-1])[::-1]
    keep = int(np.count_nonzero(tail_mass >= _TAIL_TOL)) + 1
    return p_free, p_queue[:keep]


def erlang_a_metrics(
    arrival_rate_per_s: float,
    mean_service_s: float,
    mean_patience_s: float,
    agents: int,
    target_s: float,
) -> ErlangAResult:
    """Erlang A (M/M/n+M) metrics from the birth-death chain with abandonment.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson arrival rate ``lam``, contacts per second, ``>= 0``.
    mean_service_s : float
        Mean handling time ``1 / mu``, seconds, ``> 0``.
    mean_patience_s : float
        Mean (exponential) patience ``1 / theta``, seconds, ``> 0``.  ``math.inf``
        gives the Erlang C model (no abandonment).
    agents : int
        Number of agents ``n >= 1``.
    target_s : float
        Answer-time threshold ``t`` of the service levels, seconds, ``>= 0``.

    Returns
    -------
    ErlangAResult
        Steady-state metrics (times in seconds).  See :class:`ErlangAResult` for the
        two service-level definitions (``sl_served`` and ``sl_offered``).

    Notes
    -----
    Uses PASTA: an arrival sees the stationary distribution.  ``asa_s`` averages the
    time in queue over *all* arrivals including those who abandon, so that
    ``mean_queue = lam * asa_s`` (Little's law).  With infinite patience and
    ``load >= n`` the queue is unstable and the result has ``p_wait = 1``,
    infinite waits and zero service levels.
    """
    _check_nonneg("arrival_rate_per_s", arrival_rate_per_s)
    _check_positive("mean_service_s", mean_service_s)
    _check_positive("mean_patience_s", mean_patience_s, allow_inf=True)
    _check_agents(agents, allow_zero=False)
    _check_nonneg("target_s", target_s, allow_inf=True)
    lam = float(arrival_rate_per_s)
    mu = 1.0 / float(mean_service_s)
    n = int(agents)
    t = float(target_s)
    a = lam / mu

    if lam == 0.0:
        return ErlangAResult(
            agents=n,
            load_erl=0.0,
            p_wait=0.0,
            p_abandon=0.0,
            mean_queue=0.0,
            asa_s=0.0,
            occupancy=0.0,
            sl_served=1.0,
            sl_offered=1.0,
            mean_offered_wait_s=0.0,
            target_s=t,
            queue_states=0,
        )

    if math.isinf(mean_patience_s):
        c = _erlang_c_result(lam, mu, n, t)
        return ErlangAResult(
            agents=n,
            load_erl=a,
            p_wait=c.p_wait,
            p_abandon=0.0,
            mean_queue=c.mean_queue,
            asa_s=c.asa_s,
            occupancy=c.occupancy,
            sl_served=c.service_level,
            sl_offered=c.service_level,
            mean_offered_wait_s=c.asa_s,  # E[V] = E[W] without abandonment
            target_s=t,
            queue_states=0,
        )

    theta = 1.0 / float(mean_patience_s)
    n_mu = n * mu
    p_free, p_queue = _erlang_a_chain(lam, mu, theta, n)
    k = np.arange(p_queue.size, dtype=np.float64)

    p_no_wait = min(float(p_free.sum()), 1.0)
    p_wait = min(float(p_queue.sum()), 1.0)
    mean_queue = float(np.dot(k, p_queue))
    p_abandon = min(theta * mean_queue / lam, 1.0)

    m = n_mu / theta
    prob = -math.expm1(-theta * t)  # p = 1 - exp(-theta t)
    if prob >= 1.0:
        sl_off_k = np.ones_like(k)
        sl_srv_k = m / (m + k + 1.0)
    elif prob <= 0.0:
        sl_off_k = np.zeros_like(k)
        sl_srv_k = np.zeros_like(k)
    else:
        sl_off_k = betainc(k + 1.0, m, prob)
        sl_srv_k = m / (m + k + 1.0) * betainc(k + 1.0, m + 1.0, prob)
    sl_offered = p_no_wait + float(np.dot(p_queue, sl_off_k))
    sl_served = p_no_wait + float(np.dot(p_queue, sl_srv_k))
    mean_v_k = np.cumsum(1.0 / (n_mu + k * theta))  # E[V | k waiting ahead]
    mean_offered_wait = float(np.dot(p_queue, mean_v_k))

    return ErlangAResult(
        agents=n,
        load_erl=a,
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_queue=mean_queue,
        asa_s=mean_queue / lam,
        occupancy=min(lam * (1.0 - p_abandon) / n_mu, 1.0),
        sl_served=min(sl_served, 1.0),
        sl_offered=min(sl_offered, 1.0),
        mean_offered_wait_s=mean_offered_wait,
        target_s=t,
        queue_states=int(p_queue.size),
    )


# --------------------------------------------------------------------------- staffing


def _search_cap(load_erl: float) -> int:
    return math.ceil(load_erl) * 4 + 1000


def agents_for_service_level_c(
    arrival_rate_per_s: float, mean_service_s: float, target_s: float, service_level: float
) -> int:
    """Minimum number of agents whose Erlang C service level meets a target.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson arrival rate, contacts per second, ``>= 0``.
    mean_service_s : float
        Mean handling time, seconds, ``> 0``.
    target_s : float
        Answer-time threshold, seconds, ``>= 0``.
    service_level : float
        Required P(wait <= target_s), in ``[0, 1)``.

    Returns
    -------
    int
        Smallest ``n >= max(1, ceil(load))`` with ``service_level(n) >= service_level``
        (fewer agents than the load give an unstable queue).
    """
    _check_nonneg("arrival_rate_per_s", arrival_rate_per_s)
    _check_positive("mean_service_s", mean_service_s)
    _check_nonneg("target_s", target_s, allow_inf=True)
    _check_sl_target(service_level)
    lam = float(arrival_rate_per_s)
    mu = 1.0 / float(mean_service_s)
    a = lam / mu
    start = max(1, math.ceil(a))
    b = 1.0  # Erlang B, advanced incrementally with the stable recursion
    for k in range(1, start):
        b = a * b / (k + a * b)
    for n in range(start, _search_cap(a) + 1):
        b = a * b / (n + a * b)
        if not _erlang_c_stable(n, a):
            continue
        res = _erlang_c_result(lam, mu, n, float(target_s), _erlang_c_from_b(n, a, b))
        if res.service_level >= service_level:
            return n
    raise ValueError("service level not reachable within the search range")


def agents_for_service_level_a(
    arrival_rate_per_s: float,
    mean_service_s: float,
    mean_patience_s: float,
    target_s: float,
    service_level: float,
    definition: Literal["served", "offered"] = "served",
) -> int:
    """Minimum number of agents whose Erlang A service level meets a target.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson arrival rate, contacts per second, ``>= 0``.
    mean_service_s : float
        Mean handling time, seconds, ``> 0``.
    mean_patience_s : float
        Mean exponential patience, seconds, ``> 0`` (``inf`` gives Erlang C).
    target_s : float
        Answer-time threshold, seconds, ``>= 0``.
    service_level : float
        Required service level, in ``[0, 1)``.
    definition : {"served", "offered"}
        ``"served"``: P(served and wait <= t), abandonment counts as failure
        (:attr:`ErlangAResult.sl_served`).  ``"offered"``: P(V <= t) for the
        offered wait (:attr:`ErlangAResult.sl_offered`).

    Returns
    -------
    int
        Smallest ``n >= 1`` meeting the target.  The search runs upward from
        ``max(1, ceil(load))``; if that already meets the target (possible with
        abandonment) the smaller ``n`` are bisected, the service level being
        increasing in ``n``.
    """
    if definition not in ("served", "offered"):
        raise ValueError(f"definition must be 'served' or 'offered', got {definition!r}")
    _check_sl_target(service_level)
    _check_positive("mean_service_s", mean_service_s)
    a = float(arrival_rate_per_s) * float(mean_service_s)

    def meets(n: int) -> bool:
        r = erlang_a_metrics(arrival_rate_per_s, mean_service_s, mean_patience_s, n, target_s)
        sl = r.sl_served if definition == "served" else r.sl_offered
        return sl >= service_level

    start = max(1, math.ceil(a))
    if meets(start):
        # Service level is increasing in n: bisect for the smallest n in [1, start].
        lo, hi = 0, start  # invariant: meets(hi), and lo == 0 or not meets(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if meets(mid):
                hi = mid
            else:
                lo = mid
        return hi
    for n in range(start + 1, _search_cap(a) + 1):
        if meets(n):
            return n
    raise ValueError("service level not reachable within the search range")
