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
