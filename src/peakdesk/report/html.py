"""The HTML report of a run or a plan: one self-contained file.

Figures are embedded as PNG data URIs and the styles are inline, so the file
can be mailed, archived or opened offline; there is no script.  The report
says what was run (the scenario file as run, seed, replications, version),
what it gives (targets with their probability of being met and its interval,
headline figures with 95% confidence intervals, KPIs per pool and agent),
what a plan costs and how sure we are, and the modelling assumptions behind
the numbers.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from peakdesk.output import atomic_write
from peakdesk.report.figures import CAPTIONS, draw_figures
from peakdesk.report.rundata import RunData
from peakdesk.report.text import SUMMARY_ROWS, as_float, fmt, is_missing, verdict

#: How the model works, in the words a planner needs to trust or question a number.
ASSUMPTIONS = (
    "Buyers arrive as a non-homogeneous Poisson process following the scenario's demand "
    "curve; every random draw comes from its own named stream, so the same seed gives the "
    "same buyers, and two variants compared on one seed see the same buyers.",
    "An agent holds up to the pool's concurrency of chats at once and writes one reply at a "
    "time; the time to write grows with the number of chats held when the pool sets a "
    "slow-down.",
    "A buyer whose first message waits longer than their patience leaves: the conversation "
    "counts as a failure for the service level and does not convert. By default the message "
    "is still answered later (and scored by the platforms as late); inquiry types with "
    "answer_after_abandon = false withdraw it (Erlang A).",
    "At a shift end or a break an agent takes no new chats, finishes the open ones, then "
    "logs off and frees the sub-account; this draining time is not paid.",
    "Shrinkage is spread over each pool's shifts; agents online never exceed the "
    "sub-accounts held.",
    "A chat left idle past the auto-close time frees its slot; a buyer who writes again "
    "reopens it into the queue.",
    "Each marketplace metric is computed from the simulated message log exactly as the "
    "platform defines it (peakdesk.rules); a target is met in a run when its rolling value "
    "keeps the bound at the end of every simulated day.",
    "P(met) is the share of replications meeting a target, with a Wilson 95% interval; other "
    "figures are means over replications with Student-t 95% intervals. With few "
    "replications the intervals are wide: run more before committing to a plan.",
)

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',
'Noto Sans CJK SC',sans-serif;margin:0;color:#1a202c;background:#fff;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:2px solid #e2e8f0;padding-bottom:.2em}h3{font-size:1.05em}
.meta{color:#4a5568;font-size:.92em}
.status{display:inline-block;padding:.15em .6em;border-radius:4px;font-weight:600;
border:1px solid}
.ok{background:#f0fff4;color:#22543d;border-color:#9ae6b4}
.warn{background:#fffaf0;color:#7b341e;border-color:#fbd38d}
.bad{background:#fff5f5;color:#742a2a;border-color:#feb2b2}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{padding:.28em .7em;border-bottom:1px solid #e2e8f0;text-align:right;
vertical-align:top}
th:first-child,td:first-child{text-align:left}
th{background:#f7fafc;font-weight:600}
td.l,th.l{text-align:left}
figure{margin:1.2em 0;page-break-inside:avoid}
figure img{max-width:100%;height:auto;border:1px solid #e2e8f0}
figcaption{color:#4a5568;font-size:.9em;margin-top:.3em}
pre{background:#f7fafc;border:1px solid #e2e8f0;padding:12px;overflow-x:auto;
font-size:.82em;line-height:1.35}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}
.card{border:1px solid #e2e8f0;border-radius:6px;padding:10px 14px;flex:1 1 140px;
max-width:220px}
.tw{overflow-x:auto;max-width:100%}
@media (max-width:600px){main{padding:14px 12px 40px}th,td{padding:.25em .45em}}
.card .v{font-size:1.35em;font-weight:600}.card .k{color:#4a5568;font-size:.85em}
details summary{cursor:pointer;color:#2b6cb0}
ul.assume li{margin:.3em 0}
@media print{main{max-width:none;padding:0}a{color:inherit}
details::details-content{content-visibility:visible;display:block}
h2{page-break-after:avoid}}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _verdict_class(text: str) -> str:
    if text == "ok":
        return "ok"
    return "bad" if text.startswith("MISSED") else "warn"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    # In a scrolling box: a wide table stays readable on a phone instead of running off.
    out = ['<div class="tw"><table><thead><tr>']
    out += [f"<th{' class=l' if j < left else ''}>{_e(h)}</th>" for j, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        out += [f"<td{' class=l' if j < left else ''}>{_e(c)}</td>" for j, c in enumerate(row)]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _png_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _targets_section(run: RunData) -> str:
    required = float(run.summary.get("required_confidence", 0.95))
    targets = run.targets
    if not targets:
        return "<p>The scenario sets no marketplace targets.</p>"
    rows = []
    for t in targets:
        unit = "%" if t["unit"] == "share" else "s"
        v = verdict(float(t["p_met"]), as_float(t["p_low"]), as_float(t["p_high"]), required)
        fails = [d for d in t.get("first_failing_days", []) if d]
        rows.append(
            (
                t["target"],
                f"{float(t['p_met']):.0%}",
                f"[{as_float(t['p_low']):.0%}, {as_float(t['p_high']):.0%}]",
                fmt(t.get("worst_mean"), unit),
                min(fails) if fails else "none",
                v,
            )
        )
    body = [
        _table(
            ("target", "P(met)", "95% interval", "worst day (mean)", "first day below", "verdict"),
            rows,
        )
    ]
    p_all = run.summary.get("p_all_targets_met")
    if not is_missing(p_all):
        body.append(
            f"<p>Every target met together in <b>{as_float(p_all):.0%}</b> of "
            f"{run.replications} runs; required: {required:.0%}.</p>"
        )
    need = runs_to_show(required)
    body.append(
        "<p class=meta>P(met) is the share of runs that kept the target on every simulated "
        "day; the interval is how sure that many runs make us. A verdict is <i>ok</i> only "
        f"when the whole interval clears {required:.0%}: even if every run keeps the target "
        f"that takes {need} runs. "
        + (
            "The planner accepts a plan when a one-sided lower confidence bound on the "
            "share of its verification runs keeping every target clears the requirement, "
            "then checks it on held-out seeds (see the plan section)."
            if run.plan is not None
            else "With fewer runs the verdict says <i>not sure yet</i> rather than ok."
        )
        + "</p>"
    )
    return "".join(body)


def runs_to_show(required: float, confidence: float = 0.95) -> int:
    """Fewest runs, all meeting a target, whose Wilson interval lies above ``required``."""
    from peakdesk.plan.guarantee import runs_to_accept

    # A two-sided interval at ``confidence`` has each bound one-sided at (1 + c) / 2.
    return runs_to_accept(required, 0.5 + confidence / 2.0, "wilson")


def _overall_status(run: RunData) -> tuple[str, str]:
    """(css class, text) of the headline verdict."""
    if run.plan is not None:
        st = str(run.plan.plan.get("status", "?"))
        cls = {"ok": "ok", "infeasible": "bad"}.get(st, "warn")
        return cls, f"plan {st.upper()}: {run.plan.plan.get('message', '')}"
    required = float(run.summary.get("required_confidence", 0.95))
    verdicts = [
        verdict(float(t["p_met"]), as_float(t["p_low"]), as_float(t["p_high"]), required)
        for t in run.targets
    ]
    if not verdicts:
        return "warn", "no targets set: the figures below describe the run"
    if all(v == "ok" for v in verdicts):
        return "ok", f"every target kept with at least {required:.0%} probability"
    if any(v.startswith("MISSED") for v in verdicts):
        return "bad", "a target is missed: see the targets below"
    return "warn", "not shown yet that every target is kept: see the targets below"


def _cards(run: RunData) -> str:
    cur = _e(run.summary.get("currency", ""))
    cards = []
    if run.plan is not None and not is_missing(run.plan.plan.get("total_cost")):
        cards.append((f"{float(run.plan.plan['total_cost']):,.0f} {cur}", "plan cost"))
        if run.plan.plan.get("subaccounts") is not None:
            cards.append((f"{run.plan.plan['subaccounts']}", "sub-accounts needed"))
    else:
        e = run.estimate("total_cost")
        cards.append((f"{fmt(e['mean'], '$')} {cur}", "total cost (mean)"))
    for key, label, unit in (
        ("conversations", "conversations (mean)", "n"),
        ("within_3min", "served within 3 min", "%"),
        ("conversions_lost", "conversions lost (mean)", "n"),
        ("peak_backlog", "peak backlog (messages)", "n"),
    ):
        cards.append((fmt(run.estimate(key)["mean"], unit), label))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{v}</div><div class="k">{_e(k)}</div></div>'
            for v, k in cards
        )
        + "</div>"
    )


def _summary_section(run: RunData) -> str:
    cur = run.summary.get("currency", "")
    rows = []
    for key, label, unit in SUMMARY_ROWS:
        e = run.estimate(key)
        ci = (
            f"[{fmt(e['low'], unit)}, {fmt(e['high'], unit)}]"
            if not is_missing(e["low"])
            else "n/a (one run)"
        )
        rows.append((label, fmt(e["mean"], unit), ci, cur if unit.startswith("$") else ""))
    return _table(("", "mean", "95% confidence interval", ""), rows) + (
        "<p class=meta>* first human reply within the time and before the buyer left "
        "(abandoned conversations count as failures).</p>"
    )


def _plan_section(run: RunData) -> str:
    assert run.plan is not None
    doc = run.plan.plan
    cur = run.summary.get("currency", "")
    out = []
    if doc.get("diagnosis"):
        out.append("<h3>What binds</h3><ul>")
        out += [f"<li>{_e(d)}</li>" for d in doc["diagnosis"]]
        out.append("</ul>")
    basis = doc.get("demand_basis")
    if isinstance(basis, dict) and basis.get("text"):
        out.append(
            f"<p><strong>Robust plan:</strong> {_e(str(basis['text']))}. Every figure below "
            "(verification, held-out check) is on that demand.</p>"
        )
    rows = [(pool, f"{float(c):,.0f}") for pool, c in doc.get("labour_cost_by_pool", {}).items()]
    rows.append(
        (
            f"sub-accounts ({doc.get('subaccounts')} needed)",
            f"{as_float(doc.get('subaccount_cost')):,.0f}",
        )
    )
    rows.append(("total", f"{as_float(doc.get('total_cost')):,.0f}"))
    cpc = doc.get("cost_per_conversation")
    if not is_missing(cpc):
        rows.append(("per conversation", f"{as_float(cpc):,.2f}"))
    out.append(f"<h3>Cost ({_e(cur)})</h3>" + _table(("", "cost"), rows))
    seat = doc.get("seat_price")
    if isinstance(seat, dict) and seat.get("text"):
        out.append(
            f"<p>{_e(str(seat['text']))}. Seats are a decision of the cover: priced over the "
            "horizon beside labour, tied to the peak of agents online, within the "
            "platform's cap.</p>"
        )
    heads = doc.get("headcount_by_day", {})
    days = sorted({d for per in heads.values() for d in per})
    if days:
        out.append("<h3>Agents starting a shift, per pool and day</h3>")
        out.append(
            _table(
                ("pool", *[d[5:] for d in days]),
                [(p, *[per.get(d, 0) for d in days]) for p, per in heads.items()],
            )
        )
    if run.plan.shifts:
        out.append(
            f"<details><summary>All {len(run.plan.shifts)} shifts (local start, length, "
            "agents)</summary>"
        )
        out.append(
            _table(
                ("pool", "start", "length", "agents", "", f"paid cost ({cur})"),
                [
                    (
                        r["pool"],
                        str(r["start"]).replace("T", " "),
                        f"{float(r['length_h']):g} h",
                        r["agents"],
                        "fixed" if r.get("fixed") else "planned",
                        f"{float(r['paid_cost']):,.0f}",
                    )
                    for r in run.plan.shifts
                ],
                left=2,
            )
        )
        out.append("</details>")
    out.append(_guarantee_html(doc))
    trace = doc.get("trace", [])
    if trace:
        out.append("<h3>How the search got there</h3>")
        refinement = doc.get("refinement")
        if refinement:
            out.append(
                f"<p>Requirement refinement: {int(refinement['iterations'])} iterations, "
                f"{_e(str(refinement['outcome']).replace('_', ' '))}, final largest change "
                f"{int(refinement['final_max_change'])} agent(s).</p>"
            )

        def pct(x: Any) -> str:
            return "–" if is_missing(x) else f"{as_float(x):.0%}"

        def low(x: Any) -> str:
            return "–" if is_missing(x) else f"{as_float(x):.3f}"

        out.append(
            _table(
                (
                    "round",
                    "cover",
                    f"cost ({cur})",
                    "runs",
                    "P(every target kept)",
                    "lower bound",
                    "decision",
                    "raised (agent-intervals)",
                ),
                [
                    (
                        r["round"],
                        r["cover_status"],
                        f"{as_float(r['cost']):,.0f}",
                        r.get("replications", ""),
                        pct(r["p_all_met"]),
                        low(r.get("lower_bound")),
                        r.get("decision", ""),
                        r.get("raised_agent_intervals", 0),
                    )
                    for r in trace
                ],
            )
        )
    return "".join(out)


def _frontier_html(doc: dict[str, Any], cur: str) -> str:
    """``plan --frontier``: the cheapest plan per confidence and per chats per agent."""

    def cells(p: Any) -> tuple[str, ...]:
        if not isinstance(p, dict):
            return ("none scanned reaches it", "", "", "", "")
        low, high = p.get("interval_95") or (float("nan"), float("nan"))
        return (
            f"{as_float(p.get('cost')):,.0f}",
            f"{p.get('headcount')}",
            f"{p.get('subaccounts')}",
            f"{as_float(p.get('p_all_met')):.2f} [{as_float(low):.2f}, {as_float(high):.2f}]",
            f"{as_float(p.get('scale')):.2f}",
        )

    head = (f"cost ({cur})", "agent-shifts", "sub-accounts", "P(all met) [95%]", "scale")
    out = [
        f"<p>Uniform scales of the refined requirement, each covered by the cheapest shifts "
        f"and seats and run on the same {_e(str(doc.get('runs_per_plan')))} seeds (replication "
        f"numbers from {_e(str(doc.get('first_replication')))}, never used by the search). "
        "The share is a point estimate for choosing; the chosen plan's guarantee is "
        "<code>peakdesk plan</code>'s at that confidence.</p>",
        "<h3>Cost against required confidence</h3>",
        _table(
            ("required", *head),
            [(f"{as_float(c['level']):.0%}", *cells(c.get("plan"))) for c in doc["confidence"]],
        ),
    ]
    if doc.get("chats"):
        out += [
            f"<h3>Chats per agent (every target in {as_float(doc.get('required')):.0%} of "
            "runs)</h3>",
            _table(
                ("chats", *head), [(str(c["chats"]), *cells(c.get("plan"))) for c in doc["chats"]]
            ),
        ]
    return "".join(out)


def _guarantee_html(doc: dict[str, Any]) -> str:
    """The held-out figure a manager signs, and the bound the plan was accepted on."""
    g = doc.get("guarantee") or {}
    held = doc.get("held_out")
    parts = []
    if held:
        cls = "ok" if held.get("passed") else "bad"
        parts.append(
            f"<p class={cls}><b>{_e(str(held.get('text', '')))}</b>, on seeds the search "
            f"never used; required {as_float(held.get('required')):.0%}.</p>"
        )
    if g and not is_missing(g.get("lower_bound")):
        parts.append(
            f"<p class=meta>Accepted when the one-sided {as_float(g.get('bound_level')):.0%} "
            f"{_e(str(g.get('bound', '')).replace('_', '-'))} lower bound on P(every target "
            f"kept) reached {as_float(g.get('required')):.0%}; this plan's: "
            f"{as_float(g.get('lower_bound')):.3f}.</p>"
        )
    return "<h3>The guarantee</h3>" + "".join(parts) if parts else ""


def _clients_section(run: RunData) -> str:
    """A centre's clients side by side: targets, work, allocated cost, revenue, margin."""
    from peakdesk.centre.accounts import CLIENT_ROWS

    rows = run.summary.get("clients")
    if not rows:
        return ""
    cur = run.summary.get("currency", "")

    def cell(c: dict[str, Any], key: str, unit: str) -> str:
        e = c[key]
        mean, low, high = (as_float(e.get(k)) for k in ("mean", "low", "high"))
        text = fmt(mean, unit)
        if low == low and high == high and run.replications > 1:
            text += f" [{fmt(low, unit)}, {fmt(high, unit)}]"
        return text

    body = []
    body.append(
        ["clock", *[str(c.get("timezone", "")) for c in rows]],
    )
    for label, key, unit in CLIENT_ROWS:
        body.append([label.format(cur=cur), *[cell(c, key, unit) for c in rows]])
    body.append(
        [
            "P(all its targets met)",
            *[
                "n/a"
                if as_float(c.get("p_all_targets_met")) != as_float(c.get("p_all_targets_met"))
                else f"{as_float(c['p_all_targets_met']):.0%} "
                f"[{as_float(c['p_low']):.0%}, {as_float(c['p_high']):.0%}]"
                for c in rows
            ],
        ]
    )
    for c_idx, c in enumerate(rows):
        for t in c.get("targets", []):
            row = [f"{c['client']}: {t['target']}"] + [""] * len(rows)
            row[1 + c_idx] = f"{as_float(t['p_met']):.0%}"
            body.append(row)
    intro = (
        "<p>Each client's targets are scored on its own conversations, with its "
        "platform's rule on its own clock. Labour cost is allocated by handled agent "
        "time: each pool's paid hours are split over the clients by the time its agents "
        "spent writing their replies; revenue is the contract's price per conversation "
        "handled by a person, per billable hour and its monthly fee pro rata; penalties "
        "are the contract's amount per target missed in a run. Means over the runs with "
        "95% intervals.</p>"
    )
    return intro + _table(["", *[str(c["client"]) for c in rows]], body)


