"""Scoring simulated runs against a scenario's targets, and how sure we are.

For each replication the chat log is exported as the rules' message log and
scored with the platform rules the targets name (with the scenario's rule
options, its calendar's timezone and holidays by default, and the seller's
history).  Across replications each target gets the probability of being met
(with a Wilson interval) and the mean of its worst daily rolling value.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from peakdesk.binomial import wilson_bounds
from peakdesk.engine.export import to_message_log
from peakdesk.engine.log import ChatLog
from peakdesk.rules import registry
from peakdesk.rules.calendar import day_date
from peakdesk.rules.history import read_history_csv
from peakdesk.rules.series import DailyHistory, MetricSeries
from peakdesk.rules.targets import Target, TargetResult, evaluate, parse_target
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import rule_options


def scenario_targets(loaded: LoadedScenario) -> list[Target]:
    """The scenario's targets, parsed.

    Raises
    ------
    ValueError
        A target scoped to a client (``[tmall] ...``) in a scenario that is not a
        centre, or naming a client the centre does not have.
    """
    out = [parse_target(t) for t in loaded.spec.targets.require]
    names = [] if loaded.centre is None else [c.name for c in loaded.centre.clients]
    for t in out:
        if t.client is None:
            continue
        if loaded.centre is None:
            raise ValueError(
                f"target {t.text!r} names a client; only a centre file has clients "
                "(write the target without '[...]')"
            )
        if t.client not in names:
            raise ValueError(f"target {t.text!r}: no client {t.client!r}; clients: {names}")
    return out


def scenario_history(loaded: LoadedScenario) -> dict[str, DailyHistory]:
    """The seller's history named by the scenario (empty if none)."""
    h = loaded.spec.targets.history
    return read_history_csv(loaded.resolve(h)) if h else {}


def _make_rule(
    tables: dict[str, dict[str, Any]],
    timezone: str,
    holidays: tuple[Any, ...],
    platform: str,
    extra: tuple[tuple[str, Any], ...],
) -> Any:
    name = registry.canonical(platform)
    options: dict[str, Any] = {}
    for key, value in tables.items():
        if registry.canonical(key) == name:
            options = rule_options(value)
    preset = options.pop("preset", "default")
    base = registry.make_rule(name, preset)
    fields = {f.name for f in dataclasses.fields(base)}
    # A preset names a market and its zone; without one, the calendar's zone is the clock.
    if "timezone" in fields and "timezone" not in options and preset == "default":
        options["timezone"] = timezone
    if "holidays" in fields and "holidays" not in options and holidays:
        options["holidays"] = tuple(holidays)
    options.update(dict(extra))
    return registry.make_rule(name, preset, **options)


def rule_for(
    loaded: LoadedScenario,
    platform: str,
    extra: tuple[tuple[str, Any], ...] = (),
    client: str | None = None,
) -> Any:
    """A platform rule as the scenario configures it.

    The scenario's ``[rules.<platform>]`` options apply over the chosen preset;
    the timezone defaults to the calendar's and, where the rule knows public
    holidays, so do the holidays.  For a centre's client, its own ``[rules]``,
    clock and holidays.
    """
    spec = loaded.spec
    if client is not None and loaded.centre is not None:
        c = loaded.centre.client(client)
        return _make_rule(c.rules, c.timezone, c.holidays, platform, extra)
    return _make_rule(
        spec.rules, spec.calendar.timezone, tuple(spec.calendar.holidays or ()), platform, extra
    )


def score_targets(
    loaded: LoadedScenario,
    log: ChatLog,
    targets: list[Target],
    history: dict[str, DailyHistory],
) -> list[TargetResult]:
    """Judge one replication's log against every target.

    A centre client's target is scored on that client's conversations only,
    with its rule, clock and history.
    """
    if not targets:
        return []
    messages = to_message_log(log)
    t0 = log.start.timestamp()
    cache: dict[tuple[str, tuple[tuple[str, Any], ...], str | None], dict[str, MetricSeries]] = {}
    out = []
    for t in targets:
        key = (registry.canonical(t.platform), t.rule_options, t.client)
        if key not in cache:
            rule = rule_for(loaded, t.platform, t.rule_options, t.client)
            msgs, hist = messages, history
            keep = None
            if t.client is not None and loaded.centre is not None:
                c = loaded.centre.client(t.client)
                keep = np.isin(log.workload.type_idx, c.types)
                msgs, hist = messages.of_conversations(keep), c.history
            extra: dict[str, Any] = {}
            if key[0] == "generic":
                # Only the simulation knows when each buyer left.
                gone, when = log.abandoned, t0 + log.abandon_s
                if keep is not None:
                    gone, when = gone[keep], when[keep]
                extra = {"abandoned": gone, "abandon_s": when}
            cache[key] = registry.score(msgs, key[0], rule, hist, **extra)
        scored = cache[key]
        if t.metric not in scored:
            raise KeyError(
                f"target {t.text!r}: {key[0]} has no metric {t.metric!r}; metrics: {sorted(scored)}"
            )
        out.append(evaluate(t, scored[t.metric]))
    return out


