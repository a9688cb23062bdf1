"""When each agent was online, read from its replies: spells, breaks and the shifts they make.

An export shows an agent's replies, not its log-ins.  An agent is taken as
online over a *spell*: from its first reply to its last, across midnight (a
Double-11 evening shift runs 16:00-02:00), split where it was plainly away:

* a gap of :data:`SPLIT_S` (2 hours) or more without a reply ends a spell
  (longer than a break; a split shift's two halves are two spells);
* a gap of :data:`BREAK_MIN_S` (10 minutes) or more is a *break* when work
  went past the agent meanwhile: at least :data:`EVIDENCE` conversations
  needing a person arrived inside it (its ends trimmed by :data:`MARGIN_S`)
  and were taken by someone else, or waited :data:`WAIT_S` or more for a first
  reply, or never got one.  An online agent with a free slot takes the next
  chat (the engine's and the usual tools' least-loaded routing), so three
  passing it by say it was not there; a quiet gap with no work in it (a night
  trough) is not a break, the agent may well have been waiting.

A busy agent replies every few seconds to the chats it holds, so a backlog
does not make gaps; an agent that finishes its chats before logging off
(``drain``) shows its last reply after the shift end, and the spell includes
that tail.  The spells are written as fixed shifts on the interval grid (start
and end to the nearest interval; a break from its last reply, to the nearest
5 minutes, to its first reply after, rounded down to 5 minutes); the same
spell (start, length and breaks) on several days is one shift with an agent
count and its dates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.intervals import mean_level
from peakdesk.rules.csvlog import Session
from peakdesk.rules.messages import AGENT, BOT, BUYER, MessageLog
from peakdesk.units import format_clock, parse_duration_s

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: A gap without a reply this long or longer ends a spell, seconds.
SPLIT_S = 7200.0
#: A gap this long or longer is a break when work went past the agent, seconds.
BREAK_MIN_S = 600.0
#: Conversations passing an agent in a gap that make it a break.
EVIDENCE = 3
#: The ends of a gap not looked at, seconds: a chat taken just after the last reply
#: is being written, and the reply that ends the gap was started before it.
MARGIN_S = 120.0
#: A first reply this long after arrival means the conversation waited, seconds.
WAIT_S = 300.0
#: Breaks are written on this grid, seconds.
BREAK_GRID_S = 300.0


@dataclass(frozen=True)
class Spell:
    """One agent's stretch online.

    Attributes
    ----------
    agent
        The agent's code in the log.
    start_s, end_s
        Its first and last reply, POSIX seconds.
    breaks
        ``(from, to)`` per break, POSIX seconds: the last reply before it and
        the first after it.
    replies
        Replies sent in the spell.
    """

    agent: int
    start_s: float
    end_s: float
    breaks: tuple[tuple[float, float], ...]
    replies: int


def _work(log: MessageLog) -> tuple[F64, I64, F64]:
    """Per conversation needing a person: arrival (s), first human replier (-1: none), wait (s)."""
    n = log.n_conversations
    arrival = np.full(n, np.inf)
    first = np.full(n, np.inf)
    who = np.full(n, -1, dtype=np.int64)
    buyer = log.sender == BUYER
    np.minimum.at(arrival, log.conversation[buyer], log.time_s[buyer])
    human = (log.sender == AGENT) & (log.agent >= 0)
    conv, t, agent = log.conversation[human], log.time_s[human], log.agent[human]
    order = np.lexsort((t, conv))
    conv, t, agent = conv[order], t[order], agent[order]
    head = np.ones(conv.size, dtype=np.bool_)
    head[1:] = conv[1:] != conv[:-1]
    first[conv[head]] = t[head]
    who[conv[head]] = agent[head]
    bot = np.zeros(n, dtype=np.bool_)
    bot[log.conversation[log.sender == BOT]] = True
    # Answered by the bot alone: nobody needed to take it.
    needs = np.isfinite(arrival) & ~(bot & (who < 0))
    return arrival[needs], who[needs], (first - arrival)[needs]


def spells(log: MessageLog, *, longest_s: float = 86400.0) -> list[Spell]:
    """Every agent's spells online (module docstring), by agent then time.

    Parameters
    ----------
    log
        The shop's messages; replies need their ``agent``.
    longest_s
        A spell is cut into pieces at most this long, seconds (a sub-account
        worked round the clock by people in turn is several shifts).
    """
    arrival, who, wait = _work(log)
    order = np.argsort(arrival, kind="stable")
    arrival, who, wait = arrival[order], who[order], wait[order]
    rep = (log.sender == AGENT) & (log.agent >= 0)
    out: list[Spell] = []
    for a in np.unique(log.agent[rep]).tolist():
        t = np.sort(log.time_s[rep & (log.agent == a)])
        # Arrivals this agent took at once: the others in a gap passed it by.
        took = arrival[(who == a) & (wait < WAIT_S)]
        gap = np.diff(t)
        lo, hi = t[:-1] + MARGIN_S, t[1:] - MARGIN_S
        passed = (np.searchsorted(arrival, hi) - np.searchsorted(arrival, lo)) - (
            np.searchsorted(took, hi) - np.searchsorted(took, lo)
        )
        split = gap >= SPLIT_S
        pause = ~split & (gap >= BREAK_MIN_S) & (passed >= EVIDENCE)
        begin = 0
        for k in [*np.flatnonzero(split).tolist(), t.size - 1]:
            out.extend(_pieces(int(a), t[begin : k + 1], pause[begin:k], longest_s))
            begin = k + 1
    return out


def _pieces(agent: int, t: F64, pause: npt.NDArray[np.bool_], longest_s: float) -> list[Spell]:
    """One run of replies as spells at most ``longest_s`` long, with their breaks."""
    out = []
    begin = 0
    while begin < t.size:
        end = int(np.searchsorted(t, t[begin] + longest_s, side="left"))
        end = max(end, begin + 1)
        breaks = tuple((float(t[k]), float(t[k + 1])) for k in range(begin, end - 1) if pause[k])
        out.append(Spell(agent, float(t[begin]), float(t[end - 1]), breaks, end - begin))
        begin = end
    return out


def from_sessions(sessions: list[Session], *, longest_s: float = 86400.0) -> list[Spell]:
    """Spells from an agent sessions export instead of the replies.

    Where a back-office exports log-ins and log-outs (or online status spans),
    they say when an agent was online without reading it from its replies.  One
    agent's sessions less than :data:`SPLIT_S` apart are one spell, the gaps
    between them its breaks; a spell is cut at ``longest_s``.  Agents are
    numbered by id in sorted order.
    """
    by_agent: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for x in sessions:
        by_agent[x.agent_id].append((x.login_s, x.logout_s))
    out: list[Spell] = []
    for code, agent in enumerate(sorted(by_agent)):
        spans = sorted(by_agent[agent])
        merged = [list(spans[0])]
        for a, b in spans[1:]:
            # Overlapping or touching sessions (two devices, a reconnect) are one.
            if a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        # A session longer than a spell may be (a sub-account kept logged in round
        # the clock) is cut into pieces, as a spell of replies is.
        pieces = []
        for a, b in merged:
            while b - a > longest_s:
                pieces.append([a, a + longest_s])
                a += longest_s
            pieces.append([a, b])
        merged = pieces
        group: list[list[float]] = [merged[0]]
        for a, b in merged[1:]:
            if a - group[-1][1] >= SPLIT_S or b - group[0][0] > longest_s:
                out.append(_session_spell(code, group))
                group = []
            group.append([a, b])
        out.append(_session_spell(code, group))
    return out


def _session_spell(agent: int, group: list[list[float]]) -> Spell:
    breaks = tuple((group[k][1], group[k + 1][0]) for k in range(len(group) - 1))
    return Spell(agent, group[0][0], group[-1][1], breaks, 0)


def _wall_s(t: float, zone: dt.tzinfo) -> float:
    """Seconds since local midnight on the wall clock of a POSIX time."""
    local = dt.datetime.fromtimestamp(t, tz=zone)
    return local.hour * 3600.0 + local.minute * 60.0 + local.second + local.microsecond / 1e6


def shifts(
    found: list[Spell],
    zone: dt.tzinfo,
    interval_s: float,
    last_day: dt.date,
    break_grid_s: float = BREAK_GRID_S,
) -> tuple[list[dict[str, Any]], int]:
    """The spells as fixed shifts (scenario TOML data), and the spells left out.

    Spells that start after ``last_day`` (an agent finishing the last day's
    chats past midnight: the engine drains them) are left out and counted.

    Parameters
    ----------
    found
        The spells (:func:`spells`).
    zone
        The shop's clock: shifts are written on its wall clock.
    interval_s
        The grid the shift starts and ends are rounded to, seconds.
    last_day
        The export's last local day.
    break_grid_s
        The grid breaks are written on, seconds (a sessions export's log-outs
        are exact: a minute).
    """
    per_day: dict[tuple[float, float, tuple[tuple[float, float], ...]], dict[dt.date, int]] = (
        defaultdict(lambda: defaultdict(int))
    )
    dropped = 0
    for s in found:
        day = dt.datetime.fromtimestamp(s.start_s, tz=zone).date()
        if day > last_day:
            dropped += 1
            continue
        wall = _wall_s(s.start_s, zone)
        # To the nearest interval: a first reply comes a moment after the log-in and a
        # drained last reply a moment after the shift end, either side of the grid.
        clock = round(wall / interval_s) * interval_s
        if clock >= 86400.0:
            # Rounded to midnight: the spell belongs to its own day (the last day's
            # would otherwise fall outside the horizon).
            clock = math.floor(wall / interval_s) * interval_s
        origin = s.start_s - (wall - clock)
        length = round((s.end_s - origin) / interval_s) * interval_s
        length = min(max(length, interval_s), 86400.0)
        breaks = []
        for b0, b1 in s.breaks:
            # The last reply before (drained, so round it) and the first after (the
            # agent was back by then) on a 5-minute grid, so a daily break repeats.
            after = round((b0 - origin) / break_grid_s) * break_grid_s
            until = math.floor((b1 - origin) / break_grid_s) * break_grid_s
            if until - after >= break_grid_s and 0.0 < after and until < length:
                breaks.append((after, until - after))
        per_day[(clock, length, tuple(breaks))][day] += 1
    out = []
    for (clock, length, pattern), days in sorted(per_day.items()):
        by_count: dict[int, list[dt.date]] = defaultdict(list)
        for day, n in sorted(days.items()):
            by_count[n].append(day)
        for n, dates in sorted(by_count.items(), key=lambda x: x[1][0]):
            shift: dict[str, Any] = {
                "name": f"seen {format_clock(clock)} for {length / 3600:g}h",
                "start": format_clock(clock),
                "length": f"{length:g}s",
                "agents": n,
                "days": dates,
            }
            if pattern:
                shift["breaks"] = [{"after": f"{a:g}s", "length": f"{b:g}s"} for a, b in pattern]
            out.append(shift)
    return out, dropped


def on_shift(
    written: list[dict[str, Any]], starts: tuple[dt.datetime, ...], interval_s: float
) -> F64:
    """Agents on the shifts written (:func:`shifts`) in each interval, breaks included.

    Parameters
    ----------
    written
        Shifts as :func:`shifts` writes them.
    starts
        Each interval's local (zone-aware) start.
    interval_s
        Their width, seconds.

    Returns
    -------
    numpy.ndarray
        Per interval, the agents whose shift covers any of it.
    """
    n = len(starts)
    on = np.zeros(n)
    if not n:
        return on
    zone, t0 = starts[0].tzinfo, starts[0].timestamp()
    for s in written:
        h, m = (int(x) for x in str(s["start"]).split(":"))
        length = parse_duration_s(str(s["length"]))
        for day in s["days"]:
            # Absolute seconds (timestamps), as the arrivals are binned: an aware
            # difference within one zone would be wall-clock time across a DST change.
            begin = dt.datetime.combine(day, dt.time(h, m), tzinfo=zone).timestamp()
            k0 = math.floor((begin - t0) / interval_s + 1e-9)
            k1 = math.ceil((begin + length - t0) / interval_s - 1e-9)
            on[max(k0, 0) : max(min(k1, n), 0)] += float(s["agents"])
    return on


def online_level(found: list[Spell], starts: tuple[dt.datetime, ...], interval_s: float) -> F64:
    """Per interval, the time-weighted mean of agents online in the spells (breaks out).

    Parameters
    ----------
    found
        The spells (:func:`spells` or :func:`from_sessions`).
    starts
        Each interval's local (zone-aware) start, equally spaced.
    interval_s
        Their width, seconds.
    """
    if not starts:
        return np.zeros(0)
    lo: list[float] = []
    hi: list[float] = []
    for x in found:
        t = x.start_s
        for b0, b1 in x.breaks:
            lo.append(t)
            hi.append(b0)
            t = b1
        lo.append(t)
        hi.append(x.end_s)
    edges = starts[0].timestamp() + interval_s * np.arange(len(starts) + 1, dtype=np.float64)
    return mean_level(np.asarray(lo), np.asarray(hi), edges)
