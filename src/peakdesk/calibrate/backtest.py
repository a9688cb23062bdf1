"""Backtest: a shop's own figures beside the simulation of its calibrated scenario.

The log is scored with a platform's rule day by day (``peakdesk score``); the
scenario (normally the one ``peakdesk calibrate`` wrote from that log, with the
staffing the log shows) is simulated, each run's exported log scored with the
same rule, and each day's value set beside the middle 95% of the runs (2.5th to
97.5th percentile).  The first-reply distribution (median and 90th percentile
of the wait from a conversation's first buyer message to its first human
reply) and each day's peak backlog (buyer messages waiting for a reply, read
at the scenario's interval ends) are compared the same way.  With the log's
conversation table, the share of buyers who left before a reply (of those
waiting for a person), over the log and day by day, is compared too.

The backlog is also compared interval by interval: the share of the log's
intervals whose backlog lies inside the runs' middle 95% there is set beside
the same share of each run against the other runs (leave one out), which is
what a log drawn from the model gives; a log far below that band is not the
model's, even when each day's peak is.  A figure outside its range says where
the model is not the shop.

With the calibration's report (``calibration.json``), each run draws the fitted
values from their own uncertainty before it is simulated: per inquiry type the
think time, writing time and patience means (lognormal, matching their 95%
intervals) and the bot share (normal, kept in [0, 1)).  The runs' range then
holds what the fit does not know as well as simulation noise, and each figure
names the fitted quantity it moves with most (Spearman's rank correlation over
the runs, shown from |rho| >= :data:`MOVES_WITH_RHO`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.rules import registry
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import LoadedScenario, scenario_from_data
from peakdesk.scenario.overrides import apply_settings, read_raw

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Comparison:
    """One figure of the log beside the simulated runs.

    Attributes
    ----------
    figure
        What it is: ``"taobao.response_3min"`` (with ``day``) or
        ``"first_reply_p50_s"`` (over the log).
    day
        The local day of a daily figure (None: over the whole log).
    log_value
        The shop's figure.
    sim_low, sim_median, sim_high
        2.5th, 50th and 97.5th percentile over the runs.
    runs
        Runs with a value for this figure.
    moves_with
        With fitted values drawn: the drawn quantity this figure moves with
        most, and Spearman's rho over the runs (None: none reaches
        :data:`MOVES_WITH_RHO`, or nothing drawn).
    """

    figure: str
    day: dt.date | None
    log_value: float
    sim_low: float
    sim_median: float
    sim_high: float
    runs: int
    moves_with: tuple[str, float] | None = None

    @property
    def inside(self) -> bool:
        """Whether the log's figure lies within the runs' middle 95%."""
        return bool(self.sim_low <= self.log_value <= self.sim_high)


def first_reply_waits(log: MessageLog) -> F64:
    """Per conversation with a human reply: seconds from its first buyer message to it."""
    n = log.n_conversations
    first_buyer = np.full(n, np.inf)
    first_human = np.full(n, np.inf)
    b = log.sender == BUYER
    h = log.sender == AGENT
    np.minimum.at(first_buyer, log.conversation[b], log.time_s[b])
    np.minimum.at(first_human, log.conversation[h], log.time_s[h])
    ok = np.isfinite(first_buyer) & np.isfinite(first_human)
    return np.asarray(first_human[ok] - first_buyer[ok], dtype=np.float64)


def waiting_messages(log: MessageLog, at_s: F64) -> F64:
    """Buyer messages waiting for a reply at each time of ``at_s`` (the backlog).

    A buyer message waits from its time until the conversation's next reply
    (agent or bot); one never answered waits to the end.
    """
    is_reply = log.sender != BUYER
    # Next reply time at or after each message, within its conversation (sorted log).
    nxt = np.full(log.n_messages, np.inf)
    run = np.inf
    for i in range(log.n_messages - 1, -1, -1):
        if i == log.n_messages - 1 or log.conversation[i] != log.conversation[i + 1]:
            run = np.inf
        if is_reply[i]:
            run = log.time_s[i]
        nxt[i] = run
    b = ~is_reply
    start = np.sort(log.time_s[b])
    end = np.sort(nxt[b])
    return np.asarray(
        np.searchsorted(start, at_s, side="right") - np.searchsorted(end, at_s, side="right"),
        dtype=np.float64,
    )


Figures = dict[tuple[str, dt.date | None], float]


def interval_ends(log: MessageLog, zone: dt.tzinfo, interval_s: float) -> F64:
    """The interval ends, POSIX seconds, from the log's first local midnight to its last message.

    None past the last message: an empty day after the log is not a day of the shop.
    """
    if not log.n_messages:
        return np.zeros(0)
    t0, t1 = float(log.time_s.min()), float(log.time_s.max())
    first = dt.datetime.fromtimestamp(t0, tz=zone).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return np.arange(first.timestamp() + interval_s, t1 + 1e-9, interval_s)


def abandonment(arrival_posix_s: F64, abandoned: npt.NDArray[np.bool_], zone: dt.tzinfo) -> Figures:
    """Share of buyers who left before a reply, over all and by local arrival day.

    Parameters
    ----------
    arrival_posix_s
        Arrival of each conversation that waited for a person, POSIX seconds
        (NaN: its day is unknown; it counts only in the overall share).
    abandoned
        Whether its buyer left before a reply.
    """
    out: Figures = {}
    if not abandoned.size:
        return out
    out[("abandoned_share", None)] = float(abandoned.mean())
    known = np.isfinite(arrival_posix_s)
    days = np.array(
        [dt.datetime.fromtimestamp(float(t), tz=zone).date() for t in arrival_posix_s[known]]
    )
    for day in sorted(set(days.tolist())):
        sel = days == day
        out[("abandoned_share", day)] = float(abandoned[known][sel].mean())
    return out


def _figures(
    log: MessageLog,
    platform: str,
    rule: Any,
    zone: dt.tzinfo,
    ends: F64,
) -> tuple[Figures, F64]:
    """A log's figures, and its backlog at each interval end."""
    out: Figures = {}
    for metric, ser in registry.score(log, platform, rule).items():
        for day, value in zip(ser.dates, ser.daily, strict=True):
            if np.isfinite(value):
                out[(metric, day)] = float(value)
    # The peak backlog of each local day, read at the interval ends.
    backlog = waiting_messages(log, ends) if log.n_messages else np.zeros(ends.size)
    days = [dt.datetime.fromtimestamp(float(t) - 1e-6, tz=zone).date() for t in ends]
    for day in sorted(set(days)):
        sel = np.array([d == day for d in days])
        out[("peak_backlog", day)] = float(backlog[sel].max())
    waits = first_reply_waits(log)
    if waits.size:
        out[("first_reply_p50_s", None)] = float(np.percentile(waits, 50))
        out[("first_reply_p90_s", None)] = float(np.percentile(waits, 90))
    return out, backlog


