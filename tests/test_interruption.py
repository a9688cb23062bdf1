"""Crash and interruption: an output folder holds the previous complete run or the new one.

* Ctrl-C (SIGINT to the process group, as a terminal sends it) during
  ``simulate --out`` and ``plan --out``: exit 130 with a sentence, the folder
  keeps its previous run byte for byte, no staging folder is left;
* SIGKILL of the command: the same (a run is written beside the folder first);
* a failure while the run is being written: the previous run stands;
* a process killed in the middle of the move into the folder: the journal it
  left lets the next reader finish the move, which then reads the new run whole;
* a staging folder left by a killed run is cleared by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from peakdesk.cli import main
from peakdesk.report import run_files
from peakdesk.report.run_files import JOURNAL, is_run_file, stage_dir
from peakdesk.report.rundata import RunData

ROOT = Path(__file__).resolve().parents[1]
SMALL_SHOP = ROOT / "scenarios" / "small-shop.toml"
TMALL = ROOT / "scenarios" / "tmall-double11.toml"
PEAKDESK = Path(sys.executable).parent / "peakdesk"


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file of the folder (hidden ones too) with its hash."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def _previous_run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    res = CliRunner().invoke(
        main, ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--seed", "1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    (out / "notes.txt").write_text("the manager's own notes", encoding="utf-8")
    return out


def _assert_whole(out: Path) -> dict[str, object]:
    """The folder holds one complete run (readable, consistent) and nothing half-moved."""
    run = RunData.from_dir(out)  # checks the files against the summary (and recovers)
    assert not stage_dir(out).exists() and not (out / JOURNAL).exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert run.scenario == summary["scenario"]
    return summary


def _interrupt(args: list[str], after_s: float, sig: int) -> subprocess.CompletedProcess[str]:
    """Run the console script and send ``sig`` to its process group after ``after_s``."""
    proc = subprocess.Popen(
        [str(PEAKDESK), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    time.sleep(after_s)
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(
    "command",
    [
        ["simulate", str(TMALL), "-r", "3", "-w", "2", "--seed", "2"],
        ["plan", str(TMALL), "-w", "2", "-q", "--seed", "2"],
    ],
    ids=["simulate", "plan"],
)
def test_ctrl_c_keeps_the_previous_run(tmp_path: Path, command: list[str]) -> None:
    out = _previous_run(tmp_path)
    before = _snapshot(out)
    # Tmall takes several seconds to simulate (a minute to plan): 3 s in, it is running.
    res = _interrupt([*command, "--out", str(out)], 3.0, signal.SIGINT)
    assert res.returncode == 130, res.stderr
    assert "interrupted" in res.stderr and "Traceback" not in res.stderr
    assert _snapshot(out) == before
    assert _assert_whole(out)["seed"] == 1


def test_a_killed_command_keeps_the_previous_run(tmp_path: Path) -> None:
    out = _previous_run(tmp_path)
    before = _snapshot(out)
    res = _interrupt(
        ["simulate", str(TMALL), "-r", "3", "-w", "2", "--seed", "2", "--out", str(out)],
        3.0,
        signal.SIGKILL,
    )
    assert res.returncode == -signal.SIGKILL
    assert _snapshot(out) == before


def test_a_failure_while_writing_keeps_the_previous_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _previous_run(tmp_path)
    before = _snapshot(out)
    import peakdesk.output as output

    real = output.write_csv
    calls = {"n": 0}

    def flaky(path: Path, cols: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third file is written
        real(path, cols)  # type: ignore[arg-type]

    monkeypatch.setattr(output, "write_csv", flaky)
    res = CliRunner().invoke(
        main, ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--seed", "2", "--out", str(out)]
    )
    assert res.exit_code == 130
    assert _snapshot(out) == before
    assert not stage_dir(out).exists()


def test_a_move_cut_short_is_finished_by_the_next_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _previous_run(tmp_path)
    real = os.replace
    moved = {"n": 0}

    def dies(src: str | Path, dst: str | Path) -> None:
        # Count only the moves into the folder (not the files written into the stage).
        if Path(src).parent == stage_dir(out) and Path(dst).parent == out:
            moved["n"] += 1
            if moved["n"] == 4:
                raise SystemExit("killed")  # the process dies mid-move
        real(src, dst)

    monkeypatch.setattr(os, "replace", dies)
    res = CliRunner().invoke(
        main, ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--seed", "2", "--out", str(out)]
    )
    assert res.exit_code != 0
    monkeypatch.setattr(os, "replace", real)
    # Half moved: the journal says so; the old run's summary is still there.
    assert (out / JOURNAL).is_file() and (stage_dir(out) / run_files.MANIFEST).is_file()
    # The next reader finishes the move: the new run, whole, and the user's notes kept.
    summary = _assert_whole(out)
    assert summary["seed"] == 2
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the manager's own notes"
    names = {p.name for p in out.iterdir()}
    assert names == {p for p in names if is_run_file(p)} | {"notes.txt"}


def test_a_staging_folder_left_by_a_killed_run_is_cleared(tmp_path: Path) -> None:
    out = _previous_run(tmp_path)
    stale = stage_dir(out)
    stale.mkdir()
    (stale / "summary.json").write_text("{half", encoding="utf-8")
    # Never moved in (no journal), so the folder still reads as the previous run.
    assert RunData.from_dir(out).scenario == "small-shop"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["seed"] == 1
    res = CliRunner().invoke(
        main, ["simulate", str(SMALL_SHOP), "-r", "2", "-w", "1", "--seed", "3", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert not stale.exists()
    assert _assert_whole(out)["seed"] == 3
