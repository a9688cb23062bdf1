"""What the planner derives from a scenario, once: the planning inputs it steps through.

:func:`PlanningInputs.of` reads the scenario once: the planning grid, the
demand intensity, the reference pool and the one-pool *requirement scenario*
the requirement is simulated on, the analytic offered work per interval, and
each inquiry type's share of it.  The requirement (ISA), the shift cover and
the verification take these, so nothing climbs back up to the scenario, and
the planner reaches the engine only through ``peakdesk.engine.setup`` on a
scenario (the requirement scenario, or the scenario itself with the plan's
shifts): the same seam a user's scenario goes through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peakdesk.demand.sample import Intensity, intensity
from peakdesk.engine.config import EngineConfig, PoolConfig
from peakdesk.engine.setup import ShiftInstance, config_from_instances, pool_configs
from peakdesk.experiment.targets import scenario_targets
from peakdesk.rules.targets import Target
from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import PlanShifts, Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """The planning grid: reporting intervals over the horizon.

    Attributes
    ----------
    interval_s
        Width of an interval, seconds.
    n
        Number of intervals (the last may stick out of the horizon).
    """

    interval_s: float
    n: int

    @property
    def edges_s(self) -> F64:
        """Interval edges, seconds from the start (``n + 1`` values)."""
        return np.arange(self.n + 1, dtype=np.float64) * self.interval_s

    @classmethod
    def of(cls, spec: Scenario) -> Grid:
        """The scenario's reporting grid over its horizon."""
        step = spec.calendar.interval
        return cls(step, max(1, math.ceil(spec.calendar.horizon / step - 1e-9)))


def reference_pool(spec: Scenario) -> int:
    """The pool whose agents measure the requirement: the first planned pool (else the first)."""
    for k, p in enumerate(spec.pools):
        if p.plan is not None:
            return k
    return 0


def requirement_scenario(spec: Scenario) -> Scenario:
    """The scenario with one pool: the reference pool with every skill at full proficiency.

    The requirement is simulated on this scenario (``peakdesk.engine.setup`` builds
    its engine configuration, as for any scenario): same buyers, calendar and
    routing; a pool of the reference pool's speed, concurrency, slowdown,
    discipline and cost, that takes every inquiry type at proficiency 1, with
    no shrinkage (its agents are online agents).  Its agents hand their open
    chats back at the end of their interval (``shift_end = "hand_back"``): the
    requirement of an interval is the agents online in it, and an agent who
    drained past the interval's end would serve the next one uncounted (on the
    sinusoid of Feldman et al., staffing to alpha = 0.1 with draining agents
    gives P(delay) 0.001-0.005 in every falling interval; handing back, 0.04-0.15
    around 0.1, benchmarks/isa_sinusoid.py).  The plan's real agents end their
    shifts as their pool says, and the verification simulates that.
    """
    ref = spec.pools[reference_pool(spec)]
    pool = ref.model_copy(
        update={
            "name": "requirement",
            "skills": {t.skill_name: 1.0 for t in spec.inquiry_types},
            "shrinkage": 0.0,
            "shift_end": "hand_back",
            "shift_end_grace": None,
            "shifts": [],
            "plan": ref.plan if ref.plan is not None else PlanShifts(),
        }
    )
    # The requirement is what the work needs, whatever seats there are: no seat groups
    # (their pools are not this one).
    seats = spec.subaccounts.model_copy(update={"groups": []})
    return spec.model_copy(update={"pools": [pool], "subaccounts": seats})


def writes_one_at_a_time(pool: PoolConfig) -> bool:
    """Whether an agent's writing (not only its slots) can make buyers wait."""
    return pool.discipline == "sequential" and pool.max_concurrency > 1


@dataclass(frozen=True)
class OfferedWork:
    """What the conversations of each interval ask of the reference pool.

    Attributes
    ----------
    rate_per_s
        Conversations needing an agent arriving per second, per interval.
    hold_s
        Mean slot-holding time of those conversations at the pool's full
        concurrency, seconds, per interval.
    hold_by_level_s
        Mean slot-holding time while the agent holds ``k`` chats, ``k = 1..m``
        (the chat model's handle times), seconds, for the whole horizon's mix.
    writing_share
        Share of a conversation's holding time spent writing its replies (at
        full concurrency), per interval.
    reply_s
        Mean writing time of one reply at full concurrency, seconds.
    """

    rate_per_s: F64
    hold_s: F64
    hold_by_level_s: tuple[float, ...]
    writing_share: F64
    reply_s: float


