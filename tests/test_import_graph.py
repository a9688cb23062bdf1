"""The house has no circles and no stairs up: imports follow the layers of the architecture.

Every ``import`` of a ``peakdesk`` module anywhere in a module (at the top, in a
function, under ``TYPE_CHECKING``) is an edge, read from the source with
:mod:`ast`; ``from peakdesk.a import b`` is an edge to ``peakdesk.a.b`` when that
is a module, else to ``peakdesk.a``.  A function-level import that closes a
circle hides a dependency both ways, so it counts too.  Every module must also
import cleanly on its own, and every edge between packages must go down the
layers that ``docs/ARCHITECTURE.md`` lists (the line ``layers (lowest first):``).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "peakdesk"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The deepest known module of a dotted name (``peakdesk.a.b.f`` -> ``peakdesk.a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _edges(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            if t.startswith("peakdesk"):
                hit = _resolve(t)
                if hit is not None and hit != module:
                    out.add(hit)
    return out


GRAPH = {m: _edges(m, p) for m, p in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_import_graph_is_acyclic() -> None:
    cycle = _cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports() -> None:
    # replicate imports the engines at the top; the CLI imports the planner in functions.
    assert "peakdesk.engine.engines" in GRAPH["peakdesk.experiment.replicate"]
    assert "peakdesk.plan.search" in GRAPH["peakdesk.cli.plan"]
    assert len(MODULES) > 50


def test_run_dirs_know_every_figure_by_name() -> None:
    """rundata names the figures itself (no import of the plotting module back)."""
    from peakdesk.report.figures import FIGURES
    from peakdesk.report.rundata import FIGURE_NAMES

    assert tuple(FIGURES) == FIGURE_NAMES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_on_its_own(module: str) -> None:
    importlib.import_module(module)


def _layers() -> dict[str, int]:
    """Each package's layer (0 lowest) as docs/ARCHITECTURE.md lists them."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("layers (lowest first):"))
    groups = line.split(":", 1)[1].split("|")
    return {name: k for k, group in enumerate(groups) for name in group.split()}


def _package(module: str) -> str:
    """The top-level part a module belongs to (``peakdesk`` for the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_has_a_layer() -> None:
    layers = _layers()
    missing = sorted({_package(m) for m in MODULES} - set(layers))
    assert missing == [], f"packages with no layer in docs/ARCHITECTURE.md: {missing}"


def test_imports_go_down_the_layers() -> None:
    layers = _layers()
    upward = sorted(
        f"{m} -> {d}"
        for m, deps in GRAPH.items()
        for d in deps
        if _package(m) != _package(d) and layers[_package(d)] >= layers[_package(m)]
    )
    assert upward == [], "imports up (or across) the layers:\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import() -> None:
    layers = _layers()
    assert layers["rules"] < layers["engine"] < layers["experiment"] < layers["cli"]
    assert layers[_package("peakdesk.demand.sample")] > layers[_package("peakdesk.scenario")]


def test_the_two_engines_share_no_event_loop_code() -> None:
    compiled = {m for m in MODULES if m.startswith("peakdesk.engine.compiled")}
    assert compiled, "no compiled engine modules"
    assert all("peakdesk.engine.model" not in GRAPH[m] for m in compiled)
    assert not GRAPH["peakdesk.engine.model"] & compiled
