"""Fonts for the user's text in figures: Chinese and Thai as well as Latin and Vietnamese.

Shop, pool and inquiry-type names are written in the seller's language.
matplotlib's default font, DejaVu Sans, covers Latin (Vietnamese included),
Greek and Cyrillic but has no Chinese or Thai, so on a machine without such
fonts those names would be drawn as empty boxes.  peakdesk therefore depends
on two data-only packages that ship Noto Sans SC and Noto Sans Thai (SIL Open
Font License 1.1), and every figure is drawn under :func:`script_fonts`, which

* registers those fonts with matplotlib's font manager, once, on first use
  (importing peakdesk does no font work), and
* sets ``font.family`` to the families already configured (by default
  ``sans-serif``, that is DejaVu Sans) followed by :data:`FALLBACK_FAMILIES`;
  matplotlib (3.6 and later) takes each glyph from the first family that has it.

Text the configured font can draw keeps that font, so figures in Latin script
look exactly as before.  Text objects keep the family list they were created
with, so a figure drawn under :func:`script_fonts` can be saved outside it.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib import font_manager

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class PackagedFont:
    """A font file shipped inside an installed Python package.

    Attributes
    ----------
    family
        The family name matplotlib knows it by (from the font's name table).
    package
        The importable package holding the file.
    file
        The file name inside the package.
    """

    family: str
    package: str
    file: str


#: Fonts installed with peakdesk's dependencies (see ``pyproject.toml``).
PACKAGED_FONTS: tuple[PackagedFont, ...] = (
    PackagedFont("Noto Sans SC", "pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf"),
    PackagedFont("Noto Sans Thai", "pylopdf_fonts_th", "NotoSansThai-Variable.ttf"),
)

#: Families tried, in order, for glyphs the configured families lack: the packaged
#: Chinese and Thai fonts, then Noto Sans CJK SC if the system has it (Debian's
#: ``fonts-noto-cjk``; it adds Korean Hangul).  Families not present are left out.
FALLBACK_FAMILIES: tuple[str, ...] = ("Noto Sans SC", "Noto Sans Thai", "Noto Sans CJK SC")


def _known_families() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


@functools.cache
def register_fonts() -> tuple[str, ...]:
    """Make the packaged fonts known to matplotlib's font manager (once per process).

    A family the font manager already knows (installed on the system, or
    registered before) is not added again.  A font whose package is not
    installed is skipped: its script then falls back to the system's fonts.

    Returns
    -------
    tuple of str
        The families added by this call.
    """
    known = _known_families()
    added: list[str] = []
    for font in PACKAGED_FONTS:
        if font.family in known:
            continue
        try:
            path = importlib.resources.files(font.package).joinpath(font.file)
        except ModuleNotFoundError:
            continue
        # Installed wheels are directories; matplotlib opens the file again when drawing.
        if isinstance(path, Path) and path.is_file():
            font_manager.fontManager.addfont(path)
            added.append(font.family)
    return tuple(added)


def fallback_chain(families: Sequence[str] | None = None) -> list[str]:
    """A ``font.family`` list: ``families`` followed by the fallback families present.

    Parameters
    ----------
    families
        The families to keep first; default ``rcParams["font.family"]``.

    Returns
    -------
    list of str
        ``families``, then each of :data:`FALLBACK_FAMILIES` that matplotlib
        knows and that is not already listed.
    """
    register_fonts()
    first = list(mpl.rcParams["font.family"] if families is None else families)
    known = _known_families()
    return first + [f for f in FALLBACK_FAMILIES if f in known and f not in first]


def font_rc() -> dict[str, Any]:
    """rcParams that draw Chinese and Thai text with the packaged fonts.

    Returns
    -------
    dict
        ``{"font.family": fallback_chain()}``, for :func:`matplotlib.rc_context`
        or :func:`matplotlib.pyplot.style.context`.
    """
    return {"font.family": fallback_chain()}


@contextmanager
def script_fonts() -> Iterator[None]:
    """Draw text created inside the block with the fallback chain of :func:`font_rc`.

    Yields
    ------
    None
        rcParams are restored on leaving the block.
    """
    with mpl.rc_context():  # restores every rcParam on leaving
        mpl.rcParams["font.family"] = fallback_chain()
        yield


def with_script_fonts(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a figure function so that it runs under :func:`script_fonts`.

    Parameters
    ----------
    func
        A function that creates (or saves) matplotlib figures.

    Returns
    -------
    callable
        ``func`` with the same signature and docstring.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with script_fonts():
            return func(*args, **kwargs)

    return wrapper
