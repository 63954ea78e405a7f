"""A Hydra callback (listed under hydra.callbacks in conf/config.yaml) that refuses a run before Hydra
writes anything into its folder.

Hydra saves .hydra/config.yaml into the run folder before the task starts: a refusal from the task
alone would leave a folder whose completed outputs sit beside another run's config. `on_run_start`
comes earlier, so a single run is refused (and its folder locked) while the folder is untouched. Group
options that are paths are refused here too, before Hydra builds anything from them.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from sumexp.errors import refuse


class RunGuard(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _refuse_path_choices(config)
        from sumexp.run.distributed import is_main_process

        if not is_main_process():
            return  # data parallel: rank 0 owns the folder; a second rank taking its lock would refuse rank 0
        run_dir = _run_dir(config)
        if run_dir is None or not run_dir.is_dir():
            return  # a new folder holds nothing to protect; a name that resolves only in the job: the task checks
        from sumexp.run import lock
        from sumexp.run.folder import Verdict, assess

        task_cfg = _task_config(config)
        if task_cfg is None:
            return
        verdict = assess(run_dir, task_cfg) if lock.acquire(run_dir) else Verdict("refuse", _live(run_dir))
        if verdict.action == "refuse":
            lock.release(run_dir)
            refuse(verdict.message)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _refuse_path_choices(config)

    def on_job_start(self, config: DictConfig, **kwargs) -> None:  # every sweep job, on any launcher
        _refuse_path_choices(config)


def _refuse_path_choices(config: DictConfig) -> None:
    from sumexp.security.choices import choice_problems

    problems = choice_problems(OmegaConf.to_container(config.hydra.runtime.choices))
    if problems:
        refuse("; ".join(problems))


def _run_dir(config: DictConfig) -> Path | None:
    try:
        return Path(str(OmegaConf.select(config, "hydra.run.dir"))).absolute()
    except Exception:  # noqa: BLE001 - e.g. an interpolation of the job's runtime: the task checks later
        return None


def _task_config(config: DictConfig) -> DictConfig | None:
    """The run config as the task will see it (the hydra node removed), or None for another app's config."""
    if "model" not in config or "backend" not in config:
        return None
    from sumexp.schema import task_config

    return task_config(config)


def _live(run_dir: Path) -> str:
    from sumexp.run.folder import live_run_message
    from sumexp.run.record import read_metrics

    return live_run_message(run_dir, read_metrics(run_dir))
