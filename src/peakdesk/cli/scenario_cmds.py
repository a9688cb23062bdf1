"""``peakdesk validate`` and ``peakdesk schema``: scenario files."""

from __future__ import annotations

import json

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    SIZE_LIMIT_OPTION,
    count,
    load_checked,
)
from peakdesk.scenario import json_schema
from peakdesk.scenario.schema import MAX_SUBACCOUNTS
from peakdesk.units import format_duration


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@SIZE_LIMIT_OPTION
def validate(scenario: str, no_size_limit: bool) -> None:
    """Check a scenario file; exit 2 with the field path of every problem.

    The checks include the size of a run (per replication: conversations,
    engine events, reporting rows and memory, estimated from the demand and
    the distributions); over the limits, ``--no-size-limit`` lets it pass.
    """
    loaded = load_checked(scenario, size_limit=not no_size_limit)
    spec = loaded.spec
    heads = sum(p.headcount for p in spec.pools)
    tables = any(p.staffing_table is not None for p in spec.pools)
    if loaded.centre is not None:
        clients = loaded.centre.clients
        seats = (
            "no seat limit"
            if loaded.spec.subaccounts.count >= MAX_SUBACCOUNTS
            else count(spec.subaccounts.count, "seat")
        )
        click.echo(
            f"{scenario}: ok — centre {spec.scenario.name}: {count(len(clients), 'client')} "
            f"({', '.join(f'{c.name} on {c.timezone}' for c in clients)}), "
            f"{count(len(spec.inquiry_types), 'inquiry type')}, {count(len(spec.pools), 'pool')}, "
            f"{count(heads, 'agent')} scheduled, {seats}, "
            f"horizon {format_duration(spec.calendar.horizon)}"
        )
    else:
        click.echo(
            f"{scenario}: ok — {spec.scenario.name}: "
            f"{count(len(spec.inquiry_types), 'inquiry type')}, {count(len(spec.pools), 'pool')}, "
            f"{count(heads, 'agent')} scheduled{' on shifts' if tables else ''}, "
            f"{count(spec.subaccounts.count, 'sub-account')}, "
            f"horizon {format_duration(spec.calendar.horizon)}"
        )
    for pool in spec.pools:
        table = pool.staffing_table
        if table is not None:
            start = spec.calendar.start_aware
            click.echo(f"  pool {pool.name!r}: {table.describe(start)}")
    from peakdesk.experiment.checks import scenario_warnings

    for warning in scenario_warnings(loaded):
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--centre", is_flag=True, help="The schema of centre files instead.")
def schema(centre: bool) -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    if centre:
        from peakdesk.centre.schema import Centre

        click.echo(json.dumps(json_schema(Centre, "peakdesk centre"), indent=2))
        return
    click.echo(json.dumps(json_schema(), indent=2))
