"""The two engines of one model, and the choice between them.

``reference`` (:mod:`peakdesk.engine.model`) is the specification: the simpy
model, readable, run by the exact-oracle tests.  ``compiled``
(:mod:`peakdesk.engine.compiled`) is the same model compiled with numba; a
differential test proves it gives the reference's :class:`ChatLog` to the bit.
Both take an :class:`EngineConfig` and a :class:`Workload` and return a
:class:`ChatLog`.

Where numba cannot be imported (an interpreter it does not support yet), the
compiled engine falls back to the reference with one warning saying why.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Callable
from typing import Literal, get_args

from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.log import ChatLog

EngineName = Literal["compiled", "reference"]
ENGINES: tuple[str, ...] = get_args(EngineName)
DEFAULT_ENGINE: EngineName = "compiled"


class EngineFallbackWarning(RuntimeWarning):
    """The compiled engine is not available here: the reference engine runs instead."""


@functools.cache
def compiled_unavailable() -> str | None:
    """Why the compiled engine cannot run in this interpreter (``None``: it can)."""
    try:
        import numba  # noqa: F401
    except Exception as exc:  # ImportError, or numba refusing this numpy or Python
        return f"numba cannot be imported ({type(exc).__name__}: {exc})"
    return None


def resolve(engine: str) -> EngineName:
    """The engine that will run for the name asked (``compiled`` may fall back).

    Raises
    ------
    ValueError
        For a name that is not an engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    if engine == "compiled":
        why = compiled_unavailable()
        if why is not None:
            _warn_once(why)
            return "reference"
    return engine  # type: ignore[return-value]


@functools.cache
def _warn_once(why: str) -> None:
    warnings.warn(
        f"the compiled engine is not available: {why}; running the reference engine "
        "(same results, slower)",
        EngineFallbackWarning,
        stacklevel=3,
    )


def warm(engine: str) -> None:
    """Load the engine named into this process before forking workers (see
    :func:`peakdesk.engine.compiled.driver.warm`); nothing for the reference."""
    if resolve(engine) == "compiled":
        from peakdesk.engine.compiled.driver import warm as warm_compiled

        warm_compiled()


def run(
    config: EngineConfig,
    workload: Workload,
    *,
    start: dt.datetime,
    horizon_s: float,
    engine: str = DEFAULT_ENGINE,
    subaccount_cost: float = 0.0,
    conversion_base: tuple[float, ...] | None = None,
    conversion_half_life_s: tuple[float, ...] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ChatLog:
    """Play a workload through the agents of ``config`` with the engine named.

    Parameters are those of :func:`peakdesk.engine.model.run`, and ``engine``:
    ``"compiled"`` (default) or ``"reference"``.
    """
    kwargs = {
        "start": start,
        "horizon_s": horizon_s,
        "subaccount_cost": subaccount_cost,
        "conversion_base": conversion_base,
        "conversion_half_life_s": conversion_half_life_s,
        "progress": progress,
    }
    if resolve(engine) == "compiled":
        from peakdesk.engine.compiled.driver import run as run_compiled

        return run_compiled(config, workload, **kwargs)  # type: ignore[arg-type]
    from peakdesk.engine.model import run as run_reference

    return run_reference(config, workload, **kwargs)  # type: ignore[arg-type]
