"""Every failure the fuzz suite found, on the smallest input that showed it.

Each test runs the command line on that input.  Before the fix each one raised
(a traceback), ran away with memory or time, exited 2 without naming the
file, or passed an absurd value; now each exits 2 with the file, the field path
or line, and what is allowed (or, where the input is fine, succeeds).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fuzz.strategies import (
    SCENARIOS,
    SHIPPED_DOCS,
    check_outcome,
    invoke,
    tiny_doc,
    toml_dumps,
    write_scenario,
)
from peakdesk.experiment.checks import SIZE_LIMITS, estimate_size
from peakdesk.scenario import load_scenario


def _exit_2(res: Any, path: Path, *fragments: str) -> str:
    """Exit 2, ``error:``, the file named, no traceback, and each fragment in the message."""
    check_outcome(res, files=[path], what=str(path), target="regressions", where=lambda _m: True)
    assert res.exit_code == 2, res.output
    for fragment in fragments:
        assert fragment in res.stderr, f"{fragment!r} not in\n{res.stderr}"
    return str(res.stderr)


def _tiny(tmp_path: Path, name: str = "tiny.toml", **changes: Any) -> Path:
    """The fuzz suite's tiny scenario with ``section__field=value`` changes."""
    doc = tiny_doc()
    for key, value in changes.items():
        node: Any = doc
        *steps, last = key.split("__")
        for step in steps:
            node = node[int(step)] if step.isdigit() else node[step]
        node[last] = value
    return write_scenario(tmp_path, name, doc)


def _shipped(tmp_path: Path, name: str, path: tuple[Any, ...], value: Any) -> Path:
    import copy

    doc = copy.deepcopy(SHIPPED_DOCS[name])
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return write_scenario(tmp_path, name, doc)


# ---------------------------------------------------------------------------
# Scenario files: absurd magnitudes refused at validation
# ---------------------------------------------------------------------------


def test_volume_per_day_1e308_is_refused_not_a_memory_error(tmp_path: Path) -> None:
    # Was: validate passed; simulate died in numpy with MemoryError (a traceback).
    path = _tiny(tmp_path, demand__volume_per_day=1e308)
    _exit_2(invoke(["validate", str(path)]), path, "demand.volume_per_day", "1000000000")


def test_a_billion_conversations_is_refused_even_with_no_size_limit(tmp_path: Path) -> None:
    path = _tiny(tmp_path, demand__volume_per_day=1e9, calendar__horizon="366d")
    res = invoke(["simulate", str(path), "--no-size-limit", "-r", "1", "-w", "1"])
    _exit_2(res, path, "demand.volume_per_day", "at most 1,000,000,000")


def test_a_run_past_the_compiled_engines_indices_names_the_field_and_the_way_out(
    tmp_path: Path,
) -> None:
    """Half a billion conversations of five messages: under the hard limit, past the
    compiled engine's 32-bit message indices; the reference engine may take it."""
    five = {"dist": "fixed", "value": 5}
    changes = {
        "demand__volume_per_day": 1e9,
        "calendar__horizon": "12h",
        "inquiry_types__0__messages": five,
        "inquiry_types__1__messages": five,
    }
    path = _tiny(tmp_path, **changes)
    err = _exit_2(invoke(["validate", str(path), "--no-size-limit"]), path, "too large to run")
    assert "demand.volume_per_day: ~2,500,000,000 buyer messages" in err
    assert "32-bit" in err and "--engine reference" in err
    ref = _tiny(tmp_path, "ref.toml", simulation__engine="reference", **changes)
    assert invoke(["validate", str(ref), "--no-size-limit"]).exit_code == 0


def test_speed_1e_9_is_refused_at_validation(tmp_path: Path) -> None:
    # Was: lazada-1111 with speed = 1e-9 on one pool validated, and simulate grew to
    # 10 GB in 30 s (agents draining chats whose replies take a thousand years).
    path = _shipped(tmp_path, "lazada-1111.toml", ("pools", 0, "speed"), 1e-9)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].speed", "allowed: pools[0].speed >=")


