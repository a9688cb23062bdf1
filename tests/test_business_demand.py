"""Demand from business targets: GMV target -> orders -> conversations, and GMV lost.

Worked by hand: a GMV target of 10,000,000 at 200 an order is 50,000 orders;
60% of orders come after a pre-sale chat and 30% of pre-sale chats order, so
pre-sale chats are 50,000 x 0.6 / 0.3 = 100,000; 0.1 after-sale chats per
order add 5,000: 105,000 conversations over the horizon, spread over the
profile exactly as ``demand.total = 105000`` would be.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from click.testing import CliRunner

from conftest import base_dict, loaded
from peakdesk.cli import main
from peakdesk.demand.sample import expected_demand, intensity
from peakdesk.scenario import LoadedScenario, parse_scenario

BUSINESS = {
    "gmv": 10_000_000,
    "average_order_value": 200,
    "inquiry_share": 0.6,
    "inquiry_conversion": 0.3,
    "after_sale_rate": 0.1,
}


def _dict(**demand: Any) -> dict[str, Any]:
    d = base_dict()
    d["calendar"]["horizon"] = "3d"
    d["demand"] = {"profile": "double11", **demand}
    d["calendar"]["start"] = dt.datetime(2026, 11, 10)
    return d


def test_the_spreadsheet_method_by_hand() -> None:
    spec = loaded(_dict(business=BUSINESS)).spec
    biz = spec.demand.business
    assert biz is not None
    assert biz.orders == pytest.approx(50_000)
    assert biz.presale_conversations == pytest.approx(100_000)
    assert biz.conversations == pytest.approx(105_000)
    per_order = loaded(
        _dict(
            business=BUSINESS
            | {"inquiry_conversion": None, "inquiry_share": 1.0, "presale_per_order": 2.0}
        )
    ).spec
    assert per_order.demand.business is not None
    assert per_order.demand.business.conversations == pytest.approx(50_000 * 2.1)


def test_it_is_the_profile_with_that_total() -> None:
    biz = loaded(_dict(business=BUSINESS))
    total = loaded(_dict(total=105_000))
    assert expected_demand(biz).conversations == pytest.approx(105_000)
    np.testing.assert_allclose(intensity(biz).expected, intensity(total).expected, rtol=1e-12)


def test_a_forecast_gives_the_shape_and_the_target_the_volume(tmp_path: Path) -> None:
    rows = ["interval_start,conversations"]
    start = dt.datetime(2026, 11, 10)
    for h in range(72):
        rows.append(f"{(start + dt.timedelta(hours=h)).isoformat()},{10 + (h % 24)}")
    (tmp_path / "f.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = _dict(business=BUSINESS)
    d["demand"] = {"profile": "csv", "forecast": "f.csv", "business": BUSINESS, "multiplier": 1.5}
    path = tmp_path / "s.toml"
    ls = LoadedScenario(spec=parse_scenario(d, path), path=path)
    inten = intensity(ls)
    assert inten.expected.sum() == pytest.approx(105_000 * 1.5)
    # The forecast's shape: hour 23 is 33 / 10 of hour 0.
    per_hour = inten.expected.sum(axis=0)
    assert per_hour[23] / per_hour[0] == pytest.approx(33 / 10)


def test_gmv_lost_is_conversions_lost_at_the_order_value(tmp_path: Path) -> None:
    d = _dict(business=BUSINESS | {"gmv": 400_000})  # 2,000 orders, 4,200 conversations
    d["calendar"]["horizon"] = "1d"
    d["calendar"]["start"] = dt.datetime(2026, 11, 11)
    d["inquiry_types"][0]["conversion"] = {"base": 0.5, "half_life": "2min"}
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "24h", "agents": 3}]
    f = tmp_path / "s.toml"
    f.write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["simulate", str(f), "-r", "3", "--json"])
    assert res.exit_code == 0, res.output + res.stderr
    doc = json.loads(res.stdout)
    biz = doc["business"]
    lost = doc["summary"]["conversions_lost"]
    assert lost["mean"] > 0
    assert biz["gmv_lost"]["mean"] == pytest.approx(lost["mean"] * 200)
    assert biz["gmv_lost"]["low"] == pytest.approx(lost["low"] * 200)
    assert biz["conversations"] == pytest.approx(4_200)
    text = CliRunner().invoke(main, ["simulate", str(f), "-r", "2"]).stdout
    assert "demand from the GMV target 400,000" in text and "GMV lost to waiting" in text


@pytest.mark.parametrize(
    ("demand", "field"),
    [
        ({"business": BUSINESS, "total": 100}, "demand.total"),
        (
            {"business": {"gmv": 1e6, "average_order_value": 100}},
            "demand.business.presale_per_order",
        ),
        (
            {"business": BUSINESS | {"average_order_value": 0}},
            "demand.business.average_order_value",
        ),
    ],
)
def test_bad_business_targets_name_the_field(
    tmp_path: Path, demand: dict[str, Any], field: str
) -> None:
    d = _dict(**demand)
    f = tmp_path / "s.toml"
    f.write_text(tomlkit.dumps(d), encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(f)])
    assert res.exit_code == 2
    assert field in res.output + res.stderr
    assert "Traceback" not in res.output + res.stderr
