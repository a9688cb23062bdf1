"""The reference engine's events: reusable simpy events and how they are scheduled.

Each event is a :class:`~peakdesk.engine.reference.state.Call`: a plain simpy
event, already successful, whose one callback is a handler (of
:mod:`~peakdesk.engine.reference.loop` or
:mod:`~peakdesk.engine.reference.shift_end`) and whose value is the
conversation, message or agent it concerns.  A processed ``Call`` is scheduled
again (``env.schedule``): at once for the event that follows it (the next
arrival, the buyer's next message), or later from a free list, so the run
allocates a few thousand event objects rather than one per event.  Each is
scheduled where and when a :class:`~simpy.events.Timeout` was created before,
with the same delay, so simpy orders simultaneous events exactly as it ordered
those timeouts, and results are the same to the bit.
"""

from __future__ import annotations

from simpy.events import NORMAL

from peakdesk.engine.reference.state import Call, Callbacks, Simulation


def new_event(sim: Simulation) -> Call:
    """An event from the free list, or a new one."""
    free = sim.free
    return free.pop() if free else Call(sim.env)


def at(sim: Simulation, t: float, now: float, value: int, callbacks: Callbacks) -> Call:
    """Schedule a callback at time ``t`` (or now, if ``t`` is past); ``now`` is ``env.now``."""
    ev = new_event(sim)
    ev.callbacks = callbacks
    ev._value = value
    d = t - now
    sim.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
    return ev


def again(
    sim: Simulation, ev: Call, t: float, now: float, value: int, callbacks: Callbacks
) -> None:
    """Schedule the event being processed again, at time ``t``."""
    ev.callbacks = callbacks
    ev._value = value
    d = t - now
    sim.sched(ev, NORMAL, 0.0 if d < 0.0 else d)
