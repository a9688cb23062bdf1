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
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from conftest import base_dict, loaded
from peakdesk.calibrate import fit
from peakdesk.calibrate.scenario import calibrate
from peakdesk.demand.nhpp import sample_piecewise_nhpp
from peakdesk.demand.sample import intensity
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.rules.messages import BUYER, MessageLog
from peakdesk.scenario.load import load_scenario
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


# --- arrivals: smoothing, surges and busy days -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _arrival_log(name: str, seed: int) -> tuple[MessageLog, np.ndarray, dt.tzinfo]:
    """One buyer message per conversation, sampled from a shipped scenario's intensity.

    Returns the log, the true expected conversations per 15 minutes, and the zone.
    """
    ld = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    inten = intensity(ld)
    zone = zone_info(ld.spec.calendar.timezone)
    start = ld.spec.calendar.start.replace(tzinfo=zone).timestamp()
    t = sample_piecewise_nhpp(inten.total / inten.bin_s, inten.bin_s, np.random.default_rng(seed))
    log = MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t + start)
    truth = inten.total.reshape(-1, round(900.0 / inten.bin_s)).sum(axis=1)
    return log, truth, zone


def _near(t: dt.datetime, hhmm: str, day: int, minutes: float = 5.0) -> bool:
    h, m = (int(x) for x in hhmm.split(":"))
    want = dt.datetime(2026, 11, day, h, m, tzinfo=t.tzinfo)
    return abs((t - want).total_seconds()) <= minutes * 60.0


def test_surges_and_busy_days_of_the_tmall_shape() -> None:
    # The Tmall scenario: a 20:00 final-payment wave on 10 Nov, the 00:00 opening of
    # 11 Nov, after-sale days 12-13 Nov at 2.5x and 2x a normal day.  Exactly those two
    # surges on every seed (the 06:00 -> 07:00 step of the normal day, 2.25x, is not one).
    for seed in range(4):
        log, _, zone = _arrival_log("tmall-double11", seed)
        prof = fit.arrivals(log, zone, 900.0)
        found = fit.surges(prof)
        assert [s.label for s in found] == ["20:00 wave", "00:00 opening"], found
        assert _near(found[0].start, "20:00", 10) and _near(found[1].start, "00:00", 11)
        assert all(s.ratio >= 10 and s.p_value < 1e-30 for s in found)
        assert found[1].end - found[1].start <= dt.timedelta(minutes=30)
        labels = {d.day.day: d.label for d in fit.day_levels(prof)}
        assert labels == {10: "normal", 11: "peak day", 12: "after-sale", 13: "after-sale"}


def test_no_surge_in_poisson_noise_or_the_normal_daily_curve() -> None:
    # Flat demand, 3 days, 20 seeds: the onset test holds its family-wise 1e-3 level, so
    # no surge on any (P(any) <= 0.02).  The Lazada shape has the normal hourly curve on
    # four days and one 00:00 opening: that alone is found.
    d = base_dict()
    d["calendar"]["horizon"] = "3d"
    d["demand"] = {"profile": "flat", "volume_per_day": 3000}
    inten = intensity(loaded(d))
    zone = zone_info("Asia/Shanghai")
    start = dt.datetime(2026, 11, 10, tzinfo=zone).timestamp()
    for seed in range(20):
        t = sample_piecewise_nhpp(
            inten.total / inten.bin_s, inten.bin_s, np.random.default_rng(seed)
        )
        log = MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t + start)
        prof = fit.arrivals(log, zone, 900.0)
        assert fit.surges(prof) == []
        assert fit.holes(prof) == []
        assert {x.label for x in fit.day_levels(prof)} == {"normal"}
    for seed in range(4):
        log, _, zone = _arrival_log("lazada-1111", seed)
        found = fit.surges(fit.arrivals(log, zone, 900.0))
        assert [s.label for s in found] == ["00:00 opening"]
        assert _near(found[0].start, "00:00", 11)


