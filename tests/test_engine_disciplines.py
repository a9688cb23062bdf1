"""Exact traces of the agent-model choices: discipline, patience semantics, shift end.

Every expected time below is worked out by hand from the model's rules (see
:mod:`peakdesk.engine.model`), with deterministic compose and think times.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import base_dict, loaded, make_workload, pool_dict, run_dict
from peakdesk.engine.intervals import interval_table, writing_spans
from peakdesk.engine.summary import summarise
from peakdesk.experiment.replicate import simulate


def _handover(end: str, *, grace: str | None = None, **over: Any) -> dict[str, Any]:
    """Agent 0 works 00:00-00:10, agent 1 00:10-01:10; the pool's shift end is ``end``."""
    pool = pool_dict(
        shift_end=end,
        shifts=[
            {"start": "00:00", "length": "10min", "agents": 1},
            {"start": "00:10", "length": "1h", "agents": 1},
        ],
        **over,
    )
    if grace is not None:
        pool["shift_end_grace"] = grace
    return base_dict(pools=[pool])


# --------------------------------------------------------------------------- parallel


def test_parallel_agent_writes_every_reply_at_once_re_rated_by_chats_held() -> None:
    d = base_dict(
        pools=[
            pool_dict(
                max_concurrency=2,
                compose_multiplier_by_concurrency=[1.0, 2.0],
                discipline="parallel",
            )
        ]
    )
    w = make_workload([0.0, 10.0], [[(0, 60)], [(0, 60)]])
    log = run_dict(d, w)
    # A alone 0-10 (10 of its 60 s done); both held 10-110 at half speed (A's other 50 s,
    # B's first 50 s); B alone 110-120 at full speed (its last 10 s).
    np.testing.assert_allclose(log.reply_time_s, [110.0, 120.0])
    np.testing.assert_allclose(log.reply_compose_s, [110.0, 110.0])
    np.testing.assert_allclose(log.assign_s, [0.0, 10.0])
    # The agent wrote from 0 to 120 without a break: one spell, not 220 s of writing.
    start, end, agent = writing_spans(log)
    np.testing.assert_allclose(start, [0.0])
    np.testing.assert_allclose(end, [120.0])
    np.testing.assert_array_equal(agent, [0])
    assert summarise(log).occupancy <= 1.0


def test_sequential_agent_writes_the_same_chats_one_after_the_other() -> None:
    d = base_dict(
        pools=[pool_dict(max_concurrency=2, compose_multiplier_by_concurrency=[1.0, 2.0])]
    )
    w = make_workload([0.0, 10.0], [[(0, 60)], [(0, 60)]])
    log = run_dict(d, w)
    # A 0-60 (one chat held when started); B waits in the inbox and is started at 60,
    # once A has closed, holding one chat: 60 s.  Parallel writing finished B at 120 too,
    # but A at 110 instead of 60.
    np.testing.assert_allclose(log.reply_time_s, [60.0, 120.0])
    np.testing.assert_allclose(log.reply_compose_s, [60.0, 60.0])


def test_parallel_flat_multiplier_needs_no_re_rating() -> None:
    d = base_dict(pools=[pool_dict(max_concurrency=3, discipline="parallel")])
    w = make_workload([0.0, 5.0, 7.0], [[(0, 30), (20, 30)], [(0, 30)], [(0, 4)]])
    log = run_dict(d, w)
    # No slowdown: every reply takes its own compose time from when it is started.
    np.testing.assert_allclose(log.reply_time_s, [30.0, 80.0, 35.0, 11.0])
    np.testing.assert_allclose(log.close_s, [80.0, 35.0, 11.0])


# --------------------------------------------------------------------------- patience


@pytest.mark.parametrize(("until", "abandoned"), [("first_reply", True), ("assignment", False)])
def test_patience_until_first_reply_or_assignment(until: str, abandoned: bool) -> None:
    d = base_dict(pools=[pool_dict()])
    d["inquiry_types"][0]["patience_until"] = until
    # B waits behind A for the only agent (0-100) and leaves at 10 + 95 = 105 at the latest.
    w = make_workload([0.0, 10.0], [[(0, 100)], [(0, 10), (5, 10)]], patience_s=[math.inf, 95.0])
    log = run_dict(d, w)
    # Taken at 100 (before 105) and answered at 110 (after it).
    np.testing.assert_allclose(log.assign_s, [0.0, 100.0])
    np.testing.assert_allclose(
        log.reply_time_s[:3], [100.0, 110.0, 125.0 if not abandoned else np.nan]
    )
    assert bool(log.abandoned[1]) is abandoned
    if abandoned:
        assert log.abandon_s[1] == pytest.approx(105.0)
        assert np.isnan(log.msg_time_s[2])  # the buyer who left writes no more


