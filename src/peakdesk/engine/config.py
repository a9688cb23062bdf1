"""Plain inputs of the engine: pools, agents and their online segments.

The engine never touches a pydantic object; :func:`peakdesk.engine.setup.build_config`
turns a validated scenario (and a staffing choice) into these frozen dataclasses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

RoutingPolicy = Literal["least_loaded", "longest_idle", "pool_priority"]
Discipline = Literal["sequential", "parallel"]
ShiftEnd = Literal["drain", "hand_back", "log_off"]


@dataclass(frozen=True)
class PoolConfig:
    """One agent pool as the engine sees it.

    Attributes
    ----------
    name
        Pool name.
    time_factor_by_type
        Per inquiry type index: the factor on the base compose time
        (``1 / (speed * proficiency)``), or ``nan`` where the pool lacks the skill.
    concurrency_multiplier
        ``concurrency_multiplier[k - 1]`` multiplies compose time while the agent
        holds ``k`` conversations; its length is the pool's concurrency cap.
    hourly_cost
        Cost per paid agent-hour, in the scenario's currency.
    discipline
        ``"sequential"``: an agent writes one reply at a time, its compose time
        fixed when it starts (x the multiplier for the chats held then);
        ``"parallel"``: every waiting reply of an agent progresses at once at
        rate ``1 / concurrency_multiplier[k - 1]`` while it holds ``k`` chats
        (re-rated whenever ``k`` changes).
    shift_end
        At the end of an online segment: ``"drain"`` (finish the open chats,
        then log off), ``"hand_back"`` (hand them back to the head of their
        queue at once) or ``"log_off"`` (finish for at most ``grace_s``, then
        hand back the rest).
    grace_s
        Seconds allowed to finish under ``"log_off"``.
    """

    name: str
    time_factor_by_type: tuple[float, ...]
    concurrency_multiplier: tuple[float, ...]
    hourly_cost: float
    discipline: Discipline = "sequential"
    shift_end: ShiftEnd = "drain"
    grace_s: float = 0.0

    @property
    def max_concurrency(self) -> int:
        """Maximum conversations an agent of this pool holds at once."""
        return len(self.concurrency_multiplier)

    def handles(self, type_idx: int) -> bool:
        """Whether the pool has the skill for an inquiry type."""
        return not np.isnan(self.time_factor_by_type[type_idx])


@dataclass(frozen=True)
class EngineConfig:
    """Everything the event loop needs besides the workload.

    Attributes
    ----------
    pools
        Pool configurations, indexed by pool number.
    agent_pool
        Pool number of each agent (int array, one per agent).
    segment_agent, segment_start_s, segment_end_s
        Online segments (an agent's shift pieces between breaks), in seconds
        from the scenario start, sorted by start.
    paid_hours_by_pool
        Scheduled paid agent-hours per pool (shrinkage included: absent agents are paid).
    subaccounts
        Chat sub-accounts; an online agent holds one.
    type_deadline_s
        Per inquiry type, added to a waiting chat's time in the queue order
        (``routing.queue_order = "deadline"``: the soonest due first; empty: oldest).
    seat_groups
        Further seats: ``(count, pools)``; an online agent of one of ``pools``
        also holds one of ``count`` (a client shop's sub-accounts).
    seat_group_types
        Per seat group, the inquiry types whose chats take its seat *while held*
        (a centre logs an agent into a client's shop only while it works for
        it): an agent holding none of them needs a free seat of the group to take
        one, holds it while it holds any, and frees it with the last; the group's
        ``pools`` then take no seat at login.  An empty tuple (or no entry): the
        seat is taken at login.
    policy
        Routing policy.
    pool_order
        Pool numbers in priority order (for ``pool_priority``).
    type_priority
        Queue priority per inquiry type (lower is served first).
    wrap_up_s
        Per inquiry type, seconds the slot stays held after the final reply.
    withdraw_on_abandon
        Per inquiry type: withdraw a conversation whose patience runs out before
        an agent starts its first reply (or, with ``patience_at_assignment``,
        before an agent takes it) instead of answering it later.
    patience_at_assignment
        Per inquiry type: the buyer's patience runs until an agent takes the
        chat, not until the first reply.
    idle_close_s
        Close a conversation after this much buyer silence (``inf``: never).
    auto_greeting
        Send an auto reply (kind ``auto``) when a conversation arrives.
    risk_group_of_type, risk_deadline_s, risk_bound, risk_day_starts_s
        ``routing.queue_order = "at_risk"``: per inquiry type its risk group
        (-1: none), and per group the reply deadline, the share to keep and the
        times its days start (its local midnights after the start, seconds).  A
        group's running score is its share, so far that day, of first replies
        sent within the deadline, a buyer withdrawn unanswered counting as a miss
        (1 before any); among waiting chats, those of the group with the
        smallest score less bound go first, then by priority, then oldest.
        Empty: off.
    close_out_s
        From this time on (the horizon: no buyer arrives after it), an agent
        whose segment ends closes out instead of following its pool's
        ``shift_end``: it goes on taking the chats waiting for its skills and
        logs off when it holds none and none waits for it, so no chat is
        handed back to nobody at the end of a run (``inf``: never).
    """

    pools: tuple[PoolConfig, ...]
    agent_pool: npt.NDArray[np.int32]
    segment_agent: npt.NDArray[np.int32]
    segment_start_s: npt.NDArray[np.float64]
    segment_end_s: npt.NDArray[np.float64]
    paid_hours_by_pool: tuple[float, ...]
    subaccounts: int
    policy: RoutingPolicy
    pool_order: tuple[int, ...]
    type_priority: tuple[int, ...]
    wrap_up_s: tuple[float, ...]
    withdraw_on_abandon: tuple[bool, ...]
    idle_close_s: float
    auto_greeting: bool
    patience_at_assignment: tuple[bool, ...] = ()
    seat_groups: tuple[tuple[int, tuple[int, ...]], ...] = ()
    seat_group_types: tuple[tuple[int, ...], ...] = ()
    risk_group_of_type: tuple[int, ...] = ()
    risk_deadline_s: tuple[float, ...] = ()
    risk_bound: tuple[float, ...] = ()
    risk_day_starts_s: tuple[tuple[float, ...], ...] = ()
    type_deadline_s: tuple[float, ...] = ()
    close_out_s: float = math.inf

    def holding_group(self, n_types: int) -> tuple[int, ...]:
        """Per inquiry type, the seat group its chats take while held (-1: none)."""
        out = [-1] * n_types
        for g, types in enumerate(self.seat_group_types):
            for t in types:
                out[t] = g
        return tuple(out)

    def login_groups(self, pool: int) -> tuple[int, ...]:
        """The seat groups an online agent of ``pool`` holds from login."""
        held = self.seat_group_types
        return tuple(
            g
            for g, (_, pools) in enumerate(self.seat_groups)
            if pool in pools and not (g < len(held) and held[g])
        )

    @property
    def n_agents(self) -> int:
        """Number of agents (people)."""
        return int(self.agent_pool.size)
