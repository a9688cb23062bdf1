"""``peakdesk quote``: what a team can take of a client's demand, and at what price."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    DASK_OPTION,
    ENGINE_OPTION,
    SIZE_LIMIT_OPTION,
    WORKERS_OPTION,
    fail,
    input_errors,
    load_checked,
    refuse_warm_up,
    say_progress,
    with_engine,
)
from peakdesk.output import json_safe
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import MAX_REPLICATIONS


@main.command("quote")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--team",
    "team_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML with the team's [[pools]] (and optionally [subaccounts], [routing]).",
)
@click.option(
    "--add",
    "add_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="For a centre file: a client file (a [[clients]] entry's fields and served_by ="
    " {pool = proficiency}): can the team take it, its marginal cost and price.",
)
@click.option(
    "--no-plan",
    is_flag=True,
    help="With --add: only whether the team as it is takes the new shop (no planning).",
)
@click.option(
    "--plan-repeats",
    type=click.IntRange(min=1, max=50),
    default=3,
    show_default=True,
    help="With --add: pairs of plans (without and with the shop) on successive base seeds;"
    " the marginal cost is their mean difference with a 95% interval (1: one pair, no"
    " interval).",
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
    type=click.IntRange(min=2, max=MAX_REPLICATIONS),
    default=None,
    help="Runs per demand level (default: the scenario's plan.verify_replications).",
)
@click.option("--seed", type=click.IntRange(min=0), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the quote as JSON on stdout.")
@WORKERS_OPTION
@ENGINE_OPTION
@DASK_OPTION
@SIZE_LIMIT_OPTION
def quote_cmd(
    scenario: str,
    team_file: str | None,
    add_file: str | None,
    no_plan: bool,
    plan_repeats: int,
    margin: float,
    replications: int | None,
    seed: int | None,
    as_json: bool,
    workers: int,
    engine: str | None,
    dask: str | None,
    no_size_limit: bool,
) -> None:
    """Quote capacity: the largest share of a client's demand a team takes within its targets.

    For a centre file, --add CLIENT.toml: whether the team as it is takes one more
    shop, what it costs at the margin (planned without and with it) and the price
    per conversation and per hour that keeps the margin.
    """
    from peakdesk.plan.quote import quote, with_team

    loaded = load_checked(scenario, size_limit=not no_size_limit, engine=engine)
    refuse_warm_up(loaded, scenario, "quote")
    if loaded.centre is not None or add_file is not None:
        if loaded.centre is None:
            fail(f"{scenario}: --add is for centre files (a [centre] table); use --team")
        if add_file is None or team_file is not None:
            fail(f"{scenario} is a centre: quote one more shop with --add CLIENT.toml")
        assert add_file is not None
        _quote_added(
            loaded,
            scenario,
            add_file,
            margin,
            replications,
            seed,
            workers,
            plan_repeats if not no_plan else 0,
            as_json,
        )
        return
    if team_file is None:
        fail("give --team TEAM.toml (the team that would take the client)")
    assert team_file is not None
    with input_errors():
        teamed = with_team(loaded, team_file)
        from peakdesk.experiment.checks import check_runnable

        check_runnable(teamed, size_limit=not no_size_limit)
        q = quote(
            teamed,
            margin=margin,
            replications=replications,
            workers=workers,
            seed=seed,
            progress=say_progress(),
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


def _quote_added(
    loaded: LoadedScenario,
    scenario: str,
    add_file: str,
    margin: float,
    replications: int | None,
    seed: int | None,
    workers: int,
    plan_repeats: int,
    as_json: bool,
) -> None:
    from peakdesk.centre.quote import added_centre, quote_addition
    from peakdesk.experiment.checks import check_runnable

    with input_errors():
        # the added centre plays on the engine the command was given
        added = with_engine(added_centre(scenario, add_file), loaded.spec.simulation.engine)
        check_runnable(added)
        q = quote_addition(
            loaded,
            added,
            margin=margin,
            replications=replications,
            workers=workers,
            seed=seed,
            plan=plan_repeats > 0,
            plan_repeats=max(plan_repeats, 1),
            progress=None if as_json else say_progress(),
        )
    cur = loaded.spec.scenario.currency
    data = {
        "centre": loaded.spec.scenario.name,
        "client": q.client,
        "runs": q.runs,
        "kept_every_target": q.kept,
        "p_all_met_lower_bound": q.p_low,
        "required_confidence": q.required,
        "takes_it_as_it_is": q.takes_it,
        "p_all_met_by_client": q.by_client,
        "baseline": {
            "kept_every_target": q.base_kept,
            "p_all_met_lower_bound": q.base_p_low,
            "misses_already": q.baseline_misses,
            "p_all_met_by_client": q.base_by_client,
        },
        "runs_lost_with_client": q.worse,
        "runs_gained_with_client": q.better,
        "lowers_the_level_p_value": q.level_p_value,
        "keeps_the_baselines_level": q.keeps_level,
        "handled_conversations": q.handled,
        "plan_status": q.status,
        "relaxed": q.relaxed or None,
        "cost_without": q.base_cost,
        "cost_with": q.with_cost,
        "marginal_cost": q.marginal_cost,
        "marginal_cost_interval": list(q.marginal_interval),
        "plan_pairs": [
            {
                "seed": p.seed,
                "cost_without": p.without,
                "cost_with": p.with_,
                "marginal_cost": p.marginal,
                "repriced": p.repriced or None,
                "paid_hours_without": p.hours_without,
                "paid_hours_with": p.hours_with,
                "client_billed_hours": p.billed,
            }
            for p in q.pairs
        ],
        "paid_hours_without": q.base_hours,
        "paid_hours_with": q.with_hours,
        "client_billed_hours": q.billed_hours,
        "margin": q.margin,
        "price_per_conversation": q.price_per_conversation,
        "price_per_hour": q.price_per_hour,
        "price_per_billed_hour": q.price_per_billed_hour,
        "currency": cur,
    }
    if as_json:
        click.echo(json.dumps(json_safe(data), indent=2))
        return
    name = loaded.spec.scenario.name
    click.echo(
        f"{name} without {q.client} (the baseline): every target kept in {q.base_kept} of "
        f"{q.runs} runs, lower bound {q.base_p_low:.3f} (required {q.required:.0%})"
        + (
            ": below the required bound without the new shop, so no shop added could pass "
            "it (more runs, -r, or a re-planned team)"
            if q.baseline_misses
            else ""
        )
    )
    base = q.base_by_client or {}
    for client, p in q.by_client.items():
        shown = "n/a" if p != p else f"{p:.0%}"
        was = base.get(client)
        before = "new" if was is None else ("n/a" if was != was else f"{was:.0%}")
        click.echo(f"  {client:20s} P(all its targets met) {before:>4} without, {shown:>4} with")
    if q.baseline_misses:
        # No shop can pass an absolute bound the team misses already: quote it against
        # the team's own level, on the same seeds.
        level = "keeps" if q.keeps_level else "lowers"
        click.echo(
            f"{name} + {q.client}: every target kept in {q.kept} of {q.runs} runs; against the "
            f"team's own level it {level} it ({q.worse} runs lost with it, {q.better} gained; "
            f"one-sided exact McNemar p = {q.level_p_value:.3f}). Re-plan the team for its "
            "own targets first (the marginal cost below compares two plans that do)"
        )
    else:
        verdict = "takes it" if q.takes_it else "does not take it"
        click.echo(
            f"{name} + {q.client}: the team as it is {verdict}: every target kept in {q.kept} "
            f"of {q.runs} runs, lower bound {q.p_low:.3f} (required {q.required:.0%})"
        )
    click.echo(f"  {q.client} brings {q.handled:,.0f} conversations to a person per run")
    if q.base_cost is None:
        click.echo(f"marginal cost: {q.status}")
        if q.relaxed:
            click.echo(f"  what relaxing the binding limits buys: {q.relaxed}")
        return
    low, high = q.marginal_interval
    n = len(q.pairs)
    seeds = f"seeds {q.pairs[0].seed}-{q.pairs[-1].seed}" if n else ""
    if n < 2:
        spread = (
            " (one pair of plans: no interval; a plan moves by a trim step between seeds, "
            "--plan-repeats 3 measures it)"
        )
    elif low == high:
        # Every pair the same: no spread seen, which a t interval would show as zero width.
        spread = f" (all {n} pairs of plans, on {seeds}, give it)"
    else:
        spread = f" (95% interval {low:,.0f} to {high:,.0f} over {n} pairs of plans on {seeds})"
    click.echo(
        f"planned: {q.base_cost:,.0f} {cur} without, {q.with_cost:,.0f} {cur} with: "
        f"marginal cost {q.marginal_cost:,.0f} {cur}{spread}"
    )
    if "pairs planned" in q.status:
        click.echo(f"  {q.status}")  # the seeds whose pair could not be planned
    for pair in q.pairs if n >= 2 else ():
        note = {
            "without": " (the plan with it serves the team without: re-priced to it)",
            "with": " (the plan without it serves the team with it: re-priced to it)",
        }.get(pair.repriced, "")
        click.echo(
            f"  seed {pair.seed}: {pair.without:,.0f} without, {pair.with_:,.0f} with, marginal "
            f"{pair.marginal:,.0f}{note}"
        )
    assert added.centre is not None
    writing = added.centre.clients[-1].hours_billed == "writing"
    basis = "writing hours" if writing else "allocated paid hours"
    extra = (q.with_hours or 0.0) - (q.base_hours or 0.0)
    per_hour = (
        f"{q.price_per_hour:,.2f} {cur} per marginal paid agent-hour ({extra:,.0f} h the "
        "plan with it adds)"
        if q.price_per_hour == q.price_per_hour
        else (
            "no marginal agent-hour (the plan with it costs more without more paid hours: a "
            "dearer mix of pools or more sub-accounts)"
            if q.marginal_cost > 0
            else "no marginal agent-hour (the planned team takes it within the hours it has)"
        )
    )
    per_billed = (
        f"; as a price_per_hour contract bills it: {q.price_per_billed_hour:,.2f} {cur} per "
        f"hour billed on {q.client}'s chats ({q.billed_hours:,.0f} h a run, its {basis} in "
        "the planned team)"
        if q.price_per_billed_hour == q.price_per_billed_hour
        else ""
    )
    click.echo(
        f"price at {q.margin:.0%} margin: {q.price_per_conversation:,.2f} {cur} per "
        f"conversation, {per_hour}{per_billed}"
    )
