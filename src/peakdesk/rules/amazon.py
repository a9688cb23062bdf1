"""Amazon buyer-seller messaging: late response rate (PLATFORM_RULES.md, Amazon).

Rules [official]:

- Every buyer message is a unit (not a conversation or a round).  It is
  answered by the next human (``agent``) reply of its conversation; one reply
  thus answers all earlier unanswered buyer messages.  Auto-responders
  (``bot``) are not responses.
- A message is *late* if that reply does not come within 24 h (inclusive),
  weekends and holidays included, or never comes.
- Late response rate = late messages / buyer messages over 7, 30 and 90 days.
  Lower is better; the historical target is >= 90% answered within 24 h, i.e. a
  late rate <= 0.10.

Each message counts on the local day (``timezone``) it was received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import local_day
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

PREFIX = "amazon.late_response_rate_"


@dataclass(frozen=True)
class AmazonRule:
    """Parameters of Amazon's late response rate.

    Attributes
    ----------
    response_s
        Time allowed for a human reply to each buyer message, seconds (24 h).
    windows
        Rolling windows reported, days (7, 30, 90); one metric each.
    timezone
        IANA zone whose local days the daily series uses.
    target_late_rate
        Late rate to keep, share (<= 0.10).
    """

    response_s: float = 24 * 3600.0
    windows: tuple[int, ...] = (7, 30, 90)
    timezone: str = "America/Los_Angeles"
    target_late_rate: float = 0.10

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early, naming the zone, if it does not exist
        if self.response_s < 0:
            raise ValueError(f"amazon response_s must be >= 0, got {self.response_s}")
        if not self.windows or min(self.windows) < 1:
            raise ValueError(f"amazon windows must be whole days >= 1, got {self.windows}")


#: Marketplaces with their zones; the rule is the same everywhere.
PRESETS: dict[str, AmazonRule] = {
    "default": AmazonRule(),
    "US": AmazonRule(timezone="America/Los_Angeles"),
    "CA": AmazonRule(timezone="America/Toronto"),
    "MX": AmazonRule(timezone="America/Mexico_City"),
    "UK": AmazonRule(timezone="Europe/London"),
    "DE": AmazonRule(timezone="Europe/Berlin"),
    "FR": AmazonRule(timezone="Europe/Paris"),
    "IT": AmazonRule(timezone="Europe/Rome"),
    "ES": AmazonRule(timezone="Europe/Madrid"),
    "JP": AmazonRule(timezone="Asia/Tokyo"),
    "IN": AmazonRule(timezone="Asia/Kolkata"),
    "SG": AmazonRule(timezone="Asia/Singapore"),
}


@dataclass(frozen=True)
class AmazonJudgement:
    """Every buyer message of a log, judged by Amazon's rule.

    Attributes
    ----------
    message
        Index of each buyer message in the log.
    day
        Local day it was received, days since 1970-01-01.
    reply_s
        POSIX time of the human reply that answers it (``nan``: none), seconds.
    late
        Not answered within ``response_s``.
    """

    message: I64
    day: I64
    reply_s: F64
    late: B


def metric_name(window_days: int) -> str:
    """The metric name of one window, e.g. ``"amazon.late_response_rate_7d"``."""
    return f"{PREFIX}{window_days}d"


def judge(log: MessageLog, rule: AmazonRule = AmazonRule()) -> AmazonJudgement:
    """Judge every buyer message of ``log`` under ``rule``.

    Parameters
    ----------
    log
        The message log (sorted by conversation, time, sender: a reply at the
        same instant sorts after the buyer message and answers it).
    rule
        Amazon's parameters.

    Returns
    -------
    AmazonJudgement
        Per buyer message: receipt day, answering reply and lateness.
    """
    buyer = np.flatnonzero(log.sender == BUYER)
    human = np.flatnonzero(log.sender == AGENT)
    reply = np.full(buyer.size, np.nan)
    if human.size and buyer.size:
        # The next human message after each buyer message in log order; it answers
        # the message only if it belongs to the same conversation.
        k = np.searchsorted(human, buyer, side="right")
        has = k < human.size
        nxt = human[np.minimum(k, human.size - 1)]
        has &= log.conversation[nxt] == log.conversation[buyer]
        reply[has] = log.time_s[nxt[has]]
    received = log.time_s[buyer]
    # nan (never answered) compares False, hence late.
    late = ~(reply - received <= rule.response_s)
    day = local_day(received, ZoneInfo(rule.timezone))
    return AmazonJudgement(buyer.astype(np.int64), day, reply, np.asarray(late, dtype=np.bool_))


def score(
    log: MessageLog,
    rule: AmazonRule = AmazonRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """Amazon's late response rate over each window, per local day and rolling.

    Parameters
    ----------
    log
        The message log.
    rule
        Amazon's parameters.
    history
        Seller history of the days before the log, keyed by metric name
        (``"amazon.late_response_rate_30d"`` ...; values are late shares).

    Returns
    -------
    dict[str, MetricSeries]
        One ``"amazon.late_response_rate_{w}d"`` per window ``w`` (share, lower
        is better, <= ``target_late_rate``).
    """
    h = history or {}
    j = judge(log, rule)
    late = j.late.astype(np.float64)
    hours = rule.response_s / 3600.0
    out: dict[str, MetricSeries] = {}
    for w in rule.windows:  # a few windows, not a loop over messages
        name = metric_name(w)
        out[name] = daily_series(
            metric=name,
            label=f"Amazon late response rate (> {hours:g} h), {w} days",
            unit="share",
            higher_is_better=False,
            threshold=rule.target_late_rate,
            window_days=w,
            unit_day=j.day,
            unit_value=late,
            history=h.get(name),
        )
    return out
