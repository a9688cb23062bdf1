"""Taobao / Tmall, Douyin and generic service-level rules: one test per clause, then properties.

Hand-built logs use Beijing wall-clock times (Asia/Shanghai has no DST, so a
whole-day shift moves every local day by exactly one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from peakdesk.rules import douyin, generic, taobao
from peakdesk.rules.calendar import day_number
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog
from peakdesk.rules.rounds import find_rounds, qualifying_replies
from peakdesk.rules.series import DailyHistory, MetricSeries

TZ = ZoneInfo("Asia/Shanghai")
D0 = dt.date(2026, 11, 11)
DAY = 86400.0
CODE = {"b": BUYER, "a": AGENT, "x": BOT}


def at(clock: str, day: dt.date = D0) -> float:
    """POSIX seconds of a Beijing wall-clock time ``HH:MM:SS`` on ``day``."""
    h, m, s = (int(p) for p in clock.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=TZ).timestamp()


def make_log(rows: list[tuple[int, str, float]], ordered: list[bool] | None = None) -> MessageLog:
    """A log from ``(conversation, "b"|"a"|"x", posix_s)`` rows (buyer, agent, bot)."""
    conv, snd, t = zip(*rows, strict=True)
    return MessageLog.from_arrays(conv, [CODE[s] for s in snd], t, ordered=ordered)


def counts(series: MetricSeries, day: dt.date = D0) -> tuple[float, float]:
    """(total, units) of one day: successes and rounds for a rate, "successes/rounds"."""
    i = int(np.flatnonzero(series.days == day_number(day))[0])
    return float(series.total[i]), float(series.count[i])


def rate(log: MessageLog, rule: taobao.TaobaoRule | None = None) -> tuple[float, float]:
    """(successes, rounds) of the Taobao 3-minute rate on D0."""
    return counts(taobao.score(log, rule or taobao.TaobaoRule())[taobao.RESPONSE_RATE])


# -- Taobao / Tmall ------------------------------------------------------------------------------


def test_taobao_worked_examples() -> None:
    first = [(0, "b", at("10:10:15")), (0, "b", at("10:15:20")), (0, "a", at("10:18:10"))]
    assert rate(make_log(first)) == (0.0, 1.0)
    more = [*first, (0, "b", at("10:18:30")), (0, "a", at("10:19:00"))]
    out = taobao.score(make_log(more))
    assert counts(out[taobao.RESPONSE_RATE]) == (1.0, 2.0)
    # Mean response time: 475 s and 30 s.
    assert out[taobao.MEAN_RESPONSE].overall == pytest.approx((475 + 30) / 2)
    # Ten questions within three minutes and no reply by midnight: one failed round.
    ten = [(0, "b", at("10:00:00") + 18 * k) for k in range(10)]
    assert rate(make_log(ten)) == (0.0, 1.0)
    assert taobao.score(make_log(ten))[taobao.MEAN_RESPONSE].n_units == 0


def test_taobao_response_limit_inclusive() -> None:
    rows = [(0, "b", at("10:00:00")), (0, "a", at("10:03:00"))]
    rows += [(1, "b", at("10:00:00")), (1, "a", at("10:03:01"))]
    assert rate(make_log(rows)) == (1.0, 2.0)


def _edge_log(clocks: list[str]) -> MessageLog:
    rows: list[tuple[int, str, float]] = []
    for i, c in enumerate(clocks):
        rows += [(i, "b", at(c)), (i, "a", at(c) + 60)]
    return make_log(rows)


def test_taobao_window_edges() -> None:
    log = _edge_log(["07:59:59", "08:00:00", "22:59:59", "23:00:00", "23:59:59"])
    # 08:00:00 and 22:59:59 are in; 07:59:59, 23:00:00 and after are out.
    assert rate(log) == (2.0, 2.0)
    # The older 08:00-24:00 rule keeps everything from 08:00 to midnight.
    assert rate(log, taobao.PRESETS["legacy_0800_2400"]) == (4.0, 4.0)
    # A round is judged by its opening: opened 07:59:59, joined at 08:00:30, answered late.
    late = make_log([(0, "b", at("07:59:59")), (0, "b", at("08:00:30")), (0, "a", at("08:10:00"))])
    assert taobao.score(late)[taobao.RESPONSE_RATE].n_units == 0


def test_taobao_reply_after_window_answers_its_round() -> None:
    log = make_log([(0, "b", at("22:59:00")), (0, "a", at("23:00:30"))])
    assert rate(log) == (1.0, 1.0)


def test_taobao_bot_reply_does_not_count_unless_allowed() -> None:
    rows = [(0, "b", at("10:00:00")), (0, "x", at("10:00:05")), (0, "a", at("10:05:00"))]
    log = make_log(rows)
    # The auto reply neither answers nor splits the round: the human answers after 300 s.
    assert rate(log) == (0.0, 1.0)
    assert rate(log, taobao.TaobaoRule(bot_assist_counts=True)) == (1.0, 1.0)


def test_taobao_rolling_window_with_history() -> None:
    hist_days = tuple(D0 - dt.timedelta(days=k) for k in range(29, 0, -1))
    history = {
        taobao.RESPONSE_RATE: DailyHistory(hist_days, (100.0,) * 29, (0.95,) * 29),
    }
    # Peak day: 1000 rounds, half answered within 3 minutes; next day 100 rounds, all answered.
    n0, n1 = 1000, 100
    conv = np.repeat(np.arange(n0 + n1), 2)
    sender = np.tile([BUYER, AGENT], n0 + n1)
    opened = np.concatenate(
        [at("09:00:00") + 30.0 * np.arange(n0), at("09:00:00", D0 + dt.timedelta(1)) + np.zeros(n1)]
    )
    delay = np.concatenate([np.where(np.arange(n0) % 2 == 0, 60.0, 600.0), np.full(n1, 10.0)])
    t = np.column_stack([opened, opened + delay]).ravel()
    out = taobao.score(MessageLog.from_arrays(conv, sender, t), history=history)
    s = out[taobao.RESPONSE_RATE]
    assert s.days.size == 31 and s.from_history.sum() == 29
    assert s.rolling[28] == pytest.approx(0.95)
    assert s.rolling[29] == pytest.approx((29 * 95 + 500) / (2900 + 1000))
    # The next day the oldest history day leaves the 30-day window.
    assert s.final == pytest.approx((28 * 95 + 500 + 100) / (2800 + 1000 + 100))
    assert s.first_failing_day() == D0
    assert s.threshold == 0.90


def test_taobao_badge_preset_needs_100_rounds() -> None:
    log = _edge_log(["10:00:00"] * 99)
    assert np.isnan(taobao.score(log, taobao.PRESETS["badge"])[taobao.RESPONSE_RATE].final)
    assert taobao.score(log)[taobao.RESPONSE_RATE].final == 1.0


def test_taobao_inquiry_conversion() -> None:
    rows = [
        (0, "b", at("10:00:00")),  # ordered, in window
        (1, "b", at("09:00:00")),  # not ordered
        (2, "b", at("23:30:00")),  # out of window: not an inquiry
        (3, "b", at("23:30:00")),  # first in-window message is the next morning
        (3, "b", at("09:00:00", D0 + dt.timedelta(1))),
    ]
    log = make_log(rows, ordered=[True, False, True, True])
    s = taobao.score(log)[taobao.INQUIRY_CONVERSION]
    assert counts(s) == (1.0, 2.0)
    assert counts(s, D0 + dt.timedelta(1)) == (1.0, 1.0)
    assert taobao.INQUIRY_CONVERSION not in taobao.score(make_log(rows))


def test_taobao_rule_validation() -> None:
    with pytest.raises(ValueError, match="window_end_s"):
        taobao.TaobaoRule(window_end_s=25 * 3600)


# -- Douyin --------------------------------------------------------------------------------------


def test_douyin_unanswered_round_counts_ten_minutes() -> None:
    rows = [(0, "b", at("10:00:00")), (0, "a", at("10:01:00"))]  # 60 s
    rows += [(1, "b", at("10:00:00"))]  # unanswered: 600 s
    rows += [(2, "b", at("10:00:00")), (2, "a", at("10:20:00"))]  # answered late: 1200 s
    log = make_log(rows)
    s = douyin.score(log)[douyin.MEAN_RESPONSE]
    assert counts(s) == (60.0 + 600.0 + 1200.0, 3.0)
    assert s.higher_is_better is False and s.threshold is None and s.window_days == 30
    capped = douyin.score(log, douyin.DouyinRule(answered_cap_s=600.0))[douyin.MEAN_RESPONSE]
    assert capped.overall == pytest.approx((60 + 600 + 600) / 3)


def test_douyin_session_window_and_bot_replies() -> None:
    rows: list[tuple[int, str, float]] = []
    starts = ["07:59:59", "08:00:00", "22:59:59", "23:00:00"]
    for i, c in enumerate(starts):
        rows += [(i, "b", at(c)), (i, "a", at(c) + 10)]
    # A later round of the 07:59:59 session is still out; one of the 22:59:59 session after
    # 23:00 is in (the filter is on the session's start).
    rows += [(0, "b", at("09:00:00")), (0, "a", at("09:00:20"))]
    rows += [(2, "b", at("23:30:00")), (2, "a", at("23:30:40"))]
    # A bot reply does not answer: 600 s.
    rows += [(4, "b", at("12:00:00")), (4, "x", at("12:00:01"))]
    log = make_log(rows)
    assert counts(douyin.score(log)[douyin.MEAN_RESPONSE]) == (10 + 10 + 40 + 600, 4.0)
    # The bot-resolved session is no human consultation when so configured.
    rule = douyin.DouyinRule(exclude_bot_resolved=True)
    assert counts(douyin.score(log, rule)[douyin.MEAN_RESPONSE]) == (60.0, 3.0)
    assert douyin.bot_resolved(log).tolist() == [False, False, False, False, True]


# -- Generic service level -----------------------------------------------------------------------


def _generic_case() -> tuple[MessageLog, npt.NDArray[np.float64]]:
    t0 = at("10:00:00")
    rows = [
        (0, "b", t0),
        (0, "a", t0 + 20),  # answered in 20 s: success
        (1, "b", t0),
        (1, "a", t0 + 40),  # answered in 40 s: failure
        (2, "b", t0),  # left after 10 s, never answered: short abandon
        (3, "b", t0),  # left after 60 s: failure either way
        (4, "b", t0),
        (4, "a", t0 + 20),  # replied after the buyer left at 10 s: not an answer
        (5, "b", t0),
        (5, "x", t0 + 1),
        (5, "a", t0 + 25),  # the bot reply does not count; the human one does
        (6, "b", t0),  # left exactly at t = 30 s: V > t, a failure
    ]
    nan = np.nan
    abandon_s = np.array([nan, nan, t0 + 10, t0 + 60, t0 + 10, nan, t0 + 30])
    return make_log(rows), abandon_s


def test_generic_service_level_abandoned_fail() -> None:
    log, abandon_s = _generic_case()
    out = generic.score(log, abandon_s=abandon_s)
    assert counts(out[generic.SERVICE_LEVEL]) == (2.0, 7.0)
    assert counts(out[generic.ASA]) == (20.0 + 40.0 + 25.0, 3.0)
    # Flags without times: every flagged conversation is a failure.
    flags = ~np.isnan(abandon_s)
    assert counts(generic.score(log, abandoned=flags)[generic.SERVICE_LEVEL]) == (2.0, 7.0)
    # Without abandonment information the late reply of conversation 4 answers it.
    assert counts(generic.score(log)[generic.SERVICE_LEVEL]) == (3.0, 7.0)


def test_generic_service_level_offered_wait() -> None:
    log, abandon_s = _generic_case()
    rule = generic.GenericRule(abandoned="offered_wait")
    out = generic.score(log, rule, abandon_s=abandon_s)
    # Short abandons (2 and 4) excluded: answered within t / (answered + abandoned after t).
    assert counts(out[generic.SERVICE_LEVEL]) == (2.0, 5.0)
    assert counts(out[generic.ASA]) == (85.0, 3.0)
    with pytest.raises(ValueError, match="abandon_s"):
        generic.score(log, rule, abandoned=~np.isnan(abandon_s))
    with pytest.raises(ValueError, match="per conversation"):
        generic.score(log, rule, abandon_s=abandon_s[:3])


def test_generic_threshold_and_window() -> None:
    log, _ = _generic_case()
    s = generic.score(log, generic.GenericRule(service_level_s=45.0, target=0.8))
    sl = s[generic.SERVICE_LEVEL]
    assert counts(sl) == (4.0, 7.0)
    assert sl.window_days == 1 and sl.threshold == 0.8 and not sl.passes[-1]


# -- Properties on a random log ------------------------------------------------------------------


def random_log(seed: int = 2026, n_conv: int = 600) -> tuple[MessageLog, npt.NDArray[np.float64]]:
    """About 3000 messages over ten days, whole seconds, plus per-conversation leaving times."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 10, n_conv)
    conv = np.repeat(np.arange(n_conv), per)
    sender = rng.choice(np.array([BUYER, AGENT, BOT]), size=conv.size, p=[0.5, 0.4, 0.1])
    first = np.concatenate(([0], np.cumsum(per)[:-1]))
    sender[first] = BUYER
    start = at("00:00:00") + rng.uniform(0, 10 * DAY, n_conv)
    gap = rng.exponential(150.0, conv.size)
    gap[first] = 0.0
    csum = np.cumsum(gap)
    t = np.round(start[conv] + csum - csum[first][conv])
    ordered = rng.random(n_conv) < 0.3
    abandon = np.where(
        rng.random(n_conv) < 0.2, np.round(start + rng.exponential(60, n_conv)), np.nan
    )
    return MessageLog.from_arrays(conv, sender, t, ordered=ordered), abandon


