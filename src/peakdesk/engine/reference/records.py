"""The reference engine's recorder: the loop's lists as the numpy columns of a run.

The holding spells are buffered as tuples and moved to numpy in blocks; at the
end the lists become numpy arrays one by one, each freed as soon as it is
converted (:func:`finish`), and :mod:`peakdesk.engine.recorder` settles the
run's end for both engines.
"""

from __future__ import annotations

from array import array

import numpy as np

from peakdesk.engine.recorder import Recorded
from peakdesk.engine.reference.state import Simulation, floats


def finish(sim: Simulation) -> Recorded:
    """What the loop recorded, as numpy columns (the lists released one by one)."""
    w = sim.w
    n = w.n_conversations
    # Release the compact inputs: the workload's own arrays serve from here on.
    empty_f: array[float] = array("d")
    empty_i: array[int] = array("q")
    sim.think = sim.compose_base = sim.patience = sim.arrival = empty_f
    sim.queued_since = empty_f
    sim.msg_conv = sim.human = sim.queued_msg = sim.offset = sim.ctype = empty_i

    reply_agent = np.fromiter(sim.reply_agent, np.int32, len(sim.reply_agent))
    sim.reply_agent = []
    msg_time = floats(sim.msg_time)
    sim.msg_time = []
    reply_time = floats(sim.reply_time)
    sim.reply_time = []
    reply_compose = floats(sim.reply_compose)
    sim.reply_compose = []
    agent = np.fromiter(sim.conv_agent, np.int32, n)
    sim.conv_agent = []
    holder = np.fromiter(sim.holder, np.int32, n)
    sim.holder = []
    assign_time = floats(sim.assign_time)
    sim.assign_time = []
    close_time = floats(sim.close_time)
    sim.close_time = []
    hold_start_conv = floats(sim.hold_start)
    sim.hold_start = []
    abandon_time = floats(sim.abandon_time)
    sim.abandon_time = []
    abandoned = np.frombuffer(sim.abandoned, dtype=np.uint8).astype(np.bool_)
    idle_closed = np.frombuffer(sim.idle_closed, dtype=np.uint8).astype(np.bool_)
    withdrawn = np.frombuffer(sim.withdrawn, dtype=np.uint8).astype(np.bool_)
    sim.abandoned = sim.idle_closed = sim.withdrawn = bytearray()
    flush_holds(sim)
    holds = np.concatenate([*sim.hold_blocks, np.empty((0, 4))])
    sim.hold_blocks = []
    handed = np.zeros(n, dtype=np.int32)
    if sim.handed_back:
        handed[np.fromiter(sim.handed_back, np.int64)] = np.fromiter(
            sim.handed_back.values(), np.int32
        )
    return Recorded(
        end_s=sim.t_act,
        msg_time=msg_time,
        reply_time=reply_time,
        reply_agent=reply_agent,
        reply_compose=reply_compose,
        agent=agent,
        holder=holder,
        assign_time=assign_time,
        close_time=close_time,
        hold_start=hold_start_conv,
        abandon_time=abandon_time,
        abandoned=abandoned,
        idle_closed=idle_closed,
        withdrawn=withdrawn,
        hold_conv=holds[:, 0].astype(np.int64),
        hold_agent=holds[:, 1].astype(np.int32),
        hold_start_s=np.ascontiguousarray(holds[:, 2]),
        hold_end_s=np.ascontiguousarray(holds[:, 3]),
        spell_agent=np.asarray([s[0] for s in sim.spells], dtype=np.int32),
        spell_start=np.asarray([s[1] for s in sim.spells], dtype=np.float64),
        spell_end=np.asarray([s[2] for s in sim.spells], dtype=np.float64),
        spell_sched=np.asarray([s[3] for s in sim.spells], dtype=np.float64),
        requeues_closed=sim.requeues,
        requeues_open=list(sim.requeued_at.items()),
        handed_back=handed,
        aborted=np.asarray(sim.aborted, dtype=np.float64).reshape(-1, 3),
    )


def flush_holds(sim: Simulation) -> None:
    """Move the buffered holding spells to a numpy block (float64 holds the indices exactly)."""
    if sim.holds:
        sim.hold_blocks.append(np.array(sim.holds, dtype=np.float64).reshape(-1, 4))
        sim.holds.clear()
