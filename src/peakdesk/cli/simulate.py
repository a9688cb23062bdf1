"""``peakdesk simulate``: replications of a scenario, the summary, a run directory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    DASK_OPTION,
    ENGINE_OPTION,
    SIZE_LIMIT_OPTION,
    WORKERS_OPTION,
    count,
    fail,
    fmt_metric,
    input_errors,
    load_checked,
    output_errors,
    progress_bar,
)
from peakdesk.cli.run_dir import write_run
from peakdesk.output import json_safe
from peakdesk.report.text import SUMMARY_ROWS, fmt, verdict
from peakdesk.scenario.schema import MAX_REPLICATIONS

if TYPE_CHECKING:  # the simulator pulls in scipy.stats: import it only when simulating
    from peakdesk.experiment.replicate import Evaluation
    from peakdesk.scenario import LoadedScenario


@main.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Base seed (default: the scenario's)."
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1, max=MAX_REPLICATIONS),
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
@ENGINE_OPTION
@DASK_OPTION
@SIZE_LIMIT_OPTION
def simulate_cmd(
    scenario: str,
    seed: int | None,
    replications: int | None,
    out_dir: str | None,
    all_logs: bool,
    as_json: bool,
    workers: int,
    engine: str | None,
    dask: str | None,
    figures: bool,
    report: bool,
    no_size_limit: bool,
) -> None:
    """Simulate a scenario and print a summary (mean and 95% CI over replications)."""
    from peakdesk.experiment.replicate import simulate

    if (all_logs or figures or report) and out_dir is None:
        fail("--all-logs, --figures and --report write into --out DIR; give --out")
    loaded = load_checked(scenario, size_limit=not no_size_limit, engine=engine)
    update, close = progress_bar("simulating")
    t0 = time.perf_counter()
    try:
        with input_errors():
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
        with output_errors():
            written = write_run(Path(out_dir), loaded, ev, None, figures, report)
    if as_json:
        from peakdesk.report.rundata import summary_json

        click.echo(json.dumps(json_safe(summary_json(loaded, ev)), indent=2))
        return
    spec = loaded.spec
    n_rep = len(ev.replications)
    started = click.get_current_context().meta.get("peakdesk.started", t0)
    waited = time.perf_counter() - started
    click.echo(
        f"{spec.scenario.name}: seed {ev.seed}, {n_rep} replication{'s' * (n_rep > 1)}, "
        f"{time.strftime('%H:%M:%S')} ({seconds:.1f} s simulating; {waited:.1f} s since the "
        "command started: loading, engine and files)"
    )
    for line in _summary_table(ev, spec.scenario.currency):
        click.echo(line)
    click.echo("* first human reply within the time and before the buyer left")
    click.echo(_horizon_line(spec.simulation.horizon_end, ev))
    for line in _start_up_lines(loaded, ev):
        click.echo(line)
    for line in _business_lines(loaded, ev):
        click.echo(line)
    for line in _pools_table(ev):
        click.echo(line)
    for line in _targets_table(ev, spec.targets.confidence):
        click.echo(line)
    for line in clients_table(loaded, ev):
        click.echo(line)
    if out_dir is not None:
        click.echo(f"wrote {count(len(written), 'file')} to {out_dir}/")
        if report:
            click.echo(f"report: {Path(out_dir) / 'report.html'}")


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
        worst = fmt_metric(t.worst_mean, t.unit)
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
        label = (
            t.target.metric if t.target.client is None else f"{t.target.client}: {t.target.metric}"
        )
        lines.append(
            f"  {label[:28]:28s}  " + "".join(f"{fmt_metric(v, t.unit):>8s}" for v in vals)
        )
    p_all = ev.p_all_targets_met
    lines.append(f"  all targets met together in {p_all:.0%} of runs")
    return lines


def clients_table(loaded: LoadedScenario, ev: Evaluation) -> list[str]:
    """A centre's clients: conversations, targets, allocated cost, revenue, penalties, margin."""
    from peakdesk.centre.accounts import CLIENT_ROWS, client_accounts, unallocated_cost

    accounts = client_accounts(loaded, ev)
    if not accounts:
        return []
    cur = loaded.spec.scenario.currency
    n = len(ev.replications)
    # Counts and money to the unit, hours to a tenth, shares to a tenth of a percent.
    form = {"n": "{:,.0f}", "%": "{:.1%}", "x": "{:,.1f}", "$": "{:,.0f}"}
    width = max(12, *(len(a.client) + 2 for a in accounts))
    lines = ["", f"clients (mean over {n} run{'s' * (n > 1)}; cost by handled agent time)"]
    lines.append(f"  {'':28s}" + "".join(f"{a.client:>{width}s}" for a in accounts))
    for label, key, unit in CLIENT_ROWS:
        lines.append(
            f"  {label.format(cur=cur):28s}"
            + "".join(f"{form[unit].format(a.figures[key].mean):>{width}s}" for a in accounts)
        )
    shown = ["n/a" if a.p_all_met != a.p_all_met else f"{a.p_all_met:.0%}" for a in accounts]
    lines.append(f"  {'P(all its targets met)':28s}" + "".join(f"{x:>{width}s}" for x in shown))
    margin = sum(a.figures["margin"].mean for a in accounts)
    idle = unallocated_cost(ev).mean
    tail = f"  centre margin {margin:,.0f} {cur}"
    if idle > 0:
        tail += f" less {idle:,.0f} {cur} of pools that wrote no reply (not allocated)"
    lines.append(tail)
    return lines


