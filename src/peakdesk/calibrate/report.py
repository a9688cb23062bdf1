"""The HTML report of ``peakdesk calibrate``: what was fitted, how sure, and how well it fits.

One self-contained file in the run report's style (:mod:`peakdesk.report.html`:
inline styles, figures as PNG data URIs, no script), so it can be mailed or
archived with the calibrated scenario.  It says

* what the log was: its name, rows, conversations and days;
* every fitted quantity (:attr:`Calibration.quantities
  <peakdesk.calibrate.scenario.Calibration.quantities>`) with its estimate, 95%
  interval, observations, unit and method;
* the surges and the busy days found in the arrivals, and the stretches with no
  arrival that chance does not explain;
* what was left at a default, and why;
* a figure per fitted curve drawn over the data it was fitted to
  (:func:`calibration_figures`), each captioned with how to read it;
* how each value is fitted, and the scenario written (TOML).

Figures are drawn with matplotlib's object API (:class:`matplotlib.figure.Figure`
on an Agg canvas, never pyplot's global state), under
:func:`peakdesk.report.fonts.script_fonts` so that a shop name in Chinese or Thai
is drawn, not boxes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
import tomlkit
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from scipy import stats

from peakdesk import __version__
from peakdesk.calibrate import fit, spells
from peakdesk.calibrate.scenario import Calibration
from peakdesk.output import atomic_write
from peakdesk.report.figures import BLUE, GREEN, GREY, ORANGE, RED, plain
from peakdesk.report.fonts import with_script_fonts
from peakdesk.report.html import _CSS, _e, _png_uri, _table
from peakdesk.units import parse_duration_s

F64 = npt.NDArray[np.float64]

#: matplotlib.dates ships without annotations; pyproject.toml exempts only the modules it
#: names from strict mypy's untyped-call check, so its calls go through an ``Any``.
_dates: Any = mdates

#: Size of every figure, inches: the page's width on a laptop, a short strip each.
FIGSIZE = (10.0, 3.6)

#: Per figure key: its heading in the page, what it shows and how to read it.
CAPTIONS: dict[str, tuple[str, str]] = {
    "arrivals": (
        "Arrivals per interval",
        "Conversations arriving in each interval of the shop's clock (steps), with the exact "
        "95% Poisson band of each interval's expected count (shaded blue), and the smoothed "
        "expected count per interval (orange line). The forecast should run inside the band "
        "almost everywhere: a line outside it for several intervals means the smoothing "
        "blurred a real change. Surges found are shaded and labelled; busy days are named "
        "along the top.",
    ),
    "messages": (
        "Buyer messages per conversation",
        "The share of conversations with each number of buyer messages: the empirical "
        "distribution written into the scenario as it is. When the conversation table "
        "says who left, buyers who left early (and wrote less) are left out.",
    ),
    "think_time": (
        "Buyer think time",
        "Seconds from a reply to the buyer's next message (histogram as a density, cut at "
        "the 99th percentile; the longest 1% still count in the total, so its area is the "
        "share shown), with the Gamma of the fitted mean and coefficient of variation that "
        "the scenario writes (line). The line should follow the bars; a hump the line "
        "misses is a second kind of buyer.",
    ),
    "compose": (
        "Writing time by chats held",
        "Mean seconds per reply by the number of chats the agent held while writing it "
        "(points, with 95% intervals), from replies an agent sent back to back. The line "
        "is what the scenario writes: the 1-chat writing time times the pool's "
        "multiplier per chats held (kept non-decreasing; a level never seen keeps the one "
        "below). A point far from the line is a level the scenario simplifies.",
    ),
    "patience": (
        "Buyer patience",
        "The Kaplan-Meier estimate of P(patience > t), from every wait for a first reply: "
        "a buyer who left is an event, one answered first (or still waiting at the end of "
        "the export) is censored, as all we know is that their patience was longer. The "
        "orange line is the exponential maximum-likelihood fit (its 95% band shaded): the "
        "one written, with one inquiry type; with several, the fit of all buyers pooled, "
        "each type's own being in the table. The dashed line is "
        "the mean wait of the buyers who left: biased low, because the patient buyers were "
        "answered before they could leave, and never used as the estimate.",
    ),
    "agents_online": (
        "Agents on the shifts written",
        "Agents on the fixed shifts written into the pool, per interval: each agent's spells "
        "online, from a first reply to a last (across midnight; split by 2 hours without a "
        "reply), rounded out to the interval, breaks counted as on shift. These are the "
        "people the export shows working, not a recommendation: plan the staffing with "
        "peakdesk plan.",
    ),
}


# --- figures ------------------------------------------------------------------------------


def _new_figure() -> Figure:
    """A figure on its own Agg canvas (no pyplot state: nothing to leak, no GUI backend)."""
    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    return fig


def _axes(fig: Figure) -> Any:
    ax = fig.add_subplot(111)
    ax.grid(True, alpha=0.3)
    return ax


def _name(cal: Calibration) -> str:
    """The scenario's name, for figure titles (``$`` escaped: not mathematics)."""
    section = cal.scenario.get("scenario", {})
    return plain(str(section.get("name", ""))) if isinstance(section, dict) else ""


