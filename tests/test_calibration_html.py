"""``calibration.html``: every fitted quantity, the surges, the defaults and a figure per curve.

Two logs: arrivals alone with a 10x burst at 20:00 (a surge, and nothing else to
fit: the figures that need replies or a conversation table are left out, and
their defaults are said), and a simulated shop's full export with its
conversation table through the CLI (every figure, every quantity).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np
import tomlkit
from click.testing import CliRunner

from peakdesk.calibrate.html import calibration_figures, render_calibration
from peakdesk.calibrate.scenario import calibrate
from peakdesk.cli import main
from peakdesk.rules.messages import BUYER, MessageLog
from peakdesk.units import zone_info

ZONE = zone_info("Asia/Shanghai")


def _burst_log() -> MessageLog:
    rng = np.random.default_rng(7)
    t0 = dt.datetime(2026, 11, 10, tzinfo=ZONE).timestamp()
    flat = np.sort(rng.uniform(0.0, 86400.0, 3000))
    burst = rng.uniform(72000.0, 72900.0, 300)  # 20:00-20:15, 10x the day's rate
    t = t0 + np.concatenate((flat, burst))
    return MessageLog.from_arrays(np.arange(t.size), np.full(t.size, BUYER), t)


def test_a_log_of_arrivals_alone() -> None:
    cal = calibrate(_burst_log(), ZONE, timezone="Asia/Shanghai", name="burst")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would be a UserWarning
        figs = calibration_figures(cal)
    assert set(figs) == {"arrivals", "messages"}
    html = render_calibration(cal, log_name="a<b>&c.csv", rows=3300)
    assert "a&lt;b&gt;&amp;c.csv" in html and "a<b>&c.csv" not in html
    assert html.count("data:image/png;base64,") == 2
    surges = html[html.index("<h2>Surges</h2>") : html.index("<h2>Days</h2>")]
    assert "20:00 wave" in surges and "11-10 20:00" in surges
    assert [s.label for s in cal.surges] == ["20:00 wave"]
    for why in cal.defaults.values():
        assert why.split(":")[0] in html
    assert "3,300" in html


def _simulated(tmp: Path) -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_calibrate_cli import _scenario

    (tmp / "s.toml").write_text(tomlkit.dumps(_scenario()), encoding="utf-8")
    res = CliRunner().invoke(
        main, ["simulate", str(tmp / "s.toml"), "-r", "1", "--out", str(tmp / "run"), "--all-logs"]
    )
    assert res.exit_code == 0, res.output
    return tmp / "run"


def test_a_full_export_through_the_cli(tmp_path: Path) -> None:
    run = _simulated(tmp_path)
    out = tmp_path / "fit"
    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(run / "messages-r0.csv"),
            "--conversations",
            str(run / "conversations-r0.csv"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    html = (out / "calibration.html").read_text(encoding="utf-8")
    # Every figure: arrivals, messages, think time, writing time, patience, agents.
    assert html.count("data:image/png;base64,") == 6
    for name in ("fig-arrivals", "fig-think_time", "fig-compose", "fig-patience"):
        assert f'id="{name}"' in html
    report = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    table = html[html.index("<h2>Fitted quantities</h2>") : html.index("<h2>Surges</h2>")]
    for name, q in report["quantities"].items():
        if name in {"surges", "days"}:
            continue
        assert f">{name}<" in table, name
        if q.get("unit") == "s":
            assert f"{q['value']:,.4g}" in table, name
    # Written atomically: nothing but the four files.
    assert sorted(p.name for p in out.iterdir()) == [
        "calibration.html",
        "calibration.json",
        "forecast.csv",
        "scenario.toml",
    ]
