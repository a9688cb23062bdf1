"""Invariants of the agent-model choices on seeded random scenarios.

Each of ``N_CASES`` cases draws (numpy ``default_rng``, fixed seed) a small
scenario over the agent-model choices: the first pool cycles through discipline
(sequential, parallel) x shift end (drain, hand_back, log_off with a grace of
0-10 min), a second pool is drawn; the first inquiry type cycles through
patience until (first_reply, assignment) x answer_after_abandon, one or two more
are drawn; concurrency 1-4 with a slowdown or a multiplier list, idle
auto-close on or off, wrap-up, bots, two to five shifts per pool with staggered
starts and ends and staggered breaks, sometimes fewer sub-accounts than agents,
one case in five past midnight with a 24 h shift followed at once by the next
day's; geometric message counts, exponential or log-normal times, a few
hundred conversations.  A few hand-built traces (``HAND_BUILT``) take the
paths random scenarios seldom do.  Every case is played once and must satisfy:

* every human conversation ends in exactly one state: *closed* (its last hold
  spell ended at ``close_s``, every message it sent was answered, and it ran
  to its last message unless its buyer abandoned, in which case only the
  first was sent), *withdrawn*, or *still queued* (never taken and not
  withdrawn, or in an open requeue spell, with exactly one message -- its
  last sent -- unanswered); none is held at the end;
* no wait in a queue (the first one, or after a reopening or a hand-back)
  overlaps a time of positive length when an eligible agent was online, inside
  a scheduled segment and below its cap -- so a conversation still queued at
  the end is one that no agent free to take it saw;
* replies follow their messages and the conversation's previous reply, take
  time (``reply_compose_s > 0``), and are written by the agent holding the
  conversation while it was online; sequential agents write one at a time;
  compose times follow the discipline (sequential: base x factor x a
  multiplier for at most the chats held around the start; parallel: the work
  integrated at rate ``1 / multiplier[k - 1]`` over the writing equals base x
  factor), except for conversations handed back;
* holding never exceeds the pool's cap; a conversation is held by one agent at
  a time and never while queued; requeue spells lie between its first
  assignment and its close; chats of a type handed back at one instant are
  taken again oldest first;
* online agents never exceed the sub-accounts; online spells start inside a
  segment and end at or after the segment end they record, and past it only
  until the agent's last chat ends; ``hand_back`` agents are online only
  inside their segments (so never more than the agents on shift, and no time
  past a shift end), ``log_off`` agents at most the grace past them;
* abandonment and withdrawal follow the type's patience semantics (see
  :func:`test_abandonment_follows_patience_semantics`);
* hand-backs in the log are the requeues that start when a hold spell of a
  non-draining agent ends, and the summary counts them;
* the same seed gives the same log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from conftest import base_dict, loaded, make_workload
from peakdesk.demand.sample import sample_workload
from peakdesk.demand.workload import Workload
from peakdesk.engine.config import EngineConfig
from peakdesk.engine.intervals import peak_level
from peakdesk.engine.log import REPLY_HUMAN, ChatLog
from peakdesk.engine.model import run
from peakdesk.engine.setup import build_config
from peakdesk.engine.summary import RunSummary, summarise
from peakdesk.scenario import Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

N_CASES = 40
#: Slack for times recomputed from others (a reply's start is its end minus its compose time).
EPS = 1e-6


# --------------------------------------------------------------------------- scenarios


def _duration(rng: np.random.Generator, lo: float, hi: float) -> dict[str, Any]:
    mean = f"{rng.uniform(lo, hi):.1f}s"
    if rng.random() < 0.5:
        return {"dist": "exponential", "mean": mean}
    return {"dist": "lognormal", "mean": mean, "cv": round(float(rng.uniform(0.4, 1.5)), 2)}


def _clock(s: float) -> str:
    return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}"


def _shifts(rng: np.random.Generator, horizon_s: float, first: bool) -> list[dict[str, Any]]:
    """Two to five short shifts with staggered starts and ends, most with (staggered) breaks."""
    out = []
    latest = int(min(horizon_s, 86_400.0) // 900)
    for k in range(int(rng.integers(2, 6))):
        start = 0.0 if first and k == 0 else float(rng.integers(0, latest)) * 900.0
        length = float(rng.integers(1, 4 * 4 + 1)) * 900.0  # 15 min to 4 h
        shift: dict[str, Any] = {
            "start": _clock(start),
            "length": f"{length:.0f}s",
            "agents": int(rng.integers(1, 4)),
        }
        if length >= 2700.0 and rng.random() < 0.7:
            brk = float(rng.integers(3, 16)) * 60.0
            stagger = float(rng.integers(0, 3)) * 300.0
            after = float(rng.uniform(300.0, length - brk - stagger - 60.0))
            shift["breaks"] = [
                {"after": f"{after:.0f}s", "length": f"{brk:.0f}s", "stagger": f"{stagger:.0f}s"}
            ]
        out.append(shift)
    return out


#: (discipline, shift end) and (patience until, answer after abandon) choices.
MODELS = [(d, e) for d in ("sequential", "parallel") for e in ("drain", "hand_back", "log_off")]
PATIENCE = [(u, a) for u in ("first_reply", "assignment") for a in (True, False)]


def _scenario(seed: int) -> dict[str, Any]:
    """A random small scenario over the agent-model choices (deterministic in ``seed``)."""
    rng = np.random.default_rng(20_260_000 + seed)
    # One case in five runs past midnight: a 24 h shift is followed at once by the next day's.
    over_midnight = seed % 5 == 4
    horizon_s = 3600.0 * float(rng.integers(25, 28) if over_midnight else rng.integers(3, 7))
    n_types = int(rng.integers(1, 4))
    n_pools = int(rng.integers(1, 3))
    types: list[dict[str, Any]] = []
    for k in range(n_types):
        # The first type cycles through the four patience choices, the others are drawn.
        patience = PATIENCE[seed // 6 % 4] if k == 0 else PATIENCE[int(rng.integers(0, 4))]
        t: dict[str, Any] = {
            "name": f"t{k}",
            "share": round(float(rng.uniform(0.2, 1.0)), 3),
            "priority": int(rng.integers(0, 3)),
            "messages": {"dist": "geometric", "mean": round(float(rng.uniform(1.0, 3.5)), 2)},
            "think_time": _duration(rng, 15.0, 120.0),
            "compose_time": _duration(rng, 20.0, 90.0),
            "patience": {"dist": "none"} if rng.random() < 0.15 else _duration(rng, 30.0, 400.0),
            "patience_until": patience[0],
            "answer_after_abandon": patience[1],
            "bot_resolve": 0.1 if rng.random() < 0.25 else 0.0,
        }
        if rng.random() < 0.5:
            t["wrap_up"] = f"{rng.uniform(5.0, 40.0):.1f}s"
        types.append(t)
    # Every type has at least one pool with its skill, every pool at least one skill.
    skills = rng.random((n_types, n_pools)) < 0.6
    skills[np.arange(n_types), rng.integers(0, n_pools, n_types)] = True
    skills[rng.integers(0, n_types, n_pools), np.arange(n_pools)] = True
    pools: list[dict[str, Any]] = []
    for p in range(n_pools):
        # The first pool cycles through the six agent models, a second one is drawn; a
        # pool working past midnight hands back or logs off (and so carries on).
        model = MODELS[seed % 6] if p == 0 else MODELS[int(rng.integers(0, 6))]
        if over_midnight and p == 0 and model[1] == "drain":
            model = (model[0], "hand_back")
        cap = int(rng.integers(1, 5))
        pool: dict[str, Any] = {
            "name": f"p{p}",
            "skills": {
                f"t{k}": round(float(rng.uniform(0.7, 1.3)), 2)
                for k in range(n_types)
                if skills[k, p]
            },
            "speed": round(float(rng.uniform(0.8, 1.25)), 2),
            "max_concurrency": cap,
            "discipline": model[0],
            "shift_end": model[1],
            "shifts": _shifts(rng, horizon_s, p == 0),
        }
        if pool["shift_end"] == "log_off":
            pool["shift_end_grace"] = f"{rng.uniform(0.0, 600.0):.0f}s"
        if rng.random() < 0.5:
            pool["slowdown_per_extra_chat"] = round(float(rng.uniform(0.0, 0.5)), 2)
        else:
            pool["compose_multiplier_by_concurrency"] = [
                round(float(x), 3) for x in np.cumsum(np.r_[1.0, rng.uniform(0.0, 0.4, cap - 1)])
            ]
        if over_midnight and p == 0:
            pool["shifts"].append({"start": "00:00", "length": "24h", "agents": 1})
        pools.append(pool)
    n_agents = sum(s["agents"] for pool in pools for s in pool["shifts"])
    routing: dict[str, Any] = {
        "policy": str(rng.choice(["least_loaded", "longest_idle", "pool_priority"])),
        "auto_greeting": bool(rng.random() < 0.3),
    }
    if rng.random() < 0.5:
        routing["idle_close"] = f"{rng.uniform(30.0, 150.0):.1f}s"
    conversations = float(rng.uniform(150.0, 350.0))
    return {
        "scenario": {"name": f"random-{seed}"},
        "calendar": {
            "start": dt.datetime(2026, 11, 10, 0, 0),
            "horizon": f"{horizon_s:.0f}s",
            "timezone": "Asia/Shanghai",
            "interval": "15min",
        },
        "demand": {"profile": "flat", "volume_per_day": conversations * 86_400.0 / horizon_s},
        "inquiry_types": types,
        "pools": pools,
        "routing": routing,
        # Sometimes fewer sub-accounts than agents.
        "subaccounts": {"count": int(rng.integers(1, n_agents + 1)) if rng.random() < 0.4 else 100},
        "simulation": {"seed": seed, "replications": 1},
    }


def _pool(**over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"name": "p", "skills": {"q": 1.0}, "max_concurrency": 1}
    p.update(over)
    return p


#: Agent 0 online 00:00-00:10, agent 1 from 00:20 (an hour).
_GAP = [
    {"start": "00:00", "length": "10min", "agents": 1},
    {"start": "00:20", "length": "1h", "agents": 1},
]


def _hand_built() -> dict[str, tuple[dict[str, Any], Workload]]:
    """Small traces through the paths random scenarios seldom take, each found wanting
    (the last three) or worth pinning down; run through the same invariants."""
    out: dict[str, tuple[dict[str, Any], Workload]] = {}
    # B waits in the inbox behind A when agent 0 hands both back at 600 s; B's buyer
    # gives up at 710 s while queued, A is finished by agent 1 from 1200 s.
    d = base_dict(pools=[_pool(shift_end="hand_back", max_concurrency=2, shifts=_GAP)])
    d["inquiry_types"][0]["answer_after_abandon"] = False
    out["withdrawn-after-hand-back"] = (
        d,
        make_workload([300.0, 310.0], [[(0, 400)], [(0, 10)]], patience_s=[math.inf, 400.0]),
    )
    # A parallel agent hands two replies back at a break and finishes them after it.
    brk = [
        {
            "start": "00:00",
            "length": "1h",
            "agents": 1,
            "breaks": [{"after": "10min", "length": "2min"}],
        }
    ]
    d = base_dict(
        pools=[
            _pool(
                shift_end="hand_back",
                discipline="parallel",
                max_concurrency=2,
                compose_multiplier_by_concurrency=[1.0, 2.0],
                shifts=brk,
            )
        ]
    )
    out["parallel-hand-back-at-a-break"] = (
        d,
        make_workload([300.0, 500.0], [[(0, 600)], [(0, 600)]]),
    )
    # Released while its buyer thinks; the next message reopens it for agent 1.
    d = base_dict(pools=[_pool(shift_end="hand_back", shifts=_GAP)])
    out["released-then-reopened"] = (d, make_workload([0.0], [[(0, 10), (790, 10)]]))
    # Agent 0 finishes A within its grace (700 s), hands B back at 720 s with 95% of its
    # reply to write; agent 1 sends it at 1580 s, after B's buyer gave up (1490 s).
    d = base_dict(
        pools=[_pool(shift_end="log_off", shift_end_grace="2min", max_concurrency=2, shifts=_GAP)]
    )
    out["log-off-grace"] = (
        d,
        make_workload([300.0, 590.0], [[(0, 400)], [(0, 400)]], patience_s=[math.inf, 900.0]),
    )
    # A 24 h hand_back shift followed at once by the next day's: the agent carries on.
    d = base_dict(
        pools=[
            _pool(
                shift_end="hand_back",
                max_concurrency=2,
                shifts=[{"start": "00:00", "length": "24h", "agents": 1}],
            )
        ]
    )
    d["calendar"]["horizon"] = "2d"
    out["carry-on-over-midnight"] = (
        d,
        make_workload([86_000.0, 86_300.0], [[(0, 1000)], [(0, 50), (30, 60)]]),
    )
    # A reply due exactly at the shift end is handed back with no work left: its buyer
    # waits for agent 1 (20 min) and gets a reply written in 0 s.
    d = base_dict(pools=[_pool(shift_end="hand_back", shifts=_GAP)])
    out["reply-due-at-the-shift-end"] = (d, make_workload([300.0], [[(0, 300)]]))
    # Two agents hand back at 600 s; the older chat (A) should be taken again first.
    two = [
        {"start": "00:00", "length": "10min", "agents": 2},
        {"start": "00:10", "length": "1h", "agents": 1},
    ]
    d = base_dict(pools=[_pool(shift_end="hand_back", shifts=two)])
    out["two-agents-hand-back-at-once"] = (
        d,
        make_workload([100.0, 200.0], [[(0, 1000)], [(0, 1000)]]),
    )
    # A bot-resolved conversation of a type whose patience runs until assignment is
    # never assigned: it must not count as abandoned (nor be withdrawn).
    d = base_dict()
    d["inquiry_types"][0].update(patience_until="assignment", answer_after_abandon=False)
    out["bot-of-an-assignment-type"] = (
        d,
        make_workload(
            [0.0, 5.0], [[(0, 10), (30, 10)], [(0, 10)]], patience_s=[60.0, 60.0], bot=[True, False]
        ),
    )
    return out


HAND_BUILT = _hand_built()


@dataclass(frozen=True)
class Case:
    """One scenario played once."""

    name: str
    spec: Scenario
    cfg: EngineConfig
    log: ChatLog
    summary: RunSummary
    #: A lower bound on the time the run ended (the last thing recorded or scheduled).
    t_lo: float


def _play(seed: int) -> tuple[Scenario, EngineConfig, ChatLog]:
    sc = loaded(_scenario(seed))
    spec = sc.spec
    cfg = build_config(spec)
    workload = sample_workload(sc, 0, seed=seed)
    log = run(cfg, workload, start=spec.calendar.start_aware, horizon_s=spec.calendar.horizon)
    return spec, cfg, log


def _t_lo(cfg: EngineConfig, log: ChatLog) -> float:
    w = log.workload
    human = ~w.bot
    human_msg = human[w.message_conversation]
    cands = [
        cfg.segment_end_s,
        w.arrival_s[human],
        log.msg_time_s[human_msg],
        log.reply_time_s[human_msg],
        log.close_s[human],
        log.hold_end_s,
        log.online_end_s,
        log.requeue_end_s,
    ]
    return max(float(np.nanmax(c, initial=0.0)) for c in cands)


CASES = [f"seed{s}" for s in range(N_CASES)] + list(HAND_BUILT)


@pytest.fixture(scope="module", params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    name: str = request.param
    if name in HAND_BUILT:
        d, workload = HAND_BUILT[name]
        spec = loaded(d).spec
        cfg = build_config(spec)
        log = run(cfg, workload, start=spec.calendar.start_aware, horizon_s=spec.calendar.horizon)
    else:
        spec, cfg, log = _play(int(name.removeprefix("seed")))
    return Case(name, spec, cfg, log, summarise(log), _t_lo(cfg, log))


# --------------------------------------------------------------------------- helpers


def _covering(start: F64, end: F64, t: F64) -> npt.NDArray[np.int64]:
    """How many of the spans ``[start, end)`` contain each time ``t``."""
    s = np.sort(start)
    e = np.sort(end)
    return np.searchsorted(s, t, side="right") - np.searchsorted(e, t, side="right")


def _merge(start: F64, end: F64) -> tuple[F64, F64]:
    """The union of spans as sorted disjoint spans (touching ones joined)."""
    if start.size == 0:
        return start, end
    order = np.argsort(start, kind="stable")
    s, e = start[order], end[order]
    reach = np.maximum.accumulate(e)
    new = np.concatenate(([True], s[1:] > reach[:-1]))
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [s.size - 1]))
    return s[first], reach[last]


def _overlap(lo: F64, hi: F64, start: F64, end: F64) -> F64:
    """Length of each span ``[start, end)`` inside the disjoint sorted spans ``[lo, hi)``."""
    if lo.size == 0:
        return np.zeros(start.size)
    cum = np.concatenate(([0.0], np.cumsum(hi - lo)))

    def below(x: F64) -> F64:
        k = np.searchsorted(lo, x, side="right") - 1
        kk = np.maximum(k, 0)
        inside = np.clip(x - lo[kk], 0.0, hi[kk] - lo[kk])
        return np.where(k >= 0, cum[kk] + inside, 0.0)

    return below(end) - below(start)


def _open_end(end: F64, t: float) -> F64:
    return np.where(np.isnan(end), t, end)


def _hold_end(log: ChatLog) -> F64:
    return np.where(np.isnan(log.hold_end_s), np.inf, log.hold_end_s)


def _first_waits(c: Case) -> tuple[I64, F64, F64]:
    """Every human conversation's first wait in its queue: (conversation, start, end)."""
    log = c.log
    w = log.workload
    conv = np.flatnonzero(~w.bot)
    end = np.where(
        ~np.isnan(log.assign_s), log.assign_s, np.where(log.withdrawn, log.abandon_s, c.t_lo)
    )
    return conv, w.arrival_s[conv], end[conv]


