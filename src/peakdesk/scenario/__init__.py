"""Scenario files: schema, loading and JSON Schema export."""

from peakdesk.scenario.load import (
    LoadedScenario,
    ScenarioError,
    json_schema,
    load_scenario,
    parse_scenario,
)
from peakdesk.scenario.schema import Scenario

__all__ = [
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "json_schema",
    "load_scenario",
    "parse_scenario",
]
