"""What the commands share: bad input as a message and exit code 2, progress, options."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from peakdesk.demand.forecast_csv import ForecastError
from peakdesk.report.text import fmt
from peakdesk.rules.history import HistoryError
from peakdesk.scenario import LoadedScenario, ScenarioError
from peakdesk.units import format_duration

if TYPE_CHECKING:
    from peakdesk.rules.csvlog import ExportColumns, ImportedLog

EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn input errors into a message and exit code 2."""
    try:
        yield
    except ScenarioError as exc:
        fail(str(exc))
    except ForecastError as exc:
        fail(str(exc))
    except HistoryError as exc:
        fail(str(exc))


@contextmanager
def output_errors() -> Iterator[None]:
    """A place that cannot be written (no such folder, a file in the way, no permission)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or "the output"
        fail(f"cannot write {where}: {exc.strerror or exc}")


def load_any(path: str) -> LoadedScenario:
    """A scenario file, or a centre file (a ``[centre]`` table) compiled into one."""
    from peakdesk.centre.compile import centre_from_data, is_centre
    from peakdesk.scenario.load import read_toml, scenario_from_data

    data = read_toml(path)
    return centre_from_data(data, path) if is_centre(data) else scenario_from_data(data, path)


def load_checked(
    path: str, *, size_limit: bool = True, engine: str | None = None
) -> LoadedScenario:
    """Load, validate and check that a scenario can run (exit 2 otherwise).

    ``size_limit=False`` (``--no-size-limit``) lets runs over the size limits
    start (see :data:`peakdesk.experiment.checks.SIZE_LIMITS`); ``engine``
    (``--engine``) replaces the scenario's ``simulation.engine``.
    """
    from peakdesk.experiment.checks import check_runnable

    with input_errors():
        loaded = with_engine(load_any(path), engine)
        check_runnable(loaded, size_limit=size_limit)
        return loaded
    raise AssertionError("unreachable")  # pragma: no cover


def with_engine(loaded: LoadedScenario, engine: str | None) -> LoadedScenario:
    """The scenario with ``simulation.engine`` set to ``engine`` (unchanged for ``None``)."""
    if engine is None:
        return loaded
    spec = loaded.spec
    simulation = spec.simulation.model_copy(update={"engine": engine})
    return loaded.with_spec(spec.model_copy(update={"simulation": simulation}))


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt_metric(value: float, unit: str) -> str:
    """A metric value: a share as a percentage, otherwise a duration."""
    if value != value:
        return "n/a"
    if unit == "score":
        return f"{value:.2f}"
    return fmt(value, "%") if unit == "share" else fmt(value, "s")


def progress_bar(total_label: str) -> tuple[Callable[[float], None], Callable[[], None]]:
    """A click progress bar on stderr driven by a 0..1 share; silent when not a terminal."""
    if not sys.stderr.isatty():
        return (lambda _f: None), (lambda: None)
    bar = click.progressbar(length=1000, label=total_label, file=sys.stderr, show_eta=True)
    bar.__enter__()
    state = {"done": 0}

    def update(frac: float) -> None:
        target = int(frac * 1000)
        if target > state["done"]:
            bar.update(target - state["done"])
            state["done"] = target

    def close() -> None:
        bar.__exit__(None, None, None)

    return update, close


COLUMNS_OPTION = click.option(
    "--columns",
    "columns_toml",
    type=click.Path(dir_okay=False),
    default=None,
    help="Column map (TOML) for an export in its own format: its column names, sender "
    "values and time format (e.g. Chinese headers, day-first dates, epoch milliseconds); "
    "see docs/EXPORTS.md.",
)


def read_column_map(columns_toml: str | None) -> ExportColumns | None:
    """The ``--columns`` map, or None; one that cannot be used exits 2 naming its file and field."""
    if not columns_toml:
        return None
    from peakdesk.scenario.export_columns import read_export_columns

    try:
        return read_export_columns(columns_toml)
    except ScenarioError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from None


def read_log(log_csv: str, *, skip_bad_rows: bool, columns: ExportColumns | None) -> ImportedLog:
    """The chat log, read through the column map when one is given."""
    from peakdesk.rules.csvlog import read_chat_log

    return read_chat_log(log_csv, skip_bad_rows=skip_bad_rows, columns=columns)


WORKERS_OPTION = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1, max=1024),
    default=lambda: min(os.cpu_count() or 1, 1024),
    show_default="all cores",
    help="Worker processes for replications; results are identical for any number.",
)


SIZE_LIMIT_OPTION = click.option(
    "--no-size-limit",
    "no_size_limit",
    is_flag=True,
    help="Run even when the size estimate is over the limits (per replication: 20 million "
    "conversations, 200 million events, 2 million interval rows, 4 GiB of memory); "
    "absurd sizes (over a billion conversations) are refused all the same.",
)


ENGINE_OPTION = click.option(
    "--engine",
    "engine",
    type=click.Choice(["compiled", "reference"]),
    default=None,
    help="The engine that plays the runs (default: the scenario's simulation.engine, "
    "'compiled'); 'reference' is the simpy model the compiled one is proved equal to.",
)


DASK_OPTION = click.option(
    "--dask",
    "dask",
    default=None,
    metavar="ADDRESS",
    help="Run the simulations on a Dask scheduler (e.g. tcp://10.0.0.5:8786); same results.",
)


def say_progress() -> Callable[[str], None]:
    """Progress lines on stderr, each with the elapsed time (the search takes minutes)."""
    t0 = time.perf_counter()

    def say(line: str) -> None:
        click.echo(f"[{time.perf_counter() - t0:6.1f}s] {line}", err=True)

    return say


def refuse_warm_up(loaded: LoadedScenario, scenario: str, command: str) -> None:
    """Exit 2 for a scenario with ``simulation.warm_up`` on a command that cannot run one."""
    w = loaded.spec.simulation.warm_up
    if w is not None:
        fail(
            f"{scenario}: simulation.warm_up = {format_duration(w)}: `peakdesk {command}` "
            "builds its own staffing and runs no warm-up yet (its verification would not "
            "be what simulate shows); remove the warm-up to plan, and keep it to simulate "
            "and compare"
        )