def test_patience_until_assignment_judged_when_taken() -> None:
    d = base_dict(pools=[pool_dict()])
    d["inquiry_types"][0]["patience_until"] = "assignment"
    w = make_workload([0.0, 10.0], [[(0, 100)], [(0, 10)]], patience_s=[math.inf, 50.0])
    log = run_dict(d, w)
    # Taken at 100, after its patience ran out at 60: abandoned then, still answered.
    assert log.abandoned[1] and log.abandon_s[1] == pytest.approx(60.0)
    np.testing.assert_allclose(log.reply_time_s, [100.0, 110.0])
    assert not log.withdrawn.any()


@pytest.mark.parametrize(("until", "withdrawn"), [("first_reply", True), ("assignment", False)])
def test_withdrawal_from_an_agents_inbox_only_until_first_reply(
    until: str, withdrawn: bool
) -> None:
    d = base_dict(pools=[pool_dict(max_concurrency=2)])
    d["inquiry_types"][0]["answer_after_abandon"] = False
    d["inquiry_types"][0]["patience_until"] = until
    # B is taken at once (second slot) but waits in the inbox behind A's 100 s reply.
    w = make_workload([0.0, 10.0], [[(0, 100)], [(0, 10)]], patience_s=[math.inf, 50.0])
    log = run_dict(d, w)
    assert bool(log.withdrawn[1]) is withdrawn
    if withdrawn:
        assert np.isnan(log.reply_time_s[1]) and log.close_s[1] == pytest.approx(60.0)
    else:
        np.testing.assert_allclose(log.reply_time_s, [100.0, 110.0])


def test_withdrawn_from_the_queue_under_patience_until_assignment() -> None:
    d = base_dict(pools=[pool_dict()])
    d["inquiry_types"][0]["answer_after_abandon"] = False
    d["inquiry_types"][0]["patience_until"] = "assignment"
    w = make_workload([0.0, 10.0], [[(0, 100)], [(0, 10)]], patience_s=[math.inf, 50.0])
    log = run_dict(d, w)
    assert log.withdrawn[1] and np.isnan(log.assign_s[1])
    assert log.abandon_s[1] == pytest.approx(60.0) and log.close_s[1] == pytest.approx(60.0)
    # It waited in the queue from 10 to 60.
    table = interval_table(log, 900.0)
    assert table.queue[0] * 900.0 == pytest.approx(50.0)


# --------------------------------------------------------------------------- shift end


def _chat_across_the_handover() -> Any:
    # A arrives at 300 s and needs 600 s of writing; agent 0's shift ends at 600 s.
    return make_workload([300.0], [[(0, 600)]])


def test_drain_finishes_past_the_shift_end_and_says_how_long() -> None:
    log = run_dict(_handover("drain"), _chat_across_the_handover())
    np.testing.assert_allclose(log.reply_time_s, [900.0])
    np.testing.assert_array_equal(log.reply_agent, [0])
    # Agent 0 online 0-900 against a shift ending at 600: 5 agent-minutes past it.
    assert summarise(log).agent_min_past_shift_end == pytest.approx(5.0)
    assert summarise(log).handed_back == 0


def test_hand_back_keeps_the_work_done_and_logs_off_at_the_shift_end() -> None:
    log = run_dict(_handover("hand_back"), _chat_across_the_handover())
    # Half the reply written by agent 0 (300-600); agent 1 takes it at 600 and writes
    # the other half (300 s): sent at 900, first assignment kept at 300.
    np.testing.assert_allclose(log.reply_time_s, [900.0])
    np.testing.assert_array_equal(log.reply_agent, [1])
    np.testing.assert_allclose(log.reply_compose_s, [300.0])
    np.testing.assert_allclose(log.assign_s, [300.0])
    np.testing.assert_array_equal(log.handed_back, [1])
    np.testing.assert_allclose(
        np.c_[log.hold_agent, log.hold_start_s, log.hold_end_s], [[0, 300, 600], [1, 600, 900]]
    )
    # Agent 0's writing before the hand-back is its time too (occupancy, KPIs).
    start, end, agent = writing_spans(log)
    spans = sorted(zip(agent.tolist(), start.tolist(), end.tolist(), strict=True))
    assert spans == [(0, 300.0, 600.0), (1, 600.0, 900.0)]
    s = summarise(log)
    assert s.agent_min_past_shift_end == 0.0 and s.handed_back == 1
    spells = np.c_[log.online_agent, log.online_start_s, log.online_end_s]
    np.testing.assert_allclose(spells[np.lexsort((spells[:, 1], spells[:, 0]))][0], [0, 0, 600])


