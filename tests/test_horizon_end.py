"""The end of a run: at the horizon no chat is handed back to nobody.

A shop whose agents hand their chats back at a shift end (or log off after a
grace) and whose shifts all end at the horizon, with a queue at the end: with
``simulation.horizon_end = "close_out"`` (the default) the agents on at the
horizon take the waiting chats and log off when none is left, so the run ends
with every buyer answered or gone, as a longer horizon would have it; with
``"shift_end"`` they follow their pool's rule, and the end-of-run artefact (chats
handed back, messages unanswered at the end, a queue peaking after the last
arrival) is what the summary reports.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import ENGINES, base_dict, loaded, on_engine
from peakdesk.engine.intervals import interval_table


def _busy_end(shift_end: str, horizon_end: str) -> dict[str, Any]:
    d = base_dict()
    d["calendar"]["horizon"] = "6h"
    # Busier than the team: a queue builds all day and is there at the horizon.
    d["demand"] = {"profile": "flat", "volume_per_day": 4 * 24 * 40}
    t = d["inquiry_types"][0]
    t["messages"] = {"dist": "geometric", "mean": 2.0}
    t["compose_time"] = {"dist": "exponential", "mean": "40s"}
    p = d["pools"][0]
    p.update(max_concurrency=2, shift_end=shift_end)
    if shift_end == "log_off":
        p["shift_end_grace"] = "2min"
    p["shifts"] = [{"start": "00:00", "length": "6h", "agents": 2}]
    d["simulation"] = {"seed": 5, "replications": 2, "horizon_end": horizon_end}
    return d


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shift_end", ["hand_back", "log_off", "drain"])
def test_close_out_answers_every_chat_open_at_the_horizon(engine: str, shift_end: str) -> None:
    ev = on_engine(engine)(loaded(_busy_end(shift_end, "close_out")), keep_logs=True)
    for rep in ev.replications:
        s, log = rep.summary, rep.log
        assert log is not None
        assert s.handed_back == 0
        assert s.unanswered_at_end == 0
        # Every chat closed, and the queue at the horizon worked off after it.
        human = ~log.workload.bot
        gone = log.withdrawn | log.abandoned
        assert np.all(~np.isnan(log.close_s[human & ~gone]))
        horizon = log.horizon_s
        queue = interval_table(log, 600.0).queue
        at_horizon = int(horizon // 600.0)
        assert queue[at_horizon - 1] > 5  # a real queue at the end
        assert log.online_end_s.max() > horizon + 600.0  # the agents stayed on for it


@pytest.mark.parametrize("shift_end", ["hand_back", "log_off"])
def test_shift_end_at_the_horizon_keeps_the_old_artefact(shift_end: str) -> None:
    ev = on_engine("compiled")(loaded(_busy_end(shift_end, "shift_end")), keep_logs=True)
    for rep in ev.replications:
        assert rep.summary.handed_back > 0
        assert rep.summary.unanswered_at_end > 0


def test_close_out_changes_nothing_before_the_horizon() -> None:
    # Every buyer's fate up to the horizon is the same: the rule acts only after it.
    runs = [
        on_engine("compiled")(loaded(_busy_end("hand_back", h)), keep_logs=True)
        for h in ("close_out", "shift_end")
    ]
    for a, b in zip(runs[0].replications, runs[1].replications, strict=True):
        assert a.log is not None and b.log is not None
        horizon = a.log.horizon_s
        before = a.log.reply_time_s < horizon
        assert np.array_equal(a.log.reply_time_s[before], b.log.reply_time_s[before])
        first_a, first_b = a.log.first_human_reply_s, b.log.first_human_reply_s
        done = first_a < horizon
        assert np.array_equal(first_a[done], first_b[done])
        assert math.isclose(a.summary.paid_agent_hours, b.summary.paid_agent_hours)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_grace_running_out_after_the_horizon_closes_out(engine: str) -> None:
    # The shift ends 2 minutes before the horizon with a 5-minute grace: the cut comes
    # after the horizon, when nobody would take the chats handed back.
    d = _busy_end("log_off", "close_out")
    d["pools"][0]["shifts"] = [{"start": "00:00", "length": "5h58min", "agents": 2}]
    ev = on_engine(engine)(loaded(d), keep_logs=True)
    for rep in ev.replications:
        assert rep.summary.handed_back == 0
        assert rep.summary.unanswered_at_end == 0
