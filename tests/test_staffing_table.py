"""A staffing table (agents online per interval) as a pool's input.

The table runs as the staircase of shifts it describes, bit for bit: the
shifts below are written out by hand (last in, first out where the level
falls), not by the code under test.  Bad tables stop at load with the file,
line and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from click.testing import CliRunner

from conftest import ENGINES, base_dict
from peakdesk.cli import main
from peakdesk.engine.intervals import mean_level
from peakdesk.engine.setup import build_config
from peakdesk.experiment.replicate import simulate
from peakdesk.scenario import load_scenario
from peakdesk.scenario.load import ScenarioError, scenario_from_data
from test_engine_differential import differences

#: 30-minute intervals from 22:00 the evening before the start (Asia/Shanghai) to 04:30:
#: a night shift on at the start, a level that rises and falls, a gap of nobody, a fraction.
TABLE = [
    ("2026-11-09T22:00", "2"),
    ("2026-11-09T22:30", "2"),
    ("2026-11-09T23:00", "3"),
    ("2026-11-09T23:30", "3"),
    ("2026-11-10T00:00", "5"),
    ("2026-11-10T00:30", "3"),
    ("2026-11-10T01:00", "3"),
    ("2026-11-10T01:30", "0"),
    ("2026-11-10T02:00", "0"),
    ("2026-11-10T02:30", "4"),
    ("2026-11-10T03:00", "1"),
    ("2026-11-10T03:30", "1.5"),
    ("2026-11-10T04:00", "2"),
]

#: The same staffing as shifts, worked out by hand: (day, start, length, agents).
STAIRCASE = [
    ("2026-11-09", "22:00", "3.5h", 2),
    ("2026-11-09", "23:00", "2.5h", 1),
    ("2026-11-10", "00:00", "30min", 2),
    ("2026-11-10", "02:30", "30min", 3),
    ("2026-11-10", "02:30", "2h", 1),
    ("2026-11-10", "03:30", "1h", 1),
]


def _shop(**pool: Any) -> dict[str, Any]:
    d = base_dict()
    d["calendar"]["horizon"] = "5h"
    d["demand"] = {"profile": "flat", "volume_per_day": 1500}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": 2.0}
    t["compose_time"] = {"dist": "exponential", "mean": "40s"}
    t["patience"] = {"dist": "exponential", "mean": "5min"}
    p = d["pools"][0]
    p.update(max_concurrency=2, shift_end="hand_back", shifts=[])
    p.update(pool)
    d["subaccounts"] = {"count": 8}
    d["simulation"] = {"seed": 11, "replications": 2}
    return d


def _write(
    folder: Path,
    d: dict[str, Any],
    rows: list[tuple[str, str]] | None = None,
    header: str = "interval_start,p",
) -> Path:
    if rows is not None:
        text = "\n".join([header, *(",".join(r) for r in rows)]) + "\n"
        (folder / "staffing.csv").write_text(text, encoding="utf-8")
    path = folder / "s.toml"
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    return path


def _problems(folder: Path, d: dict[str, Any], rows: list[tuple[str, str]], **kw: Any) -> str:
    path = _write(folder, d, rows, **kw)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    return str(err.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_table_runs_as_the_shifts_it_describes_bit_for_bit(tmp_path: Path, engine: str) -> None:
    table = _write(tmp_path, _shop(staffing="staffing.csv"), TABLE)
    shifts = [
        {"start": s, "length": ln, "agents": n, "days": [dt.date.fromisoformat(day)]}
        for day, s, ln, n in STAIRCASE
    ]
    (tmp_path / "shifts").mkdir()
    by_shifts = _write(tmp_path / "shifts", _shop(shifts=shifts))
    runs = []
    for path in (table, by_shifts):
        loaded = load_scenario(path)
        sim = loaded.spec.simulation.model_copy(update={"engine": engine})
        runs.append(simulate(loaded.with_spec(loaded.spec.model_copy(update={"simulation": sim}))))
    for a, b in zip(runs[0].replications, runs[1].replications, strict=True):
        assert a.log is not None and b.log is not None
        assert a.log.workload.arrival_s.size > 100
        # Same buyers (equal arrays, different objects), and every other column equal.
        assert np.array_equal(a.log.workload.compose_s, b.log.workload.compose_s)
        assert differences(a.log, b.log) == ["workload"]


def test_the_engine_sees_the_table_level_in_every_interval(tmp_path: Path) -> None:
    loaded = load_scenario(_write(tmp_path, _shop(staffing="staffing.csv"), TABLE))
    cfg = build_config(loaded.spec)
    # From the start (00:00) to the table's end (04:30), 30-minute bins.
    edges = np.arange(0.0, 4.5 * 3600 + 1, 1800.0)
    level = mean_level(cfg.segment_start_s, cfg.segment_end_s, edges)
    assert level.tolist() == [5, 3, 3, 0, 0, 4, 1, 2, 2]
    assert cfg.paid_hours_by_pool[0] == pytest.approx(sum(level) * 0.5)


def test_the_planners_online_csv_runs_as_it_is(tmp_path: Path) -> None:
    # As `plan --out` writes it: times with their offset, other pools' and total columns,
    # means over the interval where breaks were staggered.
    rows = [
        ("2026-11-10T00:00+08:00", "7", "3.0", "1.0", "4.0"),
        ("2026-11-10T01:00+08:00", "9", "4.4", "2.0", "6.4"),
        ("2026-11-10T02:00+08:00", "5", "2.5", "0.0", "2.5"),
    ]
    d = _shop(staffing="staffing.csv")
    d["pools"].append({**d["pools"][0], "name": "q2", "staffing": "staffing.csv"})
    path = _write(
        tmp_path,
        d,
        rows,
        header="interval_start,requirement_reference_agents,online_p,online_q2,online_total",
    )
    spec = load_scenario(path).spec
    p, q2 = (pool.staffing_table for pool in spec.pools)
    assert p is not None and q2 is not None
    assert (p.column, p.agents, p.rounded) == ("online_p", (3, 4, 3), 2)
    assert (q2.column, q2.agents) == ("online_q2", (1, 2, 0))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "0 agents scheduled on shifts" in res.output
    assert "pool 'p': 3 intervals of 60 min from staffing.csv (column 'online_p'): 3-4 agents" in (
        res.output
    )
    assert "2 fractional counts rounded" in res.output


def test_shifts_add_to_the_table(tmp_path: Path) -> None:
    shift = {"start": "01:00", "length": "1h", "agents": 2}
    loaded = load_scenario(_write(tmp_path, _shop(staffing="staffing.csv", shifts=[shift]), TABLE))
    cfg = build_config(loaded.spec)
    edges = np.arange(0.0, 4.5 * 3600 + 1, 1800.0)
    level = mean_level(cfg.segment_start_s, cfg.segment_end_s, edges)
    assert level.tolist() == [5, 3, 5, 2, 0, 4, 1, 2, 2]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "3"), ("2026-11-10T00:30", "1")],
            ":4: interval_start '2026-11-10T00:30' is not after the row before",
        ),
        (
            [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "3"), ("2026-11-10T01:30", "1")],
            ":4: 1 interval(s) of 30 min are missing before it",
        ),
        (
            [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "-1")],
            ":3: column 'p': '-1' agents; counts are 0 or more",
        ),
        (
            [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "lots")],
            ":3: column 'p': not a number of agents: 'lots'",
        ),
        (
            [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "9")],
            "subaccounts.count = 8: the staffing tables put 9 agents online at "
            "2026-11-10T00:30+08:00 (pools[0] 9 (staffing.csv:3))",
        ),
        (
            [("2026-11-08T00:00", "2"), ("2026-11-08T00:30", "2")],
            ":2: interval_start '2026-11-08T00:00' is outside the rows allowed",
        ),
        (
            [("yesterday", "2")],
            ":2: column 'interval_start': not an ISO 8601 date-time: 'yesterday'",
        ),
        (
            [("2026-11-10T00:00", "2")],
            ":2: one row and no interval_end column",
        ),
    ],
)
def test_a_bad_table_is_refused_with_its_line(
    tmp_path: Path, rows: list[tuple[str, str]], expected: str
) -> None:
    message = _problems(tmp_path, _shop(staffing="staffing.csv"), rows)
    if not expected.startswith("subaccounts"):
        assert "pools[0].staffing = 'staffing.csv': " in message
    assert expected in message


def test_intervals_with_ends_must_follow_each_other(tmp_path: Path) -> None:
    rows = [
        ("2026-11-10T00:00", "2026-11-10T01:00", "2"),
        ("2026-11-10T00:45", "2026-11-10T02:00", "3"),
    ]
    message = _problems(
        tmp_path, _shop(staffing="staffing.csv"), rows, header="interval_start,interval_end,p"
    )
    assert ":2: interval_end overlaps the next row's interval_start (line 3)" in message
    rows = [
        ("2026-11-10T00:00", "2026-11-10T01:00", "2"),
        ("2026-11-10T01:00", "2026-11-10T01:15", "3"),
        ("2026-11-10T01:15", "2026-11-10T03:00", "1"),
    ]
    loaded = load_scenario(
        _write(
            tmp_path, _shop(staffing="staffing.csv"), rows, header="interval_start,interval_end,p"
        )
    )
    table = loaded.spec.pools[0].staffing_table
    assert table is not None
    assert table.edges_s == (0.0, 3600.0, 4500.0, 10800.0)


@pytest.mark.parametrize(
    ("pool", "header", "expected"),
    [
        ({"shrinkage": 0.1}, "interval_start,p", "pools[0].shrinkage: 0.1 with a staffing table"),
        (
            {"plan": {"lengths": ["4h"]}},
            "interval_start,p",
            "pools[0].plan.keep_fixed_shifts: a pool with a staffing table plans on top",
        ),
        ({}, "interval_start,team", "no column for pool 'p': give 'p', 'online_p' or 'agents'"),
    ],
)
def test_a_table_that_does_not_fit_the_pool_is_refused(
    tmp_path: Path, pool: dict[str, Any], header: str, expected: str
) -> None:
    rows = [("2026-11-10T00:00", "2"), ("2026-11-10T00:30", "2")]
    message = _problems(tmp_path, _shop(staffing="staffing.csv", **pool), rows, header=header)
    assert expected in message


def test_a_bad_table_exits_2_with_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop(staffing="staffing.csv"), [("2026-11-10T00:00", "2"), ("x", "1")])
    res = CliRunner().invoke(main, ["simulate", str(path), "-r", "1"])
    assert res.exit_code == 2
    assert "staffing.csv:3: column 'interval_start'" in res.output
    assert "Traceback" not in res.output
    missing = _write(tmp_path, _shop(staffing="nowhere.csv"))
    res = CliRunner().invoke(main, ["validate", str(missing)])
    assert res.exit_code == 2
    assert "pools[0].staffing = 'nowhere.csv': file not found" in res.output


def test_overrides_reread_the_table(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop(staffing="staffing.csv"), TABLE)
    (tmp_path / "other.csv").write_text(
        "interval_start,agents\n2026-11-10T00:00,1\n2026-11-10T02:00,1\n", encoding="utf-8"
    )
    data = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    data["pools"][0]["staffing"] = "other.csv"
    table = scenario_from_data(data, path).spec.pools[0].staffing_table
    assert table is not None
    assert (table.column, table.agents, table.edges_s) == ("agents", (1, 1), (0.0, 7200.0, 14400.0))


def test_a_planned_file_written_elsewhere_still_reads_the_table(tmp_path: Path) -> None:
    from peakdesk.plan.patterns import patterns
    from peakdesk.plan.planned import planned_toml

    d = _shop(staffing="staffing.csv")
    d["pools"][0]["plan"] = {"lengths": ["4h"], "starts": ["00:00"], "keep_fixed_shifts": True}
    path = _write(tmp_path, d, TABLE)
    loaded = load_scenario(path)
    pats = patterns(loaded.spec)
    counts = np.array([0 if pt.fixed else 1 for pt in pats], dtype=np.int64)
    out = tmp_path / "plan-out"
    out.mkdir()
    text = planned_toml(
        path.read_text(encoding="utf-8"),
        loaded.spec,
        pats,
        counts,
        8,
        from_dir=tmp_path,
        to_dir=out,
    )
    (out / "planned.toml").write_text(text, encoding="utf-8")
    planned = load_scenario(out / "planned.toml").spec.pools[0]
    assert planned.staffing == "../staffing.csv"
    assert planned.staffing_table is not None
    assert planned.staffing_table.agents[4] == 5
    assert [s.agents for s in planned.shifts] == [1]


def test_rows_before_the_start_cost_nothing_and_a_warm_up_keeps_the_tables_hours(
    tmp_path: Path,
) -> None:
    # 5 agents 08:00-17:00 the day before, 3 on the day: the day before is not paid.
    rows = [(f"2026-11-09T{h:02d}:00", "5" if h < 17 else "0") for h in range(8, 24)]
    rows += [(f"2026-11-10T{h:02d}:00", "3" if 8 <= h < 17 else "0") for h in range(24)]
    d = _shop(staffing="staffing.csv")
    d["calendar"]["horizon"] = "1d"
    d["calendar"]["interval"] = "1h"
    loaded = load_scenario(_write(tmp_path, d, rows))
    assert build_config(loaded.spec).paid_hours_by_pool[0] == pytest.approx(3 * 9)
    # With a warm-up the run starts earlier; the table's agents come at the same hours.
    d["simulation"] = {"seed": 3, "replications": 1, "warm_up": "2h"}
    ev = simulate(load_scenario(_write(tmp_path, d, rows)))
    online = ev.replications[0].intervals.agents_online[:24]
    assert online.tolist() == [0] * 8 + [3] * 9 + [0] * 7
    assert ev.replications[0].summary.paid_agent_hours == pytest.approx(27.0)


def test_compare_varies_a_scenario_with_a_table(tmp_path: Path) -> None:
    path = _write(tmp_path, _shop(staffing="staffing.csv"), TABLE)
    res = CliRunner().invoke(
        main, ["compare", str(path), "--set", "demand.multiplier=1.0,1.2", "-r", "1"]
    )
    assert res.exit_code == 0, res.output
