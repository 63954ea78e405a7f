"""`hydra/launcher=local`: every sweep job in a fresh process, `max_parallel` at a time (sumexp's default for -m)."""

# No `from __future__ import annotations`: Hydra execs plugin modules before they are in sys.modules,
# and dataclasses then cannot resolve string annotations.
from dataclasses import dataclass
from typing import Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class LocalProcessLauncherConf:
    _target_: str = "hydra_plugins.sumexp_launcher.local_launcher.LocalProcessLauncher"
    max_parallel: int = 1  # jobs running at once; more: faster sweeps, peak memory adds up


ConfigStore.instance().store(group="hydra/launcher", name="local", node=LocalProcessLauncherConf, provider="sumexp")


class LocalProcessLauncher(Launcher):
    def __init__(self, max_parallel: int = 1) -> None:
        if max_parallel < 1:
            raise ValueError(f"hydra.launcher.max_parallel={max_parallel}: must be at least 1")
        self.max_parallel = max_parallel
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self.progress = None  # the sweep's terminal lines, kept across the batches a sweeper launches
        self.planned_jobs: Optional[int] = None  # set by a sweeper that knows the sweep's size before its batches

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from sumexp.sweep.launching import launch_jobs  # lazy: Hydra imports every plugin at start-up

        return launch_jobs(self, job_overrides, initial_job_idx)
