"""A scenario from a chat export: the fitted quantities written as a scenario file.

:func:`calibrate` fits what :mod:`peakdesk.calibrate.fit` can from a message log
(and a conversation table, for patience) and builds:

* a forecast CSV of the arrivals per interval (``profile = "csv"``), smoothed
  between the surges found (raw counts with ``smooth=False``); the surges and
  busy days go into the report;
* one inquiry type per value of the log's ``inquiry_type`` column (one type
  ``inquiry`` without it), its share of the conversations (Wilson interval), and
  for each: the empirical buyer messages per conversation, a Gamma think time
  of the fitted mean and CV, an exponential compose time of the fitted 1-chat
  writing time, the bot share, and an exponential patience of the censored
  maximum-likelihood mean (by type when the conversation table has a ``type``
  column or the log's conversation ids); with several types the forecast has
  one column per type, each smoothed on its own;
* one pool ``team`` with every type's skill, whose concurrency is the most chats
  any agent held, whose slowdown per chat is the fitted writing time by chats
  held over the 1-chat one (with several types: one multiplicative model,
  :func:`peakdesk.calibrate.fit.compose_by_type`; kept non-decreasing), whose
  discipline is read from the order of the replies
  (:func:`peakdesk.calibrate.fit.discipline`: one reply at a time never answers
  the older of two waiting follow-ups second), the writing times read under it
  (back-to-back replies one at a time, from a follow-up to its reply in parallel), and
  whose fixed shifts are the agents' spells online
  (:mod:`peakdesk.calibrate.spells`: from a first reply to a last, across
  midnight, with the breaks where work passed the agent by), rounded out to the
  interval, the same spell on several days one shift with its dates;
* sub-accounts: the peak of agents online.

Every quantity goes into the calibration report with its estimate, interval and
count; one that cannot be fitted is named with why and left at the stated default
(never silently).  What an export cannot show is said too: cost (hourly cost 0),
shrinkage (0), routing (least loaded).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from peakdesk.binomial import wilson_bounds
from peakdesk.calibrate import fit, spells
from peakdesk.rules.csvlog import Session
from peakdesk.rules.messages import AGENT, BUYER, MessageLog
from peakdesk.scenario.load import parse_scenario


@dataclass
class Calibration:
    """The calibrated scenario (as TOML data), its forecast, and the report.

    Attributes
    ----------
    scenario
        The scenario as a TOML-ready mapping (the forecast path is
        ``forecast.csv`` beside it).
    forecast_csv
        The forecast file's text.
    quantities
        Per fitted quantity: estimate, interval, observations, method.
    defaults
        Per quantity left at a default: the default and why.
    profile
        The arrivals per interval and per minute, raw and smoothed.
    surges
        The surges found in the arrivals (:func:`peakdesk.calibrate.fit.surges`).
    days
        Each local day's arrivals against the median day
        (:func:`peakdesk.calibrate.fit.day_levels`).
    holes
        Stretches with no arrivals that chance does not explain
        (:func:`peakdesk.calibrate.fit.holes`).
    warnings
        What the planner must look at before trusting the scenario (a hole).
    compose
        Writing time per reply by chats held.
    patience
        The censored patience fit (``None`` without a conversation table).
    think_s
        Every buyer think time observed, seconds.
    messages
        Buyer messages per conversation: values and their shares.
    shifts
        The fixed shifts written for the agents seen online.
    staffing_csv
        With ``staffing_table``: the agents seen online per interval, the
        staffing table the pool reads (``staffing.csv`` beside the scenario).
    """

    scenario: dict[str, Any]
    forecast_csv: str
    quantities: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    profile: fit.ArrivalProfile | None = None
    surges: list[fit.Surge] = field(default_factory=list)
    days: list[fit.DayLevel] = field(default_factory=list)
    holes: list[fit.Hole] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compose: fit.ComposeByChats | None = None
    patience: fit.Patience | None = None
    think_s: Any = None
    messages: tuple[Any, Any] | None = None
    shifts: list[dict[str, Any]] = field(default_factory=list)
    staffing_csv: str = ""

    def report(self) -> dict[str, Any]:
        """The calibration report, JSON-ready."""
        return {
            "quantities": self.quantities,
            "defaults": self.defaults,
            "warnings": self.warnings,
        }


def _record(cal: Calibration, name: str, est: fit.Estimate | None, unit: str) -> None:
    if est is not None:
        cal.quantities[name] = asdict(est) | {"unit": unit}


def calibrate(
    log: MessageLog,
    zone: dt.tzinfo,
    *,
    timezone: str,
    interval_s: float = 900.0,
    conversations: dict[str, Any] | None = None,
    name: str = "calibrated",
    smooth: bool = True,
    sessions: list[Session] | None = None,
    staffing_table: bool = False,
) -> Calibration:
    """Fit a scenario from a message log (module docstring).

    Parameters
    ----------
    log
        The shop's messages.
    zone, timezone
        The shop's clock, and its IANA name (written into the scenario).
    interval_s
        Reporting and forecast interval, seconds.
    conversations
        Columns ``arrival_s``, ``first_human_reply_s``, ``abandoned``,
        ``abandon_s``, optionally ``needs_agent`` (not bot-resolved) and
        ``conversation_id`` (the log's ids: buyers who left are then left out of
        the messages per conversation), and the end ``end_s`` (seconds on one
        clock), for patience.
    name
        The scenario's name.
    smooth
        Write the smoothed arrivals as the forecast (else the raw counts).
    sessions
        The agents' log-ins and log-outs (a back-office sessions export): the
        shifts are read from them instead of from the replies.
    staffing_table
        Write the agents seen online in each interval as the pool's staffing
        table (each day as it was) instead of shifts (the days' spells grouped).
    """
    prof = fit.arrivals(log, zone, interval_s)
    cal = Calibration(
        scenario={},
        forecast_csv=prof.forecast_csv(smoothed=smooth),
        profile=prof,
        surges=fit.surges(prof),
        days=fit.day_levels(prof),
        holes=fit.holes(prof),
    )
    for h in cal.holes:
        cal.warnings.append(
            f"no arrival {h.start:%m-%d %H:%M}-{h.end:%H:%M} where the hours around and the "
            f"same hours of the other days predict at least {h.expected:.0f}: a gap in the "
            "export or a clock jump? The forecast holds 0 there"
        )
    if not fit.can_find_holes(prof):
        cal.defaults["holes"] = (
            "not looked for: with under two days of export a quiet night cannot be told "
            "from a gap in the export (the same hours of another day are the comparison)"
        )
    cal.quantities["arrivals"] = {
        "value": int(prof.count.sum()),
        "per_interval_low": [float(x) for x in prof.low],
        "per_interval_high": [float(x) for x in prof.high],
        "per_interval_expected": [float(x) for x in prof.expected],
        "bandwidths_min": sorted({float(x) for x in prof.bandwidth_min}),
        "forecast": "smoothed" if smooth else "raw counts",
        "n": len(prof.starts),
        "method": f"counts per {interval_s / 60:g} min, exact Poisson 95%; smoothed per "
        "segment between surges, bandwidth by Poisson thinning",
        "unit": "conversations",
    }
    cal.quantities["surges"] = {
        "value": len(cal.surges),
        "n": int(prof.minute_count.size),
        "method": f"onset: next {fit.SURGE_AFTER_MIN} min >= {fit.SURGE_RATIO:g}x the "
        f"{fit.SURGE_BEFORE_MIN} min before, binomial test at {fit.SURGE_ALPHA:g} "
        "over all minutes (Bonferroni)",
        "unit": "surges",
        "found": [
            {
                "label": s.label,
                "start": s.start.isoformat(),
                "peak": s.peak.isoformat(),
                "end": s.end.isoformat(),
                "rate_before_per_min": s.rate_before,
                "peak_per_min": s.peak_rate,
                "conversations": s.conversations,
                "p_value": s.p_value,
            }
            for s in cal.surges
        ],
    }
    cal.quantities["days"] = {
        "value": len(cal.days),
        "n": len(cal.days),
        "method": f"day totals against the lower quartile day; busy: >= {fit.DAY_RATIO:g}x, "
        f"Poisson test at {fit.SURGE_ALPHA:g} over the days",
        "unit": "days",
        "found": [
            {
                "day": d.day.isoformat(),
                "conversations": d.conversations,
                "ratio": d.ratio,
                "label": d.label,
            }
            for d in cal.days
        ],
    }
    stayed = _stayed(log, conversations)
    # Pooled over the types: the report's figures.
    values, shares, _ = fit.messages_per_conversation(log, stayed)
    cal.messages = (values, shares)
    cal.think_s = fit.think_times(log)
    if stayed is None and conversations is None:
        cal.defaults["messages_per_conversation (caveat)"] = (
            "counted over every conversation: without --conversations a buyer who left "
            "early (and sent fewer messages) cannot be told apart, so the mean is low "
            "where buyers leave"
        )
    rows = _table_rows(log, conversations)
    if conversations is not None and conversations.get("conversation_id") is not None:
        matched = 0 if rows is None else int((rows[0] >= 0).sum())
        if matched < 0.5 * log.n_conversations:
            cal.warnings.append(
                f"the conversation table's conversation_id matches {matched} of the log's "
                f"{log.n_conversations} conversations: buyers who left and take times are "
                "read only for those (is it the same export?)"
            )
    table_times = _taken(log, conversations, rows)
    taken, closed = table_times if table_times is not None else (None, None)
    if taken is None:
        cal.defaults["chats held"] = (
            "counted from each chat's first reply: the export does not say when an agent "
            "took a chat (give --conversations with conversation_id and assign_s), so under "
            "a backlog chats taken but not yet answered are missed and the slowdown by chats "
            "held reads flat"
        )
    # The discipline first: under processor sharing the gap between two replies is not
    # a writing time, so the writing times are read another way.
    disc = fit.discipline(log)
    if conversations is not None and taken is not None and rows is not None:
        conversations = {
            **conversations,
            "first_reply_start_s": _first_reply_start(
                log, conversations, taken, disc.name == "parallel", rows
            ),
        }
    lo, hi = (
        wilson_bounds(disc.overtakes, disc.pairs, float(stats.norm.ppf(0.975)))
        if disc.pairs
        else (math.nan, math.nan)
    )
    cal.quantities["overtake_share"] = {
        "value": disc.share if disc.pairs else 0.0,
        "low": lo,
        "high": hi,
        "n": disc.pairs,
        "overtakes": disc.overtakes,
        "discipline": disc.name,
        "method": "pairs of an agent's consecutive replies to follow-up messages whose later "
        "reply answers the older message (never, one reply at a time); Wilson 95%; over "
        f"{fit.OVERTAKE_SHARE:.0%} is written as discipline = parallel",
        "unit": "share",
    }
    if not disc.pairs:
        cal.defaults["discipline"] = "sequential: no agent answered two follow-ups in a row"
    # One pass over the agents' replies serves both the pooled table and, with several
    # types, the per-type model.
    writes = fit.parallel_writes if disc.name == "parallel" else fit.compose_gaps
    gaps = writes(log, taken, closed)
    spans = fit.held_spans(log, taken, closed)
    most = 1
    rep = (log.sender == AGENT) & (log.agent >= 0)
    for a, sp in spans.items():
        t = log.time_s[rep & (log.agent == a)]
        if t.size:
            most = max(most, int(fit.held_while_writing(sp, t, t).max()))
    most = min(most, 50)
    # A writing time read at more chats than any agent held at a reply is a take
    # within the export's rounding of the writing's start: it counts at the most.
    gaps = (gaps[0], np.minimum(gaps[1], most), gaps[2])
    compose = fit.compose_by_chats(log, gaps)
    cal.compose = compose
    for k, est in zip(compose.chats, compose.mean, strict=True):
        _record(cal, f"compose_time_at_{k}_chats", est, "s")

    names, type_code = _types(log)
    if len(names) == 1:
        # The base: the lowest level read from enough writing times (a handful at 1
        # chat on a busy shop would scale every other level by its noise).
        usable = [e for e in compose.mean if e is not None and e.value > 0]
        base = next((e for e in usable if e.n >= MIN_LEVEL_REPLIES), usable[0] if usable else None)
        bases: list[fit.Estimate | None] = [base]
        lowest = next((k for k, e in zip(compose.chats, compose.mean, strict=True) if e is base), 1)
        if base is not None and lowest > 1:
            cal.defaults["compose_time at 1 chat"] = (
                f"fewer than {MIN_LEVEL_REPLIES} back-to-back replies at 1 chat held: the time "
                f"at {lowest} chats stands in, so the 1-chat writing time is over-stated by "
                "the slowdown up to that level"
            )
        seen = [
            e.value / base.value if e is not None and base is not None else math.nan
            for e in compose.mean
        ]
    else:
        gap_s, chats, conv = gaps
        bases, by_chats = fit.compose_by_type(gap_s, chats, type_code[conv], len(names))
        seen = [float(x) for x in by_chats]
        cal.quantities["compose_model"] = {
            "value": len(names),
            "n": int(gap_s.size),
            "method": "writing time = base per type x multiplier per chats held, two-way "
            "means (a type answered mostly at high load does not look slow)",
            "unit": "types",
            "multiplier_by_chats": seen,
        }
    # The pool's slowdown per chat held: unseen levels keep the one below, and it
    # never falls (a faster agent at more chats is noise).  A level read from fewer
    # than MIN_LEVEL_REPLIES writing times keeps the one below too: on a small shop
    # a handful at 2 chats put the slowdown at x2.3 (exponential writing times: the
    # mean of 10 is within +-60% at 95%).
    counts = {k: e.n for k, e in zip(compose.chats, compose.mean, strict=True) if e is not None}
    mult = [1.0]
    thin = []
    for k in range(2, most + 1):
        ratio = seen[k - 1] if k - 1 < len(seen) and math.isfinite(seen[k - 1]) else mult[-1]
        if 0 < counts.get(k, 0) < MIN_LEVEL_REPLIES:
            thin.append(f"{k} chats ({counts[k]})")
            ratio = mult[-1]
        mult.append(max(mult[-1], float(ratio)))
    if thin:
        cal.defaults["compose_multiplier (few replies)"] = (
            f"the level below kept at {', '.join(thin)}: fewer than {MIN_LEVEL_REPLIES} "
            "writing times read there"
        )

    itypes = []
    subs = []
    total = log.n_conversations
    table_types = _table_types(log, conversations, names, type_code)
    labels = _scenario_names(names)
    renamed = [f"{a!r} -> {b}" for a, b in zip(names, labels, strict=True) if a != b]
    if renamed:
        cal.defaults["inquiry type names"] = (
            f"{', '.join(renamed)}: a scenario name is letters, digits, '_' and '-', "
            "starting with a letter or '_'"
        )
    for t, tname in enumerate(labels):
        prefix = "" if len(names) == 1 else f"{tname}."
        codes = np.flatnonzero(type_code == t)
        sub = log if len(names) == 1 else log.of_conversations(type_code == t)
        subs.append(sub)
        sub_stayed = None if stayed is None else stayed[codes]
        sub_conv = conversations
        if conversations is not None and len(names) > 1:
            sub_conv = (
                None if table_types is None else _table_subset(conversations, table_types == t)
            )
            if table_types is None:
                cal.defaults[f"{prefix}patience"] = (
                    "none: the conversation table has no type column nor the log's "
                    "conversation ids, so buyers who left cannot be told by type"
                )
        itype = _fit_type(cal, prefix, sub, sub_stayed, sub_conv, bases[t], conversations)
        share = codes.size / total if total else 1.0
        if len(names) > 1:
            lo, hi = wilson_bounds(int(codes.size), total, float(stats.norm.ppf(0.975)))
            cal.quantities[f"{prefix}share"] = asdict(
                fit.Estimate(share, lo, hi, total, "Wilson 95%")
            ) | {"unit": "share"}
        itypes.append({"name": tname, "share": share, **itype})
    if len(names) > 1:
        cal.forecast_csv = _forecast_by_type(subs, zone, interval_s, labels, smooth, prof)
        if conversations is not None:
            # The report's survival curve: every buyer (each type's fit is in the table).
            cal.patience = _patience_of(conversations)

    # A sessions export says when agents were logged in; otherwise their replies do.
    if sessions is not None:
        # A session still open when the export was taken ends with the log.
        end = float(log.time_s.max()) if log.n_messages else 0.0
        sessions = [replace(x, logout_s=min(x.logout_s, max(end, x.login_s))) for x in sessions]
    found = spells.spells(log) if sessions is None else spells.from_sessions(sessions)
    # Spells starting after the last day (an agent finishing its chats past midnight)
    # would be shifts outside the horizon: that work is the drain of the day before.
    shifts, beyond = spells.shifts(
        found, zone, interval_s, prof.starts[-1].date(), 60.0 if sessions else spells.BREAK_GRID_S
    )
    if beyond:
        cal.defaults["shifts after the last day"] = (
            f"{beyond} spell(s) starting only after the log's last day left out: the "
            "agents finishing the day's chats (the engine drains them)"
        )
    cal.shifts = shifts
    pool: dict[str, Any] = {
        "name": "team",
        "skills": {n: 1.0 for n in labels},
        "max_concurrency": most,
        "compose_multiplier_by_concurrency": mult,
        "discipline": disc.name,
        "shifts": shifts,
    }
    if not shifts:
        # Nobody replied: a pool needs shifts or a plan table, so the planner is asked.
        pool["plan"] = {}
        why = "the sessions export is empty" if sessions is not None else "no agent replied"
        cal.defaults["shifts"] = (
            f"none seen ({why}): the pool gets a [pools.plan] table, so `peakdesk plan` "
            "chooses its shifts; `simulate` needs shifts"
        )
    cal.defaults["hourly_cost"] = "0: an export has no wages"
    cal.quantities["agents_seen"] = {
        "value": len(spans),
        "n": len(found),
        "method": "agents' sessions export: n = spells online, sessions under "
        f"{spells.SPLIT_S / 3600:g} h apart one spell with breaks between"
        if sessions is not None
        else "agents replying; n = spells online, each from its first reply to its last "
        f"(across midnight), split by {spells.SPLIT_S / 3600:g} h without a reply, with a "
        f"break where {spells.EVIDENCE}+ chats passed the agent in {spells.BREAK_MIN_S / 60:g}+ "
        "min without one",
        "unit": "agents",
        "breaks": sum(len(x.breaks) for x in found),
    }
    peak = int(spells.on_shift(shifts, prof.starts, interval_s).max(initial=0))
    if staffing_table and found:
        level = np.floor(spells.online_level(found, prof.starts, interval_s) + 0.5)
        lines = [f"{t.isoformat()},{int(n)}" for t, n in zip(prof.starts, level, strict=True)]
        cal.staffing_csv = "interval_start,team\n" + "\n".join(lines) + "\n"
        pool["staffing"] = "staffing.csv"
        pool["shifts"] = []
        peak = int(level.max(initial=0))
        cal.defaults["staffing"] = (
            "staffing.csv: the agents seen online in each interval (time-weighted, rounded), "
            "each day as it was, instead of shifts"
        )
    cal.scenario = {
        "scenario": {"name": name, "description": "calibrated from a chat export"},
        "calendar": {
            "start": prof.starts[0].replace(tzinfo=None),
            "horizon": _dur(len(prof.starts) * interval_s),
            "timezone": timezone,
            "interval": f"{interval_s:g}s",
        },
        "demand": {"profile": "csv", "forecast": "forecast.csv"},
        "inquiry_types": itypes,
        "pools": [pool],
        "subaccounts": {"count": max(peak, 1)},
    }
    # Checked by the schema here, not only by the command reading the file back: a
    # fitted value the schema refuses is a bug to name, never a file left behind.
    parse_scenario(cal.scenario, f"<calibrated {name}>")
    return cal


def _dur(seconds: float) -> str:
    """A duration the scenario parser reads back: fixed-point seconds, never an exponent."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def _patience_of(
    table: dict[str, Any], until: str = "first_reply", withdrawn: bool = False
) -> fit.Patience:
    """The censored patience fit of a conversation table (as ``calibrate`` takes it).

    A buyer's patience is censored where it stops running: at the first reply;
    with ``until = "assignment"`` when an agent took the chat (``assign_s``); a
    ``withdrawn`` chat's buyer (who leaves while no reply is begun) when its first
    reply was begun (``first_reply_start_s``, where known).
    """
    stop = table["first_human_reply_s"]
    if until == "assignment":
        stop = table["assign_s"]
    elif withdrawn and table.get("first_reply_start_s") is not None:
        begun = np.asarray(table["first_reply_start_s"], dtype=np.float64)
        stop = np.where(np.isfinite(begun), np.fmin(begun, stop), stop)
    return fit.patience(
        table["arrival_s"],
        stop,
        table["abandoned"],
        table["abandon_s"],
        float(table["end_s"]),
        table.get("needs_agent"),
    )