def _title(ax: Any, cal: Calibration, what: str, pad: float = 6.0) -> None:
    name = _name(cal)
    ax.set_title(f"{what} · {name}" if name else what, fontsize=10, pad=pad)


def _local_num(times: Iterable[dt.datetime], zone: dt.tzinfo | None) -> F64:
    """Date numbers of the shop's wall clock (naive: matplotlib would draw aware ones in UTC)."""
    naive = [(t.astimezone(zone) if zone is not None else t).replace(tzinfo=None) for t in times]
    return np.asarray(_dates.date2num(naive), dtype=np.float64)


def _clock_axis(ax: Any, days: float) -> None:
    """Ticks on the shop's clock: every 3 hours for one day, else dates with their hours."""
    if days <= 1.0:
        ax.xaxis.set_major_locator(_dates.HourLocator(byhour=range(0, 24, 3)))
        ax.xaxis.set_major_formatter(_dates.DateFormatter("%H:%M"))
    else:
        # The date once where it changes, hours between: "11-11 00:00" on every tick
        # would run into each other over a few days.
        locator = _dates.AutoDateLocator(minticks=5, maxticks=14)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(
            _dates.ConciseDateFormatter(
                locator, formats=["%Y", "%m", "%m-%d", "%H:%M", "%H:%M", "%S.%f"], show_offset=False
            )
        )
    ax.tick_params(axis="x", labelsize=8)


def _legend_below(ax: Any, ncol: int = 3) -> None:
    """The legend under the axes: inside, it would hide the surges' labels or the data."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=ncol, frameon=False)


def _interval_edges(prof: fit.ArrivalProfile) -> F64:
    """Date numbers of every interval's start, and the end of the last."""
    x = _local_num(prof.starts, prof.starts[0].tzinfo)
    return np.append(x, x[-1] + prof.interval_s / 86400.0)


def _span_label(prof: fit.ArrivalProfile) -> str:
    first, last = prof.starts[0], prof.starts[-1]
    zone = first.tzname() or ""
    if first.date() == last.date():
        return f"local time {first:%Y-%m-%d} ({zone})"
    return f"local time {first:%Y-%m-%d} to {last:%Y-%m-%d} ({zone})"


def _arrivals(cal: Calibration) -> Figure | None:
    prof = cal.profile
    if prof is None or not prof.starts:
        return None
    zone = prof.starts[0].tzinfo
    edges = _interval_edges(prof)
    width = prof.interval_s / 86400.0
    fig = _new_figure()
    ax = _axes(fig)
    # The band as steps too: it belongs to the whole interval, not to its start.
    ax.fill_between(
        edges,
        np.append(prof.low, prof.low[-1]),
        np.append(prof.high, prof.high[-1]),
        step="post",
        color="#c7d7ea",
        lw=0,
        label="95% Poisson band",
    )
    ax.stairs(prof.count, edges, color=BLUE, lw=0.9, label="conversations per interval")
    ax.plot(
        edges[:-1] + width / 2,
        prof.expected,
        color=ORANGE,
        lw=1.4,
        label="smoothed (expected per interval)",
    )
    top = float(max(prof.high.max(initial=0.0), prof.count.max(initial=0)))
    for s in cal.surges:
        a, b = _local_num((s.start, s.end), zone)
        ax.axvspan(a, b, color="#fbd38d", alpha=0.55, lw=0)
        # Beside the shading, not on it: a short spike would be hidden under its label.
        ax.text(
            b,
            0.97,
            f" {plain(s.label)}" + (f" ({s.ratio:.0f}x)" if math.isfinite(s.ratio) else ""),
            transform=ax.get_xaxis_transform(),
            fontsize=7.5,
            color=RED,
            ha="left",
            va="top",
            rotation=90,
            # Readable over the steps it lies on.
            bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 1.0},
        )
    busy = [d for d in cal.days if d.label != "normal"]
    for d in busy:
        noon = dt.datetime.combine(d.day, dt.time(12), tzinfo=zone)
        ratio = f" {d.ratio:.1f}x" if math.isfinite(d.ratio) else ""
        ax.text(
            _local_num((noon,), zone)[0],
            1.01,
            f"{d.label}{ratio}",
            transform=ax.get_xaxis_transform(),
            fontsize=8,
            color=RED,
            ha="center",
            va="bottom",
        )
    days = len(prof.starts) * prof.interval_s / 86400.0
    _clock_axis(ax, days)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0.0, top * 1.08 + 1.0)
    ax.set_xlabel(_span_label(prof))
    ax.set_ylabel(f"conversations per {prof.interval_s / 60:g} min")
    _legend_below(ax)
    _title(ax, cal, "Conversations arriving per interval", pad=16.0 if busy else 6.0)
    return fig


