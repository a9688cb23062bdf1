"""Choosing the engine: the scenario field, ``--engine``, and the fallback without numba."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SCENARIOS
from peakdesk.cli import main
from peakdesk.engine import engines

SMALL = str(SCENARIOS / "small-shop.toml")

#: Runs the command line in a fresh interpreter where ``import numba`` fails.
NO_NUMBA = (
    "import sys; sys.modules['numba'] = None; from peakdesk.cli import main; sys.exit(main())"
)


def test_an_unknown_engine_on_the_command_line_says_what_is_allowed() -> None:
    result = CliRunner().invoke(main, ["simulate", SMALL, "--engine", "jit"])
    assert result.exit_code == 2
    assert "'compiled', 'reference'" in result.output


def test_an_unknown_engine_in_the_scenario_names_the_field(tmp_path: Path) -> None:
    text = (SCENARIOS / "small-shop.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[simulation]", '[simulation]\nengine = "jit"'), "utf-8")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "simulation.engine" in result.output
    assert "compiled" in result.output and "reference" in result.output
    assert "Traceback" not in result.output


def test_resolve_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="compiled, reference"):
        engines.resolve("fast")


def test_both_engines_give_the_same_summary() -> None:
    out = {}
    for engine in ("compiled", "reference"):
        result = CliRunner().invoke(
            main, ["simulate", SMALL, "-r", "2", "-w", "1", "--json", "--engine", engine]
        )
        assert result.exit_code == 0, result.output
        out[engine] = json.loads(result.output)
    assert out["compiled"] == out["reference"]


def test_without_numba_the_reference_engine_runs_with_one_warning_line() -> None:
    """An interpreter where numba cannot be imported: one line on stderr saying why,
    and the reference engine's results (the same as asked for by name)."""
    args = ["simulate", SMALL, "-r", "2", "-w", "2", "--json"]
    fallback = subprocess.run(
        [sys.executable, "-c", NO_NUMBA, *args], capture_output=True, text=True, check=False
    )
    assert fallback.returncode == 0, fallback.stderr
    lines = [x for x in fallback.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: the compiled engine is not available: numba cannot")
    assert "reference engine" in lines[0]
    reference = CliRunner().invoke(main, [*args, "--engine", "reference"])
    assert json.loads(fallback.stdout) == json.loads(reference.output)


def test_the_fallback_warns_once_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    engines.compiled_unavailable.cache_clear()
    engines._warn_once.cache_clear()
    monkeypatch.setitem(sys.modules, "numba", None)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert engines.resolve("compiled") == "reference"
            assert engines.resolve("compiled") == "reference"
        assert [w.category for w in caught] == [engines.EngineFallbackWarning]
        assert engines.resolve("reference") == "reference"
    finally:
        monkeypatch.undo()
        engines.compiled_unavailable.cache_clear()
        engines._warn_once.cache_clear()
    assert engines.resolve("compiled") == "compiled"


def test_a_ctrl_c_while_the_engine_compiles_is_acted_on_after() -> None:
    """numba loses a KeyboardInterrupt raised inside LLVM's callbacks (the run went
    on): the compile holds Ctrl-C and raises it once the block is done."""
    import os
    import signal

    from peakdesk.engine.compiled.driver import _interrupt_after

    done = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_after():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the block ran to its end")
    assert done == ["the block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
