"""Time-varying offered load and modified-offered-load (MOL) staffing.

Offered load
------------
For a time-varying Poisson arrival rate ``lam(t)`` and i.i.d. service times ``S`` the
mean number in an infinite-server system is::

    m(t) = integral_0^inf lam(t - u) P(S > u) du

It is the natural "load in Erlangs" of a non-stationary queue: it lags the arrival
rate (by about ``E[S^2] / (2 E[S])``, i.e. ``E[S]`` for exponential service) and
smooths it.  :func:`offered_load` returns ``m(t)`` averaged over each bin for a
piecewise-constant rate, exactly (no discretisation error beyond floating point).

Modified offered load
---------------------
The MOL approximation staffs each bin as a stationary queue whose offered load is
``m(t)``: arrival rate ``m(t) / E[S]`` with the same service and patience
(:func:`mol_staffing`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.signal import convolve, lfilter
from scipy.special import ndtr

from peakdesk.analytic.chat import HandleTimes, agents_for_chat_target
from peakdesk.analytic.erlang import (
    _check_nonneg,
    _check_positive,
    _check_sl_target,
    agents_for_service_level_a,
    agents_for_service_level_c,
)

__all__ = ["mol_staffing", "offered_load"]

ServiceDist = Literal["exponential", "deterministic", "lognormal"]


def _residual_second_moment(
    service: ServiceDist, mean_s: float, cv: float
) -> Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
    """``R2(u) = integral_u^inf integral_v^inf P(S > w) dw dv = E[((S - u)^+)^2] / 2``."""
    if service == "exponential":
        return lambda u: np.asarray(mean_s * mean_s * np.exp(-u / mean_s), dtype=np.float64)
    if service == "deterministic":
        return lambda u: np.asarray(0.5 * np.maximum(mean_s - u, 0.0) ** 2, dtype=np.float64)
    sigma2 = math.log1p(cv * cv)
    sigma = math.sqrt(sigma2)
    mu = math.log(mean_s) - 0.5 * sigma2

    def r2(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        with np.errstate(divide="ignore"):
            log_u = np.log(u)
        z = (mu - log_u) / sigma  # P(S > u) = Phi(z)
        m1 = math.exp(mu + 0.5 * sigma2) * ndtr(z + sigma)  # E[S; S > u]
        m2 = math.exp(2.0 * mu + 2.0 * sigma2) * ndtr(z + 2.0 * sigma)  # E[S^2; S > u]
        tail = ndtr(z)
        val = 0.5 * m2 - u * m1 + 0.5 * u * u * tail
        return np.asarray(np.maximum(val, 0.0), dtype=np.float64)

    return r2


def offered_load(
    rate_per_s: npt.ArrayLike,
    bin_s: float,
    mean_service_s: float,
    service: ServiceDist = "exponential",
    cv: float = 1.0,
    initial: float = 0.0,
) -> npt.NDArray[np.float64]:
    """Infinite-server mean number in system, averaged over each bin (Erlangs).

    Parameters
    ----------
    rate_per_s : array_like
        Arrival rate per bin, per second, ``>= 0``; piecewise constant, bin ``i``
        covering ``[i bin_s, (i + 1) bin_s)``.
    bin_s : float
        Bin width, seconds, ``> 0``.
    mean_service_s : float
        Mean service (slot-holding) time ``E[S]``, seconds, ``> 0``.
    service : {"exponential", "deterministic", "lognormal"}
        Service-time distribution.  ``"exponential"`` uses the exact recursion of the
        M(t)/M/inf mean; the others an exact discrete convolution kernel.
    cv : float
        Coefficient of variation of ``S`` for ``"lognormal"`` (``> 0``); ignored
        otherwise.
    initial : float
        Mean number in system at time 0, Erlangs, ``>= 0``.  These customers are
        taken to be in steady state for a past constant rate ``initial / E[S]``
        (residual service times from the equilibrium distribution), so
        ``initial = rate[0] * E[S]`` starts the series stationary.

    Returns
    -------
    numpy.ndarray
        ``(1 / bin_s) integral over bin i of m(t) dt`` for every bin, Erlangs.

    Notes
    -----
    With ``G(u) = P(S > u)`` and ``R2(u) = E[((S - u)^+)^2] / 2`` (the second
    integrated tail), the bin average is ``sum_d lam[i - d] K[d]`` with
    ``K[0] = E[S] - (R2(0) - R2(bin)) / bin`` and the second differences
    ``K[d] = (R2((d+1) bin) - 2 R2(d bin) + R2((d-1) bin)) / bin``; the initial
    population contributes ``initial (R2(i bin) - R2((i+1) bin)) / (E[S] bin)``.  The
    kernel sums to ``E[S]``, so a constant rate gives ``m = lam E[S]``.
    """
    lam = np.asarray(rate_per_s, dtype=np.float64)
    if lam.ndim != 1:
        raise ValueError(f"rate_per_s must be one-dimensional, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam < 0.0):
        raise ValueError("rate_per_s must be finite and >= 0")
    _check_positive("bin_s", bin_s)
    _check_positive("mean_service_s", mean_service_s)
    _check_nonneg("initial", initial)
    if service not in ("exponential", "deterministic", "lognormal"):
        raise ValueError(f"unknown service distribution {service!r}")
    if service == "lognormal":
        _check_positive("cv", cv)
    size = lam.size
    if size == 0:
        return np.zeros(0, dtype=np.float64)
    s = float(mean_service_s)
    dt = float(bin_s)

    if service == "exponential":
        # m' = lam - m / s within a bin: m_{i+1} = e m_i + (1 - e) s lam_i, e = exp(-dt/s).
        e = math.exp(-dt / s)
        one_minus_e = -math.expm1(-dt / s)
        ends, _ = lfilter([one_minus_e * s], [1.0, -e], lam, zi=[e * float(initial)])
        starts = np.concatenate(([float(initial)], np.asarray(ends, dtype=np.float64)[:-1]))
        steady = lam * s
        avg = steady + (starts - steady) * (s / dt) * one_minus_e
        return np.asarray(np.maximum(avg, 0.0), dtype=np.float64)

    r2 = _residual_second_moment(service, s, float(cv))
    grid = r2(np.arange(size + 1, dtype=np.float64) * dt)  # R2(d dt), d = 0..size
    kernel = np.empty(size, dtype=np.float64)
    kernel[0] = s - (grid[0] - grid[1]) / dt
    if size > 1:
        kernel[1:] = (grid[2:] - 2.0 * grid[1:-1] + grid[:-2]) / dt
    kernel = np.maximum(kernel, 0.0)
    out = np.asarray(convolve(lam, kernel, method="auto")[:size], dtype=np.float64)
    if initial > 0.0:
        out += float(initial) * (grid[:-1] - grid[1:]) / (s * dt)
    return np.asarray(np.maximum(out, 0.0), dtype=np.float64)


def mol_staffing(
    load: npt.ArrayLike,
    mean_service_s: float,
    target_s: float,
    service_level: float,
    mean_patience_s: float = math.inf,
    max_concurrency: int = 1,
    handle_time_s: HandleTimes | None = None,
    definition: Literal["served", "offered"] = "served",
) -> npt.NDArray[np.int64]:
    """Modified-offered-load staffing: stationary minimum agents per bin.

    Parameters
    ----------
    load : array_like
        Offered load ``m(t)`` per bin, Erlangs (e.g. from :func:`offered_load`),
        ``>= 0``.
    mean_service_s : float
        Mean service time ``E[S]``, seconds, ``> 0``; bin ``i`` is staffed for the
        arrival rate ``load[i] / E[S]``, per second.
    target_s : float
        Answer-time threshold, seconds, ``>= 0``.
    service_level : float
        Required service level, in ``[0, 1)``.
    mean_patience_s : float
        Mean exponential patience, seconds (``inf``: no abandonment).
    max_concurrency : int
        Chats per agent.  With ``1`` and no ``handle_time_s`` the Erlang C / Erlang A
        staffing functions are used; otherwise the chat model
        (:func:`~peakdesk.analytic.chat.agents_for_chat_target`).
    handle_time_s : float or sequence of float, optional
        Per-concurrency slot-holding times for the chat model, seconds; defaults to
        ``mean_service_s`` at every concurrency level.
    definition : {"served", "offered"}
        Service-level definition (see :func:`agents_for_chat_target`); irrelevant
        without abandonment.

    Returns
    -------
    numpy.ndarray of int64
        Minimum agents per bin (at least 1, as in the stationary staffing functions).

    Notes
    -----
    Results are cached per distinct load rounded to 1e-6 Erlang (the rounded value is
    what gets staffed), so long or repetitive series are cheap.
    """
    arr = np.asarray(load, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"load must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0):
        raise ValueError("load must be finite and >= 0")
    _check_positive("mean_service_s", mean_service_s)
    _check_nonneg("target_s", target_s, allow_inf=True)
    _check_sl_target(service_level)
    _check_positive("mean_patience_s", mean_patience_s, allow_inf=True)
    if definition not in ("served", "offered"):
        raise ValueError(f"definition must be 'served' or 'offered', got {definition!r}")
    s = float(mean_service_s)
    use_chat = int(max_concurrency) != 1 or handle_time_s is not None
    h: HandleTimes = s if handle_time_s is None else handle_time_s

    def staff(a: float) -> int:
        lam = a / s
        if use_chat:
            return agents_for_chat_target(
                lam, max_concurrency, h, mean_patience_s, target_s, service_level, definition
            )
        if math.isinf(mean_patience_s):
            return agents_for_service_level_c(lam, s, target_s, service_level)
        return agents_for_service_level_a(
            lam, s, mean_patience_s, target_s, service_level, definition
        )

    keys = np.round(arr, 6)
    uniq, inverse = np.unique(keys, return_inverse=True)
    staffed = np.array([staff(float(a)) for a in uniq], dtype=np.int64)
    return np.asarray(staffed[inverse.reshape(-1)], dtype=np.int64)
