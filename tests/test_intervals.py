"""Per-interval levels and the summary, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import base_dict, make_workload, run_dict
from peakdesk.engine.intervals import interval_table, level_integral, mean_level, peak_level
from peakdesk.engine.summary import summarise


def test_level_integral_and_mean_level_by_hand() -> None:
    start = np.array([0.0, 5.0, 12.0])
    end = np.array([10.0, 15.0, 13.0])
    edges = np.array([0.0, 5.0, 10.0, 20.0])
    # Open count: 1 on [0,5), 2 on [5,10), 1 on [10,12), 2 on [12,13), 1 on [13,15), 0 after.
    np.testing.assert_allclose(level_integral(start, end, edges), [0.0, 5.0, 15.0, 21.0])
    np.testing.assert_allclose(mean_level(start, end, edges), [1.0, 2.0, 0.6])
    assert peak_level(start, end) == 2
    # An end and a start at the same instant do not overlap.
    assert peak_level(np.array([0.0, 10.0]), np.array([10.0, 20.0])) == 1
    assert peak_level(np.array([]), np.array([])) == 0


def test_interval_table_and_summary_of_a_trace() -> None:
    # One agent (concurrency 1, 24 h shift); interval 15 min.  A arrives 0 (reply 600 s
    # to write); B arrives 60, waits to 600, its reply takes 300 s (done 900).
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 1
    w = make_workload([0.0, 60.0], [[(0, 600)], [(0, 300)]])
    log = run_dict(d, w)
    it = interval_table(log, 900.0)
    assert it.start_s[0] == 0.0
    # The grid runs to the end of the 24 h shift (the agent stays online).
    assert it.start_s.size == 96
    np.testing.assert_allclose(it.agents_online[:2], [1.0, 1.0])
    # Busy: A on [0,600), B on [600,900): one slot busy all of the first interval.
    np.testing.assert_allclose(it.busy_slots[0], 1.0)
    np.testing.assert_allclose(it.composing[0], 1.0)
    np.testing.assert_allclose(it.occupancy[0], 1.0)
    np.testing.assert_allclose(it.busy_slots[1], 0.0)
    # Queue: B waits [60, 600) -> 540 / 900.  Backlog: A [0,600) + B [60,900) -> 1440/900.
    np.testing.assert_allclose(it.queue[0], 540 / 900)
    np.testing.assert_allclose(it.backlog[0], 1440 / 900)
    assert it.arrivals[0] == 2 and it.arrivals[1:].sum() == 0
    np.testing.assert_allclose(it.first_reply_mean_s[0], (600 + 840) / 2)
    np.testing.assert_allclose(it.first_reply_p90_s[0], 840.0)
    # nearest rank of {600, 840}: the median is the first, the 95th the second
    np.testing.assert_allclose(it.first_reply_p50_s[0], 600.0)
    np.testing.assert_allclose(it.first_reply_p95_s[0], 840.0)
    np.testing.assert_allclose(it.within_3min[0], 0.0)

    s = summarise(log)
    assert s.conversations == 2 and s.human_conversations == 2 and s.buyer_messages == 2
    np.testing.assert_allclose(s.first_reply_mean_s, 720.0)
    assert s.within_30s == 0.0 and s.within_12h == 1.0
    assert s.peak_backlog == 2 and s.peak_queue == 1 and s.peak_agents_online == 1
    # Online 24 h, writing 900 s.
    np.testing.assert_allclose(s.occupancy, 900 / 86400)
    np.testing.assert_allclose(s.paid_agent_hours, 24.0)
    np.testing.assert_allclose(s.labour_cost, 240.0)


def test_interval_percentiles_are_nearest_rank_per_arrival_interval() -> None:
    """Every interval's p50/p90/p95 equals a brute-force nearest rank (unanswered = inf)."""
    import math

    from conftest import SCENARIOS
    from peakdesk.experiment.replicate import simulate
    from peakdesk.scenario import load_scenario

    ev = simulate(load_scenario(SCENARIOS / "small-shop.toml"), replications=1)
    log = ev.replications[0].log
    assert log is not None
    it = ev.replications[0].intervals
    w = log.workload
    delay = log.first_human_reply_s - w.arrival_s
    late = np.where(np.isnan(delay), np.inf, delay)
    bins = np.minimum((w.arrival_s // it.interval_s).astype(int), it.start_s.size - 1)
    checked = 0
    for b in range(it.start_s.size):
        x = np.sort(late[(bins == b) & ~w.bot])
        for q, col in (
            (0.5, it.first_reply_p50_s),
            (0.9, it.first_reply_p90_s),
            (0.95, it.first_reply_p95_s),
        ):
            if x.size == 0:
                assert np.isnan(col[b])
            else:
                assert col[b] == x[math.ceil(q * x.size) - 1]
                checked += 1
    assert checked > 300
    ok = np.isfinite(it.first_reply_p95_s)
    assert np.all(it.first_reply_p50_s[ok] <= it.first_reply_p90_s[ok])
    assert np.all(it.first_reply_p90_s[ok] <= it.first_reply_p95_s[ok])


@pytest.mark.parametrize("seed", range(40))
def test_level_integral_and_peak_against_brute_force(seed: int) -> None:
    """Levels by binned counts and sums equal the integral span by span; the peak equals
    a sweep that closes an end before a start at the same instant (ties on a grid)."""
    from peakdesk.engine.intervals import level_integral, peak_level

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 200))
    on_grid = seed % 2 == 0
    s = rng.integers(0, 40, n) * 30.0 if on_grid else rng.uniform(-100.0, 2000.0, n)
    e = s + (rng.integers(0, 8, n) * 30.0 if on_grid else rng.exponential(120.0, n))
    edges = np.arange(0.0, 2400.0, 150.0) if on_grid else np.linspace(-50.0, 2200.0, 17)
    brute = np.array([np.sum(np.clip(np.minimum(e, t) - s, 0.0, None)) for t in edges])
    assert np.allclose(level_integral(s, e, edges), brute, rtol=0.0, atol=1e-6)
    times = sorted({*s.tolist(), *e.tolist()})
    sweep = max((int(np.sum((s <= t) & (e > t))) for t in times), default=0)
    assert peak_level(s, e) == sweep
