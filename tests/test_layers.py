"""The package's imports run one way, down the layers, and have no cycles.

The layers (docs/architecture.md), bottom first; a module may import its own layer's package
and any layer below, never one above, and never a sibling package on its own layer:

0. ``errors``, ``_version``
1. ``core``: pure maths
2. ``backends`` | ``store`` (siblings: neither imports the other)
3. ``spec``
4. ``results``
5. ``execution``
6. ``report``
7. ``cli``
8. ``testing`` (shipped test support), and the package's ``__init__`` (the public surface)

Every ``import`` statement counts, including those inside functions: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bp_qiskit"

LAYERS = {
    "errors": 0,
    "_version": 0,
    "core": 1,
    "backends": 2,
    "store": 2,
    "spec": 3,
    "results": 4,
    "execution": 5,
    "report": 6,
    "cli": 7,
    "testing": 8,
    "launch": 8,  # the console script: starts the figure helper, then runs cli
    "": 9,  # bp_qiskit/__init__.py
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of the bp_qiskit modules ``path`` imports."""
    name = module_name(path)
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "bp_qiskit"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "bp_qiskit":
                continue
            out.add(target)
    out.discard(name)
    return out


def package_graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run up a layer, or across to a sibling package on the same layer."""
    bad = []
    for mod, deps in graph.items():
        here = top(mod)
        for dep in deps:
            there = top(dep)
            if there == here:
                continue
            if LAYERS[there] > LAYERS[here] or (LAYERS[there] == LAYERS[here] and here):
                bad.append(f"{mod} -> {dep}")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, found by depth-first search (each reported once per entry)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_every_package_has_a_layer():
    assert {top(m) for m in package_graph()} <= set(LAYERS)


def test_imports_run_down_the_layers():
    assert upward_imports(package_graph()) == []


def test_no_import_cycles():
    assert cycles(package_graph()) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"bp_qiskit.core.circuits": {"bp_qiskit.execution.jobs"}}, ["core.circuits -> "]),
        ({"bp_qiskit.store.base": {"bp_qiskit.backends.protocol"}}, ["store.base -> "]),
        ({"bp_qiskit.spec.study": {"bp_qiskit.results"}}, ["spec.study -> "]),
    ],
    ids=["core-imports-execution", "store-imports-sibling-backends", "spec-imports-results"],
)
def test_the_check_catches_a_synthetic_upward_import(extra, expected):
    graph = package_graph()
    for mod, deps in extra.items():
        graph[mod] = graph[mod] | deps
    bad = upward_imports(graph)
    assert len(bad) == 1 and bad[0].startswith("bp_qiskit." + expected[0])


def test_the_check_catches_a_synthetic_cycle():
    graph = package_graph()
    graph["bp_qiskit.execution.jobs"] = graph["bp_qiskit.execution.jobs"] | {
        "bp_qiskit.execution.studies"
    }
    found = cycles(graph)
    assert found and all("bp_qiskit.execution.jobs" in c for c in found)


def test_imports_are_resolved():
    """Relative imports resolve to absolute names (the check depends on it)."""
    deps = imports_of(PACKAGE / "execution" / "kinds" / "plain.py")
    want = {"bp_qiskit.results", "bp_qiskit.execution.jobs", "bp_qiskit.execution.kinds.base"}
    assert want <= deps
