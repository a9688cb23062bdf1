"""Command line: a thin click layer over the public API.

Bad input (a scenario that does not validate, a missing or malformed forecast
file) prints what is wrong and where, and exits with code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from peakdesk import __version__
from peakdesk.demand.forecast_csv import ForecastError
from peakdesk.experiment.checks import scenario_warnings
from peakdesk.output import json_safe, write_csv, write_json
from peakdesk.report.text import SUMMARY_ROWS, fmt, verdict
from peakdesk.rules.history import HistoryError
from peakdesk.scenario import LoadedScenario, ScenarioError, json_schema, load_scenario
from peakdesk.units import error_text, format_duration

if TYPE_CHECKING:  # the simulator pulls in scipy.stats: import it only when simulating
    from peakdesk.experiment.replicate import Evaluation

EXIT_BAD_INPUT = 2

# Figures are written to files, never shown: no display needed on servers and in CI.
# (Set here, not in the plotting modules, so notebooks keep their inline backend.)
os.environ.setdefault("MPLBACKEND", "Agg")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def _input_errors() -> Iterator[None]:
    """Turn input errors into a message and exit code 2."""
    try:
        yield
    except ScenarioError as exc:
        _fail(str(exc))
    except ForecastError as exc:
        _fail(str(exc))
    except HistoryError as exc:
        _fail(str(exc))


@contextmanager
def _output_errors() -> Iterator[None]:
    """A place that cannot be written (no such folder, a file in the way, no permission)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or "the output"
        _fail(f"cannot write {where}: {exc.strerror or exc}")


