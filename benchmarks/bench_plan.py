"""Planning time and cost: both engines side by side, and the plan against a fine scan.

For each scenario (default: ``scenarios/tmall-double11.toml``, the shipped centre
``scenarios/centres/manila-three-shops.toml`` and a small shop: ``small-shop.toml``
with a ``[pools.plan]`` table and ``taobao.response_3min >= 0.80`` at confidence
0.9, written to a temporary folder) this runs, in one go:

1. ``peakdesk plan SCENARIO --json --engine E`` for each engine asked
   (``--engines``, default ``compiled,reference``): wall time, where the time
   goes (seed, refinement, cover, verification, held-out: ``plan.json``
   ``time_s``), the refinement's iterations, runs and final change, cost, rounds
   and the held-out share; the ratio of wall times between the engines (the plans
   are the same: the engines give the same logs);
2. with ``--scan``: a fine scan of requirement scales (``plan.frontier`` at the
   required confidence, ``--scan-step``, ``--scan-runs`` runs per scale on seeds
   of its own) and the cheapest scanned plan that passes the held-out check
   (keeps every target in at least the required share of those runs), beside the
   plan's cost: the issue asks for the accepted plan within 3% of it;
3. with ``--baseline REV``: the same command of an earlier commit, checked out
   into a temporary git worktree and run with ``PYTHONPATH`` at its ``src``.

Run: ``.venv/bin/python benchmarks/bench_plan.py [SCENARIO ...] [--workers 2]
[--engines compiled,reference] [--scan [--scan-step 0.02] [--scan-runs 100]]
[--baseline REV]``.  Figures measured on this machine are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (
    ROOT / "scenarios" / "tmall-double11.toml",
    ROOT / "scenarios" / "centres" / "manila-three-shops.toml",
    "small-shop-planned",
)

#: The small shop of the issue: the shipped one, its pool planned, one Taobao target.
SMALL_PLAN = """
[pools.plan]
lengths = ["8h", "9h"]
start_every = "1h"
max_agents_per_day = 20

"""


def small_shop_planned(folder: Path) -> Path:
    """``small-shop.toml`` with a ``[pools.plan]`` table and a 0.80 Taobao target at 0.9."""
    text = (ROOT / "scenarios" / "small-shop.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "plan" not in data["pools"][0], "small-shop.toml already has a plan table"
    head, tail = text.split("[[pools.shifts]]", 1)
    text = head + SMALL_PLAN + "[[pools.shifts]]" + tail
    text += (
        '\n[targets]\nconfidence = 0.9\nrequire = ["taobao.response_3min >= 0.80"]\n'
        if "targets" not in data
        else ""
    )
    out = folder / "small-shop-planned.toml"
    out.write_text(text, encoding="utf-8")
    for extra in ("shopee-history.csv",):
        src = ROOT / "scenarios" / extra
        if src.is_file():
            (folder / extra).write_bytes(src.read_bytes())
    return out


def _plan(
    src: Path, scenario: Path, workers: int, engine: str | None
) -> tuple[float, dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=str(src))
    code = "import sys; from peakdesk.cli import main; sys.argv[0] = 'peakdesk'; main()"
    args = ["plan", str(scenario), "--json", "-q", "-w", str(workers)]
    if engine is not None:
        args += ["--engine", engine]
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        raise SystemExit(f"plan failed ({res.returncode}): {res.stderr[-2000:]}")
    text = res.stdout
    return wall, json.loads(text[text.index("{") : text.rindex("}") + 1])


def _baseline(rev: str, scenario: Path, workers: int) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="peakdesk-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev],
            check=True,
        )
        try:
            return _plan(tree / "src", scenario, workers, None)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )


def _describe(name: str, wall: float, doc: dict[str, Any]) -> list[str]:
    held = doc.get("held_out") or {}
    held_txt = (
        f", held-out {held.get('met')}/{held.get('replications')}"
        if held.get("replications")
        else ""
    )
    lines = [
        f"  {name:10s} {wall:8.1f} s  {doc.get('status', '?'):8s} cost "
        f"{float(doc.get('total_cost') or 0):>12,.0f}  rounds {len(doc.get('trace', []))}"
        f"{held_txt}"
    ]
    split = doc.get("time_s") or {}
    if split:
        lines.append(
            "    where the time goes: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in split.items() if k != "total")
        )
    ref = doc.get("refinement") or {}
    if ref:
        lines.append(
            f"    refinement: {ref.get('iterations')} iterations on {ref.get('runs', '?')} runs, "
            f"{ref.get('outcome')}, final largest change {ref.get('final_max_change')}"
        )
    return lines


def _scan(scenario: Path, cost: float, workers: int, step: float, runs: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from peakdesk.cli.common import load_any
    from peakdesk.plan.frontier import frontier

    loaded = load_any(str(scenario))
    required = loaded.spec.targets.confidence
    t0 = time.perf_counter()
    front = frontier(loaded, levels=(required,), chats=(), step=step, runs=runs, workers=workers)
    # The held-out check's rule: the share of fresh runs keeping every target reaches
    # the required confidence.
    passing = [p for p in front.points if p.feasible and p.runs and p.met / p.runs >= required]
    lines = [f"  fine scan: {len(front.points)} scales in {time.perf_counter() - t0:.0f} s"]
    if not passing:
        return [*lines, "  no scanned scale keeps every target in the required share"]
    best = min(passing, key=lambda p: (p.cost, p.scale))
    lines.append(
        f"  cheapest scanned plan passing the held-out check (every target in >= "
        f"{required:.0%} of its {best.runs} runs): scale {best.scale:.2f}, cost "
        f"{best.cost:,.0f}; the plan costs {cost:,.0f} ({cost / best.cost - 1:+.1%})"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="compiled,reference")
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--scan", action="store_true")
    parser.add_argument("--scan-step", type=float, default=0.02)
    parser.add_argument("--scan-runs", type=int, default=100)
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    with tempfile.TemporaryDirectory(prefix="peakdesk-bench-plan-") as tmp:
        paths = []
        for s in args.scenarios or DEFAULT:
            paths.append(small_shop_planned(Path(tmp)) if s == "small-shop-planned" else Path(s))
        for scenario in paths:
            print(f"{scenario.name}, {args.workers} workers", flush=True)
            walls: dict[str, float] = {}
            doc: dict[str, Any] = {}
            for engine in engines:
                walls[engine], doc = _plan(ROOT / "src", scenario.resolve(), args.workers, engine)
                for line in _describe(engine, walls[engine], doc):
                    print(line, flush=True)
            if "compiled" in walls and "reference" in walls:
                print(f"  reference / compiled: {walls['reference'] / walls['compiled']:.1f}x")
            if args.baseline:
                b_wall, b_doc = _baseline(args.baseline, scenario.resolve(), args.workers)
                for line in _describe(args.baseline, b_wall, b_doc):
                    print(line)
            if args.scan and doc.get("status") == "ok":
                cost = float(doc.get("total_cost") or 0)
                for line in _scan(scenario, cost, args.workers, args.scan_step, args.scan_runs):
                    print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
