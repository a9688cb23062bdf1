"""Chat staffing with concurrency: a birth-death model of ``n`` agents x ``m`` slots.

Conventions
-----------
* Times are in **seconds** and rates in **per second** unless a name says otherwise.
* ``handle_time_s[k - 1]`` is the mean time a chat holds its slot while its agent is
  holding ``k`` chats (agents slow down as they juggle more chats).  A single number
  means no slowdown.
* Service levels are probabilities in ``[0, 1]``; ``target_s`` is the answer-time
  threshold.

Model
-----
Chats arrive as a Poisson process (rate ``lam``).  Each of the ``n`` agents can hold up
to ``m`` chats at once, so there are ``n m`` slots.  With ``j <= n m`` chats in service
they are spread as evenly as possible over the agents: ``r = j mod n`` agents hold
``q + 1`` chats and ``n - r`` hold ``q = j // n``.  A chat held by an agent with ``k``
chats completes at rate ``1 / h(k)``, so the total completion rate is::

    D(j) = (n - r) q / h(q) + r (q + 1) / h(q + 1),        0 <= j <= n m

(an idealised router that rebalances instantly).  When all slots are busy the
``i = j - n m`` waiting chats each abandon at rate ``theta = 1 / mean_patience`` and
the queue drains at ``mu_full + i theta`` with ``mu_full = n m / h(m)``.  This is the
same structure as Erlang A above the ``n m`` line, so the offered wait ``V`` of an
arrival that finds ``i`` waiting is hypoexponential with rates ``mu_full + l theta``,
``l = i, ..., 0`` and the closed forms of :mod:`peakdesk.analytic.erlang` apply with
``n mu`` replaced by ``mu_full``.  With ``m = 1`` the model *is* Erlang A (Erlang C
for infinite patience).

The stationary distribution is computed in log space; the queue is truncated where
its tail mass falls below ``1e-15``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, logsumexp

from peakdesk.analytic.erlang import (
    _MAX_QUEUE_STATES,
    _TAIL_TOL,
    _check_agents,
    _check_nonneg,
    _check_positive,
    _check_sl_target,
)

__all__ = ["ChatResult", "agents_for_chat_target", "chat_metrics"]

HandleTimes = float | Sequence[float] | npt.NDArray[np.float64]


# --------------------------------------------------------------------------- helpers


def _handle_times(handle_time_s: HandleTimes, max_concurrency: int) -> npt.NDArray[np.float64]:
    """Validated per-concurrency handle times ``h(1..m)`` as an array of length ``m``."""
    _check_agents(max_concurrency, allow_zero=False)
    m = int(max_concurrency)
    arr = np.asarray(handle_time_s, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(m, float(arr))
    if arr.ndim != 1 or arr.size != m:
        raise ValueError(
            f"handle_time_s must be a number or a sequence of length max_concurrency={m}, "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0.0):
        raise ValueError("handle_time_s must be finite and > 0")
    return arr


def _completion_rates(n: int, h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Total completion rates ``D(j)``, ``j = 1 .. n m``, per second."""
    m = h.size
    # f(k) = k / h(k) for k = 0..m, padded with a dummy f(m + 1) (always weighted by 0).
    f = np.zeros(m + 2, dtype=np.float64)
    f[1 : m + 1] = np.arange(1, m + 1, dtype=np.float64) / h
    j = np.arange(1, n * m + 1, dtype=np.int64)
    q = j // n
    r = j % n
    return (n - r) * f[q] + r * f[q + 1]