def _waits(c: Case) -> tuple[I64, F64, F64]:
    """Every wait in a queue (the first ones, then the requeues); open ones end at ``t_lo``."""
    log = c.log
    conv, start, end = _first_waits(c)
    return (
        np.concatenate((conv, log.requeue_conversation)),
        np.concatenate((start, log.requeue_start_s)),
        np.concatenate((end, _open_end(log.requeue_end_s, c.t_lo))),
    )


def _agent_segments(cfg: EngineConfig, a: int) -> tuple[F64, F64]:
    sel = cfg.segment_agent == a
    return _merge(cfg.segment_start_s[sel], cfg.segment_end_s[sel])


def _free_slots(c: Case, a: int) -> tuple[F64, F64]:
    """When agent ``a`` was online, inside a segment and below its cap (disjoint spans)."""
    log, cfg = c.log, c.cfg
    cap = log.pool_max_concurrency[log.agent_pool[a]]
    on = log.online_agent == a
    seg = cfg.segment_agent == a
    held = log.hold_agent == a
    h_end = _open_end(log.hold_end_s[held], c.t_lo)
    t = np.unique(
        np.concatenate(
            (
                log.online_start_s[on],
                log.online_end_s[on],
                cfg.segment_start_s[seg],
                cfg.segment_end_s[seg],
                log.hold_start_s[held],
                h_end,
                [0.0, c.t_lo],
            )
        )
    )
    mid = (t[:-1] + t[1:]) / 2.0
    free = (
        (_covering(log.online_start_s[on], log.online_end_s[on], mid) > 0)
        & (_covering(cfg.segment_start_s[seg], cfg.segment_end_s[seg], mid) > 0)
        & (_covering(log.hold_start_s[held], h_end, mid) < cap)
    )
    return _merge(t[:-1][free], t[1:][free])


