"""Running independent simulations in local worker processes.

One helper serves replications (:mod:`peakdesk.experiment.replicate`) and
comparisons (:mod:`peakdesk.experiment.compare`): results come back in task
order whatever the number of workers, and a worker that dies (killed, out of
memory) costs time, not the run: its tasks are redone in this process.  That
is safe because every simulation's random streams depend only on its seed
and replication number.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


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
    # fork on Linux: workers start at once and share the parent's loaded modules.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    try:
        with ProcessPoolExecutor(max_workers=min(workers, n), mp_context=ctx) as pool:
            futures = {pool.submit(fn, *task): k for k, task in enumerate(tasks)}
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
        # A worker died: the tasks it had, and those not started, are redone below.
        pass
    for k, task in enumerate(tasks):
        if k not in results:
            results[k] = fn(*task)
            if progress is not None:
                progress(len(results) / n)
    return [results[k] for k in range(n)]
