"""Targets: what a run must keep, written as ``metric >= value``.

Examples: ``"taobao.response_3min >= 0.90"``, ``"shopee.crr >= 80%"``,
``"lazada.response_time_s <= 30min"``, ``"service_level(30s) >= 0.8"``.
A target is *met* by a run when the metric's rolling value keeps the bound at
the end of every simulated day (the platform re-scores daily, so one bad day
inside the window is enough to lose a badge).

In an outsourcing centre a target belongs to one client shop and is scored on
that shop's conversations only, on its clock: ``"[tmall] taobao.response_3min
>= 0.90"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from peakdesk.rules.series import MetricSeries
from peakdesk.units import parse_duration_s

_TARGET = re.compile(
    r"^\s*(?:\[(?P<client>[^\]]+)\]\s*)?(?P<metric>[a-z_]+(?:\.[a-z0-9_]+)?)\s*(?:\((?P<arg>[^)]*)\))?\s*"
    r"(?P<op>>=|<=)\s*(?P<value>\S+)\s*$"
)

#: Shorthand metrics of the generic service level, with their parameter.
_GENERIC = {"service_level": ("generic.service_level", "service_level_s")}


@dataclass(frozen=True)
class Target:
    """One target.

    Attributes
    ----------
    text
        As written.
    metric
        Dotted metric name, e.g. ``"generic.service_level"``.
    op
        ``">="`` or ``"<="``.
    value
        The bound (a share 0..1 or seconds).
    rule_options
        Options the metric needs from its platform rule (``service_level(30s)``
        gives ``{"service_level_s": 30.0}``).
    client
        In a centre, the client shop whose conversations it scores (``None``:
        all conversations).
    """

    text: str
    metric: str
    op: Literal[">=", "<="]
    value: float
    rule_options: tuple[tuple[str, Any], ...] = ()
    client: str | None = None

    @property
    def platform(self) -> str:
        """The platform (first part of the metric name)."""
        return self.metric.split(".", 1)[0]

    def holds(self, value: float) -> bool:
        """Whether a value keeps the bound (an undefined value does not)."""
        if value != value:
            return False
        return value >= self.value if self.op == ">=" else value <= self.value


def parse_target(text: str) -> Target:
    """Read a target string.

    Raises
    ------
    ValueError
        With what is allowed, when the text is not ``metric >= value`` or
        ``metric <= value``.
    """
    m = _TARGET.match(text)
    if m is None:
        raise ValueError(
            f"cannot read target {text!r}; write 'metric >= value' or 'metric <= value', "
            "e.g. 'taobao.response_3min >= 0.90', 'service_level(30s) >= 80%', "
            "'lazada.response_time_s <= 30min' (in a centre, '[client] metric >= value')"
        )
    metric, arg, op, raw = m["metric"], m["arg"], m["op"], m["value"]
    client = m["client"].strip() if m["client"] is not None else None
    if client == "":
        raise ValueError(f"target {text!r}: name the client inside [ ], e.g. '[tmall] ...'")
    options: tuple[tuple[str, Any], ...] = ()
    if metric in _GENERIC:
        if not arg:
            raise ValueError(f"{metric} needs a time, e.g. '{metric}(30s) >= 0.8'")
        metric, key = _GENERIC[metric]
        options = ((key, parse_duration_s(arg)),)
    elif arg:
        raise ValueError(f"{metric} takes no argument (got '({arg})')")
    if "." not in metric:
        raise ValueError(
            f"name the platform and metric, e.g. 'taobao.response_3min', not {metric!r}"
        )
    value = _value(raw)
    bound: Literal[">=", "<="] = ">=" if op == ">=" else "<="
    return Target(
        text=text.strip(),
        metric=metric,
        op=bound,
        value=value,
        rule_options=options,
        client=client,
    )


def _value(raw: str) -> float:
    if raw.endswith("%"):
        return float(raw[:-1]) / 100.0
    try:
        return float(raw)
    except ValueError:
        return parse_duration_s(raw)


@dataclass(frozen=True)
class TargetResult:
    """How one run did against one target.

    Attributes
    ----------
    target
        The target.
    met
        The rolling value kept the bound at the end of every simulated day.
    worst
        The worst rolling value over the simulated days (the binding one).
    final
        The rolling value at the end of the last day.
    first_failing_day
        Index (into ``series.days``) of the first simulated day that missed, or ``-1``.
    series
        The metric, day by day.
    """

    target: Target
    met: bool
    worst: float
    final: float
    first_failing_day: int
    series: MetricSeries


def evaluate(target: Target, series: MetricSeries) -> TargetResult:
    """Judge a metric series against a target, over its simulated (non-history) days."""
    sim = ~series.from_history if series.from_history.size else np.ones(series.days.size, bool)
    values = series.rolling[sim]
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        worst = float("nan")
    else:
        worst = float(defined.min() if target.op == ">=" else defined.max())
    ok = np.array([target.holds(float(v)) for v in values], dtype=np.bool_)
    # An undefined day (no unit in the window yet) is neither met nor missed.
    ok |= np.isnan(values)
    fails = np.flatnonzero(~ok)
    first = int(np.flatnonzero(sim)[fails[0]]) if fails.size else -1
    return TargetResult(
        target=target,
        met=bool(defined.size > 0 and ok.all()),
        worst=worst,
        final=float(values[-1]) if values.size else float("nan"),
        first_failing_day=first,
        series=series,
    )


def service_level_time_s(texts: list[str]) -> float | None:
    """The time of the first ``service_level(T)`` target among ``texts``, seconds (None: none)."""
    for text in texts:
        target = parse_target(text)
        for key, value in target.rule_options:
            if key == "service_level_s":
                return float(value)
    return None