def _messages(cal: Calibration) -> Figure | None:
    if cal.messages is None:
        return None
    values = np.asarray(cal.messages[0], dtype=np.float64)
    shares = np.asarray(cal.messages[1], dtype=np.float64)
    if not values.size:
        return None
    fig = _new_figure()
    ax = _axes(fig)
    ax.bar(values, shares, width=0.8, color=BLUE, label="share of conversations")
    mean = float(np.dot(values, shares))
    ax.axvline(mean, color=ORANGE, ls="--", lw=1.2, label=f"mean {mean:.2f} messages")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("buyer messages in the conversation")
    ax.set_ylabel("share of conversations")
    ax.legend(fontsize=8)
    _title(ax, cal, "Buyer messages per conversation (written as this distribution)")
    return fig


def _think_specs(cal: Calibration) -> list[tuple[str, dict[str, Any]]]:
    """Each inquiry type's name and think-time distribution as written."""
    types = cal.scenario.get("inquiry_types") or []
    return [
        (str(t.get("name", "")), t["think_time"])
        for t in types
        if isinstance(t, dict) and isinstance(t.get("think_time"), dict)
    ]


def _think(cal: Calibration) -> Figure | None:
    gaps = np.asarray([] if cal.think_s is None else cal.think_s, dtype=np.float64)
    gaps = gaps[np.isfinite(gaps)]
    if not gaps.size:
        return None
    top = float(np.percentile(gaps, 99.0))
    if top <= 0.0:
        top = float(gaps.max()) or 1.0
    # A density over every gap (not only those shown), so the bars and the pdf share
    # one scale: the bars' area is the share of gaps on the axis.
    counts, edges = np.histogram(gaps, bins=60, range=(0.0, top))
    density = counts / (gaps.size * (edges[1] - edges[0]))
    fig = _new_figure()
    ax = _axes(fig)
    ax.stairs(density, edges, fill=True, color="#a0aec0", label=f"observed ({gaps.size:,} gaps)")
    specs = _think_specs(cal)
    # From just above 0: a Gamma of CV > 1 has an infinite density at 0.
    t = np.linspace(top * 1e-3, top, 400)
    # "fixed" (nothing was fitted): the histogram alone says what was seen.
    gammas = [(name, spec) for name, spec in specs if spec.get("dist") == "gamma"]
    pdfs = []
    for _, spec in gammas:
        mean, cv = parse_duration_s(str(spec["mean"])), float(spec["cv"])
        shape = 1.0 / cv**2
        pdfs.append((mean, cv, stats.gamma.pdf(t, shape, scale=mean / shape)))
    if len(specs) == 1 and pdfs:
        mean, cv, pdf = pdfs[0]
        ax.plot(
            t, pdf, color=ORANGE, lw=1.5, label=f"Gamma written, mean {mean:.1f} s, CV {cv:.2f}"
        )
    elif pdfs:
        # The histogram pools every type's gaps: what it should match is the types'
        # Gammas mixed in proportion to the gaps each type showed, not any one of them.
        n = np.array(
            [float(cal.quantities.get(f"{name}.think_time", {}).get("n", 0)) for name, _ in gammas]
        )
        w = n / n.sum() if n.sum() > 0 else np.full(n.size, 1.0 / n.size)
        ax.plot(
            t,
            sum(wi * pdf for wi, (_, _, pdf) in zip(w, pdfs, strict=True)),
            color=ORANGE,
            lw=1.6,
            label="Gammas written, mixed by the types' gaps",
        )
        styles = ("--", ":", "-.")
        for i, ((name, _), wi, (mean, cv, pdf)) in enumerate(zip(gammas, w, pdfs, strict=True)):
            ax.plot(
                t,
                wi * pdf,
                color=GREEN,
                ls=styles[i % len(styles)],
                lw=1.0,
                label=f"{plain(name)} ({wi:.0%} of gaps): mean {mean:.1f} s, CV {cv:.2f}",
            )
    ax.set_xlim(0.0, top)
    ax.set_xlabel("seconds from a reply to the buyer's next message (to the 99th percentile)")
    ax.set_ylabel("density (per second)")
    ax.legend(fontsize=8)
    _title(ax, cal, "Buyer think time" + (" (all types pooled)" if len(specs) > 1 else ""))
    return fig


