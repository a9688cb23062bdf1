"""What a chat export shows directly, estimated with its uncertainty.

From a :class:`~peakdesk.rules.messages.MessageLog` (``peakdesk score``'s import
format, or a simulated run's :func:`peakdesk.engine.export.to_message_log`):

* **arrivals**: a conversation arrives at its first buyer message; counts per
  interval of the shop's clock, each with its exact 95% Poisson interval
  (Garwood: chi-square quantiles), ready to be written as a forecast CSV;
* **buyer messages per conversation**: the empirical distribution, and the mean
  with a 95% normal interval (sample standard deviation);
* **buyer think time**: from a reply (agent or bot) to the buyer's next message in
  the same conversation, when that message follows a reply (a buyer writing twice
  before an answer is not thinking about a reply); mean with a 95% t interval,
  and the coefficient of variation;
* **bot share**: conversations answered by a bot and never by a person, over all
  conversations, with a 95% Wilson interval;
* **writing time by chats held** (:func:`compose_by_chats`): from an agent's
  back-to-back replies, for agents writing one reply at a time;
* **patience** (:func:`patience`): from a conversation table's right-censored
  waits.

Each estimate says how many observations it rests on; a quantity without any
(no reply ever followed by a buyer message, say) is ``None``, for the caller to
name and leave at a default.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from peakdesk.binomial import wilson_bounds
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Two-sided level of every interval here.
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A fitted quantity.

    Attributes
    ----------
    value
        The estimate.
    low, high
        Its two-sided 95% interval.
    n
        Observations it rests on.
    method
        How the interval is made, for the calibration report.
    """

    value: float
    low: float
    high: float
    n: int
    method: str


@dataclass(frozen=True)
class ArrivalProfile:
    """Conversations arriving per interval of the shop's clock.

    Attributes
    ----------
    starts
        Local (zone-aware) start of each interval, from local midnight of the
        first day to the end of the last.
    interval_s
        Interval width, seconds.
    count
        Conversations arriving in each.
    low, high
        Exact 95% Poisson interval of each interval's expected count.
    """

    starts: tuple[dt.datetime, ...]
    interval_s: float
    count: I64
    low: F64
    high: F64

    def forecast_csv(self) -> str:
        """The profile as a forecast file (``interval_start,conversations``)."""
        rows = ["interval_start,conversations"]
        rows += [f"{t.isoformat()},{int(c)}" for t, c in zip(self.starts, self.count, strict=True)]
        return "\n".join(rows) + "\n"


def _first_of_each(log: MessageLog, mask: npt.NDArray[np.bool_]) -> F64:
    """Time of the first message in ``mask`` of each conversation (NaN: none)."""
    out = np.full(log.n_conversations, np.nan)
    conv = log.conversation[mask]
    t = log.time_s[mask]
    # The log is sorted by conversation then time: the first occurrence is the earliest.
    first = np.unique(conv, return_index=True)[1]
    out[conv[first]] = t[first]
    return out


def arrivals(log: MessageLog, zone: dt.tzinfo, interval_s: float = 900.0) -> ArrivalProfile:
    """Conversations per interval of local time (see the module docstring)."""
    if not 60.0 <= interval_s <= 86400.0 or 86400.0 % interval_s:
        raise ValueError(f"interval_s must divide a day and be >= 60 s, got {interval_s}")
    t = _first_of_each(log, log.sender == BUYER)
    t = t[~np.isnan(t)]
    if not t.size:
        raise ValueError("the log has no buyer message: no conversation arrives")
    first_day = dt.datetime.fromtimestamp(float(t.min()), tz=zone).date()
    last_day = dt.datetime.fromtimestamp(float(t.max()), tz=zone).date()
    midnight = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    n = round((end - midnight).total_seconds() / interval_s)
    starts = tuple(midnight + dt.timedelta(seconds=k * interval_s) for k in range(n))
    # Bins by absolute time from local midnight (a DST day is 23 or 25 hours long).
    k = ((t - midnight.timestamp()) // interval_s).astype(np.int64)
    count = np.bincount(np.clip(k, 0, n - 1), minlength=n).astype(np.int64)
    a = 1.0 - LEVEL
    low = np.where(count > 0, stats.chi2.ppf(a / 2, 2 * count) / 2, 0.0)
    high = stats.chi2.ppf(1 - a / 2, 2 * (count + 1)) / 2
    return ArrivalProfile(starts, float(interval_s), count, low, high)


def messages_per_conversation(
    log: MessageLog, keep: npt.NDArray[np.bool_] | None = None
) -> tuple[I64, F64, Estimate | None]:
    """Buyer messages per conversation: values, their shares, and the mean.

    ``keep`` (per conversation code) leaves conversations out: a buyer who left
    before a reply sent no more messages, so with a conversation table only the
    conversations whose buyer stayed show their whole count.
    """
    per = np.bincount(log.conversation[log.sender == BUYER], minlength=log.n_conversations)
    if keep is not None:
        per = per[np.asarray(keep, dtype=np.bool_)]
    per = per[per > 0]
    if not per.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0), None
    values, counts = np.unique(per, return_counts=True)
    return values.astype(np.int64), counts / counts.sum(), _mean(per.astype(np.float64))


