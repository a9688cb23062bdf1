"""Every platform's rule by name, with presets and option overrides."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from peakdesk.rules import amazon, douyin, generic, jd, lazada, shopee, taobao, tiktok
from peakdesk.rules.messages import MessageLog
from peakdesk.rules.series import DailyHistory, MetricSeries

_MODULES: dict[str, ModuleType] = {
    "taobao": taobao,
    "lazada": lazada,
    "shopee": shopee,
    "jd": jd,
    "douyin": douyin,
    "tiktok": tiktok,
    "amazon": amazon,
    "generic": generic,
}
ALIASES = {"tmall": "taobao", "tiktokshop": "tiktok", "tokopedia": "tiktok"}
PLATFORMS: tuple[str, ...] = tuple(_MODULES)


def canonical(platform: str) -> str:
    """The platform's canonical name (``tmall`` -> ``taobao``).

    Raises
    ------
    KeyError
        With the allowed names, for an unknown platform.
    """
    name = ALIASES.get(platform.lower(), platform.lower())
    if name not in _MODULES:
        raise KeyError(
            f"unknown platform {platform!r}; allowed: {', '.join(PLATFORMS + tuple(ALIASES))}"
        )
    return name


def presets(platform: str) -> dict[str, Any]:
    """The named rule presets of a platform (market variants)."""
    presets_: dict[str, Any] = _MODULES[canonical(platform)].PRESETS
    return presets_


def make_rule(platform: str, preset: str = "default", **overrides: Any) -> Any:
    """A platform's rule: a preset with some options replaced.

    Raises
    ------
    KeyError
        Unknown platform or preset.
    ValueError
        An option the rule does not have.
    """
    table = presets(platform)
    if preset not in table:
        raise KeyError(f"unknown preset {preset!r} for {platform}; allowed: {sorted(table)}")
    base = table[preset]
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"{platform} rule has no option {unknown[0]!r}; options: {sorted(fields)}")
    return dataclasses.replace(base, **overrides)


def score(
    log: MessageLog,
    platform: str,
    rule: Any = None,
    history: Mapping[str, DailyHistory] | None = None,
    **extra: Any,
) -> dict[str, MetricSeries]:
    """Score a log with one platform's rule (its default when ``rule`` is ``None``).

    ``extra`` goes to the platform's ``score`` (the generic rule takes per
    conversation ``abandoned`` and ``abandon_s``, which only a simulation knows).
    """
    module = _MODULES[canonical(platform)]
    chosen = rule if rule is not None else module.PRESETS["default"]
    result: dict[str, MetricSeries] = module.score(log, chosen, history, **extra)
    return result


def metric_platform(metric: str) -> str:
    """The platform a dotted metric name belongs to (``shopee.crr`` -> ``shopee``)."""
    return canonical(metric.split(".", 1)[0])
