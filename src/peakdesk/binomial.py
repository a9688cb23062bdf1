"""The Wilson score bounds of a binomial proportion, shared by the reports and the planner."""

from __future__ import annotations

import math


def wilson_bounds(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score bounds ``(low, high)`` for a normal quantile ``z`` (> 0).

    ``z = norm.ppf(0.5 + c / 2)`` gives the two-sided interval at confidence
    ``c``; ``z = norm.ppf(level)`` the two one-sided bounds at ``level``.
    ``n`` must be positive.
    """
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # At p = 0 or 1 the bound equals p exactly; rounding would put it a hair beyond.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
