"""`hydra/launcher=slurm`: the sweep as one SLURM job array, each job resumable after pre-emption or its time limit.

hydra-submitit-launcher's SLURM launcher, with three changes (sumexp/sweep/slurm_*.py does the work):
- each job is a checkpointable submitit job: SIGUSR2 (pre-emption, or `signal_delay_s` before the time
  limit) saves a checkpoint, records `interrupted`, requeues the job, and the requeued attempt resumes;
- before submitting, a job no node of the partition could ever run is refused in one line;
- the wait for the jobs is bounded: a job that left the queue without a result is recorded as failed.
"""

# No `from __future__ import annotations`: Hydra execs plugin modules before they are in sys.modules,
# and dataclasses then cannot resolve string annotations.
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


@dataclass
class SumexpSlurmQueueConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.sumexp_launcher.slurm_launcher.SumexpSlurmLauncher"
    # A job that is neither in `squeue` nor has a result for this long is recorded as failed.
    vanished_after_s: int = 60
    poll_s: float = 5.0  # how often the queue is read while the sweep waits


ConfigStore.instance().store(group="hydra/launcher", name="sumexp_slurm", node=SumexpSlurmQueueConf, provider="sumexp")


class SumexpSlurmLauncher(SlurmLauncher):
    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        """One attempt of one job, inside its SLURM allocation."""
        # lazy: Hydra imports every plugin at start-up
        from sumexp.sweep.slurm_job import run_attempt

        parent = super().__call__
        return run_attempt(
            lambda overrides: parent(overrides, job_dir_key, job_num, job_id, singleton_state), sweep_overrides
        )

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from sumexp.sweep.slurm_launch import launch_array

        return launch_array(self, job_overrides, initial_job_idx)