def _add_replies(
    log: MessageLog, time_s: npt.NDArray[np.float64], conv: npt.NDArray[np.int64]
) -> MessageLog:
    return MessageLog.from_arrays(
        np.concatenate([log.conversation, conv]),
        np.concatenate([log.sender, np.full(conv.size, AGENT, dtype=np.int8)]),
        np.concatenate([log.time_s, time_s]),
        ordered=log.ordered,
    )


def _not_lower(after: MetricSeries, before: MetricSeries) -> None:
    assert np.array_equal(after.days, before.days)
    assert np.array_equal(after.count, before.count)
    assert np.all(after.total >= before.total)
    ok = np.isnan(before.rolling) | (after.rolling >= before.rolling - 1e-12)
    assert np.all(ok) and after.overall >= before.overall - 1e-12
    assert after.total.sum() > before.total.sum()  # the change did improve something


def test_property_answering_a_round_sooner_never_lowers_the_taobao_rate() -> None:
    log, _ = random_log()
    rounds = find_rounds(log, qualifying_replies(log))
    rng = np.random.default_rng(7)
    pick = rng.random(rounds.n) < 0.3
    # A new human reply after the round's last buyer message and before its old reply (any
    # time later if it had none): it answers the round sooner without splitting it.
    buyer_pos = np.flatnonzero(log.sender == BUYER)
    last = buyer_pos[np.searchsorted(buyer_pos, rounds.first_message) + rounds.buyer_messages - 1]
    t_last = log.time_s[last]
    end = np.where(rounds.answered, rounds.reply_s, t_last + 1000.0)
    new_t = t_last + rng.random(rounds.n) * (end - t_last)
    better = _add_replies(log, new_t[pick], rounds.conversation[pick])
    rule = taobao.TaobaoRule(window_days=7)
    _not_lower(
        taobao.score(better, rule)[taobao.RESPONSE_RATE],
        taobao.score(log, rule)[taobao.RESPONSE_RATE],
    )


