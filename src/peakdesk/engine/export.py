"""From the engine's chat log to the rules' message log (the import format).

The rules never see the engine: a simulated log reaches them exactly as a real
back-office export would, plus two facts only a simulation knows for sure:
which buyer messages were left while no agent was online (JD's 留言), and which
buyers ordered.
"""

from __future__ import annotations

import numpy as np

from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN, ChatLog
from peakdesk.rules.messages import AGENT, AUTO, BOT, BUYER, MessageLog


def agents_online_at(log: ChatLog, t: np.ndarray) -> np.ndarray:
    """Number of agents online at each time ``t`` (seconds from the start)."""
    starts = np.sort(log.online_start_s)
    ends = np.sort(log.online_end_s)
    return np.searchsorted(starts, t, side="right") - np.searchsorted(ends, t, side="right")


def to_message_log(log: ChatLog) -> MessageLog:
    """The chat log as the rules' :class:`MessageLog` (POSIX times, codes = conversation index).

    Buyer messages sent, replies (human -> ``agent``, bot -> ``bot``) and auto
    greetings (``auto``) each become one message.
    """
    w = log.workload
    t0 = log.start.timestamp()
    conv = w.message_conversation
    sent = ~np.isnan(log.msg_time_s)
    replied = ~np.isnan(log.reply_time_s)
    auto = ~np.isnan(log.auto_reply_s)
    kind = log.reply_kind[replied]
    sender = np.concatenate(
        (
            np.full(int(sent.sum()), BUYER),
            np.where(kind == REPLY_HUMAN, AGENT, np.where(kind == REPLY_BOT, BOT, BOT)),
            np.full(int(auto.sum()), AUTO),
        )
    )
    t_rel = np.concatenate(
        (log.msg_time_s[sent], log.reply_time_s[replied], log.auto_reply_s[auto])
    )
    leave = np.zeros(t_rel.size, dtype=np.bool_)
    n_sent = int(sent.sum())
    # A buyer message of a conversation needing an agent, sent while nobody is online.
    needs_agent = ~w.bot[conv[sent]]
    leave[:n_sent] = needs_agent & (agents_online_at(log, log.msg_time_s[sent]) == 0)
    converted, _ = log.conversion()
    # The rows in their sorted order, as the engine knows it: a conversation's buyer
    # message, then its reply, message after message, the greeting after the first
    # message (after the first reply when that came at once); checked, not trusted.
    first = w.msg_offset[:-1]
    at_once = np.zeros(w.n_conversations, dtype=np.bool_)
    at_once[:] = log.reply_time_s[first] == w.arrival_s
    slot = np.concatenate(
        (
            6 * np.flatnonzero(sent),
            6 * np.flatnonzero(replied) + 3,
            6 * first[auto] + np.where(at_once[auto], 4, 2),
        )
    )
    return MessageLog.from_arrays(
        conversation=np.concatenate((conv[sent], conv[replied], np.flatnonzero(auto))),
        sender=sender,
        time_s=t0 + t_rel,
        agent=np.concatenate(
            (np.full(n_sent, -1), log.reply_agent[replied], np.full(int(auto.sum()), -1))
        ),
        leave_message=leave,
        ordered=converted,
        conversation_types=tuple(np.asarray(w.type_names)[w.type_idx].tolist()),
        order=np.argsort(slot, kind="stable"),
    )
