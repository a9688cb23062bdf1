"""Regression tests for problems found in review, each on the smallest case that showed it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import base_dict, loaded, make_workload, run_dict
from peakdesk.demand.sample import sample_workload
from peakdesk.engine.export import to_message_log
from peakdesk.engine.intervals import interval_table
from peakdesk.engine.setup import build_config
from peakdesk.experiment.checks import check_runnable
from peakdesk.rules import generic
from peakdesk.rules.messages import AGENT, AUTO, BOT, BUYER, MessageLog
from peakdesk.scenario import ScenarioError, parse_scenario


def test_auto_greeting_does_not_make_an_unanswered_chat_bot_resolved() -> None:
    d = base_dict(
        routing={"auto_greeting": True},
        pools=[
            {
                "name": "p",
                "skills": {"q": 1.0},
                "max_concurrency": 1,
                "shifts": [{"start": "00:00", "length": "100s", "agents": 1}],
            }
        ],
    )
    # A is answered at 10 s; B arrives after the only agent has gone: never answered.
    w = make_workload([0.0, 500.0], [[(0, 10)], [(0, 10)]])
    log = run_dict(d, w)
    messages = to_message_log(log)
    assert (messages.sender == AUTO).sum() == 2 and (messages.sender == BOT).sum() == 0
    sl = generic.score(messages, generic.GenericRule(service_level_s=30))
    assert sl[generic.SERVICE_LEVEL].overall == pytest.approx(0.5)
    # A real bot answer still counts as bot resolution.
    bot_log = MessageLog.from_arrays([0, 0, 1, 1], [BUYER, BOT, BUYER, AGENT], [0, 1, 0, 5])
    assert generic.score(bot_log)[generic.SERVICE_LEVEL].n_units == 1


def test_a_seat_is_not_handed_to_an_agent_whose_shift_ends_at_that_instant() -> None:
    types = [
        {
            "name": n,
            "share": 0.5,
            "messages": {"dist": "fixed", "value": 1},
            "think_time": {"dist": "fixed", "value": "1s"},
            "compose_time": {"dist": "fixed", "value": "30s"},
            "patience": {"dist": "none"},
        }
        for n in ("x", "y")
    ]
    pools = [
        {
            "name": n,
            "skills": {s: 1.0},
            "max_concurrency": 1,
            "shifts": [{"start": "00:00", "length": "1h", "agents": 1}],
        }
        for n, s in (("a", "x"), ("b", "y"))
    ]
    d = base_dict(inquiry_types=types, pools=pools, subaccounts={"count": 1})
    w = make_workload([1800.0], [[(0, 30)]], type_idx=[1], type_names=("x", "y"))
    log = run_dict(d, w)
    # Pool a's agent holds the only seat until 01:00, when b's shift ends too.
    assert np.isnan(log.reply_time_s[0]) and log.agent[0] == -1
    assert log.online_agent.tolist() == [0]


def test_withdrawn_chats_leave_the_queue_and_backlog_levels() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 1
    d["inquiry_types"][0]["answer_after_abandon"] = False
    w = make_workload([0.0, 1.0], [[(0, 3000)], [(0, 10)]], patience_s=[math.inf, 60.0])
    log = run_dict(d, w)
    assert log.withdrawn.tolist() == [False, True]
    it = interval_table(log, 900.0)
    # B waited from 1 s to 61 s, then left: 60 s of queue in the first interval only.
    np.testing.assert_allclose(it.queue[:3], [60.0 / 900.0, 0.0, 0.0])
    assert it.backlog[1] == pytest.approx(1.0)  # only A's message, answered at 3000 s


def test_shift_longer_than_a_day_is_refused() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["length"] = "30h"
    with pytest.raises(ScenarioError, match=r"pools\[0\]\.shifts\[0\]\.length"):
        parse_scenario(d)


def _checked(d: dict[str, Any]) -> None:
    check_runnable(loaded(d))


def test_problems_a_run_would_meet_are_reported_before_it() -> None:
    d = base_dict(
        demand={
            "profile": "double11",
            "volume_per_day": 100,
            "double11": {"presale_wave_dates": ["2026-11-11"]},
        }
    )
    d["demand"]["double11"]["presale_wave_dates"] = [dt.date(2026, 11, 11)]
    with pytest.raises(ScenarioError, match=r"demand\.double11"):
        _checked(d)
    d = base_dict(targets={"require": ["taobao.response_rate >= 0.9"]})
    with pytest.raises(ScenarioError, match=r"no metric 'taobao\.response_rate'.*response_3min"):
        _checked(d)


def test_misaligned_forecast_is_an_error_not_a_shift(tmp_path: Path) -> None:
    csv = tmp_path / "f.csv"
    csv.write_text(
        "interval_start,conversations\n2026-11-10T00:10:00,5\n2026-11-10T00:25:00,5\n",
        encoding="utf-8",
    )
    d = base_dict(demand={"profile": "csv", "forecast": str(csv)})
    with pytest.raises(ScenarioError, match="whole 900-second intervals"):
        _checked(d)


def test_generic_offered_wait_keeps_bot_resolved_chats_out() -> None:
    log = MessageLog.from_arrays([0, 0, 1, 1], [BUYER, BOT, BUYER, AGENT], [0, 1, 0, 5])
    for treatment in ("fail", "offered_wait"):
        rule = generic.GenericRule(abandoned=treatment)  # type: ignore[arg-type]
        sl = generic.score(log, rule, abandon_s=np.array([np.nan, np.nan]))
        assert sl[generic.SERVICE_LEVEL].overall == pytest.approx(1.0), treatment


def test_shrinkage_is_not_lost_on_small_shifts() -> None:
    d = base_dict()
    d["pools"][0]["shrinkage"] = 0.05
    d["pools"][0]["shifts"] = [
        {"start": "00:00", "length": "8h", "agents": 8},
        {"start": "08:00", "length": "8h", "agents": 8},
        {"start": "16:00", "length": "8h", "agents": 8},
    ]
    d["calendar"]["horizon"] = "3d"
    cfg = build_config(parse_scenario(d))
    # 72 agent-shifts at 5% absence: about 3.6 absent, not 0 (rounding each shift of 8).
    present_shifts = len(
        {
            (a, round(s // 28800))
            for a, s in zip(cfg.segment_agent.tolist(), cfg.segment_start_s.tolist(), strict=True)
        }
    )
    assert present_shifts in (68, 69)


def test_no_arrival_after_the_horizon() -> None:
    d = base_dict(
        calendar={
            "start": dt.datetime(2026, 11, 10),
            "horizon": "90s",
            "timezone": "Asia/Shanghai",
        },
        demand={"profile": "flat", "volume_per_day": 2_000_000},
    )
    w = sample_workload(loaded(d), 0)
    assert w.n_conversations > 1000 and w.arrival_s.max() < 90.0
    # The rate is kept: 2e6 a day for 90 s is about 2083 conversations.
    assert abs(w.n_conversations - 2_000_000 * 90 / 86400) < 5 * math.sqrt(2083)
