"""Taobao / Tmall: 旺旺3分钟人工响应率 (Wangwang 3-minute human response rate).

Definition (PLATFORM_RULES.md, [official]): the rate is the share of rounds
opened 08:00:00-22:59:59 Beijing time that got a **human** reply within 180 s,
over all rounds opened in that window, rolling 30 days; unanswered rounds stay
in the denominator.  A round (对话轮次) opens at a buyer message when no round is
open and closes at the next qualifying reply; buyer messages while it is open
join it, and its response time runs from its first buyer message.

Worked examples: a buyer asks 10:10:15 and 10:15:20, reply 10:18:10 -> 0/1; the
buyer then asks 10:18:30, reply 10:19:00 -> 1/2; ten questions within three
minutes and no reply by midnight -> 0/1.

The module also reports 平均响应时长 (mean round response time, over answered
rounds of the window) and, when the log says which conversations ordered,
询单转化率 (inquiry conversion).

Conventions
-----------
* A round counts on the local day (rule timezone) of its opening, and only if
  it opened inside the clock window ``[window_start_s, window_end_s)``; a round
  opened at 07:59 is out even if the buyer writes again at 08:01 before any reply
  (the rule judges rounds by their opening).
* "Within 180 s" is inclusive: a reply exactly 180 s after the round's first
  buyer message counts.
* A reply after the window closes (e.g. 23:01 for a round opened 22:59) still
  answers its round: the window selects rounds, not replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import DAY_S, in_clock_window, local_clock_s, local_day
from peakdesk.rules.messages import BUYER, MessageLog
from peakdesk.rules.rounds import bot_resolved, rounds_of
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

RESPONSE_RATE = "taobao.response_3min"
MEAN_RESPONSE = "taobao.mean_response_s"
INQUIRY_CONVERSION = "taobao.inquiry_conversion"


@dataclass(frozen=True)
class TaobaoRule:
    """Parameters of the Taobao / Tmall response rules (defaults: the current rule).

    Attributes
    ----------
    timezone
        IANA zone of the clock window and of the days (Beijing time).
    window_start_s, window_end_s
        Clock window in which a round must *open* to be judged, seconds after
        local midnight, start inclusive, end exclusive (08:00:00 to 22:59:59).
        The older rule used 08:00-24:00 (``window_end_s = 86400``).  A window
        with ``start > end`` wraps around midnight.
    response_s
        A round succeeds when its qualifying reply comes within this many
        seconds of its first buyer message (inclusive).
    bot_assist_counts
        Whether bot / auto replies answer a round (the rule counts human
        replies only; ``False``).
    window_days
        Rolling window of the published rate, days.
    target
        Rate to keep (share, ``>=``); 90% is the badge programmes' bar, the
        search and campaign cut-offs are per category and not public.
    min_rounds
        Fewest rounds in the rolling window for the rate to be defined (badges
        are not assessed under 100 rounds: see the ``"badge"`` preset).
    exclude_bot_resolved
        Leave out conversations the store assistant received alone (a bot
        reply and never a human one).  The rule as written judges every round,
        so they count as unanswered (``False``); a seller whose assistant takes
        whole conversations may find them left out of the human rate, which
        ``True`` models.  A modelling choice: say which one a plan used.
    """

    timezone: str = "Asia/Shanghai"
    window_start_s: float = 8 * 3600
    window_end_s: float = 23 * 3600
    response_s: float = 180.0
    bot_assist_counts: bool = False
    window_days: int = 30
    target: float | None = 0.90
    min_rounds: int = 1
    exclude_bot_resolved: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early, naming the zone, if it does not exist
        for name in ("window_start_s", "window_end_s"):
            v = getattr(self, name)
            if not 0.0 <= v <= DAY_S:
                raise ValueError(f"taobao {name} must be within 0..86400 s, got {v}")
        if self.response_s < 0:
            raise ValueError(f"taobao response_s must be >= 0, got {self.response_s}")
        if self.window_days < 1:
            raise ValueError(f"taobao window_days must be >= 1, got {self.window_days}")


#: Named variants: the current rule, the older 08:00-24:00 window, and the badge
#: programmes (not assessed under 100 rounds).
PRESETS: dict[str, TaobaoRule] = {
    "default": TaobaoRule(),
    "legacy_0800_2400": TaobaoRule(window_end_s=24 * 3600),
    "badge": TaobaoRule(min_rounds=100),
}


def score(
    log: MessageLog,
    rule: TaobaoRule = TaobaoRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """Score a log with the Taobao / Tmall rules.

    Parameters
    ----------
    log
        The message log (POSIX seconds).
    rule
        Thresholds, window and clock.
    history
        Seller's record of the days before the log, by metric name.

    Returns
    -------
    dict of str to MetricSeries
        ``"taobao.response_3min"`` (share of rounds answered by a human within
        ``response_s``), ``"taobao.mean_response_s"`` (mean response time of the
        answered rounds, seconds, lower is better) and, only when
        ``log.ordered`` is set, ``"taobao.inquiry_conversion"`` (share of
        conversations with a buyer message in the window that ordered).
    """
    zone = ZoneInfo(rule.timezone)
    hist = history or {}
    rounds = rounds_of(log, bots_count=rule.bot_assist_counts)
    keep = in_clock_window(
        local_clock_s(rounds.open_s, zone), rule.window_start_s, rule.window_end_s
    )
    if rule.exclude_bot_resolved:
        keep &= ~bot_resolved(log)[rounds.conversation]
    judged = rounds.select(keep)
    day = local_day(judged.open_s, zone)
    answered = judged.answered
    # An unanswered round has an infinite delay: it fails the 180 s test without a
    # nan comparison, and stays in the denominator as the rule requires.
    delay = np.where(answered, judged.delay_s, np.inf)
    success = (delay <= rule.response_s).astype(np.float64)
    out: dict[str, MetricSeries] = {
        RESPONSE_RATE: daily_series(
            metric=RESPONSE_RATE,
            label=f"旺旺人工响应率: rounds answered by a human within {rule.response_s:g} s",
            unit="share",
            higher_is_better=True,
            threshold=rule.target,
            window_days=rule.window_days,
            unit_day=day,
            unit_value=success,
            history=hist.get(RESPONSE_RATE),
            min_units=rule.min_rounds,
        ),
        MEAN_RESPONSE: daily_series(
            metric=MEAN_RESPONSE,
            label="平均响应时长: mean response time of answered rounds",
            unit="seconds",
            higher_is_better=False,
            threshold=None,
            window_days=rule.window_days,
            unit_day=day[answered],
            unit_value=delay[answered],
            history=hist.get(MEAN_RESPONSE),
        ),
    }
    if log.ordered is not None:
        out[INQUIRY_CONVERSION] = _inquiry_conversion(log, rule, zone, hist)
    return out


def _inquiry_conversion(
    log: MessageLog, rule: TaobaoRule, zone: ZoneInfo, hist: Mapping[str, DailyHistory]
) -> MetricSeries:
    """询单转化率: conversations with a buyer message in the window that ordered.

    Each conversation counts once, on the local day of its first buyer message
    inside the clock window (an inquiry is made when the buyer asks during
    service hours).
    """
    assert log.ordered is not None
    if log.ordered.size < log.n_conversations:
        raise ValueError(
            f"log.ordered has {log.ordered.size} flags for {log.n_conversations} conversations"
        )
    buyer = np.flatnonzero(log.sender == BUYER)
    t = log.time_s[buyer]
    inquiry = buyer[in_clock_window(local_clock_s(t, zone), rule.window_start_s, rule.window_end_s)]
    # The log is sorted by conversation then time, so the first occurrence of
    # each conversation code is its first in-window buyer message.
    conv, first = np.unique(log.conversation[inquiry], return_index=True)
    return daily_series(
        metric=INQUIRY_CONVERSION,
        label="询单转化率: inquiring conversations that ordered",
        unit="share",
        higher_is_better=True,
        threshold=None,
        window_days=rule.window_days,
        unit_day=local_day(log.time_s[inquiry[first]], zone),
        unit_value=log.ordered[conv].astype(np.float64),
        history=hist.get(INQUIRY_CONVERSION),
    )
