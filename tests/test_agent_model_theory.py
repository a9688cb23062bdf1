"""The engine's agent models against exact theory that shares none of its code.

What is compared
----------------
* **Parallel pools** (``discipline = "parallel"``, ``patience_until =
  "assignment"``, withdrawal): with one buyer message per conversation and
  exponential compose times, an agent holding ``k`` chats completes each at
  rate ``1 / (c mult[k])``; least-loaded routing, one FIFO queue, reneging at
  rate ``theta`` while queued.  That is a continuous-time Markov chain on the
  multiset of per-agent counts and the queue length
  (:mod:`oracles.parallel_chain`, solved with a sparse LU).  Grid: concurrency
  1-5, loads 0.6, 0.9 and 1.3 of the full-concurrency capacity, patience of
  0.2, 1 and 5 handle times, three agents with 10% slowdown per extra chat.
  Plus the silent variant (abandoners stay and are answered) and a team of 12
  with a flat multiplier against :func:`peakdesk.analytic.chat.chat_metrics`,
  which is then exact.
* **Sequential pools** (the default): each agent writes one reply at a time,
  the oldest first, its compose time fixed at the start by the chats held
  then.  The exact chain has each agent's (chats held, concurrency at the
  start of the reply being written) as state, in order of last change (the
  least-loaded tie-break), plus the queue (:mod:`oracles.sequential_chain`):
  2-4 agents, caps 2-4, patience until the reply is started
  (``patience_until = "first_reply"``) or until assignment.
* **Sequential equals parallel at concurrency 1** (same law), two samples.

Method
------
Each point runs ``R`` replications (fixed seeds, chosen once, not tuned) of
a flat Poisson stream from an empty start; arrivals in the first 10% of the
horizon are warm-up.  Per replication each measure is an average over the
kept arrivals (time-average for slot utilisation), so the ``R`` values are
independent; a Student-t interval is built per measure.  The intervals are
*simultaneous* 99% intervals over the whole file's grid (Bonferroni: each at
``1 - 0.01 / checks``), so a correct engine fails some check of a grid with
probability at most 1%; each interval is also checked for width, so none
passes by being uninformative.

Estimators (per kept arrival): P(wait) = not taken by an agent at once
(PASTA: every slot was taken); P(abandon) = withdrawn; mean wait = time until
taken, or until the buyer left; for sequential pools also the mean time until
the first reply is *started* (reply time minus compose time), or until the
buyer left.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from conftest import ENGINES, base_dict, loaded, on_engine
from oracles.forward_equations import Phase, forward_equations
from oracles.parallel_chain import parallel_chain
from oracles.sequential_chain import sequential_chain
from peakdesk.analytic.chat import chat_metrics
from peakdesk.engine.intervals import interval_table, level_integral
from peakdesk.engine.log import ChatLog

#: Replaced for each test by the one of its engine (see :func:`engine`).
simulate = on_engine("compiled")


@pytest.fixture(autouse=True, params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both engines: ``simulate`` plays the one of the test."""
    monkeypatch.setattr(sys.modules[__name__], "simulate", on_engine(request.param))
    return str(request.param)


COMPOSE_S = 60.0
WARMUP = 0.1
FAMILY = 0.01  # simultaneous miss probability over each test's checks


def _mult(m: int, slowdown: float) -> list[float]:
    return [1.0 + slowdown * k for k in range(m)]


@dataclass(frozen=True)
class _Measure:
    """Per replication: the estimators over arrivals after the warm-up (picklable)."""

    warm_s: float
    end_s: float
    slots: int

    def __call__(self, log: ChatLog) -> dict[str, float]:
        w = log.workload
        arr = w.arrival_s
        keep = (arr >= self.warm_s) & (arr < self.end_s)
        first = w.msg_offset[:-1]
        taken = ~np.isnan(log.assign_s)
        left = np.where(log.withdrawn, log.abandon_s, np.nan)
        wait_assign = np.where(taken, log.assign_s, left) - arr
        reply = log.reply_time_s[first]
        started = reply - log.reply_compose_s[first]
        wait_start = np.where(np.isnan(reply), left, started) - arr
        edges = np.array([self.warm_s, self.end_s])
        ends = np.where(np.isnan(log.hold_end_s), np.inf, log.hold_end_s)
        held = np.diff(level_integral(log.hold_start_s, np.minimum(ends, 1e300), edges))[0]
        return {
            "p_wait": float(np.mean(~(log.assign_s[keep] <= arr[keep]))),
            "p_abandon": float(np.mean(log.withdrawn[keep])),
            "mean_wait_s": float(np.mean(wait_assign[keep])),
            "mean_wait_reply_start_s": float(np.mean(wait_start[keep])),
            "slot_utilisation": float(held / (self.end_s - self.warm_s) / self.slots),
            "abandoned": float(np.mean(log.abandoned[keep])),
        }


