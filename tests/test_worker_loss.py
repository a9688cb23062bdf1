"""A worker process killed mid-run costs time, not the run: the results are those of one process.

Each test runs the same replications twice: in this process, and on worker
processes one of which is killed (SIGKILL, as the kernel's OOM killer would)
after it has simulated a replication and before it returns it.  The kill
comes from the ``measure`` function, which runs in the worker at the end of a
replication: it kills its own process the first time it runs outside this
process, and never again (a marker file records the kill), so the redone
replication completes.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import SCENARIOS
from peakdesk.engine.log import ChatLog
from peakdesk.experiment.replicate import Evaluation, simulate
from peakdesk.scenario import load_scenario
from peakdesk.scenario.load import LoadedScenario

REPLICATIONS = 3
SEED = 5


def kill_first_worker(log: ChatLog, *, marker: str, parent: int) -> float:
    """A ``measure`` that SIGKILLs the first worker process that calls it.

    ``parent`` is the test process: it is never killed (the replications a
    dead worker leaves are redone there).  Creating ``marker`` with ``O_EXCL``
    is atomic, so exactly one worker dies even if two finish at once.
    """
    if os.getpid() != parent:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    return float(np.nansum(log.reply_time_s))


def _plain(log: ChatLog) -> float:
    return float(np.nansum(log.reply_time_s))


@pytest.fixture(scope="module")
def scenario() -> LoadedScenario:
    return load_scenario(SCENARIOS / "small-shop.toml")


@pytest.fixture(scope="module")
def reference(scenario: LoadedScenario) -> Evaluation:
    """The replications in this process, nobody killed."""
    return simulate(scenario, replications=REPLICATIONS, seed=SEED, keep_logs=False, measure=_plain)


def _killer(tmp_path: Path) -> tuple[Path, Any]:
    marker = tmp_path / "killed"
    return marker, functools.partial(kill_first_worker, marker=str(marker), parent=os.getpid())


def _assert_same(a: Evaluation, b: Evaluation) -> None:
    assert len(a.replications) == len(b.replications) == REPLICATIONS
    for x, y in zip(a.replications, b.replications, strict=True):
        assert x.replication == y.replication
        assert x.summary == y.summary
        assert x.extra == y.extra
        np.testing.assert_array_equal(x.intervals.busy_slots, y.intervals.busy_slots)
        assert len(x.targets) == len(y.targets)
        for s, t in zip(x.targets, y.targets, strict=True):
            assert (s.target, s.met, s.first_failing_day) == (t.target, t.met, t.first_failing_day)
            np.testing.assert_array_equal([s.worst, s.final], [t.worst, t.final])
            np.testing.assert_array_equal(s.series.rolling, t.series.rolling)
    sa, sb = a.targets(), b.targets()
    assert [t.p_met for t in sa] == [t.p_met for t in sb]
    np.testing.assert_array_equal([t.worst_mean for t in sa], [t.worst_mean for t in sb])


def test_local_worker_killed_mid_run_is_redone_in_process(
    scenario: LoadedScenario, reference: Evaluation, tmp_path: Path
) -> None:
    marker, measure = _killer(tmp_path)
    ev = simulate(
        scenario,
        replications=REPLICATIONS,
        seed=SEED,
        keep_logs=False,
        measure=measure,
        workers=2,
    )
    assert marker.exists(), "no worker was killed: the test proved nothing"
    assert int(marker.read_text()) != os.getpid()
    _assert_same(reference, ev)


distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Dask cluster of two single-threaded worker processes (with nannies)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        yield lc.scheduler_address


def test_dask_worker_killed_mid_run_is_retried_by_the_scheduler(
    scenario: LoadedScenario, reference: Evaluation, cluster: str, tmp_path: Path
) -> None:
    marker, measure = _killer(tmp_path)
    ev = simulate(
        scenario,
        replications=REPLICATIONS,
        seed=SEED,
        keep_logs=False,
        measure=measure,
        dask=cluster,
    )
    assert marker.exists(), "no worker was killed: the test proved nothing"
    assert int(marker.read_text()) != os.getpid()
    _assert_same(reference, ev)
