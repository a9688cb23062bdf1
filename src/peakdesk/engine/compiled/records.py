"""The recorder: appends to the record buffers, each grown (doubled) when full."""

from __future__ import annotations

from peakdesk.engine.compiled.events import grown
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    I64,
    N_AB,
    N_CA,
    N_CB,
    N_HOLD,
    N_RQ,
    N_SPELL,
    Int,
    Sim,
)


@inline_kernel
def hold(sim: Sim, i: Int, a: Int, start: float, end: float) -> None:
    """A spell agent ``a`` held conversation ``i``."""
    k = sim.ctr[N_HOLD]
    if k == sim.hold_conv.size:
        size = 2 * k + 64
        sim.hold_conv = grown(sim.hold_conv, size)
        sim.hold_agent = grown(sim.hold_agent, size)
        sim.hold_from = grown(sim.hold_from, size)
        sim.hold_to = grown(sim.hold_to, size)
    sim.hold_conv[k] = i
    sim.hold_agent[k] = a
    sim.hold_from[k] = start
    sim.hold_to[k] = end
    sim.ctr[N_HOLD] = k + 1


@inline_kernel
def requeue(sim: Sim, i: Int, start: float, end: float) -> None:
    """A wait in a queue after the first one, finished."""
    k = sim.ctr[N_RQ]
    if k == sim.rq_conv.size:
        size = 2 * k + 64
        sim.rq_conv = grown(sim.rq_conv, size)
        sim.rq_start = grown(sim.rq_start, size)
        sim.rq_end = grown(sim.rq_end, size)
    sim.rq_conv[k] = i
    sim.rq_start[k] = start
    sim.rq_end[k] = end
    sim.ctr[N_RQ] = k + 1


@inline_kernel
def spell(sim: Sim, a: Int, start: float, end: float, sched: float) -> None:
    """An online spell of agent ``a`` (``sched``: the end of its last segment)."""
    k = sim.ctr[N_SPELL]
    if k == sim.spell_agent.size:
        size = 2 * k + 64
        sim.spell_agent = grown(sim.spell_agent, size)
        sim.spell_start = grown(sim.spell_start, size)
        sim.spell_end = grown(sim.spell_end, size)
        sim.spell_sched = grown(sim.spell_sched, size)
    sim.spell_agent[k] = a
    sim.spell_start[k] = start
    sim.spell_end[k] = end
    sim.spell_sched[k] = sched
    sim.ctr[N_SPELL] = k + 1


@inline_kernel
def aborted(sim: Sim, a: Int, start: float, end: float) -> None:
    """Writing on a reply that a hand-back cut short."""
    k = sim.ctr[N_AB]
    if k == sim.ab_agent.size:
        size = 2 * k + 64
        sim.ab_agent = grown(sim.ab_agent, size)
        sim.ab_start = grown(sim.ab_start, size)
        sim.ab_end = grown(sim.ab_end, size)
    sim.ab_agent[k] = a
    sim.ab_start[k] = start
    sim.ab_end[k] = end
    sim.ctr[N_AB] = k + 1


@kernel
def cut_batch(sim: Sim, agents: I64) -> int:
    """A new batch of agents sharing one log-off cut; its number."""
    nb = sim.ctr[N_CB]
    if nb == sim.cut_start.size:
        size = 2 * nb + 16
        sim.cut_start = grown(sim.cut_start, size)
        sim.cut_len = grown(sim.cut_len, size)
    ca = sim.ctr[N_CA]
    if ca + agents.size > sim.cut_agents.size:
        sim.cut_agents = grown(sim.cut_agents, 2 * (ca + agents.size) + 16)
    sim.cut_start[nb] = ca
    sim.cut_len[nb] = agents.size
    for k in range(agents.size):
        sim.cut_agents[ca + k] = agents[k]
    sim.ctr[N_CA] = ca + agents.size
    sim.ctr[N_CB] = nb + 1
    return int(nb)
