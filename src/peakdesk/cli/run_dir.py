"""Run directories: what ``simulate --out`` and ``plan --out`` write, figures and report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from peakdesk.scenario import LoadedScenario

if TYPE_CHECKING:  # the simulator pulls in scipy.stats: import it only when simulating
    from peakdesk.experiment.replicate import Evaluation


def write_run(
    out: Path,
    loaded: LoadedScenario,
    ev: Evaluation,
    plan: Any,
    figures: bool,
    report: bool,
) -> list[Path]:
    """The run directory, and its figures and report when asked for."""
    from peakdesk.report.run_files import staged_run_dir
    from peakdesk.report.rundata import RunData, write_run_dir

    plan_obj, plan_doc = plan if plan is not None else (None, None)
    # Written whole beside `out`, then moved in: an interrupted run leaves the
    # previous complete run, or this one (peakdesk.report.run_files).
    with staged_run_dir(out) as stage:
        written = write_run_dir(stage, loaded, ev, plan_obj, plan_doc)
        if figures or report:
            # Read back, as `peakdesk report` would: the report is the directory's.
            data = RunData.from_dir(stage)
            written += figures_and_report(data, stage, stage / "report.html", report)
    return [out / p.name for p in written]


def write_plan_only(out: Path, plan_doc: dict[str, Any]) -> list[Path]:
    """A run directory holding only ``plan.json`` (an infeasible plan: nothing was run)."""
    from peakdesk.output import write_json
    from peakdesk.report.run_files import PLAN_FILE, staged_run_dir

    with staged_run_dir(out) as stage:
        write_json(stage / PLAN_FILE, plan_doc)
    return [out / PLAN_FILE]


def figures_and_report(data: Any, fig_dir: Path, report_path: Path, report: bool) -> list[Path]:
    """Draw the figures once: write them into ``fig_dir``, and the report if asked."""
    import matplotlib.pyplot as plt

    from peakdesk.report.figures import draw_figures, save_figures
    from peakdesk.report.html import write_report

    drawn = draw_figures(data)
    try:
        written = save_figures(drawn, fig_dir)
        if report:
            written.append(write_report(data, report_path, drawn))
    finally:
        for fig in drawn.values():
            plt.close(fig)
    return written
