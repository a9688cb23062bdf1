"""The chats open at the time of a re-plan, and the agents on them, read from the export.

From the log cut at ``at`` (messages before it), each conversation is in one of:

* **waiting for a first reply**: buyer messages and no reply yet (neither agent nor
  bot; an auto greeting answers nothing), waiting since its first buyer message;
* **waiting for a reply**: answered before, and a buyer message after the last
  reply; held by the agent who replied last (the export has no assignment times, so
  a chat handed over between replies shows with its last agent);
* **waiting for the buyer**: its last message is a reply less than ``open_s`` ago
  (the scenario's ``routing.idle_close``, else 30 minutes: a chat silent longer is
  taken as closed);
* closed otherwise.

A chat unanswered for more than two hours (``GONE_S``) is counted apart: an export
cannot tell a buyer who gave up from one still waiting.

An agent is taken as online when it sent a reply in the ``active_s`` (15 minutes)
before ``at``; the chats it holds are the ones waiting for a later reply that it
replied to last (a chat waiting on its buyer may have had its final reply: the
export cannot tell, so it is counted apart).  A roster
export of who is logged in would say it exactly (not read yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog

#: Silence after which a chat with no idle auto-close is taken as closed, seconds.
DEFAULT_OPEN_S = 1800.0
#: An agent who replied within this long before ``at`` is taken as online, seconds.
ACTIVE_S = 900.0
#: A buyer unanswered this long is counted apart as likely gone, seconds (two hours:
#: past every patience a scenario here gives a waiting buyer).
GONE_S = 7200.0


@dataclass(frozen=True)
class OpenChats:
    """The open chats at ``at`` (see the module docstring).

    Attributes
    ----------
    first_waiting_s
        Per chat waiting for a first reply, how long it has waited, seconds.
    reply_waiting_s
        Per chat waiting for a later reply, how long since the buyer's message.
    buyer_waiting
        Chats whose agent answered and whose buyer may write again.
    agents
        Agents taken as online, with the open chats each replied to last.
    open_s, active_s
        The silences used (see the module docstring), seconds.
    unheld
        With a roster: chats waiting for a reply whose last agent is not logged in.
    roster
        Whether ``agents`` comes from a roster (else from recent replies).
    gone
        Chats whose buyer has waited longer than ``GONE_S`` for an answer:
        in an export a buyer who gave up looks like one still waiting, and
        these are counted apart (likely gone), not in the waits above.
    """

    first_waiting_s: tuple[float, ...]
    reply_waiting_s: tuple[float, ...]
    buyer_waiting: int
    agents: dict[str, int]
    open_s: float
    active_s: float = ACTIVE_S
    gone: int = 0
    unheld: int = 0
    roster: bool = False


def open_chats(
    log: MessageLog,
    at_s: float,
    open_s: float | None = None,
    agent_names: list[str] | None = None,
    online: set[str] | None = None,
) -> OpenChats:
    """The chats open at POSIX ``at_s`` in ``log`` (its messages before then are read);
    ``online``: the agents a roster has logged in at ``at_s`` (by the export's ids)."""
    silence = DEFAULT_OPEN_S if open_s is None else float(open_s)
    cut = log.before(at_s)
    conv, sender, t, agent = cut.conversation, cut.sender, cut.time_s, cut.agent
    n = int(conv.max()) + 1 if conv.size else 0
    reply = (sender == AGENT) | (sender == BOT)
    first_buyer = np.full(n, np.inf)
    last_buyer = np.full(n, -np.inf)
    last_reply = np.full(n, -np.inf)
    last_agent = np.full(n, -1, dtype=np.int64)
    b = sender == BUYER
    np.minimum.at(first_buyer, conv[b], t[b])
    np.maximum.at(last_buyer, conv[b], t[b])
    np.maximum.at(last_reply, conv[reply], t[reply])
    # The agent of each chat's last human reply: the log is sorted by chat, then time, so
    # the first row of each chat in the reversed rows is its last.
    human = np.flatnonzero(sender == AGENT)[::-1]
    chats, first_row = np.unique(conv[human], return_index=True)
    last_agent[chats] = agent[human[first_row]]
    seen = np.isfinite(first_buyer)
    never_all = seen & ~np.isfinite(last_reply)
    again_all = seen & np.isfinite(last_reply) & (last_buyer > last_reply)
    since = np.where(never_all, first_buyer, last_buyer)
    gone = (never_all | again_all) & (at_s - since > GONE_S)
    never, again = never_all & ~gone, again_all & ~gone
    quiet = seen & np.isfinite(last_reply) & (last_buyer <= last_reply)
    buyer_wait = quiet & (at_s - last_reply < silence)
    # Held: a chat whose buyer waits for a later reply.  One waiting on its buyer may
    # have had its last reply (a final reply and a mid-chat one look the same in an
    # export): counted apart, not as held.
    held = again & (last_agent >= 0)
    recent = np.unique(agent[(sender == AGENT) & (t >= at_s - ACTIVE_S) & (agent >= 0)])
    counts = np.bincount(last_agent[held], minlength=int(agent.max()) + 1 if agent.size else 0)
    names = agent_names or []

    def name(a: int) -> str:
        return names[a] if 0 <= a < len(names) else f"agent {a}"

    holding = {name(a): int(c) for a, c in enumerate(counts) if c > 0}
    if online is None:
        agents = {name(int(a)): int(counts[a]) if a < counts.size else 0 for a in recent}
        unheld = 0
    else:
        agents = {a: holding.get(a, 0) for a in sorted(online)}
        unheld = sum(c for a, c in holding.items() if a not in online)
    return OpenChats(
        first_waiting_s=tuple(float(x) for x in np.sort(at_s - first_buyer[never])[::-1]),
        reply_waiting_s=tuple(float(x) for x in np.sort(at_s - last_buyer[again])[::-1]),
        buyer_waiting=int(buyer_wait.sum()),
        agents=agents,
        open_s=silence,
        gone=int(gone.sum()),
        unheld=unheld,
        roster=online is not None,
    )
