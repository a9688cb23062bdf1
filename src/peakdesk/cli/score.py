"""``peakdesk score``: a chat log exported from a back-office, scored by a platform's rule."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from peakdesk.cli.app import main
from peakdesk.cli.common import (
    COLUMNS_OPTION,
    fail,
    fmt_metric,
    read_column_map,
    read_log,
)
from peakdesk.output import json_safe
from peakdesk.rules.history import HistoryError
from peakdesk.units import error_text, zone_info


@main.command("score")
@click.argument("log_csv", type=click.Path(dir_okay=False))
@click.option(
    "--platform",
    "-p",
    required=True,
    help="taobao (tmall), lazada, shopee, jd, douyin, tiktok, amazon or generic.",
)
@click.option(
    "--preset",
    default="default",
    show_default=True,
    help="Market variant of the rule (e.g. shopee TH, tiktok US).",
)
@click.option(
    "--tz",
    "tz",
    default=None,
    help="Market timezone for the calendar rules "
    "(default: the rule's, e.g. Asia/Shanghai for Taobao).",
)
@click.option(
    "--history",
    "history_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of earlier days: date,metric,count,value.",
)
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="Leave bad rows out (counted and reported) instead of stopping.",
)
@click.option(
    "--metric",
    type=click.Choice(["chat", "dsr"]),
    default="chat",
    show_default=True,
    help="chat: LOG_CSV is a chat log, scored with the platform's chat rules; dsr: it is "
    "a ratings export (buyer_id, timestamp, description, service, logistics[, order_id]"
    "[, default]), scored with Taobao/Tmall's DSR.",
)
@COLUMNS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def score_cmd(
    log_csv: str,
    platform: str,
    preset: str,
    tz: str | None,
    history_csv: str | None,
    skip_bad_rows: bool,
    metric: str,
    columns_toml: str | None,
    as_json: bool,
) -> None:
    """Score a chat log exported from a seller back-office with a platform's own rule.

    LOG_CSV has the columns conversation_id, sender (buyer/agent/bot),
    timestamp (ISO 8601 with offset) and optionally agent_id, ordered,
    leave_message, inquiry_type (read by calibrate; the rules ignore it).
    An export in its own format is read through --columns.
    """
    from peakdesk.experiment.checks import history_metric_problem
    from peakdesk.rules import registry
    from peakdesk.rules.csvlog import ChatLogError
    from peakdesk.rules.history import read_history_csv

    if metric == "dsr":
        _score_dsr(log_csv, platform, tz, history_csv, skip_bad_rows, as_json)
        return
    try:
        name = registry.canonical(platform)
        options: dict[str, Any] = {}
        if tz is not None:
            try:
                zone_info(tz)
            except ValueError as exc:
                raise ValueError(f"--tz: {exc}") from None
            options["timezone"] = tz
        rule = registry.make_rule(name, preset, **options)
        history = (
            read_history_csv(history_csv, metric_problem=history_metric_problem(name))
            if history_csv
            else None
        )
        imported = read_log(
            log_csv, skip_bad_rows=skip_bad_rows, columns=read_column_map(columns_toml)
        )
    except (KeyError, ValueError, ChatLogError, HistoryError) as exc:
        fail(error_text(exc))
        return
    series = registry.score(imported.log, name, rule, history)
    skipped = imported.skipped_by_reason()
    if as_json:
        data = {
            "file": log_csv,
            "platform": name,
            "preset": preset,
            "rule": asdict(rule),
            "rows": imported.rows,
            "skipped_rows": len(imported.skipped),
            "skipped_by_reason": skipped,
            "metrics": {k: _series_json(v) for k, v in series.items()},
        }
        click.echo(json.dumps(json_safe(data), indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{log_csv}: {imported.rows:,} rows, {imported.log.n_conversations:,} conversations; "
        f"{name} rule ({preset}, {getattr(rule, 'timezone', '')})"
    )
    _print_skipped(len(imported.skipped), skipped)
    _print_series(series)


def _print_skipped(n: int, by_reason: dict[str, int]) -> None:
    if n:
        click.echo(f"skipped {n} bad rows:", err=True)
        for reason, count in by_reason.items():
            click.echo(f"  {count:6d}  {reason}", err=True)


def _print_series(series: dict[str, Any]) -> None:
    for key, ser in series.items():
        click.echo("")
        thr = (
            ""
            if ser.threshold is None
            else (
                f"  target {'>=' if ser.higher_is_better else '<='} "
                f"{fmt_metric(ser.threshold, ser.unit)}"
            )
        )
        verdict = "" if ser.threshold is None else ("  PASS" if ser.meets(ser.final) else "  FAIL")
        click.echo(
            f"{key}: {ser.label}; {ser.n_units:,} units; over the log "
            f"{fmt_metric(ser.overall, ser.unit)}; {ser.window_days}-day window at the end "
            f"{fmt_metric(ser.final, ser.unit)}{thr}{verdict}"
        )
        first = ser.first_failing_day()
        if first is not None:
            click.echo(f"  first day below target: {first.isoformat()}")
        click.echo(f"  {'day':10s} {'units':>8s} {'day value':>10s} {'window':>10s}")
        for d, c, v, r in zip(ser.dates, ser.count, ser.daily, ser.rolling, strict=True):
            click.echo(
                f"  {d.isoformat():10s} {c:8.0f} {fmt_metric(float(v), ser.unit):>10s} "
                f"{fmt_metric(float(r), ser.unit):>10s}"
            )


def _series_json(ser: Any) -> dict[str, Any]:
    return {
        "label": ser.label,
        "unit": ser.unit,
        "higher_is_better": ser.higher_is_better,
        "threshold": ser.threshold,
        "window_days": ser.window_days,
        "units": ser.n_units,
        "overall": ser.overall,
        "final_window_value": ser.final,
        "passes_at_end": ser.meets(ser.final),
        "first_failing_day": (d.isoformat() if (d := ser.first_failing_day()) else None),
        "days": [
            {
                "date": d.isoformat(),
                "units": float(c),
                "value": float(v),
                "window": float(r),
                "history": bool(h),
            }
            for d, c, v, r, h in zip(
                ser.dates,
                ser.count,
                ser.daily,
                ser.rolling,
                ser.from_history if ser.from_history.size else [False] * len(ser.dates),
                strict=True,
            )
        ],
    }


def _score_dsr(
    path: str,
    platform: str,
    tz: str | None,
    history_csv: str | None,
    skip_bad_rows: bool,
    as_json: bool,
) -> None:
    """``score --metric dsr``: a ratings export scored with Taobao/Tmall's DSR."""
    from peakdesk.rules import registry
    from peakdesk.rules.dsr import DIMENSIONS, DsrRule, RatingsError, read_ratings_csv, score_dsr
    from peakdesk.rules.history import read_history_csv

    names = {f"taobao.dsr_{d}" for d in DIMENSIONS}

    def metric_problem(name: str) -> str | None:
        if name in names:
            return None
        return f"metric {name!r} is not a DSR dimension; allowed: {', '.join(sorted(names))}"

    try:
        if registry.canonical(platform) != "taobao":
            raise ValueError(
                f"--metric dsr is Taobao/Tmall's store rating; --platform is {platform!r} "
                "(use --platform taobao)"
            )
        rule = DsrRule()
        if tz is not None:
            try:
                zone_info(tz)
            except ValueError as exc:
                raise ValueError(f"--tz: {exc}") from None
            rule = DsrRule(timezone=tz)
        history = (
            read_history_csv(history_csv, metric_problem=metric_problem) if history_csv else None
        )
        imported = read_ratings_csv(path, skip_bad_rows=skip_bad_rows)
    except (KeyError, ValueError, RatingsError, HistoryError) as exc:
        fail(error_text(exc))
        return
    series = score_dsr(imported.ratings, rule, history)
    skipped = imported.skipped_by_reason()
    if as_json:
        data = {
            "file": path,
            "platform": "taobao",
            "metric": "dsr",
            "rule": asdict(rule),
            "rows": imported.rows,
            "counted": int(next(iter(series.values())).n_units) if series else 0,
            "skipped_rows": len(imported.skipped),
            "skipped_by_reason": skipped,
            "metrics": {k: _series_json(v) for k, v in series.items()},
        }
        click.echo(json.dumps(json_safe(data), indent=2, ensure_ascii=False))
        return
    counted = next(iter(series.values())).n_units if series else 0
    click.echo(
        f"{path}: {imported.rows:,} ratings, {counted:,} counted (at most "
        f"{rule.per_buyer_month} per buyer per natural month, default ratings "
        f"{'counted' if rule.count_default else 'left out'}); taobao DSR ({rule.timezone}, "
        f"{rule.window_days}-day window)"
    )
    _print_skipped(len(imported.skipped), skipped)
    _print_series(series)
