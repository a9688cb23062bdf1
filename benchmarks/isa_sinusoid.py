"""The ISA on the sinusoid of Feldman, Mandelbaum, Massey and Whitt (2008): does P(delay) hold?

lambda(t) = 100 + 20 sin t per minute, mu = theta = 1 per minute (exponential
handle time and patience, patience until assignment, abandoned chats withdrawn),
concurrency 1, target P(delay) = 0.1 per 1-minute interval. The converged
requirement of :func:`peakdesk.plan.requirement.iterate_requirement` is
simulated on fresh seeds and P(delay) (share of arrivals not assigned at once)
is printed per interval with its standard error: the ISA's claim is that it
stays near the target throughout, neither far above nor far below.

Run: ``.venv/bin/python benchmarks/isa_sinusoid.py [--isa-reps 20] [--reps 30]
[--tolerance 1] [--interval 60]`` (seconds to a minute). Measured 2026-12-07
(issue 12: not yet within sampling error of 0.1):

* 20 ISA replications: P(delay) averages 0.065, intervals 0.00-0.21. On the ISA's
  own seeds the fixed point holds P(L >= n) at 0.087-0.099 in every interval; on
  fresh seeds the same requirement gives 0.03-0.25: the refinement, simulating the
  same buyers every iteration, fits their sample (about 20 nearly independent
  looks at L per 1-minute interval when a chat lasts a minute).
* 200 ISA replications: fresh-seed P(L >= n) 0.06-0.17, P(delay) 0.00-0.17.
* tolerance 0 or a 15-s grid change neither.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa-reps", type=int, default=20, help="replications per ISA step")
    parser.add_argument("--reps", type=int, default=30, help="verification replications")
    parser.add_argument("--tolerance", type=int, default=1, help="ISA tolerance, agents")
    parser.add_argument("--interval", type=int, default=60, help="planning interval, s")
    parser.add_argument("--minutes", type=int, default=40, help="horizon, minutes")
    args = parser.parse_args()

    from conftest import base_dict
    from peakdesk.experiment.replicate import simulate
    from peakdesk.plan.inputs import PlanningInputs
    from peakdesk.plan.requirement import iterate_requirement, seed_requirement
    from peakdesk.scenario import parse_scenario
    from peakdesk.scenario.load import LoadedScenario

    alpha, n_min = 0.1, args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        start = dt.datetime(2026, 11, 10)
        rows = ["interval_start,conversations"]
        for k in range(n_min):  # the integral of lambda over each minute
            count = 100.0 + 20.0 * (math.cos(k) - math.cos(k + 1))
            rows.append(f"{(start + dt.timedelta(minutes=k)).isoformat()},{count:.9f}")
        (Path(tmp) / "f.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        d = base_dict()
        d["calendar"].update(horizon=f"{n_min}min", interval=f"{args.interval}s")
        d["demand"] = {"profile": "csv", "forecast": "f.csv"}
        t = d["inquiry_types"][0]
        t["compose_time"] = {"dist": "exponential", "mean": "60s"}
        t["patience"] = {"dist": "exponential", "mean": "60s"}
        t.update(patience_until="assignment", answer_after_abandon=False)
        p = d["pools"][0]
        p.update(discipline="parallel", shifts=[])
        p["plan"] = {"lengths": ["24h"], "starts": ["00:00"]}
        d["subaccounts"] = {"count": 100_000}
        path = Path(tmp) / "s.toml"
        loaded = LoadedScenario(spec=parse_scenario(d, path), path=path.resolve())
        inputs = PlanningInputs.of(loaded)
        req, steps = iterate_requirement(
            inputs,
            seed_requirement(inputs, alpha),
            alpha,
            replications=args.isa_reps,
            max_iterations=30,
            seed=5,
            tolerance=args.tolerance,
        )
        ev = simulate(
            loaded,
            seed=5,
            replications=args.reps,
            config=inputs.stacked_config(req),
            intensity=inputs.intensity,
            keep_logs=True,
            first_replication=5000,
        )
    p_delay = []
    for r in ev.replications:
        log = r.log
        assert log is not None
        arr = log.workload.arrival_s
        delayed = ~(log.assign_s <= arr + 1e-9)  # waited, or left before an agent took it
        k = (arr // 60.0).astype(np.int64)
        p_delay.append([float(delayed[k == i].mean()) for i in range(n_min)])
    pd = np.array(p_delay)
    mean, se = pd.mean(0), pd.std(0, ddof=1) / math.sqrt(len(pd))
    print(f"ISA: {len(steps)} iterations, {steps[-1].outcome}, last change {steps[-1].max_change}")
    print(f"{'minute':>6s} {'lambda':>7s} {'agents':>6s} {'P(delay)':>9s} {'s.e.':>6s}")
    for i in range(n_min):
        lam = 100.0 + 20.0 * math.sin(i + 0.5)
        print(f"{i:6d} {lam:7.1f} {int(req[i]):6d} {mean[i]:9.3f} {se[i]:6.3f}")
    print(
        f"time-average P(delay) {pd.mean():.3f} (target {alpha}); "
        f"intervals {mean.min():.3f}-{mean.max():.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
