"""``peakdesk report``: the HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    fail,
    output_errors,
)
from peakdesk.cli.run_dir import figures_and_report


@main.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the report (default: RUN_DIR/report.html).",
)
@click.option("--figures", is_flag=True, help="Also write the figures (PNG and SVG) into RUN_DIR.")
def report_cmd(run_dir: str, output: str | None, figures: bool) -> None:
    """Write the HTML report of a run directory (from simulate --out or plan --out).

    One self-contained file: figures embedded, targets with how sure we are,
    the plan and its cost, KPIs per pool and agent, the assumptions, and the
    scenario as run.
    """
    from peakdesk.report.html import write_report
    from peakdesk.report.rundata import RunData, RunDirError

    try:
        data = RunData.from_dir(Path(run_dir))
    except RunDirError as exc:
        fail(str(exc))
    path = Path(output) if output else Path(run_dir) / "report.html"
    with output_errors():
        if figures:
            figures_and_report(data, Path(run_dir), path, report=True)
        else:
            write_report(data, path)
    click.echo(f"report: {path}")


__all__ = ["main"]
