"""A plan as tables: shift starts, headcount, agents online per interval, cost, evidence."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.intervals import mean_level
from peakdesk.engine.setup import config_from_instances
from peakdesk.plan.patterns import instances_of
from peakdesk.plan.search import Plan
from peakdesk.scenario.load import LoadedScenario


def shift_rows(loaded: LoadedScenario, plan: Plan) -> list[dict[str, Any]]:
    """One row per staffed pattern: pool, local start, length, agents, fixed or planned."""
    spec = loaded.spec
    start = spec.calendar.start_aware
    rows = []
    for pt, n in zip(plan.patterns, plan.counts.tolist(), strict=True):
        if n <= 0:
            continue
        local = start + dt.timedelta(seconds=pt.start_s)
        rows.append(
            {
                "pool": spec.pools[pt.pool].name,
                "start": local.isoformat(timespec="minutes"),
                "length_h": pt.length_s / 3600.0,
                "agents": int(n),
                "fixed": pt.fixed,
                "paid_cost": spec.pools[pt.pool].hourly_cost
                * n
                * (pt.start_s + pt.length_s - max(pt.start_s, 0.0))
                / 3600.0,
            }
        )
    rows.sort(key=lambda r: (r["start"], r["pool"]))
    return rows


def headcount_by_day(loaded: LoadedScenario, plan: Plan) -> dict[str, dict[str, int]]:
    """Agents starting a shift on each local day, per pool (people needed that day)."""
    spec = loaded.spec
    out: dict[str, dict[str, int]] = {p.name: {} for p in spec.pools}
    for pt, n in zip(plan.patterns, plan.counts.tolist(), strict=True):
        if n > 0:
            day = pt.day.isoformat()
            name = spec.pools[pt.pool].name
            out[name][day] = out[name].get(day, 0) + int(n)
    return out


def online_table(loaded: LoadedScenario, plan: Plan) -> dict[str, npt.NDArray[Any]]:
    """Per planning interval: the requirement, and agents online (mean) per pool."""
    spec = loaded.spec
    grid = plan.grid
    cfg = config_from_instances(spec, instances_of(list(plan.patterns), plan.counts))
    edges = grid.edges_s
    start = spec.calendar.start_aware
    cols: dict[str, npt.NDArray[Any]] = {
        "interval_start": np.array(
            [
                (start + dt.timedelta(seconds=float(t))).isoformat(timespec="minutes")
                for t in edges[:-1]
            ]
        ),
        "requirement_reference_agents": plan.requirement.astype(np.int64),
    }
    seg_pool = cfg.agent_pool[cfg.segment_agent]
    total = np.zeros(grid.n)
    for p, pool in enumerate(spec.pools):
        sel = seg_pool == p
        level = mean_level(cfg.segment_start_s[sel], cfg.segment_end_s[sel], edges)
        cols[f"online_{pool.name}"] = level
        total += level
    cols["online_total"] = total
    return cols


def plan_json(loaded: LoadedScenario, plan: Plan) -> dict[str, Any]:
    """Everything about a plan, JSON-ready (the caller makes non-finite floats null)."""
    spec = loaded.spec
    ev = plan.verification
    est = {k: asdict(v) for k, v in ev.estimates().items()} if ev is not None else {}
    conversations = est.get("conversations", {}).get("mean", float("nan"))
    return {
        "scenario": spec.scenario.name,
        "status": plan.status,
        "message": plan.message,
        "currency": spec.scenario.currency,
        "total_cost": plan.total_cost,
        "labour_cost_by_pool": plan.labour_cost_by_pool,
        "subaccounts": plan.subaccounts,
        "subaccount_cost": plan.subaccount_cost,
        "seat_price": (
            asdict(plan.seat_price) | {"text": plan.seat_price.describe(spec.scenario.currency)}
            if plan.seat_price is not None
            else None
        ),
        "cost_per_conversation": plan.total_cost / conversations if conversations else None,
        "headcount_by_day": headcount_by_day(loaded, plan),
        "shifts": shift_rows(loaded, plan),
        "verification": {
            "replications": len(ev.replications) if ev is not None else 0,
            "p_all_targets_met": ev.p_all_targets_met if ev is not None else None,
            "targets": [asdict(t) | {"target": t.target.text} for t in ev.targets()]
            if ev is not None
            else [],
            "summary": est,
        },
        "guarantee": {
            "required": spec.targets.confidence,
            "bound": spec.plan.bound,
            "bound_level": spec.plan.bound_level,
            "lower_bound": plan.rounds[-1].lower if plan.rounds else None,
            "decision": plan.rounds[-1].decision if plan.rounds else None,
        },
        "held_out": (
            asdict(plan.held_out)
            | {"passed": plan.held_out.passed, "text": plan.held_out.describe()}
            if plan.held_out is not None
            else None
        ),
        "seeds": {
            "base": spec.simulation.seed if plan.base_seed is None else plan.base_seed,
            "replications": {k: list(v) for k, v in plan.seeds.items()},
        },
        "refinement": _refinement(plan),
        "time_s": plan.time_s,
        "demand_basis": (
            asdict(plan.demand_basis) | {"text": plan.demand_basis.describe()}
            if plan.demand_basis is not None
            else None
        ),
        "rejected_trim": (
            {
                "scale": plan.rejected_trim.scale,
                "cost": plan.rejected_trim.cost,
                "p_all_met": plan.rejected_trim.p_all_met,
                "replications": plan.rejected_trim.replications,
                "lower_bound": plan.rejected_trim.lower,
                "decision": plan.rejected_trim.decision,
            }
            if plan.rejected_trim is not None
            else None
        ),
        "trim_probes": [
            {
                "scale": r.scale,
                "cost": r.cost,
                "p_all_met": r.p_all_met,
                "replications": r.replications,
                "lower_bound": r.lower,
                "decision": r.decision,
                "taken": any(r is k for k in plan.rounds),
            }
            for r in plan.trim_probes
        ],
        "diagnosis": [d.describe() for d in plan.diagnosis],
        "trace": [
            {
                "round": r.round,
                "alpha": r.alpha,
                "cover_status": r.cover_status,
                "cost": r.cost,
                "p_all_met": r.p_all_met,
                "replications": r.replications,
                "lower_bound": r.lower,
                "decision": r.decision,
                "raised_agent_intervals": r.raised,
                "trim_scale": r.scale if r.scale != 1.0 else None,
                "refinement": [
                    {
                        "iteration": s.iteration,
                        "peak_agents": int(s.agents.max(initial=0)),
                        "next_peak_agents": int(s.next_agents.max(initial=0)),
                        "max_change": s.max_change,
                        "outcome": s.outcome,
                    }
                    for s in r.isa
                ],
                "targets": {t.target.text: t.p_met for t in r.targets},
            }
            for r in plan.rounds
        ],
    }


def _refinement(plan: Plan) -> dict[str, Any] | None:
    """How the requirement refinement ended: iterations, outcome, final change."""
    steps = plan.rounds[0].isa if plan.rounds else ()
    if not steps:
        return None
    last = steps[-1]
    return {
        "iterations": len(steps),
        "outcome": last.outcome,
        "final_max_change": last.max_change,
        "cycle": last.cycle,
        "replications": [s.replications for s in steps],
        "runs": sum(s.replications for s in steps),
    }
