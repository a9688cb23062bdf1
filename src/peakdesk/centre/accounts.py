"""Per-client results of a centre's run: conversations, targets, cost, revenue, margin.

Cost is allocated by handled agent time: each pool's paid labour is split over
the clients in proportion to the time its agents spent writing their replies
(idle time follows the work it waited for; a pool that wrote nothing in a run
leaves its cost unallocated, and that is reported).  Billable hours are the paid
hours allocated the same way.  Revenue is the contract's price per conversation
handled by a person (bot-resolved ones are the shop's), per billed hour (the
allocated paid hours, or with ``hours_billed = "writing"`` its agents' writing
time), and
its monthly fee pro rata over the horizon (30-day months); penalties are the
contract's amount per target missed in the run.  Every figure is a mean over
replications with a 95% Student-t interval clipped to what it can be (never
below 0, a share never above 1; the margin as it is), but the targets missed and
the penalties, which have a Clopper-Pearson interval over the target-runs (exact
were a run's targets independent; misses of one busy run come together, so it can
be narrow); P(met) has a Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from peakdesk.binomial import wilson_bounds
from peakdesk.experiment.replicate import Estimate, Evaluation
from peakdesk.scenario.centre_info import ClientInfo
from peakdesk.scenario.load import LoadedScenario

#: Seconds in the contract month of ``monthly_fee``.
MONTH_S = 30 * 86400.0

#: The per-client figures as tables show them: label (``{cur}``: the centre's currency),
#: key of :attr:`ClientAccount.figures`, and unit (``n`` count, ``%`` share, ``x`` hours,
#: ``$`` money; :func:`peakdesk.report.text.fmt`'s codes).
CLIENT_ROWS: tuple[tuple[str, str, str], ...] = (
    ("conversations", "conversations", "n"),
    ("handled by a person", "handled", "n"),
    ("abandonment", "abandoned_share", "%"),
    ("writing hours", "writing_hours", "x"),
    ("hours billed (hours_billed)", "billable_hours", "x"),
    ("cost allocated ({cur})", "cost", "$"),
    ("revenue ({cur})", "revenue", "$"),
    ("penalties ({cur})", "penalties", "$"),
    ("margin ({cur})", "margin", "$"),
)


@dataclass(frozen=True)
class ClientAccount:
    """One client over the replications.

    Attributes
    ----------
    client
        Its name.
    figures
        ``conversations``, ``handled`` (by a person), ``abandoned_share``,
        ``writing_hours``, ``billable_hours``, ``cost``, ``revenue``,
        ``penalties``, ``margin``, ``targets_missed``: per-run values' estimates.
    p_all_met, p_low, p_high
        Share of runs keeping every target of the client, with its Wilson 95%
        interval (``nan`` without targets).
    targets
        Per target of the client: its text (without the scope) and P(met).
    """

    client: str
    figures: dict[str, Estimate]
    p_all_met: float
    p_low: float
    p_high: float
    targets: tuple[tuple[str, float], ...]


def client_accounts(loaded: LoadedScenario, ev: Evaluation) -> list[ClientAccount]:
    """Each client's account over the runs of ``ev`` (a centre's simulation)."""
    centre = loaded.centre
    if centre is None:
        return []
    horizon = loaded.spec.calendar.horizon
    z = 1.959963984540054
    out = []
    for rep in ev.replications:
        if rep.work is None:
            raise ValueError("a run carries no work by type; simulate the centre again")
    for c in centre.clients:
        rows: dict[str, list[float]] = {k: [] for _, k, _ in CLIENT_ROWS}
        rows["targets_missed"] = []
        met_all = []
        n_targets = 0
        per_target: dict[str, list[bool]] = {}
        idx = list(c.types)
        for rep in ev.replications:
            w = rep.work
            assert w is not None
            used = w.writing_s.sum(axis=1)
            share = np.divide(
                w.writing_s[:, idx].sum(axis=1), used, out=np.zeros_like(used), where=used > 0
            )
            hours = float((w.paid_hours * share).sum())
            cost = float((w.paid_hours * w.hourly_cost * share).sum())
            conv = float(w.conversations[idx].sum())
            handled = float(w.human[idx].sum())
            mine = [t for t in rep.targets if t.target.client == c.name]
            n_targets = len(mine)
            missed = sum(not t.met for t in mine)
            writing_h = float(w.writing_s[:, idx].sum()) / 3600.0
            billed = writing_h if c.hours_billed == "writing" else hours
            revenue = (
                c.price_per_conversation * handled
                + c.price_per_hour * billed
                + c.monthly_fee * horizon / MONTH_S
            )
            penalty = c.penalty_per_missed_target * missed
            rows["conversations"].append(conv)
            rows["handled"].append(handled)
            # Of the buyers who waited for a person, as the run summary counts it.
            waited = conv - float(w.bot[idx].sum())
            rows["abandoned_share"].append(
                float(w.abandoned[idx].sum()) / waited if waited else math.nan
            )
            rows["writing_hours"].append(writing_h)
            rows["billable_hours"].append(billed)
            rows["cost"].append(cost)
            rows["revenue"].append(revenue)
            rows["penalties"].append(penalty)
            rows["margin"].append(revenue - cost - penalty)
            rows["targets_missed"].append(float(missed))
            if mine:
                met_all.append(missed == 0)
            for t in mine:
                per_target.setdefault(t.target.text, []).append(t.met)
        n = len(met_all)
        k = sum(met_all)
        lo, hi = wilson_bounds(k, n, z) if n else (math.nan, math.nan)
        figures = {name: _figure(name, v) for name, v in rows.items()}
        if n_targets:
            figures.update(_missed(rows["targets_missed"], n_targets, c))
        out.append(
            ClientAccount(
                client=c.name,
                figures=figures,
                p_all_met=k / n if n else math.nan,
                p_low=lo,
                p_high=hi,
                targets=tuple(
                    (text.split("]", 1)[1].strip(), sum(v) / len(v))
                    for text, v in per_target.items()
                ),
            )
        )
    return out


def _figure(name: str, values: list[float]) -> Estimate:
    """A client figure's estimate, its t interval clipped to what the figure can be.

    Every figure but the margin is a count, hours, money or a share: never below
    0 (a symmetric interval from runs that mostly pay no penalty read
    "penalties 5,000 [-8,882, 18,882]"), and a share never above 1.
    """
    e = Estimate.of(np.asarray(values, dtype=np.float64))
    if name == "margin":
        return e
    return e.within(0.0, 1.0 if name == "abandoned_share" else math.inf)


def _missed(missed: list[float], targets: int, client: ClientInfo) -> dict[str, Estimate]:
    """Targets missed a run and the penalties they cost, with exact intervals.

    Of ``runs x targets`` target-runs, ``K`` were missed: the Clopper-Pearson 95%
    interval of the share missed, times the client's targets, bounds the targets
    missed a run (within ``[0, targets]``, exact where a t interval of mostly-zero
    runs is not), and times the penalty per target, the penalties.  (The targets
    of one run are taken as separate trials: with several targets missed together
    the interval is somewhat narrow.)
    """
    runs = len(missed)
    total = round(sum(missed))
    trials = runs * targets
    share_lo = float(stats.beta.ppf(0.025, total, trials - total + 1)) if total > 0 else 0.0
    share_hi = float(stats.beta.ppf(0.975, total + 1, trials - total)) if total < trials else 1.0
    mean = total / runs if runs else math.nan
    out = {}
    for name, scale in (
        ("targets_missed", float(targets)),
        ("penalties", targets * client.penalty_per_missed_target),
    ):
        m = mean if name == "targets_missed" else mean * client.penalty_per_missed_target
        out[name] = Estimate(m, share_lo * scale, share_hi * scale, runs, 0.95)
    return out


def unallocated_cost(ev: Evaluation) -> Estimate:
    """Labour of pools that wrote no reply in a run (no client to bill it to)."""
    vals = []
    for rep in ev.replications:
        w = rep.work
        if w is None:
            continue
        used = w.writing_s.sum(axis=1)
        vals.append(float(((used == 0) * w.paid_hours * w.hourly_cost).sum()))
    return Estimate.of(np.asarray(vals, dtype=np.float64))


def clients_json(loaded: LoadedScenario, ev: Evaluation) -> list[dict[str, object]] | None:
    """The client accounts as JSON-ready data (None: not a centre)."""
    if loaded.centre is None:
        return None
    out: list[dict[str, object]] = []
    for a, c in zip(client_accounts(loaded, ev), loaded.centre.clients, strict=True):
        out.append(
            {
                "client": a.client,
                "timezone": c.timezone,
                "types": [loaded.spec.inquiry_types[t].name for t in c.types],
                "seat_limit": c.seat_limit,
                "p_all_targets_met": a.p_all_met,
                "p_low": a.p_low,
                "p_high": a.p_high,
                "targets": [{"target": t, "p_met": p} for t, p in a.targets],
                **{k: {"mean": e.mean, "low": e.low, "high": e.high} for k, e in a.figures.items()},
            }
        )
    return out
