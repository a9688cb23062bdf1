"""Per-agent and per-pool KPIs: a hand-checked trace, and sums against the run's totals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import base_dict, loaded, make_workload
from peakdesk.engine.intervals import end_time, interval_table
from peakdesk.engine.kpis import agent_kpis, grouped_percentile, pool_kpis
from peakdesk.engine.log import REPLY_HUMAN, ChatLog
from peakdesk.engine.model import run
from peakdesk.engine.setup import build_config
from peakdesk.engine.summary import summarise
from peakdesk.experiment.replicate import Evaluation, simulate
from peakdesk.scenario import parse_scenario

# -- the grouped percentile ------------------------------------------------


def test_grouped_percentile_equals_numpy_percentile_per_group() -> None:
    rng = np.random.default_rng(3)
    n_groups = 7
    group = rng.integers(0, n_groups, 500).astype(np.int64)
    group[group == 4] = 5  # group 4 empty
    group[np.flatnonzero(group == 6)[1:]] = 0  # group 6 has one value
    value = np.round(rng.lognormal(3.0, 1.0, 500), 1)  # rounded: ties inside groups
    for q in (0.0, 37.5, 50.0, 95.0, 100.0):
        got = grouped_percentile(group, value, n_groups, q)
        for g in range(n_groups):
            x = value[group == g]
            if x.size == 0:
                assert math.isnan(got[g])
            else:
                assert got[g] == pytest.approx(np.percentile(x, q), rel=1e-12)


# -- a hand-checked trace --------------------------------------------------


def _pool(name: str, start: str, length: str, cap: int, cost: float) -> dict[str, Any]:
    return {
        "name": name,
        "skills": {"q": 1.0},
        "max_concurrency": cap,
        "hourly_cost": cost,
        "shifts": [{"start": start, "length": length, "agents": 1}],
    }


@pytest.fixture(scope="module")
def trace() -> ChatLog:
    """One agent in pool ``p`` online 0-200 s; one in ``late`` online 600-700 s, idle.

    A arrives at 0 with two messages (the second 5 s after the first reply),
    B at 2 and C at 100, one message each; compose times 10, 20 / 30 / 10 s.
    Pool ``p`` holds one chat at a time:

    * A0 0 -> 10, A1 sent 15, 15 -> 35 (A held 0-35);
    * B waits for the slot: 35 -> 65 (held 35-65), first reply 63 s after it wrote;
    * C 100 -> 110 (held 100-110).

    Conversion: base 0.9, half-life 60 s, every draw 0.5, so a buyer converts
    when the first reply comes within 60 log2(1.8) = 50.9 s: A and C do, B's
    sale is lost.
    """
    d = base_dict(
        pools=[_pool("p", "00:00", "200s", 1, 10.0), _pool("late", "00:10", "100s", 2, 20.0)]
    )
    w = make_workload([0.0, 2.0, 100.0], [[(0, 10), (5, 20)], [(0, 30)], [(0, 10)]])
    spec = parse_scenario(d)
    log = run(
        build_config(spec),
        w,
        start=spec.calendar.start_aware,
        horizon_s=spec.calendar.horizon,
        conversion_base=(0.9,),
        conversion_half_life_s=(60.0,),
    )
    # The trace the docstring describes.
    np.testing.assert_allclose(log.reply_time_s, [10, 35, 65, 110])
    np.testing.assert_allclose(log.online_start_s, [0, 600])
    np.testing.assert_allclose(log.online_end_s, [200, 700])
    return log


def test_agent_kpis_of_the_trace(trace: ChatLog) -> None:
    a = agent_kpis(trace)
    assert a["agent"].tolist() == [0, 1]
    assert a["agent_id"].tolist() == ["p-1", "late-1"]
    assert a["pool"].tolist() == ["p", "late"]
    np.testing.assert_allclose(a["online_h"], [200 / 3600, 100 / 3600])
    assert a["conversations"].tolist() == [3, 0]
    assert a["replies"].tolist() == [4, 0]
    # Responses 10, 20 (35 - 15), 63 (65 - 2), 10: mean 25.75; p95 at rank 0.95 x 3 =
    # 2.85 between 20 and 63: 20 + 0.85 x 43 = 56.55.
    assert a["response_mean_s"][0] == pytest.approx(25.75)
    assert a["response_p95_s"][0] == pytest.approx(56.55)
    assert math.isnan(a["response_mean_s"][1]) and math.isnan(a["response_p95_s"][1])
    # Composing 10 + 20 + 30 + 10 = 70 s of 200 s online; held 35 + 30 + 10 = 75 s of
    # 200 slot-seconds.  The idle agent: 0 of 100 s.
    np.testing.assert_allclose(a["occupancy"], [0.35, 0.0])
    np.testing.assert_allclose(a["slot_utilisation"], [0.375, 0.0])
    assert a["conversions"].tolist() == [2, 0]
    assert a["conversions_lost"].tolist() == [1, 0]
    np.testing.assert_allclose(a["conversations_per_online_hour"], [54.0, 0.0])


def test_pool_kpis_of_the_trace(trace: ChatLog) -> None:
    p = pool_kpis(trace)
    assert p["pool"].tolist() == ["p", "late"]
    assert p["agents"].tolist() == [1, 1]
    np.testing.assert_allclose(p["paid_hours"], [200 / 3600, 100 / 3600])
    np.testing.assert_allclose(p["labour_cost"], [200 / 3600 * 10, 100 / 3600 * 20])
    np.testing.assert_allclose(p["response_p95_s"][:1], [56.55])
    np.testing.assert_allclose(p["occupancy"], [0.35, 0.0])
    np.testing.assert_allclose(p["slot_utilisation"], [0.375, 0.0])
    assert p["conversions"].tolist() == [2, 0]
    assert p["conversions_lost"].tolist() == [1, 0]


def test_conversions_per_interval_by_arrival(trace: ChatLog) -> None:
    t = interval_table(trace, 60.0)
    # A (arrived 0) converted and B (arrived 2) lost fall in [0, 60); C (100) in [60, 120).
    assert t.conversions[:2].tolist() == [1, 1]
    assert t.conversions_lost[:2].tolist() == [1, 0]
    assert t.conversions[2:].sum() == 0 and t.conversions_lost[2:].sum() == 0
    cols = list(t.columns())
    assert cols[15:17] == ["conversions", "conversions_lost"]  # appended, earlier order kept
    assert cols[:3] == ["interval_start_s", "arrivals", "human_arrivals"]


# -- a random run: the tables against the log's totals ----------------------


def _scenario() -> dict[str, Any]:
    """Two pools (caps 2 and 3, breaks, a later shift), bots, impatient buyers, idle close."""
    shifts_a = [
        {
            "start": "00:00",
            "length": "6h",
            "agents": 3,
            "breaks": [{"after": "2h", "length": "30min", "stagger": "20min"}],
        },
        {"start": "02:00", "length": "2h", "agents": 2},
    ]
    return base_dict(
        calendar={
            "start": base_dict()["calendar"]["start"],
            "horizon": "6h",
            "timezone": "Asia/Shanghai",
            "interval": "30min",
        },
        demand={"profile": "flat", "volume_per_day": 5000},
        inquiry_types=[
            {
                "name": "pre",
                "share": 0.6,
                "messages": {"dist": "geometric", "mean": 2.5},
                "think_time": {"dist": "exponential", "mean": "40s"},
                "compose_time": {"dist": "exponential", "mean": "25s"},
                "patience": {"dist": "exponential", "mean": "3min"},
                "bot_resolve": 0.2,
                "conversion": {"base": 0.5, "half_life": "2min"},
            },
            {
                "name": "after",
                "share": 0.4,
                "messages": {"dist": "geometric", "mean": 3.0},
                "think_time": {"dist": "exponential", "mean": "60s"},
                "compose_time": {"dist": "exponential", "mean": "40s"},
                "patience": {"dist": "exponential", "mean": "10min"},
            },
        ],
        pools=[
            {
                "name": "inhouse",
                "skills": {"pre": 1.0, "after": 1.0},
                "max_concurrency": 3,
                "hourly_cost": 40.0,
                "shifts": shifts_a,
            },
            {
                "name": "outsourced",
                "skills": {"pre": 0.8},
                "max_concurrency": 2,
                "hourly_cost": 25.0,
                "shifts": [{"start": "01:00", "length": "4h", "agents": 2}],
            },
        ],
        routing={"idle_close": "90s"},
        simulation={"seed": 5, "replications": 3},
    )


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return simulate(loaded(_scenario()), replications=3, keep_logs=1)


@pytest.fixture(scope="module")
def log(evaluation: Evaluation) -> ChatLog:
    log = evaluation.replications[0].log
    assert log is not None
    # The scenario exercises what the aggregation must get right.
    assert np.bincount(log.hold_conversation).max() > 1, "no reopened conversation"
    assert np.bincount(log.online_agent).max() > 1, "no agent with two online spells"
    assert log.workload.bot.any() and log.abandoned.any()
    return log


def test_agent_sums_equal_the_log_totals(log: ChatLog) -> None:
    a = agent_kpis(log)
    s = summarise(log)
    assert a["agent"].tolist() == np.unique(log.online_agent).tolist()
    assert a["replies"].sum() == s.replies_human
    assert a["online_h"].sum() == pytest.approx(s.agent_hours_online)
    held = {(int(g), int(c)) for g, c in zip(log.hold_agent, log.hold_conversation, strict=True)}
    assert a["conversations"].sum() == len(held)
    converted, lost = log.conversion()
    # Conversions of no agent are bot-resolved: abandoned or unassigned buyers never convert.
    assert a["conversions"].sum() == converted[log.agent >= 0].sum()
    assert not (converted & (log.agent < 0) & ~log.workload.bot).any()
    assert a["conversions"].sum() + (converted & log.workload.bot).sum() == s.conversions
    assert a["conversions_lost"].sum() == lost[log.agent >= 0].sum()
    # Time-weighted ratios recombine into the run's.
    online_s = a["online_h"] * 3600
    caps = np.asarray(log.pool_max_concurrency)[log.agent_pool[a["agent"]]]
    assert np.sum(a["occupancy"] * online_s) / online_s.sum() == pytest.approx(s.occupancy)
    assert np.sum(a["slot_utilisation"] * online_s * caps) / np.sum(
        online_s * caps
    ) == pytest.approx(s.slot_utilisation)


def test_agent_response_times_brute_force(log: ChatLog) -> None:
    a = agent_kpis(log)
    human = log.reply_kind == REPLY_HUMAN
    for row, g in enumerate(a["agent"]):
        mine = human & (log.reply_agent == g)
        r = log.reply_time_s[mine] - log.msg_time_s[mine]
        if r.size == 0:
            assert math.isnan(a["response_p95_s"][row])
            continue
        assert a["response_mean_s"][row] == pytest.approx(r.mean())
        assert a["response_p95_s"][row] == pytest.approx(np.percentile(r, 95))


def test_pool_table_aggregates_the_agent_table(log: ChatLog) -> None:
    a = agent_kpis(log)
    p = pool_kpis(log)
    assert p["pool"].tolist() == list(log.pool_names)
    human = log.reply_kind == REPLY_HUMAN
    t_end = end_time(log)
    for k, name in enumerate(p["pool"]):
        m = a["pool"] == name
        assert p["agents"][k] == m.sum()
        for col in ("replies", "conversions", "conversions_lost"):
            assert p[col][k] == a[col][m].sum(), col
        assert p["online_h"][k] == pytest.approx(a["online_h"][m].sum())
        # Weighted by replies and by online time, not plain means of the agent rows.
        w = a["replies"][m]
        assert p["response_mean_s"][k] == pytest.approx(
            np.sum(a["response_mean_s"][m][w > 0] * w[w > 0]) / w.sum()
        )
        on = a["online_h"][m]
        assert p["occupancy"][k] == pytest.approx(np.sum(a["occupancy"][m] * on) / on.sum())
        assert p["slot_utilisation"][k] == pytest.approx(
            np.sum(a["slot_utilisation"][m] * on) / on.sum()
        )
        # A reopened chat taken by two agents of the pool counts once for the pool.
        in_pool = log.agent_pool[log.hold_agent] == k
        assert p["conversations"][k] == np.unique(log.hold_conversation[in_pool]).size
        assert p["conversations"][k] <= a["conversations"][m].sum()
        # The pool percentile is over all its replies.
        mine = human & (log.reply_agent >= 0)
        mine[mine] = log.agent_pool[log.reply_agent[mine]] == k
        r = log.reply_time_s[mine] - log.msg_time_s[mine]
        assert p["response_p95_s"][k] == pytest.approx(np.percentile(r, 95))
        # Held time from the log's hold spells (open ones run to the end).
        ends = np.where(np.isnan(log.hold_end_s), t_end, log.hold_end_s)
        held = np.sum((ends - log.hold_start_s)[in_pool])
        cap = log.pool_max_concurrency[k]
        assert p["slot_utilisation"][k] == pytest.approx(held / (p["online_h"][k] * 3600 * cap))
        assert p["labour_cost"][k] == pytest.approx(
            log.paid_hours_by_pool[k] * log.hourly_cost_by_pool[k]
        )
    # Some chats were reopened by another agent: the pools count fewer than their agents.
    assert p["conversations"].sum() < a["conversations"].sum()


def test_conversions_per_interval_sum_to_the_run(evaluation: Evaluation) -> None:
    for rep in evaluation.replications:
        assert rep.intervals.conversions.sum() == rep.summary.conversions
        assert rep.intervals.conversions_lost.sum() == rep.summary.conversions_lost
    assert evaluation.replications[0].summary.conversions > 0


def test_every_replication_has_its_pool_kpis(evaluation: Evaluation, log: ChatLog) -> None:
    reps = evaluation.replications
    assert reps[1].log is None and reps[1].pools is not None
    assert reps[0].pools is not None
    for k, v in pool_kpis(log).items():
        np.testing.assert_array_equal(reps[0].pools[k], v)


def test_pool_kpis_do_not_depend_on_the_number_of_workers(evaluation: Evaluation) -> None:
    two = simulate(loaded(_scenario()), replications=3, keep_logs=False, workers=2)
    for r1, r2 in zip(evaluation.replications, two.replications, strict=True):
        assert r1.pools is not None and r2.pools is not None
        for k, v in r1.pools.items():
            np.testing.assert_array_equal(r2.pools[k], v)
    assert evaluation.pool_kpis() == two.pool_kpis()


def test_evaluation_pool_kpis_are_means_with_intervals(evaluation: Evaluation) -> None:
    recs = evaluation.pool_kpis()
    tables = [r.pools for r in evaluation.replications if r.pools is not None]
    measures = [k for k in tables[0] if k != "pool"]
    assert len(recs) == 2 * len(measures)
    assert [r["pool"] for r in recs[:: len(measures)]] == ["inhouse", "outsourced"]
    for rec in recs:
        assert set(rec) == {"pool", "measure", "mean", "low", "high", "n"}
        k = list(tables[0]["pool"]).index(rec["pool"])
        values = np.array([t[rec["measure"]][k] for t in tables], dtype=float)
        assert rec["n"] == 3
        assert rec["mean"] == pytest.approx(values.mean())
        assert rec["low"] <= rec["mean"] <= rec["high"]
    # Fixed shifts: paid hours do not vary, so the interval has no width.
    paid = next(r for r in recs if r["measure"] == "paid_hours")
    assert paid["low"] == pytest.approx(paid["high"])


def test_kpis_of_a_pool_nobody_staffed() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = 0
    spec = parse_scenario(d)
    w = make_workload([10.0], [[(0, 10)]], patience_s=[60.0])
    log = run(build_config(spec), w, start=spec.calendar.start_aware, horizon_s=600.0)
    assert log.agent_pool.size == 0
    a = agent_kpis(log)
    p = pool_kpis(log)
    assert all(v.size == 0 for v in a.values())
    assert p["agents"].tolist() == [0]
    assert p["replies"].tolist() == [0] and p["conversations"].tolist() == [0]
    assert math.isnan(p["occupancy"][0]) and math.isnan(p["response_p95_s"][0])


def test_sales_are_credited_to_the_first_replier(log: ChatLog) -> None:
    """A chat reopened after an idle close can change hands: the sale is the first
    replier's, whose delay decided it, not the last holder's."""
    first = log.workload.msg_offset[:-1]
    human_first = log.reply_kind[first] == REPLY_HUMAN
    replier = np.where(human_first, log.reply_agent[first], log.agent)
    converted, lost = log.conversion()
    k = agent_kpis(log)
    agents = k["agent"].astype(np.int64)
    for flag, col in ((converted, "conversions"), (lost, "conversions_lost")):
        credited = np.bincount(replier[flag & (replier >= 0)], minlength=log.agent_pool.size)
        np.testing.assert_array_equal(k[col], credited[agents])
