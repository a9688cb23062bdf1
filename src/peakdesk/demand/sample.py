"""Draw a scenario's workload: arrivals, inquiry types and conversation attributes.

Arrivals are a non-homogeneous Poisson process per inquiry type, sampled as one
process of the total intensity (exact inversion) with each arrival's type drawn
from the types' intensities in its bin; this is the same law as independent
per-type processes.  Forecast uncertainty multiplies each local day's intensity
by a Gamma(1/cv^2, cv^2) factor (a Gamma-Poisson, i.e. negative-binomial, day volume).
A centre's clients each draw their buyers (and their day factors) from streams of
their own and are merged by arrival time: adding a client at the end of a centre
leaves the other clients' buyers as they were (common random numbers for
``quote --add``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from peakdesk.demand.distributions import count_ppf, duration_ppf
from peakdesk.demand.forecast_csv import Forecast, ForecastError, read_forecast_csv
from peakdesk.demand.nhpp import sample_piecewise_nhpp
from peakdesk.demand.profiles import (
    Double11Shape,
    PromoShape,
    double11_weights,
    flat_weights,
    promo_weights,
)
from peakdesk.demand.shape_csv import read_day_volumes, read_shape_csv, shape_forecast
from peakdesk.demand.streams import Streams
from peakdesk.demand.workload import Workload
from peakdesk.scenario.centre_info import DayGroup
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import InquiryType, Scenario, type_share

F64 = npt.NDArray[np.float64]

#: Width of the bins of the built-in intensity profiles, seconds.  One minute
#: resolves the 00:00 spike (most of the first hour's volume in its first minutes).
PROFILE_BIN_S = 60.0


@dataclass(frozen=True)
class Intensity:
    """Expected conversations per bin and inquiry type.

    Attributes
    ----------
    bin_s
        Bin width, seconds.
    expected
        Array ``(n_types, n_bins)``: expected conversations of each type in each bin.
    day_groups
        A centre's clients (:class:`~peakdesk.scenario.centre_info.DayGroup`):
        each draws its own daily volume factor on its own local days; ``None``
        for a scenario (one factor per day of the calendar, ``demand.daily_cv``).
    """

    bin_s: float
    expected: F64
    day_groups: tuple[DayGroup, ...] | None = None

    @property
    def total(self) -> F64:
        """Expected conversations per bin, all types."""
        return np.asarray(self.expected.sum(axis=0), dtype=np.float64)


def peak_date(spec: Scenario) -> dt.date:
    """The event's peak day (default 11 November of the start year)."""
    return spec.demand.double11.peak_date or dt.date(spec.calendar.start.year, 11, 11)


def _local_starts(spec: Scenario, n_bins: int, bin_s: float) -> list[dt.datetime]:
    """Aware local datetime of each bin start (UTC arithmetic, so DST is right)."""
    start_utc = spec.calendar.start_aware.astimezone(dt.UTC)
    zone = spec.calendar.zone
    return [(start_utc + dt.timedelta(seconds=b * bin_s)).astimezone(zone) for b in range(n_bins)]


def _share_table(spec: Scenario) -> F64:
    """Each type's normalised share in each phase: array ``(n_types, 3)`` (before, on, after)."""
    cols = []
    for ph in ("before", "on", "after"):
        v = np.array([type_share(t, ph) for t in spec.inquiry_types], dtype=np.float64)
        cols.append(v / v.sum())
    return np.stack(cols, axis=1)


def _phase_index(spec: Scenario, local_starts: list[dt.datetime]) -> npt.NDArray[np.int64]:
    """Per bin, its event phase: 0 before the peak day, 1 on it, 2 after."""
    peak = peak_date(spec)
    return np.array(
        [0 if t.date() < peak else 1 if t.date() == peak else 2 for t in local_starts],
        dtype=np.int64,
    )


def _phase_shares(spec: Scenario, local_starts: list[dt.datetime]) -> F64:
    """Per bin, each type's share by event phase (before / on / after the peak day)."""
    table = _share_table(spec)
    idx = _phase_index(spec, local_starts)
    return np.asarray(table[:, idx], dtype=np.float64).reshape(table.shape[0], idx.size)


