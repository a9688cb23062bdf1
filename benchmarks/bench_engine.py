"""Speed and memory benchmark of peakdesk's message-level engine.

What is measured
----------------
(a) **M/M/c on one sample path.**  One set of Poisson arrival times and
    exponential service times is drawn with numpy (fixed seed) for an M/M/c
    queue (``c`` servers, utilisation ``rho``, FIFO, no abandonment) and the
    *same numbers* are played through three simulators:

    * ``peakdesk``: :func:`peakdesk.engine.model.run` on a hand-built
      :class:`~peakdesk.demand.workload.Workload` (one message per conversation,
      compose time = service time, no think time, infinite patience, no bots)
      and a config built from a one-pool, one-shift, concurrency-1 scenario
      with ``c`` agents and ``c`` sub-accounts;
    * ``simpy``: the textbook simpy model, a ``Resource(capacity=c)`` and one
      generator process per customer started by a source process;
    * ``ciw``: a one-node Ciw network whose arrival and service distributions
      are ``ciw.dists.Sequential`` over the precomputed numbers;
    * ``simpy floor``: no model at all, only the two events peakdesk's engine
      schedules per customer (arrival, service completion), scheduled on
      simpy's ``Environment`` the way the engine schedules them, with callbacks
      that do nothing else.  This is the least any model pays whose events go
      through simpy's scheduler (the project's engine must), so its ``x Ciw``
      bounds what peakdesk can reach against Ciw.

    Because the three play the same sample path of a FIFO queue with identical
    servers, the per-customer waits must agree up to floating-point rounding
    (column ``max|dw|``, the largest per-customer difference from the simpy
    model), and so must the mean wait and ``P(wait>0)``.  The M/M/c (Erlang C)
    values are printed below the table for reference; the sample values differ
    from them by sampling noise only.

(b) **A Double-11 scenario.**  ``scenarios/tmall-double11.toml`` when it
    exists, otherwise ``scenarios/small-shop.toml`` scaled up (demand, agents
    and sub-accounts multiplied by the same factor).  Sampling the workload
    (:func:`peakdesk.demand.sample.sample_workload`) and running the engine
    are timed separately; the engine row reports conversations/s and buyer
    messages/s (messages actually sent, bot conversations included, since the
    engine records them too).  The same workload is then played with every
    pool ``parallel`` and with every pool handing chats back at shift end
    (``hand_back``), and their speed is given against the scenario as written
    (sequential, drain), measured in the same run.

Timing is wall time (:func:`time.perf_counter`) and CPU time
(:func:`time.process_time`, steadier when the machine is shared), each the best
of 3 runs (1 with ``--quick``), on one core: the engine is single-threaded
pure Python.  Peak memory is the tracemalloc peak of Python and numpy
allocations during one extra, untimed run of the same call (tracemalloc slows
code down, so it is never on while timing); the process's peak RSS is printed
at the end.

Reading the table
-----------------
``n`` is customers (a) or conversations (b), ``msgs`` buyer messages (drawn,
for the sampling row; sent, for the engine row), ``wall s`` and ``cpu s`` the
best wall and CPU time, ``cust/s`` and ``msg/s`` throughput on wall time,
``peak MiB`` the tracemalloc peak.  ``x simpy`` and ``x Ciw`` are peakdesk's
speed-up: the other simulator's wall time divided by peakdesk's (above 1 means
peakdesk is faster).
``mean wait``, ``P(w>0)`` and ``max|dw|`` are the agreement check for (a) (the
floor has no queue, so none); for (b) they are the assignment wait of
agent-handled conversations (context only).

Run: ``.venv/bin/python benchmarks/bench_engine.py [--quick]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import math
import resource
import sys
import time
import tomllib
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ciw
import numpy as np
import numpy.typing as npt
import simpy
from numba import njit
from simpy.events import NORMAL, Event

from peakdesk.demand.sample import sample_workload
from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.engines import run
from peakdesk.engine.setup import ShiftInstance, build_config, config_from_instances
from peakdesk.experiment import replicate
from peakdesk.scenario.load import LoadedScenario, load_scenario, parse_scenario

F64 = npt.NDArray[np.float64]
T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
TMALL = ROOT / "scenarios" / "tmall-double11.toml"
SMALL_SHOP = ROOT / "scenarios" / "small-shop.toml"
#: Scale factor on small-shop's demand, agents and sub-accounts when tmall is missing.
SMALL_SHOP_SCALE = 40

SEED = 20261111
#: A wait counts as positive above this (the simulators accumulate times in a
#: different order, so an immediate start can show a wait of +-1e-11 s).
WAIT_EPS = 1e-9


@dataclass(frozen=True)
class MMcCase:
    """One M/M/c sample path: arrival times and service times, in seconds."""

    c: int
    rho: float
    mean_service_s: float
    interarrival_s: F64
    service_s: F64

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.service_s.size)

    @property
    def arrival_s(self) -> F64:
        """Arrival times (cumulative inter-arrival times)."""
        return np.cumsum(self.interarrival_s)

    @property
    def rate(self) -> float:
        """Arrival rate, per second."""
        return self.rho * self.c / self.mean_service_s


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    name: str
    n: int
    messages: int
    wall_s: float
    cpu_s: float
    peak_mib: float
    mean_wait_s: float = math.nan
    p_wait: float = math.nan
    max_dw_s: float = math.nan
    ratio_simpy: float = math.nan
    ratio_ciw: float = math.nan
    ratio_ref: float = math.nan


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Best wall and CPU time over repeated calls, seconds."""

    wall_s: float
    cpu_s: float


