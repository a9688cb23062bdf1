"""Lazada, TikTok Shop and Amazon chat rules: one test per clause, then properties."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from peakdesk.rules import amazon, lazada, tiktok
from peakdesk.rules.calendar import day_number
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog
from peakdesk.rules.series import DailyHistory, MetricSeries

MANILA = ZoneInfo("Asia/Manila")
JAKARTA = ZoneInfo("Asia/Jakarta")
LA = ZoneInfo("America/Los_Angeles")
H = 3600.0
DAY = 86400.0

Row = tuple[int, int, dt.datetime]


def at(zone: ZoneInfo, day: int, hh: int, mm: int = 0, ss: int = 0, month: int = 11) -> dt.datetime:
    """An aware local datetime in 2026 (November by default)."""
    return dt.datetime(2026, month, day, hh, mm, ss, tzinfo=zone)


def log_of(rows: list[Row]) -> MessageLog:
    """A log from ``(conversation, sender, aware datetime)`` rows."""
    conv, snd, t = zip(*rows, strict=True)
    return MessageLog.from_arrays(conv, snd, [x.timestamp() for x in t])


def rate(series: MetricSeries) -> float:
    """Share over every unit of the log."""
    return series.overall


# --------------------------------------------------------------------------- Lazada
# 2026-11-10 is a Tuesday; Asia/Manila has no DST.


def test_lazada_cycle_cutoff_1759_vs_1801() -> None:
    log = log_of([(0, BUYER, at(MANILA, 10, 17, 59)), (1, BUYER, at(MANILA, 10, 18, 1))])
    j = lazada.judge(log)
    d10 = day_number(dt.date(2026, 11, 10))
    assert j.cycle_day.tolist() == [d10, d10 + 1]
    assert j.deadline_s.tolist() == [at(MANILA, 10, 19).timestamp(), at(MANILA, 11, 19).timestamp()]
    # 18:00:00 itself belongs to the next cycle (t < 18:00 stays on D).
    j18 = lazada.judge(log_of([(0, BUYER, at(MANILA, 10, 18))]))
    assert j18.cycle_day.tolist() == [d10 + 1]


def test_lazada_answered_by_1900_of_cycle_day() -> None:
    def answered(buyer: dt.datetime, reply: dt.datetime) -> float:
        return rate(lazada.score(log_of([(0, BUYER, buyer), (0, AGENT, reply)]))[lazada.RATE])

    assert answered(at(MANILA, 10, 10), at(MANILA, 10, 18, 59)) == 1.0
    assert answered(at(MANILA, 10, 10), at(MANILA, 10, 19)) == 1.0  # inclusive
    assert answered(at(MANILA, 10, 10), at(MANILA, 10, 19, 1)) == 0.0
    # 17:59 is due the same day, 18:01 the next day.
    assert answered(at(MANILA, 10, 17, 59), at(MANILA, 11, 9)) == 0.0
    assert answered(at(MANILA, 10, 18, 1), at(MANILA, 11, 18, 59)) == 1.0
    assert answered(at(MANILA, 10, 18, 1), at(MANILA, 11, 19, 1)) == 0.0


def test_lazada_several_buyer_messages_form_one_conversation() -> None:
    log = log_of(
        [
            (0, BUYER, at(MANILA, 10, 10)),
            (0, BUYER, at(MANILA, 10, 10, 5)),
            (0, BUYER, at(MANILA, 10, 10, 20)),
            (0, AGENT, at(MANILA, 10, 10, 30)),
            (0, BUYER, at(MANILA, 10, 11)),  # after the reply: a new conversation
            (0, AGENT, at(MANILA, 10, 11, 10)),
        ]
    )
    out = lazada.score(log)
    assert out[lazada.RATE].n_units == 2
    assert out[lazada.TIME].overall == pytest.approx((1800 + 600) / 2)  # from the first message


def test_lazada_bot_reply_does_not_count() -> None:
    bot_only = log_of([(0, BUYER, at(MANILA, 10, 10)), (0, BOT, at(MANILA, 10, 10, 0, 5))])
    out = lazada.score(bot_only)
    assert out[lazada.RATE].n_units == 1 and rate(out[lazada.RATE]) == 0.0
    then_human = log_of(
        [
            (0, BUYER, at(MANILA, 10, 10)),
            (0, BOT, at(MANILA, 10, 10, 0, 5)),
            (0, AGENT, at(MANILA, 10, 10, 10)),
        ]
    )
    out = lazada.score(then_human)
    assert rate(out[lazada.RATE]) == 1.0
    assert out[lazada.TIME].overall == 600.0  # the bot's 5 s do not count


def test_lazada_holiday_excluded_on_cycle_day() -> None:
    rows: list[Row] = [
        (0, BUYER, at(MANILA, 9, 18, 30)),  # cycle 10th (holiday): excluded
        (1, BUYER, at(MANILA, 10, 12)),  # cycle 10th: excluded
        (2, BUYER, at(MANILA, 10, 18, 30)),  # cycle 11th: counts, unanswered
        (3, BUYER, at(MANILA, 9, 12)),  # cycle 9th: counts
        (3, AGENT, at(MANILA, 9, 12, 5)),
    ]
    rule = lazada.LazadaRule(holidays=(dt.date(2026, 11, 10),))
    s = lazada.score(log_of(rows), rule)[lazada.RATE]
    assert s.n_units == 2 and rate(s) == 0.5
    assert lazada.score(log_of(rows))[lazada.RATE].n_units == 4


def test_lazada_holiday_mode_excluded() -> None:
    span = ((at(MANILA, 10, 10).timestamp(), at(MANILA, 10, 12).timestamp()),)
    rows: list[Row] = [
        (0, BUYER, at(MANILA, 10, 11)),  # inside: excluded
        (1, BUYER, at(MANILA, 10, 12)),  # end is exclusive: counts
        (1, AGENT, at(MANILA, 10, 12, 1)),
    ]
    s = lazada.score(log_of(rows), lazada.LazadaRule(holiday_mode=span))[lazada.RATE]
    assert s.n_units == 1 and rate(s) == 1.0


def test_lazada_seven_day_window() -> None:
    # One conversation per day from the 1st to the 10th; only the 1st's is missed.
    rows: list[Row] = []
    for d in range(1, 11):
        rows.append((d, BUYER, at(MANILA, d, 10)))
        if d > 1:
            rows.append((d, AGENT, at(MANILA, d, 10, 5)))
    s = lazada.score(log_of(rows))[lazada.RATE]
    assert s.window_days == 7
    np.testing.assert_allclose(s.rolling[:8], [0, 1 / 2, 2 / 3, 3 / 4, 4 / 5, 5 / 6, 6 / 7, 1.0])
    assert s.first_failing_day() == dt.date(2026, 11, 1)
    assert s.final == 1.0


def test_lazada_working_hours_clock() -> None:
    rows: list[Row] = [
        (0, BUYER, at(MANILA, 10, 18, 30)),  # 30 min left that day, due 19:00 on the 11th
        (0, AGENT, at(MANILA, 11, 8, 10)),  # + 10 min the next morning
        (1, BUYER, at(MANILA, 10, 7)),  # before hours: nothing counts until 08:00
        (1, AGENT, at(MANILA, 10, 8, 5)),
    ]
    wall = lazada.score(log_of(rows))[lazada.TIME]
    work = lazada.score(log_of(rows), lazada.LazadaRule(clock="working_hours"))[lazada.TIME]
    assert wall.overall == pytest.approx((13 * H + 40 * 60 + 65 * 60) / 2)
    assert work.overall == pytest.approx((40 * 60 + 5 * 60) / 2)
    assert "working hours" in work.label


def test_lazada_response_time_only_on_time_and_thresholds() -> None:
    rows: list[Row] = [
        (0, BUYER, at(MANILA, 10, 10)),
        (0, AGENT, at(MANILA, 10, 10, 20)),
        (1, BUYER, at(MANILA, 10, 10)),
        (1, AGENT, at(MANILA, 10, 19, 30)),  # late: not in the response time
    ]
    out = lazada.score(log_of(rows))
    assert out[lazada.TIME].overall == 1200.0 and out[lazada.TIME].n_units == 1
    assert out[lazada.RATE].threshold == 0.85 and out[lazada.RATE].higher_is_better
    assert out[lazada.TIME].threshold == 1800.0 and not out[lazada.TIME].higher_is_better


def test_lazada_history_fills_window() -> None:
    rows: list[Row] = [(0, BUYER, at(MANILA, 10, 10)), (0, AGENT, at(MANILA, 10, 10, 1))]
    hist = DailyHistory(days=(dt.date(2026, 11, 9),), count=(3.0,), value=(0.0,))
    s = lazada.score(log_of(rows), history={lazada.RATE: hist})[lazada.RATE]
    assert s.from_history.tolist() == [True, False]
    assert s.final == pytest.approx(1 / 4)


def test_presets_and_validation() -> None:
    assert lazada.PRESETS["VN"].timezone == "Asia/Ho_Chi_Minh"
    assert tiktok.PRESETS["US"].window_s == 24 * H and tiktok.PRESETS["US"].weekend
    assert tiktok.PRESETS["default"].window_s == 12 * H
    assert not tiktok.PRESETS["SEA"].weekend
    assert tiktok.PRESETS["US"].zone_name == "America/Los_Angeles"
    # Market defaults follow the market when a field is left to None.
    assert dataclasses.replace(tiktok.PRESETS["default"], market="US").window_s == 24 * H
    assert amazon.PRESETS["UK"].timezone == "Europe/London"
    with pytest.raises(ValueError, match="cutoff_s"):
        lazada.LazadaRule(cutoff_s=-1)
    with pytest.raises(ValueError, match="holiday_mode"):
        lazada.LazadaRule(holiday_mode=((2.0, 1.0),))
    with pytest.raises(ValueError, match="market"):
        tiktok.TikTokRule(market="EU")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="windows"):
        amazon.AmazonRule(windows=())
    with pytest.raises(Exception, match="Nowhere"):
        amazon.AmazonRule(timezone="Nowhere/City")


def test_empty_log() -> None:
    empty = MessageLog.from_arrays([], [], [])
    assert lazada.score(empty)[lazada.RATE].n_units == 0
    assert tiktok.score(empty)[tiktok.RATE].n_units == 0
    assert all(s.n_units == 0 for s in amazon.score(empty).values())


# --------------------------------------------------------------------------- TikTok
# 2026-11-13 is a Friday, the 14th a Saturday, the 15th a Sunday, the 16th a Monday.


def tt_rate(rows: list[Row], rule: tiktok.TikTokRule) -> float:
    return rate(tiktok.score(log_of(rows), rule)[tiktok.RATE])


def test_tiktok_12h_sea_vs_24h_us() -> None:
    sea, us = tiktok.PRESETS["SEA"], tiktok.PRESETS["US"]
    t0 = at(JAKARTA, 10, 9)
    assert tt_rate([(0, BUYER, t0), (0, AGENT, t0 + dt.timedelta(hours=12))], sea) == 1.0
    late = t0 + dt.timedelta(hours=12, seconds=1)
    assert tt_rate([(0, BUYER, t0), (0, AGENT, late)], sea) == 0.0
    u0 = at(LA, 10, 9)  # a Tuesday
    assert tt_rate([(0, BUYER, u0), (0, AGENT, u0 + dt.timedelta(hours=13))], us) == 1.0
    assert tt_rate([(0, BUYER, u0), (0, AGENT, u0 + dt.timedelta(hours=24))], us) == 1.0
    late_us = u0 + dt.timedelta(hours=24, seconds=1)
    assert tt_rate([(0, BUYER, u0), (0, AGENT, late_us)], us) == 0.0
    assert tiktok.score(log_of([(0, BUYER, u0)]), us)[tiktok.RATE].window_days == 30


def test_tiktok_us_weekend_rule() -> None:
    us = tiktok.PRESETS["US"]
    sat = at(LA, 14, 10)
    assert tt_rate([(0, BUYER, sat), (0, AGENT, at(LA, 16, 11, 59))], us) == 1.0
    assert tt_rate([(0, BUYER, sat), (0, AGENT, at(LA, 16, 12))], us) == 1.0
    assert tt_rate([(0, BUYER, sat), (0, AGENT, at(LA, 16, 12, 1))], us) == 0.0
    # Friday is a weekday: 24 h only.
    assert tt_rate([(0, BUYER, at(LA, 13, 10)), (0, AGENT, at(LA, 16, 11))], us) == 0.0
    # Sunday 23:00: "later" keeps the full 24 h; "monday" holds to Monday 12:00.
    sun = [(0, BUYER, at(LA, 15, 23)), (0, AGENT, at(LA, 16, 22))]
    assert tt_rate(sun, us) == 1.0
    assert tt_rate(sun, dataclasses.replace(us, weekend_mode="monday")) == 0.0
    # No weekend rule in SEA.
    sea_sat = [(0, BUYER, at(JAKARTA, 14, 10)), (0, AGENT, at(JAKARTA, 16, 11))]
    assert tt_rate(sea_sat, tiktok.PRESETS["SEA"]) == 0.0


def test_tiktok_bot_resolved_excluded_and_handover_included() -> None:
    sea = tiktok.PRESETS["SEA"]
    t0 = at(JAKARTA, 10, 9)
    resolved: list[Row] = [(0, BUYER, t0), (0, BOT, t0 + dt.timedelta(seconds=3))]
    answered: list[Row] = [(1, BUYER, t0), (1, AGENT, t0 + dt.timedelta(hours=1))]
    s = tiktok.score(log_of(resolved + answered), sea)[tiktok.RATE]
    assert s.n_units == 1 and rate(s) == 1.0
    keep = dataclasses.replace(sea, exclude_bot_resolved=False)
    assert tt_rate(resolved + answered, keep) == 0.5
    # Handover: the bot answers first, a human later; judged from the buyer message.
    handover_late = [*resolved, (0, AGENT, t0 + dt.timedelta(hours=13))]
    s = tiktok.score(log_of(handover_late), sea)[tiktok.RATE]
    assert s.n_units == 1 and rate(s) == 0.0
    handover_ok = [*resolved, (0, AGENT, t0 + dt.timedelta(hours=2))]
    assert tt_rate(handover_ok, sea) == 1.0
    # Unanswered without any bot: counts as missed.
    assert tt_rate([(2, BUYER, t0)], sea) == 0.0


def test_tiktok_holiday_mode_excluded() -> None:
    t0 = at(JAKARTA, 10, 9)
    span = ((t0.timestamp() - 60, t0.timestamp() + 60),)
    rows: list[Row] = [(0, BUYER, t0), (1, BUYER, t0 + dt.timedelta(hours=1))]
    s = tiktok.score(log_of(rows), tiktok.TikTokRule(holiday_mode=span))[tiktok.RATE]
    assert s.n_units == 1


# --------------------------------------------------------------------------- Amazon


def test_amazon_per_message_lateness() -> None:
    t0 = at(LA, 10, 9)
    rows: list[Row] = [
        (0, BUYER, t0),
        (0, BUYER, t0 + dt.timedelta(hours=1)),
        (0, AGENT, t0 + dt.timedelta(hours=24, minutes=30)),  # answers both
        (1, BUYER, t0),
        (1, AGENT, t0 + dt.timedelta(hours=24)),  # exactly 24 h: in time
    ]
    j = amazon.judge(log_of(rows))
    assert j.late.tolist() == [True, False, False]
    out = amazon.score(log_of(rows))
    assert set(out) == {
        "amazon.late_response_rate_7d",
        "amazon.late_response_rate_30d",
        "amazon.late_response_rate_90d",
    }
    s = out["amazon.late_response_rate_7d"]
    assert rate(s) == pytest.approx(1 / 3)
    assert s.threshold == 0.10 and not s.higher_is_better


def test_amazon_auto_responder_and_other_conversations_do_not_answer() -> None:
    t0 = at(LA, 10, 9)
    rows: list[Row] = [
        (0, BUYER, t0),
        (0, BOT, t0 + dt.timedelta(minutes=1)),
        (1, BUYER, t0),
        (1, BOT, t0 + dt.timedelta(minutes=1)),
        (1, AGENT, t0 + dt.timedelta(hours=2)),
        (2, AGENT, t0 + dt.timedelta(hours=1)),  # another conversation's reply
    ]
    assert amazon.judge(log_of(rows)).late.tolist() == [True, False]


def test_amazon_windows() -> None:
    # One message a day for 100 days from 2026-06-01 (PDT throughout); day 0's is late.
    start = dt.datetime(2026, 6, 1, 9, tzinfo=LA).timestamp()
    days = np.arange(100)
    t_buyer = start + days * DAY
    t_reply = t_buyer + np.where(days == 0, 30 * H, H)
    log = MessageLog.from_arrays(
        np.concatenate([days, days]),
        np.concatenate([np.full(100, BUYER), np.full(100, AGENT)]),
        np.concatenate([t_buyer, t_reply]),
    )
    out = amazon.score(log)
    for w in (7, 30, 90):
        s = out[amazon.metric_name(w)]
        assert s.window_days == w
        assert s.rolling[w - 1] == pytest.approx(1 / w)
        assert s.rolling[w] == 0.0
        # The first day's window holds only the late message; a full window
        # with one late message keeps the 10% bar from 10 days on.
        assert s.first_failing_day() == dt.date(2026, 6, 1)
        assert s.meets(float(s.rolling[w - 1])) == (w >= 10)


# --------------------------------------------------------------------------- properties


def random_log(rng: np.random.Generator, zone: ZoneInfo, n_conv: int = 800) -> MessageLog:
    """A few thousand messages over 20 days from 2026-06-01 (no DST change in any zone used)."""
    start = dt.datetime(2026, 6, 1, tzinfo=zone).timestamp()
    per = rng.integers(1, 7, n_conv)
    conv = np.repeat(np.arange(n_conv), per)
    t0 = start + rng.uniform(0, 20 * DAY, n_conv)
    # Gaps of minutes to a day or so, so some replies miss every deadline.
    gaps = rng.exponential(3 * H, conv.size)
    first = np.concatenate(([0], np.cumsum(per)[:-1]))
    cum = np.cumsum(gaps)
    offset = cum - cum[first][conv]  # 0 at each conversation's first message
    time = t0[conv] + offset
    sender = rng.choice([BUYER, AGENT, BOT], conv.size, p=[0.5, 0.35, 0.15])
    sender[first] = BUYER  # customer-initiated chats
    return MessageLog.from_arrays(conv, sender, time)


def with_replies(
    log: MessageLog, rng: np.random.Generator, eligible: npt.NDArray[np.bool_], k: int
) -> MessageLog:
    """Add one human reply to each of ``k`` eligible rounds, without splitting any.

    The reply goes after the round's last buyer message and before its closing
    reply (or within two days if it has none), so it answers the round earlier
    (or at all) and creates no new round.
    """
    rounds = lazada.judge(log).rounds
    buyer = np.flatnonzero(log.sender == BUYER)
    rid = np.searchsorted(rounds.first_message, buyer, side="right") - 1
    last = np.full(rounds.n, -np.inf)
    np.maximum.at(last, rid, log.time_s[buyer])
    pick = rng.choice(np.flatnonzero(eligible), k, replace=False)
    end = np.where(rounds.answered[pick], rounds.reply_s[pick], last[pick] + 2 * DAY)
    t_new = last[pick] + rng.uniform(0, 1, k) * (end - last[pick])
    return MessageLog.from_arrays(
        np.concatenate([log.conversation, rounds.conversation[pick]]),
        np.concatenate([log.sender, np.full(k, AGENT, dtype=np.int8)]),
        np.concatenate([log.time_s, t_new]),
    )


def assert_not_lower(old: MetricSeries, new: MetricSeries) -> None:
    np.testing.assert_array_equal(old.days, new.days)
    np.testing.assert_array_equal(old.count, new.count)
    assert np.all(new.total >= old.total - 1e-12)
    ok = np.isnan(old.rolling) | (new.rolling >= old.rolling - 1e-12)
    assert ok.all()


def assert_shifted(old: MetricSeries, new: MetricSeries, k: int) -> None:
    np.testing.assert_array_equal(old.days + k, new.days)
    np.testing.assert_array_equal(old.count, new.count)
    np.testing.assert_allclose(old.total, new.total, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(old.rolling, new.rolling, rtol=1e-12, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("k", [1, 40])
def test_property_adding_a_reply_never_lowers_a_rate(k: int) -> None:
    rng = np.random.default_rng(20261111 + k)
    base = random_log(rng, MANILA)
    assert base.n_messages > 2000
    every = np.ones(lazada.judge(base).rounds.n, dtype=np.bool_)
    for _ in range(3):
        more = with_replies(base, rng, every, k)
        assert_not_lower(lazada.score(base)[lazada.RATE], lazada.score(more)[lazada.RATE])
        old_a, new_a = amazon.score(base), amazon.score(more)
        for name in old_a:
            # Lower is better: compare the on-time shares.
            o, n = old_a[name], new_a[name]
            np.testing.assert_array_equal(o.count, n.count)
            assert np.all(n.total <= o.total + 1e-12)
    # TikTok: a human reply to a bot-resolved chat is a handover and brings it into
    # the count (possibly late), so only chats not resolved by the bot are eligible.
    for rule in (tiktok.PRESETS["SEA"], tiktok.PRESETS["US"]):
        eligible = ~tiktok.judge(base, rule).bot_resolved
        for _ in range(3):
            more = with_replies(base, rng, eligible, k)
            assert_not_lower(
                tiktok.score(base, rule)[tiktok.RATE], tiktok.score(more, rule)[tiktok.RATE]
            )


def test_property_shift_by_whole_days_changes_nothing() -> None:
    rng = np.random.default_rng(7)
    far_holiday = (dt.date(2026, 12, 25),)  # never crossed by the shifts below
    for zone, k in ((MANILA, 3), (JAKARTA, 3), (LA, 7)):
        log = random_log(rng, zone)
        moved = log.shifted(k * DAY)
        for clock in ("wall", "working_hours"):
            rule = lazada.LazadaRule(timezone=str(zone), holidays=far_holiday, clock=clock)
            a, b = lazada.score(log, rule), lazada.score(moved, rule)
            for name in a:
                assert_shifted(a[name], b[name], k)
        # The US weekend rule needs whole weeks.
        tt_rules = [tiktok.TikTokRule(timezone=str(zone))]
        if k % 7 == 0:
            tt_rules.append(tiktok.TikTokRule(market="US", timezone=str(zone)))
        for tt in tt_rules:
            assert_shifted(
                tiktok.score(log, tt)[tiktok.RATE], tiktok.score(moved, tt)[tiktok.RATE], k
            )
        am = amazon.AmazonRule(timezone=str(zone))
        a, b = amazon.score(log, am), amazon.score(moved, am)
        for name in a:
            assert_shifted(a[name], b[name], k)
