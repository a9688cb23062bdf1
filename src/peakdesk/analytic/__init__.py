"""Closed-form queueing models (Erlang B, C and A) for staffing estimates."""

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

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "agents_for_service_level_a",
    "agents_for_service_level_c",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
]
