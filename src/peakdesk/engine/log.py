"""What the engine records: the message-level chat log, as numpy columns.

The engine records what happened; the rules (and :mod:`peakdesk.engine.intervals`)
judge it.  Per-message columns are aligned with the workload's flat messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.demand.workload import Workload

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: ``reply_kind`` codes.
REPLY_NONE, REPLY_HUMAN, REPLY_BOT = 0, 1, 2
REPLY_KIND_NAMES = ("none", "human", "bot")


@dataclass(frozen=True)
class ChatLog:
    """Message-level record of one replication.

    Times are float seconds from the scenario start; ``nan`` means "did not happen".

    Attributes
    ----------
    workload
        The conversations that were played.
    start
        Aware datetime of time 0 (for calendar rules and CSV export).
    horizon_s
        The period during which buyers arrive, seconds.
    msg_time_s
        When each buyer message was sent; ``nan`` if never sent (buyer left or
        the conversation was auto-closed first).
    reply_time_s
        When each buyer message got its reply; ``nan`` if it had none by the end.
    reply_kind
        ``REPLY_HUMAN`` or ``REPLY_BOT`` (``REPLY_NONE`` if unanswered or unsent).
    reply_agent
        Agent that replied (``-1`` if none).
    reply_compose_s
        Time the agent spent writing the reply, seconds (``nan`` if none).
    auto_reply_s
        Per conversation: time of the auto greeting (kind ``auto``), ``nan`` if none.
    agent
        Per conversation: the agent it was assigned to, ``-1`` if none.
    assign_s, close_s
        Per conversation: first assignment and final closure times (``nan`` if not).
    abandoned
        Per conversation: the buyer left before the first reply.
    abandon_s
        Per conversation: when the buyer left (``nan`` if not).
    idle_closed
        Per conversation: closed by the idle auto-close before its last message.
    withdrawn
        Per conversation: withdrawn unanswered after the buyer gave up (only for
        types with ``answer_after_abandon = false``).
    hold_conversation, hold_agent, hold_start_s, hold_end_s
        Every spell an agent held a conversation in a slot (a conversation
        reopened after an idle auto-close has two); the end is ``nan`` if the
        spell was still open when the run ended.  A log cut after a warm-up
        (:mod:`peakdesk.experiment.warm_up`) holds the warm-up's chats still
        held at the cut with conversation ``-1``.
    agent_pool
        Pool number of each agent.
    online_agent, online_start_s, online_end_s
        Actual online spells (holding a sub-account), per spell.
    pool_names
        Pool names, indexed by pool number.
    pool_max_concurrency
        Concurrency cap per pool.
    paid_hours_by_pool
        Scheduled paid agent-hours per pool.
    hourly_cost_by_pool
        Cost per paid agent-hour per pool.
    subaccounts
        Sub-accounts available.
    subaccount_cost
        Sub-account cost over the horizon.
    conversion_base
        Per inquiry type: conversion probability at zero delay (0 if not modelled).
    conversion_half_life_s
        Per inquiry type: half-life of the conversion probability in the
        first-response delay, seconds (``inf`` if not modelled).
    online_scheduled_end_s
        Per online spell: the end of the last segment (shift end or break
        start) it was scheduled for; ``online_end_s`` minus it is the time
        the agent worked past it (draining, or a grace before logging off).
    requeue_conversation, requeue_start_s, requeue_end_s
        Every wait in a queue after the first (a chat reopened by its buyer
        after an idle auto-close or a release, or handed back at a shift end):
        conversation, start and end (``nan``: still waiting when the run ended).
    handed_back
        Per conversation: times it was handed back at an agent's shift end.
    pool_discipline
        Per pool: ``"sequential"`` or ``"parallel"`` (see :mod:`peakdesk.engine.model`).
    handback_writing_agent, handback_writing_start_s, handback_writing_end_s
        Writing an agent did on a reply it handed back unfinished at its shift end
        (the reply's ``reply_compose_s`` is the last agent's writing only).
    """

    workload: Workload
    start: dt.datetime
    horizon_s: float
    msg_time_s: F64
    reply_time_s: F64
    reply_kind: npt.NDArray[np.int8]
    reply_agent: I32
    reply_compose_s: F64
    auto_reply_s: F64
    agent: I32
    assign_s: F64
    close_s: F64
    abandoned: B
    abandon_s: F64
    idle_closed: B
    withdrawn: B
    hold_conversation: I64
    hold_agent: I32
    hold_start_s: F64
    hold_end_s: F64
    agent_pool: I32
    online_agent: I32
    online_start_s: F64
    online_end_s: F64
    pool_names: tuple[str, ...]
    pool_max_concurrency: tuple[int, ...]
    paid_hours_by_pool: tuple[float, ...]
    hourly_cost_by_pool: tuple[float, ...]
    subaccounts: int
    subaccount_cost: float
    conversion_base: tuple[float, ...]
    conversion_half_life_s: tuple[float, ...]
    online_scheduled_end_s: F64
    requeue_conversation: I64
    requeue_start_s: F64
    requeue_end_s: F64
    handed_back: I32
    pool_discipline: tuple[str, ...]
    handback_writing_agent: I32
    handback_writing_start_s: F64
    handback_writing_end_s: F64

    # -- derived columns -------------------------------------------------

    @property
    def first_reply_s(self) -> F64:
        """Per conversation: time of the first reply (human or bot), ``nan`` if none."""
        return self.reply_time_s[self.workload.msg_offset[:-1]]

    @property
    def first_human_reply_s(self) -> F64:
        """Per conversation: time of the first human reply, ``nan`` if none.

        In this model only the first message's reply can be the first human
        reply: a buyer writes again only after being answered.
        """
        first = self.workload.msg_offset[:-1]
        t = self.reply_time_s[first].copy()
        t[self.reply_kind[first] != REPLY_HUMAN] = np.nan
        return t

    @property
    def conversation_pool(self) -> I32:
        """Per conversation: pool of its agent (``-1`` if none)."""
        out = np.full(self.agent.size, -1, dtype=np.int32)
        has = self.agent >= 0
        out[has] = self.agent_pool[self.agent[has]]
        return out

    def agent_labels(self) -> npt.NDArray[np.str_]:
        """A readable id per agent: ``<pool>-<n>`` with n counting within the pool."""
        pools = np.asarray(self.pool_names)[self.agent_pool]
        within = np.zeros(self.agent_pool.size, dtype=np.int64)
        for p in range(len(self.pool_names)):
            sel = np.flatnonzero(self.agent_pool == p)
            within[sel] = np.arange(1, sel.size + 1)
        return np.char.add(np.char.add(pools.astype(str), "-"), within.astype(str))

    def conversion(self) -> tuple[B, B]:
        """Converted and lost-sale flags per conversation.

        A conversation of a type with a conversion model converts when its
        uniform draw is below ``base * 0.5 ** (delay / half_life)``, where the
        delay is the first reply's delay (a bot reply is immediate); a buyer who
        abandons never converts.  A sale is *lost* when it would have converted
        with an immediate reply but did not.

        Returns
        -------
        converted, lost
            Boolean arrays over conversations.
        """
        w = self.workload
        base = np.asarray(self.conversion_base)[w.type_idx]
        half = np.asarray(self.conversion_half_life_s)[w.type_idx]
        delay = self.first_reply_s - w.arrival_s
        with np.errstate(invalid="ignore"):
            p = base * np.exp2(-np.where(np.isnan(delay), np.inf, delay) / half)
        converted = (w.conversion_u < p) & ~self.abandoned
        would = w.conversion_u < base
        return converted, would & ~converted

    @property
    def labour_cost(self) -> float:
        """Scheduled labour cost over all pools, in the scenario's currency."""
        return float(
            sum(
                h * c
                for h, c in zip(self.paid_hours_by_pool, self.hourly_cost_by_pool, strict=True)
            )
        )
