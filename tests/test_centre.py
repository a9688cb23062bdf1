"""Outsourcing centres: a centre file compiled into one scenario, proved against scenarios.

* A centre of one client whose calendar is the team's is its scenario: the same
  buyers, the same replies, the same scores, bit for bit (three shipped
  scenarios: history, holidays, time zones, targets).
* Two identical clients on one shared pool are one client with twice the
  demand: the same arrivals (the total rate is the same), the same attributes
  (same distributions, one uniform per conversation), so the same run figures.
* Each client's targets equal `peakdesk score` run on that client's exported log,
  on its clock.
* Bad input exits 2 naming the field and what is allowed.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import re
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomlkit
from click.testing import CliRunner

from conftest import ROOT, base_dict, loaded
from peakdesk.centre.compile import centre_from_data, load_centre
from peakdesk.cli import main
from peakdesk.engine.export import to_message_log
from peakdesk.experiment.replicate import simulate
from peakdesk.scenario.load import ScenarioError, load_scenario


def _one_client_centre(scenario: Path) -> dict[str, Any]:
    """The scenario's team, calendar, seats and routing as a centre of one client ``shop``."""
    d = tomllib.loads(scenario.read_text(encoding="utf-8"))
    pools = copy.deepcopy(d["pools"])
    for p in pools:
        p["skills"] = {f"shop-{k}": v for k, v in p["skills"].items()}
    out = {
        "centre": {"name": "one"},
        "calendar": d["calendar"],
        "pools": pools,
        "seats": {"count": d["subaccounts"]["count"]},
        "routing": d.get("routing", {}),
        "simulation": d.get("simulation", {}),
        "clients": [{"name": "shop", "scenario": str(scenario)}],
    }
    return out


@pytest.mark.parametrize("name", ["small-shop", "shopee-1111", "lazada-1111"])
def test_a_centre_of_one_client_is_its_scenario(name: str) -> None:
    path = ROOT / "scenarios" / f"{name}.toml"
    single = load_scenario(path)
    centre = centre_from_data(_one_client_centre(path), ROOT / "scenarios" / "centre.toml")
    assert [t.name for t in centre.spec.inquiry_types] == [
        f"shop-{t.name}" for t in single.spec.inquiry_types
    ]
    a = simulate(single, replications=2, keep_logs=True)
    b = simulate(centre, replications=2, keep_logs=True)
    for ra, rb in zip(a.replications, b.replications, strict=True):
        assert asdict(ra.summary) == asdict(rb.summary)
        assert ra.log is not None and rb.log is not None
        ma, mb = to_message_log(ra.log), to_message_log(rb.log)
        for col in ("conversation", "sender", "time_s", "agent"):
            assert np.array_equal(getattr(ma, col), getattr(mb, col)), col
        ca, cb = ra.intervals.columns(), rb.intervals.columns()
        for k in ("arrivals", "agents_online", "backlog_end"):
            if k in ca:
                assert np.array_equal(ca[k], cb[k]), k
        assert len(ra.targets) == len(rb.targets) == len(single.spec.targets.require)
        for x, y in zip(ra.targets, rb.targets, strict=True):
            assert y.target.text == f"[shop] {x.target.text}" and y.target.client == "shop"
            assert (x.met, x.worst, x.final) == (y.met, y.worst, y.final)
            assert np.array_equal(x.series.daily, y.series.daily, equal_nan=True)


def _shop(volume: float) -> dict[str, Any]:
    d = base_dict()
    d["calendar"]["horizon"] = "2d"
    d["demand"] = {"profile": "flat", "volume_per_day": volume}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": 2.0}
    t["patience"] = {"dist": "exponential", "mean": "5min"}
    t["compose_time"] = {"dist": "exponential", "mean": "30s"}
    d["targets"] = {"require": ["taobao.response_3min >= 0.8"]}
    return d


def _inline(name: str, shop: dict[str, Any], **contract: Any) -> dict[str, Any]:
    keep = ("calendar", "demand", "inquiry_types", "targets")
    return {"name": name, **{k: copy.deepcopy(shop[k]) for k in keep}, **contract}


def test_two_identical_clients_on_one_pool_are_one_client_with_twice_the_demand() -> None:
    # Each client draws its buyers from streams of its own (common random numbers when a
    # client is added), so two clients of 1,500 a day are the same law as one shop of
    # 3,000 (with no day-to-day uncertainty: with some, each client would draw its own
    # day factor), not the same draws. Over 30 runs each, none of four figures shows a
    # difference (Welch t-test, p > 0.001 each): a check that no figure moved, not a
    # proof of equality.
    from scipy import stats

    shop = _shop(1500.0)
    double = _shop(3000.0)
    double["pools"][0].update(
        max_concurrency=3, shifts=[{"start": "00:00", "length": "24h", "agents": 6}]
    )
    one = loaded(double)
    centre = centre_from_data(
        {
            "centre": {"name": "two"},
            "calendar": double["calendar"],
            "pools": [dict(double["pools"][0], skills={"a": 1.0, "b": 1.0})],
            "simulation": double["simulation"],
            "clients": [_inline("a", shop), _inline("b", shop)],
        },
        ROOT / "scenarios" / "centre.toml",
    )
    runs = 30
    x = simulate(one, replications=runs)
    y = simulate(centre, replications=runs)
    for name in ("conversations", "abandonment_rate", "within_3min", "first_reply_p95_s"):
        a = [getattr(r.summary, name) for r in x.replications]
        b = [getattr(r.summary, name) for r in y.replications]
        assert stats.ttest_ind(a, b, equal_var=False).pvalue > 0.001, name
    ev = simulate(centre, replications=2, keep_logs=True)
    for r in ev.replications:
        assert r.log is not None
        w = r.log.workload
        # Each client gets about half the buyers.
        n = w.arrival_s.size
        k = int((w.type_idx == 0).sum())
        assert abs(k - n / 2) <= 4 * (n / 4) ** 0.5
        assert {t.target.client for t in r.targets} == {"a", "b"}