def _run(
    *,
    discipline: str,
    n: int,
    m: int,
    lam: float,
    mult: list[float],
    patience_s: float | None,
    until: str,
    withdraw: bool,
    arrivals: int,
    reps: int,
    seed: int,
    messages: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Replications of one stationary point; each measure's values over replications.

    One 24-hour shift a day keeps ``n`` agents on; arrivals stop at least two
    hours before the last shift ends, so every chat is settled before the agents go.
    """
    horizon_s = arrivals / lam
    day_end = math.ceil(horizon_s / 86400.0) * 86400.0
    if day_end - horizon_s < 7200.0:
        horizon_s = day_end - 7200.0
    d = base_dict()
    d["calendar"]["horizon"] = f"{horizon_s:.3f}s"
    d["demand"] = {"profile": "flat", "volume_per_day": lam * 86400.0}
    typ = d["inquiry_types"][0]
    typ["compose_time"] = {"dist": "exponential", "mean": f"{COMPOSE_S}s"}
    typ["patience"] = (
        {"dist": "none"}
        if patience_s is None
        else {"dist": "exponential", "mean": f"{patience_s:.6f}s"}
    )
    typ["answer_after_abandon"] = not withdraw
    typ["patience_until"] = until
    if messages is not None:
        typ["messages"] = messages
        typ["think_time"] = {"dist": "exponential", "mean": "40s"}
    pool = d["pools"][0]
    pool.update(
        max_concurrency=m,
        compose_multiplier_by_concurrency=mult,
        discipline=discipline,
        # Agents stay on long after the last arrival: the queue drains, nothing is cut.
        shifts=[{"start": "00:00", "length": "24h", "agents": n}],
    )
    d["subaccounts"] = {"count": n}
    d["simulation"]["seed"] = seed
    measure = _Measure(WARMUP * horizon_s, horizon_s, n * m)
    ev = simulate(loaded(d), replications=reps, keep_logs=False, measure=measure, workers=2)
    rows = [r.extra for r in ev.replications]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    r = values.size
    mean = float(values.mean())
    half = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, r - 1) * values.std(ddof=1) / math.sqrt(r))
    return mean, mean - half, mean + half


def _check(
    failures: list[str],
    label: str,
    name: str,
    values: np.ndarray,
    truth: float,
    level: float,
    time_scale: float | None = None,
) -> None:
    """The truth inside the simultaneous interval, and the interval narrow enough to mean it.

    Widths allowed: 0.07 for a probability; for a mean time (``time_scale``
    given, the handle time) 8% of the handle time or 12% of the value, whichever
    is larger (near capacity with long patience the queue swings widely).
    """
    mean, lo, hi = _interval(values, level)
    # Values that are exactly constant over replications (P(wait) = 0 at a light load)
    # must equal the truth to within what the chain rounds to.
    if hi - lo == 0.0:
        lo, hi = mean - 1e-3, mean + 1e-3
    if not lo <= truth <= hi:
        failures.append(f"{label} {name}: theory {truth:.5g} outside [{lo:.5g}, {hi:.5g}]")
    max_half = 0.07 if time_scale is None else max(0.08 * time_scale, 0.12 * truth)
    if (hi - lo) / 2.0 > max_half:
        failures.append(f"{label} {name}: interval half-width {(hi - lo) / 2:.3g} > {max_half:.3g}")


# --------------------------------------------------------------------------- parallel

PAR_GRID = [
    (m, rho, ratio) for m in (1, 2, 3, 4, 5) for rho in (0.6, 0.9, 1.3) for ratio in (0.2, 1.0, 5.0)
]
PAR_MEASURES = ("p_wait", "p_abandon", "mean_wait_s", "slot_utilisation")


def test_parallel_pool_is_the_exact_per_agent_chain() -> None:
    """45 points: the engine inside simultaneous 99% intervals of the exact chain."""
    n, slowdown = 3, 0.1
    level = 1.0 - FAMILY / (len(PAR_GRID) * len(PAR_MEASURES))
    failures: list[str] = []
    for k, (m, rho, ratio) in enumerate(PAR_GRID):
        mult = _mult(m, slowdown)
        handle = COMPOSE_S * mult[-1]
        lam = rho * n * m / handle
        patience = ratio * handle
        truth = parallel_chain(lam, n, m, COMPOSE_S, mult, 1.0 / patience)
        sim = _run(
            discipline="parallel",
            n=n,
            m=m,
            lam=lam,
            mult=mult,
            patience_s=patience,
            until="assignment",
            withdraw=True,
            arrivals=5000,
            reps=20,
            seed=1000 + k,
        )
        label = f"m={m} rho={rho} patience/handle={ratio}"
        for name in PAR_MEASURES:
            value = getattr(truth, name)
            scale = handle if name == "mean_wait_s" else None
            _check(failures, label, name, sim[name], value, level, scale)
    assert not failures, "\n".join(failures)


def test_parallel_silent_abandonment_is_the_chain_without_reneging() -> None:
    """Abandoners stay and are answered: the queue is M/M/nm-like, the label P(W > patience)."""
    n, slowdown = 3, 0.1
    # Without reneging the queue near capacity is slow to settle: loads up to 0.85.
    points = [(2, 0.8, 1.0), (3, 0.85, 0.5), (4, 0.85, 2.0)]
    level = 1.0 - FAMILY / (len(points) * 3)
    failures: list[str] = []
    for k, (m, rho, ratio) in enumerate(points):
        mult = _mult(m, slowdown)
        handle = COMPOSE_S * mult[-1]
        lam = rho * n * m / handle
        patience = ratio * handle
        truth = parallel_chain(lam, n, m, COMPOSE_S, mult, 1.0 / patience, silent=True)
        sim = _run(
            discipline="parallel",
            n=n,
            m=m,
            lam=lam,
            mult=mult,
            patience_s=patience,
            until="assignment",
            withdraw=False,
            arrivals=8000,
            reps=30,
            seed=2000 + k,
        )
        label = f"silent m={m} rho={rho}"
        assert truth.p_abandon_silent is not None
        _check(failures, label, "abandoned", sim["abandoned"], truth.p_abandon_silent, level)
        _check(failures, label, "p_wait", sim["p_wait"], truth.p_wait, level)
        _check(failures, label, "mean_wait_s", sim["mean_wait_s"], truth.mean_wait_s, level, handle)
    assert not failures, "\n".join(failures)


def test_parallel_team_with_flat_multiplier_is_the_analytic_chat_model() -> None:
    """12 agents, no slowdown: the engine against peakdesk.analytic.chat directly."""
    n = 12
    points = [(3, 0.9, 1.0), (5, 1.1, 0.5)]
    level = 1.0 - FAMILY / (len(points) * 4)
    failures: list[str] = []
    for k, (m, rho, ratio) in enumerate(points):
        handle = COMPOSE_S
        lam = rho * n * m / handle
        patience = ratio * handle
        model = chat_metrics(lam, n, m, handle, patience, 0.0)
        sim = _run(
            discipline="parallel",
            n=n,
            m=m,
            lam=lam,
            mult=[1.0] * m,
            patience_s=patience,
            until="assignment",
            withdraw=True,
            arrivals=6000,
            reps=20,
            seed=3000 + k,
        )
        label = f"n=12 m={m} rho={rho}"
        for name, truth in (
            ("p_wait", model.p_wait),
            ("p_abandon", model.p_abandon),
            ("mean_wait_s", model.mean_wait_s),
            ("slot_utilisation", model.slot_utilisation),
        ):
            scale = handle if name == "mean_wait_s" else None
            _check(failures, label, name, sim[name], truth, level, scale)
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- sequential

SEQ_GRID = [
    (n, m, rho, until)
    for n, m in ((2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (4, 2))
    for rho in (0.7, 1.2)
    for until in ("reply_start", "assignment")
]
SEQ_MEASURES = ("p_wait", "p_abandon", "mean_wait_s", "mean_wait_reply_start_s")


def test_sequential_pool_is_the_exact_per_agent_chain() -> None:
    """24 points: small teams, both patience semantics, with slowdown."""
    slowdown = 0.15
    level = 1.0 - FAMILY / (len(SEQ_GRID) * len(SEQ_MEASURES))
    failures: list[str] = []
    for k, (n, m, rho, until) in enumerate(SEQ_GRID):
        mult = _mult(m, slowdown)
        reply = COMPOSE_S * mult[-1]
        lam = rho * n / reply  # one reply at a time: an agent's capacity is 1 / reply
        patience = 2.0 * reply
        truth = sequential_chain(lam, n, m, COMPOSE_S, mult, 1.0 / patience, until=until)
        sim = _run(
            discipline="sequential",
            n=n,
            m=m,
            lam=lam,
            mult=mult,
            patience_s=patience,
            until="first_reply" if until == "reply_start" else "assignment",
            withdraw=True,
            arrivals=4000,
            reps=20,
            seed=4000 + k,
        )
        label = f"n={n} m={m} rho={rho} until={until}"
        for name, truth_value in (
            ("p_wait", truth.p_wait),
            ("p_abandon", truth.p_abandon),
            ("mean_wait_s", truth.mean_wait_assign_s),
            ("mean_wait_reply_start_s", truth.mean_wait_reply_start_s),
        ):
            scale = reply if name.startswith("mean") else None
            _check(failures, label, name, sim[name], truth_value, level, scale)
    assert not failures, "\n".join(failures)


def test_sequential_and_parallel_are_the_same_law_at_concurrency_one() -> None:
    """One chat per agent: writing one reply at a time or 'all' at once is the same agent.

    Multi-message conversations (think time between), silent abandonment: the two
    disciplines on independent seeds; a two-sample t-test per measure at the
    simultaneous 99% level.
    """
    common: dict[str, Any] = dict(
        n=4,
        m=1,
        lam=4 * 0.85 / (COMPOSE_S * 3),
        mult=[1.0],
        patience_s=3 * COMPOSE_S,
        until="first_reply",
        withdraw=False,
        arrivals=3000,
        reps=20,
        messages={"dist": "geometric", "mean": 3.0},
    )
    seq = _run(discipline="sequential", seed=5001, **common)
    par = _run(discipline="parallel", seed=5002, **common)
    names = ("p_wait", "abandoned", "mean_wait_s", "mean_wait_reply_start_s", "slot_utilisation")
    for name in names:
        res = stats.ttest_ind(seq[name], par[name], equal_var=False)
        assert res.pvalue > FAMILY / len(names), (name, seq[name].mean(), par[name].mean())
    # And the test can tell: the same comparison at concurrency 3 (where parallel is faster).
    common3 = {**common, "m": 3, "mult": [1.0, 1.1, 1.2], "lam": 4 * 1.1 / (COMPOSE_S * 3)}
    seq3 = _run(discipline="sequential", seed=5003, **common3)
    par3 = _run(discipline="parallel", seed=5004, **common3)
    res3 = stats.ttest_ind(seq3["mean_wait_reply_start_s"], par3["mean_wait_reply_start_s"])
    assert res3.pvalue < 1e-6


@pytest.mark.parametrize("n", [3, 12])
def test_analytic_chat_and_the_per_agent_chain_with_slowdown(n: int) -> None:
    """How far the analytic model's idealised even spread is from least-loaded routing.

    With 10% slowdown per extra chat, over concurrency 2-5, loads 0.6-1.3 and
    patience 0.2-5 handle times, the two differ by at most 4.6e-3 in P(wait),
    P(abandon) and slot utilisation (measured: 3.9e-3 with 3 agents, 4.5e-3 with
    12); with a flat multiplier they are equal (the split over agents does not
    matter when every chat completes at the same rate).
    """
    worst = 0.0
    for m in (2, 3, 4, 5):
        mult = _mult(m, 0.1)
        handle = [COMPOSE_S * x for x in mult]
        for rho in (0.6, 0.9, 1.3):
            for ratio in (0.2, 1.0, 5.0):
                lam = rho * n * m / handle[-1]
                patience = ratio * handle[-1]
                exact = parallel_chain(lam, n, m, COMPOSE_S, mult, 1.0 / patience)
                model = chat_metrics(lam, n, m, handle, patience, 0.0)
                for name in ("p_wait", "p_abandon", "slot_utilisation"):
                    worst = max(worst, abs(getattr(exact, name) - getattr(model, name)))
                flat = parallel_chain(lam, n, m, COMPOSE_S, [1.0] * m, 1.0 / patience)
                flat_model = chat_metrics(lam, n, m, COMPOSE_S, patience, 0.0)
                assert flat.p_wait == pytest.approx(flat_model.p_wait, rel=1e-9, abs=1e-12)
                assert flat.p_abandon == pytest.approx(flat_model.p_abandon, rel=1e-9, abs=1e-12)
    assert 1e-4 < worst < 4.6e-3


# --------------------------------------------------------------------------- time-varying

TV_MU = 1.0 / 240.0  # per second: 4-minute exponential replies, one chat per agent
TV_THETA = 1.0 / 300.0  # 5-minute exponential patience, until an agent takes the chat
TV_INTERVAL_S = 1800.0
TV_HORIZON_S = 8 * 3600.0


def _tv_scenario(
    tmp_path: Path, shifts: list[tuple[str, str, int]], shift_end: str, load: list[float]
) -> tuple[Any, np.ndarray]:
    """A forecast-CSV scenario whose rate per 15-min bin is ``load[h] * s(t) * mu``.

    ``load`` is per hour; ``s(t)`` the agents the shifts keep on in that bin.
    """
    bin_s = 900.0
    n_bins = int(TV_HORIZON_S / bin_s)
    mid = (np.arange(n_bins) + 0.5) * bin_s
    staff = np.zeros(n_bins)
    for start, length, agents in shifts:
        t0 = float(start.split(":")[0]) * 3600.0
        t1 = t0 + float(length.rstrip("h")) * 3600.0
        staff += agents * ((mid >= t0) & (mid < t1))
    lam = np.array([load[int(t // 3600.0)] for t in mid]) * staff * TV_MU
    start_dt = dt.datetime(2026, 11, 10)
    rows = ["interval_start,conversations"] + [
        f"{(start_dt + dt.timedelta(seconds=bin_s * k)).isoformat()},{lam[k] * bin_s:.9f}"
        for k in range(n_bins)
    ]
    csv = tmp_path / "forecast.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = base_dict(demand={"profile": "csv", "forecast": str(csv)})
    d["calendar"]["horizon"] = "8h"
    d["calendar"]["interval"] = "30min"
    typ = d["inquiry_types"][0]
    typ["compose_time"] = {"dist": "exponential", "mean": f"{1 / TV_MU:g}s"}
    typ["patience"] = {"dist": "exponential", "mean": f"{1 / TV_THETA:g}s"}
    typ["answer_after_abandon"] = False
    typ["patience_until"] = "assignment"
    pool = d["pools"][0]
    pool.update(
        max_concurrency=1,
        shift_end=shift_end,
        shifts=[{"start": s, "length": ln, "agents": a} for s, ln, a in shifts],
    )
    if shift_end == "log_off":
        pool["shift_end_grace"] = "10min"
    d["subaccounts"] = {"count": 100}
    d["simulation"]["seed"] = 61
    return loaded(d), lam


@dataclass(frozen=True)
class _PerInterval:
    """Per replication and reporting interval: arrivals, arrivals that waited, mean queue."""

    def __call__(self, log: ChatLog) -> dict[str, np.ndarray]:
        n = int(TV_HORIZON_S / TV_INTERVAL_S)
        k = np.floor(log.workload.arrival_s / TV_INTERVAL_S).astype(np.int64)
        inside = k < n
        waited = ~(log.assign_s <= log.workload.arrival_s)
        table = interval_table(log, TV_INTERVAL_S)
        return {
            "arrivals": np.bincount(k[inside], minlength=n).astype(float),
            "waited": np.bincount(k[inside], weights=waited[inside], minlength=n),
            "queue": table.queue[:n],
            "online": table.agents_online[:n],
        }


def _ratio_interval(num: np.ndarray, den: np.ndarray, level: float) -> tuple[float, float, float]:
    """Ratio of sums over replications with its delta-method Student-t interval."""
    r = num.size
    p = float(num.sum() / den.sum())
    resid = num - p * den
    se = math.sqrt(float(np.sum(resid**2)) / (r * (r - 1))) / float(den.mean())
    half = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, r - 1)) * se
    return p, p - half, p + half


def _check_time_varying(ls: Any, truth: Any, reps: int, measures: tuple[str, ...]) -> list[str]:
    ev = simulate(ls, replications=reps, keep_logs=False, measure=_PerInterval(), workers=2)
    rows = [r.extra for r in ev.replications]
    n = int(TV_HORIZON_S / TV_INTERVAL_S)
    level = 1.0 - FAMILY / (n * len(measures))
    failures: list[str] = []
    for k in range(n):
        label = f"interval {k} ({k * TV_INTERVAL_S / 3600:.1f} h)"
        for name in measures:
            if name == "p_delay":
                num = np.array([r["waited"][k] for r in rows])
                den = np.array([r["arrivals"][k] for r in rows])
                _mean, lo, hi = _ratio_interval(num, den, level)
                value, max_half = float(truth.p_delay[k]), 0.07
            else:
                vals = np.array([r[name][k] for r in rows])
                _mean, lo, hi = _interval(vals, level)
                value = float(truth.mean_queue[k] if name == "queue" else truth.online[k])
                max_half = max(0.4, 0.15 * value)
            if not lo <= value <= hi:
                failures.append(f"{label} {name}: theory {value:.4g} outside [{lo:.4g}, {hi:.4g}]")
            if (hi - lo) / 2.0 > max_half:
                failures.append(f"{label} {name}: half-width {(hi - lo) / 2:.3g} > {max_half:.3g}")
    return failures


def test_hand_back_follows_the_forward_equations(tmp_path: Path) -> None:
    """M_t/M/s_t+M: staffing up and down at hour edges, chats handed back at shift ends.

    Agents on: 6 (0-1 h), 10 (1-3 h), 9 (3-5 h, as the first shift leaves and the
    third comes), 8 (5-8 h); demand 0.9 of capacity, 1.3 in the third hour, 0.6 in
    the seventh.
    """
    shifts = [("00:00", "3h", 6), ("01:00", "4h", 4), ("03:00", "5h", 5), ("05:00", "3h", 3)]
    ls, lam = _tv_scenario(tmp_path, shifts, "hand_back", [0.9, 0.9, 1.3, 0.9, 0.9, 0.9, 0.6, 0.9])
    phases = [
        Phase(0.0, 6, "hand_back"),
        Phase(3600.0, 10, "hand_back"),
        Phase(3 * 3600.0, 9, "hand_back"),
        Phase(5 * 3600.0, 8, "hand_back"),
    ]
    truth = forward_equations(
        lam, 900.0, TV_MU, TV_THETA, phases, interval_s=TV_INTERVAL_S, end_s=TV_HORIZON_S
    )
    failures = _check_time_varying(ls, truth, 200, ("p_delay", "queue"))
    assert not failures, "\n".join(failures)


def test_log_off_with_grace_follows_the_forward_equations(tmp_path: Path) -> None:
    """Four two-hour shifts hand over to each other; leaving agents get 10 minutes to finish.

    Also the agents online: the leaving agents still busy in their grace count.
    """
    shifts = [("00:00", "2h", 8), ("02:00", "2h", 6), ("04:00", "2h", 9), ("06:00", "2h", 7)]
    ls, lam = _tv_scenario(tmp_path, shifts, "log_off", [0.95] * 8)
    phases = [
        Phase(0.0, 8, "handover"),
        Phase(2 * 3600.0, 6, "handover", 600.0),
        Phase(4 * 3600.0, 9, "handover", 600.0),
        Phase(6 * 3600.0, 7, "handover", 600.0),
    ]
    truth = forward_equations(
        lam, 900.0, TV_MU, TV_THETA, phases, interval_s=TV_INTERVAL_S, end_s=TV_HORIZON_S
    )
    failures = _check_time_varying(ls, truth, 200, ("p_delay", "queue", "online"))
    assert not failures, "\n".join(failures)
