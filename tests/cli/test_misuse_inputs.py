"""Misuse that used to end in a traceback, a silent no-op run or a leak, through the CLI where the user
meets it: each is one line on stderr and exit 2, or the run completes and says what it repaired."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sumexp.data.sample import write_sample
from tests.support.cli import (
    REPO_ROOT_ENV,
    expect_one_line_error,
    sumexp_cli,
)
from tests.support.inputs import (
    HEADER,
    KOREAN_ROW,
    Case,
    assert_case_is_one_line_with_the_fix,
    assert_failed_run_folder,
    rewrite,
)
from tests.support.limits import hang_limit

LONG_NAME = "m" * 300
UNQUOTED_LINE_BREAK = (
    HEADER + "d1,#Person1#: 안녕하세요.\n#Person2#: 네 반가워요.,두 사람이 인사한다.\nd2,#Person1#: 네.,답한다.\n"
)

MISUSE = [
    Case("negative seed", ["seed=-1"], ["seed=-1: must be between 0 and 4294967295", "seed=42"]),
    Case("seed above 32 bits", ["seed=4294967296"], ["seed=4294967296: must be between 0 and 4294967295"]),
    Case(
        "infinite epochs",
        ["optim.epochs=inf"],
        ["optim.epochs=inf: must be a finite number of epochs", "optim.max_steps"],
    ),
    Case("zero logging steps", ["optim.logging_steps=0"], ["optim.logging_steps=0: must be at least 1"]),
    Case(
        "negative warm-up",
        ["optim.warmup=-1"],
        ["optim.warmup=-1.0: must be a ratio of the training steps in [0, 1)", "optim.warmup=0.1", "optim.warmup=100"],
    ),
    Case(
        "warm-up that keeps the lr negligible",
        ["optim.epochs=1e9"],
        [
            "optim.warmup=0.1 with optim.epochs=1e+09: the warm-up lasts",
            "the learning rate reaches at most",
            "lower optim.epochs",
            "optim.warmup as a step count",
        ],
    ),
    Case(
        "warm-up longer than a step budget",
        ["optim.max_steps=20", "optim.warmup=5000"],
        ["optim.warmup=5000 with optim.max_steps=20: the warm-up lasts 5000 steps", "optim.warmup=2"],
    ),
    # Siblings: the other numbers of optim and generation that NaN, inf or a sign made into tracebacks or nonsense.
    Case("fractional warm-up steps", ["optim.warmup=2.5"], ["optim.warmup=2.5: must be a ratio"]),
    Case("infinite lr", ["optim.lr=inf"], ["optim.lr=inf: must be above 0 and finite"]),
    Case("zero eval steps", ["optim.eval_steps=0"], ["optim.eval_steps=0: must be at least 1"]),
    Case(
        "negative weight decay",
        ["optim.weight_decay=-0.1"],
        ["optim.weight_decay=-0.1: must be a finite number, 0 or more"],
    ),
    Case("NaN gradient clip", ["optim.max_grad_norm=nan"], ["optim.max_grad_norm=nan: must be a finite number"]),
    Case(
        "negative patience",
        ["optim.early_stopping_patience=-1"],
        ["optim.early_stopping_patience=-1: must be 0 or more"],
    ),
    Case(
        "negative no_repeat_ngram_size",
        ["generation.no_repeat_ngram_size=-2"],
        ["generation.no_repeat_ngram_size=-2: must be 0 (off) or more"],
    ),
    Case(
        "infinite length penalty",
        ["generation.length_penalty=inf"],
        ["generation.length_penalty=inf: must be a finite number"],
    ),
    Case(
        "unknown scheduler",
        ["optim.scheduler=cosinus"],
        ["optim.scheduler=cosinus: not a transformers scheduler", "cosine"],
    ),
    Case(
        "a kwarg the scheduler does not take",
        ["optim.scheduler=cosine", "+optim.scheduler_kwargs.num_cycle=2"],
        ["optim.scheduler_kwargs: num_cycle not taken by the cosine scheduler; it takes num_cycles"],
    ),
    # Files that are another format than their name says.
    Case(
        "tab-separated file named .csv",
        [],
        ["dev.csv: looks tab-separated", "dev.tsv"],
        rewrite("dev.csv", 'fname\tdialogue\tsummary\nd1\t#Person1#: 네, "좋아요\t답한다.\n'),
    ),
    Case(
        "UTF-16 file with a BOM",
        [],
        ["train.csv: is UTF-16", "iconv -f utf-16 -t utf-8", "data.encoding=utf-16"],
        rewrite("train.csv", (HEADER + KOREAN_ROW).encode("utf-16")),
    ),
    Case(
        "column names with spaces",
        [],
        [
            "dev.csv: column(s) ' dialogue', ' summary' have spaces around the name",
            "remove the spaces from the header row",
        ],
        rewrite("dev.csv", "fname, dialogue, summary\nd1,#Person1#: 네.,답한다.\n"),
    ),
    Case(
        "unquoted line breaks in cells",
        [],
        ["train.csv: line 2 has 2 of the header's 3 cells (starts 'd1')", "double quotes"],
        rewrite("train.csv", UNQUOTED_LINE_BREAK),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", MISUSE, ids=[c.name for c in MISUSE])
def test_misuse_is_one_line_with_the_fix(case, tmp_path):
    assert_case_is_one_line_with_the_fix(case, tmp_path)


@pytest.mark.slow
def test_a_model_name_too_long_for_a_folder_is_shortened_there(tmp_path):
    """The run folder is named after the model as the shipped config names it; the run then gets as far as
    its config check (optim.lr=0 stops it quickly), instead of a 'File name too long' traceback."""
    run = sumexp_cli(
        f"hydra.run.dir='{tmp_path}/runs/${{path_part:${{model.name}}}}'", f"model.name={LONG_NAME}", "optim.lr=0"
    )
    expect_one_line_error(run, "optim.lr=0.0: must be above 0")
    [run_dir] = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("m" * 60) and len(run_dir.name) <= 80
    assert_failed_run_folder(run_dir, run.stderr.strip().splitlines()[-1].removeprefix("sumexp: error: "))


def test_long_names_stay_distinct_folders():
    from sumexp.schema import path_part

    first, second = path_part("a" * 300), path_part("a" * 299 + "b")
    assert first != second and len(first.encode()) <= 80 and len(path_part("가" * 300).encode()) <= 80
    assert path_part("tiny_bart") == "tiny_bart"


@pytest.mark.slow
@pytest.mark.parametrize("mode, key", [([], "hydra.run.dir"), (["-m"], "hydra.sweep.dir")])
def test_a_run_folder_that_cannot_be_made_is_one_line(mode, key):
    run = sumexp_cli(*mode, f"{key}=/proc/sumexp_no_such_folder", "optim.lr=1e-4,2e-4" if mode else "optim.lr=1e-4")
    expect_one_line_error(
        run, f"{key}=/proc/sumexp_no_such_folder: cannot create the folder", "pass a folder you can write to"
    )


@pytest.mark.slow
def test_a_data_folder_without_read_permission_is_one_line(tmp_path):
    """Tests run as root, who reads anything: the run drops the capabilities that let it."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop root's permission to read any folder")
    data = tmp_path / "data"
    write_sample(data)
    data.chmod(0)
    try:
        run = subprocess.run(
            [
                "setpriv",
                "--inh-caps=-all",
                "--bounding-set=-dac_override,-dac_read_search",
                sys.executable,
                "-m",
                "sumexp",
                f"hydra.run.dir={tmp_path}/run",
                "data=dialogsum_ko",
                f"data.dir={data}",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=hang_limit(600),
            **REPO_ROOT_ENV,
        )
    finally:
        data.chmod(0o755)
    expect_one_line_error(run, f"{data}/dev.csv: cannot read (Permission denied)", f"chmod u+rx {data}")


@pytest.mark.slow
def test_a_checkpoint_asking_for_its_own_code_is_refused_in_one_line(tmp_path):
    from sumexp.models.tiny import train_tokenizer

    folder, ran = tmp_path / "checkpoint", tmp_path / "code_ran"
    train_tokenizer(
        ["#Person1#: 안녕하세요. 반가워요."] * 20,
        300,
        {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"},
    ).save_pretrained(folder)
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "unheard_of",
                "auto_map": {
                    "AutoConfig": "configuration_unheard.UnheardConfig",
                    "AutoModelForSeq2SeqLM": "modeling_unheard.UnheardModel",
                },
            }
        )
    )
    for module in ("configuration_unheard.py", "modeling_unheard.py"):
        (folder / module).write_text(f"open({str(ran)!r}, 'w').write('ran')\n")
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run", "model=bart_base", f"model.checkpoint={folder}")
    expect_one_line_error(run, f"model.checkpoint={folder}: it asks to run its own Python", "refused, none of it ran")
    assert not ran.exists()