def test_smoothing_brings_a_small_shop_forecast_closer_to_the_truth() -> None:
    # Small shop (about 700 conversations a day): the smoothed forecast's squared error
    # per interval against the true expected count is below the raw counts' on every
    # seed (measured: 39-71% lower); totals kept exactly.  At Tmall's volume raw counts
    # are already precise and the thinning choice mostly leaves them: within 1.25x of
    # the raw error (measured 0.95-1.09).
    for seed in range(4):
        log, truth, zone = _arrival_log("small-shop", seed)
        prof = fit.arrivals(log, zone, 900.0)
        raw = float(np.mean((prof.count - truth) ** 2))
        smooth = float(np.mean((prof.expected - truth) ** 2))
        assert smooth < 0.8 * raw, (seed, smooth, raw)
        assert prof.expected.sum() == pytest.approx(prof.count.sum(), rel=1e-9)
        # Reproducible: the thinning splits have a fixed seed.
        again = fit.arrivals(log, zone, 900.0)
        assert np.array_equal(again.expected, prof.expected)
    for seed in range(2):
        log, truth, zone = _arrival_log("tmall-double11", seed)
        prof = fit.arrivals(log, zone, 900.0)
        raw = float(np.mean((prof.count - truth) ** 2))
        smooth = float(np.mean((prof.expected - truth) ** 2))
        assert smooth < 1.25 * raw, (seed, smooth, raw)
    rows = prof.forecast_csv().splitlines()
    assert rows[1].startswith("2026-11-10T00:00:00+08:00,") and "." in rows[1]
    assert prof.forecast_csv(smoothed=False).splitlines()[1].split(",")[1].isdigit()


def test_a_hole_in_the_export_is_found() -> None:
    # Two hours cut out of the small shop's 11 Nov afternoon (about 60 arrivals
    # expected there): found on every seed, within minutes of the cut; the
    # night lull (a few arrivals an hour) and full logs show none.
    for seed in range(4):
        log, _, zone = _arrival_log("small-shop", seed)
        assert fit.holes(fit.arrivals(log, zone, 900.0)) == []
        cut0 = dt.datetime(2026, 11, 11, 14, 0, tzinfo=zone).timestamp()
        cut1 = cut0 + 7200.0
        cut = log.select((log.time_s < cut0) | (log.time_s >= cut1))
        found = fit.holes(fit.arrivals(cut, zone, 900.0))
        assert len(found) == 1, found
        # At about half an arrival a minute a few empty minutes either side are chance.
        h = found[0]
        assert dt.timedelta(0) <= dt.datetime.fromtimestamp(cut0, zone) - h.start
        assert dt.datetime.fromtimestamp(cut0, zone) - h.start <= dt.timedelta(minutes=15)
        assert dt.timedelta(0) <= h.end - dt.datetime.fromtimestamp(cut1, zone)
        assert h.end - dt.datetime.fromtimestamp(cut1, zone) <= dt.timedelta(minutes=15)
        # The lowest prediction (the quietest other day's same two hours).
        assert h.expected > 15


def _valley(per_day: float, depth: float, days: int) -> tuple[np.ndarray, float]:
    """Arrivals per minute of a daily cosine whose 04:00 bottom is ``depth`` of the 16:00 top."""
    h = (np.arange(days * 1440) / 60.0) % 24
    shape = depth + (1 - depth) * (1 - np.cos(2 * np.pi * (h - 4) / 24)) / 2
    return shape / shape[:1440].sum() * per_day / 60.0, 60.0


def test_no_hole_in_logs_without_a_gap_night_troughs_included() -> None:
    # The hole test's null model: 100 simulated logs with no gap each of three
    # shipped profiles and of two night valleys (to zero at 700/day; to 2% at
    # 100/day), 500 in all: a warning on at most 1% of them (measured: 2).  Before
    # the other days were compared the sides alone warned on 8-13% of the shipped
    # profiles' logs and 28-79% of the valleys'.
    zone = zone_info("Asia/Shanghai")
    start = dt.datetime(2026, 11, 10, tzinfo=zone).timestamp()
    cases: list[tuple[np.ndarray, float, dt.tzinfo, float]] = []
    for name in ("lazada-1111", "shopee-1111", "small-shop"):
        ld = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        inten = intensity(ld)
        z = zone_info(ld.spec.calendar.timezone)
        s0 = ld.spec.calendar.start.replace(tzinfo=z).timestamp()
        cases.append((inten.total / inten.bin_s, inten.bin_s, z, s0))
    for per_day, depth in ((700.0, 0.0), (100.0, 0.02)):
        cases.append((*_valley(per_day, depth, 4), zone, start))
    warned = 0
    for rate, bin_s, z, s0 in cases:
        for seed in range(100):
            t = sample_piecewise_nhpp(rate, bin_s, np.random.default_rng(1000 + seed))
            log = MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t + s0)
            warned += bool(fit.holes(fit.arrivals(log, z, 900.0)))
    assert warned <= 5, warned


