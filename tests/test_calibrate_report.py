"""The calibration report (``peakdesk.calibrate.report``): its figures and its page.

Two logs.  A simulated shop's day (one inquiry type, 3 chats a sequential agent,
exponential patience), exported as a message log with its conversation table, so
that every figure has data; and arrivals alone, sampled here at a flat rate with
a 10x burst at 20:00 for 15 minutes, so that the surge table has a row and the
figures needing replies or a conversation table are left out.

Each figure is checked against the numbers it draws (the counts, the shares, the
written multiplier, the exponential curve, the agents on shift), and the page
for every quantity with its estimate, the surge, each default's reason, one PNG
per figure, escaping and the scenario TOML.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
import warnings
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pytest
import tomlkit
from matplotlib.figure import Figure

from conftest import chat_shop, loaded
from peakdesk.calibrate import report
from peakdesk.calibrate.report import (
    agents_on_shift,
    calibration_figures,
    render_calibration,
    write_calibration_report,
)
from peakdesk.calibrate.scenario import Calibration, calibrate
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.rules.messages import BUYER, MessageLog
from peakdesk.units import parse_duration_s, zone_info

ZONE = zone_info("Asia/Shanghai")
ALL_FIGURES = ["arrivals", "messages", "think_time", "compose", "patience", "agents_online"]
PNG = "data:image/png;base64,"


def _shop() -> dict[str, Any]:
    """3,000 conversations a day on 2 sequential agents holding 3 chats, patience 2 min."""
    return chat_shop(3000, 2)


@pytest.fixture(scope="module")
def shop() -> tuple[MessageLog, dict[str, Any]]:
    """The simulated day's message log and its conversation table (as ``calibrate`` takes)."""
    ev = simulate(loaded(_shop()), seed=5, replications=1, keep_logs=True)
    log = ev.replications[0].log
    assert log is not None
    table = {
        "arrival_s": log.workload.arrival_s,
        "first_human_reply_s": log.first_human_reply_s,
        "abandoned": log.abandoned,
        "abandon_s": log.abandon_s,
        "end_s": float(np.nanmax(log.close_s)),
        "needs_agent": ~log.workload.bot,
    }
    return to_message_log(log), table


@pytest.fixture(scope="module")
def full(shop: tuple[MessageLog, dict[str, Any]]) -> Calibration:
    log, table = shop
    return calibrate(log, ZONE, timezone="Asia/Shanghai", conversations=table, name="shop <b>")


@pytest.fixture(scope="module")
def no_table(shop: tuple[MessageLog, dict[str, Any]]) -> Calibration:
    return calibrate(shop[0], ZONE, timezone="Asia/Shanghai", name="shop")


def _burst_log(types: tuple[str, ...] | None = None) -> MessageLog:
    """One buyer message per conversation: 3,000 over the day, 300 more at 20:00-20:15."""
    rng = np.random.default_rng(7)
    t0 = dt.datetime(2026, 11, 10, tzinfo=ZONE).timestamp()
    flat = rng.uniform(0.0, 86400.0, 3000)
    burst = rng.uniform(72000.0, 72900.0, 300)  # 20 conversations a minute against 2
    t = t0 + np.concatenate((flat, burst))
    conv_types = None if types is None else tuple(types[i % len(types)] for i in range(t.size))
    return MessageLog.from_arrays(
        np.arange(t.size), np.full(t.size, BUYER), t, conversation_types=conv_types
    )


@pytest.fixture(scope="module")
def burst() -> Calibration:
    return calibrate(_burst_log(), ZONE, timezone="Asia/Shanghai", name="burst")


@pytest.fixture(scope="module")
def full_html(full: Calibration) -> str:
    return render_calibration(full, log_name="messages-r0.csv", rows=12_345)


def _section(page: str, heading: str) -> str:
    """The page from ``<h2>heading</h2>`` to the next heading."""
    start = page.index(f"<h2>{heading}</h2>") + len(heading) + 9
    end = page.find("<h2>", start)
    return page[start : end if end >= 0 else len(page)]