def test_splitting_a_failing_round_adds_a_failure() -> None:
    # Why the property above moves replies within a round rather than adding them anywhere:
    # a reply between two buyer messages of a failing round splits it into two failing rounds.
    rows = [(0, "b", at("10:00:00")), (0, "b", at("10:06:00")), (0, "a", at("10:12:00"))]
    rows += [(1, "b", at("11:00:00")), (1, "a", at("11:00:10"))]
    assert rate(make_log(rows)) == (1.0, 2.0)
    assert rate(make_log([*rows, (0, "a", at("10:05:00"))])) == (1.0, 3.0)


def test_property_adding_a_human_reply_never_lowers_generic_sl() -> None:
    log, _ = random_log()
    rng = np.random.default_rng(11)
    k = 400
    conv = rng.integers(0, log.n_conversations, k)
    first_t = np.full(log.n_conversations, np.inf)
    np.minimum.at(first_t, log.conversation, log.time_s)
    new_t = np.round(first_t[conv] + rng.exponential(60.0, k))
    # Bot-resolved conversations are kept in the population here: a human reply added to
    # one would otherwise bring it into the denominator (a different population, not a
    # lower rate).
    rules = (
        generic.GenericRule(exclude_bot_resolved=False),
        generic.GenericRule(service_level_s=120, window_days=7, exclude_bot_resolved=False),
    )
    for rule in rules:
        _not_lower(
            generic.score(_add_replies(log, new_t, conv), rule)[generic.SERVICE_LEVEL],
            generic.score(log, rule)[generic.SERVICE_LEVEL],
        )


