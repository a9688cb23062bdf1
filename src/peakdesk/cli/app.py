"""The ``peakdesk`` command group; each command lives in a module of its own."""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

import click

from peakdesk import __version__
from peakdesk.engine.engines import EngineFallbackWarning

# Figures are written to files, never shown: no display needed on servers and in CI.
# (Set here, not in the plotting modules, so notebooks keep their inline backend.)
os.environ.setdefault("MPLBACKEND", "Agg")


#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """The command group; a Ctrl-C ends a command with a sentence, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        # When the command began: a command's timings say how long the user waited.
        ctx.meta["peakdesk.started"] = time.perf_counter()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo(
                "interrupted: an output folder holds its previous complete run, or the new "
                "one if it was being moved in, never a mix",
                err=True,
            )
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peakdesk")
def main() -> None:
    """peakdesk: plan chat customer-service staffing through peak events (Double-11)."""
    _one_line_warnings()


def _one_line_warnings() -> None:
    """Show the engine fallback as one line on stderr, not Python's two-line warning."""
    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, EngineFallbackWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
