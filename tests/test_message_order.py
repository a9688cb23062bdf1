"""A message log built with the order its maker knows is the log the sort gives.

``MessageLog.from_arrays(..., order=...)`` checks the order in one pass and uses
it only when it is the stable sort by (conversation, time, sender); any other
order (wrong, partial, out of range, ties broken the other way) falls back to the
sort.  The engine's export passes the order it knows; the rules' rounds are
kept with the log and split once.
"""

from __future__ import annotations

import numpy as np
import pytest

from peakdesk.engine.export import to_message_log
from peakdesk.rules.messages import AGENT, AUTO, BOT, BUYER, MessageLog
from peakdesk.rules.rounds import rounds_of


def _columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    # few conversations, coarse times and senders: many ties
    return {
        "conversation": rng.integers(0, 5, n),
        "sender": rng.choice([BUYER, AGENT, BOT, AUTO], n),
        "time_s": rng.integers(0, 4, n).astype(float),
        "agent": rng.integers(-1, 3, n),
    }


def _same(a: MessageLog, b: MessageLog) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("conversation", "sender", "time_s", "agent", "leave_message")
    )


@pytest.mark.parametrize("seed", range(20))
def test_any_order_given_gives_the_sorted_log(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = _columns(rng, int(rng.integers(0, 40)))
    sorted_log = MessageLog.from_arrays(**cols)
    n = cols["time_s"].size
    right = np.lexsort((cols["sender"], cols["time_s"], cols["conversation"]))
    candidates = [
        right,
        rng.permutation(n),
        right[::-1].copy(),
        np.arange(n),
        right[: max(n - 1, 0)],  # one row short
        np.minimum(right, max(n - 2, 0)),  # a row twice
        right + 1,  # out of range
    ]
    for order in candidates:
        assert _same(MessageLog.from_arrays(**cols, order=order), sorted_log)


def test_ties_keep_the_input_order() -> None:
    """Equal (conversation, time, sender): the order given must keep them as input."""
    cols = {
        "conversation": np.array([0, 0]),
        "sender": np.array([BUYER, BUYER]),
        "time_s": np.array([1.0, 1.0]),
        "agent": np.array([7, 8]),
    }
    swapped = MessageLog.from_arrays(**cols, order=np.array([1, 0]))
    assert swapped.agent.tolist() == [7, 8]


def test_the_engine_export_is_the_sorted_log() -> None:
    from conftest import SCENARIOS
    from peakdesk.demand.sample import sample_workload
    from peakdesk.engine.engines import run
    from peakdesk.engine.setup import build_config
    from peakdesk.rules import messages
    from peakdesk.scenario import load_scenario

    loaded = load_scenario(SCENARIOS / "small-shop.toml")
    spec = loaded.spec
    w = sample_workload(loaded, 0)
    log = run(
        build_config(spec), w, start=spec.calendar.start_aware, horizon_s=spec.calendar.horizon
    )
    fast = to_message_log(log)
    checked = messages._sorts
    try:
        messages._sorts = lambda *_: False  # type: ignore[assignment]
        slow = to_message_log(log)
    finally:
        messages._sorts = checked
    assert _same(fast, slow)


def test_rounds_are_split_once_per_log() -> None:
    log = MessageLog.from_arrays(
        conversation=[0, 0, 1], sender=[BUYER, AGENT, BUYER], time_s=[0.0, 5.0, 1.0]
    )
    first = rounds_of(log, bots_count=False)
    assert rounds_of(log, bots_count=False) is first
    assert rounds_of(log, bots_count=True) is not first
    assert first.n == 2 and first.answered.tolist() == [True, False]
    # a log made from it (shifted) has its own
    assert rounds_of(log.shifted(10.0), bots_count=False) is not first


def _bot_resolved_by_rounds(log: MessageLog) -> np.ndarray:
    """The definition: no human reply, a bot reply, and no round left unanswered."""
    from peakdesk.rules.rounds import find_rounds, qualifying_replies

    n = log.n_conversations
    humans = np.bincount(log.conversation[log.sender == AGENT], minlength=n)
    bots = np.bincount(log.conversation[log.sender == BOT], minlength=n)
    rounds = find_rounds(log, qualifying_replies(log, bots_count=True))
    open_rounds = np.bincount(rounds.conversation[~rounds.answered], minlength=n)
    return (humans == 0) & (bots > 0) & (open_rounds == 0)


@pytest.mark.parametrize("seed", range(30))
def test_bot_resolved_is_the_rounds_definition(seed: int) -> None:
    """Conversations of alternating buyer messages and replies (a bot, an agent or a
    greeting, sometimes none at the end), and random interleavings: the fast reading
    equals the definition by rounds."""
    from peakdesk.rules.rounds import bot_resolved

    rng = np.random.default_rng(seed)
    conv, sender, time = [], [], []
    for c in range(int(rng.integers(1, 40))):
        t = 0.0
        for _ in range(int(rng.integers(1, 6))):
            kind = int(rng.integers(0, 5))
            if seed % 3 == 0:  # random order of senders, not only alternating
                conv.append(c)
                sender.append(int(rng.choice([BUYER, AGENT, BOT, AUTO])))
                time.append(t)
                t += float(rng.integers(0, 3))
                continue
            conv.append(c)
            sender.append(BUYER)
            time.append(t)
            t += float(rng.integers(0, 3))
            if kind > 0:
                conv.append(c)
                sender.append([AGENT, BOT, AUTO, BOT][kind - 1])
                time.append(t)
                t += float(rng.integers(1, 3))
    log = MessageLog.from_arrays(conversation=conv, sender=sender, time_s=time)
    assert np.array_equal(bot_resolved(log), _bot_resolved_by_rounds(log))
    assert bot_resolved(log) is bot_resolved(log)  # kept with the log
