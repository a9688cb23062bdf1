"""Figures of a strategy comparison (matplotlib, PNG and SVG), readable when printed.

* ``compare-summary``: one panel per measure (cost, each target's probability
  of being met, all targets at once, conversions lost, peak backlog), one row
  per variant with its confidence interval, the baseline's value as a dotted
  line and the scenario's required confidence on the probability panels.
* ``compare-backlog``: the backlog of unanswered messages over time, mean per
  interval over replications, one line per variant (colour, line style and
  marker differ, so the lines stay apart in grey).

Titles name the scenario(s), seed, replications and peakdesk version.  Chinese
and Thai text is drawn as in :mod:`peakdesk.report.figures` (:mod:`peakdesk.report.fonts`).
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.dates as _mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from peakdesk import __version__
from peakdesk.engine.intervals import mean_over_runs
from peakdesk.experiment.compare import ALL_TARGETS, Comparison, interval_stack
from peakdesk.output import atomic_write
from peakdesk.report.figures import plain
from peakdesk.report.fonts import with_script_fonts

# matplotlib.dates has no annotations (mypy's strict mode refuses untyped calls).
mdates: Any = _mdates

# Okabe-Ito (colour-blind safe), with line styles and markers that differ in grey too.
_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 1)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _title(comp: Comparison, what: str) -> str:
    names = list(dict.fromkeys(v.loaded.spec.scenario.name for v in comp.variants))
    shown = ", ".join(names) if len(", ".join(names)) <= 60 else f"{names[0]} + {len(names) - 1}"
    n = len(comp.replication_numbers)
    k = len(comp.variants)
    return (
        f"{what}\n{plain(shown)} · {k} variant{'s' * (k != 1)} · seed {comp.seed} · {n} replication"
        f"{'s' * (n != 1)} each, the same for all (common random numbers) · peakdesk {__version__}"
    )


def wrap_label(label: str, width: int = 32) -> str:
    """A variant label on several lines: one setting per line, long ones broken after a dot.

    ``"pools.general.max_concurrency=4, demand.multiplier=1.2"`` becomes two
    lines; a setting longer than ``width`` breaks between path steps, so its
    value stays with its key.
    """
    lines: list[str] = []
    for part in label.split(", "):
        if len(part) <= width:
            lines.append(part)
            continue
        path, eq, value = part.partition("=")
        steps = [f"{s}." for s in path.split(".")]
        steps[-1] = steps[-1][:-1] + eq + value
        line = ""
        for step in steps:
            if line and len(line) + len(step) > width:
                lines.append(line)
                line = ""
            line += step
        lines += textwrap.wrap(line, width, break_on_hyphens=False) or [""]
    return plain("\n".join(lines))


def _panels(comp: Comparison) -> list[tuple[str, str, bool]]:
    """(measure, panel title, is a probability) in drawing order."""
    currency = comp.baseline.loaded.spec.scenario.currency
    out = [("total_cost", f"Total cost ({currency})", False)]
    texts = comp.target_texts()
    out += [(t, f"P(met): {t}", True) for t in texts]
    if texts:
        out.append((ALL_TARGETS, "P(every target met)", True))
    out += [
        ("conversions_lost", "Conversions lost (buyers)", False),
        ("peak_backlog", "Peak backlog (unanswered messages)", False),
    ]
    return out


@with_script_fonts
def summary(comp: Comparison) -> Figure:
    """Cost, targets' probabilities, conversions lost and peak backlog, per variant."""
    rows = comp.table()
    labels = comp.labels
    wrapped = [wrap_label(s) for s in labels]
    lines = max(w.count("\n") + 1 for w in wrapped)
    panels = _panels(comp)
    ncols = 3 if len(panels) > 4 else 2
    nrows = math.ceil(len(panels) / ncols)
    per_variant = max(0.32, 0.2 * lines + 0.1)
    height = nrows * (len(labels) * per_variant + 1.3) + 1.0
    label_w = 0.075 * max(len(s) for w in wrapped for s in w.split("\n"))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(4.0 * ncols + label_w, height),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(labels))
    required = comp.baseline.loaded.spec.targets.confidence
    for k, (measure, title, prob) in enumerate(panels):
        ax: Axes = axes[k // ncols][k % ncols]
        by = {r["variant"]: r for r in rows if r["measure"] == measure}
        scale = 100.0 if prob else 1.0
        mean = np.array([by[s]["mean"] if s in by else np.nan for s in labels]) * scale
        low = np.array([by[s]["low"] if s in by else np.nan for s in labels]) * scale
        high = np.array([by[s]["high"] if s in by else np.nan for s in labels]) * scale
        err = np.vstack(
            [np.where(np.isnan(low), 0.0, mean - low), np.where(np.isnan(high), 0.0, high - mean)]
        )
        err = np.nan_to_num(np.maximum(err, 0.0))
        ax.errorbar(
            mean,
            y,
            xerr=err,
            fmt="none",
            ecolor="#4a5568",
            elinewidth=1.4,
            capsize=4,
        )
        ax.plot(mean[1:], y[1:], "o", color="#1a202c", ms=6, zorder=3, ls="none")
        ax.plot(mean[:1], y[:1], "s", color="#1a202c", mfc="white", mew=1.6, ms=7, zorder=3)
        if not np.isnan(mean[0]):
            ax.axvline(mean[0], color="#718096", ls=":", lw=1.0)
        if prob:
            ax.axvline(required * 100, color="#9b2c2c", ls="--", lw=1.2)
            ax.set_xlim(-4, 104)
            ax.set_xlabel("% of replications")
        else:
            unit = str(next(iter(by.values()))["unit"]) if by else ""
            ax.set_xlabel(unit)
            finite = np.concatenate([mean, low, high])
            finite = finite[np.isfinite(finite)]
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                pad = 0.08 * (hi - lo) if hi > lo else max(1.0, 0.05 * abs(hi))
                ax.set_xlim(lo - pad, hi + pad)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        for yy, m in zip(y, mean, strict=True):
            if np.isfinite(m):
                text = f"{m:.0f}%" if prob else _short(m)
                ax.annotate(
                    text,
                    (m, yy),
                    xytext=(0, 7),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7.5,
                    color="#1a202c",
                )
        ax.set_title(textwrap.fill(title, 44), fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_ylim(len(labels) - 0.4, -0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(wrapped, fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    pct = f"{comp.confidence:.0%}"
    handles = [
        Line2D([], [], marker="s", color="#1a202c", mfc="white", mew=1.6, ls="none"),
        Line2D([], [], marker="o", color="#1a202c", ls="none"),
        Line2D([], [], color="#4a5568", lw=1.4, marker="|", ms=8),
        Line2D([], [], color="#718096", ls=":", lw=1.0),
    ]
    names = [
        "baseline (first variant), mean over replications",
        "other variants",
        f"{pct} interval: Student-t (cost, counts), Wilson (P)",
        "baseline's value",
    ]
    if any(prob for _, _, prob in panels):
        handles.append(Line2D([], [], color="#9b2c2c", ls="--", lw=1.2))
        names.append(f"required P(every target met) = {required:.0%} (targets.confidence)")
    fig.suptitle(_title(comp, "Strategy comparison"), fontsize=10)
    foot = 0.2 + 0.2 * math.ceil(len(names) / 3)
    fig.tight_layout(rect=(0, foot / height, 1, 1 - 0.15 / height))
    fig.legend(
        handles,
        names,
        loc="lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )
    return fig


@with_script_fonts
def backlog(comp: Comparison) -> Figure:
    """Backlog of unanswered buyer messages over time, one line per variant."""
    fig = plt.figure(figsize=(11, 5))
    ax = fig.add_subplot(1, 1, 1)
    for k, v in enumerate(comp.variants):
        start, step, table = interval_stack(v, "backlog")
        mean = mean_over_runs(table)
        # Naive local times (matplotlib would otherwise draw them in UTC), stepped in
        # UTC so that a daylight-saving change does not shift the rest of the axis.
        t0, zone = start.astimezone(dt.UTC), start.tzinfo
        every = max(1, mean.size // 14)
        times = mdates.date2num(
            [
                (t0 + dt.timedelta(seconds=j * step)).astimezone(zone).replace(tzinfo=None)
                for j in range(mean.size)
            ]
        )
        ax.plot(
            times,
            mean,
            color=_COLOURS[k % len(_COLOURS)],
            ls=_STYLES[k % len(_STYLES)],
            marker=_MARKERS[k % len(_MARKERS)],
            markevery=(k * every // len(comp.variants), every),
            ms=5,
            mfc="white" if k == 0 else _COLOURS[k % len(_COLOURS)],
            lw=1.6 if k == 0 else 1.2,
            label=wrap_label(v.label, 60)
            + (" (baseline)" if k == 0 and "base" not in v.label.lower() else ""),
        )
    ax.grid(True, alpha=0.3)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    fig.autofmt_xdate()
    ax.set_ylim(bottom=0)
    ax.set_ylabel("unanswered buyer messages\n(time-weighted mean in the interval)")
    tz = comp.baseline.loaded.spec.calendar.timezone
    ax.set_xlabel(f"local time ({tz}); mean over replications")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(_title(comp, "Backlog over time"), fontsize=10)
    return fig


def _thousands(x: float, _pos: int) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}"


def _short(x: float) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


FIGURES = {"compare-summary": summary, "compare-backlog": backlog}


@with_script_fonts
def write_compare_figures(comparison: Comparison, out_dir: Path) -> list[Path]:
    """Write the comparison figures as PNG and SVG into ``out_dir`` (atomically).

    Returns
    -------
    list of Path
        The files written.
    """
    written = []
    for name, make in FIGURES.items():
        fig = make(comparison)
        try:
            for ext in ("png", "svg"):
                path = Path(out_dir) / f"{name}.{ext}"
                with atomic_write(path, "wb") as fh:
                    fig.savefig(fh, format=ext, dpi=130, bbox_inches="tight")
                written.append(path)
        finally:
            plt.close(fig)
    return written
