"""The planner's guarantee: confidence bounds on P(all targets met), and the sequential test.

A plan is accepted when a one-sided lower confidence bound on the probability
that a run keeps every target at once clears the required probability
(``targets.confidence``).  Verification adds replications in batches
(:func:`decide` after each): it stops as soon as the lower bound clears the
requirement (accept) or the upper bound falls below it (reject: the plan is
short), or at a cap (undecided: treated as not shown, so the search raises the
requirement).  After acceptance the plan is run on held-out seeds that neither
the refinement nor the verification used, and the held-out share, with its
interval, is what a manager reads and checks.

Bounds (``plan.bound``):

* ``clopper_pearson`` (default): the exact binomial bound from the Beta
  quantiles; conservative, it never covers less than its level.
* ``wilson``: the Wilson score bound; a little tighter, its coverage can dip
  below the level for some true probabilities.

The sequential scheme looks at the data after each batch without spending its
error over the looks, so the acceptance is slightly less sure than its nominal
level; the held-out check, on seeds never looked at, is the unbiased figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import stats

from peakdesk.binomial import wilson_bounds

Bound = Literal["clopper_pearson", "wilson"]
Decision = Literal["accept", "reject", "continue"]


def lower_bound(met: int, n: int, level: float, bound: Bound = "clopper_pearson") -> float:
    """One-sided lower confidence bound of a binomial proportion.

    Parameters
    ----------
    met, n
        Successes (runs keeping every target) and trials.
    level
        One-sided confidence level, in (0, 1).
    bound
        ``clopper_pearson`` or ``wilson``.

    Returns
    -------
    float
        The bound, in [0, 1] (``nan`` when ``n == 0``).
    """
    if n <= 0:
        return math.nan
    if bound == "wilson":
        return _wilson(met, n, level)[0]
    return 0.0 if met == 0 else float(stats.beta.ppf(1.0 - level, met, n - met + 1))


def upper_bound(met: int, n: int, level: float, bound: Bound = "clopper_pearson") -> float:
    """One-sided upper confidence bound of a binomial proportion (see :func:`lower_bound`)."""
    if n <= 0:
        return math.nan
    if bound == "wilson":
        return _wilson(met, n, level)[1]
    return 1.0 if met == n else float(stats.beta.ppf(level, met + 1, n - met))


def interval(
    met: int, n: int, level: float = 0.95, bound: Bound = "clopper_pearson"
) -> tuple[float, float]:
    """Two-sided interval at ``level`` (each side at ``(1 + level) / 2``)."""
    side = 0.5 + level / 2.0
    return lower_bound(met, n, side, bound), upper_bound(met, n, side, bound)


def _wilson(met: int, n: int, level: float) -> tuple[float, float]:
    """One-sided Wilson bounds at ``level``."""
    return wilson_bounds(met, n, float(stats.norm.ppf(level)))


def decide(
    met: int, n: int, required: float, level: float, bound: Bound = "clopper_pearson"
) -> Decision:
    """The sequential test after a batch: accept, reject, or run another batch.

    ``accept`` when the lower bound reaches ``required``; ``reject`` when the
    upper bound is below it; ``continue`` otherwise.
    """
    if lower_bound(met, n, level, bound) >= required:
        return "accept"
    if upper_bound(met, n, level, bound) < required:
        return "reject"
    return "continue"


def runs_to_accept(required: float, level: float, bound: Bound = "clopper_pearson") -> int:
    """Fewest runs, every one keeping every target, that accept a plan.

    Clopper-Pearson: ``n >= log(1 - level) / log(required)``; 59 for 0.95 at 95%.
    """
    return runs_to_clear(0, 0, required, level, bound)


def runs_to_clear(
    met: int, n: int, required: float, level: float, bound: Bound = "clopper_pearson"
) -> int:
    """Fewest further runs, all keeping every target, after which the plan is accepted.

    0 if it already is; at most 1,000,000.
    """
    k = 0
    # ``not >=``: with no runs at all the bound is nan, which accepts nothing.
    while not lower_bound(met + k, n + k, level, bound) >= required and k < 1_000_000:
        k += 1
    return k


@dataclass(frozen=True)
class HeldOut:
    """The plan run on seeds the search never used.

    Attributes
    ----------
    replications
        Held-out runs.
    met
        Runs keeping every target at once.
    p_all_met
        ``met / replications``.
    low, high
        Two-sided interval at ``level``.
    level
        Confidence level of the interval.
    bound
        Its method.
    required
        The required P(all targets met).
    first_replication
        Replication number of the first held-out run (the seeds are the
        scenario's seed with replication numbers ``first_replication ..``).
    passed
        Whether ``p_all_met >= required``.
    """

    replications: int
    met: int
    p_all_met: float
    low: float
    high: float
    level: float
    bound: str
    required: float
    first_replication: int

    @property
    def passed(self) -> bool:
        """The held-out share reaches the required probability."""
        return self.p_all_met >= self.required

    def describe(self) -> str:
        """``held-out P(all met) 0.97, 95% interval [0.91, 0.99] on 100 runs``."""
        return (
            f"held-out P(all met) {self.p_all_met:.2f}, {self.level:.0%} interval "
            f"[{self.low:.2f}, {self.high:.2f}] on {self.replications} runs"
        )


def held_out(
    met: int,
    n: int,
    *,
    required: float,
    level: float,
    bound: Bound,
    first_replication: int,
) -> HeldOut:
    """Summarise a held-out check (see :class:`HeldOut`)."""
    low, high = interval(met, n, level, bound)
    return HeldOut(n, met, met / n, low, high, level, bound, required, first_replication)


__all__ = [
    "Bound",
    "Decision",
    "HeldOut",
    "decide",
    "held_out",
    "interval",
    "lower_bound",
    "runs_to_accept",
    "runs_to_clear",
    "upper_bound",
]
