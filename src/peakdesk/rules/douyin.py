"""Douyin (抖店 飞鸽): mean response time of human consultation rounds.

Definition (PLATFORM_RULES.md, [official]): sum of round response times divided
by the number of human-consultation rounds, over sessions started
08:00:00-22:59:59, last 30 days.  **An unanswered round counts as 10 minutes.**
Thresholds are tiered by category, so none is set by default.

Conventions
-----------
* A session is a conversation of the log; it is judged when its first message
  (any sender) falls in the clock window ``[session_start_s, session_end_s)``,
  local time.  Every round of a judged session counts, even one opened after
  23:00: the filter is on the session's start, not the round's.
* A round counts on the local day of its opening (rule timezone).
* An answered round counts its actual response time, however long (the rule
  sets 10 minutes for unanswered rounds only); ``answered_cap_s`` caps it when a
  scenario wants to model a capped variant [model].
* Rounds still open when the log ends count as unanswered (600 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import DAY_S, in_clock_window, local_clock_s, local_day
from peakdesk.rules.messages import MessageLog
from peakdesk.rules.rounds import Rounds, bot_resolved, rounds_of
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

MEAN_RESPONSE = "douyin.mean_response_s"


@dataclass(frozen=True)
class DouyinRule:
    """Parameters of the Douyin mean-response-time rule (defaults: the current rule).

    Attributes
    ----------
    timezone
        IANA zone of the session window and of the days (Beijing time).
    session_start_s, session_end_s
        Clock window in which a session must *start* for its rounds to count,
        seconds after local midnight, start inclusive, end exclusive (08:00:00
        to 22:59:59).  ``start > end`` wraps around midnight.
    unanswered_s
        Response time charged to an unanswered round, seconds (10 minutes).
    answered_cap_s
        Cap on an answered round's response time, seconds; ``None`` (the rule
        as written) charges the actual time [model].
    bot_assist_counts
        Whether bot / auto replies answer a round (the rule is about human
        replies; ``False``).
    exclude_bot_resolved
        Leave out sessions the bot resolved on its own: no human reply at all
        and every round answered by a bot (the buyer never waited for a
        human, so they are not human consultations) [model].  Off by default:
        a log cannot tell a bot-resolved session from a buyer who got an auto
        greeting and then waited in vain.
    window_days
        Rolling window, days.
    target
        Mean response time to keep, seconds (``<=``); tiered by category,
        ``None`` by default.
    """

    timezone: str = "Asia/Shanghai"
    session_start_s: float = 8 * 3600
    session_end_s: float = 23 * 3600
    unanswered_s: float = 600.0
    answered_cap_s: float | None = None
    bot_assist_counts: bool = False
    exclude_bot_resolved: bool = False
    window_days: int = 30
    target: float | None = None

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early, naming the zone, if it does not exist
        for name in ("session_start_s", "session_end_s"):
            v = getattr(self, name)
            if not 0.0 <= v <= DAY_S:
                raise ValueError(f"douyin {name} must be within 0..86400 s, got {v}")
        if self.unanswered_s < 0:
            raise ValueError(f"douyin unanswered_s must be >= 0, got {self.unanswered_s}")
        if self.answered_cap_s is not None and self.answered_cap_s < 0:
            raise ValueError(f"douyin answered_cap_s must be >= 0, got {self.answered_cap_s}")
        if self.window_days < 1:
            raise ValueError(f"douyin window_days must be >= 1, got {self.window_days}")


PRESETS: dict[str, DouyinRule] = {"default": DouyinRule()}


def judged_rounds(log: MessageLog, rule: DouyinRule) -> Rounds:
    """The human-consultation rounds of sessions started in the window."""
    zone = ZoneInfo(rule.timezone)
    rounds = rounds_of(log, bots_count=rule.bot_assist_counts)
    keep = in_clock_window(
        local_clock_s(rounds.conversation_start_s, zone),
        rule.session_start_s,
        rule.session_end_s,
    )
    if rule.exclude_bot_resolved:
        keep &= ~bot_resolved(log)[rounds.conversation]
    return rounds.select(keep)


def score(
    log: MessageLog,
    rule: DouyinRule = DouyinRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """Score a log with the Douyin rule.

    Parameters
    ----------
    log
        The message log (POSIX seconds).
    rule
        Window, unanswered charge, clock.
    history
        Seller's record of the days before the log, by metric name.

    Returns
    -------
    dict of str to MetricSeries
        ``"douyin.mean_response_s"``: mean response time per round, seconds,
        unanswered rounds charged ``unanswered_s``; lower is better.
    """
    zone = ZoneInfo(rule.timezone)
    r = judged_rounds(log, rule)
    delay = r.delay_s
    if rule.answered_cap_s is not None:
        delay = np.minimum(delay, rule.answered_cap_s)  # nan (unanswered) stays nan
    charged = np.where(r.answered, delay, rule.unanswered_s)
    hist = history or {}
    return {
        MEAN_RESPONSE: daily_series(
            metric=MEAN_RESPONSE,
            label=(
                "飞鸽平均响应时长: mean round response time, "
                f"unanswered rounds counted as {rule.unanswered_s:g} s"
            ),
            unit="seconds",
            higher_is_better=False,
            threshold=rule.target,
            window_days=rule.window_days,
            unit_day=local_day(r.open_s, zone),
            unit_value=charged,
            history=hist.get(MEAN_RESPONSE),
        )
    }
