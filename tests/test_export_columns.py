"""Real exports through a column map: the same log in another dress scores and calibrates the same.

A simulated shop's message log (the import format) is rewritten as a
back-office would export it: Chinese headers in another order with extra
columns, Chinese sender values, day-first local times without an offset; or
role codes and epoch milliseconds.  Read through the shipped column maps
(docs/exports/), ``score`` gives the same metrics, ``calibrate`` the same
scenario and ``backtest`` the same figures as the log in the import format.
A map that cannot be used exits 2 naming its file and field.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from peakdesk.cli import main
from peakdesk.units import zone_info

ROOT = Path(__file__).resolve().parents[1]
MAPS = ROOT / "docs" / "exports"
SHANGHAI = zone_info("Asia/Shanghai")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small shop's log in the import format, as a Chinese export and as epoch ms."""
    tmp = tmp_path_factory.mktemp("exports")
    res = CliRunner().invoke(
        main,
        [
            "simulate",
            str(ROOT / "scenarios" / "small-shop.toml"),
            "-r",
            "1",
            "--seed",
            "4",
            "--out",
            str(tmp / "run"),
        ],
    )
    assert res.exit_code == 0, res.output
    std = tmp / "std" / "chats.csv"
    std.parent.mkdir()
    std.write_bytes((tmp / "run" / "messages-r0.csv").read_bytes())
    with std.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    zh_sender = {"buyer": "买家", "agent": "客服", "bot": "机器人", "auto": "自动回复"}
    zh = tmp / "zh" / "chats.csv"
    zh.parent.mkdir()
    with zh.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["会话ID", "店铺", "发送方", "客服", "时间", "咨询类型", "备注"])
        for r in rows:
            t = dt.datetime.fromisoformat(r["timestamp"]).astimezone(SHANGHAI)
            w.writerow(
                [
                    r["conversation_id"],
                    "旗舰店",
                    zh_sender[r["sender"]],
                    r["agent_id"],
                    t.strftime("%d/%m/%Y %H:%M:%S.%f"),
                    r["inquiry_type"],
                    "",
                ]
            )
    ms = tmp / "ms" / "chats.csv"
    ms.parent.mkdir()
    role = {"buyer": "customer", "agent": "staff", "bot": "chatbot"}
    with ms.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts_ms", "session", "role", "staff"])
        for r in rows:
            if r["sender"] == "auto":
                continue  # this tool's export has no greetings
            t = dt.datetime.fromisoformat(r["timestamp"])
            w.writerow(
                [
                    round(t.timestamp() * 1000),
                    r["conversation_id"],
                    role[r["sender"]],
                    r["agent_id"],
                ]
            )
    no_auto = tmp / "noauto" / "chats.csv"
    no_auto.parent.mkdir()
    with no_auto.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["conversation_id", "sender", "timestamp", "agent_id"])
        w.writeheader()
        for r in rows:
            if r["sender"] != "auto":
                w.writerow(
                    {k: r[k] for k in ("conversation_id", "sender", "timestamp", "agent_id")}
                )
    return {"std": std, "zh": zh, "ms": ms, "noauto": no_auto}


def _score(path: Path, *extra: str) -> dict[str, object]:
    res = CliRunner().invoke(main, ["score", str(path), "--platform", "taobao", "--json", *extra])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["skipped_rows"] == 0
    return dict(data["metrics"])


def test_a_chinese_export_scores_as_the_import_format(logs: dict[str, Path]) -> None:
    want = _score(logs["std"])
    assert want  # the rule has metrics
    assert _score(logs["zh"], "--columns", str(MAPS / "qianniu-zh.toml")) == want


def test_epoch_milliseconds_score_as_the_import_format(logs: dict[str, Path]) -> None:
    assert _score(logs["ms"], "--columns", str(MAPS / "epoch-ms.toml")) == _score(logs["noauto"])


