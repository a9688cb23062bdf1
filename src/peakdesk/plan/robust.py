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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scipy import stats

from peakdesk.scenario.load import LoadedScenario
from peakdesk.scenario.schema import MAX_MULTIPLIER


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

    def describe(self) -> str:
        """One sentence for the summary and the report."""
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
        factor = float(stats.gamma.ppf(quantile, 1.0 / cv**2, scale=cv**2))
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
