"""Exact event traces with deterministic times: which reply is sent when."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import base_dict, make_workload, pool_dict, run_dict
from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN

NAN = math.nan


def test_one_agent_concurrency_two_interleaves_replies_oldest_first() -> None:
    # A: arrives 0, writes again 5 s after its first reply; B: arrives 2, writes again 100 s
    # after its first reply.  Every reply takes 10 s at one chat, x1.5 while holding two.
    d = base_dict(pools=[pool_dict(max_concurrency=2, slowdown_per_extra_chat=0.5)])
    w = make_workload([0.0, 2.0], [[(0, 10), (5, 10)], [(0, 10), (100, 10)]])
    log = run_dict(d, w)
    # A0 0->10 (alone); B0 waits, 10->25 (two chats: 15 s); A1 sent 15, waits, 25->40
    # (two chats); A closes at 40; B1 sent 125, 125->135 (one chat).
    np.testing.assert_allclose(log.msg_time_s, [0, 15, 2, 125])
    np.testing.assert_allclose(log.reply_time_s, [10, 40, 25, 135])
    np.testing.assert_allclose(log.reply_compose_s, [10, 15, 15, 10])
    np.testing.assert_array_equal(log.reply_kind, [REPLY_HUMAN] * 4)
    np.testing.assert_array_equal(log.reply_agent, [0, 0, 0, 0])
    np.testing.assert_allclose(log.assign_s, [0, 2])
    np.testing.assert_allclose(log.close_s, [40, 135])
    assert not log.abandoned.any()


def test_compose_multiplier_table_overrides_slowdown() -> None:
    d = base_dict(
        pools=[
            pool_dict(max_concurrency=2, compose_multiplier_by_concurrency=[1.0, 3.0], speed=2.0)
        ]
    )
    w = make_workload([0.0, 1.0], [[(0, 10), (100, 10)], [(0, 10)]])
    log = run_dict(d, w)
    # Speed 2 halves every reply.  A0 starts at 0 holding one chat: 5 s.  B0 starts at 5
    # holding two (A stays open): 5 s x 3.0 = 15 s.  A1 (sent 105) is alone again: 5 s.
    np.testing.assert_allclose(log.reply_time_s, [5.0, 110.0, 20.0])
    np.testing.assert_allclose(log.reply_compose_s, [5.0, 5.0, 15.0])


def test_patient_buyer_left_but_message_still_answered() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 1
    w = make_workload([0.0, 1.0], [[(0, 100)], [(0, 10), (5, 10)]], patience_s=[math.inf, 50.0])
    log = run_dict(d, w)
    # B waits for A (0->100), its reply comes at 110 > 1 + 50: the buyer left at 51,
    # the reply is still sent, and B's second message is never sent.
    np.testing.assert_allclose(log.reply_time_s[:2], [100, 110])
    assert np.isnan(log.msg_time_s[2]) and np.isnan(log.reply_time_s[2])
    np.testing.assert_array_equal(log.abandoned, [False, True])
    np.testing.assert_allclose(log.abandon_s[1], 51.0)
    np.testing.assert_allclose(log.close_s, [100, 110])
    assert not log.withdrawn.any()


def test_withdrawn_when_answer_after_abandon_is_false() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 1
    d["inquiry_types"][0]["answer_after_abandon"] = False
    w = make_workload(
        [0.0, 1.0, 60.0], [[(0, 100)], [(0, 10)], [(0, 10)]], patience_s=[math.inf, 50.0, 1000.0]
    )
    log = run_dict(d, w)
    # B gives up at 51 while queued and is withdrawn unanswered; C (arrived 60) is next.
    assert np.isnan(log.reply_time_s[1])
    np.testing.assert_array_equal(log.withdrawn, [False, True, False])
    np.testing.assert_array_equal(log.abandoned, [False, True, False])
    np.testing.assert_allclose(log.abandon_s[1], 51.0)
    np.testing.assert_allclose(log.reply_time_s[[0, 2]], [100, 110])


def test_withdrawn_from_agent_inbox_frees_the_slot() -> None:
    # Concurrency 2: B is assigned at once but waits behind A's long reply; its patience
    # runs out at 31 before the agent starts it, so the slot frees and C is taken at 31.
    d = base_dict(pools=[pool_dict(max_concurrency=2)])
    d["inquiry_types"][0]["answer_after_abandon"] = False
    w = make_workload(
        [0.0, 1.0, 2.0], [[(0, 100)], [(0, 10)], [(0, 10)]], patience_s=[math.inf, 30.0, math.inf]
    )
    log = run_dict(d, w)
    np.testing.assert_array_equal(log.withdrawn, [False, True, False])
    np.testing.assert_allclose(log.assign_s, [0.0, 1.0, 31.0])
    np.testing.assert_allclose(log.close_s, [100.0, 31.0, 110.0])


def test_idle_close_frees_the_slot_and_a_returning_buyer_reopens_the_chat() -> None:
    d = base_dict(routing={"idle_close": "2min"})
    d["pools"][0]["shifts"][0]["agents"] = 1
    # A writes again 300 s after its first reply; B arrives at 50 and needs the only slot.
    w = make_workload([0.0, 50.0], [[(0, 10), (300, 10)], [(0, 20)]])
    log = run_dict(d, w)
    # A: replied at 10, auto-closed at 130 (10 + 2 min): B is assigned then, replied 150.
    # A's buyer writes at 310: the chat reopens, is assigned again and answered at 320.
    assert log.idle_closed[0]
    np.testing.assert_allclose(log.assign_s, [0.0, 130.0])
    np.testing.assert_allclose(log.msg_time_s, [0.0, 310.0, 50.0])
    np.testing.assert_allclose(log.reply_time_s, [10.0, 320.0, 150.0])
    np.testing.assert_allclose(log.close_s, [320.0, 150.0])


def test_wrap_up_holds_the_slot_after_the_last_reply() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 1
    d["inquiry_types"][0]["wrap_up"] = "30s"
    w = make_workload([0.0, 1.0], [[(0, 10)], [(0, 10)]])
    log = run_dict(d, w)
    # A replied at 10 but holds the only slot until 40; B is assigned then.
    np.testing.assert_allclose(log.close_s, [40.0, 80.0])
    np.testing.assert_allclose(log.assign_s, [0.0, 40.0])


def test_bot_resolved_conversation_needs_no_agent() -> None:
    d = base_dict()
    w = make_workload([5.0], [[(0, 10), (20, 10)]], bot=[True])
    log = run_dict(d, w)
    np.testing.assert_allclose(log.msg_time_s, [5.0, 25.0])
    np.testing.assert_allclose(log.reply_time_s, [5.0, 25.0])
    np.testing.assert_array_equal(log.reply_kind, [REPLY_BOT, REPLY_BOT])
    np.testing.assert_array_equal(log.reply_agent, [-1, -1])
    assert log.agent[0] == -1


def test_auto_greeting_is_recorded_separately() -> None:
    d = base_dict(routing={"auto_greeting": True})
    w = make_workload([3.0], [[(0, 10)]])
    log = run_dict(d, w)
    np.testing.assert_allclose(log.auto_reply_s, [3.0])
    np.testing.assert_allclose(log.first_human_reply_s, [13.0])


def test_shift_end_drains_open_conversations_then_logs_off() -> None:
    d = base_dict(pools=[pool_dict(shifts=[{"start": "00:00", "length": "100s", "agents": 1}])])
    w = make_workload([90.0, 95.0], [[(0, 50)], [(0, 10)]])
    log = run_dict(d, w)
    # A finishes at 140 after the shift ended at 100; B (queued at 95) is never taken.
    np.testing.assert_allclose(log.reply_time_s[0], 140.0)
    assert np.isnan(log.reply_time_s[1]) and log.agent[1] == -1
    np.testing.assert_allclose(log.online_start_s, [0.0])
    np.testing.assert_allclose(log.online_end_s, [140.0])


def test_break_takes_agent_offline_between_segments() -> None:
    shifts = [
        {
            "start": "00:00",
            "length": "300s",
            "agents": 1,
            "breaks": [{"after": "100s", "length": "100s"}],
        }
    ]
    d = base_dict(pools=[pool_dict(shifts=shifts)])
    w = make_workload([150.0], [[(0, 10)]])
    log = run_dict(d, w)
    # Arrives during the break: taken when the agent is back at 200.
    np.testing.assert_allclose(log.assign_s, [200.0])
    np.testing.assert_allclose(log.online_start_s, [0.0, 200.0])
    np.testing.assert_allclose(log.online_end_s, [100.0, 300.0])


def test_agents_wait_for_a_free_subaccount() -> None:
    shifts = [
        {"start": "00:00", "length": "100s", "agents": 1},
        {"start": "00:01", "length": "200s", "agents": 1},
    ]
    d = base_dict(pools=[pool_dict(shifts=shifts)], subaccounts={"count": 1})
    w = make_workload([90.0], [[(0, 30)]])
    log = run_dict(d, w)
    # Agent 0 holds the only sub-account until its chat ends at 120; agent 1's shift
    # began at 60 but it can only log on at 120.
    np.testing.assert_allclose(log.online_start_s, [0.0, 120.0])
    np.testing.assert_allclose(log.online_end_s, [120.0, 260.0])


def test_least_loaded_spreads_and_pool_priority_fills_firstpool_dict() -> None:
    two = [{"start": "00:00", "length": "24h", "agents": 2}]
    d = base_dict(pools=[pool_dict(max_concurrency=3, shifts=two)])
    w = make_workload([0.0, 1.0, 2.0, 3.0], [[(0, 1000)]] * 4)
    log = run_dict(d, w)
    np.testing.assert_array_equal(log.agent, [0, 1, 0, 1])

    pools = [
        pool_dict(name="inhouse", max_concurrency=3),
        pool_dict(name="outsourced", max_concurrency=3),
    ]
    d = base_dict(
        pools=pools, routing={"policy": "pool_priority", "pool_order": ["inhouse", "outsourced"]}
    )
    log = run_dict(d, w)
    np.testing.assert_array_equal(log.conversation_pool, [0, 0, 0, 1])


def test_longest_idle_picks_agent_with_oldest_last_assignment() -> None:
    two = [{"start": "00:00", "length": "24h", "agents": 2}]
    d = base_dict(
        pools=[pool_dict(max_concurrency=2, shifts=two)], routing={"policy": "longest_idle"}
    )
    # A->agent0 (t0), B->agent1 (t1), A closes at 5; C (t6): both have a free slot, agent0
    # was last assigned at 0, agent1 at 1 -> agent0.  Least-loaded would pick agent0 too
    # (load 0), so D (t7) decides: longest idle -> agent1 (last assigned 1 < 6).
    w = make_workload([0.0, 1.0, 6.0, 7.0], [[(0, 5)], [(0, 1000)], [(0, 1000)], [(0, 1000)]])
    log = run_dict(d, w)
    np.testing.assert_array_equal(log.agent, [0, 1, 0, 1])


def test_priority_queue_serves_lower_priority_number_first() -> None:
    types = [
        {
            "name": "slow",
            "share": 0.5,
            "priority": 5,
            "messages": {"dist": "fixed", "value": 1},
            "think_time": {"dist": "fixed", "value": "1s"},
            "compose_time": {"dist": "fixed", "value": "10s"},
            "patience": {"dist": "none"},
        },
        {
            "name": "vip",
            "share": 0.5,
            "priority": 1,
            "messages": {"dist": "fixed", "value": 1},
            "think_time": {"dist": "fixed", "value": "1s"},
            "compose_time": {"dist": "fixed", "value": "10s"},
            "patience": {"dist": "none"},
        },
    ]
    d = base_dict(inquiry_types=types, pools=[pool_dict(skills={"slow": 1.0, "vip": 1.0})])
    w = make_workload(
        [0.0, 1.0, 2.0], [[(0, 10)]] * 3, type_idx=[0, 0, 1], type_names=("slow", "vip")
    )
    log = run_dict(d, w)
    # At 10 the agent frees; the vip (arrived 2) goes before the older 'slow' one.
    np.testing.assert_allclose(log.assign_s, [0.0, 20.0, 10.0])


def test_skills_and_proficiency() -> None:
    types = [
        {
            "name": "a",
            "share": 0.5,
            "messages": {"dist": "fixed", "value": 1},
            "think_time": {"dist": "fixed", "value": "1s"},
            "compose_time": {"dist": "fixed", "value": "10s"},
            "patience": {"dist": "none"},
        },
        {
            "name": "b",
            "share": 0.5,
            "messages": {"dist": "fixed", "value": 1},
            "think_time": {"dist": "fixed", "value": "1s"},
            "compose_time": {"dist": "fixed", "value": "10s"},
            "patience": {"dist": "none"},
        },
    ]
    pools = [
        pool_dict(name="generalist", skills={"a": 0.5, "b": 1.0}),
        pool_dict(name="specialist", skills={"b": 1.0}),
    ]
    d = base_dict(inquiry_types=types, pools=pools)
    w = make_workload([0.0, 1.0], [[(0, 10)], [(0, 10)]], type_idx=[0, 0], type_names=("a", "b"))
    log = run_dict(d, w)
    # Only the generalist can take 'a', at half proficiency (20 s a reply).
    np.testing.assert_array_equal(log.conversation_pool, [0, 0])
    np.testing.assert_allclose(log.reply_time_s, [20.0, 40.0])


@pytest.mark.parametrize("policy", ["least_loaded", "longest_idle", "pool_priority"])
def test_same_inputs_give_identical_logs(policy: str) -> None:
    d = base_dict(routing={"policy": policy})
    rng = np.random.default_rng(3)
    arr = np.sort(rng.uniform(0, 3600, 300)).tolist()
    msgs = [
        [(float(rng.exponential(30)), float(rng.exponential(60))) for _ in range(3)] for _ in arr
    ]
    a = run_dict(d, make_workload(arr, msgs))
    b = run_dict(d, make_workload(arr, msgs))
    np.testing.assert_array_equal(a.reply_time_s, b.reply_time_s)
    np.testing.assert_array_equal(a.reply_agent, b.reply_agent)


def test_deadline_order_takes_the_chat_nearest_its_deadline() -> None:
    # One agent, one chat at a time, busy with a first chat (0-100).  A (type "slow",
    # deadline 1 h) arrives at 0.5, B ("fast", deadline 3 min) at 5, C (slow) at 6.
    # Oldest first: A, B, C.  Deadline order: B (due 185), then A (due 3600.5), then C.
    def dict_for(order: str) -> dict[str, Any]:
        d = base_dict(pools=[pool_dict(skills={"slow": 1.0, "fast": 1.0})])
        q = d["inquiry_types"][0]
        d["inquiry_types"] = [
            q | {"name": "slow", "share": 0.5, "reply_deadline": "1h"},
            q | {"name": "fast", "share": 0.5, "reply_deadline": "3min"},
        ]
        d["routing"] = {"queue_order": order}
        return d

    w = make_workload(
        [0.0, 0.5, 5.0, 6.0],
        [[(0, 100)], [(0, 10)], [(0, 10)], [(0, 10)]],
        type_idx=[0, 0, 1, 0],
        type_names=("slow", "fast"),
    )
    oldest = run_dict(dict_for("oldest"), w)
    np.testing.assert_allclose(oldest.reply_time_s, [100, 110, 120, 130])
    due = run_dict(dict_for("deadline"), w)
    np.testing.assert_allclose(due.reply_time_s, [100, 120, 110, 130])