def _end_states(c: Case) -> tuple[B, B, B]:
    """Per conversation (human ones only true): closed, withdrawn, still queued at the end."""
    log = c.log
    w = log.workload
    human = ~w.bot
    open_rq = np.zeros(w.n_conversations, dtype=np.bool_)
    open_rq[log.requeue_conversation[np.isnan(log.requeue_end_s)]] = True
    queued = human & (open_rq | (np.isnan(log.assign_s) & ~log.withdrawn))
    withdrawn = human & log.withdrawn
    closed = human & ~queued & ~withdrawn
    return closed, withdrawn, queued


def _type_flags(log: ChatLog, spec: Scenario) -> tuple[B, B]:
    """Per conversation: patience until assignment, and withdrawn when patience runs out."""
    at_assign = np.array([t.patience_until == "assignment" for t in spec.inquiry_types])
    withdraw = np.array([not t.answer_after_abandon for t in spec.inquiry_types])
    ti = log.workload.type_idx
    return at_assign[ti], withdraw[ti]


def _shift_end(c: Case) -> npt.NDArray[np.str_]:
    """Per agent: its pool's shift end."""
    return np.array([p.shift_end for p in c.cfg.pools])[c.log.agent_pool]


def _assert_one_end_threshold(expire: F64, abandoned: B, t_lo: float) -> None:
    """Buyers not served by the end abandoned iff their patience ran out by the run's end
    ``E >= t_lo``: all those expired by ``t_lo``, and a single threshold splits the rest."""
    assert abandoned[expire <= t_lo].all()
    if abandoned.any() and (~abandoned).any():
        assert expire[abandoned].max() < expire[~abandoned].min()