def _rows(section: str) -> dict[str, list[str]]:
    """A section's table as {first cell: cells}, unescaped."""
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section, flags=re.S):
        cells = [htmllib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells:
            out[cells[0]] = cells
    return out


def _parse(cell: str) -> float:
    """A number as the report writes it: ``2,907``, ``40.25``, ``19.9%``."""
    text = cell.replace(",", "")
    return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)


def _ax(fig: Figure) -> Any:
    """The figure's axes (as ``Any``: matplotlib's stubs type its patches as bare Patch)."""
    return fig.axes[0]


def _datenum(*times: dt.datetime) -> Any:
    """matplotlib date numbers (``matplotlib.dates`` is unannotated)."""
    dates: Any = mdates
    return dates.date2num(list(times))


def _close(figures: dict[str, Figure]) -> None:
    for fig in figures.values():
        fig.clear()


# --- figures -------------------------------------------------------------------------------


def test_every_figure_is_drawn_when_its_data_is_there(full: Calibration) -> None:
    figs = calibration_figures(full)
    try:
        assert list(figs) == ALL_FIGURES
        for key, fig in figs.items():
            ax = _ax(fig)
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), key
            assert tuple(fig.get_size_inches()) == pytest.approx((10.0, 3.6))
        prof = full.profile
        assert prof is not None
        # Arrivals: the raw counts as steps over the day's 96 intervals, the smoothed line.
        ax = _ax(figs["arrivals"])
        assert ax.get_ylabel() == "conversations per 15 min"
        steps = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
        assert np.array_equal(steps[0].get_data().values, prof.count)
        assert np.allclose(ax.lines[0].get_ydata(), prof.expected)
        # Messages: one bar per value, as high as its share.
        bars = _ax(figs["messages"]).patches
        assert full.messages is not None
        assert [b.get_height() for b in bars] == pytest.approx(list(full.messages[1]))
        # Think time: the bars are a density over every gap (their area is the share shown,
        # 99% up to the 99th percentile) under the Gamma written.
        ax = _ax(figs["think_time"])
        hist = next(p for p in ax.patches if type(p).__name__ == "StepPatch").get_data()
        assert float(np.sum(hist.values * np.diff(hist.edges))) == pytest.approx(0.99, abs=0.002)
        spec = full.scenario["inquiry_types"][0]["think_time"]
        assert spec["dist"] == "gamma" and "Gamma written" in ax.lines[0].get_label()
        # Compose: the written line is the 1-chat estimate times the pool's multiplier.
        ax = _ax(figs["compose"])
        mult = full.scenario["pools"][0]["compose_multiplier_by_concurrency"]
        assert full.compose is not None and full.compose.mean[0] is not None
        base = full.compose.mean[0].value
        written = next(line for line in ax.lines if "written" in str(line.get_label()))
        assert np.allclose(written.get_ydata(), base * np.asarray(mult))
        assert base == pytest.approx(
            parse_duration_s(full.scenario["inquiry_types"][0]["compose_time"]["mean"])
        )
        # Patience: Kaplan-Meier from (0, 1), the exponential exp(-t / mean), the naive mean.
        ax = _ax(figs["patience"])
        pat = full.patience
        assert pat is not None and pat.exponential_mean is not None
        km, expo, naive = ax.lines[0], ax.lines[1], ax.lines[2]
        assert (km.get_xdata()[0], km.get_ydata()[0]) == (0.0, 1.0)
        t = np.asarray(expo.get_xdata())
        assert np.allclose(expo.get_ydata(), np.exp(-t / pat.exponential_mean.value))
        assert "mean of departures (biased)" in str(naive.get_label())
        assert naive.get_xdata()[0] == pytest.approx(pat.naive_mean_s)
        assert naive.get_linestyle() == "--"
        # Agents online: the shifts written, per interval; its peak is the sub-accounts.
        on = agents_on_shift(full)
        assert on.size == 96 and on.max() == full.scenario["subaccounts"]["count"] == 2
        ax = _ax(figs["agents_online"])
        drawn = next(p for p in ax.patches if type(p).__name__ == "StepPatch").get_data()
        assert np.array_equal(drawn.values, on)
    finally:
        _close(figs)