def _compose(cal: Calibration) -> Figure | None:
    comp = cal.compose
    if comp is None:
        return None
    seen = [(k, e) for k, e in zip(comp.chats, comp.mean, strict=True) if e is not None]
    if not seen:
        return None
    k = np.array([c for c, _ in seen], dtype=np.float64)
    mean = np.array([e.value for _, e in seen])
    # One observation has no interval (NaN): drawn without a bar rather than dropped.
    below = np.nan_to_num(np.array([e.value - e.low for _, e in seen]), nan=0.0)
    above = np.nan_to_num(np.array([e.high - e.value for _, e in seen]), nan=0.0)
    fig = _new_figure()
    ax = _axes(fig)
    ax.errorbar(
        k,
        mean,
        yerr=np.vstack((np.maximum(below, 0.0), np.maximum(above, 0.0))),
        fmt="o",
        color=BLUE,
        capsize=4,
        label="fitted mean, 95% interval",
    )
    pools = cal.scenario.get("pools") or []
    mult = pools[0].get("compose_multiplier_by_concurrency") if pools else None
    # The 1-chat estimate the multiplier scales: the first level seen, as the scenario
    # takes it (the compose time written for one type).
    base = next((e for _, e in seen if e.value > 0), None)
    if mult and base is not None:
        levels = np.arange(1, len(mult) + 1, dtype=np.float64)
        ax.plot(
            levels,
            base.value * np.asarray(mult, dtype=np.float64),
            color=ORANGE,
            marker="s",
            ms=4,
            lw=1.3,
            # With several types each writes its own 1-chat time; the pooled one stands in.
            label=f"written: {base.value:.1f} s x the pool's multiplier"
            + (" (pooled 1-chat time)" if len(cal.scenario.get("inquiry_types") or []) > 1 else ""),
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("chats the agent held while writing")
    ax.set_ylabel("seconds per reply")
    ax.legend(fontsize=8, loc="lower right")
    _title(ax, cal, "Writing time per reply by chats held")
    return fig


def _patience(cal: Calibration) -> Figure | None:
    pat = cal.patience
    if pat is None or not pat.survival_t.size:
        return None
    # The curve starts at P = 1 at no wait: nobody leaves before arriving.
    t_km = np.concatenate(([0.0], pat.survival_t))
    s_km = np.concatenate(([1.0], pat.survival))
    fig = _new_figure()
    ax = _axes(fig)
    ax.step(
        t_km,
        s_km,
        where="post",
        color=BLUE,
        lw=1.3,
        label=f"Kaplan-Meier ({pat.events:,} left, {pat.censored:,} censored)",
    )
    t_max = float(t_km.max()) or 1.0
    t = np.linspace(0.0, t_max, 400)
    lowest = float(s_km.min())
    e = pat.exponential_mean
    # With several types the curve pools every buyer, and so does this fit: each type's
    # own mean (the one written) is in the quantities table.
    many = len(cal.scenario.get("inquiry_types") or []) > 1
    if e is not None and e.value > 0:
        ax.plot(
            t,
            np.exp(-t / e.value),
            color=ORANGE,
            lw=1.4,
            label=f"exponential{' (all types)' if many else ' written'}, mean {e.value:.0f} s",
        )
        if math.isfinite(e.low) and math.isfinite(e.high) and e.low > 0:
            ax.fill_between(
                t,
                np.exp(-t / e.low),
                np.exp(-t / e.high),
                color="#fbd38d",
                alpha=0.5,
                lw=0,
                label=f"its 95% band, mean {e.low:.0f}-{e.high:.0f} s",
            )
            lowest = min(lowest, float(np.exp(-t_max / e.low)))
    if math.isfinite(pat.naive_mean_s):
        ax.axvline(
            pat.naive_mean_s,
            color=RED,
            ls="--",
            lw=1.1,
            label=f"mean of departures (biased): {pat.naive_mean_s:.0f} s",
        )
    ax.set_xlim(0.0, t_max)
    # Zoomed on the range the curves cover: most buyers are answered long before they
    # would leave, so on a 0-1 axis the curves would be a flat line at the top.
    ax.set_ylim(max(0.0, lowest - 0.05), 1.01)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("t: seconds waiting for the first reply")
    ax.set_ylabel("P(patience > t)")
    ax.legend(fontsize=8, loc="lower left")
    _title(ax, cal, "Buyer patience from censored waits" + (" (all types)" if many else ""))
    return fig


def agents_on_shift(cal: Calibration) -> F64:
    """Agents on the fixed shifts written (:attr:`Calibration.shifts`) in each interval.

    Returns
    -------
    numpy.ndarray
        Per interval of :attr:`Calibration.profile` (``profile.starts``), the
        agents whose shift covers any of it; empty without a profile.
    """
    prof = cal.profile
    if prof is None or not prof.starts:
        return np.zeros(0)
    return spells.on_shift(cal.shifts, prof.starts, prof.interval_s)


def _online(cal: Calibration) -> Figure | None:
    prof = cal.profile
    if prof is None or not prof.starts or not cal.shifts:
        return None
    on = agents_on_shift(cal)
    edges = _interval_edges(prof)
    fig = _new_figure()
    ax = _axes(fig)
    ax.stairs(on, edges, fill=True, color="#9ae6b4", alpha=0.8, label="agents on shift")
    ax.stairs(on, edges, color=GREEN, lw=1.1)
    peak = float(on.max(initial=0.0))
    ax.axhline(peak, color=GREY, ls=":", lw=1.0, label=f"peak {peak:.0f} (sub-accounts written)")
    _clock_axis(ax, len(prof.starts) * prof.interval_s / 86400.0)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0.0, peak * 1.15 + 1.0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_span_label(prof))
    ax.set_ylabel("agents on shift")
    ax.legend(fontsize=8, loc="upper left")
    _title(ax, cal, f"Agents on the shifts written, per {prof.interval_s / 60:g} min")
    return fig


