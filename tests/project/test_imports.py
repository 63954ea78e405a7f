"""The import graph has a direction: the CLIs, app/ (the job wrapper and Hydra's callbacks) and sweep/ on top,
task.py below them, and below it the rooms that do the work (data, models, backends, training, scoring,
results) and run/, the run-time services they share, knowing nothing of how they are launched. Read from
the source (every import, top-level or inside a function)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.limits import hang_limit
from tests.support.repo import REPO

PACKAGE = REPO / "sumexp"
# Rooms that must not reach up to the task function or to the code that launches runs.
LOWER = (
    "sumexp.data",
    "sumexp.models",
    "sumexp.backends",
    "sumexp.training",
    "sumexp.score",  # but its command line, score.cli, is above (UPPER names the more specific place)
    "sumexp.results",
    "sumexp.run",
    "sumexp.security",
    "sumexp.features",
    "sumexp.features_cache",
    "sumexp.generation",
    "sumexp.checks",
    "sumexp.schema",
    "sumexp.errors",
    "sumexp.package_data",
    "sumexp.text",
)
UPPER = (
    "sumexp.task",
    "sumexp.app",
    "sumexp.sweep",
    "sumexp.report",
    "sumexp.speed",
    "sumexp.predict",
    "sumexp.score.cli",
    "sumexp.score.__main__",
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


def is_upper(name: str) -> bool:
    return within(name, UPPER)


def is_lower(name: str) -> bool:
    return within(name, LOWER) and not is_upper(name)


def test_nothing_below_the_task_imports_upward():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if is_lower(module)
        for target in targets
        if is_upper(target)
    )
    assert upward == []


def test_no_two_modules_import_each_other():
    modules = set(GRAPH)
    edges = {m: {t for t in targets if t in modules and t != m} for m, targets in GRAPH.items()}
    loops = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert loops == []


def test_every_module_is_in_a_layer():  # a new room must say where it sits, or the direction test cannot see it
    unplaced = sorted(m for m in GRAPH if m != "sumexp" and not within(m, LOWER + UPPER))
    assert unplaced == []


def test_the_graph_is_read():  # the tests above must see real edges, or they prove nothing
    assert "sumexp.task" in GRAPH["sumexp.app.job"] and "sumexp.run.record" in GRAPH["sumexp.run.folder"]
    assert "sumexp.run.console" in GRAPH["sumexp.task"]  # the task uses run/'s services, from above them


@pytest.mark.slow  # a fresh interpreter
def test_the_matrix_reads_the_family_without_importing_transformers(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5", "is_encoder_decoder": True}))
    code = (
        "import sys; from types import SimpleNamespace as S; from sumexp.backends import probes, matrix\n"
        "scratch = S(scratch=S(model_type='llama', config={}))\n"
        f"folder = S(scratch=None, checkpoint={str(tmp_path)!r})\n"
        "print(probes.model_family(scratch), probes.model_family(folder), 'transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=hang_limit(120),
        cwd=REPO,
    )
    assert out.stdout.split() == ["causal", "seq2seq", "False"], out.stderr[-2000:]
