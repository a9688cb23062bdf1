"""Importing real chat logs (bad rows with line numbers), targets, history, rounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from peakdesk.rules.csvlog import ChatLogError, read_chat_log
from peakdesk.rules.history import HistoryError, read_history_csv
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog
from peakdesk.rules.rounds import find_rounds, qualifying_replies
from peakdesk.rules.series import DailyHistory, daily_series
from peakdesk.rules.targets import evaluate, parse_target

BJ = ZoneInfo("Asia/Shanghai")
HEADER = "conversation_id,sender,timestamp,agent_id\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    p = tmp_path / "log.csv"
    p.write_text(header + body, encoding="utf-8")
    return p


def test_good_log_is_read_sorted_with_codes(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "b,buyer,2026-11-11T10:00:00+08:00,\n"
        "a,buyer,2026-11-11T09:00:00+08:00,\n"
        "a,agent,2026-11-11T09:00:30+08:00,ann\n"
        "b,bot,2026-11-11T10:00:00Z,\n",
    )
    imp = read_chat_log(p)
    log = imp.log
    assert imp.rows == 4 and not imp.skipped
    assert log.conversation_labels == ("a", "b")  # codes in label order, whatever the rows
    np.testing.assert_array_equal(log.conversation, [0, 0, 1, 1])
    np.testing.assert_array_equal(log.sender, [BUYER, AGENT, BUYER, BOT])
    t = dt.datetime(2026, 11, 11, 9, 0, tzinfo=BJ).timestamp()
    np.testing.assert_allclose(log.time_s[:2], [t, t + 30])
    assert log.agent[1] >= 0 and log.agent[0] == -1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a,robot,2026-11-11T09:00:00+08:00,", "unknown sender 'robot'"),
        ("a,buyer,11/11/2026 09:00,", "unreadable timestamp"),
        ("a,buyer,2026-11-11T09:00:00,", "no UTC offset"),
        ("a,agent,2026-11-11T08:59:00+08:00,x", "before its first buyer message"),
        ("c,agent,2026-11-11T08:59:00+08:00,x", "no buyer message"),
        ("a,buyer", "wrong number of fields"),
    ],
)
def test_bad_rows_stop_with_line_numbers(tmp_path: Path, row: str, reason: str) -> None:
    body = "a,buyer,2026-11-11T09:00:00+08:00,\n" + row + "\n"
    p = _write(tmp_path, body)
    with pytest.raises(ChatLogError) as info:
        read_chat_log(p)
    msg = str(info.value)
    assert "line 3" in msg and reason in msg
    assert "--skip-bad-rows" in msg


def test_skip_bad_rows_counts_and_reports_them(tmp_path: Path) -> None:
    body = (
        "a,buyer,2026-11-11T09:00:00+08:00,\n"
        "a,robot,2026-11-11T09:00:10+08:00,\n"
        "a,agent,2026-11-11T09:00:20+08:00,x\n"
        "b,agent,2026-11-11T09:00:20+08:00,x\n"
        "b,buyer,2026-11-11T09:00:00,\n"
    )
    imp = read_chat_log(_write(tmp_path, body), skip_bad_rows=True)
    assert imp.rows == 5
    assert [b.line for b in imp.skipped] == [3, 5, 6]
    assert imp.log.n_messages == 2
    assert sum(imp.skipped_by_reason().values()) == 3


def test_missing_or_unknown_columns_name_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ChatLogError, match="missing column"):
        read_chat_log(_write(tmp_path, "", header="conversation_id,sender\n"))
    with pytest.raises(ChatLogError, match=r"unknown column.*allowed"):
        read_chat_log(_write(tmp_path, "", header=HEADER.strip() + ",mood\n"))
    with pytest.raises(ChatLogError, match="cannot read the file"):
        read_chat_log(tmp_path / "nope.csv")


def test_optional_ordered_and_leave_message_columns(tmp_path: Path) -> None:
    header = "conversation_id,sender,timestamp,ordered,leave_message\n"
    body = (
        "a,buyer,2026-11-11T09:00:00+08:00,0,1\n"
        "a,agent,2026-11-11T09:01:00+08:00,1,0\n"
        "b,buyer,2026-11-11T09:00:00+08:00,,\n"
    )
    log = read_chat_log(_write(tmp_path, body, header)).log
    assert log.ordered is not None
    np.testing.assert_array_equal(log.ordered, [True, False])
    np.testing.assert_array_equal(log.leave_message, [True, False, False])


def test_rounds_follow_the_taobao_worked_example() -> None:
    def t(h: int, m: int, s: int) -> float:
        return dt.datetime(2026, 11, 10, h, m, s, tzinfo=BJ).timestamp()

    # 10:10:15 and 10:15:20 asked, reply 10:18:10; 10:18:30 asked, bot 10:18:31, reply 10:19:00.
    log = MessageLog.from_arrays(
        [0] * 6,
        [BUYER, BUYER, AGENT, BUYER, BOT, AGENT],
        [t(10, 10, 15), t(10, 15, 20), t(10, 18, 10), t(10, 18, 30), t(10, 18, 31), t(10, 19, 0)],
    )
    r = find_rounds(log, qualifying_replies(log))
    np.testing.assert_allclose(r.delay_s, [475.0, 30.0])
    np.testing.assert_array_equal(r.buyer_messages, [2, 1])
    # Counting the bot reply, the second round closes at 10:18:31.
    r2 = find_rounds(log, qualifying_replies(log, bots_count=True))
    np.testing.assert_allclose(r2.delay_s, [475.0, 1.0])


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("taobao.response_3min >= 0.90", "taobao.response_3min", ">=", 0.90),
        ("shopee.crr >= 80%", "shopee.crr", ">=", 0.80),
        ("lazada.response_time_s <= 30min", "lazada.response_time_s", "<=", 1800.0),
        ("service_level(30s) >= 0.8", "generic.service_level", ">=", 0.8),
    ],
)
def test_targets_parse(text: str, metric: str, op: str, value: float) -> None:
    t = parse_target(text)
    assert (t.metric, t.op) == (metric, op)
    assert t.value == pytest.approx(value)


@pytest.mark.parametrize(
    "bad", ["taobao.response_3min > 0.9", "response_3min >= 0.9", "service_level >= 0.8", "x"]
)
def test_bad_targets_say_what_is_allowed(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_target(bad)


def test_target_met_only_if_every_simulated_day_keeps_it() -> None:
    # History: 3 days at 95% (100 units/day); then the log: day 4 at 50% (100 units), day 5 100%.
    hist = DailyHistory(
        days=(dt.date(2026, 11, 8), dt.date(2026, 11, 9), dt.date(2026, 11, 10)),
        count=(100.0, 100.0, 100.0),
        value=(0.95, 0.95, 0.95),
    )
    d4, d5 = (
        (dt.date(2026, 11, 11) - dt.date(1970, 1, 1)).days,
        (dt.date(2026, 11, 12) - dt.date(1970, 1, 1)).days,
    )
    days = np.array([d4] * 100 + [d5] * 100)
    vals = np.array([1.0] * 50 + [0.0] * 50 + [1.0] * 100)
    s = daily_series(
        metric="x.rate",
        label="x",
        unit="share",
        higher_is_better=True,
        threshold=0.9,
        window_days=3,
        unit_day=days,
        unit_value=vals,
        history=hist,
    )
    np.testing.assert_allclose(s.rolling, [0.95, 0.95, 0.95, 0.80, 245 / 300])
    res = evaluate(parse_target("x.rate >= 0.85"), s)
    assert not res.met and res.worst == pytest.approx(0.8)
    assert s.dates[res.first_failing_day] == dt.date(2026, 11, 11)
    assert evaluate(parse_target("x.rate >= 0.75"), s).met


def test_history_csv(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text(
        "date,metric,count,value\n2026-11-01,shopee.crr,40,95%\n2026-11-02,shopee.crr,50,0.9\n",
        encoding="utf-8",
    )
    h = read_history_csv(p)["shopee.crr"]
    assert h.days == (dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert h.value == pytest.approx((0.95, 0.9))
    p.write_text("date,metric,count,value\n11/01/2026,x,1,1\n", encoding="utf-8")
    with pytest.raises(HistoryError, match="line 2"):
        read_history_csv(p)