def _same_but_shifted(
    after: dict[str, MetricSeries], before: dict[str, MetricSeries], k: int
) -> None:
    assert after.keys() == before.keys()
    for name, b in before.items():
        a = after[name]
        assert np.array_equal(a.days, b.days + k), name
        for col in ("count", "total", "daily", "rolling"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=name)
        assert a.overall == b.overall or (np.isnan(a.overall) and np.isnan(b.overall))


def test_property_shifting_by_whole_days_changes_nothing() -> None:
    log, abandon_s = random_log()
    k = 3
    moved = log.shifted(k * DAY)
    for rule in (taobao.TaobaoRule(), taobao.PRESETS["legacy_0800_2400"]):
        _same_but_shifted(taobao.score(moved, rule), taobao.score(log, rule), k)
    for drule in (douyin.DouyinRule(), douyin.DouyinRule(exclude_bot_resolved=True)):
        _same_but_shifted(douyin.score(moved, drule), douyin.score(log, drule), k)
    for treatment in ("fail", "offered_wait"):
        grule = generic.GenericRule(abandoned=treatment, window_days=7)  # type: ignore[arg-type]
        _same_but_shifted(
            generic.score(moved, grule, abandon_s=abandon_s + k * DAY),
            generic.score(log, grule, abandon_s=abandon_s),
            k,
        )


def test_presets_are_rules_with_documented_defaults() -> None:
    assert taobao.PRESETS["default"] == taobao.TaobaoRule()
    assert (
        dataclasses.replace(taobao.TaobaoRule(), window_end_s=86400.0)
        == taobao.PRESETS["legacy_0800_2400"]
    )
    d = douyin.PRESETS["default"]
    assert (d.session_start_s, d.session_end_s, d.unanswered_s, d.window_days) == (
        28800,
        82800,
        600.0,
        30,
    )
    g = generic.PRESETS["default"]
    assert (g.service_level_s, g.abandoned, g.window_days, g.target) == (30.0, "fail", 1, None)
