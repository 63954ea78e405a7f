"""Security through the CLI: no secret in a run or sweep folder, and no write outside it whatever the data's ids
or the model's name say."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sumexp.data.sample import write_sample
from sumexp.run.record import config_hash
from sumexp.security.secrets import REDACTED
from tests.support.cli import sumexp_cli
from tests.support.security import ENV_SET_FAKE, FAKE_ENV, FAKE_OVERRIDES, FAKES, PICKLE_SUFFIXES


def assert_no_secret_in(folder: Path) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for fake in FAKES:
            assert fake.encode() not in data, f"{fake} in {path}"
    return files


@pytest.mark.slow
def test_secrets_never_reach_a_finished_run_folder_and_ids_never_become_paths(tmp_path):
    """A real run with fake tokens in the environment and on the command line, and path-like ids."""
    data = tmp_path / "data"
    write_sample(data)
    escaping = ["../../x", "../../../escaped.csv", "/tmp/sumexp_abs_x", "..\\..\\win"]
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        frame = pd.read_csv(data / f"{split}.csv", dtype=str, keep_default_na=False).head(n)
        if split != "train":
            frame["fname"] = escaping
        frame.to_csv(data / f"{split}.csv", index=False)
    outside_before = sorted(p for p in tmp_path.rglob("*") if "run" not in p.relative_to(tmp_path).parts)
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run",
        "data=csv",
        f"data.dir={data}",
        "optim.max_steps=2",
        "optim.batch_size=8",
        "optim.eval_on_start=false",
        "generation.num_beams=1",
        "generation.max_new_tokens=4",
        "score.tokenizer=whitespace",
        *(f"{key}={value}" for key, value in FAKE_OVERRIDES.items()),
        env=FAKE_ENV,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "run"
    files = assert_no_secret_in(run_dir)
    for fake in FAKES:
        assert fake not in run.stdout + run.stderr
    assert {
        ".hydra/config.yaml",
        ".hydra/hydra.yaml",
        ".hydra/overrides.yaml",
        "metrics.json",
        "sumexp.log",
        "model/model.safetensors",
        "submission.csv",
    } <= {str(p.relative_to(run_dir)) for p in files}
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    # Redacted, not dropped: the keys are still on record, and the YAML still loads.
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert saved["hf_token"] == REDACTED and saved["wandb"] == {"api_key": REDACTED}
    assert f"+hf_token={REDACTED}" in yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    # The ids are data: written into the CSVs as they are, never used as a path.
    assert pd.read_csv(run_dir / "submission.csv")["fname"].tolist() == escaping
    assert sorted(p for p in tmp_path.rglob("*") if "run" not in p.relative_to(tmp_path).parts) == outside_before
    assert not Path("/tmp/sumexp_abs_x").exists() and not (run_dir / "../../x").resolve().exists()


@pytest.mark.slow
def test_secrets_never_reach_a_sweep_folder(tmp_path, compose_config):
    """-m: multirun.yaml and each job's .hydra, written before the jobs run, are redacted too; each job still
    gets the secrets."""
    run = sumexp_cli(
        "-m",
        f"hydra.sweep.dir={tmp_path}/sweep",
        "optim.lr=0",
        "optim.batch_size=1,2",
        f"+hydra.job.env_set.HUB_ACCESS_TOKEN={ENV_SET_FAKE}",
        *(f"{key}={value}" for key, value in FAKE_OVERRIDES.items()),
        env=FAKE_ENV,
    )
    assert run.returncode != 0  # optim.lr=0 stops each job: only the files written before matter here
    files = assert_no_secret_in(tmp_path / "sweep")
    names = {p.name for p in files}
    assert {"multirun.yaml", "config.yaml", "hydra.yaml", "overrides.yaml"} <= names
    assert f"+hf_token={REDACTED}" in (tmp_path / "sweep" / "multirun.yaml").read_text()
    # The job ran with the real values: its record's fingerprint is that of the config that holds them.
    given = compose_config(["optim.lr=0", "optim.batch_size=1", *(f"{k}={v}" for k, v in FAKE_OVERRIDES.items())])
    job_record = json.loads(next((tmp_path / "sweep").glob("0_*/metrics.json")).read_text())
    assert job_record["config_hash"] == config_hash(given)


def test_a_swept_secret_is_refused_before_hydra_reads_it(tmp_path):
    """A secret is one value for every job: `+hf_token=a,b` would write each into a job's folder name and files."""
    from tests.support.cli import OFFLINE, expect_one_line_error
    from tests.support.in_process import run_module
    from tests.support.repo import REPO

    swept = ["-m", f"hydra.sweep.dir={tmp_path}/sweep", "+hf_token=hf_FakeSweptToken1111,hf_FakeSweptToken2222"]
    run = run_module("sumexp", swept, env=OFFLINE, cwd=REPO)
    expect_one_line_error(run, "hf_token: a secret cannot be swept")
    assert "FakeSwept" not in run.stderr + run.stdout and not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_model_name_cannot_place_the_run_folder_outside_outputs(tmp_path):
    """Hydra makes the run folder from model.name before any check can run: the name is made safe."""
    import shutil
    import uuid

    from sumexp.schema import path_part
    from tests.support.cli import REPO_ROOT_ENV, sumexp_cli

    assert path_part("../../x") == "_.._x" and path_part("..") == "_" and path_part("kobart_summ") == "kobart_summ"
    escape = f"/tmp/sumexp_escape_{uuid.uuid4().hex}"
    outputs = REPO_ROOT_ENV["cwd"] / "outputs"
    before = set(outputs.rglob("*")) if outputs.exists() else set()
    run = sumexp_cli(f"model.name=../../../../../../..{escape}", "data=dialogsum_ko", f"data.dir={tmp_path}/none")
    assert run.returncode == 2, run.stderr[-2000:]
    made = [p for p in set(outputs.rglob("metrics.json")) - before]
    try:
        assert not Path(escape).exists()
        assert len(made) == 1 and made[0].parent.parent.parent == outputs
        assert "sumexp_escape_" in made[0].parent.name and "/" not in made[0].parent.name
    finally:
        for metrics in made:
            shutil.rmtree(metrics.parent)


