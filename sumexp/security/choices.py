"""A config group option is a name from conf/<group>/, never a path.

Hydra joins the option to the group's folder, so `model=../../../x/evil` loads `evil.yaml` from outside
the package's conf/: a model's `trust_remote_code` or its checkpoint could then come from any
file on the machine. Every group's choice is checked before the run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from sumexp.package_data import CONF_DIR


def choice_problems(choices: Mapping, conf_dir: Path = CONF_DIR) -> list[str]:
    """One message per group whose chosen option is a path, or whose file lies outside conf/."""
    problems = []
    for group, option in choices.items():
        if option is None:
            continue
        option = str(option)
        if is_path_like(option):
            problems.append(
                f"{group}={option}: an option is a name from conf/{group}/, not a path; "
                f"use one of {_names(conf_dir / group)}"
            )
        elif not str(group).startswith("hydra/"):  # Hydra's own groups live in its packages, not in conf/
            file = conf_dir / group / f"{option}.yaml"
            if file.exists() and not inside(file, conf_dir):
                problems.append(
                    f"{group}={option}: conf/{group}/{option}.yaml leads outside conf/ (a link?); "
                    f"replace it with a plain file"
                )
    return problems


def is_path_like(option: str) -> bool:
    return option.startswith(("/", "~")) or "\\" in option or ".." in PurePosixPath(option).parts


def inside(path: Path, folder: Path) -> bool:
    """True when `path`, links followed, lies in `folder`."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _names(folder: Path) -> str:
    names = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
    return ", ".join(names) if names else "the options in conf/"


def argv_problems(argv: list[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """Group options on the command line that are paths (sweeps `model=a,../b` included), found before Hydra
    composes anything: a file loaded from outside conf/ could fail composition, or be composed and used."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    problems = []
    for text in argv:
        if "=" not in text or text.startswith("-"):
            continue
        try:
            override = OverridesParser.create().parse_override(text)
        except Exception:  # noqa: BLE001 - not an override sumexp can read: Hydra reports it
            continue
        group = override.key_or_group
        if not (group.startswith("hydra/") or (conf_dir / group).is_dir()):
            continue  # a value, not a group option
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
        paths = [value for value in values if isinstance(value, str) and is_path_like(value)]
        if paths:
            problems += choice_problems({group: paths[0]}, conf_dir)
    return problems
