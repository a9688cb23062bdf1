"""Checks that a validated scenario can run, before any simulation starts.

The schema checks each field; these checks need the demand profiles, the
seller's history and the marketplace rules, which the schema cannot import.
Each problem becomes a :class:`~peakdesk.scenario.load.ScenarioError` naming
the section, so the command line stops with exit code 2 and no traceback.

They include the size of the run (:func:`estimate_size`): expected
conversations, buyer messages, engine events, reporting rows (the drain past
the horizon included) and memory, judged from the demand profile and the
distributions, before anything of that size is allocated.  Over the limits of
:data:`SIZE_LIMITS` a run needs ``--no-size-limit``; past
:data:`MAX_CONVERSATIONS` no flag helps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peakdesk.demand.distributions import count_mean, duration_mean_s
from peakdesk.demand.forecast_csv import ForecastError
from peakdesk.demand.sample import expected_demand, intensity
from peakdesk.engine.intervals import peak_level
from peakdesk.engine.setup import TABLE_GROUP, build_config, fixed_instances
from peakdesk.rules import registry
from peakdesk.rules.history import HistoryError, read_history_csv
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import LoadedScenario, ScenarioError
from peakdesk.scenario.schema import Pool, Scenario
from peakdesk.units import error_text, format_long_duration

# ---------------------------------------------------------------------------
# The size of a run
# ---------------------------------------------------------------------------

#: Bytes a run holds per conversation and per buyer message (workload, engine state,
#: log), measured with ``simulate`` on flat scenarios of 140k-280k conversations.
BYTES_PER_CONVERSATION = 300.0
BYTES_PER_MESSAGE = 220.0
#: Per conversation and inquiry type while arrivals get their type (three float arrays).
BYTES_PER_CONVERSATION_TYPE = 24.0
#: Per intensity bin: the (types x bins) arrays, and a local datetime per bin.
BYTES_PER_BIN_TYPE = 24.0
BYTES_PER_BIN = 200.0
#: Per reporting row (intervals of the horizon and of the drain after it).
BYTES_PER_INTERVAL_ROW = 500.0
#: Per agent and per online segment of an agent (a shift piece between breaks).
BYTES_PER_AGENT = 1000.0
BYTES_PER_SEGMENT = 150.0
#: Per agent and chat it can hold: the compiled engine's inbox, held chats and
#: replies in progress (seven 8-byte arrays by the pool's concurrency cap).
BYTES_PER_AGENT_SLOT = 64.0

#: No run has more expected conversations, or agents' online segments (shift pieces
#: between breaks, over the days), whatever the flags: ~0.5 TB and ~15 GB of memory.
MAX_CONVERSATIONS = 1e9
#: Expected buyer messages the compiled engine takes in one run: its indices are 32-bit
#: (2**31 - 1), less a margin for a draw above the expectation.
COMPILED_MAX_MESSAGES = 0.9 * (2**31 - 1)
MAX_SEGMENTS = 1e8


@dataclass(frozen=True)
class SizeLimits:
    """Largest run (per replication) a command starts without ``--no-size-limit``.

    Attributes
    ----------
    conversations
        Expected conversations.
    events
        Engine events (arrivals, buyer messages, replies, closes, shift changes).
    interval_rows
        Rows of the reporting grid, the drain after the horizon included.
    memory_bytes
        Estimated memory, bytes.
    """

    conversations: float = 20e6
    events: float = 200e6
    interval_rows: float = 2e6
    memory_bytes: float = 4 * 2.0**30


#: The defaults: 20 million conversations, 200 million events, 2 million interval
#: rows, 4 GiB (a 1-million-conversation run takes ~0.5 GiB and ~15 s an engine run).
SIZE_LIMITS = SizeLimits()


@dataclass(frozen=True)
class RunSize:
    """What one replication of a scenario would hold, estimated without running it.

    Attributes
    ----------
    conversations
        Expected conversations over the horizon.
    messages
        Expected buyer messages (if nobody left).
    events
        Engine events, roughly.
    agents, segments
        Agents and their online segments (fixed shifts).
    horizon_s
        The horizon, seconds.
    drain_s
        Time past the horizon until the last chat could close, seconds (rough:
        the longest shift, then an agent finishing a full load of the slowest
        chats at mean times).
    interval_rows
        Rows of the reporting grid: horizon plus drain, over ``calendar.interval``.
    memory_bytes
        Estimated peak memory, bytes.
    memory_parts
        Its parts: conversations, messages, intensity, interval rows, agents.
    volume_field, messages_field, drain_field, agents_field
        The fields that drive the conversations, the messages, the drain and
        the agents' online segments.
    """

    conversations: float
    messages: float
    events: float
    agents: int
    segments: int
    horizon_s: float
    drain_s: float
    interval_rows: float
    memory_bytes: float
    memory_parts: dict[str, float]
    volume_field: str
    messages_field: str
    drain_field: str
    agents_field: str


def _multipliers(pool: Pool) -> list[float]:
    if pool.compose_multiplier_by_concurrency is not None:
        return list(pool.compose_multiplier_by_concurrency)
    return [1.0 + pool.slowdown_per_extra_chat * k for k in range(pool.max_concurrency)]


def _volume_field(spec: Scenario) -> str:
    dem = spec.demand
    if dem.business is not None:
        name = "demand.business.gmv"
    elif dem.profile == "csv":
        name = f"demand.forecast = {dem.forecast!r}"
    elif dem.day_volumes is not None:
        name = f"demand.day_volumes = {dem.day_volumes!r}"
    elif dem.total is not None:
        name = "demand.total"
    else:
        name = "demand.volume_per_day"
    return name if dem.multiplier == 1.0 else f"{name} (x demand.multiplier = {dem.multiplier:g})"


def _drain(spec: Scenario) -> tuple[float, str]:
    """Rough time past the horizon until the last chat closes, and the field that drives it."""
    lengths = [s.length for p in spec.pools for s in p.shifts]
    lengths += [max(p.plan.lengths) for p in spec.pools if p.plan is not None]
    worst, field = 0.0, "calendar.horizon"
    for k, pool in enumerate(spec.pools):
        mult = max(_multipliers(pool))
        for j, t in enumerate(spec.inquiry_types):
            prof = pool.skills.get(t.skill_name)
            if prof is None:
                continue
            m = count_mean(t.messages)
            compose = duration_mean_s(t.compose_time)
            think = duration_mean_s(t.think_time)
            # An agent holding max_concurrency such chats finishes them one reply at a time.
            work = pool.max_concurrency * m * compose * mult / (pool.speed * prof)
            work += m * think + t.wrap_up
            if work > worst:
                mult_field = (
                    "compose_multiplier_by_concurrency"
                    if pool.compose_multiplier_by_concurrency is not None
                    else "slowdown_per_extra_chat"
                )
                why = {
                    f"pools[{k}].speed": 1.0 / pool.speed,
                    f"pools[{k}].skills.{t.skill_name}": 1.0 / prof,
                    f"pools[{k}].{mult_field}": mult,
                    f"inquiry_types[{j}].compose_time": compose / 60.0,
                    f"inquiry_types[{j}].think_time": think / 60.0,
                    f"inquiry_types[{j}].messages": m / 5.0,
                }
                worst, field = work, max(why, key=why.__getitem__)
    idle = spec.routing.idle_close or 0.0
    return max(lengths, default=0.0) + worst + idle, field


def estimate_size(loaded: LoadedScenario) -> RunSize:
    """The size of one replication, from the profile and the distributions' means.

    Allocates one value per profile bin (or reads the forecast file), nothing of
    the run's size.

    Raises
    ------
    ForecastError
        If the forecast file cannot be used.
    ValueError
        If the demand profile cannot be built.
    """
    spec = loaded.spec
    demand = expected_demand(loaded)
    types = spec.inquiry_types
    conv = demand.conversations
    per_type_msgs = [
        float(n) * count_mean(t.messages) for n, t in zip(demand.by_type, types, strict=True)
    ]
    messages = math.fsum(per_type_msgs)
    human = [float(n) * (1.0 - t.bot_resolve) for n, t in zip(demand.by_type, types, strict=True)]
    human_msgs = [h * count_mean(t.messages) for h, t in zip(human, types, strict=True)]
    agents = sum(s.agents for p in spec.pools for s in p.shifts)
    max_cap = max((p.max_concurrency for p in spec.pools), default=1)
    by_shift: dict[tuple[int, str], int] = {}
    for inst in fixed_instances(spec):
        tail = inst.group.rsplit("/", 1)[-1]
        # A staffing table's runs are one entry: the field to lower is the table.
        key = (inst.pool, TABLE_GROUP if tail.startswith(TABLE_GROUP) else tail)
        by_shift[key] = by_shift.get(key, 0) + inst.agents * (1 + len(inst.breaks))
        if key[1] == TABLE_GROUP:
            agents += inst.agents
    segments = sum(by_shift.values())
    pool_k, shift_k = max(by_shift, key=by_shift.__getitem__, default=(0, "0"))
    agents_field = (
        f"pools[{pool_k}].staffing"
        if shift_k == TABLE_GROUP
        else f"pools[{pool_k}].shifts[{shift_k}].agents"
    )
    # Per human conversation with k messages: an arrival, k replies, k - 1 buyer
    # messages, a close (and perhaps a patience check); two per online segment.
    events = (
        math.fsum(2.0 * hm + 2.0 * h for hm, h in zip(human_msgs, human, strict=True))
        + 2.0 * segments
    )
    drain_s, drain_field = _drain(spec)
    rows = (spec.calendar.horizon + drain_s) / spec.calendar.interval
    rows = float(math.ceil(rows)) if math.isfinite(rows) else rows
    parts = {
        "conversations": conv * (BYTES_PER_CONVERSATION + BYTES_PER_CONVERSATION_TYPE * len(types)),
        "messages": messages * BYTES_PER_MESSAGE,
        "intensity": demand.n_bins * (BYTES_PER_BIN + BYTES_PER_BIN_TYPE * len(types)),
        "interval_rows": rows * BYTES_PER_INTERVAL_ROW,
        "agents": agents * (BYTES_PER_AGENT + BYTES_PER_AGENT_SLOT * max_cap)
        + segments * BYTES_PER_SEGMENT,
    }
    busiest = max(range(len(types)), key=per_type_msgs.__getitem__)
    return RunSize(
        conversations=conv,
        messages=messages,
        events=events,
        agents=agents,
        segments=segments,
        horizon_s=spec.calendar.horizon,
        drain_s=drain_s,
        interval_rows=rows,
        memory_bytes=math.fsum(parts.values()),
        memory_parts=parts,
        volume_field=_volume_field(spec),
        messages_field=f"inquiry_types[{busiest}].messages",
        drain_field=drain_field,
        agents_field=agents_field,
    )


def _n(x: float) -> str:
    """A count for people: ``12,345`` or ``3.4e+13``."""
    return f"{x:,.0f}" if x < 1e12 else f"{x:.3g}"


def _gib(x: float) -> str:
    return f"{x / 2.0**30:,.1f} GiB" if x < 2.0**70 else f"{x:.3g} bytes"


def hard_size_problems(size: RunSize) -> list[str]:
    """Sizes no flag can make runnable (:data:`MAX_CONVERSATIONS`, :data:`MAX_SEGMENTS`)."""
    out = []
    if size.conversations > MAX_CONVERSATIONS:
        out.append(
            f"{size.volume_field}: ~{_n(size.conversations)} expected conversations per "
            f"replication; at most {_n(MAX_CONVERSATIONS)} are allowed (such a run would need "
            f"~{_gib(size.memory_bytes)} of memory)"
        )
    if size.segments > MAX_SEGMENTS:
        out.append(
            f"{size.agents_field}: ~{_n(size.segments)} online segments of agents (shift "
            f"pieces between breaks, every day of the horizon); at most {_n(MAX_SEGMENTS)} "
            "are allowed"
        )
    return out


def compiled_size_problems(size: RunSize) -> list[str]:
    """Sizes past the compiled engine's 32-bit indices (:data:`COMPILED_MAX_MESSAGES`)."""
    if size.messages <= COMPILED_MAX_MESSAGES:
        return []
    per_conv = size.messages / size.conversations if size.conversations > 0 else 0.0
    field = size.messages_field if per_conv > 10.0 else size.volume_field
    return [
        f"{field}: ~{_n(size.messages)} buyer messages per replication; the compiled engine "
        f"indexes them with 32-bit integers and takes at most {_n(COMPILED_MAX_MESSAGES)} "
        "(with margin for the draw); lower it, or run with --engine reference"
    ]


