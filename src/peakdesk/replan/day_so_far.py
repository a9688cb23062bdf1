"""The day so far, read from the live export: arrivals against the forecast, the targets.

At ``at`` (a time on the scenario's clock), from the chat log exported so far (the
import format ``peakdesk score`` reads):

* each conversation arrived at its first buyer message; today's (from the local
  midnight of ``at``, or the scenario's start) are counted, in all and per inquiry
  type when the export names them, against the forecast's expected arrivals over
  the same stretch (:func:`peakdesk.demand.sample.intensity`, its day factor 1);
* the day factor's posterior and the rest of the day it implies
  (:mod:`peakdesk.replan.day_factor`), the prior being the scenario's ``daily_cv``;
* every target of the scenario scored on the log cut at ``at``, with the
  scenario's history: the rolling value so far.  A conversation still open at
  ``at`` counts as the platform's rule counts one that was never answered, so a
  share so far is a lower bound on where it ends if those chats are answered in
  time.

What this does not yet do (issue 22): simulate the rest of the day forward from
the state at ``at`` (the engine started from a given state) and choose whom to
call in.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.demand.sample import intensity
from peakdesk.experiment.targets import rule_for, scenario_history, scenario_targets
from peakdesk.replan.day_factor import DayFactor, posterior
from peakdesk.replan.open_chats import OpenChats, open_chats
from peakdesk.rules import registry
from peakdesk.rules.csvlog import Session
from peakdesk.rules.messages import BUYER, MessageLog
from peakdesk.rules.series import MetricSeries
from peakdesk.rules.targets import TargetResult, evaluate
from peakdesk.scenario.load import LoadedScenario

F64 = npt.NDArray[np.float64]


class ReplanError(ValueError):
    """Input the day so far cannot be read from: what is wrong and what is allowed."""


@dataclass(frozen=True)
class DaySoFar:
    """The day so far at ``at`` (see the module docstring).

    Attributes
    ----------
    at, day_start, day_end
        The time of the re-plan and today's stretch of the horizon (aware, the
        scenario's zone).
    total
        The day factor of all arrivals.
    by_type
        Per inquiry type (empty when the export names none).
    targets
        Every target scored on the log cut at ``at`` (generic targets, which need
        the simulation's abandonment times, are left out: ``skipped``).
    skipped
        Targets not scored, with why.
    messages
        Messages of the log before ``at``.
    open
        The chats open at ``at`` and the agents on them
        (:mod:`peakdesk.replan.open_chats`).
    stale_s
        Seconds from the export's last message to ``at`` (a live export ends
        before ``at``; a long gap says the export is old).
    """

    at: dt.datetime
    day_start: dt.datetime
    day_end: dt.datetime
    total: DayFactor
    by_type: dict[str, DayFactor]
    targets: tuple[TargetResult, ...]
    skipped: tuple[str, ...]
    messages: int
    open: OpenChats
    stale_s: float = 0.0


def _logged_in(roster: list[Session] | None, at_s: float) -> set[str] | None:
    """The agents a roster has logged in at ``at_s`` (None: no roster).

    Raises
    ------
    ReplanError
        One agent's sessions overlap (a person is logged in once at a time).
    """
    if roster is None:
        return None
    by_agent: dict[str, list[Session]] = {}
    for r in roster:
        by_agent.setdefault(r.agent_id, []).append(r)
    for agent, spells in by_agent.items():
        spells.sort(key=lambda r: r.login_s)
        for a, b in itertools.pairwise(spells):
            if b.login_s < a.logout_s:
                when = dt.datetime.fromtimestamp(b.login_s, dt.UTC)
                raise ReplanError(
                    f"the roster logs agent {agent!r} in at {when:%Y-%m-%d %H:%M} UTC while "
                    "its previous session is still open: one session at a time"
                )
    return {r.agent_id for r in roster if r.login_s <= at_s < r.logout_s}


def _expected_between(cum: F64, bin_s: float, a: float, b: float) -> float:
    """The forecast's expected arrivals in ``[a, b)`` seconds from the start, from the
    cumulative expected at the bin edges (the rate is constant within a bin)."""
    edges = np.arange(cum.size, dtype=np.float64) * bin_s
    return float(np.interp(b, edges, cum) - np.interp(a, edges, cum))


def day_so_far(
    loaded: LoadedScenario,
    log: MessageLog,
    at: dt.datetime,
    level: float = 0.9,
    agent_ids: tuple[str, ...] = (),
    roster: list[Session] | None = None,
) -> DaySoFar:
    """Read the day so far at ``at`` (aware) from ``log`` against the scenario.

    Raises
    ------
    ReplanError
        A centre file (not yet), ``at`` outside the horizon, a log wholly outside
        it, a log naming an inquiry type the scenario has not, or a roster with
        one agent's sessions overlapping.
    """
    spec = loaded.spec
    if loaded.centre is not None:
        raise ReplanError("replan reads one shop's export; a centre file is not yet supported")
    cal = spec.calendar
    zone = cal.zone
    start = cal.start_aware
    # (absolute: a ZoneInfo datetime plus a timedelta is wall-clock arithmetic)
    end = dt.datetime.fromtimestamp(start.timestamp() + cal.horizon, zone)
    at = at.astimezone(zone)
    if not start <= at <= end:
        raise ReplanError(
            f"--at {at:%Y-%m-%d %H:%M %Z} is outside the scenario's horizon "
            f"({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} {cal.timezone})"
        )
    if log.n_messages == 0:
        raise ReplanError("the log holds no message")
    first, last = float(log.time_s.min()), float(log.time_s.max())
    at_s = at.timestamp()
    if first > end.timestamp() or last < start.timestamp():
        when = dt.datetime.fromtimestamp
        raise ReplanError(
            f"the log's messages ({when(first, zone):%Y-%m-%d %H:%M} to "
            f"{when(last, zone):%Y-%m-%d %H:%M} {cal.timezone}) are outside the scenario's "
            "horizon: is it this event's export?"
        )
    names = [t.name for t in spec.inquiry_types]
    types = log.conversation_types
    if types is not None:
        unknown = sorted({t for t in types if t and t not in names})
        if unknown:
            raise ReplanError(
                f"the log's inquiry types {unknown} are not the scenario's; allowed: {names}"
            )
    # Today: from the local midnight of `at` (or the start), to the next (or the end).
    midnight = dt.datetime.combine(at.date(), dt.time(0), tzinfo=zone)
    day_start = max(midnight, start)
    day_end = min(
        dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(0), tzinfo=zone), end
    )
    # Each conversation's arrival: its first buyer message (the log is sorted by
    # conversation, then time).
    buyer = log.sender == BUYER
    conv, idx = np.unique(log.conversation[buyer], return_index=True)
    arrival = log.time_s[buyer][idx]
    today = (arrival >= day_start.timestamp()) & (arrival < at_s)

    inten = intensity(loaded)
    cum = np.concatenate(
        [np.zeros((inten.expected.shape[0], 1)), np.cumsum(inten.expected, axis=1)], axis=1
    )
    t0 = start.timestamp()
    a, b, c = day_start.timestamp() - t0, at_s - t0, day_end.timestamp() - t0
    cv = float(spec.demand.daily_cv)
    so_far = [_expected_between(cum[k], inten.bin_s, a, b) for k in range(len(names))]
    rest = [_expected_between(cum[k], inten.bin_s, b, c) for k in range(len(names))]
    total = posterior(int(today.sum()), sum(so_far), cv, sum(rest), level)
    by_type: dict[str, DayFactor] = {}
    if types is not None and any(types):
        of = np.asarray([types[k] for k in conv]) if conv.size else np.asarray([], dtype=str)
        for k, name in enumerate(names):
            n = int((today & (of == name)).sum())
            by_type[name] = posterior(n, so_far[k], cv, rest[k], level)

    cut = log.before(at_s)
    history = scenario_history(loaded)
    results, skipped = [], []
    cache: dict[tuple[object, ...], dict[str, MetricSeries]] = {}
    for t in scenario_targets(loaded):
        canon = registry.canonical(t.platform)
        if canon == "generic":
            skipped.append(f"{t.text}: needs when each buyer left, which only a simulation knows")
            continue
        key = (canon, t.rule_options)
        if key not in cache:
            rule = rule_for(loaded, t.platform, t.rule_options, None)
            cache[key] = dict(registry.score(cut, canon, rule, history))
        series = cache[key].get(t.metric)
        if series is None:
            skipped.append(f"{t.text}: {canon} has no metric {t.metric!r}")
            continue
        results.append(evaluate(t, series))
    return DaySoFar(
        at=at,
        day_start=day_start,
        day_end=day_end,
        total=total,
        by_type=by_type,
        targets=tuple(results),
        skipped=tuple(skipped),
        messages=int(cut.n_messages),
        open=open_chats(
            cut, at_s, spec.routing.idle_close, list(agent_ids), _logged_in(roster, at_s)
        ),
        stale_s=max(at_s - last, 0.0),
    )