def _business_lines(loaded: LoadedScenario, ev: Evaluation) -> list[str]:
    """Demand from a GMV target: where the volume came from, and the GMV the waits lost."""
    from peakdesk.report.rundata import business_json

    biz = business_json(loaded.spec, ev.estimates())
    if biz is None:
        return []
    cur = loaded.spec.scenario.currency
    lost = biz["gmv_lost"]
    return [
        "",
        f"demand from the GMV target {biz['gmv_target']:,.0f} {cur}: {biz['orders']:,.0f} orders "
        f"at {biz['average_order_value']:,.2f}, {biz['presale_conversations']:,.0f} pre-sale + "
        f"{biz['after_sale_conversations']:,.0f} after-sale = {biz['conversations']:,.0f} "
        "conversations"
        + (
            f" (x demand.multiplier {biz['demand_multiplier']:g})"
            if biz["demand_multiplier"] != 1
            else ""
        ),
        f"GMV lost to waiting (conversions lost x order value): {lost['mean']:,.0f} {cur} "
        f"[{lost['low']:,.0f}, {lost['high']:,.0f}], {biz['gmv_lost_share']:.2%} of the target",
    ]


def _horizon_line(mode: str, ev: Evaluation) -> str:
    """What happened at the horizon, in the words of simulation.horizon_end."""
    est = ev.estimates()
    past = est["minutes_past_horizon"].mean
    if mode == "close_out":
        line = (
            "at the horizon (simulation.horizon_end = 'close_out'): agents whose shift (or "
            "grace) ended from then on took the chats still open; the last closed "
            f"{past:,.1f} min after it (mean)"
        )
        left = est["unanswered_at_end"].mean
        if left > 0:
            line += f"; {left:,.1f} messages unanswered at the end: nobody was on to close them"
        return line
    return (
        "at the horizon (simulation.horizon_end = 'shift_end'): the agents followed their "
        f"pools' shift_end; {est['handed_back'].mean:,.1f} chats handed back and "
        f"{est['unanswered_at_end'].mean:,.1f} messages unanswered at the end (mean) come "
        "partly from the run's end, not from the staffing"
    )


def _start_up_lines(loaded: LoadedScenario, ev: Evaluation) -> list[str]:
    """The warm-up run, or for a steady demand run without one, how long its start-up lasts."""
    from peakdesk.experiment.interval_figures import start_up
    from peakdesk.units import format_duration

    spec = loaded.spec
    w = spec.simulation.warm_up
    if w is not None:
        return [
            f"warm-up: the run started {format_duration(w)} before the horizon; nothing of "
            "it is in the figures above"
        ]
    if spec.demand.profile != "flat" or not ev.replications:
        return []
    est = start_up(ev.interval_tables(), spec.calendar.interval, spec.calendar.horizon)
    if est["intervals"] == 0:
        return []
    return [
        f"start-up: the first {format_duration(est['seconds'])} differ from the rest (MSER-5 "
        "on the number in system per interval): the run starts empty; set "
        "simulation.warm_up to start the horizon with a day in progress"
    ]