def test_a_tiny_proficiency_is_refused_like_a_tiny_speed(tmp_path: Path) -> None:
    # Was: OverflowError (cannot convert float infinity to integer).
    doc = tiny_doc()
    doc["pools"][0]["skills"]["pre_sale"] = 5e-324
    path = write_scenario(tmp_path, "tiny.toml", doc)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].skills.pre_sale", "allowed")


def test_slowdown_1e308_is_refused(tmp_path: Path) -> None:
    # Was: OverflowError (an infinite compose time).
    path = _tiny(tmp_path, pools__0__slowdown_per_extra_chat=1e308)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].slowdown_per_extra_chat", "100")


def test_horizon_of_a_million_days_is_refused_not_minutes_then_memory_error(
    tmp_path: Path,
) -> None:
    # Was: three minutes building 1.4 billion profile bins, then MemoryError.
    path = _tiny(tmp_path, calendar__horizon="1000000d")
    _exit_2(invoke(["validate", str(path)]), path, "calendar.horizon", "at most 366d")


@pytest.mark.parametrize(
    "start", [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59), dt.date(9999, 12, 31)]
)
def test_start_in_year_1_or_9999_is_refused_not_an_overflow(tmp_path: Path, start: Any) -> None:
    # Was: OverflowError (date value out of range) in the profile's local bin starts,
    # found by the fuzz suite through `compare --set calendar.start=9999-12-31T23:59:59`.
    path = _tiny(tmp_path)
    res = invoke(["compare", str(path), "--with-base", "--set", f"calendar.start={start}"])
    _exit_2(res, path, "calendar.start", "2000-2099")


def test_horizon_running_past_2099_is_refused(tmp_path: Path) -> None:
    path = _tiny(tmp_path, calendar__start=dt.datetime(2099, 12, 31), calendar__horizon="2d")
    _exit_2(invoke(["validate", str(path)]), path, "calendar.horizon", "before 2100-01-01")


def test_peak_date_9999_is_refused_not_an_overflow(tmp_path: Path) -> None:
    # Was: OverflowError in the Double-11 profile (peak day + after-sale days).
    path = _tiny(tmp_path, demand={"profile": "double11", "volume_per_day": 300,
                                   "double11": {"peak_date": dt.date(9999, 12, 31)}})  # fmt: skip
    _exit_2(invoke(["validate", str(path)]), path, "demand.double11.peak_date", "2000-2099")


def test_daily_cv_1e_300_is_refused_not_a_zero_division(tmp_path: Path) -> None:
    # Was: ZeroDivisionError in the day factors, Gamma(1 / cv^2, cv^2); found through --set.
    path = _tiny(tmp_path)
    res = invoke(["compare", str(path), "--with-base", "--set", "demand.daily_cv=1e-300"])
    _exit_2(res, path, "demand.daily_cv", "at least 0.001")


def test_replications_10_18_is_refused(tmp_path: Path) -> None:
    # Was: validate passed; simulate without -r would never have ended.
    path = _tiny(tmp_path, simulation__replications=10**18)
    _exit_2(invoke(["validate", str(path)]), path, "simulation.replications", "10000")


def test_agents_10_18_is_refused_not_a_hang(tmp_path: Path) -> None:
    # Was: validate built an agent per head for the warnings: a loop of 10^18.
    path = _tiny(tmp_path, pools__0__shifts__0__agents=10**18)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].shifts[0].agents", "100000")


def test_messages_10_18_is_refused(tmp_path: Path) -> None:
    path = _tiny(tmp_path, inquiry_types__0__messages={"dist": "fixed", "value": 10**18})
    _exit_2(invoke(["validate", str(path)]), path, "inquiry_types[0].messages.value", "10000")


