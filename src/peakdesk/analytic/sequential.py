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

For many agents the approximation treats the moment of arrival and the wait
apart.  A reply waits when every agent is writing: that probability is taken
from one pooled M/M/n(+M) queue of replies (Erlang C, or Erlang A with
patience until the reply is started).  But a chat that finds every agent
writing is not served by the first agent to finish, as in that pooled queue:
least-loaded routing has already put it in one agent's inbox, behind that
agent's reply (the rate ``mu`` of one agent), unless the whole team drains
more slowly still (near saturation).  So the wait of a delayed reply is taken
as exponential with rate ``R = min(1 / w_pool, mu + theta)``, ``w_pool`` the
pooled queue's mean wait given delay, and ``P(W > t) = P(wait) exp(-R t)``,
``P(abandon) = P(wait) theta / R``.  Compose times are at the multiplier of the
chats an agent holds, on average, when it starts a reply (``1 + waiting
replies per writing agent``, capped at ``m``; a fixed point).  It errs on the
safe side: against the exact chain of 2-4 agents P(abandon) is 0.003-0.040
above and the mean wait 0.7-5.5 s longer; against the engine with 27 agents
P(a reply waits longer than one compose time) is 0.165 against 0.104-0.115
measured (``tests/test_plan_disciplines.py``): Erlang C's P(every agent
writing) overstates it for least-loaded routing.  For patience until
assignment it is used without abandonment (Erlang C), the safe side again.

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
    late
        P(the reply is not started within ``target_s``, abandoning or not).
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
    late: float
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
        ``"assignment"``: until an agent takes the chat (no abandonment here).
    """
    if len(multiplier) != max_concurrency:
        raise ValueError(f"multiplier needs {max_concurrency} values, got {len(multiplier)}")
    lam = float(arrival_rate_per_s)
    n, m = int(agents), int(max_concurrency)
    theta = 1.0 / mean_patience_s if until == "reply_start" else 0.0
    k = 1.0
    p_wait = rate = busy = 0.0
    for _ in range(200):
        s = compose_s * _multiplier(multiplier, k)
        if theta > 0.0:
            a = erlang_a_metrics(lam, s, 1.0 / theta, n, 0.0)
            p_wait, asa, busy = a.p_wait, a.asa_s, a.occupancy
        else:
            c = erlang_c_metrics(lam, s, n, 0.0)
            p_wait, asa, busy = c.p_wait, c.asa_s, c.occupancy
        pooled = p_wait / asa if asa > 0.0 and math.isfinite(asa) else 0.0
        rate = min(pooled, 1.0 / s + theta) if pooled > 0.0 else 1.0 / s + theta
        waiting = lam * p_wait / rate if rate > 0.0 else math.inf
        writing = busy * n
        k_next = min(1.0 + waiting / writing, float(m)) if writing > 0.0 else 1.0
        if abs(k_next - k) < 1e-10:
            break
        k = 0.5 * (k + k_next)  # damped: the multiplier feeds back on the wait
    late = p_wait * math.exp(-rate * target_s) if rate > 0.0 else p_wait
    p_abandon = p_wait * theta / rate if rate > 0.0 else 0.0
    # Started within the target: no wait, or a delayed start (rate - theta) before t.
    started = p_wait * (rate - theta) / rate * (1.0 - math.exp(-rate * target_s)) if rate else 0.0
    return SequentialResult(
        agents=n,
        max_concurrency=m,
        concurrency_at_start=k,
        compose_s=compose_s * _multiplier(multiplier, k),
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_wait_s=p_wait / rate if rate > 0.0 else math.inf,
        service_level=(1.0 - p_wait) + started,
        late=late,
        agent_busy=busy,
    )


def agents_for_reply_delay(writing_load_erl: float, alpha: float) -> int:
    """Fewest agents with P(a reply waits longer than one compose time) at most ``alpha``.

    The model of :func:`sequential_metrics` without abandonment, at one compose
    time: ``P(W > s) = C(n, a) exp(-min(n - a, 1))`` with ``C`` Erlang C at the
    writing load ``a``.  A reply started within one compose time is sent within
    about two, inside every platform's threshold (30 s to hours); what the
    criterion rules out is replies queueing behind others, which is how
    sequential agents fall behind.

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
    while erlang_c(n, a) * math.exp(-min(n - a, 1.0)) > alpha:
        n += 1
    return n