# --------------------------------------------------------------------------- end states


def test_every_conversation_ends_closed_withdrawn_or_queued(case: Case) -> None:
    log = case.log
    w = log.workload
    n = w.n_conversations
    human = ~w.bot
    closed, withdrawn, queued = _end_states(case)
    # Exactly one state per human conversation.
    assert (closed.astype(int) + withdrawn + queued == human).all()
    # Nothing is held when the run ends (and no spell is left open).
    assert not np.isnan(log.hold_end_s).any(), "a conversation is still held at the end"
    assert np.isfinite(log.online_end_s).all()
    # A requeue follows an assignment, and at most one is open per conversation.
    open_rq = log.requeue_conversation[np.isnan(log.requeue_end_s)]
    assert np.unique(open_rq).size == open_rq.size
    assert not np.isnan(log.assign_s[open_rq]).any()
    conv = w.message_conversation
    sent = ~np.isnan(log.msg_time_s)
    answered = ~np.isnan(log.reply_time_s)
    n_msg = np.diff(w.msg_offset)
    n_sent = np.bincount(conv[sent], minlength=n)
    n_open = np.bincount(conv[sent & ~answered], minlength=n)
    # Closed: its last hold spell ended when it closed, every message it sent was
    # answered, and it ran to its last message unless the buyer abandoned.
    c = np.flatnonzero(closed)
    last_hold = np.full(n, -np.inf)
    np.maximum.at(last_hold, log.hold_conversation, _hold_end(log))
    np.testing.assert_array_equal(log.close_s[c], last_hold[c])
    assert (n_open[c] == 0).all()
    ab = log.abandoned[c]
    assert (n_sent[c][ab] == 1).all()
    assert (n_sent[c][~ab] == n_msg[c][~ab]).all()
    # Withdrawn: closed when the buyer's patience ran out, the first message unanswered
    # and nothing else sent.
    d = np.flatnonzero(withdrawn)
    expire = w.arrival_s + w.patience_s
    np.testing.assert_array_equal(log.close_s[d], expire[d])
    np.testing.assert_array_equal(log.abandon_s[d], expire[d])
    assert log.abandoned[d].all()
    assert (n_sent[d] == 1).all() and (n_open[d] == 1).all()
    # Still queued: exactly one message unanswered, the last one sent.
    q = np.flatnonzero(queued)
    assert (n_open[q] == 1).all()
    last_sent = w.msg_offset[q] + n_sent[q] - 1
    assert np.isnan(log.reply_time_s[last_sent]).all()
    # Bots never reach an agent.
    assert not w.bot[log.hold_conversation].any()
    assert np.isnan(log.assign_s[w.bot]).all()