@pytest.mark.slow
def test_the_overrides_hydra_prints_for_a_crashed_run_are_redacted(tmp_path):
    """A bug (injected: the task raises) makes Hydra print the job's overrides; the token must not be in them."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import sumexp.task\n"
        "def crash(cfg, run_dir=None):\n"
        "    raise RuntimeError('a bug')\n"
        "sumexp.task.run_experiment = crash\n"
    )
    token = "hf_CrashedRunToken1234567890"
    pythonpath = os.pathsep.join([str(inject), str(REPO_ROOT_ENV["cwd"]), os.environ.get("PYTHONPATH", "")])
    # a process: the bug is injected through sitecustomize, which only a starting interpreter reads
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run", f"+hf_token={token}", env={"PYTHONPATH": pythonpath}, process=True
    )
    assert run.returncode == 1 and "RuntimeError: a bug" in run.stderr, run.stderr[-3000:]
    assert "Error executing job with overrides" in run.stderr and "+hf_token=REDACTED" in run.stderr
    assert token not in run.stderr + run.stdout


QUICK = [
    "optim.max_steps=2",
    "optim.batch_size=4",
    "optim.eval_on_start=false",
    "data.max_train_samples=16",
    "data.max_eval_samples=2",
    "generation.num_beams=1",
    "generation.max_new_tokens=4",
    "score.tokenizer=whitespace",
]


def quick_run(run_dir: Path, cache: Path, umask: int | None = None):
    """A two-step run with its own encoding cache; with `umask`, in a process started under that umask."""
    if umask is None:
        return sumexp_cli(f"hydra.run.dir={run_dir}", f"cache_dir={cache}", *QUICK)
    return subprocess.run(
        [sys.executable, "-m", "sumexp", f"hydra.run.dir={run_dir}", f"cache_dir={cache}", *QUICK],
        check=False,
        capture_output=True,
        text=True,
        timeout=hang_limit(600),
        preexec_fn=lambda: os.umask(umask),
        **REPO_ROOT_ENV,
    )


@pytest.mark.slow
def test_every_file_a_run_writes_and_its_cache_entries_follow_the_umask(tmp_path):
    """Shared like any file the user writes: results, the weights (which safetensors alone makes owner-only),
    Hydra's files, the log and the cache."""
    run = quick_run(tmp_path / "run", tmp_path / "cache", umask=0o027)
    assert run.returncode == 0, run.stderr[-3000:]
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    written += list((tmp_path / "cache" / "encoded").glob("*.npz"))
    names = {p.name for p in written}
    assert {"metrics.json", "submission.csv", "dev_predictions.csv", "model.safetensors", "config.yaml"} <= names
    modes = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in written}
    assert set(modes.values()) == {oct(0o640)}, modes


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_cache_entry_is_rebuilt_and_the_run_completes(tmp_path, damage):
    assert quick_run(tmp_path / "first", tmp_path / "cache").returncode == 0
    [entry] = (tmp_path / "cache" / "encoded").glob("*.npz")
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"")
    run = quick_run(tmp_path / "second", tmp_path / "cache")
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((tmp_path / "second" / "metrics.json").read_text())["status"] == "completed"
    error = "BadZipFile" if damage == "truncated" else "EOFError"
    assert f"ignoring unreadable cache entry {entry} ({error}" in (tmp_path / "second" / "sumexp.log").read_text()
    original = tmp_path / "original.npz"
    original.write_bytes(whole)
    with np.load(entry) as rebuilt, np.load(original) as before:  # rebuilt in place, with the same arrays
        assert sorted(rebuilt.files) == sorted(before.files)
        assert all(np.array_equal(rebuilt[name], before[name]) for name in before.files)


