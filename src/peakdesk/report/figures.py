"""Figures of a run (matplotlib, PNG and SVG), readable when printed.

Each figure is titled with the scenario, seed, replications and peakdesk
version, and shows the mean over replications (with the range across them
where it helps).  Local time on the x axis.  Lines differ by style as well as
colour, so a black-and-white print still tells them apart.

Every figure is drawn from :class:`~peakdesk.report.rundata.RunData`, so a
run in memory and a run directory read back give the same pictures.  For
convenience in notebooks each function also takes ``(loaded, evaluation)``.

Names in Chinese or Thai are drawn with fonts installed with peakdesk, by a
per-glyph fallback chain (:mod:`peakdesk.report.fonts`); Latin text keeps
matplotlib's configured font.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from peakdesk.engine.intervals import mean_over_runs, range_over_runs
from peakdesk.experiment.replicate import Evaluation
from peakdesk.output import atomic_write
from peakdesk.report.fonts import with_script_fonts
from peakdesk.report.rundata import RunData
from peakdesk.report.text import as_float
from peakdesk.scenario.load import LoadedScenario

F64 = npt.NDArray[np.float64]

#: Colours that stay apart in greyscale too (dark, mid, light), plus line styles.
BLUE, ORANGE, GREEN, RED, GREY = "#1f4e79", "#c05621", "#2f855a", "#9b2c2c", "#718096"
POOL_STYLES = (
    ("#1f4e79", ""),
    ("#f6ad55", "//"),
    ("#68d391", ".."),
    ("#a0aec0", "xx"),
    ("#fc8181", "\\\\"),
    ("#d6bcfa", "++"),
)

RunLike = RunData | LoadedScenario


def _run(run: RunLike, ev: Evaluation | None) -> RunData:
    if isinstance(run, RunData):
        return run
    if ev is None:
        raise TypeError("give a RunData, or a LoadedScenario and its Evaluation")
    return RunData.from_evaluation(run, ev)


def _title(run: RunData, what: str) -> str:
    n = run.replications
    return (
        f"{what}\n{plain(run.scenario)} · seed {run.seed} · {n} replication"
        f"{'s' * (n > 1)} · peakdesk {run.version}"
    )


def _times(run: RunData, n: int, step: float | None = None) -> F64:
    """Interval starts as matplotlib date numbers, in local wall-clock time.

    The offsets come from the zone at each time (not the start's), so the axis
    is right after a daylight-saving change too.
    """
    step = run.interval_s if step is None else step
    zone = _zone(run)
    start = run.start.astimezone(dt.UTC)
    # Naive local times: matplotlib would otherwise draw them in UTC.
    local = [
        (start + dt.timedelta(seconds=k * step)).astimezone(zone).replace(tzinfo=None)
        for k in range(n)
    ]
    return np.asarray(mdates.date2num(local), dtype=np.float64)


def _zone(run: RunData) -> dt.tzinfo:
    """The run's time zone (the start's fixed offset if the zone is not known)."""
    name = run.summary.get("timezone")
    if isinstance(name, str):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    tz = run.start.tzinfo
    assert tz is not None
    return tz


def plain(text: str) -> str:
    """User text for a figure: ``$`` escaped, or matplotlib would read it as mathematics."""
    return text.replace("$", r"\$")


def _axes(fig: Figure, pos: int = 111) -> Axes:
    ax = fig.add_subplot(pos)
    ax.grid(True, alpha=0.3)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    return ax


def _col(run: RunData, name: str) -> F64:
    return run.intervals[name]


@with_script_fonts
def demand_and_capacity(run: RunLike, ev: Evaluation | None = None) -> Figure:
    """Conversations arriving per interval against agents online and busy slots."""
    run = _run(run, ev)
    arrivals = mean_over_runs(_col(run, "arrivals"))
    online = mean_over_runs(_col(run, "agents_online"))
    busy = mean_over_runs(_col(run, "busy_slots"))
    slots = mean_over_runs(_col(run, "slots_online"))
    t = _times(run, arrivals.size)
    fig = plt.figure(figsize=(11, 5))
    ax = _axes(fig)
    ax.bar(
        t,
        arrivals,
        width=run.interval_s / 86400,
        color="#c7d7ea",
        label="conversations arriving (per interval)",
        align="edge",
    )
    ax.set_ylabel("conversations per interval")
    ax2 = ax.twinx()
    ax2.plot(t, slots, color=BLUE, lw=1.2, label="chat slots online")
    ax2.plot(t, busy, color=ORANGE, lw=1.2, ls="-.", label="slots in use")
    ax2.plot(t, online, color=GREEN, lw=1.2, ls="--", label="agents online")
    ax2.set_ylabel("agents / slots (time-weighted mean)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax2.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8)
    ax.set_title(_title(run, "Demand against online capacity"), fontsize=10)
    return fig


@with_script_fonts
def backlog(run: RunLike, ev: Evaluation | None = None) -> Figure:
    """Unanswered buyer messages and conversations waiting for an agent, over time."""
    run = _run(run, ev)
    table = _col(run, "backlog")
    queue = mean_over_runs(_col(run, "queue"))
    t = _times(run, table.shape[1])
    fig = plt.figure(figsize=(11, 4.5))
    ax = _axes(fig)
    lo, hi = range_over_runs(table)
    ax.fill_between(t, lo, hi, color="#fbd38d", alpha=0.6, label="backlog, range over runs")
    ax.plot(t, mean_over_runs(table), color=ORANGE, lw=1.3, label="backlog of unanswered messages")
    ax.plot(t, queue, color=BLUE, lw=1.0, ls="--", label="conversations waiting for an agent")
    ax.set_ylabel("time-weighted mean in the interval")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(_title(run, "Backlog"), fontsize=10)
    return fig


@with_script_fonts
def first_response(run: RunLike, ev: Evaluation | None = None) -> Figure:
    """First human reply per arrival interval: mean and percentiles (median to 95th, 90th)
    against the target lines (top), and the share served within 3 minutes (bottom)."""
    run = _run(run, ev)
    mean = mean_over_runs(_col(run, "first_reply_mean_s"))
    p90 = mean_over_runs(_col(run, "first_reply_p90_s"))
    within = _col(run, "within_3min")
    t = _times(run, mean.size)
    fig = plt.figure(figsize=(11, 6.5))
    ax = fig.add_subplot(211)
    ax.grid(True, alpha=0.3)
    ax.xaxis_date()
    if "first_reply_p50_s" in run.intervals:  # run directories of older versions lack them
        p50 = mean_over_runs(_col(run, "first_reply_p50_s"))
        p95 = mean_over_runs(_col(run, "first_reply_p95_s"))
        finite = np.isfinite(p50) & np.isfinite(p95)
        ax.fill_between(
            t,
            np.where(finite, p50, np.nan) / 60,
            np.where(finite, p95, np.nan) / 60,
            color="#bee3f8",
            alpha=0.8,
            label="median to 95th percentile",
        )
    ax.plot(t, mean / 60, color=BLUE, lw=1.2, label="mean first human reply")
    ax.plot(
        t,
        np.where(np.isfinite(p90), p90, np.nan) / 60,
        color=ORANGE,
        lw=1.0,
        ls="--",
        label="90th percentile (unanswered = late)",
    )
    ax.axhline(3.0, color=RED, ls=":", lw=1.2, label="3 minutes (Taobao round rule)")
    ax.axhline(0.5, color=GREY, ls=":", lw=1.0, label="30 seconds (JD)")
    ax.set_yscale("log")
    ax.set_ylabel("minutes (log scale)")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    ax.tick_params(labelbottom=False)
    ax.set_title(_title(run, "First response by arrival interval"), fontsize=10)
    ax2 = fig.add_subplot(212, sharex=ax)
    ax2.grid(True, alpha=0.3)
    lo, hi = range_over_runs(within)
    ax2.fill_between(t, lo * 100, hi * 100, color="#c6f6d5", alpha=0.9, label="range over runs")
    ax2.plot(t, mean_over_runs(within) * 100, color=GREEN, lw=1.1, label="mean over runs")
    ax2.set_ylim(0, 102)
    ax2.set_ylabel("% served within 3 min\n(abandoned = failure)")
    ax2.legend(loc="lower left", fontsize=8)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


@with_script_fonts
def erlang_intervals(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """P(delay) and the service level (top), ASA (bottom) per arrival interval: the mean
    over runs (ratio of sums) with its 95% interval, in the Erlang tools' terms."""
    from peakdesk.experiment.interval_figures import figure_over_runs

    run = _run(run, ev)
    if "p_delay" not in run.intervals:  # run directories of older versions lack them
        return None
    figures = run.summary.get("interval_figures") or {}
    target = float(figures.get("service_level_s", 20.0))
    horizon = int(np.ceil(float(run.summary["horizon_s"]) / run.interval_s))
    n = min(horizon, run.intervals["p_delay"].shape[1])
    t = _times(run, n)
    fig = plt.figure(figsize=(11, 6.5))
    ax = fig.add_subplot(211)
    ax.grid(True, alpha=0.3)
    ax.xaxis_date()
    for name, color, label in (
        ("p_delay", RED, "P(delay): not taken at once"),
        ("service_level", GREEN, f"service level: taken within {target:g} s"),
    ):
        mean, low, high = (x[:n] * 100 for x in figure_over_runs(name, run.intervals))
        ax.fill_between(t, low, high, color=color, alpha=0.18, lw=0)
        ax.plot(t, mean, color=color, lw=1.2, label=f"{label} (mean, 95% interval)")
    ax.set_ylim(-2, 102)
    ax.set_ylabel("% of human arrivals")
    ax.legend(loc="lower left", fontsize=8)
    ax.tick_params(labelbottom=False)
    ax.set_title(_title(run, "Erlang figures by arrival interval"), fontsize=10)
    ax2 = fig.add_subplot(212, sharex=ax)
    ax2.grid(True, alpha=0.3)
    mean, low, high = (x[:n] for x in figure_over_runs("asa_s", run.intervals))
    ax2.fill_between(t, low, high, color="#bee3f8", alpha=0.9, lw=0)
    ax2.plot(t, mean, color=BLUE, lw=1.2, label="ASA: mean wait until an agent takes the chat")
    # Seconds at the peak and hours overnight on one axis: linear to 10 s, log above.
    ax2.set_yscale("symlog", linthresh=10.0)
    ax2.set_ylabel("seconds (log above 10 s)")
    ax2.legend(loc="upper left", fontsize=8)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