def test_no_wait_while_an_eligible_agent_has_a_free_slot(case: Case) -> None:
    """A queued chat goes to an agent as soon as one is free to take it, so no queue
    wait overlaps an eligible agent's free slot -- and a conversation still queued at
    the end is one that no agent online and on shift was free to take."""
    log, cfg = case.log, case.cfg
    conv, start, end = _waits(case)
    # (An arrival's event time can differ from the drawn arrival time by rounding.)
    assert (end >= start - EPS).all()
    typ = log.workload.type_idx[conv]
    free = [_free_slots(case, a) for a in range(cfg.n_agents)]
    for k in range(len(log.workload.type_names)):
        eligible = [a for a in range(cfg.n_agents) if cfg.pools[cfg.agent_pool[a]].handles(k)]
        lo, hi = _merge(
            np.concatenate([free[a][0] for a in eligible] + [np.empty(0)]),
            np.concatenate([free[a][1] for a in eligible] + [np.empty(0)]),
        )
        sel = typ == k
        idle = _overlap(lo, hi, start[sel], end[sel])
        bad = np.flatnonzero(idle > EPS)
        assert bad.size == 0, (
            f"type {k}: conversation {conv[sel][bad[0]]} waited "
            f"{start[sel][bad[0]]:.3f}-{end[sel][bad[0]]:.3f} while an agent was free "
            f"for {idle[bad[0]]:.3f} s"
        )


# --------------------------------------------------------------------------- messages


def test_replies_follow_messages_and_each_other(case: Case) -> None:
    log = case.log
    w = log.workload
    sent = ~np.isnan(log.msg_time_s)
    answered = ~np.isnan(log.reply_time_s)
    assert not (answered & ~sent).any(), "a reply to a message never sent"
    assert (log.reply_time_s[answered] >= log.msg_time_s[answered]).all()
    idx = w.message_index
    later = np.flatnonzero(idx > 0)
    # A later message is sent only after the previous one was answered, after its think
    # time, and its reply comes after the previous reply.
    s = later[sent[later]]
    assert answered[s - 1].all()
    np.testing.assert_allclose(
        log.msg_time_s[s], log.reply_time_s[s - 1] + w.think_s[s], rtol=0, atol=EPS
    )
    r = later[answered[later]]
    assert (log.reply_time_s[r] > log.reply_time_s[r - 1]).all()
    # An unsent message is followed by unsent ones only.
    u = later[~sent[later]]
    nxt = u + 1
    nxt = nxt[(nxt < w.n_messages) & (idx[np.minimum(nxt, w.n_messages - 1)] > 0)]
    assert not sent[nxt].any()
    # Every human reply took time to write.
    human = log.reply_kind == REPLY_HUMAN
    np.testing.assert_array_equal(human, log.reply_agent >= 0)
    assert (log.reply_compose_s[human] > 0.0).all()
    assert np.isfinite(log.reply_compose_s[human]).all()
    assert not w.bot[w.message_conversation[human]].any()


