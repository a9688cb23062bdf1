"""Turning uniforms into scenario distributions (inverse transform).

Drawing through the inverse CDF of one uniform per conversation (or message)
keeps common random numbers even across parameter changes: a longer mean compose
time maps each message's same uniform to a longer time, so comparisons between
options are not blurred by re-drawn randomness.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from peakdesk.scenario import schema as sc

F64 = npt.NDArray[np.float64]


def duration_ppf(spec: sc.DurationDist | sc.NoPatience, u: F64) -> F64:
    """Durations, seconds, at probabilities ``u`` of a duration distribution.

    ``NoPatience`` gives ``inf`` (the buyer never leaves).
    """
    if isinstance(spec, sc.NoPatience):
        return np.full(u.shape, np.inf)
    if isinstance(spec, sc.Fixed):
        return np.full(u.shape, spec.value)
    if isinstance(spec, sc.Exponential):
        return -spec.mean * np.log1p(-u)
    if isinstance(spec, sc.LogNormal):
        sigma2 = np.log1p(spec.cv**2)
        mu = np.log(spec.mean) - sigma2 / 2.0
        return np.asarray(np.exp(mu + np.sqrt(sigma2) * special.ndtri(u)), dtype=np.float64)
    if isinstance(spec, sc.GammaDist):
        shape = 1.0 / spec.cv**2
        return np.asarray(special.gammaincinv(shape, u) * spec.mean / shape, dtype=np.float64)
    if isinstance(spec, sc.Uniform):
        return spec.low + (spec.high - spec.low) * u
    raise TypeError(f"unknown duration distribution {spec!r}")  # pragma: no cover


def count_ppf(spec: sc.CountDist, u: F64) -> npt.NDArray[np.int64]:
    """Buyer messages per conversation (>= 1) at probabilities ``u``."""
    if isinstance(spec, sc.FixedCount):
        return np.full(u.shape, spec.value, dtype=np.int64)
    if isinstance(spec, sc.GeometricCount):
        if spec.mean == 1.0:
            return np.ones(u.shape, dtype=np.int64)
        p = 1.0 / spec.mean
        k = np.ceil(np.log1p(-u) / np.log1p(-p))
        return np.asarray(np.clip(k, 1, spec.max), dtype=np.int64)
    if isinstance(spec, sc.PoissonCount):
        if spec.mean == 1.0:
            return np.ones(u.shape, dtype=np.int64)
        k = 1.0 + stats.poisson.ppf(u, spec.mean - 1.0)
        return np.asarray(np.clip(k, 1, spec.max), dtype=np.int64)
    if isinstance(spec, sc.EmpiricalCount):
        w = np.asarray(spec.weights, dtype=np.float64)
        cdf = np.cumsum(w / w.sum())
        idx = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
        return np.asarray(spec.values, dtype=np.int64)[idx]
    raise TypeError(f"unknown count distribution {spec!r}")  # pragma: no cover


def duration_mean_s(spec: sc.DurationDist | sc.NoPatience) -> float:
    """Mean of a duration distribution, seconds (``inf`` for no patience)."""
    if isinstance(spec, sc.NoPatience):
        return float("inf")
    if isinstance(spec, sc.Fixed):
        return spec.value
    if isinstance(spec, sc.Uniform):
        return (spec.low + spec.high) / 2.0
    return spec.mean


def count_mean(spec: sc.CountDist) -> float:
    """Mean buyer messages per conversation of a count distribution (its truncation included)."""
    if isinstance(spec, sc.FixedCount):
        return float(spec.value)
    if isinstance(spec, sc.GeometricCount):
        # E[min(G, max)] = sum_{k<max} P(G > k) = (1 - (1 - p)^max) / p, p = 1 / mean.
        if spec.mean == 1.0:
            return 1.0
        p = 1.0 / spec.mean
        return float(-np.expm1(spec.max * np.log1p(-p)) / p)
    if isinstance(spec, sc.PoissonCount):
        return float(min(spec.mean, spec.max))
    if isinstance(spec, sc.EmpiricalCount):
        w = np.asarray(spec.weights, dtype=np.float64)
        return float(np.dot(w / w.sum(), np.asarray(spec.values, dtype=np.float64)))
    raise TypeError(f"unknown count distribution {spec!r}")  # pragma: no cover
