"""Shops, pools and inquiry types named in Chinese, Thai and Vietnamese, end to end.

A seller names a pool 客服组 and an inquiry type 售前: the scenario validates,
``--set`` addresses the pool by that name, the CSV files and figures carry it,
and a name the CSV columns or ``--set`` paths could not hold is refused with
what is allowed.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main

POOL = "客服组"  # CS team
TYPES = {"pre_sale": "售前", "order_status": "ตามพัสดุ", "after_sale": "hậu_mãi"}


def _scenario(tmp_path: Path, pool: str = POOL, bare_key: bool = False) -> Path:
    text = (SCENARIOS / "small-shop.toml").read_text(encoding="utf-8")
    text = text.replace('name = "small-shop"', 'name = "小店 · ร้านค้า · Cửa hàng"')
    text = text.replace('name = "team"', f'name = "{pool}"')
    for old, new in TYPES.items():
        text = text.replace(f'name = "{old}"', f'name = "{new}"')
        # skills = { pre_sale = 1.0, ... }: a non-ASCII key must be quoted in TOML
        key = new if bare_key and old == "pre_sale" else f'"{new}"'
        text = text.replace(f"{old} = 1.0", f"{key} = 1.0")
    path = tmp_path / "shop.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unicode_names_simulate_and_reach_the_files(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        # matplotlib warns on a glyph its fonts lack: a name drawn as boxes fails here
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing.*")
        res = CliRunner().invoke(
            main, ["simulate", str(path), "-r", "1", "-w", "1", "--out", str(out), "--figures"]
        )
    assert res.exit_code == 0, res.output + res.stderr
    with (out / "pools.csv").open(encoding="utf-8") as f:
        pools = {row["pool"] for row in csv.DictReader(f)}
    assert pools == {POOL}
    with (out / "conversations-r0.csv").open(encoding="utf-8") as f:
        types = {row["type"] for row in csv.DictReader(f)}
    assert types == set(TYPES.values())
    assert "小店 · ร้านค้า · Cửa hàng" in (out / "summary.json").read_text(encoding="utf-8")


def test_set_addresses_a_pool_by_its_chinese_name(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    res = CliRunner().invoke(
        main,
        [
            "compare",
            str(path),
            "-r",
            "1",
            "-w",
            "1",
            "--json",
            "--set",
            f"pools.{POOL}.speed=1.0,1.2",
        ],
    )
    assert res.exit_code == 0, res.output + res.stderr
    res = CliRunner().invoke(
        main, ["compare", str(path), "-r", "1", "-w", "1", "--set", "pools.客服.speed=1.2"]
    )
    assert res.exit_code == 2
    assert "no element of pools is named '客服'; did you mean '客服组'?" in res.stderr


@pytest.mark.parametrize("bad", ["9组", "客服 组", "客服.组", "-组"])
def test_a_name_no_column_or_path_can_hold_is_refused(tmp_path: Path, bad: str) -> None:
    res = CliRunner().invoke(main, ["validate", str(_scenario(tmp_path, pool=bad))])
    assert res.exit_code == 2
    assert f'pools[0].name = "{bad}"' in res.stderr  # shown as written, not \\u-escaped
    assert "letters (any script" in res.stderr and "Traceback" not in res.output


def test_a_bare_chinese_key_says_to_quote_it(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["validate", str(_scenario(tmp_path, bare_key=True))])
    assert res.exit_code == 2
    assert "(at line" in res.stderr and "must be quoted in TOML" in res.stderr
