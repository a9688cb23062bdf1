"""Lazada: chat response rate and chat response time (PLATFORM_RULES.md, Lazada).

Rules [official PH 2020; thresholds from the older official VN notice]:

- A *new conversation* opens at a buyer message when none is open in the chat
  and is judged on its first non-auto reply (a human ``agent`` message, quick
  replies included; ``bot`` messages neither answer nor split it).  Several
  buyer messages before the reply therefore form one conversation: it is a
  :func:`~peakdesk.rules.rounds.find_rounds` round.
- Same-day cycle in market local time: a conversation opened from 18:00 of day
  D-1 to 18:00 of D (exclusive) belongs to cycle day D and must be answered by
  19:00 of D (inclusive).  ``cycle(t) = D if t < 18:00 on D else D + 1``.
- Response rate = conversations answered by their cycle deadline / conversations,
  over the last 7 days, weekends included.
- Response time = mean(first reply - first buyer message) over conversations
  answered by their cycle deadline; wall clock by default, or a working-hours
  clock (08:00-19:00 local, [model]) that counts only working seconds.
- Excluded: conversations whose cycle day is a public holiday, and those opened
  while the shop was in holiday mode.

Modelling choices (documented because the sources are silent):

- **Holidays are matched on the cycle day**, the day the answer is due.  A
  conversation opened on holiday H before 18:00 (due 19:00 on H) is excluded; one
  opened on H after 18:00 is due on H + 1 and counts; one opened on H - 1 after
  18:00 is due on H and is excluded.  The seller is thus never held to a
  deadline that falls on a holiday.
- **Holiday mode is matched on the receipt time** of the conversation's first
  buyer message: a conversation opened inside a ``[start, end)`` span is excluded.
- Every unit counts on its **cycle day** (also for the response time), so the
  daily series line up with Lazada's cycles.
- The working-hours clock ignores holidays (every day has 08:00-19:00); a
  conversation opened and answered outside working hours has a delay of 0 s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.rules.calendar import DAY_S, day_number, local_seconds, local_to_posix
from peakdesk.rules.messages import MessageLog
from peakdesk.rules.rounds import Rounds, rounds_of
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

RATE = "lazada.response_rate"
TIME = "lazada.response_time_s"


def check_spans(platform: str, spans: tuple[tuple[float, float], ...]) -> None:
    """Raise ``ValueError`` unless every holiday-mode span is ``(start, end)``, start <= end."""
    for span in spans:
        if len(span) != 2 or not span[0] <= span[1]:
            raise ValueError(
                f"{platform} holiday_mode spans must be (start, end) with start <= end"
            )


def in_spans(time_s: F64, spans: tuple[tuple[float, float], ...]) -> B:
    """Whether each POSIX time falls in one of the ``[start, end)`` spans, seconds."""
    if not spans or time_s.size == 0:
        return np.zeros(time_s.shape, dtype=np.bool_)
    s = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    # A handful of spans against many times: an (n, k) comparison beats sorting
    # and copes with overlapping spans.
    t = time_s[:, None]
    return np.asarray(((t >= s[:, 0]) & (t < s[:, 1])).any(axis=1), dtype=np.bool_)


@dataclass(frozen=True)
class LazadaRule:
    """Parameters of Lazada's chat metrics (defaults: the documented rule).

    Attributes
    ----------
    timezone
        IANA zone of the market; every clock below is local to it.
    cutoff_s
        Local time of day (seconds after midnight) from which a conversation
        belongs to the next day's cycle (18:00).
    deadline_s
        Local time of day by which a conversation must be answered on its cycle
        day, seconds after midnight (19:00, inclusive).
    window_days
        Rolling window of both metrics, days (7).
    holidays
        Public holidays (local dates); conversations whose *cycle day* is one are excluded.
    holiday_mode
        POSIX ``[start, end)`` spans, seconds, while the shop was in holiday mode;
        conversations opened inside one are excluded.
    clock
        ``"wall"``: response time in elapsed seconds; ``"working_hours"``: only
        seconds between ``work_start_s`` and ``work_end_s`` local count [model].
    work_start_s, work_end_s
        Working hours of the working-hours clock, seconds after local midnight
        (08:00-19:00) [model].
    target_rate
        Response rate to keep, share (>= 0.85).
    target_response_s
        Mean response time to keep, seconds (<= 1800).
    """

    timezone: str = "Asia/Manila"
    cutoff_s: float = 18 * 3600
    deadline_s: float = 19 * 3600
    window_days: int = 7
    holidays: tuple[dt.date, ...] = ()
    holiday_mode: tuple[tuple[float, float], ...] = ()
    clock: Literal["wall", "working_hours"] = "wall"
    work_start_s: float = 8 * 3600
    work_end_s: float = 19 * 3600
    target_rate: float = 0.85
    target_response_s: float = 1800.0

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early, naming the zone, if it does not exist
        for name in ("cutoff_s", "deadline_s", "work_start_s", "work_end_s"):
            v = getattr(self, name)
            if not 0.0 <= v <= DAY_S:
                raise ValueError(f"lazada {name} must be within 0..86400 s, got {v}")
        if self.work_end_s < self.work_start_s:
            raise ValueError("lazada work_end_s must not be before work_start_s")
        if self.window_days < 1:
            raise ValueError(f"lazada window_days must be >= 1, got {self.window_days}")
        if self.clock not in ("wall", "working_hours"):
            raise ValueError(f"lazada clock must be 'wall' or 'working_hours', got {self.clock!r}")
        check_spans("lazada", self.holiday_mode)


#: Lazada markets with their zones; thresholds are the same everywhere.
PRESETS: dict[str, LazadaRule] = {
    "default": LazadaRule(),
    "PH": LazadaRule(timezone="Asia/Manila"),
    "VN": LazadaRule(timezone="Asia/Ho_Chi_Minh"),
    "TH": LazadaRule(timezone="Asia/Bangkok"),
    "MY": LazadaRule(timezone="Asia/Kuala_Lumpur"),
    "SG": LazadaRule(timezone="Asia/Singapore"),
    "ID": LazadaRule(timezone="Asia/Jakarta"),
}


@dataclass(frozen=True)
class LazadaJudgement:
    """Every new conversation of a log, judged by Lazada's rule.

    Attributes
    ----------
    rounds
        The conversations (first-response rounds, human replies only).
    cycle_day
        Local cycle day of each, days since 1970-01-01.
    deadline_s
        POSIX time by which each must be answered (19:00 local of its cycle day).
    assessed
        Not excluded (holiday cycle day or opened in holiday mode).
    on_time
        Answered by the deadline.
    delay_s
        Response time on the rule's clock, seconds (``nan`` if unanswered).
    """

    rounds: Rounds
    cycle_day: I64
    deadline_s: F64
    assessed: B
    on_time: B
    delay_s: F64


def human_rounds(log: MessageLog) -> Rounds:
    """First-response conversations closed by human replies only (bots ignored)."""
    return rounds_of(log, bots_count=False)


def working_seconds(time_s: F64, zone: ZoneInfo, start_s: float, end_s: float) -> F64:
    """Working seconds elapsed since the epoch at each POSIX time.

    Each local day contributes ``end_s - start_s`` seconds, counted only between
    ``start_s`` and ``end_s`` local; the difference of two values is the working
    time between two instants, seconds.
    """
    local = local_seconds(time_s, zone)
    day = np.floor(local / DAY_S)
    span = end_s - start_s
    into = np.clip(local - day * DAY_S - start_s, 0.0, span)
    return np.asarray(day * span + into, dtype=np.float64)


def judge(log: MessageLog, rule: LazadaRule = LazadaRule()) -> LazadaJudgement:
    """Find and judge every new conversation of ``log`` under ``rule``.

    Parameters
    ----------
    log
        The message log.
    rule
        Lazada's parameters.

    Returns
    -------
    LazadaJudgement
        Per conversation: cycle day, deadline, exclusion, timeliness and delay.
    """
    zone = ZoneInfo(rule.timezone)
    # Only human replies close a conversation: the first *non-auto* reply counts.
    rounds = human_rounds(log)
    local = local_seconds(rounds.open_s, zone)
    day = np.floor(local / DAY_S).astype(np.int64)
    clock = local - day * DAY_S
    cycle_day = day + (clock >= rule.cutoff_s).astype(np.int64)
    # The deadline is a local wall time; convert back so DST days stay exact.
    deadline = local_to_posix((cycle_day * DAY_S + rule.deadline_s).astype(np.float64), zone)
    holiday_days = np.array([day_number(h) for h in rule.holidays], dtype=np.int64)
    assessed = ~np.isin(cycle_day, holiday_days) & ~in_spans(rounds.open_s, rule.holiday_mode)
    on_time = rounds.answered & (rounds.reply_s <= deadline)
    if rule.clock == "wall":
        delay = rounds.delay_s
    else:
        w_open = working_seconds(rounds.open_s, zone, rule.work_start_s, rule.work_end_s)
        reply = np.where(rounds.answered, rounds.reply_s, rounds.open_s)
        w_reply = working_seconds(reply, zone, rule.work_start_s, rule.work_end_s)
        delay = np.where(rounds.answered, w_reply - w_open, np.nan)
    return LazadaJudgement(rounds, cycle_day, deadline, assessed, on_time, delay)


def score(
    log: MessageLog,
    rule: LazadaRule = LazadaRule(),
    history: Mapping[str, DailyHistory] | None = None,
) -> dict[str, MetricSeries]:
    """Lazada's chat response rate and response time, per cycle day and rolling.

    Parameters
    ----------
    log
        The message log.
    rule
        Lazada's parameters.
    history
        Seller history of the days before the log, keyed by metric name
        (``"lazada.response_rate"`` as shares, ``"lazada.response_time_s"`` in seconds).

    Returns
    -------
    dict[str, MetricSeries]
        ``"lazada.response_rate"`` (share, higher is better, >= ``target_rate``)
        and ``"lazada.response_time_s"`` (seconds, lower is better,
        <= ``target_response_s``), both over ``window_days``-day windows of cycle days.
    """
    h = history or {}
    j = judge(log, rule)
    a = j.assessed
    rate = daily_series(
        metric=RATE,
        label="Lazada chat response rate (answered by 19:00 of the cycle day)",
        unit="share",
        higher_is_better=True,
        threshold=rule.target_rate,
        window_days=rule.window_days,
        unit_day=j.cycle_day[a],
        unit_value=j.on_time[a].astype(np.float64),
        history=h.get(RATE),
    )
    ok = a & j.on_time
    time = daily_series(
        metric=TIME,
        label=f"Lazada chat response time ({rule.clock.replace('_', ' ')} clock)",
        unit="seconds",
        higher_is_better=False,
        threshold=rule.target_response_s,
        window_days=rule.window_days,
        unit_day=j.cycle_day[ok],
        unit_value=j.delay_s[ok],
        history=h.get(TIME),
    )
    return {RATE: rate, TIME: time}
