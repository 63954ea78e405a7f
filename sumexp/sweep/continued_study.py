"""Continuing a stored Optuna study: the same command finishes the search it started.

- `hydra.sweeper.n_trials` is the size of the whole study: a continued search runs only the trials still missing.
- A trial left running by a stopped or killed sweep runs again, with its own parameters, in its own folder.
- Each trial's job number (its folder's prefix) follows its trial number, so a new trial never takes
  the folder of another one; a fresh study in a sweep folder that already holds jobs numbers on after them.
- The sampler of a continued study is seeded afresh (seed + trials so far): with the first seed again it
  would draw the same parameters as the first trials.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import optuna
from hydra.utils import instantiate
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
from omegaconf import OmegaConf

from sumexp.errors import first_line, refuse

log = logging.getLogger(__name__)
JOB_FOLDER = re.compile(r"^(\d+)_")


class ContinuedStudySweeper(OptunaSweeperImpl):
    def sweep(self, arguments):
        previous = self._previous_trials()
        finished = [trial for trial in previous if trial.state.is_finished()]
        self.n_trials = max(0, self.n_trials - len(finished))
        self.job_base = max(0, next_job_number(Path(str(self.sweep_dir))) - len(previous))
        self.launcher.planned_jobs = self.job_base + len(finished) + self.n_trials
        if previous:
            self._reseed_sampler(len(previous))
            log.info(f"continuing study {self.study_name}: {len(finished)} trial(s) done, {self.n_trials} to run")
        self._asked = []
        try:
            return super().sweep(arguments)
        except SystemExit:  # the sweep was stopped: the trials it was running run again when it is continued
            if self.storage is not None:
                _requeue_running(self._asked)
            raise
        except ValueError as err:  # optuna's words for a user's search space, or for a study with no result
            problem = _search_problem(err, self.study_name)
            if problem is None:
                raise
            refuse(problem)

    def _configure_trials(self, trials, search_space_distributions, fixed_params):
        numbers = [trial.number for trial in trials]
        if numbers != list(range(numbers[0], numbers[0] + len(trials))):
            raise RuntimeError(
                f"study {self.study_name}: trials {numbers} are not consecutive, so another process is "
                "adding trials to it; run one sweep per study at a time"
            )
        self.job_idx = self.job_base + numbers[0]  # the launcher numbers a batch's jobs from here
        self._asked = list(trials)
        return super()._configure_trials(trials, search_space_distributions, fixed_params)

    def _previous_trials(self) -> list:
        """The trials of the stored study; the running ones (left by a stopped sweep) are queued to run again."""
        if self.storage is None:
            return []
        try:
            study = optuna.load_study(study_name=self.study_name, storage=self.storage)
        except KeyError:  # no such study yet
            return []
        trials = study.get_trials(deepcopy=False)
        running = [trial for trial in trials if trial.state == optuna.trial.TrialState.RUNNING]
        for trial in running:
            study._storage.set_trial_state(trial._trial_id, optuna.trial.TrialState.WAITING)  # no public call
        if running:
            log.warning(
                f"trial(s) {[t.number for t in running]} of study {self.study_name} did not finish: running them again"
            )
        return trials

    def _reseed_sampler(self, trials_so_far: int) -> None:
        sampler_config = OmegaConf.select(self.config, "hydra.sweeper.sampler")
        # GridSampler arrives as a partial (built later from the search space) and draws nothing at random.
        if sampler_config is None or sampler_config.get("seed") is None or isinstance(self.sampler, functools.partial):
            return
        self.sampler = instantiate(sampler_config, seed=int(sampler_config.seed) + trials_so_far)


def _search_problem(err: ValueError, study_name: str) -> str | None:
    """A one-line message for the ValueErrors optuna raises on a user's mistake, None for any other."""
    if _raised_in(err, "distributions.py"):  # a distribution it cannot build: a log interval from 0, low > high
        return (
            f"hydra.sweeper.params: {first_line(err).rstrip('.')}; give an interval as interval(low, high) with low <= high, "
            f"and low > 0 for tag(log, ...), e.g. optim.lr: tag(log, interval(1e-5, 3e-3))"
        )
    if _raised_in(err, "study.py", "best_trial"):  # the end of a search in which no trial completed
        return (
            f"study {study_name}: no trial completed, so there is no best one; the summary above and each job's "
            f"metrics.json say why they failed: fix that and run the search again"
        )
    return None


def _raised_in(err: BaseException, file_name: str, function: str | None = None) -> bool:
    """Whether optuna's `file_name` (in `function`, if given) is on the error's traceback."""
    tb = err.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        path = Path(code.co_filename)
        if path.name == file_name and "optuna" in path.parts and function in (None, code.co_name):
            return True
        tb = tb.tb_next
    return False


def next_job_number(sweep_dir: Path) -> int:
    """One more than the highest job folder number in the sweep folder (0 when it has none)."""
    numbers = [
        int(match.group(1))
        for path in sweep_dir.glob("*")
        if path.is_dir()
        for match in [JOB_FOLDER.match(path.name)]
        if match
    ]
    return max(numbers, default=-1) + 1


def _requeue_running(trials) -> None:
    """Trials still running (their result never came) wait to run again; Optuna has no public call for this."""
    for trial in trials:
        storage = trial.study._storage
        if storage.get_trial(trial._trial_id).state == optuna.trial.TrialState.RUNNING:
            storage.set_trial_state(trial._trial_id, optuna.trial.TrialState.WAITING)
