"""Comparing staffing strategies and sweeping parameters, on common random numbers.

Variants are scenarios (files, or one file with ``--set`` changes); each is
simulated on the same seed and the same replication numbers, so each
replication meets the same buyers in every variant: the same arrival epochs,
message counts, think and compose times, patience, bot outcomes and conversion
draws (see :mod:`peakdesk.demand.streams`).  Differences between variants
are then differences of strategy, not of luck, and the paired differences
against the first variant (the baseline) have much narrower intervals than
independent runs would give.

Notebook use::

    from peakdesk.experiment.compare import compare, variants_from_sets
    cmp = compare(
        variants_from_sets("scenarios/tmall-double11.toml",
                           ["pools.general.max_concurrency=4,5,6"]),
        replications=5, workers=4,
    )
    cmp.to_pandas()                # tidy: variant, measure, mean, low, high, unit
    cmp.to_pandas("wide")          # one row per variant
    cmp.to_pandas("differences")   # against the first variant, paired over replications
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from peakdesk.engine.intervals import stack_runs
from peakdesk.experiment.replicate import Estimate, Evaluation, Replication, simulate
from peakdesk.experiment.targets import wilson
from peakdesk.experiment.workers import part_progress, run_tasks
from peakdesk.scenario.load import LoadedScenario, ScenarioError, load_scenario, parse_scenario
from peakdesk.scenario.overrides import SetSyntaxError, Setting, parse_set, read_raw, sweep

#: Summary figures in :meth:`Comparison.table`, with their units (``{currency}``
#: is the scenario's).  Target probabilities come between the two costs and the rest.
COST_MEASURES: tuple[tuple[str, str], ...] = (
    ("total_cost", "{currency}"),
    ("cost_per_conversation", "{currency}/conversation"),
)
SERVICE_MEASURES: tuple[tuple[str, str], ...] = (
    ("conversions_lost", "conversations"),
    ("peak_backlog", "messages"),
    ("within_3min", "share"),
    ("abandonment_rate", "share"),
    ("first_reply_p90_s", "s"),
)
#: Name of the all-targets measure in the tables.
ALL_TARGETS = "p_all_targets_met"
#: Measures whose differences against the baseline :meth:`Comparison.differences` gives.
PAIRED_MEASURES: tuple[str, ...] = ("total_cost", "conversions_lost", "peak_backlog")

F64 = npt.NDArray[np.float64]

Variants = (
    Sequence[tuple[str, LoadedScenario]] | Sequence[LoadedScenario] | Mapping[str, LoadedScenario]
)


@dataclass(frozen=True)
class Variant:
    """One variant of a comparison.

    Attributes
    ----------
    label
        Its name in tables and figures.
    loaded
        The scenario simulated.
    evaluation
        Its replications (without message logs).
    """

    label: str
    loaded: LoadedScenario
    evaluation: Evaluation

    def unit(self, template: str) -> str:
        """A unit with the scenario's currency filled in."""
        return template.format(currency=self.loaded.spec.scenario.currency)


