"""``peakdesk calibrate`` and ``backtest``: a scenario fitted from a shop's export, and tested."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import click
import numpy as np

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    COLUMNS_OPTION,
    ENGINE_OPTION,
    WORKERS_OPTION,
    fail,
    fmt_metric,
    input_errors,
    load_checked,
    output_errors,
    read_column_map,
    read_log,
)
from peakdesk.scenario import ScenarioError
from peakdesk.units import error_text, parse_duration_s, zone_info


@main.command("calibrate")
@click.argument("log_csv", type=click.Path(dir_okay=False))
@click.option(
    "--conversations",
    "conv_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="Conversation table (arrival_s, first_human_reply_s, abandoned, abandon_s, close_s;"
    " optional bot, conversation_id, type, assign_s), e.g. a run directory's"
    " conversations-r0.csv: buyers who left, for patience; with conversation_id and assign_s"
    " (when an agent took the chat) chats count as held from then.",
)
@click.option(
    "--tz",
    "tz",
    default=None,
    help="The shop's clock (default: the --columns map's timezone, else Asia/Shanghai).",
)
@click.option("--interval", default="15min", show_default=True, help="Forecast interval.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Write scenario.toml, forecast.csv, calibration.json and calibration.html here.",
)
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="Leave bad rows of the log out (counted and reported) instead of stopping.",
)
@COLUMNS_OPTION
@click.option(
    "--sessions",
    "sessions_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="Agent sessions export (agent_id, login, logout; ISO 8601 with offset): the shifts "
    "are read from the log-ins instead of from the replies.",
)
@click.option(
    "--staffing-table",
    is_flag=True,
    help="Write the agents seen online per interval as a staffing table (staffing.csv, each "
    "day as it was) instead of shifts.",
)
@click.option(
    "--raw-forecast",
    is_flag=True,
    help="Write the raw counts per interval as the forecast, not the smoothed curve.",
)
def calibrate_cmd(
    log_csv: str,
    conv_csv: str | None,
    tz: str | None,
    interval: str,
    out_dir: str,
    skip_bad_rows: bool,
    columns_toml: str | None,
    sessions_csv: str | None,
    staffing_table: bool,
    raw_forecast: bool,
) -> None:
    """Fit a scenario from a chat export in the import format `score` reads.

    Writes DIR/scenario.toml (validate, simulate and plan take it), its
    DIR/forecast.csv, DIR/calibration.json with every fitted quantity, its
    estimate, interval and count, and each quantity left at a default with why,
    and DIR/calibration.html: the same with the surges, days and a figure per
    fitted curve against its data.
    """
    import tomlkit

    from peakdesk.calibrate.scenario import calibrate
    from peakdesk.output import atomic_write, write_json
    from peakdesk.rules.csvlog import ChatLogError, read_sessions_csv
    from peakdesk.scenario.load import load_scenario

    try:
        columns = read_column_map(columns_toml)
        if tz is None:
            tz = (columns.timezone if columns else None) or "Asia/Shanghai"
        zone = zone_info(tz)
        step = parse_duration_s(interval)
        imported = read_log(log_csv, skip_bad_rows=skip_bad_rows, columns=columns)
        conversations = _read_conversations(Path(conv_csv)) if conv_csv else None
        sessions = read_sessions_csv(sessions_csv) if sessions_csv else None
        cal = calibrate(
            imported.log,
            zone,
            timezone=tz,
            interval_s=step,
            conversations=conversations,
            name=Path(log_csv).stem,
            smooth=not raw_forecast,
            sessions=sessions,
            staffing_table=staffing_table,
        )
    except (ValueError, ChatLogError, ScenarioError) as exc:
        fail(error_text(exc))
        return
    out = Path(out_dir)
    with output_errors():
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(out / "forecast.csv") as fh:
            fh.write(cal.forecast_csv)
        if cal.staffing_csv:
            with atomic_write(out / "staffing.csv") as fh:
                fh.write(cal.staffing_csv)
        with atomic_write(out / "scenario.toml") as fh:
            fh.write(
                f"# Calibrated by `peakdesk calibrate` from {Path(log_csv).name}; "
                "calibration.json says how each value was fitted.\n" + tomlkit.dumps(cal.scenario)
            )
        write_json(out / "calibration.json", cal.report() | {"log": log_csv, "rows": imported.rows})
        from peakdesk.calibrate.report import write_calibration_report

        write_calibration_report(
            cal, out / "calibration.html", log_name=Path(log_csv).name, rows=imported.rows
        )
    # The file must be a scenario: checked here, as `validate` would (a failure is a
    # calibration bug, reported as bad input rather than a traceback).
    with input_errors():
        load_scenario(out / "scenario.toml")
    click.echo(f"{log_csv}: {imported.rows:,} rows, {imported.log.n_conversations:,} conversations")
    if imported.skipped:
        click.echo(f"skipped {len(imported.skipped)} bad rows", err=True)
    for name, q in cal.quantities.items():
        if name in {"surges", "days"}:
            continue
        value = float(q.get("value") or 0.0)
        low, high = q.get("low"), q.get("high")
        unit = q.get("unit", "")
        shown = fmt_metric(value, "share") if unit == "share" else f"{value:,.4g}"
        band = (
            f" [{low:.4g}, {high:.4g}]"
            if isinstance(low, float) and isinstance(high, float) and math.isfinite(low)
            else ""
        )
        click.echo(f"  {name:28s} {shown:>10s}{band} {unit}  (n = {q.get('n')})")
    for name, why in cal.defaults.items():
        click.echo(f"  {name:28s} default: {why}")
    for text in cal.warnings:
        click.echo(f"warning: {text}", err=True)
    bw = cal.quantities["arrivals"]["bandwidths_min"]
    click.echo(
        "forecast: "
        + (
            "raw counts per interval"
            if raw_forecast
            else "smoothed (bandwidths " + ", ".join(f"{b:g}" for b in bw) + " min; 0 = none)"
        )
    )
    for sg in cal.surges:
        click.echo(
            f"  surge {sg.label:14s} {sg.start:%m-%d %H:%M}-{sg.end:%H:%M}  "
            f"{sg.rate_before:.3g} -> {sg.peak_rate:.3g}/min at {sg.peak:%H:%M}, "
            f"{sg.conversations:,} conversations"
        )
    for d in cal.days:
        if d.label != "normal":
            click.echo(
                f"  {d.label:20s} {d.day}  {d.conversations:,} ({d.ratio:.2f}x a normal day)"
            )
    click.echo(
        f"wrote scenario.toml, forecast.csv, calibration.json and calibration.html to {out_dir}/"
    )


def _read_quantities(path: Path) -> dict[str, Any]:
    """The fitted quantities of a calibration report, or ValueError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a calibration report (JSON): {exc}") from None
    quantities = data.get("quantities") if isinstance(data, dict) else None
    if not isinstance(quantities, dict):
        raise ValueError(f"{path}: no 'quantities' table: not the calibration.json of calibrate")
    return quantities


