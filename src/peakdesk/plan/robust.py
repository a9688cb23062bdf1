"""Robust plans: staff for more demand than the forecast's mean, and say so.

Two ways a manager hedges a forecast, chosen on the command line
(``plan --margin M`` or ``plan --quantile Q``):

* a **margin**: plan for the forecast's volumes times ``1 + M`` (demand.multiplier
  scaled), forecast uncertainty (``demand.daily_cv``) kept around the raised mean:
  "every target with 95% confidence if demand runs 10% above the forecast";
* a **forecast quantile**: plan for a day whose volume is the ``Q`` quantile of the
  forecast's own uncertainty (each day's volume factor is Gamma with mean 1 and
  CV ``demand.daily_cv``, :mod:`peakdesk.demand.sample`), with that uncertainty
  then taken out: "every target with 95% confidence on a day as busy as the
  forecast's 90th percentile".  Needs ``daily_cv > 0``.

Either way the planning scenario is the scenario with ``demand.multiplier`` and
``demand.daily_cv`` changed, the plan is verified and held out on it, and the
basis is reported in the summary, ``plan.json`` and the report, and written into
``planned.toml`` (so that simulating it gives the plan's figures).

A centre (:mod:`peakdesk.centre`) hedges each client's demand on its own: a
margin raises every client's volumes by the same ``1 + M``; a quantile takes each
client's own day factor quantile from its own ``daily_cv`` (a client whose
forecast states no uncertainty is planned at its forecast, and the basis says
so).  ``planned.toml`` carries them as each client's ``demand_multiplier`` and
``daily_cv``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from scipy import stats

from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import MAX_MULTIPLIER


@dataclass(frozen=True)
class ClientBasis:
    """A centre client's planning demand.

    Attributes
    ----------
    client
        Its name.
    factor
        Multiplier on its forecast's volumes.
    daily_cv
        Its planning day-to-day uncertainty.
    forecast_daily_cv
        Its forecast's own.
    """

    client: str
    factor: float
    daily_cv: float
    forecast_daily_cv: float


def _quantile_factor(quantile: float, cv: float) -> float:
    """The ``quantile`` of a day factor Gamma(shape 1/cv^2, scale cv^2): mean 1, CV ``cv``."""
    return float(stats.gamma.ppf(quantile, 1.0 / cv**2, scale=cv**2))


@dataclass(frozen=True)
class DemandBasis:
    """The demand a plan was made for.

    Attributes
    ----------
    mode
        ``"margin"`` or ``"quantile"``.
    value
        The margin (0.1 = 10% above) or the quantile (0.9).
    factor
        Multiplier on the forecast's volumes (``demand.multiplier`` is the
        scenario's times this).
    multiplier
        The planning scenario's ``demand.multiplier``.
    daily_cv
        The planning scenario's ``demand.daily_cv``.
    forecast_daily_cv
        The scenario's own ``demand.daily_cv``.
    """

    mode: Literal["margin", "quantile"]
    value: float
    factor: float
    multiplier: float
    daily_cv: float
    forecast_daily_cv: float
    clients: tuple[ClientBasis, ...] = ()

    def describe(self) -> str:
        """One sentence for the summary and the report."""
        if self.clients:
            if self.mode == "margin":
                return (
                    f"planned for demand {self.value:.0%} above the forecast (every client's "
                    f"volumes x{self.factor:.3g}; each client's day-to-day uncertainty kept)"
                )
            each = ", ".join(
                f"{c.client} x{c.factor:.3g} from daily_cv {c.forecast_daily_cv:g}"
                if c.forecast_daily_cv > 0
                else f"{c.client} at its forecast (no daily_cv)"
                for c in self.clients
            )
            return (
                f"planned for a day at each client's forecast {self.value:.0%} quantile "
                f"({each}; the day-to-day uncertainty is then off)"
            )
        if self.mode == "margin":
            return (
                f"planned for demand {self.value:.0%} above the forecast (volumes "
                f"x{self.factor:.3g}, demand.multiplier {self.multiplier:.4g}; day-to-day "
                f"uncertainty daily_cv {self.daily_cv:g} kept)"
            )
        return (
            f"planned for a day at the forecast's {self.value:.0%} quantile (volumes "
            f"x{self.factor:.3g} from daily_cv {self.forecast_daily_cv:g}, demand.multiplier "
            f"{self.multiplier:.4g}; the day-to-day uncertainty is then off)"
        )


def robust_scenario(
    loaded: LoadedScenario, *, margin: float | None = None, quantile: float | None = None
) -> tuple[LoadedScenario, DemandBasis]:
    """The planning scenario for a margin or a forecast quantile (exactly one given).

    Raises
    ------
    ValueError
        Both or neither given, a margin below 0 or above 10, a quantile outside
        (0, 1), or a quantile of a forecast without uncertainty (``daily_cv`` 0).
    """
    if (margin is None) == (quantile is None):
        raise ValueError("give exactly one of a margin and a quantile")
    if loaded.centre is not None:
        return _robust_centre(loaded, margin, quantile)
    dem = loaded.spec.demand
    cv = dem.daily_cv
    if margin is not None:
        if not 0.0 <= margin <= 10.0:
            raise ValueError(f"the margin must lie in [0, 10] (0.1 = 10% above), got {margin}")
        mode: Literal["margin", "quantile"] = "margin"
        value, factor, new_cv = margin, 1.0 + margin, cv
    else:
        assert quantile is not None
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"the quantile must lie in (0, 1), got {quantile}")
        if cv <= 0.0:
            raise ValueError(
                "demand.daily_cv is 0: the forecast states no uncertainty to take a quantile "
                "of; set demand.daily_cv (e.g. 0.15) or plan with --margin"
            )
        mode, value = "quantile", quantile
        # The day factor is Gamma(shape 1/cv^2, scale cv^2): mean 1, CV cv.
        factor = _quantile_factor(quantile, cv)
        new_cv = 0.0
    if dem.multiplier * factor > MAX_MULTIPLIER:
        raise ValueError(
            f"demand.multiplier {dem.multiplier:g} x {factor:.3g} is above the largest "
            f"allowed, {MAX_MULTIPLIER:g}"
        )
    demand = dem.model_copy(update={"multiplier": dem.multiplier * factor, "daily_cv": new_cv})
    spec = loaded.spec.model_copy(update={"demand": demand})
    basis = DemandBasis(mode, value, factor, dem.multiplier * factor, new_cv, cv)
    return loaded.with_spec(spec), basis


def _robust_centre(
    loaded: LoadedScenario, margin: float | None, quantile: float | None
) -> tuple[LoadedScenario, DemandBasis]:
    """A centre's planning demand: each client's expected volumes and uncertainty changed."""
    centre = loaded.centre
    assert centre is not None
    if margin is not None and not 0.0 <= margin <= 10.0:
        raise ValueError(f"the margin must lie in [0, 10] (0.1 = 10% above), got {margin}")
    if quantile is not None and not 0.0 < quantile < 1.0:
        raise ValueError(f"the quantile must lie in (0, 1), got {quantile}")
    cvs = [g.cv for g in centre.day_groups]
    if quantile is not None and not any(cv > 0 for cv in cvs):
        raise ValueError(
            "no client's demand states a daily_cv: the forecasts state no uncertainty to "
            "take a quantile of; set a client's demand.daily_cv (e.g. 0.15) or plan with --margin"
        )
    expected = centre.expected.copy()
    groups, clients = [], []
    for client, group in zip(centre.clients, centre.day_groups, strict=True):
        if margin is not None:
            factor, cv = 1.0 + margin, group.cv
        else:
            assert quantile is not None
            factor = _quantile_factor(quantile, group.cv) if group.cv > 0 else 1.0
            cv = 0.0
        # The client's forecast times the factor: exactly what its demand_multiplier in
        # planned.toml compiles to, so simulating that file gives the plan's figures.
        expected[list(group.rows)] *= factor
        groups.append(dataclasses.replace(group, cv=cv))
        clients.append(ClientBasis(client.name, factor, cv, group.cv))
    # (each client's shop multiplier times its contract's is folded into its expected
    # demand already; the factor on it is what the planning demand adds)
    top = max(c.factor for c in clients)
    if top > MAX_MULTIPLIER:
        raise ValueError(
            f"a client's demand x{top:.3g} is above the largest allowed, {MAX_MULTIPLIER:g}"
        )
    info = dataclasses.replace(centre, expected=expected, day_groups=tuple(groups))
    mode: Literal["margin", "quantile"] = "margin" if margin is not None else "quantile"
    value = margin if margin is not None else quantile
    assert value is not None
    factor = 1.0 + margin if margin is not None else max(c.factor for c in clients)
    dem = loaded.spec.demand
    # (the centre's own multiplier stays 1: the planning demand is each client's factor)
    basis = DemandBasis(
        mode, value, factor, factor, 0.0 if quantile is not None else dem.daily_cv,
        dem.daily_cv, clients=tuple(clients),
    )  # fmt: skip
    return dataclasses.replace(loaded, centre=info), basis