@dataclass(frozen=True)
class Comparison:
    """Variants simulated on common random numbers, and tables of them.

    Attributes
    ----------
    variants
        In the order given; the first is the baseline of :meth:`differences`.
    seed
        The base seed every variant ran with.
    replication_numbers
        The replication numbers every variant ran (the same for all).
    """

    variants: tuple[Variant, ...]
    seed: int
    replication_numbers: tuple[int, ...]

    @property
    def labels(self) -> list[str]:
        """Variant labels, in order."""
        return [v.label for v in self.variants]

    @property
    def baseline(self) -> Variant:
        """The first variant."""
        return self.variants[0]

    @property
    def confidence(self) -> float:
        """Confidence level of the intervals (not the scenario's required P(targets met))."""
        return self.baseline.evaluation.confidence

    def target_texts(self) -> list[str]:
        """Every target of any variant, in order of first appearance."""
        out: dict[str, None] = {}
        for v in self.variants:
            for t in v.loaded.spec.targets.require:
                out[t.strip()] = None
        return list(out)

    def table(self) -> list[dict[str, Any]]:
        """Tidy records, one per variant and measure.

        Columns: ``variant``, ``measure``, ``mean``, ``low``, ``high``, ``unit``.
        Measures: ``total_cost``, ``cost_per_conversation``, each target's
        probability of being met (measure = the target's text, Wilson
        interval), ``p_all_targets_met`` (Wilson interval), ``conversions_lost``,
        ``peak_backlog``, ``within_3min``, ``abandonment_rate``,
        ``first_reply_p90_s``.  Means are over replications with a Student-t
        interval (``nan`` with one replication).  A variant without targets has
        no target rows.
        """
        rows: list[dict[str, Any]] = []
        for v in self.variants:
            est = v.evaluation.estimates()
            for name, unit in COST_MEASURES:
                rows.append(_row(v.label, name, est[name], v.unit(unit)))
            for text, (p, lo, hi) in _target_probabilities(v).items():
                rows.append(
                    {
                        "variant": v.label,
                        "measure": text,
                        "mean": p,
                        "low": lo,
                        "high": hi,
                        "unit": "probability",
                    }
                )
            for name, unit in SERVICE_MEASURES:
                rows.append(_row(v.label, name, est[name], unit))
        return rows

    def wide(self) -> list[dict[str, Any]]:
        """One record per variant, for printing.

        Columns: ``variant``, ``cost``, ``cost_low``, ``cost_high`` (total cost
        and its interval), ``P(<target>)`` per target, ``P(all targets)``,
        ``conversions_lost``, ``peak_backlog`` (means over replications).  A
        target a variant does not have is ``nan``.
        """
        texts = self.target_texts()
        out = []
        for v in self.variants:
            est = v.evaluation.estimates()
            probs = _target_probabilities(v)
            row: dict[str, Any] = {
                "variant": v.label,
                "cost": est["total_cost"].mean,
                "cost_low": est["total_cost"].low,
                "cost_high": est["total_cost"].high,
            }
            for t in texts:
                row[f"P({t})"] = probs[t][0] if t in probs else math.nan
            if texts:
                row["P(all targets)"] = probs[ALL_TARGETS][0] if ALL_TARGETS in probs else math.nan
            row["conversions_lost"] = est["conversions_lost"].mean
            row["peak_backlog"] = est["peak_backlog"].mean
            out.append(row)
        return out

    def differences(
        self, measures: Sequence[str] = PAIRED_MEASURES, *, targets: bool = False
    ) -> list[dict[str, Any]]:
        """Each variant minus the baseline, paired by replication.

        Because every variant ran the same replications on common random
        numbers, the difference is taken replication by replication
        (``x_variant[r] - x_baseline[r]``) and its Student-t interval is over
        those differences: much narrower than comparing two independent means.

        Parameters
        ----------
        measures
            Summary fields (``RunSummary`` names); default cost, conversions
            lost and peak backlog.
        targets
            Also each target's worst daily rolling value (measure
            ``"worst: <target>"``): with few replications the clearest sign
            of whether a strategy moves a target, where P(met) is still vague.

        Returns
        -------
        list of dict
            ``variant``, ``baseline``, ``measure``, ``mean``, ``low``, ``high``,
            ``unit``; one per non-baseline variant and measure.
        """
        units = dict(COST_MEASURES + SERVICE_MEASURES)
        base = self.baseline
        rows = []
        for v in self.variants[1:]:
            for name in measures:
                x = _values(v.evaluation, name)
                b = _values(base.evaluation, name)
                est = Estimate.of(x - b, self.confidence)
                rows.append(
                    {
                        "variant": v.label,
                        "baseline": base.label,
                        "measure": name,
                        "mean": est.mean,
                        "low": est.low,
                        "high": est.high,
                        "unit": v.unit(units.get(name, "")),
                    }
                )
            if not targets:
                continue
            for text in self.target_texts():
                x, unit = _worst(v.evaluation, text)
                b, _ = _worst(base.evaluation, text)
                est = Estimate.of(x - b, self.confidence)
                rows.append(
                    {
                        "variant": v.label,
                        "baseline": base.label,
                        "measure": f"worst: {text}",
                        "mean": est.mean,
                        "low": est.low,
                        "high": est.high,
                        "unit": unit,
                    }
                )
        return rows

    def over_time(self, column: str = "backlog") -> list[dict[str, Any]]:
        """An interval column per variant, tidy: mean, min and max over replications.

        Parameters
        ----------
        column
            An :class:`~peakdesk.engine.intervals.IntervalTable` column
            (``backlog``, ``queue``, ``agents_online``, ``within_3min``, ...).

        Returns
        -------
        list of dict
            ``variant``, ``start`` (local time, timezone-aware), ``mean``,
            ``min``, ``max``.
        """
        rows = []
        for v in self.variants:
            start, step, table = interval_stack(v, column)
            with np.errstate(invalid="ignore"):
                ok = ~np.all(np.isnan(table), axis=0)
            for k in np.flatnonzero(ok):
                col = table[:, k]
                col = col[~np.isnan(col)]
                rows.append(
                    {
                        "variant": v.label,
                        # stepped in UTC: right across a daylight-saving change
                        "start": (start.astimezone(dt.UTC) + _seconds(k * step)).astimezone(
                            start.tzinfo
                        ),
                        "mean": float(col.mean()),
                        "min": float(col.min()),
                        "max": float(col.max()),
                    }
                )
        return rows

    def to_pandas(self, which: Literal["table", "wide", "differences"] = "table") -> Any:
        """One of the tables as a pandas DataFrame.

        pandas is not a peakdesk dependency: install it to use this (the
        tables themselves are lists of dicts).
        """
        try:
            pd = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError(
                "Comparison.to_pandas() needs pandas, which peakdesk does not install: "
                "`pip install pandas` (or use .table(), .wide() and .differences(), "
                "which are lists of dicts)"
            ) from exc
        rows = {"table": self.table, "wide": self.wide, "differences": self.differences}
        if which not in rows:
            raise ValueError(f"which must be one of {sorted(rows)}, got {which!r}")
        return pd.DataFrame.from_records(rows[which]())

    def format(self, *, differences: bool = True) -> str:
        """The comparison as aligned text (for a terminal)."""
        texts = self.target_texts()
        currency = self.baseline.loaded.spec.scenario.currency
        pct = f"{self.confidence:.0%}"
        head = ["variant", f"cost {currency} [{pct} CI]"]
        head += [f"P({t})" for t in texts]
        head += ["P(all targets)"] if texts else []
        head += ["conversions lost", "peak backlog"]
        body = []
        for v in self.variants:
            est = v.evaluation.estimates()
            probs = _target_probabilities(v)
            c = est["total_cost"]
            cells = [v.label, f"{c.mean:,.0f} {_interval(c.low, c.high, '{:,.0f}')}"]
            for t in [*texts, ALL_TARGETS] if texts else []:
                if t in probs:
                    p, lo, hi = probs[t]
                    cells.append(f"{p:.0%} {_interval(lo, hi, '{:.0%}')}")
                else:
                    cells.append("-")
            cells.append(f"{est['conversions_lost'].mean:,.1f}")
            cells.append(f"{est['peak_backlog'].mean:,.1f}")
            body.append(cells)
        lines = _align([head, *body])
        n = len(self.replication_numbers)
        lines.append(
            f"seed {self.seed}, {n} replication{'s' * (n != 1)} "
            f"({_numbers(self.replication_numbers)}) for every variant: common random numbers. "
            f"P: share of replications meeting the target, {pct} Wilson interval."
        )
        if differences and len(self.variants) > 1:
            lines.append("")
            lines.append(
                f"difference against {self.baseline.label!r}, paired by replication [{pct} CI]:"
            )
            diffs = self.differences(targets=True)
            names = list(dict.fromkeys(r["measure"] for r in diffs))
            diff_rows = [["variant", *names]]
            by_variant: dict[str, list[str]] = {}
            for r in diffs:
                if r["unit"] == "share":  # a share's difference reads in percentage points
                    m, lo, hi = 100 * r["mean"], 100 * r["low"], 100 * r["high"]
                    cell = f"{m:+.1f} pp {_interval(lo, hi, '{:+.1f}')}"
                else:
                    cell = f"{r['mean']:+,.1f} {_interval(r['low'], r['high'], '{:+,.1f}')}"
                by_variant.setdefault(r["variant"], []).append(cell)
            diff_rows += [[k, *cells] for k, cells in by_variant.items()]
            lines += _align(diff_rows)
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Building variants
# ---------------------------------------------------------------------------


