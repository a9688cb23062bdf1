"""Words and numbers for people: the headline rows, number formats, target verdicts.

Shared by the command line and the HTML report (no plotting imports here, so
the command line stays quick to start).
"""

from __future__ import annotations

import math
from typing import Any

from peakdesk.units import format_duration

#: Headline rows: summary key, label, unit (``n`` count, ``%`` share, ``s`` seconds,
#: ``$`` money, ``$$`` money with cents).
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("conversations", "conversations", "n"),
    ("bot_resolved", "resolved by bot", "n"),
    ("human_conversations", "needing an agent", "n"),
    ("buyer_messages", "buyer messages sent", "n"),
    ("first_reply_p50_s", "first human reply p50", "s"),
    ("first_reply_p90_s", "first human reply p90", "s"),
    ("first_reply_p95_s", "first human reply p95", "s"),
    ("within_30s", "served within 30 s *", "%"),
    ("within_3min", "served within 3 min *", "%"),
    ("within_12h", "served within 12 h *", "%"),
    ("abandonment_rate", "abandonment", "%"),
    ("conversions", "conversions", "n"),
    ("conversions_lost", "conversions lost", "n"),
    ("occupancy", "occupancy (writing / online)", "%"),
    ("slot_utilisation", "chat slots in use", "%"),
    ("peak_backlog", "peak backlog (messages)", "n"),
    ("peak_queue", "peak queue (conversations)", "n"),
    ("peak_agents_online", "peak agents online", "n"),
    ("unanswered_at_end", "unanswered at the end", "n"),
    ("agent_min_past_shift_end", "agent-minutes online past shift end", "n"),
    ("handed_back", "chats handed back at shift end", "n"),
    ("minutes_past_horizon", "close-out past the horizon (min)", "x"),
    ("paid_agent_hours", "paid agent-hours", "n"),
    ("labour_cost", "labour cost", "$"),
    ("subaccount_cost", "sub-account cost", "$"),
    ("total_cost", "total cost", "$"),
    ("cost_per_conversation", "cost per conversation", "$$"),
)


def is_missing(x: Any) -> bool:
    """``None`` (JSON null) or ``nan``: a value that was not measured."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def as_float(x: Any) -> float:
    """A number read from JSON or CSV, ``None`` as ``nan``."""
    return math.nan if x is None else float(x)


def fmt(value: Any, unit: str) -> str:
    """A value for people: ``%`` share, ``s`` duration, ``$``/``$$`` money, ``n`` count,
    ``x`` a quantity with one decimal."""
    if is_missing(value):
        return "n/a"
    v = float(value)
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit == "s":
        return format_duration(v)
    if unit == "$$":
        return f"{v:,.2f}"
    if unit == "$":
        return f"{v:,.0f}"
    if unit == "x":
        return f"{v:,.1f}"
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:,.2f}"


def verdict(p: float, low: float, high: float, required: float) -> str:
    """Whether the replications show the target is kept with the required probability."""
    if p == 0.0:
        return "MISSED in every run"
    if high < required:
        return "MISSED: below the required probability"
    if low >= required:
        return "ok"
    return "not sure yet: run more replications" if p >= required else "at risk"