def _table_rows(log: MessageLog, conversations: dict[str, Any] | None) -> tuple[Any, float] | None:
    """Each log conversation's row in the conversation table (-1: none), and the clock shift.

    The table counts seconds on its own clock: it is put on the log's (POSIX) by
    the median gap between the log's first buyer message and the table's
    ``arrival_s``.  None without ``conversation_id`` in the table or ids in the log.
    """
    if conversations is None or log.conversation_labels is None:
        return None
    ids = conversations.get("conversation_id")
    if ids is None:
        return None
    row = {label: k for k, label in enumerate(ids)}
    code = np.array([row.get(label, -1) for label in log.conversation_labels], dtype=np.int64)
    found = code >= 0
    if not found.any():
        return None
    first = np.full(log.n_conversations, np.nan)
    buyer = log.sender == BUYER
    np.fmin.at(first, log.conversation[buyer], log.time_s[buyer])
    shift = float(np.nanmedian(first[found] - np.asarray(conversations["arrival_s"])[code[found]]))
    return code, shift


def _taken(
    log: MessageLog, conversations: dict[str, Any] | None, rows: tuple[Any, float] | None
) -> tuple[Any, Any] | None:
    """Per conversation code of the log, when an agent took it and when it closed (POSIX s).

    From the conversation table's ``assign_s`` and ``close_s`` by
    ``conversation_id`` (None without them), on the log's clock; ``rows`` is
    :func:`_table_rows`.
    """
    if rows is None or conversations is None or conversations.get("assign_s") is None:
        return None
    code, shift = rows
    found = code >= 0
    if not np.isfinite(np.asarray(conversations["assign_s"], dtype=np.float64)[code[found]]).any():
        return None  # the column is there but empty: no take times
    out = []
    for column in (conversations["assign_s"], conversations.get("close_s")):
        times = np.full(log.n_conversations, np.nan)
        if column is not None:
            times[found] = np.asarray(column, dtype=np.float64)[code[found]] + shift
        out.append(times)
    return out[0], out[1]


