"""Hydra's saves of .hydra/config.yaml, hydra.yaml and overrides.yaml, whole or not at all.

Hydra opens each file and writes it in place: a stop midway leaves half a YAML file that a resume or
the report then cannot read, and a full disk there is a traceback. `install` swaps Hydra's
`_save_config` (which its run_job calls by that name) for one that writes beside the file and renames
it, through the run's one atomic write, and turns a full disk into one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import hydra.core.utils as hydra_utils


def save_config_atomically(cfg, filename: str, output_dir: Path) -> None:
    from omegaconf import OmegaConf

    from sumexp.errors import refuse
    from sumexp.results.files import write_atomic
    from sumexp.run.disk import disk_full

    try:
        write_atomic(Path(output_dir) / filename, OmegaConf.to_yaml(cfg))
    except OSError as err:
        full = disk_full(err, _run_dir(Path(output_dir)), then="run again")
        if full is None:
            raise
        refuse(full)  # nothing of the run exists yet but its folder: no record to write


def install() -> None:
    hydra_utils._save_config = save_config_atomically


def _run_dir(output_dir: Path) -> Path:
    """The run's folder (hydra.runtime.output_dir), of which output_dir (`.hydra/`) is a part."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return output_dir.parent
