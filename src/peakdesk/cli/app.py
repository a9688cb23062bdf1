"""The ``peakdesk`` command group; each command lives in a module of its own."""

from __future__ import annotations

import os

import click

from peakdesk import __version__

# Figures are written to files, never shown: no display needed on servers and in CI.
# (Set here, not in the plotting modules, so notebooks keep their inline backend.)
os.environ.setdefault("MPLBACKEND", "Agg")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peakdesk")
def main() -> None:
    """peakdesk: plan chat customer-service staffing through peak events (Double-11)."""
