"""Figures of a simulated run (matplotlib, PNG and SVG), readable when printed.

Each figure is titled with the scenario, seed, replications and peakdesk
version, and shows the mean over replications (with the range across them
where it helps).  Local time on the x axis.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from peakdesk import __version__
from peakdesk.experiment.replicate import Evaluation
from peakdesk.output import atomic_write
from peakdesk.scenario.load import LoadedScenario

F64 = npt.NDArray[np.float64]


def _title(loaded: LoadedScenario, ev: Evaluation, what: str) -> str:
    n = len(ev.replications)
    return (
        f"{what}\n{loaded.spec.scenario.name} · seed {ev.seed} · {n} replication"
        f"{'s' * (n > 1)} · peakdesk {__version__}"
    )


def _stack(ev: Evaluation, column: str) -> F64:
    """One row per replication of an interval column, padded with nan to the longest."""
    cols = [np.asarray(getattr(r.intervals, column), dtype=np.float64) for r in ev.replications]
    width = max(c.size for c in cols)
    out = np.full((len(cols), width), np.nan)
    for i, c in enumerate(cols):
        out[i, : c.size] = c
    return out


def _times(loaded: LoadedScenario, ev: Evaluation, n: int) -> F64:
    """Interval starts as matplotlib date numbers, in local wall-clock time."""
    step = ev.replications[0].intervals.interval_s
    start = loaded.spec.calendar.start_aware
    # Naive local times: matplotlib would otherwise draw them in UTC.
    local = [(start + dt.timedelta(seconds=k * step)).replace(tzinfo=None) for k in range(n)]
    return np.asarray(mdates.date2num(local), dtype=np.float64)


def _axes(fig: Figure) -> Axes:
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, alpha=0.3)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    return ax


def _mean(table: F64) -> F64:
    with np.errstate(invalid="ignore"):
        ok = ~np.all(np.isnan(table), axis=0)
        out = np.full(table.shape[1], np.nan)
        out[ok] = np.nanmean(table[:, ok], axis=0)
    return out


def demand_and_capacity(loaded: LoadedScenario, ev: Evaluation) -> Figure:
    """Conversations arriving per interval against agents online and busy slots."""
    arrivals = _mean(_stack(ev, "arrivals"))
    online = _mean(_stack(ev, "agents_online"))
    busy = _mean(_stack(ev, "busy_slots"))
    slots = _mean(_stack(ev, "slots_online"))
    t = _times(loaded, ev, arrivals.size)
    fig = plt.figure(figsize=(11, 5))
    ax = _axes(fig)
    ax.bar(
        t,
        arrivals,
        width=ev.replications[0].intervals.interval_s / 86400,
        color="#c7d7ea",
        label="conversations arriving (per interval)",
        align="edge",
    )
    ax.set_ylabel("conversations per interval")
    ax2 = ax.twinx()
    ax2.plot(t, slots, color="#2b6cb0", lw=1.2, label="chat slots online")
    ax2.plot(t, busy, color="#c05621", lw=1.2, label="slots in use")
    ax2.plot(t, online, color="#2f855a", lw=1.2, ls="--", label="agents online")
    ax2.set_ylabel("agents / slots (time-weighted mean)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax2.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(_title(loaded, ev, "Demand against online capacity"), fontsize=10)
    return fig


def backlog(loaded: LoadedScenario, ev: Evaluation) -> Figure:
    """Unanswered buyer messages and conversations waiting for an agent, over time."""
    table = _stack(ev, "backlog")
    queue = _mean(_stack(ev, "queue"))
    t = _times(loaded, ev, table.shape[1])
    fig = plt.figure(figsize=(11, 4.5))
    ax = _axes(fig)
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanmin(table, axis=0), np.nanmax(table, axis=0)
    ax.fill_between(t, lo, hi, color="#fbd38d", alpha=0.6, label="backlog, range over runs")
    ax.plot(t, _mean(table), color="#c05621", lw=1.3, label="backlog of unanswered messages")
    ax.plot(t, queue, color="#2b6cb0", lw=1.0, label="conversations waiting for an agent")
    ax.set_ylabel("time-weighted mean in the interval")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(_title(loaded, ev, "Backlog"), fontsize=10)
    return fig


def first_response(loaded: LoadedScenario, ev: Evaluation) -> Figure:
    """First human reply: mean and 90th percentile per arrival interval, with target lines."""
    mean = _mean(_stack(ev, "first_reply_mean_s"))
    p90 = _mean(_stack(ev, "first_reply_p90_s"))
    within = _mean(_stack(ev, "within_3min"))
    t = _times(loaded, ev, mean.size)
    fig = plt.figure(figsize=(11, 5))
    ax = _axes(fig)
    ax.plot(t, mean / 60, color="#2b6cb0", lw=1.2, label="mean first human reply")
    ax.plot(
        t,
        np.where(np.isfinite(p90), p90, np.nan) / 60,
        color="#c05621",
        lw=1.0,
        label="90th percentile (unanswered = late)",
    )
    ax.axhline(3.0, color="#9b2c2c", ls=":", lw=1.2, label="3 minutes (Taobao round rule)")
    ax.axhline(0.5, color="#718096", ls=":", lw=1.0, label="30 seconds (JD)")
    ax.set_yscale("log")
    ax.set_ylabel("minutes (log scale)")
    ax2 = ax.twinx()
    ax2.plot(t, within * 100, color="#2f855a", lw=0.8, alpha=0.8, label="served within 3 min")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("% served within 3 min (abandoned = failure)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(_title(loaded, ev, "First response by arrival interval"), fontsize=10)
    return fig


def targets(loaded: LoadedScenario, ev: Evaluation) -> Figure | None:
    """Each target's rolling value per day (mean over runs) against its bound."""
    summaries = ev.targets()
    if not summaries:
        return None
    fig = plt.figure(figsize=(11, 2.6 * len(summaries) + 0.8))
    for k, s in enumerate(summaries):
        ax = fig.add_subplot(len(summaries), 1, k + 1)
        days = mdates.date2num([dt.date.fromisoformat(d) for d in s.days])
        scale = 100.0 if s.unit == "share" else 1.0
        ax.plot(
            days,
            np.asarray(s.rolling_mean) * scale,
            marker="o",
            color="#2b6cb0",
            label="rolling value at day end (mean over runs)",
        )
        ax.axhline(
            s.target.value * scale,
            color="#9b2c2c",
            ls="--",
            label=f"target {s.target.op} {s.target.value * scale:g}",
        )
        ax.set_ylabel("%" if s.unit == "share" else "seconds")
        ax.set_title(
            f"{s.target.text}: P(met) {s.p_met:.0%} [{s.p_low:.0%}, {s.p_high:.0%}]", fontsize=9
        )
        ax.grid(True, alpha=0.3)
        ax.xaxis_date()
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.set_xlabel("day (value at the end of the day)")
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(_title(loaded, ev, "Marketplace targets"), fontsize=10)
    fig.tight_layout()
    return fig


FIGURES = {
    "demand-capacity": demand_and_capacity,
    "backlog": backlog,
    "first-response": first_response,
    "targets": targets,
}


def write_figures(loaded: LoadedScenario, ev: Evaluation, out_dir: Path) -> list[Path]:
    """Write every figure as PNG and SVG into ``out_dir`` (atomically); return the paths."""
    written = []
    for name, make in FIGURES.items():
        fig = make(loaded, ev)
        if fig is None:
            continue
        for ext in ("png", "svg"):
            path = out_dir / f"{name}.{ext}"
            with atomic_write(path, "wb") as fh:
                fig.savefig(fh, format=ext, dpi=130, bbox_inches="tight")
            written.append(path)
        plt.close(fig)
    return written
