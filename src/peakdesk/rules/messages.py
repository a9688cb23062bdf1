"""The message log the rules judge: one row per message, as numpy columns.

This is the common vocabulary of PLATFORM_RULES.md: ``conversation_id, sender,
timestamp[, agent_id]`` with sender ``buyer``, ``agent`` (a human, quick phrases
included) or ``bot`` (the assistant or an auto-reply that answers the question).
peakdesk adds ``auto``: a greeting sent on arrival that answers nothing.  It
never counts as a reply, and a conversation that had only a greeting is not
"resolved by a bot" (exporting it as ``bot`` would make an unanswered chat look
bot-resolved and drop it from rules that leave those out).  Simulated logs and real
back-office exports both become a :class:`MessageLog`; the rules never see
the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: ``sender`` codes.  Their order is the tie-break at equal timestamps: a buyer
#: message sorts before a reply sent at the same instant, so an instant reply
#: answers it.
BUYER, AGENT, BOT, AUTO = 0, 1, 2, 3
SENDER_NAMES = ("buyer", "agent", "bot", "auto")


@dataclass(frozen=True)
class MessageLog:
    """Messages sorted by conversation, then time, then sender code.

    Attributes
    ----------
    conversation
        Dense conversation code of each message (``0 .. n_conversations - 1``).
    sender
        ``BUYER``, ``AGENT``, ``BOT`` or ``AUTO``.
    time_s
        POSIX time of each message, seconds (UTC).
    agent
        Agent code of a reply (``-1`` for buyer messages or unknown).
    leave_message
        Whether a buyer message was left while every agent was offline (JD's
        留言); all ``False`` when unknown.
    conversation_labels
        Original conversation ids, indexed by code (optional).
    ordered
        Per conversation code: the buyer placed an order (for inquiry
        conversion), or ``None`` when the log does not say.
    conversation_types
        Per conversation code: its inquiry type (``""`` when not given), or
        ``None`` when the log has no types (the rules do not use them;
        ``peakdesk calibrate`` fits each type).
    """

    conversation: I64
    sender: npt.NDArray[np.int8]
    time_s: F64
    agent: I64
    leave_message: npt.NDArray[np.bool_]
    conversation_labels: tuple[str, ...] | None = None
    ordered: npt.NDArray[np.bool_] | None = None
    conversation_types: tuple[str, ...] | None = None
    #: What the rules derive from this log and use more than once (its rounds): kept
    #: with the log, so two targets on one log split it into rounds once.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_arrays(
        cls,
        conversation: npt.ArrayLike,
        sender: npt.ArrayLike,
        time_s: npt.ArrayLike,
        agent: npt.ArrayLike | None = None,
        leave_message: npt.ArrayLike | None = None,
        conversation_labels: tuple[str, ...] | None = None,
        ordered: npt.ArrayLike | None = None,
        conversation_types: tuple[str, ...] | None = None,
        order: npt.NDArray[np.int64] | None = None,
    ) -> MessageLog:
        """Build a log from unsorted columns (conversation codes must be dense ints).

        ``order``, when the caller knows it, is the rows' sorted order (by
        conversation, time, sender, then position); it is checked in one pass
        and used if right, else the rows are sorted as without it.
        """
        conv = np.asarray(conversation, dtype=np.int64)
        snd = np.asarray(sender, dtype=np.int8)
        t = np.asarray(time_s, dtype=np.float64)
        ag = np.full(conv.size, -1, dtype=np.int64) if agent is None else np.asarray(agent)
        lm = (
            np.zeros(conv.size, dtype=np.bool_)
            if leave_message is None
            else np.asarray(leave_message, dtype=np.bool_)
        )
        if not (conv.size == snd.size == t.size == ag.size == lm.size):
            raise ValueError("all columns must have the same length")
        if np.isnan(t).any():
            raise ValueError("timestamps must be finite")
        if order is None or not _sorts(order, conv, t, snd):
            order = np.lexsort((snd, t, conv))
        return cls(
            conversation=conv[order],
            sender=snd[order],
            time_s=t[order],
            agent=ag[order].astype(np.int64),
            leave_message=lm[order],
            conversation_labels=conversation_labels,
            ordered=None if ordered is None else np.asarray(ordered, dtype=np.bool_),
            conversation_types=conversation_types,
        )

    @property
    def n_messages(self) -> int:
        """Number of messages."""
        return int(self.time_s.size)

    @property
    def n_conversations(self) -> int:
        """Number of conversations (largest code + 1)."""
        return int(self.conversation.max()) + 1 if self.conversation.size else 0

    def before(self, time_s: float) -> MessageLog:
        """The messages sent before POSIX ``time_s`` (conversation codes kept): the log
        as an export taken then would hold it."""
        keep = self.time_s < time_s
        return MessageLog(
            self.conversation[keep],
            self.sender[keep],
            self.time_s[keep],
            self.agent[keep],
            self.leave_message[keep],
            self.conversation_labels,
            self.ordered,
            self.conversation_types,
        )

    def shifted(self, seconds: float) -> MessageLog:
        """The same log with every timestamp moved by ``seconds``."""
        return MessageLog(
            self.conversation,
            self.sender,
            self.time_s + seconds,
            self.agent,
            self.leave_message,
            self.conversation_labels,
            self.ordered,
            self.conversation_types,
        )

    def of_conversations(self, keep: npt.NDArray[np.bool_]) -> MessageLog:
        """The conversations where ``keep`` (per code) is true, numbered ``0 .. k - 1``.

        Their order, messages and per-conversation columns are kept: a centre
        client's share of the log, scored as if it were the whole log.
        """
        keep = np.asarray(keep, dtype=np.bool_)
        if keep.size < self.n_conversations:
            keep = np.concatenate((keep, np.zeros(self.n_conversations - keep.size, np.bool_)))
        codes = np.flatnonzero(keep)
        rows = keep[self.conversation]
        labels, types = self.conversation_labels, self.conversation_types
        return MessageLog(
            conversation=np.searchsorted(codes, self.conversation[rows]).astype(np.int64),
            sender=self.sender[rows],
            time_s=self.time_s[rows],
            agent=self.agent[rows],
            leave_message=self.leave_message[rows],
            conversation_labels=None if labels is None else tuple(labels[c] for c in codes),
            ordered=None if self.ordered is None else self.ordered[codes],
            conversation_types=None if types is None else tuple(types[c] for c in codes),
        )

    def select(self, keep: npt.NDArray[np.bool_]) -> MessageLog:
        """A log with only the messages where ``keep`` is true (order kept)."""
        return MessageLog(
            self.conversation[keep],
            self.sender[keep],
            self.time_s[keep],
            self.agent[keep],
            self.leave_message[keep],
            self.conversation_labels,
            self.ordered,
            self.conversation_types,
        )


def _sorts(order: npt.NDArray[np.int64], conv: I64, t: F64, snd: npt.NDArray[np.int8]) -> bool:
    """Whether ``order`` is the stable sort of the rows by (conversation, time, sender)."""
    n = conv.size
    if order.size != n or (n and (order.min() < 0 or order.max() >= n)):
        return False
    seen = np.zeros(n, dtype=np.bool_)
    seen[order] = True  # a permutation: every row once
    if not seen.all():
        return False
    if n < 2:
        return True
    c, tt, ss, pos = conv[order], t[order], snd[order], order
    a, b = slice(None, -1), slice(1, None)
    # Each next row is after the previous one, or equal in every key and later in
    # the input (stable).
    after = (c[b] > c[a]) | (
        (c[b] == c[a])
        & (
            (tt[b] > tt[a])
            | ((tt[b] == tt[a]) & ((ss[b] > ss[a]) | ((ss[b] == ss[a]) & (pos[b] > pos[a]))))
        )
    )
    return bool(after.all())
