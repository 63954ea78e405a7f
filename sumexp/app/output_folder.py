"""A Hydra callback that makes the run (or sweep) folder first, so a folder that cannot be made is one
line and exit 2 (listed under hydra.callbacks in conf/config.yaml).

Hydra creates the folder itself before the task runs, where an error is a traceback. The folder's name
comes from the same config object Hydra then uses, whose `${now:...}` is cached, so both name one folder.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sumexp.errors import refuse

EXAMPLES = {"hydra.run.dir": "outputs/my_run", "hydra.sweep.dir": "multirun/my_sweep"}


class MakeOutputFolder(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        make_output_folder(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        make_output_folder(config, "hydra.sweep.dir")


def make_output_folder(config: DictConfig, key: str) -> None:
    """Create the folder `key` names; one line on stderr and exit 2 when the system refuses."""
    try:
        folder = Path(str(OmegaConf.select(config, key, throw_on_missing=True)))
    except OmegaConfBaseException:  # an interpolation only Hydra can resolve: Hydra reports it
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        refuse(
            f"{key}={folder}: cannot create the folder ({reason}); "
            f"pass a folder you can write to, e.g. {key}={EXAMPLES[key]}"
        )
