"""Warm-up: a run that starts before the horizon, so the horizon does not start empty.

A run starts with nobody waiting and every agent free; for a steady or
periodic case the first hours then look better than the days they stand for.
With ``simulation.warm_up = W`` the run starts W earlier: the calendar is moved
back (the profile, the shifts and the day factors run on as they do on any
day), the buyers of the warm-up arrive and are served, and then the log is cut
at the true start (:func:`after_warm_up`): every figure, table and target sees
only the buyers of the horizon, on agents that are already busy with the
warm-up's chats.

:func:`mser5` estimates how long the start-up bias lasts in a run without a
warm-up (White 1997; Hoad, Robinson and Davies 2010): the truncation point
that minimises the standard error of what is left, applied by
:func:`peakdesk.experiment.interval_figures.start_up` to the number in system
per interval over the replications.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import numpy.typing as npt

from peakdesk.demand.workload import Workload
from peakdesk.engine.log import ChatLog
from peakdesk.scenario.load import LoadedScenario

F64 = npt.NDArray[np.float64]


def extended(loaded: LoadedScenario, warm_up_s: float) -> LoadedScenario:
    """The scenario moved back by the warm-up: start ``warm_up_s`` earlier, horizon as longer.

    The start moves in absolute time (a clock change in the warm-up is handled);
    the warm-up's demand and staffing are the scenario's own at those times.
    """
    spec = loaded.spec
    cal = spec.calendar
    start = (cal.start_aware.astimezone(dt.UTC) - dt.timedelta(seconds=warm_up_s)).astimezone(
        cal.zone
    )
    moved = cal.model_copy(
        update={"start": start.replace(tzinfo=None), "horizon": cal.horizon + warm_up_s}
    )
    return loaded.with_spec(spec.model_copy(update={"calendar": moved}))


def after_warm_up(
    log: ChatLog, warm_up_s: float, start: dt.datetime, paid_hours: tuple[float, ...]
) -> ChatLog:
    """The log of a run with a warm-up, seen from the true start.

    Parameters
    ----------
    log
        The whole run's log (times from the warm-up's start).
    warm_up_s
        The warm-up, seconds.
    start
        The scenario's own start (aware).
    paid_hours
        The scenario's paid agent-hours per pool (the warm-up's are not its).

    Returns
    -------
    ChatLog
        The conversations arriving from the true start on, with their messages,
        holds and hand-backs; and from the cut on, the warm-up's chats still
        open then as agents' work and queue without a conversation of the
        horizon (``hold_conversation`` and ``requeue_conversation`` -1, their
        writing among the ``handback_writing_*`` spans): the busy slots,
        writing and queue of a day in progress.  The backlog of their
        unanswered messages is not carried (no column holds a message of no
        conversation).  Every time is shifted to the true start.
    """
    w = log.workload
    keep = w.arrival_s >= warm_up_s
    new_index = np.cumsum(keep) - 1
    counts = np.diff(w.msg_offset)[keep]
    offset = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    offset[1:] = np.cumsum(counts)
    msg_keep = keep[w.message_conversation]

    def t(x: F64) -> F64:
        return np.asarray(x - warm_up_s, dtype=np.float64)

    workload = Workload(
        type_names=w.type_names,
        arrival_s=t(w.arrival_s[keep]),
        type_idx=w.type_idx[keep],
        msg_offset=offset,
        think_s=w.think_s[msg_keep],
        compose_s=w.compose_s[msg_keep],
        patience_s=w.patience_s[keep],
        bot=w.bot[keep],
        conversion_u=w.conversion_u[keep],
    )
    # The warm-up's chats still open at the cut are the agents' work and the queue of a
    # day in progress: their holds, waits and writing from the cut on stay, with no
    # conversation of the horizon to stand for (conversation -1).
    hold = keep[log.hold_conversation] | ~(log.hold_end_s <= warm_up_s)
    hold_conv = np.where(keep[log.hold_conversation], new_index[log.hold_conversation], -1)
    requeue = keep[log.requeue_conversation] | ~(log.requeue_end_s <= warm_up_s)
    requeue_conv = np.where(keep[log.requeue_conversation], new_index[log.requeue_conversation], -1)
    # Warm-up buyers waiting at the cut for their first agent: a wait from the cut on.
    left = np.where(log.withdrawn, log.abandon_s, np.nan)
    until = np.fmin(log.assign_s, left)  # nan where neither came
    waiting = ~keep & ~w.bot & ~(until <= warm_up_s)
    # Writing on the warm-up's replies sent after the cut, from the cut on.
    late_reply = ~msg_keep & (log.reply_agent >= 0) & (log.reply_time_s > warm_up_s)
    w_start = np.maximum(log.reply_time_s[late_reply] - log.reply_compose_s[late_reply], warm_up_s)
    writing = log.handback_writing_end_s > warm_up_s
    online = log.online_end_s > warm_up_s
    return dataclasses.replace(
        log,
        workload=workload,
        start=start,
        horizon_s=log.horizon_s - warm_up_s,
        msg_time_s=t(log.msg_time_s[msg_keep]),
        reply_time_s=t(log.reply_time_s[msg_keep]),
        reply_kind=log.reply_kind[msg_keep],
        reply_agent=log.reply_agent[msg_keep],
        reply_compose_s=log.reply_compose_s[msg_keep],
        auto_reply_s=t(log.auto_reply_s[keep]),
        agent=log.agent[keep],
        assign_s=t(log.assign_s[keep]),
        close_s=t(log.close_s[keep]),
        abandoned=log.abandoned[keep],
        abandon_s=t(log.abandon_s[keep]),
        idle_closed=log.idle_closed[keep],
        withdrawn=log.withdrawn[keep],
        hold_conversation=hold_conv[hold].astype(np.int64),
        hold_agent=log.hold_agent[hold],
        hold_start_s=t(np.maximum(log.hold_start_s[hold], warm_up_s)),
        hold_end_s=t(log.hold_end_s[hold]),
        online_agent=log.online_agent[online],
        online_start_s=t(np.maximum(log.online_start_s[online], warm_up_s)),
        online_end_s=t(log.online_end_s[online]),
        # (an agent draining across the start was due off before it: from the start on)
        online_scheduled_end_s=t(np.maximum(log.online_scheduled_end_s[online], warm_up_s)),
        paid_hours_by_pool=paid_hours,
        requeue_conversation=np.concatenate(
            (requeue_conv[requeue], np.full(int(waiting.sum()), -1))
        ).astype(np.int64),
        requeue_start_s=t(
            np.concatenate(
                (
                    np.maximum(log.requeue_start_s[requeue], warm_up_s),
                    np.full(int(waiting.sum()), warm_up_s),
                )
            )
        ),
        requeue_end_s=t(np.concatenate((log.requeue_end_s[requeue], until[waiting]))),
        handed_back=log.handed_back[keep],
        handback_writing_agent=np.concatenate(
            (log.handback_writing_agent[writing], log.reply_agent[late_reply])
        ).astype(np.int32),
        handback_writing_start_s=t(
            np.concatenate((np.maximum(log.handback_writing_start_s[writing], warm_up_s), w_start))
        ),
        handback_writing_end_s=t(
            np.concatenate((log.handback_writing_end_s[writing], log.reply_time_s[late_reply]))
        ),
    )


def mser5(series: F64) -> int:
    """MSER-5 truncation point of a series, in its own steps (a multiple of 5).

    The series is averaged in batches of 5; the truncation ``d`` (in batches)
    minimises ``var(rest) / len(rest)``, searched over the first half (a
    minimum in the second half says the series has not settled at all: the
    whole first half is returned).
    """
    x = np.asarray(series, dtype=np.float64)
    x = x[np.isfinite(x)]
    nb = x.size // 5
    if nb < 4:
        return 0
    b = x[: nb * 5].reshape(nb, 5).mean(axis=1)
    best_d, best = 0, math.inf
    for d in range(nb - 1):
        rest = b[d:]
        value = float(rest.var()) / rest.size
        if value < best:
            best_d, best = d, value
    return 5 * min(best_d, nb // 2)
