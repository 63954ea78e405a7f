"""`python -m sumexp [overrides]`: compose the run config with Hydra and run the one task function."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from sumexp.run.job import run_task
from sumexp.schema import register_configs

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

register_configs()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_task(cfg)  # importable, so a sweep job's fresh process can run it too


def refuse_path_options(argv: list[str]) -> None:
    """A group option that is a path is refused before Hydra loads anything from it (one line, exit 2)."""
    import sys

    from sumexp.security.choices import argv_problems

    problems = argv_problems(argv)
    if problems:
        print(f"sumexp: error: {'; '.join(problems)}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    import sys

    refuse_path_options(sys.argv[1:])
    main()
