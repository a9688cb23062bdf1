"""Taobao DSR from a ratings export, on logs worked out by hand from the rule text.

Rule (PLATFORM_RULES.md): each dimension is the mean of the last 6 months of
ratings (180 days here); per natural month only the first 3 ratings between the
same buyer and store count.  Default (system) ratings are left out and take no
place.  The natural month is the store's clock (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from peakdesk.cli import main

HEADER = "buyer_id,timestamp,description,service,logistics,default\n"


def _score(tmp: Path, rows: list[str], *args: str) -> dict[str, Any]:
    f = tmp / "ratings.csv"
    f.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    res = CliRunner().invoke(
        main, ["score", str(f), "--platform", "taobao", "--metric", "dsr", "--json", *args]
    )
    assert res.exit_code == 0, res.output + res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def _window(doc: dict[str, Any], dim: str, day: str) -> float:
    days = doc["metrics"][f"taobao.dsr_{dim}"]["days"]
    return float(next(d["window"] for d in days if d["date"] == day))


def test_the_fourth_rating_of_a_month_does_not_count(tmp_path: Path) -> None:
    doc = _score(
        tmp_path,
        [
            "a,2026-11-01T10:00:00+08:00,5,5,5,0",
            "a,2026-11-02T10:00:00+08:00,4,4,4,0",
            "a,2026-11-03T10:00:00+08:00,3,3,3,0",
            "a,2026-11-04T10:00:00+08:00,1,1,1,0",  # the 4th in November: left out
            "b,2026-11-04T11:00:00+08:00,2,5,3,0",
        ],
    )
    assert doc["rows"] == 5 and doc["counted"] == 4
    # service by hand: (5 + 4 + 3 + 5) / 4 = 4.25; description (5 + 4 + 3 + 2) / 4 = 3.5
    assert _window(doc, "service", "2026-11-04") == pytest.approx(4.25)
    assert _window(doc, "description", "2026-11-04") == pytest.approx(3.5)
    assert _window(doc, "logistics", "2026-11-04") == pytest.approx((5 + 4 + 3 + 3) / 4)
    # Day by day: the 4th buyer-a rating leaves 11-04 with b's alone.
    days = {d["date"]: d for d in doc["metrics"]["taobao.dsr_service"]["days"]}
    assert days["2026-11-04"]["units"] == 1 and days["2026-11-04"]["value"] == 5.0


def test_ratings_counted_in_file_order_when_at_the_same_time(tmp_path: Path) -> None:
    t = "2026-11-05T09:00:00+08:00"
    doc = _score(tmp_path, [f"a,{t},1,1,1,0", f"a,{t},2,2,2,0", f"a,{t},3,3,3,0", f"a,{t},5,5,5,0"])
    assert _window(doc, "service", "2026-11-05") == pytest.approx(2.0)  # the 5 is the 4th


def test_the_month_is_the_stores_clock(tmp_path: Path) -> None:
    rows = [
        "a,2026-11-10T10:00:00+08:00,5,5,5,0",
        "a,2026-11-11T10:00:00+08:00,5,5,5,0",
        "a,2026-11-12T10:00:00+08:00,5,5,5,0",
        # 16:30 UTC on 30 November is 00:30 on 1 December in Shanghai: a new month there.
        "a,2026-11-30T16:30:00+00:00,1,1,1,0",
    ]
    shanghai = _score(tmp_path, rows)
    assert shanghai["counted"] == 4
    assert _window(shanghai, "service", "2026-12-01") == pytest.approx((5 + 5 + 5 + 1) / 4)
    utc = _score(tmp_path, rows, "--tz", "UTC")
    assert utc["counted"] == 3  # in UTC it is still November: the 4th, left out
    assert _window(utc, "service", "2026-11-30") == pytest.approx(5.0)


def test_default_ratings_are_left_out_and_take_no_place(tmp_path: Path) -> None:
    doc = _score(
        tmp_path,
        [
            "a,2026-11-01T10:00:00+08:00,5,5,5,1",  # default: not the buyer's
            "a,2026-11-02T10:00:00+08:00,4,4,4,0",
            "a,2026-11-03T10:00:00+08:00,4,4,4,0",
            "a,2026-11-04T10:00:00+08:00,1,1,1,0",  # the buyer's 3rd: counts
        ],
    )
    assert doc["counted"] == 3
    assert _window(doc, "service", "2026-11-04") == pytest.approx(3.0)
    assert doc["rule"]["count_default"] is False


def test_the_180_day_edge(tmp_path: Path) -> None:
    day = dt.date(2026, 11, 11)
    first_in = day - dt.timedelta(days=179)  # the window's first day
    last_out = day - dt.timedelta(days=180)
    doc = _score(
        tmp_path,
        [
            f"a,{last_out.isoformat()}T12:00:00+08:00,1,1,1,0",
            f"b,{first_in.isoformat()}T12:00:00+08:00,3,3,3,0",
            f"c,{day.isoformat()}T12:00:00+08:00,5,5,5,0",
        ],
    )
    assert doc["metrics"]["taobao.dsr_service"]["window_days"] == 180
    assert _window(doc, "service", day.isoformat()) == pytest.approx((3 + 5) / 2)
    assert _window(doc, "service", (day - dt.timedelta(days=1)).isoformat()) == pytest.approx(2.0)


def test_a_history_moves_the_window(tmp_path: Path) -> None:
    hist = tmp_path / "history.csv"
    hist.write_text(
        "date,metric,count,value\n2026-10-01,taobao.dsr_service,98,4.9\n", encoding="utf-8"
    )
    doc = _score(
        tmp_path,
        ["a,2026-11-11T10:00:00+08:00,1,1,1,0", "b,2026-11-11T11:00:00+08:00,3,3,3,0"],
        "--history",
        str(hist),
    )
    # (98 x 4.9 + 1 + 3) / 100 = 4.842: the Double-11 day's two bad ratings barely move it.
    assert _window(doc, "service", "2026-11-11") == pytest.approx((98 * 4.9 + 4) / 100)
    # The other dimensions have no history: the day alone.
    assert _window(doc, "description", "2026-11-11") == pytest.approx(2.0)
    assert doc["metrics"]["taobao.dsr_description"]["days"][0]["date"] == "2026-11-11"
    first = doc["metrics"]["taobao.dsr_service"]["days"][0]
    assert first["date"] == "2026-10-01" and first["history"] and first["units"] == 98


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a,2026-11-01T10:00:00+08:00,6,5,5,0", "description must be a whole score 1-5"),
        ("a,2026-11-01T10:00:00,5,5,5,0", "has no UTC offset"),
        (",2026-11-01T10:00:00+08:00,5,5,5,0", "empty buyer_id"),
        ("a,2026-11-01T10:00:00+08:00,5,5,5,maybe", "default must be 0/1"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, row: str, reason: str) -> None:
    f = tmp_path / "r.csv"
    f.write_text(HEADER + "b,2026-11-01T09:00:00+08:00,5,5,5,0\n" + row + "\n", encoding="utf-8")
    args = ["score", str(f), "--platform", "taobao", "--metric", "dsr"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert "line 3:" in res.output + res.stderr and reason in res.output + res.stderr
    assert "Traceback" not in res.output + res.stderr
    res = CliRunner().invoke(main, [*args, "--skip-bad-rows", "--json"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["skipped_rows"] == 1 and doc["counted"] == 1


def test_dsr_is_taobaos(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(HEADER + "b,2026-11-01T09:00:00+08:00,5,5,5,0\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["score", str(f), "--platform", "lazada", "--metric", "dsr"])
    assert res.exit_code == 2 and "use --platform taobao" in res.output + res.stderr
    res = CliRunner().invoke(main, ["score", str(f), "--platform", "tmall", "--metric", "dsr"])
    assert res.exit_code == 0 and "taobao DSR" in res.stdout and "5.00" in res.stdout
