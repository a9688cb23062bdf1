"""How far the day runs above or below its forecast: the Gamma-Poisson update.

The scenario's forecast uncertainty is a day factor ``F`` on each local day's
volume, Gamma with mean 1 and coefficient of variation ``demand.daily_cv``
(:mod:`peakdesk.demand.sample`): shape ``a = 1 / cv^2`` and rate ``b = 1 / cv^2``.
Given ``F``, the day's arrivals up to a time are Poisson with mean ``F x L``,
``L`` the forecast's expected arrivals up to then.  After ``N`` arrivals the
factor is Gamma with shape ``a + N`` and rate ``b + L`` (conjugate), so its mean
``(a + N) / (b + L)`` runs from the prior's 1 (no arrivals expected yet) to the
observed ratio ``N / L`` (many).  The rest of the day, forecast ``R``, is then
negative binomial: Poisson with mean ``F x R`` over that Gamma, ``n = a + N``
and ``p = (b + L) / (b + L + R)``.  A forecast with ``daily_cv`` 0 states no
uncertainty (a plan made on a quantile of its forecast carries 0): the factor is
then read from the arrivals alone, under Jeffreys' prior (``a = 1/2``, ``b = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class DayFactor:
    """The day factor after the day so far, and the rest of the day it implies.

    Attributes
    ----------
    observed
        Conversations that arrived so far today.
    expected
        The forecast's expected arrivals so far today (its day factor 1).
    prior_cv
        The forecast's ``daily_cv`` (0: the forecast states no uncertainty).
    mean, low, high
        Posterior mean of the day factor and its central interval at ``level``
        (with ``prior_cv`` 0, under Jeffreys' prior: the arrivals alone).
    rest_expected
        The forecast's expected arrivals for the rest of the day.
    rest_mean, rest_low, rest_high
        Arrivals for the rest of the day: predictive mean and central interval.
    level
        The intervals' level.
    """

    observed: int
    expected: float
    prior_cv: float
    mean: float
    low: float
    high: float
    rest_expected: float
    rest_mean: float
    rest_low: float
    rest_high: float
    level: float

    @property
    def ratio(self) -> float:
        """Arrivals so far over the forecast's (NaN: none expected)."""
        return self.observed / self.expected if self.expected > 0 else math.nan


def posterior(
    observed: int, expected: float, cv: float, rest: float, level: float = 0.9
) -> DayFactor:
    """The conjugate update of the module docstring.

    Parameters
    ----------
    observed
        Arrivals so far today (conversations).
    expected
        The forecast's expected arrivals so far today (>= 0).
    cv
        The prior's coefficient of variation (``demand.daily_cv``, >= 0).
    rest
        The forecast's expected arrivals for the rest of the day (>= 0).
    level
        Level of the central intervals (0.9: the 5% and 95% quantiles).
    """
    if observed < 0 or expected < 0 or rest < 0 or cv < 0:
        raise ValueError("counts, expectations and the CV must be >= 0")
    tail = (1.0 - level) / 2.0
    if cv == 0.0:
        # No uncertainty stated (a forecast taken as exact, or a plan made on a quantile
        # of it): the factor is read from the arrivals alone, under Jeffreys' prior for a
        # Poisson rate (shape 1/2, rate 0), rather than pinned at 1 whatever they say.
        shape, rate = 0.5 + observed, float(expected)
    else:
        shape = 1.0 / cv**2 + observed
        rate = 1.0 / cv**2 + expected
    if rate <= 0.0:
        # Nothing expected yet and no prior to lean on: the forecast as it is.
        return DayFactor(
            observed, expected, cv, 1.0, math.nan, math.nan, rest, rest, math.nan, math.nan, level
        )
    post = stats.gamma(shape, scale=1.0 / rate)
    if rest > 0:
        nb = stats.nbinom(shape, rate / (rate + rest))
        r_lo, r_hi = float(nb.ppf(tail)), float(nb.ppf(1 - tail))
    else:
        r_lo = r_hi = 0.0
    return DayFactor(
        observed=observed,
        expected=expected,
        prior_cv=cv,
        mean=shape / rate,
        low=float(post.ppf(tail)),
        high=float(post.ppf(1 - tail)),
        rest_expected=rest,
        rest_mean=rest * shape / rate,
        rest_low=r_lo,
        rest_high=r_hi,
        level=level,
    )