def best_time(fn: Callable[[], T], repeats: int) -> tuple[Timing, T]:
    """Best wall and CPU time of ``repeats`` calls, and the last call's result."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    wall = cpu = math.inf
    for _ in range(repeats):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return Timing(wall, cpu), out


def peak_mib(fn: Callable[[], object]) -> float:
    """Tracemalloc peak (MiB) of one call; its result is dropped before returning."""
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
        del out
    finally:
        tracemalloc.stop()
    return peak / 2**20


def wait_stats(wait: F64) -> tuple[float, float]:
    """Mean wait and fraction of customers who waited."""
    return float(wait.mean()), float((wait > WAIT_EPS).mean())


# ---------------------------------------------------------------------------
# (a) M/M/c on one sample path
# ---------------------------------------------------------------------------


def make_mmc(n: int, c: int = 50, rho: float = 0.9, mean_service_s: float = 100.0) -> MMcCase:
    """Draw ``n`` Poisson inter-arrival times and exponential service times."""
    rng = np.random.default_rng(SEED)
    rate = rho * c / mean_service_s
    return MMcCase(
        c=c,
        rho=rho,
        mean_service_s=mean_service_s,
        interarrival_s=rng.exponential(1.0 / rate, n),
        service_s=rng.exponential(mean_service_s, n),
    )


def mmc_scenario(case: MMcCase) -> LoadedScenario:
    """A one-pool, one-shift, concurrency-1 scenario with ``c`` agents.

    The demand and compose time in it are placeholders: the benchmark replaces
    the workload, and the runner replaces the shift by one that runs from time 0
    to well past the last arrival, so that the queue drains before agents log off.
    """
    start = dt.datetime(2026, 1, 5)
    horizon = float(case.arrival_s[-1]) + 1.0
    data: dict[str, Any] = {
        "scenario": {"name": "mmc-bench"},
        "calendar": {"start": start, "horizon": f"{horizon:.3f}s", "timezone": "UTC"},
        "demand": {"profile": "flat", "total": float(case.n)},
        "inquiry_types": [
            {
                "name": "q",
                "share": 1.0,
                "messages": {"dist": "fixed", "value": 1},
                "think_time": {"dist": "fixed", "value": "0s"},
                "compose_time": {"dist": "fixed", "value": f"{case.mean_service_s}s"},
                "patience": {"dist": "none"},
            }
        ],
        "pools": [
            {
                "name": "servers",
                "skills": {"q": 1.0},
                "max_concurrency": 1,
                "shifts": [
                    {
                        "name": "all",
                        "start": "00:00",
                        "length": "24h",  # replaced below by one long engine shift
                        "agents": case.c,
                        "days": [start.date()],
                    }
                ],
            }
        ],
        "subaccounts": {"count": case.c},
        "routing": {"policy": "least_loaded"},
    }
    return LoadedScenario(parse_scenario(data), ROOT / "benchmarks" / "mmc.toml")


def mmc_workload(case: MMcCase) -> Workload:
    """The sample path as a peakdesk workload: one message per conversation."""
    n = case.n
    return Workload(
        type_names=("q",),
        arrival_s=case.arrival_s,
        type_idx=np.zeros(n, dtype=np.int32),
        msg_offset=np.arange(n + 1, dtype=np.int64),
        think_s=np.zeros(n),
        compose_s=case.service_s.copy(),
        patience_s=np.full(n, np.inf),
        bot=np.zeros(n, dtype=np.bool_),
        conversion_u=np.ones(n),
    )


def peakdesk_mmc_runner(case: MMcCase, engine: str) -> Callable[[], F64]:
    """A call that runs one of peakdesk's engines on the sample path and returns the waits."""
    loaded = mmc_scenario(case)
    # One shift from 0 to well past the last arrival, so the queue drains before the
    # agents log off: longer than a scenario file allows (24 h), so built directly.
    horizon = float(case.arrival_s[-1]) + 1.0
    cfg = config_from_instances(
        loaded.spec, [ShiftInstance(0, "all", 0.0, horizon + 30 * 86400.0, (), case.c)]
    )
    assert cfg.n_agents == case.c and cfg.segment_agent.size == case.c
    w = mmc_workload(case)
    start = loaded.spec.calendar.start_aware
    horizon = loaded.spec.calendar.horizon

    def go() -> F64:
        log = run(cfg, w, start=start, horizon_s=horizon, engine=engine)
        return np.asarray(log.assign_s - w.arrival_s, dtype=np.float64)

    go()  # the compiled engine's first call in a process loads it from numba's cache
    return go