def size_problems(size: RunSize, limits: SizeLimits = SIZE_LIMITS) -> list[str]:
    """A run over the limits, one line per field that drives it (empty: within them)."""
    spec_hint = "run with --no-size-limit to go ahead anyway"
    out: dict[str, str] = {}
    per_conv = size.messages / size.conversations if size.conversations > 0 else 0.0
    if size.conversations > limits.conversations:
        out[size.volume_field] = (
            f"~{_n(size.conversations)} expected conversations per replication, over the "
            f"limit of {_n(limits.conversations)}; lower it, or {spec_hint}"
        )
    if size.events > limits.events:
        field = size.messages_field if per_conv > 10.0 else size.volume_field
        out.setdefault(
            field,
            f"~{_n(size.events)} engine events per replication (~{_n(size.conversations)} "
            f"conversations, {per_conv:.1f} buyer messages each), over the limit of "
            f"{_n(limits.events)}; lower it, or {spec_hint}",
        )
    # Too many rows even at a 15-minute interval: the drain after the horizon is the cause
    # (the horizon itself gives at most 35,136); otherwise the interval is too fine.
    at_15min = (size.horizon_s + size.drain_s) / 900.0
    rows_field = size.drain_field if at_15min > limits.interval_rows else "calendar.interval"
    if size.interval_rows > limits.interval_rows:
        if rows_field != "calendar.interval":
            text = (
                f"the slowest chats would keep agents busy ~{format_long_duration(size.drain_s)} "
                f"past the horizon: ~{_n(size.interval_rows)} reporting rows per replication, "
                f"over the limit of {_n(limits.interval_rows)}; make replies take minutes, "
                f"not days, or {spec_hint}"
            )
        else:
            text = (
                f"~{_n(size.interval_rows)} reporting rows per replication (the horizon and "
                f"the drain after it, cut into intervals), over the limit of "
                f"{_n(limits.interval_rows)}; use a longer interval, or {spec_hint}"
            )
        out.setdefault(rows_field, text)
    if size.memory_bytes > limits.memory_bytes:
        part = max(size.memory_parts, key=size.memory_parts.__getitem__)
        field = {
            "conversations": size.volume_field,
            "messages": size.messages_field if per_conv > 10.0 else size.volume_field,
            "intensity": "calendar.horizon",
            "interval_rows": rows_field,
            "agents": size.agents_field,
        }[part]
        shares = ", ".join(
            f"{k.replace('_', ' ')} {_gib(v)}"
            for k, v in sorted(size.memory_parts.items(), key=lambda kv: -kv[1])
            if v >= 0.05 * size.memory_bytes
        )
        out.setdefault(
            field,
            f"the run would need ~{_gib(size.memory_bytes)} of memory per replication "
            f"({shares}), over the limit of {_gib(limits.memory_bytes)}; lower it, or {spec_hint}",
        )
    return [f"{field}: {text}" for field, text in out.items()]


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def platform_metrics(platform: str, rule: Any = None) -> set[str]:
    """The metric names a platform's rule computes (``rule``: its default).

    A one-conversation log gives every name.
    """
    probe = MessageLog.from_arrays([0, 0], [BUYER, AGENT], [1.7e9, 1.7e9 + 10], ordered=[True])
    return set(registry.score(probe, platform, rule))


