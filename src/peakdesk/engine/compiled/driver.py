"""The compiled engine's Python side: build the arrays, run the kernel, build the log.

The kernel (:func:`peakdesk.engine.compiled.loop.run_loop`) runs to the end, or,
with a progress callback, stops every so many arrivals for this driver to
report progress and call it again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
from collections.abc import Callable, Iterator

import numpy as np

from peakdesk.demand.workload import Workload
from peakdesk.engine.compiled import events
from peakdesk.engine.compiled.loop import run_loop
from peakdesk.engine.compiled.refs import records_of, sim_of
from peakdesk.engine.compiled.state import (
    DONE,
    EV_ARRIVAL,
    EV_BOUND,
    N_AB,
    N_HOLD,
    N_RQ,
    N_SPELL,
    T_ACT,
    Engine,
    Records,
    build,
)
from peakdesk.engine.config import EngineConfig, PoolConfig
from peakdesk.engine.log import ChatLog
from peakdesk.engine.recorder import Recorded, chat_log

#: Arrivals between two progress reports.
_EVERY = 1 << 16


def play(
    config: EngineConfig, workload: Workload, progress: Callable[[float], None] | None
) -> tuple[Engine, Records]:
    """Run the event loop to its end: the engine's arrays, and its records as grown."""
    return play_engine(build(config, workload), progress)


def play_engine(eng: Engine, progress: Callable[[float], None] | None) -> tuple[Engine, Records]:
    """Run the event loop of engine arrays as :func:`build` makes them (or a test
    changed them) to its end."""
    sim = sim_of(eng)
    inp = eng.inp
    if inp.human.size:
        events.push(sim, inp.arrival[inp.human[0]], EV_ARRIVAL, 0)
    if inp.bound_time.size:
        events.push(sim, inp.bound_time[0], EV_BOUND, 0)
    n_human = int(inp.human.size)
    step = _EVERY if progress is not None else n_human + 1
    stop = step
    while run_loop(sim, stop) != DONE:
        if progress is not None:
            progress(stop / n_human)
        stop += step
    return eng, records_of(sim)


def recorded(eng: Engine, rec: Records) -> Recorded:
    """What the kernel recorded, in the shape the shared recorder settles."""
    conv, msg, ctr = eng.conv, eng.msg, eng.ctr
    nh = int(ctr[N_HOLD])
    nr = int(ctr[N_RQ])
    closed = list(
        zip(
            rec.rq_conv[:nr].tolist(),
            rec.rq_start[:nr].tolist(),
            rec.rq_end[:nr].tolist(),
            strict=True,
        )
    )
    still = np.flatnonzero(~np.isnan(conv.requeued_at))
    still = still[np.argsort(conv.requeued_seq[still], kind="stable")]
    open_ = list(zip(still.tolist(), conv.requeued_at[still].tolist(), strict=True))
    ns = int(ctr[N_SPELL])
    na = int(ctr[N_AB])
    aborted = np.empty((na, 3))
    aborted[:, 0] = rec.ab_agent[:na]
    aborted[:, 1] = rec.ab_start[:na]
    aborted[:, 2] = rec.ab_end[:na]
    return Recorded(
        end_s=float(eng.fctr[T_ACT]),
        msg_time=msg.msg_time,
        reply_time=msg.reply_time,
        reply_agent=msg.reply_agent,
        reply_compose=msg.reply_compose,
        agent=conv.agent,
        holder=conv.holder,
        assign_time=conv.assign_time,
        close_time=conv.close_time,
        hold_start=conv.hold_start,
        abandon_time=conv.abandon_time,
        abandoned=conv.abandoned.astype(np.bool_),
        idle_closed=conv.idle_closed.astype(np.bool_),
        withdrawn=conv.withdrawn.astype(np.bool_),
        hold_conv=rec.hold_conv[:nh],
        hold_agent=rec.hold_agent[:nh],
        hold_start_s=rec.hold_from[:nh],
        hold_end_s=rec.hold_to[:nh],
        spell_agent=rec.spell_agent[:ns].copy(),
        spell_start=rec.spell_start[:ns].copy(),
        spell_end=rec.spell_end[:ns].copy(),
        spell_sched=rec.spell_sched[:ns].copy(),
        requeues_closed=closed,
        requeues_open=open_,
        handed_back=conv.handed_back,
        aborted=aborted,
    )


def warm() -> None:
    """Load the compiled engine into this process (from numba's cache; compiling if none).

    Worker processes forked afterwards share it, instead of each loading it again
    for every batch of runs.  A second call costs nothing.  A Ctrl-C while numba
    compiles would be lost inside LLVM's callbacks (printed and ignored, the run
    going on): it is held until the engine is loaded, then acted on.
    """
    global _WARM
    if _WARM:
        return
    with _interrupt_after():
        _load()
    _WARM = True


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then hand it to the handler before."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, _frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
    if got:
        if callable(before):
            before(signal.SIGINT, None)
        elif before == signal.SIG_DFL:
            raise KeyboardInterrupt


def _load() -> None:
    """One tiny run, which loads (or compiles) every function a run calls."""
    config = EngineConfig(
        pools=(PoolConfig("p", (1.0,), (1.0,), 0.0),),
        agent_pool=np.zeros(1, np.int32),
        segment_agent=np.zeros(1, np.int32),
        segment_start_s=np.zeros(1),
        segment_end_s=np.ones(1),
        paid_hours_by_pool=(0.0,),
        subaccounts=1,
        policy="least_loaded",
        pool_order=(0,),
        type_priority=(0,),
        wrap_up_s=(0.0,),
        withdraw_on_abandon=(False,),
        idle_close_s=float("inf"),
        auto_greeting=False,
    )
    one = Workload(
        type_names=("q",),
        arrival_s=np.zeros(1),
        type_idx=np.zeros(1, np.int32),
        msg_offset=np.arange(2, dtype=np.int64),
        think_s=np.zeros(1),
        compose_s=np.ones(1) * 0.5,
        patience_s=np.full(1, np.inf),
        bot=np.zeros(1, np.bool_),
        conversion_u=np.ones(1),
    )
    recorded(*play(config, one, None))


_WARM = False


def run(
    config: EngineConfig,
    workload: Workload,
    *,
    start: dt.datetime,
    horizon_s: float,
    subaccount_cost: float = 0.0,
    conversion_base: tuple[float, ...] | None = None,
    conversion_half_life_s: tuple[float, ...] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ChatLog:
    """The compiled engine: same inputs and log as :func:`peakdesk.engine.model.run`."""
    warm()
    eng, records = play(config, workload, progress)
    rec = recorded(eng, records)
    del eng, records
    if progress is not None:
        progress(1.0)
    return chat_log(
        rec,
        config,
        workload,
        start=start,
        horizon_s=horizon_s,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base,
        conversion_half_life_s=conversion_half_life_s,
    )
