"""Speed of a 20-client outsourcing centre on one 11.11 day, beside one shop of the same volume.

What is measured
----------------
A centre of ``--clients`` (20) client shops, built in memory: client ``k`` is a
Taobao (Asia/Shanghai), Lazada (Asia/Manila) or Shopee (Asia/Ho_Chi_Minh) shop
in turn, on the built-in Double-11 curve of its own clock, with a pre-sale and
an after-sale type, between 4,000 and 9,700 conversations on 11.11 (about
135,000 in all), its platform's target, and a dedicated pool staffed at about
75% occupancy; a trilingual flex pool serves every client on overflow
(``pool_priority``).  The team's clock is Manila, the day 11 Nov 00:00 to 12 Nov
02:00 there (every client's 11.11 inside).

The same conversations are then run as **one shop**: a scenario with the
centre's compiled inquiry types, pools and demand but no clients (no per-client
scoring), so the difference is what the centre adds to a run: client-scoped
scoring of every client's target on its own clock and the client accounts.

Timed separately, best of ``--repeat`` (3) on one core, wall and CPU:
compiling the centre file, drawing the workload, the engine, and a whole
replication (workload, engine, interval table, summary, every target scored,
work by type).  Throughput is conversations per second of wall time.  Issue 14
asks >= 30,000 conversations/s per core for the centre's engine.

Run: ``.venv/bin/python benchmarks/bench_centre.py [--clients 20] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peakdesk.centre.compile import centre_from_data
from peakdesk.demand.sample import intensity, sample_workload
from peakdesk.engine.engines import run  # the compiled engine (the default), as simulate uses
from peakdesk.engine.setup import build_config, subaccount_cost
from peakdesk.experiment.replicate import simulate
from peakdesk.scenario.load import LoadedScenario

ROOT = Path(__file__).resolve().parent.parent
SHOPS = (
    ("taobao", "Asia/Shanghai", "zh", "taobao.response_3min >= 0.85"),
    ("lazada", "Asia/Manila", "en", "lazada.response_rate >= 0.85"),
    ("shopee", "Asia/Ho_Chi_Minh", "vi", "shopee.crr >= 0.80"),
)


def _types() -> list[dict[str, Any]]:
    common = {"patience": {"dist": "exponential", "mean": "6min"}, "patience_until": "first_reply"}
    return [
        {
            "name": "pre_sale",
            "share": {"before": 0.6, "on": 0.55, "after": 0.2},
            "priority": 1,
            "messages": {"dist": "geometric", "mean": 3.3},
            "think_time": {"dist": "lognormal", "mean": "40s", "cv": 1.0},
            "compose_time": {"dist": "lognormal", "mean": "20s", "cv": 0.6},
            "bot_resolve": 0.15,
            **common,
        },
        {
            "name": "after_sale",
            "share": {"before": 0.4, "on": 0.45, "after": 0.8},
            "priority": 3,
            "messages": {"dist": "geometric", "mean": 3.0},
            "think_time": {"dist": "lognormal", "mean": "60s", "cv": 1.2},
            "compose_time": {"dist": "lognormal", "mean": "30s", "cv": 0.7},
            **common,
        },
    ]


def centre_data(n_clients: int) -> dict[str, Any]:
    """The benchmark centre as parsed TOML (see the module docstring)."""
    clients, pools = [], []
    for k in range(n_clients):
        platform, zone, lang, target = SHOPS[k % len(SHOPS)]
        volume = 4000 + 300 * k  # conversations on 11.11 (peak_day_factor 1 on a 1-day horizon)
        name = f"{platform}{k:02d}"
        clients.append(
            {
                "name": name,
                "language": lang,
                "calendar": {
                    "start": dt.datetime(2026, 11, 11),
                    "horizon": "1d",
                    "timezone": zone,
                },
                "demand": {
                    "profile": "double11",
                    "volume_per_day": volume,
                    "double11": {"peak_day_factor": 1.0, "first_hour_share": 0.15},
                },
                "inquiry_types": _types(),
                "targets": {"require": [target]},
                "price_per_conversation": 10.0,
            }
        )
        # About 3.2 buyer messages x ~25 s of writing per conversation, 4 chats an agent
        # writing one reply at a time: agents for ~75% occupancy of the writing.
        agents = max(2, math.ceil(volume * 3.2 * 25.0 / 86400.0 / 0.75))
        pools.append(
            {
                "name": f"team{k:02d}",
                "skills": {name: 1.0},
                "languages": [lang],
                "max_concurrency": 4,
                "slowdown_per_extra_chat": 0.1,
                "hourly_cost": 150.0,
                "shifts": [{"start": "00:00", "length": "24h", "agents": agents}],
            }
        )
    pools.append(
        {
            "name": "flex",
            "skills": {c["name"]: 0.8 for c in clients},
            "languages": ["zh", "en", "vi"],
            "max_concurrency": 3,
            "hourly_cost": 300.0,
            "shifts": [{"start": "00:00", "length": "24h", "agents": 6}],
        }
    )
    return {
        "centre": {"name": f"bench-{n_clients}-clients", "currency": "PHP"},
        "calendar": {
            "start": dt.datetime(2026, 11, 10, 23, 0),
            "horizon": "27h",
            "timezone": "Asia/Manila",
        },
        "pools": pools,
        "routing": {"policy": "pool_priority", "pool_order": [p["name"] for p in pools]},
        "simulation": {"seed": 20261111},
        "clients": clients,
    }


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    wall, cpu, out = math.inf, math.inf, None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def _engine(loaded: LoadedScenario) -> tuple[Callable[[], Any], int]:
    spec = loaded.spec
    inten = intensity(loaded)
    workload = sample_workload(loaded, 0, inten=inten)
    config = build_config(spec, None)

    def go() -> Any:
        return run(
            config,
            workload,
            start=spec.calendar.start_aware,
            horizon_s=spec.calendar.horizon,
            subaccount_cost=subaccount_cost(spec),
        )

    return go, workload.n_conversations


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    data = centre_data(args.clients)
    path = ROOT / "benchmarks" / "centre.toml"  # only names the centre in messages
    t_compile, _, centre = _best(lambda: centre_from_data(data, path), args.repeat)
    # One shop: the compiled scenario and its demand, without clients or targets (so no
    # client-scoped scoring and no accounts).
    shop = dataclasses.replace(
        centre,
        spec=centre.spec.model_copy(
            update={"targets": centre.spec.targets.model_copy(update={"require": []})}
        ),
        centre=dataclasses.replace(centre.centre, clients=()),
    )
    print(
        f"centre of {args.clients} clients: {len(centre.spec.inquiry_types)} inquiry types, "
        f"{len(centre.spec.pools)} pools, {len(centre.spec.targets.require)} targets; "
        f"compiled in {t_compile:.2f} s"
    )
    head = f"{'':34s} {'n':>8s} {'wall s':>8s} {'cpu s':>8s} {'conv/s':>9s}"
    print(head)
    rows: dict[str, float] = {}
    for label, loaded in (("centre", centre), ("one shop, same buyers", shop)):
        w, c, _ = _best(lambda ld=loaded: sample_workload(ld, 0, inten=intensity(ld)), args.repeat)
        go, n = _engine(loaded)
        ew, ec, _ = _best(go, args.repeat)
        rw, rc, ev = _best(
            lambda ld=loaded: simulate(ld, replications=1, keep_logs=False), args.repeat
        )
        rows[label] = n / rw
        print(f"{label + ': workload':34s} {n:8,d} {w:8.2f} {c:8.2f} {n / w:9,.0f}")
        print(f"{label + ': engine':34s} {n:8,d} {ew:8.2f} {ec:8.2f} {n / ew:9,.0f}")
        print(f"{label + ': replication':34s} {n:8,d} {rw:8.2f} {rc:8.2f} {n / rw:9,.0f}")
        if label == "centre":
            met = sum(t.met for t in ev.replications[0].targets)
            print(f"{'':34s} targets met in the run: {met} of {len(ev.replications[0].targets)}")
    print(
        f"centre / one shop, whole replication: "
        f"{rows['centre'] / rows['one shop, same buyers']:.2f}x the speed"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
