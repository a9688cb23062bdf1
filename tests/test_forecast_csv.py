"""Tests for peakdesk.demand.forecast_csv: a good file and every error message."""

from __future__ import annotations

import pickle
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from peakdesk.demand.forecast_csv import ForecastError, read_forecast_csv

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 11, 11, tzinfo=TZ)
HORIZON_S = 4 * 3600.0
TYPES = ("presale", "aftersale")


def write(tmp_path: Path, text: str, name: str = "forecast.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, types: tuple[str, ...] = TYPES) -> object:
    return read_forecast_csv(path, START, HORIZON_S, types)


def expect_error(path: Path, line: int | None, *fragments: str) -> ForecastError:
    with pytest.raises(ForecastError) as info:
        read(path)
    err = info.value
    assert err.path == path
    assert err.line == line
    for fragment in fragments:
        assert fragment in str(err), str(err)
    return err


def test_good_file_with_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffinterval_start,conversations,presale,aftersale\n"
        "2024-11-11T00:00:00+08:00,100,80,20\n"
        "2024-11-11 00:15,50.4,40,10\n"  # zone-less: Asia/Shanghai; within 0.5 of 50
        "2024-11-10T16:30:00Z,0,0,0\n"  # 00:30 local, written in UTC
        "\n",  # trailing blank line ignored
    )
    fc = read_forecast_csv(path, START, HORIZON_S, TYPES)
    np.testing.assert_array_equal(fc.interval_start_s, [0.0, 900.0, 1800.0])
    assert fc.interval_s == 900.0
    np.testing.assert_array_equal(fc.total, [100, 50.4, 0])
    assert fc.by_type is not None
    assert list(fc.by_type) == list(TYPES)
    np.testing.assert_array_equal(fc.by_type["presale"], [80, 40, 0])
    assert fc.total.dtype == np.float64 and fc.interval_start_s.dtype == np.float64


def test_total_only(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,conversations\n2024-11-11T01:00,7\n2024-11-11T02:00,9\n")
    fc = read_forecast_csv(path, START, HORIZON_S, TYPES)
    assert fc.by_type is None
    assert fc.interval_s == 3600.0
    np.testing.assert_array_equal(fc.interval_start_s, [3600.0, 7200.0])
    np.testing.assert_array_equal(fc.total, [7, 9])


def test_types_only_total_is_sum(tmp_path: Path) -> None:
    path = write(
        tmp_path, "interval_start,aftersale,presale\n2024-11-11T00:00,1,2.5\n2024-11-11T00:30,3,4\n"
    )
    fc = read_forecast_csv(path, START, HORIZON_S, TYPES)
    np.testing.assert_array_equal(fc.total, [3.5, 7])
    assert fc.by_type is not None
    np.testing.assert_array_equal(fc.by_type["presale"], [2.5, 4])


def test_offsets_across_dst_use_real_seconds(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    path = write(
        tmp_path,
        "interval_start,conversations\n"
        "2024-10-27T02:00+02:00,1\n2024-10-27T02:00+01:00,1\n2024-10-27T03:00+01:00,1\n",
    )
    fc = read_forecast_csv(path, datetime(2024, 10, 27, tzinfo=berlin), 86400.0, ())
    np.testing.assert_array_equal(fc.interval_start_s, [7200.0, 10800.0, 14400.0])


def test_unknown_column_names_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,conversations,refunds\n")
    expect_error(path, 1, "'refunds'", "allowed columns: conversations, presale, aftersale")


def test_first_column_must_be_interval_start(tmp_path: Path) -> None:
    path = write(tmp_path, "start,conversations\n")
    expect_error(path, 1, "first column must be 'interval_start'")


def test_duplicate_and_missing_columns(tmp_path: Path) -> None:
    expect_error(write(tmp_path, "interval_start,conversations,conversations\n"), 1, "duplicate")
    expect_error(write(tmp_path, "interval_start,presale\n", "b.csv"), 1, "missing: aftersale")
    expect_error(write(tmp_path, "interval_start\n", "c.csv"), 1, "need a 'conversations'")


def test_negative_count_names_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interval_start,conversations,presale,aftersale\n"
        "2024-11-11T00:00,3,2,1\n2024-11-11T00:15,3,4,-1\n",
    )
    expect_error(path, 3, "column 'aftersale'", "negative")


def test_non_numeric_count(tmp_path: Path) -> None:
    path = write(
        tmp_path, "interval_start,conversations\n2024-11-11T00:00,3\n2024-11-11T00:15,lots\n"
    )
    expect_error(path, 3, "column 'conversations'", "not a number: 'lots'")
    path = write(tmp_path, "interval_start,conversations\n2024-11-11T00:00,nan\n", "b.csv")
    with pytest.raises(ForecastError, match="not a finite number"):
        read(path)


def test_row_outside_horizon_names_line(tmp_path: Path) -> None:
    before = write(tmp_path, "interval_start,conversations\n2024-11-10T23:45,1\n2024-11-11,1\n")
    expect_error(before, 2, "outside the scenario horizon")
    after = write(
        tmp_path,
        "interval_start,conversations\n2024-11-11T03:00,1\n2024-11-11T04:00,1\n",
        "after.csv",
    )
    expect_error(after, 3, "outside the scenario horizon")


def test_bad_timestamp(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,conversations\n11/11/2024 00:00,1\n2024-11-11,1\n")
    expect_error(path, 2, "not an ISO 8601 date-time")


def test_not_increasing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interval_start,conversations\n2024-11-11T00:15,1\n2024-11-11T00:00,1\n",
    )
    expect_error(path, 3, "not after the previous row")


def test_unequal_spacing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interval_start,conversations\n"
        "2024-11-11T00:00,1\n2024-11-11T00:15,1\n2024-11-11T00:45,1\n",
    )
    expect_error(path, 4, "equally spaced", "1800 s", "expected 900 s")


def test_total_disagrees_with_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "interval_start,conversations,presale,aftersale\n"
        "2024-11-11T00:00,3,2,1\n2024-11-11T00:15,10,4,5\n",
    )
    expect_error(path, 3, "differs from the sum", "0.5")


def test_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,conversations\n2024-11-11T00:00,1,2\n")
    expect_error(path, 2, "expected 2 fields")


def test_empty_header_only_and_single_row(tmp_path: Path) -> None:
    expect_error(write(tmp_path, ""), None, "empty file")
    expect_error(write(tmp_path, "interval_start,conversations\n", "h.csv"), None, "no data rows")
    one = write(tmp_path, "interval_start,conversations\n2024-11-11T00:00,1\n", "one.csv")
    expect_error(one, None, "at least two")


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.csv", None, "cannot read the file")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"interval_start,conversations\n2024-11-11T00:00,1\xe9\n")
    expect_error(path, None, "not UTF-8")


def test_error_pickles(tmp_path: Path) -> None:
    err = ForecastError(tmp_path / "f.csv", 7, "bad")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.line, copy.message, str(copy)) == (err.path, 7, "bad", str(err))
    assert isinstance(copy, ValueError)


def test_caller_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,conversations\n")
    with pytest.raises(ValueError, match="timezone-aware"):
        read_forecast_csv(path, datetime(2024, 11, 11), HORIZON_S, TYPES)
    with pytest.raises(ValueError, match="horizon_s"):
        read_forecast_csv(path, START, 0.0, TYPES)
    with pytest.raises(ValueError, match="type_names"):
        read_forecast_csv(path, START, HORIZON_S, ("conversations",))