def think_times(log: MessageLog) -> F64:
    """Seconds from each reply to the buyer's next message, when it follows a reply."""
    same = log.conversation[1:] == log.conversation[:-1]
    after_reply = np.isin(log.sender[:-1], (AGENT, BOT)) & (log.sender[1:] == BUYER)
    gaps = (log.time_s[1:] - log.time_s[:-1])[same & after_reply]
    return np.asarray(gaps, dtype=np.float64)


def think_time(log: MessageLog) -> tuple[Estimate | None, float]:
    """Mean think time with its interval, and the coefficient of variation (NaN: < 2 gaps)."""
    gaps = think_times(log)
    if gaps.size < 2:
        return None, math.nan
    mean = _mean(gaps)
    return mean, float(gaps.std(ddof=1) / gaps.mean()) if gaps.mean() > 0 else math.nan


def bot_share(log: MessageLog) -> Estimate | None:
    """Conversations a bot answered and no person did, over all conversations."""
    n = log.n_conversations
    if n == 0:
        return None
    bot = np.zeros(n, dtype=np.bool_)
    human = np.zeros(n, dtype=np.bool_)
    bot[log.conversation[log.sender == BOT]] = True
    human[log.conversation[log.sender == AGENT]] = True
    k = int((bot & ~human).sum())
    low, high = wilson_bounds(k, n, float(stats.norm.ppf(0.5 + LEVEL / 2)))
    return Estimate(k / n, low, high, n, "Wilson 95%")


def _mean(x: F64) -> Estimate:
    n = x.size
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, n, "one observation")
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Estimate(m, m - half, m + half, n, "t 95%")


@dataclass(frozen=True)
class Patience:
    """Buyer patience until the first reply, from right-censored waits.

    A buyer who left before any reply is an event at its wait; a buyer answered
    first is censored there (its patience was longer than its wait); one still
    waiting when the export ends is censored at the end.  Most buyers are
    answered, so most observations are censored: the mean of the observed
    departures alone (``naive_mean_s``) is far below the patience, and is given
    only to show that.

    Attributes
    ----------
    exponential_mean
        Maximum-likelihood mean of an exponential patience, total exposure over
        departures, with its exact 95% interval (``2 T / mean`` is chi-square
        with ``2 d`` degrees of freedom).
    median_s
        Kaplan-Meier median (NaN when the survival curve stays above 1/2).
    survival_t, survival
        The Kaplan-Meier curve: P(patience > t) at the observed departure times.
    events, censored
        Departures, and censored waits.
    naive_mean_s
        Mean wait of the buyers who left (biased low; not an estimate).
    """

    exponential_mean: Estimate | None
    median_s: float
    survival_t: F64
    survival: F64
    events: int
    censored: int
    naive_mean_s: float


def patience(
    arrival_s: F64,
    first_reply_s: F64,
    abandoned: npt.NDArray[np.bool_],
    abandon_s: F64,
    end_s: float,
    needs_agent: npt.NDArray[np.bool_] | None = None,
) -> Patience:
    """Fit patience from a conversation table's columns (seconds on one clock).

    Parameters
    ----------
    arrival_s
        Arrival of each conversation.
    first_reply_s
        Its first reply (NaN: none).
    abandoned, abandon_s
        Whether the buyer left before a reply, and when.
    end_s
        End of the export: a buyer neither answered nor gone is censored here.
    needs_agent
        Conversations that waited for a person (default all): one a bot resolved
        never waited, and would otherwise count as censored at the end.
    """
    keep = (
        np.ones(np.asarray(arrival_s).size, dtype=np.bool_)
        if needs_agent is None
        else np.asarray(needs_agent, dtype=np.bool_)
    )
    arrival_s = np.asarray(arrival_s, dtype=np.float64)[keep]
    first_reply_s = np.asarray(first_reply_s, dtype=np.float64)[keep]
    abandon_s = np.asarray(abandon_s, dtype=np.float64)[keep]
    gone = np.asarray(abandoned, dtype=np.bool_)[keep]
    wait_event = np.asarray(abandon_s, dtype=np.float64)[gone] - arrival_s[gone]
    answered = ~gone & ~np.isnan(first_reply_s)
    censored = np.concatenate(
        (
            np.asarray(first_reply_s, dtype=np.float64)[answered] - arrival_s[answered],
            end_s - arrival_s[~gone & ~answered],
        )
    )
    censored = np.maximum(censored, 0.0)
    wait_event = np.maximum(wait_event, 0.0)
    d = int(wait_event.size)
    exposure = float(wait_event.sum() + censored.sum())
    exp_mean = None
    if d > 0:
        mean = exposure / d
        a = 1.0 - LEVEL
        low = 2.0 * exposure / float(stats.chi2.ppf(1 - a / 2, 2 * d))
        high = 2.0 * exposure / float(stats.chi2.ppf(a / 2, 2 * d))
        exp_mean = Estimate(mean, low, high, d + int(censored.size), "exponential MLE, exact 95%")
    t_surv = np.zeros(0)
    s_surv = np.zeros(0)
    median = math.nan
    if d > 0:
        km = stats.ecdf(stats.CensoredData(uncensored=wait_event, right=censored)).sf
        t_surv = np.asarray(km.quantiles, dtype=np.float64)
        s_surv = np.asarray(km.probabilities, dtype=np.float64)
        below = np.flatnonzero(s_surv <= 0.5)
        median = float(t_surv[below[0]]) if below.size else math.nan
    return Patience(
        exp_mean,
        median,
        t_surv,
        s_surv,
        d,
        int(censored.size),
        float(wait_event.mean()) if d else math.nan,
    )


