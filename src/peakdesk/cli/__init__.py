"""Command line: a thin click layer over the public API, one module per command.

Bad input (a scenario that does not validate, a missing or malformed forecast
file) prints what is wrong and where, and exits with code 2, never a traceback.
Shared pieces (errors, progress, options) are in :mod:`peakdesk.cli.common`.
"""

from peakdesk.cli import (
    calibrate,
    compare,
    erlang,
    plan,
    quote,
    replan,
    report,
    scenario_cmds,
    score,
    simulate,
)
from peakdesk.cli.app import main

__all__ = [
    "calibrate",
    "compare",
    "erlang",
    "main",
    "plan",
    "quote",
    "replan",
    "report",
    "scenario_cmds",
    "score",
    "simulate",
]