def test_hourly_cost_1e308_is_refused_not_an_infinite_cost(tmp_path: Path) -> None:
    # Was: exit 0 with overflow warnings and an infinite cost.
    path = _tiny(tmp_path, pools__0__hourly_cost=1e308)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].hourly_cost")


def test_empirical_weights_of_1e308_are_refused_not_a_silently_wrong_mix(tmp_path: Path) -> None:
    # Was: exit 0; the weights' sum overflowed to inf and every draw took the last value.
    path = _tiny(tmp_path, inquiry_types__1__messages={
        "dist": "empirical", "values": [1, 2], "weights": [1e308, 1e308]})  # fmt: skip
    _exit_2(invoke(["validate", str(path)]), path, "inquiry_types[1].messages.weights[0]")


def test_reporting_interval_of_1ms_is_refused(tmp_path: Path) -> None:
    path = _tiny(tmp_path, calendar__interval="1ms")
    _exit_2(invoke(["validate", str(path)]), path, "calendar.interval", "at least 1s")


def test_plan_start_grid_of_1ms_is_refused(tmp_path: Path) -> None:
    doc = tiny_doc()
    doc["pools"][0]["plan"] = {"start_every": "1ms"}
    path = write_scenario(tmp_path, "tiny.toml", doc)
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].plan.start_every", "at least 1min")


@pytest.mark.parametrize("zone", ["Asia", "x" * 300])
def test_a_timezone_the_zone_database_cannot_open_is_an_error(tmp_path: Path, zone: str) -> None:
    # Was: IsADirectoryError ("Asia" is a folder of the zone database) and OSError
    # (file name too long) through the schema's validator: tracebacks.
    path = _tiny(tmp_path, calendar__timezone=zone)
    _exit_2(invoke(["validate", str(path)]), path, "calendar.timezone", "unknown IANA timezone")


def test_a_rule_timezone_the_zone_database_cannot_open_is_an_error(tmp_path: Path) -> None:
    path = _tiny(tmp_path, rules={"generic": {"timezone": "Asia"}})
    _exit_2(invoke(["validate", str(path)]), path, "rules.generic", "unknown IANA timezone")


def test_a_history_path_too_long_for_the_file_system_is_an_error(tmp_path: Path) -> None:
    # Was: OSError (file name too long) from Path.is_file.
    path = _tiny(tmp_path, targets={"history": "h" * 300 + ".csv"})
    _exit_2(invoke(["validate", str(path)]), path, "targets.history", "not a usable file name")