@with_script_fonts
def targets(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """Each target per day and as its rolling value (mean over runs) against its bound."""
    run = _run(run, ev)
    summaries = run.targets
    if not summaries:
        return None
    fig = plt.figure(figsize=(11, 2.8 * len(summaries) + 0.9))
    for k, s in enumerate(summaries):
        ax = fig.add_subplot(len(summaries), 1, k + 1)
        days = mdates.date2num([dt.date.fromisoformat(d) for d in s["days"]])
        share = s["unit"] == "share"
        scale = 100.0 if share else 1.0
        # JSON null (a day with no value) reads as nan
        daily = np.asarray([as_float(v) for v in s.get("daily_mean") or []])
        rolling = np.asarray([as_float(v) for v in s["rolling_mean"]])
        if daily.size == len(days):
            ax.bar(
                days,
                daily * scale,
                width=0.6,
                color="#c7d7ea",
                edgecolor=BLUE,
                lw=0.5,
                label="that day's own value (mean over runs)",
            )
        ax.plot(
            days,
            rolling * scale,
            marker="o",
            color=BLUE,
            label="rolling value at day end (mean over runs)",
        )
        bound = float(s["bound"]) * scale
        ax.axhline(bound, color=RED, ls="--", label=f"target {s['op']} {bound:g}")
        if share:
            vals = np.concatenate([rolling, daily])
            low = min([*vals[~np.isnan(vals)].tolist(), float(s["bound"])]) * 100
            ax.set_ylim(max(0.0, low - 5), 100.5)
        ax.set_ylabel("%" if share else "seconds")
        ax.set_title(
            f"{plain(s['target'])}: P(met) {s['p_met']:.0%} "
            f"[{as_float(s['p_low']):.0%}, {as_float(s['p_high']):.0%}]",
            fontsize=9,
        )
        ax.grid(True, alpha=0.3)
        ax.xaxis_date()
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.set_xlabel("day (value at the end of the day)")
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(_title(run, "Marketplace targets"), fontsize=10)
    fig.tight_layout()
    return fig


@with_script_fonts
def subaccounts(run: RunLike, ev: Evaluation | None = None) -> Figure:
    """Sub-accounts in use (agents logged in) per interval against the sub-accounts held."""
    run = _run(run, ev)
    table = _col(run, "agents_online")
    t = _times(run, table.shape[1])
    fig = plt.figure(figsize=(11, 4.2))
    ax = _axes(fig)
    lo, hi = range_over_runs(table)
    ax.fill_between(t, lo, hi, color="#c7d7ea", alpha=0.8, label="range over runs")
    ax.plot(t, mean_over_runs(table), color=BLUE, lw=1.2, label="sub-accounts in use (mean)")
    cap = run.summary.get("subaccounts")
    if cap is not None:
        ax.axhline(float(cap), color=RED, ls="--", lw=1.2, label=f"sub-accounts held: {cap}")
    peak = run.estimate("peak_agents_online")["mean"]
    if peak == peak:
        ax.axhline(peak, color=GREY, ls=":", lw=1.0, label=f"peak logged in at once: {peak:.0f}")
    ax.set_ylabel("sub-accounts (time-weighted mean in the interval)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(_title(run, "Chat sub-accounts in use"), fontsize=10)
    return fig


@with_script_fonts
def conversions_lost(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """Sales lost to slow first replies, per arrival interval and accumulated."""
    run = _run(run, ev)
    if "conversions_lost" not in run.intervals:
        return None
    table = _col(run, "conversions_lost")
    if (
        not np.nansum(table)
        and "conversions" in run.intervals
        and not np.nansum(_col(run, "conversions"))
    ):
        return None  # no inquiry type models conversion: nothing to show
    per = mean_over_runs(table)
    t = _times(run, per.size)
    fig = plt.figure(figsize=(11, 4.5))
    ax = _axes(fig)
    ax.bar(
        t,
        per,
        width=run.interval_s / 86400,
        align="edge",
        color="#fbd38d",
        edgecolor=ORANGE,
        lw=0.3,
        label="lost in the interval (mean over runs)",
    )
    ax.set_ylabel("sales lost per interval")
    ax2 = ax.twinx()
    cum = np.nancumsum(table, axis=1)
    lo, hi = range_over_runs(cum)
    ax2.fill_between(t, lo, hi, color=RED, alpha=0.15, label="accumulated, range over runs")
    ax2.plot(t, mean_over_runs(cum), color=RED, lw=1.3, ls="--", label="accumulated (mean)")
    ax2.set_ylabel("sales lost, accumulated")
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(
        _title(run, "Conversions lost: buyers who would have bought with an immediate reply"),
        fontsize=10,
    )
    return fig


@with_script_fonts
def plan_pools(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """A plan's agents online per planning interval, pools stacked, against the requirement."""
    run = _run(run, ev)
    if run.plan is None or not run.plan.online:
        return None
    online = run.plan.online
    req = np.asarray(online["requirement_reference_agents"], dtype=np.float64)
    starts = [dt.datetime.fromisoformat(str(x)) for x in online["interval_start"]]
    step = (starts[1] - starts[0]).total_seconds() if len(starts) > 1 else run.interval_s
    t = np.asarray(mdates.date2num([x.replace(tzinfo=None) for x in starts]), dtype=np.float64)
    # One more point at the end, so the last interval is drawn as wide as the others.
    t = np.append(t, t[-1] + step / 86400)
    req = np.append(req, req[-1])
    fig = plt.figure(figsize=(11, 5))
    ax = _axes(fig)
    base = np.zeros(req.size)
    for k, pool in enumerate(run.plan.pools):
        level = np.asarray(online[f"online_{pool}"], dtype=np.float64)
        level = np.append(level, level[-1])
        colour, hatch = POOL_STYLES[k % len(POOL_STYLES)]
        ax.fill_between(
            t,
            base,
            base + level,
            step="post",
            facecolor=colour,
            hatch=hatch,
            edgecolor="#2d3748",
            lw=0.3,
            alpha=0.85,
            label=plain(pool),
        )
        base = base + level
    ax.step(
        t,
        req,
        where="post",
        color=RED,
        lw=1.3,
        ls="--",
        label="requirement (agents of the reference pool)",
    )
    ax.set_xlim(t[0], t[-1])
    ax.set_ylabel("agents online (mean in the interval)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(_title(run, "Staffing plan: agents online by pool"), fontsize=10)
    return fig


@with_script_fonts
def plan_shifts(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """A plan's shifts as a chart: one bar per staffed shift, labelled with its agents."""
    run = _run(run, ev)
    if run.plan is None or not run.plan.shifts:
        return None
    # Pools in the scenario's order, so each keeps its colour from the stacked chart.
    order = run.plan.pools or sorted({str(r["pool"]) for r in run.plan.shifts})
    order += sorted({str(r["pool"]) for r in run.plan.shifts} - set(order))
    rows = sorted(run.plan.shifts, key=lambda r: (order.index(str(r["pool"])), str(r["start"])))
    pools = order
    height = min(0.22 * len(rows) + 1.6, 40.0)
    fig = plt.figure(figsize=(11, height))
    ax = fig.add_subplot(111)
    ax.grid(True, axis="x", alpha=0.3)
    biggest = max(int(r["agents"]) for r in rows)
    for y, r in enumerate(rows):
        start = dt.datetime.fromisoformat(str(r["start"])).replace(tzinfo=None)
        x0 = float(mdates.date2num(start))
        width = float(r["length_h"]) / 24.0
        colour, hatch = POOL_STYLES[pools.index(str(r["pool"])) % len(POOL_STYLES)]
        ax.barh(
            y,
            width,
            left=x0,
            height=0.35 + 0.5 * int(r["agents"]) / biggest,
            color=colour,
            hatch=hatch,
            edgecolor="#2d3748",
            lw=0.4,
        )
        tag = " (fixed)" if r.get("fixed") else ""
        ax.text(x0 + width, y, f" {int(r['agents'])}{tag}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(
        [plain(f"{r['pool']} {str(r['start'])[5:16].replace('T', ' ')}") for r in rows],
        fontsize=7,
    )
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first shift on top, no empty margins
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    shown = [p for p in pools if any(str(r["pool"]) == p for r in rows)]
    handles = [
        Rectangle((0, 0), 1, 1, facecolor=c, hatch=h, edgecolor="#2d3748")
        for c, h in (POOL_STYLES[pools.index(p) % len(POOL_STYLES)] for p in shown)
    ]
    ax.legend(
        handles, [plain(p) for p in shown], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
    )
    ax.set_xlabel("local time (bar = shift; thickness and label = agents on it)")
    ax.set_title(_title(run, "Staffing plan: shifts"), fontsize=10)
    fig.tight_layout()
    return fig


def _frontier_doc(run: RunData) -> dict[str, Any] | None:
    doc = run.plan.plan.get("frontier") if run.plan is not None else None
    return doc if isinstance(doc, dict) and doc.get("scan") else None


@with_script_fonts
def plan_frontier(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """``plan --frontier``: cost against required confidence, and against chats per agent."""
    run = _run(run, ev)
    doc = _frontier_doc(run)
    if doc is None:
        return None
    cur = run.summary.get("currency", "")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    # Left: every scanned plan at the scenario's concurrency (cost vs its share of runs
    # keeping every target, with the 95% interval), and the frontier as steps.
    scan = [r for r in doc["scan"] if r["chats"] in ("", None) and r["runs"]]
    if scan:
        share = np.array([float(r["p_all_met"]) for r in scan])
        cost = np.array([float(r["cost"]) for r in scan])
        err = np.array(
            [
                share - [float(r["low_95"]) for r in scan],
                [float(r["high_95"]) for r in scan] - share,
            ]
        )
        left.errorbar(
            share, cost, xerr=err, fmt="o", color="#a0aec0", ms=4, lw=0.8, label="scanned plans"
        )
    picked = [(c["level"], c["plan"]) for c in doc["confidence"] if c["plan"] is not None]
    if picked:
        left.step(
            [lv for lv, _ in picked],
            [float(p["cost"]) for _, p in picked],
            where="post",
            color="#2b6cb0",
            marker="s",
            label="cheapest plan at each confidence",
        )
    left.axvline(float(doc["required"]), color="#c53030", ls="--", lw=1, label="required")
    left.set_xlabel(f"share of runs keeping every target ({doc['runs_per_plan']} runs each)")
    left.set_ylabel(f"cost ({cur})")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8, loc="upper left")
    rows = [(c["chats"], c["plan"]) for c in doc["chats"] if c["plan"] is not None]
    if rows:
        chats = [m for m, _ in rows]
        right.bar(chats, [float(p["cost"]) for _, p in rows], color="#90cdf4", label="cost")
        right.set_xlabel("chats per agent (every planned pool)")
        right.set_ylabel(f"cost ({cur})")
        twin = right.twinx()
        twin.plot(
            chats, [p["headcount"] for _, p in rows], "o-", color="#2d3748", label="agent-shifts"
        )
        twin.plot(
            chats, [p["subaccounts"] for _, p in rows], "s--", color="#dd6b20", label="sub-accounts"
        )
        twin.set_ylabel("agent-shifts, sub-accounts")
        twin.set_ylim(bottom=0)
        twin.legend(fontsize=8, loc="upper right")
        right.set_xticks(chats)
    else:
        right.text(0.5, 0.5, "no chats table", ha="center", va="center", transform=right.transAxes)
    right.set_title(
        f"cheapest plan keeping every target in {float(doc['required']):.0%}", fontsize=9
    )
    fig.suptitle(
        _title(run, "Trade-offs: cost against confidence and chats per agent"), fontsize=10
    )
    fig.tight_layout()
    return fig


@with_script_fonts
def clients(run: RunLike, ev: Evaluation | None = None) -> Figure | None:
    """A centre's clients: revenue against allocated cost and penalties, and P(all met)."""
    run = _run(run, ev)
    rows = run.summary.get("clients")
    if not rows:
        return None
    names = [str(c["client"]) for c in rows]
    cur = run.summary.get("currency", "")

    def mean(c: dict[str, Any], key: str) -> float:
        return float(as_float(c[key]["mean"]))

    cost = np.array([mean(c, "cost") for c in rows])
    pen = np.array([mean(c, "penalties") for c in rows])
    rev = np.array([mean(c, "revenue") for c in rows])
    margin = rev - cost - pen
    fig = plt.figure(figsize=(11, 4.2))
    ax = _axes(fig, 121)
    x = np.arange(len(names))
    ax.bar(x - 0.2, rev, 0.4, color=GREEN, label="revenue")
    ax.bar(x + 0.2, cost, 0.4, color=BLUE, label="cost allocated")
    ax.bar(x + 0.2, pen, 0.4, bottom=cost, color=RED, hatch="//", label="penalties")
    for i, m in enumerate(margin):
        ax.annotate(
            f"{m:+,.0f}",
            (x[i], max(rev[i], cost[i] + pen[i])),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(x, names)
    ax.set_ylabel(f"{cur} over the horizon (mean of runs)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Revenue, cost and penalties by client (margin on top)", fontsize=10)
    ax2 = _axes(fig, 122)
    p = np.array([as_float(c.get("p_all_targets_met")) for c in rows], dtype=np.float64)
    lo = np.array([as_float(c.get("p_low")) for c in rows], dtype=np.float64)
    hi = np.array([as_float(c.get("p_high")) for c in rows], dtype=np.float64)
    ok = np.isfinite(p)
    ax2.errorbar(
        x[ok],
        p[ok],
        yerr=[p[ok] - lo[ok], hi[ok] - p[ok]],
        fmt="o",
        color=BLUE,
        capsize=4,
        label="P(all its targets met), 95% interval",
    )
    need = run.summary.get("required_confidence")
    if need is not None:
        ax2.axhline(float(need), color=RED, ls="--", lw=1.0, label=f"required {float(need):.0%}")
    ax2.set_xticks(x, names)
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share of runs")
    ax2.legend(fontsize=8, loc="lower left")
    ax2.set_title("Each client's targets", fontsize=10)
    fig.suptitle(_title(run, "Clients of the centre"), fontsize=10)
    return fig


FIGURES: dict[str, Callable[[RunData], Figure | None]] = {
    "demand-capacity": demand_and_capacity,
    "backlog": backlog,
    "first-response": first_response,
    "erlang-intervals": erlang_intervals,
    "targets": targets,
    "subaccounts": subaccounts,
    "conversions-lost": conversions_lost,
    "plan-pools": plan_pools,
    "plan-shifts": plan_shifts,
    "plan-frontier": plan_frontier,
    "clients": clients,
}

#: What each figure shows, for the report.
CAPTIONS = {
    "demand-capacity": "Conversations arriving per interval (bars) against chat slots and "
    "agents online and the slots in use (lines).",
    "backlog": "Buyer messages waiting for a reply and conversations waiting for an agent; "
    "the shaded band is the range over the runs.",
    "first-response": "Time to the first human reply of conversations arriving in each "
    "interval (mean, median to 95th percentile, 90th percentile), with 3-minute and 30-second "
    "reference lines; below, the share served within 3 minutes.",
    "erlang-intervals": "P(delay), the service level and ASA of the human conversations "
    "arriving in each interval, as Erlang tools define them (the wait runs until an agent "
    "takes the chat; `peakdesk erlang --intervals` puts the formula beside them): the mean "
    "over runs with its 95% interval.",
    "targets": "Each marketplace metric: that day's own value (bars) and the platform's "
    "rolling value at day end (line) against its bound.",
    "subaccounts": "Agents logged in, each holding one chat sub-account, against the "
    "sub-accounts held.",
    "conversions-lost": "Buyers who would have bought with an immediate reply but did not, "
    "by the interval they arrived in, and accumulated.",
    "plan-pools": "The plan's agents online by pool (stacked) against the requirement found "
    "by the search.",
    "plan-shifts": "The plan's shifts: one bar per shift start and length, with the number "
    "of agents on it.",
    "clients": "A centre's clients: revenue against the labour cost allocated to each by "
    "its agents' writing time, with the penalties of missed targets on top (margin "
    "above the bars); right, each client's P(all its targets met) against the required "
    "confidence.",
    "plan-frontier": "plan --frontier: each scanned plan's cost against its share of runs "
    "keeping every target (95% intervals) and the cheapest plan at each required "
    "confidence; right, the cheapest plan at the required confidence by chats per agent.",
}


def draw_figures(run: RunData) -> dict[str, Figure]:
    """Every figure that applies to the run, by name (the caller closes them)."""
    out = {}
    for name, make in FIGURES.items():
        fig = make(run)
        if fig is not None:
            out[name] = fig
    return out


@with_script_fonts
def save_figures(
    figures: dict[str, Figure], out_dir: Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Write drawn figures as ``<name>.png`` and ``.svg`` into ``out_dir`` (atomically).

    Returns
    -------
    list of Path
        The files written.
    """
    written = []
    for name, fig in figures.items():
        for ext in formats:
            path = out_dir / f"{name}.{ext}"
            with atomic_write(path, "wb") as fh:
                fig.savefig(fh, format=ext, dpi=130, bbox_inches="tight")
            written.append(path)
    return written


def write_figures(
    run: RunLike, ev: Evaluation | None, out_dir: Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Draw every figure that applies and write it as PNG and SVG into ``out_dir``.

    Returns
    -------
    list of Path
        The files written.
    """
    figures = draw_figures(_run(run, ev))
    try:
        return save_figures(figures, out_dir, formats)
    finally:
        for fig in figures.values():
            plt.close(fig)
