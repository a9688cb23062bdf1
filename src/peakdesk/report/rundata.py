"""A run's results as plain data, in memory or in a run directory.

``peakdesk simulate --out DIR`` and ``peakdesk plan --out DIR`` write a *run
directory*; the figures and the HTML report are drawn from :class:`RunData`,
which is built either straight from an :class:`~peakdesk.experiment.replicate.Evaluation`
(notebooks, ``--figures``) or read back from such a directory
(``peakdesk report DIR``), so both give the same pictures.

A run directory holds:

``summary.json``
    Scenario, seed, replications, calendar, headline figures with intervals,
    each target's P(met) and its day-by-day values.
``intervals.csv``
    The interval table of every replication (column ``replication``).
``scenario.toml``
    The scenario file as run (a byte copy).
``pools.csv``, ``agents.csv``
    KPIs per pool (mean and 95% CI over replications) and per agent (first run).
``messages-r<k>.csv``, ``conversations-r<k>.csv``
    Logs of the replications kept.
``plan.json``, ``shifts.csv``, ``online.csv``
    Only for a plan: the shifts, cost and evidence; the summary and intervals
    are then those of the plan's verification runs.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from peakdesk import __version__
from peakdesk.engine.intervals import stack_runs
from peakdesk.engine.log import ChatLog
from peakdesk.experiment.replicate import Evaluation
from peakdesk.report.run_files import (  # noqa: F401 - re-exported: a run dir's file names
    FIGURE_NAMES,
    FRONTIER_CSV,
    INTERVALS_FILE,
    PLAN_FILE,
    PLANNED_FILE,
    RUN_FILES,
    SCENARIO_FILE,
    SUMMARY_FILE,
    clear_run_dir,
    recover_run_dir,
)
from peakdesk.report.text import as_float
from peakdesk.scenario.load import LoadedScenario

if TYPE_CHECKING:
    from peakdesk.plan.search import Plan

F64 = npt.NDArray[np.float64]


class RunDirError(ValueError):
    """A run directory is missing a file or holds one that cannot be read."""


@dataclass(frozen=True)
class PlanData:
    """What a plan adds to a run: shifts, agents online per pool, cost.

    Attributes
    ----------
    plan
        ``plan.json`` as read (status, message, costs, headcount, trace).
    shifts
        One record per staffed shift: pool, local ``start`` (ISO), ``length_h``,
        ``agents``, ``fixed``, ``paid_cost``.
    online
        Per planning interval: ``interval_start`` (ISO local), the requirement
        in reference agents, and ``online_<pool>`` (mean agents online).
    """

    plan: dict[str, Any]
    shifts: list[dict[str, Any]]
    online: dict[str, npt.NDArray[Any]]

    @property
    def pools(self) -> list[str]:
        """Pool names, in the scenario's order."""
        return [
            k.removeprefix("online_")
            for k in self.online
            if k.startswith("online_") and k != "online_total"
        ]

    @classmethod
    def from_plan(cls, loaded: LoadedScenario, plan: Plan) -> PlanData:
        """The tables of an in-memory plan."""
        from peakdesk.plan.report import online_table, plan_json

        doc = json.loads(json.dumps(_json_ready(plan_json(loaded, plan))))
        online = online_table(loaded, plan) if plan.verification is not None else {}
        return cls(plan=doc, shifts=list(doc.get("shifts", [])), online=online)


