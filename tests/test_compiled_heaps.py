"""The compiled engine's heaps are Python's heapq, step for step.

Where the reference engine walks a heap in array order (the replies a parallel
agent hands back), the compiled engine must find the same items in the same
places: after every push and pop of a random sequence, the compiled heap's
array equals heapq's list, and pops return the same items.
"""

from __future__ import annotations

import heapq
from pathlib import Path

import numpy as np
import pytest

from peakdesk.engine.compiled import heaps


@pytest.mark.parametrize("seed", range(30))
def test_push_pop_heapify_match_heapq_item_for_item(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 64
    keys, ids, pay = np.zeros(size), np.zeros(size, np.int64), np.zeros(size)
    ref: list[tuple[float, int, float]] = []
    n = 0
    next_id = 0
    for _ in range(400):
        if n and (n == size or rng.random() < 0.45):
            got = heaps.pop(keys, ids, pay, n)
            n -= 1
            want = heapq.heappop(ref)
            assert (got[0], got[1], got[2]) == want
        else:
            # coarse keys: many ties, broken by the (unique) id
            key = float(rng.integers(0, 8))
            heaps.push(keys, ids, pay, n, key, next_id, key * 10.0)
            heapq.heappush(ref, (key, next_id, key * 10.0))
            next_id += 1
            n += 1
        assert [(keys[k], ids[k], pay[k]) for k in range(n)] == ref
    # heapify of an arbitrary array, as the compaction of a full heap does
    perm = rng.permutation(n)
    keys[:n], ids[:n], pay[:n] = keys[:n][perm], ids[:n][perm], pay[:n][perm]
    ref = [(keys[k], int(ids[k]), pay[k]) for k in range(n)]
    heaps.heapify(keys, ids, pay, np.int64(n))
    heapq.heapify(ref)
    assert [(keys[k], ids[k], pay[k]) for k in range(n)] == ref


def test_sort_pairs_is_a_stable_sort_by_key_then_id() -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 5, 200).astype(np.float64)
    ids = rng.permutation(200).astype(np.int64)
    order = np.lexsort((ids, keys))
    want_k, want_i = keys[order], ids[order]
    heaps.sort_pairs(keys, ids)
    assert np.array_equal(keys, want_k) and np.array_equal(ids, want_i)


def test_the_kernel_cache_is_keyed_by_every_source_of_the_engine(tmp_path: Path) -> None:
    # numba keys a cached function by its own file; the loop inlines helpers from the
    # others, so the cache folder carries a hash of all of them: an edit anywhere (or a
    # new version installed over an old one) compiles afresh instead of running stale code.
    import shutil

    from peakdesk.engine.compiled import jit, loop

    assert Path(loop.run_loop._cache._cache_path).is_relative_to(jit.CACHE_DIR)
    copy = tmp_path / "compiled"
    shutil.copytree(Path(jit.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = jit._sources_hash()
    jit_here = jit._HERE
    try:
        jit._HERE = copy
        assert jit._sources_hash() == before
        (copy / "shift_end.py").write_text((copy / "shift_end.py").read_text() + "\n# edited\n")
        assert jit._sources_hash() != before
    finally:
        jit._HERE = jit_here