def test_replies_are_written_by_the_holder_while_online(case: Case) -> None:
    log = case.log
    conv = log.workload.message_conversation
    human = np.flatnonzero(log.reply_agent >= 0)
    h_end = _hold_end(log)
    spells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for i, a, s, e in zip(
        log.hold_conversation.tolist(),
        log.hold_agent.tolist(),
        log.hold_start_s.tolist(),
        h_end.tolist(),
        strict=True,
    ):
        spells.setdefault((i, a), []).append((s, e))
    for j, a, t, d in zip(
        human.tolist(),
        log.reply_agent[human].tolist(),
        log.reply_time_s[human].tolist(),
        log.reply_compose_s[human].tolist(),
        strict=True,
    ):
        i = int(conv[j])
        assert any(s - EPS <= t - d and t <= e for s, e in spells.get((i, a), [])), (
            f"message {j}: reply by agent {a} ({t - d:.3f}-{t:.3f}) outside its holding"
        )
    # Hold spells lie inside an online spell of their agent.
    for a in np.unique(log.hold_agent):
        mine = log.hold_agent == a
        on = log.online_agent == a
        s, e = log.hold_start_s[mine], h_end[mine]
        on_s, on_e = log.online_start_s[on], log.online_end_s[on]
        inside = (s[:, None] >= on_s[None, :]) & (e[:, None] <= on_e[None, :])
        assert inside.any(axis=1).all(), f"agent {a} held a chat while offline"


def test_sequential_agents_write_one_reply_at_a_time(case: Case) -> None:
    log = case.log
    seq = [p for p, d in enumerate(log.pool_discipline) if d == "sequential"]
    human = log.reply_agent >= 0
    for a in np.unique(log.reply_agent[human]):
        if log.agent_pool[a] not in seq:
            continue
        sel = human & (log.reply_agent == a)
        end = log.reply_time_s[sel]
        assert peak_level(end - log.reply_compose_s[sel] + EPS, end) <= 1, a


def _load_steps(log: ChatLog, a: int) -> tuple[F64, npt.NDArray[np.int64]]:
    """Agent ``a``'s chats held: the breakpoints and the count on each span between them."""
    mine = log.hold_agent == a
    s, e = log.hold_start_s[mine], _hold_end(log)[mine]
    t = np.unique(np.concatenate((s, e[np.isfinite(e)])))
    return t, _covering(s, e, (t[:-1] + t[1:]) / 2.0)


def test_compose_times_follow_the_discipline(case: Case) -> None:
    """Sequential: a reply takes its base work x the pool's factor x the multiplier for
    the chats held when it was started (at most those held just before or just after
    that instant, as chats close and are taken one by one within it).  Parallel: the
    work done on a reply -- the integral of ``1 / multiplier[k - 1]`` over its writing,
    ``k`` the chats held -- is its base work x the factor (processor sharing, re-rated
    whenever ``k`` changes).
    Conversations handed back are left out (their reply restarts with the work left)."""
    log, cfg = case.log, case.cfg
    w = log.workload
    conv = w.message_conversation
    human = np.flatnonzero((log.reply_agent >= 0) & (log.handed_back[conv] == 0))
    agent = log.reply_agent[human]
    for a in np.unique(agent).tolist():
        pool = cfg.pools[cfg.agent_pool[a]]
        mult = np.asarray(pool.concurrency_multiplier)
        j = human[agent == a]
        work = w.compose_s[j] * np.asarray(pool.time_factor_by_type)[w.type_idx[conv[j]]]
        end = log.reply_time_s[j]
        start = end - log.reply_compose_s[j]
        t, load = _load_steps(log, a)
        if pool.discipline == "parallel":
            rate = np.where(load > 0, 1.0 / mult[np.maximum(load, 1) - 1], 0.0)
            cum = np.concatenate(([0.0], np.cumsum(rate * np.diff(t))))

            def done(x: F64, t: F64 = t, rate: F64 = rate, cum: F64 = cum) -> F64:
                k = np.clip(np.searchsorted(t, x, side="right") - 1, 0, rate.size - 1)
                return cum[k] + rate[k] * (x - t[k])

            np.testing.assert_allclose(done(end) - done(start), work, rtol=1e-6, atol=1e-6)
        else:
            # At most the chats held just before or just after the start: within that
            # instant chats close and are taken one by one (an agent coming online takes
            # several, and starts the first reply holding one).
            def held(x: F64, t: F64 = t, load: I64 = load) -> I64:
                return load[np.clip(np.searchsorted(t, x, side="right") - 1, 0, load.size - 1)]

            hi = np.maximum(held(start - EPS), held(start + EPS))
            ratio = log.reply_compose_s[j] / work
            ok = np.zeros(j.size, dtype=np.bool_)
            for n in range(1, mult.size + 1):
                ok |= (n <= hi) & np.isclose(ratio, mult[n - 1], rtol=1e-9)
            assert ok.all(), (a, j[~ok][:3], ratio[~ok][:3], hi[~ok][:3])


# --------------------------------------------------------------------------- holding


