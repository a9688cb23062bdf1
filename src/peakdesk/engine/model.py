"""The message-level chat simulator (simpy).

Model
-----
* A conversation is a sequence of buyer messages.  Each waits for a reply;
  after a reply the buyer thinks (``think_s``) and writes the next one.  It ends
  after the reply to its last message (plus the type's wrap-up), or when its
  buyer has abandoned and been answered.
* A new conversation waits in its type's queue until an eligible agent (pool
  has the skill, agent online and accepting, below its concurrency cap) takes
  it under the routing policy; that agent keeps it until it closes (or hands
  it back at its shift end).  Among agents holding equally few chats,
  ``least_loaded`` picks the one whose load changed least recently.
* How an agent works its chats is its pool's **discipline**:

  - ``sequential``: an agent is one person; replies to its open conversations
    are composed one at a time, the oldest waiting buyer message first.
    Compose time = the message's base compose time x the pool's time factor
    for the type (``1 / (speed * proficiency)``) x the concurrency multiplier
    for the number of conversations held when the reply is started.
  - ``parallel``: every waiting reply of an agent progresses at once; while
    the agent holds ``k`` conversations each progresses at rate
    ``1 / multiplier[k - 1]`` (processor sharing, re-rated whenever ``k``
    changes), so a reply of base work ``w`` written at a constant ``k`` takes
    ``w x multiplier[k - 1]``, as in the sequential formula.  With one message
    per conversation and exponential compose times this is the chat model of
    :mod:`peakdesk.analytic.chat` (exactly, when the multiplier is flat).

* Patience (per inquiry type): with ``patience_until = "first_reply"`` a buyer
  whose first message is not answered within their patience leaves and sends
  nothing more; with ``"assignment"`` the buyer leaves only if no agent has
  taken the chat within their patience.  By default the message stays in the
  queue and is still answered (silent abandonment: it counts against response
  metrics), decided when the reply is sent or the chat assigned, which needs no
  event of its own.  A type with ``answer_after_abandon = false`` withdraws the
  conversation instead: from the queue when patience runs out before an agent
  takes it, or (``first_reply``) from an agent's inbox while no reply to it has
  been started (a buyer who sees the agent typing waits for it).
* Shifts: at the start of an online segment an agent takes a free sub-account
  (or waits, first come first served, for one).  At the end of a segment (a
  shift end or a break) the agent stops taking new conversations, and then by
  the pool's ``shift_end``:

  - ``drain``: finishes the ones it holds and only then logs off and frees the
    sub-account (what agents do in Qianniu-like tools: set status to busy,
    finish, log off); the time past the segment end is recorded;
  - ``hand_back``: logs off at once; every held conversation waiting for a
    reply goes back to the head of its queue (keeping its arrival time, first
    reply and the work already done on the reply being written), and the ones
    waiting on their buyer are released (the buyer's next message reopens the
    chat into the queue, like an idle auto-close);
  - ``log_off``: drains for at most the pool's grace, then hands back the rest.

  An agent whose next segment starts at the same instant simply carries on.
  Online agents never exceed the sub-account count.
* Idle auto-close: when the buyer stays silent longer than ``idle_close`` after
  a reply, the conversation closes then (freeing the slot); if the buyer writes
  again later, it reopens and waits in the queue for an agent like a new one
  (its first assignment time is kept).
* Bot-resolved conversations get an immediate ``bot`` reply to each message
  and need no agent; they never enter the event loop (their columns are filled
  in with numpy after the run).

Events
------
simpy's :class:`~simpy.core.Environment` is the clock and the scheduler.  Per
human conversation with ``k`` buyer messages there are one arrival, ``k``
reply completions, ``k - 1`` buyer messages and at most one delayed close (an
idle auto-close adds a close and makes the buyer's next message a reopening;
where the type withdraws abandoned chats, a first message that waits behind
other chats adds a patience check).  A parallel agent has at most one
completion event in flight, for its reply due first; when its rate or its
first-due reply changes the event is replaced (the old one is skipped when it
fires).  There is no process per conversation and no scan over all agents per
event: agents free to take a chat are kept in one heap per pool, and waiting
chats in one FIFO queue per type.

Each event is a reusable simpy event whose one callback is a handler of
:mod:`peakdesk.engine.reference.loop`, followed by the settle step that
re-rates the parallel agents the event touched
(:mod:`peakdesk.engine.reference.events`); each is scheduled where and when a
:class:`~simpy.events.Timeout` was created before, with the same delay, so
simpy orders simultaneous events exactly as it ordered those timeouts.

Code
----
The engine is a package of one module per concept
(:mod:`peakdesk.engine.reference`): this module runs it.

Memory
------
The workload's read-only columns are copied into :class:`array.array` (at most
8 bytes an item rather than a list's 8-byte pointer to a 24- or 28-byte object,
and cheap to read); the columns the loop writes stay Python lists
(writing a list item is several times cheaper than writing an array item) and
become numpy arrays one by one at the end, each list freed as soon as it is
converted.  Holding spells are buffered as tuples and moved to numpy in blocks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import simpy

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import ChatLog
from peakdesk.engine.recorder import chat_log
from peakdesk.engine.reference import loop, records
from peakdesk.engine.reference.state import Simulation


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
    """Play a workload through the agents of ``config`` and record everything.

    Parameters
    ----------
    config
        Pools, agents, online segments, sub-accounts and routing.
    workload
        The conversations to play (drawn up front, so staffing options share them).
    start
        Aware datetime of simulation time 0.
    horizon_s
        Period during which buyers arrive, seconds.  The run continues past it
        until agents have finished what they hold and no event is left.
    subaccount_cost
        Sub-account cost over the horizon (carried into the log).
    conversion_base, conversion_half_life_s
        Per inquiry type conversion model (see :meth:`ChatLog.conversion`).
    progress
        Called now and then with the share of arrivals played so far (0..1).

    Returns
    -------
    ChatLog
        The message-level log.
    """
    env = simpy.Environment()
    sim = Simulation(env, config, workload, progress)
    loop.schedule(sim)
    env.run()
    if progress is not None:
        progress(1.0)
    recorded = records.finish(sim)
    del sim
    return chat_log(
        recorded,
        config,
        workload,
        start=start,
        horizon_s=horizon_s,
        subaccount_cost=subaccount_cost,
        conversion_base=conversion_base,
        conversion_half_life_s=conversion_half_life_s,
    )
