"""Replications of a scenario and their statistics (means, confidence intervals)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import stats

from peakdesk.demand.forecast_csv import ForecastError
from peakdesk.demand.sample import Intensity, sample_workload
from peakdesk.demand.sample import intensity as demand_intensity
from peakdesk.engine.by_type import TypeWork, type_work
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.engines import resolve, run, warm
from peakdesk.engine.intervals import (
    DEFAULT_SERVICE_LEVEL_S,
    IntervalTable,
    interval_table,
    stack_runs,
)
from peakdesk.engine.kpis import pool_kpis
from peakdesk.engine.log import ChatLog
from peakdesk.engine.setup import Staffing, build_config, subaccount_cost
from peakdesk.engine.summary import RunSummary, summarise
from peakdesk.experiment.targets import (
    TargetSummary,
    scenario_history,
    scenario_targets,
    score_targets,
    summarise_targets,
)
from peakdesk.experiment.warm_up import after_warm_up, extended
from peakdesk.experiment.workers import part_progress, run_tasks
from peakdesk.rules.series import DailyHistory
from peakdesk.rules.targets import Target, TargetResult, service_level_time_s
from peakdesk.scenario.load import LoadedScenario, ScenarioError
from peakdesk.scenario.schema import Scenario
from peakdesk.units import format_duration

T = TypeVar("T")


@dataclass(frozen=True)
class Replication:
    """One simulated replication.

    Attributes
    ----------
    replication
        Replication number (with the seed, it names the random streams).
    log
        The message-level log (``None`` when not kept, to save memory).
    intervals
        Per-interval statistics.
    summary
        Headline figures.
    targets
        The run judged against each of the scenario's targets.
    extra
        What a caller's ``measure`` function took from the log (planner statistics).
    pools
        Per-pool KPIs of the run (:func:`peakdesk.engine.kpis.pool_kpis`), kept
        even when the log is not, so :meth:`Evaluation.pool_kpis` has every
        replication.
    work
        Conversations and writing time by inquiry type and pool
        (:func:`peakdesk.engine.by_type.type_work`): a centre's client accounts.
    """

    replication: int
    log: ChatLog | None
    intervals: IntervalTable
    summary: RunSummary
    targets: tuple[TargetResult, ...] = ()
    extra: Any = None
    pools: dict[str, np.ndarray] | None = None
    work: TypeWork | None = None


@dataclass(frozen=True)
class Estimate:
    """Mean over replications with a two-sided Student-t confidence interval.

    With one replication the interval is ``nan`` (there is no spread to measure).
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    @classmethod
    def of(cls, values: np.ndarray, confidence: float = 0.95) -> Estimate:
        """Estimate from replication values (``nan`` values are left out)."""
        x = values[~np.isnan(values)]
        n = int(x.size)
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0, confidence)
        m = float(x.mean())
        if n < 2:
            return cls(m, math.nan, math.nan, n, confidence)
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
        return cls(m, m - half, m + half, n, confidence)

    def within(self, least: float = 0.0, most: float = math.inf) -> Estimate:
        """The interval clipped to what the quantity can be (a t interval from a few
        replications can reach past it: a count below 0, a share above 1)."""
        return replace(self, low=max(self.low, least), high=min(self.high, most))


#: RunSummary fields that are shares (0..1).
SHARE_FIELDS = frozenset(
    {"within_30s", "within_3min", "within_12h", "abandonment_rate", "occupancy", "slot_utilisation"}
)


