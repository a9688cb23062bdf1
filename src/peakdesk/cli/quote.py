"""``peakdesk quote``: what a team can take of a client's demand, and at what price."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    DASK_OPTION,
    SIZE_LIMIT_OPTION,
    WORKERS_OPTION,
    input_errors,
    load_checked,
    say_progress,
)
from peakdesk.output import json_safe
from peakdesk.scenario.schema import MAX_REPLICATIONS


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
    type=click.IntRange(min=2, max=MAX_REPLICATIONS),
    default=None,
    help="Runs per demand level (default: the scenario's plan.verify_replications).",
)
@click.option("--seed", type=click.IntRange(min=0), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the quote as JSON on stdout.")
@WORKERS_OPTION
@DASK_OPTION
@SIZE_LIMIT_OPTION
def quote_cmd(
    scenario: str,
    team_file: str,
    margin: float,
    replications: int | None,
    seed: int | None,
    as_json: bool,
    workers: int,
    dask: str | None,
    no_size_limit: bool,
) -> None:
    """Quote capacity: the largest share of a client's demand a team takes within its targets."""
    from peakdesk.plan.quote import quote, with_team

    loaded = load_checked(scenario, size_limit=not no_size_limit)
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
