"""Seat groups: pools whose online agents also need one of a limited set of seats.

An outsourcing centre's agents serving a client log into that client's shop,
whose platform gives it so many sub-accounts (``subaccounts.groups``; a centre
compiles one per client with a ``seat_limit``).  Checked on the engine's own
record of who was online when (worked out by hand): never more of the group's
agents online than its seats; an agent whose seat is taken waits and logs in
when one is freed; pools outside the group are untouched; a scenario without
groups runs exactly as before (the shipped scenarios' logs are bit-identical,
``tools/fingerprint_logs.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tomlkit
from click.testing import CliRunner

from conftest import base_dict, loaded
from peakdesk.cli import main
from peakdesk.experiment.replicate import simulate


def _two_pools(group: int | None) -> dict[str, Any]:
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": 2000}
    d["pools"] = [
        {
            "name": "A",
            "skills": {"q": 1.0},
            "max_concurrency": 2,
            "shifts": [
                {"start": "00:00", "length": "12h", "agents": 2},
                {"start": "06:00", "length": "12h", "agents": 2},
            ],
        },
        {
            "name": "B",
            "skills": {"q": 1.0},
            "max_concurrency": 2,
            "shifts": [{"start": "00:00", "length": "24h", "agents": 3}],
        },
    ]
    if group is not None:
        d["subaccounts"] = {
            "count": 100,
            "groups": [{"name": "shop", "pools": ["A"], "count": group}],
        }
    return d


def _most_online(log: Any, pool: int) -> tuple[int, np.ndarray]:
    """Most agents of a pool online at once, and each of its agents' first login."""
    mine = np.isin(log.online_agent, np.flatnonzero(log.agent_pool == pool))
    starts, ends = log.online_start_s[mine], log.online_end_s[mine]
    t = np.concatenate((starts, ends))
    d = np.concatenate((np.ones(starts.size), -np.ones(ends.size)))
    order = np.lexsort((d, t))  # a logout before a login at the same instant
    first = {}
    for a, s0 in zip(log.online_agent[mine], starts, strict=True):
        first[int(a)] = min(first.get(int(a), np.inf), float(s0))
    return int(np.cumsum(d[order]).max()), np.array(sorted(first.values()))


def test_a_group_caps_its_pools_online_and_a_freed_seat_is_handed_on() -> None:
    free = simulate(loaded(_two_pools(None)), replications=1, keep_logs=True).replications[0].log
    capped = simulate(loaded(_two_pools(2)), replications=1, keep_logs=True).replications[0].log
    assert free is not None and capped is not None
    most, _ = _most_online(free, 0)
    assert most == 4  # 06:00-12:00 both of A's shifts are on
    most, first = _most_online(capped, 0)
    assert most == 2
    # The 06:00 shift's two agents wait for the 00:00 shift's seats: they log in when
    # those agents leave (12:00, or later while they finish their chats), not at 06:00.
    assert np.all(first[:2] == 0.0)
    assert np.all(first[2:] >= 12 * 3600.0)
    # B is outside the group: its 3 agents are on all day either way.
    assert _most_online(capped, 1)[0] == _most_online(free, 1)[0] == 3


def test_a_group_naming_an_unknown_pool_is_bad_input(tmp_path: Path) -> None:
    d = _two_pools(2)
    d["subaccounts"]["groups"][0]["pools"] = ["A", "C"]
    path = tmp_path / "s.toml"
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2
    assert "subaccounts.groups[0].pools[1]" in res.output and "no pool 'C'" in res.output
    for edit, expect in (
        ({"taken": "holding"}, "subaccounts.groups[0].types: taken = 'holding' needs"),
        ({"taken": "holding", "types": ["x"]}, "groups[0].types[0]: no inquiry type 'x'"),
        ({"taken": "when_busy"}, 'subaccounts.groups[0].taken = "when_busy"'),
        ({"types": ["q"]}, "groups[0].types: only with taken = 'holding'"),
    ):
        d = _two_pools(2)
        d["subaccounts"]["groups"][0].update(edit)
        path.write_text(tomlkit.dumps(d), encoding="utf-8")
        res = CliRunner().invoke(main, ["validate", str(path)])
        assert res.exit_code == 2 and expect in res.output, res.output
    d = _two_pools(2)
    d["subaccounts"]["groups"][0].update(taken="holding", types=["q"])
    d["subaccounts"]["groups"].append(dict(d["subaccounts"]["groups"][0], name="other"))
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2 and "'q' is already in subaccounts.groups[0]" in res.output