@dataclass(frozen=True)
class Evaluation:
    """Replications of one scenario and staffing, with statistics over them.

    Attributes
    ----------
    seed
        Base seed.
    replications
        The replications, in order.
    """

    seed: int
    replications: tuple[Replication, ...]
    confidence: float = 0.95
    """Confidence level of the intervals (not the scenario's required P(targets met))."""

    def interval_tables(self) -> dict[str, npt.NDArray[np.float64]]:
        """Each interval column as a (replications x intervals) table (``nan`` padded where
        runs ran past the horizon for different times)."""
        cols: dict[str, list[npt.NDArray[np.float64]]] = {}
        for rep in self.replications:
            for k, v in rep.intervals.columns().items():
                cols.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
        return {k: stack_runs(v) for k, v in cols.items()}

    def estimates(self, confidence: float | None = None) -> dict[str, Estimate]:
        """Each summary figure's mean and confidence interval over replications."""
        confidence = self.confidence if confidence is None else confidence
        names = [f.name for f in fields(RunSummary)]
        table = np.array(
            [[getattr(r.summary, k) for k in names] for r in self.replications], dtype=np.float64
        )
        out = {k: Estimate.of(table[:, j], confidence) for j, k in enumerate(names)}
        # Every figure is a count, a time, a cost or a share: a t interval from a few
        # replications can reach past what the figure can be, so it is clipped.
        return {k: e.within(0.0, 1.0 if k in SHARE_FIELDS else math.inf) for k, e in out.items()}

    def targets(self) -> list[TargetSummary]:
        """Each target's probability of being met and worst value over replications."""
        return summarise_targets([list(r.targets) for r in self.replications], self.confidence)

    def pool_kpis(self, confidence: float | None = None) -> list[dict[str, Any]]:
        """Each pool's KPIs as mean and confidence interval over replications.

        Parameters
        ----------
        confidence
            Confidence level of the intervals (default: the evaluation's).

        Returns
        -------
        list of dict
            Tidy records, one per pool and measure, in pool order then the
            column order of :func:`peakdesk.engine.kpis.pool_kpis`: ``pool``,
            ``measure``, ``mean``, ``low``, ``high`` (the Student-t interval, ``nan``
            with one replication) and ``n`` (replications with a value: a ratio
            with nothing to measure, e.g. the occupancy of a pool nobody staffed
            that day, is ``nan`` and left out).  Replications without pool KPIs
            are skipped.
        """
        confidence = self.confidence if confidence is None else confidence
        tables = [r.pools for r in self.replications if r.pools is not None]
        if not tables:
            return []
        # Pools are matched by name, not position, in case replications differ.
        names: list[str] = []
        for t in tables:
            for p in t["pool"].tolist():
                if p not in names:
                    names.append(str(p))
        measures = [k for k in tables[0] if k != "pool"]
        out: list[dict[str, Any]] = []
        for name in names:
            rows = [(t, np.flatnonzero(t["pool"] == name)) for t in tables]
            for m in measures:
                values = np.array([float(t[m][i[0]]) for t, i in rows if i.size], dtype=np.float64)
                e = Estimate.of(values, confidence)
                out.append(
                    {
                        "pool": name,
                        "measure": m,
                        "mean": e.mean,
                        # every KPI is >= 0, and occupancy and slot use are shares
                        "low": max(e.low, 0.0),
                        "high": min(e.high, 1.0) if m in SHARE_FIELDS else e.high,
                        "n": e.n,
                    }
                )
        return out

    @property
    def p_all_targets_met(self) -> float:
        """Share of replications that met every target at once (``nan`` without targets)."""
        if not self.replications or not self.replications[0].targets:
            return math.nan
        return float(np.mean([all(t.met for t in r.targets) for r in self.replications]))


@dataclass(frozen=True)
class _Job:
    """What one replication needs (picklable, so a worker process can run it)."""

    loaded: LoadedScenario
    seed: int
    config: EngineConfig
    intensity: Intensity
    conversion_base: tuple[float, ...]
    conversion_half_life_s: tuple[float, ...]
    keep_logs: int
    targets: tuple[Target, ...]
    history: dict[str, DailyHistory]
    measure: Callable[[ChatLog], Any] | None
    engine: str = "compiled"
    # With a warm-up: the scenario moved back, which the buyers and the engine run on;
    # the log is cut at the true start, with the scenario's own paid hours.
    run_loaded: LoadedScenario | None = None
    warm_up_s: float = 0.0
    paid_hours: tuple[float, ...] = ()


def _log(job: _Job, r: int, progress: Callable[[float], None] | None = None) -> ChatLog:
    """Replication ``r``'s buyers, sampled, and the engine's log of them."""
    spec = job.loaded.spec
    on = job.run_loaded if job.run_loaded is not None else job.loaded
    workload = sample_workload(on, r, seed=job.seed, inten=job.intensity)
    log = run(
        job.config,
        workload,
        engine=job.engine,
        start=on.spec.calendar.start_aware,
        horizon_s=on.spec.calendar.horizon,
        subaccount_cost=subaccount_cost(spec),
        conversion_base=job.conversion_base,
        conversion_half_life_s=job.conversion_half_life_s,
        progress=progress,
    )
    if job.warm_up_s > 0.0:
        log = after_warm_up(log, job.warm_up_s, spec.calendar.start_aware, job.paid_hours)
    return log


def service_level_s(spec: Scenario) -> float:
    """The service level's time of the interval figures, seconds: the scenario's first
    ``service_level(T)`` target, else the 80/20 convention's 20 s."""
    found = service_level_time_s(spec.targets.require)
    return DEFAULT_SERVICE_LEVEL_S if found is None else found


def _replicate(job: _Job, r: int, progress: Callable[[float], None] | None = None) -> Replication:
    spec = job.loaded.spec
    log = _log(job, r, progress)
    return Replication(
        replication=r,
        log=log if r < job.keep_logs else None,
        intervals=interval_table(log, spec.calendar.interval, service_level_s(spec)),
        summary=summarise(log),
        targets=tuple(score_targets(job.loaded, log, list(job.targets), job.history)),
        extra=None if job.measure is None else job.measure(log),
        pools=pool_kpis(log),
        work=type_work(log),
    )