def test_a_scenario_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = _tiny(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert invoke(["validate", str(path)]).exit_code == 0


def test_a_utf16_scenario_says_so(tmp_path: Path) -> None:
    path = _tiny(tmp_path)
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    _exit_2(invoke(["validate", str(path)]), path, "UTF-16", "save it as UTF-8")


def test_a_latin1_byte_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(toml_dumps(tiny_doc()).replace('"tiny"', '"caf\xe9"').encode("latin-1"))
    _exit_2(invoke(["validate", str(path)]), path, "line 1 is not UTF-8", "0xe9")


# ---------------------------------------------------------------------------
# The size estimate before a run
# ---------------------------------------------------------------------------


def test_the_shipped_scenarios_are_within_the_size_limits() -> None:
    for path in sorted(SCENARIOS.glob("*.toml")):
        size = estimate_size(load_scenario(path))
        assert size.conversations < SIZE_LIMITS.conversations / 100, path
        assert size.memory_bytes < SIZE_LIMITS.memory_bytes / 10, path
    tmall = estimate_size(load_scenario(SCENARIOS / "tmall-double11.toml"))
    assert 140_000 < tmall.conversations < 160_000


def test_a_run_over_the_size_limit_names_the_field_and_the_flag(tmp_path: Path) -> None:
    path = _tiny(tmp_path, demand__volume_per_day=3e8)
    err = _exit_2(invoke(["validate", str(path)]), path, "too large to run", "--no-size-limit")
    assert "demand.volume_per_day: ~25,000,000 expected conversations" in err
    assert "over the limit of 20,000,000" in err
    # The estimate allocates nothing of the run's size: the flag lets validate pass.
    assert invoke(["validate", str(path), "--no-size-limit"]).exit_code == 0


def test_a_drain_of_years_names_the_slow_pool(tmp_path: Path) -> None:
    # A reply of ~15 years is within 100 horizons of 366 days (valid), but agents holding
    # three such chats would drain for decades: millions of reporting rows.
    path = _tiny(tmp_path, pools__0__speed=5e-8, calendar__horizon="366d")
    err = _exit_2(invoke(["validate", str(path)]), path, "pools[0].speed", "past the horizon")
    assert "reporting rows" in err


def test_many_agents_name_their_shift(tmp_path: Path) -> None:
    path = _tiny(tmp_path, pools__0__shifts__0__agents=100_000, calendar__horizon="366d")
    _exit_2(invoke(["validate", str(path)]), path, "pools[0].shifts[0].agents", "memory")


# ---------------------------------------------------------------------------
# Forecast, history, chat-log and team files
# ---------------------------------------------------------------------------


def _forecast(tmp_path: Path, text: str) -> tuple[Path, Path]:
    fc = tmp_path / "forecast.csv"
    fc.write_text(text, encoding="utf-8")
    doc = tiny_doc()
    doc["calendar"]["start"] = dt.datetime(2026, 11, 11)
    doc["calendar"]["horizon"] = "1d"
    doc["demand"] = {"profile": "csv", "forecast": fc.name}
    for t in doc["inquiry_types"]:
        t["share"] = 1.0
    return fc, write_scenario(tmp_path, "fc.toml", doc)


def test_a_forecast_count_of_1e308_names_the_file_and_line(tmp_path: Path) -> None:
    # Was: OverflowError (intermediate overflow in fsum) in the size estimate.
    fc, path = _forecast(
        tmp_path,
        "interval_start,conversations\n2026-11-11T00:00:00,3\n2026-11-11T00:15:00,1e+308\n",
    )
    _exit_2(invoke(["validate", str(path)]), fc, f"{fc}:3", "at most 1e+09")


def test_a_forecast_count_of_1e18_names_the_forecast_file(tmp_path: Path) -> None:
    # Was: exit 2 from the size estimate, naming demand.forecast but not the file.
    fc, path = _forecast(
        tmp_path, "interval_start,conversations\n2026-11-11T00:00:00,3\n2026-11-11T00:15:00,1e18\n"
    )
    _exit_2(invoke(["validate", str(path)]), fc, f"{fc}:3")


def test_forecast_intervals_of_a_microsecond_are_refused(tmp_path: Path) -> None:
    fc, path = _forecast(
        tmp_path,
        "interval_start,conversations\n2026-11-11T00:00:00,3\n2026-11-11T00:00:00.000001,3\n",
    )
    _exit_2(invoke(["validate", str(path)]), fc, f"{fc}:3", "at least 60 s")


def test_a_utf16_history_names_the_file_not_a_traceback(tmp_path: Path) -> None:
    # Was: UnicodeDecodeError (validate, through targets.history); and through
    # `score --history` an exit 2 whose message named neither file nor line.
    hist = tmp_path / "history.csv"
    hist.write_bytes("date,metric,count,value\n".encode("utf-16"))
    path = _tiny(tmp_path, targets={"history": hist.name})
    _exit_2(invoke(["validate", str(path)]), hist, "UTF-16")
    log = tmp_path / "log.csv"
    log.write_text("conversation_id,sender,timestamp\nc,buyer,2026-11-11T10:00:00+08:00\n")
    res = invoke(["score", str(log), "--platform", "shopee", "--history", str(hist)])
    _exit_2(res, hist, "UTF-16")


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("2026-11-01,shopee.crr,40,nan", "line 2: value 'nan' is not a finite number"),
        ("2026-11-01,shopee.crr,inf,0.9", "line 2: count 'inf'"),
        ("0001-01-01,shopee.crr,40,0.9", "line 2: date 0001-01-01 is out of range"),
        ("2026-11-01,shopee.crrr,40,0.9", "line 2: shopee has no metric 'shopee.crrr'"),
        ("2026-11-01,shopee.crr,40,0.9,extra", "line 2: more fields than the header"),
    ],
)
def test_history_rows_that_were_taken_or_dropped_silently(
    tmp_path: Path, row: str, fragment: str
) -> None:
    # Was: NaN and inf taken as values, a year-1 date stretched the series over two
    # millennia, a misspelt metric and an extra field were left out without a word.
    hist = tmp_path / "history.csv"
    hist.write_text(f"date,metric,count,value\n{row}\n", encoding="utf-8")
    log = tmp_path / "log.csv"
    log.write_text("conversation_id,sender,timestamp\nc,buyer,2026-11-11T10:00:00+08:00\n")
    res = invoke(["score", str(log), "--platform", "shopee", "--history", str(hist)])
    _exit_2(res, hist, fragment)


