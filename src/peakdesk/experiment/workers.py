"""Running independent simulations in local worker processes.

One helper serves replications (:mod:`peakdesk.experiment.replicate`) and
comparisons (:mod:`peakdesk.experiment.compare`): results come back in task
order whatever the number of workers, and a worker that dies (killed, out of
memory) costs time, not the run: the tasks left run in a fresh pool, and if a
worker dies again, in this process.  That
is safe because every simulation's random streams depend only on its seed
and replication number.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


def _quiet_on_ctrl_c() -> None:
    """Worker initializer: a Ctrl-C (which the terminal sends to every process of the
    command) ends a worker at once and silently; the parent says it was interrupted."""
    signal.signal(signal.SIGINT, lambda _sig, _frame: os._exit(128 + signal.SIGINT))


def part_progress(progress: Callable[[float], None], k: int, n: int) -> Callable[[float], None]:
    """A progress callback for part ``k`` of ``n`` equal parts of a job (0..1 within the part)."""

    def cb(frac: float) -> None:
        progress((k + frac) / n)

    return cb


def run_tasks(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    workers: int,
    progress: Callable[[float], None] | None = None,
) -> list[T]:
    """``[fn(*task) for task in tasks]``, spread over worker processes.

    Parameters
    ----------
    fn
        A module-level function (it must pickle).
    tasks
        Arguments of each call.
    workers
        Worker processes (at most one per task).
    progress
        Called with the share of tasks done (0..1) as they finish.

    Returns
    -------
    list
        The results, in the order of ``tasks``.
    """
    results: dict[int, T] = {}
    n = len(tasks)
    if n == 0:
        return []
    # A worker that dies breaks its pool: the tasks left get one fresh pool (so a
    # long run stays parallel), then whatever is still missing runs in this process.
    for _attempt in range(2):
        todo = [k for k in range(n) if k not in results]
        if not todo:
            break
        if not _run_pool(fn, tasks, todo, workers, results, progress, n):
            break
    for k, task in enumerate(tasks):
        if k not in results:
            results[k] = fn(*task)
            if progress is not None:
                progress(len(results) / n)
    return [results[k] for k in range(n)]


def _run_pool(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    todo: list[int],
    workers: int,
    results: dict[int, T],
    progress: Callable[[float], None] | None,
    n: int,
) -> bool:
    """Run ``todo`` in one process pool, filling ``results``; ``False`` if a worker died."""
    # fork on Linux: workers start at once and share the parent's loaded modules.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_quiet_on_ctrl_c
        ) as pool:
            futures = {pool.submit(fn, *tasks[k]): k for k in todo}
            try:
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    if progress is not None:
                        progress(len(results) / n)
            except BaseException:
                # A task failed (or Ctrl-C): do not wait for the others.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except BrokenProcessPool:
        return False
    return True
