"""The fuzz suite's long profile: many cases per input, then what was tried and found.

Runs every target of ``tests/fuzz`` (scenario fields and bytes, ``--set``,
``simulate --out``, chat logs with a 10^6-row export, forecast, history and
team files) with the ``long`` hypothesis profile, and prints per target the
cases tried (shrinking steps included), their outcomes (exit codes, exceptions)
and the wall time; then every distinct failure hypothesis found, shrunk, with
the input that shows it.

Run: ``.venv/bin/python benchmarks/fuzz_long.py [--examples N] [--only TARGET ...]
[--seed N] [--profile ci]`` (about half an hour with the default counts on a 2-core
machine; ``--examples 300`` takes a few minutes; ``--profile ci`` counts the normal
suite's fixed cases).  Exit code 1 when a failure was found.
The same profile under pytest: ``PEAKDESK_FUZZ=long .venv/bin/python -m pytest tests/fuzz``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _failures(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in exc.exceptions:
            out += _failures(e)
        return out
    return [exc]


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = next(
        (
            f"{Path(f.filename).name}:{f.lineno}"
            for f in reversed(frames)
            if "peakdesk" in f.filename
        ),
        f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?",
    )
    head = f"{type(exc).__name__} at {where}: {str(exc).splitlines()[0] if str(exc) else ''}"
    notes = "\n".join(getattr(exc, "__notes__", []))
    return f"{head}\n{notes}".rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None, help="cases per target")
    parser.add_argument("--only", nargs="*", default=None, help="targets to run (test names)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed")
    parser.add_argument(
        "--profile", choices=["long", "ci"], default="long", help="ci: the normal suite's cases"
    )
    args = parser.parse_args()

    os.environ["PEAKDESK_FUZZ"] = args.profile
    sys.path.insert(0, str(ROOT / "tests"))
    import fuzz.strategies as strategies

    if args.examples is not None:
        for key in strategies.BUDGET:
            n = 1 if key == "chat_log_million" else args.examples
            strategies.BUDGET[key] = (n, n)
    # The counts are read when the tests are decorated: import them after setting them.
    import fuzz.test_fuzz_csv_inputs as test_fuzz_csv_inputs
    import fuzz.test_fuzz_scenario as test_fuzz_scenario

    tests: list[tuple[str, Any]] = [
        (name, fn)
        for module in (test_fuzz_scenario, test_fuzz_csv_inputs)
        for name, fn in vars(module).items()
        if name.startswith("test_") and hasattr(fn, "hypothesis")
    ]
    if args.only:
        tests = [(n, f) for n, f in tests if any(o in n for o in args.only)]
    found: list[tuple[str, str]] = []
    rows = []
    for name, fn in tests:
        if args.profile == "ci" and name == "test_chat_log_of_a_million_rows":
            continue  # long profile only
        if args.seed is not None:
            fn._hypothesis_internal_use_seed = args.seed
        before = dict(strategies.STATS.tried)
        t0 = time.perf_counter()
        print(f"{name} ...", file=sys.stderr, flush=True)
        try:
            fn()
            failures: list[BaseException] = []
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures = _failures(exc)
        seconds = time.perf_counter() - t0
        tried = {k: v - before.get(k, 0) for k, v in strategies.STATS.tried.items()}
        tried = {k: v for k, v in tried.items() if v}
        rows.append((name, tried, seconds, len(failures)))
        found += [(name, _describe(e)) for e in failures]

    print(f"{'target':48s} {'cases tried':>12s} {'failures':>9s} {'seconds':>8s}")
    for name, tried, seconds, n_fail in rows:
        total = sum(tried.values())
        print(f"{name:48s} {total:12,d} {n_fail:9d} {seconds:8.1f}")
    print("\noutcomes per target (exit codes of the commands, exceptions raised)")
    for target, outcomes in sorted(strategies.STATS.outcomes.items()):
        parts = ", ".join(f"{k}: {v:,}" for k, v in sorted(outcomes.items()))
        print(f"  {target:20s} {parts}")
    print(f"\n{len(found)} distinct failure(s)")
    for name, text in found:
        print(f"\n[{name}] {text}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