def _first_reply_start(
    log: MessageLog,
    conversations: dict[str, Any],
    taken: Any,
    parallel: bool,
    rows: tuple[Any, float],
) -> Any:
    """When each table row's first reply was begun, on the table's clock (NaN: not known).

    A buyer who sees the agent typing waits for it: a withdrawn chat's patience
    stops there.  Writing all at once, an agent begins a chat's reply when it
    takes it; one reply at a time, when it has also sent the reply before.
    ``rows`` is :func:`_table_rows`.
    """
    code, shift = rows
    reply = (log.sender == AGENT) & (log.agent >= 0)
    idx = np.flatnonzero(reply)
    idx = idx[np.lexsort((log.time_s[idx], log.agent[idx]))]
    # The agent's reply before each reply (NaN for its first).
    before = np.full(idx.size, np.nan)
    same = log.agent[idx][1:] == log.agent[idx][:-1]
    before[1:][same] = log.time_s[idx][:-1][same]
    # Each conversation's first reply: the head of its replies by time.
    conv, t = log.conversation[idx], log.time_s[idx]
    by_conv = np.lexsort((np.arange(idx.size), t, conv))
    head = by_conv[np.r_[True, conv[by_conv][1:] != conv[by_conv][:-1]]] if idx.size else by_conv
    start = np.full(log.n_conversations, np.nan)
    start[conv[head]] = before[head]
    begun = taken if parallel else np.fmax(taken, start)
    out = np.full(len(conversations["arrival_s"]), np.nan)
    found = code >= 0
    out[code[found]] = begun[found] - shift
    return out