def _profile_weights(spec: Scenario) -> tuple[list[dt.datetime], F64]:
    """Local bin starts and expected conversations per bin of a built-in profile.

    Before the inquiry-type split and the demand multiplier; bins are
    :data:`PROFILE_BIN_S` wide.  The last bin may stick out of the horizon: it
    keeps its full rate (arrivals after the horizon are dropped when sampling),
    and only its covered part counts towards ``demand.total``.
    """
    dem = spec.demand
    horizon = spec.calendar.horizon
    bin_s = PROFILE_BIN_S
    n_bins = int(np.ceil(horizon / bin_s - 1e-9))
    starts = _local_starts(spec, n_bins, bin_s)
    if dem.profile == "flat":
        w = flat_weights(starts, bin_s)
        w = w / (86400.0 / bin_s)  # a flat normal day sums to 1
    elif dem.profile == "double11":
        o = dem.double11
        w = double11_weights(
            starts,
            bin_s,
            Double11Shape(
                peak_date=peak_date(spec),
                peak_day_factor=o.peak_day_factor,
                first_hour_share=o.first_hour_share,
                presale_wave_dates=tuple(o.presale_wave_dates),
                presale_wave_factor=o.presale_wave_factor,
                aftersale_factors=tuple(o.aftersale_factors),
                first_hour_decay_s=o.first_hour_decay,
                presale_wave_time=dt.time(
                    int(o.presale_wave_time // 3600), int(o.presale_wave_time % 3600 // 60)
                ),
                presale_wave_decay_s=o.presale_wave_decay,
                **({"normal_hourly": tuple(o.normal_hourly)} if o.normal_hourly else {}),
            ),
        )
    else:
        assert dem.promo is not None
        zone = spec.calendar.zone
        w = promo_weights(
            starts,
            bin_s,
            PromoShape(
                promo_times=tuple(
                    t.replace(tzinfo=zone) if t.tzinfo is None else t for t in dem.promo.times
                ),
                lead_s=dem.promo.lead,
                spike_factor=dem.promo.spike_factor,
                decay_s=dem.promo.decay,
            ),
        )
    w = np.asarray(w, dtype=np.float64)
    total = dem.business.conversations if dem.business is not None else dem.total
    if total is not None:
        tot = w * (total / float((w * _cover(horizon, n_bins)).sum()))
    else:
        assert dem.volume_per_day is not None
        tot = w * dem.volume_per_day
    return starts, np.asarray(tot, dtype=np.float64)


def _cover(horizon: float, n_bins: int) -> F64:
    """The share of each profile bin inside the horizon (1 but for the last)."""
    cover: F64 = np.minimum(1.0, (horizon - np.arange(n_bins) * PROFILE_BIN_S) / PROFILE_BIN_S)
    return cover


@dataclass(frozen=True)
class ExpectedDemand:
    """How much demand a scenario brings, without drawing it.

    Attributes
    ----------
    by_type
        Expected conversations of each inquiry type over the horizon (multiplier
        applied; forecast uncertainty has mean 1 and does not change it).
    n_bins
        Bins of the intensity a run builds.
    bin_s
        Their width, seconds.
    """

    by_type: F64
    n_bins: int
    bin_s: float

    @property
    def conversations(self) -> float:
        """Expected conversations over the horizon, all types."""
        return float(self.by_type.sum())


def _forecast(loaded: LoadedScenario) -> tuple[Forecast, int, Path]:
    """The scenario's forecast, the number of its intervals over the horizon, and its file."""
    spec = loaded.spec
    assert spec.demand.forecast is not None
    path = loaded.resolve(spec.demand.forecast)
    horizon = spec.calendar.horizon
    if spec.demand.profile == "shape":
        fc = _shape_forecast(loaded, path)
    else:
        names = [t.name for t in spec.inquiry_types]
        fc = read_forecast_csv(path, spec.calendar.start_aware, horizon, names)
    return fc, int(np.ceil(horizon / fc.interval_s - 1e-9)), path


def _shape_forecast(loaded: LoadedScenario, path: Path) -> Forecast:
    """``profile = "shape"``: the shape repeated over the horizon, scaled by each day's volume."""
    spec = loaded.spec
    dem = spec.demand
    cal = spec.calendar
    shape = read_shape_csv(path)
    volumes: dict[dt.date, float] = {}
    vol_path = loaded.resolve(dem.day_volumes) if dem.day_volumes is not None else None
    if vol_path is not None:
        volumes = read_day_volumes(vol_path)
    per_day = dem.volume_per_day if dem.volume_per_day is not None else 1.0

    def volume_of(day: dt.date) -> float:
        if vol_path is None:
            return per_day  # every day the same (or 1, scaled to demand.total below)
        if day not in volumes:
            raise ForecastError(
                vol_path,
                None,
                f"no volume for {day}, a day the horizon touches; give every day from "
                f"{cal.start.date()} to the horizon's end",
            )
        return volumes[day]

    try:
        fc = shape_forecast(shape, cal.start_aware, cal.horizon, volume_of)
    except ForecastError:
        raise  # the day volumes' own file and line
    except ValueError as exc:
        raise ForecastError(path, None, str(exc)) from None
    if dem.total is not None:
        have = float(fc.total.sum())
        if have <= 0.0:
            raise ForecastError(
                path,
                None,
                f"demand.total = {dem.total:g} cannot be spread: the shape's weights are 0 "
                "over the whole horizon",
            )
        fc = replace(fc, total=fc.total * (dem.total / have))
    return fc


def expected_demand(loaded: LoadedScenario) -> ExpectedDemand:
    """Expected conversations per inquiry type, without the (types x bins) intensity.

    Costs one value per profile bin (or reads the forecast file, for
    ``profile = "csv"``), so the size of a run can be judged before anything of
    that size is allocated.

    Raises
    ------
    ForecastError
        If the forecast file cannot be used.
    ValueError
        If the demand profile cannot be built.
    """
    spec = loaded.spec
    dem = spec.demand
    horizon = spec.calendar.horizon
    if loaded.centre is not None:
        c = loaded.centre
        return ExpectedDemand(
            c.expected.sum(axis=1) * dem.multiplier, int(c.expected.shape[1]), c.bin_s
        )
    names = [t.name for t in spec.inquiry_types]
    if dem.profile in ("csv", "shape"):
        fc, n_bins, _ = _forecast(loaded)
        if fc.by_type is not None:
            per_type = np.array([fc.by_type[n].sum() for n in names], dtype=np.float64)
        else:
            start_utc = spec.calendar.start_aware.astimezone(dt.UTC)
            zone = spec.calendar.zone
            starts = [
                (start_utc + dt.timedelta(seconds=float(s))).astimezone(zone)
                for s in fc.interval_start_s
            ]
            phase = _phase_index(spec, starts)
            per_type = _share_table(spec) @ np.bincount(phase, weights=fc.total, minlength=3)
        return ExpectedDemand(per_type * dem.multiplier, n_bins, fc.interval_s)
    starts, tot = _profile_weights(spec)
    phase = _phase_index(spec, starts)
    per_phase = np.bincount(phase, weights=tot * _cover(horizon, tot.size), minlength=3)
    per_type = _share_table(spec) @ per_phase
    return ExpectedDemand(per_type * dem.multiplier, tot.size, PROFILE_BIN_S)


def intensity(loaded: LoadedScenario) -> Intensity:
    """Expected conversations per bin and type, before forecast uncertainty.

    Parameters
    ----------
    loaded
        The validated scenario and its path (to find a forecast CSV).
    """
    spec = loaded.spec
    dem = spec.demand
    if loaded.centre is not None:
        # A centre: its clients' curves, already on the team's timeline.
        c = loaded.centre
        return Intensity(c.bin_s, c.expected * dem.multiplier, c.day_groups)
    names = [t.name for t in spec.inquiry_types]
    if dem.profile in ("csv", "shape"):
        # Bins are the forecast's intervals, counted from the scenario start; missing
        # intervals of the horizon are zero.
        fc, n_bins, path = _forecast(loaded)
        pos = fc.interval_start_s / fc.interval_s
        idx = np.rint(pos).astype(np.int64)
        off = np.flatnonzero(np.abs(pos - idx) > 1e-6)
        if off.size:
            raise ForecastError(
                path,
                None,
                f"interval starts must fall on the scenario start plus whole "
                f"{fc.interval_s:g}-second intervals; the first row is "
                f"{fc.interval_start_s[off[0]]:g} s after the start",
            )
        if fc.by_type is not None:
            exp = np.zeros((len(names), n_bins))
            for k, name in enumerate(names):
                np.add.at(exp[k], idx, fc.by_type[name])
        else:
            tot = np.zeros(n_bins)
            np.add.at(tot, idx, fc.total)
            shares = _phase_shares(spec, _local_starts(spec, n_bins, fc.interval_s))
            exp = shares * tot
        if dem.business is not None:
            # The forecast gives the shape; the GMV target the volume.
            have = float(exp.sum())
            if have <= 0:
                raise ForecastError(
                    path, None, "the forecast holds no conversations to give the GMV target a shape"
                )
            exp = exp * (dem.business.conversations / have)
        return Intensity(fc.interval_s, exp * dem.multiplier)
    starts, tot = _profile_weights(spec)
    exp = _phase_shares(spec, starts) * tot
    return Intensity(PROFILE_BIN_S, exp * dem.multiplier)


def _day_factors(spec: Scenario, inten: Intensity, rng: np.random.Generator) -> F64:
    """Gamma(1/cv^2, cv^2) volume factor per bin, constant over each local day.

    (A centre's clients draw theirs on their own days in :func:`sample_workload`.)
    """
    cv = spec.demand.daily_cv
    n_bins = inten.expected.shape[1]
    if cv <= 0.0:
        return np.ones(n_bins)
    # (keyed by the local start and the zone's name: two aware datetimes of one instant
    # in different zones compare equal, and their days differ)
    cal = spec.calendar
    n_days, inv = _bin_days(cal.start, cal.timezone, n_bins, inten.bin_s)
    g = rng.gamma(1.0 / cv**2, cv**2, size=n_days)
    return np.asarray(g[inv], dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _bin_days(
    start: dt.datetime, timezone: str, n_bins: int, bin_s: float
) -> tuple[int, npt.NDArray[np.intp]]:
    """The local days of the bins from local ``start`` in ``timezone``: how many, and
    each bin's (0 = the first).

    Every replication of a scenario needs the same: worked out once (the local time of
    each of thousands of bins is the slow part), not per replication.
    """
    zone = ZoneInfo(timezone)
    start_utc = start.replace(tzinfo=zone).astimezone(dt.UTC)
    days = np.array(
        [
            (start_utc + dt.timedelta(seconds=b * bin_s)).astimezone(zone).date().toordinal()
            for b in range(n_bins)
        ]
    )
    uniq, inv = np.unique(days, return_inverse=True)
    inv.setflags(write=False)
    return int(uniq.size), inv


def _durations(
    types: list[InquiryType],
    attribute: str,
    rng: np.random.Generator,
    size: int,
    type_of: npt.NDArray[np.int32] | None,
) -> F64:
    """One duration per item from its type's distribution ``attribute``, by inverse
    transform of one uniform per item (``type_of`` None: every item is of the one type)."""
    u = rng.random(size)
    if type_of is None:
        return duration_ppf(getattr(types[0], attribute), u)
    out = np.empty(size)
    for k, t in enumerate(types):
        sel = type_of == k
        out[sel] = duration_ppf(getattr(t, attribute), u[sel])
    return out


def sample_workload(
    loaded: LoadedScenario,
    replication: int,
    *,
    seed: int | None = None,
    inten: Intensity | None = None,
) -> Workload:
    """Draw every conversation of one replication, with its attributes.

    Parameters
    ----------
    loaded
        The scenario.
    replication
        Replication number; with the seed it names the random streams.
    seed
        Base seed (default: the scenario's ``simulation.seed``).
    inten
        A precomputed :func:`intensity` (saves work across replications).

    Returns
    -------
    Workload
        Conversations sorted by arrival time.
    """
    spec = loaded.spec
    base = spec.simulation.seed if seed is None else seed
    inten = inten if inten is not None else intensity(loaded)
    groups = inten.day_groups
    if groups is None:
        streams = Streams(base, replication)
        expected = inten.expected * _day_factors(spec, inten, streams.get("volume"))
        return _draw(spec, list(spec.inquiry_types), expected, inten.bin_s, streams)
    # A centre: each client's buyers from streams of its own (see Streams.part), merged;
    # client 0's are the replication's own, so a centre of one client draws its scenario's.
    parts = []
    for k, grp in enumerate(groups):
        rows = list(grp.rows)
        streams = Streams(base, replication, part=k)
        expected = inten.expected[rows]
        if grp.cv > 0.0 and rows:
            f = streams.get("volume").gamma(1.0 / grp.cv**2, grp.cv**2, size=int(grp.day.max()) + 1)
            expected = expected * f[grp.day]
        w = _draw(spec, [spec.inquiry_types[r] for r in rows], expected, inten.bin_s, streams)
        parts.append((w, np.asarray(rows, dtype=np.int32)))
    if len(parts) == 1:
        return parts[0][0]  # (one client: its types are all of them, in order)
    return _merge(tuple(t.name for t in spec.inquiry_types), parts)


def _draw(
    spec: Scenario,
    types: list[InquiryType],
    expected: F64,
    bin_s: float,
    streams: Streams,
) -> Workload:
    """The conversations of ``types`` (rows of ``expected``, volume factors applied) from
    ``streams``; type indices are positions in ``types``."""
    total = expected.sum(axis=0)
    arrival = sample_piecewise_nhpp(total / bin_s, bin_s, streams.get("arrivals"))
    # A last bin sticking out of the horizon: arrivals after it are dropped, which is
    # exact for a Poisson process.
    arrival = arrival[arrival < spec.calendar.horizon]
    n = arrival.size
    # Type of each arrival from the types' shares in its bin.
    b = np.minimum((arrival // bin_s).astype(np.int64), total.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cum = np.cumsum(expected[:, b], axis=0) / total[b]
    u = streams.get("type_mix").random(n)
    type_idx = np.minimum((u[None, :] >= cum).sum(axis=0), len(types) - 1)
    type_idx = type_idx.astype(np.int32)

    # Attributes, one uniform per conversation (or message) by index.
    n_msg = np.empty(n, dtype=np.int64)
    u_msg = streams.get("messages").random(n)
    for k, t in enumerate(types):
        sel = type_idx == k
        n_msg[sel] = count_ppf(t.messages, u_msg[sel])
    offset = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_msg, out=offset[1:])
    m = int(offset[-1])
    # Each message's type (one type: every message is of it; the array is not needed).
    msg_type = np.repeat(type_idx, n_msg) if len(types) > 1 else None
    del n_msg
    first = offset[:-1]
    # One attribute at a time, its uniforms freed before the next (a run of a million
    # conversations holds a few arrays of the messages' size at once, not six).
    think = _durations(types, "think_time", streams.get("think_time"), m, msg_type)
    compose = _durations(types, "compose_time", streams.get("compose_time"), m, msg_type)
    del msg_type
    think[first] = 0.0
    patience = np.empty(n)
    u_pat = streams.get("patience").random(n)
    bot_p = np.array([t.bot_resolve for t in types])
    for k, t in enumerate(types):
        sel = type_idx == k
        patience[sel] = duration_ppf(t.patience, u_pat[sel])
    bot = streams.get("bot").random(n) < bot_p[type_idx]
    return Workload(
        type_names=tuple(t.name for t in types),
        arrival_s=arrival.astype(np.float64),
        type_idx=type_idx,
        msg_offset=offset,
        think_s=think,
        compose_s=compose,
        patience_s=patience,
        bot=bot,
        conversion_u=streams.get("conversion").random(n),
    )


def _merge(names: tuple[str, ...], parts: list[tuple[Workload, npt.NDArray[np.int32]]]) -> Workload:
    """Workloads of disjoint types as one, by arrival time (ties: in part order).

    ``parts`` holds each workload with its types' indices in ``names``.
    """
    arrival = np.concatenate([w.arrival_s for w, _ in parts])
    order = np.argsort(arrival, kind="stable")
    type_idx = np.concatenate([rows[w.type_idx] for w, rows in parts]).astype(np.int32)
    n_msg = np.concatenate([np.diff(w.msg_offset) for w, _ in parts])
    # Each part's message offsets, shifted past the parts before it.
    shift = np.cumsum([0] + [int(w.msg_offset[-1]) for w, _ in parts[:-1]])
    old_first = np.concatenate(
        [w.msg_offset[:-1] + s for (w, _), s in zip(parts, shift, strict=True)]
    )
    counts = n_msg[order]
    offset = np.zeros(order.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offset[1:])
    # Message k of the merged workload is message k - new first + old first of its chat.
    msg = np.repeat(old_first[order] - offset[:-1], counts) + np.arange(int(offset[-1]))

    def cat(name: str) -> Any:
        return np.concatenate([getattr(w, name) for w, _ in parts])

    return Workload(
        type_names=names,
        arrival_s=arrival[order],
        type_idx=type_idx[order],
        msg_offset=offset,
        think_s=cat("think_s")[msg],
        compose_s=cat("compose_s")[msg],
        patience_s=cat("patience_s")[order],
        bot=cat("bot")[order],
        conversion_u=cat("conversion_u")[order],
    )
