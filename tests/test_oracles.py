"""Tests of the exact oracles in ``tests/oracles`` (the numbers the engine is checked against).

Only ``test_balanced_chain_matches_chat_metrics`` touches the project: it compares the balanced
chain with ``peakdesk.analytic.chat.chat_metrics``. Everything else checks the oracles against
each other and against small birth-death / count chains written here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from oracles.balanced_chain import balanced_chain
from oracles.forward_equations import Phase, forward_equations
from oracles.parallel_chain import parallel_chain
from oracles.sequential_chain import TieBreak, Until, sequential_chain

TOL = 1e-9
C_S = 90.0  # mean base work, seconds
T_S = 30.0  # service-level threshold, seconds
LOADS = (0.6, 0.9, 1.3)  # rho = lam*c*mult[m]/(n*m)
RATIOS = (0.2, 1.0, 5.0, math.inf)  # patience / handle at full load (inf: no abandonment)
CHAIN_KEYS = ("p_wait", "p_abandon", "mean_queue", "mean_wait_s", "slot_utilisation")


def _close(a: float, b: float, tol: float = TOL) -> bool:
    """|a - b| within tol, relative or absolute, whichever is looser."""
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _mult(m: int, slow: bool) -> list[float]:
    return [1.0 + 0.1 * k if slow else 1.0 for k in range(m)]


def _cases(n: int, m: int, slow: bool) -> Iterator[tuple[float, float, list[float]]]:
    """(lam per s, theta per s, mult) over the load x patience grid (theta = 0 only if rho < 1)."""
    mult = _mult(m, slow)
    h_full = C_S * mult[-1]
    for rho, ratio in itertools.product(LOADS, RATIOS):
        if math.isinf(ratio) and rho >= 1.0:
            continue
        theta = 0.0 if math.isinf(ratio) else 1.0 / (ratio * h_full)
        yield rho * n * m / h_full, theta, mult


def _erlang_a(lam: float, mu: float, theta: float, s: int) -> dict[str, float]:
    """Stationary M/M/s+M by its own birth-death product form (rates per second)."""
    logw = [0.0]
    x = 0
    while True:
        x += 1
        logw.append(logw[-1] + math.log(lam / (min(x, s) * mu + max(x - s, 0) * theta)))
        if x > s and logw[-1] < logw[-2] and logw[-1] < max(logw) - 80.0:
            break
    w = np.exp(np.array(logw) - max(logw))
    p = w / w.sum()
    states = np.arange(p.size)
    queue = float(p @ np.maximum(states - s, 0))
    return {
        "p_wait": float(p[s:].sum()),
        "mean_queue": queue,
        "p_abandon": theta * queue / lam,
        "mean_busy": float(p @ np.minimum(states, s)),
    }


# --------------------------------------------------------------------------- (B) vs analytic


@pytest.mark.parametrize(
    ("m", "n", "slow"), list(itertools.product(range(1, 6), (3, 12), (False, True)))
)
def test_balanced_chain_matches_chat_metrics(m: int, n: int, slow: bool) -> None:
    from peakdesk.analytic.chat import chat_metrics

    keys = (*CHAIN_KEYS, "sl_served", "sl_offered", "mean_offered_wait_s")
    for lam, theta, mult in _cases(n, m, slow):
        b = balanced_chain(lam, n, m, C_S, mult, theta, T_S)
        assert b.tail_mass < 1e-13
        handle = [C_S * x for x in mult]
        patience = math.inf if theta == 0.0 else 1.0 / theta
        r = chat_metrics(lam, n, m, handle, patience, T_S)
        for key in keys:
            assert _close(getattr(r, key), getattr(b, key)), (key, lam, theta, r, b)


def test_balanced_chain_service_levels_are_consistent() -> None:
    lam, n, m, mult = 0.2, 5, 3, [1.0, 1.2, 1.5]
    b = balanced_chain(lam, n, m, C_S, mult, 1 / 60, T_S)
    assert 1.0 - b.p_wait <= b.sl_served <= b.sl_offered <= 1.0
    assert balanced_chain(lam, n, m, C_S, mult, 1 / 60, 0.0).sl_offered == pytest.approx(
        1.0 - b.p_wait, abs=1e-15
    )
    late = balanced_chain(lam, n, m, C_S, mult, 1 / 60, 3000.0)
    assert late.sl_offered == pytest.approx(1.0, abs=1e-12)
    assert late.sl_served == pytest.approx(1.0 - late.p_abandon, abs=1e-12)
    # no abandonment: served and offered coincide
    z = balanced_chain(0.1, n, m, C_S, mult, 0.0, T_S)
    assert z.sl_served == pytest.approx(z.sl_offered, abs=1e-15) and z.p_abandon == 0.0


# --------------------------------------------------------------------------- (A) vs (B)

# (n, m) = (12, 5) has 6188 count multisets; a subset of its cases keeps the file fast.
_AB_PAIRS = [(n, m) for m in range(1, 6) for n in (3, 12) if (n, m) != (12, 5)]


def _ab_grid(slow: bool) -> Iterator[tuple[int, int, float, float, list[float]]]:
    for n, m in _AB_PAIRS:
        for lam, theta, mult in _cases(n, m, slow):
            yield n, m, lam, theta, mult
    mult = _mult(5, slow)
    h_full = C_S * mult[-1]
    for rho, ratio in ((0.6, math.inf), (0.9, 1.0), (1.3, 0.2)):
        theta = 0.0 if math.isinf(ratio) else 1.0 / (ratio * h_full)
        yield 12, 5, rho * 60 / h_full, theta, mult


def test_parallel_equals_balanced_with_constant_mult() -> None:
    for n, m, lam, theta, mult in _ab_grid(slow=False):
        a = parallel_chain(lam, n, m, C_S, mult, theta)
        b = balanced_chain(lam, n, m, C_S, mult, theta, T_S)
        assert a.tail_mass < 1e-13 and a.K >= 1
        assert a.states == math.comb(n + m, m) + a.K
        for key in (*CHAIN_KEYS, "mean_in_service"):
            assert _close(getattr(a, key), getattr(b, key)), (key, n, m, lam, theta)


def test_parallel_vs_balanced_with_slowdown_report() -> None:
    """Least-loaded (A) versus the idealised balancing router (B): printed, not asserted."""
    worst: dict[str, tuple[float, float, tuple[int, int, float, float]]] = {}
    for n, m, lam, theta, mult in _ab_grid(slow=True):
        a = parallel_chain(lam, n, m, C_S, mult, theta)
        b = balanced_chain(lam, n, m, C_S, mult, theta, T_S)
        for key in (*CHAIN_KEYS, "mean_in_service"):
            diff = abs(getattr(a, key) - getattr(b, key))
            if diff > worst.get(key, (-1.0, 0.0, (0, 0, 0.0, 0.0)))[0]:
                rel = diff / abs(getattr(b, key)) if getattr(b, key) else math.inf
                rho = lam * C_S * mult[-1] / (n * m)
                worst[key] = (diff, rel, (n, m, rho, theta * C_S * mult[-1]))
    print("\nlargest |A - B| (least-loaded minus balanced) with mult = 1 + 0.1 (k-1):")
    for key, (diff, rel, (n, m, rho, ratio)) in worst.items():
        print(
            f"  {key:18s} {diff:.3e} (rel {rel:.2e}) at n={n} m={m} rho={rho:.2f} "
            f"handle*theta={ratio:.2f}"
        )


@pytest.mark.parametrize("n", [1, 4, 9])
def test_parallel_chain_at_m1_is_erlang_a(n: int) -> None:
    for rho, theta in ((0.7, 0.0), (0.9, 1 / 45), (1.4, 1 / 300)):
        lam = rho * n / C_S
        a = parallel_chain(lam, n, 1, C_S, [1.0], theta)
        e = _erlang_a(lam, 1 / C_S, theta, n)
        for key in ("p_wait", "mean_queue", "p_abandon"):
            assert _close(getattr(a, key), e[key]), key
        assert _close(a.mean_in_service, e["mean_busy"])


@pytest.mark.parametrize("slow", [False, True])
def test_silent_abandonment(slow: bool) -> None:
    # With every slot full agents complete at mu_full regardless of mult, so the queue seen by
    # a waiting arrival is geometric and its wait is exp(mu_full - lam): P(W > T) for
    # T ~ exp(theta) is p_wait * theta/(mu_full - lam + theta).
    n, m = 4, 3
    mult = _mult(m, slow)
    mu_full = n * m / (C_S * mult[-1])
    lam, theta = 0.85 * mu_full, 1 / 70
    a = parallel_chain(lam, n, m, C_S, mult, theta, silent=True)
    b = balanced_chain(lam, n, m, C_S, mult, theta, T_S, silent=True)
    assert a.p_abandon == 0.0 and a.p_abandon_silent is not None
    assert _close(a.p_abandon_silent, a.p_wait * theta / (mu_full - lam + theta))
    assert b.p_abandon_silent is not None
    assert _close(b.p_abandon_silent, b.p_wait * theta / (mu_full - lam + theta))
    plain = parallel_chain(lam, n, m, C_S, mult, 0.0)
    for key in CHAIN_KEYS:
        assert _close(getattr(a, key), getattr(plain, key)), key
    assert parallel_chain(lam, n, m, C_S, mult, theta).p_abandon_silent is None
    with pytest.raises(ValueError):
        parallel_chain(1.01 * mu_full, n, m, C_S, mult, theta, silent=True)
    with pytest.raises(ValueError):
        balanced_chain(1.01 * mu_full, n, m, C_S, mult, 0.0, T_S)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        parallel_chain(0.1, 2, 2, C_S, [1.0], 0.01)  # wrong table length
    with pytest.raises(ValueError):
        parallel_chain(0.1, 2, 2, C_S, [1.2, 1.0], 0.01)  # decreasing
    with pytest.raises(ValueError):
        sequential_chain(0.1, 2, 2, C_S, [1.0, 1.0], 0.0, until="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sequential_chain(3 / C_S, 3, 2, C_S, [1.0, 1.0], 0.0)  # lam >= n/(c*mult[m])


# --------------------------------------------------------------------------- (C) sequential

SEQ_KEYS = (
    "p_wait",
    "p_abandon",
    "mean_queue",
    "mean_inbox_waiting",
    "mean_wait_assign_s",
    "mean_wait_reply_start_s",
    "slot_utilisation",
    "agent_busy",
    "completion_rate_per_s",
)


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("until", ["assignment", "reply_start"])
@pytest.mark.parametrize("tie_break", ["lru", "index"])
def test_sequential_at_m1_is_erlang_a(n: int, until: Until, tie_break: TieBreak) -> None:
    for rho, theta in ((0.7, 0.0), (0.9, 1 / 60), (1.5, 1 / 300)):
        lam = rho * n / C_S
        s = sequential_chain(lam, n, 1, C_S, [1.0], theta, until=until, tie_break=tie_break)
        e = _erlang_a(lam, 1 / C_S, theta, n)
        a = parallel_chain(lam, n, 1, C_S, [1.0], theta)
        for key in ("p_wait", "mean_queue", "p_abandon"):
            assert _close(getattr(s, key), e[key]), key
            assert _close(getattr(s, key), getattr(a, key)), key
        assert _close(s.agent_busy, e["mean_busy"] / n)
        assert _close(s.slot_utilisation, e["mean_busy"] / n)
        assert s.mean_inbox_waiting == 0.0
        assert _close(s.mean_wait_reply_start_s, e["mean_queue"] / lam)


def _count_chain(
    lam: float, n: int, m: int, c: float, theta: float, until: Until, k_max: int
) -> dict[str, float]:
    """Sequential model with constant mult, lumped to the multiset of counts (dense solve).

    Each agent holding k >= 1 chats sends a reply at rate 1/c; with ``until="reply_start"`` its
    k-1 waiting chats renege at rate theta each. Queue truncated at ``k_max``.
    """
    base = list(itertools.combinations_with_replacement(range(m + 1), n))
    states = [(t, 0) for t in base] + [((m,) * n, q) for q in range(1, k_max + 1)]
    index = {st: i for i, st in enumerate(states)}
    gen = np.zeros((len(states), len(states)))

    def step(t: tuple[int, ...], old: int, new: int) -> tuple[int, ...]:
        lst = list(t)
        lst[lst.index(old)] = new
        return tuple(sorted(lst))

    for i, (t, q) in enumerate(states):
        moves: list[tuple[tuple[tuple[int, ...], int], float]] = []
        if t[0] < m:
            moves.append(((step(t, t[0], t[0] + 1), 0), lam))
        elif q < k_max:
            moves.append(((t, q + 1), lam))
        for k in set(t):
            if k == 0:
                continue
            a = t.count(k)
            drop = (t, q - 1) if q > 0 else (step(t, k, k - 1), 0)
            moves.append((drop, a / c))
            if until == "reply_start" and k >= 2:
                moves.append((drop, a * (k - 1) * theta))
        if q > 0:
            moves.append(((t, q - 1), q * theta))
        for target, rate in moves:
            gen[i, index[target]] += rate
            gen[i, i] -= rate
    a_mat = np.vstack([gen.T[:-1], np.ones(len(states))])
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    pi = np.linalg.solve(a_mat, rhs)
    queue = sum(p * q for p, (_, q) in zip(pi, states, strict=True))
    inbox = sum(p * sum(max(k - 1, 0) for k in t) for p, (t, _) in zip(pi, states, strict=True))
    reneging = theta * (queue + (inbox if until == "reply_start" else 0.0))
    return {
        "p_wait": float(sum(p for p, (t, _) in zip(pi, states, strict=True) if t[0] == m)),
        "mean_queue": float(queue),
        "mean_inbox_waiting": float(inbox),
        "p_abandon": float(reneging / lam),
        "agent_busy": float(
            sum(p * sum(k >= 1 for k in t) for p, (t, _) in zip(pi, states, strict=True)) / n
        ),
    }


_SEQ_SMALL = [(4, 2), (3, 3), (2, 4)]


@pytest.mark.parametrize(("n", "m"), _SEQ_SMALL)
@pytest.mark.parametrize("until", ["assignment", "reply_start"])
def test_sequential_constant_mult_tie_break_free(n: int, m: int, until: Until) -> None:
    mult = [1.0] * m
    for rho, theta in ((0.8, 0.0), (1.2, 1 / 90)):
        lam = rho * n / C_S  # rho against the sequential capacity n/c
        lru = sequential_chain(lam, n, m, C_S, mult, theta, until=until, tie_break="lru")
        idx = sequential_chain(lam, n, m, C_S, mult, theta, until=until, tie_break="index")
        for key in SEQ_KEYS:
            assert _close(getattr(lru, key), getattr(idx, key)), key
        k_max = lru.K if theta > 0.0 else 3 * lru.K
        ref = _count_chain(lam, n, m, C_S, theta, until, k_max)
        for key, value in ref.items():
            assert _close(getattr(lru, key), value, 1e-8), key


def test_sequential_tie_break_matters_with_slowdown() -> None:
    mult = [1.0, 1.2, 1.4]
    lam = 0.8 * 3 / (C_S * mult[-1])
    lru = sequential_chain(lam, 3, 3, C_S, mult, 1 / 100, tie_break="lru")
    idx = sequential_chain(lam, 3, 3, C_S, mult, 1 / 100, tie_break="index")
    assert abs(lru.p_wait - idx.p_wait) > 1e-7
    assert lru.states_level0 < idx.states_level0  # orderings the lru router cannot reach


@pytest.mark.parametrize(("n", "m"), _SEQ_SMALL)
@pytest.mark.parametrize("until", ["assignment", "reply_start"])
def test_sequential_small_theta_approaches_no_abandonment(n: int, m: int, until: Until) -> None:
    mult = _mult(m, True)
    lam = 0.7 * n / (C_S * mult[-1])
    none = sequential_chain(lam, n, m, C_S, mult, 0.0, until=until)
    assert none.p_abandon == 0.0
    gaps = []
    for theta in (1e-9, 1e-11):
        tiny = sequential_chain(lam, n, m, C_S, mult, theta, until=until)
        gap = max(
            abs(getattr(tiny, key) - getattr(none, key)) / max(1.0, abs(getattr(none, key)))
            for key in SEQ_KEYS
        )
        gaps.append(gap)
    assert gaps[1] < 1e-6
    assert 30.0 < gaps[0] / gaps[1] < 300.0  # the gap shrinks linearly in theta


@pytest.mark.parametrize(("n", "m"), [(4, 2), (3, 3)])
@pytest.mark.parametrize("until", ["assignment", "reply_start"])
def test_sequential_flow_balance(n: int, m: int, until: Until) -> None:
    mult = _mult(m, True)
    lam = 1.1 * n / (C_S * mult[-1])
    s = sequential_chain(lam, n, m, C_S, mult, 1 / 120, until=until)
    assert s.tail_bound < 1e-13
    assert s.states == s.states_level0 + s.K * s.states_per_level
    assert _close(s.completion_rate_per_s, lam * (1.0 - s.p_abandon))
    assert _close(s.mean_wait_reply_start_s * lam, s.mean_queue + s.mean_inbox_waiting)
    assert s.mean_inbox_waiting > 0.0


def test_sequential_n4_m4_size() -> None:
    mult = [1.0, 1.1, 1.2, 1.3]
    lam = 0.9 * 4 / (C_S * mult[-1])
    s = sequential_chain(lam, 4, 4, C_S, mult, 1 / 90)
    assert (s.states_level0, s.states_per_level) == (5634, 256)
    assert _close(s.completion_rate_per_s, lam * (1.0 - s.p_abandon))


# --------------------------------------------------------------------------- (D) forward eqs


def test_forward_equations_converge_to_erlang_a() -> None:
    lam, mu, theta, s = 0.1, 1 / 60, 1 / 120, 7
    r = forward_equations(
        [lam], 4 * 3600.0, mu, theta, [Phase(0.0, s)], interval_s=1800.0, end_s=4 * 3600.0
    )
    e = _erlang_a(lam, mu, theta, s)
    assert r.max_truncation_mass < 1e-10 and r.max_mass_error < 1e-9
    assert r.p_delay[-1] == pytest.approx(e["p_wait"], rel=1e-6)
    assert r.mean_queue[-1] == pytest.approx(e["mean_queue"], rel=1e-6)
    assert r.mean_busy[-1] == pytest.approx(e["mean_busy"], rel=1e-6)
    np.testing.assert_allclose(r.online, s, rtol=0, atol=1e-12)
    assert r.p_delay[0] < e["p_wait"]  # started empty


def test_forward_equations_hand_back_conserves_mass() -> None:
    phases = [Phase(0.0, 8), Phase(900.0, 3), Phase(1800.0, 10)]
    r = forward_equations(
        [0.03, 0.05, 0.04], 900.0, 1 / 100, 0.0, phases, interval_s=450.0, end_s=2700.0
    )
    assert r.max_mass_error < 1e-9
    assert r.max_truncation_mass < 1e-10
    np.testing.assert_allclose(r.online, [8, 8, 3, 3, 10, 10], rtol=0, atol=1e-12)
    assert np.all(r.mean_busy <= r.online + 1e-12)
    assert r.mean_queue[3] > r.mean_queue[1]  # three agents are overloaded
    assert r.p_delay[4] < r.p_delay[3]


def test_forward_equations_handover_with_vanishing_grace() -> None:
    lam, bin_s = [0.04, 0.06], 1800.0
    steady = forward_equations(
        lam, bin_s, 1 / 100, 0.0, [Phase(0.0, 6)], interval_s=600.0, end_s=3600.0, qf_max=120
    )
    for grace in (1e-6, 0.0):
        hand = forward_equations(
            lam,
            bin_s,
            1 / 100,
            0.0,
            [Phase(0.0, 6), Phase(1200.0, 6, "handover", grace)],
            interval_s=600.0,
            end_s=3600.0,
            qf_max=120,
        )
        for key in ("p_delay", "mean_queue", "mean_busy", "online"):
            np.testing.assert_allclose(getattr(hand, key), getattr(steady, key), atol=1e-6)
    # With reneging the composition of the queue changes at a handover (new agents take the
    # fresh queued chats at once, the handed-back ones wait and never renege), so the two agree
    # only as far as the queue at the switch is small.
    steady = forward_equations(
        lam, bin_s, 1 / 100, 1 / 120, [Phase(0.0, 6)], interval_s=600.0, end_s=3600.0
    )
    switch = [Phase(0.0, 6), Phase(1200.0, 6, "handover", 1e-6)]
    hand = forward_equations(lam, bin_s, 1 / 100, 1 / 120, switch, interval_s=600.0, end_s=3600.0)
    for key in ("p_delay", "mean_queue", "mean_busy", "online"):
        np.testing.assert_allclose(getattr(hand, key), getattr(steady, key), atol=1e-2)
    np.testing.assert_allclose(hand.p_delay[:2], steady.p_delay[:2], atol=1e-9)


def test_forward_equations_grace_keeps_leavers_online() -> None:
    phases = [Phase(0.0, 6), Phase(1200.0, 4, "handover", 300.0)]
    r = forward_equations([0.04], 3600.0, 1 / 100, 1 / 120, phases, interval_s=600.0, end_s=3600.0)
    assert r.online[0] == pytest.approx(6.0, abs=1e-12)
    assert 4.0 < r.online[2] < 6.0  # leavers in grace during [1200, 1500)
    assert r.online[3] == pytest.approx(4.0, abs=1e-12)
    assert r.max_mass_error < 1e-9
    overlapping = [Phase(0.0, 6), Phase(600.0, 4, "handover", 700.0), Phase(1200.0, 5)]
    with pytest.raises(ValueError):
        forward_equations([0.04], 3600.0, 0.01, 0.0, overlapping, interval_s=600.0, end_s=3600.0)
