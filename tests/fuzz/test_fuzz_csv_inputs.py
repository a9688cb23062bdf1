"""Fuzz: chat-log exports (``score``), forecast CSVs, history CSVs, team files (``quote``).

Files are written as users' tools write them: UTF-8 with or without a BOM,
latin-1, GBK, UTF-16, CRLF or CR line ends, columns reordered, missing or
extra, mixed UTC offsets, empty files and header-only files, huge numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.strategies import (
    EDGE_NUMBERS,
    ENCODINGS,
    NEWLINES,
    PROFILE,
    STATS,
    TEAM_DOCS,
    UNICODE_TEXT,
    SilentDrop,
    check_outcome,
    csv_says_where,
    encode_text,
    fuzz_settings,
    invoke,
    mutate_document,
    tiny_doc,
    toml_dumps,
    write_scenario,
)
from peakdesk.experiment.checks import estimate_size
from peakdesk.rules.registry import PLATFORMS
from peakdesk.scenario import ScenarioError, load_scenario

START = dt.datetime(2026, 11, 11, 0, 0)
OFFSETS = ("+08:00", "+08:00", "+07:00", "Z", "-05:00", "+05:45", "+14:00", "", "+0800", "+25:00")


def _stamp(t: dt.datetime, offset: str) -> str:
    """A local time in an offset's zone written with that offset (same instant)."""
    if offset in ("", "+0800", "+25:00"):
        return t.isoformat() + offset
    tz = dt.UTC if offset == "Z" else dt.datetime.strptime(offset, "%z").tzinfo
    local = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(tz)
    text = local.replace(tzinfo=None).isoformat()
    return text + offset


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _data_rows(text: str) -> int:
    """Rows the chat-log reader must count: every non-blank record after the header."""
    records = list(csv.reader(io.StringIO(text, newline="")))
    body = records[1:]
    return sum(1 for r in body if r and not (len(r) == 1 and not r[0].strip()))


# ---------------------------------------------------------------------------
# Chat logs
# ---------------------------------------------------------------------------

LOG_COLUMNS = ("conversation_id", "sender", "timestamp", "agent_id", "ordered", "leave_message")
SENDERS = ("buyer", "buyer", "agent", "agent", "bot", "auto", "BUYER", " agent ", "seller", "")
FLAGS = ("0", "1", "true", "False", "yes", "", "maybe", "2")