def test_adding_a_client_leaves_the_others_buyers_as_they_were(tmp_path: Path) -> None:
    # Common random numbers for a quote: the team's clients draw the same buyers, message
    # for message, with and without the new shop (each client's streams are its own).
    from peakdesk.centre.quote import added_centre
    from peakdesk.demand.sample import sample_workload

    centre = _plannable(tmp_path)
    client = _lz(3000.0, manila_day=False)
    base, added = load_centre(centre), added_centre(centre, _write(tmp_path, client, "lz.toml"))
    for r in range(2):
        w0, w1 = sample_workload(base, r), sample_workload(added, r)
        old = w1.type_idx < 2  # tb's and sp's conversations among all three clients'
        assert old.sum() == w0.arrival_s.size and (~old).sum() > 0
        assert np.array_equal(w1.arrival_s[old], w0.arrival_s)
        assert np.array_equal(w1.type_idx[old], w0.type_idx)
        for f in ("patience_s", "bot", "conversion_u"):
            assert np.array_equal(getattr(w1, f)[old], getattr(w0, f)), f
        msgs = np.repeat(old, np.diff(w1.msg_offset))
        assert np.array_equal(w1.think_s[msgs], w0.think_s)
        assert np.array_equal(w1.compose_s[msgs], w0.compose_s)


def _write(tmp: Path, data: dict[str, Any], name: str = "centre.toml") -> Path:
    path = tmp / name
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def _two_zone_centre() -> dict[str, Any]:
    """A team in Manila for a Taobao shop (Shanghai) and a Shopee shop (Ho Chi Minh City)."""
    tb = _shop(1200.0)
    sp = _shop(800.0)
    sp["calendar"]["timezone"] = "Asia/Ho_Chi_Minh"
    sp["targets"] = {"require": ["shopee.crr >= 0.8"]}
    cal = dict(tb["calendar"], timezone="Asia/Manila", start=tb["calendar"]["start"])
    # The team's day covers both shops' 2 days (Ho Chi Minh's midnight is 01:00 in Manila).
    cal["horizon"] = "50h"
    return {
        "centre": {"name": "manila", "currency": "PHP"},
        "calendar": cal,
        "pools": [
            {
                "name": "shared",
                "skills": {"tb": 1.0, "sp": 1.0},
                "max_concurrency": 3,
                "hourly_cost": 150.0,
                "shifts": [{"start": "00:00", "length": "24h", "agents": 5}],
            }
        ],
        "simulation": {"seed": 5},
        "clients": [
            _inline("tb", tb, price_per_conversation=20.0, penalty_per_missed_target=5000.0),
            _inline("sp", sp, price_per_hour=300.0, monthly_fee=30000.0),
        ],
    }


def test_each_clients_scores_equal_score_on_its_own_log(tmp_path: Path) -> None:
    path = _write(tmp_path, _two_zone_centre())
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(main, ["simulate", str(path), "-r", "1", "--out", str(out), "--all-logs"])
    assert res.exit_code == 0, res.output
    assert "clients (mean over 1 run" in res.output and "margin (PHP)" in res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    clients = {c["client"]: c for c in summary["clients"]}
    assert set(clients) == {"tb", "sp"}
    rows = list(csv.DictReader((out / "messages-r0.csv").open(encoding="utf-8")))
    for client, platform, zone, metric in (
        ("tb", "taobao", "Asia/Shanghai", "taobao.response_3min"),
        ("sp", "shopee", "Asia/Ho_Chi_Minh", "shopee.crr"),
    ):
        mine = [r for r in rows if r["inquiry_type"].startswith(f"{client}-")]
        assert mine
        f = tmp_path / f"{client}.csv"
        with f.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(mine)
        res = runner.invoke(main, ["score", str(f), "--platform", platform, "--tz", zone, "--json"])
        assert res.exit_code == 0, res.output
        scored = json.loads(res.stdout)
        target = next(t for t in summary["targets"] if t["target"].startswith(f"[{client}]"))
        series = scored["metrics"][metric]
        days = {d["date"]: d["window"] for d in series["days"] if not d["history"]}
        # Every simulated day's rolling value, on the client's own calendar days.
        assert list(days) == target["days"]
        assert list(days.values()) == pytest.approx(target["rolling_mean"], rel=1e-12)
    # The accounts, by hand from the summary's own counts.
    tb, sp = clients["tb"], clients["sp"]
    assert tb["revenue"]["mean"] == pytest.approx(20.0 * tb["handled"]["mean"])
    assert sp["revenue"]["mean"] == pytest.approx(
        300.0 * sp["billable_hours"]["mean"] + 30000.0 * 50 / 720
    )
    # One pool, writing every run: all its paid hours are allocated (the daily 24-h shift
    # of 5 agents on each of the 3 days the 50-h horizon touches: 360 h).
    assert tb["billable_hours"]["mean"] + sp["billable_hours"]["mean"] == pytest.approx(360.0)
    for c in (tb, sp):
        assert c["margin"]["mean"] == pytest.approx(
            c["revenue"]["mean"] - c["cost"]["mean"] - c["penalties"]["mean"]
        )