def simulate(
    loaded: LoadedScenario,
    *,
    seed: int | None = None,
    replications: int | None = None,
    staffing: Staffing | None = None,
    config: EngineConfig | None = None,
    keep_logs: bool | int = True,
    progress: Callable[[float], None] | None = None,
    workers: int = 1,
    measure: Callable[[ChatLog], Any] | None = None,
    first_replication: int = 0,
    dask: str | None = None,
    intensity: Intensity | None = None,
) -> Evaluation:
    """Simulate a scenario's replications.

    Parameters
    ----------
    loaded
        The scenario.
    seed
        Base seed (default: the scenario's).
    replications
        Number of replications (default: the scenario's).
    staffing
        Agents per shift pattern by pool (default: the scenario's).
    config
        A ready engine configuration (overrides ``staffing``; the planner builds its own).
    keep_logs
        Keep every message log (``True``), none (``False``), or the first ``k``.
    progress
        Called with the overall share done (0..1) as the run advances.
    workers
        Worker processes (1: in this process).  Replications are seeded by
        their number, so the result is identical whatever the number of workers.
    measure
        Called on each replication's log; its result is kept as ``extra``
        (a module-level function when ``workers > 1``: it must pickle).
    first_replication
        Number of the first replication (fresh seeds for a verification run).
    intensity
        The scenario's demand intensity, when the caller has it already (the
        planner derives it once); default: derived from the scenario.
    dask
        Address of a Dask scheduler (``tcp://host:8786``): the replications run
        on its workers instead of local processes, with the same results.

    Returns
    -------
    Evaluation
        Replications with logs, interval tables and summaries.
    """
    spec = loaded.spec
    seed = spec.simulation.seed if seed is None else seed
    n_rep = spec.simulation.replications if replications is None else replications
    keep = first_replication + (n_rep if keep_logs is True else int(keep_logs))
    if spec.simulation.warm_up is not None:
        if config is not None or intensity is not None:
            raise ValueError(
                "simulation.warm_up runs the scenario's own staffing and demand from before "
                "the start; a given engine configuration or demand has no warm-up"
            )
        job = _warm_up_job(loaded, seed, staffing, measure, keep)
    else:
        job = _job(
            loaded,
            seed,
            config if config is not None else build_config(spec, staffing),
            intensity,
            measure,
            keep_logs=keep,
        )
    numbers = list(range(first_replication, first_replication + n_rep))
    if dask is not None:
        reps = run_on_dask(job, numbers, dask, progress)
    elif workers <= 1 or n_rep <= 1:
        reps = [
            _replicate(job, r, None if progress is None else part_progress(progress, k, n_rep))
            for k, r in enumerate(numbers)
        ]
    else:
        # Forked workers share what this process has loaded: the compiled engine once
        # here, not once per worker and per batch.
        warm(job.engine)
        reps = run_parallel(job, numbers, workers, progress)
    return Evaluation(seed=seed, replications=tuple(reps))


def _warm_up_job(
    loaded: LoadedScenario,
    seed: int,
    staffing: Staffing | None,
    measure: Callable[[ChatLog], Any] | None,
    keep_logs: int,
) -> _Job:
    """A job whose runs start ``simulation.warm_up`` before the scenario and are cut at it."""
    spec = loaded.spec
    w = spec.simulation.warm_up
    assert w is not None
    if loaded.centre is not None:
        # A centre's demand is its clients' curves on the team's timeline, built at load.
        raise ScenarioError(
            loaded.path,
            [
                "simulation.warm_up: not for a centre yet (its clients' demand is built on "
                "the centre's horizon); remove it"
            ],
        )
    ext = extended(loaded, w)
    inten = demand_intensity(ext)
    lead = math.ceil(w / inten.bin_s - 1e-9)
    if not inten.expected[:, :lead].any():
        # A forecast file that starts at the scenario start has nothing for the warm-up.
        where = loaded.resolve(spec.demand.forecast) if spec.demand.forecast else loaded.path
        raise ForecastError(
            where,
            None,
            f"simulation.warm_up = {format_duration(w)}: the demand has no buyer in it "
            f"(the {format_duration(w)} before {spec.calendar.start}); give the warm-up's "
            "rows in the forecast too",
        )
    job = _job(loaded, seed, build_config(ext.spec, staffing), inten, measure, keep_logs=keep_logs)
    paid = build_config(spec, staffing).paid_hours_by_pool
    return replace(job, run_loaded=ext, warm_up_s=w, paid_hours=paid)


