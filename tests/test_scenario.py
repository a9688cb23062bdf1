"""Scenario files: loading, durations, error messages for people, JSON Schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conftest import SCENARIOS, base_dict
from peakdesk.scenario import ScenarioError, json_schema, load_scenario, parse_scenario
from peakdesk.units import parse_duration_s

SMALL_SHOP = SCENARIOS / "small-shop.toml"


def _error(d: dict[str, Any]) -> str:
    """The message of the ScenarioError raised for ``d``."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(d)
    return str(info.value)


def _two_types() -> dict[str, Any]:
    """``base_dict`` with a second inquiry type 'r' (served by the same skill)."""
    d = base_dict()
    second = copy.deepcopy(d["inquiry_types"][0])
    second["name"] = "r"
    second["skill"] = "q"
    d["inquiry_types"].append(second)
    return d


# ---------------------------------------------------------------------------
# Shipped scenarios
# ---------------------------------------------------------------------------


def test_small_shop_loads() -> None:
    sc = load_scenario(SMALL_SHOP)
    spec = sc.spec
    assert sc.path == SMALL_SHOP.resolve()
    assert spec.scenario.name == "small-shop"
    assert spec.calendar.timezone == "Asia/Shanghai"
    assert spec.calendar.horizon == 3 * 86400.0
    assert spec.calendar.interval == 900.0
    assert spec.calendar.start_aware.utcoffset() == dt.timedelta(hours=8)
    assert [t.name for t in spec.inquiry_types] == ["pre_sale", "order_status", "after_sale"]
    assert spec.demand.profile == "double11"
    (pool,) = spec.pools
    assert pool.headcount == 4
    day = pool.shifts[0]
    assert day.start == 9 * 3600.0
    assert day.length == 9 * 3600.0
    assert day.breaks[0].after == 4 * 3600.0
    assert pool.shifts[1].breaks[0].after == 3.5 * 3600.0
    assert spec.inquiry_types[0].patience.dist == "exponential"
    assert spec.inquiry_types[0].patience.mean == 240.0  # type: ignore[union-attr]
    assert spec.subaccounts.count == 4


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path: Path) -> None:
    assert load_scenario(path).spec.scenario.name


# ---------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("3min", 180.0),
        ("1h30min", 5400.0),
        ("12h", 43200.0),
        ("1d", 86400.0),
        ("2.5h", 9000.0),
        ("250ms", 0.25),
        (" 1h 30min ", 5400.0),
        ("0s", 0.0),
    ],
)
def test_duration_parses(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "90", "3 minutes", "-3min", "h", "1h30"])
def test_duration_refuses_text_without_unit(text: str) -> None:
    with pytest.raises(ValueError, match="min"):
        parse_duration_s(text)


def test_duration_fields_parse_in_a_scenario() -> None:
    d = base_dict()
    d["calendar"]["horizon"] = "1h30min"
    d["inquiry_types"][0]["patience"] = {"dist": "exponential", "mean": "3min"}
    d["inquiry_types"][0]["wrap_up"] = "90s"
    spec = parse_scenario(d)
    assert spec.calendar.horizon == 5400.0
    assert spec.inquiry_types[0].patience.mean == 180.0  # type: ignore[union-attr]
    assert spec.inquiry_types[0].wrap_up == 90.0


def test_bare_number_duration_is_refused_naming_the_unit() -> None:
    d = base_dict()
    d["calendar"]["horizon"] = 3
    msg = _error(d)
    assert "calendar.horizon" in msg
    assert "3" in msg
    assert "unit" in msg
    assert "3min" in msg  # an example of what is allowed


# ---------------------------------------------------------------------------
# Error messages: field path, bad value, what is allowed
# ---------------------------------------------------------------------------


def test_unknown_key_is_named() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agnts"] = 2
    msg = _error(d)
    assert "pools[0].shifts[0].agnts" in msg
    assert "unknown field" in msg


def test_unknown_top_level_section_is_named() -> None:
    d = base_dict()
    d["simulaton"] = {"seed": 1}
    msg = _error(d)
    assert "simulaton" in msg
    assert "unknown field" in msg


def test_missing_required_field() -> None:
    d = base_dict()
    del d["pools"][0]["shifts"][0]["agents"]
    msg = _error(d)
    assert "pools[0].shifts[0].agents" in msg
    assert "missing" in msg


def test_out_of_range_value_names_path_value_and_bound() -> None:
    d = base_dict()
    d["pools"][0]["shifts"][0]["agents"] = -1
    msg = _error(d)
    assert "pools[0].shifts[0].agents" in msg
    assert "-1" in msg
    assert "greater than or equal to 0" in msg


def test_bad_timezone() -> None:
    d = base_dict()
    d["calendar"]["timezone"] = "Asia/Shangai"
    msg = _error(d)
    assert "calendar.timezone" in msg
    assert "Asia/Shangai" in msg
    assert "Asia/Shanghai" in msg  # an example of a valid zone


def test_bad_value_inside_a_discriminated_union_has_no_tag_in_its_path() -> None:
    d = _two_types()
    d["inquiry_types"][1]["patience"] = {"dist": "exponential", "mean": "-3min"}
    msg = _error(d)
    assert "inquiry_types[1].patience.mean" in msg
    assert "exponential" not in msg
    assert "-3min" in msg
    assert "3min" in msg.replace("-3min", "")  # the allowed form is shown too


def test_unknown_dist_lists_the_allowed_ones() -> None:
    d = _two_types()
    d["inquiry_types"][1]["patience"] = {"dist": "weibull", "mean": "3min"}
    msg = _error(d)
    assert "inquiry_types[1].patience" in msg
    assert "weibull" in msg
    for allowed in ("fixed", "exponential", "lognormal", "gamma", "uniform", "none"):
        assert allowed in msg


