"""The calibration report: every fitted quantity with its interval, and how well it fits.

One self-contained HTML file (``calibration.html`` beside the calibrated
scenario), in the run report's style (:mod:`peakdesk.report.html`): the
quantities with their 95% intervals, counts and methods; the surges, busy days
and holes found in the arrivals; what was left at a default and why; and a
figure per fitted curve, each read against the data it was fitted to:

* arrivals per interval (raw counts with their exact Poisson band, the smoothed
  forecast, the surges shaded);
* buyer messages per conversation (the empirical distribution written);
* think time (histogram of every observed gap and the Gamma density written);
* writing time by chats held (means with their intervals, and the pool's
  multiplier table written);
* patience (Kaplan-Meier survival of the censored waits, the exponential fit
  with its band, and the naive mean of departures marked as biased);
* agents on the fixed shifts written, per interval.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from peakdesk.calibrate.scenario import Calibration
from peakdesk.output import atomic_write
from peakdesk.report.fonts import with_script_fonts
from peakdesk.report.html import _CSS, _e, _png_uri, _table
from peakdesk.units import parse_duration_s

#: What each figure shows and how to read it.
CAPTIONS = {
    "arrivals": "Conversations arriving per interval of the shop's clock: the counts "
    "(steps) with their exact 95% Poisson band, the smoothed curve written as the forecast "
    "(line), and the surges found (shaded). A forecast far outside the band would be a bad "
    "smoothing; a surge cut off by the smoothing would show as a line below the counts.",
    "messages": "Buyer messages per conversation: the empirical distribution written into "
    "the scenario (of the buyers who stayed, when the conversation table says who left).",
    "think_time": "Buyer think time, from a reply to the buyer's next message: every "
    "observed gap (histogram) and the Gamma of the fitted mean and CV written (line).",
    "compose": "Writing time per reply by the chats the agent held (means with 95% "
    "intervals, from back-to-back replies), and what the scenario writes: the 1-chat time "
    "times the pool's multiplier table.",
    "patience": "Buyer patience: the Kaplan-Meier survival of the waits (buyers answered "
    "first are censored), the exponential maximum-likelihood fit with its 95% band, and the "
    "mean wait of the buyers who left, which is biased low and not an estimate.",
    "agents_online": "Agents on the fixed shifts written (each agent-day from its first "
    "reply to its last, rounded out to the interval), per interval.",
}


def _axes(fig: Figure) -> Any:
    ax = fig.add_subplot(111)
    ax.grid(True, color="#e2e8f0", lw=0.6)
    return ax


def _local(starts: tuple[dt.datetime, ...]) -> Any:
    return mdates.date2num([t.replace(tzinfo=None) for t in starts])


def _clock_axis(ax: Any, days: float) -> None:
    """Ticks at the shop's clock hours: every 6 h up to 3 days, else every day."""
    if days <= 3.0:
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, 6)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    else:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))


def _arrivals(cal: Calibration) -> Figure | None:
    prof = cal.profile
    if prof is None:
        return None
    fig = Figure(figsize=(10, 3.6))
    ax = _axes(fig)
    x = _local(prof.starts)
    width = prof.interval_s / 86400.0
    edges = np.append(x, x[-1] + width)
    ax.fill_between(
        edges[:-1], prof.low, prof.high, step="post", color="#c7d7ea", label="95% Poisson band"
    )
    ax.stairs(prof.count, edges, color="#1f4e79", lw=0.9, label="conversations per interval")
    ax.plot(x + width / 2, prof.expected, color="#c05621", lw=1.3, label="forecast written")
    for s in cal.surges:
        a, b = _local((s.start, s.end))
        ax.axvspan(a, b, color="#fbd38d", alpha=0.6, lw=0)
        ax.annotate(s.label, (a, float(prof.high.max())), fontsize=7, va="top", rotation=90)
    for d in cal.days:
        if d.label != "normal":
            noon = _local((dt.datetime.combine(d.day, dt.time(12), tzinfo=prof.starts[0].tzinfo),))
            ax.annotate(
                f"{d.label} ({d.ratio:.1f}x)",
                (noon[0], 1.0),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#9b2c2c",
            )
    _clock_axis(ax, len(prof.starts) * prof.interval_s / 86400.0)
    ax.set_ylabel(f"conversations per {prof.interval_s / 60:g} min")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Arrivals, the forecast written and the surges found", fontsize=10, pad=14)
    return fig


