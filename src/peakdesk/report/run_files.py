"""Which files make a run directory, and how a new run replaces the old one as a whole.

A run is written into a staging folder beside the run directory
(``.<name>.peakdesk-new``), figures and report included, and only then moved
in: the old run's files go, the new ones arrive, files of the user's own stay.
The move is a handful of renames in one folder; while it runs, Ctrl-C and
SIGTERM are held back (delivered right after), so an interrupted command leaves
the previous complete run, or the new complete one.

Should the process be killed outright during the move (SIGKILL, a power cut),
the staging folder still holds a manifest and the run directory a journal
naming it: the next command that writes or reads that directory
(:func:`recover_run_dir`) finishes the move, so it is read as the new complete
run.  A staging folder without a journal is a run that stopped before its move:
it is removed, and the previous run stands.

One command at a time should write a given directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

SUMMARY_FILE = "summary.json"
INTERVALS_FILE = "intervals.csv"
SCENARIO_FILE = "scenario.toml"
PLAN_FILE = "plan.json"
PLANNED_FILE = "planned.toml"
FRONTIER_CSV = "frontier.csv"

#: What a run directory may hold, besides the figures and the logs.
RUN_FILES = (
    SUMMARY_FILE,
    INTERVALS_FILE,
    SCENARIO_FILE,
    PLAN_FILE,
    PLANNED_FILE,
    FRONTIER_CSV,
    "shifts.csv",
    "online.csv",
    "pools.csv",
    "agents.csv",
    "report.html",
)

#: The figures a run directory may hold (``<name>.png`` and ``.svg``): the keys of
#: :data:`peakdesk.report.figures.FIGURES`, named here so that managing a folder needs
#: no plotting import (and the figures, which read run data, are not imported back).
FIGURE_NAMES = (
    "demand-capacity",
    "backlog",
    "first-response",
    "erlang-intervals",
    "targets",
    "subaccounts",
    "conversions-lost",
    "plan-pools",
    "plan-shifts",
    "plan-frontier",
    "clients",
)

_NAMES = frozenset(RUN_FILES) | {f"{n}.{ext}" for n in FIGURE_NAMES for ext in ("png", "svg")}
_LOGS = re.compile(r"(messages|conversations)-r\d+\.csv")
JOURNAL = ".peakdesk-replacing"
MANIFEST = ".manifest"


def is_run_file(name: str) -> bool:
    """Whether a file name is one a run writes (not a file of the user's own)."""
    return name in _NAMES or _LOGS.fullmatch(name) is not None


def clear_run_dir(out: Path) -> None:
    """Remove the files an earlier run wrote into ``out`` (and only those)."""
    if not out.is_dir():
        return
    for path in out.iterdir():
        if path.is_file() and is_run_file(path.name):
            path.unlink()


def stage_dir(out: Path) -> Path:
    """The staging folder of a run directory (same parent, so renames stay in one filesystem)."""
    return out.parent / f".{out.name}.peakdesk-new"


@contextlib.contextmanager
def staged_run_dir(out: Path) -> Iterator[Path]:
    """A folder to write a run into; on success its files replace the run in ``out``.

    On an exception (Ctrl-C included) the staging folder is removed and ``out``
    is left as it was.
    """
    recover_run_dir(out)
    stage = stage_dir(out)
    if stage.exists():
        shutil.rmtree(stage)  # a run that stopped before its move
    stage.mkdir(parents=True)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    names = sorted(p.name for p in stage.iterdir())
    (stage / MANIFEST).write_text("\n".join(names) + "\n", encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    with _signals_held():
        journal = out / JOURNAL
        tmp = out / f"{JOURNAL}.tmp"
        tmp.write_text(stage.name + "\n", encoding="utf-8")
        os.replace(tmp, journal)
        _roll_forward(stage, out)


def recover_run_dir(out: Path) -> None:
    """Finish a move that a killed process left half done (see the module docstring)."""
    journal = out / JOURNAL
    if not journal.is_file():
        return
    stage = stage_dir(out)
    with _signals_held():
        if (stage / MANIFEST).is_file():
            _roll_forward(stage, out)
        else:
            journal.unlink()  # the move was done; only the journal was left


def _roll_forward(stage: Path, out: Path) -> None:
    """Make ``out`` hold exactly the staged run (and the user's own files); idempotent."""
    names = set((stage / MANIFEST).read_text(encoding="utf-8").split())
    for path in out.iterdir():
        if path.is_file() and is_run_file(path.name) and path.name not in names:
            path.unlink()
    for name in sorted(names):
        src = stage / name
        if src.exists():
            os.replace(src, out / name)
    (out / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (POSIX, main thread); they arrive when this ends."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