#: Figure key -> the function drawing it (None: no data for it), in page order.
FIGURES: dict[str, Callable[[Calibration], Figure | None]] = {
    "arrivals": _arrivals,
    "messages": _messages,
    "think_time": _think,
    "compose": _compose,
    "patience": _patience,
    "agents_online": _online,
}


@with_script_fonts
def calibration_figures(cal: Calibration) -> dict[str, Figure]:
    """Every calibration figure the data allows, by key, in page order.

    Parameters
    ----------
    cal
        The calibration (:func:`peakdesk.calibrate.scenario.calibrate`).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Of the keys of :data:`CAPTIONS`, those with data: ``patience`` needs a
        conversation table, ``compose`` back-to-back replies, ``think_time`` a
        buyer message after a reply, ``agents_online`` a reply by a known agent.
        Times in seconds, counts per interval of the profile.  The figures are
        not registered with pyplot; drop them (or ``fig.clear()``) when done.
    """
    out: dict[str, Figure] = {}
    for key, draw in FIGURES.items():
        fig = draw(cal)
        if fig is not None:
            out[key] = fig
    return out


def _close(figures: Iterable[Figure]) -> None:
    """Free the figures' artists now (they hold the data arrays until collected)."""
    for fig in figures:
        fig.clear()


# --- the page ---------------------------------------------------------------------------


def _num(x: Any) -> str:
    """A number for a table: thousands separated, 4 significant digits below 1,000."""
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,d}"
    if isinstance(x, float | np.floating):
        v = float(x)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if abs(v) >= 1000.0:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(x)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def format_estimate(value: Any, unit: str) -> str:
    """A fitted value as the report shows it: a share in percent, else :func:`_num`.

    Parameters
    ----------
    value
        The estimate (or a bound of its interval).
    unit
        Its unit (``"share"``: a fraction of 1, shown in percent to 0.1).
    """
    if unit == "share" and _is_number(value) and math.isfinite(float(value)):
        return f"{100.0 * float(value):.1f}%"
    return _num(value)


