"""Calibration round trips on six shop archetypes: simulate, export, calibrate, backtest.

Each shop is simulated (one replication, its messages and conversation table
exported as a shop's back-office would), calibrated from that export with its
conversation table, and its own log backtested against the calibrated
scenario (20 runs, fitted values drawn from their intervals), on several seeds.
Printed per shop and seed: the backtest's figures inside the runs' middle 95%,
whether the discipline and patience semantics came back, the writing-time
multipliers against the truth, and each fitted mean against its generating
value (inside the 99% interval, Bonferroni over the means checked).

The shops (``SHOPS``): a night shift across midnight with nobody online
02:00-08:00 (two types with bots, the issue's shop); split shifts with breaks;
a backlog at utilisation near 1 with four chats; agents writing in parallel;
three types with bots; a small shop of about 100 conversations a day.

Run: ``.venv/bin/python benchmarks/calibrate_shops.py [--seeds 4] [--runs 20] [--shop NAME]``.
Several minutes on 2 cores; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from scipy import stats

TRUTH_MULT = [1.0, 1.15, 1.30, 1.45]


def _type(
    name: str, share: float, msgs: float, think: str, compose: str, patience: str, bot: float
) -> dict[str, Any]:
    return {
        "name": name,
        "share": share,
        "messages": {"dist": "geometric", "mean": msgs},
        "think_time": {"dist": "exponential", "mean": think},
        "compose_time": {"dist": "exponential", "mean": compose},
        "patience": {"dist": "exponential", "mean": patience},
        "bot_resolve": bot,
    }


def _shop(
    name: str,
    demand: dict[str, Any],
    types: list[dict[str, Any]],
    shifts: list[dict[str, Any]],
    *,
    chats: int = 3,
    discipline: str = "sequential",
    days: int = 3,
) -> dict[str, Any]:
    return {
        "scenario": {"name": name, "platform": "taobao"},
        "calendar": {
            "start": tomlkit.datetime("2026-11-10T00:00:00"),
            "horizon": f"{days}d",
            "timezone": "Asia/Shanghai",
            "interval": "15min",
        },
        "demand": demand,
        "inquiry_types": types,
        "pools": [
            {
                "name": "team",
                "skills": {t["name"]: 1.0 for t in types},
                "max_concurrency": chats,
                "compose_multiplier_by_concurrency": TRUTH_MULT[:chats],
                "discipline": discipline,
                "shift_end": "drain",
                "hourly_cost": 30.0,
                "shifts": shifts,
            }
        ],
        "subaccounts": {"count": 60},
    }


TWO = [
    _type("pre_sale", 0.6, 3.0, "40s", "18s", "6min", 0.2),
    _type("after_sale", 0.4, 2.5, "60s", "30s", "15min", 0.1),
]
THREE = [
    _type("pre_sale", 0.5, 3.0, "40s", "15s", "5min", 0.3),
    _type("order_status", 0.3, 2.0, "45s", "12s", "10min", 0.4),
    _type("after_sale", 0.2, 4.0, "60s", "35s", "20min", 0.1),
]
D11 = {"profile": "double11", "volume_per_day": 2500, "daily_cv": 0.0}

SHOPS: dict[str, dict[str, Any]] = {
    "night": _shop(
        "night",
        {**D11, "double11": {"peak_day_factor": 4.0, "first_hour_share": 0.12}},
        TWO,
        [
            {"name": "evening", "start": "16:00", "length": "10h", "agents": 6},
            {"name": "day", "start": "08:00", "length": "8h", "agents": 6},
        ],
    ),
    "split-breaks": _shop(
        "split-breaks",
        {"profile": "flat", "volume_per_day": 2000},
        TWO,
        [
            {
                "name": "am",
                "start": "08:00",
                "length": "6h",
                "agents": 4,
                "breaks": [{"after": "3h", "length": "30min", "stagger": "1h"}],
            },
            {
                "name": "pm",
                "start": "17:00",
                "length": "7h",
                "agents": 4,
                "breaks": [{"after": "3h", "length": "45min"}],
            },
        ],
    ),
    "backlog": _shop(
        "backlog",
        {"profile": "flat", "volume_per_day": 14000},
        [_type("q", 1.0, 2.5, "40s", "20s", "8min", 0.15)],
        [{"start": "00:00", "length": "24h", "agents": 8}],
        chats=4,
        days=2,
    ),
    "parallel": _shop(
        "parallel",
        {"profile": "flat", "volume_per_day": 6000},
        [_type("q", 1.0, 2.5, "40s", "20s", "4min", 0.2)],
        [{"start": "00:00", "length": "24h", "agents": 5}],
        discipline="parallel",
        days=2,
    ),
    "three-types": _shop(
        "three-types",
        {**D11, "volume_per_day": 3000, "double11": {"peak_day_factor": 3.0}},
        THREE,
        [
            {"name": "day", "start": "08:00", "length": "9h", "agents": 6},
            {"name": "late", "start": "15:00", "length": "9h", "agents": 6},
        ],
    ),
    "small": _shop(
        "small",
        {"profile": "flat", "volume_per_day": 100},
        [_type("q", 1.0, 3.0, "45s", "25s", "10min", 0.1)],
        [
            {"name": "am", "start": "09:00", "length": "4h", "agents": 1},
            {"name": "pm", "start": "17:00", "length": "5h", "agents": 1},
        ],
        chats=2,
    ),
}


def _peakdesk(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("peakdesk")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


def _seconds(text: str) -> float:
    from peakdesk.units import parse_duration_s

    return parse_duration_s(text)


def one(name: str, seed: int, runs: int, tmp: Path) -> dict[str, Any]:
    """One shop, one seed: the round trip's figures."""
    d = SHOPS[name]
    folder = tmp / f"{name}-{seed}"
    folder.mkdir()
    (folder / "shop.toml").write_text(tomlkit.dumps(d), encoding="utf-8")
    run = folder / "run"
    res = _peakdesk(
        "simulate", str(folder / "shop.toml"), "-r", "1", "--seed", str(seed), "--out", str(run)
    )
    assert res.returncode == 0, res.stderr
    fit = folder / "fit"
    res = _peakdesk(
        "calibrate",
        str(run / "messages-r0.csv"),
        "--conversations",
        str(run / "conversations-r0.csv"),
        "--out",
        str(fit),
    )
    assert res.returncode == 0, res.stderr
    res = _peakdesk(
        "backtest",
        str(run / "messages-r0.csv"),
        "--scenario",
        str(fit / "scenario.toml"),
        "--conversations",
        str(run / "conversations-r0.csv"),
        "--calibration",
        str(fit / "calibration.json"),
        "-r",
        str(runs),
        "--seed",
        "7",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    bt = json.loads(res.stdout)
    q = json.loads((fit / "calibration.json").read_text(encoding="utf-8"))["quantities"]
    got = tomlkit.parse((fit / "scenario.toml").read_text(encoding="utf-8")).unwrap()
    pool = got["pools"][0]
    many = len(d["inquiry_types"]) > 1
    checks: list[tuple[str, dict[str, Any], float]] = []
    for t in d["inquiry_types"]:
        prefix = f"{t['name']}." if many else ""
        checks.append(
            (
                f"{prefix}think_time",
                q.get(f"{prefix}think_time", {}),
                _seconds(t["think_time"]["mean"]),
            )
        )
        checks.append(
            (
                f"{prefix}patience_mean",
                q.get(f"{prefix}patience_mean", {}),
                _seconds(t["patience"]["mean"]),
            )
        )
        if many:
            checks.append(
                (
                    f"{prefix}compose_time",
                    q.get(f"{prefix}compose_time", {}),
                    _seconds(t["compose_time"]["mean"]),
                )
            )
            checks.append((f"{prefix}share", q.get(f"{prefix}share", {}), float(t["share"])))
        else:
            checks.append(
                (
                    "compose_time_at_1_chats",
                    q.get("compose_time_at_1_chats", {}),
                    _seconds(t["compose_time"]["mean"]),
                )
            )
        checks.append(
            (f"{prefix}bot_share", q.get(f"{prefix}bot_share", {}), float(t["bot_resolve"]))
        )
    # 99% simultaneous: each 95% interval widened to z(1 - 0.005/k).
    z = stats.norm.ppf(1 - 0.005 / len(checks)) / stats.norm.ppf(0.975)
    missed = []
    for label, est, truth in checks:
        if not est or est.get("low") is None:
            missed.append(f"{label}: not fitted")
            continue
        half = (est["high"] - est["low"]) / 2 * z
        if abs(est["value"] - truth) > half:
            missed.append(f"{label} {est['value']:.3g} vs {truth:.3g} (+-{half:.2g})")
    truth_mult = TRUTH_MULT[: d["pools"][0]["max_concurrency"]]
    mult = pool["compose_multiplier_by_concurrency"]
    return {
        "shop": name,
        "seed": seed,
        "inside": len(bt["figures"]) - bt["outside"],
        "figures": len(bt["figures"]),
        "outside": [f"{f['figure']} {f['day'] or 'all'}" for f in bt["figures"] if not f["inside"]],
        "discipline": pool["discipline"] == d["pools"][0]["discipline"],
        "patience_until": all(
            t.get("patience_until", "first_reply") == "first_reply" for t in got["inquiry_types"]
        ),
        "mult_err": max(
            (abs(a - b) for a, b in zip(mult, truth_mult, strict=False)), default=math.nan
        ),
        "means_missed": missed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--shop", action="append", choices=sorted(SHOPS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.shop or list(SHOPS):
            for seed in range(1, args.seeds + 1):
                r = one(name, seed, args.runs, Path(tmp))
                print(
                    f"{r['shop']:12s} seed {r['seed']}: {r['inside']:2d} of {r['figures']} inside"
                    f"  discipline {'ok' if r['discipline'] else 'WRONG'}"
                    f"  patience_until {'ok' if r['patience_until'] else 'WRONG'}"
                    f"  multipliers max err {r['mult_err']:.3f}"
                    f"  means outside 99%: {r['means_missed'] or 'none'}"
                    f"  outside: {r['outside']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
