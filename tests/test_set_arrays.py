"""``--set PATH+=V`` and ``PATH-=NAME``: append to and remove from arrays (a pool, a shift)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main
from peakdesk.scenario import ScenarioError
from peakdesk.scenario.overrides import SetSyntaxError, grid, parse_set, read_raw, sweep

SMALL = SCENARIOS / "small-shop.toml"
NIGHT = '{start = "20:00", length = "4h", agents = 3}'


def _variants(*options: str) -> list[tuple[str, object]]:
    return sweep(read_raw(SMALL), list(options), file=SMALL)


def test_parse_set_reads_the_operation() -> None:
    s = parse_set(f"pools.team.shifts+={NIGHT}")
    assert (s.op, s.steps, s.sign) == ("append", ("pools", "team", "shifts"), "+=")
    assert s.values == ({"start": "20:00", "length": "4h", "agents": 3},)
    r = parse_set("pools.team.shifts-=evening,0")
    assert (r.op, r.values) == ("remove", ("evening", 0))
    assert parse_set("demand.multiplier=1.2").op == "set"


def test_append_a_shift_and_remove_shifts_by_name_and_index() -> None:
    base = read_raw(SMALL)
    names = [s.get("name") for s in base["pools"][0]["shifts"]]
    assert names == ["day", "evening"]
    [(label, added)] = _variants(f"pools.team.shifts+={NIGHT}")
    shifts = added.spec.pools[0].shifts  # type: ignore[attr-defined]
    assert label == f"pools.team.shifts+={NIGHT}" and len(shifts) == 3
    assert (shifts[2].agents, shifts[2].length) == (3, 4 * 3600.0)
    out = _variants("pools.team.shifts-=evening,0")
    assert [lab for lab, _ in out] == ["pools.team.shifts-=evening", "pools.team.shifts-=0"]
    kept = [[s.name for s in v.spec.pools[0].shifts] for _, v in out]  # type: ignore[attr-defined]
    assert kept == [["day"], ["evening"]]
    # The file's data is left as it was.
    assert [s.get("name") for s in base["pools"][0]["shifts"]] == names


def test_append_and_remove_on_one_array_together() -> None:
    [(label, v)] = _variants(f"pools.team.shifts+={NIGHT}", "pools.team.shifts-=day")
    assert label == f"pools.team.shifts+={NIGHT}, pools.team.shifts-=day"
    assert [s.name for s in v.spec.pools[0].shifts] == ["evening", ""]  # type: ignore[attr-defined]


def test_the_same_edit_twice_is_refused() -> None:
    with pytest.raises(SetSyntaxError, match="given twice"):
        grid([f"pools.team.shifts+={NIGHT}", "pools.team.shifts+=" + NIGHT])


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("pools.team.shifts-=night", "no element of pools.team.shifts is named 'night'"),
        ("pools.team.shifts-=5", "index 5 is out of range"),
        ("pools.team-=x", "is an element of pools, not an array"),
        ("demand.multiplier+=2", "demand.multiplier is not an array"),
        ("pools.team.shifts-={a = 1}", "takes the name or the index"),
    ],
)
def test_bad_edits_name_the_path_and_what_is_allowed(option: str, says: str) -> None:
    with pytest.raises(ScenarioError) as info:
        _variants(option)
    assert says in "\n".join(info.value.problems)


def test_removing_the_only_pool_is_a_validation_error_naming_the_variant() -> None:
    with pytest.raises(ScenarioError) as info:
        _variants("pools-=team")
    text = "\n".join(info.value.problems)
    assert "pools" in text and "variant: --set pools-=team" in text


def test_compare_a_planned_shift_beside_the_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["compare", str(SMALL), "-r", "1", "-w", "1", "--with-base", "--json",
         "--set", f"pools.team.shifts+={NIGHT}"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr
    rows = json.loads(res.stdout)
    cost = {r["variant"]: r["mean"] for r in rows if r["measure"] == "total_cost"}
    # 3 agents x 4 h x 3 days at the pool's hourly cost (the evening shift added).
    assert set(cost) == {"base", f"pools.team.shifts+={NIGHT}"}
    assert cost[f"pools.team.shifts+={NIGHT}"] - cost["base"] == pytest.approx(1080.0)
