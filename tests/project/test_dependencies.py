"""Every import is declared: the package's in pyproject's dependencies, the tests' there or in the dev extra.

A module that happens to be installed as a dependency of a dependency works here and breaks the day
that dependency drops it; CI installs from pyproject.toml on a fresh machine, so it must say everything.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import tomllib

from tests.support.repo import REPO

LOCAL = {"sumexp", "tests", "hydra_plugins", "bench"}
# Imported only inside a guard that skips or degrades when the package is absent (an optional extra).
OPTIONAL = {"unsloth", "tensorboard", "wandb", "mlflow", "optuna", "submitit"}


def imported_modules(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in LOCAL}


def normalized(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared(*groups: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {normalized(r) for r in project["dependencies"]}
    for group in groups:
        names |= {normalized(r) for r in project["optional-dependencies"][group]}
    return names


def undeclared(modules: set[str], names: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(modules - OPTIONAL):
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not distributions & names:
            missing.append(f"{module} (from {', '.join(sorted(distributions))})")
    return missing


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from Python 3.11")
def test_the_package_declares_what_it_imports():
    assert undeclared(imported_modules(REPO / "sumexp") | imported_modules(REPO / "hydra_plugins"), declared()) == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from Python 3.11")
def test_the_tests_declare_what_they_import():
    assert undeclared(imported_modules(REPO / "tests"), declared("dev")) == []