def test_holding_within_caps_and_spells_disjoint(case: Case) -> None:
    log = case.log
    caps = np.asarray(log.pool_max_concurrency)
    h_end = _hold_end(log)
    for a in np.unique(log.hold_agent):
        mine = log.hold_agent == a
        assert peak_level(log.hold_start_s[mine], h_end[mine]) <= caps[log.agent_pool[a]], a
    assert (h_end >= log.hold_start_s).all()
    # A conversation is held by one agent at a time, and never while it waits in a queue.
    conv, start, end = _waits(case)
    # Waits of no length (taken on arrival) are left out: rounding may put them anywhere.
    keep = end - start > EPS
    conv, start, end = conv[keep], start[keep], end[keep]
    all_conv = np.concatenate((log.hold_conversation, conv))
    all_s = np.concatenate((log.hold_start_s, start))
    all_e = np.concatenate((h_end, end))
    order = np.lexsort((all_e, all_s, all_conv))
    c, s, e = all_conv[order], all_s[order], all_e[order]
    same = c[1:] == c[:-1]
    assert (s[1:][same] >= e[:-1][same] - EPS).all(), (
        "a conversation held twice, or held and queued"
    )


def test_requeues_lie_between_arrival_and_close(case: Case) -> None:
    log = case.log
    w = log.workload
    rc, rs, re_ = log.requeue_conversation, log.requeue_start_s, log.requeue_end_s
    done = ~np.isnan(re_)
    assert (re_[done] >= rs[done]).all()
    assert (rs >= w.arrival_s[rc] - EPS).all()
    assert (rs >= log.assign_s[rc]).all(), "a requeue before the first assignment"
    closed, withdrawn, queued = _end_states(case)
    ended = closed | withdrawn
    fin = ended[rc]
    assert done[fin].all()
    assert (re_[fin] <= log.close_s[rc[fin]]).all()
    # A requeue ends when the conversation is taken again, or when its buyer withdraws.
    starts = set(zip(log.hold_conversation.tolist(), log.hold_start_s.tolist(), strict=True))
    for i, t in zip(rc[done].tolist(), re_[done].tolist(), strict=True):
        assert (i, t) in starts or (log.withdrawn[i] and t == log.abandon_s[i]), (i, t)
    # An open requeue belongs to a conversation still queued.
    assert queued[rc[~done]].all()


def test_chats_handed_back_together_are_taken_again_oldest_first(case: Case) -> None:
    """Chats of one type handed back at the same instant go to the head of their queue
    oldest first (by arrival, for chats never reopened), whichever agents held them."""
    log = case.log
    w = log.workload
    ends = _shift_end(case)
    hold_end = {
        (i, e)
        for i, a, e in zip(
            log.hold_conversation.tolist(),
            log.hold_agent.tolist(),
            log.hold_end_s.tolist(),
            strict=True,
        )
        if ends[a] != "drain"
    }
    rc, rs = log.requeue_conversation, log.requeue_start_s
    # Only each conversation's first requeue: its place in the queue is its arrival.
    first = np.zeros(rc.size, dtype=np.bool_)
    first[np.unique(rc, return_index=True)[1]] = True
    back = np.array(
        [
            f and (i, t) in hold_end and not log.withdrawn[i]
            for f, i, t in zip(first.tolist(), rc.tolist(), rs.tolist(), strict=True)
        ],
        dtype=np.bool_,
    )
    taken = _open_end(log.requeue_end_s, np.inf)
    groups: dict[tuple[int, float], list[int]] = {}
    for k in np.flatnonzero(back).tolist():
        groups.setdefault((int(w.type_idx[rc[k]]), float(rs[k])), []).append(k)
    for (typ, t), ks in groups.items():
        ks.sort(key=lambda k: (w.arrival_s[rc[k]], rc[k]))
        order = taken[ks]
        assert (order[1:] >= order[:-1]).all(), (
            f"type {typ}, handed back at {t}: conversations {rc[ks].tolist()} (oldest first) "
            f"taken again at {order.tolist()}"
        )


# --------------------------------------------------------------------------- shifts


def test_online_within_subaccounts_and_segments(case: Case) -> None:
    log, cfg = case.log, case.cfg
    assert peak_level(log.online_start_s, log.online_end_s) <= log.subaccounts
    ends = _shift_end(case)
    grace = np.array([p.grace_s for p in cfg.pools])[log.agent_pool]
    h_end = _hold_end(log)
    for k, a in enumerate(log.online_agent.tolist()):
        on, off, sched = log.online_start_s[k], log.online_end_s[k], log.online_scheduled_end_s[k]
        seg_s, seg_e = _agent_segments(cfg, a)
        # Online from inside a segment; the recorded scheduled end is a segment's end
        # that the spell reached.
        assert ((seg_s <= on) & (on < seg_e)).any(), (a, on)
        assert (cfg.segment_end_s[cfg.segment_agent == a] == sched).any(), (a, sched)
        assert on <= sched <= off, (a, on, sched, off)
        if sched >= cfg.close_out_s:
            pass  # closing out after the horizon: on until its last chat closes (below)
        elif ends[a] == "hand_back":
            # Online only inside its (back-to-back joined) segments, off at the end of one.
            assert ((seg_s <= on) & (off <= seg_e)).any(), (a, on, off)
            assert off == sched, (a, off, sched)
        elif ends[a] == "log_off":
            assert off - sched <= grace[a] + EPS, (a, off - sched, grace[a])
        if off > sched:
            # Past its scheduled end an agent stays only to finish (or hand back) a chat:
            # it logs off when its last one closes.
            assert (h_end[log.hold_agent == a] == off).any(), (a, off)


