"""Shopee CRR / response time and JD 30 s rate / mean response / 留言 share.

One test per clause of PLATFORM_RULES.md on hand-built logs, brute-force
references for the vectorised grouping, and properties on a random log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from peakdesk.rules import jd, shopee
from peakdesk.rules.calendar import day_number
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog
from peakdesk.rules.rounds import find_rounds, qualifying_replies
from peakdesk.rules.series import DailyHistory, MetricSeries

SG = ZoneInfo("Asia/Singapore")
CN = ZoneInfo("Asia/Shanghai")
H = 3600.0
BASE = dt.date(2026, 11, 1)

Row = tuple[int, int, float] | tuple[int, int, float, bool]


def at(day: int, hh: int, mm: int = 0, ss: float = 0.0, tz: ZoneInfo = SG) -> float:
    """POSIX seconds of local ``hh:mm:ss`` on ``BASE + day``."""
    d = BASE + dt.timedelta(days=day)
    wall = dt.datetime(d.year, d.month, d.day, tzinfo=tz)
    return (wall + dt.timedelta(hours=hh, minutes=mm, seconds=ss)).timestamp()


def log_of(rows: list[Row]) -> MessageLog:
    """A log from ``(conversation, sender, time[, leave_message])`` rows."""
    return MessageLog.from_arrays(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        leave_message=[bool(r[3]) if len(r) > 3 else False for r in rows],
    )


def one_day_items(outcomes: list[bool], day: int = 0) -> MessageLog:
    """One item per conversation on ``day``, a minute apart; ``True``: replied after 60 s."""
    rows: list[Row] = []
    for i, ok in enumerate(outcomes):
        t = at(day, 10, i)
        rows.append((i, BUYER, t))
        if ok:
            rows.append((i, AGENT, t + 60))
    return log_of(rows)


# --------------------------------------------------------------------------- Shopee


def test_shopee_responded_within_12h_inclusive() -> None:
    t0 = at(0, 9)
    log = log_of(
        [
            (0, BUYER, t0),
            (0, AGENT, t0 + 12 * H),  # exactly 12 h: responded
            (1, BUYER, t0 + 60),
            (1, AGENT, t0 + 60 + 12 * H + 1),  # one second late
        ]
    )
    items = shopee.find_items(log)
    assert items.n == 2
    assert items.responded(12 * H).tolist() == [True, False]
    out = shopee.score(log)
    assert out["shopee.crr"].daily[0] == 0.5
    rt = out["shopee.response_time_s"]
    assert rt.n_units == 1 and rt.overall == 12 * H


def test_shopee_bot_and_auto_replies_never_count() -> None:
    t0 = at(0, 9)
    log = log_of(
        [
            # An auto-reply at once, the manual reply 13 h later: not responded.
            (0, BUYER, t0),
            (0, BOT, t0 + 1),
            (0, AGENT, t0 + 13 * H),
            # Bot only: unanswered.
            (1, BUYER, t0),
            (1, BOT, t0 + 1),
            # A bot reply neither answers nor splits: the buyer's second message
            # joins the item received at t0, answered 3 h 5 min after it.
            (2, BUYER, t0),
            (2, BOT, t0 + 1),
            (2, BUYER, t0 + 3 * H),
            (2, AGENT, t0 + 3 * H + 300),
        ]
    )
    items = shopee.find_items(log)
    assert items.n == 3
    assert np.all(items.received_s == t0)
    assert np.isnan(items.reply_s[1])
    assert items.responded(12 * H).tolist() == [False, False, True]
    assert items.delay_s[2] == 3 * H + 300


def test_shopee_messages_inside_answered_12h_window_make_no_item() -> None:
    t0 = at(0, 8)
    log = log_of(
        [
            # Answered item; the buyer writes again 11:59:59 after it opened: same item.
            (0, BUYER, t0),
            (0, AGENT, t0 + 600),
            (0, BUYER, t0 + 12 * H - 1),
            # The same at exactly 12 h: a new item (unanswered, so it fails).
            (1, BUYER, t0),
            (1, AGENT, t0 + 600),
            (1, BUYER, t0 + 12 * H),
            # The window runs from the item's opening, not from the joined rounds:
            # a round at 6 h joins, one at 12.5 h opens a new item.
            (2, BUYER, t0),
            (2, AGENT, t0 + 600),
            (2, BUYER, t0 + 6 * H),
            (2, AGENT, t0 + 6 * H + 600),
            (2, BUYER, t0 + 12.5 * H),
            (2, AGENT, t0 + 12.5 * H + 60),
        ]
    )
    items = shopee.find_items(log)
    assert items.conversation.tolist() == [0, 1, 1, 2, 2]
    assert items.rounds.tolist() == [2, 1, 1, 2, 1]
    assert items.received_s.tolist() == [t0, t0, t0 + 12 * H, t0, t0 + 12.5 * H]
    assert items.responded(12 * H).tolist() == [True, True, False, True, True]


def test_shopee_recent_quarter_weighs_double() -> None:
    # 8 items, the 2 most recent unanswered: 0.5 x 6/8 + 0.5 x 0/2.
    crr = shopee.score(one_day_items([True] * 6 + [False] * 2))["shopee.crr"]
    assert crr.rolling[0] == pytest.approx(0.5 * 6 / 8 + 0.5 * 0 / 2)
    assert crr.overall == pytest.approx(0.375)
    assert crr.daily[0] == 0.75
    # The same failures among the oldest items hardly matter.
    early = shopee.score(one_day_items([False] * 2 + [True] * 6))["shopee.crr"]
    assert early.rolling[0] == pytest.approx(0.5 * 6 / 8 + 0.5 * 2 / 2)


def test_shopee_recent_share_rounds_up() -> None:
    # 5 items: the recent part is ceil(1.25) = 2 items, not 1.
    crr = shopee.score(one_day_items([True] * 4 + [False]))["shopee.crr"]
    assert crr.rolling[0] == pytest.approx(0.5 * 4 / 5 + 0.5 * 1 / 2)


def test_shopee_undefined_below_two_items() -> None:
    crr = shopee.score(one_day_items([True]))["shopee.crr"]
    assert np.isnan(crr.rolling[0]) and math.isnan(crr.overall)
    assert crr.daily[0] == 1.0
    rows: list[Row] = [(0, BUYER, at(0, 10)), (0, AGENT, at(0, 10, 1)), (1, BUYER, at(1, 10))]
    two = shopee.score(log_of(rows))["shopee.crr"]
    assert np.isnan(two.rolling[0])
    assert two.rolling[1] == pytest.approx(0.5 * 1 / 2 + 0.5 * 0 / 1)


def test_shopee_vacation_receipts_excluded() -> None:
    log = one_day_items([True, False, True])  # item 1 received at 10:01
    plain = shopee.score(log)["shopee.crr"]
    assert plain.n_units == 3
    rule = shopee.ShopeeRule(vacation=((at(0, 10, 1), at(0, 10, 2)),))
    out = shopee.score(log, rule)
    assert out["shopee.crr"].n_units == 2
    assert out["shopee.crr"].rolling[0] == 1.0
    assert out["shopee.response_time_s"].n_units == 2
    # The span is half-open: an item received at its end counts.
    edge = shopee.ShopeeRule(vacation=((at(0, 9), at(0, 10, 1)),))
    assert shopee.score(log, edge)["shopee.crr"].n_units == 2


def _reference_crr(days: list[list[float]], window: int = 90) -> list[float]:
    """CRR at the end of each day from per-day lists of item values in receipt order."""
    out = []
    for d in range(len(days)):
        items = [v for day in days[max(0, d - window + 1) : d + 1] for v in day]
        n = len(items)
        if n < 2:
            out.append(float("nan"))
            continue
        k = math.ceil(0.25 * n)
        out.append(0.5 * sum(items) / n + 0.5 * sum(items[-k:]) / k)
    return out


def test_shopee_history_then_peak_crosses_threshold() -> None:
    # 89 good days (100 items, 95%) then two peak days of 1,000 items at 50%:
    # the recent 25% reaches back into the history by a fraction of a day.
    peak_day = 89
    hist = DailyHistory(
        days=tuple(BASE + dt.timedelta(days=d) for d in range(peak_day)),
        count=(100.0,) * peak_day,
        value=(0.95,) * peak_day,
    )
    rows: list[Row] = []
    values: list[list[float]] = [[0.95] * 100 for _ in range(peak_day)]
    for d in (peak_day, peak_day + 1):
        values.append([])
        for i in range(1000):
            c = len(rows)
            t = at(d, 9, 0, 30.0 * i)
            rows.append((c, BUYER, t))
            ok = i % 2 == 0
            if ok:
                rows.append((c, AGENT, t + 20))
            values[-1].append(float(ok))
    crr = shopee.score(log_of(rows), history={"shopee.crr": hist})["shopee.crr"]
    assert crr.days.tolist() == list(range(day_number(BASE), day_number(BASE) + peak_day + 2))
    assert crr.from_history.tolist() == [True] * peak_day + [False, False]
    np.testing.assert_allclose(crr.rolling, _reference_crr(values), rtol=1e-12)
    assert crr.rolling[peak_day] >= 0.80 > crr.rolling[peak_day + 1]
    assert crr.first_failing_day() == BASE + dt.timedelta(days=peak_day + 1)
    # The plain 90-day rate would still pass on the second peak day.
    plain = (88 * 95 + 1000) / (88 * 100 + 2000)
    assert plain > 0.80


def test_shopee_presets_by_market() -> None:
    assert shopee.PRESETS["default"].target == 0.80
    assert shopee.PRESETS["TH"].target == 0.60
    assert shopee.PRESETS["TH"].timezone == "Asia/Bangkok"
    assert shopee.PRESETS["VN"].timezone == "Asia/Ho_Chi_Minh"
    assert shopee.PRESETS["MY"].timezone == "Asia/Kuala_Lumpur"
    assert shopee.PRESETS["preferred_plus"].target == 0.90


# --------------------------------------------------------------------------- JD


def test_jd_session_split_by_10_minute_gap() -> None:
    t0 = at(0, 10, tz=CN)
    log = log_of(
        [
            (0, BUYER, t0),
            (0, AGENT, t0 + 5),
            (0, BUYER, t0 + 5 + 599),  # 9:59 after the session's last message
            (1, BUYER, t0),
            (1, AGENT, t0 + 5),
            (1, BUYER, t0 + 5 + 601),  # 10:01 after: a new session
            (1, AGENT, t0 + 5 + 611),
            (2, BUYER, t0),
            (2, AGENT, t0 + 5),
            (2, BUYER, t0 + 5 + 600),  # exactly 10 min: not "more than"
        ]
    )
    s = jd.find_sessions(log)
    assert s.conversation.tolist() == [0, 1, 1, 2]
    assert s.delay_s.tolist() == [5, 5, 10, 5]
    rate = jd.score(log)["jd.response_30s"]
    assert rate.n_units == 4 and rate.overall == 1.0


def test_jd_unanswered_session_stays_open() -> None:
    t0 = at(0, 10, tz=CN)
    rows: list[Row] = [(0, BUYER, t0), (0, BUYER, t0 + 900), (0, AGENT, t0 + 910)]
    log = log_of(rows)
    out = jd.score(log)
    assert jd.find_sessions(log).n == 1
    assert out["jd.response_30s"].overall == 0.0
    assert out["jd.mean_response_s"].overall == 910
    closes = jd.JDRule(unanswered_session_closes=True)
    s = jd.find_sessions(log, closes)
    assert s.n == 2 and np.isnan(s.reply_s[0])
    out = jd.score(log, closes)
    assert out["jd.response_30s"].overall == 0.5  # the unanswered session fails
    assert out["jd.mean_response_s"].overall == 10  # ... and has no delay to average
    counted = jd.score(log, dataclasses.replace(closes, unanswered_s=600.0))
    assert counted["jd.mean_response_s"].overall == (600 + 10) / 2


def test_jd_30_second_boundary() -> None:
    t0 = at(0, 14, tz=CN)
    log = log_of(
        [
            (0, BUYER, t0),
            (0, BOT, t0 + 1),  # a bot reply is not the first agent reply
            (0, AGENT, t0 + 30),
            (1, BUYER, t0),
            (1, AGENT, t0 + 31),
            (1, AGENT, t0 + 32),
        ]
    )
    out = jd.score(log)
    assert out["jd.response_30s"].overall == 0.5
    assert out["jd.mean_response_s"].overall == 30.5
    assert out["jd.mean_response_s"].meets(30.5)


def test_jd_sessions_started_23_to_9_excluded() -> None:
    starts = [(0, 22, 59, 59), (0, 23, 0, 0), (1, 8, 59, 59), (1, 9, 0, 0)]
    rows: list[Row] = []
    for c, (d, hh, mm, ss) in enumerate(starts):
        t = at(d, hh, mm, ss, tz=CN)
        rows += [(c, BUYER, t), (c, AGENT, t + 40)]
    log = log_of(rows)
    out = jd.score(log)
    rate = out["jd.response_30s"]
    assert rate.n_units == 2
    assert rate.count.tolist() == [1.0, 1.0]  # 22:59:59 on day 0, 09:00 on day 1
    assert out["jd.mean_response_s"].n_units == 2
    assert out["jd.leave_message_share"].n_units == 4
    in_hours = jd.score(log, jd.JDRule(leave_share_all_hours=False))
    assert in_hours["jd.leave_message_share"].n_units == 2


def test_jd_leave_messages_excluded_and_shared() -> None:
    t0 = at(0, 12, tz=CN)
    rows: list[Row] = [
        (0, BUYER, t0, True),  # a 留言 session, answered 2 h later
        (0, AGENT, t0 + 2 * H),
        (1, BUYER, t0),
        (1, AGENT, t0 + 10),
        (2, BUYER, t0),
        (2, AGENT, t0 + 20),
        # A later leave-message flag inside a session does not make it a 留言.
        (3, BUYER, t0),
        (3, AGENT, t0 + 30),
        (3, BUYER, t0 + 60, True),
    ]
    out = jd.score(log_of(rows))
    assert out["jd.response_30s"].n_units == 3
    assert out["jd.response_30s"].overall == 1.0
    assert out["jd.mean_response_s"].overall == 20.0
    share = out["jd.leave_message_share"]
    assert share.n_units == 4 and share.overall == 0.25
    assert share.meets(share.final)
    assert not share.meets(0.6)


# --------------------------------------------------------------------------- references


def random_log(seed: int = 20261111, n_conv: int = 900, days: int = 20) -> MessageLog:
    """About 5,000 messages: buyer turns with agent, bot or no replies, short and long gaps."""
    rng = np.random.default_rng(seed)
    start = at(0, 0) + rng.uniform(0, days * 86400.0, n_conv)
    turns = 1 + rng.poisson(2.0, n_conv)
    conv = np.repeat(np.arange(n_conv), turns)
    n = conv.size
    # Mostly minutes between turns, sometimes up to 30 h (12 h windows, night hours).
    gap = np.where(rng.random(n) < 0.75, rng.exponential(400.0, n), rng.uniform(0, 30 * H, n))
    first = np.ones(n, dtype=bool)
    first[1:] = conv[1:] != conv[:-1]
    gap[first] = 0.0
    cs = np.cumsum(gap)
    buyer_t = start[conv] + cs - cs[first][conv]
    kind = rng.choice(3, n, p=[0.7, 0.1, 0.2])  # agent, bot, no reply
    reply_t = buyer_t + rng.lognormal(np.log(25.0), 1.8, n)
    rep = kind < 2
    sender = np.where(kind[rep] == 0, AGENT, BOT)
    return MessageLog.from_arrays(
        np.concatenate([conv, conv[rep]]),
        np.concatenate([np.full(n, BUYER), sender]),
        np.concatenate([buyer_t, reply_t[rep]]),
        leave_message=np.concatenate([rng.random(n) < 0.1, np.zeros(int(rep.sum()), bool)]),
    )


LOG = random_log()


def test_random_log_size() -> None:
    assert 3000 <= LOG.n_messages <= 8000


def test_shopee_items_match_a_loop() -> None:
    rounds = find_rounds(LOG, qualifying_replies(LOG))
    expected = []
    last_conv, last_open = -1, -np.inf
    for c, t in zip(rounds.conversation.tolist(), rounds.open_s.tolist(), strict=True):
        if c != last_conv or t >= last_open + 12 * H:
            expected.append((c, t))
            last_conv, last_open = c, t
    items = shopee.find_items(LOG)
    assert list(zip(items.conversation.tolist(), items.received_s.tolist(), strict=True)) == (
        expected
    )
    assert items.rounds.sum() == rounds.n
    assert items.n < rounds.n  # the window rule did merge rounds


@pytest.mark.parametrize("closes", [False, True])
def test_jd_sessions_match_a_state_machine(closes: bool) -> None:
    rule = jd.JDRule(unanswered_session_closes=closes)
    expected: list[list[float]] = []  # [conversation, start, reply]
    prev_c, prev_t = -1, -np.inf
    for c, snd, t in zip(
        LOG.conversation.tolist(), LOG.sender.tolist(), LOG.time_s.tolist(), strict=True
    ):
        cur = expected[-1] if expected and expected[-1][0] == c else None
        if snd == BUYER and (
            cur is None or (t - prev_t > rule.session_gap_s and (closes or not math.isnan(cur[2])))
        ):
            expected.append([c, t, float("nan")])
        elif cur is not None and snd == AGENT and math.isnan(cur[2]):
            cur[2] = t
        prev_c, prev_t = c, t
    s = jd.find_sessions(LOG, rule)
    got = np.column_stack([s.conversation, s.start_s, s.reply_s])
    np.testing.assert_array_equal(got, np.array(expected))
    assert prev_c == LOG.conversation[-1]


# --------------------------------------------------------------------------- properties


def _rates(log: MessageLog, jd_rule: jd.JDRule) -> dict[str, MetricSeries]:
    out = shopee.score(log)
    out.update(jd.score(log, jd_rule))
    return {k: out[k] for k in ("shopee.crr", "jd.response_30s")}


@pytest.mark.parametrize("closes", [False, True])
def test_adding_a_qualifying_reply_never_lowers_a_rate(closes: bool) -> None:
    # A manual reply added after a buyer message and before the reply that
    # followed it (or after the conversation's last message) answers sooner
    # without splitting anything: no rate may fall.  (A reply *between* two
    # buyer messages can split an item or a session and legitimately lower a
    # rate, so it is not part of the property.)
    rng = np.random.default_rng(5)
    conv, snd, t = LOG.conversation, LOG.sender, LOG.time_s
    last = np.ones(LOG.n_messages, dtype=bool)
    last[:-1] = conv[:-1] != conv[1:]
    nxt_agent = np.zeros(LOG.n_messages, dtype=bool)
    nxt_agent[:-1] = ~last[:-1] & (snd[1:] == AGENT) & (t[1:] > t[:-1])
    pool = np.flatnonzero((snd == BUYER) & (last | nxt_agent))
    pick = rng.choice(pool, 400, replace=False)
    following = t[np.minimum(pick + 1, t.size - 1)]
    nt = np.where(
        last[pick],
        t[pick] + rng.uniform(1.0, 86400.0, pick.size),
        t[pick] + rng.uniform(0.05, 0.95, pick.size) * (following - t[pick]),
    )
    more = MessageLog.from_arrays(
        np.concatenate([conv, conv[pick]]),
        np.concatenate([snd, np.full(pick.size, AGENT)]),
        np.concatenate([t, nt]),
        leave_message=np.concatenate([LOG.leave_message, np.zeros(pick.size, bool)]),
    )
    rule = jd.JDRule(unanswered_session_closes=closes)
    before, after = _rates(LOG, rule), _rates(more, rule)
    for key, b in before.items():
        a = after[key]
        np.testing.assert_array_equal(a.days, b.days)
        np.testing.assert_array_equal(a.count, b.count)  # same units
        for x, y in ((a.daily, b.daily), (a.rolling, b.rolling)):
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
            ok = ~np.isnan(y)
            assert np.all(x[ok] >= y[ok] - 1e-12), key
        assert a.overall >= b.overall - 1e-12
        assert a.overall > b.overall  # the property was exercised


def test_shifting_by_whole_days_changes_nothing() -> None:
    days = 37
    for score in (shopee.score, jd.score):
        before = score(LOG)
        after = score(LOG.shifted(days * 86400.0))
        assert before.keys() == after.keys()
        for key, b in before.items():
            a = after[key]
            np.testing.assert_array_equal(a.days, b.days + days)
            np.testing.assert_array_equal(a.count, b.count)
            np.testing.assert_allclose(a.daily, b.daily, rtol=1e-9, equal_nan=True)
            np.testing.assert_allclose(a.rolling, b.rolling, rtol=1e-9, equal_nan=True)
            assert a.overall == pytest.approx(b.overall, rel=1e-9)


def test_empty_log() -> None:
    empty = MessageLog.from_arrays([], [], [])
    for out in (shopee.score(empty), jd.score(empty)):
        for ser in out.values():
            assert ser.days.size == 0 and ser.n_units == 0
