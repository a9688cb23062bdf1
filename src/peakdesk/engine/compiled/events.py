"""The event queue: a binary heap on (time, id), as simpy orders its events.

simpy schedules an event at ``now + delay`` with a running insertion number
(``eid``) and processes events by (time, priority, eid); every event of the
engine has the same priority, so (time, eid) is the order, and the ids are
unique: any correct heap pops the same sequence.  The reference engine
computes a time ``t`` as the delay ``t - now`` (never negative) added back to
``now``; :func:`at` does the same arithmetic, so the two agree to the bit.

An event is identified by its id: where the reference engine tells whether an
event was superseded by the identity of its object, the compiled engine
compares ids.  The heap's arrays grow (double) when full.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import EID, N_EV, Int, Sim

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
    sim.ev_kind = grown(sim.ev_kind, size)
    sim.ev_val = grown(sim.ev_val, size)


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
    # A new id is the largest: a parent at the same time comes first.
    while i > 0:
        parent = (i - 1) >> 1
        if t_arr[parent] <= time:
            break
        t_arr[i] = t_arr[parent]
        sim.ev_id[i] = sim.ev_id[parent]
        sim.ev_kind[i] = sim.ev_kind[parent]
        sim.ev_val[i] = sim.ev_val[parent]
        i = parent
    t_arr[i] = time
    sim.ev_id[i] = eid
    sim.ev_kind[i] = kind
    sim.ev_val[i] = val
    return int(eid)


@kernel
def pop(sim: Sim) -> tuple[float, int, int, int]:
    """Take the first event: (time, id, kind, value)."""
    t_arr = sim.ev_time
    e_arr = sim.ev_id
    time = t_arr[0]
    eid = e_arr[0]
    kind = sim.ev_kind[0]
    val = sim.ev_val[0]
    n = sim.ctr[N_EV] - 1
    sim.ctr[N_EV] = n
    if n > 0:
        lt = t_arr[n]
        le = e_arr[n]
        lk = sim.ev_kind[n]
        lv = sim.ev_val[n]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            r = c + 1
            if r < n and (t_arr[r] < t_arr[c] or (t_arr[r] == t_arr[c] and e_arr[r] < e_arr[c])):
                c = r
            if t_arr[c] < lt or (t_arr[c] == lt and e_arr[c] < le):
                t_arr[i] = t_arr[c]
                e_arr[i] = e_arr[c]
                sim.ev_kind[i] = sim.ev_kind[c]
                sim.ev_val[i] = sim.ev_val[c]
                i = c
            else:
                break
        t_arr[i] = lt
        e_arr[i] = le
        sim.ev_kind[i] = lk
        sim.ev_val[i] = lv
    return time, eid, kind, val


@inline_kernel
def at(sim: Sim, t: float, now: float, kind: Int, val: Int) -> int:
    """Schedule at time ``t`` (or now, if ``t`` is past), as ``now + max(t - now, 0)``."""
    d = t - now
    if d < 0.0:
        d = 0.0
    return push(sim, now + d, kind, val)