def _kpi_section(run: RunData) -> str:
    out = []
    if run.pools:
        measures = list(dict.fromkeys(str(r["measure"]) for r in run.pools))
        pools = list(dict.fromkeys(str(r["pool"]) for r in run.pools))
        by = {(str(r["pool"]), str(r["measure"])): r for r in run.pools}
        rows = []
        for m in measures:
            unit = _kpi_unit(m)
            row: list[Any] = [KPI_LABELS.get(m, m.replace("_", " "))]
            for p in pools:
                r = by.get((p, m))
                row.append("" if r is None else fmt(r.get("mean"), unit))
            rows.append(row)
        out.append("<h3>Per pool (mean over runs)</h3>" + _table(("", *pools), rows))
    if run.agents:
        cols = [k for k in run.agents[0] if k not in ("agent", "agent_id", "pool")]
        out.append(
            f"<details><summary>Per agent, first run ({len(run.agents)} agents)</summary>"
            + _table(
                ("agent", "pool", *[KPI_LABELS.get(c, c.replace("_", " ")) for c in cols]),
                [
                    (a["agent_id"], a["pool"], *[fmt(a[c], _kpi_unit(c)) for c in cols])
                    for a in run.agents
                ],
                left=2,
            )
            + "</details>"
        )
    return "".join(out)