def inside_share(backlog: F64, others: F64) -> float:
    """Share of intervals whose backlog lies in the middle 95% of ``others`` (runs x intervals)."""
    lo, hi = np.percentile(others, [2.5, 97.5], axis=0)
    return float(((lo <= backlog) & (backlog <= hi)).mean()) if backlog.size else float("nan")


def backtest(
    log: MessageLog,
    loaded: LoadedScenario,
    *,
    platform: str = "taobao",
    replications: int = 20,
    seed: int | None = None,
    workers: int = 1,
    conversations: dict[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> list[Comparison]:
    """The log's figures beside the scenario's simulated runs (module docstring).

    Parameters
    ----------
    calibration
        The ``quantities`` of the scenario's calibration report: each run draws
        the fitted values from their intervals (the scenario must be a file,
        as ``calibrate`` writes it; runs are then simulated one by one).
    conversations
        The log's conversation table (as ``peakdesk calibrate --conversations``
        reads it: ``abandoned``, ``needs_agent``, optional ``conversation_id``
        matching the log's ids): the abandonment figures.  Without ids only the
        share over the whole log is compared (the table's clock has no date).
    """
    name = registry.canonical(platform)
    rule = registry.make_rule(name, "default", timezone=loaded.spec.calendar.timezone)
    zone = loaded.spec.calendar.zone
    ends = interval_ends(log, zone, loaded.spec.calendar.interval)
    observed, log_backlog = _figures(log, name, rule, zone, ends)
    if conversations is not None:
        observed |= abandonment(*_table_arrivals(log, conversations), zone)
    base_seed = loaded.spec.simulation.seed if seed is None else seed
    drawn: list[dict[str, float]] = []
    if calibration is None:
        ev = simulate(
            loaded, seed=base_seed, replications=replications, keep_logs=True, workers=workers
        )
        reps = list(ev.replications)
    else:
        reps, drawn = _drawn_runs(loaded, calibration, replications, base_seed)
    runs: list[Figures] = []
    backlogs = []
    for r in reps:
        assert r.log is not None
        figs, bl = _figures(to_message_log(r.log), name, rule, zone, ends)
        if conversations is not None:
            w = r.log.workload
            waited = ~w.bot
            figs |= abandonment(
                r.log.start.timestamp() + w.arrival_s[waited], r.log.abandoned[waited], zone
            )
        runs.append(figs)
        backlogs.append(bl)
    out = []
    for key, value in sorted(observed.items(), key=lambda kv: (kv[0][0], kv[0][1] or dt.date.min)):
        has = [i for i, run in enumerate(runs) if key in run]
        sims = np.array([runs[i][key] for i in has])
        if not sims.size:
            continue
        lo, med, hi = np.percentile(sims, [2.5, 50.0, 97.5])
        moves = _moves_with(sims, [drawn[i] for i in has]) if drawn else None
        out.append(
            Comparison(key[0], key[1], value, float(lo), float(med), float(hi), sims.size, moves)
        )
    if ends.size and len(backlogs) >= 3:
        table = np.array(backlogs)
        # What a log drawn from the model scores: each run against the others.
        own = np.array(
            [inside_share(table[i], np.delete(table, i, axis=0)) for i in range(len(table))]
        )
        lo, med, hi = np.percentile(own, [2.5, 50.0, 97.5])
        out.append(
            Comparison(
                "backlog_intervals_inside",
                None,
                inside_share(log_backlog, table),
                float(lo),
                float(med),
                float(hi),
                own.size,
            )
        )
    return out


def _table_arrivals(
    log: MessageLog, conversations: dict[str, Any]
) -> tuple[F64, npt.NDArray[np.bool_]]:
    """Arrival (POSIX, from the log by id; NaN unmatched) and abandonment of those who waited."""
    waited = np.asarray(conversations["needs_agent"], dtype=np.bool_)
    gone = np.asarray(conversations["abandoned"], dtype=np.bool_)[waited]
    arrival = np.full(int(waited.sum()), np.nan)
    ids = conversations.get("conversation_id")
    if ids is not None and log.conversation_labels is not None:
        first = np.full(log.n_conversations, np.nan)
        b = log.sender == BUYER
        conv = log.conversation[b]
        idx = np.unique(conv, return_index=True)[1]
        first[conv[idx]] = log.time_s[b][idx]
        code = {label: i for i, label in enumerate(log.conversation_labels)}
        for j, cid in enumerate(np.asarray(ids, dtype=object)[waited]):
            k = code.get(str(cid))
            if k is not None:
                arrival[j] = first[k]
    return arrival, gone


#: A figure is said to move with a drawn quantity from this rank correlation.
MOVES_WITH_RHO = 0.4
_Z95 = 1.959963984540054


def _draw(q: Mapping[str, Any], rng: np.random.Generator, *, share: bool) -> float | None:
    """One draw of a fitted quantity from its 95% interval, or None without one."""
    value, low, high = q.get("value"), q.get("low"), q.get("high")
    if not all(isinstance(x, int | float) and np.isfinite(x) for x in (value, low, high)):
        return None
    assert isinstance(value, int | float) and isinstance(low, int | float)
    assert isinstance(high, int | float)
    if share:
        x = rng.normal(value, (high - low) / (2 * _Z95))
        return float(min(max(x, 0.0), 0.999))
    if not 0.0 < low <= value <= high:
        return None
    return float(value * np.exp(rng.normal(0.0, (np.log(high) - np.log(low)) / (2 * _Z95))))


def _drawn_settings(
    raw: Mapping[str, Any], quantities: Mapping[str, Any], rng: np.random.Generator
) -> tuple[list[tuple[tuple[str | int, ...], Any]], dict[str, float]]:
    """The settings of one run's drawn fitted values, and the values by quantity name."""
    types = [t["name"] for t in raw.get("inquiry_types", [])]
    settings: list[tuple[tuple[str | int, ...], Any]] = []
    drawn: dict[str, float] = {}
    for k, itype in enumerate(raw.get("inquiry_types", [])):
        prefix = "" if len(types) == 1 else f"{types[k]}."
        base = quantities.get(f"{prefix}compose_time") or (
            quantities.get("compose_time_at_1_chats") if not prefix else None
        )
        fields = (
            (f"{prefix}think_time", ("think_time", "mean"), False),
            (f"{prefix}compose_time", ("compose_time", "mean"), False),
            (f"{prefix}patience_mean", ("patience", "mean"), False),
            (f"{prefix}bot_share", ("bot_resolve",), True),
        )
        for name, path, share in fields:
            q = base if name.endswith("compose_time") else quantities.get(name)
            if not isinstance(q, Mapping) or (
                path[0] != "bot_resolve" and "mean" not in itype.get(path[0], {})
            ):
                continue
            x = _draw(q, rng, share=share)
            if x is None:
                continue
            drawn[name] = x
            settings.append((("inquiry_types", k, *path), x if share else f"{x:.6f}s"))
    return settings, drawn


def _drawn_runs(
    loaded: LoadedScenario, quantities: Mapping[str, Any], replications: int, seed: int
) -> tuple[list[Any], list[dict[str, float]]]:
    """One run per draw of the fitted values (module docstring)."""
    raw = read_raw(loaded.path)
    rng = np.random.default_rng([seed, 0xD4A3])
    reps, drawn = [], []
    for r in range(replications):
        settings, values = _drawn_settings(raw, quantities, rng)
        # The engine the scenario was loaded with (``--engine`` overrides the file's).
        settings.append((("simulation", "engine"), loaded.spec.simulation.engine))
        variant = scenario_from_data(apply_settings(raw, settings, file=loaded.path), loaded.path)
        ev = simulate(variant, seed=seed + r, replications=1, keep_logs=True)
        reps.append(ev.replications[0])
        drawn.append(values)
    return reps, drawn


def _moves_with(sims: F64, drawn: list[dict[str, float]]) -> tuple[str, float] | None:
    """The drawn quantity a figure's runs rank with most, if any reaches MOVES_WITH_RHO."""
    best: tuple[str, float] | None = None
    if sims.size < 5 or np.ptp(sims) == 0:
        return None
    for name in sorted(set().union(*drawn)):
        x = np.array([d.get(name, np.nan) for d in drawn])
        if np.isnan(x).any() or np.ptp(x) == 0:
            continue
        rho = float(stats.spearmanr(x, sims).statistic)
        if abs(rho) >= MOVES_WITH_RHO and (best is None or abs(rho) > abs(best[1])):
            best = (name, rho)
    return best