def simpy_mmc(case: MMcCase) -> F64:
    """The textbook simpy M/M/c: a Resource and one process per customer."""
    inter = case.interarrival_s.tolist()
    service = case.service_s.tolist()
    n = len(service)
    wait = [math.nan] * n
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=case.c)

    def customer(k: int) -> Any:
        arrived = env.now
        with servers.request() as req:
            yield req
            wait[k] = env.now - arrived
            yield env.timeout(service[k])

    def source() -> Any:
        for k in range(n):
            yield env.timeout(inter[k])
            env.process(customer(k))

    env.process(source())
    env.run()
    return np.asarray(wait, dtype=np.float64)


class _Reused(Event):
    """A simpy event that is already successful, to be scheduled again and again."""

    _ok = True


def simpy_floor(case: MMcCase) -> None:
    """simpy's own cost for peakdesk's events on this sample path, with no model at all.

    The events peakdesk's engine schedules for an M/M/c customer (its arrival
    and its service completion), scheduled the way the engine schedules them
    (``env.schedule`` on reused events, one callback each), with callbacks that
    only schedule the next event: the least any model pays whose events go
    through simpy's ``Environment``.  There is no queue, so no waits.
    """
    arrival = case.arrival_s.tolist()
    service = case.service_s.tolist()
    n = len(arrival)
    env = simpy.Environment()
    schedule = env.schedule
    free: list[_Reused] = []

    def on_arrival(ev: _Reused) -> None:
        k: int = ev._value
        now = env.now
        if k + 1 < n:
            ev.callbacks = on_arrival_cb
            ev._value = k + 1
            d = arrival[k + 1] - now
            schedule(ev, NORMAL, 0.0 if d < 0.0 else d)
        done = free.pop() if free else _Reused(env)
        done.callbacks = on_done_cb
        done._value = k
        schedule(done, NORMAL, service[k])

    def on_done(ev: _Reused) -> None:
        free.append(ev)

    on_arrival_cb: list[Any] = [on_arrival]
    on_done_cb: list[Any] = [on_done]
    first = _Reused(env)
    first.callbacks = on_arrival_cb
    first._value = 0
    schedule(first, NORMAL, arrival[0])
    env.run()


@njit(cache=True)
def _fcfs_waits(arrival: F64, service: F64, c: int) -> F64:  # pragma: no cover - compiled
    """FIFO waits of c identical servers: a heap of the times each server is free."""
    free = np.zeros(c)
    wait = np.empty(arrival.size)
    for k in range(arrival.size):
        start = max(arrival[k], free[0])
        wait[k] = start - arrival[k]
        done = start + service[k]
        # the root (earliest free server) takes the customer: sift its new time down
        i = 0
        while True:
            child = 2 * i + 1
            if child >= c:
                break
            if child + 1 < c and free[child + 1] < free[child]:
                child += 1
            if free[child] < done:
                free[i] = free[child]
                i = child
            else:
                break
        free[i] = done
    return wait


