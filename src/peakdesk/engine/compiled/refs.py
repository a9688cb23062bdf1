"""The kernel's state as one numba structref: a single pointer holding every array.

A structref is a mutable struct that nopython code passes by reference.  Every
compiled function takes this one object (not one argument per array): numba
reference-counts each argument of each call, and a call with a dozen array
arguments both compiles slowly and spends its time on the counts.  The struct
holds the very arrays of the groups :func:`peakdesk.engine.compiled.state.build`
made (no copy), so what the kernel writes into them Python reads back from the
groups; only a buffer the kernel replaced (grown: the event queue, the records)
must be read from the struct (:func:`records_of`).  The maker is a cached
nopython function, so no process but the first compiles it.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.experimental import structref

from peakdesk.engine.compiled.jit import kernel
from peakdesk.engine.compiled.state import (
    Agents,
    Convs,
    Engine,
    Events,
    Inputs,
    Msgs,
    Records,
    Routes,
    Sim,
)

GROUPS = (Inputs, Convs, Msgs, Agents, Routes, Events, Records)

#: The struct's fields: every group's, in the order of :class:`Engine`, then the counters.
FIELDS: tuple[str, ...] = (*(f for g in GROUPS for f in g._fields), "ctr", "fctr")


@structref.register
class SimType(types.StructRef):
    """The numba type of the kernel's state."""


class SimRef(structref.StructRefProxy):
    """The kernel's state, as Python holds it between calls of the kernel."""


structref.define_proxy(SimRef, SimType, list(FIELDS))  # type: ignore[no-untyped-call]


@kernel
def _make(fields: Any) -> Sim:
    return SimRef(*fields)  # type: ignore[no-untyped-call]


def sim_of(eng: Engine) -> Sim:
    """The kernel's state holding ``eng``'s arrays."""
    flat = tuple(x for group in eng[:-2] for x in group)
    return _make((*flat, eng.ctr, eng.fctr))


@kernel
def _records(sim: Sim) -> Any:
    return (
        sim.hold_conv,
        sim.hold_agent,
        sim.hold_from,
        sim.hold_to,
        sim.rq_conv,
        sim.rq_start,
        sim.rq_end,
        sim.spell_agent,
        sim.spell_start,
        sim.spell_end,
        sim.spell_sched,
        sim.ab_agent,
        sim.ab_start,
        sim.ab_end,
        sim.cut_agents,
        sim.cut_start,
        sim.cut_len,
    )


def records_of(sim: Sim) -> Records:
    """The record buffers as the kernel left them (some may have been grown)."""
    return Records(*_records(sim))