def test_calibrate_and_backtest_read_through_the_map(logs: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    outs = {}
    for name, extra in (("std", []), ("zh", ["--columns", str(MAPS / "qianniu-zh.toml")])):
        out = tmp_path / name
        res = runner.invoke(main, ["calibrate", str(logs[name]), "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
        outs[name] = out
    for f in ("scenario.toml", "forecast.csv"):
        assert (outs["zh"] / f).read_text(encoding="utf-8") == (outs["std"] / f).read_text(
            encoding="utf-8"
        )
    figures = []
    for name, extra in (("std", []), ("zh", ["--columns", str(MAPS / "qianniu-zh.toml")])):
        res = runner.invoke(
            main,
            [
                "backtest",
                str(logs[name]),
                "--scenario",
                str(ROOT / "scenarios" / "small-shop.toml"),
                "--platform",
                "taobao",
                "-r",
                "3",
                "--seed",
                "1",
                "--json",
                *extra,
            ],
        )
        assert res.exit_code == 0, res.output
        figures.append(json.loads(res.stdout)["figures"])
    assert figures[0] == figures[1]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[columns]\nconversation = "会话ID"\n', "columns.conversation"),
        ('[columns]\nsender = "a"\ntimestamp = "a"\n', "columns.timestamp"),
        ('[senders]\nbuyer = ["买家"]\nagent = ["买家"]\n', "senders.agent[0]"),
        ('[senders]\nbuyer = ["x"]\n', "senders.agent"),
        ('[timestamp]\nformat = "DD/MM/YYYY"\n', "timestamp.format"),
        ('[timestamp]\nformat = "%d/%m/%Y %H:%M"\n', "timestamp.timezone"),
        ('[timestamp]\nformat = "iso"\ntimezone = "Asia/Shang"\n', "timestamp.timezone"),
    ],
)
def test_a_bad_map_names_its_file_and_field(
    logs: dict[str, Path], tmp_path: Path, text: str, where: str
) -> None:
    bad = tmp_path / "map.toml"
    bad.write_text(text, encoding="utf-8")
    for cmd in (
        ["score", str(logs["zh"]), "--platform", "taobao"],
        ["calibrate", str(logs["zh"]), "--out", str(tmp_path / "o")],
    ):
        res = CliRunner().invoke(main, [*cmd, "--columns", str(bad)])
        out = res.output + res.stderr
        assert res.exit_code == 2, out
        assert str(bad) in out and where in out and "invalid column map" in out, out
        assert "Traceback" not in out
    assert not (tmp_path / "o").exists()


def test_an_export_that_does_not_fit_its_map_says_which_column_and_row(
    logs: dict[str, Path], tmp_path: Path
) -> None:
    # The map's header is not in the file: named by the export's name and the import's.
    res = CliRunner().invoke(
        main,
        ["score", str(logs["std"]), "-p", "taobao", "--columns", str(MAPS / "qianniu-zh.toml")],
    )
    assert res.exit_code == 2
    assert "'会话ID' (conversation_id)" in res.output + res.stderr
    # A sender value the map does not know, and a month-first date: the row and why.
    text = logs["zh"].read_text(encoding="utf-8-sig").splitlines()
    head, first, *rest = text
    odd = first.replace(",买家,", ",游客,", 1)
    day_first = rest[0].split(",")
    day_first[4] = "13/31/2026 10:00:00.000"
    bad = tmp_path / "chats.csv"
    bad.write_text("\n".join([head, odd, ",".join(day_first), *rest[1:]]) + "\n", encoding="utf-8")
    res = CliRunner().invoke(
        main, ["score", str(bad), "-p", "taobao", "--columns", str(MAPS / "qianniu-zh.toml")]
    )
    out = res.output + res.stderr
    assert res.exit_code == 2
    assert "line 2: unknown sender '游客'; allowed: " in out and "买家" in out
    assert "line 3: unreadable timestamp '13/31/2026 10:00:00.000'" in out
    assert "%d/%m/%Y %H:%M:%S.%f" in out
