"""python -m sumexp.report: rows from metrics.json files, baseline ratios, partial sweeps, the three files."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from sumexp.report import main as report_main
from sumexp.report import write_report
from sumexp.report.runs import find_run_dirs


def completed(model, backend, effective=None, memory=1000.0, tokens=100.0, samples=10.0, rouge=(30.0, 10.0, 28.0)):
    return {"status": "completed", "model": model, "backend_requested": backend, "backend_effective": effective or backend,
            "dev_rouge1": rouge[0], "dev_rouge2": rouge[1], "dev_rougeL": rouge[2], "dev_rouge_mean": sum(rouge) / 3,
            "peak_memory_mb": memory, "peak_memory_kind": "rss", "train_tokens_per_second": tokens,
            "train_samples_per_second": samples, "train_runtime_s": 12.5, "params_trainable": 1000, "params_total": 5000}


def make_run(root, name, metrics=None, overrides=None):
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    if overrides is not None:
        (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return run


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    make_run(root, "0_tiny_bart_full", completed("tiny_bart", "full", memory=1000, tokens=100))
    make_run(root, "1_tiny_bart_lora", completed("tiny_bart", "lora", memory=400, tokens=150))
    make_run(root, "2_tiny_t5_full", completed("tiny_t5", "full", memory=800, tokens=50))
    make_run(root, "3_tiny_t5_qlora", completed("tiny_t5", "qlora", effective="lora", memory=200, tokens=25))
    make_run(root, "4_tiny_llama_full", {"status": "failed", "stage": "input", "model": "tiny_llama",
                                         "backend_requested": "full", "error": "optim.precision=fp8: not a precision; use auto"})
    make_run(root, "5_tiny_llama_lora", {"status": "running", "model": "tiny_llama", "backend_requested": "lora"})
    make_run(root, "10_tiny_gpt2_lora", None, overrides=["model=tiny_gpt2", "backend=lora", "optim.lr=0.001"])
    (root / ".submitit").mkdir()
    return root


def by_run(table):
    return {row["run"]: row for _, row in table.iterrows()}


def test_rows_in_job_order_with_status_and_ratios_against_full(sweep):
    rows = by_run(write_report([sweep], sweep))
    assert list(rows) == ["0_tiny_bart_full", "1_tiny_bart_lora", "2_tiny_t5_full", "3_tiny_t5_qlora",
                          "4_tiny_llama_full", "5_tiny_llama_lora", "10_tiny_gpt2_lora"]
    assert rows["1_tiny_bart_lora"]["memory_pct"] == pytest.approx(40.0)
    assert rows["1_tiny_bart_lora"]["speed_x"] == pytest.approx(1.5)
    assert rows["0_tiny_bart_full"]["memory_pct"] == pytest.approx(100.0) and rows["0_tiny_bart_full"]["speed_x"] == 1.0
    # each model against its own full run, whatever backend was asked for
    assert rows["3_tiny_t5_qlora"]["memory_pct"] == pytest.approx(25.0)
    assert rows["3_tiny_t5_qlora"]["speed_x"] == pytest.approx(0.5)
    assert rows["3_tiny_t5_qlora"]["baseline"] == "2_tiny_t5_full"
    assert rows["4_tiny_llama_full"]["status"] == "failed" and pd.isna(rows["4_tiny_llama_full"]["memory_pct"])
    assert rows["5_tiny_llama_lora"]["status"] == "running"
    unknown = rows["10_tiny_gpt2_lora"]
    assert (unknown["status"], unknown["model"], unknown["backend_requested"]) == ("unknown", "tiny_gpt2", "lora")


def test_markdown_shows_backend_change_errors_and_scale(sweep, capsys):
    write_report([sweep], sweep)
    text = (sweep / "report.md").read_text()
    line = next(row for row in text.splitlines() if row.startswith("| 3_tiny_t5_qlora"))
    assert "qlora → lora" in line and "25%" in line and "0.50×" in line and "30.00" in line
    failed = next(row for row in text.splitlines() if row.startswith("| 4_tiny_llama_full"))
    assert "failed: optim.precision=fp8" in failed
    assert "- `4_tiny_llama_full` (failed): optim.precision=fp8: not a precision; use auto" in text
    assert "4 completed" in text and "1 failed" in text and "1 running" in text and "1 unknown" in text
    printed = capsys.readouterr().out
    assert "| 1_tiny_bart_lora |" in printed and "report of 7 run(s)" in printed


def test_csv_and_png_are_written(sweep):
    write_report([sweep], sweep)
    table = pd.read_csv(sweep / "report.csv")
    assert len(table) == 7 and {"rouge_mean", "memory_pct", "speed_x", "error", "run_dir"} <= set(table.columns)
    png = (sweep / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(sweep / "report.png").shape
    assert width > height > 300  # two panels side by side


def test_baseline_backend_can_be_chosen(sweep, tmp_path):
    rows = by_run(write_report([sweep], tmp_path / "out", baseline="lora"))
    assert rows["0_tiny_bart_full"]["memory_pct"] == pytest.approx(250.0)
    assert rows["0_tiny_bart_full"]["speed_x"] == pytest.approx(100 / 150)
    assert rows["3_tiny_t5_qlora"]["memory_pct"] == pytest.approx(100.0)  # effective lora is its own baseline
    assert (tmp_path / "out" / "report.md").is_file() and not (sweep / "report.md").exists()


def test_speed_falls_back_to_samples_per_second(tmp_path):
    make_run(tmp_path, "0_a_full", {**completed("a", "full"), "train_tokens_per_second": None, "train_samples_per_second": 8.0})
    make_run(tmp_path, "1_a_lora", {**completed("a", "lora"), "train_tokens_per_second": None, "train_samples_per_second": 12.0})
    assert by_run(write_report([tmp_path], tmp_path))["1_a_lora"]["speed_x"] == pytest.approx(1.5)


def test_several_folders_and_single_run_folders(sweep, tmp_path):
    single = make_run(tmp_path / "outputs", "12-00-00_tiny_bart_lora", completed("tiny_bart", "lora", memory=500))
    assert find_run_dirs(single) == [single]
    rows = by_run(write_report([sweep, single], tmp_path / "both"))
    assert len(rows) == 8 and rows["12-00-00_tiny_bart_lora"]["memory_pct"] == pytest.approx(50.0)


def test_a_sweep_with_nothing_finished_still_reports(tmp_path):
    make_run(tmp_path, "0_tiny_bart_full", {"status": "running", "model": "tiny_bart", "backend_requested": "full"})
    table = write_report([tmp_path], tmp_path)
    assert list(table["status"]) == ["running"] and (tmp_path / "report.png").is_file()


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert report_main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sumexp: error:") and "folder not found" in err[0]
    (tmp_path / "empty").mkdir()
    assert report_main([str(tmp_path / "empty")]) == 2
    assert "no run folders found" in capsys.readouterr().err