def _held_shop(rule: str) -> dict[str, Any]:
    """Two types: ``a`` (a client whose shop gives 1 seat) and ``b`` (priority 0, only
    pool P0 writes it); agent 0 in P0 (a and b), agent 1 in P1 (a only), one chat each,
    P0 first (pool_priority)."""
    d = base_dict()
    q = d["inquiry_types"][0]
    d["inquiry_types"] = [dict(q, name="a", priority=1), dict(q, name="b", priority=0)]
    shift = [{"start": "00:00", "length": "24h", "agents": 1}]
    d["pools"] = [
        {"name": "P0", "skills": {"a": 1.0, "b": 1.0}, "max_concurrency": 1, "shifts": shift},
        {"name": "P1", "skills": {"a": 1.0}, "max_concurrency": 1, "shifts": shift},
    ]
    d["routing"] = {"policy": "pool_priority", "pool_order": ["P0", "P1"]}
    group: dict[str, Any] = {"name": "client a", "pools": ["P0", "P1"], "count": 1}
    if rule == "holding":
        group.update(taken="holding", types=["a"])
    d["subaccounts"] = {"count": 10, "groups": [group]}
    return d


def test_a_seat_taken_while_holding_worked_by_hand() -> None:
    # a1 at 0 s (60 s to write), a2 at 5 s (60 s), b1 at 6 s (60 s).
    #  * 0 s: agent 0 takes a1, and the shop's one seat with it.
    #  * 5 s: agent 1 is free, but holds no seat and none is free: a2 waits.
    #  * 6 s: agent 0 is busy and agent 1 does not write b: b1 waits.
    #  * 60 s: agent 0 sends a1, closes it (no wrap-up) and lets the seat go; it takes the
    #    best waiting chat for it, b1 (priority 0); the freed seat goes to a2's best
    #    agent, agent 1, at the same instant.
    # Under the strict rule (seats taken online) agent 1 never logs in: agent 0 writes
    # all three, a2 last (b1 first by priority).
    from conftest import make_workload, run_dict

    w = make_workload(
        [0.0, 5.0, 6.0],
        [[(0, 60)], [(0, 60)], [(0, 60)]],
        type_idx=[0, 0, 1],
        type_names=("a", "b"),
    )
    held = run_dict(_held_shop("holding"), w)
    assert held.assign_s.tolist() == [0.0, 60.0, 60.0]
    assert held.agent.tolist() == [0, 1, 0]
    online = run_dict(_held_shop("online"), w)
    assert online.agent.tolist() == [0, 0, 0]
    assert online.assign_s.tolist() == [0.0, 120.0, 60.0]
    # The compiled engine keeps the same seats.
    from peakdesk.engine.compiled import driver

    spec = loaded(_held_shop("holding")).spec
    from peakdesk.engine.setup import build_config

    comp = driver.run(
        build_config(spec), w, start=spec.calendar.start_aware, horizon_s=spec.calendar.horizon
    )
    assert comp.agent.tolist() == [0, 1, 0] and comp.assign_s.tolist() == [0.0, 60.0, 60.0]


def test_never_more_agents_hold_a_shops_chats_than_its_seats() -> None:
    # A busy day on 3 agents of 3 chats each with a shop of 2 seats, taken while holding:
    # from the engine's record of who held which chat when, at no instant do more than 2
    # agents hold the shop's chats; every agent takes some (the seats move between them).
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": 3000}
    d["pools"][0].update(
        max_concurrency=3, shifts=[{"start": "00:00", "length": "24h", "agents": 3}]
    )
    d["subaccounts"] = {
        "count": 10,
        "groups": [
            {"name": "shop", "pools": ["p"], "count": 2, "taken": "holding", "types": ["q"]}
        ],
    }
    ev = simulate(loaded(d), replications=1, keep_logs=True)
    log = ev.replications[0].log
    assert log is not None
    agents, start, end = log.hold_agent, log.hold_start_s, log.hold_end_s
    edges = sorted(
        [(t0, 1, a) for t0, a in zip(start, agents, strict=True)]
        + [(t1, -1, a) for t1, a in zip(end, agents, strict=True)],
        key=lambda e: (e[0], e[1]),  # releases first at one instant
    )
    chats = [0, 0, 0]
    most = 0
    for _, step, a in edges:
        chats[a] += step
        most = max(most, sum(c > 0 for c in chats))
    assert most == 2
    assert len(set(agents.tolist())) == 3
