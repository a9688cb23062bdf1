"""The same results on a Dask cluster as in one process (replications and a whole plan)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import SCENARIOS, loaded
from peakdesk.experiment.replicate import simulate
from peakdesk.plan.search import search
from peakdesk.scenario import load_scenario

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Dask cluster of two single-threaded worker processes."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        yield lc.scheduler_address


def test_replications_on_dask_equal_one_process(cluster: str) -> None:
    sc = load_scenario(SCENARIOS / "small-shop.toml")
    local = simulate(sc, replications=3, seed=4, keep_logs=False)
    remote = simulate(sc, replications=3, seed=4, keep_logs=False, dask=cluster)
    for a, b in zip(local.replications, remote.replications, strict=True):
        assert a.replication == b.replication
        assert a.summary == b.summary
        np.testing.assert_array_equal(a.intervals.busy_slots, b.intervals.busy_slots)
        assert [t.met for t in a.targets] == [t.met for t in b.targets]


def test_a_plan_on_dask_equals_the_plan_in_one_process(cluster: str) -> None:
    text = (Path(__file__).parent / "test_cli_plan.py").read_text(encoding="utf-8")
    tiny = text.split('TINY = """', 1)[1].split('"""', 1)[0]
    sc = loaded(tomllib.loads(tiny))
    one = search(sc, workers=1)
    on_dask = search(sc, dask=cluster)
    assert one.status == on_dask.status == "ok"
    np.testing.assert_array_equal(one.requirement, on_dask.requirement)
    np.testing.assert_array_equal(one.counts, on_dask.counts)
    assert one.total_cost == on_dask.total_cost
    assert one.subaccounts == on_dask.subaccounts