def history_metric_problem(platform: str | None = None) -> Callable[[str], str | None]:
    """A check of a history file's metric names, for :func:`read_history_csv`.

    Parameters
    ----------
    platform
        The only platform the history may be of (``score --platform``); default any.

    Returns
    -------
    callable
        ``metric -> None`` for a metric its platform computes, otherwise why not
        (so that a typo is an error, not a history silently left out).
    """
    known: dict[str, set[str]] = {}

    def problem(metric: str) -> str | None:
        try:
            owner = registry.metric_platform(metric)
        except KeyError:
            return (
                f"metric {metric!r} names no platform; write platform.metric, e.g. "
                f"shopee.crr (platforms: {', '.join(registry.PLATFORMS)})"
            )
        if platform is not None and owner != registry.canonical(platform):
            return (
                f"metric {metric!r} is a {owner} metric; the {registry.canonical(platform)} "
                "rule does not score it"
            )
        if owner not in known:
            known[owner] = platform_metrics(owner)
        if metric not in known[owner]:
            return f"{owner} has no metric {metric!r}; metrics: {', '.join(sorted(known[owner]))}"
        return None

    return problem


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def check_size(loaded: LoadedScenario, *, size_limit: bool = True) -> RunSize:
    """Raise :class:`ScenarioError` for a run too large to start (see :func:`estimate_size`).

    Parameters
    ----------
    loaded
        The scenario.
    size_limit
        Apply :data:`SIZE_LIMITS` (``--no-size-limit`` turns this off); sizes past
        :data:`MAX_CONVERSATIONS` are refused either way.

    Raises
    ------
    ScenarioError
        Naming the field that drives the size, the estimate and the limit.
    ForecastError, ValueError
        If the demand cannot be estimated (a bad forecast file or profile).
    """
    size = estimate_size(loaded)
    problems = hard_size_problems(size) or (size_problems(size) if size_limit else [])
    if not problems and loaded.spec.simulation.engine == "compiled":
        problems = compiled_size_problems(size)
    if problems:
        raise ScenarioError(loaded.path, problems, what="too large to run")
    return size