def _load(path: str) -> LoadedScenario:
    """Load, validate and check that a scenario can run (exit 2 otherwise)."""
    from peakdesk.experiment.checks import check_runnable

    with _input_errors():
        loaded = load_scenario(path)
        check_runnable(loaded)
        return loaded
    raise AssertionError("unreachable")  # pragma: no cover


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peakdesk")
def main() -> None:
    """peakdesk: plan chat customer-service staffing through peak events (Double-11)."""


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
def validate(scenario: str) -> None:
    """Check a scenario file; exit 2 with the field path of every problem."""
    loaded = _load(scenario)
    spec = loaded.spec
    heads = sum(p.headcount for p in spec.pools)
    click.echo(
        f"{scenario}: ok — {spec.scenario.name}: "
        f"{_count(len(spec.inquiry_types), 'inquiry type')}, {_count(len(spec.pools), 'pool')}, "
        f"{_count(heads, 'agent')} scheduled, {_count(spec.subaccounts.count, 'sub-account')}, "
        f"horizon {format_duration(spec.calendar.horizon)}"
    )
    for warning in scenario_warnings(loaded):
        click.echo(f"warning: {warning}", err=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    click.echo(json.dumps(json_schema(), indent=2))


def _summary_table(ev: Evaluation, currency: str) -> list[str]:
    est = ev.estimates()
    n = len(ev.replications)
    lines = []
    head = f"{'':32s} {'mean':>12s}"
    if n > 1:
        head += f"   {'95% CI':>23s}"
    lines.append(head)
    for key, label, unit in SUMMARY_ROWS:
        e = est[key]
        row = f"{label:32s} {fmt(e.mean, unit):>12s}"
        if n > 1 and e.low == e.low:
            row += f"   [{fmt(e.low, unit):>9s}, {fmt(e.high, unit):>9s}]"
        if unit.startswith("$"):
            row += f"  {currency}"
        lines.append(row)
    return lines


#: Pool KPIs shown in the terminal (all of them are in pools.csv and the report).
_POOL_ROWS = (
    ("conversations", "conversations received", "n"),
    ("replies", "replies sent", "n"),
    ("response_mean_s", "response time, mean", "s"),
    ("response_p95_s", "response time, p95", "s"),
    ("occupancy", "occupancy", "%"),
    ("conversions_lost", "conversions lost", "n"),
    ("conversations_per_online_hour", "conversations per online hour", "x"),
)


def _pools_table(ev: Evaluation) -> list[str]:
    """The pools side by side: the KPIs a CS manager reads first (mean over runs)."""
    records = ev.pool_kpis()
    if not records:
        return []
    pools = list(dict.fromkeys(str(r["pool"]) for r in records))
    by = {(str(r["pool"]), str(r["measure"])): r["mean"] for r in records}
    lines = ["", f"{'per pool (mean over runs)':32s}" + "".join(f"{p[:12]:>13s}" for p in pools)]
    for key, label, unit in _POOL_ROWS:
        cells = [fmt(by.get((p, key), float("nan")), unit) for p in pools]
        lines.append(f"{label:32s}" + "".join(f"{c:>13s}" for c in cells))
    return lines


def _fmt_metric(value: float, unit: str) -> str:
    """A metric value: a share as a percentage, otherwise a duration."""
    if value != value:
        return "n/a"
    return fmt(value, "%") if unit == "share" else fmt(value, "s")


def _targets_table(ev: Evaluation, required: float) -> list[str]:
    """Targets: P(met) with its interval, the worst day, and the rolling value day by day."""
    summaries = ev.targets()
    if not summaries:
        return []
    n = len(ev.replications)
    lines = ["", f"targets over {n} replication{'s' * (n > 1)} (required P(met) >= {required:.0%})"]
    for t in summaries:
        fails = [d for d in t.first_failing_days if d]
        verdict_text = verdict(t.p_met, t.p_low, t.p_high, required)
        worst = _fmt_metric(t.worst_mean, t.unit)
        lines.append(
            f"  {t.target.text:38s} P(met) {t.p_met:5.0%} [{t.p_low:.0%}, {t.p_high:.0%}]"
            f"  worst day {worst:>8s}  {verdict_text}"
        )
        if fails:
            lines.append(f"    first day below: {min(fails)} (in {len(fails)} of {n} runs)")
    lines.append("")
    days = sorted({d for t in summaries for d in t.days})
    head = "  rolling value at day end      " + "".join(f"{d[5:]:>8s}" for d in days)
    lines.append(head)
    for t in summaries:
        vals = [t.rolling_mean[t.days.index(d)] if d in t.days else float("nan") for d in days]
        lines.append(
            f"  {t.target.metric[:28]:28s}  "
            + "".join(f"{_fmt_metric(v, t.unit):>8s}" for v in vals)
        )
    p_all = ev.p_all_targets_met
    lines.append(f"  all targets met together in {p_all:.0%} of runs")
    return lines


def _progress_bar(total_label: str) -> tuple[Callable[[float], None], Callable[[], None]]:
    """A click progress bar on stderr driven by a 0..1 share; silent when not a terminal."""
    if not sys.stderr.isatty():
        return (lambda _f: None), (lambda: None)
    bar = click.progressbar(length=1000, label=total_label, file=sys.stderr, show_eta=True)
    bar.__enter__()
    state = {"done": 0}

    def update(frac: float) -> None:
        target = int(frac * 1000)
        if target > state["done"]:
            bar.update(target - state["done"])
            state["done"] = target

    def close() -> None:
        bar.__exit__(None, None, None)

    return update, close


WORKERS_OPTION = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="all cores",
    help="Worker processes for replications; results are identical for any number.",
)


DASK_OPTION = click.option(
    "--dask",
    "dask",
    default=None,
    metavar="ADDRESS",
    help="Run the simulations on a Dask scheduler (e.g. tcp://10.0.0.5:8786); same results.",
)


