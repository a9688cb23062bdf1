"""Every benchmark in one command, one table: engine, a million conversations, scoring, planning.

Each row runs in its own Python process so that its peak memory (``ru_maxrss``
of that process) is its own.  Rows:

* ``engine M/M/c`` and ``engine tmall``: ``bench_engine.py`` (both engines with
  their peers, simpy and Ciw, and the two floors, in the same run; see that script);
* ``1M conversations, compiled`` / ``reference``: a flat scenario of about a
  million single- and multi-message conversations over 7 days, sampling and one
  engine, with the process's peak memory (numba and its compiled code included
  for the compiled engine);
* ``scoring 1M messages``: ``bench_rules.py`` without the CSV row;
* ``plan tmall``: ``peakdesk plan scenarios/tmall-double11.toml`` wall time.

Run: ``.venv/bin/python benchmarks/run_all.py [--skip-plan]`` (about 6 minutes
with the plan on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

MILLION = r"""
import json, resource, time, datetime as dt
from peakdesk.scenario import parse_scenario, LoadedScenario
from peakdesk.demand.sample import sample_workload
from peakdesk.engine.setup import build_config
from peakdesk.engine.engines import run
from pathlib import Path
import sys
engine = sys.argv[1]
d = {
 "scenario": {"name": "million"},
 "calendar": {"start": dt.datetime(2026, 11, 5), "horizon": "7d", "timezone": "Asia/Shanghai"},
 "demand": {"profile": "flat", "volume_per_day": 143000},
 "inquiry_types": [{"name": "q", "share": 1.0,
   "messages": {"dist": "geometric", "mean": 2.0},
   "think_time": {"dist": "lognormal", "mean": "40s", "cv": 1.0},
   "compose_time": {"dist": "lognormal", "mean": "20s", "cv": 0.6},
   "patience": {"dist": "exponential", "mean": "5min"}, "bot_resolve": 0.2}],
 "pools": [{"name": "p", "skills": {"q": 1.0}, "max_concurrency": 4,
   "shifts": [{"start": "00:00", "length": "24h", "agents": 120}]}],
 "subaccounts": {"count": 120},
}
L = LoadedScenario(parse_scenario(d), Path("million.toml"))
t0 = time.perf_counter(); w = sample_workload(L, 0); t1 = time.perf_counter()
cal = L.spec.calendar
log = run(build_config(L.spec), w, start=cal.start_aware, horizon_s=cal.horizon, engine=engine)
t2 = time.perf_counter()
print(json.dumps({"conversations": w.n_conversations, "sample_s": t1 - t0, "run_s": t2 - t1,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(
    args: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[str, float, float]:
    """Run a command; return its stdout, wall seconds and peak RSS of the child (MiB)."""
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if out.returncode not in ok:
        raise SystemExit(f"{' '.join(args[:3])} failed ({out.returncode}):\n{out.stderr}")
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return out.stdout, wall, max(after, before) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-plan", action="store_true", help="leave out the planning row")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    out, _, _ = _run([PY, "benchmarks/bench_engine.py"])
    for line in out.splitlines():
        if line.startswith(("(a) ", "(b) tmall-double11", "(c) ")):
            rows.append(("bench_engine", line))
    for engine in ("compiled", "reference"):
        out, wall, _ = _run([PY, "-c", MILLION, engine])
        m = json.loads(out.strip().splitlines()[-1])
        rows.append(
            (
                f"1M conversations, {engine}",
                f"{m['conversations']:,} conversations: sample {m['sample_s']:.1f} s, engine "
                f"{m['run_s']:.1f} s ({m['conversations'] / m['run_s']:,.0f}/s), "
                f"peak RSS {m['peak_mib']:,.0f} MiB",
            )
        )
    out, _, _ = _run([PY, "benchmarks/bench_rules.py", "--no-csv"])
    rows += [("scoring", line) for line in out.splitlines() if line.startswith(("log:", "all"))]
    if not args.skip_plan:
        env = dict(os.environ)
        out, wall, _ = _run(
            [
                str(Path(PY).parent / "peakdesk"),
                "plan",
                "scenarios/tmall-double11.toml",
                "--json",
                "-q",
            ],
            env,
            ok=(0, 1),  # 1: the plan misses a target, still a timing
        )
        plan = json.loads(out)
        rows.append(
            (
                "plan tmall",
                f"{wall:.0f} s wall, status {plan['status']}, {len(plan['trace'])} rounds, "
                f"cost {plan['total_cost']:,.0f} {plan['currency']}",
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:{width}s}  {text}")


if __name__ == "__main__":
    main()