def test_a_tsv_file_loads_as_tab_separated(compose_config, tmp_path):
    from sumexp.data.splits import load_splits

    for split in ("train", "dev"):
        (tmp_path / f"{split}.tsv").write_text(
            'fname\tdialogue\tsummary\nd1\t#Person1#: 네, "좋아요".\t답한다.\n', encoding="utf-8"
        )
    cfg = compose_config(
        [
            "data=csv",
            f"data.dir={tmp_path}",
            "data.train_file=train.tsv",
            "data.dev_file=dev.tsv",
            "data.test_file=null",
        ]
    )
    splits = load_splits(cfg.data, seed=0)
    assert (
        splits.dev.ids == ["d1"]
        and splits.dev.dialogues == ['#Person1#: 네, "좋아요".']
        and splits.dev.references == [["답한다."]]
    )


@pytest.mark.slow
def test_only_a_warm_up_that_outlasts_the_run_is_refused(compose_config):
    from sumexp.checks import check_schedule
    from sumexp.errors import UserError

    check_schedule(compose_config([]), train_rows=12457)  # the shipped defaults on DialogSum-ko's train split
    check_schedule(compose_config(["optim.max_steps=4"]), train_rows=16)  # a quick test run
    check_schedule(compose_config(["optim.warmup=30", "optim.max_steps=4"]), train_rows=16)  # reaches 4/30 of the peak
    with pytest.raises(
        UserError, match="the warm-up lasts 1245700000000 steps.*at most 4e-08 of its peak in the 49828 steps"
    ):
        check_schedule(compose_config(["optim.epochs=1e9", "optim.batch_size=1"]), train_rows=12457)
