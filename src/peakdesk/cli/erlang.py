"""``peakdesk erlang``: quick answers from Erlang C, Erlang A and the chat model."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    fail,
)
from peakdesk.engine.intervals import ERLANG_DEFINITIONS
from peakdesk.output import json_safe
from peakdesk.units import format_duration, zone_info


@main.command("erlang")
@click.option(
    "--rate",
    "rate_per_hour",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Arrivals per hour (required without --intervals).",
)
@click.option(
    "--aht",
    "aht",
    default=None,
    help="Mean handling time, e.g. '3min'; for chats, one per number of chats held "
    "(1, 2, ...): '180s,210s,240s' or '180,210,240s' (a unit at the end applies to all). "
    "Required without --intervals; with it, the time a chat holds its slot (default: the "
    "run's own, chat-seconds held / chats taken).",
)
@click.option(
    "--target",
    "target",
    default=None,
    help="Service-level time, e.g. '20s' [default: 20s; with --intervals, the run's].",
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
@click.option(
    "--intervals",
    "run_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="A run folder (simulate --out or plan --out): each interval's stationary "
    "figures beside the simulated ones.",
)
@click.option("--json", "as_json", is_flag=True)
def erlang_cmd(
    rate_per_hour: float | None,
    aht: str | None,
    target: str | None,
    service_level: float,
    agents: int | None,
    patience: str | None,
    concurrency: int | None,
    run_dir: str | None,
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

    if run_dir is not None:
        _intervals(Path(run_dir), aht, target, patience, as_json)
        return
    if rate_per_hour is None or aht is None:
        fail(
            "give --rate and --aht (arrivals per hour and the handling time), or "
            "--intervals RUN_DIR to compare a run with the formula interval by interval"
        )
        return
    try:
        handle_s = _handle_times(aht)
        t_s = parse_duration_s(target or "20s")
        pat_s = parse_duration_s(patience) if patience else math.inf
    except ValueError as exc:
        fail(str(exc))
        return
    m = concurrency if concurrency is not None else len(handle_s)
    if len(handle_s) == 1:
        handle_s = handle_s * m
    if len(handle_s) != m:
        fail(
            f"--aht gives {len(handle_s)} handle times for --concurrency {m}; give one "
            f"(the same at every level) or {m}, one per number of chats held 1..{m}"
        )
        return
    drop = next((k for k in range(1, m) if handle_s[k] < handle_s[k - 1]), None)
    if drop is not None:
        fail(
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
            fail(str(exc))
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


def _intervals(
    run_dir: Path, aht: str | None, target: str | None, patience: str | None, as_json: bool
) -> None:
    """``erlang --intervals``: each interval of a run, the formula beside the simulation."""
    from peakdesk.experiment.interval_figures import JUDGED, erlang_beside, slot_hold_s
    from peakdesk.report.rundata import RunData, RunDirError
    from peakdesk.units import parse_duration_s

    try:
        run = RunData.from_dir(run_dir)
    except RunDirError as exc:
        fail(str(exc))
        return
    summary = run.summary
    figures = summary.get("interval_figures") or {}
    if "taken" not in run.intervals or "p_delay" not in run.intervals:
        fail(
            f"{run_dir}: intervals.csv has no Erlang figures (written by an older "
            "peakdesk? run it again)"
        )
        return
    try:
        handle = _handle_times(aht) if aht else None
        t_s = parse_duration_s(target) if target else float(figures.get("service_level_s", 20.0))
        pat_s = parse_duration_s(patience) if patience else math.inf
    except ValueError as exc:
        fail(str(exc))
        return
    if handle is not None and len(handle) != 1:
        fail("--aht with --intervals: one time a chat holds its slot, e.g. '4min'")
        return
    interval_s = float(summary["interval_s"])
    try:
        # The slot-holding time once: the formula takes it, the output shows it.
        hold = handle[0] if handle else slot_hold_s(run.intervals, interval_s)
        rows = erlang_beside(
            run.intervals,
            interval_s,
            float(summary["horizon_s"]),
            t_s,
            handle_s=hold,
            patience_s=pat_s,
        )
    except ValueError as exc:
        fail(f"{run_dir}: {exc}")
        return
    model = "Erlang A" if math.isfinite(pat_s) else "Erlang C"
    start = dt.datetime.fromisoformat(str(summary["start"]))
    outside = sum(1 for r in rows if "p_delay" in r.outside)
    judged = sum(
        1
        for r in rows
        if math.isfinite(r.simulated["p_delay"][1]) and not math.isnan(r.formula["p_delay"])
    )
    data: dict[str, Any] = {
        "run": str(run_dir),
        "model": f"{model} per interval on agents x concurrency slots",
        "handle_time_s": hold,
        "handle_time_source": "--aht" if handle else "the run: chat-seconds held / chats taken",
        "mean_patience_s": pat_s,
        "service_level_s": t_s,
        "replications": summary["replications"],
        "p_delay_outside": outside,
        "intervals_judged": judged,
        "definitions": ERLANG_DEFINITIONS,
        "intervals": [
            {
                "start": (start.astimezone(dt.UTC) + dt.timedelta(seconds=r.start_s))
                .astimezone(start.tzinfo)
                .isoformat(),
                "arrivals_per_h": r.arrivals_per_h,
                "agents_online": r.agents,
                "concurrency": r.concurrency,
                "load_erlangs": r.load,
                "simulated": {
                    k: dict(zip(("mean", "low", "high"), v, strict=True))
                    for k, v in r.simulated.items()
                },
                "formula": r.formula,
                "formula_outside_simulated_interval": list(r.outside),
            }
            for r in rows
        ],
    }
    if as_json:
        click.echo(json.dumps(json_safe(data), indent=2))
        return
    reps = int(summary["replications"])
    click.echo(
        f"{run_dir}: {len(rows)} intervals of {format_duration(interval_s)}, {reps} "
        f"replication{'s' if reps != 1 else ''}; {model} per interval on agents x "
        f"concurrency slots, a chat holding its slot {format_duration(hold)} "
        f"({data['handle_time_source']}), service level at {format_duration(t_s)}"
    )
    click.echo(
        f"{'interval':<17}{'arr/h':>8}{'agents':>8}{'load':>7}  "
        f"{'P(delay) sim [95%]':>22}{'formula':>9}  {'ASA sim':>9}{'formula':>9}  "
        f"{'SL sim':>7}{'formula':>9}"
    )
    zone: dt.tzinfo | None = start.tzinfo
    with contextlib.suppress(Exception):  # the start's offset if the zone is not known here
        zone = zone_info(str(summary.get("timezone")))
    start_utc = start.astimezone(dt.UTC)
    for r in rows:
        # In UTC, then the zone: the offset changes across a daylight-saving change.
        local = (start_utc + dt.timedelta(seconds=r.start_s)).astimezone(zone)
        p, asa, sl = (r.simulated[k] for k in ("p_delay", "asa_s", "service_level"))
        band = (
            f"{_share(p[0])} [{_share(p[1])}-{_share(p[2])}]"
            if math.isfinite(p[1])
            else _share(p[0])
        )
        mark = " *" if r.outside else ""
        click.echo(
            f"{local:%m-%d %H:%M}      {r.arrivals_per_h:>8.0f}{r.agents:>8.1f}{r.load:>7.1f}  "
            f"{band:>22}{_share(r.formula['p_delay']):>9}  {_secs(asa[0]):>9}"
            f"{_secs(r.formula['asa_s']):>9}  {_share(sl[0]):>7}"
            f"{_share(r.formula['service_level']):>9}{mark}"
        )
    click.echo(
        f"the formula's P(delay) is outside the simulation's 95% interval (by more than 0.5 "
        f"point) in {outside} of "
        f"{judged} intervals with an interval (* marks an interval where {' or '.join(JUDGED)} "
        "is); where it is, the interval's dynamics (a queue carried over, agents coming on "
        "into a backlog, a surge within the interval) are what the stationary formula leaves "
        "out. The service level and abandonment differ by model where buyers may leave after "
        "an agent took the chat (patience until the first reply); the formula's never do"
    )
    click.echo("definitions:")
    for key, text in ERLANG_DEFINITIONS.items():
        click.echo(f"  {key}: {text}")


def _share(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def _secs(x: float) -> str:
    if math.isnan(x):
        return "-"
    return "inf" if math.isinf(x) else f"{x:.0f}s"