def _stayed(log: MessageLog, conversations: dict[str, Any] | None) -> Any:
    """Per conversation code of the log, whether its buyer stayed (None: not known)."""
    if conversations is None or log.conversation_labels is None:
        return None
    ids = conversations.get("conversation_id")
    if ids is None:
        return None
    gone = {i for i, g in zip(ids, conversations["abandoned"], strict=True) if g}
    return np.array([label not in gone for label in log.conversation_labels], dtype=np.bool_)


def _fit_type(
    cal: Calibration,
    prefix: str,
    log: MessageLog,
    stayed: Any,
    conversations: dict[str, Any] | None,
    base: fit.Estimate | None,
    table: dict[str, Any] | None,
) -> dict[str, Any]:
    """One inquiry type's messages, think, compose, bot share and patience, recorded."""
    values, shares, msg_mean = fit.messages_per_conversation(log, stayed)
    _record(cal, f"{prefix}messages_per_conversation", msg_mean, "messages")
    think, think_cv = fit.think_time(log)
    _record(cal, f"{prefix}think_time", think, "s")
    bots = fit.bot_share(log)
    _record(cal, f"{prefix}bot_share", bots, "share")
    itype: dict[str, Any] = {}
    if values.size:
        itype["messages"] = {
            "dist": "empirical",
            "values": [int(v) for v in values],
            "weights": [float(w) for w in shares],
        }
    else:
        itype["messages"] = {"dist": "fixed", "value": 1}
        cal.defaults[f"{prefix}messages_per_conversation"] = "1: the log has no buyer message"
    if think is not None and think.value > 0:
        # The schema's range (a buyer back after a month makes a cv of hundreds).
        cv = min(think_cv, 100.0) if math.isfinite(think_cv) and think_cv >= 1e-3 else 1.0
        itype["think_time"] = {"dist": "gamma", "mean": _dur(think.value), "cv": cv}
        cal.quantities[f"{prefix}think_time"]["cv"] = cv
    else:
        itype["think_time"] = {"dist": "fixed", "value": "30s"}
        cal.defaults[f"{prefix}think_time"] = "30 s: no reply was followed by a buyer message"
    if base is not None and base.value > 0:
        itype["compose_time"] = {"dist": "exponential", "mean": _dur(base.value)}
        # The base written (with one type: the lowest level read from enough replies),
        # which the backtest draws from.
        _record(cal, f"{prefix}compose_time", base, "s")
    else:
        itype["compose_time"] = {"dist": "exponential", "mean": "60s"}
        cal.defaults[f"{prefix}compose_time"] = (
            "exponential, 60 s: no agent sent two replies back to back (too few "
            "replies, or no agent_id column)"
        )
    itype["bot_resolve"] = float(bots.value) if bots is not None else 0.0
    if conversations is not None:
        pat = _patience_of(conversations)
        rule = fit.patience_rule(
            conversations["arrival_s"],
            conversations.get("assign_s"),
            conversations["first_human_reply_s"],
            conversations["abandoned"],
            conversations["abandon_s"],
            None if pat.exponential_mean is None else pat.exponential_mean.value,
        )
        if rule.until == "assignment" or not rule.answer_after_abandon:
            pat = _patience_of(conversations, rule.until, not rule.answer_after_abandon)
        itype["patience_until"] = rule.until
        itype["answer_after_abandon"] = rule.answer_after_abandon
        cal.quantities[f"{prefix}left_after_take"] = {
            "value": rule.left_after_take,
            "n": rule.left,
            "expected_if_first_reply": rule.expected_after_take,
            "patience_until": rule.until,
            "answered_after_leaving": rule.left_answered,
            "answer_after_abandon": rule.answer_after_abandon,
            "method": "buyers who left after an agent took the chat: none where "
            f"{fit.SEMANTICS_EXPECTED:g}+ were expected reads as patience until assignment; "
            f"none of {fit.WITHDRAWN_MIN}+ who left answered reads as withdrawn chats",
            "unit": "buyers",
        }
        if conversations.get("assign_s") is None:
            cal.defaults[f"{prefix}patience_until"] = (
                "first_reply: without assign_s in the conversation table a buyer's wait for "
                "an agent cannot be told from the wait for its reply"
            )
        elif rule.until == "first_reply" and rule.left_after_take == 0:
            why = (
                f"({rule.expected_after_take:.1f} would have left)"
                if math.isfinite(rule.expected_after_take)
                else "(no buyer left, so no patience to weigh it with)"
            )
            cal.defaults[f"{prefix}patience_until"] = (
                f"first_reply: too few buyers waited after being taken {why} to tell it from "
                "assignment"
            )
        if cal.patience is None:
            cal.patience = pat
        _record(cal, f"{prefix}patience_mean", pat.exponential_mean, "s")
        if pat.exponential_mean is not None:
            itype["patience"] = {"dist": "exponential", "mean": _dur(pat.exponential_mean.value)}
            cal.quantities[f"{prefix}patience_mean"]["km_median_s"] = pat.median_s
            cal.quantities[f"{prefix}patience_mean"]["naive_mean_of_departures_s"] = (
                pat.naive_mean_s
            )
        else:
            itype["patience"] = {"dist": "none"}
            cal.defaults[f"{prefix}patience"] = "none: no buyer left before a reply"
    else:
        itype["patience"] = {"dist": "none"}
        if table is None:
            cal.defaults[f"{prefix}patience"] = (
                "none: a message log does not show buyers leaving; give --conversations"
            )
    return itype