def _queue_log_weights(
    lam: float, mu_full: float, theta: float, log_w_top: float, log_z_free: float
) -> tuple[npt.NDArray[np.float64], float]:
    """Unnormalised log weights of queue states ``n m + i``, ``i = 0..K``, and ``log Z``.

    Same truncation rule as the Erlang A chain: grow ``K`` until the geometric bound on
    the stationary mass beyond it is below ``_TAIL_TOL``.
    """
    k_peak = max(0.0, math.ceil((lam - mu_full) / theta))
    if k_peak > _MAX_QUEUE_STATES:
        raise ValueError(
            "chat queue chain too long (load far above capacity with very long patience); "
            f"about {k_peak:.3g} queue states would be needed"
        )
    size = int(k_peak) + 64 + int(10.0 * math.sqrt(k_peak + 1.0))
    log_lam = math.log(lam)
    log_tol = math.log(_TAIL_TOL)
    while True:
        i = np.arange(1, size + 1, dtype=np.float64)
        log_ratio = log_lam - np.log(mu_full + i * theta)
        log_w_q = log_w_top + np.concatenate(([0.0], np.cumsum(log_ratio)))
        log_z = float(np.logaddexp(log_z_free, logsumexp(log_w_q)))
        r_next = lam / (mu_full + (size + 1) * theta)
        if r_next < 1.0:
            log_tail = float(log_w_q[-1]) + math.log(r_next) - math.log1p(-r_next) - log_z
            if log_tail < log_tol:
                return log_w_q, log_z
        if size > _MAX_QUEUE_STATES:
            raise ValueError("chat queue chain too long; patience too large for this load")
        size *= 2


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class ChatResult:
    """Steady-state metrics of the chat model with concurrency.

    Attributes
    ----------
    agents : int
        Number of agents ``n``.
    max_concurrency : int
        Maximum simultaneous chats per agent ``m`` (``n m`` slots).
    arrival_rate_per_s : float
        Chat arrival rate ``lam``, per second.
    full_capacity_rate_per_s : float
        Completion rate with every slot busy, ``mu_full = n m / h(m)``, per second.
    p_wait : float
        Probability that an arrival finds all ``n m`` slots busy (PASTA).
    p_abandon : float
        Probability that an arrival abandons, ``theta E[Q] / lam``.
    mean_queue : float
        Mean number of chats waiting for a slot ``E[Q]``.
    mean_wait_s : float
        Mean time waiting over all arrivals (served and abandoned), ``E[Q] / lam``,
        seconds; inf when unstable.
    mean_offered_wait_s : float
        ``E[V]`` over all arrivals, ``V`` the offered (virtual) wait, seconds.
    sl_served : float
        P(served and wait <= target_s); abandoned chats count as failures.
    sl_offered : float
        P(V <= target_s), the wait the arrival would have with infinite patience.
    mean_in_service : float
        Mean number of chats holding a slot, ``E[min(J, n m)]``.
    slot_utilisation : float
        ``mean_in_service / (n m)``.
    agent_throughput_per_hour : float
        Completed chats per agent per hour, ``3600 lam (1 - p_abandon) / n``.
    target_s : float
        Answer-time threshold used for the service levels, seconds.
    stable : bool
        False only without abandonment and ``lam >= mu_full``.
    queue_states : int
        Number of queue states kept after truncation (0 when computed in closed form).
    """

    agents: int
    max_concurrency: int
    arrival_rate_per_s: float
    full_capacity_rate_per_s: float
    p_wait: float
    p_abandon: float
    mean_queue: float
    mean_wait_s: float
    mean_offered_wait_s: float
    sl_served: float
    sl_offered: float
    mean_in_service: float
    slot_utilisation: float
    agent_throughput_per_hour: float
    target_s: float
    stable: bool
    queue_states: int