def offered_work(spec: Scenario, inten: Intensity, grid: Grid, ref: PoolConfig) -> OfferedWork:
    """Arrivals, holding times and writing per interval (see :class:`OfferedWork`).

    The holding time is the analytic estimate of a conversation's life at the
    reference pool's full concurrency: its buyers' think times, its replies'
    compose times (slowed by concurrency) and its wrap-up.
    """
    per_bin = inten.expected
    edges = grid.edges_s
    bins = np.arange(per_bin.shape[1]) * inten.bin_s
    k = np.minimum((bins // grid.interval_s).astype(np.int64), grid.n - 1)
    counts = np.zeros((per_bin.shape[0], grid.n))
    for t in range(per_bin.shape[0]):
        counts[t] = np.bincount(k, weights=per_bin[t], minlength=grid.n)
    bot = np.array([t.bot_resolve for t in spec.inquiry_types])
    human = counts * (1.0 - bot)[:, None]
    rate = human.sum(axis=0) / np.diff(edges)
    levels = np.asarray(ref.concurrency_multiplier, dtype=np.float64)
    idle, writing, msgs = type_work(spec, ref)
    mult = float(levels[-1])
    hold = idle + writing * mult
    weight = human.sum(axis=1)
    mix = weight / weight.sum() if weight.sum() > 0 else np.full(len(weight), 1.0 / len(weight))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_hold = (human * hold[:, None]).sum(axis=0) / human.sum(axis=0)
        mean_write = (human * (writing * mult)[:, None]).sum(axis=0) / human.sum(axis=0)
    fallback = float(np.dot(mix, hold))
    mean_hold = np.where(np.isfinite(mean_hold), mean_hold, fallback)
    share = np.where(np.isfinite(mean_write), mean_write, float(np.dot(mix, writing * mult)))
    by_level = tuple(float(np.dot(mix, idle + writing * k)) for k in levels)
    replies = float(np.dot(mix, msgs))
    return OfferedWork(
        rate_per_s=rate,
        hold_s=mean_hold,
        hold_by_level_s=by_level,
        writing_share=share / mean_hold,
        reply_s=float(np.dot(mix, writing * mult)) / replies,
    )


def type_work(spec: Scenario, pool: PoolConfig) -> tuple[F64, F64, F64]:
    """Per inquiry type, what one conversation asks of an agent of ``pool``.

    Returns
    -------
    idle : ndarray
        Seconds the slot is held while nobody writes: buyers' think times between
        replies and the wrap-up.
    writing : ndarray
        Seconds of writing at concurrency 1 (compose times over the pool's speed and
        proficiency); NaN for a type the pool cannot take.
    messages : ndarray
        Mean buyer messages (= replies).
    """
    n_types = len(spec.inquiry_types)
    idle = np.zeros(n_types)
    writing = np.zeros(n_types)
    msgs = np.zeros(n_types)
    for j, itype in enumerate(spec.inquiry_types):
        n_msg = _mean_count(itype.messages)
        msgs[j] = n_msg
        idle[j] = (n_msg - 1.0) * _mean_duration(itype.think_time) + itype.wrap_up
        writing[j] = n_msg * _mean_duration(itype.compose_time) * pool.time_factor_by_type[j]
    return idle, writing, msgs


def hold_at_full(spec: Scenario, pool: PoolConfig) -> F64:
    """Mean slot-holding time per type at the pool's full concurrency, seconds (NaN: no skill)."""
    idle, writing, _ = type_work(spec, pool)
    return np.asarray(idle + writing * float(pool.concurrency_multiplier[-1]), dtype=np.float64)


def pool_capacity(spec: Scenario, ref: PoolConfig) -> F64:
    """Work one agent of each pool does, per inquiry type, in reference agents.

    An agent holding ``m`` chats of mean holding time ``h`` closes ``m / h``
    conversations per second when busy; pool ``p``'s capacity for type ``j``
    is that rate over the reference agent's (``ref``, the requirement
    scenario's pool, at proficiency 1 on every type):
    ``(m_p / h_pj) / (m_ref / h_ref,j)``.  A faster pool (speed 1.3) or a
    slower one (proficiency 0.7, fewer chats) thus counts for more or less
    than one reference agent; 0 where the pool lacks the skill.

    Returns
    -------
    ndarray, shape (n_pools, n_types)
        Reference agents per agent (dimensionless).
    """
    ref_rate = ref.max_concurrency / hold_at_full(spec, ref)
    out = np.zeros((len(spec.pools), len(spec.inquiry_types)))
    for p, cfg in enumerate(pool_configs(spec)):
        with np.errstate(invalid="ignore"):
            rate = cfg.max_concurrency / hold_at_full(spec, cfg)
        out[p] = np.where(np.isfinite(rate), rate / ref_rate, 0.0)
    return out


def _mean_duration(spec: object) -> float:
    from peakdesk.demand.distributions import duration_mean_s

    return duration_mean_s(spec)  # type: ignore[arg-type]


def _mean_count(spec: object) -> float:
    from peakdesk.scenario import schema as sc

    if isinstance(spec, sc.FixedCount):
        return float(spec.value)
    if isinstance(spec, (sc.GeometricCount, sc.PoissonCount)):
        return float(spec.mean)
    if isinstance(spec, sc.EmpiricalCount):
        w = np.asarray(spec.weights, dtype=np.float64)
        return float(np.dot(spec.values, w / w.sum()))
    raise TypeError(f"unknown count distribution {spec!r}")


def type_load_share(spec: Scenario, inten: Intensity, grid: Grid, ref: PoolConfig) -> F64:
    """Per type and interval, its share of the reference pool's slot load (arrivals x hold)."""
    bins = np.arange(inten.expected.shape[1]) * inten.bin_s
    k = np.minimum((bins // grid.interval_s).astype(np.int64), grid.n - 1)
    hold = hold_at_full(spec, ref)
    load = np.zeros((len(spec.inquiry_types), grid.n))
    for j, t in enumerate(spec.inquiry_types):
        load[j] = (
            np.bincount(k, weights=inten.expected[j], minlength=grid.n)
            * (1.0 - t.bot_resolve)
            * hold[j]
        )
    total = load.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(total > 0, load / total, 0.0), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PlanningInputs:
    """Everything the planner needs from the scenario, derived once.

    Attributes
    ----------
    loaded
        The scenario.
    grid
        The planning grid (its reporting intervals over the horizon).
    intensity
        Expected conversations per type and profile bin (the demand).
    reference
        Number of the pool the requirement is counted in.
    requirement_spec
        The one-pool scenario the requirement is simulated on
        (:func:`requirement_scenario`).
    requirement_pool
        That pool as the engine sees it.
    work
        The analytic offered work per interval.
    type_share
        Per inquiry type and interval, its share of the reference pool's slot load.
    capacity
        Per pool and inquiry type, one agent's work in reference agents
        (:func:`pool_capacity`).
    targets
        The scenario's targets, parsed once (a centre's with their client scope).
    """

    loaded: LoadedScenario
    grid: Grid
    intensity: Intensity
    reference: int
    requirement_spec: Scenario
    requirement_pool: PoolConfig
    work: OfferedWork
    type_share: F64
    capacity: F64
    targets: tuple[Target, ...] = ()

    @classmethod
    def of(cls, loaded: LoadedScenario) -> PlanningInputs:
        """Derive the planning inputs of a scenario."""
        spec = loaded.spec
        grid = Grid.of(spec)
        inten = intensity(loaded)
        req_spec = requirement_scenario(spec)
        pool = pool_configs(req_spec)[0]
        return cls(
            loaded=loaded,
            grid=grid,
            intensity=inten,
            reference=reference_pool(spec),
            requirement_spec=req_spec,
            requirement_pool=pool,
            work=offered_work(spec, inten, grid, pool),
            type_share=type_load_share(spec, inten, grid, pool),
            capacity=pool_capacity(spec, pool),
            targets=tuple(scenario_targets(loaded)),
        )

    @property
    def spec(self) -> Scenario:
        """The scenario's validated specification."""
        return self.loaded.spec

    def stacked_config(self, agents: I64) -> EngineConfig:
        """Requirement agents online per interval, as the requirement scenario's engine config.

        Agent ``i`` is online in every interval needing more than ``i`` agents, so
        the online count follows ``agents`` exactly; sub-accounts are not limited
        (the requirement is what the agents need, the cap comes later).
        """
        agents = np.asarray(agents, dtype=np.int64)
        grid = self.grid
        instances = []
        for i in range(int(agents.max(initial=0))):
            on = np.concatenate(([False], agents > i, [False]))
            change = np.flatnonzero(on[1:] != on[:-1])
            for a, b in zip(change[::2], change[1::2], strict=True):
                instances.append(
                    ShiftInstance(
                        pool=0,
                        group=f"req{i}",
                        start_s=float(a * grid.interval_s),
                        length_s=float((b - a) * grid.interval_s),
                        breaks=(),
                        agents=1,
                    )
                )
        total = int(agents.max(initial=0))
        return config_from_instances(self.requirement_spec, instances, subaccounts=max(total, 1))
