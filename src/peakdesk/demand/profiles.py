"""Relative arrival intensity per time bin (demand profiles).

Every profile returns one non-negative weight per bin. The weights are relative: the caller
multiplies them by a volume and normalises as it needs. The Double-11 and promotion profiles are
scaled so that the bins of a *normal* day sum to exactly 1.0, so ``weights * normal_day_volume``
gives the expected conversations per bin directly, and special days carry their own multiple
(the peak day sums to ``peak_day_factor``, and so on).

Conventions
-----------
* Bins are equal-width, ``bin_s`` seconds long, and the caller passes the timezone-aware *local*
  start of each bin (``local_starts``), computed with :mod:`zoneinfo`.
* The intraday curves are defined on local **wall-clock** time: piecewise constant per clock hour
  plus exponentially decaying spikes. Each bin's weight is the exact integral of that curve over
  the bin, so bins that straddle an hour or a midnight, horizons that start mid-day and bin
  widths that do not divide an hour (7 s, say) all give correct day totals.
* On a daylight-saving transition day the skipped wall-clock hour carries no weight and a repeated
  hour is counted twice, so such a day sums to slightly less or more than its factor. Marketplaces
  in China (the Double-11 use case) observe no DST.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NORMAL_HOURLY",
    "PEAK_REST_HOURLY",
    "Double11Shape",
    "PromoShape",
    "double11_weights",
    "flat_weights",
    "promo_weights",
]

FloatArray = NDArray[np.float64]

_HOUR_S = 3600.0
_DAY_S = 86400.0

#: Relative inquiry volume per local clock hour 00..23 of a normal shopping day (normalised
#: internally). Night low, minimum 04-06h, steep rise after 07h, plateau from 10h, evening
#: maximum 20-22h: the shape of marketplace traffic outside promotions.
NORMAL_HOURLY: tuple[float, ...] = (
    2.6, 1.6, 1.0, 0.7, 0.5, 0.5, 0.8, 1.8, 3.2, 4.6, 5.4, 5.4,
    5.0, 5.2, 5.4, 5.4, 5.3, 5.2, 5.4, 6.0, 6.8, 6.8, 5.6, 4.0,
)  # fmt: skip

#: Relative volume per clock hour 01..23 of the peak day, *after* the first hour (23 values,
#: normalised internally). Follows the 2012 Tmall 11.11 visitor curve: 01-03h more than twice
#: the hourly mean of these hours, minimum 04-06h, plateau after 10h near the ~2.3 %/h of the
#: day that Tmall's 2019 GMV milestones show, and the maximum of these hours at 20-22h.
PEAK_REST_HOURLY: tuple[float, ...] = (
    5.8, 5.2, 2.4, 0.5, 0.5, 0.7, 1.1, 1.5, 1.8, 1.9, 1.9, 1.9,
    1.9, 1.9, 1.9, 2.0, 2.0, 2.2, 2.8, 6.0, 6.0, 3.5, 2.4,
)  # fmt: skip


@dataclass(frozen=True)
class Double11Shape:
    """Template of the Double-11 (11.11) inquiry wave, relative to a normal day.

    Parameters
    ----------
    peak_date : datetime.date
        Local date of the peak day (usually 11 November of the event year).
    peak_day_factor : float, default 6.0
        Volume of the peak day relative to a normal day (dimensionless).
    first_hour_share : float, default 0.33
        Share of the peak day's volume arriving 00:00-01:00 local time (Tmall: 32-39 % of the
        day's GMV in roughly the first hour). The hour is front-loaded: an exponentially decaying
        surge on top of a floor equal to the 01:00-02:00 level.
    presale_wave_dates : tuple of datetime.date, default ()
        Local dates of pre-sale final-payment waves (typically 31 Oct and 10 Nov).
    presale_wave_factor : float, default 2.0
        Volume of a wave day relative to a normal day; must be >= 1. The excess over the normal
        curve arrives as a spike at ``presale_wave_time`` decaying over about an hour.
    aftersale_factors : tuple of float, default (2.5, 2.0, 1.6, 1.3)
        Volume of days peak+1, peak+2, ... relative to a normal day (normal intraday curve).
        Days beyond the tuple are normal (1.0).
    first_hour_decay_s : float, default 600.0
        e-folding time of the midnight surge, in seconds (600 s puts ~63 % of the surge in the
        first 10 minutes).
    presale_wave_time : datetime.time, default 20:00
        Local wall-clock time of the pre-sale wave spike (naive time).
    presale_wave_decay_s : float, default 1200.0
        e-folding time of the wave spike, in seconds (95 % of it within the first hour).
    normal_hourly : tuple of float, default NORMAL_HOURLY
        24 positive relative volumes per clock hour of a normal day; normalised internally.
    peak_rest_hourly : tuple of float, default PEAK_REST_HOURLY
        23 positive relative volumes for the peak day's hours 01..23; normalised internally to
        ``1 - first_hour_share`` of the peak day.

    Raises
    ------
    ValueError
        If a factor, share or time constant is out of range, a curve has the wrong length or a
        non-positive entry, or a wave date falls on the peak day or an after-sale day (whose
        meaning would be ambiguous).
    """

    peak_date: date
    peak_day_factor: float = 6.0
    first_hour_share: float = 0.33
    presale_wave_dates: tuple[date, ...] = ()
    presale_wave_factor: float = 2.0
    aftersale_factors: tuple[float, ...] = (2.5, 2.0, 1.6, 1.3)
    first_hour_decay_s: float = 600.0
    presale_wave_time: time = time(20, 0)
    presale_wave_decay_s: float = 1200.0
    normal_hourly: tuple[float, ...] = NORMAL_HOURLY
    peak_rest_hourly: tuple[float, ...] = PEAK_REST_HOURLY

    def __post_init__(self) -> None:
        _require_positive("peak_day_factor", self.peak_day_factor)
        if not 0.0 < self.first_hour_share < 1.0:
            raise ValueError(f"first_hour_share must be in (0, 1), got {self.first_hour_share}")
        if not (math.isfinite(self.presale_wave_factor) and self.presale_wave_factor >= 1.0):
            raise ValueError(
                f"presale_wave_factor must be a finite number >= 1, got {self.presale_wave_factor}"
            )
        for i, factor in enumerate(self.aftersale_factors):
            _require_positive(f"aftersale_factors[{i}]", factor)
        _require_positive("first_hour_decay_s", self.first_hour_decay_s)
        _require_positive("presale_wave_decay_s", self.presale_wave_decay_s)
        if self.presale_wave_time.tzinfo is not None:
            raise ValueError("presale_wave_time must be a naive local wall-clock time")
        _check_curve("normal_hourly", self.normal_hourly, 24)
        _check_curve("peak_rest_hourly", self.peak_rest_hourly, 23)
        n_special = len(self.aftersale_factors) + 1
        special = {self.peak_date + timedelta(days=k) for k in range(n_special)}
        clash = sorted(d for d in self.presale_wave_dates if d in special)
        if clash:
            raise ValueError(
                "presale_wave_dates must not fall on the peak day or an after-sale day: "
                + ", ".join(d.isoformat() for d in clash)
            )


@dataclass(frozen=True)
class PromoShape:
    """Short promotions (flash sales, coupon drops) on top of the normal intraday curve.

    Parameters
    ----------
    promo_times : tuple of datetime.datetime
        Timezone-aware start times of the promotions.
    lead_s : float, default 1800.0
        Length of the pre-promotion window, in seconds, in which inquiries run at
        ``spike_factor`` times normal (vendors report 5-8x in the 30 minutes before a promotion).
    spike_factor : float, default 6.0
        Intensity multiplier in ``[t - lead_s, t)``; must be >= 1.
    decay_s : float, default 1800.0
        e-folding time, in seconds, of the excess after the promotion starts: the multiplier is
        ``1 + (spike_factor - 1) * exp(-(u - t) / decay_s)`` for ``u >= t``.

    Notes
    -----
    Overlapping promotions add their excess multipliers.
    """

    promo_times: tuple[datetime, ...]
    lead_s: float = 1800.0
    spike_factor: float = 6.0
    decay_s: float = 1800.0

    def __post_init__(self) -> None:
        for i, t in enumerate(self.promo_times):
            if t.tzinfo is None or t.utcoffset() is None:
                raise ValueError(f"promo_times[{i}] must be timezone-aware, got {t.isoformat()}")
        if not (math.isfinite(self.lead_s) and self.lead_s >= 0.0):
            raise ValueError(f"lead_s must be a finite number >= 0, got {self.lead_s}")
        if not (math.isfinite(self.spike_factor) and self.spike_factor >= 1.0):
            raise ValueError(f"spike_factor must be a finite number >= 1, got {self.spike_factor}")
        _require_positive("decay_s", self.decay_s)


def flat_weights(local_starts: Sequence[datetime], bin_s: float) -> FloatArray:
    """Constant intensity: one weight of 1.0 per bin.

    Parameters
    ----------
    local_starts : sequence of datetime.datetime
        Timezone-aware local start of each bin.
    bin_s : float
        Bin width in seconds (validated only; a flat profile does not depend on it).

    Returns
    -------
    numpy.ndarray
        float64 array of ones, one per bin (dimensionless relative weight).
    """
    _wall_clock_s(local_starts, bin_s)  # same validation as the shaped profiles
    return np.ones(len(local_starts), dtype=np.float64)


def double11_weights(
    local_starts: Sequence[datetime], bin_s: float, shape: Double11Shape
) -> FloatArray:
    """Relative intensity per bin for the Double-11 template.

    Parameters
    ----------
    local_starts : sequence of datetime.datetime
        Timezone-aware local start of each bin (equal-width bins covering the horizon).
    bin_s : float
        Bin width in seconds.
    shape : Double11Shape
        Template parameters.

    Returns
    -------
    numpy.ndarray
        float64 weight per bin, scaled so that the bins of a normal day sum to 1.0, the peak day
        to ``peak_day_factor``, a wave day to ``presale_wave_factor`` and after-sale day ``k`` to
        ``aftersale_factors[k - 1]`` (dimensionless; multiply by a normal-day volume to get
        expected conversations per bin).
    """
    wall_s, ref_date = _wall_clock_s(local_starts, bin_s)
    if wall_s.size == 0:
        return np.zeros(0, dtype=np.float64)
    n_days = _days_spanned(wall_s, bin_s)
    normal = _shares(shape.normal_hourly)
    rest = _shares(shape.peak_rest_hourly)
    waves = set(shape.presale_wave_dates)

    # levels[d, h] = base density (weight per second) during clock hour h of day d.
    levels = np.empty((n_days, 24), dtype=np.float64)
    components: list[_Component] = []
    for d in range(n_days):
        day = ref_date + timedelta(days=d)
        day_start = d * _DAY_S
        offset = (day - shape.peak_date).days
        if offset == 0:
            total = shape.peak_day_factor
            first_mass = shape.first_hour_share * total
            rest_mass = rest * ((1.0 - shape.first_hour_share) * total)
            # Floor the first hour at the 01:00 level so the curve falls smoothly into the
            # second hour instead of dipping below it at 00:59; the rest of the first-hour
            # mass is the front-loaded surge.
            floor_mass = min(float(rest_mass[0]), first_mass)
            levels[d, 0] = floor_mass / _HOUR_S
            levels[d, 1:] = rest_mass / _HOUR_S
            surge = first_mass - floor_mass
            end = day_start + _HOUR_S
            components.append(_decay_component(day_start, end, surge, shape.first_hour_decay_s))
        elif 1 <= offset <= len(shape.aftersale_factors):
            levels[d] = normal * (shape.aftersale_factors[offset - 1] / _HOUR_S)
        else:
            levels[d] = normal / _HOUR_S
            if day in waves and shape.presale_wave_factor > 1.0:
                wave = shape.presale_wave_time
                wave_s = timedelta(
                    hours=wave.hour,
                    minutes=wave.minute,
                    seconds=wave.second,
                    microseconds=wave.microsecond,
                ).total_seconds()
                spike_start = day_start + wave_s
                # The spike is truncated at midnight so the wave day keeps its exact total.
                spike = _decay_component(
                    spike_start,
                    day_start + _DAY_S,
                    shape.presale_wave_factor - 1.0,
                    shape.presale_wave_decay_s,
                )
                components.append(spike)
    return _integrate_bins(wall_s, bin_s, levels, components)


def promo_weights(local_starts: Sequence[datetime], bin_s: float, shape: PromoShape) -> FloatArray:
    """Relative intensity per bin: the normal-day curve with promotion spikes.

    Parameters
    ----------
    local_starts : sequence of datetime.datetime
        Timezone-aware local start of each bin (equal-width bins covering the horizon).
    bin_s : float
        Bin width in seconds.
    shape : PromoShape
        Promotion times and spike parameters.

    Returns
    -------
    numpy.ndarray
        float64 weight per bin. Without promotions each day sums to 1.0 (normal curve of
        :data:`NORMAL_HOURLY`); a promotion multiplies the curve by ``spike_factor`` in the lead
        window and by a decaying excess after its start (dimensionless).
    """
    wall_s, ref_date = _wall_clock_s(local_starts, bin_s)
    if wall_s.size == 0:
        return np.zeros(0, dtype=np.float64)
    n_days = _days_spanned(wall_s, bin_s)
    levels = np.tile(_shares(NORMAL_HOURLY) / _HOUR_S, (n_days, 1))
    tz = local_starts[0].tzinfo
    excess = shape.spike_factor - 1.0
    components: list[_Component] = []
    if excess > 0.0:
        for t in shape.promo_times:
            t_wall = _to_wall_s(t, tz, ref_date)
            # Relative components multiply the normal base density, so the lead window is
            # exactly spike_factor x normal even where it straddles a clock hour.
            if shape.lead_s > 0.0:
                components.append(_Component(t_wall - shape.lead_s, t_wall, excess, math.inf, True))
            components.append(_Component(t_wall, math.inf, excess, shape.decay_s, True))
    return _integrate_bins(wall_s, bin_s, levels, components)


# --------------------------------------------------------------------------------------------
# Private machinery: wall-clock coordinates and exact integration of the piecewise curve.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Component:
    """An additive term of the density, active on ``[start, end)`` (wall-clock seconds).

    The term is ``amp * g(u)`` with ``g = 1`` (``tau = inf``) or ``g = exp(-(u - start) / tau)``;
    with ``relative`` it is further multiplied by the base density of the hour, so ``amp`` is a
    multiplier excess rather than a density in weight per second.
    """

    start: float
    end: float
    amp: float
    tau: float
    relative: bool


def _decay_component(start: float, end: float, mass: float, tau: float) -> _Component:
    """Exponential spike on ``[start, end)`` whose integral is exactly ``mass``."""
    # integral of exp(-(u - start) / tau) over [start, end) = tau * (1 - exp(-(end - start) / tau))
    norm = tau * -math.expm1(-(end - start) / tau)
    return _Component(start, end, mass / norm, tau, False)


def _require_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _check_curve(name: str, values: tuple[float, ...], length: int) -> None:
    if len(values) != length:
        raise ValueError(f"{name} must have {length} values, got {len(values)}")
    for i, v in enumerate(values):
        _require_positive(f"{name}[{i}]", v)


def _shares(values: tuple[float, ...]) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    shares: FloatArray = arr / arr.sum()
    return shares


def _wall_clock_s(local_starts: Sequence[datetime], bin_s: float) -> tuple[FloatArray, date]:
    """Bin starts as wall-clock seconds since local midnight of the earliest bin's date.

    Wall-clock (naive local) time makes every day exactly 86,400 s long, so day and hour
    boundaries are plain multiples and the day type is a simple index lookup.
    """
    if not (math.isfinite(bin_s) and bin_s > 0.0):
        raise ValueError(f"bin_s must be a finite number > 0, got {bin_s}")
    for i, ts in enumerate(local_starts):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError(f"local_starts[{i}] must be timezone-aware, got {ts.isoformat()}")
    if len(local_starts) == 0:
        return np.zeros(0, dtype=np.float64), date(1970, 1, 1)
    naive = np.array([ts.replace(tzinfo=None) for ts in local_starts], dtype="datetime64[us]")
    ref_date = min(ts.date() for ts in local_starts)
    ref = np.datetime64(datetime.combine(ref_date, time()), "us")
    wall_s = (naive - ref).astype(np.int64).astype(np.float64) * 1e-6
    return wall_s, ref_date


def _to_wall_s(t: datetime, tz: tzinfo | None, ref_date: date) -> float:
    """Wall-clock seconds of an aware instant in the bins' timezone."""
    local = t.astimezone(tz).replace(tzinfo=None)
    return (local - datetime.combine(ref_date, time())).total_seconds()


