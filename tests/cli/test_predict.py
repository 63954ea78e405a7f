"""`python -m sumexp.predict`: a finished run's model, full or adapter, reproduces its own submission."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sumexp import predict
from sumexp.data.sample import write_sample
from tests.support.limits import hang_limit
from tests.support.repo import REPO
from tests.support.runs import finished_run

# Enough training (40 steps) that summaries differ from row to row (at least 5 of 50), so reproducing them
# means something; with 12 steps every row got the same summary and the check counted fnames instead.
LEARNING_RUN = [
    "data.max_train_samples=96",
    "data.max_eval_samples=8",
    "optim.max_steps=40",
    "optim.batch_size=8",
    "optim.lr=1e-2",
    "optim.eval_steps=40",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=12",
    "score.tokenizer=whitespace",
]


def distinct_summaries(path: Path) -> int:
    """How many different summaries a submission holds (its fname column aside)."""
    return pd.read_csv(path, keep_default_na=False)["summary"].nunique()


@pytest.fixture(scope="module")
def lora_run(compose_config, tmp_path_factory):
    return finished_run(
        compose_config, tmp_path_factory.mktemp("lora"), "model=tiny_llama", "backend=lora", *LEARNING_RUN
    )


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    write_sample(folder)
    return folder


@pytest.mark.slow
def test_predict_reproduces_a_lora_runs_submission(lora_run, sample_dir, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sumexp.predict",
            str(lora_run),
            "--input",
            str(sample_dir / "test.csv"),
            "--output",
            str(tmp_path / "again.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=hang_limit(300),
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    submission = (lora_run / "submission.csv").read_text()
    assert (tmp_path / "again.csv").read_text() == submission  # byte for byte
    assert distinct_summaries(lora_run / "submission.csv") >= 5  # varied: reproducing them is not trivial
    assert not (lora_run / "model" / "config.json").exists()  # model/ holds the adapter, not a full copy


@pytest.mark.slow  # lora_run trains a model
def test_the_adapter_matters_to_what_predict_writes(lora_run, sample_dir, tmp_path):
    """Without the trained adapter the same base writes other summaries: predict really loaded it."""
    from sumexp.backends.adapters import base_config
    from sumexp.backends.lora import LoRA

    cfg, _ = predict.read_run(lora_run)
    tokenizer = predict._tokenizer(lora_run / "model")
    backend = LoRA("lora", lora=cfg.backend.lora)
    folder = str(lora_run / "model" / "base")
    base = backend.load_base(cfg, tokenizer, base_config(cfg, tokenizer, folder), folder)
    dialogues = list(pd.read_csv(sample_dir / "test.csv")["dialogue"][:8])
    trained = predict.summarize(cfg, backend.load_trained(cfg, tokenizer, lora_run / "model"), tokenizer, dialogues)
    assert predict.summarize(cfg, base, tokenizer, dialogues) != trained


@pytest.mark.slow  # lora_run trains a model
def test_merge_writes_a_plain_model_that_computes_what_the_adapter_does(lora_run):
    import torch
    from transformers import AutoModelForCausalLM

    assert predict.main([str(lora_run), "--merge"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(lora_run / "model_merged")
    cfg, _ = predict.read_run(lora_run)
    tokenizer = predict._tokenizer(lora_run / "model")
    from sumexp.backends.lora import LoRA

    adapted = LoRA("lora", lora=cfg.backend.lora).load_trained(cfg, tokenizer, lora_run / "model").eval()
    ids = tokenizer("#Person1#: 내일 회의는 몇 시예요?\n#Person2#: 세 시요.", return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(merged.eval()(**ids).logits, adapted(**ids).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_predict_reproduces_a_full_runs_submission_and_never_uses_fname_as_a_path(compose_config, sample_dir, tmp_path):
    run = finished_run(
        compose_config, tmp_path / "run", "model=tiny_llama", "backend=full", *LEARNING_RUN, "optim.lr=1e-3"
    )
    assert (
        predict.main([str(run), "--input", str(sample_dir / "test.csv"), "--output", str(tmp_path / "again.csv")]) == 0
    )
    submission = (run / "submission.csv").read_text()
    assert (tmp_path / "again.csv").read_text() == submission and distinct_summaries(run / "submission.csv") >= 5
    hostile = pd.DataFrame({"fname": ["../../escape", "/tmp/x,y"], "dialogue": ["#Person1#: 안녕.", "#Person2#: 네."]})
    hostile.to_csv(tmp_path / "hostile.csv", index=False)
    assert predict.main([str(run), "--input", str(tmp_path / "hostile.csv")]) == 0
    written = pd.read_csv(run / "predict_hostile.csv", keep_default_na=False)
    assert list(written.columns) == ["fname", "summary"] and list(written["fname"]) == list(hostile["fname"])
    assert not (tmp_path.parent / "escape").exists() and not Path("/tmp/x,y").exists()


@pytest.mark.slow  # lora_run trains a model
def test_errors_are_one_line_and_exit_2(lora_run, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("id,text\n1,hello\n")
    (tmp_path / "empty_run" / ".hydra").mkdir(parents=True)
    os.mkfifo(tmp_path / "pipe.csv")  # read as it is, it would wait for a writer for ever
    cases = [
        ([str(tmp_path / "missing"), "--input", "x.csv"], "run folder not found"),
        ([str(tmp_path / "empty_run"), "--input", "x.csv"], "no .hydra/config.yaml"),
        ([str(lora_run), "--input", str(tmp_path / "bad.csv")], "missing column(s) fname, dialogue"),
        ([str(lora_run), "--input", str(tmp_path / "nope.csv")], "file not found"),
        ([str(lora_run)], "--input: no input file"),
        ([str(lora_run), "--input", str(tmp_path / "pipe.csv")], "is a named pipe (FIFO), not a regular file"),
        ([str(lora_run), "--input", str(tmp_path / "bad.csv"), "--max-file-mb", "1e-6"], "raise --max-file-mb"),
    ]
    for argv, fragment in cases:
        assert predict.main(argv) == 2, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sumexp: error:") and fragment in lines[0], (argv, lines)


@pytest.mark.slow
def test_a_run_without_a_model_is_a_one_line_error_from_the_cli(lora_run, tmp_path):
    broken = tmp_path / "broken"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "config.yaml").write_text((lora_run / ".hydra" / "config.yaml").read_text())
    (broken / "metrics.json").write_text((lora_run / "metrics.json").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "sumexp.predict", str(broken), "--input", "x.csv"],
        capture_output=True,
        text=True,
        timeout=hang_limit(120),
        cwd=REPO,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"sumexp: error: {broken}: no model in model/ "
        f"(neither config.json nor adapter_config.json); the run folder is incomplete"
    ]


def damage(model_dir: Path, how: str) -> None:
    """One way a copied or tampered model/ goes wrong."""
    import json
    import struct

    weights = sorted(model_dir.glob("*.safetensors"))[0]
    raw = weights.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    if how.startswith("pickle only"):
        weights.rename(weights.with_suffix(how.split("(")[1].rstrip(")")))
    elif how == "offsets that lie":
        header = json.loads(raw[8 : 8 + size])
        name = next(key for key in header if key != "__metadata__")
        header[name]["data_offsets"] = [0, 10**12]
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        weights.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])
    elif how == "a 2**62 header length":
        weights.write_bytes(struct.pack("<Q", 2**62) + raw[8:])
    else:  # a cut-off tokenizer.json
        tokenizer = model_dir / "tokenizer.json"
        tokenizer.write_text(tokenizer.read_text(encoding="utf-8")[:1000], encoding="utf-8")


@pytest.mark.slow  # lora_run trains a model
@pytest.mark.parametrize(
    "how",
    ["pickle only (.bin)", "pickle only (.pt)", "offsets that lie", "a 2**62 header length", "a cut-off tokenizer"],
)
def test_a_damaged_model_folder_is_one_line_naming_it(how, lora_run, sample_dir, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    damage(run / "model", how)
    assert predict.main([str(run), "--input", str(sample_dir / "test.csv"), "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    [line] = [text for text in err.splitlines() if text.startswith("sumexp: error:")]
    assert f"{run / 'model'}:" in line and "Traceback" not in err, err[-2000:]
    assert (
        how.replace("pickle only", "only pickle") if how.startswith("pickle") else "damaged or incomplete"
    ) in line, line
    assert not (tmp_path / "o.csv").exists()