def test_without_a_conversation_table_there_is_no_patience_figure(no_table: Calibration) -> None:
    assert no_table.patience is None
    figs = calibration_figures(no_table)
    assert list(figs) == [k for k in ALL_FIGURES if k != "patience"]
    _close(figs)


def test_agents_on_shift_counts_each_shift_in_its_intervals(full: Calibration) -> None:
    day = dt.date(2026, 11, 10)
    cal = Calibration(scenario={}, forecast_csv="", profile=full.profile)
    cal.shifts = [
        {"start": "08:00", "length": "3600s", "agents": 2, "days": [day]},
        {"start": "08:30", "length": "1800s", "agents": 1, "days": [day]},
        {"start": "23:45", "length": "3600s", "agents": 5, "days": [day]},  # runs off the end
    ]
    on = agents_on_shift(cal)
    expected = np.zeros(96)
    expected[32:36] += 2
    expected[34:36] += 1
    expected[95] += 5
    assert np.array_equal(on, expected)


def test_a_surge_is_shaded_and_labelled(burst: Calibration) -> None:
    assert [s.label for s in burst.surges] == ["20:00 wave"]
    s = burst.surges[0]
    assert abs((s.start - dt.datetime(2026, 11, 10, 20, 0, tzinfo=ZONE)).total_seconds()) <= 180
    figs = calibration_figures(burst)
    try:
        # Arrivals alone: no replies (think, compose, shifts), no table (patience).
        assert list(figs) == ["arrivals", "messages"]
        ax = _ax(figs["arrivals"])
        texts = [t.get_text() for t in ax.texts]
        assert any("20:00 wave" in t for t in texts)
        spans = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
        assert len(spans) == 1
        a, b = _datenum(s.start.replace(tzinfo=None), s.end.replace(tzinfo=None))
        box = spans[0].get_bbox()
        assert (box.x0, box.x1) == pytest.approx((a, b))
    finally:
        _close(figs)


def test_busy_days_are_named_along_the_top() -> None:
    rng = np.random.default_rng(3)
    t0 = dt.datetime(2026, 11, 9, tzinfo=ZONE).timestamp()
    # Three days of 600 with 3,000 more on the middle one.
    t = t0 + np.concatenate(
        (rng.uniform(0.0, 3 * 86400.0, 1800), rng.uniform(86400.0, 2 * 86400.0, 3000))
    )
    log = MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t)
    cal = calibrate(log, ZONE, timezone="Asia/Shanghai")
    assert [d.label for d in cal.days] == ["normal", "peak day", "normal"]
    fig = calibration_figures(cal)["arrivals"]
    ax = _ax(fig)
    top = [t for t in ax.texts if t.get_position()[1] > 1.0]
    assert [t.get_text().split(" ")[:2] for t in top] == [["peak", "day"]]
    noon = _datenum(dt.datetime(2026, 11, 10, 12))[0]
    assert top[0].get_position()[0] == pytest.approx(noon)
    fig.clear()


def test_figures_draw_chinese_and_thai_names_with_no_missing_glyph() -> None:
    name = "天猫旗舰店 ร้านค้า $5"
    cal = calibrate(_burst_log(), ZONE, timezone="Asia/Shanghai", name=name)
    with warnings.catch_warnings():
        # matplotlib warns "Glyph ... missing from font(s)" (a UserWarning) for a box.
        warnings.simplefilter("error")
        figs = calibration_figures(cal)
        page = render_calibration(cal, log_name="店铺导出.csv", rows=3300, figures=figs)
    titles = [_ax(f).get_title() for f in figs.values()]
    assert all(r"天猫旗舰店 ร้านค้า \$5" in t for t in titles), titles  # $ is not mathematics
    assert page.count(PNG) == 2 and "店铺导出.csv" in page
    _close(figs)


# --- the page --------------------------------------------------------------------------------