@pytest.mark.slow
def test_pickle_checkpoint_through_the_cli_is_one_line(tiny_checkpoints, tmp_path):
    write_sample(tmp_path / "data")
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run",
        "model=bart_base",
        f"model.checkpoint={tiny_checkpoints['pickled']}",
        "model.max_source_length=256",
        "model.max_target_length=64",
        "data=csv",
        f"data.dir={tmp_path}/data",
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error:")]
    assert "only pickle (.bin)" in line and "model.allow_pickle=true" in line
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_cells_a_spreadsheet_would_run_are_quoted_for_people_and_kept_for_the_grader(tmp_path):
    """fnames and summaries that begin with =, +, - or @: dev_predictions.csv (opened by people) marks them as text
    with a leading quote, which the scorer and the report remove again; submission.csv (read by a grader) keeps
    every id as given, and the run warns on the terminal and in its record."""
    import csv

    from sumexp.report.examples import read_dev_examples
    from sumexp.score.cli import load_predictions, load_references
    from tests.support.cli import QUICK_NO_CHECKPOINT, assert_outputs_rescore_to_the_metrics

    data = tmp_path / "data"
    write_sample(data)
    dev_ids = ['=HYPERLINK("http://example.com/x","x")', "+dev_1", "-dev_2", "@dev_3"]
    dev_summaries = ["=1+1 요약입니다", "'quoted already", "-bullet 요약", "@mention 요약"]
    test_ids = ["=cmd|' /C calc'!A0", "+test_1", "-test_2", "test_3"]
    for split, ids in (("train", None), ("dev", dev_ids), ("test", test_ids)):
        frame = pd.read_csv(data / f"{split}.csv", dtype=str, keep_default_na=False).head(16 if ids is None else 4)
        if ids is not None:
            frame["fname"] = ids
        if split == "dev":
            frame["summary"] = dev_summaries
        frame.to_csv(data / f"{split}.csv", index=False)
    run_dir = tmp_path / "run"
    run = sumexp_cli(f"hydra.run.dir={run_dir}", "data=csv", f"data.dir={data}", *QUICK_NO_CHECKPOINT)
    assert run.returncode == 0, run.stderr[-3000:]

    assert pd.read_csv(run_dir / "submission.csv", dtype=str)["fname"].tolist() == test_ids  # as given
    [warning] = [line for line in (run.stdout + run.stderr).splitlines() if "submission.csv: " in line]
    assert "3 cell(s) begin with =, +, - or @" in warning
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert any("submission.csv: 3 cell(s)" in note for note in metrics["data"]["notes"])

    with open(run_dir / "dev_predictions.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    text_cells = [row[column] for row in rows for column in ("fname", "prediction", "summary")]
    assert not [cell for cell in text_cells if cell.startswith(("=", "+", "-", "@"))]
    assert [row["fname"] for row in rows] == [f"'{fname}" for fname in dev_ids]
    assert rows[1]["summary"] == "''quoted already"  # a quote of its own is doubled, so reading gives it back

    path = str(run_dir / "dev_predictions.csv")
    assert list(load_predictions(path, None)) == dev_ids
    assert load_references(path, None)[:2] == (dev_ids, [[summary] for summary in dev_summaries])
    examples = read_dev_examples(run_dir)
    assert examples.fnames == dev_ids and examples.references == [[summary] for summary in dev_summaries]
    assert_outputs_rescore_to_the_metrics(run_dir, metrics, "whitespace")