def _bad(tmp: Path, edit: Any) -> str:
    data = _two_zone_centre()
    edit(data)
    path = _write(tmp, data, "bad.toml")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return res.output


def test_bad_centres_exit_2_naming_the_field(tmp_path: Path) -> None:
    def unknown_platform(d: dict[str, Any]) -> None:
        d["clients"][1]["targets"]["require"] = ["shopeee.crr >= 0.8"]

    out = _bad(tmp_path, unknown_platform)
    assert "clients[1].targets" in out and "'shopeee'; allowed: taobao" in out

    def no_pool(d: dict[str, Any]) -> None:
        d["pools"][0]["skills"] = {"tb": 1.0}

    out = _bad(tmp_path, no_pool)
    assert "clients[1].inquiry_types[0]" in out and "no pool has" in out

    def unknown_skill(d: dict[str, Any]) -> None:
        d["pools"][0]["skills"]["lz"] = 1.0

    out = _bad(tmp_path, unknown_skill)
    assert "pools[0].skills.lz" in out and "tb-q" in out

    def seats(d: dict[str, Any]) -> None:
        d["clients"][0]["seat_limit"] = 4

    out = _bad(tmp_path, seats)
    assert "clients[0].seat_limit" in out and "below the 5 agents" in out

    def twice(d: dict[str, Any]) -> None:
        d["clients"][1]["name"] = "tb"

    out = _bad(tmp_path, twice)
    assert "clients[1].name" in out and "unique" in out

    def both(d: dict[str, Any]) -> None:
        d["clients"][0]["scenario"] = "shop.toml"

    out = _bad(tmp_path, both)
    assert "clients[0].scenario" in out and "not both" in out

    def language(d: dict[str, Any]) -> None:
        d["clients"][1]["language"] = "vi"
        d["pools"][0]["languages"] = ["zh", "en"]

    out = _bad(tmp_path, language)
    assert "pools[0].skills.sp" in out and "'vi'" in out

    def missing_file(d: dict[str, Any]) -> None:
        d["clients"][0] = {"name": "tb", "scenario": "nowhere.toml"}

    out = _bad(tmp_path, missing_file)
    assert "clients[0].scenario = 'nowhere.toml': no such file" in out

    def typo(d: dict[str, Any]) -> None:
        d["clients"][0]["price_per_convo"] = 1.0

    out = _bad(tmp_path, typo)
    assert "clients[0].price_per_convo" in out and "price_per_conversation" in out


def test_a_client_scope_in_a_plain_scenario_is_bad_input(tmp_path: Path) -> None:
    d = base_dict()
    d["targets"] = {"require": ["[tb] taobao.response_3min >= 0.8"]}
    path = _write(tmp_path, d, "s.toml")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2 and "only a centre file has clients" in res.output
    assert "targets.require[0]" in res.output