@dataclass(frozen=True)
class TargetSummary:
    """A target over replications.

    Attributes
    ----------
    target
        The target.
    unit
        The metric's unit: ``"share"`` or ``"seconds"``.
    replications
        Replications judged.
    p_met, p_low, p_high
        Share of replications that met the target, with a Wilson interval.
    worst_mean, worst_low, worst_high
        Mean of each replication's worst daily rolling value, with a t interval.
    first_failing_days
        Per replication, the first simulated day that missed (``None`` if none).
    days
        The days of the series (ISO dates).
    rolling_mean
        Per day, the rolling value averaged over replications.
    daily_mean
        Per day, that day's own value (not rolled) averaged over replications.
    """

    target: Target
    unit: str
    replications: int
    p_met: float
    p_low: float
    p_high: float
    worst_mean: float
    worst_low: float
    worst_high: float
    first_failing_days: tuple[str | None, ...]
    days: tuple[str, ...]
    rolling_mean: tuple[float, ...]
    daily_mean: tuple[float, ...] = ()


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return math.nan, math.nan
    return wilson_bounds(successes, n, float(stats.norm.ppf(0.5 + confidence / 2)))


def summarise_targets(
    per_replication: list[list[TargetResult]], confidence: float = 0.95
) -> list[TargetSummary]:
    """Combine each target's results over replications."""
    if not per_replication or not per_replication[0]:
        return []
    out = []
    for k in range(len(per_replication[0])):
        results = [rep[k] for rep in per_replication]
        n = len(results)
        met = sum(r.met for r in results)
        lo, hi = wilson(met, n, confidence)
        worst = np.array([r.worst for r in results], dtype=np.float64)
        w = worst[~np.isnan(worst)]
        wm = float(w.mean()) if w.size else math.nan
        if w.size > 1:
            half = float(stats.t.ppf(0.5 + confidence / 2, w.size - 1) * w.std(ddof=1))
            half /= math.sqrt(w.size)
        else:
            half = math.nan
        # Replications may span different days (a drain past midnight): align on dates.
        # Only the simulated days: the history before them is the seller's, not ours.
        all_days = sorted(
            {
                int(d)
                for r in results
                for d, h in zip(r.series.days, _history_mask(r.series), strict=True)
                if not h
            }
        )
        table = np.full((n, len(all_days)), np.nan)
        daily = np.full((n, len(all_days)), np.nan)
        pos = {d: i for i, d in enumerate(all_days)}
        for i, r in enumerate(results):
            for d, v, v1 in zip(
                r.series.days.tolist(),
                r.series.rolling.tolist(),
                r.series.daily.tolist(),
                strict=True,
            ):
                if int(d) in pos:
                    table[i, pos[int(d)]] = v
                    daily[i, pos[int(d)]] = v1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a day no run reached: nan
            mean_path = np.nanmean(table, axis=0)
            daily_path = np.nanmean(daily, axis=0)
        out.append(
            TargetSummary(
                target=results[0].target,
                unit=results[0].series.unit,
                replications=n,
                p_met=met / n,
                p_low=lo,
                p_high=hi,
                worst_mean=wm,
                worst_low=wm - half,
                worst_high=wm + half,
                first_failing_days=tuple(
                    day_date(int(r.series.days[r.first_failing_day])).isoformat()
                    if r.first_failing_day >= 0
                    else None
                    for r in results
                ),
                days=tuple(day_date(d).isoformat() for d in all_days),
                rolling_mean=tuple(float(v) for v in mean_path),
                daily_mean=tuple(float(v) for v in daily_path),
            )
        )
    return out


def _history_mask(series: MetricSeries) -> np.ndarray:
    """Per day: from the seller's history (all ``False`` when the series has none)."""
    if series.from_history.size == series.days.size:
        return series.from_history
    return np.zeros(series.days.size, dtype=np.bool_)