def test_hand_back_agents_online_never_exceed_agents_on_shift(case: Case) -> None:
    log, cfg = case.log, case.cfg
    ends = _shift_end(case)
    hb = np.flatnonzero(ends == "hand_back")
    if hb.size == 0:
        return
    # Until the close-out (after it an agent stays on to close its chats).
    on = np.isin(log.online_agent, hb) & (log.online_scheduled_end_s < cfg.close_out_s)
    seg = np.isin(cfg.segment_agent, hb) & (cfg.segment_end_s < cfg.close_out_s)
    times = np.unique(np.concatenate((log.online_start_s[on], log.online_end_s[on])))
    online = _covering(log.online_start_s[on], log.online_end_s[on], times)
    scheduled = _covering(cfg.segment_start_s[seg], cfg.segment_end_s[seg], times)
    assert (online <= scheduled).all()
    past = np.maximum(log.online_end_s - log.online_scheduled_end_s, 0.0)
    assert (past[on] == 0.0).all()
    if hb.size == cfg.n_agents and not math.isfinite(cfg.close_out_s):
        assert case.summary.agent_min_past_shift_end == 0.0


def test_hand_backs_counted_once(case: Case) -> None:
    log = case.log
    n = log.workload.n_conversations
    assert case.summary.handed_back == int(log.handed_back.sum())
    assert (log.handed_back >= 0).all()
    # A hand-back ends a hold spell and starts a requeue at that instant, by an agent of
    # a pool that hands back; a release (nothing to answer) starts none.
    hold_ends = {
        (i, e): a
        for i, a, e in zip(
            log.hold_conversation.tolist(),
            log.hold_agent.tolist(),
            log.hold_end_s.tolist(),
            strict=True,
        )
    }
    ends = _shift_end(case)
    count = np.zeros(n, dtype=np.int64)
    for i, s in zip(log.requeue_conversation.tolist(), log.requeue_start_s.tolist(), strict=True):
        a = hold_ends.get((i, s))
        if a is not None:
            assert ends[a] != "drain", (i, s, a)
            count[i] += 1
    np.testing.assert_array_equal(log.handed_back, count)
    if (ends == "drain").all():
        assert log.handed_back.sum() == 0
        assert case.summary.agent_min_past_shift_end >= 0.0


# --------------------------------------------------------------------------- patience


def test_withdrawn_conversations_never_answered(case: Case) -> None:
    log = case.log
    w = log.workload
    at_assign, withdraw = _type_flags(log, case.spec)
    d = log.withdrawn
    first = w.msg_offset[:-1]
    assert withdraw[d].all(), "withdrawn though the type answers abandoners"
    assert np.isnan(log.reply_time_s[first[d]]).all()
    assert (log.reply_agent[first[d]] == -1).all()
    assert np.isfinite(w.patience_s[d]).all()
    # Patience until assignment: withdrawn only from the queue, before any agent took it.
    assert np.isnan(log.assign_s[d & at_assign]).all()
    assert not np.isin(np.flatnonzero(d & at_assign), log.hold_conversation).any()
    # Hold spells of a withdrawn conversation end by its withdrawal.
    wd = d[log.hold_conversation]
    assert (log.hold_end_s[wd] <= log.close_s[log.hold_conversation[wd]]).all()


def test_abandonment_follows_patience_semantics(case: Case) -> None:
    """Silent first_reply: abandoned iff the first human reply came after arrival +
    patience, or none came and patience ran out by the end.  Silent assignment:
    abandoned iff first taken after arrival + patience, or never taken and patience
    ran out by the end.  Withdrawing types: the same for those never served, and a
    buyer served in time (first reply begun, or taken, within patience) stays.
    "By the end": by the time the run ended, which is at least the last time the log
    records (a single threshold over the patience expiries of those never served)."""
    log = case.log
    w = log.workload
    human = ~w.bot
    at_assign, withdraw = _type_flags(log, case.spec)
    first = w.msg_offset[:-1]
    reply = log.first_human_reply_s
    expire = w.arrival_s + w.patience_s
    ab = log.abandoned
    np.testing.assert_array_equal(log.abandon_s[ab], expire[ab])
    assert np.isnan(log.abandon_s[~ab]).all()
    assert not ab[w.bot].any()
    served_at = np.where(at_assign, log.assign_s, reply)
    served = human & ~np.isnan(served_at)
    late = served & (served_at > expire)
    # Served (answered, or taken under patience until assignment).
    silent = served & ~withdraw
    np.testing.assert_array_equal(ab[silent], late[silent])
    wd = served & withdraw
    assert not ab[wd].any() and not log.withdrawn[wd].any()
    assert not late[wd & at_assign].any(), "taken after the buyer left"
    # A withdrawing first_reply buyer answered had the reply begun within patience
    # (unless a hand-back restarted it: the last writing then started later).
    fr = np.flatnonzero(wd & ~at_assign & (log.handed_back == 0))
    begun = log.reply_time_s[first[fr]] - log.reply_compose_s[first[fr]]
    assert (begun <= expire[fr] + EPS).all()
    # Never served: abandoned iff patience ran out by the end, with one end for all.
    never = human & np.isnan(served_at)
    _assert_one_end_threshold(expire[never], ab[never], case.t_lo)
    # A buyer of a withdrawing type never taken who gave up was withdrawn (from the
    # queue, or at the end).
    never_taken = never & np.isnan(log.assign_s) & withdraw & ab
    assert log.withdrawn[never_taken].all()


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("seed", [1, 10])
def test_same_seed_same_log(seed: int) -> None:
    logs = [_play(seed)[2] for _ in range(2)]
    for f in dataclasses.fields(ChatLog):
        a, b = getattr(logs[0], f.name), getattr(logs[1], f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        elif f.name != "workload":
            assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), f.name
