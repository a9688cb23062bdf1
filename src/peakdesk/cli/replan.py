"""``peakdesk replan``: the day so far from the live export, against the plan in force."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
import numpy as np

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    COLUMNS_OPTION,
    fail,
    fmt_metric,
    input_errors,
    load_any,
    read_column_map,
    read_log,
)
from peakdesk.output import json_safe
from peakdesk.units import error_text


def _at(text: str, zone: dt.tzinfo) -> dt.datetime:
    """``--at``: ISO 8601, on the scenario's clock unless it gives its UTC offset."""
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--at {text!r}: give a time as 2026-11-11T20:30 (the scenario's clock) or "
            "2026-11-11T20:30+08:00"
        ) from None
    return t.replace(tzinfo=zone) if t.tzinfo is None else t


@main.command("replan")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--log",
    "log_csv",
    required=True,
    type=click.Path(dir_okay=False),
    help="The chat log exported so far (the import format `peakdesk score` reads).",
)
@click.option(
    "--at",
    "at_text",
    required=True,
    help="The time of the re-plan: 2026-11-11T20:30 on the scenario's clock (or with a "
    "UTC offset).",
)
@click.option(
    "--level",
    type=click.FloatRange(min=0.5, max=0.999),
    default=0.9,
    show_default=True,
    help="Level of the intervals.",
)
@click.option(
    "--roster",
    "roster_csv",
    default=None,
    type=click.Path(dir_okay=False),
    help="Agent sessions export (agent_id, login, logout): who is logged in at --at.",
)
@click.option("--skip-bad-rows", is_flag=True, help="Leave bad rows out (counted) instead.")
@COLUMNS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def replan_cmd(
    scenario: str,
    log_csv: str,
    at_text: str,
    level: float,
    roster_csv: str | None,
    skip_bad_rows: bool,
    columns_toml: str | None,
    as_json: bool,
) -> None:
    """The day so far at --at: arrivals against the forecast, and the targets.

    SCENARIO is the plan in force (a scenario or a planned.toml). From the export
    so far: today's arrivals against the forecast's, the day factor's posterior
    (its prior the scenario's demand.daily_cv) and the rest of the day it implies,
    in all and per inquiry type, and every target's value so far.  Simulating the
    rest of the day from this state, and whom to call in, are not yet built.
    """
    from peakdesk.replan.day_so_far import ReplanError, day_so_far
    from peakdesk.rules.csvlog import ChatLogError, read_sessions_csv

    with input_errors():
        loaded = load_any(scenario)
    try:
        at = _at(at_text, loaded.spec.calendar.zone)
        imported = read_log(
            log_csv, skip_bad_rows=skip_bad_rows, columns=read_column_map(columns_toml)
        )
        roster = read_sessions_csv(roster_csv) if roster_csv else None
        day = day_so_far(loaded, imported.log, at, level, imported.agent_ids, roster)
    except (ValueError, ChatLogError, ReplanError) as exc:
        fail(error_text(exc))
        return
    spec = loaded.spec

    def factor(f: Any) -> dict[str, Any]:
        return {
            "arrived": f.observed,
            "forecast_so_far": f.expected,
            "ratio": f.ratio,
            "day_factor": {"mean": f.mean, "low": f.low, "high": f.high},
            "rest_of_day_forecast": f.rest_expected,
            "rest_of_day": {"mean": f.rest_mean, "low": f.rest_low, "high": f.rest_high},
        }

    if as_json:
        data = {
            "scenario": spec.scenario.name,
            "at": day.at.isoformat(),
            "day_start": day.day_start.isoformat(),
            "day_end": day.day_end.isoformat(),
            "level": level,
            "prior_daily_cv": spec.demand.daily_cv,
            "all": factor(day.total),
            "by_type": {k: factor(v) for k, v in day.by_type.items()},
            "targets": [
                {"target": r.target.text, "so_far": r.final, "worst_day": r.worst, "met": r.met}
                for r in day.targets
            ],
            "not_scored": list(day.skipped),
            "messages_so_far": day.messages,
            "export_ends_s_before_at": day.stale_s,
            "skipped_rows": len(imported.skipped),
            "open": {
                "waiting_first_reply_s": list(day.open.first_waiting_s),
                "waiting_reply_s": list(day.open.reply_waiting_s),
                "waiting_for_buyer": day.open.buyer_waiting,
                "unanswered_over_2h": day.open.gone,
                "agents_online_holding": day.open.agents,
                "agents_from": "roster" if day.open.roster else "recent replies",
                "waiting_with_agent_logged_off": day.open.unheld,
            },
        }
        click.echo(json.dumps(json_safe(data), indent=2, ensure_ascii=False))
        return
    cal = spec.calendar
    pct = f"{level:.0%}"
    click.echo(
        f"{spec.scenario.name} at {day.at:%Y-%m-%d %H:%M} ({cal.timezone}): the day so far, "
        f"from {day.day_start:%H:%M} ({day.messages:,} messages in the export)"
    )
    if imported.skipped:
        click.echo(f"  ({len(imported.skipped):,} bad rows of the export left out)")
    if day.stale_s > 1800:
        click.echo(
            f"  the export ends {day.stale_s / 3600:.1f} h before --at: the hours between "
            "are read as no arrivals (an old export?)"
        )
    if day.total.prior_cv == 0:
        click.echo(
            "  demand.daily_cv is 0 (the forecast states no uncertainty, or the plan was made "
            "on a quantile of it): the day factor is read from the arrivals alone"
        )
    rows = [("all", day.total), *day.by_type.items()]
    for name, f in rows:
        ratio = f"x{f.ratio:.2f}" if f.ratio == f.ratio else "none expected yet"
        click.echo(
            f"  {name:16s} {f.observed:>8,} arrived, forecast {f.expected:>10,.0f}: {ratio}; "
            f"day factor {f.mean:.2f} [{f.low:.2f}, {f.high:.2f}]"
        )
    t = day.total
    click.echo(
        f"the rest of the day (to {day.day_end:%H:%M}): forecast {t.rest_expected:,.0f}, now "
        f"{t.rest_mean:,.0f} [{t.rest_low:,.0f}, {t.rest_high:,.0f}] at {pct} (prior: "
        f"demand.daily_cv {spec.demand.daily_cv:g})"
    )
    o = day.open

    def waits(xs: tuple[float, ...]) -> str:
        if not xs:
            return "none"
        return f"{len(xs):,} (longest {xs[0] / 60:.1f} min, median {np.median(xs) / 60:.1f} min)"

    held = sum(o.agents.values())
    click.echo(
        f"open at {day.at:%H:%M}: waiting for a first reply {waits(o.first_waiting_s)}; for a "
        f"later reply {waits(o.reply_waiting_s)}; {o.buyer_waiting:,} waiting on the buyer "
        f"(silent under {o.open_s / 60:.0f} min)"
        + (f"; {o.gone:,} unanswered over 2 h (likely gone, counted apart)" if o.gone else "")
    )
    how = "the roster" if o.roster else f"a reply in the last {o.active_s / 60:.0f} min"
    click.echo(
        f"agents online ({how}): {len(o.agents)}, holding {held:,} chats waiting for a reply"
        + (f", at most {max(o.agents.values())} each" if o.agents else "")
        + (f"; {o.unheld:,} more whose last agent is logged off" if o.unheld else "")
    )
    cap = max(p.max_concurrency for p in spec.pools)
    for agent, n in sorted(o.agents.items()):
        if n > cap:
            # A state no agent of the plan can hold: said, never clipped.
            click.echo(
                f"  {agent} holds {n} chats waiting for its reply at {day.at:%H:%M}, more "
                f"than any pool's max_concurrency ({cap}): handed over or an export's gap?"
            )
    if day.targets:
        click.echo(
            "targets so far (a chat still open counts as the rule counts an unanswered one):"
        )
    for r in day.targets:
        verdict = "on track" if r.target.holds(r.final) else "below its target so far"
        click.echo(f"  {r.target.text:40s} {fmt_metric(r.final, r.series.unit)}: {verdict}")
    for s in day.skipped:
        click.echo(f"  not scored: {s}")
    click.echo(
        "not yet: the rest of the day simulated from this state, and whom to call in "
        "(issue 22: the engine started from a given state)"
    )
