"""``peakdesk compare``: strategies side by side on the same buyers, ``--set`` sweeps."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from peakdesk import __version__
from peakdesk.cli.app import main
from peakdesk.cli.common import (
    DASK_OPTION,
    ENGINE_OPTION,
    SIZE_LIMIT_OPTION,
    WORKERS_OPTION,
    fail,
    input_errors,
    load_checked,
    output_errors,
    progress_bar,
)
from peakdesk.output import json_safe, write_csv, write_json
from peakdesk.scenario import LoadedScenario
from peakdesk.scenario.schema import MAX_REPLICATIONS


@main.command("compare")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PATH=V1,V2,...",
    help="Vary a field, e.g. pools.general.max_concurrency=3,4,5 or demand.multiplier=0.8,1,1.2;"
    " several --set make a grid.",
)
@click.option(
    "--with-base",
    is_flag=True,
    help="With --set: also run each file as written, first (the baseline).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Base seed for every variant."
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1, max=MAX_REPLICATIONS),
    default=None,
    help="Replications of every variant (default: the first scenario's).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the tables (CSV, JSON) and the overlay figures here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the tidy table as JSON on stdout.")
@WORKERS_OPTION
@ENGINE_OPTION
@DASK_OPTION
@SIZE_LIMIT_OPTION
def compare_cmd(
    scenarios: tuple[str, ...],
    sets: tuple[str, ...],
    with_base: bool,
    seed: int | None,
    replications: int | None,
    out_dir: str | None,
    as_json: bool,
    workers: int,
    engine: str | None,
    dask: str | None,
    no_size_limit: bool,
) -> None:
    """Compare staffing strategies side by side, on the same simulated buyers.

    Give several scenario files, or one (or more) with --set sweeps.  Every
    variant runs on the same seed and replications (common random numbers),
    so differences are the strategies', not luck; the first variant is the
    baseline of the paired differences.  Prints one table: cost, each
    target's probability of being met, conversions lost, peak backlog.
    """
    from peakdesk.experiment.checks import check_runnable
    from peakdesk.experiment.compare import compare, variants_from_sets
    from peakdesk.scenario.overrides import SetSyntaxError

    variants: list[tuple[str, LoadedScenario]] = []
    with input_errors():
        try:
            for path in scenarios:
                # checked whole, like any scenario
                loaded = load_checked(path, size_limit=not no_size_limit, engine=engine)
                if sets:
                    many = variants_from_sets(loaded, list(sets), include_base=with_base)
                    for _, v in many:
                        # a --set value only a run would refuse: before any run
                        check_runnable(v, size_limit=not no_size_limit)
                    prefix = f"{Path(path).stem}: " if len(scenarios) > 1 else ""
                    variants += [(prefix + label, v) for label, v in many]
                else:
                    variants.append((Path(path).stem, loaded))
        except SetSyntaxError as exc:
            fail(str(exc))
    labels = [label for label, _ in variants]
    if len(set(labels)) < len(labels):
        variants = [(f"{k + 1}. {label}", v) for k, (label, v) in enumerate(variants)]
    if len(variants) < 2:
        fail(
            "nothing to compare: give two or more scenario files, or --set PATH=V1,V2, "
            "or one --set with --with-base to set it beside the scenario as written"
        )
    from peakdesk.experiment.checks import scenario_warnings

    for label, v in variants:
        for warning in scenario_warnings(v):
            click.echo(f"warning: {label}: {warning}", err=True)
    update, close = progress_bar(f"comparing {len(variants)} variants")
    t0 = time.perf_counter()
    try:
        with input_errors():
            cmp = compare(
                variants,
                seed=seed,
                replications=replications,
                workers=workers,
                dask=dask,
                progress=update,
            )
    finally:
        close()
    seconds = time.perf_counter() - t0
    if out_dir is not None:
        with output_errors():
            _write_comparison(Path(out_dir), cmp)
    if as_json:
        click.echo(json.dumps(json_safe(cmp.table()), indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(variants)} variants ({seconds:.1f} s)")
    click.echo(cmp.format())
    if out_dir is not None:
        click.echo(f"wrote the tables and figures to {out_dir}/")


def _write_comparison(out: Path, cmp: Any) -> None:
    """A comparison's tables (CSV, JSON) and overlay figures."""
    from peakdesk.report.compare_figures import write_compare_figures

    for name, rows in (
        ("compare.csv", cmp.table()),
        ("compare-wide.csv", cmp.wide()),
        ("compare-differences.csv", cmp.differences(targets=True)),
    ):
        if rows:
            write_csv(out / name, {k: np.asarray([r[k] for r in rows]) for k in rows[0]})
    write_json(
        out / "compare.json",
        {
            "peakdesk_version": __version__,
            "seed": cmp.seed,
            "replications": len(cmp.replication_numbers),
            "variants": [
                {"label": v.label, "scenario_file": str(v.loaded.path)} for v in cmp.variants
            ],
            "table": cmp.table(),
            "differences": cmp.differences(targets=True),
        },
    )
    write_compare_figures(cmp, out)