def _days_spanned(wall_s: FloatArray, bin_s: float) -> int:
    # +1 so that the end of the last bin (exclusive) still has a row of hourly levels.
    return math.floor(float(np.max(wall_s) + bin_s) / _DAY_S) + 1


def _integrate_bins(
    wall_s: FloatArray, bin_s: float, levels: FloatArray, components: list[_Component]
) -> FloatArray:
    """Exact integral of the density over each bin ``[wall_s, wall_s + bin_s)``.

    All bin edges, clock-hour boundaries and component boundaries are merged into one sorted
    set of breakpoints. Between consecutive breakpoints the base density is constant and every
    component is either wholly on or off, so each elementary piece integrates in closed form;
    bin weights are then differences of the cumulative sum at the bin edges. This handles any
    bin width and any alignment, and is vectorised over pieces.
    """
    ends = wall_s + bin_s
    lo = float(np.min(wall_s))
    hi = float(np.max(ends))
    hour_edges = np.arange(math.ceil(lo / _HOUR_S), math.floor(hi / _HOUR_S) + 1) * _HOUR_S
    comp_edges = [
        x for c in components for x in (c.start, c.end) if math.isfinite(x) and lo < x < hi
    ]
    bp = np.unique(np.concatenate([wall_s, ends, hour_edges, np.asarray(comp_edges)]))
    a = bp[:-1]
    b = bp[1:]
    mid = 0.5 * (a + b)
    # Midpoints lie strictly inside one clock hour because hour boundaries are breakpoints.
    hour_idx = np.floor(mid / _HOUR_S).astype(np.int64)
    base = levels.reshape(-1)[hour_idx]
    piece = base * (b - a)
    for c in components:
        on = (mid >= c.start) & (mid < c.end)
        if not np.any(on):
            continue
        a_on = a[on]
        b_on = b[on]
        scale = c.amp * base[on] if c.relative else np.full(a_on.shape, c.amp)
        if math.isinf(c.tau):
            piece[on] += scale * (b_on - a_on)
        else:
            # exp(-x1) - exp(-x2) written with expm1 to keep precision on short pieces.
            decay = np.exp(-(a_on - c.start) / c.tau) * -np.expm1(-(b_on - a_on) / c.tau)
            piece[on] += scale * c.tau * decay
    cum = np.concatenate(([0.0], np.cumsum(piece)))
    i0 = np.searchsorted(bp, wall_s)
    i1 = np.searchsorted(bp, ends)
    weights: FloatArray = cum[i1] - cum[i0]
    return weights
