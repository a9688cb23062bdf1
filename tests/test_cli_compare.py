"""Command line: peakdesk compare (files and --set sweeps)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main

SMALL_SHOP = SCENARIOS / "small-shop.toml"


def _run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_compare_sweep_writes_tables_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    res = _run(
        "compare",
        str(SMALL_SHOP),
        "--set",
        "demand.multiplier=0.8,1.2",
        "-r",
        "2",
        "-w",
        "1",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    text = res.output  # type: ignore[attr-defined]
    assert "demand.multiplier=0.8" in text and "demand.multiplier=1.2" in text
    assert "paired by replication" in text
    for name in ("compare.csv", "compare-wide.csv", "compare-differences.csv", "compare.json"):
        assert (out / name).is_file()
    for name in ("compare-summary", "compare-backlog"):
        assert (out / f"{name}.png").stat().st_size > 10_000
        assert "small-shop" in (out / f"{name}.svg").read_text(encoding="utf-8")
    doc = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [v["label"] for v in doc["variants"]] == [
        "demand.multiplier=0.8",
        "demand.multiplier=1.2",
    ]
    rows = {(r["variant"], r["measure"]): r for r in doc["table"]}
    # more buyers on the same sample path: never fewer conversations lost at the same staffing
    lost_lo = rows[("demand.multiplier=0.8", "conversions_lost")]["mean"]
    lost_hi = rows[("demand.multiplier=1.2", "conversions_lost")]["mean"]
    assert lost_hi > lost_lo


def test_compare_two_identical_files_differ_by_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    shutil.copy(SMALL_SHOP, a)
    shutil.copy(SMALL_SHOP, b)
    res = _run("compare", str(a), str(b), "-r", "2", "-w", "1", "--json")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    table = json.loads(res.output)  # type: ignore[attr-defined]
    by = {}
    for r in table:
        by.setdefault(r["measure"], {})[r["variant"]] = r["mean"]
    for measure, values in by.items():
        assert values["a"] == values["b"], measure  # common random numbers: the same run


def test_compare_bad_input_exits_2_with_the_path() -> None:
    res = _run("compare", str(SMALL_SHOP), "--set", "pools.tem.max_concurrency=2,3")
    assert res.exit_code == 2
    err = res.stderr  # type: ignore[attr-defined]
    assert "did you mean 'team'" in err and "Traceback" not in err
    res = _run("compare", str(SMALL_SHOP), "--set", "pools.team.max_concurrency=0,3")
    assert res.exit_code == 2
    assert "pools[0].max_concurrency" in res.stderr  # type: ignore[attr-defined]
    res = _run("compare", str(SMALL_SHOP), "--set", "nonsense")
    assert res.exit_code == 2 and "PATH=" in res.stderr  # type: ignore[attr-defined]
    res = _run("compare", str(SMALL_SHOP), "--set", "simulation.seed=1,2")
    assert res.exit_code == 2 and "same seed" in res.stderr  # type: ignore[attr-defined]
    res = _run("compare", str(SMALL_SHOP))
    assert res.exit_code == 2 and "nothing to compare" in res.stderr  # type: ignore[attr-defined]


def test_differences_pair_each_targets_worst_day(tmp_path: Path) -> None:
    from peakdesk.experiment.compare import compare, variants_from_sets
    from peakdesk.scenario.overrides import read_raw

    data = read_raw(SMALL_SHOP)
    data["targets"] = {"require": ["service_level(3min) >= 0.5"]}
    variants = variants_from_sets(
        data, ["pools.team.max_concurrency=1,3"], path=tmp_path / "shop.toml"
    )
    cmp = compare(variants, replications=3)
    rows = [r for r in cmp.differences(targets=True) if r["measure"].startswith("worst: ")]
    assert [r["measure"] for r in rows] == ["worst: service_level(3min) >= 0.5"]
    (row,) = rows
    worst = [[rep.targets[0].worst for rep in v.evaluation.replications] for v in cmp.variants]
    paired = [b - a for a, b in zip(worst[0], worst[1], strict=True)]
    assert row["mean"] == sum(paired) / 3 and row["unit"] == "share"
    assert row["low"] <= row["mean"] <= row["high"]
    text = cmp.format()
    assert "worst: service_level(3min) >= 0.5" in text and " pp " in text


def test_compare_refuses_one_field_set_twice_and_infinite_values() -> None:
    res = _run(
        "compare", str(SMALL_SHOP), "--set", "pools.team.speed=1,2", "--set", "pools[0].speed=3"
    )
    assert res.exit_code == 2 and "set the same field" in res.stderr  # type: ignore[attr-defined]
    res = _run("compare", str(SMALL_SHOP), "--set", "demand.multiplier=1,inf")
    assert res.exit_code == 2  # type: ignore[attr-defined]
    assert "demand.multiplier" in res.stderr and "Traceback" not in res.stderr  # type: ignore[attr-defined]
    res = _run("compare", str(SMALL_SHOP), "--set", "demand.multiplier=1,2", "--seed", "-1")
    assert res.exit_code == 2  # type: ignore[attr-defined]


def test_compare_checks_the_first_variant_before_running() -> None:
    res = _run(
        "compare",
        str(SMALL_SHOP),
        "--set",
        'targets.require=["taobao.nonexistent >= 0.9"],[]',
    )
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    assert "nonexistent" in res.stderr and "Traceback" not in res.stderr  # type: ignore[attr-defined]