def test_shares_summing_to_zero() -> None:
    d = _two_types()
    d["inquiry_types"][0]["share"] = 0.0
    d["inquiry_types"][1]["share"] = 0.0
    msg = _error(d)
    assert "inquiry_types" in msg, msg  # the path, not "(top level)"
    assert "share" in msg
    assert "> 0" in msg


def test_type_needing_a_skill_no_pool_has() -> None:
    d = _two_types()
    d["inquiry_types"][1]["skill"] = "french"
    msg = _error(d)
    assert "inquiry_types[1].skill" in msg, msg  # the path, not "(top level)"
    assert "french" in msg
    assert "'q'" in msg  # the skills the pools do have


def test_compose_multiplier_of_the_wrong_length() -> None:
    d = base_dict()
    d["pools"][0]["max_concurrency"] = 3
    d["pools"][0]["compose_multiplier_by_concurrency"] = [1.0, 1.2]
    msg = _error(d)
    assert "pools[0]" in msg
    assert "compose_multiplier_by_concurrency" in msg
    assert "got 2" in msg
    assert "3 values" in msg


def test_break_outside_its_shift() -> None:
    d = base_dict()
    shift = d["pools"][0]["shifts"][0]
    shift["length"] = "8h"
    shift["breaks"] = [
        {"after": "1h", "length": "15min"},
        {"after": "7h", "length": "1h", "stagger": "30min"},
    ]
    msg = _error(d)
    assert "pools[0].shifts[0]" in msg
    assert "breaks[1]" in msg, msg  # which break
    # the bad value: the break ends at 8h30min, after the 8 h shift
    assert any(s in msg for s in ("8h30min", "8.5h", "510min", "510.0min", "30600")), msg


def test_subaccount_count_above_platform_cap() -> None:
    d = base_dict(subaccounts={"count": 10, "platform_cap": 5})
    msg = _error(d)
    assert "subaccounts" in msg
    assert "count" in msg
    assert "10" in msg
    assert "5" in msg


def test_csv_profile_without_forecast() -> None:
    d = base_dict(demand={"profile": "csv"})
    msg = _error(d)
    assert "demand" in msg
    assert "forecast" in msg
    assert "csv" in msg


def test_csv_forecast_file_that_does_not_exist(tmp_path: Path) -> None:
    text = SMALL_SHOP.read_text(encoding="utf-8")
    text = text.replace('profile = "double11"', 'profile = "csv"\nforecast = "nope.csv"')
    text = re.sub(r"volume_per_day = \d+", "", text)
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "demand.forecast" in msg
    assert "nope.csv" in msg
    assert "not found" in msg


def test_every_problem_is_reported_at_once() -> None:
    d = base_dict()
    d["calendar"]["timezone"] = "Mars/Olympus"
    d["pools"][0]["shifts"][0]["agents"] = -1
    with pytest.raises(ScenarioError) as info:
        parse_scenario(d)
    assert len(info.value.problems) == 2
    assert "calendar.timezone" in str(info.value)
    assert "pools[0].shifts[0].agents" in str(info.value)


def test_not_toml(tmp_path: Path) -> None:
    p = tmp_path / "broken.toml"
    p.write_text('[scenario]\nname = "x"\nthis is not toml\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "broken.toml" in msg
    assert "TOML" in msg
    assert "line 3" in msg


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "absent.toml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "absent.toml" in msg
    assert "cannot read" in msg


# ---------------------------------------------------------------------------
# JSON Schema
# ---------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/")
    return schema["$defs"][ref.removeprefix("#/$defs/")]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_json_schema_is_json_with_every_section() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["type"] == "object"
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    sections = {
        "scenario",
        "calendar",
        "demand",
        "inquiry_types",
        "pools",
        "subaccounts",
        "routing",
        "simulation",
        "targets",
    }
    assert sections <= set(schema["properties"])
    assert {"scenario", "calendar", "demand", "inquiry_types", "pools", "subaccounts"} <= set(
        schema["required"]
    )
    for ref in _refs(schema):
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def test_json_schema_durations_are_strings_with_a_pattern() -> None:
    schema = json_schema()
    calendar = _resolve(schema, schema["properties"]["calendar"])
    horizon = calendar["properties"]["horizon"]
    assert horizon["type"] == "string"
    pattern = re.compile(horizon["pattern"])
    for good in ("90s", "3min", "1h30min", "12h", "2.5h", "1d"):
        assert pattern.search(good), good
    for bad in ("90", "3 minutes", "-3min", ""):
        assert not pattern.search(bad), bad
    # inside a discriminated union too
    exponential = schema["$defs"]["Exponential"]["properties"]["mean"]
    assert exponential["type"] == "string"
    assert exponential["pattern"] == horizon["pattern"]


def test_json_schema_duration_defaults_fit_their_own_schema() -> None:
    """An editor inserts a default as written; a bare number would then be refused."""
    schema = json_schema()
    bad = []
    for name, definition in schema["$defs"].items():
        for field, prop in definition.get("properties", {}).items():
            if "pattern" in prop and "default" in prop:
                default = prop["default"]
                if not (isinstance(default, str) and re.search(prop["pattern"], default)):
                    bad.append(f"{name}.{field} default {default!r}")
    assert not bad, bad


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, (dt.datetime, dt.date, dt.time)):
        return x.isoformat()
    return x


def test_json_schema_validates_the_shipped_scenario() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = _jsonable(tomllib.loads(SMALL_SHOP.read_text(encoding="utf-8")))
    jsonschema.validate(data, json_schema())
    data["pools"][0]["shifts"][0]["agnts"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