def test_a_hole_is_found_at_any_hour_but_not_looked_for_in_one_day() -> None:
    # A 2-hour cut in a 4-day valley profile at 700/day: found at 09:00 and at 14:00
    # on every seed.  A one-day export has no other day to compare: the deep night of
    # a one-day valley is not reported (it warned on 26-41% of such logs), and neither
    # is a real cut: calibrate says holes were not looked for.
    zone = zone_info("Asia/Shanghai")
    start = dt.datetime(2026, 11, 10, tzinfo=zone).timestamp()
    rate, bin_s = _valley(700.0, 0.02, 4)
    for seed in range(4):
        t = sample_piecewise_nhpp(rate, bin_s, np.random.default_rng(seed)) + start
        for hour in (9, 14):
            cut0 = dt.datetime(2026, 11, 11, hour, tzinfo=zone).timestamp()
            keep = (t < cut0) | (t >= cut0 + 7200.0)
            log = MessageLog.from_arrays(
                np.arange(int(keep.sum())), np.full(int(keep.sum()), BUYER), t[keep]
            )
            found = fit.holes(fit.arrivals(log, zone, 900.0))
            assert len(found) == 1, (seed, hour, found)
            assert abs(found[0].start.timestamp() - cut0) <= 900.0
            assert abs(found[0].end.timestamp() - cut0 - 7200.0) <= 900.0
    one_day, _ = _valley(700.0, 0.0, 1)
    t = sample_piecewise_nhpp(one_day, 60.0, np.random.default_rng(0)) + start
    log = MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t)
    prof = fit.arrivals(log, zone, 900.0)
    assert not fit.can_find_holes(prof)
    assert fit.holes(prof) == []
    # Not for want of a long quiet stretch: the valley's bottom is one.
    assert np.diff(np.flatnonzero(prof.minute_count)).max() > fit.HOLE_MIN
    cal = calibrate(log, zone, timezone="Asia/Shanghai")
    assert cal.holes == [] and "not looked for" in cal.defaults["holes"]


def test_a_daylight_saving_day_labels_each_interval_with_its_own_clock() -> None:
    # New York falls back on Sunday 1 Nov 2026 (01:00-02:00 twice): the day has 25 hours,
    # 100 quarter-hours; a buyer at 10:05 local (15:05 UTC) is in the 10:00 interval.
    zone = zone_info("America/New_York")
    t = dt.datetime(2026, 11, 1, 15, 5, tzinfo=dt.UTC).timestamp()
    log = MessageLog.from_arrays([0], [BUYER], [t])
    prof = fit.arrivals(log, zone, 900.0)
    assert len(prof.starts) == 100
    k = int(np.flatnonzero(prof.count)[0])
    assert prof.starts[k].hour == 10 and prof.starts[k].minute == 0
    assert prof.starts[k].utcoffset() == dt.timedelta(hours=-5)
    # The repeated hour shows both offsets, so the forecast rows stay unambiguous.
    rows = prof.forecast_csv().splitlines()[1:]
    assert len(set(r.split(",")[0] for r in rows)) == 100


def test_no_reply_at_one_chat_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every back-to-back reply was written at 2 chats: that time stands in for 1 chat,
    # and the calibration says so (it over-states the 1-chat time by the slowdown).
    from peakdesk.calibrate import scenario as calib

    est = fit.Estimate(22.0, 21.0, 23.0, 500, "t 95%")
    monkeypatch.setattr(
        calib.fit, "compose_by_chats", lambda *_: fit.ComposeByChats((1, 2), (None, est))
    )
    zone = zone_info("Asia/Shanghai")
    t = dt.datetime(2026, 11, 10, 10, tzinfo=zone).timestamp() + np.arange(50.0) * 60
    log = MessageLog.from_arrays(np.arange(50), np.full(50, BUYER), t)
    cal = calib.calibrate(log, zone, timezone="Asia/Shanghai")
    assert "the time at 2 chats stands in" in cal.defaults["compose_time at 1 chat"]
    assert cal.scenario["inquiry_types"][0]["compose_time"]["mean"] == "22s"
