"""Planning time and cost: today's planner beside an earlier one, and against a fine scan.

For a scenario (default ``scenarios/tmall-double11.toml``) this runs, in one go:

1. ``peakdesk plan SCENARIO --json`` of this checkout: wall time, where the time
   goes (seed, refinement, cover, verification, held-out: ``plan.json``
   ``time_s``), cost, rounds and the held-out share;
2. the same command of an earlier commit (``--baseline REV``, default ``c4868d6``,
   the planner before issue 12: point estimate on 12 runs, flat +15%), checked
   out into a temporary git worktree, run with ``PYTHONPATH`` at its ``src``;
   the ratio of wall times is printed;
3. with ``--scan``: a fine scan of requirement scales (``plan.frontier`` at the
   required confidence, ``--scan-step``, ``--scan-runs`` runs per scale on seeds
   of its own) and the cheapest scanned plan keeping every target in at least the
   required share of those runs, beside the plan's cost: the issue asks for the
   accepted plan within 3% of it.

Run: ``.venv/bin/python benchmarks/bench_plan.py [SCENARIO] [--workers 2]
[--baseline REV | --no-baseline] [--scan [--scan-step 0.02] [--scan-runs 100]]``.
Figures measured on this machine are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _plan(src: Path, scenario: Path, workers: int) -> tuple[float, dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=str(src))
    code = "import sys; from peakdesk.cli import main; sys.argv[0] = 'peakdesk'; main()"
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code, "plan", str(scenario), "--json", "-q", "-w", str(workers)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
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
            return _plan(tree / "src", scenario, workers)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )


def _describe(name: str, wall: float, doc: dict[str, Any]) -> str:
    held = doc.get("held_out") or {}
    held_txt = (
        f", held-out {held.get('met')}/{held.get('replications')}"
        if held.get("replications")
        else ""
    )
    return (
        f"{name:10s} {wall:8.1f} s  {doc.get('status', '?'):8s} cost "
        f"{float(doc.get('total_cost') or 0):>12,.0f}  rounds {len(doc.get('trace', []))}"
        f"{held_txt}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios/tmall-double11.toml"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", default="c4868d6")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--scan", action="store_true")
    parser.add_argument("--scan-step", type=float, default=0.02)
    parser.add_argument("--scan-runs", type=int, default=100)
    args = parser.parse_args()
    scenario = Path(args.scenario).resolve()

    wall, doc = _plan(ROOT / "src", scenario, args.workers)
    print(f"{scenario.name}, {args.workers} workers")
    print(_describe("today", wall, doc))
    split = doc.get("time_s") or {}
    print(
        "  where the time goes: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in split.items() if k != "total")
    )
    if not args.no_baseline:
        b_wall, b_doc = _baseline(args.baseline, scenario, args.workers)
        print(_describe(args.baseline, b_wall, b_doc))
        print(f"  today / {args.baseline}: {wall / b_wall:.2f}x the time")

    if args.scan:
        sys.path.insert(0, str(ROOT / "src"))
        from peakdesk.plan.frontier import frontier
        from peakdesk.scenario.load import load_scenario

        loaded = load_scenario(scenario)
        required = loaded.spec.targets.confidence
        t0 = time.perf_counter()
        front = frontier(
            loaded,
            levels=(required,),
            chats=(),
            step=args.scan_step,
            runs=args.scan_runs,
            workers=args.workers,
            progress=print,
        )
        best = front.levels[0][1]
        print(f"fine scan: {len(front.points)} scales in {time.perf_counter() - t0:.0f} s")
        if best is None:
            print("  no scanned scale keeps every target in the required share")
        else:
            cost = float(doc.get("total_cost") or 0)
            print(
                f"  cheapest scanned plan with every target in >= {required:.0%} of "
                f"{args.scan_runs} runs: scale {best.scale:.2f}, cost {best.cost:,.0f}; the plan "
                f"costs {cost:,.0f} ({cost / best.cost - 1:+.1%})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
