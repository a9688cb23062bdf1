"""Time of ``peakdesk quote CENTRE --add CLIENT``: one more shop for the shipped centre.

What is measured
----------------
The shipped centre (``scenarios/centres/manila-three-shops.toml``) quoting the
shipped client file (``scenarios/centres/clients/tiktok-vn.toml``), as
``quote --add`` runs it (:func:`peakdesk.centre.quote.quote_addition`) on the
compiled engine: the team as it is without and with the shop
(``plan.verify_replications`` runs each, paired by seed), then ``--plan-repeats``
pairs of plans without and with it (each the full planner: refinement, cover,
verification, held-out check).  Wall time per stage, from the quote's own
progress lines, and the whole; the marginal cost and its interval as quoted.
Issue 24 asks for the quote with planning in at most 60 s on 2 cores.

Run: ``.venv/bin/python benchmarks/bench_quote.py [--plan-repeats 3] [--workers 2]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CENTRE = ROOT / "scenarios" / "centres" / "manila-three-shops.toml"
CLIENT = ROOT / "scenarios" / "centres" / "clients" / "tiktok-vn.toml"


def main(argv: list[str] | None = None) -> None:
    """Time the quote and print one line per stage."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--plan-repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)

    from peakdesk.centre.compile import load_centre
    from peakdesk.centre.quote import added_centre, quote_addition
    from peakdesk.engine.compiled.driver import warm

    warm()  # the kernel from numba's cache, not timed
    t0 = time.perf_counter()
    marks: list[tuple[str, float]] = [("read the centre and the client", t0)]
    base = load_centre(CENTRE)
    added = added_centre(CENTRE, CLIENT)

    def progress(line: str) -> None:
        # A stage starts at each of the quote's own headline steps.
        if line.startswith(("the team as it is", "planning the centre", "relaxing")):
            marks.append((line, time.perf_counter()))

    q = quote_addition(
        base,
        added,
        workers=args.workers,
        seed=args.seed,
        plan_repeats=args.plan_repeats,
        progress=progress,
    )
    end = time.perf_counter()
    print(f"quote --add {CLIENT.name} on {CENTRE.name}, compiled engine, {args.workers} workers")
    for k, (label, start) in enumerate(marks):
        stop = marks[k + 1][1] if k + 1 < len(marks) else end
        print(f"  {stop - start:8.1f} s  {label}")
    low, high = q.marginal_interval
    print(f"  {end - t0:8.1f} s  in all ({q.status})")
    if q.relaxed:
        print(f"what relaxing the binding limits buys: {q.relaxed}")
    print(
        f"marginal cost {q.marginal_cost:,.0f} [{low:,.0f}, {high:,.0f}] over "
        f"{len(q.pairs)} pairs; price {q.price_per_conversation:,.2f} per conversation, "
        f"{q.price_per_hour:,.2f} per marginal agent-hour"
    )


if __name__ == "__main__":
    main()