def chat_metrics(
    arrival_rate_per_s: float,
    agents: int,
    max_concurrency: int,
    handle_time_s: HandleTimes,
    mean_patience_s: float,
    target_s: float,
) -> ChatResult:
    """Stationary metrics of the chat model with concurrency, slowdown and abandonment.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson chat arrival rate ``lam``, per second, ``>= 0``.
    agents : int
        Number of agents ``n >= 1``.
    max_concurrency : int
        Maximum simultaneous chats per agent ``m >= 1``.
    handle_time_s : float or sequence of float
        ``handle_time_s[k - 1]``: mean time (seconds, ``> 0``) a chat holds its slot
        while its agent holds ``k`` chats, ``k = 1..m``.  A single number applies to
        every ``k``.
    mean_patience_s : float
        Mean exponential patience ``1 / theta`` of a waiting chat, seconds, ``> 0``;
        ``math.inf`` means no abandonment.
    target_s : float
        Answer-time threshold ``t`` of the service levels, seconds, ``>= 0``.

    Returns
    -------
    ChatResult
        Steady-state metrics (times in seconds).

    Notes
    -----
    ``m = 1`` reproduces :func:`~peakdesk.analytic.erlang.erlang_a_metrics` (and
    Erlang C with infinite patience).  Without abandonment and ``lam >= mu_full``
    (within a relative 1e-12) the chain is unstable: ``p_wait = 1``, infinite waits,
    zero service levels and every slot busy.
    """
    _check_nonneg("arrival_rate_per_s", arrival_rate_per_s)
    _check_agents(agents, allow_zero=False)
    h = _handle_times(handle_time_s, max_concurrency)
    _check_positive("mean_patience_s", mean_patience_s, allow_inf=True)
    _check_nonneg("target_s", target_s, allow_inf=True)
    lam = float(arrival_rate_per_s)
    n = int(agents)
    m = int(max_concurrency)
    slots = n * m
    t = float(target_s)
    mu_full = slots / float(h[-1])
    no_abandon = math.isinf(mean_patience_s)

    if lam == 0.0:
        return ChatResult(
            agents=n,
            max_concurrency=m,
            arrival_rate_per_s=lam,
            full_capacity_rate_per_s=mu_full,
            target_s=t,
            p_wait=0.0,
            p_abandon=0.0,
            mean_queue=0.0,
            mean_wait_s=0.0,
            mean_offered_wait_s=0.0,
            sl_served=1.0,
            sl_offered=1.0,
            mean_in_service=0.0,
            slot_utilisation=0.0,
            agent_throughput_per_hour=0.0,
            stable=True,
            queue_states=0,
        )
    if no_abandon and not lam < mu_full * (1.0 - 1e-12):
        return ChatResult(
            agents=n,
            max_concurrency=m,
            arrival_rate_per_s=lam,
            full_capacity_rate_per_s=mu_full,
            target_s=t,
            p_wait=1.0,
            p_abandon=0.0,
            mean_queue=math.inf,
            mean_wait_s=math.inf,
            mean_offered_wait_s=math.inf,
            sl_served=0.0,
            sl_offered=0.0,
            mean_in_service=float(slots),
            slot_utilisation=1.0,
            agent_throughput_per_hour=3600.0 * mu_full / n,
            stable=False,
            queue_states=0,
        )

    # Log weights of states 0..nm: w_j = prod_{i <= j} lam / D(i).
    d = _completion_rates(n, h)
    log_w_busy = np.concatenate(([0.0], np.cumsum(math.log(lam) - np.log(d))))
    log_w_top = float(log_w_busy[-1])
    log_z_free = float(logsumexp(log_w_busy[:-1]))
    j_free = np.arange(slots, dtype=np.float64)

    if no_abandon:
        rho = lam / mu_full  # < 1
        log_mass_q = log_w_top - math.log1p(-rho)
        log_z = float(np.logaddexp(log_z_free, log_mass_q))
        p_free = np.exp(log_w_busy[:-1] - log_z)
        p_wait = min(math.exp(log_mass_q - log_z), 1.0)
        gap = mu_full - lam
        mean_wait = p_wait / gap
        sl = 1.0 - p_wait * math.exp(-gap * t)
        mean_in_service = float(np.dot(j_free, p_free)) + slots * p_wait
        return ChatResult(
            agents=n,
            max_concurrency=m,
            arrival_rate_per_s=lam,
            full_capacity_rate_per_s=mu_full,
            target_s=t,
            p_wait=p_wait,
            p_abandon=0.0,
            mean_queue=lam * mean_wait,
            mean_wait_s=mean_wait,
            mean_offered_wait_s=mean_wait,
            sl_served=sl,
            sl_offered=sl,
            mean_in_service=mean_in_service,
            slot_utilisation=min(mean_in_service / slots, 1.0),
            agent_throughput_per_hour=3600.0 * lam / n,
            stable=True,
            queue_states=0,
        )

    theta = 1.0 / float(mean_patience_s)
    log_w_q, log_z = _queue_log_weights(lam, mu_full, theta, log_w_top, log_z_free)
    p_free = np.exp(log_w_busy[:-1] - log_z)
    p_queue = np.exp(log_w_q - log_z)
    tail_mass = np.cumsum(p_queue[::-1])[::-1]
    keep = int(np.count_nonzero(tail_mass >= _TAIL_TOL)) + 1
    p_queue = p_queue[:keep]
    k = np.arange(p_queue.size, dtype=np.float64)

    p_no_wait = min(float(p_free.sum()), 1.0)
    p_wait = min(float(p_queue.sum()), 1.0)
    mean_queue = float(np.dot(k, p_queue))
    p_abandon = min(theta * mean_queue / lam, 1.0)

    big_m = mu_full / theta
    prob = -math.expm1(-theta * t)  # 1 - exp(-theta t)
    if prob >= 1.0:
        sl_off_k = np.ones_like(k)
        sl_srv_k = big_m / (big_m + k + 1.0)
    elif prob <= 0.0:
        sl_off_k = np.zeros_like(k)
        sl_srv_k = np.zeros_like(k)
    else:
        sl_off_k = betainc(k + 1.0, big_m, prob)
        sl_srv_k = big_m / (big_m + k + 1.0) * betainc(k + 1.0, big_m + 1.0, prob)
    sl_offered = p_no_wait + float(np.dot(p_queue, sl_off_k))
    sl_served = p_no_wait + float(np.dot(p_queue, sl_srv_k))
    mean_v_k = np.cumsum(1.0 / (mu_full + k * theta))
    mean_in_service = float(np.dot(j_free, p_free)) + slots * p_wait

    return ChatResult(
        agents=n,
        max_concurrency=m,
        arrival_rate_per_s=lam,
        full_capacity_rate_per_s=mu_full,
        target_s=t,
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_queue=mean_queue,
        mean_wait_s=mean_queue / lam,
        mean_offered_wait_s=float(np.dot(p_queue, mean_v_k)),
        sl_served=min(sl_served, 1.0),
        sl_offered=min(sl_offered, 1.0),
        mean_in_service=mean_in_service,
        slot_utilisation=min(mean_in_service / slots, 1.0),
        agent_throughput_per_hour=3600.0 * lam * (1.0 - p_abandon) / n,
        stable=True,
        queue_states=int(p_queue.size),
    )


