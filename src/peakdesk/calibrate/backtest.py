"""Backtest: a shop's own figures beside the simulation of its calibrated scenario.

The log is scored with a platform's rule day by day (``peakdesk score``); the
scenario (normally the one ``peakdesk calibrate`` wrote from that log, with the
staffing the log shows) is simulated, each run's exported log scored with the
same rule, and each day's value set beside the middle 95% of the runs (2.5th to
97.5th percentile).  The first-reply distribution (median and 90th percentile
of the wait from a conversation's first buyer message to its first human
reply) and each day's peak backlog (buyer messages waiting for a reply, read
at the scenario's interval ends) are compared the same way.  A figure outside
its range says where the model is not the shop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.rules import registry
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import LoadedScenario

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
    """

    figure: str
    day: dt.date | None
    log_value: float
    sim_low: float
    sim_median: float
    sim_high: float
    runs: int

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


def _figures(
    log: MessageLog, platform: str, rule: Any, zone: dt.tzinfo, interval_s: float
) -> dict[tuple[str, dt.date | None], float]:
    out: dict[tuple[str, dt.date | None], float] = {}
    for metric, ser in registry.score(log, platform, rule).items():
        for day, value in zip(ser.dates, ser.daily, strict=True):
            if np.isfinite(value):
                out[(metric, day)] = float(value)
    # The peak backlog of each local day, read at the interval ends.
    if log.n_messages:
        t0, t1 = float(log.time_s.min()), float(log.time_s.max())
        first = dt.datetime.fromtimestamp(t0, tz=zone).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        # Interval ends up to the last message (none past it: an empty day after
        # the log is not a day of the shop).
        ends = np.arange(first.timestamp() + interval_s, t1 + 1e-9, interval_s)
        backlog = waiting_messages(log, ends)
        days = [dt.datetime.fromtimestamp(float(t) - 1e-6, tz=zone).date() for t in ends]
        for day in sorted(set(days)):
            sel = np.array([d == day for d in days])
            out[("peak_backlog", day)] = float(backlog[sel].max())
    waits = first_reply_waits(log)
    if waits.size:
        out[("first_reply_p50_s", None)] = float(np.percentile(waits, 50))
        out[("first_reply_p90_s", None)] = float(np.percentile(waits, 90))
    return out


def backtest(
    log: MessageLog,
    loaded: LoadedScenario,
    *,
    platform: str = "taobao",
    replications: int = 20,
    seed: int | None = None,
    workers: int = 1,
) -> list[Comparison]:
    """The log's figures beside the scenario's simulated runs (module docstring)."""
    name = registry.canonical(platform)
    rule = registry.make_rule(name, "default", timezone=loaded.spec.calendar.timezone)
    zone = loaded.spec.calendar.zone
    step = loaded.spec.calendar.interval
    observed = _figures(log, name, rule, zone, step)
    ev = simulate(
        loaded,
        seed=loaded.spec.simulation.seed if seed is None else seed,
        replications=replications,
        keep_logs=True,
        workers=workers,
    )
    runs: list[dict[tuple[str, dt.date | None], float]] = []
    for r in ev.replications:
        assert r.log is not None
        runs.append(_figures(to_message_log(r.log), name, rule, zone, step))
    out = []
    for key, value in sorted(observed.items(), key=lambda kv: (kv[0][0], kv[0][1] or dt.date.min)):
        sims = np.array([run[key] for run in runs if key in run])
        if not sims.size:
            continue
        lo, med, hi = np.percentile(sims, [2.5, 50.0, 97.5])
        out.append(Comparison(key[0], key[1], value, float(lo), float(med), float(hi), sims.size))
    return out