def check_runnable(loaded: LoadedScenario, *, size_limit: bool = True) -> None:
    """Raise :class:`ScenarioError` for problems only a run would otherwise meet.

    Checks: the size of the run (before anything of that size is allocated; see
    :func:`check_size`), the demand profile builds (e.g. a presale wave on the
    peak day), the forecast and history files read, and every target names a
    metric its platform computes.

    Parameters
    ----------
    loaded
        The scenario.
    size_limit
        Refuse runs over :data:`SIZE_LIMITS` (``--no-size-limit`` gives ``False``).
    """
    from peakdesk.experiment.targets import rule_for, scenario_targets

    problems: list[str] = []
    try:
        check_size(loaded, size_limit=size_limit)
        intensity(loaded)
    except ForecastError as exc:
        problems.append(f"demand.forecast: {exc}")
    except ValueError as exc:
        problems.append(f"demand.{loaded.spec.demand.profile}: {error_text(exc)}")
    history = loaded.spec.targets.history
    if history is not None:
        try:
            read_history_csv(loaded.resolve(history), metric_problem=history_metric_problem())
        except HistoryError as exc:
            problems.append(f"targets.history: {exc}")
    known: dict[str, set[str]] = {}
    for k, target in enumerate(scenario_targets(loaded)):
        platform = registry.canonical(target.platform)
        if platform not in known:
            try:
                rule = rule_for(loaded, platform, target.rule_options)
                known[platform] = platform_metrics(platform, rule)
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"rules.{platform}: {error_text(exc)}")
                known[platform] = set()
                continue
        if known[platform] and target.metric not in known[platform]:
            problems.append(
                f"targets.require[{k}] = {target.text!r}: {platform} has no metric "
                f"{target.metric!r}; metrics: {', '.join(sorted(known[platform]))}"
            )
    if problems:
        raise ScenarioError(loaded.path, problems)


def scenario_warnings(loaded: LoadedScenario) -> list[str]:
    """Things that validate but are probably not what the planner meant.

    Returns
    -------
    list of str
        One sentence each: a pool with no agents, more agents scheduled online
        at once than sub-accounts (the others wait, paid and idle).
    """
    spec = loaded.spec
    out = []
    for p in spec.pools:
        table = p.staffing_table
        if p.headcount == 0 and (table is None or not any(table.agents)):
            out.append(f"pool {p.name!r} has no agents on any shift")
    cfg = build_config(spec)
    at_once = peak_level(cfg.segment_start_s, cfg.segment_end_s)
    if at_once > spec.subaccounts.count:
        out.append(
            f"up to {at_once} agents are scheduled online at once but there are "
            f"{spec.subaccounts.count} sub-accounts: the others wait for a free one"
        )
    return out
