"""Fingerprint every column of the engine's chat logs, to show a change left results bit-identical.

Usage::

    .venv/bin/python tools/fingerprint_logs.py > before.txt   # [--engine compiled]
    # ... change the engine or the planner's plumbing ...
    .venv/bin/python tools/fingerprint_logs.py > after.txt && diff before.txt after.txt

For each shipped scenario (and a few variants that reach other code paths: idle
auto-close, withdrawal on abandonment, pool-priority and longest-idle routing)
it runs replications 0 and 1 with the scenario's seed and prints one SHA-256 per
replication over the name, dtype, shape and bytes of every array of the
:class:`~peakdesk.engine.log.ChatLog` and of its workload, in field order.
Columns added to the log later are listed by name (``new:``) and left out of the
hash, so a log that only gained columns still compares equal.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from peakdesk.engine.log import ChatLog
from peakdesk.experiment.replicate import simulate
from peakdesk.scenario import load_scenario
from peakdesk.scenario.overrides import read_raw, sweep

ROOT = Path(__file__).resolve().parents[1]

#: The log's fields when this tool was written: fields added later are reported, not hashed.
BASE_FIELDS = (
    "horizon_s msg_time_s reply_time_s reply_kind reply_agent reply_compose_s auto_reply_s agent "
    "assign_s close_s abandoned abandon_s idle_closed withdrawn hold_conversation hold_agent "
    "hold_start_s hold_end_s agent_pool online_agent online_start_s online_end_s pool_names "
    "pool_max_concurrency paid_hours_by_pool hourly_cost_by_pool subaccounts subaccount_cost "
    "conversion_base conversion_half_life_s"
).split()

VARIANTS: list[tuple[str, str, list[str]]] = [
    ("tmall", "scenarios/tmall-double11.toml", []),
    ("lazada", "scenarios/lazada-1111.toml", []),
    ("shopee", "scenarios/shopee-1111.toml", []),
    ("small", "scenarios/small-shop.toml", []),
    ("small-idle", "scenarios/small-shop.toml", ['routing.idle_close="2min"']),
    (
        "small-withdraw",
        "scenarios/small-shop.toml",
        ["inquiry_types.0.answer_after_abandon=false"],
    ),
    ("small-longest-idle", "scenarios/small-shop.toml", ['routing.policy="longest_idle"']),
    ("lazada-priority", "scenarios/lazada-1111.toml", ['routing.policy="pool_priority"']),
]


def _update(h: Any, name: str, value: object) -> None:
    arr = np.ascontiguousarray(np.asarray(value))
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
    if arr.dtype.kind in "OU":
        h.update(repr(arr.tolist()).encode())
    else:
        h.update(arr.tobytes())


def fingerprint(log: ChatLog) -> tuple[str, list[str]]:
    """SHA-256 of the log's base columns and its workload, and the names of newer columns."""
    h = hashlib.sha256()
    for f in dataclasses.fields(log.workload):
        _update(h, f"workload.{f.name}", getattr(log.workload, f.name))
    for name in BASE_FIELDS:
        _update(h, name, getattr(log, name))
    _update(h, "start", str(log.start))
    names = [f.name for f in dataclasses.fields(log)]
    new = [n for n in names if n not in BASE_FIELDS and n not in ("workload", "start")]
    return h.hexdigest(), new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="variant names to run (default all)")
    parser.add_argument(
        "--engine",
        choices=("reference", "compiled"),
        default="reference",
        help="the engine that plays the runs (default the reference, the specification; "
        "the compiled one must print the same)",
    )
    args = parser.parse_args(argv)
    for name, path, sets in VARIANTS:
        if args.only and name not in args.only:
            continue
        file = ROOT / path
        loaded = sweep(read_raw(file), sets, file=file)[0][1] if sets else load_scenario(file)
        spec = loaded.spec
        sim = spec.simulation.model_copy(update={"engine": args.engine})
        loaded = loaded.with_spec(spec.model_copy(update={"simulation": sim}))
        ev = simulate(loaded, replications=2, keep_logs=2, workers=1)
        for r, log in enumerate(rep.log for rep in ev.replications):
            assert log is not None
            digest, new = fingerprint(log)
            extra = f"  new: {','.join(new)}" if new else ""
            print(f"{name} r{r} {digest}{extra}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
