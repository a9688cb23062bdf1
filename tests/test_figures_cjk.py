"""Figures draw shop, pool and inquiry-type names in Chinese, Thai and Vietnamese.

matplotlib warns ``Glyph ... missing from font(s) ...`` for every character
its fonts lack (and draws an empty box); here every warning is an error, so a
name drawn as boxes fails the test.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure

from conftest import base_dict, loaded
from peakdesk.experiment.compare import Comparison, compare
from peakdesk.experiment.replicate import simulate
from peakdesk.report import fonts
from peakdesk.report.compare_figures import write_compare_figures
from peakdesk.report.figures import draw_figures, save_figures
from peakdesk.report.html import render
from peakdesk.report.rundata import PlanData, RunData

SHOP = "天猫旗舰店"  # Tmall flagship store
TYPE = "售前咨询"  # pre-sales inquiry
THAI = "ร้านค้า"  # shop
VIET = "Cửa hàng"  # shop
POOLS = (f"{SHOP}客服", THAI, VIET)
CJK_TEXT = f"{SHOP} {TYPE}"


def _scenario(**over: Any) -> dict[str, Any]:
    d = base_dict(targets={"require": ["service_level(3min) >= 0.8"]}, **over)
    d["scenario"] = {"name": f"{SHOP} · {THAI} · {VIET}"}
    return d


def _plan(run: RunData) -> PlanData:
    """A plan over the run's day whose pools have the users' names."""
    start = run.start
    starts = [(start + dt.timedelta(hours=h)).isoformat(timespec="minutes") for h in range(24)]
    online: dict[str, Any] = {
        "interval_start": np.array(starts),
        "requirement_reference_agents": np.full(24, 3, dtype=np.int64),
    }
    shifts = []
    for k, pool in enumerate(POOLS):
        online[f"online_{pool}"] = np.full(24, 1.0 + k)
        for h in (0, 8, 16):
            shifts.append(
                {
                    "pool": pool,
                    "start": (start + dt.timedelta(hours=h)).isoformat(),
                    "length_h": 8.0,
                    "agents": 1 + k,
                    "fixed": k == 0,
                    "paid_cost": 80.0,
                }
            )
    online["online_total"] = sum(online[f"online_{p}"] for p in POOLS)
    return PlanData(plan={"status": "ok", "message": ""}, shifts=shifts, online=online)


@pytest.fixture(scope="module")
def run() -> RunData:
    """A simulated run titled in Chinese, Thai and Vietnamese, with a plan over those pools."""
    scen = loaded(_scenario())
    data = RunData.from_evaluation(scen, simulate(scen, replications=2, keep_logs=False))
    summary = copy.deepcopy(data.summary)
    assert summary["targets"], "the scenario has a target"
    for t in summary["targets"]:
        t["target"] = f"{TYPE}: {t['target']}"
    return dataclasses.replace(data, summary=summary)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    more = _scenario()
    more["pools"][0]["shifts"][0]["agents"] = 3
    return compare(
        [(f"{SHOP} {TYPE}", loaded(_scenario())), (f"{THAI} +1", loaded(more))],
        replications=2,
        seed=5,
    )


def _texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(mpl.text.Text))


def _check_written(paths: list[Path]) -> None:
    assert {p.suffix for p in paths} == {".png", ".svg"}
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in data[:2000]


def test_run_figures_draw_every_name_with_no_missing_glyph(run: RunData, tmp_path: Path) -> None:
    planned = dataclasses.replace(run, plan=_plan(run))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails the test
        figures = draw_figures(planned)
        try:
            assert {"targets", "plan-pools", "plan-shifts"} <= set(figures)
            text = "\n".join(_texts(f) for f in figures.values())
            for name in (SHOP, TYPE, THAI, VIET, *POOLS):
                assert name in text
            _check_written(save_figures(figures, tmp_path))
            # the HTML report saves the figures itself, outside the figure functions
            assert render(planned, figures).count("data:image/png;base64,") == len(figures)
        finally:
            for fig in figures.values():
                plt.close(fig)


def test_report_draws_its_own_figures_with_no_missing_glyph(run: RunData) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SHOP in render(run)


def test_comparison_figures_with_no_missing_glyph(comparison: Comparison, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = write_compare_figures(comparison, tmp_path)
    assert len(written) == 4
    _check_written(written)


def _default_fonts_have(text: str) -> bool:
    """Whether matplotlib's default families alone have every glyph of ``text``."""
    cover = set()
    for family in mpl.rcParams["font.family"]:
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        font = ft2font.FT2Font(path)
        cover |= {c for c in text if font.get_char_index(ord(c))}
    return cover >= set(text) - {" "}


def test_without_the_fallback_chinese_text_warns(tmp_path: Path) -> None:
    """The check above can fail: drawn without peakdesk's fonts, the same text warns."""
    with plt.style.context("default"):
        if _default_fonts_have(CJK_TEXT):
            pytest.skip("matplotlib's default font has Chinese glyphs on this machine")
        fig = plt.figure(figsize=(4, 2))
        try:
            fig.suptitle(CJK_TEXT)
            for ext in ("png", "svg"):
                with pytest.warns(UserWarning, match=r"Glyph \d+ .* missing from font"):
                    fig.savefig(tmp_path / f"boxes.{ext}")
        finally:
            plt.close(fig)


def _pixels(label: str) -> np.ndarray[Any, Any]:
    fig = plt.figure(figsize=(4, 2), dpi=80)
    try:
        ax = fig.add_subplot(111)
        ax.plot([0, 1], [0, 1], label=label)
        ax.set_title(label)
        ax.legend()
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba()).copy()
    finally:
        plt.close(fig)


def test_latin_and_vietnamese_text_looks_as_before() -> None:
    label = f"Backlog 12:00 · {VIET} · Đà Nẵng"
    with plt.style.context("default"):
        before = _pixels(label)
        with fonts.script_fonts():
            after = _pixels(label)
    assert np.array_equal(before, after)


def test_chain_keeps_the_configured_families_first() -> None:
    with mpl.rc_context({"font.family": ["serif"]}):
        chain = fonts.fallback_chain()
        assert chain[0] == "serif"
        assert chain.index("Noto Sans SC") < chain.index("Noto Sans Thai")
        with fonts.script_fonts():
            assert mpl.rcParams["font.family"] == chain
            assert fonts.fallback_chain() == chain  # nothing listed twice
        assert mpl.rcParams["font.family"] == ["serif"]
    assert fonts.fallback_chain(["DejaVu Sans", "Noto Sans SC"]).count("Noto Sans SC") == 1


def test_importing_peakdesk_does_no_font_work() -> None:
    code = (
        "import peakdesk.cli, peakdesk.report.figures, peakdesk.report.compare_figures\n"
        "from peakdesk.report import fonts\n"
        "assert fonts.register_fonts.cache_info().misses == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