def test_the_shipped_centre_simulates_with_each_client_on_its_clock() -> None:
    path = ROOT / "scenarios" / "centres" / "manila-three-shops.toml"
    res = CliRunner().invoke(main, ["simulate", str(path), "-r", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    clients = {c["client"]: c for c in doc["clients"]}
    assert {k: v["timezone"] for k, v in clients.items()} == {
        "taobao": "Asia/Shanghai",
        "lazada": "Asia/Manila",
        "shopee": "Asia/Ho_Chi_Minh",
    }
    assert [t["target"] for t in doc["targets"]] == [
        "[taobao] taobao.response_3min >= 0.90",
        "[lazada] lazada.response_rate >= 0.85",
        "[lazada] lazada.response_time_s <= 30min",
        "[shopee] shopee.crr >= 0.80",
    ]
    # Every conversation belongs to one client.
    total = doc["summary"]["conversations"]["mean"]
    assert sum(c["conversations"]["mean"] for c in clients.values()) == total
    schema = json.loads(CliRunner().invoke(main, ["schema", "--centre"]).stdout)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(data) <= set(schema["properties"])
    client_fields = set(schema["$defs"]["Client"]["properties"])
    assert all(set(c) <= client_fields for c in data["clients"])


def test_pooling_two_clients_needs_no_more_than_dedicated_pools(tmp_path: Path) -> None:
    """Plan the same two shops on one shared pool and on a pool each: sharing costs less.

    One day each, the planner choosing 8-hour shifts every 2 hours; P(all) >= 0.8 so a
    test-sized verification decides.  The shared plan is written back as a centre file
    that simulates to its verified figures.
    """
    d = _two_zone_centre()
    for c in d["clients"]:
        c["calendar"]["horizon"] = "1d"
    d["calendar"]["horizon"] = "25h"
    d["targets"] = {"confidence": 0.8}
    d["plan"] = {"holdout_replications": 20, "max_verify_replications": 60}
    pool = dict(
        d["pools"][0],
        shifts=[],
        plan={"lengths": ["8h"], "start_every": "2h", "max_agents_per_day": 30},
    )
    shared = dict(d, pools=[pool])
    dedicated = dict(
        d,
        pools=[
            dict(pool, name="tb-team", skills={"tb": 1.0}),
            dict(pool, name="sp-team", skills={"sp": 1.0}),
        ],
    )
    runner = CliRunner()
    cost = {}
    for name, data in (("shared", shared), ("dedicated", dedicated)):
        path = _write(tmp_path, data, f"{name}.toml")
        res = runner.invoke(
            main, ["plan", str(path), "--json", "--quiet", "--out", str(tmp_path / name)]
        )
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert doc["status"] == "ok" and doc["held_out"]["p_all_met"] >= 0.8
        cost[name] = doc["total_cost"]
    # Measured: 9,000 shared against 13,200 dedicated (PHP, 150 an hour).
    assert cost["shared"] <= cost["dedicated"]
    planned = tmp_path / "shared" / "planned.toml"
    res = runner.invoke(main, ["simulate", str(planned), "-r", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["summary"]["total_cost"]["mean"] == pytest.approx(cost["shared"])


def _plannable(tmp: Path) -> Path:
    d = _two_zone_centre()
    for c in d["clients"]:
        c["calendar"]["horizon"] = "1d"
    d["calendar"]["horizon"] = "25h"
    d["targets"] = {"confidence": 0.8}
    d["plan"] = {"holdout_replications": 20, "max_verify_replications": 40}
    d["pools"] = [
        dict(
            d["pools"][0],
            shifts=[{"start": "00:00", "length": "24h", "agents": 4}],
            plan={"lengths": ["8h"], "start_every": "2h", "max_agents_per_day": 30},
        )
    ]
    return _write(tmp, d, "centre.toml")


def _lz(volume: float, *, manila_day: bool = True, **fields: Any) -> dict[str, Any]:
    """A client file's fields: a flat shop ``lz`` of ``volume`` a day served by the pool
    ``shared`` (on one day in Manila, as the plannable centre's team works, by default)."""
    shop = _shop(volume)
    if manila_day:
        shop["calendar"]["timezone"] = "Asia/Manila"
        shop["calendar"]["horizon"] = "1d"
    return {
        "name": "lz",
        "served_by": {"shared": 1.0},
        **{k: shop[k] for k in ("calendar", "demand", "inquiry_types")},
        **fields,
    }


def test_quote_one_more_shop(tmp_path: Path) -> None:
    centre = _plannable(tmp_path)
    # (3,000 a day: the team needs more hours; 600 a day fits in its own, tested below)
    client = _lz(
        3000.0,
        price_per_conversation=15.0,
        targets={"require": ["lazada.response_rate >= 0.85"]},
    )
    add = _write(tmp_path, client, "lz.toml")
    runner = CliRunner()
    res = runner.invoke(main, ["quote", str(centre), "--add", str(add), "--json", "-r", "20"])
    assert res.exit_code == 0, res.output
    q = json.loads(res.stdout)
    assert set(q["p_all_met_by_client"]) == {"tb", "sp", "lz"}
    assert isinstance(q["takes_it_as_it_is"], bool) and q["runs"] == 20
    assert q["cost_with"] > q["cost_without"] > 0
    assert q["marginal_cost"] == pytest.approx(q["cost_with"] - q["cost_without"])
    assert q["price_per_conversation"] == pytest.approx(
        q["marginal_cost"] * 1.2 / q["handled_conversations"]
    )
    pairs = q["plan_pairs"]
    assert [p["seed"] for p in pairs] == [5, 6, 7]  # --plan-repeats 3 from the scenario's seed
    assert q["marginal_cost"] == pytest.approx(np.mean([p["marginal_cost"] for p in pairs]))
    low, high = q["marginal_cost_interval"]
    assert 0 <= low <= q["marginal_cost"] <= high
    extra = q["paid_hours_with"] - q["paid_hours_without"]
    assert q["price_per_hour"] == pytest.approx(q["marginal_cost"] * 1.2 / extra)
    # One wage (150 PHP) and no sub-account cost: an added hour costs the wage, plus margin.
    assert q["price_per_hour"] == pytest.approx(150.0 * 1.2)
    assert q["price_per_billed_hour"] == pytest.approx(
        q["marginal_cost"] * 1.2 / q["client_billed_hours"]
    )
    res = runner.invoke(main, ["quote", str(centre), "--add", str(add), "--no-plan", "-r", "5"])
    assert res.exit_code == 0, res.output
    assert "the team as it is" in res.output and "not planned (--no-plan)" in res.output
    # Every pool has a [pools.plan] table: the quote must not say it has none.
    assert "no pool has a [pools.plan] table" not in res.output
    for edit, expect in (
        (lambda c: c.pop("served_by"), "served_by: required"),
        (lambda c: c.update(served_by={"nope": 1.0}), "served_by.nope: no such pool"),
        (lambda c: c.update(name="tb"), "client names must be unique"),
    ):
        bad = copy.deepcopy(client)
        edit(bad)
        path = _write(tmp_path, bad, "bad-client.toml")
        res = runner.invoke(main, ["quote", str(centre), "--add", str(path), "--no-plan"])
        assert res.exit_code == 2 and expect in res.output, res.output
    res = runner.invoke(main, ["quote", str(centre), "--team", str(add)])
    assert res.exit_code == 2 and "--add CLIENT.toml" in res.output


def test_a_shop_the_planned_team_takes_within_its_hours_costs_nothing_more(
    tmp_path: Path,
) -> None:
    centre = _plannable(tmp_path)
    client = _lz(
        600.0,
        price_per_conversation=15.0,
        targets={"require": ["lazada.response_rate >= 0.85"]},
    )
    add = _write(tmp_path, client, "lz.toml")
    res = CliRunner().invoke(main, ["quote", str(centre), "--add", str(add), "-r", "10"])
    assert res.exit_code == 0, res.output
    # Each pair's plans are the same, or the cheaper serves the other team at the bound
    # (re-priced to it): the shop fits in the team's hours on every seed.
    assert "marginal cost 0 PHP (all 3 pairs of plans, on seeds 5-7, give it)" in res.output
    assert "no marginal agent-hour" in res.output and "nan" not in res.output
    res = CliRunner().invoke(main, ["quote", str(centre), "--add", str(add), "-r", "10", "--json"])
    pairs = json.loads(res.stdout)["plan_pairs"]
    assert [p["marginal_cost"] for p in pairs] == [0.0, 0.0, 0.0]
    for p in pairs:
        assert p["repriced"] in (None, "with", "without")


def test_the_report_has_a_section_and_a_figure_per_client(tmp_path: Path) -> None:
    path = _write(tmp_path, _two_zone_centre())
    out = tmp_path / "run"
    res = CliRunner().invoke(
        main, ["simulate", str(path), "-r", "3", "--out", str(out), "--report"]
    )
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html[html.index("<h2>Clients</h2>") : html.index("<h2>Figures</h2>")]
    for text in ("Asia/Shanghai", "Asia/Ho_Chi_Minh", "margin (PHP)", "tb: taobao.response_3min"):
        assert text in section, text
    assert 'id="fig-clients"' in html
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    tb = next(c for c in summary["clients"] if c["client"] == "tb")
    assert f"{tb['revenue']['mean']:,.0f}" in section


def test_deadline_routing_takes_each_clients_reply_deadline(tmp_path: Path) -> None:
    d = _two_zone_centre()
    d["routing"] = {"queue_order": "deadline"}
    d["clients"][0]["reply_deadline"] = "3min"  # Taobao's 3-minute rule
    out = _bad(tmp_path, lambda x: x.update(copy.deepcopy(d)))
    assert "clients[1].inquiry_types[0].reply_deadline" in out  # the Shopee shop has none
    assert "needs every type's reply deadline" in out
    d["clients"][1]["reply_deadline"] = "12h"  # Shopee's 12-hour CRR
    centre = centre_from_data(d, tmp_path / "c.toml")
    assert [t.reply_deadline for t in centre.spec.inquiry_types] == [180.0, 43200.0]
    ev = simulate(centre, replications=1, keep_logs=False)
    assert ev.replications[0].summary.conversations > 0


def test_clients_whose_names_share_a_prefix_are_told_apart(tmp_path: Path) -> None:
    d = _two_zone_centre()
    d["clients"][1]["name"] = "tb-x"
    pool = d["pools"][0]
    d["pools"] = [
        dict(pool, name="A", skills={"tb": 1.0}),
        dict(pool, name="B", skills={"tb-x": 1.0}),
    ]
    d["clients"][0]["seat_limit"] = 10
    centre = centre_from_data(d, tmp_path / "c.toml")
    assert centre.centre is not None
    assert [c.pools for c in centre.centre.clients] == [(0,), (1,)]
    assert [g.pools for g in centre.spec.subaccounts.groups] == [["A"]]


def test_client_figures_never_reach_below_what_they_can_be() -> None:
    from peakdesk.centre.accounts import _figure

    # Penalties paid in 1 run of 5: a t interval reaches below 0; the figure cannot.
    pen = _figure("penalties", [5000.0, 0.0, 0.0, 0.0, 0.0])
    assert pen.mean == 1000.0 and pen.low == 0.0 and pen.high > 1000.0
    share = _figure("abandoned_share", [0.99, 0.2, 0.99, 0.2])
    assert share.high == 1.0
    margin = _figure("margin", [-5000.0, 100.0, 100.0, 100.0, 100.0])
    assert margin.low < -1000.0  # a margin can be negative


def test_a_quote_says_what_bound_a_plan_that_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The search's own message (which constraint binds) reaches the quote's status.
    import types

    from peakdesk.centre import quote as centre_quote
    from peakdesk.plan import search as plan_search

    centre = _plannable(tmp_path)
    client = _lz(3000.0, price_per_conversation=15.0)
    add = _write(tmp_path, client, "lz.toml")
    base = load_centre(centre)
    added = centre_quote.added_centre(centre, add)
    calls = iter(
        [
            types.SimpleNamespace(status="ok", message="", total_cost=1.0),
            types.SimpleNamespace(
                status="infeasible",
                message="the sub-account cap binds: lz needs 24, has 18",
                diagnosis=(),
            ),
        ]
    )
    monkeypatch.setattr(plan_search, "search", lambda *a, **k: next(calls))
    q = centre_quote.quote_addition(base, added, replications=2)
    assert "with: infeasible (with: the sub-account cap binds: lz needs 24, has 18)" in q.status


def test_the_quote_states_the_baseline_first(tmp_path: Path) -> None:
    centre = _plannable(tmp_path)
    client = _lz(3000.0, price_per_conversation=15.0)
    add = _write(tmp_path, client, "lz.toml")
    runner = CliRunner()
    # 10 runs cannot show 80% at the bound's level even when all keep every target: the
    # baseline fails the bound itself, and the quote says so before judging the shop.
    res = runner.invoke(main, ["quote", str(centre), "--add", str(add), "--no-plan", "-r", "10"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert out.index("(the baseline)") < out.index("manila + lz")
    assert "below the required bound without the new shop, so no shop added could" in out
    assert "against the team's own level it keeps it" in out
    res = runner.invoke(
        main, ["quote", str(centre), "--add", str(add), "--no-plan", "-r", "10", "--json"]
    )
    doc = json.loads(res.stdout)
    assert doc["baseline"]["misses_already"] is True
    assert doc["baseline"]["kept_every_target"] == 10
    assert set(doc["baseline"]["p_all_met_by_client"]) == {"tb", "sp"}
    assert doc["keeps_the_baselines_level"] is True


def test_the_level_test_is_an_exact_paired_test() -> None:
    from peakdesk.centre.quote import AddedQuote

    def q(worse: int, better: int) -> AddedQuote:
        return AddedQuote(
            "x", 120, 100, 0.8, False, 0.95, {}, 1.0, None, None, None, None, "", 0.2,
            worse=worse, better=better,
        )  # fmt: skip

    # 8 runs lost and 1 gained: P(8 or more of 9 | even) = 10/512.
    assert q(8, 1).level_p_value == pytest.approx(10 / 512)
    assert not q(8, 1).keeps_level
    assert q(2, 2).keeps_level and q(0, 0).level_p_value == 1.0


def test_hours_billed_on_the_writing_time(tmp_path: Path) -> None:
    # The same runs, the price per hour charged on the agents' writing time for the client
    # instead of their allocated paid hours: the documented basis, chosen in the contract.
    from peakdesk.centre.accounts import client_accounts

    runs = {}
    for basis in ("allocated", "writing"):
        d = _two_zone_centre()
        d["clients"][1]["hours_billed"] = basis
        loaded = load_centre(_write(tmp_path, d, f"{basis}.toml"))
        ev = simulate(loaded, replications=2)
        runs[basis] = {a.client: a.figures for a in client_accounts(loaded, ev)}
    alloc, writing = runs["allocated"]["sp"], runs["writing"]["sp"]
    fee = 30000.0 * 50 / 720
    assert writing["billable_hours"].mean == pytest.approx(writing["writing_hours"].mean)
    assert writing["revenue"].mean == pytest.approx(300.0 * writing["writing_hours"].mean + fee)
    assert alloc["revenue"].mean == pytest.approx(300.0 * alloc["billable_hours"].mean + fee)
    # Writing is a part of the paid hours it is allocated by.
    assert writing["writing_hours"].mean < alloc["billable_hours"].mean
    assert writing["cost"].mean == pytest.approx(alloc["cost"].mean)


def test_errors_in_a_client_file_name_that_file_and_its_own_fields(tmp_path: Path) -> None:
    # A client file's fields are told by their own path in it (`seat_limit`, `served_by.X`),
    # not by where the quote merged them into the centre (`clients[2]`, `pools[0].skills.lz`).
    centre = _plannable(tmp_path)
    team = tomlkit.parse(centre.read_text(encoding="utf-8"))
    team["pools"][0]["languages"] = ["zh", "en"]
    centre.write_text(tomlkit.dumps(team), encoding="utf-8")
    client = _lz(600.0, manila_day=False)
    runner = CliRunner()
    for edit, expect in (
        (lambda c: c.update(seat_limit="lots"), 'seat_limit = "lots": Input should be'),
        (lambda c: c.update(served_by={"shared": "high"}), 'served_by.shared = "high"'),
        (lambda c: c["demand"].update(daily_volum=3), "demand.daily_volum: unknown field"),
        (lambda c: c["inquiry_types"][0].pop("patience"), "inquiry_types[0].patience: required"),
        (lambda c: c.update(seat_rule="sometimes"), 'seat_rule = "sometimes": Input should be'),
        (lambda c: c.update(seat_rule="while_holding"), "seat_rule: 'while_holding' rules the"),
        (lambda c: c.update(served_by={}), "served_by: required: the team's pools"),
        (lambda c: c.update(language="vi"), "served_by.shared: client 'lz' writes 'vi'"),
    ):
        bad = copy.deepcopy(client)
        edit(bad)
        path = _write(tmp_path, bad, "bad-client.toml")
        res = runner.invoke(main, ["quote", str(centre), "--add", str(path), "--no-plan"])
        assert res.exit_code == 2, res.output
        assert f"{path}: invalid client file" in res.output, res.output
        assert expect in res.output, res.output
        assert "clients[" not in res.output and "pools[" not in res.output, res.output
        assert "Traceback" not in res.output
    assert "leave it out of served_by" in res.output  # the fix in the file the user wrote


def test_the_marginal_cost_agrees_with_plans_on_other_seeds(tmp_path: Path) -> None:
    # One pair of plans is one draw: the trimmed plans move by a trim step between seeds.
    # Three pairs on seeds 5-7 and three on seeds 105-107 (the same shop, independent
    # buyers) estimate the same marginal cost: their means agree within their sampling
    # noise (Welch t-test, p > 0.01), and each has an interval.
    from scipy import stats

    from peakdesk.centre.quote import added_centre, quote_addition

    centre = _plannable(tmp_path)
    client = _lz(3000.0, targets={"require": ["lazada.response_rate >= 0.85"]})
    add = _write(tmp_path, client, "lz.toml")
    base, added = load_centre(centre), added_centre(centre, add)
    quotes = [quote_addition(base, added, replications=4, seed=s, plan_repeats=3) for s in (5, 105)]
    draws = [[p.marginal for p in q.pairs] for q in quotes]
    assert all(len(d) == 3 for d in draws)
    assert any(len(set(d)) > 1 for d in draws)  # the pairs differ: a trim step apart
    if all(len(set(d)) > 1 for d in draws):
        assert stats.ttest_ind(*draws, equal_var=False).pvalue > 0.01
    else:
        assert abs(np.mean(draws[0]) - np.mean(draws[1])) <= max(np.ptp(d) for d in draws)
    for q in quotes:
        assert [p.seed for p in q.pairs][1:] == [q.pairs[0].seed + k for k in (1, 2)]
        assert q.marginal_cost == pytest.approx(float(np.mean([p.marginal for p in q.pairs])))
        low, high = q.marginal_interval
        assert low <= q.marginal_cost <= high


def test_a_centre_plans_for_each_clients_own_demand_quantile(tmp_path: Path) -> None:
    # A robust plan of a centre hedges each client's forecast on its own uncertainty:
    # the Taobao shop's contract states daily_cv 0.2 (replacing its shop's 0), the Shopee
    # shop states none and is planned at its forecast. planned.toml carries both as the
    # clients' demand_multiplier and daily_cv, and compiles to the planning demand.
    from scipy import stats

    from peakdesk.demand.sample import intensity
    from peakdesk.plan.robust import robust_scenario

    path = _plannable(tmp_path)
    d = tomlkit.parse(path.read_text(encoding="utf-8"))
    d["clients"][0]["daily_cv"] = 0.2
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    loaded = load_centre(path)
    assert [g.cv for g in loaded.centre.day_groups] == [0.2, 0.0]  # type: ignore[union-attr]
    robust, basis = robust_scenario(loaded, quantile=0.9)
    factor = stats.gamma.ppf(0.9, 1 / 0.2**2, scale=0.2**2)  # 1.26: mean 1, CV 0.2
    assert [c.factor for c in basis.clients] == [pytest.approx(factor), 1.0]
    before, after = intensity(loaded), intensity(robust)
    np.testing.assert_allclose(after.expected[0], before.expected[0] * factor)
    np.testing.assert_array_equal(after.expected[1], before.expected[1])
    assert [g.cv for g in after.day_groups or ()] == [0.0, 0.0]
    assert "tb x1.26 from daily_cv 0.2, sp at its forecast (no daily_cv)" in basis.describe()
    margin, mbasis = robust_scenario(loaded, margin=0.1)
    np.testing.assert_allclose(intensity(margin).expected, before.expected * 1.1)
    assert [g.cv for g in intensity(margin).day_groups or ()] == [0.2, 0.0]
    assert "every client's volumes x1.1" in mbasis.describe()

    out = tmp_path / "q90"
    runner = CliRunner()
    res = runner.invoke(
        main, ["plan", str(path), "--quantile", "0.9", "--json", "--quiet", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (
        doc["status"] == "ok"
        and "each client's forecast 90% quantile" in (doc["demand_basis"]["text"])
    )
    text = (out / "planned.toml").read_text(encoding="utf-8")
    planned = load_centre(out / "planned.toml")
    assert [c["daily_cv"] for c in tomlkit.parse(text)["clients"]] == [0.0, 0.0]
    np.testing.assert_allclose(intensity(planned).expected, after.expected)
    assert [g.cv for g in planned.centre.day_groups] == [0.0, 0.0]  # type: ignore[union-attr]

    # No client states an uncertainty: no quantile to take.
    d["clients"][0]["daily_cv"] = 0.0
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    res = runner.invoke(main, ["plan", str(path), "--quantile", "0.9"])
    assert res.exit_code == 2 and "no client's demand states a daily_cv" in res.output


def test_a_quote_whose_shop_seats_bind_names_them_and_what_raising_them_buys(
    tmp_path: Path,
) -> None:
    # The new shop gives the centre 4 sub-accounts, and its buyers need more agents online
    # than that at its peak: the plan with it is infeasible, the quote names the shop's
    # seats with the time and the agents needed, and plans again with the seats raised.
    from peakdesk.centre.quote import added_centre, quote_addition

    centre = _plannable(tmp_path)
    client = _lz(6000.0, seat_limit=4, targets={"require": ["lazada.response_rate >= 0.85"]})
    add = _write(tmp_path, client, "lz.toml")
    q = quote_addition(load_centre(centre), added_centre(centre, add), replications=4)
    assert "with: infeasible" in q.status
    assert (
        "the seat limit of client 'lz' 4 is below the" in q.status
        and "agents needed online at" in q.status
    )
    m = re.search(r"the seats of client 'lz' 4 -> (\d+): planned at ([\d,]+)", q.relaxed)
    assert m is not None, q.relaxed
    assert int(m[1]) > 4 and "a marginal cost of" in q.relaxed
    assert q.pairs == () and math.isnan(q.marginal_cost)  # no pair priced: no made-up figure


def test_a_shared_pool_serves_a_shop_with_fewer_seats_while_holding(tmp_path: Path) -> None:
    # A shop giving the centre 2 sub-accounts, served by a shared pool of 5 on shift: under
    # the strict rule every one of them online must hold a seat (refused when the file is
    # read); while holding, an agent takes one only while it holds the shop's chats, so
    # the 5 serve it, at most 2 at a time, and the other client is served as before.
    d = _two_zone_centre()
    d["clients"][0]["seat_limit"] = 2
    with pytest.raises(ScenarioError, match=r"clients\[0\]\.seat_limit: 2 sub-accounts"):
        centre_from_data(copy.deepcopy(d), tmp_path / "c.toml")
    d["clients"][0]["seat_rule"] = "while_holding"
    centre = centre_from_data(d, tmp_path / "c.toml")
    group = centre.spec.subaccounts.groups[0]
    assert (group.taken, group.types, group.count) == ("holding", ["tb-q"], 2)
    ev = simulate(centre, replications=1, keep_logs=True)
    log = ev.replications[0].log
    assert log is not None
    tb = log.workload.type_idx[log.hold_conversation] == 0
    agents, start, end = log.hold_agent[tb], log.hold_start_s[tb], log.hold_end_s[tb]
    edges = sorted(
        [(t, 1, a) for t, a in zip(start, agents, strict=True)]
        + [(t, -1, a) for t, a in zip(end, agents, strict=True)],
        key=lambda e: (e[0], e[1]),
    )
    chats = [0] * 5
    most = 0
    for _, step, a in edges:
        chats[a] += step
        most = max(most, sum(c > 0 for c in chats))
    assert most == 2 and len(set(agents.tolist())) == 5


def test_a_plan_that_no_staffing_fits_under_seats_taken_while_holding_says_so(
    tmp_path: Path,
) -> None:
    # 8,000 buyers a day keep about 2.8 agents (of 3 chats) holding the shop's chats at
    # once, whatever the shifts: one seat taken while holding cannot seat them, and more
    # agents do not change that. The planner says so before any simulation, with the
    # seats, the time and the agents needed.
    from peakdesk.plan.search import search

    path = _plannable(tmp_path)
    d = tomlkit.parse(path.read_text(encoding="utf-8"))
    d["clients"][0].update(seat_limit=1, seat_rule="while_holding")
    d["clients"][0]["demand"]["volume_per_day"] = 8000.0
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    plan = search(load_centre(path))
    assert plan.status == "infeasible"
    assert "the 1 seat(s) of client 'tb', taken while holding" in plan.message
    assert "agents holding its chats" in plan.message and plan.verification is None
    d["clients"][0]["seat_limit"] = 6  # room for them and their peaks: planned and verified
    path.write_text(tomlkit.dumps(d), encoding="utf-8")
    assert search(load_centre(path)).status == "ok"


def test_the_shipped_client_file_quotes_on_the_shipped_centre() -> None:
    # The shipped centre's shops give their inquiry shares by phase, the shipped client's
    # as numbers: each client's demand is its own, so the two stand together.
    centre = ROOT / "scenarios" / "centres" / "manila-three-shops.toml"
    client = ROOT / "scenarios" / "centres" / "clients" / "tiktok-vn.toml"
    res = CliRunner().invoke(
        main, ["quote", str(centre), "--add", str(client), "--no-plan", "-r", "3", "--json"]
    )
    assert res.exit_code == 0, res.output
    q = json.loads(res.stdout)
    assert set(q["p_all_met_by_client"]) == {"taobao", "lazada", "shopee", "tiktok_vn"}
    assert q["handled_conversations"] > 0


def test_targets_missed_and_penalties_have_exact_intervals() -> None:
    # 1 of 5 runs missed its one target: the Clopper-Pearson 95% interval of 1 in 5 is
    # [0.0051, 0.7164]; the penalties are that times 5,000 a target, never below 0.
    from peakdesk.centre.accounts import _missed
    from peakdesk.scenario.centre_info import ClientInfo

    client = ClientInfo(name="tb", types=(0,), timezone="Asia/Shanghai")
    client = dataclasses.replace(client, penalty_per_missed_target=5000.0)
    out = _missed([1.0, 0.0, 0.0, 0.0, 0.0], 1, client)
    missed, pen = out["targets_missed"], out["penalties"]
    assert missed.mean == 0.2 and pen.mean == 1000.0
    assert missed.low == pytest.approx(0.00505, abs=1e-4)
    assert missed.high == pytest.approx(0.71641, abs=1e-4)
    assert pen.low == pytest.approx(5000.0 * missed.low) and pen.high <= 5000.0
    # None missed in 40 runs of 2 targets: [0, 2 x 0.0451], the rule of three's order.
    none = _missed([0.0] * 40, 2, client)["targets_missed"]
    assert none.mean == 0.0 and none.low == 0.0 and none.high == pytest.approx(0.0902, abs=1e-3)