def _read_conversations(path: Path) -> dict[str, Any]:
    """The columns patience needs from a conversation table, or ValueError naming the line."""
    need = ("arrival_s", "first_human_reply_s", "abandoned", "abandon_s", "close_s")
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    cols: dict[str, list[float]] = {c: [] for c in need}
    bot: list[bool] = []
    ids: list[str] = []
    types: list[str] = []
    assign: list[float] = []
    with fh:
        reader = csv.DictReader(fh)
        typed = "type" in (reader.fieldnames or [])
        # When an agent took the chat (a session export's access time, 接入时间).
        assigned = "assign_s" in (reader.fieldnames or [])
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; needed: {list(need)}")
        for line, row in enumerate(reader, start=2):
            # Bot-resolved conversations never waited for a person (optional column).
            bot.append((row.get("bot") or "0").strip() in {"1", "true", "True"})
            ids.append((row.get("conversation_id") or "").strip())
            types.append((row.get("type") or "").strip())
            if assigned:
                text = (row.get("assign_s") or "").strip()
                try:
                    assign.append(float(text) if text else math.nan)
                except ValueError:
                    raise ValueError(
                        f"{path}: line {line}: assign_s must be seconds, got {text!r}"
                    ) from None
            for c in need:
                text = (row.get(c) or "").strip()
                if c == "abandoned":
                    if text not in {"0", "1", "true", "false", "True", "False"}:
                        raise ValueError(
                            f"{path}: line {line}: abandoned must be 0/1, got {text!r}"
                        )
                    cols[c].append(1.0 if text in {"1", "true", "True"} else 0.0)
                    continue
                try:
                    cols[c].append(float(text) if text else math.nan)
                except ValueError:
                    raise ValueError(
                        f"{path}: line {line}: {c} must be seconds, got {text!r}"
                    ) from None
    arr = {c: np.asarray(v, dtype=np.float64) for c, v in cols.items()}
    # A buyer who left needs the time: the patience fit has nothing to censor it at.
    blank = np.flatnonzero((arr["abandoned"] > 0) & ~np.isfinite(arr["abandon_s"]))
    if blank.size:
        raise ValueError(
            f"{path}: line {int(blank[0]) + 2}: abandoned = 1 needs abandon_s (when the buyer "
            f"left), got none ({blank.size} such row(s))"
        )
    close = arr["close_s"][np.isfinite(arr["close_s"])]
    return {
        "arrival_s": arr["arrival_s"],
        "first_human_reply_s": arr["first_human_reply_s"],
        "abandoned": arr["abandoned"] > 0,
        "abandon_s": arr["abandon_s"],
        "needs_agent": ~np.asarray(bot, dtype=np.bool_),
        "conversation_id": ids if any(ids) else None,
        "type": types if typed else None,
        "assign_s": np.asarray(assign, dtype=np.float64) if assigned else None,
        "close_s": arr["close_s"],
        "end_s": float(close.max()) if close.size else float(np.nanmax(arr["arrival_s"])),
    }


