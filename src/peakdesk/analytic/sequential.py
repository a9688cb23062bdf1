"""Sequential chat agents: the many-server approximation the planner seeds with.

Conventions
-----------
Times in **seconds**, rates **per second**; probabilities in ``[0, 1]``.

Model
-----
A ``sequential`` agent (peakdesk's default discipline, a person typing in a
Qianniu-like workbench) holds up to ``m`` chats but writes one reply at a
time, oldest waiting buyer first.  For one buyer message per conversation and
exponential compose times each agent is a single server with room for ``m``
chats, and least-loaded routing sends a new chat to an agent holding the
fewest: the join-the-shortest-queue rule.  Its exact chain has the per-agent
counts as state (``tests/oracles/sequential_chain.py``) and grows as
``(1 + m (m + 1) / 2) ** n``: out of reach for a team.

For many agents, join-the-shortest-queue pools the agents' inboxes: a reply
seldom waits behind a busy agent while another is idle (Eschenfeldt and
Gamarnik, 2018, show the same diffusion limit as one M/M/n queue in the
Halfin-Whitt regime).  So the replies are treated as one M/M/n(+M) queue of
compose times at the multiplier of the chats an agent typically holds when it
starts a reply: ``k = 1 + (replies waiting in inboxes) / (agents writing)``,
capped at ``m``, solved by a fixed point.  The wait is until the reply is
*started*; patience applies to it (``until="reply_start"``, withdrawal as
``answer_after_abandon = false`` with ``patience_until = "first_reply"``) or
only once every slot is taken (``until="assignment"``, approximated by no
abandonment while slots are free, i.e. Erlang C, which is the conservative
side).  Its error against the exact chain is measured in the tests.

:func:`agents_for_reply_delay` is what the planner uses per interval: the
fewest agents whose replies, as one Erlang C queue at a writing load (agents'
worth of writing), wait longer than one compose time with probability at most
``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from peakdesk.analytic.erlang import erlang_a_metrics, erlang_c, erlang_c_metrics

__all__ = ["SequentialResult", "agents_for_reply_delay", "sequential_metrics"]


@dataclass(frozen=True)
class SequentialResult:
    """Approximate steady state of sequential chat agents.

    Attributes
    ----------
    agents, max_concurrency
        ``n`` and ``m``.
    concurrency_at_start
        Chats an agent holds, on average, when it starts a reply (the fixed point).
    compose_s
        Mean compose time at that concurrency, seconds.
    p_wait
        P(a reply is not started at once).
    p_abandon
        P(the buyer leaves before the reply is started).
    mean_wait_s
        Mean time until the reply is started (or the buyer left), over all arrivals.
    service_level
        P(reply started within ``target_s`` and not abandoned).
    agent_busy
        Share of agents writing.
    """

    agents: int
    max_concurrency: int
    concurrency_at_start: float
    compose_s: float
    p_wait: float
    p_abandon: float
    mean_wait_s: float
    service_level: float
    agent_busy: float


def _multiplier(mult: Sequence[float], k: float) -> float:
    """The compose multiplier at a fractional number of chats held (linear between levels)."""
    k = min(max(k, 1.0), float(len(mult)))
    lo = math.floor(k)
    if lo >= len(mult):
        return float(mult[-1])
    frac = k - lo
    return float(mult[lo - 1]) * (1.0 - frac) + float(mult[lo]) * frac


def sequential_metrics(
    arrival_rate_per_s: float,
    agents: int,
    max_concurrency: int,
    compose_s: float,
    multiplier: Sequence[float],
    mean_patience_s: float = math.inf,
    target_s: float = 0.0,
    until: Literal["reply_start", "assignment"] = "reply_start",
) -> SequentialResult:
    """Many-server approximation of sequential agents (one message per chat).

    Parameters
    ----------
    arrival_rate_per_s
        Poisson chat arrival rate, per second.
    agents
        Number of agents ``n >= 1``.
    max_concurrency
        Chats an agent may hold, ``m >= 1``.
    compose_s
        Mean compose time of a reply at one chat held (base x pool factor), seconds.
    multiplier
        Compose multiplier by chats held at the start of a reply, ``m`` values.
    mean_patience_s
        Mean exponential patience, seconds (``inf``: none).
    target_s
        Threshold of the service level, seconds.
    until
        ``"reply_start"``: patience runs until the reply is started;
        ``"assignment"``: until an agent takes the chat (Erlang C here).
    """
    if len(multiplier) != max_concurrency:
        raise ValueError(f"multiplier needs {max_concurrency} values, got {len(multiplier)}")
    lam = float(arrival_rate_per_s)
    n, m = int(agents), int(max_concurrency)
    abandon = until == "reply_start" and math.isfinite(mean_patience_s)
    k = 1.0
    for _ in range(100):
        s = compose_s * _multiplier(multiplier, k)
        if abandon:
            a = erlang_a_metrics(lam, s, mean_patience_s, n, target_s)
            p_wait, p_ab, wait, sl, busy = (
                a.p_wait,
                a.p_abandon,
                a.asa_s,
                a.sl_served,
                a.occupancy,
            )
            queue = a.mean_queue
        else:
            c = erlang_c_metrics(lam, s, n, target_s)
            p_wait, p_ab, wait, sl, busy = c.p_wait, 0.0, c.asa_s, c.service_level, c.occupancy
            queue = lam * wait if math.isfinite(wait) else math.inf
        writing = busy * n
        held_waiting = min(queue, n * (m - 1)) if math.isfinite(queue) else n * (m - 1)
        k_next = min(1.0 + held_waiting / writing, float(m)) if writing > 0 else 1.0
        if abs(k_next - k) < 1e-10:
            break
        k = 0.5 * (k + k_next)  # damped: the multiplier feeds back on the queue
    return SequentialResult(
        agents=n,
        max_concurrency=m,
        concurrency_at_start=k,
        compose_s=compose_s * _multiplier(multiplier, k),
        p_wait=p_wait,
        p_abandon=p_ab,
        mean_wait_s=wait,
        service_level=sl,
        agent_busy=busy,
    )


def agents_for_reply_delay(writing_load_erl: float, alpha: float) -> int:
    """Fewest agents with P(a reply waits longer than one compose time) at most ``alpha``.

    Replies as one M/M/n queue (Erlang C) at the writing load: ``P(W > t) =
    C(n, a) exp(-(n - a) t / s)``, at ``t = s``, one mean compose time.  A reply
    started within one compose time is sent within about two, inside every
    platform's threshold (30 s to hours); what the criterion rules out is
    replies queueing behind several others, which is how sequential agents
    fall behind.

    Parameters
    ----------
    writing_load_erl
        Agents' worth of writing (reply arrival rate x compose time), ``>= 0``.
    alpha
        Largest P(a reply waits more than one compose time), in ``(0, 1)``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if writing_load_erl <= 0.0:
        return 0
    a = writing_load_erl
    n = max(1, math.floor(a) + 1)
    while erlang_c(n, a) * math.exp(-(n - a)) > alpha:
        n += 1
    return n
