"""``peakdesk erlang``: quick answers from Erlang C, Erlang A and the chat model."""

from __future__ import annotations

import json

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    fail,
)
from peakdesk.output import json_safe
from peakdesk.units import format_duration


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