@st.composite
def chat_log_text(draw: st.DrawFn) -> str:
    cols = list(LOG_COLUMNS[:3]) + draw(st.lists(st.sampled_from(LOG_COLUMNS[3:]), unique=True))
    cols = draw(st.permutations(cols))
    change = draw(st.sampled_from(["none"] * 6 + ["drop", "extra", "dup", "case", "space"]))
    header = list(cols)
    if change == "drop":
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif change == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["note", "客服"])))
    elif change == "dup":
        header.append(header[0])
    elif change == "case":
        header = [h.title() for h in header]
    elif change == "space":
        header = [f" {h} " for h in header]
    rows: list[list[str]] = [header]
    n_conv = draw(st.integers(0, 5))
    for c in range(n_conv):
        cid = draw(st.one_of(st.just(f"c{c}"), st.sampled_from(UNICODE_TEXT), st.text(max_size=4)))
        t = START + dt.timedelta(seconds=draw(st.integers(0, 3 * 86400)))
        for k in range(draw(st.integers(1, 4))):
            sender = "buyer" if k == 0 else draw(st.sampled_from(SENDERS))
            offset = draw(st.sampled_from(OFFSETS))
            stamp = _stamp(t, offset)
            stamp = draw(
                st.one_of(
                    st.just(stamp),
                    st.just(stamp),
                    st.just(stamp),
                    st.sampled_from(["", "yesterday", "2026-13-01T00:00:00+08:00",
                                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                     "2026-11-11T23:59:60+08:00", "2026-11-11T00:00:00.123456789Z",
                                     "1e308", "nan", "2026-11-11 00:00:05+08:00"]),
                )
            )  # fmt: skip
            cells = {
                "conversation_id": cid,
                "sender": sender,
                "timestamp": stamp,
                "agent_id": draw(st.sampled_from(["a1", "小王", "", "a,2"])),
                "ordered": draw(st.sampled_from(FLAGS)),
                "leave_message": draw(st.sampled_from(FLAGS)),
            }
            row = [cells.get(h.strip().lower(), "x") for h in header]
            width = draw(st.sampled_from(["same"] * 8 + ["short", "long"]))
            if width == "short" and row:
                row = row[:-1]
            elif width == "long":
                row = [*row, "extra"]
            rows.append(row)
            t += dt.timedelta(seconds=draw(st.sampled_from([0, 1, 30, 600, 86400, -60])))
    if draw(st.booleans()):
        rows = [rows[0], *draw(st.permutations(rows[1:]))]
    text = _csv_text(rows)
    shape = draw(st.sampled_from(["as is"] * 8 + ["empty", "header only", "blank lines", "nul"]))
    if shape == "empty":
        return ""
    if shape == "header only":
        return _csv_text(rows[:1])
    if shape == "blank lines":
        return text.replace("\n", "\n\n", 2)
    if shape == "nul":
        return text[: len(text) // 2] + "\x00" + text[len(text) // 2 :]
    return text


@fuzz_settings("chat_log")
@given(
    text=chat_log_text(),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(NEWLINES),
    platform=st.sampled_from([*PLATFORMS, "tmall"]),
    skip=st.booleans(),
    as_json=st.booleans(),
)
def test_chat_log(
    text: str, encoding: str, newline: str, platform: str, skip: bool, as_json: bool
) -> None:
    STATS.case("chat_log")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        raw = encode_text(text, encoding, newline)
        path.write_bytes(raw)
        args = ["score", str(path), "--platform", platform]
        args += ["--skip-bad-rows"] if skip else []
        args += ["--json"] if as_json else []
        res = invoke(args)
        what = f"{encoding} {newline!r} {platform} skip={skip}\n{text[:2000]}"
        check_outcome(res, files=[path], what=what, target="chat_log", where=csv_says_where)
        if res.exit_code == 0 and as_json:
            data = json.loads(res.stdout)
            decoded = raw.decode("utf-8-sig")
            expected = _data_rows(decoded)
            if data["rows"] != expected:
                raise SilentDrop(f"{what}: {data['rows']} rows read of {expected}")
            if data["skipped_rows"] != sum(data["skipped_by_reason"].values()):
                raise SilentDrop(f"{what}: skipped rows and reasons disagree: {data}")
            if not skip and data["skipped_rows"]:
                raise SilentDrop(f"{what}: rows skipped without --skip-bad-rows")


@pytest.mark.skipif(PROFILE != "long", reason="long profile only (PEAKDESK_FUZZ=long)")
@fuzz_settings("chat_log_million")
@given(offset=st.sampled_from(["+08:00", "Z"]))
def test_chat_log_of_a_million_rows(offset: str) -> None:
    """A 10^6-row export (long profile only): read, scored, every row counted."""
    STATS.case("chat_log_million")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "million.csv"
        base = START.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            fh.write("conversation_id,sender,timestamp,agent_id\r\n")
            for k in range(500_000):
                t = base + dt.timedelta(seconds=k * 0.5)
                u = t.astimezone(dt.UTC) if offset == "Z" else t
                b = u.isoformat().replace("+00:00", "Z")
                a = (u + dt.timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
                fh.write(f"c{k},buyer,{b},\r\nc{k},agent,{a},a{k % 300}\r\n")
        res = invoke(["score", str(path), "--platform", "taobao", "--json"])
        check_outcome(res, files=[path], what="million", target="chat_log_million")
        assert json.loads(res.stdout)["rows"] == 1_000_000


# ---------------------------------------------------------------------------
# Forecast CSVs
# ---------------------------------------------------------------------------

FORECAST_TYPES = ("pre_sale", "after_sale")


def _forecast_scenario(directory: Path, forecast_name: str) -> Path:
    doc = tiny_doc()
    doc["calendar"] = {**doc["calendar"], "start": START, "horizon": "1d"}
    doc["demand"] = {"profile": "csv", "forecast": forecast_name}
    for t in doc["inquiry_types"]:
        t.pop("share", None)
        t["share"] = 1.0
    return write_scenario(directory, "fc.toml", doc)


COUNTS = (*[str(x) for x in EDGE_NUMBERS], "", "lots", "1,5", "1e400", "0x10", "  7 ", "3.")


@st.composite
def forecast_text(draw: st.DrawFn) -> str:
    """A forecast the tiny scenario can use, then (mostly) one thing done to it."""
    counts = [["conversations"], list(FORECAST_TYPES), ["conversations", *FORECAST_TYPES]]
    cols = ["interval_start", *draw(st.sampled_from(counts))]
    step = draw(st.sampled_from([900.0, 900.0, 3600.0, 60.0]))
    n = draw(st.integers(2, 12))
    offsets = [draw(st.sampled_from(["", "", "+08:00", "+09:00", "Z", "+0800"])) for _ in range(n)]
    cells = [
        {c: draw(st.sampled_from(["3", "10.5", "0", "120", "0.25"])) for c in cols[1:]}
        for _ in range(n)
    ]
    for row in cells:
        if "conversations" in row and all(c in row for c in FORECAST_TYPES):
            row["conversations"] = repr(sum(float(row[c]) for c in FORECAST_TYPES))
    start_s = 0.0
    change = draw(
        st.sampled_from(
            ["none"] * 4
            + ["reorder", "drop", "extra", "dup", "first", "step", "start", "cell", "cell",
               "swap", "empty", "header only", "blank lines"]
        )
    )  # fmt: skip
    header = list(cols)
    if change == "reorder":
        header = [cols[0], *draw(st.permutations(cols[1:]))]
    elif change == "drop" and len(cols) > 2:
        header.pop(draw(st.integers(1, len(cols) - 1)))
    elif change == "extra":
        header.append(draw(st.sampled_from(["refunds", "双十一", ""])))
    elif change == "dup":
        header.append(header[-1])
    elif change == "first":
        header = draw(st.permutations(cols))
    elif change == "step":
        step = draw(st.sampled_from([7.0, 1e-6, 0.5, 59.0, 86400.0, 1800.0]))
    elif change == "start":
        start_s = draw(st.sampled_from([-900.0, 450.0, 86400.0 - 900.0, 86400.0]))
    elif change == "cell":
        row = draw(st.integers(0, n - 1))
        col = draw(st.sampled_from(cols[1:]))
        cells[row][col] = draw(st.sampled_from(COUNTS))
    rows: list[list[str]] = [header]
    for k in range(n):
        t = START + dt.timedelta(seconds=start_s + k * step)
        stamp = _stamp(t, offsets[k])
        rows.append([stamp if c == "interval_start" else cells[k].get(c, "1") for c in header])
    if change == "swap":
        i, j = draw(st.integers(1, n)), draw(st.integers(1, n))
        rows[i], rows[j] = rows[j], rows[i]
    if change == "empty":
        return ""
    if change == "header only":
        return _csv_text(rows[:1])
    text = _csv_text(rows)
    return text.replace("\n", "\n\n", 2) if change == "blank lines" else text


def _forecast_where(message: str) -> bool:
    """A line of the forecast, or (a run too large: the file's sum) ``demand.forecast``."""
    return csv_says_where(message) or "demand.forecast = " in message


@fuzz_settings("forecast")
@given(
    text=forecast_text(),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(NEWLINES),
    simulate=st.integers(0, 3),
)
def test_forecast_csv(text: str, encoding: str, newline: str, simulate: int) -> None:
    STATS.case("forecast")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fc = directory / "forecast.csv"
        fc.write_bytes(encode_text(text, encoding, newline))
        path = _forecast_scenario(directory, fc.name)
        res = invoke(["validate", str(path)])
        what = f"{encoding} {newline!r}\n{text[:2000]}"
        check_outcome(res, files=[fc], what=what, target="forecast", where=_forecast_where)
        if res.exit_code == 0 and simulate == 0:
            try:
                size = estimate_size(load_scenario(path))
            except ScenarioError:
                return
            if size.conversations <= 2000:
                res = invoke(["simulate", str(path), "-r", "1", "-w", "1"])
                check_outcome(res, files=[fc], what=what, target="forecast")


# ---------------------------------------------------------------------------
# History CSVs
# ---------------------------------------------------------------------------

METRICS = ("shopee.crr", "taobao.response_3min", "shopee.crrr", "lazada.response_rate", "",
           "客服.x", "crr")  # fmt: skip
HIST_COUNTS = [str(x) for x in EDGE_NUMBERS]
HIST_VALUES = ("0.9", "93%", "%", "abc", "nan", "inf", "-1", "1e308", "", "100%", "1.5")


@st.composite
def history_text(draw: st.DrawFn) -> str:
    """A usable history, then (mostly) one thing done to it."""
    cols = ["date", "metric", "count", "value"]
    day = dt.date(2026, 11, 3)
    metric = draw(st.sampled_from(["shopee.crr", "taobao.response_3min", "lazada.response_rate"]))
    n = draw(st.integers(1, 8))
    rows_cells = [
        {
            "date": (day + dt.timedelta(days=k)).isoformat(),
            "metric": metric,
            "count": draw(st.sampled_from(["2300", "0", "12.5", "40"])),
            "value": draw(st.sampled_from(["0.91", "93%", "0.5", "1"])),
        }
        for k in range(n)
    ]
    change = draw(
        st.sampled_from(
            ["none"] * 4
            + ["reorder", "drop", "extra", "case", "cell", "cell", "cell", "short", "empty",
               "header only", "twice"]
        )
    )  # fmt: skip
    header = list(cols)
    if change == "reorder":
        header = draw(st.permutations(cols))
    elif change == "drop":
        header.pop(draw(st.integers(0, 3)))
    elif change == "extra":
        header.append("note")
    elif change == "case":
        header = [c.upper() for c in cols]
    elif change == "cell":
        k = draw(st.integers(0, n - 1))
        col = draw(st.sampled_from(cols))
        pool = {
            "date": ("11/03/2026", "", "9999-12-31", "0001-01-01", "2026-02-30", "2026-11-03"),
            "metric": METRICS,
            "count": HIST_COUNTS,
            "value": HIST_VALUES,
        }[col]
        rows_cells[k][col] = draw(st.sampled_from(pool))
    elif change == "twice" and n > 1:
        rows_cells[1]["date"] = rows_cells[0]["date"]
    rows = [header]
    for k, cells in enumerate(rows_cells):
        row = [cells.get(c.lower(), "x") for c in header]
        if change == "short" and k == n - 1:
            row = row[:-1]
        rows.append(row)
    if change == "empty":
        return ""
    if change == "header only":
        return _csv_text(rows[:1])
    return _csv_text(rows)


LOG_FOR_HISTORY = (
    "conversation_id,sender,timestamp\n"
    "c1,buyer,2026-11-11T10:00:00+08:00\n"
    "c1,agent,2026-11-11T10:00:30+08:00\n"
    "c2,buyer,2026-11-11T11:00:00+08:00\n"
)


@fuzz_settings("history")
@given(
    text=history_text(),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(NEWLINES),
    via=st.sampled_from(["score", "scenario"]),
    platform=st.sampled_from(["shopee", "taobao", "lazada"]),
)
def test_history_csv(text: str, encoding: str, newline: str, via: str, platform: str) -> None:
    STATS.case("history")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        hist = directory / "history.csv"
        hist.write_bytes(encode_text(text, encoding, newline))
        what = f"{via} {platform} {encoding} {newline!r}\n{text[:2000]}"
        if via == "score":
            log = directory / "log.csv"
            log.write_text(LOG_FOR_HISTORY, encoding="utf-8")
            args = ["score", str(log), "--platform", platform, "--history", str(hist)]
        else:
            doc = tiny_doc()
            doc["scenario"]["platform"] = platform
            doc["targets"] = {"history": hist.name, "require": [f"{platform}.{_metric(platform)}"]}
            args = ["validate", str(write_scenario(directory, "h.toml", doc))]
        res = invoke(args)
        check_outcome(res, files=[hist], what=what, target="history", where=csv_says_where)


def _metric(platform: str) -> str:
    return {
        "shopee": "crr >= 80%",
        "taobao": "response_3min >= 0.8",
        "lazada": "response_rate >= 0.8",
    }[platform]


# ---------------------------------------------------------------------------
# Team files (quote)
# ---------------------------------------------------------------------------


def _tiny_team() -> dict[str, Any]:
    pools = tiny_doc()["pools"]
    return {"pools": pools, "subaccounts": {"count": 3}}


@fuzz_settings("team")
@given(
    base=st.sampled_from(["tiny", *sorted(TEAM_DOCS)]),
    data=st.data(),
    encoding=st.sampled_from(["utf-8"] * 6 + ["latin-1", "utf-16", "utf-8-sig"]),
)
def test_team_file(base: str, data: st.DataObject, encoding: str) -> None:
    STATS.case("team")
    doc: Any = _tiny_team() if base == "tiny" else TEAM_DOCS[base]
    team, m = data.draw(mutate_document(doc), label="mutation")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        client_doc = tiny_doc()
        client_doc["calendar"] = {**client_doc["calendar"], "horizon": "1h"}
        client = write_scenario(directory, "client.toml", client_doc)
        team_path = directory / "team.toml"
        team_path.write_bytes(encode_text(toml_dumps(team), encoding, "\n"))
        res = invoke(["quote", str(client), "--team", str(team_path), "-r", "2", "-w", "1"])
        check_outcome(
            res,
            files=[team_path],
            what=f"{base}: {m.describe()} ({encoding})",
            target="team",
            allowed_codes=(0, 1, 2),
        )
