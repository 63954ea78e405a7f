"""python -m sumexp.report: rows from run folders, baseline comparisons of one kind, seed groups, the four files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sumexp.report import main as report_main
from sumexp.report import write_report
from sumexp.run.listing import find_run_dirs
from tests.support.runs import completed, config, dev_predictions, make_run

BASE = np.linspace(20, 40, 40)  # the baseline's per-example ROUGE mean


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    make_run(
        root,
        "0_tiny_bart_full",
        completed("tiny_bart", "full", state_mb=1000, tokens=100, rss_mb=500),
        config=config(),
        examples=dev_predictions(BASE),
    )
    make_run(
        root,
        "1_tiny_bart_lora",
        completed("tiny_bart", "lora", state_mb=400, tokens=150, rss_mb=450),
        config=config(backend="lora"),
        examples=dev_predictions(BASE + 5),
    )
    make_run(root, "2_tiny_t5_full", completed("tiny_t5", "full", state_mb=800, tokens=50))
    make_run(root, "3_tiny_t5_qlora", completed("tiny_t5", "qlora", effective="lora", state_mb=200, tokens=25))
    make_run(
        root,
        "4_tiny_llama_full",
        {
            "status": "failed",
            "stage": "input",
            "model": "tiny_llama",
            "backend_requested": "full",
            "error": "optim.precision=fp8: not a precision; use auto",
        },
    )
    make_run(root, "5_tiny_llama_lora", {"status": "running", "model": "tiny_llama", "backend_requested": "lora"})
    make_run(root, "10_tiny_gpt2_lora", None, overrides=["model=tiny_gpt2", "backend=lora", "optim.lr=0.001"])
    (root / ".submitit").mkdir()
    return root


def by_run(table):
    return {row["run"]: row for _, row in table.iterrows()}


def test_rows_in_job_order_with_status_and_ratios_against_full(sweep):
    rows = by_run(write_report([sweep], sweep))
    assert list(rows) == [
        "0_tiny_bart_full",
        "1_tiny_bart_lora",
        "2_tiny_t5_full",
        "3_tiny_t5_qlora",
        "4_tiny_llama_full",
        "5_tiny_llama_lora",
        "10_tiny_gpt2_lora",
    ]
    lora = rows["1_tiny_bart_lora"]
    # two columns of fixed meaning: the model state counted, and what the CPU training steps added, measured
    assert lora["state_pct"] == pytest.approx(40.0)
    assert lora["peak_pct"] == pytest.approx(90.0) and lora["peak_kind"] == "RSS added"
    assert lora["speed_x"] == pytest.approx(1.5)
    assert rows["0_tiny_bart_full"]["state_pct"] == pytest.approx(100.0) and rows["0_tiny_bart_full"]["speed_x"] == 1.0
    # each model against its own full run, whatever backend was asked for
    assert rows["3_tiny_t5_qlora"]["state_pct"] == pytest.approx(25.0)
    assert rows["3_tiny_t5_qlora"]["speed_x"] == pytest.approx(0.5)
    assert rows["3_tiny_t5_qlora"]["baseline"] == "2_tiny_t5_full"
    assert rows["4_tiny_llama_full"]["status"] == "failed" and pd.isna(rows["4_tiny_llama_full"]["state_pct"])
    assert rows["5_tiny_llama_lora"]["status"] == "process gone"  # a `running` record no live process holds
    unknown = rows["10_tiny_gpt2_lora"]
    assert (unknown["status"], unknown["model"], unknown["backend_requested"]) == ("unknown", "tiny_gpt2", "lora")


def test_delta_is_paired_over_the_same_examples_with_its_interval(sweep):
    rows = by_run(write_report([sweep], sweep))
    lora = rows["1_tiny_bart_lora"]
    assert lora["delta"] == pytest.approx(5.0) and lora["delta_lo"] == pytest.approx(5.0) and lora["delta_significant"]
    own = rows["0_tiny_bart_full"]  # its own baseline: not a comparison, so no Δ and no p-value to adjust
    assert own["baseline"] == "0_tiny_bart_full" and pd.isna(own["delta"]) and pd.isna(own["delta_p"])
    assert pd.isna(rows["3_tiny_t5_qlora"]["delta"])
    assert rows["3_tiny_t5_qlora"]["delta_note"] == "no per-example ROUGE in dev_predictions.csv"


def test_a_delta_across_different_dev_sets_is_refused(tmp_path):
    make_run(tmp_path, "0_a_full", completed("a", "full"), examples=dev_predictions(BASE))
    other = dev_predictions(BASE + 5, references=[f"another reference {i}" for i in range(len(BASE))])
    make_run(tmp_path, "1_a_lora", completed("a", "lora"), examples=other)
    row = by_run(write_report([tmp_path], tmp_path))["1_a_lora"]
    not_paired = "no dev example in common with its baseline (another dev set): not paired"
    assert pd.isna(row["delta"]) and row["delta_note"] == not_paired
    text = (tmp_path / "report.md").read_text()
    line = next(r for r in text.splitlines() if r.startswith("| 1_a_lora"))
    assert "| n/a |" in line and not_paired in text


def test_a_baseline_on_the_same_dev_set_is_preferred(tmp_path):
    make_run(tmp_path, "0_a_full", completed("a", "full"), examples=dev_predictions(BASE[:10]))
    make_run(tmp_path, "1_a_full", completed("a", "full"), examples=dev_predictions(BASE))
    make_run(tmp_path, "2_a_lora", completed("a", "lora"), examples=dev_predictions(BASE - 1))
    assert by_run(write_report([tmp_path], tmp_path))["2_a_lora"]["baseline"] == "1_a_full"


def test_memory_and_speed_never_mix_kinds_devices_or_families(tmp_path):
    gpu = {"device": "cuda:NVIDIA H200", "memory_train_peak_mb": 900.0}
    make_run(tmp_path, "0_a_full", completed("a", "full"))
    make_run(tmp_path, "1_a_lora", completed("a", "lora", **gpu))  # a GPU run against a CPU baseline
    make_run(tmp_path, "2_b_full", completed("b", "full", **gpu))
    make_run(tmp_path, "3_b_lora", completed("b", "lora", **{**gpu, "memory_train_peak_mb": 450.0}))
    make_run(tmp_path, "4_c_full", completed("c", "full", memory_model_state_bytes=None, rss_mb=None))  # not recorded
    make_run(tmp_path, "5_c_lora", completed("c", "lora", family="causal"))
    rows = by_run(write_report([tmp_path], tmp_path))
    assert pd.isna(rows["1_a_lora"]["state_pct"]) and pd.isna(rows["1_a_lora"]["peak_pct"])
    assert "baseline ran on cpu" in rows["1_a_lora"]["memory_note"]
    assert pd.isna(rows["1_a_lora"]["speed_x"]) and "device" in rows["1_a_lora"]["speed_note"]
    # on a GPU the training peak is CUDA's; the model state is still the counted one, beside it
    assert rows["3_b_lora"]["peak_pct"] == pytest.approx(50.0) and rows["3_b_lora"]["peak_kind"] == "CUDA peak"
    assert rows["3_b_lora"]["state_pct"] == pytest.approx(100.0)
    assert pd.isna(rows["5_c_lora"]["state_pct"]) and pd.isna(rows["5_c_lora"]["peak_pct"])
    assert rows["5_c_lora"]["memory_note"] == "n/a: model state and RSS added not recorded"
    assert (
        pd.isna(rows["5_c_lora"]["speed_x"]) and "family causal vs baseline's seq2seq" in rows["5_c_lora"]["speed_note"]
    )
    text = (tmp_path / "report.md").read_text()
    assert "| 100% | 50% (CUDA peak) |" in text and "n/a: baseline ran on cpu, this on cuda:NVIDIA H200" in text
    assert "; baseline ran on cpu, this on cuda:NVIDIA H200 (1×);" in text and "n/a: n/a" not in text


def test_missing_trained_tokens_is_na_not_another_unit(tmp_path):
    make_run(
        tmp_path, "0_a_full", completed("a", "full", train_trained_tokens_per_second=None, train_samples_per_second=8.0)
    )
    make_run(
        tmp_path,
        "1_a_lora",
        completed("a", "lora", train_trained_tokens_per_second=None, train_samples_per_second=12.0),
    )
    row = by_run(write_report([tmp_path], tmp_path))["1_a_lora"]
    assert pd.isna(row["speed_x"]) and row["speed_note"] == "n/a: trained tokens/s not recorded"


def test_a_ratio_of_separate_runs_carries_both_runs_step_time_spread(tmp_path):
    steps = {"full": (0.8, 1.0, 1.2), "lora": (0.4, 0.5, 0.8)}  # p10, median, p90 seconds of each run's steps
    for i, (backend, (p10, median, p90)) in enumerate(steps.items()):
        quantiles = {"train_step_seconds_p10": p10, "train_step_seconds_median": median, "train_step_seconds_p90": p90}
        make_run(tmp_path, f"{i}_a_{backend}", completed("a", backend, tokens=100.0 * (i + 1), **quantiles))
    make_run(tmp_path, "2_b_full", completed("b", "full"))  # a record from before the step times were kept
    make_run(tmp_path, "3_b_lora", completed("b", "lora", tokens=50.0))
    rows = by_run(write_report([tmp_path], tmp_path))
    lora = rows["1_a_lora"]
    # 2.00x; at lora's slow steps against full's fast ones 2 * (0.5 / 0.8) * (0.8 / 1.0) = 1.0, the reverse
    # 2 * (0.5 / 0.4) * (1.2 / 1.0) = 3.0
    assert lora["speed_x"] == pytest.approx(2.0) and lora["speed_source"] == "separate runs"
    assert (lora["speed_spread_lo"], lora["speed_spread_hi"]) == (pytest.approx(1.0), pytest.approx(3.0))
    assert pd.isna(lora["speed_x_lo"])  # the spread is not a confidence interval, and is not stored as one
    assert "10th and 90th percentile step times" in lora["speed_note"]
    assert (
        pd.isna(rows["3_b_lora"]["speed_spread_lo"])
        and "step-time spread is not recorded" in rows["3_b_lora"]["speed_note"]
    )
    text = (tmp_path / "report.md").read_text()
    assert "| 2.00× [1.00, 3.00] separate runs |" in next(r for r in text.splitlines() if r.startswith("| 1_a_lora"))
    assert "| 0.50× separate runs |" in next(r for r in text.splitlines() if r.startswith("| 3_b_lora"))
    backends = next(r for r in text.splitlines() if r.startswith("| a | lora |"))
    assert "| 2.00× [1.00, 3.00] | separate runs, p10–p90 step times |" in backends, backends


def test_a_ratio_measured_on_a_loaded_machine_is_marked(tmp_path):
    make_run(tmp_path, "0_a_full", completed("a", "full"))
    make_run(tmp_path, "1_a_lora", completed("a", "lora", tokens=200.0, train_load_average=7.5, cpu_count=2))
    row = by_run(write_report([tmp_path], tmp_path))["1_a_lora"]
    assert (
        row["speed_x"] == pytest.approx(2.0) and row["speed_loaded"] and "loaded machine (1_a_lora" in row["speed_note"]
    )
    line = next(r for r in (tmp_path / "report.md").read_text().splitlines() if r.startswith("| 1_a_lora"))
    assert "2.00× separate runs loaded" in line


def test_seed_groups_give_mean_sd_and_delta_paired_by_seed(tmp_path):
    for i, (seed, full, lora) in enumerate([(1, 0.0, 2.0), (2, 1.0, 4.0), (3, -1.0, 0.0)]):
        make_run(
            tmp_path,
            f"{2 * i}_full_s{seed}",
            completed("a", "full", seed=seed, dev_rouge_mean=30 + full),
            config=config(backend="full", seed=seed),
            examples=dev_predictions(BASE + full),
        )
        make_run(
            tmp_path,
            f"{2 * i + 1}_lora_s{seed}",
            completed("a", "lora", seed=seed, dev_rouge_mean=30 + lora, tokens=100.0 * (1 + seed)),
            config=config(backend="lora", seed=seed),
            examples=dev_predictions(BASE + lora),
        )
    table = write_report([tmp_path], tmp_path)
    rows = by_run(table)
    assert [rows[f"{2 * i + 1}_lora_s{s}"]["baseline"] for i, s in enumerate((1, 2, 3))] == [
        "0_full_s1",
        "2_full_s2",
        "4_full_s3",
    ]
    assert {rows[r]["group"] for r in rows if "lora" in r} == {"S2"} and {
        rows[r]["group"] for r in rows if "full" in r
    } == {"S1"}
    text = (tmp_path / "report.md").read_text()
    # lora: ROUGE 32, 34, 30 -> 32 ± 2; Δ by seed 2, 3, 1 -> 2 ± 1; speed 2, 3, 4 -> 3 ± 1
    assert "| S2 | a | lora | 1, 2, 3 | 3 | 32.00 ± 2.00 | +2.00 ± 1.00 (3) | 3.00 ± 1.00 |" in text
    # full, the baseline: its own seed-to-seed spread, not a Δ of +0.00 ± 0.00 against itself
    assert "| S1 | a | full | 1, 2, 3 | 3 | 30.00 ± 1.00 | baseline | baseline |" in text


def test_configs_that_differ_in_more_than_the_seed_are_not_grouped(tmp_path):
    make_run(tmp_path, "0_a", completed("a", "lora", seed=1), config=config(backend="lora", seed=1))
    make_run(tmp_path, "1_a", completed("a", "lora", seed=2), config=config(backend="lora", seed=2, optim={"lr": 0.01}))
    assert list(write_report([tmp_path], tmp_path)["group"].isna()) == [True, True]


def test_markdown_opens_with_how_to_read_it(sweep, capsys):
    write_report([sweep], sweep)
    text = (sweep / "report.md").read_text()
    assert text.split("\n\n")[2] == "## Backends per model"  # the per-backend table comes first
    guide = next(part for part in text.split("\n\n") if part.startswith("**How to read this report.**"))
    assert "Here 1 of 1 Δs are significant (`1_tiny_bart_lora`)" in guide
    assert "Model state % compares the memory counted from the tensors" in guide and "Devices: cpu (4 runs)" in guide
    assert "Training peak % compares what was measured over the training steps: RSS added" in guide
    assert "report.csv gives both in MiB" in guide
    assert "Not comparable, so shown as n/a: no per-example ROUGE in dev_predictions.csv (1×)" in guide
    line = next(row for row in text.splitlines() if row.startswith("| 1_tiny_bart_lora"))
    assert "+5.00 [+5.00, +5.00] p=5e-05 significant" in line and "| 40% | 90% (RSS added) |" in line
    assert "1.50× separate runs" in line
    assert "| 20% |" in line  # trainable share
    line = next(row for row in text.splitlines() if row.startswith("| 3_tiny_t5_qlora"))
    assert "qlora → lora" in line and "| 25% | 100% (RSS added) |" in line and "0.50×" in line and "30.00" in line
    failed = next(row for row in text.splitlines() if row.startswith("| 4_tiny_llama_full"))
    assert "failed: optim.precision=fp8" in failed
    assert "- `4_tiny_llama_full` (failed): optim.precision=fp8: not a precision; use auto" in text
    assert "4 completed" in text and "1 failed" in text and "1 process gone" in text and "1 unknown" in text
    printed = capsys.readouterr().out
    assert "| 1_tiny_bart_lora |" in printed and "report of 7 run(s)" in printed


def test_an_insignificant_delta_says_so(tmp_path):
    noise = np.tile([3.0, -3.0], len(BASE) // 2)
    make_run(tmp_path, "0_a_full", completed("a", "full"), examples=dev_predictions(BASE))
    make_run(tmp_path, "1_a_lora", completed("a", "lora"), examples=dev_predictions(BASE + noise + 0.1))
    row = by_run(write_report([tmp_path], tmp_path))["1_a_lora"]
    assert row["delta_lo"] < 0 < row["delta_hi"] and not row["delta_significant"]
    assert "not significant" in (tmp_path / "report.md").read_text()


def test_csv_png_and_html_are_written(sweep):
    write_report([sweep], sweep)
    table = pd.read_csv(sweep / "report.csv")
    assert len(table) == 7 and {
        "rouge_mean",
        "rouge_mean_lo",
        "delta",
        "delta_lo",
        "state_mib",
        "state_pct",
        "peak_kind",
        "peak_mib",
        "peak_pct",
        "speed_x",
        "group",
        "error",
        "run_dir",
    } <= set(table.columns)
    full = table.set_index("run").loc["0_tiny_bart_full"]
    # the unit the columns name: MiB, 2**20 bytes, as sumexp.results.memory records the peaks
    assert full["state_mib"] == pytest.approx(1000.0) and full["peak_mib"] == pytest.approx(500.0)
    import matplotlib.image

    for name in ("report.png", "report_backends.png"):
        assert (sweep / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        height, width, _ = matplotlib.image.imread(sweep / name).shape
        assert width > height > 300, name  # panels side by side
    page = (sweep / "report.html").read_text()
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert page.count('<tr data-run="') == 7 and page.count("data:image/png;base64,") == 2
    assert '<table id="backends">' in page and "<td>tiny_bart</td><td>lora</td>" in page


def test_baseline_backend_can_be_chosen(sweep, tmp_path):
    rows = by_run(write_report([sweep], tmp_path / "out", baseline="lora"))
    assert rows["0_tiny_bart_full"]["state_pct"] == pytest.approx(250.0)
    assert rows["0_tiny_bart_full"]["speed_x"] == pytest.approx(100 / 150)
    assert rows["0_tiny_bart_full"]["delta"] == pytest.approx(-5.0)
    assert rows["3_tiny_t5_qlora"]["state_pct"] == pytest.approx(100.0)  # effective lora is its own baseline
    assert (tmp_path / "out" / "report.md").is_file() and not (sweep / "report.md").exists()


def test_several_folders_and_single_run_folders(sweep, tmp_path):
    single = make_run(tmp_path / "outputs", "12-00-00_tiny_bart_lora", completed("tiny_bart", "lora", state_mb=500))
    assert find_run_dirs(single) == [single]
    rows = by_run(write_report([sweep, single], tmp_path / "both"))
    assert len(rows) == 8 and rows["12-00-00_tiny_bart_lora"]["state_pct"] == pytest.approx(50.0)


def test_a_sweep_with_nothing_finished_still_reports(tmp_path):
    make_run(tmp_path, "0_tiny_bart_full", {"status": "running", "model": "tiny_bart", "backend_requested": "full"})
    table = write_report([tmp_path], tmp_path)
    assert list(table["status"]) == ["process gone"] and (tmp_path / "report.png").is_file()
    assert (tmp_path / "report.html").is_file()


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert report_main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sumexp: error:") and "folder not found" in err[0]
    (tmp_path / "empty").mkdir()
    assert report_main([str(tmp_path / "empty")]) == 2
    assert "no run folders found" in capsys.readouterr().err


def test_the_viewer_loads_dialogues_from_each_runs_data_most_disputed_first(tmp_path):
    import json
    import re

    from sumexp.data.sample import make_sample_splits

    fnames = ["dev_0", "dev_1", "dev_2"]
    make_run(
        tmp_path, "0_a_full", completed("a", "full"), config=config(), examples=dev_predictions([50, 50, 50], fnames)
    )
    make_run(
        tmp_path,
        "1_a_lora",
        completed("a", "lora"),
        config=config(backend="lora"),
        examples=dev_predictions([49, 10, 60], fnames),
    )
    missing = config(data={"name": "csv", "source": "files", "dir": str(tmp_path / "gone")})
    make_run(
        tmp_path,
        "2_b_full",
        completed("b", "full"),
        config=missing,
        examples=dev_predictions([1.0], ["other_0"], references=["x"]),
    )
    write_report([tmp_path], tmp_path)
    page = (tmp_path / "report.html").read_text()
    data = json.loads(re.search(r'id="viewer-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
    assert [d["fname"] for d in data["dialogues"]] == ["dev_1", "dev_2", "dev_0", "other_0"]  # spread 40, 10, 1, 0
    dev = make_sample_splits()["dev"].set_index("fname")
    assert data["dialogues"][0]["dialogue"] == dev.loc["dev_1", "dialogue"]
    assert [o[0] for o in data["dialogues"][0]["outputs"]] == [0, 1] and data["dialogues"][0]["outputs"][1][-1] == 10
    assert data["dialogues"][3]["dialogue"] is None and len(data["notes"]) == 1
    assert data["notes"][0].startswith("data csv: dev dialogues not loaded (") and "gone" in data["notes"][0]


def test_the_backends_table_comes_first_and_is_written_as_csv_and_booktabs(tmp_path):
    for seed, lora_shift in ((1, 2.0), (2, 4.0)):
        make_run(
            tmp_path,
            f"full_s{seed}",
            completed("a", "full", seed=seed, dev_rouge_mean=40.0),
            config=config("a", seed=seed),
            examples=dev_predictions(BASE),
        )
        lora = config("a", backend="lora", seed=seed)
        lora["optim"]["lr"] = 0.01
        make_run(
            tmp_path, f"lora_s{seed}",
            completed("a", "lora", seed=seed, state_mb=250, tokens=100.0 * seed, rss_mb=270.0 - 30 * seed),
            config=lora, examples=dev_predictions(BASE + lora_shift),
        )  # fmt: skip
    assert report_main([str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    assert text.index("## Backends per model") < text.index("**How to read this report.**")
    row = next(line for line in text.splitlines() if line.startswith("| a | lora | 1, 2 |"))
    # model state 25%; the RSS the steps added 80% and 70% of the baseline's 300 MiB -> 75%; speed 1x and 2x
    # -> 1.50x [1.00, 2.00], the range over seeds of separate runs; Δ +2, +4 -> +3.00 [+2.00, +4.00] = +7.5% of
    # the baselines' dev ROUGE mean (40); each seed's Δ significant after Holm over the 2 comparisons
    assert (
        "| 25% | 75% (RSS added) | 1.50× [1.00, 2.00] | separate runs, range over seeds | +3.00 [+2.00, +4.00] | "
        "+7.5% [+5.0%, +10.0%] | 2 of 2 |"
    ) in row, row
    assert row.endswith("| optim.lr 0.001 → 0.01 |")
    csv = pd.read_csv(tmp_path / "report_backends.csv")
    lora_row = csv[csv["backend"] == "lora"].iloc[0]
    assert lora_row["delta"] == pytest.approx(3.0) and lora_row["delta_interval_hi"] == pytest.approx(4.0)
    tex = (tmp_path / "report_backends.tex").read_text()
    assert tex.startswith(r"\begin{tabular}") and r"\toprule" in tex and r"\bottomrule" in tex
    assert r"1.50$\times$ [1.00, 2.00]" in tex and r"+3.00 [+2.00, +4.00]" in tex
