"""The event queue: a 4-ary heap on (time, id), as simpy orders its events.

simpy schedules an event at ``now + delay`` with a running insertion number
(``eid``) and processes events by (time, priority, eid); every event of the
engine has the same priority, so (time, eid) is the order, and the ids are
unique: any correct heap pops the same sequence.  The reference engine
computes a time ``t`` as the delay ``t - now`` (never negative) added back to
``now``; :func:`at` does the same arithmetic, so the two agree to the bit.

An event is identified by its id: where the reference engine tells whether an
event was superseded by the identity of its object, the compiled engine
compares ids.  An event's kind and value are packed into one integer
(``value * KINDS + kind``), so a heap move copies three numbers; the heap's
arrays grow (double) when full.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import EID, EV_ARRIVAL, KINDS, N_EV, Int, Sim

T = TypeVar("T", bound=np.generic)


@kernel
def grown(a: npt.NDArray[T], size: Int) -> npt.NDArray[T]:
    """A copy of 1-D array ``a`` with room for ``size`` items."""
    out = np.empty(size, a.dtype)
    for k in range(a.size):  # (a loop: a slice copy compiles its shape checks)
        out[k] = a[k]
    return out


@kernel
def _make_room(sim: Sim) -> None:
    size = 2 * sim.ev_time.size + 64
    sim.ev_time = grown(sim.ev_time, size)
    sim.ev_id = grown(sim.ev_id, size)
    sim.ev_data = grown(sim.ev_data, size)


@kernel
def push(sim: Sim, time: float, kind: Int, val: Int) -> int:
    """Schedule an event at ``time``; its id."""
    eid = sim.ctr[EID]
    sim.ctr[EID] = eid + 1
    i = sim.ctr[N_EV]
    if i == sim.ev_time.size:
        _make_room(sim)
    sim.ctr[N_EV] = i + 1
    t_arr = sim.ev_time
    e_arr = sim.ev_id
    d_arr = sim.ev_data
    # A new id is the largest: a parent at the same time comes first.
    while i > 0:
        parent = (i - 1) >> 2
        if t_arr[parent] <= time:
            break
        t_arr[i] = t_arr[parent]
        e_arr[i] = e_arr[parent]
        d_arr[i] = d_arr[parent]
        i = parent
    t_arr[i] = time
    e_arr[i] = eid
    d_arr[i] = val * KINDS + kind
    return int(eid)


@kernel
def pop(sim: Sim) -> tuple[float, int, int, int]:
    """Take the first event: (time, id, kind, value)."""
    t_arr = sim.ev_time
    e_arr = sim.ev_id
    d_arr = sim.ev_data
    time = t_arr[0]
    eid = e_arr[0]
    data = d_arr[0]
    n = sim.ctr[N_EV] - 1
    sim.ctr[N_EV] = n
    if n > 0:
        lt = t_arr[n]
        le = e_arr[n]
        ld = d_arr[n]
        i = 0
        while True:
            first = 4 * i + 1
            if first >= n:
                break
            # the earliest of the (up to four) children
            c = first
            ct = t_arr[c]
            ce = e_arr[c]
            last = min(first + 4, n)
            for k in range(first + 1, last):
                kt = t_arr[k]
                if kt < ct or (kt == ct and e_arr[k] < ce):
                    c = k
                    ct = kt
                    ce = e_arr[k]
            if ct < lt or (ct == lt and ce < le):
                t_arr[i] = ct
                e_arr[i] = ce
                d_arr[i] = d_arr[c]
                i = c
            else:
                break
        t_arr[i] = lt
        e_arr[i] = le
        d_arr[i] = ld
    return time, eid, data % KINDS, data // KINDS


@kernel
def next_is_arrival_from(sim: Sim, k: Int) -> bool:
    """Whether the first event is an arrival of number ``k`` or later."""
    data = sim.ev_data[0]
    return bool(data % KINDS == EV_ARRIVAL and data // KINDS >= k)


@inline_kernel
def at(sim: Sim, t: float, now: float, kind: Int, val: Int) -> int:
    """Schedule at time ``t`` (or now, if ``t`` is past), as ``now + max(t - now, 0)``."""
    d = t - now
    if d < 0.0:
        d = 0.0
    return push(sim, now + d, kind, val)