def test_log_off_finishes_within_the_grace_then_hands_back() -> None:
    d = _handover("log_off", grace="2min")
    # B arrives at 650 s (agent 1 alone takes it, 100 s) so A, handed back at 720 s,
    # waits at the head of the queue until agent 1 is free at 750 s.
    w = make_workload([300.0, 650.0], [[(0, 600)], [(0, 100)]])
    log = run_dict(d, w)
    # A: 300-720 by agent 0 (420 of 600 s), the last 180 s by agent 1 from 750.
    np.testing.assert_allclose(log.reply_time_s, [930.0, 750.0])
    np.testing.assert_array_equal(log.reply_agent, [1, 1])
    np.testing.assert_allclose(log.requeue_start_s, [720.0])
    np.testing.assert_allclose(log.requeue_end_s, [750.0])
    assert summarise(log).agent_min_past_shift_end == pytest.approx(2.0)


def test_hand_back_releases_a_chat_waiting_on_its_buyer() -> None:
    d = _handover("hand_back")
    # First reply 0-10; the buyer thinks until 800 s, after agent 0 left at 600 s.
    w = make_workload([0.0], [[(0, 10), (790, 10)]])
    log = run_dict(d, w)
    np.testing.assert_allclose(log.reply_time_s, [10.0, 810.0])
    np.testing.assert_array_equal(log.reply_agent, [0, 1])
    np.testing.assert_allclose(
        np.c_[log.hold_agent, log.hold_start_s, log.hold_end_s], [[0, 0, 600], [1, 800, 810]]
    )
    # Released, not handed back: nothing was waiting for a reply.
    np.testing.assert_array_equal(log.handed_back, [0])
    np.testing.assert_allclose(log.close_s, [810.0])


def test_parallel_hand_back_keeps_the_share_of_work_done() -> None:
    d = _handover("hand_back", discipline="parallel", max_concurrency=2)
    log = run_dict(d, _chat_across_the_handover())
    np.testing.assert_allclose(log.reply_time_s, [900.0])
    np.testing.assert_array_equal(log.reply_agent, [1])


def test_an_agent_whose_next_shift_starts_at_once_carries_on() -> None:
    d = base_dict(pools=[pool_dict(shift_end="hand_back", max_concurrency=2)])
    d["calendar"]["horizon"] = "2d"
    # A chat written across midnight, when one day's 24 h shift ends and the next begins.
    w = make_workload([86_000.0], [[(0, 1000)]])
    log = run_dict(d, w)
    np.testing.assert_allclose(log.reply_time_s, [87_000.0])
    np.testing.assert_array_equal(log.handed_back, [0])


@pytest.mark.parametrize("end", ["hand_back", "log_off"])
@pytest.mark.parametrize("discipline", ["sequential", "parallel"])
def test_online_agents_never_exceed_the_staffing_asked_for(end: str, discipline: str) -> None:
    """With hand_back the agents online never exceed the agents scheduled; with
    log_off only by agents inside their grace."""
    pool = pool_dict(
        max_concurrency=3,
        discipline=discipline,
        shift_end=end,
        slowdown_per_extra_chat=0.2,
        shifts=[
            {"start": "00:00", "length": "5h", "agents": 4},
            {
                "start": "03:00",
                "length": "6h",
                "agents": 3,
                "breaks": [{"after": "2h", "length": "30min", "stagger": "1h"}],
            },
            {"start": "07:00", "length": "8h", "agents": 5},
        ],
    )
    if end == "log_off":
        pool["shift_end_grace"] = "3min"
    d = base_dict(pools=[pool], demand={"profile": "flat", "volume_per_day": 2400})
    d["calendar"]["horizon"] = "14h"
    d["inquiry_types"][0].update(
        messages={"dist": "geometric", "mean": 3.0},
        think_time={"dist": "exponential", "mean": "40s"},
        compose_time={"dist": "exponential", "mean": "50s"},
        patience={"dist": "exponential", "mean": "3min"},
    )
    ev = simulate(loaded(d), replications=1, keep_logs=True)
    log = ev.replications[0].log
    assert log is not None
    from peakdesk.engine.setup import build_config

    cfg = build_config(loaded(d).spec)
    grace = 180.0 if end == "log_off" else 0.0
    times = np.unique(np.concatenate((log.online_start_s, log.online_end_s)))
    for t in times:
        online = np.sum((log.online_start_s <= t) & (t < log.online_end_s))
        asked = np.sum((cfg.segment_start_s <= t) & (t < cfg.segment_end_s + grace))
        assert online <= asked, t
    s = summarise(log)
    assert s.handed_back > 0
    assert s.agent_min_past_shift_end <= grace / 60.0 * len(log.online_agent) + 1e-9
    # Every conversation is still answered by the end (the last shift covers the tail).
    assert s.unanswered_at_end == 0
