"""Checks that a validated scenario can run, before any simulation starts.

The schema checks each field; these checks need the demand profiles, the
seller's history and the marketplace rules, which the schema cannot import.
Each problem becomes a :class:`~peakdesk.scenario.load.ScenarioError` naming
the section, so the command line stops with exit code 2 and no traceback.
"""

from __future__ import annotations

from peakdesk.demand.forecast_csv import ForecastError
from peakdesk.demand.sample import intensity
from peakdesk.engine.intervals import peak_level
from peakdesk.engine.setup import build_config
from peakdesk.rules import registry
from peakdesk.rules.history import HistoryError
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import LoadedScenario, ScenarioError
from peakdesk.units import error_text


def check_runnable(loaded: LoadedScenario) -> None:
    """Raise :class:`ScenarioError` for problems only a run would otherwise meet.

    Checks: the demand profile builds (e.g. a presale wave on the peak day),
    the forecast and history files read, and every target names a metric its
    platform computes.
    """
    from peakdesk.experiment.targets import rule_for, scenario_history, scenario_targets

    problems: list[str] = []
    try:
        intensity(loaded)
    except ForecastError as exc:
        problems.append(f"demand.forecast: {exc}")
    except ValueError as exc:
        problems.append(f"demand.{loaded.spec.demand.profile}: {error_text(exc)}")
    try:
        scenario_history(loaded)
    except HistoryError as exc:
        problems.append(f"targets.history: {exc}")
    # A one-conversation log gives every metric name a platform computes.
    probe = MessageLog.from_arrays([0, 0], [BUYER, AGENT], [1.7e9, 1.7e9 + 10], ordered=[True])
    known: dict[str, set[str]] = {}
    for k, target in enumerate(scenario_targets(loaded)):
        platform = registry.canonical(target.platform)
        if platform not in known:
            try:
                rule = rule_for(loaded, platform, target.rule_options)
                known[platform] = set(registry.score(probe, platform, rule))
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
        if p.headcount == 0:
            out.append(f"pool {p.name!r} has no agents on any shift")
    cfg = build_config(spec)
    at_once = peak_level(cfg.segment_start_s, cfg.segment_end_s)
    if at_once > spec.subaccounts.count:
        out.append(
            f"up to {at_once} agents are scheduled online at once but there are "
            f"{spec.subaccounts.count} sub-accounts: the others wait for a free one"
        )
    return out