def test_a_history_of_another_platform_is_an_error_for_score(tmp_path: Path) -> None:
    hist = tmp_path / "history.csv"
    hist.write_text("date,metric,count,value\n2026-11-01,shopee.crr,40,0.9\n", encoding="utf-8")
    log = tmp_path / "log.csv"
    log.write_text("conversation_id,sender,timestamp\nc,buyer,2026-11-11T10:00:00+08:00\n")
    res = invoke(["score", str(log), "--platform", "lazada", "--history", str(hist)])
    _exit_2(res, hist, "line 2", "is a shopee metric")


def test_a_chat_log_time_in_year_9999_is_a_bad_row_not_an_overflow(tmp_path: Path) -> None:
    # Was: OverflowError in the rules' local calendar (9999-12-31T23:59:59-12:00 is
    # year 10000 in UTC); a log spanning years 1 to 9999 took minutes to score.
    log = tmp_path / "log.csv"
    log.write_text("conversation_id,sender,timestamp\nc,buyer,9999-12-31T23:59:59-12:00\n")
    res = invoke(["score", str(log), "--platform", "generic"])
    _exit_2(res, log, "line 2", "out of range", "2000-2099")


def test_a_chat_log_column_given_twice_is_an_error(tmp_path: Path) -> None:
    # Was: the second column's values were ignored without a word.
    log = tmp_path / "log.csv"
    log.write_text(
        "conversation_id,sender,timestamp,sender\nc,buyer,2026-11-11T10:00:00+08:00,agent\n"
    )
    _exit_2(invoke(["score", str(log), "--platform", "generic"]), log, "given twice")


def test_score_tz_the_zone_database_cannot_open_is_an_error(tmp_path: Path) -> None:
    # Was: IsADirectoryError from ZoneInfo("Asia"): a traceback.
    log = tmp_path / "log.csv"
    log.write_text("conversation_id,sender,timestamp\nc,buyer,2026-11-11T10:00:00+08:00\n")
    res = invoke(["score", str(log), "--platform", "generic", "--tz", "Asia"])
    assert res.exit_code == 2 and "--tz: unknown IANA timezone 'Asia'" in res.stderr
    assert "Traceback" not in res.output


