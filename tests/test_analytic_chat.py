"""Tests for the chat concurrency model and the time-varying offered load / MOL staffing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.linalg import solve
from scipy.sparse.linalg import expm_multiply
from scipy.special import ndtr

from peakdesk.analytic import (
    ChatResult,
    agents_for_chat_target,
    agents_for_service_level_a,
    agents_for_service_level_c,
    chat_metrics,
    erlang_a_metrics,
    erlang_c_metrics,
    mol_staffing,
    offered_load,
)

TOL = 1e-9

# --------------------------------------------------------------------------- chat: m = 1


@pytest.mark.parametrize("patience", [20.0, 150.0, 900.0])
@pytest.mark.parametrize(("agents", "rho"), [(1, 0.6), (4, 0.95), (25, 1.1), (120, 0.9)])
@pytest.mark.parametrize("target", [0.0, 20.0, math.inf])
def test_m1_reproduces_erlang_a(agents: int, rho: float, patience: float, target: float) -> None:
    aht = 240.0
    lam = rho * agents / aht
    a = erlang_a_metrics(lam, aht, patience, agents, target)
    c = chat_metrics(lam, agents, 1, aht, patience, target)
    assert c.p_wait == pytest.approx(a.p_wait, rel=TOL, abs=TOL)
    assert c.p_abandon == pytest.approx(a.p_abandon, rel=TOL, abs=TOL)
    assert c.mean_queue == pytest.approx(a.mean_queue, rel=TOL, abs=TOL)
    assert c.mean_wait_s == pytest.approx(a.asa_s, rel=TOL, abs=TOL)
    assert c.mean_offered_wait_s == pytest.approx(a.mean_offered_wait_s, rel=TOL, abs=TOL)
    assert c.sl_served == pytest.approx(a.sl_served, rel=TOL, abs=TOL)
    assert c.sl_offered == pytest.approx(a.sl_offered, rel=TOL, abs=TOL)
    assert c.slot_utilisation == pytest.approx(a.occupancy, rel=TOL, abs=TOL)
    assert c.queue_states == a.queue_states
    assert c.stable


@pytest.mark.parametrize(("agents", "rho"), [(1, 0.5), (3, 0.9), (50, 0.97), (400, 0.99)])
def test_m1_infinite_patience_reproduces_erlang_c(agents: int, rho: float) -> None:
    aht = 300.0
    lam = rho * agents / aht
    e = erlang_c_metrics(lam, aht, agents, 20.0)
    c = chat_metrics(lam, agents, 1, [aht], math.inf, 20.0)
    assert c.p_wait == pytest.approx(e.p_wait, rel=TOL, abs=TOL)
    assert c.mean_wait_s == pytest.approx(e.asa_s, rel=TOL, abs=TOL)
    assert c.mean_queue == pytest.approx(e.mean_queue, rel=TOL, abs=TOL)
    assert c.sl_served == pytest.approx(e.service_level, rel=TOL, abs=TOL)
    assert c.sl_offered == pytest.approx(e.service_level, rel=TOL, abs=TOL)
    assert c.slot_utilisation == pytest.approx(e.occupancy, rel=TOL, abs=TOL)
    assert c.p_abandon == 0.0


def test_m1_staffing_matches_erlang() -> None:
    for lam in (0.01, 0.3, 2.0):
        assert agents_for_chat_target(lam, 1, 200.0, math.inf, 20.0, 0.8) == (
            agents_for_service_level_c(lam, 200.0, 20.0, 0.8)
        )
        for definition in ("served", "offered"):
            assert agents_for_chat_target(lam, 1, 200.0, 60.0, 20.0, 0.8, definition) == (
                agents_for_service_level_a(lam, 200.0, 60.0, 20.0, 0.8, definition)
            )


# --------------------------------------------------------------------------- chat: properties


def test_unstable_and_idle_edge_cases() -> None:
    r = chat_metrics(1.0, 2, 3, [100.0, 120.0, 150.0], math.inf, 20.0)  # mu_full = 0.04
    assert not r.stable
    assert r.p_wait == 1.0 and r.sl_served == 0.0 and math.isinf(r.mean_wait_s)
    assert r.slot_utilisation == 1.0
    assert r.agent_throughput_per_hour == pytest.approx(3600 * 0.04 / 2)
    z = chat_metrics(0.0, 2, 3, 100.0, 60.0, 20.0)
    assert z.p_wait == 0.0 and z.sl_served == 1.0 and z.mean_in_service == 0.0
    with pytest.raises(ValueError):
        chat_metrics(0.1, 2, 3, [100.0, 120.0], 60.0, 20.0)
    with pytest.raises(ValueError):
        chat_metrics(0.1, 2, 3, [100.0, -1.0, 120.0], 60.0, 20.0)


@pytest.mark.parametrize("patience", [45.0, math.inf])
def test_monotone_in_agents(patience: float) -> None:
    h = [150.0, 190.0, 260.0]
    lam = 0.25  # mu_full(n) = 3 n / 260 -> stable from n = 22 without abandonment
    prev: ChatResult | None = None
    for n in range(22 if math.isinf(patience) else 12, 40):
        r = chat_metrics(lam, n, 3, h, patience, 30.0)
        if prev is not None:
            assert r.p_wait < prev.p_wait
            assert r.mean_wait_s < prev.mean_wait_s
            assert r.p_abandon <= prev.p_abandon
            for key in ("sl_served", "sl_offered"):
                before, after = getattr(prev, key), getattr(r, key)
                assert after >= before - 1e-14
                if before < 1.0 - 1e-6:
                    assert after > before
        assert 0.0 <= r.sl_served <= r.sl_offered <= 1.0
        prev = r


def test_concurrency_without_slowdown_needs_fewer_agents() -> None:
    lam, aht = 0.4, 240.0
    needed = [agents_for_chat_target(lam, m, aht, 120.0, 30.0, 0.85) for m in (1, 2, 3, 4)]
    assert all(b <= a for a, b in itertools.pairwise(needed))
    assert needed[1] < needed[0] and needed[3] < needed[1]
    # With slowdown the advantage shrinks but the target is still met with the result.
    h = [aht, 1.3 * aht, 1.7 * aht]
    n = agents_for_chat_target(lam, 3, h, 120.0, 30.0, 0.85)
    assert needed[2] <= n
    assert chat_metrics(lam, n, 3, h, 120.0, 30.0).sl_served >= 0.85
    assert chat_metrics(lam, n - 1, 3, h, 120.0, 30.0).sl_served < 0.85


@pytest.mark.parametrize("definition", ["served", "offered"])
def test_agents_for_chat_target_is_minimal(definition: str) -> None:
    h = [120.0, 150.0, 200.0, 260.0]
    for lam in (0.02, 0.5, 3.0):
        for patience in (30.0, math.inf):
            n = agents_for_chat_target(lam, 4, h, patience, 20.0, 0.9, definition)  # type: ignore[arg-type]

            def sl(k: int, patience: float = patience, lam: float = lam) -> float:
                r = chat_metrics(lam, k, 4, h, patience, 20.0)
                return r.sl_served if definition == "served" else r.sl_offered

            assert sl(n) >= 0.9
            if n > 1:
                assert sl(n - 1) < 0.9


def test_littles_law_and_flow_balance() -> None:
    lam = 0.3
    h = [100.0, 140.0]
    r = chat_metrics(lam, 8, 2, h, 70.0, 20.0)
    assert r.mean_queue == pytest.approx(lam * r.mean_wait_s, rel=1e-12)
    # Completions = arrivals that do not abandon; per agent per hour.
    assert r.agent_throughput_per_hour * 8 / 3600 == pytest.approx(lam * (1 - r.p_abandon))


# --------------------------------------------------------------------------- chat: brute force


def _brute_force(
    lam: float, n: int, h: list[float], patience: float, t: float, k_max: int
) -> dict[str, float]:
    """Direct stationary solve of the truncated generator and a tagged-customer chain."""
    m = len(h)
    slots = n * m
    theta = 1.0 / patience

    def death(j: int) -> float:
        if j > slots:
            return slots / h[-1] + (j - slots) * theta
        loads = [j // n + (1 if a < j % n else 0) for a in range(n)]
        return sum(k / h[k - 1] for k in loads if k > 0)

    size = slots + k_max + 1
    q = np.zeros((size, size))
    for j in range(size):
        if j + 1 < size:
            q[j, j + 1] = lam
        if j > 0:
            q[j, j - 1] = death(j)
        q[j, j] = -q[j].sum()
    a = q.T.copy()
    a[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = solve(a, rhs)
    busy = pi[slots:]
    waiting = np.arange(busy.size, dtype=float)
    mean_queue = float(waiting @ busy)

    # Tagged arrival with i chats ahead: states i = 0..K, then served / abandoned.
    mu_full = slots / h[-1]
    kk = busy.size

    def tagged(with_abandon: bool) -> tuple[np.ndarray, np.ndarray]:
        g = np.zeros((kk + 2, kk + 2))  # columns kk: served, kk + 1: abandoned
        for i in range(kk):
            ahead_rate = mu_full + i * theta
            if i > 0:
                g[i, i - 1] = ahead_rate
            else:
                g[i, kk] = mu_full
            if with_abandon:
                g[i, kk + 1] = theta
            g[i, i] = -g[i].sum()
        unit = np.zeros(kk + 2)
        unit[kk] = 1.0
        served_by_t = expm_multiply(g * t, unit)[:kk]  # column 'served' of exp(g t)
        mean_time = solve(-g[:kk, :kk], np.ones(kk))
        return served_by_t, mean_time

    served_by_t, mean_wait_given = tagged(True)
    offered_by_t, mean_v_given = tagged(False)
    p_free = float(pi[:slots].sum())
    return {
        "p_wait": float(busy.sum()),
        "mean_queue": mean_queue,
        "p_abandon": theta * mean_queue / lam,
        "mean_wait_s": float(busy @ mean_wait_given),
        "mean_offered_wait_s": float(busy @ mean_v_given),
        "sl_served": p_free + float(busy @ served_by_t),
        "sl_offered": p_free + float(busy @ offered_by_t),
        "mean_in_service": float(np.minimum(np.arange(size), slots) @ pi),
    }


@pytest.mark.parametrize(("lam", "n"), [(0.05, 3), (0.12, 3), (0.3, 2)])
def test_against_generator_solve(lam: float, n: int) -> None:
    h = [100.0, 130.0, 170.0]
    patience, t = 60.0, 25.0
    ref = _brute_force(lam, n, h, patience, t, k_max=80)
    r = chat_metrics(lam, n, 3, h, patience, t)
    for key, value in ref.items():
        assert getattr(r, key) == pytest.approx(value, rel=1e-8, abs=1e-11), key
    # Little's law with the independently computed mean wait of the tagged chain.
    assert ref["mean_queue"] == pytest.approx(lam * ref["mean_wait_s"], rel=1e-8)
    assert r.slot_utilisation == pytest.approx(ref["mean_in_service"] / (3 * n), rel=1e-8)


# --------------------------------------------------------------------------- offered load


@pytest.mark.parametrize("service", ["exponential", "deterministic", "lognormal"])
def test_offered_load_stationary(service: str) -> None:
    lam, s, dt = 0.07, 420.0, 60.0
    rate = np.full(400, lam)
    started = offered_load(rate, dt, s, service, cv=0.8, initial=lam * s)  # type: ignore[arg-type]
    np.testing.assert_allclose(started, lam * s, rtol=1e-10)
    cold = offered_load(rate, dt, s, service, cv=0.8)  # type: ignore[arg-type]
    assert cold[0] < lam * s
    assert np.all(np.diff(cold) >= -1e-12)
    np.testing.assert_allclose(cold[-50:], lam * s, rtol=1e-6)


def test_exponential_step_relaxes_with_time_constant_es() -> None:
    lam0, lam1, s, dt = 0.02, 0.09, 300.0, 30.0
    rate = np.full(200, lam1)
    got = offered_load(rate, dt, s, "exponential", initial=lam0 * s)
    # m(t) = lam1 s + (lam0 - lam1) s exp(-t/s); average over [t_i, t_i + dt].
    t0 = np.arange(200) * dt
    want = lam1 * s + (lam0 - lam1) * s * (s / dt) * (np.exp(-t0 / s) - np.exp(-(t0 + dt) / s))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # From empty: 1 - exp(-t/s) of the new level at the end of each bin.
    cold = offered_load(rate, dt, s)
    frac = cold / (lam1 * s)
    want_frac = 1.0 - (s / dt) * (np.exp(-t0 / s) - np.exp(-(t0 + dt) / s))
    np.testing.assert_allclose(frac, want_frac, rtol=1e-12)
    i = round(s / dt)  # bin starting at t = E[S]
    assert frac[i] == pytest.approx(1 - math.exp(-1) * (s / dt) * (1 - math.exp(-dt / s)))


def test_deterministic_step_is_ramp() -> None:
    lam, s, dt = 0.1, 300.0, 60.0
    got = offered_load(np.full(10, lam), dt, s, "deterministic")
    mid = (np.arange(10) + 0.5) * dt
    np.testing.assert_allclose(got, lam * np.minimum(mid, s), rtol=1e-12)


def test_lognormal_matches_direct_integration() -> None:
    rng = np.random.default_rng(7)
    rate = rng.uniform(0.0, 0.2, 24)
    s, cv, dt = 200.0, 1.4, 45.0
    sigma2 = math.log1p(cv * cv)
    sigma, mu = math.sqrt(sigma2), math.log(s) - sigma2 / 2

    def h_int(u: np.ndarray) -> np.ndarray:  # integral_0^u P(S > v) dv = E[min(S, u)]
        u = np.maximum(u, 0.0)
        with np.errstate(divide="ignore"):
            z = (np.log(u) - mu) / sigma
        return np.asarray(s * ndtr(z - sigma) + u * (1.0 - ndtr(z)))

    x, w = np.polynomial.legendre.leggauss(40)
    edges = np.arange(rate.size + 1) * dt
    want = np.empty(rate.size)
    for i in range(rate.size):
        t = edges[i] + (x + 1.0) * dt / 2
        m_t = sum(rate[j] * (h_int(t - edges[j]) - h_int(t - edges[j + 1])) for j in range(i + 1))
        want[i] = float(w @ m_t) / 2
    got = offered_load(rate, dt, s, "lognormal", cv=cv)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize(("service", "lag_factor"), [("exponential", 1.0), ("deterministic", 0.5)])
def test_sinusoid_lags_by_residual_mean(service: str, lag_factor: float) -> None:
    s, dt, period = 300.0, 60.0, 86_400.0
    n_bins = int(2 * period / dt)
    mid = (np.arange(n_bins) + 0.5) * dt
    omega = 2 * math.pi / period
    rate = 0.05 + 0.03 * np.sin(omega * mid)
    m = offered_load(rate, dt, s, service, initial=0.05 * s)  # type: ignore[arg-type]
    second = slice(n_bins // 2, n_bins)  # one full period after the transient
    # Peak of m(t) comes about E[S^2] / (2 E[S]) after the peak of lam(t).
    peak_lag = (np.argmax(m[second]) - np.argmax(rate[second])) * dt
    assert abs(peak_lag - lag_factor * s) <= dt
    # Phase of the fundamental gives the lag precisely.
    basis = np.exp(-1j * omega * mid[second])
    lag = (np.angle(rate[second] @ basis) - np.angle(m[second] @ basis)) / omega
    expected = math.atan(omega * s) / omega if service == "exponential" else s / 2
    assert lag == pytest.approx(expected, rel=2e-3)
    assert lag == pytest.approx(lag_factor * s, rel=1e-2)


def test_offered_load_validation() -> None:
    with pytest.raises(ValueError):
        offered_load([0.1, -0.1], 60.0, 100.0)
    with pytest.raises(ValueError):
        offered_load([0.1], 60.0, 100.0, "gamma")  # type: ignore[arg-type]
    assert offered_load([], 60.0, 100.0).size == 0


# --------------------------------------------------------------------------- MOL staffing


def test_mol_constant_load_equals_stationary_staffing() -> None:
    s, t, sl = 240.0, 20.0, 0.8
    for a in (0.0, 0.7, 6.3, 41.0):
        lam = a / s
        load = np.full(5, a)
        c = mol_staffing(load, s, t, sl)
        assert np.all(c == agents_for_service_level_c(lam, s, t, sl))
        for definition in ("served", "offered"):
            got = mol_staffing(load, s, t, sl, mean_patience_s=90.0, definition=definition)
            want = agents_for_service_level_a(lam, s, 90.0, t, sl, definition)
            assert np.all(got == want)
        h = [s, 1.2 * s, 1.5 * s]
        chat = mol_staffing(load, s, t, sl, 90.0, max_concurrency=3, handle_time_s=h)
        assert np.all(chat == agents_for_chat_target(lam, 3, h, 90.0, t, sl))
        no_slow = mol_staffing(load, s, t, sl, 90.0, max_concurrency=3)
        assert np.all(no_slow == agents_for_chat_target(lam, 3, s, 90.0, t, sl))


def test_mol_pipeline_on_a_peak_is_quick_and_sensible() -> None:
    dt, s = 900.0, 360.0
    hours = np.arange(96) * dt / 3600
    rate = 0.05 + 0.6 * np.exp(-0.5 * ((hours - 20.0) / 1.5) ** 2)  # evening spike
    load = offered_load(np.tile(rate, 30), dt, s, initial=rate[0] * s)  # 30 days, repeats
    staff = mol_staffing(load, s, 30.0, 0.8, mean_patience_s=120.0, max_concurrency=3)
    assert staff.dtype == np.int64 and staff.shape == load.shape
    assert np.all(staff >= 1)
    day = staff[-96:]
    assert int(np.argmax(day)) >= int(np.argmax(rate))  # staffing peak lags the arrival peak
    assert np.array_equal(staff[-96:], staff[-192:-96])  # periodic once settled