@main.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Base seed (default: the scenario's)."
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1),
    default=None,
    help="Replications (default: the scenario's).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the message log (import format), conversations, intervals and summary here.",
)
@click.option(
    "--all-logs",
    is_flag=True,
    help="Write the message log of every replication (default: the first only).",
)
@click.option("--figures", is_flag=True, help="Also write figures (PNG and SVG) into --out DIR.")
@click.option(
    "--report",
    "report",
    is_flag=True,
    help="Also write figures and the HTML report (report.html) into --out DIR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@WORKERS_OPTION
@DASK_OPTION
def simulate_cmd(
    scenario: str,
    seed: int | None,
    replications: int | None,
    out_dir: str | None,
    all_logs: bool,
    as_json: bool,
    workers: int,
    dask: str | None,
    figures: bool,
    report: bool,
) -> None:
    """Simulate a scenario and print a summary (mean and 95% CI over replications)."""
    from peakdesk.experiment.replicate import simulate

    if (all_logs or figures or report) and out_dir is None:
        _fail("--all-logs, --figures and --report write into --out DIR; give --out")
    loaded = _load(scenario)
    update, close = _progress_bar("simulating")
    t0 = time.perf_counter()
    try:
        with _input_errors():
            ev = simulate(
                loaded,
                seed=seed,
                replications=replications,
                keep_logs=True if all_logs else (1 if out_dir else 0),
                progress=update,
                workers=workers,
                dask=dask,
            )
    finally:
        close()
    seconds = time.perf_counter() - t0
    if out_dir is not None:
        with _output_errors():
            written = _write_run(Path(out_dir), loaded, ev, None, figures, report)
    if as_json:
        from peakdesk.report.rundata import summary_json

        click.echo(json.dumps(json_safe(summary_json(loaded, ev)), indent=2))
        return
    spec = loaded.spec
    n_rep = len(ev.replications)
    click.echo(
        f"{spec.scenario.name}: seed {ev.seed}, {n_rep} replication{'s' * (n_rep > 1)}, "
        f"{time.strftime('%H:%M:%S')} ({seconds:.1f} s)"
    )
    for line in _summary_table(ev, spec.scenario.currency):
        click.echo(line)
    click.echo("* first human reply within the time and before the buyer left")
    for line in _pools_table(ev):
        click.echo(line)
    for line in _targets_table(ev, spec.targets.confidence):
        click.echo(line)
    if out_dir is not None:
        click.echo(f"wrote {_count(len(written), 'file')} to {out_dir}/")
        if report:
            click.echo(f"report: {Path(out_dir) / 'report.html'}")


def _write_run(
    out: Path,
    loaded: LoadedScenario,
    ev: Evaluation,
    plan: Any,
    figures: bool,
    report: bool,
) -> list[Path]:
    """The run directory, and its figures and report when asked for."""
    from peakdesk.report.rundata import RunData, write_run_dir

    plan_obj, plan_doc = plan if plan is not None else (None, None)
    written = write_run_dir(out, loaded, ev, plan_obj, plan_doc)
    if figures or report:
        # Read back, as `peakdesk report` would: the report is the directory's.
        written += _figures_and_report(RunData.from_dir(out), out, out / "report.html", report)
    return written


def _figures_and_report(data: Any, fig_dir: Path, report_path: Path, report: bool) -> list[Path]:
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
    type=click.IntRange(min=1),
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
@DASK_OPTION
def compare_cmd(
    scenarios: tuple[str, ...],
    sets: tuple[str, ...],
    with_base: bool,
    seed: int | None,
    replications: int | None,
    out_dir: str | None,
    as_json: bool,
    workers: int,
    dask: str | None,
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
    with _input_errors():
        try:
            for path in scenarios:
                loaded = _load(path)  # checked whole, like any scenario
                if sets:
                    many = variants_from_sets(loaded, list(sets), include_base=with_base)
                    for _, v in many:
                        # a --set value only a run would refuse: before any run
                        check_runnable(v)
                    prefix = f"{Path(path).stem}: " if len(scenarios) > 1 else ""
                    variants += [(prefix + label, v) for label, v in many]
                else:
                    variants.append((Path(path).stem, loaded))
        except SetSyntaxError as exc:
            _fail(str(exc))
    labels = [label for label, _ in variants]
    if len(set(labels)) < len(labels):
        variants = [(f"{k + 1}. {label}", v) for k, (label, v) in enumerate(variants)]
    if len(variants) < 2:
        _fail("nothing to compare: give two or more scenario files, or --set PATH=V1,V2")
    for label, v in variants:
        for warning in scenario_warnings(v):
            click.echo(f"warning: {label}: {warning}", err=True)
    update, close = _progress_bar(f"comparing {len(variants)} variants")
    t0 = time.perf_counter()
    try:
        with _input_errors():
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
        with _output_errors():
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
        _fail(str(exc))
    path = Path(output) if output else Path(run_dir) / "report.html"
    with _output_errors():
        if figures:
            _figures_and_report(data, Path(run_dir), path, report=True)
        else:
            write_report(data, path)
    click.echo(f"report: {path}")


__all__ = ["main"]


@main.command("score")
@click.argument("log_csv", type=click.Path(dir_okay=False))
@click.option(
    "--platform",
    "-p",
    required=True,
    help="taobao (tmall), lazada, shopee, jd, douyin, tiktok, amazon or generic.",
)
@click.option(
    "--preset",
    default="default",
    show_default=True,
    help="Market variant of the rule (e.g. shopee TH, tiktok US).",
)
@click.option(
    "--tz",
    "tz",
    default=None,
    help="Market timezone for the calendar rules "
    "(default: the rule's, e.g. Asia/Shanghai for Taobao).",
)
@click.option(
    "--history",
    "history_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of earlier days: date,metric,count,value.",
)
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="Leave bad rows out (counted and reported) instead of stopping.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def score_cmd(
    log_csv: str,
    platform: str,
    preset: str,
    tz: str | None,
    history_csv: str | None,
    skip_bad_rows: bool,
    as_json: bool,
) -> None:
    """Score a chat log exported from a seller back-office with a platform's own rule.

    LOG_CSV has the columns conversation_id, sender (buyer/agent/bot),
    timestamp (ISO 8601 with offset) and optionally agent_id, ordered,
    leave_message.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from peakdesk.rules import registry
    from peakdesk.rules.csvlog import ChatLogError, read_chat_log
    from peakdesk.rules.history import HistoryError, read_history_csv

    try:
        name = registry.canonical(platform)
        options: dict[str, Any] = {}
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"--tz: unknown IANA timezone {tz!r}") from None
            options["timezone"] = tz
        rule = registry.make_rule(name, preset, **options)
        history = read_history_csv(history_csv) if history_csv else None
        imported = read_chat_log(log_csv, skip_bad_rows=skip_bad_rows)
    except (KeyError, ValueError, ChatLogError, HistoryError) as exc:
        _fail(error_text(exc))
        return
    series = registry.score(imported.log, name, rule, history)
    skipped = imported.skipped_by_reason()
    if as_json:
        data = {
            "file": log_csv,
            "platform": name,
            "preset": preset,
            "rule": asdict(rule),
            "rows": imported.rows,
            "skipped_rows": len(imported.skipped),
            "skipped_by_reason": skipped,
            "metrics": {k: _series_json(v) for k, v in series.items()},
        }
        click.echo(json.dumps(json_safe(data), indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{log_csv}: {imported.rows:,} rows, {imported.log.n_conversations:,} conversations; "
        f"{name} rule ({preset}, {getattr(rule, 'timezone', '')})"
    )
    if imported.skipped:
        click.echo(f"skipped {len(imported.skipped)} bad rows:", err=True)
        for reason, count in skipped.items():
            click.echo(f"  {count:6d}  {reason}", err=True)
    for key, ser in series.items():
        click.echo("")
        thr = (
            ""
            if ser.threshold is None
            else (
                f"  target {'>=' if ser.higher_is_better else '<='} "
                f"{_fmt_metric(ser.threshold, ser.unit)}"
            )
        )
        verdict = "" if ser.threshold is None else ("  PASS" if ser.meets(ser.final) else "  FAIL")
        click.echo(
            f"{key}: {ser.label}; {ser.n_units:,} units; over the log "
            f"{_fmt_metric(ser.overall, ser.unit)}; {ser.window_days}-day window at the end "
            f"{_fmt_metric(ser.final, ser.unit)}{thr}{verdict}"
        )
        first = ser.first_failing_day()
        if first is not None:
            click.echo(f"  first day below target: {first.isoformat()}")
        click.echo(f"  {'day':10s} {'units':>8s} {'day value':>10s} {'window':>10s}")
        for d, c, v, r in zip(ser.dates, ser.count, ser.daily, ser.rolling, strict=True):
            click.echo(
                f"  {d.isoformat():10s} {c:8.0f} {_fmt_metric(float(v), ser.unit):>10s} "
                f"{_fmt_metric(float(r), ser.unit):>10s}"
            )


def _series_json(ser: Any) -> dict[str, Any]:
    return {
        "label": ser.label,
        "unit": ser.unit,
        "higher_is_better": ser.higher_is_better,
        "threshold": ser.threshold,
        "window_days": ser.window_days,
        "units": ser.n_units,
        "overall": ser.overall,
        "final_window_value": ser.final,
        "passes_at_end": ser.meets(ser.final),
        "first_failing_day": (d.isoformat() if (d := ser.first_failing_day()) else None),
        "days": [
            {
                "date": d.isoformat(),
                "units": float(c),
                "value": float(v),
                "window": float(r),
                "history": bool(h),
            }
            for d, c, v, r, h in zip(
                ser.dates,
                ser.count,
                ser.daily,
                ser.rolling,
                ser.from_history if ser.from_history.size else [False] * len(ser.dates),
                strict=True,
            )
        ],
    }


def _say_progress() -> Callable[[str], None]:
    """Progress lines on stderr, each with the elapsed time (the search takes minutes)."""
    t0 = time.perf_counter()

    def say(line: str) -> None:
        click.echo(f"[{time.perf_counter() - t0:6.1f}s] {line}", err=True)

    return say


@main.command("plan")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Base seed (default: the scenario's)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write plan.json, shifts.csv, online.csv and the verification runs' tables here.",
)
@click.option("--figures", is_flag=True, help="Also write figures (PNG and SVG) into --out DIR.")
@click.option(
    "--report",
    "report",
    is_flag=True,
    help="Also write figures and the HTML report (report.html) into --out DIR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
@WORKERS_OPTION
@DASK_OPTION
def plan_cmd(
    scenario: str,
    seed: int | None,
    out_dir: str | None,
    as_json: bool,
    quiet: bool,
    workers: int,
    dask: str | None,
    figures: bool,
    report: bool,
) -> None:
    """Find the cheapest shifts and sub-accounts that keep every target.

    Pools with a [pools.plan] table are staffed by the search (their fixed
    shifts replaced, or kept as a floor with keep_fixed_shifts); the plan is
    verified by simulation on fresh seeds.  Exit code 0 when every target is
    kept with the required probability, 1 when not (the best plan and what
    binds are still reported), 2 on bad input.
    """
    from peakdesk.plan.report import plan_json
    from peakdesk.plan.search import search

    if (figures or report) and out_dir is None:
        _fail("--figures and --report write into --out DIR; give --out")
    loaded = _load(scenario)
    if not any(p.plan is not None for p in loaded.spec.pools):
        _fail(f"{scenario}: no pool has a [pools.plan] table: nothing for the planner to choose")
    say = (lambda _m: None) if quiet else _say_progress()
    t0 = time.perf_counter()
    plan = search(loaded, workers=workers, seed=seed, progress=say, dask=dask)
    seconds = time.perf_counter() - t0
    data = plan_json(loaded, plan)
    data["wall_time_s"] = seconds
    written: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        with _output_errors():
            if plan.verification is not None:
                # The verification runs make the run directory; plan.json adds the plan.
                written = _write_run(out, loaded, plan.verification, (plan, data), figures, report)
            else:
                # Nothing was simulated (no cover exists): the plan and why, nothing else.
                write_json(out / "plan.json", data)
                written = [out / "plan.json"]
                if figures or report:
                    click.echo(
                        "warning: no figures or report: the plan is infeasible, so nothing "
                        "was simulated; plan.json says what binds",
                        err=True,
                    )
    if as_json:
        click.echo(json.dumps(json_safe(data), indent=2, ensure_ascii=False))
    else:
        for line in _plan_lines(loaded, plan, seconds):
            click.echo(line)
        if out_dir is not None:
            click.echo(f"wrote {_count(len(written), 'file')} to {out_dir}/")
            if report and plan.verification is not None:
                click.echo(f"report: {Path(out_dir) / 'report.html'}")
    if plan.status != "ok":
        sys.exit(1)


def _plan_lines(loaded: LoadedScenario, plan: Any, seconds: float) -> list[str]:
    from peakdesk.plan.report import headcount_by_day, shift_rows

    spec = loaded.spec
    cur = spec.scenario.currency
    lines = [f"{spec.scenario.name}: {plan.status.upper()}: {plan.message} ({seconds:.0f} s)"]
    if plan.status == "infeasible":
        return lines
    ev = plan.verification
    lines.append("")
    lines.append(f"{'cost':32s} {plan.total_cost:>14,.0f} {cur}")
    for pool, cost in plan.labour_cost_by_pool.items():
        lines.append(f"  {pool:30s} {cost:>14,.0f}")
    lines.append(
        f"  {'sub-accounts':30s} {plan.subaccount_cost:>14,.0f}  ({plan.subaccounts} needed)"
    )
    if ev is not None:
        est = ev.estimates()
        conv = est["conversations"].mean
        lines.append(f"{'cost per conversation':32s} {plan.total_cost / conv:>14,.2f} {cur}")
        lines.append(f"{'conversions lost (mean)':32s} {est['conversions_lost'].mean:>14,.0f}")
    lines.append("")
    lines.append("agents starting a shift, per pool and day")
    heads = headcount_by_day(loaded, plan)
    days = sorted({d for per in heads.values() for d in per})
    lines.append(f"  {'':14s}" + "".join(f"{d[5:]:>8s}" for d in days))
    for pool, per in heads.items():
        lines.append(f"  {pool:14s}" + "".join(f"{per.get(d, 0):>8d}" for d in days))
    lines.append("")
    lines.append("shifts (local start, length, agents)")
    for r in shift_rows(loaded, plan):
        tag = " fixed" if r["fixed"] else ""
        lines.append(
            f"  {r['pool']:12s} {r['start'][5:16]:>12s} {r['length_h']:>5g}h {r['agents']:>5d}{tag}"
        )
    if ev is not None:
        lines.append("")
        lines.append(f"verification on {len(ev.replications)} fresh runs")
        for t in ev.targets():
            worst = _fmt_metric(t.worst_mean, t.unit)
            lines.append(
                f"  {t.target.text:38s} P(met) {t.p_met:5.0%} [{t.p_low:.0%}, {t.p_high:.0%}]"
                f"  worst day {worst}"
            )
        lines.append(f"  every target at once in {ev.p_all_targets_met:.0%} of runs")
    lines.append("")
    lines.append("search trace")
    for r in plan.rounds:
        lines.append(
            f"  round {r.round}: {r.cover_status}, cost {r.cost:,.0f}, every target kept in "
            f"{r.p_all_met:.0%} of runs"
        )
    return lines


@main.command("quote")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--team",
    "team_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML with the team's [[pools]] (and optionally [subaccounts], [routing]).",
)
@click.option(
    "--margin",
    type=click.FloatRange(min=0.0),
    default=0.2,
    show_default=True,
    help="Margin on cost for the prices (0.2 = 20%).",
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=2),
    default=None,
    help="Runs per demand level (default: the scenario's plan.verify_replications).",
)
@click.option("--seed", type=click.IntRange(min=0), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the quote as JSON on stdout.")
@WORKERS_OPTION
@DASK_OPTION
def quote_cmd(
    scenario: str,
    team_file: str,
    margin: float,
    replications: int | None,
    seed: int | None,
    as_json: bool,
    workers: int,
    dask: str | None,
) -> None:
    """Quote capacity: the largest share of a client's demand a team takes within its targets."""
    from peakdesk.plan.quote import quote, with_team

    loaded = _load(scenario)
    with _input_errors():
        teamed = with_team(loaded, team_file)
        from peakdesk.experiment.checks import check_runnable

        check_runnable(teamed)
        q = quote(
            teamed,
            margin=margin,
            replications=replications,
            workers=workers,
            seed=seed,
            progress=_say_progress(),
            dask=dask,
        )
    spec = loaded.spec
    cur = spec.scenario.currency
    data = {
        "scenario": spec.scenario.name,
        "team": team_file,
        "demand_multiplier": q.multiplier,
        "conversations": q.conversations,
        "paid_agent_hours": q.paid_agent_hours,
        "cost": q.cost,
        "conversations_per_agent_hour": q.conversations_per_agent_hour,
        "margin": q.margin,
        "price_per_conversation": q.price_per_conversation,
        "price_per_hour": q.price_per_hour,
        "currency": cur,
        "required_confidence": spec.targets.confidence,
        "steps": [asdict(s) for s in q.steps],
    }
    if as_json:
        click.echo(json.dumps(json_safe(data), indent=2))
        return
    if q.evaluation is None:
        click.echo(
            f"{spec.scenario.name}: the team keeps the targets at no demand level tried "
            f"(down to x{min(s.multiplier for s in q.steps):.3g})"
        )
        sys.exit(1)
    click.echo(f"{spec.scenario.name} with {team_file}:")
    click.echo(
        f"  largest demand kept        x{q.multiplier:.3g} of the forecast "
        f"({q.conversations:,.0f} conversations)"
    )
    click.echo(f"  conversations / agent-hour {q.conversations_per_agent_hour:,.1f}")
    click.echo(
        f"  cost                       {q.cost:,.0f} {cur} ({q.paid_agent_hours:,.0f} "
        "paid agent-hours)"
    )
    click.echo(
        f"  price at {q.margin:.0%} margin        {q.price_per_conversation:,.2f} {cur} "
        f"per conversation, {q.price_per_hour:,.2f} {cur} per agent-hour"
    )


@main.command("erlang")
@click.option(
    "--rate",
    "rate_per_hour",
    type=click.FloatRange(min=0.0, min_open=True),
    required=True,
    help="Arrivals per hour.",
)
@click.option(
    "--aht",
    "aht",
    required=True,
    help="Mean handling time, e.g. '3min'; for chats, one per number of chats held "
    "(1, 2, ...): '180s,210s,240s' or '180,210,240s' (a unit at the end applies to all).",
)
@click.option(
    "--target", "target", default="20s", show_default=True, help="Service-level time, e.g. '20s'."
)
@click.option(
    "--sl",
    "service_level",
    type=click.FloatRange(0.0, 1.0),
    default=0.8,
    show_default=True,
    help="Service level to reach (for the agents needed).",
)
@click.option(
    "--agents",
    "-n",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate this many agents instead of finding the minimum.",
)
@click.option("--patience", default=None, help="Mean patience (Erlang A), e.g. '5min'.")
@click.option(
    "--concurrency",
    "-m",
    type=click.IntRange(min=1),
    default=None,
    help="Chats per agent (the chat model when > 1); default: one per --aht value.",
)
@click.option("--json", "as_json", is_flag=True)
def erlang_cmd(
    rate_per_hour: float,
    aht: str,
    target: str,
    service_level: float,
    agents: int | None,
    patience: str | None,
    concurrency: int | None,
    as_json: bool,
) -> None:
    """Quick answers from Erlang C, Erlang A and the chat model with concurrency.

    The chat model is peakdesk's `parallel` agent with patience until
    assignment (peakdesk.analytic.chat): an agent holding k chats works on all
    of them at once, each holding its slot for the k-th handle time on
    average; a buyer waits for a free slot and, if patience runs out first,
    leaves.  With one handle time and one chat per agent it is Erlang C (no
    patience) or Erlang A.
    """
    import math

    from peakdesk.analytic.chat import agents_for_chat_target, chat_metrics
    from peakdesk.units import parse_duration_s

    try:
        handle_s = _handle_times(aht)
        t_s = parse_duration_s(target)
        pat_s = parse_duration_s(patience) if patience else math.inf
    except ValueError as exc:
        _fail(str(exc))
        return
    m = concurrency if concurrency is not None else len(handle_s)
    if len(handle_s) == 1:
        handle_s = handle_s * m
    if len(handle_s) != m:
        _fail(
            f"--aht gives {len(handle_s)} handle times for --concurrency {m}; give one "
            f"(the same at every level) or {m}, one per number of chats held 1..{m}"
        )
        return
    drop = next((k for k in range(1, m) if handle_s[k] < handle_s[k - 1]), None)
    if drop is not None:
        _fail(
            f"--aht: {format_duration(handle_s[drop])} at {drop + 1} chats is below "
            f"{format_duration(handle_s[drop - 1])} at {drop}; a chat never holds its slot "
            "for less because its agent holds more, so the handle times must not decrease"
        )
        return
    lam = rate_per_hour / 3600.0
    n = agents
    if n is None:
        try:
            n = agents_for_chat_target(lam, m, handle_s, pat_s, t_s, service_level)
        except ValueError as exc:
            _fail(str(exc))
            return
    r = chat_metrics(lam, n, m, handle_s, pat_s, t_s)
    model = (
        ("Erlang A" if math.isfinite(pat_s) else "Erlang C")
        if m == 1
        else "chat model (parallel agents, patience until a slot, even spread of chats)"
    )
    load = lam * handle_s[-1] / m
    definitions = {
        "wait": "from arrival until an agent takes the chat (a slot frees up)",
        "asa_s": "mean wait over every arrival, those who abandon included (their wait "
        "until they left)",
        "service_level": f"P(taken within {format_duration(t_s)} and not abandoned): "
        "abandoned chats count as failures",
        "service_level_offered_wait": f"P(offered wait <= {format_duration(t_s)}): the wait "
        "a buyer would have with unlimited patience",
        "occupancy": "mean chats held / slots (agents x concurrency)",
        "load_erlangs": "arrival rate x handle time at full concurrency / concurrency "
        "(agents' worth of work with every slot busy)",
    }
    data = {
        "model": model,
        "agents": n,
        "concurrency": m,
        "handle_time_s": handle_s,
        "load_erlangs": load,
        "p_wait": r.p_wait,
        "p_abandon": r.p_abandon,
        "asa_s": r.mean_wait_s,
        "service_level": r.sl_served,
        "service_level_offered_wait": r.sl_offered,
        "occupancy": r.slot_utilisation,
        "definitions": definitions,
    }
    if as_json:
        click.echo(json.dumps(json_safe(data), indent=2))
        return
    levels = ", ".join(format_duration(h) for h in handle_s)
    handling = levels if m == 1 else f"{levels} by chats held 1..{m}"
    click.echo(f"{model}: {rate_per_hour:g}/h, handling {handling}, load {load:.2f} Erlangs")
    if agents is None:
        click.echo(f"  agents for SL({format_duration(t_s)}) >= {service_level:.0%}: {n}")
    click.echo(
        f"  with {n} agents: P(wait) {r.p_wait:.1%}, ASA {format_duration(r.mean_wait_s)}, "
        f"SL {r.sl_served:.1%} (offered wait {r.sl_offered:.1%}), "
        f"abandonment {r.p_abandon:.1%}, occupancy {r.slot_utilisation:.1%}"
    )
    click.echo("  definitions:")
    for key in ("wait", "asa_s", "service_level", "service_level_offered_wait", "occupancy"):
        click.echo(f"    {key}: {definitions[key]}")


def _handle_times(text: str) -> list[float]:
    """``--aht``: durations separated by commas; a unit at the end applies to bare numbers."""
    from peakdesk.units import parse_duration_s

    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError(f"cannot read --aht {text!r}: an empty item between commas")
    unit = ""
    last = items[-1]
    tail = last.lstrip("0123456789.")
    if len(items) > 1 and tail and tail != last:
        unit = tail
    out = []
    for t in items:
        bare = t.replace(".", "", 1).isdigit()
        if bare and not unit:
            hint = f"{text}s" if len(items) > 1 else f"{t}s"
            raise ValueError(
                f"cannot read duration {t!r} in --aht: a bare number has no unit; "
                f"write e.g. '{hint}' (a unit at the end applies to every number)"
            )
        out.append(parse_duration_s(t + unit if bare else t))
    if any(h <= 0 for h in out):
        raise ValueError(f"--aht {text!r}: handle times must be > 0")
    return out
