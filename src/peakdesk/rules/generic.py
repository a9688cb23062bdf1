"""Generic service level SL(t) and ASA, for every scenario.

Definition (PLATFORM_RULES.md): SL(t) is the share of conversations whose first
human reply came within ``t`` seconds of their first buyer message.  Two
treatments of abandoned conversations (the buyer left before a human replied):

``"fail"`` (default)
    Every conversation with a buyer message is judged; it succeeds iff a human
    replied within ``t`` before the buyer left.  A buyer who left unanswered is a
    failure however soon they left, and so is a conversation never answered.

``"offered_wait"``
    An estimate of P(V <= t), V being the *offered* wait (how long the buyer
    would have waited for a human with unlimited patience), by the call-centre
    convention::

        SL = answered within t / (answered + abandoned after t + never answered)

    A conversation answered after ``w`` seconds has ``V = w``.  One abandoned
    after waiting ``a >= t`` has ``V > a >= t``: a failure.  One abandoned after
    ``a < t`` has ``V > a`` only, which does not say whether ``V <= t``: it is
    *excluded* ("short abandons").  Excluding them biases SL up a little (those
    buyers met more queue than average); the convention is kept because
    platforms and call-centre software report it that way.  A conversation never
    answered and not flagged as abandoned (still waiting when the log ends)
    counts as a failure, as under ``"fail"``.

ASA (average speed of answer) is the mean first-human-reply delay, seconds,
over conversations answered before the buyer left.  Both metrics count on the
local day of the conversation's first buyer message.  Abandonment rate and
occupancy are engine summaries, not rules, and are not computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import local_day
from peakdesk.rules.messages import MessageLog
from peakdesk.rules.rounds import bot_resolved, rounds_of
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

SERVICE_LEVEL = "generic.service_level"
ASA = "generic.asa_s"

Abandoned = Literal["fail", "offered_wait"]


@dataclass(frozen=True)
class GenericRule:
    """Parameters of the generic service level.

    Attributes
    ----------
    service_level_s
        The ``t`` of SL(t): a conversation succeeds when its first human reply
        comes within this many seconds (inclusive) of its first buyer message.
    abandoned
        Treatment of abandoned conversations: ``"fail"`` or ``"offered_wait"``
        (see the module docstring).
    timezone
        IANA zone of the days.
    window_days
        Rolling window, days (1: the value of each day).
    target
        SL to keep (share, ``>=``); ``None`` for no target.
    exclude_bot_resolved
        Leave out conversations a bot settled with no human reply (they never
        needed an agent); the engine's summary counts the same way.
    """

    service_level_s: float = 30.0
    abandoned: Abandoned = "fail"
    timezone: str = "Asia/Shanghai"
    window_days: int = 1
    target: float | None = None
    exclude_bot_resolved: bool = True

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early, naming the zone, if it does not exist
        if self.service_level_s < 0:
            raise ValueError(f"generic service_level_s must be >= 0, got {self.service_level_s}")
        if self.abandoned not in ("fail", "offered_wait"):
            raise ValueError(
                f"generic abandoned must be 'fail' or 'offered_wait', got {self.abandoned!r}"
            )
        if self.window_days < 1:
            raise ValueError(f"generic window_days must be >= 1, got {self.window_days}")


PRESETS: dict[str, GenericRule] = {
    "default": GenericRule(),
    "offered_wait": GenericRule(abandoned="offered_wait"),
}


def _check_length(a: npt.NDArray[np.generic], n: int, name: str) -> None:
    if a.ndim != 1 or a.size < n:
        raise ValueError(f"{name} needs one value per conversation code ({n}), got {a.shape}")


def score(
    log: MessageLog,
    rule: GenericRule = GenericRule(),
    history: Mapping[str, DailyHistory] | None = None,
    *,
    abandoned: npt.ArrayLike | None = None,
    abandon_s: npt.ArrayLike | None = None,
) -> dict[str, MetricSeries]:
    """Service level and ASA of a log.

    Parameters
    ----------
    log
        The message log (POSIX seconds).
    rule
        ``t``, abandonment treatment, clock.
    history
        Seller's record of the days before the log, by metric name.
    abandoned
        Per conversation code: the buyer left before being answered.  Defaults
        to ``~isnan(abandon_s)`` when only ``abandon_s`` is given, and to "nobody
        left" when neither is.
    abandon_s
        Per conversation code: POSIX time the buyer left (``nan`` if not).  A
        human reply at or before that time answers the conversation; one after
        it came too late.  Needed by ``"offered_wait"`` to tell short abandons.

    Returns
    -------
    dict of str to MetricSeries
        ``"generic.service_level"`` (share) and ``"generic.asa_s"`` (seconds,
        lower is better).

    Raises
    ------
    ValueError
        If ``"offered_wait"`` is asked with ``abandoned`` but no ``abandon_s``,
        or an array does not cover every conversation code.
    """
    zone = ZoneInfo(rule.timezone)
    n = log.n_conversations
    left = None if abandoned is None else np.asarray(abandoned, dtype=np.bool_)
    left_s = None if abandon_s is None else np.asarray(abandon_s, dtype=np.float64)
    if left is not None:
        _check_length(left, n, "abandoned")
    if left_s is not None:
        _check_length(left_s, n, "abandon_s")
        if left is None:
            left = ~np.isnan(left_s)
    if rule.abandoned == "offered_wait" and left is not None and left_s is None:
        raise ValueError("offered_wait needs abandon_s (when each buyer left), not only flags")

    # First human reply after each conversation's first buyer message = the reply
    # closing its first round (bot replies neither answer nor split a round).
    rounds = rounds_of(log, bots_count=False)
    first = np.ones(rounds.n, dtype=np.bool_)
    first[1:] = rounds.conversation[1:] != rounds.conversation[:-1]
    conv = rounds.conversation[first]
    open_s = rounds.open_s[first]
    reply_s = rounds.reply_s[first]

    # Abandoned before a human answered: flagged, and no human reply by the time
    # the buyer left (a reply after that did not reach them).
    if left is None:
        gone = np.zeros(conv.size, dtype=np.bool_)
    elif left_s is None:
        gone = left[conv]
    else:
        gone = left[conv] & ~(reply_s <= left_s[conv])
    answered = ~np.isnan(reply_s) & ~gone
    wait = np.where(answered, reply_s - open_s, np.inf)
    success = wait <= rule.service_level_s
    judged = np.ones(conv.size, dtype=np.bool_)
    if rule.exclude_bot_resolved:
        judged &= ~bot_resolved(log)[conv]
    if rule.abandoned == "offered_wait" and left_s is not None:
        # Short abandons say nothing about V <= t: out.  An unknown leaving time
        # (flag without time) is not short, so it stays a failure.
        waited = left_s[conv] - open_s
        judged &= ~(gone & (waited < rule.service_level_s))

    day = local_day(open_s, zone)
    hist = history or {}
    treatment = (
        "abandoned count as failures"
        if rule.abandoned == "fail"
        else "short abandons excluded (offered wait)"
    )
    return {
        SERVICE_LEVEL: daily_series(
            metric=SERVICE_LEVEL,
            label=(
                f"Service level: first human reply within {rule.service_level_s:g} s ({treatment})"
            ),
            unit="share",
            higher_is_better=True,
            threshold=rule.target,
            window_days=rule.window_days,
            unit_day=day[judged],
            unit_value=success[judged].astype(np.float64),
            history=hist.get(SERVICE_LEVEL),
        ),
        ASA: daily_series(
            metric=ASA,
            label="ASA: mean first human reply delay of answered conversations",
            unit="seconds",
            higher_is_better=False,
            threshold=None,
            window_days=rule.window_days,
            unit_day=day[answered & judged],
            unit_value=wait[answered & judged],
            history=hist.get(ASA),
        ),
    }