#: Writing times a chats-held level needs before its slowdown is written.
MIN_LEVEL_REPLIES = 30

#: The name of conversations without a type in a log that has types.
UNTYPED = "untyped"


def _scenario_names(names: list[str]) -> list[str]:
    """The export's type labels as scenario names (``1`` -> ``type_1``, ``a b`` -> ``a_b``).

    Numeric codes and labels with spaces or dots are common in exports; a name
    taken twice gets a suffix.
    """
    out: list[str] = []
    for raw in names:
        # The schema's characters: letters, marks and digits of any script, '_' and '-'.
        kept = "".join(
            c if c in "_-" or unicodedata.category(c)[0] in "LMN" else " " for c in raw.strip()
        )
        name = re.sub(r"\s+", "_", kept.strip()) or "type"
        if not (name[0] == "_" or unicodedata.category(name[0]).startswith("L")):
            name = f"type_{name}"
        base, k = name, 2
        while name in out:
            name, k = f"{base}_{k}", k + 1
        out.append(name)
    return out


def _types(log: MessageLog) -> tuple[list[str], Any]:
    """The inquiry type names (sorted) and each conversation's type code.

    One type ``inquiry`` when the log has no ``inquiry_type`` column or a single
    type; conversations left without one in a typed log are ``untyped``.
    """
    n = log.n_conversations
    given = log.conversation_types
    if given is None or len(set(given)) <= 1:
        only = given[0] if given and given[0] else "inquiry"
        return [only], np.zeros(n, dtype=np.int64)
    named = [g or UNTYPED for g in given]
    names = sorted(set(named))
    index = {x: i for i, x in enumerate(names)}
    return names, np.array([index[g] for g in named], dtype=np.int64)


