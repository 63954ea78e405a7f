"""The SLURM launcher's pieces without a cluster: sinfo lines and job fit, the requeued attempt's overrides,
SIGUSR2 and SIGTERM during a task, the wait for vanished jobs, the batch script."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from sumexp.sweep.slurm_fit import Node, parse_line, short_time_limit, unfit
from sumexp.sweep.slurm_job import PreemptionGuard, continuing


def test_sinfo_lines_are_read_and_a_job_too_big_for_every_node_names_its_keys():
    node = parse_line("gpu*|48+|191000|gpu:a100:4(S:0-1),mps:100")
    assert node == Node("gpu*", 48, 191000, 4)
    assert parse_line("debug|2|23081|(null)") == Node("debug", 2, 23081, 0)
    small = [Node("debug*", 2, 7000, 0)]
    assert unfit({"cpus_per_task": 1, "mem_gb": 3}, small) is None
    problem = unfit({"cpus_per_task": 4, "mem_gb": 16, "tasks_per_node": 1}, small)
    assert problem.startswith("hydra.launcher.cpus_per_task=4, hydra.launcher.mem_gb=16: no node of partition debug")
    assert "gpus_per_node" in unfit({"gpus_per_node": 1}, small)
    # each value fits some node, but no node has both: every asked key is named
    mixed = [Node("p", 64, 4000, 0), Node("p", 2, 256000, 0)]
    assert "cpus_per_task" in unfit({"cpus_per_task": 8, "mem_gb": 100}, mixed)
    assert "no such partition" in unfit({"partition": "nope"}, [])


def test_a_requeued_attempt_resumes_and_never_forces_a_fresh_start():
    assert continuing(["optim.lr=1e-3", "force=true", "+resume=false"]) == [
        "optim.lr=1e-3",
        "resume=true",
        "force=false",
    ]


def test_sigusr2_takes_sumexps_stop_while_the_task_runs_and_submitits_handler_is_kept(monkeypatch):
    from sumexp.errors import StopSignal

    seen = []
    submitit_requeue, submitit_bypass = (lambda s, f: seen.append("requeue")), (lambda s, f: seen.append("bypass"))
    old = signal.signal(signal.SIGUSR2, submitit_requeue), signal.signal(signal.SIGTERM, submitit_bypass)
    try:
        with PreemptionGuard() as guard:
            signal.signal(signal.SIGTERM, lambda s, f: seen.append(signal.Signals(s).name))  # sumexp's stop
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGUSR2)  # a second one changes nothing
        assert seen == ["SIGUSR2"] and guard.signal_name == "SIGUSR2" and guard.requeue_handler is submitit_requeue
        signal.signal(signal.SIGTERM, submitit_bypass)
        with pytest.raises(StopSignal), PreemptionGuard():  # outside sumexp's task: stop where it is
            os.kill(os.getpid(), signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, old[0])
        signal.signal(signal.SIGTERM, old[1])


def test_the_wait_ends_for_a_job_out_of_the_queue_without_a_result(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from sumexp.sweep import slurm_launch

    class Job:  # what the wait reads of a submitit job
        def __init__(self, i):
            self.job_id, self.paths = f"7_{i}", SimpleNamespace(result_pickle=tmp_path / f"{i}.pkl")

    done, gone, queued = Job(0), Job(1), Job(2)
    done.paths.result_pickle.write_bytes(b"")
    # squeue once fails: no job is given up for that; the last answer is the second wait's
    answers = iter([{"7_2"}, None, {"7_2"}, set(), set()])
    monkeypatch.setattr(slurm_launch, "in_queue", lambda: next(answers))
    assert slurm_launch.wait_for([done, gone, queued], vanished_after_s=0, poll_s=0) == {gone, queued}
    assert slurm_launch.wait_for([done], vanished_after_s=0, poll_s=0) == set()


def test_the_report_shows_how_many_attempts_a_requeued_job_took():
    import pandas as pd

    from sumexp.report.markdown import _status

    assert _status(pd.Series({"status": "completed", "error": None, "attempts": 2})) == "completed (2 attempts)"
    assert _status(pd.Series({"status": "completed", "error": None, "attempts": 1})) == "completed"
    assert _status(pd.Series({"status": "completed", "error": None, "attempts": float("nan")})) == "completed"


def test_the_requeue_runs_with_sigterm_ignored_so_that_scontrol_survives_it():
    """SLURM's requeue sends SIGTERM to every process of the job, `scontrol requeue` included."""
    from types import SimpleNamespace

    from submitit.core.utils import UncompletedJobError

    from sumexp.sweep import slurm_job

    seen = []

    def requeue(signum, frame):  # stands for submitit's: a child process that receives SIGTERM
        seen.append(
            subprocess.run(
                ["sh", "-c", "kill -TERM $$; echo alive"], capture_output=True, text=True, check=False
            ).stdout.strip()
        )
        raise UncompletedJobError("timed-out too many times")

    before = signal.getsignal(signal.SIGTERM)
    slurm_job._requeue(SimpleNamespace(signal_name="SIGUSR2", requeue_handler=requeue), None, 1)
    assert seen == ["alive"] and signal.getsignal(signal.SIGTERM) is before  # not requeued: SIGTERM as it was


