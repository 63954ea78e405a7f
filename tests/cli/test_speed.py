"""python -m sumexp.speed: backends built side by side and timed in turns on the same batches, or one process per
backend alternating (asked for, or where a backend does not fit beside another), and the report's speed column
from what it wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sumexp.speed.alternate as alternate
import sumexp.speed.processes as processes
from sumexp.report import write_report
from sumexp.speed.cli import main as speed_main
from tests.support.runs import completed, config, dev_predictions, make_run


def by_run(table) -> dict:
    return {row["run"]: row for _, row in table.iterrows()}


SHORT = ["data.max_train_samples=16", "optim.batch_size=4", "cache_dir=null"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("speed")
    argv = ["model=tiny_t5", "backend=full,lora,qlora", *SHORT, "--rounds", "3", "--steps", "2", "--out", str(out)]
    assert speed_main(argv) == 0
    return json.loads((out / "speed-tiny_t5-cpu.json").read_text())


@pytest.mark.slow  # builds three tiny models
def test_each_backend_is_timed_in_turns_on_the_same_batches_and_rated_against_the_first(measured):
    assert (measured["model"], measured["device"], measured["baseline"]) == ("tiny_t5", "cpu", "full")
    assert measured["base"] == "random weights"  # what a run of this config records as its base_model
    assert measured["mode"] == "in turns, one process" and "over rounds" in measured["interval"]
    assert (measured["rounds"], measured["steps_per_round"], measured["threads"]) == (3, 2, 1)
    assert len(measured["batches"]) == 16 and measured["trained_tokens_per_step"] > 0  # the batches all were timed on
    backends = measured["backends"]
    assert list(backends) == ["full", "lora", "qlora"] and [b["requested"] for b in backends.values()] == list(backends)
    for name, row in backends.items():
        assert len(row["round_step_s"]) == 3 and row["median_step_s"] == pytest.approx(np.median(row["round_step_s"]))
        assert row["trained_tokens_per_s"] == pytest.approx(measured["trained_tokens_per_step"] / row["median_step_s"])
        if name != "full":
            assert row["speed_x"] == pytest.approx(backends["full"]["median_step_s"] / row["median_step_s"])
            assert 0 < row["speed_x_lo"] <= row["speed_x"] <= row["speed_x_hi"]
    # what trains: every weight under full fine-tuning, an adapter over a frozen (4-bit, for qlora) base otherwise
    assert backends["lora"]["model_state_bytes"] < backends["full"]["model_state_bytes"] / 2
    assert backends["qlora"]["model_state_bytes"] < backends["lora"]["model_state_bytes"]


def test_a_backend_that_does_not_exist_or_a_single_one_is_one_line(tmp_path, capsys):
    for backends, fragment in (("full,lorra", "no backend lorra; choose from"), ("full", "give two or more")):
        assert speed_main(["model=tiny_t5", f"backend={backends}", "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("sumexp.speed: error: ") and fragment in err[0], err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_the_report_shows_an_alternated_ratio_with_its_interval_and_labels_one_from_separate_runs(measured, tmp_path):
    scores = np.linspace(20, 40, 20)
    for i, backend in enumerate(("full", "lora", "qlora")):
        make_run(
            tmp_path,
            f"{i}_tiny_t5_{backend}",
            completed("tiny_t5", backend, tokens=100.0 * (i + 1)),
            config=config(model="tiny_t5", backend=backend),
            examples=dev_predictions(scores),
        )
    rows = {row["run"]: row for _, row in write_report([tmp_path], tmp_path).iterrows()}
    assert rows["1_tiny_t5_lora"]["speed_source"] == "separate runs" and rows["1_tiny_t5_lora"]["speed_x"] == 2.0
    (tmp_path / "speed-tiny_t5-cpu.json").write_text(json.dumps(measured))
    rows = {row["run"]: row for _, row in write_report([tmp_path], tmp_path).iterrows()}
    lora = measured["backends"]["lora"]
    assert rows["1_tiny_t5_lora"]["speed_source"] == "alternated"
    assert (
        rows["1_tiny_t5_lora"]["speed_x"] == lora["speed_x"]
        and rows["1_tiny_t5_lora"]["speed_x_lo"] == lora["speed_x_lo"]
    )
    line = next(r for r in (tmp_path / "report.md").read_text().splitlines() if r.startswith("| 2_tiny_t5_qlora"))
    qlora = measured["backends"]["qlora"]
    assert f"{qlora['speed_x']:.2f}× [{qlora['speed_x_lo']:.2f}, {qlora['speed_x_hi']:.2f}] alternated" in line
    assert "rounds in turns in one process" in rows["2_tiny_t5_qlora"]["speed_note"]
    fallen_back = {**measured, "mode": "alternating processes", "fallback": "backend=qlora does not fit beside full"}
    (tmp_path / "speed-tiny_t5-cpu.json").write_text(json.dumps(fallen_back))
    note = by_run(write_report([tmp_path], tmp_path))["2_tiny_t5_qlora"]["speed_note"]
    assert "rounds of one process per backend in turns; backend=qlora does not fit beside full" in note, note
    (tmp_path / "speed-tiny_t5-cpu.json").write_text(json.dumps(measured))
    write_report([tmp_path], tmp_path)
    # the backends table carries the same interval and says where it came from
    table = next(r for r in (tmp_path / "report.md").read_text().splitlines() if r.startswith("| tiny_t5 | qlora |"))
    assert (
        f"| {qlora['speed_x']:.2f}× [{qlora['speed_x_lo']:.2f}, {qlora['speed_x_hi']:.2f}] | in turns, 95% CI over rounds |"
        in table
    ), table


# Processes: 2 backends x 2 process rounds x 1 step, no warm-up pass.
IN_PROCESSES = ["model=tiny_t5", "backend=full,lora", *SHORT, "--process-rounds", "2", "--steps", "1", "--warmup", "0"]


def assert_alternating_processes(measured: dict) -> None:
    assert measured["mode"] == "alternating processes" and measured["rounds"] == 2
    assert measured["base"] == "random weights"
    assert measured["order"] == ["full", "lora", "full", "lora"]  # round 1 full, lora; round 2 again
    assert "over process rounds" in measured["interval"] and measured["trained_tokens_per_step"] > 0
    full, lora = measured["backends"]["full"], measured["backends"]["lora"]
    for row in (full, lora):
        assert np.shape(row["step_s"]) == (2, 1) and len(row["round_step_s"]) == 2
        assert row["median_step_s"] == pytest.approx(np.median(row["step_s"]))
    assert lora["speed_x"] == pytest.approx(full["median_step_s"] / lora["median_step_s"])
    assert all(np.isfinite([lora["speed_x_lo"], lora["speed_x"], lora["speed_x_hi"]]))
    assert 0 < lora["speed_x_lo"] <= lora["speed_x"] <= lora["speed_x_hi"]


def in_this_process(argv: list[str]) -> tuple[int, str]:
    """A backend's process, run in the test's own: the same command, without paying the imports again."""
    return speed_main(argv), ""


@pytest.mark.slow  # four processes, each importing torch and transformers
def test_processes_time_one_backend_each_in_alternation_on_the_same_batches(tmp_path, capsys):
    assert speed_main([*IN_PROCESSES, "--processes", "--out", str(tmp_path)]) == 0
    measured = json.loads((tmp_path / "speed-tiny_t5-cpu.json").read_text())
    assert_alternating_processes(measured)
    assert measured["fallback"] is None  # asked for with --processes
    out = capsys.readouterr()
    assert "2 process rounds x 1 steps, one process per backend alternating" in out.out
    assert "round 2/2 lora: median step" in out.err


@pytest.mark.slow  # builds tiny models and times their steps, the processes run in this one
@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        MemoryError(),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: 8 GB"),
    ],
)
def test_a_backend_out_of_memory_beside_another_falls_back_to_alternating_processes(
    error, tmp_path, capsys, monkeypatch
):
    build_one, raised = alternate._build_one, []

    def out_of_memory_once_for_lora(cfg, *args):
        if cfg.backend.name == "lora" and not raised:  # beside full in one process; alone in its own it fits
            raised.append(cfg.backend.name)
            raise error
        return build_one(cfg, *args)

    monkeypatch.setattr(alternate, "_build_one", out_of_memory_once_for_lora)
    monkeypatch.setattr(processes, "run_child", in_this_process)
    assert speed_main([*IN_PROCESSES, "--out", str(tmp_path)]) == 0
    fell_back = [line for line in capsys.readouterr().err.splitlines() if "falling back" in line]
    assert len(fell_back) == 1 and fell_back[0].startswith(
        "sumexp.speed: backend=lora does not fit beside full in one process: out of memory while building it"
    )
    assert "one process per backend, alternating" in fell_back[0]
    measured = json.loads((tmp_path / "speed-tiny_t5-cpu.json").read_text())
    assert_alternating_processes(measured)
    assert measured["fallback"].startswith("backend=lora does not fit beside full in one process: out of memory")


@pytest.mark.slow  # builds tiny models and times their steps, the processes run in this one
def test_a_first_step_out_of_memory_beside_another_falls_back_too(tmp_path, capsys, monkeypatch):
    one_step, calls = alternate._one_step, []

    def lora_steps_out_of_memory(trainer, batch):  # no warm-up, one step: full's first, then lora's
        calls.append(None)
        if len(calls) == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return one_step(trainer, batch)

    monkeypatch.setattr(alternate, "_one_step", lora_steps_out_of_memory)
    monkeypatch.setattr(processes, "run_child", in_this_process)
    assert speed_main([*IN_PROCESSES, "--out", str(tmp_path)]) == 0
    assert "sumexp.speed: backend=lora does not fit beside full in one process: out of memory in its first step" in (
        capsys.readouterr().err
    )
    assert_alternating_processes(json.loads((tmp_path / "speed-tiny_t5-cpu.json").read_text()))


@pytest.mark.slow  # builds a tiny model and times its steps
def test_a_backend_process_that_fails_is_one_line_naming_it_and_writes_no_file(tmp_path, capsys, monkeypatch):
    def lora_fails(argv):
        if "backend=lora" in argv:
            return 1, "RuntimeError: the weights are damaged"
        return in_this_process(argv)

    monkeypatch.setattr(processes, "run_child", lora_fails)
    assert speed_main([*IN_PROCESSES, "--processes", "--out", str(tmp_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert errors == [
        "sumexp.speed: error: backend=lora: its process (round 1 of 2) failed with exit status 1: "
        "RuntimeError: the weights are damaged"
    ]
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_ratio_from_processes_carries_the_spread_of_both_backends_steps():
    from sumexp.speed.summary import summarize_processes

    steady = summarize_processes({"full": [[2.0, 2.0], [2.0, 2.0]], "lora": [[1.0, 1.0], [1.0, 1.0]]}, 10.0, "full")
    assert (steady["lora"]["speed_x"], steady["lora"]["speed_x_lo"], steady["lora"]["speed_x_hi"]) == (2.0, 2.0, 2.0)
    # The same medians, with the baseline's steps spread out: the interval widens around the same ratio.
    spread = summarize_processes({"full": [[1.5, 2.0, 2.5], [1.6, 2.0, 2.4]], "lora": [[1.0] * 3] * 2}, 10.0, "full")
    assert spread["lora"]["speed_x"] == 2.0 and spread["lora"]["speed_x_lo"] < 2.0 < spread["lora"]["speed_x_hi"]