def variants_from_files(paths: Iterable[Path | str]) -> list[tuple[str, LoadedScenario]]:
    """Load scenario files as variants, labelled by file name (without ``.toml``).

    Two files with the same name are labelled by their paths as given.

    Raises
    ------
    ScenarioError
        If a file cannot be loaded.
    """
    ps = [Path(p) for p in paths]
    stems = [p.stem for p in ps]
    labels = [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, ps, strict=True)]
    return [(label, load_scenario(p)) for label, p in zip(labels, ps, strict=True)]


def variants_from_sets(
    source: LoadedScenario | Path | str | Mapping[str, Any],
    sets: Sequence[str | Setting],
    *,
    path: Path | str | None = None,
    include_base: bool = False,
) -> list[tuple[str, LoadedScenario]]:
    """Variants of one scenario: every combination of ``--set PATH=V1,V2,...`` options.

    Parameters
    ----------
    source
        A scenario file, a loaded scenario (its file is read again, to change
        the values as written), or raw scenario data (a dict as TOML gives it).
    sets
        Options such as ``"pools.general.max_concurrency=3,4,5"``; several make
        a full grid, the first varying slowest.
    path
        For raw data: the file it stands for (named in errors, and relative
        paths resolve from its folder).
    include_base
        Put the scenario as written first, labelled ``"base"`` (the baseline of
        the differences).

    Returns
    -------
    list of (label, LoadedScenario)
        Labels list the settings: ``"pools.general.max_concurrency=4, demand.multiplier=1.2"``.

    Raises
    ------
    ScenarioError
        A path that does not exist in the scenario (with what does, and the
        nearest name), or a variant that does not validate (with the field path).
    SetSyntaxError
        An option that cannot be read, a path given twice, or a change of
        ``simulation.seed`` / ``simulation.replications`` (a comparison runs
        every variant on the same ones).
    """
    parsed = [parse_set(s) if isinstance(s, str) else s for s in sets]
    for s in parsed:
        if s.steps[:1] == ("simulation",) and s.steps[1:2] in (("seed",), ("replications",)):
            raise SetSyntaxError(
                f"--set {s.path}: every variant of a comparison runs on the same seed and "
                "replications (common random numbers); give them to the comparison instead"
            )
    if isinstance(source, LoadedScenario):
        file = source.path
        try:
            data = read_raw(file)
        except ScenarioError as exc:
            raise ScenarioError(
                file,
                [
                    *exc.problems,
                    "a loaded scenario is varied from its file as written; for one that is "
                    "not in a file, pass its data (the dict) with path=",
                ],
            ) from None
        # As written (model_dump): a table a pool read from its file is not in the text.
        if parse_scenario(data, file).model_dump() != source.spec.model_dump():
            raise ScenarioError(
                file, ["the file changed since the scenario was loaded; load it again"]
            )
    elif isinstance(source, Mapping):
        file = Path(path) if path is not None else Path("<scenario>")
        data = dict(source)
    else:
        file = Path(source)
        load_scenario(file)  # the file as written must be valid first
        data = read_raw(file)
    return sweep(data, parsed, file=file, base_label="base" if include_base else None)