def _table_types(
    log: MessageLog, conversations: dict[str, Any] | None, names: list[str], type_code: Any
) -> Any:
    """Each conversation table row's type code (from its type column, else by id), or None."""
    if conversations is None or len(names) == 1:
        return None
    index = {x: i for i, x in enumerate(names)}
    given = conversations.get("type")
    if given is not None:
        return np.array([index.get(g or UNTYPED, -1) for g in given], dtype=np.int64)
    ids = conversations.get("conversation_id")
    if ids is None or log.conversation_labels is None:
        return None
    code = {label: int(type_code[i]) for i, label in enumerate(log.conversation_labels)}
    return np.array([code.get(str(i), -1) for i in ids], dtype=np.int64)


def _table_subset(conversations: dict[str, Any], keep: Any) -> dict[str, Any]:
    """The conversation table's rows ``keep`` (the end of the export kept)."""
    out: dict[str, Any] = {"end_s": conversations["end_s"]}
    for k, v in conversations.items():
        if k == "end_s" or v is None:
            continue
        out[k] = np.asarray(v, dtype=object if k in {"conversation_id", "type"} else None)[keep]
    return out


def _forecast_by_type(
    subs: list[MessageLog],
    zone: dt.tzinfo,
    interval_s: float,
    names: list[str],
    smooth: bool,
    total: fit.ArrivalProfile,
) -> str:
    """A forecast with one column per type (each type's log smoothed on its own), and their sum."""
    span = (total.starts[0].date(), total.starts[-1].date())
    cols = []
    for sub in subs:
        prof = fit.arrivals(sub, zone, interval_s, days=span)
        cols.append(prof.expected if smooth else prof.count.astype(np.float64))
    fmt = "{:.4f}" if smooth else "{:.0f}"
    rows = ["interval_start,conversations," + ",".join(names)]
    for k, start in enumerate(total.starts):
        vals = [float(c[k]) for c in cols]
        rows.append(
            ",".join([start.isoformat(), fmt.format(sum(vals)), *(fmt.format(v) for v in vals)])
        )
    return "\n".join(rows) + "\n"