def _check_quantity_rows(cal: Calibration, page: str) -> dict[str, list[str]]:
    """Every quantity has a row with its estimate, interval, n, unit and method."""
    rows = _rows(_section(page, "Fitted quantities"))
    assert set(rows) == set(cal.quantities)
    for name, q in cal.quantities.items():
        cells = rows[name]
        assert len(cells) == 7, cells
        shown, band, n, unit, method = cells[1:6]
        value = float(q["value"])
        if isinstance(q["value"], int):
            assert _parse(shown) == value, (name, shown)
        else:
            # Four significant digits; a share to 0.1 percentage point.
            tol = 5e-4 if unit == "share" else 5e-4 * abs(value)
            assert abs(_parse(shown) - value) <= tol, (name, shown, value)
        assert unit == q["unit"] and method == q["method"] and _parse(n) == q["n"]
        if "low" in q:
            low, high = (_parse(x) for x in band.strip("[]").split(", "))
            assert low <= _parse(shown) <= high, (name, band)
        else:
            assert band == ""
    return rows


def test_every_quantity_is_listed_with_its_estimate(full: Calibration, full_html: str) -> None:
    expected = {
        "arrivals",
        "surges",
        "days",
        "agents_seen",
        "messages_per_conversation",
        "think_time",
        "bot_share",
        "patience_mean",
        "compose_time_at_1_chats",
    }
    assert expected <= set(full.quantities)
    rows = _check_quantity_rows(full, full_html)
    assert rows["arrivals"][1] == f"{full.quantities['arrivals']['value']:,d}"
    assert "cv 1.0" in rows["think_time"][6]
    assert "naive mean of departures" in rows["patience_mean"][6]
    meta = full_html[full_html.index("<p class=meta>") :]
    assert "12,345 rows" in meta and f"{rows['arrivals'][1]} conversations" in meta
    assert "1 day (2026-11-10 to 2026-11-10" in meta


def _two_types() -> dict[str, Any]:
    """Pre-sale (60%, think 30 s) and after-sale (40%, think 60 s) on one pool."""
    d = _shop()
    q = d["inquiry_types"][0]
    pre = q | {
        "name": "presale",
        "share": 0.6,
        "think_time": {"dist": "exponential", "mean": "30s"},
    }
    aft = q | {"name": "aftersale", "share": 0.4}
    aft["think_time"] = {"dist": "exponential", "mean": "60s"}
    d["inquiry_types"] = [pre, aft]
    d["pools"][0]["skills"] = {"presale": 1.0, "aftersale": 1.0}
    d["pools"][0]["shifts"][0]["agents"] = 3
    return d


def test_several_types_are_listed_and_their_think_times_mixed() -> None:
    ev = simulate(loaded(_two_types()), seed=9, replications=1, keep_logs=True)
    assert ev.replications[0].log is not None
    cal = calibrate(to_message_log(ev.replications[0].log), ZONE, timezone="Asia/Shanghai")
    figs = calibration_figures(cal)
    page = render_calibration(cal, log_name="typed.csv", rows=1, figures=figs)
    rows = _check_quantity_rows(cal, page)
    assert {"presale.share", "aftersale.share", "presale.think_time", "compose_model"} <= set(rows)
    assert _parse(rows["presale.share"][1]) == pytest.approx(0.6, abs=0.05)
    # The pooled gaps against the types' Gammas mixed by each type's gaps: one line
    # per type, scaled by its weight, and their sum, which holds the histogram's area.
    ax = _ax(figs["think_time"])
    mixed, *parts = ax.lines
    assert len(parts) == 2 and "mixed" in mixed.get_label()
    assert np.allclose(mixed.get_ydata(), parts[0].get_ydata() + parts[1].get_ydata())
    n = {k: cal.quantities[f"{k}.think_time"]["n"] for k in ("presale", "aftersale")}
    share = n["presale"] / sum(n.values())
    assert f"presale ({share:.0%} of gaps)" in "".join(str(p.get_label()) for p in parts)
    t = np.asarray(mixed.get_xdata())
    hist = next(p for p in ax.patches if type(p).__name__ == "StepPatch").get_data()
    area_hist = float(np.sum(hist.values * np.diff(hist.edges)))
    assert np.trapezoid(mixed.get_ydata(), t) == pytest.approx(area_hist, abs=0.02)
    _close(figs)


