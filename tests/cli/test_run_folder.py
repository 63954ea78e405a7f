"""The run folder is a safe place: misuse is refused with one line and leaves every file as it was;
a fresh start never mixes its outputs with an earlier run's; resume continues only what it may."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sumexp.training.checkpoints import checkpoint_problem, last_complete_checkpoint
from tests.support.cli import QUICK_CHECKPOINTED, REPO_ROOT_ENV, expect_one_line_error, sumexp_cli
from tests.support.limits import hang_limit


def folder_state(folder: Path) -> dict[str, str]:
    """Every file under `folder` (the lock aside) with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".sumexp.lock"
    }


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture
def completed(checkpointed_run):
    """A completed run of QUICK_CHECKPOINTED (conftest.py's checkpointed_run); copy it to run into its folder."""
    return checkpointed_run


@pytest.fixture
def completed_copy(completed, tmp_path):
    """A private copy of the completed run, for tests that run into its folder."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(completed, copy)
    return copy


# --- 1. group options are names, never paths ------------------------------------------------------------------


@pytest.mark.slow
def test_a_group_option_that_is_a_path_is_refused_before_anything_runs(tmp_path):
    evil = tmp_path / "outside" / "evil"
    evil.parent.mkdir()
    evil.with_suffix(".yaml").write_text(
        "name: evil\ncheckpoint: " + str(tmp_path / "ckpt") + "\ntrust_remote_code: true\n"
    )
    climb = "../" * 12 + str(evil).lstrip("/")
    for override in (f"model={climb}", f"backend={climb}", f"+experiment={climb}", f"model={evil}"):
        run = sumexp_cli(f"hydra.run.dir={tmp_path / 'run'}", override, timeout=120)
        expect_one_line_error(run, "not a path", "use one of")
        assert not (tmp_path / "run").exists(), override  # refused before Hydra made the folder


def test_a_sweep_job_whose_option_is_a_path_is_refused(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: evil\n")
    climb = "../" * 12 + str(evil.with_suffix("")).lstrip("/")
    run = sumexp_cli("-m", f"hydra.sweep.dir={tmp_path / 'sweep'}", f"model={climb}", timeout=300)
    assert run.returncode != 0
    assert "not a path" in run.stderr + "".join(p.read_text() for p in (tmp_path / "sweep").rglob("stderr.log"))
    assert not list((tmp_path / "sweep").rglob("model"))


def test_trust_remote_code_counts_only_from_a_plain_file_inside_conf_model(tmp_path, compose_config):
    from sumexp.security.trust import remote_code_problems

    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True)
    outside = tmp_path / "evil.yaml"
    outside.write_text("checkpoint: some/ckpt\ntrust_remote_code: true\n")
    (conf / "linked.yaml").symlink_to(outside)
    (conf / "plain.yaml").write_text(outside.read_text())
    cfg = compose_config(["model.checkpoint=some/ckpt", "model.trust_remote_code=true"]).model
    for name, allowed in (("plain", True), ("linked", False), ("../evil", False)):
        cfg.name = name  # outside the CLI the choice is the model's name
        assert (remote_code_problems(cfg, conf) == []) is allowed, name


# --- 2. a finished run is never destroyed or replaced unasked -------------------------------------------------------


@pytest.mark.slow
def test_predict_refuses_an_output_onto_the_runs_own_files(completed, tmp_path):
    from sumexp.data.sample import write_sample

    write_sample(tmp_path)
    before = folder_state(completed)
    for target in (
        "metrics.json",
        "model/config.json",
        "model",
        ".hydra/config.yaml",
        "submission.csv",
        "dev_predictions.csv",
        "train_log.jsonl",
        str(tmp_path / "test.csv"),
        str(tmp_path),
    ):
        output = target if target.startswith("/") else str(completed / target)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "sumexp.predict",
                str(completed),
                "--input",
                str(tmp_path / "test.csv"),
                "--output",
                output,
            ],
            capture_output=True,
            text=True,
            timeout=hang_limit(300),
            **REPO_ROOT_ENV,
        )
        expect_one_line_error(run, f"--output {output}")
    assert folder_state(completed) == before


@pytest.mark.slow
def test_another_config_into_a_completed_folder_is_refused_and_changes_nothing(completed_copy):
    before = folder_state(completed_copy)
    for changed in (["optim.lr=1e-3"], ["optim.lr=1e-3", "resume=true"], ["model=tiny_t5"]):
        run = sumexp_cli(f"hydra.run.dir={completed_copy}", *QUICK_CHECKPOINTED, *changed, timeout=300)
        expect_one_line_error(run, str(completed_copy), "completed run of another config", "force=true")
    assert folder_state(completed_copy) == before  # .hydra/ included: refused before Hydra wrote it
    same = sumexp_cli(f"hydra.run.dir={completed_copy}", *QUICK_CHECKPOINTED, timeout=300)
    assert same.returncode == 0 and "already completed with this config" in same.stdout


@pytest.mark.slow
def test_a_failed_run_leaves_no_outputs_of_the_run_it_replaced(completed_copy, tmp_path):
    run = sumexp_cli(
        f"hydra.run.dir={completed_copy}",
        *QUICK_CHECKPOINTED,
        "force=true",
        "data=dialogsum_ko",
        f"data.dir={tmp_path / 'missing'}",
        timeout=300,
    )
    expect_one_line_error(run, "data.dir=")
    assert record(completed_copy)["status"] == "failed"
    left = {p.name for p in completed_copy.iterdir()}
    assert not left & {"model", "submission.csv", "dev_predictions.csv", "train_log.jsonl", "checkpoints"}, left
    assert "data=dialogsum_ko" in (completed_copy / ".hydra" / "overrides.yaml").read_text()  # the failed run's own


def start(run_dir: Path, *overrides) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sumexp", f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED, *overrides],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **REPO_ROOT_ENV,
    )


def wait_for(condition, process, timeout=300):
    deadline = time.monotonic() + hang_limit(timeout)
    while not condition():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_second_run_into_a_live_runs_folder_is_refused(tmp_path):
    first = start(tmp_path, "optim.max_steps=40")
    wait_for(lambda: (tmp_path / "metrics.json").is_file(), first)
    second = sumexp_cli(f"hydra.run.dir={tmp_path}", *QUICK_CHECKPOINTED, "optim.lr=1e-3", timeout=300)
    expect_one_line_error(second, "another sumexp run is writing to this folder", f"pid {first.pid}")
    _, err = first.communicate(timeout=hang_limit(600))
    assert first.returncode == 0, err[-2000:]
    assert record(tmp_path)["status"] == "completed" and record(tmp_path)["pid"] == first.pid


# --- 3. resume continues only what it may ---------------------------------------------------------------------------


def complete_checkpoints(run_dir: Path) -> int:
    folder = run_dir / "checkpoints"
    return sum(1 for p in folder.glob("checkpoint-*") if checkpoint_problem(p) is None) if folder.is_dir() else 0


def interrupted_run(run_dir: Path, *overrides, checkpoints: int = 1) -> None:
    """A run stopped by SIGTERM once it has written `checkpoints` complete checkpoints (a stop at a step
    whose evaluation was due writes none of its own, so fewer may be on disk than were asked for otherwise)."""
    process = start(run_dir, "optim.max_steps=40", *overrides)
    wait_for(lambda: complete_checkpoints(run_dir) >= checkpoints, process)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=hang_limit(600))
    assert record(run_dir)["status"] == "interrupted"


@pytest.mark.slow
def test_resume_with_another_config_is_refused_naming_the_keys(tmp_path):
    interrupted_run(tmp_path)
    before = folder_state(tmp_path)
    for changed, key in ((["optim.lr=1e-3"], "optim.lr"), (["model=tiny_t5"], "model.name")):
        run = sumexp_cli(
            f"hydra.run.dir={tmp_path}",
            *QUICK_CHECKPOINTED,
            "optim.max_steps=40",
            "resume=true",
            *changed,
            timeout=300,
        )
        expect_one_line_error(run, "resume=true with another config", key, "force=true")
    plain = sumexp_cli(f"hydra.run.dir={tmp_path}", *QUICK_CHECKPOINTED, "optim.max_steps=40", timeout=300)
    expect_one_line_error(plain, "with a checkpoint at step", "resume=true continues it")
    assert folder_state(tmp_path) == before
    allowed = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        *QUICK_CHECKPOINTED,
        "optim.max_steps=40",
        "resume=true",
        "generation.max_new_tokens=10",
        "verbose=true",
        timeout=600,
    )
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "resuming from" in (tmp_path / "sumexp.log").read_text() and record(tmp_path)["status"] == "completed"


@pytest.mark.slow
def test_resume_after_the_training_data_changed_is_refused_naming_the_file(tmp_path):
    """An edited train.csv changes no config key; resuming would train on the new rows from a checkpoint of the
    old ones and record one run. The checkpoints keep a hash of the rows they were trained on."""
    from sumexp.data.sample import make_sample_splits

    data, run_dir = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    for name, frame in make_sample_splits().items():
        frame.to_csv(data / f"{name}.csv", index=False)
    on_files = ["data=csv", f"data.dir={data}"]
    interrupted_run(run_dir, *on_files)
    train = (data / "train.csv").read_text(encoding="utf-8")
    (data / "train.csv").write_text(train.replace("train_3,", "train_3_edited,", 1), encoding="utf-8")
    before = folder_state(run_dir)
    run = sumexp_cli(
        f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED, "optim.max_steps=40", *on_files, "resume=true", timeout=300
    )
    expect_one_line_error(run, "resume=true", f"{data / 'train.csv'} changed", "force=true")
    assert folder_state(run_dir) == before


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    interrupted_run(tmp_path, "keep_checkpoints=true", "optim.eval_steps=2", checkpoints=2)  # one to fall back to
    newest = last_complete_checkpoint(tmp_path / "checkpoints")
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "truncated" in checkpoint_problem(newest)
    fallback = last_complete_checkpoint(tmp_path / "checkpoints")
    assert fallback is not None and fallback != newest
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        *QUICK_CHECKPOINTED,
        "optim.max_steps=40",
        "keep_checkpoints=true",
        "optim.eval_steps=2",
        "resume=true",
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    log = (tmp_path / "sumexp.log").read_text()
    assert "not a complete checkpoint" in log and f"resuming from {fallback}" in log


def test_damaged_checkpoint_files_are_named(tmp_path):
    folder = tmp_path / "checkpoint-3"
    folder.mkdir()
    assert "trainer_state.json" in checkpoint_problem(folder)
    (folder / "trainer_state.json").write_text('{"global_step": ')
    assert "trainer_state.json" in checkpoint_problem(folder)
    (folder / "trainer_state.json").write_text("{}")
    (folder / "optimizer.pt").write_bytes(b"PK\x03\x04 cut short")
    assert "optimizer.pt" in checkpoint_problem(folder)
    (folder / "optimizer.pt").unlink()
    (folder / "model.safetensors").write_bytes(b"\x05")
    assert "model.safetensors" in checkpoint_problem(folder)


# --- 4. stops and a full disk leave a record that tells the truth -----------------------------------------------------


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_a_failed_record(tmp_path):
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(small)]).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        run = sumexp_cli(
            f"hydra.run.dir={small / 'run'}",
            *QUICK_CHECKPOINTED,
            "model=tiny_llama",
            "optim.max_steps=40",
            timeout=600,
        )
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
        errors = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error:")]
        assert len(errors) == 1 and "disk is full" in errors[0] and "MB free" in errors[0], run.stderr[-2000:]
        failed = record(small / "run")
        assert failed["status"] == "failed" and "disk is full" in failed["error"]
    finally:
        subprocess.run(["umount", str(small)])


@pytest.mark.slow
def test_a_sweep_job_refused_by_its_folder_is_not_started_and_the_sweep_says_so(tmp_path):
    sweep = ["-m", f"hydra.sweep.dir={tmp_path}", "model=tiny_bart", *QUICK_CHECKPOINTED]
    first = sumexp_cli(*sweep, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    job = tmp_path / "0_tiny_bart_full"
    before = folder_state(job)
    again = sumexp_cli(*sweep, "optim.lr=1e-3", timeout=600)
    assert again.returncode == 1, again.stdout[-2000:] + again.stderr[-2000:]
    assert "refused: " in again.stdout and "completed run of another config" in again.stdout
    assert folder_state(job) == before  # not started: .hydra/ and its logs included
    summary = next(line for line in again.stdout.splitlines() if line.strip().startswith("0_tiny_bart_full"))
    assert "refused" in summary


@pytest.mark.slow
def test_a_running_record_whose_process_is_gone_is_reported_as_such(tmp_path):
    import subprocess
    import sys

    from sumexp.run import lock
    from sumexp.run.listing import load_run

    dead, live = tmp_path / "dead", tmp_path / "live"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "metrics.json").write_text('{"status": "running", "model": "tiny_bart", "backend_requested": "full"}')
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from sumexp.run import lock; "
            f"lock.acquire({str(live)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert load_run(live)["status"] == "running"
        gone = load_run(dead)
        assert gone["status"] == "process gone" and "resume=true" in gone["error"]
        assert lock.is_locked_elsewhere(live) and not lock.is_locked_elsewhere(dead)
    finally:
        holder.kill()
        holder.wait()
    assert load_run(live)["status"] == "process gone"  # the kernel dropped the lock with the process