def _job(
    loaded: LoadedScenario,
    seed: int,
    config: EngineConfig,
    intensity: Intensity | None,
    measure: Callable[[ChatLog], Any] | None,
    *,
    keep_logs: int,
    scored: bool = True,
) -> _Job:
    spec = loaded.spec
    types = spec.inquiry_types
    targets = scenario_targets(loaded) if scored else []
    return _Job(
        loaded=loaded,
        seed=seed,
        config=config,
        intensity=demand_intensity(loaded) if intensity is None else intensity,
        conversion_base=tuple(t.conversion.base if t.conversion else 0.0 for t in types),
        conversion_half_life_s=tuple(
            t.conversion.half_life if t.conversion else math.inf for t in types
        ),
        keep_logs=keep_logs,
        targets=tuple(targets),
        history=scenario_history(loaded) if targets else {},
        measure=measure,
        # Resolved here, not in each worker: a fallback warns once.
        engine=resolve(spec.simulation.engine),
    )


def _measured(job: _Job, r: int) -> Any:
    """One replication's ``measure`` of its log, and nothing else."""
    assert job.measure is not None
    return job.measure(_log(job, r))


def _scored(job: _Job, r: int) -> tuple[TargetResult, ...]:
    """One replication's target results, and nothing else."""
    return tuple(score_targets(job.loaded, _log(job, r), list(job.targets), job.history))


def measure_runs(
    loaded: LoadedScenario,
    measure: Callable[[ChatLog], T],
    *,
    config: EngineConfig,
    replications: int,
    seed: int | None = None,
    first_replication: int = 0,
    workers: int = 1,
    intensity: Intensity | None = None,
    dask: str | None = None,
) -> list[T]:
    """``measure`` of each replication's log, and nothing else (no targets, tables or KPIs).

    For a caller that reads one thing off each run (the planner's refinement reads
    the number in system per interval): the same buyers and engine as
    :func:`simulate` (same seeds, same logs), without the scoring each run of
    ``simulate`` pays for.  ``measure`` must pickle when ``workers > 1``.
    """
    seed = loaded.spec.simulation.seed if seed is None else seed
    job = _job(loaded, seed, config, intensity, measure, keep_logs=0, scored=False)
    numbers = list(range(first_replication, first_replication + replications))
    if dask is not None:
        return run_on_dask(job, numbers, dask, fn=_measured)
    if workers <= 1 or replications <= 1:
        return [_measured(job, r) for r in numbers]
    warm(job.engine)
    return run_parallel(job, numbers, workers, fn=_measured)


def score_runs(
    loaded: LoadedScenario,
    *,
    config: EngineConfig,
    replications: int,
    seed: int | None = None,
    first_replication: int = 0,
    workers: int = 1,
    intensity: Intensity | None = None,
    dask: str | None = None,
) -> list[tuple[TargetResult, ...]]:
    """Each replication's target results, and nothing else (no tables, summary or KPIs).

    For a caller that only asks which runs kept the targets (the planner's
    held-out check, the frontier's scan): the same buyers, engine and scoring as
    :func:`simulate` (its ``Replication.targets``, equal), for 30% less time per
    run on the Tmall scenario.
    """
    seed = loaded.spec.simulation.seed if seed is None else seed
    job = _job(loaded, seed, config, intensity, None, keep_logs=0)
    numbers = list(range(first_replication, first_replication + replications))
    if dask is not None:
        return run_on_dask(job, numbers, dask, fn=_scored)
    if workers <= 1 or replications <= 1:
        return [_scored(job, r) for r in numbers]
    warm(job.engine)
    return run_parallel(job, numbers, workers, fn=_scored)


def run_parallel(
    job: _Job,
    numbers: list[int],
    workers: int,
    progress: Callable[[float], None] | None = None,
    fn: Callable[[_Job, int], Any] | None = None,
) -> list[Any]:
    """Run replications in worker processes, in order; a lost worker's share is redone here.

    ``fn`` (default :func:`_replicate`) is what each replication runs.
    """
    return run_tasks(fn or _replicate, [(job, r) for r in numbers], workers, progress)


def run_on_dask(
    job: _Job,
    numbers: list[int],
    address: str,
    progress: Callable[[float], None] | None = None,
    fn: Callable[[_Job, int], Any] | None = None,
) -> list[Any]:
    """Run replications on a Dask cluster, in order.

    The job is sent to the workers once; each replication is a task keyed by
    its number.  A worker lost mid-run is not a lost run: the scheduler gives
    its tasks to other workers, and a task that fails is retried twice.
    """
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        shared = client.scatter(job, broadcast=True)
        futures = client.map(
            fn or _replicate, [shared] * len(numbers), numbers, pure=False, retries=2
        )
        results: dict[int, Any] = {}
        # In order: each result waits for its own task, the others run meanwhile.
        for r, fut in zip(numbers, futures, strict=True):
            results[r] = fut.result()
            if progress is not None:
                progress(len(results) / len(numbers))
    return [results[r] for r in numbers]
