"""The one way the compiled engine compiles a function: numba, nopython, cached.

``cache=True`` keeps the machine code on disk, so only the first run on a
machine pays for compiling.  numba keys a cached function by its own source
file only, while the engine's kernels are inlined across files: an edited
helper (or a new peakdesk installed over an old one) would leave the loop's
cached code stale, silently.  So the cache lives in a folder named by a hash
of every source file of the compiled engine: any change to any of them
compiles afresh.  The folder is under the package's ``__pycache__`` (or, where
the package is read-only, ``~/.cache/peakdesk``; under ``NUMBA_CACHE_DIR``
when that is set).  The wrapper keeps the function's signature for mypy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from numba.core import config as numba_config

F = TypeVar("F", bound=Callable[..., Any])

_HERE = Path(__file__).resolve().parent


def _sources_hash() -> str:
    """A hash of every source file of the compiled engine (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> str:
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        base = Path(user)
    elif os.access(_HERE, os.W_OK):
        base = _HERE / "__pycache__"
    else:
        base = Path.home() / ".cache" / "peakdesk"
    return str(base / f"engine-{_sources_hash()}")


CACHE_DIR = _cache_dir()


def _njit(fn: F, **options: Any) -> F:
    # numba reads its cache folder when the decorator enables caching: set it for ours
    # only, and give the process's own setting back.
    before = numba_config.CACHE_DIR  # type: ignore[attr-defined]  # set at import
    numba_config.CACHE_DIR = CACHE_DIR  # type: ignore[attr-defined]
    try:
        return cast(F, numba.njit(cache=True, error_model="numpy", **options)(fn))
    finally:
        numba_config.CACHE_DIR = before  # type: ignore[attr-defined]


def kernel(fn: F) -> F:
    """Compile ``fn`` with numba in nopython mode, cached on disk."""
    return _njit(fn)


def inline_kernel(fn: F) -> F:
    """As :func:`kernel`, inlined into its callers by numba (tiny helpers)."""
    return _njit(fn, inline="always")
