"""`python -m sumexp [overrides]`: compose the run config with Hydra and run the one task function."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from sumexp.app.job import run_task
from sumexp.package_data import CONF_DIR
from sumexp.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_task(cfg)  # importable, so a sweep job's fresh process can run it too


def refuse_path_options(argv: list[str]) -> None:
    """A group option that is a path is refused before Hydra loads anything from it (one line, exit 2)."""
    from sumexp.errors import refuse
    from sumexp.security.choices import argv_problems

    problems = argv_problems(argv)
    if problems:
        refuse("; ".join(problems))


def cli() -> None:
    """The command line, checked and with its secrets taken out (sumexp/security/overrides.py), then Hydra."""
    import sys

    from sumexp.errors import UserError, refuse
    from sumexp.security.overrides import hide_secret_overrides

    refuse_path_options(sys.argv[1:])
    try:
        sys.argv[1:] = hide_secret_overrides(sys.argv[1:])
    except UserError as err:
        refuse(str(err))
    main()


if __name__ == "__main__":
    cli()
