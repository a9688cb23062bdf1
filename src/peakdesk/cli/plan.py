"""``peakdesk plan``: the cheapest shifts and sub-accounts that keep every target."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

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
    refuse_warm_up,
    say_progress,
)
from peakdesk.cli.run_dir import write_plan_only, write_run
from peakdesk.output import json_safe
from peakdesk.scenario import LoadedScenario
from peakdesk.scenario.schema import MAX_REPLICATIONS


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
@click.option(
    "--holdout",
    type=click.IntRange(min=0, max=MAX_REPLICATIONS),
    default=None,
    help="Runs of the accepted plan on seeds the search never used (default: the "
    "scenario's plan.holdout_replications, 100); 0 skips the held-out check.",
)
@click.option(
    "--margin",
    type=click.FloatRange(min=0.0, max=10.0),
    default=None,
    help="Plan for demand this share above the forecast (0.1 = 10%), forecast "
    "uncertainty kept; reported as such.",
)
@click.option(
    "--quantile",
    type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
    default=None,
    help="Plan for a day at this quantile of the forecast's uncertainty (0.9; needs "
    "demand.daily_cv > 0); reported as such.",
)
@click.option(
    "--frontier",
    is_flag=True,
    help="Also scan the trade-offs: cost against required confidence and against chats "
    "per agent (frontier.csv, plan.json 'frontier', a figure and a report section).",
)
@click.option(
    "--frontier-levels",
    default="0.80,0.85,0.90,0.95,0.99",
    show_default=True,
    callback=lambda ctx, param, v: _number_list(param, v, float, "each in (0, 1)", 0.0, 1.0),
    help="Required confidences of the frontier, comma-separated.",
)
@click.option(
    "--frontier-chats",
    default="2,3,4,5,6",
    show_default=True,
    callback=lambda ctx, param, v: _number_list(param, v, int, "whole numbers 1..50", 1, 50),
    help="Chats per agent of the frontier's table (every planned pool), comma-separated; "
    "'' for none.",
)
@click.option(
    "--frontier-runs",
    type=click.IntRange(min=1, max=MAX_REPLICATIONS),
    default=40,
    show_default=True,
    help="Runs per scanned plan (the same seeds for every plan).",
)
@WORKERS_OPTION
@ENGINE_OPTION
@DASK_OPTION
@SIZE_LIMIT_OPTION
def plan_cmd(
    scenario: str,
    seed: int | None,
    out_dir: str | None,
    as_json: bool,
    quiet: bool,
    workers: int,
    engine: str | None,
    dask: str | None,
    figures: bool,
    report: bool,
    no_size_limit: bool,
    holdout: int | None,
    margin: float | None,
    quantile: float | None,
    frontier: bool,
    frontier_levels: list[float],
    frontier_chats: list[int],
    frontier_runs: int,
) -> None:
    """Find the cheapest shifts and sub-accounts that keep every target.

    Pools with a [pools.plan] table are staffed by the search (their fixed
    shifts replaced, or kept as a floor with keep_fixed_shifts); the plan is
    verified by simulation on fresh seeds, in batches, until a lower confidence
    bound on P(all targets met) clears the scenario's targets.confidence, then
    checked on held-out seeds.  Exit code 0 when every target is kept with the
    required probability (held-out check included), 1 when not (the best plan
    and what binds are still reported), 2 on bad input.
    """
    from peakdesk.plan.report import plan_json
    from peakdesk.plan.search import search

    if (figures or report) and out_dir is None:
        fail("--figures and --report write into --out DIR; give --out")
    loaded = load_checked(scenario, size_limit=not no_size_limit, engine=engine)
    refuse_warm_up(loaded, scenario, "plan")
    if not any(p.plan is not None for p in loaded.spec.pools):
        fail(f"{scenario}: no pool has a [pools.plan] table: nothing for the planner to choose")
    basis = None
    if margin is not None or quantile is not None:
        from peakdesk.experiment.checks import check_runnable
        from peakdesk.plan.robust import robust_scenario

        if margin is not None and quantile is not None:
            fail("give --margin or --quantile, not both")
        try:
            loaded, basis = robust_scenario(loaded, margin=margin, quantile=quantile)
        except ValueError as exc:
            fail(f"{scenario}: {exc}")
        with input_errors():
            # More demand is bigger runs: the size limits are checked on what is planned.
            check_runnable(loaded, size_limit=not no_size_limit)
    if frontier:
        from peakdesk.experiment.targets import scenario_targets

        if not scenario_targets(loaded):
            fail(f"{scenario}: --frontier needs targets (a frontier of P(all targets met))")
    say = (lambda _m: None) if quiet else say_progress()
    t0 = time.perf_counter()
    if basis is not None:
        say(basis.describe())
    plan = search(loaded, workers=workers, seed=seed, progress=say, dask=dask, holdout=holdout)
    if basis is not None:
        plan = dataclasses.replace(plan, demand_basis=basis)
    seconds = time.perf_counter() - t0
    data = plan_json(loaded, plan)
    front = None
    if frontier and plan.status == "infeasible":
        click.echo("warning: no frontier: no shift plan covers the requirement", err=True)
    elif frontier:
        from peakdesk.plan.frontier import frontier as scan_frontier
        from peakdesk.plan.frontier import frontier_json

        front = scan_frontier(
            loaded,
            levels=frontier_levels,
            chats=frontier_chats,
            runs=frontier_runs,
            seed=seed,
            workers=workers,
            dask=dask,
            progress=say,
            refined=plan.refined,  # the same scenario and seed: no second refinement
        )
        data["frontier"] = frontier_json(front)
        seconds = time.perf_counter() - t0
    data["wall_time_s"] = seconds
    written: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        with output_errors():
            if plan.verification is not None:
                # The verification runs make the run directory; plan.json adds the plan.
                written = write_run(out, loaded, plan.verification, (plan, data), figures, report)
            else:
                # Nothing was simulated (no cover exists): the plan and why, nothing else.
                # It replaces an earlier run whole, like any run: no stale summary or
                # figures of another plan are left beside it.
                written = write_plan_only(out, data)
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
        if front is not None:
            for line in _frontier_lines(front, spec_currency=loaded.spec.scenario.currency):
                click.echo(line)
        if out_dir is not None:
            click.echo(f"wrote {count(len(written), 'file')} to {out_dir}/")
            if report and plan.verification is not None:
                click.echo(f"report: {Path(out_dir) / 'report.html'}")
    if plan.status != "ok":
        sys.exit(1)


def _plan_lines(loaded: LoadedScenario, plan: Any, seconds: float) -> list[str]:
    from peakdesk.plan.report import headcount_by_day, shift_rows

    spec = loaded.spec
    cur = spec.scenario.currency
    lines = [f"{spec.scenario.name}: {plan.status.upper()}: {plan.message} ({seconds:.0f} s)"]
    if plan.demand_basis is not None:
        lines.append(plan.demand_basis.describe())
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
    if plan.seat_price is not None:
        lines.append(f"  {plan.seat_price.describe(cur)}")
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
        last = plan.rounds[-1]
        lines.append("")
        lines.append(f"verification on {len(ev.replications)} fresh runs")
        for t in ev.targets():
            worst = fmt_metric(t.worst_mean, t.unit)
            lines.append(
                f"  {t.target.text:38s} P(met) {t.p_met:5.0%} [{t.p_low:.0%}, {t.p_high:.0%}]"
                f"  worst day {worst}"
            )
        if last.targets:
            settings = spec.plan
            lines.append(
                f"  every target at once in {ev.p_all_targets_met:.0%} of runs; lower "
                f"{settings.bound_level:.0%} bound ({settings.bound.replace('_', '-')}) "
                f"{last.lower:.3f}, required {spec.targets.confidence:.0%}"
            )
        else:
            lines.append("  no targets: planned to the delay probability (alpha) alone")
    if plan.held_out is not None:
        h = plan.held_out
        verdict = "kept" if h.passed else "MISSED"
        lines.append("")
        lines.append(
            f"{h.describe()} (seeds never used by the search): {verdict}, required {h.required:.0%}"
        )
    lines.append("")
    lines.append("search trace")
    first = plan.rounds[0].isa if plan.rounds else ()
    if first:
        st = first[-1]
        lines.append(
            f"  refinement: {len(first)} iterations on {sum(s.replications for s in first)} "
            f"runs, {st.outcome.replace('_', ' ')}, final largest change {st.max_change} "
            "agent(s)" + (f", a cycle of {st.cycle}" if st.cycle else "")
        )
    for r in plan.rounds:
        kept = (
            f", every target kept in {r.p_all_met:.0%} of {r.replications} runs "
            f"(lower bound {r.lower:.3f}: {r.decision})"
            if r.targets
            else ""
        )
        more = f"; requirement raised by {r.raised} agent-intervals" if r.raised else ""
        trim = f" (trimmed: requirement x{r.scale:.2f})" if r.scale != 1.0 else ""
        lines.append(f"  round {r.round}{trim}: {r.cover_status}, cost {r.cost:,.0f}{kept}{more}")
    if plan.time_s:
        lines.append(
            "  wall time: "
            + ", ".join(
                f"{k.replace('_', '-')} {v:.1f} s" for k, v in plan.time_s.items() if k != "total"
            )
        )
    taken = {id(r) for r in plan.rounds}
    for bad in plan.trim_probes:
        if id(bad) in taken:
            continue
        verdict = {"reject": "short", "continue": "not shown within the cap"}.get(
            bad.decision, bad.decision
        )
        lines.append(
            f"  trim x{bad.scale:.2f}: cost {bad.cost:,.0f}, every target kept in "
            f"{bad.p_all_met:.0%} of {bad.replications} runs, lower bound {bad.lower:.3f} "
            f"({verdict}): not taken"
        )
    return lines


def _number_list(
    param: Any, value: str, kind: type, allowed: str, low: float, high: float
) -> list[Any]:
    """A comma-separated list of numbers, each within ``(low, high)`` (floats) or
    ``[low, high]`` (ints), or exit 2 naming what is allowed."""
    out: list[Any] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            v = kind(part)
        except ValueError:
            raise click.BadParameter(f"{part!r} is not a number; allowed: {allowed}") from None
        inside = low < v < high if kind is float else low <= v <= high
        if not inside:
            raise click.BadParameter(f"{part} is out of range; allowed: {allowed}")
        out.append(v)
    if kind is float and not out:
        raise click.BadParameter(f"give at least one level; allowed: {allowed}")
    return sorted(set(out))


def _frontier_lines(front: Any, spec_currency: str) -> list[str]:
    def row(p: Any) -> str:
        if p is None:
            return "no scanned plan is accepted at it"
        return (
            f"{p.cost:>12,.0f} {spec_currency}  {p.headcount:>6d} agent-shifts  "
            f"{p.subaccounts:>5d} sub-accounts  P(all met) {p.p_all_met:.2f} "
            f"[{p.low:.2f}, {p.high:.2f}] on {p.runs} runs, lower bound {p.lower:.3f}  "
            f"scale {p.scale:.2f}"
        )

    lines = [
        "",
        f"trade-offs ({front.runs} runs per scanned plan and more where a level was "
        "undecided, seeds never used by the search; a plan counts at a level when plan "
        "would accept it there: its lower bound reaches the level)",
    ]
    lines.append("  cost against required confidence")
    lines += [f"    {c:>5.0%}  {row(p)}" for c, p in front.levels]
    if front.by_chats:
        lines.append(f"  chats per agent, accepted at {front.required:.0%}")
        lines += [f"    {m:>5d}  {row(p)}" for m, p in front.by_chats]
    return lines
