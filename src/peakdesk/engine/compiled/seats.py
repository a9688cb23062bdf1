"""Sub-accounts and seat groups: an online agent holds one of each it needs.

At the start of a segment an agent takes a free sub-account and a seat in each
seat group of its pool, or joins the waiting line (first come, first served).
A freed set of seats goes to the first agent in the line whose seats are all
free; agents no longer wanting to be online leave the line.
"""

from __future__ import annotations

from peakdesk.engine.compiled import records, routing
from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import (
    FREE_SUB,
    WAIT_N,
    Int,
    Sim,
)


@inline_kernel
def seat_free(sim: Sim, a: Int) -> bool:
    """A sub-account, and a seat in each of the agent's groups, are free."""
    if sim.ctr[FREE_SUB] <= 0:
        return False
    p = sim.agent_pool[a]
    for idx in range(sim.pool_group_ptr[p], sim.pool_group_ptr[p + 1]):
        if sim.group_free[sim.pool_groups[idx]] <= 0:
            return False
    return True


@inline_kernel
def take_seats(sim: Sim, a: Int) -> None:
    """Agent ``a`` takes its sub-account and group seats."""
    sim.ctr[FREE_SUB] -= 1
    p = sim.agent_pool[a]
    for idx in range(sim.pool_group_ptr[p], sim.pool_group_ptr[p + 1]):
        sim.group_free[sim.pool_groups[idx]] -= 1


@kernel
def go_online(sim: Sim, a: Int, now: float) -> None:
    """Agent ``a`` logs in (holding its seats) and takes what waits."""
    sim.online[a] = 1
    sim.accepting[a] = 1
    sim.online_since[a] = now
    routing.pull(sim, a, now)
    routing.refresh(sim, a)


@kernel
def go_offline(sim: Sim, a: Int, now: float) -> None:
    """Agent ``a`` logs off; its seats go to the agents waiting for them."""
    if sim.online[a] == 0:
        return
    sim.online[a] = 0
    sim.accepting[a] = 0
    sim.cut_ev[a] = -1
    routing.refresh(sim, a)
    records.spell(sim, a, sim.online_since[a], now, sim.segment_end[a])
    sim.ctr[FREE_SUB] += 1
    p = sim.agent_pool[a]
    for idx in range(sim.pool_group_ptr[p], sim.pool_group_ptr[p + 1]):
        sim.group_free[sim.pool_groups[idx]] += 1
    n = sim.ctr[WAIT_N]
    if n == 0:
        return
    # Walk the line in order; the agents kept go first in the new line, then the
    # ones not reached (without groups, the walk stops at the first seated agent).
    wait = sim.wait
    kept = 0
    r = 0
    while r < n:
        b = wait[r]
        r += 1
        if sim.want_online[b] == 0 or sim.online[b] != 0:
            continue
        if seat_free(sim, b):
            take_seats(sim, b)
            go_online(sim, b, now)
            if not sim.has_groups:
                break
            continue
        wait[kept] = b
        kept += 1
    # (kept <= r: moving the rest down never overwrites an entry not yet moved)
    for s in range(r, n):
        wait[kept] = wait[s]
        kept += 1
    sim.ctr[WAIT_N] = kept


@inline_kernel
def join_line(sim: Sim, a: Int) -> None:
    """Agent ``a`` waits for a sub-account (or a group seat)."""
    n = sim.ctr[WAIT_N]
    sim.wait[n] = a
    sim.ctr[WAIT_N] = n + 1