@dataclass(frozen=True)
class RunData:
    """Everything the figures and the report need from a run.

    Attributes
    ----------
    summary
        The ``summary.json`` content (see :func:`summary_json`).
    intervals
        Interval column name -> array of shape (replications, intervals).
    plan
        The plan's tables, when the run is a plan's verification.
    scenario_text
        The scenario file as run (``""`` if unknown).
    pools, agents
        KPI tables (records), empty if not computed.
    """

    summary: dict[str, Any]
    intervals: dict[str, F64]
    plan: PlanData | None = None
    scenario_text: str = ""
    pools: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)

    # -- convenience ------------------------------------------------------

    @property
    def scenario(self) -> str:
        """Scenario name."""
        return str(self.summary["scenario"])

    @property
    def seed(self) -> int:
        """Base seed."""
        return int(self.summary["seed"])

    @property
    def replications(self) -> int:
        """Number of replications."""
        return int(self.summary["replications"])

    @property
    def version(self) -> str:
        """peakdesk version that made the run."""
        return str(self.summary.get("peakdesk_version", "?"))

    @property
    def start(self) -> dt.datetime:
        """Aware local datetime of the scenario start."""
        return dt.datetime.fromisoformat(self.summary["start"])

    @property
    def interval_s(self) -> float:
        """Reporting interval, seconds."""
        return float(self.summary["interval_s"])

    @property
    def targets(self) -> list[dict[str, Any]]:
        """Each target's summary (``target`` text, ``op``, ``bound``, ``unit``, P(met)...)."""
        return list(self.summary.get("targets", []))

    def estimate(self, key: str) -> dict[str, float]:
        """A headline figure's ``mean``, ``low`` and ``high`` (nan when absent)."""
        e = self.summary.get("summary", {}).get(key, {})
        return {k: as_float(e.get(k)) for k in ("mean", "low", "high")}

    # -- constructors -----------------------------------------------------

    @classmethod
    def from_evaluation(
        cls, loaded: LoadedScenario, ev: Evaluation, plan: PlanData | None = None
    ) -> RunData:
        """The data of an in-memory run."""
        try:
            text = loaded.path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        return cls(
            summary=json.loads(json.dumps(_json_ready(summary_json(loaded, ev)))),
            intervals=ev.interval_tables(),
            plan=plan,
            scenario_text=text,
            pools=pool_records(ev),
            agents=_agent_records(ev),
        )

    @classmethod
    def from_dir(cls, run_dir: Path) -> RunData:
        """Read a run directory written by ``simulate --out`` or ``plan --out``.

        Raises
        ------
        RunDirError
            If ``summary.json`` or ``intervals.csv`` is missing or unreadable.
        """
        if not run_dir.is_dir():
            raise RunDirError(f"{run_dir}: not a directory")
        with contextlib.suppress(OSError):  # a read-only copy is read as it is
            recover_run_dir(run_dir)
        summary_path = run_dir / SUMMARY_FILE
        if not summary_path.is_file():
            raise RunDirError(
                f"{run_dir}: no {SUMMARY_FILE}; give a folder written by "
                "'peakdesk simulate --out' or 'peakdesk plan --out'"
            )
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{summary_path}: not readable as JSON ({exc})") from exc
        _check_summary(summary, summary_path)
        intervals = _read_intervals(run_dir / INTERVALS_FILE, int(summary["replications"]))
        plan = None
        # Only a plan's summary is read with its plan: a plan.json left beside another
        # run's summary must not be shown as that run's plan.
        if summary.get("staffing") == "plan":
            if not (run_dir / PLAN_FILE).is_file():
                raise RunDirError(f"{run_dir}: the summary is a plan's but {PLAN_FILE} is missing")
            try:
                plan_doc = json.loads((run_dir / PLAN_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RunDirError(f"{run_dir / PLAN_FILE}: not readable ({exc})") from exc
            if not isinstance(plan_doc, dict):
                raise RunDirError(f"{run_dir / PLAN_FILE}: not a plan (a JSON object expected)")
            online_path = run_dir / "online.csv"
            online = (
                read_csv(online_path, text_columns=("interval_start",))
                if online_path.is_file()
                else {}
            )
            plan = PlanData(plan=plan_doc, shifts=list(plan_doc.get("shifts", [])), online=online)
        scen = run_dir / SCENARIO_FILE
        return cls(
            summary=summary,
            intervals=intervals,
            plan=plan,
            scenario_text=scen.read_text(encoding="utf-8") if scen.is_file() else "",
            pools=_records(run_dir / "pools.csv"),
            agents=_records(run_dir / "agents.csv"),
        )


#: Interval columns every figure needs.
REQUIRED_INTERVAL_COLUMNS = (
    "interval_start_s",
    "arrivals",
    "agents_online",
    "slots_online",
    "busy_slots",
    "queue",
    "backlog",
    "first_reply_mean_s",
    "first_reply_p90_s",
    "within_3min",
)


def _check_summary(summary: Any, path: Path) -> None:
    """The keys the report needs, with the right types (a damaged file: a clear error)."""
    if not isinstance(summary, dict):
        raise RunDirError(f"{path}: not a run summary (a JSON object expected)")
    checks: dict[str, tuple[type, ...]] = {
        "scenario": (str,),
        "seed": (int,),
        "replications": (int,),
        "start": (str,),
        "interval_s": (int, float),
    }
    for key, types in checks.items():
        if key not in summary:
            raise RunDirError(f"{path}: no '{key}' (written by an older peakdesk? run it again)")
        value = summary[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise RunDirError(f"{path}: '{key}' = {value!r} is not a {types[0].__name__}")
    try:
        start = dt.datetime.fromisoformat(summary["start"])
    except ValueError:
        raise RunDirError(f"{path}: 'start' = {summary['start']!r} is not an ISO time") from None
    if start.tzinfo is None:
        raise RunDirError(f"{path}: 'start' has no UTC offset")
    if summary["replications"] < 1 or summary["interval_s"] <= 0:
        raise RunDirError(f"{path}: 'replications' and 'interval_s' must be positive")


def _read_intervals(path: Path, replications: int) -> dict[str, F64]:
    """``intervals.csv`` as (replications x intervals) arrays, checked against the summary."""
    rows = read_csv(path)
    missing = [c for c in ("replication", *REQUIRED_INTERVAL_COLUMNS) if c not in rows]
    if missing:
        raise RunDirError(f"{path}: no column {', '.join(missing)}")
    text = [k for k, v in rows.items() if v.dtype.kind not in "fiu"]
    if text:
        raise RunDirError(f"{path}: column {text[0]} holds text where numbers belong")
    rep = rows.pop("replication")
    numbers = np.unique(rep)
    if numbers.size != replications:
        raise RunDirError(
            f"{path}: {numbers.size} replication(s) where the summary says {replications} "
            "(a file cut short?)"
        )
    lengths = {int(np.sum(rep == r)) for r in numbers}
    if min(lengths) == 0 or (len(lengths) > 1 and min(lengths) < 0.5 * max(lengths)):
        raise RunDirError(f"{path}: replications of very different lengths (a file cut short?)")
    return {k: stack_runs([v[rep == r] for r in numbers]) for k, v in rows.items()}


def summary_json(loaded: LoadedScenario, ev: Evaluation) -> dict[str, Any]:
    """A run's summary as JSON-ready data; no wall time, so the same seed gives the same bytes."""
    spec = loaded.spec
    est = ev.estimates()
    targets = [
        asdict(t)
        | {
            "target": t.target.text,
            "metric": t.target.metric,
            "op": t.target.op,
            "bound": t.target.value,
        }
        for t in ev.targets()
    ]
    first_log = next((r.log for r in ev.replications if r.log is not None), None)
    return {
        "peakdesk_version": __version__,
        "scenario": spec.scenario.name,
        "scenario_file": str(loaded.path),
        "seed": ev.seed,
        "replications": len(ev.replications),
        "currency": spec.scenario.currency,
        "start": spec.calendar.start_aware.isoformat(),
        "timezone": spec.calendar.timezone,
        "interval_s": spec.calendar.interval,
        "horizon_s": spec.calendar.horizon,
        "subaccounts": first_log.subaccounts
        if first_log is not None
        else loaded.spec.subaccounts.count,
        "replication_numbers": [r.replication for r in ev.replications],
        "horizon_end": spec.simulation.horizon_end,
        "summary": {k: asdict(v) for k, v in est.items()},
        "by_replication": [r.summary.as_dict() for r in ev.replications],
        "targets": targets,
        "required_confidence": spec.targets.confidence,
        "p_all_targets_met": ev.p_all_targets_met,
        "business": business_json(spec, est),
        "clients": clients_json(loaded, ev),
        "interval_figures": _interval_figures(ev, spec.calendar.horizon),
        "warm_up_s": spec.simulation.warm_up,
    }


def _interval_figures(ev: Evaluation, horizon_s: float) -> dict[str, Any] | None:
    """P(delay), ASA, service level, ... per interval over the replications (mean, 95% interval)."""
    from peakdesk.experiment.interval_figures import interval_figures

    if not ev.replications:
        return None
    first = ev.replications[0].intervals
    return interval_figures(
        ev.interval_tables(), first.interval_s, first.service_level_s, horizon_s
    )


def clients_json(loaded: LoadedScenario, ev: Evaluation) -> list[dict[str, Any]] | None:
    """A centre's per-client accounts (:mod:`peakdesk.centre.accounts`); None for a scenario."""
    from peakdesk.centre.accounts import clients_json as accounts

    return accounts(loaded, ev)


def business_json(spec: Any, est: dict[str, Any]) -> dict[str, Any] | None:
    """The GMV plan a demand from business targets came from, and the GMV the waits lost.

    GMV lost = conversions lost (buyers who would have bought with an immediate
    reply and did not) x the average order value, with the same interval.
    """
    biz = spec.demand.business
    if biz is None:
        return None
    lost = est["conversions_lost"]
    aov = biz.average_order_value
    return {
        "gmv_target": biz.gmv,
        "average_order_value": aov,
        "orders": biz.orders,
        "presale_conversations": biz.presale_conversations,
        "after_sale_conversations": biz.orders * biz.after_sale_rate,
        "conversations": biz.conversations,
        "demand_multiplier": spec.demand.multiplier,
        "gmv_lost": {"mean": lost.mean * aov, "low": lost.low * aov, "high": lost.high * aov},
        "gmv_lost_share": lost.mean * aov / biz.gmv,
    }


def write_run_dir(
    out: Path,
    loaded: LoadedScenario,
    ev: Evaluation,
    plan: Plan | None = None,
    plan_doc: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a run directory (see the module docstring), every file atomically.

    Parameters
    ----------
    out
        The folder (created if needed; files of an earlier run are replaced).
    loaded
        The scenario as run.
    ev
        Its replications; the message logs of those kept are written too.
    plan
        The plan, when ``ev`` is its verification: adds ``plan.json``,
        ``shifts.csv`` and ``online.csv``.
    plan_doc
        ``plan.json`` as the caller made it (with its wall time, say);
        default :func:`~peakdesk.plan.report.plan_json` of ``plan``.

    Files of an earlier run in ``out`` are removed first, so the directory
    never mixes two runs (a plan's shifts beside another scenario's summary).

    Returns
    -------
    list of Path
        The files written.
    """
    from peakdesk.output import message_log_rows, write_csv, write_json

    clear_run_dir(out)
    written = []

    def csv_file(name: str, cols: dict[str, npt.NDArray[Any]]) -> None:
        write_csv(out / name, cols)
        written.append(out / name)

    for rep in ev.replications:
        if rep.log is None:
            continue
        path = out / f"messages-r{rep.replication}.csv"
        write_csv(path, message_log_rows(rep.log, conv_prefix=f"r{rep.replication}-c"))
        written.append(path)
        csv_file(
            f"conversations-r{rep.replication}.csv", conversation_columns(rep.log, rep.replication)
        )
    cols: dict[str, list[npt.NDArray[Any]]] = {}
    for rep in ev.replications:
        c = rep.intervals.columns()
        cols.setdefault("replication", []).append(np.full(c["arrivals"].size, rep.replication))
        for k, v in c.items():
            cols.setdefault(k, []).append(v)
    csv_file(INTERVALS_FILE, {k: np.concatenate(v) for k, v in cols.items()})
    pools = pool_records(ev)
    if pools:
        csv_file("pools.csv", {k: np.asarray([r[k] for r in pools]) for k in pools[0]})
    first_log = next((r.log for r in ev.replications if r.log is not None), None)
    agents = agent_columns(first_log) if first_log is not None else None
    if agents is not None:
        csv_file("agents.csv", agents)
    summary = summary_json(loaded, ev)
    if plan is not None:
        from peakdesk.plan.report import online_table, plan_json, shift_rows

        doc = plan_doc if plan_doc is not None else plan_json(loaded, plan)
        write_json(out / PLAN_FILE, doc)
        written.append(out / PLAN_FILE)
        rows = shift_rows(loaded, plan)
        if rows:
            csv_file("shifts.csv", {k: np.array([r[k] for r in rows]) for k in rows[0]})
        csv_file("online.csv", online_table(loaded, plan))
        scan = (doc.get("frontier") or {}).get("scan")
        if scan:
            # `plan --frontier`: every scanned plan, as plan.json has them.
            csv_file(FRONTIER_CSV, {k: np.array([r[k] for r in scan]) for k in scan[0]})
        _write_planned(out, loaded, plan, written)
        # The verification ran the plan's staffing, not the file's: say so.
        summary["staffing"] = "plan"
        summary["subaccounts"] = plan.subaccounts
    write_json(out / SUMMARY_FILE, summary)
    written.append(out / SUMMARY_FILE)
    try:
        text = loaded.path.read_bytes()
    except OSError:
        text = None
    if text is not None:
        from peakdesk.output import atomic_write

        with atomic_write(out / SCENARIO_FILE, "wb") as fh:
            fh.write(text)
        written.append(out / SCENARIO_FILE)
    return written


def _write_planned(out: Path, loaded: LoadedScenario, plan: Plan, written: list[Path]) -> None:
    """``planned.toml``: the scenario file with the plan's shifts (if the file is readable)."""
    from peakdesk.output import atomic_write
    from peakdesk.plan.planned import planned_toml

    try:
        text = loaded.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # a scenario built in memory: there is no file to fill in
    doc = planned_toml(
        text,
        loaded.spec,
        plan.patterns,
        plan.counts,
        plan.subaccounts,
        from_dir=loaded.path.parent,
        to_dir=out,
        demand_note=plan.demand_basis.describe() if plan.demand_basis is not None else None,
        client_demand=plan.demand_basis.clients if plan.demand_basis is not None else (),
    )
    with atomic_write(out / PLANNED_FILE) as fh:
        fh.write(doc)
    written.append(out / PLANNED_FILE)


def conversation_columns(log: ChatLog, replication: int) -> dict[str, npt.NDArray[Any]]:
    """One row per conversation: type, arrival, agent, pool, times, abandonment, conversion."""

    w = log.workload
    labels = log.agent_labels()
    converted, lost = log.conversion()
    pool_names = np.asarray((*log.pool_names, ""))
    agent = np.where(log.agent >= 0, labels[np.maximum(log.agent, 0)] if labels.size else "", "")
    return {
        "conversation_id": np.char.add(
            f"r{replication}-c", np.arange(w.n_conversations).astype(str)
        ),
        "type": np.asarray(w.type_names)[w.type_idx],
        "arrival_s": w.arrival_s,
        "buyer_messages_planned": w.messages_per_conversation,
        "bot": w.bot,
        "agent_id": agent,
        "pool": pool_names[log.conversation_pool],
        "assign_s": log.assign_s,
        "first_human_reply_s": log.first_human_reply_s,
        "close_s": log.close_s,
        "abandoned": log.abandoned,
        "abandon_s": log.abandon_s,
        "idle_closed": log.idle_closed,
        "converted": converted,
        "conversion_lost": lost,
    }


def agent_columns(log: ChatLog) -> dict[str, npt.NDArray[Any]]:
    """Per-agent KPIs of one run as columns."""
    from peakdesk.engine.kpis import agent_kpis

    return agent_kpis(log)


def _agent_records(ev: Evaluation) -> list[dict[str, Any]]:
    """Per-agent KPIs of the first kept log, as records (as ``agents.csv`` holds them)."""
    log = next((r.log for r in ev.replications if r.log is not None), None)
    if log is None:
        return []
    return column_records(agent_columns(log))


def pool_records(ev: Evaluation) -> list[dict[str, Any]]:
    """Per-pool KPIs over replications, as records (empty if the run has none)."""
    return ev.pool_kpis()


def read_csv(path: Path, text_columns: tuple[str, ...] = ()) -> dict[str, npt.NDArray[Any]]:
    """Read a CSV written by :func:`peakdesk.output.write_csv` into columns.

    Columns are floats (empty cells are ``nan``) unless named in
    ``text_columns`` or not numeric, in which case they stay text.
    """
    if not path.is_file():
        raise RunDirError(f"{path.parent}: no {path.name}")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirError(f"{path}: not readable as CSV ({exc})") from exc
    if header is None:
        raise RunDirError(f"{path}: empty file")
    for line, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise RunDirError(
                f"{path}: line {line} has {len(r)} cells where the header has {len(header)} "
                "(a file cut short?)"
            )
    out: dict[str, npt.NDArray[Any]] = {}
    for j, name in enumerate(header):
        raw = [r[j] if j < len(r) else "" for r in rows]
        if name in text_columns:
            out[name] = np.asarray(raw, dtype=str)
            continue
        try:
            out[name] = np.asarray([float(x) if x != "" else math.nan for x in raw])
        except ValueError:
            out[name] = np.asarray(raw, dtype=str)
    return out


def _records(path: Path) -> list[dict[str, Any]]:
    return column_records(read_csv(path)) if path.is_file() else []


def column_records(cols: dict[str, npt.NDArray[Any]]) -> list[dict[str, Any]]:
    """Aligned columns as one record (dict of Python values) per row."""
    names = list(cols)
    n = cols[names[0]].size if names else 0
    return [{k: cols[k][i].item() for k in names} for i in range(n)]


def _json_ready(x: Any) -> Any:
    from peakdesk.output import json_safe

    return json_safe(x)
