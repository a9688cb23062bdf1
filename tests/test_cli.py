"""The command line: validate, schema, simulate (JSON, reproducibility, --out files)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import SCENARIOS
from peakdesk.cli import main

SMALL_SHOP = SCENARIOS / "small-shop.toml"
ISO_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+08:00$")


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _bad_file(tmp_path: Path) -> Path:
    """small-shop with a negative head count on the first shift of the first pool."""
    text = SMALL_SHOP.read_text(encoding="utf-8")
    assert "agents = 2\n" in text
    p = tmp_path / "bad.toml"
    p.write_text(text.replace("agents = 2\n", "agents = -2\n", 1), encoding="utf-8")
    return p


def _simulate_json(*extra: str) -> dict[str, Any]:
    res = _invoke("simulate", str(SMALL_SHOP), "--replications", "2", "--json", *extra)
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _console_script() -> list[str]:
    """The installed ``peakdesk`` script of this interpreter's environment."""
    beside = Path(sys.executable).parent / "peakdesk"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("peakdesk")
    if found is None:
        pytest.skip("the peakdesk console script is not installed")
    return [found]


# ---------------------------------------------------------------------------
# validate, schema
# ---------------------------------------------------------------------------


def test_validate_ok() -> None:
    res = _invoke("validate", str(SMALL_SHOP))
    assert res.exit_code == 0, res.output
    assert "ok" in res.stdout
    assert "small-shop" in res.stdout


def test_validate_bad_file_exits_2_with_the_field_path(tmp_path: Path) -> None:
    res = _invoke("validate", str(_bad_file(tmp_path)))
    assert res.exit_code == 2
    assert "pools[0].shifts[0].agents" in res.stderr
    assert "-2" in res.stderr
    assert "Traceback" not in res.output
    assert res.stdout == ""


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    res = _invoke("validate", str(tmp_path / "absent.toml"))
    assert res.exit_code == 2
    assert "absent.toml" in res.stderr
    assert "Traceback" not in res.output


def test_simulate_bad_file_exits_2(tmp_path: Path) -> None:
    res = _invoke("simulate", str(_bad_file(tmp_path)), "--replications", "1")
    assert res.exit_code == 2
    assert "pools[0].shifts[0].agents" in res.stderr


def test_schema_prints_json() -> None:
    res = _invoke("schema")
    assert res.exit_code == 0, res.output
    schema = json.loads(res.stdout)
    assert "calendar" in schema["properties"]
    assert "pools" in schema["properties"]


def test_console_script_reports_a_bad_file_as_a_real_process(tmp_path: Path) -> None:
    """The installed entry point: exit code 2 and the field path on stderr, no traceback."""
    bad = subprocess.run(
        [*_console_script(), "validate", str(_bad_file(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2, bad.stderr
    assert "pools[0].shifts[0].agents" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert bad.stdout == ""


# ---------------------------------------------------------------------------
# simulate
# ---------------------------------------------------------------------------


def test_simulate_json_has_the_summary_keys() -> None:
    data = _simulate_json("--seed", "3")
    assert data["seed"] == 3
    assert data["replications"] == 2
    assert data["scenario"] == "small-shop"
    for key in ("conversations", "buyer_messages", "first_reply_p90_s", "total_cost"):
        est = data["summary"][key]
        assert {"mean", "low", "high", "n"} <= set(est)
        assert est["n"] == 2
    assert len(data["by_replication"]) == 2
    assert data["by_replication"][0]["conversations"] > 0
    assert data["summary"]["conversations"]["mean"] == pytest.approx(
        sum(r["conversations"] for r in data["by_replication"]) / 2
    )


def test_simulate_is_reproducible() -> None:
    args = ("simulate", str(SMALL_SHOP), "--replications", "2", "--json", "--seed", "3")
    a, b = _invoke(*args), _invoke(*args)
    assert a.exit_code == 0 and b.exit_code == 0
    assert a.stdout == b.stdout  # byte for byte


def test_a_different_seed_gives_a_different_result() -> None:
    a = _simulate_json("--seed", "3")
    b = _simulate_json("--seed", "4")
    assert a["by_replication"] != b["by_replication"]


def test_simulate_prints_a_table() -> None:
    res = _invoke("simulate", str(SMALL_SHOP), "--replications", "2", "--seed", "3")
    assert res.exit_code == 0, res.output
    assert "95% CI" in res.stdout
    assert "conversations" in res.stdout
    # The header's time is what the user waited, beside the simulation's share of it.
    m = re.search(r"\(([\d.]+) s simulating; ([\d.]+) s since the command started", res.stdout)
    assert m is not None, res.stdout.splitlines()[0]
    assert float(m.group(2)) >= float(m.group(1))


def test_simulate_out_writes_consistent_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = _invoke(
        "simulate", str(SMALL_SHOP), "--replications", "2", "--seed", "3", "--out", str(out)
    )
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    # the first replication's log only (no --all-logs), and no temporary files left over
    assert names == sorted(
        [
            "messages-r0.csv",
            "conversations-r0.csv",
            "intervals.csv",
            "summary.json",
            "scenario.toml",  # the scenario as run, byte for byte
            "pools.csv",
            "agents.csv",
        ]
    )
    assert (out / "scenario.toml").read_bytes() == SMALL_SHOP.read_bytes()

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rep0 = summary["by_replication"][0]

    header, messages = _read_csv(out / "messages-r0.csv")
    assert header == ["conversation_id", "sender", "timestamp", "agent_id", "inquiry_type"]
    assert messages
    senders = {m["sender"] for m in messages}
    assert senders <= {"buyer", "agent", "bot", "auto"}
    assert {"buyer", "agent", "auto"} <= senders  # small-shop greets every buyer
    assert sum(m["sender"] == "auto" for m in messages) == rep0["conversations"]
    assert all(ISO_LOCAL.match(m["timestamp"]) for m in messages)
    times = [dt.datetime.fromisoformat(m["timestamp"]) for m in messages]
    assert times == sorted(times)
    assert times[0] >= dt.datetime(2026, 11, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert sum(m["sender"] == "buyer" for m in messages) == rep0["buyer_messages"]
    assert sum(m["sender"] == "agent" for m in messages) == rep0["replies_human"]
    assert all(m["agent_id"] for m in messages if m["sender"] == "agent")
    assert not any(m["agent_id"] for m in messages if m["sender"] == "buyer")
    assert all(m["conversation_id"].startswith("r0-c") for m in messages)

    header, conversations = _read_csv(out / "conversations-r0.csv")
    assert header[0] == "conversation_id"
    assert len(conversations) == rep0["conversations"]
    assert {m["conversation_id"] for m in messages} <= {c["conversation_id"] for c in conversations}

    header, intervals = _read_csv(out / "intervals.csv")
    assert header[0] == "replication"
    assert {r["replication"] for r in intervals} == {"0", "1"}
    arrivals = sum(float(r["arrivals"]) for r in intervals if r["replication"] == "0")
    assert arrivals == rep0["conversations"]


def test_simulate_figures(tmp_path: Path) -> None:
    out = tmp_path / "figs"
    res = _invoke("simulate", str(SMALL_SHOP), "-r", "2", "--out", str(out), "--figures")
    assert res.exit_code == 0, res.output
    for name in ("demand-capacity", "backlog", "first-response"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        svg = (out / f"{name}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and "small-shop" in svg  # the title names the scenario
    assert not list(out.glob(".*.tmp"))
    res = _invoke("simulate", str(SMALL_SHOP), "--figures")
    assert res.exit_code == 2 and "--out" in res.stderr