def compiled_floor(case: MMcCase) -> Callable[[], F64]:
    """The FCFS waits of the sample path by the heap recursion, compiled with numba.

    No events, no log: only what the queue needs.  The least a compiled engine can
    spend on M/M/c, and the waits every simulator must agree with.
    """
    arrival, service = case.arrival_s, case.service_s
    _fcfs_waits(arrival[:10], service[:10], case.c)  # compile (or load) first

    def go() -> F64:
        return _fcfs_waits(arrival, service, case.c)

    return go


def ciw_mmc(case: MMcCase) -> F64:
    """Ciw with ``Sequential`` distributions over the precomputed numbers.

    Ciw samples a service time when service starts; under FIFO that is arrival
    order, so customer ``k`` gets ``service[k]``.  A huge last inter-arrival
    time stops the (cycling) arrival sequence after ``n`` customers.
    """
    inter = [*case.interarrival_s.tolist(), 1e15]
    service = case.service_s.tolist()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Sequential(inter)],
        service_distributions=[ciw.dists.Sequential(service)],
        number_of_servers=[case.c],
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(float(case.arrival_s[-1]) + 1e7)
    recs = sorted(sim.get_all_records(), key=lambda r: r.id_number)
    if len(recs) != case.n:
        raise RuntimeError(f"Ciw served {len(recs)} customers, expected {case.n}")
    return np.array([r.waiting_time for r in recs], dtype=np.float64)


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a`` (Erlangs)."""
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c / (1.0 - a / c)
    return last / (total + last)


def bench_mmc(n: int, repeats: int) -> tuple[list[Row], str]:
    """Rows of part (a) and a reference line with the M/M/c theory."""
    case = make_mmc(n)
    runners: dict[str, Callable[[], F64 | None]] = {
        "peakdesk compiled": peakdesk_mmc_runner(case, "compiled"),
        "peakdesk reference": peakdesk_mmc_runner(case, "reference"),
        "simpy": lambda: simpy_mmc(case),
        "ciw": lambda: ciw_mmc(case),
        "simpy floor": lambda: simpy_floor(case),
        "compiled floor": compiled_floor(case),
    }
    results: dict[str, tuple[Timing, F64 | None, float]] = {}
    for name, fn in runners.items():
        print(f"  M/M/c {name} ...", file=sys.stderr, flush=True)
        timing, waits = best_time(fn, repeats)
        results[name] = (timing, waits, peak_mib(fn))
    ref = results["simpy"][1]
    assert ref is not None
    rows = []
    for name, (timing, waits, mib) in results.items():
        mean_w = p_w = max_dw = math.nan
        if waits is not None:
            mean_w, p_w = wait_stats(waits)
            max_dw = float(np.max(np.abs(waits - ref)))
        # Speed-ups over simpy and Ciw for peakdesk, and for the floors (a model with
        # no logic at all on simpy's scheduler; the bare queue recursion compiled).
        peer = name.startswith("peakdesk") or name.endswith("floor")
        rows.append(
            Row(
                name=f"(a) M/M/c {name}",
                n=case.n,
                messages=case.n,
                wall_s=timing.wall_s,
                cpu_s=timing.cpu_s,
                peak_mib=mib,
                mean_wait_s=mean_w,
                p_wait=p_w,
                max_dw_s=max_dw,
                ratio_simpy=results["simpy"][0].wall_s / timing.wall_s if peer else math.nan,
                ratio_ciw=results["ciw"][0].wall_s / timing.wall_s if peer else math.nan,
                ratio_ref=results["peakdesk reference"][0].wall_s / timing.wall_s
                if name == "peakdesk compiled"
                else math.nan,
            )
        )
    compiled = results["peakdesk compiled"][0].wall_s
    floor = results["compiled floor"][0].wall_s
    a = case.rate * case.mean_service_s
    pc = erlang_c(case.c, a)
    theory = (
        f"M/M/{case.c}, rho={case.rho}, mean service {case.mean_service_s:g}s, "
        f"n={case.n}, seed {SEED}.  Erlang C theory: "
        f"P(wait>0)={pc:.4f}, mean wait={pc / (case.c / case.mean_service_s - case.rate):.2f}s.  "
        f"The compiled engine takes {compiled / floor:.1f}x the compiled floor's time "
        "(its events, routing and message log over the bare recursion)."
    )
    return rows, theory


# ---------------------------------------------------------------------------
# (b) a Double-11 scenario
# ---------------------------------------------------------------------------


def double11_scenario() -> tuple[LoadedScenario, str]:
    """tmall-double11 if present, otherwise small-shop scaled up."""
    if TMALL.is_file():
        return load_scenario(TMALL), TMALL.stem
    data = tomllib.loads(SMALL_SHOP.read_text(encoding="utf-8"))
    k = SMALL_SHOP_SCALE
    data["demand"]["multiplier"] = data["demand"].get("multiplier", 1.0) * k
    for pool in data["pools"]:
        for shift in pool["shifts"]:
            shift["agents"] *= k
    data["subaccounts"]["count"] *= k
    spec = parse_scenario(data, SMALL_SHOP)
    return LoadedScenario(spec, SMALL_SHOP), f"{SMALL_SHOP.stem} x{k}"


def _engine_row(
    label: str, fn: Callable[[], Any], w: Workload, repeats: int, memory: bool
) -> tuple[Row, float]:
    """A row for an engine call on workload ``w`` (and its best wall time)."""
    timing, log = best_time(fn, repeats)
    sent = int(np.count_nonzero(~np.isnan(log.msg_time_s)))
    human = ~w.bot & (log.agent >= 0)
    mean_w, p_w = wait_stats(np.asarray(log.assign_s[human] - w.arrival_s[human]))
    mib = peak_mib(fn) if memory else math.nan
    row = Row(label, w.n_conversations, sent, timing.wall_s, timing.cpu_s, mib, mean_w, p_w)
    return row, timing.wall_s


def bench_double11(repeats: int) -> tuple[list[Row], str]:
    """Rows of part (b): sampling, both engines on three agent models, a whole replication."""
    loaded, label = double11_scenario()
    spec = loaded.spec
    cfg = build_config(spec)
    start, horizon = spec.calendar.start_aware, spec.calendar.horizon

    print(f"  {label} sample_workload ...", file=sys.stderr, flush=True)

    def sample() -> Workload:
        return sample_workload(loaded, 0)

    t_sample, w = best_time(sample, repeats)
    rows = [
        Row(
            f"(b) {label} sample_workload",
            w.n_conversations,
            w.n_messages,
            t_sample.wall_s,
            t_sample.cpu_s,
            peak_mib(sample),
        )
    ]
    # The scenario as written (sequential, drain), and the same buyers through the other
    # agent models: every pool parallel, every pool handing chats back at shift end.
    ratios = []
    for name, change in (
        ("sequential, drain", {}),
        ("parallel", {"discipline": "parallel"}),
        ("hand_back", {"shift_end": "hand_back"}),
    ):
        variant = dataclasses.replace(
            cfg, pools=tuple(dataclasses.replace(pool, **change) for pool in cfg.pools)
        )
        walls = {}
        for engine in ("reference", "compiled"):

            def go(variant: EngineConfig = variant, engine: str = engine) -> Any:
                return run(variant, w, start=start, horizon_s=horizon, engine=engine)

            print(f"  {label} {engine} engine ({name}) ...", file=sys.stderr, flush=True)
            go()  # the compiled engine's first call loads it from numba's cache
            row, walls[engine] = _engine_row(
                f"(b) {label} {engine}, {name}", go, w, repeats, memory=not change
            )
            rows.append(row)
        rows[-1] = dataclasses.replace(rows[-1], ratio_ref=walls["reference"] / walls["compiled"])
        ratios.append(f"{name} {walls['reference'] / walls['compiled']:.1f}x")
    # A whole replication: sample, engine, the targets scored, summary, intervals, KPIs.
    walls = {}
    for engine in ("reference", "compiled"):
        job = replicate._Job(
            loaded=loaded,
            seed=spec.simulation.seed,
            config=cfg,
            intensity=replicate.demand_intensity(loaded),
            conversion_base=tuple(
                t.conversion.base if t.conversion else 0.0 for t in spec.inquiry_types
            ),
            conversion_half_life_s=tuple(
                t.conversion.half_life if t.conversion else math.inf for t in spec.inquiry_types
            ),
            keep_logs=0,
            targets=tuple(replicate.scenario_targets(loaded)),
            history=replicate.scenario_history(loaded),
            measure=None,
            engine=engine,
        )

        def rep(job: replicate._Job = job) -> Any:
            return replicate._replicate(job, 0)

        print(f"  {label} whole replication ({engine}) ...", file=sys.stderr, flush=True)
        rep()
        timing, _ = best_time(rep, repeats)
        walls[engine] = timing.wall_s
        rows.append(
            Row(
                f"(b) {label} replication, {engine}",
                w.n_conversations,
                w.n_messages,
                timing.wall_s,
                timing.cpu_s,
                math.nan,
            )
        )
    rows[-1] = dataclasses.replace(rows[-1], ratio_ref=walls["reference"] / walls["compiled"])
    note = (
        f"compiled against reference (x ref, same buyers, same log to the bit): "
        f"{', '.join(ratios)}; whole replication {walls['reference'] / walls['compiled']:.1f}x. "
        f"{label}: {w.n_conversations} conversations ({int(w.bot.sum())} bot), "
        f"{w.n_messages} buyer messages drawn, {cfg.n_agents} agents, "
        f"{cfg.subaccounts} sub-accounts, horizon {horizon / 86400:.1f} d"
    )
    return rows, note


COLD = """
import time, datetime as dt
t0 = time.perf_counter()
from peakdesk.engine.compiled import driver
from peakdesk.scenario import load_scenario
from peakdesk.demand.sample import sample_workload
from peakdesk.engine.setup import build_config
ld = load_scenario(%r)
w = sample_workload(ld, 0)
cal = ld.spec.calendar
driver.run(build_config(ld.spec), w, start=cal.start_aware, horizon_s=cal.horizon)
print(time.perf_counter() - t0)
"""


def bench_cold_start() -> str:
    """The compiled engine's first run on a machine (an empty numba cache), then a second."""
    import os
    import subprocess
    import tempfile

    code = COLD % str(SMALL_SHOP)
    out = []
    with tempfile.TemporaryDirectory(prefix="peakdesk-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            print("  compiled engine, cold / warm process ...", file=sys.stderr, flush=True)
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            out.append(float(res.stdout.strip().splitlines()[-1]))
    return (
        f"compiled engine on small-shop in a new process: {out[0]:.1f} s with an empty numba "
        f"cache (the first run on a machine: compiles), {out[1]:.1f} s once cached"
    )


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _fmt(x: float, spec: str) -> str:
    return "-" if math.isnan(x) else format(x, spec)


def render(rows: list[Row]) -> str:
    """The result table as fixed-width text."""
    head = (
        f"{'row':<44} {'n':>8} {'msgs':>8} {'wall s':>8} {'cpu s':>8} {'cust/s':>9} {'msg/s':>9} "
        f"{'peak MiB':>8} {'x simpy':>7} {'x Ciw':>6} {'x ref':>6} {'mean wait':>9} {'P(w>0)':>7} "
        f"{'max|dw|':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.name:<44} {r.n:>8d} {r.messages:>8d} {r.wall_s:>8.3f} {r.cpu_s:>8.3f} "
            f"{r.n / r.wall_s:>9.0f} {r.messages / r.wall_s:>9.0f} {_fmt(r.peak_mib, '.1f'):>8} "
            f"{_fmt(r.ratio_simpy, '.2f'):>7} {_fmt(r.ratio_ciw, '.2f'):>6} "
            f"{_fmt(r.ratio_ref, '.1f'):>6} "
            f"{_fmt(r.mean_wait_s, '.3f'):>9} {_fmt(r.p_wait, '.4f'):>7} "
            f"{_fmt(r.max_dw_s, '.1e'):>8}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="20,000 customers, one run each")
    ap.add_argument("--customers", type=int, default=None, help="M/M/c customers (default 100k)")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else 3
    n = args.customers or (20_000 if args.quick else 100_000)

    rows_a, theory = bench_mmc(n, repeats)
    rows_b, note = bench_double11(repeats)
    cold = bench_cold_start()
    print(render(rows_a + rows_b))
    print()
    print(f"(a) {theory}")
    print(
        "(a) The three simulators play the same sample path, so waits agree per customer "
        "(max|dw| = largest difference from simpy, seconds; only float rounding)."
    )
    print(f"(b) {note}")
    print(f"(c) {cold}")
    print(
        f"wall = best of {repeats}; peak MiB = tracemalloc peak of one extra untimed run; "
        f"x simpy / x Ciw / x ref = other wall / this row's wall (speed-up; x ref: the "
        "reference engine's)."
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"process peak RSS {rss:.0f} MiB; Python {sys.version.split()[0]}, "
        f"simpy {simpy.__version__}, ciw {ciw.__version__}, numpy {np.__version__}"
    )


if __name__ == "__main__":
    main()
