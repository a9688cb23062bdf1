"""Strategy comparison: ``--set`` overrides, sweeps, common random numbers, tables, figures."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import SCENARIOS, base_dict, loaded
from peakdesk.experiment.compare import (
    ALL_TARGETS,
    Comparison,
    compare,
    variants_from_files,
    variants_from_sets,
)
from peakdesk.report.compare_figures import wrap_label, write_compare_figures
from peakdesk.scenario import ScenarioError, load_scenario
from peakdesk.scenario.overrides import (
    SetSyntaxError,
    apply_settings,
    grid,
    parse_path,
    parse_set,
    set_value,
)

TARGETS = {"require": ["service_level(3min) >= 0.8", "service_level(30s) >= 0.5"]}


def two_pools() -> dict[str, Any]:
    """The base scenario with an in-house and an outsourced pool."""
    d = base_dict(targets=TARGETS)
    outsourced = copy.deepcopy(d["pools"][0])
    outsourced |= {"name": "outsourced", "kind": "outsourced", "hourly_cost": 6.0}
    d["pools"] = [d["pools"][0] | {"name": "inhouse"}, outsourced]
    return d


def problems(exc: pytest.ExceptionInfo[ScenarioError]) -> str:
    return "\n".join(exc.value.problems)


# ---------------------------------------------------------------------------
# Parsing and applying --set
# ---------------------------------------------------------------------------


def test_values_are_read_as_toml_and_bare_text_is_kept() -> None:
    s = parse_set('a.b=3, 0.8,true,"3min",3min,[1, 2],{x = 1, y = "a,b"},08:00')
    assert s.steps == ("a", "b")
    assert s.values == (3, 0.8, True, "3min", "3min", [1, 2], {"x": 1, "y": "a,b"}, "08:00")
    assert s.texts[5] == "[1, 2]"
    assert parse_set("demand.multiplier=1.2").values == (1.2,)
    assert parse_path('pools[1].shifts.0."odd.name"') == ("pools", 1, "shifts", "0", "odd.name")


@pytest.mark.parametrize("bad", ["demand.multiplier", "=3", "a=", "a=1,,2", "a..b=1", "a.=1"])
def test_unreadable_options(bad: str) -> None:
    with pytest.raises(SetSyntaxError):
        parse_set(bad)


def test_set_by_name_by_index_nested_and_new_keys() -> None:
    d = two_pools()
    out = apply_settings(
        d,
        [
            ("pools.outsourced.max_concurrency", 3),
            ("pools[0].hourly_cost", 12.5),
            ("pools.0.shifts.0.agents", 4),  # an unnamed shift: by index
            ("demand.daily_cv", 0.2),  # not in the file: the schema allows it
            ("routing.idle_close", "2min"),  # a whole table the file leaves out
            ("inquiry_types.q.conversion", {"base": 0.4, "half_life": "5min"}),
            ("rules.taobao.exclude_bot_resolved", True),  # a free-form table
        ],
    )
    assert d == two_pools(), "the input is not changed"
    spec = loaded(out).spec
    assert [p.max_concurrency for p in spec.pools] == [1, 3]
    assert spec.pools[0].hourly_cost == 12.5
    assert spec.pools[0].shifts[0].agents == 4
    assert spec.demand.daily_cv == 0.2
    assert spec.routing.idle_close == 120.0
    conv = spec.inquiry_types[0].conversion
    assert conv is not None and conv.half_life == 300.0
    assert spec.rules["taobao"] == {"exclude_bot_resolved": True}
    # One table in two places of a dict built in Python: a change lands at one path only.
    shared = base_dict()
    shared["pools"].append(shared["pools"][0] | {"name": "other"})  # same `shifts` list
    changed = apply_settings(shared, [("pools.other.shifts.0.agents", 5)])
    assert [p["shifts"][0]["agents"] for p in changed["pools"]] == [2, 5]


def test_unknown_pool_names_the_file_path_what_exists_and_the_nearest() -> None:
    d = two_pools()
    with pytest.raises(ScenarioError) as exc:
        set_value(d, "pools.inhose.max_concurrency", 3, file="shop.toml")
    msg = str(exc.value)
    assert msg.startswith("shop.toml:")
    assert "pools.inhose.max_concurrency" in msg
    assert "did you mean 'inhouse'?" in msg
    assert "inhouse, outsourced" in msg
    with pytest.raises(ScenarioError) as exc:
        set_value(d, "pools[5].speed", 2.0)
    assert "out of range" in problems(exc) and "0..1" in problems(exc)


def test_unknown_field_suggests_and_lists_the_level() -> None:
    with pytest.raises(ScenarioError) as exc:
        set_value(base_dict(), "demand.multiplyer", 1.2)
    msg = problems(exc)
    assert "demand has no field 'multiplyer'; did you mean 'multiplier'?" in msg
    assert "profile, volume_per_day" in msg  # what the file has there
    with pytest.raises(ScenarioError, match="is a value"):
        set_value(base_dict(), "demand.multiplier.x", 1)


def test_bad_value_is_reported_with_the_field_path_and_the_variant() -> None:
    with pytest.raises(ScenarioError) as exc:
        variants_from_sets(two_pools(), ["pools.outsourced.max_concurrency=2,0"], path="x.toml")
    msg = problems(exc)
    assert "pools[1].max_concurrency = 0" in msg
    assert "--set pools.outsourced.max_concurrency=0" in msg
    # A new table missing a required field: the path of the missing field.
    with pytest.raises(ScenarioError, match=r"inquiry_types\[0\]\.conversion\.half_life"):
        variants_from_sets(base_dict(), ["inquiry_types.q.conversion.base=0.4"])


def test_grid_is_the_full_product_with_labels() -> None:
    points = grid(["pools.inhouse.max_concurrency=3,4", "demand.multiplier=0.8,1,1.2"])
    assert [p.label for p in points][:4] == [
        "pools.inhouse.max_concurrency=3, demand.multiplier=0.8",
        "pools.inhouse.max_concurrency=3, demand.multiplier=1",
        "pools.inhouse.max_concurrency=3, demand.multiplier=1.2",
        "pools.inhouse.max_concurrency=4, demand.multiplier=0.8",
    ]
    assert len(points) == 6
    variants = variants_from_sets(
        two_pools(), ["pools.inhouse.max_concurrency=3,4", "demand.multiplier=0.8,1,1.2"]
    )
    got = [(p.spec.pools[0].max_concurrency, p.spec.demand.multiplier) for _, p in variants]
    assert got == [(c, m) for c in (3, 4) for m in (0.8, 1.0, 1.2)]
    with pytest.raises(SetSyntaxError, match="given twice"):
        grid(["demand.multiplier=1", "demand.multiplier=2"])
    with pytest.raises(SetSyntaxError, match="same seed"):
        variants_from_sets(base_dict(), ["simulation.seed=1,2"])
    assert "\n" in wrap_label(points[0].label)


def test_variants_from_files_and_loaded_scenarios() -> None:
    shop = SCENARIOS / "small-shop.toml"
    variants = variants_from_sets(shop, ["pools.team.max_concurrency=2,3"], include_base=True)
    assert [label for label, _ in variants] == [
        "base",
        "pools.team.max_concurrency=2",
        "pools.team.max_concurrency=3",
    ]
    assert all(v.path == shop.resolve() for _, v in variants)
    again = variants_from_sets(load_scenario(shop), ["pools.team.max_concurrency=2"])
    assert again[0][1].spec == variants[1][1].spec
    with pytest.raises(ScenarioError, match="pass its data"):
        variants_from_sets(loaded(base_dict()), ["demand.multiplier=2"])
    files = variants_from_files([shop, SCENARIOS / "tmall-double11.toml"])
    assert [label for label, _ in files] == ["small-shop", "tmall-double11"]


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------


def test_identical_variants_give_identical_results_and_zero_paired_difference() -> None:
    same = loaded(base_dict(targets=TARGETS))
    cmp = compare([("a", same), ("b", same)], replications=3, seed=11)
    a, b = (v.evaluation for v in cmp.variants)
    assert [r.summary for r in a.replications] == [r.summary for r in b.replications]
    for r1, r2 in zip(a.replications, b.replications, strict=True):
        assert np.array_equal(r1.intervals.backlog, r2.intervals.backlog)
    diffs = cmp.differences()
    assert {d["measure"] for d in diffs} == {"total_cost", "conversions_lost", "peak_backlog"}
    assert all(d["mean"] == d["low"] == d["high"] == 0.0 for d in diffs)
    # Every variant runs the comparison's seed, not its own; workers change nothing.
    other = loaded(base_dict(targets=TARGETS, simulation={"seed": 99, "replications": 1}))
    par = compare([("a", same), ("c", other)], replications=3, seed=11, workers=2)
    assert [r.summary for r in par.variants[1].evaluation.replications] == [
        r.summary for r in a.replications
    ]


def test_more_demand_never_lowers_the_backlog_on_common_random_numbers() -> None:
    """A deterministic claim, replication by replication.

    One agent, one chat at a time, one buyer message per conversation, no
    abandonment, a flat profile: a first-come-first-served single server.
    Arrivals are unit-rate epochs mapped through the cumulative intensity, so
    with the multiplier ``c`` the k-th buyer arrives at ``E_k / (c * rate)``
    with the same message and compose time: a larger ``c`` brings every buyer
    earlier and adds buyers at the end.  Lindley's recursion then gives every
    buyer a wait at least as long, so the backlog's integral (message-seconds
    waiting), its peak (reached at an arrival) and the conversation count
    cannot fall, and arrivals up to any time cannot either.
    """
    d = base_dict()
    d["calendar"]["horizon"] = "12h"
    d["pools"][0]["shifts"][0]["agents"] = 1
    d["demand"]["volume_per_day"] = 1200
    multipliers = ["0.6", "0.9", "1", "1.15", "1.3"]
    cmp = compare(
        variants_from_sets(d, [f"demand.multiplier={','.join(multipliers)}"]),
        replications=8,
        seed=5,
    )
    assert cmp.labels[0] == "demand.multiplier=0.6"
    horizon_bins = 48
    for lo, hi in zip(cmp.variants, cmp.variants[1:], strict=False):
        for a, b in zip(lo.evaluation.replications, hi.evaluation.replications, strict=True):
            assert a.replication == b.replication
            assert b.summary.conversations >= a.summary.conversations
            assert b.summary.peak_backlog >= a.summary.peak_backlog
            area_a = float(np.sum(a.intervals.backlog)) * a.intervals.interval_s
            area_b = float(np.sum(b.intervals.backlog)) * b.intervals.interval_s
            assert area_b >= area_a * (1 - 1e-12)
            cum_a = np.cumsum(a.intervals.arrivals[:horizon_bins])
            cum_b = np.cumsum(b.intervals.arrivals[:horizon_bins])
            assert np.all(cum_b >= cum_a)
        assert (
            hi.evaluation.estimates()["peak_backlog"].mean
            >= lo.evaluation.estimates()["peak_backlog"].mean
        )
    # The paired differences against the lowest demand are all >= 0 for the backlog.
    backlog = [r for r in cmp.differences() if r["measure"] == "peak_backlog"]
    assert all(r["mean"] >= 0 for r in backlog) and backlog[-1]["mean"] > 0


@pytest.fixture(scope="module")
def small_comparison() -> Comparison:
    variants = variants_from_sets(
        two_pools(), ["pools.outsourced.shifts.0.agents=0,1,2"], path="shop.toml"
    )
    return compare(variants, replications=3, seed=3)


def test_tidy_table_has_one_row_per_variant_and_measure(small_comparison: Comparison) -> None:
    cmp = small_comparison
    rows = cmp.table()
    measures = list(dict.fromkeys(r["measure"] for r in rows))
    assert measures == [
        "total_cost",
        "cost_per_conversation",
        *TARGETS["require"],
        ALL_TARGETS,
        "conversions_lost",
        "peak_backlog",
        "within_3min",
        "abandonment_rate",
        "first_reply_p90_s",
    ]
    assert len(rows) == len(cmp.variants) * len(measures)
    assert {(r["variant"], r["measure"]) for r in rows} == {
        (v, m) for v in cmp.labels for m in measures
    }
    assert set(rows[0]) == {"variant", "measure", "mean", "low", "high", "unit"}
    units = {r["measure"]: r["unit"] for r in rows}
    assert units["total_cost"] == "CNY" and units[ALL_TARGETS] == "probability"
    for r in rows:
        if r["unit"] == "probability":
            assert 0.0 <= r["low"] <= r["mean"] <= r["high"] <= 1.0  # Wilson
    # More outsourced agents on the same buyers: the cost goes up by their pay exactly.
    cost = [r["mean"] for r in rows if r["measure"] == "total_cost"]
    assert cost[1] - cost[0] == pytest.approx(24 * 6.0) and cost[2] - cost[1] == pytest.approx(144)
    wide = cmp.wide()
    assert [w["variant"] for w in wide] == cmp.labels
    assert list(wide[0]) == [
        "variant",
        "cost",
        "cost_low",
        "cost_high",
        *(f"P({t})" for t in TARGETS["require"]),
        "P(all targets)",
        "conversions_lost",
        "peak_backlog",
    ]
    text = cmp.format()
    assert "pools.outsourced.shifts.0.agents=2" in text and "common random numbers" in text
    over = cmp.over_time()
    assert {r["variant"] for r in over} == set(cmp.labels)
    assert over[0]["start"].utcoffset().total_seconds() == 8 * 3600


def test_to_pandas(small_comparison: Comparison) -> None:
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(ImportError, match="pip install pandas"):
            small_comparison.to_pandas()
    else:
        frame = small_comparison.to_pandas()
        assert len(frame) == len(small_comparison.table())


def test_figures_are_written(small_comparison: Comparison, tmp_path: Path) -> None:
    written = write_compare_figures(small_comparison, tmp_path / "fig")
    assert sorted(p.name for p in written) == [
        "compare-backlog.png",
        "compare-backlog.svg",
        "compare-summary.png",
        "compare-summary.svg",
    ]
    for p in written:
        data = p.read_bytes()
        assert len(data) > 5000
        if p.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert b"<svg" in data[:2000]
    assert not list((tmp_path / "fig").glob(".*.tmp"))