def test_a_utf16_chat_log_says_so(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes("conversation_id,sender,timestamp\n".encode("utf-16"))
    _exit_2(invoke(["score", str(log), "--platform", "generic"]), log, "UTF-16")


def _team(tmp_path: Path, team: dict[str, Any], encoding: str = "utf-8") -> tuple[Path, Path]:
    client_doc = tiny_doc()
    client_doc["calendar"]["horizon"] = "1h"
    client = write_scenario(tmp_path, "client.toml", client_doc)
    path = tmp_path / "team.toml"
    path.write_bytes(toml_dumps(team).encode(encoding))
    return client, path


@pytest.mark.parametrize(
    ("team", "fragment"),
    [
        # Was: AttributeError ('str' object has no attribute 'get') in the merge.
        ({"pools": "双十一客服"}, "pools: '双十一客服' is not an array of tables"),
        # Was: TypeError ('int' object is not iterable).
        ({"pools": 0}, "pools: 0 is not an array of tables"),
        # Was: TypeError (unhashable type: 'list').
        ({"pools": [{"name": []}]}, "pools[0].name = []"),
        ({"pools": [{"name": "p", "shifts": [{"agents": "two"}]}]}, "pools[0].shifts[0].agents"),
        ({"pools": [{"name": "p", "shifts": 3}]}, "pools[0].shifts"),
    ],
)
def test_team_files_whose_shape_broke_the_merge(
    tmp_path: Path, team: dict[str, Any], fragment: str
) -> None:
    client, path = _team(tmp_path, team)
    res = invoke(["quote", str(client), "--team", str(path), "-r", "2", "-w", "1"])
    _exit_2(res, path, fragment)


def test_a_utf16_team_file_says_so(tmp_path: Path) -> None:
    # Was: UnicodeDecodeError in the merge (the file read as UTF-8 without a check).
    client, path = _team(tmp_path, {"pools": []}, encoding="utf-16")
    res = invoke(["quote", str(client), "--team", str(path), "-r", "2", "-w", "1"])
    _exit_2(res, path, "UTF-16")


def test_an_off_grid_forecast_names_its_line(tmp_path: Path) -> None:
    # Was: exit 2 naming the file but no line (the check ran on the parsed forecast).
    fc, path = _forecast(
        tmp_path, "interval_start,conversations\n2026-11-11T00:07:30,3\n2026-11-11T00:22:30,3\n"
    )
    _exit_2(invoke(["validate", str(path)]), fc, f"{fc}:2", "whole 900-second intervals")


def test_a_forecast_too_large_to_run_names_the_forecast_file(tmp_path: Path) -> None:
    # Was: the size refusal named demand.forecast, not the file the volume comes from.
    rows = "".join(f"2026-11-11T{h:02d}:00:00,1e9\n" for h in range(3))
    fc, path = _forecast(tmp_path, "interval_start,conversations\n" + rows)
    _exit_2(invoke(["validate", str(path)]), fc, "demand.forecast = 'forecast.csv'", "at most")


def test_a_scenario_cut_short_names_its_last_line(tmp_path: Path) -> None:
    # Was: "not valid TOML: ... (at end of document)": no line.
    path = tmp_path / "cut.toml"
    path.write_text('[scenario]\nname = "x"\n[calendar]\nstart', encoding="utf-8")
    _exit_2(invoke(["validate", str(path)]), path, "line 4 is the file's last")


def test_a_key_with_a_space_is_quoted_in_the_field_path(tmp_path: Path) -> None:
    # Was: "pools[0].skills.agents  = 0": the trailing space of the key was invisible.
    doc = tiny_doc()
    doc["pools"][0]["skills"]["agents "] = 0
    path = write_scenario(tmp_path, "tiny.toml", doc)
    _exit_2(invoke(["validate", str(path)]), path, 'pools[0].skills."agents " = 0')


@pytest.mark.parametrize("key", ["calendar", "colour"])
def test_an_unknown_table_of_a_team_file_is_named(tmp_path: Path, key: str) -> None:
    # Was: "a team file has [[pools]] and optionally [subaccounts], [routing]; found
    # [...]": the file, but no field named.
    client, path = _team(tmp_path, {"pools": tiny_doc()["pools"], key: 0})
    res = invoke(["quote", str(client), "--team", str(path), "-r", "2", "-w", "1"])
    _exit_2(res, path, f"  - {key}: unknown field")
