"""``peakdesk replan`` (its first part): the day so far from the live export.

The day factor's update is the Gamma-Poisson conjugate one (checked by hand), and
on simulated days at 1.3 times the forecast it moves from the prior's 1 to the
arrivals' ratio as the day goes on; bad input exits 2 naming what is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from conftest import ROOT
from peakdesk.cli import main
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.output import message_log_rows, write_csv
from peakdesk.replan.day_factor import posterior
from peakdesk.replan.day_so_far import day_so_far
from peakdesk.scenario.load import LoadedScenario, load_scenario

SHOP = ROOT / "scenarios" / "small-shop.toml"


def test_the_day_factor_is_the_conjugate_update_worked_by_hand() -> None:
    # Prior CV 0.2: Gamma(shape 25, rate 25). 130 arrivals where 100 were expected:
    # Gamma(155, 125), mean 1.24; the rest of the day (50 expected) is negative
    # binomial with n = 155, p = 125 / 175, mean 50 x 1.24 = 62.
    f = posterior(130, 100.0, 0.2, 50.0, level=0.9)
    assert f.mean == pytest.approx(155 / 125)
    assert f.low == pytest.approx(stats.gamma.ppf(0.05, 155, scale=1 / 125))
    assert f.high == pytest.approx(stats.gamma.ppf(0.95, 155, scale=1 / 125))
    assert f.rest_mean == pytest.approx(62.0)
    nb = stats.nbinom(155, 125 / 175)
    assert nb.mean() == pytest.approx(62.0)
    assert (f.rest_low, f.rest_high) == (nb.ppf(0.05), nb.ppf(0.95))
    assert f.ratio == 1.3
    # Early in the day the prior dominates; with many arrivals, the data.
    assert posterior(3, 2.0, 0.1, 1000.0).mean == pytest.approx(103 / 102)
    assert posterior(13000, 10000.0, 0.1, 10.0).mean == pytest.approx(13100 / 10100)
    # No stated uncertainty (daily_cv 0, as a plan made on a quantile carries): the factor
    # from the arrivals alone, under Jeffreys' prior: Gamma(130.5, 100).
    flat = posterior(130, 100.0, 0.0, 50.0)
    assert flat.mean == pytest.approx(1.305) and flat.rest_mean == pytest.approx(65.25)
    assert flat.low == pytest.approx(stats.gamma.ppf(0.05, 130.5, scale=1 / 100))


def _hot_days(runs: int) -> tuple[LoadedScenario, list[object]]:
    """The small shop's forecast, and days whose buyers came at 1.3 times it."""
    loaded = load_scenario(SHOP)
    spec = loaded.spec
    demand = spec.demand.model_copy(update={"multiplier": 1.3, "daily_cv": 0.0})
    hot = loaded.with_spec(spec.model_copy(update={"demand": demand}))
    ev = simulate(hot, replications=runs, keep_logs=True, seed=3)
    return loaded, [r.log for r in ev.replications]


def test_a_day_at_1_3_times_its_forecast_moves_the_factor_from_1_to_1_3() -> None:
    loaded, logs = _hot_days(12)
    zone = loaded.spec.calendar.zone
    hours = (1, 8, 20, 23)
    means = np.zeros((len(logs), len(hours)))
    ratios = []
    for i, log in enumerate(logs):
        messages = to_message_log(log)  # type: ignore[arg-type]
        for j, h in enumerate(hours):
            day = day_so_far(loaded, messages, dt.datetime(2026, 11, 11, h, tzinfo=zone))
            means[i, j] = day.total.mean
            assert day.total.low <= day.total.mean <= day.total.high
        ratios.append(day.total.ratio)
    # The arrivals' ratio at 23:00 is 1.3 within its noise (3 standard errors of 12 days).
    r = np.asarray(ratios)
    assert abs(r.mean() - 1.3) <= 3 * r.std(ddof=1) / np.sqrt(r.size)
    # The posterior mean goes from near the prior (1) towards it as the day goes on:
    # the prior (shape 100 at daily_cv 0.1) weighs less against more arrivals.
    avg = means.mean(axis=0)
    assert 1.0 < avg[0] < avg[-1] and avg[-1] > 1.2
    assert np.all(np.diff(avg) > -0.01)
    assert (avg[-1] - 1.0) / (r.mean() - 1.0) > 0.85  # at 23:00 the data decide