#: KPI column -> words, as CS managers say them.
KPI_LABELS = {
    "agents": "agents online at some time",
    "paid_hours": "paid hours",
    "labour_cost": "labour cost",
    "online_h": "hours online",
    "conversations": "conversations received",
    "replies": "replies sent",
    "response_mean_s": "response time, mean",
    "response_p95_s": "response time, 95th percentile",
    "occupancy": "occupancy (writing / online)",
    "slot_utilisation": "chat slots in use",
    "conversions": "conversions",
    "conversions_lost": "conversions lost",
    "conversations_per_online_hour": "conversations per online hour",
}


def _kpi_unit(name: str) -> str:
    if name.endswith("_s"):
        return "s"
    if name in ("occupancy", "slot_utilisation") or name.endswith("_rate"):
        return "%"
    if name in ("online_h", "paid_hours", "conversations_per_online_hour"):
        return "x"
    if "cost" in name:
        return "$"
    return "n"


def _reproduce(run: RunData) -> str:
    """How to get the same numbers again."""
    numbers = run.summary.get("replication_numbers") or []
    span = f"{numbers[0]}-{numbers[-1]}" if numbers else "?"
    if run.plan is not None:
        return (
            f"The figures are the plan's verification: its shifts (shifts.csv) simulated on "
            f"seed {run.seed}, replications {span}. The same scenario file and seed give the "
            "same plan and the same figures."
        )
    return (
        f"The same scenario file, seed {run.seed} and {run.replications} replications "
        "give the same figures."
    )