def test_surges_days_and_defaults_are_tabled(burst: Calibration) -> None:
    page = render_calibration(burst, log_name="burst.csv", rows=3300)
    s = burst.surges[0]
    surges = _rows(_section(page, "Surges"))
    assert surges["20:00 wave"] == [
        "20:00 wave",
        f"{s.start:%m-%d %H:%M}",
        f"{s.peak:%H:%M}",
        f"{s.end:%H:%M}",
        f"{s.rate_before:.3g}",
        f"{s.peak_rate:.3g}",
        f"{s.ratio:.1f}",
        f"{s.conversations:,d}",
        f"{s.p_value:.1e}",
    ]
    assert s.ratio > 5.0 and s.conversations >= 300
    days = _rows(_section(page, "Days"))
    assert days == {"2026-11-10 (Tue)": ["2026-11-10 (Tue)", "3,300", "1.00", "normal"]}
    defaults = _rows(_section(page, "Left at a default"))
    # Arrivals alone: think, compose and patience at defaults, each with its reason.
    assert {"think_time", "compose_time", "patience", "hourly_cost"} <= set(defaults)
    assert defaults == {k: [k, v] for k, v in burst.defaults.items()}
    assert page.count(PNG) == 2


def test_one_png_per_figure_and_the_methods(full: Calibration, full_html: str) -> None:
    assert full_html.count(PNG) == len(ALL_FIGURES)
    for key in ALL_FIGURES:
        figure = full_html[full_html.index(f'<figure id="fig-{key}">') :]
        caption = figure[: figure.index("</figure>")]
        assert report.CAPTIONS[key][0] in htmllib.unescape(caption)
    how = htmllib.unescape(_section(full_html, "How each value is fitted"))
    for fact in ("censored", "Poisson thinning", "Bonferroni", "Kaplan-Meier", "Wilson"):
        assert fact in how
    assert "<script" not in full_html.lower()


def test_the_scenario_toml_is_in_the_page(full: Calibration, full_html: str) -> None:
    pre = re.search(r"<pre>(.*?)</pre>", full_html, flags=re.S)
    assert pre is not None
    text = htmllib.unescape(pre.group(1))
    assert text == tomlkit.dumps(full.scenario)
    assert tomlkit.parse(text)["scenario"]["name"] == "shop <b>"
    assert "shop <b>" not in full_html and "shop &lt;b&gt;" in full_html


def test_html_special_characters_in_the_log_name_are_escaped(burst: Calibration) -> None:
    name = """<script>alert("x")</script> & 'shop'.csv"""
    page = render_calibration(burst, log_name=name, rows=3)
    assert name not in page and "<script>" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;shop&#x27;.csv"
    assert page.count(escaped) == 3  # the title, the heading and the log line


def test_the_report_is_written_atomically(
    burst: Calibration, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calibration.html"
    path.write_text("the old report", encoding="utf-8")
    assert write_calibration_report(burst, path, log_name="burst.csv", rows=3300) == path
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.html"]  # no temp file left
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert page.count(PNG) == 2

    def broken(cal: Calibration) -> dict[str, Figure]:
        raise RuntimeError("no figures")

    # A failure before the end leaves the report there untouched, and nothing beside it.
    monkeypatch.setattr(report, "calibration_figures", broken)
    with pytest.raises(RuntimeError, match="no figures"):
        write_calibration_report(burst, path, log_name="burst.csv", rows=3300)
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.html"]
    # Into a folder not made yet, too.
    deeper = tmp_path / "new" / "calibration.html"
    monkeypatch.undo()
    write_calibration_report(burst, deeper, log_name="burst.csv", rows=3300)
    assert [p.name for p in deeper.parent.iterdir()] == ["calibration.html"]
    assert deeper.read_text(encoding="utf-8") == page
