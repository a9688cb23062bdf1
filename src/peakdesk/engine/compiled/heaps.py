"""Python's :mod:`heapq`, step for step, on parallel arrays.

Each heap holds items ``(key, id, payload)`` ordered by ``(key, id)`` (the ids
are unique, so the payload never decides).  The algorithms are heapq's own
(``_siftdown`` and the leaf-first ``_siftup``), so a heap's array holds its
items in the same places as the reference engine's list: where the reference
walks a heap in array order (the replies a parallel agent hands back), the
compiled engine walks the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.compiled.jit import inline_kernel, kernel
from peakdesk.engine.compiled.state import F64, I64, Int

#: A heap's payload column (float64 or int64).
Payload = npt.NDArray[Any]

#: The root's index (a numpy integer: numba compiles a function once per literal).
_ROOT = np.int64(0)


@inline_kernel
def _less(k1: float, i1: Int, k2: float, i2: Int) -> bool:
    return bool(k1 < k2 or (k1 == k2 and i1 < i2))


@kernel
def _siftdown(keys: F64, ids: I64, pay: Payload, startpos: Int, pos: Int) -> None:
    nk = keys[pos]
    ni = ids[pos]
    npay = pay[pos]
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        if _less(nk, ni, keys[parentpos], ids[parentpos]):
            keys[pos] = keys[parentpos]
            ids[pos] = ids[parentpos]
            pay[pos] = pay[parentpos]
            pos = parentpos
            continue
        break
    keys[pos] = nk
    ids[pos] = ni
    pay[pos] = npay


@kernel
def _siftup(keys: F64, ids: I64, pay: Payload, endpos: Int, pos: Int) -> None:
    startpos = pos
    nk = keys[pos]
    ni = ids[pos]
    npay = pay[pos]
    childpos = 2 * pos + 1
    while childpos < endpos:
        rightpos = childpos + 1
        if rightpos < endpos and not _less(
            keys[childpos], ids[childpos], keys[rightpos], ids[rightpos]
        ):
            childpos = rightpos
        keys[pos] = keys[childpos]
        ids[pos] = ids[childpos]
        pay[pos] = pay[childpos]
        pos = childpos
        childpos = 2 * pos + 1
    keys[pos] = nk
    ids[pos] = ni
    pay[pos] = npay
    _siftdown(keys, ids, pay, startpos, pos)


@kernel
def push(keys: F64, ids: I64, pay: Payload, n: Int, key: float, ident: Int, payload: Any) -> None:
    """``heapq.heappush`` onto a heap of ``n`` items (the caller counts ``n + 1``)."""
    keys[n] = key
    ids[n] = ident
    pay[n] = payload
    _siftdown(keys, ids, pay, _ROOT, n)


@kernel
def pop(keys: F64, ids: I64, pay: Payload, n: Int) -> tuple[float, int, Any]:
    """``heapq.heappop`` from a heap of ``n >= 1`` items (the caller counts ``n - 1``)."""
    last = n - 1
    lk = keys[last]
    li = ids[last]
    lp = pay[last]
    if last > 0:
        rk = keys[0]
        ri = ids[0]
        rp = pay[0]
        keys[0] = lk
        ids[0] = li
        pay[0] = lp
        _siftup(keys, ids, pay, last, _ROOT)
        return rk, ri, rp
    return lk, li, lp


@kernel
def heapify(keys: F64, ids: I64, pay: Payload, n: Int) -> None:
    """``heapq.heapify`` on the first ``n`` items."""
    for i in range(n // 2 - 1, -1, -1):
        _siftup(keys, ids, pay, n, i)


@kernel
def sort_pairs(keys: F64, ids: I64) -> None:
    """Sort parallel arrays in place by ``(key, id)`` (a bottom-up merge sort)."""
    n = keys.size
    ka = keys.copy()
    ia = ids.copy()
    kb = np.empty_like(ka)
    ib = np.empty_like(ia)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _less(ka[j], ia[j], ka[i], ia[i]):
                    kb[k] = ka[j]
                    ib[k] = ia[j]
                    j += 1
                else:
                    kb[k] = ka[i]
                    ib[k] = ia[i]
                    i += 1
                k += 1
            while i < mid:
                kb[k] = ka[i]
                ib[k] = ia[i]
                i += 1
                k += 1
            while j < hi:
                kb[k] = ka[j]
                ib[k] = ia[j]
                j += 1
                k += 1
        ka, kb = kb, ka
        ia, ib = ib, ia
        width *= 2
    for k in range(n):
        keys[k] = ka[k]
        ids[k] = ia[k]
