"""A rota across the day the clocks go forward: one agent's overlapping instances are one.

In New York the night of 7-8 March 2026 loses an hour, so 8 March is 23 hours
long, and a 24-hour shift started at 00:00 every day overlaps the next day's
instance by an hour.  The engine logs an agent off at a segment's end, so with
the two instances kept apart the agents were offline all of 9 March (found in
review).  They are merged into one segment per agent, and agents are online in
every minute on both engines, the runs equal to the bit.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from conftest import base_dict, loaded
from peakdesk.engine.export import to_message_log
from peakdesk.engine.setup import build_config
from peakdesk.experiment.replicate import simulate
from peakdesk.rules.messages import AGENT


def _shop() -> dict[str, object]:
    d = base_dict()
    d["calendar"].update(
        start=dt.datetime(2026, 3, 7, 0, 0), horizon="3d", timezone="America/New_York"
    )
    d["demand"] = {"profile": "flat", "volume_per_day": 1500}
    return d


def test_agents_are_online_all_through_the_short_day() -> None:
    spec = loaded(_shop()).spec
    cfg = build_config(spec)
    hours = 24 + 23 + 24
    on = np.zeros(hours * 60)
    for s, e in zip(cfg.segment_start_s, cfg.segment_end_s, strict=True):
        on[int(s // 60) : int(np.ceil(e / 60))] += 1
    assert on.min() == 2 and on.max() == 2
    # One segment per agent and stretch: none overlaps another of its agent.
    for a in np.unique(cfg.segment_agent):
        sel = cfg.segment_agent == a
        s, e = cfg.segment_start_s[sel], cfg.segment_end_s[sel]
        order = np.argsort(s)
        assert (s[order][1:] >= e[order][:-1]).all()


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_replies_on_every_day(engine: str) -> None:
    d = _shop()
    d["simulation"] = {"engine": engine}
    ev = simulate(loaded(d), seed=2, replications=1, keep_logs=True)
    chat = ev.replications[0].log
    assert chat is not None
    log = to_message_log(chat)
    zone = loaded(d).spec.calendar.zone
    replies = log.time_s[log.sender == AGENT]
    days = [dt.datetime.fromtimestamp(float(t), zone).date().day for t in replies]
    per_day = np.bincount(days, minlength=10)[7:10]
    # About 1,500 conversations a day, each answered: no day without replies.
    assert per_day.min() > 0.8 * per_day.max(), per_day
