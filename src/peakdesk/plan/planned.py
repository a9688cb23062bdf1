"""A plan is a scenario: the input scenario with the plan's shifts and sub-accounts.

:func:`planned_scenario` gives it as a validated specification: each planned
pool's shifts are its fixed shifts (where the pool keeps them) followed by one
shift per chosen pattern (start time, length, the day, the agents, the pool's
planned breaks), and the sub-account count is the plan's.  The planner
verifies a plan by simulating exactly this scenario, through the same
``engine.setup.build_config`` as any scenario, so simulating the written
``planned.toml`` on the verification's seeds gives the verification's figures.

:func:`planned_toml` writes it as the user's own file with those two things
changed (comments, order and every other value kept; tomlkit edits the
document), which ``peakdesk simulate``, ``compare`` and ``plan`` read as they
read any scenario: the what-if a manager runs on a plan
(``peakdesk compare planned.toml --set demand.multiplier=1.0,1.1,1.2``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.plan.patterns import Pattern
from peakdesk.plan.robust import ClientBasis
from peakdesk.scenario.schema import Break, Pool, Scenario, Shift
from peakdesk.units import format_clock

I64 = npt.NDArray[np.int64]


def _duration(seconds: float) -> str:
    """A duration the scenario reads back exactly (whole seconds, or the float's repr)."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds!r}s"


def _local_start(spec: Scenario, pattern: Pattern) -> dt.datetime:
    return (spec.calendar.start_aware + dt.timedelta(seconds=pattern.start_s)).astimezone(
        spec.calendar.zone
    )


def planned_shifts(spec: Scenario, pats: Sequence[Pattern], counts: I64) -> dict[int, list[Shift]]:
    """Per pool number, the shifts of the plan's chosen (not fixed) patterns, in pattern order."""
    out: dict[int, list[Shift]] = {}
    for pt, n in zip(pats, np.asarray(counts).tolist(), strict=True):
        if pt.fixed or n <= 0:
            continue
        local = _local_start(spec, pt)
        clock = local.hour * 3600 + local.minute * 60 + local.second
        # Through the schema, from the text the file will hold: the same values either way.
        breaks = [
            Break.model_validate(
                {"after": _duration(a), "length": _duration(ln), "stagger": _duration(st)}
            )
            for a, ln, st in pt.breaks
        ]
        out.setdefault(pt.pool, []).append(
            Shift.model_validate(
                {
                    "name": f"plan {pt.day:%m-%d} {format_clock(clock)} {pt.length_s / 3600:g}h",
                    "start": format_clock(clock),
                    "length": _duration(pt.length_s),
                    "agents": int(n),
                    "days": [pt.day],
                    "breaks": breaks,
                }
            )
        )
    return out


def _pool_shifts(pool: Pool, planned: list[Shift]) -> list[Shift]:
    """A planned pool's shifts in the plan: its kept fixed shifts, then the planned ones."""
    keep = pool.plan is None or pool.plan.keep_fixed_shifts
    return [*(pool.shifts if keep else []), *planned]


def planned_scenario(
    spec: Scenario, pats: Sequence[Pattern], counts: I64, subaccounts: int
) -> Scenario:
    """The scenario with the plan's shifts and sub-accounts (see the module docstring)."""
    planned = planned_shifts(spec, pats, counts)
    pools = [
        pool.model_copy(update={"shifts": _pool_shifts(pool, planned.get(p, []))})
        if pool.plan is not None
        else pool
        for p, pool in enumerate(spec.pools)
    ]
    sub = spec.subaccounts.model_copy(update={"count": max(int(subaccounts), 1)})
    return spec.model_copy(update={"pools": pools, "subaccounts": sub})


def _shift_table(shift: Shift) -> Any:
    import tomlkit

    t = tomlkit.table()
    t["name"] = shift.name
    t["start"] = format_clock(shift.start)
    t["length"] = _duration(shift.length)
    t["agents"] = shift.agents
    if shift.days is not None:
        t["days"] = list(shift.days)
    if shift.breaks:
        arr = tomlkit.array()
        for b in shift.breaks:
            arr.append(
                {
                    "after": _duration(b.after),
                    "length": _duration(b.length),
                    "stagger": _duration(b.stagger),
                }
            )
        t["breaks"] = arr
    return t


def planned_toml(
    text: str,
    spec: Scenario,
    pats: Sequence[Pattern],
    counts: I64,
    subaccounts: int,
    *,
    from_dir: Path | None = None,
    to_dir: Path | None = None,
    demand_note: str | None = None,
    client_demand: Sequence[ClientBasis] = (),
) -> str:
    """The scenario file ``text`` with the plan's shifts and sub-accounts written in.

    Parameters
    ----------
    text
        The scenario file as run (TOML).
    spec
        Its validated specification.
    pats, counts
        The planner's patterns and the agents it put on each.
    subaccounts
        The plan's sub-accounts.
    from_dir, to_dir
        The scenario file's folder and the folder the planned file goes to: a
        forecast, history or staffing table path relative to the first is rewritten relative to
        the second, so it still names the same file.
    demand_note
        For a robust plan (:mod:`peakdesk.plan.robust`), its basis: the planning
        demand (``spec.demand.multiplier`` and ``daily_cv``) is written in, with
        this note as a comment.
    client_demand
        For a robust plan of a centre, each client's planning demand: written in as
        its ``demand_multiplier`` (times the file's) and ``daily_cv``.

    Returns
    -------
    str
        TOML that parses to :func:`planned_scenario` of the same plan.
    """
    import tomlkit
    from tomlkit.items import AoT

    doc = tomlkit.parse(text)
    planned = planned_shifts(spec, pats, counts)
    for p, pool in enumerate(spec.pools):
        if pool.plan is None:
            continue
        table = doc["pools"][p]
        keep = pool.plan.keep_fixed_shifts and "shifts" in table
        # Kept fixed shifts stay as written (comments too); the planned ones follow.
        aot = table["shifts"] if keep else tomlkit.aot()
        if not isinstance(aot, AoT):
            # Written inline (`shifts = []` or `[{...}]`): an array of tables takes no
            # [[pools.shifts]] after it, so the kept shifts move into one.
            kept = tomlkit.aot()
            for item in aot:
                kept.append(tomlkit.item(item.unwrap() if hasattr(item, "unwrap") else item))
            aot = kept
        for shift in planned.get(p, []):
            aot.append(_shift_table(shift))
        table["shifts"] = aot
    centre = "centre" in doc
    if centre:
        # A centre file: its seats are the workstations; its clients keep their shops.
        if "seats" not in doc:
            doc["seats"] = tomlkit.table()
        doc["seats"]["count"] = max(int(subaccounts), 1)
    else:
        doc["subaccounts"]["count"] = max(int(subaccounts), 1)
    if from_dir is not None and to_dir is not None:

        def moved(value: Any) -> Any:
            if isinstance(value, str) and not Path(value).is_absolute():
                return os.path.relpath((from_dir / value).resolve(), to_dir.resolve())
            return value

        tables = [doc] if not centre else list(doc.get("clients", []))
        for t in tables:
            if centre and "scenario" in t:
                t["scenario"] = moved(t["scenario"])
            for section, key in (
                ("demand", "forecast"),
                ("demand", "day_volumes"),
                ("targets", "history"),
            ):
                value = t.get(section, {}).get(key)
                if value is not None:
                    t[section][key] = moved(value)
            for pool_table in t.get("pools", []):
                if "staffing" in pool_table:
                    pool_table["staffing"] = moved(pool_table["staffing"])
    header = (
        "# planned.toml: written by `peakdesk plan`, the scenario below with the plan's\n"
        "# shifts and sub-accounts filled in; simulate, compare or plan it as it is.\n"
    )
    if demand_note is not None and centre:
        # Each client's planning demand, as its contract's demand_multiplier and daily_cv.
        for table in doc.get("clients", []):
            c = next((c for c in client_demand if c.client == table.get("name")), None)
            if c is None:
                continue
            table["demand_multiplier"] = float(table.get("demand_multiplier", 1.0)) * c.factor
            table["daily_cv"] = c.daily_cv
        header += f"# {demand_note}\n"
    elif demand_note is not None:
        # The plan was made and verified on this demand: written in, so that simulating
        # this file gives the plan's figures (and --set demand.multiplier undoes it).
        if "demand" not in doc:
            doc["demand"] = tomlkit.table()
        doc["demand"]["multiplier"] = spec.demand.multiplier
        doc["demand"]["daily_cv"] = spec.demand.daily_cv
        header += f"# {demand_note}\n"
    return header + tomlkit.dumps(doc)