@dataclass(frozen=True)
class ComposeByChats:
    """Agent writing time per reply, by the number of chats the agent held.

    Attributes
    ----------
    chats
        Chats held when the reply was written, ``1 .. max``.
    mean
        Per number of chats: the mean writing time with its interval (``None``
        where no reply was observed that way).
    """

    chats: tuple[int, ...]
    mean: tuple[Estimate | None, ...]


def held_spans(log: MessageLog) -> dict[int, tuple[F64, F64]]:
    """Per agent, the sorted starts and ends of the chats it held.

    A chat is held from the agent's first reply in it to the conversation's last
    message.  (The log does not show when an agent took a chat; before its first
    reply the agent was writing it, or it waited behind the agent's others.)
    """
    n_conv = log.n_conversations
    last = np.full(n_conv, -np.inf)
    np.maximum.at(last, log.conversation, log.time_s)
    is_reply = (log.sender == AGENT) & (log.agent >= 0)
    out = {}
    for a in np.unique(log.agent[is_reply]).tolist():
        sel = is_reply & (log.agent == a)
        first = np.full(n_conv, np.inf)
        np.minimum.at(first, log.conversation[sel], log.time_s[sel])
        mine = np.unique(log.conversation[sel])
        out[int(a)] = (np.sort(first[mine]), np.sort(last[mine]))
    return out


def held_while_writing(spans: tuple[F64, F64], begin: F64, sent: F64) -> I64:
    """Chats an agent held while writing a reply begun at ``begin`` and sent at ``sent``.

    The chats first replied to by ``sent`` (the one being answered included) that
    had not ended by ``begin``.  A chat the agent had taken but not yet answered
    is missed, so with a backlog of new chats this counts low.
    """
    starts, ends = spans
    return np.asarray(
        np.searchsorted(starts, sent, side="right") - np.searchsorted(ends, begin, side="right"),
        dtype=np.int64,
    )


def compose_by_chats(log: MessageLog) -> ComposeByChats:
    """Writing time per reply from an agent's back-to-back replies, by chats held.

    For an agent who writes one reply at a time (``discipline = "sequential"``),
    the gap between two consecutive replies is the second one's writing time
    when the buyer message it answers was already waiting as the first was sent:
    the agent went straight from one to the next.  Other gaps include idle time
    and are left out.  (Agents writing several replies at once, ``parallel``,
    overlap their writing and this estimate does not apply.)
    """
    is_reply = (log.sender == AGENT) & (log.agent >= 0)
    # The buyer message each reply answers: the last buyer message before it in its
    # conversation (the log is sorted by conversation, then time).
    last_buyer = np.where(log.sender == BUYER, log.time_s, np.nan)
    prev_buyer = np.full(log.n_messages, np.nan)
    conv = log.conversation
    run = np.nan
    for i in range(log.n_messages):
        if i == 0 or conv[i] != conv[i - 1]:
            run = np.nan
        prev_buyer[i] = run
        if not np.isnan(last_buyer[i]):
            run = last_buyer[i]
    spans = held_spans(log)
    gaps: list[float] = []
    levels: list[int] = []
    for a in np.unique(log.agent[is_reply]).tolist():
        idx = np.flatnonzero(is_reply & (log.agent == a))
        idx = idx[np.argsort(log.time_s[idx], kind="stable")]
        t = log.time_s[idx]
        asked = prev_buyer[idx]
        back_to_back = asked[1:] <= t[:-1]
        gaps.extend((t[1:] - t[:-1])[back_to_back].tolist())
        levels.extend(
            held_while_writing(spans[int(a)], t[:-1][back_to_back], t[1:][back_to_back]).tolist()
        )
    if not gaps:
        return ComposeByChats((), ())
    g = np.asarray(gaps)
    lv = np.asarray(levels)
    lv = np.maximum(lv, 1)  # the chat being answered is held
    chats = tuple(range(1, int(lv.max()) + 1))
    return ComposeByChats(
        chats, tuple(_mean(g[lv == k]) if (lv == k).any() else None for k in chats)
    )