#: Keys of a quantity that are its own columns (or listed in the Surges and Days tables).
_COLUMNS = frozenset({"value", "low", "high", "n", "unit", "method", "found"})


#: Name endings that are units (``km_median_s``: seconds), written after the value instead.
_SUFFIX_UNITS = (("_s", "s"), ("_min", "min"))


def _notes(q: Mapping[str, Any]) -> str:
    """A quantity's other facts (a CV, the Kaplan-Meier median, the bandwidths), in words."""
    parts: list[str] = []
    if any(str(k).startswith("per_interval_") for k in q):
        parts.append("per-interval 95% bands in the arrivals figure")
    if "found" in q:
        parts.append("listed below")
    for raw, v in q.items():
        key = str(raw)
        if key in _COLUMNS or key.startswith("per_interval_"):
            continue
        unit = ""
        for suffix, name in _SUFFIX_UNITS:
            if key.endswith(suffix):
                key, unit = key.removesuffix(suffix), f" {name}"
                break
        label = key.replace("_", " ")
        if isinstance(v, str):
            parts.append(f"{label}: {v}")
        elif _is_number(v) or isinstance(v, bool):
            parts.append(f"{label} {_num(v)}{unit}")
        elif isinstance(v, list | tuple):
            if len(v) <= 12 and all(_is_number(x) for x in v):
                parts.append(f"{label} [{', '.join(_num(x) for x in v)}]{unit}")
            else:
                parts.append(f"{label}: {len(v)} values")
    return "; ".join(parts)


def _interval(q: Mapping[str, Any], unit: str) -> str:
    low: Any = q.get("low")
    high: Any = q.get("high")
    if low is None and high is None:
        return ""  # a count with no interval (arrivals, surges, days, agents)
    if _is_number(low) and _is_number(high) and math.isfinite(low) and math.isfinite(high):
        return f"[{format_estimate(low, unit)}, {format_estimate(high, unit)}]"
    return "n/a"  # one observation: no spread to make an interval from


def quantity_rows(cal: Calibration) -> list[list[str]]:
    """The fitted-quantities table: name, estimate, 95% interval, n, unit, method, notes.

    Every entry of :attr:`Calibration.quantities`, whatever its shape: the
    :class:`~peakdesk.calibrate.fit.Estimate` ones (value, low, high, n, method,
    unit) and the counts (``arrivals``, ``surges``, ``days``, ``agents_seen``,
    ``compose_model``: value, n, method, unit, and lists shown elsewhere).
    """
    rows = []
    for name, q in cal.quantities.items():
        unit = str(q.get("unit", ""))
        rows.append(
            [
                name,
                format_estimate(q.get("value"), unit),
                _interval(q, unit),
                _num(q.get("n")),
                unit,
                str(q.get("method", "")),
                _notes(q),
            ]
        )
    return rows


def _when(t: dt.datetime, ref: dt.datetime) -> str:
    """Clock time, with the date when it is not the reference's day."""
    return f"{t:%H:%M}" if t.date() == ref.date() else f"{t:%m-%d %H:%M}"


def _surges_html(cal: Calibration) -> str:
    if not cal.surges:
        return (
            f"<p>No surge: nowhere do {fit.SURGE_AFTER_MIN} minutes bring "
            f"{fit.SURGE_RATIO:g}x the rate of the {fit.SURGE_BEFORE_MIN} before, "
            "significantly.</p>"
        )
    head = [
        "surge",
        "start",
        "peak",
        "end",
        "rate before /min",
        "peak /min",
        "x ratio",
        "conversations",
        "p-value",
    ]
    rows = [
        [
            s.label,
            f"{s.start:%m-%d %H:%M}",
            _when(s.peak, s.start),
            _when(s.end, s.start),
            f"{s.rate_before:.3g}",
            f"{s.peak_rate:.3g}",
            f"{s.ratio:.1f}" if math.isfinite(s.ratio) else "inf",
            f"{s.conversations:,d}",
            f"{s.p_value:.1e}",
        ]
        for s in cal.surges
    ]
    return _table(head, rows) + (
        "<p class=meta>The p-value is the onset test's before the Bonferroni correction; "
        f"it must be below {fit.SURGE_ALPHA:g} over the minutes tested. The forecast is "
        "smoothed on each side of a surge, never across it.</p>"
    )


