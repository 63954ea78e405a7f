"""`hydra.sweeper._target_` of the Optuna searches in conf/hparams_search: a stored study that can be continued.

hydra-optuna-sweeper's own sweeper, with what continuing a stored study needs (sumexp/sweep/continued_study.py).
"""

# No `from __future__ import annotations`, as in local_launcher.py. The sweeper module is imported as a
# module, not its class, so that Hydra's plugin scan does not find OptunaSweeper here a second time.
import logging
from typing import Any, Optional

import hydra_plugins.hydra_optuna_sweeper.optuna_sweeper as optuna_plugin
from omegaconf import DictConfig

# Importing optuna imports alembic, which logs a line per alembic plugin at INFO to the sweep's terminal. Set
# here, when Hydra scans its plugins: the sampler (an optuna class) is built before the sweeper is.
logging.getLogger("alembic").setLevel(logging.WARNING)


class ContinuableOptunaSweeper(optuna_plugin.OptunaSweeper):
    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Optional[Any],
        study_name: Optional[str],
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        search_space: Optional[DictConfig],
        custom_search_space: Optional[str],
        params: Optional[DictConfig],
    ) -> None:
        from sumexp.sweep.continued_study import ContinuedStudySweeper  # lazy: optuna loads only for a search

        self.sweeper = ContinuedStudySweeper(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            search_space,
            custom_search_space,
            params,
        )
