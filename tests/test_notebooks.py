"""Execute every notebook in ``notebooks/`` (a failing cell fails the test with its error).

Each notebook runs in a fresh kernel started with *this* interpreter
(``sys.executable``), whatever ``python`` is first on ``PATH`` and whatever
kernel specs the machine has installed: a kernel spec pointing at this
interpreter is written to a temporary directory that is put first on
``JUPYTER_PATH``.  The working directory is ``notebooks/``, as when an analyst
opens the notebook there.  New notebooks are picked up by file name.

To store the executed outputs in the notebooks (so a reader on GitHub sees the
tables and plots), run ``.venv/bin/python tests/test_notebooks.py`` (all
notebooks) or name some: ``.venv/bin/python tests/test_notebooks.py 01-quickstart``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL_NAME = "peakdesk-notebooks"
#: Longest a single cell may run, seconds (the notebooks run in well under a minute).
CELL_TIMEOUT_S = 600
#: Largest stored notebook (executed outputs included), bytes.
MAX_NOTEBOOK_BYTES = 600_000
#: Terminal colour codes in IPython tracebacks (unreadable in a CI log).
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _write_kernel_spec(directory: Path) -> None:
    """A kernel spec named ``KERNEL_NAME`` that starts ``sys.executable -m ipykernel_launcher``."""
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(directory / "kernels" / KERNEL_NAME)


def execute(path: Path, jupyter_dir: Path) -> object:
    """Run a notebook in a fresh kernel of this interpreter, cwd ``notebooks/``; return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter_dir), old]))
    try:
        client = NotebookClient(
            nb,
            kernel_name=KERNEL_NAME,
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": str(path.parent)}},
            record_timing=False,
        )
        client.execute()
    finally:
        if old is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = old
    # Stored notebooks name the standard kernel, not the temporary one.
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    return nb


@pytest.fixture(scope="module")
def jupyter_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="peakdesk-jupyter-") as tmp:
        _write_kernel_spec(Path(tmp))
        yield Path(tmp)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_runs(path: Path, jupyter_dir: Path) -> None:
    """Every cell runs without error; the stored file stays small enough to read on GitHub."""
    from nbclient.exceptions import CellExecutionError

    try:
        execute(path, jupyter_dir)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed\n{ANSI.sub('', str(exc))}", pytrace=False)
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name}: strip or shrink its outputs"


def main(names: list[str]) -> None:
    """Execute notebooks and store them with their outputs."""
    import nbformat

    paths = [p for p in _notebooks() if not names or p.stem in names or p.name in names]
    with tempfile.TemporaryDirectory(prefix="peakdesk-jupyter-") as tmp:
        _write_kernel_spec(Path(tmp))
        for path in paths:
            nb = execute(path, Path(tmp))
            nbformat.write(nb, path)
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main(sys.argv[1:])