def _days_html(cal: Calibration) -> str:
    if not cal.days:
        return "<p>No day with arrivals.</p>"
    rows = [
        [
            f"{d.day:%Y-%m-%d (%a)}",
            f"{d.conversations:,d}",
            f"{d.ratio:.2f}" if math.isfinite(d.ratio) else "inf",
            d.label,
        ]
        for d in cal.days
    ]
    return _table(["day", "conversations", "x normal day", "label"], rows, left=1)


def _holes_html(cal: Calibration) -> str:
    if not cal.holes:
        return ""
    rows = [
        [f"{h.start:%m-%d %H:%M}", _when(h.end, h.start), f"{h.expected:.0f}"] for h in cal.holes
    ]
    return "<h2>Holes in the arrivals</h2>" + _table(
        ["from", "to", "arrivals predicted (at least)"], rows
    )


def _methods() -> list[str]:
    """How each value is fitted, from the fitting functions' own rules."""
    return [
        "Arrivals: a conversation arrives at its first buyer message; counts per interval of "
        "the shop's clock, each with its exact 95% Poisson (Garwood, chi-square) interval.",
        "Smoothing: per segment between surges (no kernel crosses an onset or an end), with a "
        "Gaussian kernel whose bandwidth is chosen by Poisson thinning: the arrivals are split "
        "at random into two halves, each a Poisson process of half the rate; one half, "
        f"smoothed, predicts the other's counts per interval, over {fit.SPLITS} splits, and "
        "the bandwidth (or none) with the best Poisson likelihood is used on all arrivals.",
        f"Surges: an onset where the next {fit.SURGE_AFTER_MIN} minutes bring at least "
        f"{fit.SURGE_RATIO:g}x the rate of the {fit.SURGE_BEFORE_MIN} minutes before, with a "
        f"one-sided binomial test at {fit.SURGE_ALPHA:g} over all the minutes tested "
        "(Bonferroni), so a flat day of Poisson noise shows none; a surge ends at the first "
        "minute after its peak below half of it.",
        f"Busy days: at least {fit.DAY_RATIO:g}x the normal day (the lower quartile of the "
        f"days) and significant in a Poisson test at {fit.SURGE_ALPHA:g} over the days "
        "(Bonferroni); the busiest is the peak day, those before pre-sale, after after-sale.",
        "Buyer messages per conversation: the empirical distribution, and the mean with a "
        "t 95% interval; buyers who left are left out when the conversation table says who.",
        "Think time: from a reply (agent or bot) to the buyer's next message in the same "
        "conversation; mean with a t 95% interval, and the coefficient of variation, written "
        "as a Gamma of that mean and CV.",
        "Bot share: conversations a bot answered and no person did, with a Wilson 95% interval.",
        "Writing time: from an agent's back-to-back replies (the message answered already "
        "waiting when the previous reply was sent), by the chats the agent held; under a "
        "backlog the chats held are undercounted.",
        "Patience: right-censored waits until the first reply: a buyer who left is an event, "
        "one answered first or still waiting at the end of the export is censored. The "
        "exponential maximum-likelihood mean is total exposure over departures, with its "
        "exact chi-square 95% interval; the Kaplan-Meier curve shows its fit. The mean wait "
        "of the buyers who left is biased low and never used.",
        "Shifts: each agent on each local day from its first reply to its last, rounded out "
        "to the interval; sub-accounts: the peak of agents on shift.",
    ]


def _meta(cal: Calibration, log_name: str, rows: int) -> str:
    arrivals = cal.quantities.get("arrivals", {})
    conversations = _num(arrivals.get("value"))
    prof = cal.profile
    cal_section = cal.scenario.get("calendar", {})
    tz = cal_section.get("timezone", "") if isinstance(cal_section, dict) else ""
    if prof is not None and prof.starts:
        n_days = len(prof.starts) * prof.interval_s / 86400.0
        span = (
            f"{n_days:g} day{'s' * (n_days != 1)} ({prof.starts[0]:%Y-%m-%d} to "
            f"{prof.starts[-1]:%Y-%m-%d}, {_e(tz)}) in {prof.interval_s / 60:g}-min intervals"
        )
    else:
        span = "no arrivals"
    return (
        f"<p class=meta>Log {_e(log_name)} · {rows:,} rows · {_e(conversations)} conversations "
        f"· {span} · peakdesk {_e(__version__)}</p>"
    )


