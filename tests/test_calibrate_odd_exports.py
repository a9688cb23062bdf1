"""Odd exports a shop really sends, each once: numeric type codes, a spell just before
midnight, a sub-account logged in for days, a typo in the column map, zone names in the
times, a conversation table from another export, a second bubble to a buyer, open
sessions, an export that starts in the afternoon.  Each gives a usable scenario or a
clear message with exit 2, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import tomlkit
from click.testing import CliRunner

from peakdesk.calibrate import fit, spells
from peakdesk.cli import main
from peakdesk.rules.csvlog import Session
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import load_scenario
from peakdesk.units import zone_info

ZONE = zone_info("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 10, tzinfo=ZONE).timestamp()


def _csv(path: Path, rows: list[tuple[str, ...]], header: str) -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _calibrate(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["calibrate", *args])
    out = res.output + res.stderr
    assert "Traceback" not in out
    return res.exit_code, out


def test_numeric_type_codes_become_names(tmp_path: Path) -> None:
    rows = []
    for i in range(6):
        ty = "1" if i % 2 else "2 x"
        rows += [(f"c{i}", "buyer", f"2026-11-11T10:{i:02d}:00+08:00", "", ty)]
        rows += [(f"c{i}", "agent", f"2026-11-11T10:{i:02d}:30+08:00", "a1", ty)]
    log = _csv(tmp_path / "t.csv", rows, "conversation_id,sender,timestamp,agent_id,inquiry_type")
    code, out = _calibrate(str(log), "--out", str(tmp_path / "o"))
    assert code == 0, out
    spec = load_scenario(tmp_path / "o" / "scenario.toml").spec
    assert [t.name for t in spec.inquiry_types] == ["type_1", "type_2_x"]


def test_a_spell_just_before_midnight_on_the_last_day_is_kept(tmp_path: Path) -> None:
    rows = [
        ("c0", "buyer", "2026-11-11T10:00:00+08:00", ""),
        ("c0", "agent", "2026-11-11T10:01:00+08:00", "a1"),
        ("c1", "buyer", "2026-11-11T23:54:00+08:00", ""),
        ("c1", "agent", "2026-11-11T23:56:00+08:00", "a2"),
        ("c1", "agent", "2026-11-11T23:59:00+08:00", "a2"),
    ]
    log = _csv(tmp_path / "l.csv", rows, "conversation_id,sender,timestamp,agent_id")
    code, out = _calibrate(str(log), "--out", str(tmp_path / "o"))
    assert code == 0, out
    shifts = load_scenario(tmp_path / "o" / "scenario.toml").spec.pools[0].shifts
    late = [s for s in shifts if s.start == 23.75 * 3600]
    assert late and late[0].days == [dt.date(2026, 11, 11)]


def test_a_sub_account_logged_in_for_three_days_is_three_shifts() -> None:
    found = spells.from_sessions([Session("a", T0 + 8 * 3600, T0 + 3 * 86400 + 8 * 3600)])
    assert len(found) == 3 and all(s.end_s - s.start_s == 86400.0 for s in found)
    written, _ = spells.shifts(found, ZONE, 900.0, dt.date(2026, 11, 13))
    assert sum(len(s["days"]) for s in written) == 3


def test_open_sessions_and_extra_columns_are_read(tmp_path: Path) -> None:
    rows = [
        ("c0", "buyer", "2026-11-10T09:00:00+08:00", ""),
        ("c0", "agent", "2026-11-10T17:00:00+08:00", "a1"),
    ]
    log = _csv(tmp_path / "l.csv", rows, "conversation_id,sender,timestamp,agent_id")
    sessions = _csv(
        tmp_path / "s.csv",
        [("a1", "online", "2026-11-10T09:00:00+08:00", "")],
        "agent_id,status,login,logout",
    )
    code, out = _calibrate(str(log), "--sessions", str(sessions), "--out", str(tmp_path / "o"))
    assert code == 0, out
    (shift,) = load_scenario(tmp_path / "o" / "scenario.toml").spec.pools[0].shifts
    assert shift.start == 9 * 3600 and shift.length == 8 * 3600  # open until the log's end
    bad = _csv(
        tmp_path / "b.csv", [("a1", "2026-11-10T09:00:00+08:00", "noon")], "agent_id,login,logout"
    )
    code, out = _calibrate(str(log), "--sessions", str(bad), "--out", str(tmp_path / "o2"))
    assert code == 2 and "line 2" in out and "--skip-bad-rows" not in out


def test_the_column_map_is_checked_against_the_export(tmp_path: Path) -> None:
    rows = [("c0", "买家", "2026-11-11 10:00:00", "")]
    log = _csv(tmp_path / "l.csv", rows, "会话ID,发送方,时间,客服")
    cmap = tmp_path / "m.toml"
    cmap.write_text(
        '[columns]\nconversation_id = "会话ID"\nsender = "发送方"\ntimestamp = "时间"\n'
        'agent_id = "客服X"\n[senders]\nbuyer = ["买家"]\nagent = ["客服"]\n'
        '[timestamp]\nformat = "%Y-%m-%d %H:%M:%S"\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    code, out = _calibrate(str(log), "--columns", str(cmap), "--out", str(tmp_path / "o"))
    assert code == 2 and "'客服X' (agent_id)" in out
    cmap.write_text(
        '[timestamp]\nformat = "%Y-%m-%d %H:%M:%S %Z"\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    code, out = _calibrate(str(log), "--columns", str(cmap), "--out", str(tmp_path / "o"))
    assert code == 2 and "timestamp.format" in out and "%z" in out


def test_a_conversation_table_from_another_export_is_said(tmp_path: Path) -> None:
    rows = []
    for i in range(10):
        rows += [(f"c{i}", "buyer", f"2026-11-11T10:{i:02d}:00+08:00", "")]
        rows += [(f"c{i}", "agent", f"2026-11-11T10:{i:02d}:30+08:00", "a1")]
    log = _csv(tmp_path / "l.csv", rows, "conversation_id,sender,timestamp,agent_id")
    table = _csv(
        tmp_path / "c.csv",
        [(f"x{i}", str(600 * i), str(600 * i + 30), "0", "", str(600 * i + 60)) for i in range(10)],
        "conversation_id,arrival_s,first_human_reply_s,abandoned,abandon_s,close_s",
    )
    code, out = _calibrate(str(log), "--conversations", str(table), "--out", str(tmp_path / "o"))
    assert code == 0
    assert "matches 0 of the log's 10 conversations" in out


def test_a_second_bubble_to_a_buyer_is_not_an_overtake() -> None:
    # One agent, strictly first come first served: buyer A then B, answered A then B,
    # then a second bubble to A (A has not written again).
    conv, snd, t, ag = [], [], [], []
    for r in range(40):
        a, b, base = 2 * r, 2 * r + 1, 1.8e9 + r * 1000
        for c, s, x, who in (
            (a, BUYER, 0, -1),
            (b, BUYER, 1, -1),
            (a, AGENT, 10, 0),
            (b, AGENT, 20, 0),
            (a, BUYER, 100, -1),
            (b, BUYER, 105, -1),
            (a, AGENT, 110, 0),
            (b, AGENT, 120, 0),
            (a, AGENT, 125, 0),
        ):
            conv.append(c)
            snd.append(s)
            t.append(base + x)
            ag.append(who)
    found = fit.discipline(MessageLog.from_arrays(conv, snd, t, ag))
    assert found.name == "sequential" and found.overtakes == 0 and found.pairs > 0


def test_a_gap_is_found_in_an_export_that_starts_in_the_afternoon() -> None:
    # One arrival a minute; two hours missing on day 2 (09:00-11:00).  Day 1 before
    # 14:00 is outside the export, not a quiet morning to compare with.
    rng = np.random.default_rng(3)
    for start_h in (0, 14):
        n = int((3 * 86400 - start_h * 3600) / 60)
        t = np.sort(rng.uniform(T0 + start_h * 3600, T0 + 3 * 86400, n))
        t = t[~((t > T0 + 86400 + 9 * 3600) & (t < T0 + 86400 + 11 * 3600))]
        log = MessageLog.from_arrays(np.arange(t.size), np.zeros(t.size), t)
        (hole,) = fit.holes(fit.arrivals(log, ZONE, 900.0))
        assert hole.start.hour == 9 and hole.expected > 50


def test_the_drawn_backtest_keeps_the_engine_asked_for(tmp_path: Path) -> None:
    from conftest import chat_shop

    d = chat_shop(1500, 2)
    (tmp_path / "s.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["simulate", str(tmp_path / "s.toml"), "-r", "1", "--out", str(tmp_path / "run")]
        ).exit_code
        == 0
    )
    log = str(tmp_path / "run" / "messages-r0.csv")
    code, out = _calibrate(log, "--out", str(tmp_path / "fit"))
    assert code == 0, out
    from peakdesk.calibrate import backtest as bt
    from peakdesk.cli.common import with_engine
    from peakdesk.rules.csvlog import read_chat_log
    from peakdesk.scenario.load import load_scenario as load

    seen: list[str] = []
    real = bt.simulate

    def spy(loaded, **kw):  # type: ignore[no-untyped-def]
        seen.append(loaded.spec.simulation.engine)
        return real(loaded, **kw)

    import json

    quantities = json.loads((tmp_path / "fit" / "calibration.json").read_text())["quantities"]
    loaded = with_engine(load(tmp_path / "fit" / "scenario.toml"), "reference")
    bt.simulate = spy  # type: ignore[assignment]
    try:
        bt.backtest(read_chat_log(log).log, loaded, replications=2, seed=1, calibration=quantities)
    finally:
        bt.simulate = real  # type: ignore[assignment]
    assert seen == ["reference", "reference"]


def test_the_column_maps_zone_is_the_shops_clock(tmp_path: Path) -> None:
    # Naive New York times read through a map with timezone America/New_York: without
    # --tz the calibrated scenario runs on New York's clock, the 09:00 agent at 09:00.
    rows = []
    for i in range(8):
        rows += [(f"c{i}", "buyer", f"2026-11-11 09:{i:02d}:00", "")]
        rows += [(f"c{i}", "agent", f"2026-11-11 09:{i:02d}:30", "a1")]
    log = _csv(tmp_path / "l.csv", rows, "id,who,when,staff")
    cmap = tmp_path / "m.toml"
    cmap.write_text(
        '[columns]\nconversation_id = "id"\nsender = "who"\ntimestamp = "when"\n'
        'agent_id = "staff"\n[timestamp]\nformat = "%Y-%m-%d %H:%M:%S"\n'
        'timezone = "America/New_York"\n',
        encoding="utf-8",
    )
    code, out = _calibrate(str(log), "--columns", str(cmap), "--out", str(tmp_path / "o"))
    assert code == 0, out
    spec = load_scenario(tmp_path / "o" / "scenario.toml").spec
    assert spec.calendar.timezone == "America/New_York"
    assert spec.pools[0].shifts[0].start == 9 * 3600


def test_a_buyer_who_left_without_a_time_is_named_by_line(tmp_path: Path) -> None:
    rows = [
        ("c0", "buyer", "2026-11-11T10:00:00+08:00", ""),
        ("c0", "agent", "2026-11-11T10:01:00+08:00", "a"),
    ]
    log = _csv(tmp_path / "l.csv", rows, "conversation_id,sender,timestamp,agent_id")
    table = _csv(
        tmp_path / "c.csv",
        [("c0", "0", "60", "0", "", "60"), ("c1", "5", "", "1", "", "")],
        "conversation_id,arrival_s,first_human_reply_s,abandoned,abandon_s,close_s",
    )
    code, out = _calibrate(str(log), "--conversations", str(table), "--out", str(tmp_path / "o"))
    assert code == 2 and "line 3: abandoned = 1 needs abandon_s" in out
