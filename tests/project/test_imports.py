"""The import graph has a direction: the CLIs and run/ and sweep/ on top, task.py below them, and the
rooms that do the work (data, models, backends, training, scoring, results) below it, knowing nothing
of how they are launched. Read from the source (every import, top-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.repo import REPO

PACKAGE = REPO / "sumexp"
# Rooms that must not reach up to the task function or to the code that launches runs.
LOWER = (
    "sumexp.data",
    "sumexp.models",
    "sumexp.backends",
    "sumexp.training",
    "sumexp.scoring",
    "sumexp.results",
    "sumexp.security",
    "sumexp.encoding",
    "sumexp.encoding_cache",
    "sumexp.generation",
    "sumexp.checks",
    "sumexp.schema",
    "sumexp.errors",
)
UPPER = (
    "sumexp.task",
    "sumexp.run",
    "sumexp.sweep",
    "sumexp.report",
    "sumexp.predict",
    "sumexp.score",
    "sumexp.__main__",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "sumexp" or name.startswith("sumexp.")}


GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_nothing_below_the_task_imports_upward():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if within(module, LOWER)
        for target in targets
        if within(target, UPPER)
    )
    assert upward == []


def test_no_two_modules_import_each_other():
    modules = set(GRAPH)
    edges = {m: {t for t in targets if t in modules and t != m} for m, targets in GRAPH.items()}
    loops = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert loops == []


def test_the_graph_is_read():  # the two tests above must see real edges, or they prove nothing
    assert "sumexp.task" in GRAPH["sumexp.run.job"] and "sumexp.results.run_record" in GRAPH["sumexp.run.folder"]
