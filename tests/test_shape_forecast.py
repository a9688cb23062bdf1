"""``profile = "shape"``: a daily or weekly shape repeated over the horizon, scaled by day.

The proof of equality: a shape and the every-interval forecast it stands for
(written out here by a loop of the test's own) give the same run, bit for bit.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from click.testing import CliRunner

from conftest import base_dict
from peakdesk.cli import main
from peakdesk.demand.sample import expected_demand, intensity
from peakdesk.experiment.replicate import simulate
from peakdesk.scenario import load_scenario
from peakdesk.scenario.load import ScenarioError
from test_engine_differential import differences

START = dt.datetime(2026, 11, 10)
#: A day of 30-minute weights: a quiet night, a morning and an evening peak.
DAY = [0.2] * 14 + [1.0] * 10 + [0.8] * 16 + [1.5] * 6 + [0.5] * 2


def _day_rows() -> list[str]:
    return [f"{k // 2:02d}:{30 * (k % 2):02d},{w}" for k, w in enumerate(DAY)]


def _scenario(folder: Path, demand: dict[str, Any], horizon: str = "3d", **cal: Any) -> Path:
    d = base_dict()
    d["calendar"].update(horizon=horizon, interval="30min", **cal)
    d["demand"] = demand
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 3}]
    d["simulation"] = {"seed": 4, "replications": 2}
    path = folder / "s.toml"
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    return path


def test_a_daily_shape_runs_as_the_forecast_it_stands_for(tmp_path: Path) -> None:
    (tmp_path / "shape.csv").write_text("time,weight\n" + "\n".join(_day_rows()) + "\n")
    volume = 600.0
    shape_run = simulate(
        load_scenario(
            _scenario(
                tmp_path, {"profile": "shape", "forecast": "shape.csv", "volume_per_day": volume}
            )
        )
    )
    rows = ["interval_start,conversations"]
    total = math.fsum(DAY)
    for k in range(3 * 48):
        t = START + dt.timedelta(minutes=30 * k)
        rows.append(f"{t.isoformat()},{volume * DAY[k % 48] / total!r}")
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "f.csv").write_text("\n".join(rows) + "\n")
    csv_run = simulate(
        load_scenario(_scenario(tmp_path / "csv", {"profile": "csv", "forecast": "f.csv"}))
    )
    for a, b in zip(shape_run.replications, csv_run.replications, strict=True):
        assert a.log is not None and b.log is not None
        assert a.log.workload.arrival_s.size > 1000
        assert np.array_equal(a.log.workload.arrival_s, b.log.workload.arrival_s)
        assert differences(a.log, b.log) == ["workload"]


def test_a_weekly_shape_with_day_volumes(tmp_path: Path) -> None:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    rows = ["weekday,time,weight"]
    for d, name in enumerate(days):
        # Weekends peak in the evening, weekdays by day.
        for h in range(24):
            weight = (3.0 if h >= 18 else 1.0) if d >= 5 else (3.0 if 9 <= h < 18 else 1.0)
            rows.append(f"{name},{h:02d}:00,{weight}")
    (tmp_path / "week.csv").write_text("\n".join(rows) + "\n")
    # 2026-11-13 is a Friday: Fri, Sat, Sun, Mon.
    vols = {"2026-11-13": 1000, "2026-11-14": 2500, "2026-11-15": 2000, "2026-11-16": 900}
    (tmp_path / "days.csv").write_text(
        "date,conversations\n" + "\n".join(f"{k},{v}" for k, v in vols.items()) + "\n"
    )
    demand = {"profile": "shape", "forecast": "week.csv", "day_volumes": "days.csv"}
    loaded = load_scenario(
        _scenario(tmp_path, demand, horizon="4d", start=dt.datetime(2026, 11, 13))
    )
    inten = intensity(loaded)
    assert inten.bin_s == 3600.0
    per_day = inten.expected.sum(axis=0).reshape(4, 24)
    assert per_day.sum(axis=1) == pytest.approx([1000, 2500, 2000, 900])
    fri, sat = per_day[0], per_day[1]
    assert fri[12] == pytest.approx(3 * fri[3]) and sat[20] == pytest.approx(3 * sat[12])
    assert expected_demand(loaded).conversations == pytest.approx(6400.0)


def test_total_spreads_over_the_horizon_and_cut_days_keep_their_share(tmp_path: Path) -> None:
    (tmp_path / "shape.csv").write_text("time,weight\n" + "\n".join(_day_rows()) + "\n")
    # From 12:00 for 36 hours: half a day, a day, half a day of the shape.
    loaded = load_scenario(
        _scenario(
            tmp_path,
            {"profile": "shape", "forecast": "shape.csv", "volume_per_day": 480.0},
            horizon="36h",
            start=dt.datetime(2026, 11, 10, 12, 0),
        )
    )
    per_bin = intensity(loaded).expected.sum(axis=0)
    assert per_bin[:24].sum() == pytest.approx(480.0 * sum(DAY[24:]) / sum(DAY))
    assert per_bin[24:72].sum() == pytest.approx(480.0)
    d = tomlkit.parse((tmp_path / "s.toml").read_text()).unwrap()
    d["demand"] = {"profile": "shape", "forecast": "shape.csv", "total": 1000.0}
    (tmp_path / "s.toml").write_text(tomlkit.dumps(d))
    assert intensity(load_scenario(tmp_path / "s.toml")).expected.sum() == pytest.approx(1000.0)


def test_a_daylight_saving_day_has_25_hours_of_the_shape(tmp_path: Path) -> None:
    flat = "\n".join(f"{h:02d}:00,1" for h in range(24))
    (tmp_path / "shape.csv").write_text("time,weight\n" + flat + "\n")
    loaded = load_scenario(
        _scenario(
            tmp_path,
            {"profile": "shape", "forecast": "shape.csv", "volume_per_day": 240.0},
            horizon="3d",
            start=dt.datetime(2026, 10, 24),
            timezone="Europe/Berlin",
        )
    )
    per_bin = intensity(loaded).expected.sum(axis=0)
    assert per_bin.size == 72  # hours of absolute time
    # 24 Oct: 24 hours; 25 Oct (clocks back): 25 hours of 10 each; then what is left.
    assert per_bin[:24].sum() == pytest.approx(240.0)
    assert per_bin[24:49].sum() == pytest.approx(250.0)
    assert math.isclose(float(per_bin.min()), 10.0) and math.isclose(float(per_bin.max()), 10.0)


@pytest.mark.parametrize(
    ("shape", "volumes", "expected"),
    [
        ("time,weight\n00:00,1\n00:30,1\n", None, "2 intervals of 30 min cover 1 h; a day is 24 h"),
        ("time,weight\n00:00,1\n01:00,1\n01:30,1\n", None, ":4: not 60 min after the row before"),
        ("time,weight\n00:00,1\n12:00,-2\n", None, ":3: column 'weight': '-2'; give a number >= 0"),
        ("time,weight\n00:00,0\n12:00,0\n", None, "the weights of the day sum to 0"),
        (
            "weekday,time,weight\nMonday,00:00,1\nFunday,12:00,1\n",
            None,
            "column 'weekday': 'Funday'",
        ),
        (
            "time,weight\n00:00,1\n12:00,1\n",
            "date,conversations\n2026-11-10,50\n",
            "no volume for 2026-11-11",
        ),
        (
            "time,weight\n00:00,1\n12:00,1\n",
            "date,conversations\n2026-11-10,50\n2026-11-10,60\n",
            ":3: 2026-11-10 is given twice",
        ),
        ("time,amount\n00:00,1\n", None, "a shape has the columns 'time,weight'"),
    ],
)
def test_a_bad_shape_or_volume_file_exits_2_with_its_line(
    tmp_path: Path, shape: str, volumes: str | None, expected: str
) -> None:
    (tmp_path / "shape.csv").write_text(shape)
    demand: dict[str, Any] = {"profile": "shape", "forecast": "shape.csv"}
    if volumes is None:
        demand["volume_per_day"] = 100.0
    else:
        (tmp_path / "days.csv").write_text(volumes)
        demand["day_volumes"] = "days.csv"
    path = _scenario(tmp_path, demand)
    res = CliRunner().invoke(main, ["simulate", str(path), "-r", "1"])
    assert res.exit_code == 2, res.output
    assert expected in res.output
    assert "Traceback" not in res.output


def test_the_start_must_lie_on_the_shape_grid(tmp_path: Path) -> None:
    (tmp_path / "shape.csv").write_text("time,weight\n" + "\n".join(_day_rows()) + "\n")
    path = _scenario(
        tmp_path,
        {"profile": "shape", "forecast": "shape.csv", "volume_per_day": 100.0},
        start=dt.datetime(2026, 11, 10, 9, 10),
    )
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2
    assert "starts at 09:10:00, between the shape's intervals of 30 min" in res.output


def test_volumes_are_given_one_way(tmp_path: Path) -> None:
    (tmp_path / "shape.csv").write_text("time,weight\n" + "\n".join(_day_rows()) + "\n")
    (tmp_path / "days.csv").write_text("date,conversations\n2026-11-10,1\n")
    demand = {
        "profile": "shape",
        "forecast": "shape.csv",
        "volume_per_day": 100.0,
        "day_volumes": "days.csv",
    }
    with pytest.raises(ScenarioError, match="give exactly one of 'volume_per_day', 'total' or"):
        load_scenario(_scenario(tmp_path, demand))
    demand = {"profile": "flat", "volume_per_day": 100.0, "day_volumes": "days.csv"}
    with pytest.raises(ScenarioError, match="day volumes scale a repeating shape"):
        load_scenario(_scenario(tmp_path, demand))


def test_a_total_over_intervals_of_weight_zero_exits_2(tmp_path: Path) -> None:
    (tmp_path / "shape.csv").write_text("time,weight\n00:00,0\n12:00,1\n")
    path = _scenario(
        tmp_path, {"profile": "shape", "forecast": "shape.csv", "total": 100.0}, horizon="2h"
    )
    res = CliRunner().invoke(main, ["simulate", str(path), "-r", "1"])
    assert res.exit_code == 2, res.output
    assert "cannot be spread: the shape's weights are 0" in res.output
    (tmp_path / "days.csv").write_text("date,conversations\n2026-11-10,5\n")
    path = _scenario(
        tmp_path,
        {"profile": "shape", "forecast": "shape.csv", "day_volumes": "days.csv"},
        horizon="2d",
    )
    res = CliRunner().invoke(main, ["simulate", str(path), "-r", "1"])
    assert res.exit_code == 2, res.output
    assert "days.csv: no volume for 2026-11-11" in res.output