# --------------------------------------------------------------------------- staffing


def agents_for_chat_target(
    arrival_rate_per_s: float,
    max_concurrency: int,
    handle_time_s: HandleTimes,
    mean_patience_s: float,
    target_s: float,
    service_level: float,
    definition: Literal["served", "offered"] = "served",
) -> int:
    """Minimum number of chat agents whose service level meets a target.

    Parameters
    ----------
    arrival_rate_per_s : float
        Poisson chat arrival rate, per second, ``>= 0``.
    max_concurrency : int
        Maximum simultaneous chats per agent ``m >= 1``.
    handle_time_s : float or sequence of float
        Mean slot-holding time per concurrency level, seconds (see
        :func:`chat_metrics`).
    mean_patience_s : float
        Mean exponential patience, seconds, ``> 0`` (``inf``: no abandonment).
    target_s : float
        Answer-time threshold, seconds, ``>= 0``.
    service_level : float
        Required service level, in ``[0, 1)``.
    definition : {"served", "offered"}
        ``"served"``: :attr:`ChatResult.sl_served` (abandonment counts as failure);
        ``"offered"``: :attr:`ChatResult.sl_offered`.

    Returns
    -------
    int
        Smallest ``n >= 1`` meeting the target.

    Notes
    -----
    Assumes the service level increases with ``n`` (true when the per-agent
    throughput ``k / h(k)`` is concave in ``k``, e.g. no or moderate slowdown).  The
    search starts at ``max(1, ceil(lam h(m) / m))`` (the stability bound), bisects
    downwards if that already meets the target, and otherwise gallops upwards and
    bisects, so it needs ``O(log n)`` model evaluations.
    """
    if definition not in ("served", "offered"):
        raise ValueError(f"definition must be 'served' or 'offered', got {definition!r}")
    _check_sl_target(service_level)
    _check_nonneg("arrival_rate_per_s", arrival_rate_per_s)
    h = _handle_times(handle_time_s, max_concurrency)
    m = int(max_concurrency)
    slot_load = float(arrival_rate_per_s) * float(h[-1]) / m  # agents needed at full load

    def meets(n: int) -> bool:
        r = chat_metrics(arrival_rate_per_s, n, m, h, mean_patience_s, target_s)
        sl = r.sl_served if definition == "served" else r.sl_offered
        return r.stable and sl >= service_level

    cap = math.ceil(slot_load) * 4 + 1000
    start = max(1, math.ceil(slot_load))
    if meets(start):
        lo, hi = 0, start  # invariant: meets(hi), and lo == 0 or not meets(lo)
    else:
        lo, step = start, 1
        while True:
            hi = min(lo + step, cap)
            if meets(hi):
                break
            if hi >= cap:
                raise ValueError("service level not reachable within the search range")
            lo, step = hi, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi
