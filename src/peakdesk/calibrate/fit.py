"""What a chat export shows directly, estimated with its uncertainty.

From a :class:`~peakdesk.rules.messages.MessageLog` (``peakdesk score``'s import
format, or a simulated run's :func:`peakdesk.engine.export.to_message_log`):

* **arrivals**: a conversation arrives at its first buyer message; counts per
  interval of the shop's clock, each with its exact 95% Poisson interval
  (Garwood: chi-square quantiles), and per minute, smoothed between surges
  (:func:`smooth_arrivals`) into the forecast CSV;
* **surges** (:func:`surges`): sudden rises (the 00:00 opening, the 20:00 wave, a
  flash sale), each with its onset, peak, end and size; and **busy days**
  (:func:`day_levels`): the peak day, pre-sale and after-sale days;
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
import itertools
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


#: Candidate bandwidths of the arrival smoothing (standard deviation of the Gaussian
#: kernel), minutes; the one with the best leave-one-out Poisson likelihood is used.
BANDWIDTHS_MIN = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 45.0, 60.0)
#: Random splits of the arrivals that choose the smoothing, and their fixed seed (the
#: calibration of one log is reproducible).
SPLITS = 4
SPLIT_SEED = 20261111
#: A surge's onset compares the next SURGE_AFTER_MIN minutes with the SURGE_BEFORE_MIN
#: before: 15 minutes is the shortest window that holds a midnight spike's mass
#: (e-folding 10 min in the Tmall shape), an hour is the level it rises from.
SURGE_AFTER_MIN = 15
SURGE_BEFORE_MIN = 60
#: The rate must at least treble ("5-10x in minutes" on 11.11, DOMAIN.md; a normal day's
#: hour-to-hour rise is at most 2.3x, 06:00 -> 07:00 in the built-in curve) ...
SURGE_RATIO = 3.0
#: ... and the rise be significant at this family-wise level over all minutes tested
#: (Bonferroni), so a flat day of Poisson noise shows no surge.
SURGE_ALPHA = 1e-3
#: Onsets closer than this are one surge, minutes; a surge lasts at most SURGE_MAX_MIN.
SURGE_SEPARATION_MIN = 60
SURGE_MAX_MIN = 360
#: A day is busy when its arrivals are at least DAY_RATIO x the normal day's, significantly.
DAY_RATIO = 1.5


@dataclass(frozen=True)
class ArrivalProfile:
    """Conversations arriving per interval of the shop's clock, raw and smoothed.

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
    expected
        Each interval's expected conversations from the smoothed minute curve
        (:func:`smooth_arrivals`).
    minute_count
        Conversations arriving per minute (per ``bin_s`` when the interval is
        not a whole number of minutes), from the first interval's start.
    minute_rate
        The smoothed expected count per bin.
    bin_s
        Width of those bins, seconds.
    bandwidth_min
        Per bin, the kernel bandwidth that smoothed it, minutes.
    """

    starts: tuple[dt.datetime, ...]
    interval_s: float
    count: I64
    low: F64
    high: F64
    expected: F64
    minute_count: I64
    minute_rate: F64
    bin_s: float
    bandwidth_min: F64

    def forecast_csv(self, *, smoothed: bool = True) -> str:
        """The profile as a forecast file (``interval_start,conversations``)."""
        rows = ["interval_start,conversations"]
        if smoothed:
            rows += [
                f"{t.isoformat()},{c:.4f}" for t, c in zip(self.starts, self.expected, strict=True)
            ]
        else:
            rows += [
                f"{t.isoformat()},{int(c)}" for t, c in zip(self.starts, self.count, strict=True)
            ]
        return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class Surge:
    """A sudden rise of the arrivals (:func:`surges`).

    Attributes
    ----------
    start, peak, end
        Local times of the onset, of the highest minute of the rate smoothed
        over 3 minutes, and of the first minute after the peak below half of
        it (or the next onset, or :data:`SURGE_MAX_MIN` after the onset).
    label
        ``"00:00 opening"`` or ``"20:00 wave"`` when the onset is within 15
        minutes of those times, else the onset's clock time.
    rate_before, peak_rate
        Conversations per minute in the hour before, and at the peak (smoothed).
    conversations
        Arrivals from the onset to the end.
    p_value
        Of the onset test (binomial, before the Bonferroni correction).
    """

    start: dt.datetime
    peak: dt.datetime
    end: dt.datetime
    label: str
    rate_before: float
    peak_rate: float
    conversations: int
    p_value: float

    @property
    def ratio(self) -> float:
        """Peak over the rate before (inf when nothing arrived before)."""
        return self.peak_rate / self.rate_before if self.rate_before > 0 else math.inf


@dataclass(frozen=True)
class DayLevel:
    """One local day's arrivals against the normal day (:func:`day_levels`).

    Attributes
    ----------
    day
        The local date.
    conversations
        Its arrivals.
    ratio
        Over the normal day's (the lower quartile of the log's days).
    label
        ``"peak day"``, ``"pre-sale"`` or ``"after-sale"`` (busy days before or
        after the peak), or ``"normal"``.
    """

    day: dt.date
    conversations: int
    ratio: float
    label: str


def _first_of_each(log: MessageLog, mask: npt.NDArray[np.bool_]) -> F64:
    """Time of the first message in ``mask`` of each conversation (NaN: none)."""
    out = np.full(log.n_conversations, np.nan)
    conv = log.conversation[mask]
    t = log.time_s[mask]
    # The log is sorted by conversation then time: the first occurrence is the earliest.
    first = np.unique(conv, return_index=True)[1]
    out[conv[first]] = t[first]
    return out


def arrivals(
    log: MessageLog,
    zone: dt.tzinfo,
    interval_s: float = 900.0,
    days: tuple[dt.date, dt.date] | None = None,
) -> ArrivalProfile:
    """Conversations per interval of local time, raw and smoothed (module docstring).

    ``days`` (first, last local day) sets the span; by default the log's own
    (an inquiry type's profile on the whole log's span lines up with the total's).
    """
    if not 60.0 <= interval_s <= 86400.0 or 86400.0 % interval_s:
        raise ValueError(f"interval_s must divide a day and be >= 60 s, got {interval_s}")
    t = _first_of_each(log, log.sender == BUYER)
    t = t[~np.isnan(t)]
    if not t.size:
        raise ValueError("the log has no buyer message: no conversation arrives")
    first_day = dt.datetime.fromtimestamp(float(t.min()), tz=zone).date()
    last_day = dt.datetime.fromtimestamp(float(t.max()), tz=zone).date()
    if days is not None:
        first_day, last_day = min(days[0], first_day), max(days[1], last_day)
    midnight = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    # Absolute time throughout: aware arithmetic in one zone is wall-clock arithmetic,
    # which on a daylight-saving day would label intervals an hour off their counts.
    n = round((end.timestamp() - midnight.timestamp()) / interval_s)
    starts = tuple(
        dt.datetime.fromtimestamp(midnight.timestamp() + k * interval_s, tz=zone) for k in range(n)
    )
    # Bins by absolute time from local midnight (a DST day is 23 or 25 hours long).
    k = ((t - midnight.timestamp()) // interval_s).astype(np.int64)
    count = np.bincount(np.clip(k, 0, n - 1), minlength=n).astype(np.int64)
    a = 1.0 - LEVEL
    low = np.where(count > 0, stats.chi2.ppf(a / 2, 2 * count) / 2, 0.0)
    high = stats.chi2.ppf(1 - a / 2, 2 * (count + 1)) / 2
    bin_s = 60.0 if interval_s % 60.0 == 0 else float(interval_s)
    per = round(interval_s / bin_s)
    m = ((t - midnight.timestamp()) // bin_s).astype(np.int64)
    minute = np.bincount(np.clip(m, 0, n * per - 1), minlength=n * per).astype(np.int64)
    onsets = [o for o, _, _ in _onsets(minute, bin_s)]
    rate, bw = smooth_arrivals(minute, bin_s, _segment_cuts(minute, bin_s, onsets), per)
    expected = rate.reshape(n, per).sum(axis=1)
    return ArrivalProfile(
        starts, float(interval_s), count, low, high, expected, minute, rate, bin_s, bw
    )


def _gauss(c: F64, sigma_bins: float) -> F64:
    """Gaussian smoothing that keeps the total: mirrored at the ends (the kernel's mass
    beyond an end folds back in), so a segment keeps exactly its arrivals."""
    from scipy.ndimage import gaussian_filter1d

    return np.asarray(gaussian_filter1d(c, sigma_bins, mode="reflect"), dtype=np.float64)


def _split_score(a: F64, b: F64, sigma_bins: float, group: I64) -> float:
    """Poisson log-likelihood of half ``b`` per interval, predicted by half ``a`` smoothed."""
    from scipy.special import xlogy

    pred = _gauss(a, sigma_bins) if sigma_bins > 0 else a
    mu = np.bincount(group, weights=pred)
    obs = np.bincount(group, weights=b)
    with np.errstate(divide="ignore"):
        return (
            float((xlogy(obs, mu) - mu).sum()) if not ((mu == 0) & (obs > 0)).any() else -math.inf
        )


def smooth_arrivals(count: I64, bin_s: float, cuts: list[int], per: int = 1) -> tuple[F64, F64]:
    """Smoothed expected arrivals per bin, segment by segment.

    The bandwidth of each segment is chosen by Poisson thinning: the arrivals are
    split at random into two halves (each a Poisson process of half the rate);
    one half, smoothed, predicts the other's counts per interval, and the
    candidate (no smoothing, or a bandwidth of :data:`BANDWIDTHS_MIN`) with the
    best Poisson log-likelihood over :data:`SPLITS` splits is used on all the
    arrivals.  At a large shop's volume raw interval counts are already precise
    and smoothing would only blur the hour-to-hour steps: the choice is then
    "none".

    Parameters
    ----------
    count
        Arrivals per bin.
    bin_s
        Bin width, seconds.
    cuts
        Bin indices where the curve may jump (surge onsets and ends): no kernel
        reaches across one, so a midnight spike is not smeared into the minutes
        before it.
    per
        Bins per forecast interval (the likelihood is of interval counts, as the
        forecast is written).

    Returns
    -------
    rate, bandwidth_min
        The smoothed count per bin (each segment keeps its total), and per bin
        the bandwidth of its segment,
        minutes (0: not smoothed).
    """
    c = np.asarray(count, dtype=np.float64)
    rng = np.random.default_rng(SPLIT_SEED)
    halves = [rng.binomial(np.asarray(count, dtype=np.int64), 0.5) for _ in range(SPLITS)]
    rate = np.zeros_like(c)
    bw = np.zeros_like(c)
    edges = [0, *sorted({x for x in cuts if 0 < x < c.size}), c.size]
    for lo, hi in itertools.pairwise(edges):
        seg = c[lo:hi]
        group = np.arange(lo, hi) // per - lo // per
        best, best_score = 0.0, -math.inf
        if seg.sum() > 0:
            for b in (0.0, *BANDWIDTHS_MIN):
                sigma = b * 60.0 / bin_s
                score = sum(
                    _split_score(h[lo:hi].astype(np.float64), seg - h[lo:hi], sigma, group)
                    for h in halves
                )
                if score > best_score:
                    best, best_score = b, score
        rate[lo:hi] = _gauss(seg, best * 60.0 / bin_s) if best > 0 else seg
        bw[lo:hi] = best
    return rate, bw


def _onsets(count: I64, bin_s: float) -> list[tuple[int, float, float]]:
    """Surge onsets: (bin, binomial p-value, rate before per bin), see :func:`surges`."""
    per_min = 60.0 / bin_s
    after = max(1, round(SURGE_AFTER_MIN * per_min))
    before = max(1, round(SURGE_BEFORE_MIN * per_min))
    c = np.asarray(count, dtype=np.int64)
    n = c.size
    if n < after + before:
        return []
    cum = np.concatenate(([0], np.cumsum(c)))
    t = np.arange(before, n - after + 1)
    a = cum[t + after] - cum[t]
    b = cum[t] - cum[t - before]
    share = after / (after + before)
    p = stats.binom.sf(a - 1, a + b, share)
    rise = a * before >= SURGE_RATIO * np.maximum(b, 0.5) * after
    hit = np.flatnonzero(rise & (p < SURGE_ALPHA / t.size))
    out: list[tuple[int, float, float]] = []
    if not hit.size:
        return out
    from scipy.special import xlogy

    llr = xlogy(a, a / after) + xlogy(b, b / before) - xlogy(a + b, (a + b) / (after + before))
    sep = round(SURGE_SEPARATION_MIN * per_min)
    groups = np.split(hit, np.flatnonzero(np.diff(hit) > sep) + 1)
    for g in groups:
        j = int(g[np.argmax(llr[g])])
        out.append((int(t[j]), float(p[j]), float(b[j]) / before))
    return out


def _segment_cuts(count: I64, bin_s: float, onsets: list[int]) -> list[int]:
    """Onsets and the ends of their surges (from a lightly smoothed curve)."""
    cuts: list[int] = []
    light = _gauss(np.asarray(count, dtype=np.float64), 3.0 * 60.0 / bin_s)
    for o, e in _extents(light, onsets, bin_s):
        cuts += [o, e]
    return cuts


def _extents(rate: F64, onsets: list[int], bin_s: float) -> list[tuple[int, int]]:
    """Each onset's end: the first bin after its peak below half the peak."""
    longest = round(SURGE_MAX_MIN * 60.0 / bin_s)
    out = []
    for i, o in enumerate(onsets):
        stop = min(rate.size, o + longest, onsets[i + 1] if i + 1 < len(onsets) else rate.size)
        seg = rate[o:stop]
        if not seg.size:
            continue
        pk = int(np.argmax(seg))
        below = np.flatnonzero(seg[pk:] < seg[pk] / 2.0)
        out.append((o, o + pk + int(below[0]) if below.size else stop))
    return out


def surges(profile: ArrivalProfile) -> list[Surge]:
    """Sudden rises of the arrivals: the 00:00 opening, the 20:00 wave, a flash sale.

    An onset is a bin after which the next :data:`SURGE_AFTER_MIN` minutes bring
    at least :data:`SURGE_RATIO` times the rate of the :data:`SURGE_BEFORE_MIN`
    before, significantly: given the arrivals of both windows, those after are
    binomial with the windows' share of time when the rate is flat, tested
    one-sided at :data:`SURGE_ALPHA` over all bins tested (Bonferroni).  Of the
    significant bins within :data:`SURGE_SEPARATION_MIN` of each other, the onset
    is the one with the largest likelihood ratio of a step.  No surge can be
    found in the log's first hour (there is no level before it).

    Parameters
    ----------
    profile
        From :func:`arrivals`.
    """
    c = profile.minute_count
    found = _onsets(c, profile.bin_s)
    if not found:
        return []
    t0 = profile.starts[0]
    out = []
    per_min = 60.0 / profile.bin_s
    # Extents and peaks on a lightly smoothed curve (3 minutes), whatever bandwidth the
    # forecast chose: an unsmoothed minute count would end a surge at its first dip.
    light = _gauss(np.asarray(c, dtype=np.float64), 3.0 * 60.0 / profile.bin_s)
    for (o, e), (_, p, before) in zip(
        _extents(light, [f[0] for f in found], profile.bin_s), found, strict=True
    ):
        start = t0 + dt.timedelta(seconds=o * profile.bin_s)
        pk = o + int(np.argmax(light[o:e])) if e > o else o
        local = start.astimezone(t0.tzinfo)
        minutes = local.hour * 60 + local.minute
        if min(minutes, 1440 - minutes) <= 15:
            label = "00:00 opening"
        elif abs(minutes - 1200) <= 15:
            label = "20:00 wave"
        else:
            label = f"{local:%H:%M}"
        out.append(
            Surge(
                start=local,
                peak=(t0 + dt.timedelta(seconds=pk * profile.bin_s)).astimezone(t0.tzinfo),
                end=(t0 + dt.timedelta(seconds=e * profile.bin_s)).astimezone(t0.tzinfo),
                label=label,
                rate_before=before * per_min,
                peak_rate=float(light[pk]) * per_min,
                conversations=int(c[o:e].sum()),
                p_value=p,
            )
        )
    return out


#: A stretch without arrivals is looked at from this long, minutes.
HOLE_MIN = 30


@dataclass(frozen=True)
class Hole:
    """A stretch with no arrivals where the rate around it says there should be some.

    Attributes
    ----------
    start, end
        Local times of the first empty minute and of the next arrival.
    expected
        Arrivals predicted for it by the lowest of: the hour before, the hour
        after, the half hours either side, and the same clock window on each
        other day of the export (:func:`holes`).
    """

    start: dt.datetime
    end: dt.datetime
    expected: float


def holes(profile: ArrivalProfile) -> list[Hole]:
    """Stretches of the export with no arrivals that chance does not explain.

    A run of at least :data:`HOLE_MIN` empty minutes is a hole when even the
    lowest prediction for it makes no arrival at all unlikely:
    ``exp(-expected)`` below :data:`SURGE_ALPHA` over the places such a run
    could lie (the export's length over the run's, Bonferroni): a gap in the
    export, a clock jump, an outage of the chat tool.  The forecast holds zero
    there; the planner must know.

    The prediction is the lowest of the hour and the half hour on each side
    and the same clock window on every other day of the export.  A night
    trough is a valley: its bottom is quieter than the hours around it, so
    the sides alone cried wolf (8-13% of simulated logs of the shipped
    profiles with no gap, 30-100% of deep-valley ones); the same hours of
    another day are quiet too, while a gap in the export happens on one day.
    With a one-day export that comparison is missing and a quiet night cannot
    be told from a gap: nothing is looked for (:func:`can_find_holes`).
    """
    if not can_find_holes(profile):
        return []
    c = profile.minute_count
    per_min = 60.0 / profile.bin_s
    shortest = max(1, round(HOLE_MIN * per_min))
    hour = max(1, round(60 * per_min))
    half = max(1, hour // 2)
    # Whole days in bins (a daylight-saving day shifts the other days' window by an
    # hour: the comparison is of quiet hours, which an hour's shift does not undo).
    day = round(1440 * per_min)
    empty = np.concatenate(([0], (c == 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(empty))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    runs = [(a, b) for a, b in runs if b - a >= shortest and a > 0 and b < c.size]
    # The export's own span: before its first arrival or after its last it says nothing
    # (an export that starts at 14:00 is not quiet at 09:00 of its first day).
    seen = np.flatnonzero(c)
    first, last = (int(seen[0]), int(seen[-1]) + 1) if seen.size else (0, 0)
    out = []
    t0 = profile.starts[0]
    for a, b in runs:
        n = b - a
        # The lower side: a surge just after (a midnight opening) or a wave just
        # before does not make a quiet stretch a hole.
        sides = (c[max(0, a - hour) : a], c[b : b + hour], c[max(0, a - half) : a], c[b : b + half])
        predicted = [float(x.mean()) * n for x in sides if x.size]
        predicted += [
            float(c[a + k * day : b + k * day].sum())
            for k in range(-(a // day), (c.size - b) // day + 1)
            if k != 0 and first <= a + k * day and b + k * day <= last
        ]
        expected = min(predicted)
        places = max(len(runs), c.size / n)
        if expected > -math.log(SURGE_ALPHA / places):
            out.append(
                Hole(
                    (t0 + dt.timedelta(seconds=a * profile.bin_s)).astimezone(t0.tzinfo),
                    (t0 + dt.timedelta(seconds=b * profile.bin_s)).astimezone(t0.tzinfo),
                    expected,
                )
            )
    return out


def can_find_holes(profile: ArrivalProfile) -> bool:
    """Whether the export is long enough for :func:`holes`: at least two days."""
    return profile.minute_count.size * profile.bin_s >= 2 * 86400.0


def day_levels(profile: ArrivalProfile) -> list[DayLevel]:
    """Each local day's arrivals against the normal day: the peak, pre-sale and after-sale.

    The normal day is the lower quartile of the log's days (the lower value: a
    short export around 11.11 holds more busy days than normal ones, so the
    median would be a busy day).  A day is busy when it has at least
    :data:`DAY_RATIO` times the normal day's arrivals and more than a Poisson
    count of that mean would give at :data:`SURGE_ALPHA` over the days
    (Bonferroni).  The busiest busy day is the peak; busy days before it are
    pre-sale, after it after-sale.
    """
    by_day: dict[dt.date, int] = {}
    for t, c in zip(profile.starts, profile.count, strict=True):
        by_day[t.date()] = by_day.get(t.date(), 0) + int(c)
    days = sorted(by_day)
    n = np.array([by_day[d] for d in days], dtype=np.float64)
    normal = float(np.percentile(n, 25, method="lower")) if n.size else 0.0
    busy = (n >= DAY_RATIO * normal) & (
        stats.poisson.sf(n - 1, max(normal, 1e-9)) < SURGE_ALPHA / max(n.size, 1)
    )
    peak = int(np.argmax(np.where(busy, n, -1))) if busy.any() else -1
    out = []
    for i, d in enumerate(days):
        if not busy[i]:
            label = "normal"
        elif i == peak:
            label = "peak day"
        else:
            label = "pre-sale" if i < peak else "after-sale"
        out.append(DayLevel(d, int(n[i]), n[i] / normal if normal > 0 else math.inf, label))
    return out


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


#: Buyers who left after being taken that "first_reply" patience must show before
#: "assignment" can be told from it: none seen where this many were expected.
SEMANTICS_EXPECTED = 5.0
#: Buyers who left needed before "none of them was answered" reads as withdrawal.
WITHDRAWN_MIN = 10


@dataclass(frozen=True)
class PatienceRule:
    """When a buyer's patience stops running, and what becomes of a buyer who left.

    Attributes
    ----------
    until
        ``first_reply`` (the buyer waits for a person's answer) or ``assignment``
        (only until an agent takes the chat): the type's ``patience_until``.
    left_after_take
        Buyers who left after an agent had taken their chat (impossible under
        ``assignment``).
    expected_after_take
        How many ``first_reply`` patience of the fitted mean would have left
        after the take (NaN without take times).
    answer_after_abandon
        Whether a buyer who left is still answered (silent abandonment) or the
        chat is withdrawn: no buyer who left got a reply, of at least
        :data:`WITHDRAWN_MIN`.
    left, left_answered
        Buyers who left, and of them those answered anyway.
    """

    until: str
    left_after_take: int
    expected_after_take: float
    answer_after_abandon: bool
    left: int
    left_answered: int


def patience_rule(
    arrival_s: F64,
    taken_s: F64 | None,
    first_reply_s: F64,
    abandoned: npt.NDArray[np.bool_],
    abandon_s: F64,
    mean_s: float | None,
) -> PatienceRule:
    """Read the patience semantics from a conversation table (seconds on one clock).

    Patience until ``assignment`` ends when an agent takes the chat, so no buyer
    leaves after that; patience until the ``first_reply`` keeps running while a
    taken chat waits behind the agent's others, and with ``mean_s`` (the
    ``first_reply`` fit) about ``sum(1 - exp(-wait_after_take / mean_s))``
    buyers leave then.  None seen where at least :data:`SEMANTICS_EXPECTED`
    were expected (a chance below ``exp(-5)``) reads as ``assignment``; any
    seen reads as ``first_reply``; too few expected keeps ``first_reply`` (it
    cannot be told).  Without take times it stays ``first_reply``.
    """
    gone = np.asarray(abandoned, dtype=np.bool_)
    replied = np.isfinite(np.asarray(first_reply_s, dtype=np.float64))
    left, answered_anyway = int(gone.sum()), int((gone & replied).sum())
    silent = not (left >= WITHDRAWN_MIN and answered_anyway == 0)
    if taken_s is None or mean_s is None or not mean_s > 0:
        return PatienceRule("first_reply", 0, math.nan, silent, left, answered_anyway)
    take = np.asarray(taken_s, dtype=np.float64)
    ab = np.asarray(abandon_s, dtype=np.float64)
    after = int((gone & np.isfinite(take) & (ab > take + TAKEN_SLACK_S)).sum())
    # Buyers still there when taken, and how long they then waited for the reply.
    stay = np.isfinite(take) & replied & ~(gone & (ab <= take))
    wait = np.maximum(np.asarray(first_reply_s, dtype=np.float64)[stay] - take[stay], 0.0)
    expected = float(np.sum(1.0 - np.exp(-wait / mean_s)))
    until = "assignment" if after == 0 and expected >= SEMANTICS_EXPECTED else "first_reply"
    return PatienceRule(until, after, expected, silent, left, answered_anyway)


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


def held_spans(
    log: MessageLog, taken: F64 | None = None, closed: F64 | None = None
) -> dict[int, tuple[F64, F64]]:
    """Per agent, the sorted starts and ends of the chats it held.

    A chat is held from when the agent took it until it closed.  ``taken`` and
    ``closed`` (per conversation code, POSIX seconds, NaN unknown) are those
    times where a conversation table has them (a session export's access and
    end times).  Otherwise the agent's first reply in it and the conversation's
    last message stand in: that misses the time a chat taken under a backlog
    waited behind the agent's others before its first reply (and a buyer who
    left from the agent's inbox before any reply), so the count reads low when
    agents are busiest.
    """
    n_conv = log.n_conversations
    last = np.full(n_conv, -np.inf)
    np.maximum.at(last, log.conversation, log.time_s)
    if closed is not None:
        last = np.where(np.isfinite(closed), closed, last)
    is_reply = (log.sender == AGENT) & (log.agent >= 0)
    out = {}
    for a in np.unique(log.agent[is_reply]).tolist():
        sel = is_reply & (log.agent == a)
        first = np.full(n_conv, np.inf)
        np.minimum.at(first, log.conversation[sel], log.time_s[sel])
        if taken is not None:
            first = np.fmin(first, taken)
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


def answered(log: MessageLog) -> F64:
    """Per message, the time of the last buyer message before it in its conversation.

    For a reply, the buyer message it answers (NaN: none).  The log is sorted by
    conversation, then time.
    """
    n = log.n_messages
    last = np.maximum.accumulate(np.where(log.sender == BUYER, np.arange(n), -1))
    prev = np.full(n, -1, dtype=np.int64)
    prev[1:] = last[:-1]
    same = prev >= 0
    same[same] = log.conversation[prev[same]] == log.conversation[same]
    out = np.full(n, np.nan)
    out[same] = log.time_s[prev[same]]
    return out


def _follow_ups(log: MessageLog, asked: F64) -> npt.NDArray[np.bool_]:
    """Agent replies that answer a buyer message after the conversation's first.

    Only the first reply to each buyer message: a second bubble to a buyer who has
    not written again answers nothing new (the log is sorted by conversation, then
    time).
    """
    first = np.full(log.n_conversations, np.inf)
    buyer = log.sender == BUYER
    np.minimum.at(first, log.conversation[buyer], log.time_s[buyer])
    reply = (log.sender == AGENT) & (log.agent >= 0)
    n = log.n_messages
    last_buyer = np.maximum.accumulate(np.where(buyer, np.arange(n), -1))
    human_before = np.full(n, -1, dtype=np.int64)
    human_before[1:] = np.maximum.accumulate(np.where(reply, np.arange(n), -1))[:-1]
    fresh = human_before < last_buyer
    return np.asarray(reply & fresh & np.isfinite(asked) & (asked > first[log.conversation]))


#: The share of overtakes above which agents are taken to write in parallel.
OVERTAKE_SHARE = 0.02


@dataclass(frozen=True)
class Discipline:
    """How the agents work their chats, read from the order of their replies.

    Attributes
    ----------
    name
        ``sequential`` or ``parallel`` (the pool's ``discipline``).
    pairs
        Pairs of an agent's consecutive replies that both answer a follow-up
        buyer message (one in a chat the agent already held).
    overtakes
        Of them, the pairs whose later reply answers the older message.
    """

    name: str
    pairs: int
    overtakes: int

    @property
    def share(self) -> float:
        """Overtakes per pair (NaN without pairs)."""
        return self.overtakes / self.pairs if self.pairs else math.nan


def discipline(log: MessageLog) -> Discipline:
    """Whether the agents write one reply at a time or all at once.

    An agent writing one reply at a time takes the oldest waiting message of the
    chats it holds: of two follow-up messages waiting together, the older is
    answered first, so its replies never overtake (only a chat handed back or
    reopened breaks the rule).  Writing all at once (processor sharing), the
    shorter reply finishes first whatever the order the messages came in, and
    overtakes are common.  More than :data:`OVERTAKE_SHARE` of the pairs
    overtaking reads as ``parallel``.
    """
    asked = answered(log)
    follow = _follow_ups(log, asked)
    reply = (log.sender == AGENT) & (log.agent >= 0)
    pairs = overtakes = 0
    for a in np.unique(log.agent[reply]).tolist():
        idx = np.flatnonzero(reply & (log.agent == a))
        idx = idx[np.argsort(log.time_s[idx], kind="stable")]
        f, q = follow[idx], asked[idx]
        both = f[:-1] & f[1:]
        pairs += int(both.sum())
        overtakes += int((both & (q[1:] < q[:-1])).sum())
    share = overtakes / pairs if pairs else 0.0
    return Discipline("parallel" if share > OVERTAKE_SHARE else "sequential", pairs, overtakes)


def parallel_writes(
    log: MessageLog, taken: F64 | None = None, closed: F64 | None = None
) -> tuple[F64, I64, I64]:
    """Writing times of agents who write all their replies at once (``parallel``).

    Writing in parallel, the gap between two replies is not a writing time: every
    waiting reply progresses together, each at the rate of the chats held
    (``1 / multiplier[k - 1]``), however many are being written.  A reply to a
    follow-up message (its chat held, so its writing starts as the message
    arrives) was written from the message to the reply, at the rates of the
    chats held along the way.  Each is returned as its writing time at the chats
    held when it began (as :func:`compose_gaps` returns): the stretches at other
    loads rescaled by the multipliers, which are found by iterating (mean time
    by starting load over the 1-chat mean, from all-ones).  Taking each whole
    stretch at the starting load would count a chat taken meanwhile (slower)
    as slowness of the load it began at.
    """
    asked = answered(log)
    follow = _follow_ups(log, asked)
    spans = held_spans(log, taken, closed)
    pieces: list[tuple[list[int], list[float]]] = []
    start_level: list[int] = []
    convs: list[int] = []
    for a in np.unique(log.agent[follow]).tolist():
        starts, ends = spans[int(a)]
        idx = np.flatnonzero(follow & (log.agent == a))
        # A reply AWAY_S or more after its message: the agent was away meanwhile.
        idx = idx[log.time_s[idx] - asked[idx] < AWAY_S]
        for i in idx.tolist():
            b, e = float(asked[i]), float(log.time_s[i])
            # The load changes inside (b, e): chats taken or closed then.
            cuts = np.concatenate(
                (
                    starts[
                        np.searchsorted(starts, b, "right") : np.searchsorted(starts, e, "left")
                    ],
                    ends[np.searchsorted(ends, b, "right") : np.searchsorted(ends, e, "left")],
                )
            )
            edges = np.concatenate(([b], np.sort(cuts), [e]))
            at = edges[:-1] + TAKEN_SLACK_S
            load = np.maximum(
                np.searchsorted(starts, at, "right") - np.searchsorted(ends, at, "right"), 1
            )
            pieces.append((load.tolist(), np.diff(edges).tolist()))
            start_level.append(int(load[0]))
            convs.append(int(log.conversation[i]))
    if not pieces:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    level = np.asarray(start_level, dtype=np.int64)
    top = max(max(lv) for lv, _ in pieces)
    mult = np.ones(top + 1)
    for _ in range(PARALLEL_ITERATIONS):
        gap = np.array(
            [
                sum(d * mult[k0] / mult[k] for k, d in zip(lv, dur, strict=True))
                for (lv, dur), k0 in zip(pieces, start_level, strict=True)
            ]
        )
        mean = np.array(
            [gap[level == k].mean() if (level == k).any() else np.nan for k in range(top + 1)]
        )
        base = next((m for m in mean[1:] if np.isfinite(m) and m > 0), None)
        if base is None:
            break
        mult = np.where(np.isfinite(mean) & (mean > 0), mean / base, 1.0)
    return gap, level, np.asarray(convs, dtype=np.int64)


#: Rounds of the multiplier iteration of :func:`parallel_writes` (it settles in a few).
PARALLEL_ITERATIONS = 6


#: A writing time this long or longer is an absence (a break with chats open), seconds:
#: a buyer left waiting 10 minutes was not being written to (compare
#: :data:`peakdesk.calibrate.spells.BREAK_MIN_S`).
AWAY_S = 600.0
#: Take times within this of a reply's start count as before it, seconds (rounding).
TAKEN_SLACK_S = 0.002


def compose_gaps(
    log: MessageLog, taken: F64 | None = None, closed: F64 | None = None
) -> tuple[F64, I64, I64]:
    """Writing times of back-to-back replies (see :func:`compose_by_chats`).

    ``taken``, ``closed``: when each conversation was taken and closed, as for
    :func:`held_spans`.

    Returns
    -------
    gaps, chats, conversation
        Per back-to-back reply: its writing time (seconds), the chats the agent
        held while writing it (at least 1), and the conversation code it answered.
    """
    is_reply = (log.sender == AGENT) & (log.agent >= 0)
    prev_buyer = answered(log)
    conv = log.conversation
    if taken is not None and not np.isfinite(taken).any():
        taken = None  # an empty take-time column: no take times
    spans = held_spans(log, taken, closed)
    gaps: list[F64] = []
    levels: list[I64] = []
    convs: list[I64] = []
    for a in np.unique(log.agent[is_reply]).tolist():
        idx = np.flatnonzero(is_reply & (log.agent == a))
        idx = idx[np.argsort(log.time_s[idx], kind="stable")]
        t = log.time_s[idx]
        asked = prev_buyer[idx]
        # A buyer left waiting AWAY_S or more was not being written to: the agent was away.
        back_to_back = (asked[1:] <= t[:-1]) & (t[1:] - t[:-1] < AWAY_S)
        gaps.append((t[1:] - t[:-1])[back_to_back])
        begin, sent = t[:-1][back_to_back], t[1:][back_to_back]
        # With take times the load is read when the writing began (the engine fixes the
        # writing time then; a chat taken meanwhile did not slow it), allowing for the
        # export's millisecond rounding of a chat taken, or closed by the reply before,
        # at that very instant.
        if taken is None:
            levels.append(held_while_writing(spans[int(a)], begin, sent))
        else:
            at = begin + TAKEN_SLACK_S
            levels.append(held_while_writing(spans[int(a)], at, at))
        convs.append(conv[idx[1:][back_to_back]])
    if not gaps:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lv = np.maximum(np.concatenate(levels), 1)  # the chat being answered is held
    return (
        np.asarray(np.concatenate(gaps), dtype=np.float64),
        np.asarray(lv, dtype=np.int64),
        np.asarray(np.concatenate(convs), dtype=np.int64),
    )


def compose_by_chats(log: MessageLog, gaps: tuple[F64, I64, I64] | None = None) -> ComposeByChats:
    """Writing time per reply from an agent's back-to-back replies, by chats held.

    For an agent who writes one reply at a time (``discipline = "sequential"``),
    the gap between two consecutive replies is the second one's writing time
    when the buyer message it answers was already waiting as the first was sent:
    the agent went straight from one to the next.  Other gaps include idle time
    and are left out.  (Agents writing several replies at once, ``parallel``,
    overlap their writing and this estimate does not apply.)  ``gaps``: the log's
    :func:`compose_gaps`, when the caller has them already.
    """
    g, lv, _ = compose_gaps(log) if gaps is None else gaps
    if not g.size:
        return ComposeByChats((), ())
    chats = tuple(range(1, int(lv.max()) + 1))
    return ComposeByChats(
        chats, tuple(_mean(g[lv == k]) if (lv == k).any() else None for k in chats)
    )


def compose_by_type(
    gaps: F64, chats: I64, type_code: I64, n_types: int, iterations: int = 50
) -> tuple[list[Estimate | None], F64]:
    """Writing time per inquiry type and slowdown per chat held, on one multiplicative model.

    ``gap = base[type] x multiplier[chats] x noise`` with ``multiplier[1] = 1``:
    each factor is the mean of the gaps divided by the other, alternated to a
    fixed point (two-way means), so a type answered mostly at high load does not
    look slow.  The base's interval is the t interval of ``gap / multiplier``.

    Parameters
    ----------
    gaps, chats, type_code
        Per back-to-back reply (:func:`compose_gaps`), with its conversation's
        type code ``0 .. n_types - 1``.

    Returns
    -------
    base, multiplier
        Per type the 1-chat writing time (``None``: no reply of the type), and
        per chats held ``1 .. max`` the multiplier (NaN where never seen).
    """
    k_max = int(chats.max()) if chats.size else 1
    mult = np.ones(k_max)
    base = np.ones(n_types)
    for _ in range(iterations):
        for t in range(n_types):
            sel = type_code == t
            if sel.any():
                base[t] = float(np.mean(gaps[sel] / mult[chats[sel] - 1]))
        for k in range(1, k_max + 1):
            sel = chats == k
            if sel.any():
                mult[k - 1] = float(np.mean(gaps[sel] / base[type_code[sel]]))
        if mult[0] > 0:
            base *= mult[0]
            mult /= mult[0]
    seen = np.array([(chats == k).any() for k in range(1, k_max + 1)])
    mult = np.where(seen, mult, np.nan)
    # The bases are 1-chat writing times: every reply at k chats is scaled to one chat
    # by a multiplier read against the 1-chat replies, so their noise (often a few
    # hundred replies beside thousands at full load) is in every base.  Its relative
    # error is added to each base's own in quadrature.
    one = chats == 1
    anchor = 0.0
    if one.sum() >= 2:
        ratio = gaps[one] / base[type_code[one]]
        anchor = float(ratio.std(ddof=1) / ratio.mean() / math.sqrt(one.sum()))
    out: list[Estimate | None] = []
    for t in range(n_types):
        sel = type_code == t
        if sel.sum() < 2:
            out.append(None)
            continue
        own = _mean(gaps[sel] / mult[chats[sel] - 1])
        if anchor > 0 and math.isfinite(own.low):
            z = float(stats.t.ppf(0.5 + LEVEL / 2, own.n - 1))
            rel = math.hypot((own.high - own.value) / z / own.value, anchor)
            own = Estimate(
                own.value,
                own.value * (1 - z * rel),
                own.value * (1 + z * rel),
                own.n,
                "t 95%, with the 1-chat multiplier's error",
            )
        out.append(own)
    return out, mult