def _cards(cal: Calibration) -> str:
    q = cal.quantities
    pat = q.get("patience_mean", {})
    cards = [
        ("conversations", _num(q.get("arrivals", {}).get("value"))),
        ("surges", _num(len(cal.surges))),
        ("busy days", _num(sum(d.label != "normal" for d in cal.days))),
        ("agents seen", _num(q.get("agents_seen", {}).get("value"))),
        ("patience (mean)", f"{_num(pat['value'])} s" if "value" in pat else "not fitted"),
        ("left at a default", _num(len(cal.defaults))),
    ]
    inner = "".join(
        f"<div class=card><div class=v>{_e(v)}</div><div class=k>{_e(k)}</div></div>"
        for k, v in cards
    )
    return f"<div class=cards>{inner}</div>"


def render_calibration(
    cal: Calibration,
    *,
    log_name: str,
    rows: int,
    figures: Mapping[str, Figure] | None = None,
) -> str:
    """The calibration report as one self-contained HTML document.

    Parameters
    ----------
    cal
        The calibration (:func:`peakdesk.calibrate.scenario.calibrate`).
    log_name
        The message log's file name, as the planner knows it (escaped here).
    rows
        Rows read from it.
    figures
        The figures, if the caller drew them (:func:`calibration_figures`) and
        closes them; default: drawn here and freed after embedding.

    Returns
    -------
    str
        The page: the log, the warnings, every fitted quantity, the surges,
        days and holes, the defaults, the figures (PNG data URIs), the methods
        and the scenario TOML.  Times in seconds, rates per minute.
    """
    drawn = calibration_figures(cal) if figures is None else dict(figures)
    try:
        images = {key: _png_uri(fig) for key, fig in drawn.items()}
    finally:
        if figures is None:
            _close(drawn.values())
    title = f"peakdesk calibration: {log_name}"
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>Calibration of {_e(log_name)}</h1>",
        _meta(cal, log_name, rows),
        _cards(cal),
    ]
    if cal.warnings:
        parts += [
            "<h2>Look at these first</h2><ul>",
            *[f'<li><span class="status warn">warning</span> {_e(w)}</li>' for w in cal.warnings],
            "</ul>",
        ]
    parts += [
        "<h2>Fitted quantities</h2>",
        _table(
            ["quantity", "estimate", "95% interval", "n", "unit", "method", "notes"],
            quantity_rows(cal),
        ),
        "<h2>Surges</h2>",
        _surges_html(cal),
        "<h2>Days</h2>",
        _days_html(cal),
        _holes_html(cal),
        "<h2>Left at a default</h2>",
        _table(["quantity", "why"], [[k, v] for k, v in cal.defaults.items()])
        if cal.defaults
        else "<p>Nothing: every quantity was fitted.</p>",
    ]
    if images:
        parts.append("<h2>Figures</h2>")
        for key, uri in images.items():
            heading, caption = CAPTIONS.get(key, (key, ""))
            parts.append(
                f'<figure id="fig-{_e(key)}"><img src="{uri}" alt="{_e(heading)}">'
                f"<figcaption><b>{_e(heading)}.</b> {_e(caption)}</figcaption></figure>"
            )
    parts += [
        "<h2>How each value is fitted</h2><ul class=assume>",
        *[f"<li>{_e(m)}</li>" for m in _methods()],
        "</ul>",
        "<p class=meta>What an export cannot show is not guessed: cost, shrinkage and "
        "routing are left at the defaults listed above.</p>",
        "<h2>The scenario written</h2>",
        "<details open><summary>scenario.toml (its forecast is forecast.csv beside "
        f"it)</summary><pre>{_e(tomlkit.dumps(cal.scenario))}</pre></details>",
        f"<p class=meta>Made by peakdesk {_e(__version__)} calibrate.</p>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_calibration_report(cal: Calibration, path: Path, *, log_name: str, rows: int) -> Path:
    """Write the calibration report atomically.

    The page is rendered first and written to a temporary file beside ``path``,
    renamed onto it only when complete (:func:`peakdesk.output.atomic_write`), so
    a failure leaves an earlier report untouched and no partial file.

    Parameters
    ----------
    cal
        The calibration.
    path
        The HTML file to write (its folder is created).
    log_name, rows
        The log's file name and rows read, for the page.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    figures = calibration_figures(cal)
    try:
        text = render_calibration(cal, log_name=log_name, rows=rows, figures=figures)
    finally:
        _close(figures.values())
    with atomic_write(path) as fh:
        fh.write(text)
    return path
