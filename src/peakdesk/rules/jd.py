"""JD (京东咚咚): first 30-second response rate, mean response time, 留言 share.

PLATFORM_RULES.md, JD section (third-party copies of JD notices):

- Session-based: only the first consultation of a session is assessed, i.e.
  its first buyer message and the first agent reply; a buyer message more
  than 10 min after the previous session closed starts a new session.
- Sessions started 23:00-09:00 (Beijing time) are excluded; messages left
  while every agent is offline are 留言 (leave-a-message) and excluded from
  both response metrics.
- 30 s rate = sessions whose first agent reply came within 30 s / assessed
  sessions, 30 days.  Mean response time target < 40 s; 留言 share < 50%.

Modelling choices where the sources are silent (each a field of
:class:`JDRule`):

- **When a session closes.**  A session closes at its last message (any
  sender, bots included), but only once it has had an agent reply: a session
  still waiting for its first agent reply stays open, so a buyer who asks
  again after 10 minutes of silence is still in the same session and its
  wait keeps running from the first message (``unanswered_session_closes=False``).
  With ``True`` every session closes at its last message, and a repeated
  question after the gap opens a new session (the first one then stays
  unanswered).
- **Unanswered sessions** fail the 30 s rate; they are left out of the mean
  response time (there is no delay to average) unless ``unanswered_s`` gives
  them a delay to count.
- **留言 sessions** are those whose first buyer message is marked
  ``leave_message``; the share is over all sessions, whatever the hour
  (``leave_share_all_hours``), since leaving messages is what happens at night.
- Only replies from ``agent`` (human) count; bot replies never do.
- Sessions count on the local day they started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import local_clock_s, local_day
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

RESPONSE_30S = "jd.response_30s"
MEAN_RESPONSE = "jd.mean_response_s"
LEAVE_SHARE = "jd.leave_message_share"


@dataclass(frozen=True)
class JDRule:
    """Parameters of JD's chat rules (defaults: PLATFORM_RULES.md).

    Attributes
    ----------
    timezone
        IANA zone of the clock (Beijing time).
    session_gap_s
        A buyer message more than this many seconds after the previous
        session closed starts a new session, 600.
    first_reply_s
        The first agent reply passes when it comes within this many seconds
        of the session's first buyer message (inclusive), 30.
    excluded_start_s, excluded_end_s
        Sessions started in ``[start, end)`` local time of day, seconds after
        midnight, are not assessed (23:00-09:00; the span may wrap midnight).
    window_days
        Rolling window of all three metrics, days, 30.
    target_rate
        Threshold of the 30 s rate (``>=``); the sources give none.
    target_mean_s
        Mean response time threshold (``<=``), seconds, 40.
    target_leave_share
        留言 share threshold (``<=``), 0.5.
    unanswered_session_closes
        ``False`` (default): a session without an agent reply yet does not
        close, however long the buyer waits; ``True``: every session closes at
        its last message.
    unanswered_s
        Delay, seconds, counted for an assessed session with no agent reply in
        the mean response time; ``None`` (default): such sessions are left out
        of the mean (they still fail the 30 s rate).
    leave_share_all_hours
        ``True`` (default): the 留言 share is over all sessions; ``False``:
        only over sessions started outside the excluded hours.
    """

    timezone: str = "Asia/Shanghai"
    session_gap_s: float = 600.0
    first_reply_s: float = 30.0
    excluded_start_s: float = 23 * 3600
    excluded_end_s: float = 9 * 3600
    window_days: int = 30
    target_rate: float | None = None
    target_mean_s: float = 40.0
    target_leave_share: float = 0.5
    unanswered_session_closes: bool = False
    unanswered_s: float | None = None
    leave_share_all_hours: bool = True


PRESETS: dict[str, JDRule] = {"default": JDRule()}


@dataclass(frozen=True)
class JDSessions:
    """Sessions of a message log, sorted by conversation then start.

    Attributes
    ----------
    conversation
        Conversation code of each session.
    start_s
        POSIX time of the session's first buyer message, seconds.
    reply_s
        POSIX time of its first agent reply, seconds (``nan``: none).
    first_message
        Index (into the log) of the session's first buyer message.
    leave_message
        Whether the session is a 留言 (its first buyer message was left while
        every agent was offline).
    """

    conversation: I64
    start_s: F64
    reply_s: F64
    first_message: I64
    leave_message: B

    @property
    def n(self) -> int:
        """Number of sessions."""
        return int(self.start_s.size)

    @property
    def delay_s(self) -> F64:
        """First agent reply delay, seconds (``nan`` if unanswered)."""
        return np.asarray(self.reply_s - self.start_s, dtype=np.float64)


def find_sessions(log: MessageLog, rule: JDRule = JDRule()) -> JDSessions:
    """Split every conversation into JD sessions.

    A session starts at a conversation's first buyer message, and at every
    buyer message more than ``session_gap_s`` after the previous message of
    its conversation (the previous session's close), provided, unless
    ``unanswered_session_closes``, that the previous session has had an agent
    reply.  Messages before a conversation's first buyer message belong to no
    session.
    """
    n = log.n_messages
    if n == 0:
        e_i, e_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return JDSessions(e_i, e_f, e_f, e_i, np.zeros(0, dtype=np.bool_))
    conv, t = log.conversation, log.time_s
    buyer = log.sender == BUYER
    agent = log.sender == AGENT
    new_conv = np.ones(n, dtype=np.bool_)
    new_conv[1:] = conv[1:] != conv[:-1]
    # Buyer messages so far in the conversation (this one included).
    cb = np.cumsum(buyer)
    conv_base = (cb - buyer)[new_conv]
    seen = cb - conv_base[np.cumsum(new_conv) - 1]
    first_buyer = buyer & (seen == 1)
    gap = np.full(n, np.inf)
    gap[1:] = t[1:] - t[:-1]
    gap[new_conv] = np.inf
    cand = np.flatnonzero(buyer & (first_buyer | (gap > rule.session_gap_s)))
    if rule.unanswered_session_closes or cand.size == 0:
        starts = cand
    else:
        # A candidate starts a session iff its conversation had an agent reply
        # since the previous candidate.  (If that candidate did not start a
        # session, the open session had no agent reply before it either, so
        # "since the previous candidate" equals "since the session started":
        # no recursion needed.)  The first buyer message of a conversation is
        # always a start, so ``prev`` of any other candidate is in its conversation.
        prev = np.empty(cand.size, dtype=np.int64)
        prev[0] = -1
        prev[1:] = cand[:-1]
        agents_before = np.concatenate(([0], np.cumsum(agent)))
        replied = agents_before[cand] - agents_before[prev + 1] > 0
        starts = cand[first_buyer[cand] | replied]
    is_start = np.zeros(n, dtype=np.bool_)
    is_start[starts] = True
    session = np.cumsum(is_start) - 1
    in_session = seen > 0
    a = np.flatnonzero(agent & in_session)
    sid = session[a]
    first_reply = np.ones(a.size, dtype=np.bool_)
    first_reply[1:] = sid[1:] != sid[:-1]
    reply_s = np.full(starts.size, np.nan)
    reply_s[sid[first_reply]] = t[a[first_reply]]
    return JDSessions(
        conversation=conv[starts],
        start_s=t[starts],
        reply_s=reply_s,
        first_message=starts.astype(np.int64),
        leave_message=log.leave_message[starts],
    )


def score(
    log: MessageLog,
    rule: JDRule = JDRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """JD's 30 s response rate, mean response time and 留言 share, per local day.

    Parameters
    ----------
    log
        The message log (``leave_message`` marks 留言).
    rule
        Thresholds, windows and clock.
    history
        Seller's record before the log, by metric name.

    Returns
    -------
    dict[str, MetricSeries]
        ``"jd.response_30s"`` (share of assessed sessions whose first agent
        reply came within ``first_reply_s``), ``"jd.mean_response_s"``
        (seconds, mean first agent reply delay of assessed sessions, lower is
        better) and ``"jd.leave_message_share"`` (share of sessions that are
        留言, lower is better), each rolling over ``window_days``.
    """
    hist = history or {}
    zone = ZoneInfo(rule.timezone)
    s = find_sessions(log, rule)
    day = local_day(s.start_s, zone)
    excluded = _in_clock_span(local_clock_s(s.start_s, zone), rule)
    assessed = ~excluded & ~s.leave_message
    delay = s.delay_s
    answered = ~np.isnan(delay)
    fast = answered & (np.nan_to_num(delay, nan=np.inf) <= rule.first_reply_s)
    rate = daily_series(
        metric=RESPONSE_30S,
        label="JD first-reply 30 s rate (咚咚首次30秒应答率, sessions 09:00-23:00)",
        unit="share",
        higher_is_better=True,
        threshold=rule.target_rate,
        window_days=rule.window_days,
        unit_day=day[assessed],
        unit_value=fast[assessed].astype(np.float64),
        history=hist.get(RESPONSE_30S),
    )
    if rule.unanswered_s is None:
        timed = assessed & answered
        seconds = delay[timed]
    else:
        timed = assessed
        seconds = np.where(answered, delay, rule.unanswered_s)[timed]
    mean = daily_series(
        metric=MEAN_RESPONSE,
        label="JD mean first-reply time (平均响应时长, sessions 09:00-23:00)",
        unit="seconds",
        higher_is_better=False,
        threshold=rule.target_mean_s,
        window_days=rule.window_days,
        unit_day=day[timed],
        unit_value=np.asarray(seconds, dtype=np.float64),
        history=hist.get(MEAN_RESPONSE),
    )
    counted = np.ones(s.n, dtype=np.bool_) if rule.leave_share_all_hours else ~excluded
    leave = daily_series(
        metric=LEAVE_SHARE,
        label="JD leave-message share (留言占比)",
        unit="share",
        higher_is_better=False,
        threshold=rule.target_leave_share,
        window_days=rule.window_days,
        unit_day=day[counted],
        unit_value=s.leave_message[counted].astype(np.float64),
        history=hist.get(LEAVE_SHARE),
    )
    return {RESPONSE_30S: rate, MEAN_RESPONSE: mean, LEAVE_SHARE: leave}


def _in_clock_span(clock_s: F64, rule: JDRule) -> B:
    """Whether each local time of day lies in ``[excluded_start_s, excluded_end_s)``.

    The span wraps midnight when its start is after its end (23:00-09:00).
    """
    lo, hi = rule.excluded_start_s, rule.excluded_end_s
    if lo <= hi:
        inside = (clock_s >= lo) & (clock_s < hi)
    else:
        inside = (clock_s >= lo) | (clock_s < hi)
    return np.asarray(inside, dtype=np.bool_)
