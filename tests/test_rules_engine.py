"""The rules on simulated logs: agreement with the engine's summary, targets, `score` CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SCENARIOS, loaded
from peakdesk.cli import main
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.experiment.targets import rule_for
from peakdesk.rules import registry
from peakdesk.rules.csvlog import read_chat_log
from peakdesk.rules.messages import BUYER
from peakdesk.scenario import load_scenario


@pytest.fixture(scope="module")
def shop_eval() -> Any:
    """Small shop with a night shift so nothing is left pending at the end."""
    d = tomllib.loads((SCENARIOS / "small-shop.toml").read_text(encoding="utf-8"))
    d["pools"][0]["shifts"].append({"name": "night", "start": "01:00", "length": "9h", "agents": 1})
    d["subaccounts"]["count"] = 5
    d["targets"] = {"require": ["taobao.response_3min >= 0.80", "service_level(3min) >= 0.80"]}
    sc = loaded(d)
    return sc, simulate(sc, replications=2, seed=4)


def test_generic_rule_agrees_with_the_engine_summary(shop_eval: Any) -> None:
    sc, ev = shop_eval
    for rep in ev.replications:
        log = rep.log
        assert log is not None and rep.summary.unanswered_at_end == 0
        messages = to_message_log(log)
        t0 = log.start.timestamp()
        for name, t in (("within_30s", 30.0), ("within_3min", 180.0), ("within_12h", 43200.0)):
            rule = rule_for(sc, "generic", (("service_level_s", t),))
            sl = registry.score(
                messages,
                "generic",
                rule,
                None,
                abandoned=log.abandoned,
                abandon_s=t0 + log.abandon_s,
            )["generic.service_level"]
            assert sl.overall == pytest.approx(getattr(rep.summary, name), abs=1e-12), name
            assert sl.n_units == rep.summary.human_conversations


def test_targets_are_scored_per_replication_and_summarised(shop_eval: Any) -> None:
    _, ev = shop_eval
    summaries = ev.targets()
    assert [s.target.metric for s in summaries] == ["taobao.response_3min", "generic.service_level"]
    for s in summaries:
        met = [r.targets[summaries.index(s)].met for r in ev.replications]
        assert s.p_met == pytest.approx(np.mean(met))
        assert 0.0 <= s.p_low <= s.p_met <= s.p_high <= 1.0
        # One day per simulated day (the shop runs 3 days; a drain may add one).
        assert len(s.days) >= 3
    # The per-replication result is consistent with the worst rolling value.
    for rep in ev.replications:
        for res in rep.targets:
            assert res.met == (res.worst >= res.target.value)


def test_score_cli_reads_the_simulators_export(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(
        main,
        [
            "simulate",
            str(SCENARIOS / "small-shop.toml"),
            "-r",
            "1",
            "--seed",
            "2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    csv_path = out / "messages-r0.csv"
    res = runner.invoke(main, ["score", str(csv_path), "--platform", "tmall", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["platform"] == "taobao" and data["skipped_rows"] == 0
    ours = data["metrics"]["taobao.response_3min"]
    # The same log scored in-process (times in the CSV are rounded to the millisecond).
    sc = load_scenario(SCENARIOS / "small-shop.toml")
    ev = simulate(sc, replications=1, seed=2)
    assert ev.replications[0].log is not None
    direct = registry.score(to_message_log(ev.replications[0].log), "taobao")
    assert ours["units"] == direct["taobao.response_3min"].n_units
    assert ours["overall"] == pytest.approx(direct["taobao.response_3min"].overall, abs=1e-3)
    # The CSV import sees the same conversations.
    assert read_chat_log(csv_path).log.n_conversations == ev.replications[0].summary.conversations
    # Plain output names the metric and prints a day table.
    res = runner.invoke(main, ["score", str(csv_path), "-p", "shopee", "--preset", "TH"])
    assert res.exit_code == 0 and "shopee.crr" in res.output and "window" in res.output


def test_score_cli_bad_rows_and_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    p = tmp_path / "log.csv"
    p.write_text(
        "conversation_id,sender,timestamp,agent_id\n"
        "a,buyer,2026-11-11T09:00:00+08:00,\n"
        "a,robot,2026-11-11T09:00:10+08:00,\n"
        "a,agent,2026-11-11T09:00:20+08:00,x\n",
        encoding="utf-8",
    )
    res = runner.invoke(main, ["score", str(p), "-p", "taobao"])
    assert res.exit_code == 2
    assert "line 3" in res.stderr and "Traceback" not in res.stderr
    res = runner.invoke(main, ["score", str(p), "-p", "taobao", "--skip-bad-rows", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["skipped_rows"] == 1 and data["rows"] == 3
    for args, words in (
        (["-p", "ebay"], "unknown platform"),
        (["-p", "shopee", "--preset", "XX"], "unknown preset"),
        (["-p", "taobao", "--tz", "Mars/Base"], "unknown IANA timezone"),
    ):
        res = runner.invoke(main, ["score", str(p), *args])
        assert res.exit_code == 2 and words in res.stderr, (args, res.stderr)


def test_scenario_rules_section_is_validated() -> None:
    d = tomllib.loads((SCENARIOS / "small-shop.toml").read_text(encoding="utf-8"))
    d["rules"] = {"taobao": {"respose_s": 120}}
    from peakdesk.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError, match=r"rules\.taobao.*no option 'respose_s'"):
        parse_scenario(d)
    d["rules"] = {}
    d["targets"] = {"require": ["taobao.response_3min > 0.9"]}
    with pytest.raises(ScenarioError, match=r"targets\.require\[0\]"):
        parse_scenario(d)


@pytest.mark.parametrize(
    ("discipline", "shift_end", "until", "withdraw"),
    [
        ("sequential", "drain", "first_reply", False),
        ("sequential", "hand_back", "assignment", True),
        ("parallel", "log_off", "first_reply", True),
        ("parallel", "drain", "assignment", False),
    ],
)
def test_platform_rules_see_every_agent_model_choice(
    discipline: str, shift_end: str, until: str, withdraw: bool
) -> None:
    """Under each agent model the rules get the buyer's messages and the human replies as sent.

    A withdrawn buyer's message is still in the log, unanswered (it counts against
    the platform's rate); a silent abandoner's is answered; the generic service
    level from the rules equals the engine's own.
    """
    d = tomllib.loads((SCENARIOS / "small-shop.toml").read_text(encoding="utf-8"))
    d["pools"][0]["shifts"].append({"name": "night", "start": "01:00", "length": "9h", "agents": 1})
    d["pools"][0].update(discipline=discipline, shift_end=shift_end)
    if shift_end == "log_off":
        d["pools"][0]["shift_end_grace"] = "5min"
    for typ in d["inquiry_types"]:
        typ.update(patience_until=until, answer_after_abandon=not withdraw)
    d["subaccounts"]["count"] = 5
    sc = loaded(d)
    rep = simulate(sc, replications=1, seed=4).replications[0]
    log = rep.log
    assert log is not None
    messages = to_message_log(log)
    w = log.workload
    first = w.msg_offset[:-1]
    human = ~w.bot
    assert log.abandoned[human].any()  # the choice is exercised
    # Every first buyer message is in the rules' log, with the engine's reply or none.
    buyer = messages.sender == BUYER
    assert int(buyer.sum()) == int(np.sum(~np.isnan(log.msg_time_s)))
    answered = log.reply_agent[first] >= 0
    if withdraw:
        assert log.withdrawn.any()
        assert not answered[log.withdrawn].any()
    else:
        assert not log.withdrawn.any()
        assert answered[log.abandoned & human].all()
    t0 = log.start.timestamp()
    rule = rule_for(sc, "generic", (("service_level_s", 180.0),))
    sl = registry.score(
        messages, "generic", rule, None, abandoned=log.abandoned, abandon_s=t0 + log.abandon_s
    )["generic.service_level"]
    assert sl.overall == pytest.approx(rep.summary.within_3min, abs=1e-12)
    taobao = registry.score(messages, "taobao")["taobao.response_3min"]
    assert 0.0 < taobao.overall < 1.0
