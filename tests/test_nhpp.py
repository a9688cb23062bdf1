"""Tests for peakdesk.demand.nhpp: statistics, zero-rate bins, ordering, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from peakdesk.demand.nhpp import sample_piecewise_nhpp

BIN_S = 60.0
# Expected arrivals per bin from ~0.3 to 30, with zero-rate runs at the start, inside and at the
# end (the inversion must skip them all).
MEANS = np.array([0, 0, 0.3, 2, 8, 30, 0, 0, 0, 12, 5, 1, 0.5, 20, 0, 3, 0, 0])
RATE = MEANS / BIN_S
REPS = 800


def counts_per_bin(seed: int) -> np.ndarray:
    """Arrival counts per bin, one row per replication (seeds from one SeedSequence)."""
    children = np.random.SeedSequence(seed).spawn(REPS)
    out = np.empty((REPS, RATE.size), dtype=np.int64)
    for r, child in enumerate(children):
        times = sample_piecewise_nhpp(RATE, BIN_S, np.random.default_rng(child))
        out[r] = np.bincount((times // BIN_S).astype(np.int64), minlength=RATE.size)
    return out


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    return counts_per_bin(20241111)


def test_bin_means_match_poisson(counts: np.ndarray) -> None:
    positive = MEANS > 0
    totals = counts.sum(axis=0)[positive]
    expected = REPS * MEANS[positive]
    # Each bin total over REPS replications is Poisson(REPS * mean): z-scores and a chi-square
    # goodness-of-fit on the bins together.
    z = (totals - expected) / np.sqrt(expected)
    assert np.all(np.abs(z) < 4.0), z
    chi2 = float(np.sum(z**2))
    assert stats.chi2.sf(chi2, df=int(positive.sum())) > 1e-3


def test_bin_variance_equals_mean(counts: np.ndarray) -> None:
    # Poisson dispersion: variance / mean ~ 1 per bin; its sampling sd is ~ sqrt(2 / REPS) = 0.05
    # (a bit more for small means), so 0.75..1.25 is a ~5-sigma band.
    for k in np.flatnonzero(MEANS >= 1):
        dispersion = counts[:, k].var(ddof=1) / MEANS[k]
        assert 0.75 < dispersion < 1.25, (k, dispersion)


def test_zero_rate_bins_get_no_arrivals(counts: np.ndarray) -> None:
    assert np.all(counts[:, MEANS == 0] == 0)


def test_within_bin_positions_uniform() -> None:
    rng = np.random.default_rng(7)
    times = sample_piecewise_nhpp(RATE * 20, BIN_S, rng)
    frac = (times % BIN_S) / BIN_S
    assert stats.kstest(frac, "uniform").pvalue > 1e-3


def test_sorted_in_range_float64() -> None:
    rate = np.array([0.0, 5.0, 0.0, 1e-3, 7.0, 0.0])
    times = sample_piecewise_nhpp(rate, 7.0, np.random.default_rng(1))
    assert times.dtype == np.float64
    assert np.all(np.diff(times) >= 0)
    assert times.min() >= 7.0 and times.max() < 6 * 7.0
    bins = (times // 7.0).astype(int)
    assert set(np.unique(bins)) <= {1, 3, 4}


def test_same_seed_identical_output() -> None:
    a = sample_piecewise_nhpp(RATE, BIN_S, np.random.default_rng(42))
    b = sample_piecewise_nhpp(RATE, BIN_S, np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    c = sample_piecewise_nhpp(RATE, BIN_S, np.random.default_rng(43))
    assert not np.array_equal(a, c)


def test_common_random_numbers_under_scaling() -> None:
    # Scaling the rate maps the same unit epochs: the k-th arrival can only move earlier as the
    # rate grows, and with it the count can only grow. Large totals cross several chunk sizes.
    rate = np.array([0.5, 2.0, 0.0, 1.0, 3.0])
    low = sample_piecewise_nhpp(rate * 300, 60.0, np.random.default_rng(5))
    high = sample_piecewise_nhpp(rate * 450, 60.0, np.random.default_rng(5))
    assert low.size > 4096 * 3 and high.size >= low.size
    assert np.all(high[: low.size] <= low)
    # Exactly the same epochs: in bin 0 the k-th arrival time scales by 300 / 450.
    in_bin0 = low[low < 60.0]
    np.testing.assert_allclose(high[: in_bin0.size], in_bin0 * 300 / 450, rtol=1e-9)


def test_all_zero_and_empty_rates() -> None:
    rng = np.random.default_rng(0)
    assert sample_piecewise_nhpp(np.zeros(5), 60.0, rng).size == 0
    assert sample_piecewise_nhpp(np.zeros(0), 60.0, rng).size == 0


@pytest.mark.parametrize(
    ("rate", "bin_s", "match"),
    [
        (np.array([1.0, -0.1]), 60.0, ">= 0"),
        (np.array([1.0, np.nan]), 60.0, "finite"),
        (np.ones((2, 2)), 60.0, "1-D"),
        (np.ones(3), 0.0, "bin_s"),
        (np.ones(3), float("inf"), "bin_s"),
    ],
)
def test_invalid_input(rate: np.ndarray, bin_s: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_piecewise_nhpp(rate, bin_s, np.random.default_rng(0))