def render(run: RunData, figures: dict[str, Figure] | None = None) -> str:
    """The report as one HTML document (figures embedded).

    Parameters
    ----------
    run
        The run.
    figures
        Its figures, if the caller already drew them (to save them as files
        too); default: drawn here and closed after.
    """
    s = run.summary
    cls, status = _overall_status(run)
    title = f"peakdesk report: {run.scenario}"
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(run.scenario)}</h1>",
        f"<p class=meta>{'Staffing plan' if run.plan is not None else 'Simulation'} · "
        f"seed {run.seed} · {run.replications} replication{'s' * (run.replications > 1)} · "
        f"start {_e(s.get('start', ''))} ({_e(s.get('timezone', ''))}) · "
        f"peakdesk {_e(run.version)} · scenario file {_e(s.get('scenario_file', ''))}</p>",
        f'<p><span class="status {cls}">{_e(status)}</span></p>',
        _cards(run),
        "<h2>Targets: how sure we are</h2>",
        _targets_section(run),
    ]
    clients = _clients_section(run)
    if clients:
        parts += ["<h2>Clients</h2>", clients]
    if run.plan is not None:
        parts += ["<h2>The plan and what it costs</h2>", _plan_section(run)]
        front = run.plan.plan.get("frontier")
        if isinstance(front, dict) and front.get("scan"):
            parts += ["<h2>Trade-offs</h2>", _frontier_html(front, s.get("currency", ""))]
    drawn = draw_figures(run) if figures is None else figures
    if drawn:
        parts.append("<h2>Figures</h2>")
        for name, fig in drawn.items():
            uri = _png_uri(fig)
            if figures is None:
                plt.close(fig)
            caption = CAPTIONS.get(name, "")
            parts.append(
                f'<figure id="fig-{_e(name)}"><img src="{uri}" alt="{_e(caption or name)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    parts += [
        "<h2>Headline figures</h2>",
        _summary_section(run),
    ]
    kpis = _kpi_section(run)
    if kpis:
        parts += ["<h2>Pools and agents</h2>", kpis]
    parts += [
        "<h2>Assumptions</h2><ul class=assume>",
        *[f"<li>{_e(a)}</li>" for a in ASSUMPTIONS],
        "</ul>",
        "<h2>Scenario as run</h2>",
        f"<details><summary>The scenario file "
        f"({len(run.scenario_text.splitlines())} lines, as run)</summary>"
        f"<pre>{_e(run.scenario_text)}</pre></details>"
        if run.scenario_text
        else "<p>The scenario file was not saved with this run.</p>",
        f"<p class=meta>Made by peakdesk {_e(run.version)}. {_reproduce(run)}</p>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def write_report(run: RunData, path: Path, figures: dict[str, Figure] | None = None) -> Path:
    """Write the HTML report atomically (``figures``: see :func:`render`); return its path."""
    text = render(run, figures)
    with atomic_write(path) as fh:
        fh.write(text)
    return path
