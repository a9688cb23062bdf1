"""TikTok Shop / Tokopedia: chat response rate (PLATFORM_RULES.md, TikTok Shop).

Rules [official]:

- A customer-initiated chat opens at a buyer message when none is open and is
  judged on its first human (``agent``) reply: a
  :func:`~peakdesk.rules.rounds.find_rounds` round with human replies only.
- SEA and Indonesia (since 15 Aug 2025): answered within 12 h, weekends and
  holidays included.  US: within 24 h; with all chatbots on, a chat received on
  Saturday or Sunday (local) may be answered until Monday 12:00 local.
- Excluded: chats opened while the shop was in holiday mode, and chats resolved
  by auto-reply or FAQ without handover.
- Target >= 90% [3p] (US: below 90% warning, below 85% enforcement).

Modelling choices (documented because the sources are silent):

- **Bot-resolved** means: the chat (first-response round) got at least one
  ``bot`` reply after it opened and never a human reply.  A handover (bot, then
  human, however late) is judged like any other chat, from its first buyer
  message.
- **US weekend rule**: the deadline of a weekend chat is the later of
  ``open + 24 h`` and Monday 12:00 local (``weekend_mode="later"``, the default),
  so a Sunday-night chat keeps its full 24 h; ``weekend_mode="monday"`` uses
  Monday 12:00 alone, the strict reading of TikTok's US page ("excluded from the
  24-hour window, but must be answered by Monday 12 PM").
- **Window: 30 days** (``window_days``).  The doc gives none; Shop Health shows
  its service metrics over a 30-day period, so 30 is the default [model].
- Every chat counts on the local day it was opened; holiday-mode spans are
  matched on the open time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import DAY_S, local_seconds, local_to_posix, weekday
from peakdesk.rules.lazada import check_spans, human_rounds, in_spans
from peakdesk.rules.messages import BOT, MessageLog
from peakdesk.rules.rounds import Rounds
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

RATE = "tiktok.response_rate"

Market = Literal["SEA", "US"]

#: Per market: (default zone, response window in seconds, weekend rule on).
_MARKET_DEFAULTS: dict[str, tuple[str, float, bool]] = {
    "SEA": ("Asia/Jakarta", 12 * 3600.0, False),
    "US": ("America/Los_Angeles", 24 * 3600.0, True),
}


@dataclass(frozen=True)
class TikTokRule:
    """Parameters of TikTok Shop's chat response rate.

    ``None`` fields take the market's default (see :attr:`zone_name`,
    :attr:`window_s`, :attr:`weekend`).

    Attributes
    ----------
    market
        ``"SEA"`` (Southeast Asia and Indonesia: 12 h) or ``"US"`` (24 h and the
        weekend rule).
    timezone
        IANA zone of the shop; ``None``: ``Asia/Jakarta`` (SEA) or
        ``America/Los_Angeles`` (US).
    response_s
        Time allowed for the first human reply, seconds; ``None``: 12 h (SEA) or 24 h (US).
    weekend_rule
        Apply the US weekend rule (all chatbots on); ``None``: on for US only.
    weekend_deadline_s
        Monday local time of day by which weekend chats must be answered,
        seconds after midnight (12:00).
    weekend_mode
        ``"later"``: the later of the normal and the Monday deadline;
        ``"monday"``: the Monday deadline alone.
    window_days
        Rolling window, days (30, [model]: the doc gives none).
    holiday_mode
        POSIX ``[start, end)`` spans, seconds, while the shop was in holiday
        mode; chats opened inside one are excluded.
    exclude_bot_resolved
        Exclude chats that got a bot reply and no human reply.
    target_rate
        Response rate to keep, share (>= 0.90).
    """

    market: Market = "SEA"
    timezone: str | None = None
    response_s: float | None = None
    weekend_rule: bool | None = None
    weekend_deadline_s: float = 12 * 3600
    weekend_mode: Literal["later", "monday"] = "later"
    window_days: int = 30
    holiday_mode: tuple[tuple[float, float], ...] = ()
    exclude_bot_resolved: bool = True
    target_rate: float = 0.90

    def __post_init__(self) -> None:
        if self.market not in _MARKET_DEFAULTS:
            raise ValueError(f"tiktok market must be 'SEA' or 'US', got {self.market!r}")
        ZoneInfo(self.zone_name)  # fails early, naming the zone, if it does not exist
        if self.response_s is not None and self.response_s < 0:
            raise ValueError(f"tiktok response_s must be >= 0, got {self.response_s}")
        if not 0.0 <= self.weekend_deadline_s <= DAY_S:
            raise ValueError(
                "tiktok weekend_deadline_s must be within 0..86400 s, "
                f"got {self.weekend_deadline_s}"
            )
        if self.weekend_mode not in ("later", "monday"):
            raise ValueError(
                f"tiktok weekend_mode must be 'later' or 'monday', got {self.weekend_mode!r}"
            )
        if self.window_days < 1:
            raise ValueError(f"tiktok window_days must be >= 1, got {self.window_days}")
        check_spans("tiktok", self.holiday_mode)

    @property
    def zone_name(self) -> str:
        """The zone in force (the market's default unless overridden)."""
        return self.timezone or _MARKET_DEFAULTS[self.market][0]

    @property
    def window_s(self) -> float:
        """The response window in force, seconds."""
        return self.response_s if self.response_s is not None else _MARKET_DEFAULTS[self.market][1]

    @property
    def weekend(self) -> bool:
        """Whether the weekend rule applies."""
        if self.weekend_rule is not None:
            return self.weekend_rule
        return _MARKET_DEFAULTS[self.market][2]


#: Markets with their zones.  SEA markets share the 12-hour rule.
PRESETS: dict[str, TikTokRule] = {
    "default": TikTokRule(),
    "SEA": TikTokRule(),
    "ID": TikTokRule(timezone="Asia/Jakarta"),
    "MY": TikTokRule(timezone="Asia/Kuala_Lumpur"),
    "PH": TikTokRule(timezone="Asia/Manila"),
    "SG": TikTokRule(timezone="Asia/Singapore"),
    "TH": TikTokRule(timezone="Asia/Bangkok"),
    "VN": TikTokRule(timezone="Asia/Ho_Chi_Minh"),
    "US": TikTokRule(market="US"),
}


@dataclass(frozen=True)
class TikTokJudgement:
    """Every customer-initiated chat of a log, judged by TikTok Shop's rule.

    Attributes
    ----------
    rounds
        The chats (first-response rounds, human replies only).
    day
        Local day each chat was opened, days since 1970-01-01.
    deadline_s
        POSIX time by which each must get a human reply.
    bot_resolved
        Got a bot reply and never a human one.
    assessed
        Counted (not bot-resolved when those are excluded, not in holiday mode).
    on_time
        Answered by a human by the deadline.
    """

    rounds: Rounds
    day: I64
    deadline_s: F64
    bot_resolved: B
    assessed: B
    on_time: B


def _bot_replied(log: MessageLog, rounds: Rounds) -> B:
    """Whether a bot message follows each round's opening in its conversation."""
    bot_pos = np.flatnonzero(log.sender == BOT)
    if bot_pos.size == 0 or rounds.n == 0:
        return np.zeros(rounds.n, dtype=np.bool_)
    # The log is sorted by conversation then time, so the first bot message after
    # the round's first buyer message is the next bot position; it belongs to the
    # round if it is in the same conversation (a human-unanswered round runs to
    # the end of its conversation, so no later round can own it).
    k = np.searchsorted(bot_pos, rounds.first_message, side="right")
    has = k < bot_pos.size
    nxt = bot_pos[np.minimum(k, bot_pos.size - 1)]
    return np.asarray(has & (log.conversation[nxt] == rounds.conversation), dtype=np.bool_)


def judge(log: MessageLog, rule: TikTokRule = TikTokRule()) -> TikTokJudgement:
    """Find and judge every customer-initiated chat of ``log`` under ``rule``.

    Parameters
    ----------
    log
        The message log.
    rule
        TikTok Shop's parameters.

    Returns
    -------
    TikTokJudgement
        Per chat: open day, deadline, exclusions and timeliness.
    """
    zone = ZoneInfo(rule.zone_name)
    # Human replies only: a bot reply neither answers nor splits a chat.
    rounds = human_rounds(log)
    local = local_seconds(rounds.open_s, zone)
    day = np.floor(local / DAY_S).astype(np.int64)
    deadline = rounds.open_s + rule.window_s
    if rule.weekend:
        wd = weekday(day)
        weekend = wd >= 5
        # Saturday (5) -> +2 days, Sunday (6) -> +1 day: the Monday after.
        monday = day + (7 - wd)
        monday_local = (monday * DAY_S + rule.weekend_deadline_s).astype(np.float64)
        monday_deadline = local_to_posix(monday_local, zone)
        if rule.weekend_mode == "later":
            monday_deadline = np.maximum(deadline, monday_deadline)
        deadline = np.where(weekend, monday_deadline, deadline)
    # Only an unanswered round can be bot-resolved: a human reply, however late,
    # is a handover and the chat is judged normally.
    bot_resolved = ~rounds.answered & _bot_replied(log, rounds)
    assessed = ~in_spans(rounds.open_s, rule.holiday_mode)
    if rule.exclude_bot_resolved:
        assessed &= ~bot_resolved
    on_time = rounds.answered & (rounds.reply_s <= deadline)
    return TikTokJudgement(rounds, day, deadline, bot_resolved, assessed, on_time)


def score(
    log: MessageLog,
    rule: TikTokRule = TikTokRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """TikTok Shop's chat response rate, per local day and rolling.

    Parameters
    ----------
    log
        The message log.
    rule
        TikTok Shop's parameters.
    history
        Seller history of the days before the log, keyed by metric name
        (``"tiktok.response_rate"``, shares).

    Returns
    -------
    dict[str, MetricSeries]
        ``"tiktok.response_rate"`` (share, higher is better, >= ``target_rate``),
        over ``window_days``-day windows of open days.
    """
    h = history or {}
    j = judge(log, rule)
    a = j.assessed
    hours = rule.window_s / 3600.0
    rate = daily_series(
        metric=RATE,
        label=f"TikTok Shop {hours:g}-hour chat response rate ({rule.market})",
        unit="share",
        higher_is_better=True,
        threshold=rule.target_rate,
        window_days=rule.window_days,
        unit_day=j.day[a],
        unit_value=j.on_time[a].astype(np.float64),
        history=h.get(RATE),
    )
    return {RATE: rate}