def _normalise(variants: Variants) -> list[tuple[str, LoadedScenario]]:
    items: list[tuple[str, LoadedScenario]] = []
    if isinstance(variants, Mapping):
        items = list(variants.items())
    else:
        for v in variants:
            if isinstance(v, LoadedScenario):
                items.append((v.path.stem, v))
            else:
                label, loaded = v
                items.append((str(label), loaded))
    if not items:
        raise ValueError("compare() needs at least one variant")
    labels = [label for label, _ in items]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ValueError(f"variant labels must be unique; repeated: {dup}")
    return items


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def compare(
    variants: Variants,
    *,
    seed: int | None = None,
    replications: int | None = None,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Simulate every variant on common random numbers.

    Every variant runs with the SAME base seed and the SAME replication numbers
    (0, 1, ..., n-1).  Random numbers are drawn from streams named by seed,
    replication and purpose, so replication ``r`` meets the same buyers in every
    variant: the differences between variants are then the strategies', not
    noise from different buyers, and :meth:`Comparison.differences` pairs them
    by replication.  (A demand change keeps this too: arrivals are generated by
    inverting the cumulative intensity, so a larger multiplier keeps every
    buyer and adds some; see :mod:`peakdesk.demand.nhpp`.)

    Parameters
    ----------
    variants
        ``(label, scenario)`` pairs (see :func:`variants_from_files`,
        :func:`variants_from_sets`), a mapping label -> scenario, or scenarios
        (labelled by file name).  The first is the baseline.
    seed
        Base seed for every variant (default: the baseline scenario's).  The
        variants' own ``[simulation]`` seeds are not used.
    replications
        Replications of every variant (default: the baseline scenario's).
    workers
        Worker processes; the variant x replication runs are spread over them.
        Results do not depend on the number of workers.
    dask
        Address of a Dask scheduler: each variant's replications run there.
    progress
        Called with the overall share done (0..1).

    Returns
    -------
    Comparison
        Per-variant evaluations (message logs are not kept) and tables.
    """
    items = _normalise(variants)
    base = items[0][1].spec.simulation
    seed = base.seed if seed is None else seed
    n_rep = base.replications if replications is None else replications
    if n_rep < 1:
        raise ValueError(f"replications must be at least 1, got {n_rep}")
    numbers = tuple(range(n_rep))
    if dask is not None or workers <= 1 or len(items) * n_rep <= 1:
        evaluations = []
        for k, (_, loaded) in enumerate(items):
            cb = None if progress is None else part_progress(progress, k, len(items))
            evaluations.append(
                simulate(
                    loaded,
                    seed=seed,
                    replications=n_rep,
                    keep_logs=False,
                    progress=cb,
                    workers=workers,
                    dask=dask,
                )
            )
    else:
        evaluations = _run_pool([ld for _, ld in items], seed, numbers, workers, progress)
    return Comparison(
        variants=tuple(
            Variant(label=label, loaded=loaded, evaluation=ev)
            for (label, loaded), ev in zip(items, evaluations, strict=True)
        ),
        seed=seed,
        replication_numbers=numbers,
    )


def _one(loaded: LoadedScenario, seed: int, r: int) -> Replication:
    """Replication ``r`` of a scenario, without its log (module-level: it must pickle)."""
    ev = simulate(loaded, seed=seed, replications=1, first_replication=r, keep_logs=False)
    return ev.replications[0]


def _run_pool(
    scenarios: list[LoadedScenario],
    seed: int,
    numbers: tuple[int, ...],
    workers: int,
    progress: Callable[[float], None] | None,
) -> list[Evaluation]:
    """Every (variant, replication) run over a process pool; a lost worker's share is redone."""
    tasks = [(scenarios[v], seed, r) for v in range(len(scenarios)) for r in numbers]
    done = iter(run_tasks(_one, tasks, workers, progress))
    results = {(v, r): next(done) for v in range(len(scenarios)) for r in numbers}
    return [
        Evaluation(seed=seed, replications=tuple(results[(v, r)] for r in numbers))
        for v in range(len(scenarios))
    ]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _row(variant: str, measure: str, est: Estimate, unit: str) -> dict[str, Any]:
    return {
        "variant": variant,
        "measure": measure,
        "mean": est.mean,
        "low": est.low,
        "high": est.high,
        "unit": unit,
    }


def _target_probabilities(v: Variant) -> dict[str, tuple[float, float, float]]:
    """Target text -> (P(met), Wilson low, high); and ``p_all_targets_met`` if any targets."""
    ev = v.evaluation
    out = {s.target.text.strip(): (s.p_met, s.p_low, s.p_high) for s in ev.targets()}
    if out:
        n = len(ev.replications)
        met = sum(all(t.met for t in r.targets) for r in ev.replications)
        lo, hi = wilson(met, n, ev.confidence)
        out[ALL_TARGETS] = (ev.p_all_targets_met, lo, hi)
    return out


def _values(ev: Evaluation, name: str) -> F64:
    return np.array([getattr(r.summary, name) for r in ev.replications], dtype=np.float64)


def interval_stack(v: Variant, column: str) -> tuple[dt.datetime, float, F64]:
    """A variant's interval column: (local start, interval seconds, replications x intervals).

    Replications that ran past the horizon for different times are padded with ``nan``.
    """
    reps = v.evaluation.replications
    table = stack_runs([np.asarray(getattr(r.intervals, column), dtype=np.float64) for r in reps])
    return v.loaded.spec.calendar.start_aware, float(reps[0].intervals.interval_s), table


def _seconds(s: float) -> dt.timedelta:
    return dt.timedelta(seconds=float(s))


def _worst(ev: Evaluation, text: str) -> tuple[F64, str]:
    """Per replication, a target's worst daily rolling value (``nan`` if absent), and its unit."""
    values, unit = [], ""
    for rep in ev.replications:
        hit = [t for t in rep.targets if t.target.text.strip() == text.strip()]
        values.append(hit[0].worst if hit else math.nan)
        if hit:
            unit = hit[0].series.unit
    return np.asarray(values, dtype=np.float64), unit


def _interval(low: float, high: float, fmt: str) -> str:
    if math.isnan(low) or math.isnan(high):
        return ""
    if low == high:
        return "(no spread)"  # e.g. a cost that does not depend on the buyers
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


def _numbers(numbers: Sequence[int]) -> str:
    if not numbers:
        return "none"
    if list(numbers) == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 1:
        return f"numbers {numbers[0]}-{numbers[-1]}"
    return "number " + ", ".join(str(n) for n in numbers)


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


__all__ = [
    "ALL_TARGETS",
    "PAIRED_MEASURES",
    "Comparison",
    "SetSyntaxError",
    "Variant",
    "compare",
    "variants_from_files",
    "variants_from_sets",
]
