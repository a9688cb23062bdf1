"""Bad input for the agent-model choices, and `peakdesk erlang` with handle times by level.

A scenario that names an unknown discipline or shift-end policy, or gives a
multiplier table that is too short or decreases, exits 2 with the field path
and what is allowed; `peakdesk erlang --aht 180,210,240s` reproduces
:func:`peakdesk.analytic.chat.chat_metrics` exactly and says what it measures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from peakdesk.analytic.chat import agents_for_chat_target, chat_metrics
from peakdesk.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL_SHOP = (ROOT / "scenarios" / "small-shop.toml").read_text(encoding="utf-8")


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert "Traceback" not in res.output + res.stderr
    return res.exit_code, res.stderr


def _pool_lines(tmp_path: Path, lines: str) -> tuple[int, str]:
    """The small shop with the pool's lines for the keys in ``lines`` replaced by them."""
    keys = {ln.split("=")[0].strip() for ln in lines.splitlines()}
    out = []
    for ln in SMALL_SHOP.splitlines():
        if ln.split("=")[0].strip() in keys:
            continue  # one pool, so each of these keys is the pool's own
        out.append(ln)
        if ln.startswith("max_concurrency"):
            out.append(lines)
    return _validate(tmp_path, "\n".join(out) + "\n")


@pytest.mark.parametrize(
    ("lines", "path", "allowed"),
    [
        ('discipline = "round_robin"', "pools[0].discipline", "'sequential' or 'parallel'"),
        ('shift_end = "vanish"', "pools[0].shift_end", "'drain', 'hand_back' or 'log_off'"),
        ('shift_end = "log_off"', "pools[0].shift_end_grace", "needs the time"),
        ('shift_end_grace = "5min"', "pools[0].shift_end_grace", "only to shift_end = 'log_off'"),
        (
            "compose_multiplier_by_concurrency = [1.0, 1.1, 1.2]",
            "pools[0].compose_multiplier_by_concurrency",
            "needs 4 values",
        ),
        (
            "compose_multiplier_by_concurrency = [1.0, 1.2, 1.1, 1.3]",
            "pools[0].compose_multiplier_by_concurrency[2]",
            "must not decrease",
        ),
    ],
)
def test_bad_agent_model_fields_name_the_field(
    tmp_path: Path, lines: str, path: str, allowed: str
) -> None:
    code, err = _pool_lines(tmp_path, lines)
    assert code == 2
    assert path in err and allowed in err, err


def test_unknown_patience_semantics_is_refused(tmp_path: Path) -> None:
    text = SMALL_SHOP.replace('patience_until = "first_reply"', 'patience_until = "never"', 1)
    code, err = _validate(tmp_path, text)
    assert code == 2
    assert "inquiry_types[0].patience_until" in err
    assert "'first_reply' or 'assignment'" in err


def test_agent_model_fields_are_accepted(tmp_path: Path) -> None:
    lines = 'discipline = "parallel"\nshift_end = "log_off"\nshift_end_grace = "5min"'
    code, err = _pool_lines(tmp_path, lines)
    assert code == 0, err


# --------------------------------------------------------------------------- erlang


def _erlang(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["erlang", *args])
    return res.exit_code, res.stdout, res.stderr


def test_erlang_with_handle_times_by_level_is_the_chat_model_exactly() -> None:
    code, out, _ = _erlang("--rate", "240", "--aht", "180,210,240s", "--patience", "1min", "--json")
    assert code == 0
    data = json.loads(out)
    lam, h = 240 / 3600, [180.0, 210.0, 240.0]
    n = agents_for_chat_target(lam, 3, h, 60.0, 20.0, 0.8)
    r = chat_metrics(lam, n, 3, h, 60.0, 20.0)
    assert data["agents"] == n and data["concurrency"] == 3
    assert data["handle_time_s"] == h
    for key, value in [
        ("p_wait", r.p_wait),
        ("p_abandon", r.p_abandon),
        ("asa_s", r.mean_wait_s),
        ("service_level", r.sl_served),
        ("service_level_offered_wait", r.sl_offered),
        ("occupancy", r.slot_utilisation),
    ]:
        assert data[key] == value, key  # the same computation, bit for bit
    assert data["load_erlangs"] == pytest.approx(lam * 240.0 / 3)
    assert "not abandoned" in data["definitions"]["service_level"]
    assert "those who abandon included" in data["definitions"]["asa_s"]
    # Written with a unit on every item, or evaluated at a given staffing: the same.
    code, out, _ = _erlang(
        "--rate", "240", "--aht", "3min,3.5min,4min", "--patience", "1min", "-n", str(n), "--json"
    )
    assert json.loads(out)["p_wait"] == r.p_wait


def test_erlang_text_states_its_definitions() -> None:
    code, out, _ = _erlang("--rate", "240", "--aht", "180,210,240s")
    assert code == 0
    assert "by chats held 1..3" in out
    assert "definitions:" in out and "offered wait" in out
    assert math.isfinite(float(out.split("load ")[1].split()[0]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--aht", "180,210s"], "2 handle times for --concurrency 3"),
        (["--aht", "240s,200s,260s"], "must not decrease"),
        (["--aht", "180,210,240"], "write e.g. '180,210,240s'"),
        (["--aht", "180s,,240s"], "empty item"),
    ],
)
def test_erlang_refuses_a_bad_handle_time_table(args: list[str], message: str) -> None:
    extra = ["-m", "3"] if args[1] == "180,210s" else []
    code, _, err = _erlang("--rate", "240", *args, *extra)
    assert code == 2 and message in err, err
