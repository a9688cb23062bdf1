"""Calibration, first part: what a chat export shows directly, recovered from a simulated one.

A scenario kept here is simulated, its log exported as the import format's
message log, and each fitted quantity's 95% interval must hold the value that
generated it: arrivals per 15 minutes (exact Poisson intervals; their coverage
is at least 95%, so at least 85 of 96 intervals, and the day's total inside its
99.9% Poisson band), buyer messages per conversation, buyer think time and the
bot share.  Each is checked on three replications (fixed seeds), at 99.9% (the
95% interval widened to z = 3.29: twelve checks at once), so a systematic bias
would show while sampling noise does not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from scipy import stats

from conftest import base_dict, loaded
from peakdesk.calibrate import fit
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.rules.messages import MessageLog
from peakdesk.units import zone_info

VOLUME = 4000.0
MESSAGES = 2.5
THINK_S = 40.0
BOT = 0.2


def _scenario() -> dict[str, Any]:
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": VOLUME}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": MESSAGES}
    t["think_time"] = {"dist": "exponential", "mean": f"{THINK_S}s"}
    t["compose_time"] = {"dist": "exponential", "mean": "20s"}
    t["bot_resolve"] = BOT
    d["pools"][0]["max_concurrency"] = 3
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 12}]
    return d


def _covers(est: fit.Estimate | None, value: float) -> bool:
    """``value`` within the estimate's interval widened from 95% to 99.9%."""
    assert est is not None
    z95, z999 = stats.norm.ppf(0.975), stats.norm.ppf(0.9995)
    half = (est.high - est.low) / 2 * z999 / z95
    return bool(abs(est.value - value) <= half)


@pytest.fixture(scope="module")
def logs() -> list[MessageLog]:
    ev = simulate(loaded(_scenario()), seed=13, replications=3, keep_logs=True)
    out = []
    for r in ev.replications:
        assert r.log is not None
        out.append(to_message_log(r.log))
    return out


def test_arrivals_per_interval_hold_the_rate(logs: list[MessageLog]) -> None:
    zone = zone_info("Asia/Shanghai")
    for log in logs:
        prof = fit.arrivals(log, zone, 900.0)
        assert len(prof.starts) == 96
        assert prof.starts[0] == dt.datetime(2026, 11, 10, tzinfo=zone)
        expected = VOLUME / 96
        covered = int(((prof.low <= expected) & (expected <= prof.high)).sum())
        assert covered >= 85, covered
        lo, hi = stats.poisson.ppf([0.0005, 0.9995], VOLUME)
        assert lo <= prof.count.sum() <= hi
        rows = prof.forecast_csv().splitlines()
        assert rows[0] == "interval_start,conversations" and len(rows) == 97
        assert rows[1].startswith("2026-11-10T00:00:00+08:00,")


def test_messages_think_time_and_bot_share_are_recovered(logs: list[MessageLog]) -> None:
    for log in logs:
        values, shares, mean = fit.messages_per_conversation(log)
        assert _covers(mean, MESSAGES), mean
        assert values[0] == 1 and shares.sum() == pytest.approx(1.0)
        # Geometric from 1 with mean 2.5: P(1) = 1 / 2.5 = 0.4.
        assert abs(shares[0] - 0.4) < 0.03
        think, cv = fit.think_time(log)
        assert _covers(think, THINK_S), think
        assert 0.9 <= cv <= 1.1  # exponential
        bots = fit.bot_share(log)
        assert _covers(bots, BOT), bots


def test_a_log_without_buyers_is_said_so() -> None:
    empty = MessageLog.from_arrays(conversation=[0], sender=[1], time_s=[1.8e9])
    with pytest.raises(ValueError, match="no buyer message"):
        fit.arrivals(empty, zone_info("UTC"))
    assert fit.think_time(empty)[0] is None
    with pytest.raises(ValueError, match="must divide a day"):
        fit.arrivals(empty, zone_info("UTC"), 7.0)
    assert np.isnan(fit.think_time(empty)[1])


PATIENCE_S = 120.0


def test_patience_from_censored_waits_recovers_the_mean() -> None:
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": 5000}
    t = d["inquiry_types"][0]
    # Patience runs until the first reply, writing included: with 10-s replies about
    # 10 / 130 of buyers leave while theirs is written, a few more in the queue.
    t["compose_time"] = {"dist": "exponential", "mean": "10s"}
    t["patience"] = {"dist": "exponential", "mean": f"{PATIENCE_S}s"}
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 2}]
    ev = simulate(loaded(d), seed=21, replications=3, keep_logs=True)
    for r in ev.replications:
        log = r.log
        assert log is not None
        end = float(np.nanmax(log.close_s))
        fitted = fit.patience(
            log.workload.arrival_s, log.first_human_reply_s, log.abandoned, log.abandon_s, end
        )
        # Most buyers are answered before they leave: censored, not departures.
        assert fitted.censored > 4 * fitted.events > 0
        assert _covers(fitted.exponential_mean, PATIENCE_S), fitted.exponential_mean
        # The naive mean of the departures' waits is nowhere near the patience.
        assert fitted.naive_mean_s < 0.6 * PATIENCE_S
        # Kaplan-Meier: a falling curve, at 30 s near exp(-30 / 120) = 0.78 (most
        # waits are short, so that is where it is well measured).
        assert fitted.survival[-1] < 1.0 and np.all(np.diff(fitted.survival) <= 1e-12)
        at = int(np.searchsorted(fitted.survival_t, 30.0, side="right")) - 1
        assert abs(fitted.survival[at] - np.exp(-30.0 / PATIENCE_S)) < 0.03, fitted.survival[at]


def test_writing_time_by_chats_held_is_recovered() -> None:
    # One reply at a time, 3 chats, writing slowed by 10% a chat: 20, 22 and 24 s.
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": 6000}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": 3.0}
    t["think_time"] = {"dist": "exponential", "mean": "30s"}
    t["compose_time"] = {"dist": "exponential", "mean": "20s"}
    p = d["pools"][0]
    p.update(max_concurrency=3, slowdown_per_extra_chat=0.1, discipline="sequential")
    p["shifts"] = [{"start": "00:00", "length": "24h", "agents": 8}]
    ev = simulate(loaded(d), seed=3, replications=2, keep_logs=True)
    for r in ev.replications:
        assert r.log is not None
        found = fit.compose_by_chats(to_message_log(r.log))
        assert found.chats == (1, 2, 3)
        for k, est in zip(found.chats, found.mean, strict=True):
            assert est is not None and est.n > 300
            assert _covers(est, 20.0 * (1 + 0.1 * (k - 1))), (k, est)
