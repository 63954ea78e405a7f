"""python -m sumexp.speed: backends built side by side and timed in turns on the same batches, and the report's
speed column from what it wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sumexp.report import write_report
from sumexp.speed.cli import main as speed_main
from tests.support.runs import completed, config, dev_predictions, make_run

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
    # the backends table carries the same interval and says where it came from
    table = next(r for r in (tmp_path / "report.md").read_text().splitlines() if r.startswith("| tiny_t5 | qlora |"))
    assert (
        f"| {qlora['speed_x']:.2f}× [{qlora['speed_x_lo']:.2f}, {qlora['speed_x_hi']:.2f}] | in turns, 95% CI over rounds |"
        in table
    ), table
