"""Closed-form queueing models (Erlang B, C and A) for staffing estimates."""

from peakdesk.analytic.chat import ChatResult, agents_for_chat_target, chat_metrics
from peakdesk.analytic.erlang import (
    ErlangAResult,
    ErlangCResult,
    agents_for_service_level_a,
    agents_for_service_level_c,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
)
from peakdesk.analytic.offered_load import mol_staffing, offered_load

__all__ = [
    "ChatResult",
    "ErlangAResult",
    "ErlangCResult",
    "agents_for_chat_target",
    "agents_for_service_level_a",
    "agents_for_service_level_c",
    "chat_metrics",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "mol_staffing",
    "offered_load",
]
