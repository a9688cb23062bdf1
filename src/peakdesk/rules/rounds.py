"""Rounds: the unit most platform rules judge, found without a Python loop.

A *round* (对话轮次) opens at a buyer message when no round is open in its
conversation and closes at the next *qualifying* reply; buyer messages while
it is open join it, and its response time runs from its first buyer message.
The first-response "conversation" of Lazada, Shopee, TikTok Shop and JD has the
same shape, so one vectorised routine serves them all; rules differ only in
which replies qualify, which rounds they keep and how they score them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rounds:
    """Rounds of a message log, in log order (by conversation, then time).

    Attributes
    ----------
    conversation
        Conversation code of each round.
    open_s
        POSIX time of the round's first buyer message.
    reply_s
        POSIX time of the qualifying reply that closed it (``nan``: unanswered).
    first_message
        Index (into the log) of the round's first buyer message.
    buyer_messages
        Buyer messages in the round.
    conversation_start_s
        POSIX time of the first message of the round's conversation.
    """

    conversation: I64
    open_s: F64
    reply_s: F64
    first_message: I64
    buyer_messages: I64
    conversation_start_s: F64

    @property
    def n(self) -> int:
        """Number of rounds."""
        return int(self.open_s.size)

    @property
    def answered(self) -> B:
        """Rounds with a qualifying reply."""
        return ~np.isnan(self.reply_s)

    @property
    def delay_s(self) -> F64:
        """Response time of each round, seconds (``nan`` if unanswered)."""
        return self.reply_s - self.open_s

    def select(self, keep: B) -> Rounds:
        """The rounds where ``keep`` is true."""
        return Rounds(
            self.conversation[keep],
            self.open_s[keep],
            self.reply_s[keep],
            self.first_message[keep],
            self.buyer_messages[keep],
            self.conversation_start_s[keep],
        )


def qualifying_replies(log: MessageLog, *, bots_count: bool = False) -> B:
    """Replies that count: human ones, and bot ones if ``bots_count``."""
    q = log.sender == AGENT
    if bots_count:
        q |= log.sender == BOT
    return np.asarray(q, dtype=np.bool_)


def find_rounds(log: MessageLog, qualifies: B) -> Rounds:
    """Split every conversation into rounds.

    Parameters
    ----------
    log
        The message log (sorted by conversation, time, sender).
    qualifies
        Per message: a reply that closes a round.  Other replies are ignored,
        as if they had not been sent (an auto reply neither answers nor splits
        a round).

    Returns
    -------
    Rounds
        Every round, answered or not.
    """
    buyer = log.sender == BUYER
    keep = buyer | qualifies
    idx = np.flatnonzero(keep)
    conv = log.conversation[idx]
    is_buyer = buyer[idx]
    n = idx.size
    if n == 0:
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        return Rounds(empty_i, empty_f, empty_f, empty_i, empty_i, empty_f)
    new_conv = np.ones(n, dtype=np.bool_)
    new_conv[1:] = conv[1:] != conv[:-1]
    prev_is_reply = np.zeros(n, dtype=np.bool_)
    prev_is_reply[1:] = ~is_buyer[:-1]
    start = is_buyer & (new_conv | prev_is_reply)
    starts = np.flatnonzero(start)
    # The reply closing a round is the first kept reply after its start, in the same
    # conversation: with buyer blocks and reply blocks alternating, it is the first
    # reply position after the start.
    reply_pos = np.flatnonzero(~is_buyer)
    k = np.searchsorted(reply_pos, starts, side="right")
    has = k < reply_pos.size
    nxt = (
        np.where(has, reply_pos[np.minimum(k, reply_pos.size - 1)], 0)
        if reply_pos.size
        else np.zeros(starts.size, dtype=np.int64)
    )
    has &= conv[nxt] == conv[starts]
    reply_s = np.full(starts.size, np.nan)
    reply_s[has] = log.time_s[idx[nxt[has]]]
    # Buyer messages per round: buyer events between this start and the next start/reply.
    round_id = np.cumsum(start) - 1
    buyers_per = np.bincount(round_id[is_buyer], minlength=starts.size)
    # Conversation start: time of each conversation's first message (any sender).
    first_of_conv = np.ones(log.n_messages, dtype=np.bool_)
    first_of_conv[1:] = log.conversation[1:] != log.conversation[:-1]
    conv_start = np.full(log.n_conversations, np.nan)
    conv_start[log.conversation[first_of_conv]] = log.time_s[first_of_conv]
    return Rounds(
        conversation=conv[starts],
        open_s=log.time_s[idx[starts]],
        reply_s=reply_s,
        first_message=idx[starts].astype(np.int64),
        buyer_messages=buyers_per.astype(np.int64),
        conversation_start_s=conv_start[conv[starts]],
    )


def rounds_of(log: MessageLog, *, bots_count: bool) -> Rounds:
    """The log's rounds closed by human replies (and bot ones if ``bots_count``).

    Kept with the log (:attr:`MessageLog.memo`): every rule scoring the same log
    splits it once.
    """
    key = ("rounds", bool(bots_count))
    found = log.memo.get(key)
    if found is None:
        found = log.memo[key] = find_rounds(log, qualifying_replies(log, bots_count=bots_count))
    return found


def bot_resolved(log: MessageLog) -> B:
    """Per conversation code: no human reply, and a bot answered every round.

    Buyer messages and replies alternate within a conversation, so every round but
    its last is answered, and the last is when a bot or human reply comes after
    the conversation's last buyer message.  Kept with the log
    (:attr:`MessageLog.memo`).

    Returns
    -------
    numpy.ndarray of bool
        Length ``log.n_conversations``.
    """
    found = log.memo.get("bot_resolved")
    if found is not None:
        return found  # type: ignore[no-any-return]
    n = log.n_conversations
    conv, sender = log.conversation, log.sender
    humans = np.bincount(conv[sender == AGENT], minlength=n)
    bots = np.bincount(conv[sender == BOT], minlength=n)
    out = np.zeros(n, dtype=np.bool_)
    if conv.size:
        pos = np.arange(conv.size, dtype=np.int64)
        starts = np.flatnonzero(np.concatenate(([True], conv[1:] != conv[:-1])))
        last_buyer = np.maximum.reduceat(np.where(sender == BUYER, pos, -1), starts)
        reply = (sender == AGENT) | (sender == BOT)
        last_reply = np.maximum.reduceat(np.where(reply, pos, -1), starts)
        answered = np.ones(n, dtype=np.bool_)
        answered[conv[starts]] = last_buyer < last_reply
        out = (humans == 0) & (bots > 0) & answered
    log.memo["bot_resolved"] = out
    return out