@pytest.mark.parametrize("tasks", [1, 2])
def test_the_batch_script_runs_one_task_itself_and_several_under_srun_that_stops_all_when_one_fails(
    tasks, tmp_path, monkeypatch
):
    from sumexp.sweep.slurm_launch import _executor

    # submitit's executor looks for srun on PATH before it writes a script; the script's text needs no cluster.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\necho 'slurm 0.0'\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    params = {"submitit_folder": str(tmp_path), "max_num_timeout": 3, "tasks_per_node": tasks, "nodes": 1}
    params.update(timeout_min=10, signal_delay_s=120, cpus_per_task=1, mem_gb=1)
    slurm = _executor(params)._executor
    script = slurm._make_submission_file_text(slurm._submitit_command_str, "uid")
    run_line = next(line for line in script.splitlines() if "submitit.core._submit" in line)
    if tasks == 1:  # no job step: the signal of a time limit or scancel reaches the run itself
        assert run_line.startswith("exec ") and "srun" not in run_line
        assert "#SBATCH --signal=B:USR2@120" in script
    else:  # a rank that fails before the group forms must not leave the others waiting until the time limit
        assert run_line.startswith("srun ") and "--kill-on-bad-exit=1" in run_line


def test_the_cpus_of_several_tasks_are_refused_naming_tasks_per_node():
    problem = unfit({"cpus_per_task": 1, "tasks_per_node": 3, "mem_gb": 1}, [Node("debug*", 2, 7000, 0)])
    assert problem.startswith("hydra.launcher.tasks_per_node=3 × hydra.launcher.cpus_per_task=1 (3 CPUs): no node")


def test_a_time_limit_that_leaves_no_time_before_the_signal_to_save_is_refused_before_submitting(tmp_path):
    from tests.support.cli import OFFLINE, expect_one_line_error
    from tests.support.in_process import run_module
    from tests.support.repo import REPO

    args = ["-m", "hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path}", "hydra.launcher.timeout_min=1"]
    run = run_module("sumexp", args, env=OFFLINE, cwd=REPO)
    expect_one_line_error(run, "hydra.launcher.timeout_min=1 (60 s)", "hydra.launcher.signal_delay_s=120")
    assert not (tmp_path / ".submitit").exists()
    # SLURM may signal up to 60 s early: 3 minutes with the default 120 s delay leave nothing; 4 leave a minute
    assert short_time_limit({"timeout_min": 3, "signal_delay_s": 120}) is not None
    assert short_time_limit({"timeout_min": 4, "signal_delay_s": 120}) is None


def test_a_result_does_not_end_the_wait_while_the_job_is_still_queued(monkeypatch, tmp_path):
    """A job SLURM requeued left the result of its first attempt and is queued again for the next."""
    from types import SimpleNamespace

    from sumexp.sweep import slurm_launch

    class Job:  # what the wait reads of a submitit job
        job_id, paths = "7_0", SimpleNamespace(result_pickle=tmp_path / "0.pkl")

    requeued = Job()
    requeued.paths.result_pickle.write_bytes(b"")
    polls = iter([{"7_0"}, {"7_0"}, set()])
    seen = []
    monkeypatch.setattr(slurm_launch, "in_queue", lambda: seen.append(1) or next(polls))
    assert slurm_launch.wait_for([requeued], vanished_after_s=0, poll_s=0) == set() and len(seen) == 3


def test_a_slurm_jobs_pickles_hold_no_secret_and_the_job_gets_it_from_its_environment(monkeypatch):
    """What submitit pickles (the call, and the result it brings back) has a placeholder where the secret was."""
    import cloudpickle

    from sumexp.sweep import job_files
    from sumexp.sweep.slurm_sealed import SealedCall, secrets_in_environment

    secret = "hf_SealedSecret0123456789"
    call = SealedCall.seal(dict, ({"+hf_token": secret, "note": f"token={secret}"},), [secret])
    assert secret.encode() not in cloudpickle.dumps(call) and secret.encode() not in cloudpickle.dumps(
        call.checkpoint()
    )
    with secrets_in_environment([secret]):
        assert os.environ[job_files.SECRET_ENV.format(0)] == secret
        sealed = call()  # the job: takes the secret out of its environment
        assert job_files.SECRET_ENV.format(0) not in os.environ
    assert secret.encode() not in cloudpickle.dumps(sealed)
    assert sealed.open([secret]) == {"+hf_token": secret, "note": f"token={secret}"}
    assert job_files.SECRET_ENV.format(0) not in os.environ
