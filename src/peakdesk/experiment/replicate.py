"""Replications of a scenario and their statistics (means, confidence intervals)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
from scipy import stats

from peakdesk.demand.sample import intensity, sample_workload
from peakdesk.engine.intervals import IntervalTable, interval_table
from peakdesk.engine.log import ChatLog
from peakdesk.engine.model import run
from peakdesk.engine.setup import Staffing, build_config, subaccount_cost
from peakdesk.engine.summary import RunSummary, summarise
from peakdesk.experiment.targets import (
    TargetSummary,
    scenario_history,
    scenario_targets,
    score_targets,
    summarise_targets,
)
from peakdesk.rules.targets import TargetResult
from peakdesk.scenario.load import LoadedScenario


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
    """

    replication: int
    log: ChatLog | None
    intervals: IntervalTable
    summary: RunSummary
    targets: tuple[TargetResult, ...] = ()


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

    def estimates(self, confidence: float = 0.95) -> dict[str, Estimate]:
        """Each summary figure's mean and confidence interval over replications."""
        names = [f.name for f in fields(RunSummary)]
        table = np.array(
            [[getattr(r.summary, k) for k in names] for r in self.replications], dtype=np.float64
        )
        return {k: Estimate.of(table[:, j], confidence) for j, k in enumerate(names)}

    def targets(self) -> list[TargetSummary]:
        """Each target's probability of being met and worst value over replications."""
        return summarise_targets([list(r.targets) for r in self.replications], self.confidence)

    @property
    def p_all_targets_met(self) -> float:
        """Share of replications that met every target at once (``nan`` without targets)."""
        if not self.replications or not self.replications[0].targets:
            return math.nan
        return float(np.mean([all(t.met for t in r.targets) for r in self.replications]))


def simulate(
    loaded: LoadedScenario,
    *,
    seed: int | None = None,
    replications: int | None = None,
    staffing: Staffing | None = None,
    keep_logs: bool | int = True,
    progress: Callable[[float], None] | None = None,
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
    keep_logs
        Keep every message log (``True``), none (``False``), or the first ``k``.
    progress
        Called with the overall share done (0..1) as the run advances.

    Returns
    -------
    Evaluation
        Replications with logs, interval tables and summaries.
    """
    spec = loaded.spec
    seed = spec.simulation.seed if seed is None else seed
    n_rep = spec.simulation.replications if replications is None else replications
    cfg = build_config(spec, staffing)
    inten = intensity(loaded)
    types = spec.inquiry_types
    conv_base = tuple(t.conversion.base if t.conversion else 0.0 for t in types)
    conv_half = tuple(t.conversion.half_life if t.conversion else math.inf for t in types)
    keep = n_rep if keep_logs is True else int(keep_logs)
    targets = scenario_targets(loaded)
    history = scenario_history(loaded) if targets else {}
    reps = []
    for r in range(n_rep):
        workload = sample_workload(loaded, r, seed=seed, inten=inten)
        cb = None if progress is None else _scaled(progress, r, n_rep)
        log = run(
            cfg,
            workload,
            start=spec.calendar.start_aware,
            horizon_s=spec.calendar.horizon,
            subaccount_cost=subaccount_cost(spec),
            conversion_base=conv_base,
            conversion_half_life_s=conv_half,
            progress=cb,
        )
        reps.append(
            Replication(
                replication=r,
                log=log if r < keep else None,
                intervals=interval_table(log, spec.calendar.interval),
                summary=summarise(log),
                targets=tuple(score_targets(loaded, log, targets, history)),
            )
        )
    return Evaluation(seed=seed, replications=tuple(reps))


def _scaled(progress: Callable[[float], None], r: int, n: int) -> Callable[[float], None]:
    def cb(frac: float) -> None:
        progress((r + frac) / n)

    return cb