def test_the_cli_reads_the_export_and_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    loaded, logs = _hot_days(1)
    path = tmp_path / "export.csv"
    write_csv(path, message_log_rows(logs[0]))  # type: ignore[arg-type]
    runner = CliRunner()
    res = runner.invoke(
        main, ["replan", str(SHOP), "--log", str(path), "--at", "2026-11-11T20:30", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["at"].startswith("2026-11-11T20:30:00+08:00")
    assert set(doc["by_type"]) == {t.name for t in loaded.spec.inquiry_types}
    assert doc["all"]["arrived"] == sum(v["arrived"] for v in doc["by_type"].values())
    assert doc["all"]["day_factor"]["low"] <= doc["all"]["day_factor"]["mean"]
    res = runner.invoke(main, ["replan", str(SHOP), "--log", str(path), "--at", "2026-11-11T20:30"])
    assert res.exit_code == 0 and "the day so far" in res.output and "not yet:" in res.output
    # A live export ends before --at: read as it is (an old one is said to be old).
    rows = path.read_text(encoding="utf-8").splitlines()
    live = tmp_path / "live.csv"
    live.write_text(
        "\n".join([rows[0], *(r for r in rows[1:] if r.split(",")[2] < "2026-11-11T20:30")]) + "\n",
        encoding="utf-8",
    )
    res = runner.invoke(main, ["replan", str(SHOP), "--log", str(live), "--at", "2026-11-11T20:30"])
    assert res.exit_code == 0 and "an old export?" not in res.output, res.output
    res = runner.invoke(main, ["replan", str(SHOP), "--log", str(live), "--at", "2026-11-12T09:00"])
    assert res.exit_code == 0 and "an old export?" in res.output, res.output
    old = tmp_path / "old.csv"
    old.write_text(path.read_text(encoding="utf-8").replace("2026-11-", "2025-11-"), "utf-8")
    res = runner.invoke(main, ["replan", str(SHOP), "--log", str(old), "--at", "2026-11-11T20:30"])
    assert res.exit_code == 2 and "is it this event's export?" in res.output, res.output
    for at, expect in (
        ("2026-11-20T10:00", "outside the scenario's horizon"),
        ("11.11 evening", "give a time as 2026-11-11T20:30"),
    ):
        res = runner.invoke(main, ["replan", str(SHOP), "--log", str(path), "--at", at])
        assert res.exit_code == 2 and expect in res.output, res.output
        assert "Traceback" not in res.output
    text = path.read_text(encoding="utf-8").replace("pre_sale", "presale")
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    res = runner.invoke(main, ["replan", str(SHOP), "--log", str(bad), "--at", "2026-11-11T20:30"])
    assert res.exit_code == 2 and "inquiry types ['presale'] are not the scenario's" in res.output


def test_targets_so_far_are_the_rule_on_the_log_cut_at_the_time() -> None:
    # The rule on the export cut at 20:30 gives the same value as the rule on the same
    # cut made by hand; a generic target (which needs when buyers left) is listed as not
    # scored, never silently dropped.
    from peakdesk.rules import registry
    from peakdesk.scenario.schema import Targets

    loaded, logs = _hot_days(1)
    spec = loaded.spec
    targets = Targets(require=["taobao.response_3min >= 0.8", "service_level(30s) >= 0.5"])
    loaded = loaded.with_spec(spec.model_copy(update={"targets": targets}))
    messages = to_message_log(logs[0])  # type: ignore[arg-type]
    at = dt.datetime(2026, 11, 11, 20, 30, tzinfo=spec.calendar.zone)
    day = day_so_far(loaded, messages, at)
    assert [r.target.text for r in day.targets] == ["taobao.response_3min >= 0.8"]
    assert len(day.skipped) == 1 and "service_level(30s)" in day.skipped[0]
    keep = messages.time_s < at.timestamp()
    cut = type(messages).from_arrays(
        messages.conversation[keep], messages.sender[keep], messages.time_s[keep]
    )
    by_hand = registry.score(cut, "taobao")["taobao.response_3min"]
    assert day.targets[0].final == pytest.approx(by_hand.rolling[~np.isnan(by_hand.rolling)][-1])
    assert 0.0 <= day.targets[0].final <= 1.0


def test_open_chats_read_from_an_export_worked_by_hand() -> None:
    # At 2,000 s: c0 has only an auto greeting (waiting for a first reply since 0 s);
    # c1 was answered by A at 1,500 s and its buyer wrote again at 1,600 s (waiting for
    # A's reply, 400 s); c2 was answered by B at 1,900 s (waiting on its buyer); c3's
    # last reply (B, 100 s) and c4's bot answer (1 s) are over 30 minutes old: closed.
    # A and B replied in the last 15 minutes: online, A holding c1, B nothing.
    from peakdesk.replan.open_chats import open_chats
    from peakdesk.rules.messages import AGENT, AUTO, BOT, BUYER, MessageLog

    rows = [
        (0, BUYER, 0.0, -1), (0, AUTO, 1.0, -1),
        (1, BUYER, 0.0, -1), (1, AGENT, 1500.0, 0), (1, BUYER, 1600.0, -1),
        (2, BUYER, 0.0, -1), (2, AGENT, 1900.0, 1),
        (3, BUYER, 0.0, -1), (3, AGENT, 100.0, 1),
        (4, BUYER, 0.0, -1), (4, BOT, 1.0, -1),
        (1, AGENT, 2500.0, 0),  # after the re-plan: not read
    ]  # fmt: skip
    c, s, t, a = (list(x) for x in zip(*rows, strict=True))
    log = MessageLog.from_arrays(c, s, t, a)
    o = open_chats(log, 2000.0, agent_names=["A", "B"])
    assert o.gone == 0
    # Three hours on, c0's buyer (never answered) is counted apart as likely gone; so is
    # c1's (waiting 3 h 7 min for A's reply, which came after the first re-plan).
    late = open_chats(log, 2000.0 + 3 * 3600.0)
    assert late.gone == 1 and late.first_waiting_s == () and late.reply_waiting_s == ()
    assert o.first_waiting_s == (2000.0,) and o.reply_waiting_s == (400.0,)
    assert o.buyer_waiting == 1 and o.agents == {"A": 1, "B": 0}
    # The scenario's idle auto-close is the silence that closes a chat: 5 minutes keeps c2
    # (100 s silent) open, 1 minute closes it.
    assert open_chats(log, 2000.0, open_s=300.0).buyer_waiting == 1
    assert open_chats(log, 2000.0, open_s=60.0).buyer_waiting == 0


def test_risk_day_starts_are_local_midnights_across_a_clock_change() -> None:
    # New York from 7 March 2026 00:00 EST for 96 hours (to 11 March 01:00 EDT): the
    # clocks go forward on 8 March, so the local midnights fall 24, 47, 71 and 95 hours
    # after the start (wall-clock arithmetic would put the last three an hour late, and
    # drop the fourth).
    from conftest import base_dict, loaded
    from peakdesk.engine.setup import build_config

    d = base_dict()
    d["calendar"].update(
        start=dt.datetime(2026, 3, 7, 0, 0), horizon="4d", timezone="America/New_York"
    )
    d["routing"] = {
        "queue_order": "at_risk",
        "risk_groups": [{"name": "g", "types": ["q"], "reply_deadline": "3min", "bound": 0.8}],
    }
    config = build_config(loaded(d).spec)
    h = 3600.0
    assert config.risk_day_starts_s == ((24 * h, 47 * h, 71 * h, 95 * h),)
    d["routing"]["risk_groups"][0]["timezone"] = "Mars/Olympus"
    with pytest.raises(Exception, match=r"risk_groups\[0\]\.timezone"):
        loaded(d)


def test_a_roster_says_who_is_logged_in(tmp_path: Path) -> None:
    # The simulation's own online spells as an agent sessions export: the agents the
    # roster has logged in at 20:30 are the agents the engine had online then; one agent
    # logged in twice at once is refused.
    from peakdesk.output import iso_times

    loaded, logs = _hot_days(1)
    log = logs[0]
    export = tmp_path / "export.csv"
    write_csv(export, message_log_rows(log))  # type: ignore[arg-type]
    labels = log.agent_labels()  # type: ignore[attr-defined]
    start = log.start  # type: ignore[attr-defined]
    roster = tmp_path / "roster.csv"
    write_csv(
        roster,
        {
            "agent_id": labels[log.online_agent],  # type: ignore[attr-defined]
            "login": iso_times(log.online_start_s, start),  # type: ignore[attr-defined]
            "logout": iso_times(log.online_end_s, start),  # type: ignore[attr-defined]
        },
    )
    at = dt.datetime(2026, 11, 11, 20, 30, tzinfo=loaded.spec.calendar.zone)
    t = (at - start).total_seconds()
    on = (log.online_start_s <= t) & (t < log.online_end_s)  # type: ignore[attr-defined]
    expected = set(labels[log.online_agent[on]].tolist())  # type: ignore[attr-defined]
    assert expected  # (agents are on shift at 20:30 on 11.11)
    runner = CliRunner()
    args = ["replan", str(SHOP), "--log", str(export), "--at", "2026-11-11T20:30", "--json"]
    res = runner.invoke(main, [*args, "--roster", str(roster)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)["open"]
    assert doc["agents_from"] == "roster" and set(doc["agents_online_holding"]) == expected
    text = roster.read_text(encoding="utf-8").splitlines()
    first = text[1].split(",")
    twice = [*text, ",".join([first[0], first[1], first[2]])]
    roster.write_text("\n".join(twice) + "\n", encoding="utf-8")
    res = runner.invoke(main, [*args, "--roster", str(roster)])
    assert res.exit_code == 2 and "while its previous session is still open" in res.output
