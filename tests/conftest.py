"""Shared test helpers: small scenario dicts and a one-call simulation."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from peakdesk.demand.workload import Workload
from peakdesk.engine.log import ChatLog
from peakdesk.engine.model import run
from peakdesk.engine.setup import build_config
from peakdesk.experiment.replicate import Evaluation, simulate
from peakdesk.scenario import LoadedScenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

#: The two engines of the model (the oracle tests run on both).
ENGINES = ("compiled", "reference")


def base_dict(**over: Any) -> dict[str, Any]:
    """A minimal valid scenario: one type, one pool, one shift covering the day.

    Keyword arguments replace top-level sections (deep-copied).
    """
    d: dict[str, Any] = {
        "scenario": {"name": "test"},
        "calendar": {
            "start": dt.datetime(2026, 11, 10, 0, 0),
            "horizon": "1d",
            "timezone": "Asia/Shanghai",
            "interval": "15min",
        },
        "demand": {"profile": "flat", "volume_per_day": 1000},
        "inquiry_types": [
            {
                "name": "q",
                "share": 1.0,
                "messages": {"dist": "fixed", "value": 1},
                "think_time": {"dist": "fixed", "value": "30s"},
                "compose_time": {"dist": "exponential", "mean": "60s"},
                "patience": {"dist": "none"},
            }
        ],
        "pools": [
            {
                "name": "p",
                "skills": {"q": 1.0},
                "max_concurrency": 1,
                "hourly_cost": 10.0,
                "shifts": [{"start": "00:00", "length": "24h", "agents": 2}],
            }
        ],
        "subaccounts": {"count": 100},
        "simulation": {"seed": 7, "replications": 1},
    }
    for k, v in over.items():
        d[k] = copy.deepcopy(v)
    return d


def chat_shop(volume_per_day: float, agents: int) -> dict[str, Any]:
    """A shop the calibration tests simulate and fit back: one type of 2.5 buyer messages
    (geometric), 40 s think and 10 s writing (exponential), patience 2 min, 20% bots;
    sequential agents holding 3 chats, 10% slower a chat, all day."""
    d = base_dict()
    d["demand"] = {"profile": "flat", "volume_per_day": volume_per_day}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": 2.5}
    t["think_time"] = {"dist": "exponential", "mean": "40s"}
    t["compose_time"] = {"dist": "exponential", "mean": "10s"}
    t["patience"] = {"dist": "exponential", "mean": "120s"}
    t["bot_resolve"] = 0.2
    p = d["pools"][0]
    p.update(max_concurrency=3, slowdown_per_extra_chat=0.1, discipline="sequential")
    p["shifts"] = [{"start": "00:00", "length": "24h", "agents": agents}]
    return d


def simulate_export(d: dict[str, Any], folder: Path, seed: int) -> Path:
    """A scenario dict simulated once through the CLI, exported as a shop would: the run folder
    (``messages-r0.csv``, ``conversations-r0.csv``)."""
    import tomlkit
    from click.testing import CliRunner

    from peakdesk.cli import main

    (folder / "s.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    run_dir = folder / "run"
    res = CliRunner().invoke(
        main,
        ["simulate", str(folder / "s.toml"), "-r", "1", "--seed", str(seed), "--out", str(run_dir)],
    )
    assert res.exit_code == 0, res.output
    return run_dir


def calibrate_export(
    run_dir: Path, table: Path, out: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``peakdesk calibrate`` of a run's messages with a conversation table: the report and the
    scenario written, as data."""
    import json

    import tomlkit
    from click.testing import CliRunner

    from peakdesk.cli import main

    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(run_dir / "messages-r0.csv"),
            "--conversations",
            str(table),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    scenario = tomlkit.parse((out / "scenario.toml").read_text(encoding="utf-8")).unwrap()
    return report, scenario


def pool_dict(**over: Any) -> dict[str, Any]:
    """A one-agent pool for hand-built traces (type ``q``, concurrency 1, all day)."""
    p: dict[str, Any] = {
        "name": "p",
        "skills": {"q": 1.0},
        "max_concurrency": 1,
        "shifts": [{"start": "00:00", "length": "24h", "agents": 1}],
    }
    p.update(over)
    return p


def loaded(d: dict[str, Any]) -> LoadedScenario:
    """Validate a scenario dict (no file)."""
    return LoadedScenario(spec=parse_scenario(d), path=ROOT / "scenarios" / "inline.toml")


def make_workload(
    arrival_s: list[float],
    messages: list[list[tuple[float, float]]],
    *,
    patience_s: list[float] | None = None,
    bot: list[bool] | None = None,
    type_idx: list[int] | None = None,
    type_names: tuple[str, ...] = ("q",),
) -> Workload:
    """A hand-built workload.

    ``messages[i]`` lists ``(think_s, compose_s)`` per buyer message of
    conversation ``i`` (the first think time is ignored and set to 0).
    """
    n = len(arrival_s)
    counts = [len(m) for m in messages]
    offset = np.zeros(n + 1, dtype=np.int64)
    offset[1:] = np.cumsum(counts)
    think = np.array([t for m in messages for t, _ in m], dtype=np.float64)
    think[offset[:-1]] = 0.0
    compose = np.array([c for m in messages for _, c in m], dtype=np.float64)
    return Workload(
        type_names=type_names,
        arrival_s=np.asarray(arrival_s, dtype=np.float64),
        type_idx=np.asarray(type_idx or [0] * n, dtype=np.int32),
        msg_offset=offset,
        think_s=think,
        compose_s=compose,
        patience_s=np.asarray(patience_s or [np.inf] * n, dtype=np.float64),
        bot=np.asarray(bot or [False] * n, dtype=np.bool_),
        conversion_u=np.full(n, 0.5),
    )


def on_engine(engine: str) -> Callable[..., Evaluation]:
    """:func:`simulate` on the engine named (for tests run on both engines)."""

    def run_on(loaded: LoadedScenario, **kwargs: Any) -> Evaluation:
        spec = loaded.spec
        sim = spec.simulation.model_copy(update={"engine": engine})
        return simulate(loaded.with_spec(spec.model_copy(update={"simulation": sim})), **kwargs)

    return run_on


def run_dict(d: dict[str, Any], workload: Workload, staffing: Any = None) -> ChatLog:
    """Run the engine on a scenario dict's staffing and a given workload."""
    spec = parse_scenario(d)
    cfg = build_config(spec, staffing)
    return run(cfg, workload, start=spec.calendar.start_aware, horizon_s=spec.calendar.horizon)


@pytest.fixture
def scenario_dir() -> Path:
    """The shipped scenarios folder."""
    return SCENARIOS
