"""A staffing table: agents online per interval, as managers and WFM tools hold it.

File format (one file may serve several pools)::

    interval_start,team,temps
    2024-11-11T00:00+08:00,40,0
    2024-11-11T00:30+08:00,44,6

* ``interval_start`` is ISO 8601; a time without an offset is local time in the
  scenario's timezone.  Rows are strictly increasing.
* The pool's column is the first of ``<pool>``, ``online_<pool>`` (the planner's
  ``online.csv`` as it is written) and ``agents`` that the header has; other
  columns are ignored.
* Without an ``interval_end`` column the starts are equally spaced and the last
  interval is as long as the others; with one, each interval ends where the
  next begins.  A gap is a missing interval and an error: write the hours
  nobody is online with 0 agents.
* Counts are agents online (after absence: the pool's ``shrinkage`` does not
  apply to a table).  A fraction (a mean over the interval, as ``online.csv``
  holds where breaks are staggered) is rounded to the nearest agent.
* Rows start from a day before the scenario start (a night shift on at the
  start) to before the horizon's end.

The engine runs a table as the staircase of shifts it describes
(:func:`StaffingTable.runs`): when the level rises, new agents come online;
when it falls, the last to come go off.  A table and those shifts give the
same run, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from peakdesk.units import FileLineError, csv_table, seconds_from

__all__ = ["StaffingError", "StaffingTable", "read_staffing_table"]

TIME_COL = "interval_start"
END_COL = "interval_end"
#: Tolerance on the spacing of interval starts, seconds (timestamps carry microseconds).
_SPACING_TOL_S = 1e-6
#: Shortest interval, seconds.
MIN_INTERVAL_S = 60.0
#: How far before the scenario start a table may begin (a night shift on at the start).
LEAD_S = 86400.0


class StaffingError(FileLineError):
    """A staffing table that cannot be used: file, line, what is wrong and what is allowed."""


@dataclass(frozen=True)
class StaffingTable:
    """One pool's agents online per interval.

    Attributes
    ----------
    path
        The file.
    column
        The column read.
    edges_s
        Interval bounds, seconds from the scenario start (one more than
        ``agents``); the first may be negative.
    agents
        Agents online in each interval.
    lines
        The file line of each interval.
    rounded
        Intervals whose count was a fraction, rounded to the nearest agent.
    origin
        The scenario start ``edges_s`` count from (a run moved back for a
        warm-up reads the same table from its own start).
    """

    path: Path
    column: str
    edges_s: tuple[float, ...]
    agents: tuple[int, ...]
    lines: tuple[int, ...]
    rounded: int = 0
    origin: datetime | None = None

    def describe(self, start: datetime) -> str:
        """One line for people: the intervals, the range online, the peak and the agent-hours.

        Parameters
        ----------
        start
            The scenario start (times are shown in its zone).
        """
        widths = {round(b - a) for a, b in zip(self.edges_s, self.edges_s[1:], strict=False)}
        step = f"{widths.pop() / 60:g} min" if len(widths) == 1 else "varying length"
        peak = max(range(len(self.agents)), key=self.agents.__getitem__)
        # In UTC, then the zone: an aware sum would move the wall clock across a DST change.
        at = (start.astimezone(UTC) + timedelta(seconds=self.edges_s[peak])).astimezone(
            start.tzinfo
        )
        hours = (
            sum(
                n * (b - a)
                for n, a, b in zip(self.agents, self.edges_s, self.edges_s[1:], strict=False)
            )
            / 3600.0
        )
        out = (
            f"{len(self.agents)} intervals of {step} from {self.path.name} "
            f"(column {self.column!r}): {min(self.agents)}-{self.agents[peak]} agents online, "
            f"the peak first at {at.isoformat(timespec='minutes')}, {hours:,.1f} agent-hours"
        )
        if self.rounded:
            out += f"; {self.rounded} fractional counts rounded to whole agents"
        return out

    def runs(self) -> list[tuple[float, float, int]]:
        """The staircase of shifts the table describes: ``(start_s, end_s, agents)``.

        Last in, first out: where the level falls, the agents who came online
        last go off.  Runs are ordered by start, then by end.
        """
        out: list[tuple[float, float, int]] = []
        stack: list[list[float]] = []  # [start_s, agents] of runs still on, oldest first
        level = 0
        edges = self.edges_s
        for k, n in enumerate((*self.agents, 0)):
            t = edges[k]
            if n > level:
                stack.append([t, float(n - level)])
            else:
                drop = level - n
                while drop > 0:
                    start, count = stack[-1]
                    off = min(drop, int(count))
                    out.append((start, t, off))
                    drop -= off
                    if off == count:
                        stack.pop()
                    else:
                        stack[-1][1] = count - off
            level = n
        out.sort(key=lambda r: (r[0], r[1]))
        return out


def read_staffing_table(
    path: Path,
    pool: str,
    start: datetime,
    horizon_s: float,
    *,
    max_agents: int,
) -> StaffingTable:
    """Read one pool's column of a staffing table.

    Parameters
    ----------
    path
        CSV file (UTF-8, optionally with a byte-order mark).
    pool
        The pool's name (its column is ``<pool>``, ``online_<pool>`` or ``agents``).
    start
        Timezone-aware scenario start; zone-less times are read in its zone.
    horizon_s
        Scenario horizon, seconds: rows start before its end.
    max_agents
        Most agents in one interval.

    Raises
    ------
    StaffingError
        If the file cannot be read or a row is wrong (with its line).
    """
    path = Path(path)
    table = csv_table(
        path,
        StaffingError,
        needs=(TIME_COL,),
        empty=f"empty file; expected a header starting with {TIME_COL}",
        missing=f"no {TIME_COL!r} column",
    )
    header, header_line, data = table.header, table.header_line, table.rows
    column = next((c for c in (pool, f"online_{pool}", "agents") if c in header), None)
    if column is None:
        raise StaffingError(
            path,
            header_line,
            f"no column for pool {pool!r}: give {pool!r}, 'online_{pool}' or 'agents' "
            f"(the header has {', '.join(header)})",
        )
    if not data:
        raise StaffingError(path, None, "no rows after the header")
    t_col, n_col = header.index(TIME_COL), header.index(column)
    e_col = header.index(END_COL) if END_COL in header else None
    starts: list[float] = []
    ends: list[float] = []
    agents: list[int] = []
    lines: list[int] = []
    rounded = 0
    for line, record in data:
        t0 = _offset(path, line, TIME_COL, record[t_col].strip(), start)
        if not -LEAD_S <= t0 < horizon_s:
            raise StaffingError(
                path,
                line,
                f"{TIME_COL} {record[t_col].strip()!r} is outside the rows allowed: from a day "
                f"before the scenario start ({start.isoformat()}) to before the horizon's end "
                f"(+{horizon_s / 3600:g} h)",
            )
        if starts and t0 <= starts[-1]:
            raise StaffingError(
                path,
                line,
                f"{TIME_COL} {record[t_col].strip()!r} is not after the row before: rows must "
                "be in time order, one per interval (an overlap or a repeated interval; a "
                "table in local time across a clock change needs the UTC offsets, e.g. "
                "2026-10-25T02:30+01:00)",
            )
        if e_col is not None:
            t1 = _offset(path, line, END_COL, record[e_col].strip(), start)
            if t1 <= t0:
                raise StaffingError(path, line, f"{END_COL} is not after {TIME_COL}")
            ends.append(t1)
        agents.append(_agents(path, line, column, record[n_col].strip(), max_agents))
        if not float(record[n_col]).is_integer():
            rounded += 1
        starts.append(t0)
        lines.append(line)
    edges = _edges(path, starts, ends if e_col is not None else None, lines)
    return StaffingTable(
        path, column, tuple(edges), tuple(agents), tuple(lines), rounded, origin=start
    )


def _edges(
    path: Path, starts: list[float], ends: list[float] | None, lines: list[int]
) -> list[float]:
    """Interval bounds: each interval ends where the next begins, with no gap."""
    if ends is not None:
        for k in range(len(starts) - 1):
            if abs(ends[k] - starts[k + 1]) > _SPACING_TOL_S:
                what = (
                    "overlaps the next"
                    if ends[k] > starts[k + 1]
                    else "leaves a gap before the next"
                )
                raise StaffingError(
                    path,
                    lines[k],
                    f"{END_COL} {what} row's {TIME_COL} (line {lines[k + 1]}): intervals must "
                    "follow each other; write the hours nobody is online with 0 agents",
                )
        return [*starts, ends[-1]]
    if len(starts) == 1:
        raise StaffingError(
            path,
            lines[0],
            f"one row and no {END_COL} column: the interval's length cannot be told; add "
            f"an {END_COL} column or the next interval",
        )
    step = starts[1] - starts[0]
    if step < MIN_INTERVAL_S:
        raise StaffingError(
            path, lines[1], f"intervals of {step:g} s; at least {MIN_INTERVAL_S:g} s"
        )
    for k in range(1, len(starts)):
        gap = starts[k] - starts[k - 1]
        if abs(gap - step) > _SPACING_TOL_S:
            missing = gap / step - 1.0
            what = (
                f"{missing:g} interval(s) of {step / 60:g} min are missing before it"
                if gap > step and missing.is_integer()
                else f"it is {gap / 60:g} min after the row before, the table's step is "
                f"{step / 60:g} min"
            )
            raise StaffingError(
                path,
                lines[k],
                f"{what}: rows are equally spaced without an {END_COL} column; write the "
                "hours nobody is online with 0 agents",
            )
    return [*starts, starts[-1] + step]


def _offset(path: Path, line: int, column: str, text: str, start: datetime) -> float:
    """Seconds from the scenario start to the time written in ``text``."""
    try:
        return seconds_from(text, start)
    except ValueError:
        raise StaffingError(
            path, line, f"column {column!r}: not an ISO 8601 date-time: {text!r}"
        ) from None


def _agents(path: Path, line: int, column: str, text: str, max_agents: int) -> int:
    """A count of agents online: a number from 0 to ``max_agents``, rounded to whole agents."""
    try:
        value = float(text)
    except ValueError:
        raise StaffingError(
            path, line, f"column {column!r}: not a number of agents: {text!r}"
        ) from None
    if not math.isfinite(value) or value < 0.0:
        raise StaffingError(path, line, f"column {column!r}: {text!r} agents; counts are 0 or more")
    if value > max_agents:
        raise StaffingError(
            path, line, f"column {column!r}: {value:g} agents; at most {max_agents:,}"
        )
    return math.floor(value + 0.5)