@main.command("backtest")
@click.argument("log_csv", type=click.Path(dir_okay=False))
@click.option(
    "--scenario",
    "scenario",
    type=click.Path(dir_okay=False),
    required=True,
    help="The scenario to test, e.g. the one `peakdesk calibrate` wrote from this log.",
)
@click.option("--platform", "-p", default="taobao", show_default=True, help="Whose rules score.")
@click.option(
    "--replications", "-r", type=click.IntRange(min=2, max=10_000), default=20, show_default=True
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Base seed.")
@click.option(
    "--conversations",
    "conv_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="The log's conversation table (as for calibrate): abandonment, by day when its"
    " conversation_id matches the log's.",
)
@click.option("--skip-bad-rows", is_flag=True, help="Leave bad rows of the log out (counted).")
@COLUMNS_OPTION
@click.option(
    "--calibration",
    "calibration_json",
    type=click.Path(dir_okay=False),
    default=None,
    help="The calibration.json calibrate wrote with the scenario: each run draws the fitted "
    "values from their intervals, and each figure names the one it moves with.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@WORKERS_OPTION
@ENGINE_OPTION
def backtest_cmd(
    log_csv: str,
    scenario: str,
    platform: str,
    replications: int,
    seed: int | None,
    conv_csv: str | None,
    skip_bad_rows: bool,
    columns_toml: str | None,
    calibration_json: str | None,
    as_json: bool,
    workers: int,
    engine: str | None,
) -> None:
    """Set a log's own figures beside the simulation of a scenario, and say where they differ.

    Each platform figure day by day (as `score` computes it), the median and
    90th percentile of the first human reply, each day's peak backlog, the
    share of intervals whose backlog is inside the runs' range (beside what a
    run of the model scores), and with --conversations the share of buyers who
    left: against the middle 95% of the runs.
    """
    import json

    from peakdesk.calibrate.backtest import backtest
    from peakdesk.output import json_safe
    from peakdesk.rules.csvlog import ChatLogError

    loaded = load_checked(scenario, engine=engine)
    try:
        imported = read_log(
            log_csv, skip_bad_rows=skip_bad_rows, columns=read_column_map(columns_toml)
        )
        conversations = _read_conversations(Path(conv_csv)) if conv_csv else None
        quantities = _read_quantities(Path(calibration_json)) if calibration_json else None
        rows = backtest(
            imported.log,
            loaded,
            platform=platform,
            replications=replications,
            seed=seed,
            workers=workers,
            conversations=conversations,
            calibration=quantities,
        )
    except (KeyError, ValueError, ChatLogError) as exc:
        fail(error_text(exc))
        return
    outside = [r for r in rows if not r.inside]
    if as_json:
        click.echo(
            json.dumps(
                json_safe(
                    {
                        "log": log_csv,
                        "scenario": scenario,
                        "replications": replications,
                        "figures": [
                            {
                                "figure": r.figure,
                                "day": r.day.isoformat() if r.day else None,
                                "log": r.log_value,
                                "sim_low": r.sim_low,
                                "sim_median": r.sim_median,
                                "sim_high": r.sim_high,
                                "runs": r.runs,
                                "inside": r.inside,
                                "moves_with": None
                                if r.moves_with is None
                                else {"quantity": r.moves_with[0], "rho": r.moves_with[1]},
                            }
                            for r in rows
                        ],
                        "outside": len(outside),
                    }
                ),
                indent=2,
            )
        )
        return
    drawn = ", fitted values drawn from their intervals" if calibration_json else ""
    click.echo(
        f"{log_csv} against {scenario} ({replications} runs{drawn}): "
        f"{len(rows) - len(outside)} of {len(rows)} figures inside the runs' middle 95%"
    )
    moves = " moves with (Spearman rho)" if calibration_json else ""
    click.echo(f"  {'figure':28s} {'day':10s} {'log':>10s} {'runs 2.5-97.5%':>24s}{moves}")
    for r in rows:
        flag = "" if r.inside else "  OUTSIDE"
        with_ = f"  {r.moves_with[0]} ({r.moves_with[1]:+.2f})" if r.moves_with else ""
        click.echo(
            f"  {r.figure:28s} {r.day.isoformat() if r.day else 'all':10s} {r.log_value:10.4g}"
            f" [{r.sim_low:10.4g}, {r.sim_high:10.4g}]{flag}{with_}"
        )
