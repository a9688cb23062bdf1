"""``peakdesk quote``: what a team can take of a client's demand, and at what price."""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
from peakdesk.scenario import ScenarioError
from peakdesk.scenario.load import toml_problem
from peakdesk.scenario.schema import MAX_REPLICATIONS
from peakdesk.units import not_utf8


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
        check_team_file(Path(team_file))
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


def check_team_file(path: Path) -> None:
    """Refuse a team file whose shape the merge into the client's scenario cannot take.

    The merge (:func:`peakdesk.plan.quote.with_team`) reads the file as UTF-8
    TOML and walks its ``[[pools]]`` and their ``[[pools.shifts]]`` (to count
    the seats the team needs); everything else is validated with the merged
    scenario.

    Raises
    ------
    ScenarioError
        Naming the file and the field (``pools[1].shifts[0].agents``).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        # Read as the merge reads it: UTF-8 (a byte-order mark is a TOML error there).
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(path, [not_utf8(path)]) from None
    try:
        team = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [toml_problem(exc, text)]) from None
    problems = [
        f"{_key(k)}: unknown field; a team file has [[pools]] and optionally [subaccounts] "
        "and [routing] (the rest comes from the client's scenario)"
        for k in team
        if k not in ("pools", "subaccounts", "routing")
    ]
    if "pools" not in team:
        problems.append("pools: required; a team file has [[pools]] tables")
    pools: Any = team.get("pools", [])
    if not _tables(pools):
        problems.append(f"pools: {_shape(pools)}; a team has [[pools]] tables")
        pools = []
    for k, pool in enumerate(pools):
        name = pool.get("name", "")
        if not isinstance(name, str):
            problems.append(f"pools[{k}].name = {name!r}: a pool's name is a string")
        shifts = pool.get("shifts", [])
        if not _tables(shifts):
            problems.append(f"pools[{k}].shifts: {_shape(shifts)}; give [[pools.shifts]] tables")
            continue
        for j, shift in enumerate(shifts):
            agents = shift.get("agents", 0)
            if isinstance(agents, bool) or not isinstance(agents, int):
                problems.append(
                    f"pools[{k}].shifts[{j}].agents = {agents!r}: the number of agents, "
                    "an integer >= 0"
                )
    if problems:
        raise ScenarioError(path, problems)


def _key(key: str) -> str:
    return key if key.isidentifier() else json.dumps(key, ensure_ascii=False)


def _tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "an array holding a value that is not a table"
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{shown} is not an array of tables"