def _messages(cal: Calibration) -> Figure | None:
    if cal.messages is None or not np.asarray(cal.messages[0]).size:
        return None
    values, shares = (np.asarray(v) for v in cal.messages)
    fig = Figure(figsize=(10, 3.0))
    ax = _axes(fig)
    ax.bar(values, shares, color="#1f4e79", width=0.8)
    ax.set_xlabel("buyer messages in the conversation")
    ax.set_ylabel("share of conversations")
    ax.set_title(
        "Buyer messages per conversation (written as the empirical distribution)", fontsize=10
    )
    return fig


def _think(cal: Calibration) -> Figure | None:
    gaps = np.asarray(cal.think_s if cal.think_s is not None else [], dtype=np.float64)
    if gaps.size < 2:
        return None
    fig = Figure(figsize=(10, 3.2))
    ax = _axes(fig)
    top = float(np.percentile(gaps, 99))
    ax.hist(gaps[gaps <= top], bins=60, density=True, color="#a0aec0", label="observed gaps")
    spec = cal.scenario.get("inquiry_types", [{}])[0].get("think_time", {})
    if spec.get("dist") == "gamma":
        mean, cv = parse_duration_s(spec["mean"]), float(spec["cv"])
        t = np.linspace(0.0, top, 300)
        shape = 1.0 / cv**2
        ax.plot(
            t,
            stats.gamma.pdf(t, shape, scale=mean / shape),
            color="#c05621",
            lw=1.5,
            label=f"Gamma written: mean {mean:.1f} s, CV {cv:.2f}",
        )
    ax.set_xlabel("seconds from a reply to the buyer's next message (to the 99th percentile)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title("Buyer think time", fontsize=10)
    return fig


def _compose(cal: Calibration) -> Figure | None:
    comp = cal.compose
    if comp is None or not any(e is not None for e in comp.mean):
        return None
    fig = Figure(figsize=(10, 3.2))
    ax = _axes(fig)
    k = [c for c, e in zip(comp.chats, comp.mean, strict=True) if e is not None]
    est = [e for e in comp.mean if e is not None]
    mean = np.array([e.value for e in est])
    low = np.array([e.value - e.low for e in est])
    high = np.array([e.high - e.value for e in est])
    ax.errorbar(
        k, mean, yerr=[low, high], fmt="o", color="#1f4e79", capsize=4, label="fitted, 95% interval"
    )
    pools = cal.scenario.get("pools", [{}])
    mult = pools[0].get("compose_multiplier_by_concurrency") if pools else None
    types = cal.scenario.get("inquiry_types", [])
    if mult and len(types) == 1:
        base = parse_duration_s(types[0]["compose_time"]["mean"])
        ax.plot(
            range(1, len(mult) + 1),
            base * np.asarray(mult),
            color="#c05621",
            lw=1.3,
            marker="s",
            ms=4,
            label="written: 1-chat time x the pool's multiplier",
        )
    ax.set_xlabel("chats the agent held while writing")
    ax.set_ylabel("seconds per reply")
    ax.set_xticks(range(1, max(k) + 1))
    ax.legend(fontsize=8)
    ax.set_title("Writing time by chats held", fontsize=10)
    return fig


def _patience(cal: Calibration) -> Figure | None:
    pat = cal.patience
    if pat is None or pat.exponential_mean is None or not pat.survival_t.size:
        return None
    fig = Figure(figsize=(10, 3.2))
    ax = _axes(fig)
    ax.step(
        pat.survival_t,
        pat.survival,
        where="post",
        color="#1f4e79",
        lw=1.2,
        label=f"Kaplan-Meier ({pat.events} left, {pat.censored} censored)",
    )
    e = pat.exponential_mean
    t = np.linspace(0.0, float(pat.survival_t.max()), 300)
    ax.plot(
        t, np.exp(-t / e.value), color="#c05621", lw=1.3, label=f"exponential: mean {e.value:.0f} s"
    )
    ax.fill_between(
        t,
        np.exp(-t / e.low),
        np.exp(-t / e.high),
        color="#fbd38d",
        alpha=0.5,
        label=f"its 95% band [{e.low:.0f}, {e.high:.0f}] s",
    )
    if math.isfinite(pat.naive_mean_s):
        ax.axvline(
            pat.naive_mean_s,
            color="#9b2c2c",
            ls="--",
            lw=1.0,
            label=f"mean wait of those who left: {pat.naive_mean_s:.0f} s (biased)",
        )
    ax.set_xlabel("seconds waiting for the first reply")
    ax.set_ylabel("P(still waiting)")
    ax.set_ylim(min(0.9, float(pat.survival.min()) - 0.02), 1.005)
    ax.legend(fontsize=8)
    many = len(cal.scenario.get("inquiry_types", [])) > 1
    ax.set_title(
        "Buyer patience, from censored waits"
        + (" (all types; each type in the table)" if many else ""),
        fontsize=10,
    )
    return fig


def _online(cal: Calibration) -> Figure | None:
    prof = cal.profile
    if prof is None or not cal.shifts:
        return None
    zone = prof.starts[0].tzinfo
    n = len(prof.starts)
    on = np.zeros(n)
    t0 = prof.starts[0]
    for s in cal.shifts:
        h, m = (int(x) for x in s["start"].split(":"))
        begin = dt.datetime.combine(s["days"][0], dt.time(h, m), tzinfo=zone)
        k0 = int((begin - t0).total_seconds() // prof.interval_s)
        k1 = k0 + math.ceil(parse_duration_s(s["length"]) / prof.interval_s)
        on[max(k0, 0) : min(k1, n)] += int(s["agents"])
    fig = Figure(figsize=(10, 2.8))
    ax = _axes(fig)
    x = _local(prof.starts)
    ax.stairs(
        on,
        np.append(x, x[-1] + prof.interval_s / 86400.0),
        color="#2f855a",
        lw=1.2,
        fill=True,
        alpha=0.5,
    )
    _clock_axis(ax, n * prof.interval_s / 86400.0)
    ax.set_ylabel("agents on shift")
    ax.set_title("Agents on the fixed shifts written", fontsize=10)
    return fig


FIGURES = {
    "arrivals": _arrivals,
    "messages": _messages,
    "think_time": _think,
    "compose": _compose,
    "patience": _patience,
    "agents_online": _online,
}


@with_script_fonts
def calibration_figures(cal: Calibration) -> dict[str, Figure]:
    """Every figure the calibration has data for, by name (see :data:`CAPTIONS`)."""
    out = {}
    for name, make in FIGURES.items():
        fig = make(cal)
        if fig is not None:
            out[name] = fig
    return out


def _number(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,d}"
    return "" if value is None else str(value)


def _quantity_rows(cal: Calibration) -> list[list[str]]:
    rows = []
    for name, q in cal.quantities.items():
        if name in {"surges", "days"}:
            continue
        value = q.get("value")
        unit = q.get("unit", "")
        shown = (
            f"{100 * value:.1f}%"
            if unit == "share" and isinstance(value, float)
            else _number(value)
        )
        low, high = q.get("low"), q.get("high")
        band = (
            f"[{_number(low)}, {_number(high)}]"
            if isinstance(low, float) and isinstance(high, float) and math.isfinite(low)
            else ""
        )
        rows.append([name, shown, band, _number(q.get("n")), unit, str(q.get("method", ""))])
    return rows


def render_calibration(cal: Calibration, *, log_name: str, rows: int) -> str:
    """The calibration report as one HTML document (figures embedded)."""
    arrivals = cal.quantities.get("arrivals", {})
    prof = cal.profile
    days = len(prof.starts) * prof.interval_s / 86400.0 if prof is not None else 0.0
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>peakdesk calibration: {_e(log_name)}</title><style>{_CSS}</style></head>"
        "<body><main>",
        f"<h1>Calibration of {_e(log_name)}</h1>",
        f"<p class=meta>{rows:,} rows · {_number(arrivals.get('value'))} conversations · "
        f"{days:g} days from {_e(prof.starts[0].isoformat() if prof else '')} · "
        f"scenario {_e(cal.scenario.get('scenario', {}).get('name', ''))}</p>",
    ]
    if cal.warnings:
        parts.append("<h2>Look at these first</h2><ul>")
        parts += [f"<li>{_e(w)}</li>" for w in cal.warnings]
        parts.append("</ul>")
    parts += [
        "<h2>Fitted quantities</h2>",
        _table(
            ["quantity", "estimate", "95% interval", "n", "unit", "method"], _quantity_rows(cal)
        ),
        "<h2>Surges</h2>",
    ]
    if cal.surges:
        parts.append(
            _table(
                [
                    "surge",
                    "onset",
                    "peak",
                    "end",
                    "rate before /min",
                    "peak /min",
                    "x",
                    "conversations",
                    "p-value",
                ],
                [
                    [
                        s.label,
                        f"{s.start:%m-%d %H:%M}",
                        f"{s.peak:%H:%M}",
                        f"{s.end:%H:%M}",
                        f"{s.rate_before:.3g}",
                        f"{s.peak_rate:.3g}",
                        "inf" if not math.isfinite(s.ratio) else f"{s.ratio:.1f}",
                        f"{s.conversations:,d}",
                        f"{s.p_value:.1e}",
                    ]
                    for s in cal.surges
                ],
            )
        )
    else:
        parts.append("<p>No surge: nowhere do 15 minutes bring 3x the hour before.</p>")
    if cal.days:
        parts += [
            "<h2>Days</h2>",
            _table(
                ["day", "conversations", "x a normal day", "label"],
                [
                    [d.day.isoformat(), f"{d.conversations:,d}", f"{d.ratio:.2f}", d.label]
                    for d in cal.days
                ],
            ),
        ]
    if cal.defaults:
        parts += [
            "<h2>Left at a default</h2>",
            _table(["quantity", "why"], [[k, v] for k, v in cal.defaults.items()]),
        ]
    figures = calibration_figures(cal)
    if figures:
        parts.append("<h2>Figures</h2>")
        for name, fig in figures.items():
            uri = _png_uri(fig)
            plt.close(fig)
            parts.append(
                f'<figure id="fig-{_e(name)}"><img src="{uri}" alt="{_e(CAPTIONS[name])}">'
                f"<figcaption>{_e(CAPTIONS[name])}</figcaption></figure>"
            )
    import tomlkit

    parts += [
        "<h2>How each value is fitted</h2><ul>",
        "<li>Arrivals: a conversation arrives at its first buyer message; counts per "
        "interval of the shop's clock with exact (Garwood) Poisson intervals; smoothed per "
        "segment between surges with a Gaussian kernel whose bandwidth is chosen by Poisson "
        "thinning (half the arrivals, smoothed, predict the other half).</li>",
        "<li>Surges: an onset where the next 15 minutes bring at least 3x the rate of the "
        "hour before, binomial test at 1e-3 over all minutes (Bonferroni).</li>",
        "<li>Patience: right-censored waits (answered first = censored, left = event); "
        "Kaplan-Meier and the exponential maximum-likelihood mean with its exact chi-square "
        "interval, never the mean of the departures.</li>",
        "<li>Writing time: from an agent's back-to-back replies (the next reply's message "
        "already waiting), by the chats held from the agent's first reply in a conversation "
        "to its last message; under a backlog the chats held are undercounted.</li>",
        "</ul>",
        "<h2>The scenario written</h2>",
        f"<details><summary>scenario.toml</summary><pre>{_e(tomlkit.dumps(cal.scenario))}</pre>"
        "</details>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_calibration_report(cal: Calibration, path: Path, *, log_name: str, rows: int) -> Path:
    """Write the calibration report atomically; return its path."""
    text = render_calibration(cal, log_name=log_name, rows=rows)
    with atomic_write(path) as fh:
        fh.write(text)
    return path
