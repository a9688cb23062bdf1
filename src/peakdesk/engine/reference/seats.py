"""Sub-accounts and seat groups: an online agent holds one of each it needs.

A freed set of seats goes to the agents still waiting, in the order they came:
the first whose seats are all free (without groups: the first still waiting);
agents no longer wanting to be online leave the line.
"""

from __future__ import annotations

from collections import deque

from peakdesk.engine.reference import routing
from peakdesk.engine.reference.state import Simulation


def seat_free(sim: Simulation, a: int) -> bool:
    """A sub-account, and a seat in each of the agent's groups, are free."""
    return sim.free_subaccounts > 0 and all(sim.group_free[g] > 0 for g in sim.agent_groups[a])


def take_seats(sim: Simulation, a: int) -> None:
    """Agent ``a`` takes its sub-account and a seat in each of its groups."""
    sim.free_subaccounts -= 1
    for g in sim.agent_groups[a]:
        sim.group_free[g] -= 1


def go_online(sim: Simulation, a: int) -> None:
    """Agent ``a`` logs in (holding its seats) and takes what waits."""
    now = sim.env.now
    sim.online[a] = True
    sim.accepting[a] = True
    sim.online_since[a] = now
    routing.pull(sim, a, now)
    routing.refresh(sim, a)


def go_offline(sim: Simulation, a: int) -> None:
    """Agent ``a`` logs off; its seats go to the agents waiting for them."""
    if not sim.online[a]:
        return
    sim.online[a] = False
    sim.accepting[a] = False
    sim.cut_ev[a] = None
    routing.refresh(sim, a)
    now = sim.env.now
    sim.spells.append((a, sim.online_since[a], now, sim.segment_end[a]))
    sim.free_subaccounts += 1
    for g in sim.agent_groups[a]:
        sim.group_free[g] += 1
    if not sim.subaccount_wait:
        return
    # The freed seats go to the agents still waiting, in the order they came: the
    # first whose seats are all free (without groups: the first still waiting).
    # Agents no longer wanting to be online leave the line.
    keep: deque[int] = deque()
    while sim.subaccount_wait:
        b = sim.subaccount_wait.popleft()
        if not sim.want_online[b] or sim.online[b]:
            continue
        if seat_free(sim, b):
            take_seats(sim, b)
            go_online(sim, b)
            if not sim.cfg_has_groups:
                break
            continue
        keep.append(b)
    keep.extend(sim.subaccount_wait)
    sim.subaccount_wait = keep
