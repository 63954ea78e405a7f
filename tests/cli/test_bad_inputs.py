"""The bad-input matrix: every mistake a user can make in files, rows, encodings or config values,
through the real CLI, ends in one line naming the file or key, what is wrong and the fix (exit 2)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from sumexp.data.sample import write_sample
from sumexp.data.splits import load_splits
from tests.support.cli import sumexp_cli
from tests.support.inputs import (
    HEADER,
    KOREAN_ROW,
    Case,
    assert_case_is_one_line_with_the_fix,
    rewrite,
    run_case,
)


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def replace_with(name: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).unlink()
        make(folder / name)

    return setup


def make_folder(name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return setup


def frame_csv(rows: list[dict]) -> str:
    return pd.DataFrame(rows).to_csv(index=False)


def sample_jsonl(folder: Path) -> None:
    """The sample's CSV files as JSONL (dev.jsonl is then rewritten by the case)."""
    for split in ("train", "dev", "test"):
        frame = pd.read_csv(folder / f"{split}.csv", dtype=str, keep_default_na=False)
        frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)


def jsonl_dev(text: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        sample_jsonl(folder)
        (folder / "dev.jsonl").write_text(text, encoding="utf-8")

    return setup


BLANK_ROWS = frame_csv(
    [
        {"fname": "train_0", "dialogue": "#Person1#: 안녕하세요.", "summary": "인사한다."},
        {"fname": "train_1", "dialogue": "", "summary": "대화가 없다."},
        {"fname": "train_2", "dialogue": "#Person1#: 네.", "summary": "NaN"},
        {"fname": "train_3", "dialogue": "#Person1#: 좋아요.", "summary": "동의한다."},
    ]
)
ALL_BLANK = frame_csv([{"fname": f"train_{i}", "dialogue": "#Person1#: 네.", "summary": " "} for i in range(3)])
DUPLICATES = frame_csv(
    [{"fname": f"dev_{i // 2}", "dialogue": "#Person1#: 네.", "summary": "답한다."} for i in range(4)]
)
# Two ids that look the same: one carries a zero-width space, a pair differs in Hangul composition (NFC vs NFD).
LOOK_ALIKE_IDS = frame_csv(
    [
        {"fname": fname, "dialogue": "#Person1#: 네.", "summary": "답한다."}
        for fname in ("dev_0", "dev_\u200b0", "대화_1", "\u1103\u1162\u1112\u116a_1")
    ]
)
CP949 = (HEADER + KOREAN_ROW).encode("cp949")


MATRIX = [
    # Files
    Case(
        "missing data folder",
        [],
        ["data.dir=", "nowhere", "folder not found", "pass an existing folder"],
        data=["data=dialogsum_ko", "data.dir={tmp}/nowhere"],
    ),
    Case("data.dir not set", [], ["data.dir is not set", "data.dir=path/to/data"], data=["data=csv"]),
    Case("missing dev file", [], ["dev.csv: file not found", "data.dev_file"], remove("dev.csv")),
    Case("missing test file", [], ["test.csv: file not found", "data.test_file=null"], remove("test.csv")),
    Case(
        "missing train file, no fallback",
        [],
        ["train.csv: file not found", "data.holdout_when_no_train=0.2"],
        remove("train.csv"),
        data=["data=csv", "data.dir={data}"],
    ),
    Case(
        "folder where the dev file should be",
        [],
        ["dev.csv: is a folder, not a file", "data.dev_file"],
        make_folder("dev.csv"),
    ),
    Case(
        "folder where the train file should be",
        [],
        ["train.csv: is a folder, not a file", "data.train_file"],
        make_folder("train.csv"),
    ),
    Case(
        "a named pipe where the train file should be",
        [],
        ["train.csv: is a named pipe (FIFO), not a regular file", "Save the table to a file"],
        replace_with("train.csv", os.mkfifo),
    ),
    Case(
        "a device where the dev file should be",
        [],
        ["dev.csv: is a device, not a regular file"],
        replace_with("dev.csv", lambda path: path.symlink_to("/dev/zero")),
    ),
    Case(
        "a file over the size limit",
        ["data.max_file_mb=0.001"],
        ["dev.csv: is larger than 0.001 MB", "raise data.max_file_mb"],
    ),
    Case("a size limit of zero", ["data.max_file_mb=0"], ["data.max_file_mb=0.0: must be above 0"]),
    Case(
        "a file of NUL bytes",
        [],
        ["dev.csv: contains NUL characters", "not a text table"],
        rewrite("dev.csv", HEADER.encode() + b"\0" * 4096),
    ),
    Case(
        "a datasets folder with a loading script",
        [],
        ["data.hf_name=", "holds a loading script (hfdata.py)", "data=csv"],
        lambda folder: (folder / "hfdata.py").write_text("import datasets\n"),
        data=["data=hf", "data.hf_name={data}"],
    ),
    Case(
        "unsupported file type",
        ["data.dev_file=dev.txt"],
        ["dev.txt: unsupported file type '.txt'", ".csv, .jsonl"],
        rewrite("dev.txt", HEADER + KOREAN_ROW),
    ),
    Case(
        "a checkpoint given to a model built from scratch",
        ["model=tiny_t5", "model.checkpoint={tmp}/some_model"],
        ["model.checkpoint=", "some_model", "model=tiny_t5 builds random weights", "model.scratch=null"],
    ),
    Case(
        "model checkpoint folder missing",
        ["model=bart_base", "model.checkpoint={tmp}/no_model"],
        ["model.checkpoint=", "no_model", "cannot load", "check the name"],
    ),
    # Columns and rows
    Case(
        "renamed column",
        [],
        ["dev.csv: missing column(s) dialogue", "it has fname, text, summary", "data.dialogue_column"],
        rewrite("dev.csv", "fname,text,summary\nd1,#Person1#: 네.,답한다.\n"),
    ),
    Case(
        "test file without fname",
        [],
        ["test.csv: missing column(s) fname", "it has dialogue", "data.id_column"],
        rewrite("test.csv", "dialogue\n#Person1#: 네.\n"),
    ),
    Case("empty file", [], ["train.csv: the file is empty", "write a header row"], rewrite("train.csv", b"")),
    Case("blank lines only", [], ["dev.csv: the file is empty"], rewrite("dev.csv", "\n \r\n\n")),
    Case("header only", [], ["dev.csv: the dev split has no rows", "fill it"], rewrite("dev.csv", HEADER)),
    Case(
        "blank rows with on_bad_rows=error",
        ["data.on_bad_rows=error"],
        [
            "train.csv: 2 row(s) have an empty or NaN id, dialogue or summary (train_1, train_2)",
            "data.on_bad_rows=drop",
        ],
        rewrite("train.csv", BLANK_ROWS),
    ),
    Case(
        "every row blank",
        [],
        ["train.csv: all 3 rows have an empty or NaN id, dialogue or summary", "data.summary_column"],
        rewrite("train.csv", ALL_BLANK),
    ),
    Case(
        "duplicate fnames",
        [],
        ["dev.csv: 2 fname value(s) appear more than once (dev_0 x2, dev_1 x2)", "make each id unique"],
        rewrite("dev.csv", DUPLICATES),
    ),
    Case(
        "ids that differ only in invisible characters or composition",
        [],
        [
            "dev.csv: 2 fname value(s) appear more than once (dev_0 x2, 대화_1 x2)",
            "print as nothing",
            "make each id unique",
        ],
        rewrite("dev.csv", LOOK_ALIKE_IDS),
    ),
    # Encodings and formats
    Case(
        "cp949 file",
        [],
        ["train.csv: not UTF-8", "cp949", "iconv -f cp949 -t utf-8", "data.encoding=cp949"],
        rewrite("train.csv", CP949),
    ),
    Case("unknown encoding", ["data.encoding=klingon"], ["data.encoding=klingon", "utf-8 or cp949"]),
    Case(
        "quote left open",
        [],
        ["dev.csv: cannot parse as CSV", "a quote left open"],
        rewrite("dev.csv", HEADER + 'd1,"#Person1#: 네.,답한다.\n'),
    ),
    Case(
        "JSONL broken line",
        [],
        ["dev.jsonl: line 3 is not valid JSON", "fix or remove that line"],
        jsonl_dev(
            '{"fname": "a", "dialogue": "x", "summary": "y"}\n\n{"fname": "b", "dialogue": "x" "summary": "y"}\n'
        ),
        data=["data=jsonl", "data.dir={data}"],
    ),
    Case(
        "JSONL line not an object",
        [],
        ["dev.jsonl: line 2 is a JSON list, not an object"],
        jsonl_dev('{"fname": "a", "dialogue": "x", "summary": "y"}\n["b", "x", "y"]\n'),
        data=["data=jsonl", "data.dir={data}"],
    ),
    # Config values
    Case("zero lr", ["optim.lr=0"], ["optim.lr=0.0: must be above 0", "optim.lr=5e-5"]),
    Case(
        "keys nothing reads, added with +",
        ["+optim.lrr=0.5", "+foo=1"],
        ["+optim.lrr: sumexp reads no such key; did you mean optim.lr?", "+foo: sumexp reads no such key"],
    ),
    Case("negative lr", ["optim.lr=-1e-4"], ["optim.lr=-0.0001: must be above 0"]),
    Case("negative family lr", ["model.learning_rate=-1"], ["model.learning_rate=-1.0: must be above 0"]),
    Case("zero batch size", ["optim.batch_size=0"], ["optim.batch_size=0: must be at least 1"]),
    Case("negative epochs", ["optim.epochs=-2"], ["optim.epochs=-2.0: must be 0 or more", "optim.epochs=3"]),
    Case(
        "negative checkpoint interval",
        ["optim.checkpoint_minutes=-1"],
        ["optim.checkpoint_minutes=-1.0: must be 0 or more", "optim.checkpoint_minutes=10"],
    ),
    Case(
        "zero epochs and steps",
        ["optim.epochs=0"],
        ["optim.epochs and optim.max_steps are both 0", "optim.max_steps > 0"],
    ),
    Case("zero max_new_tokens", ["generation.max_new_tokens=0"], ["generation.max_new_tokens=0: must be at least 1"]),
    Case(
        "negative max_new_tokens",
        ["generation.max_new_tokens=-5"],
        ["generation.max_new_tokens=-5: must be at least 1"],
    ),
    Case(
        "max_source_length above the positions",
        ["model.max_source_length=1024"],
        ["model=tiny_bart: model.max_source_length=1024: above the model's 512 positions", "at most 512"],
    ),
    Case(
        "causal prompt and output above the positions",
        ["model=tiny_gpt2", "generation.max_new_tokens=400"],
        ["model.max_source_length + generation.max_new_tokens = 320 + 400", "512 positions", "lower one"],
    ),
    Case(
        "holdout fraction above 1",
        ["data.holdout_when_no_train=1.5"],
        ["data.holdout_when_no_train=1.5: must be between 0 and 1", "0.2"],
    ),
    Case(
        "holdout fraction 0",
        ["data.holdout_when_no_train=0"],
        ["data.holdout_when_no_train=0.0: must be between 0 and 1"],
    ),
    Case("unknown on_bad_rows", ["data.on_bad_rows=skip"], ["data.on_bad_rows=skip: use one of drop, error"]),
    Case(
        "several problems at once",
        ["optim.lr=0", "optim.batch_size=0", "data.max_train_samples=0"],
        ["optim.lr=0.0", "optim.batch_size=0", "data.max_train_samples=0"],
    ),
    # Security
    Case(
        "trust_remote_code from the command line",
        ["model.trust_remote_code=true"],
        [
            "model.trust_remote_code=true: only a model's own file may turn it on",
            "conf/model/tiny_bart.yaml",
            "drop the override",
        ],
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", MATRIX, ids=[c.name for c in MATRIX])
def test_bad_input_is_one_line_with_the_fix(case, tmp_path):
    assert_case_is_one_line_with_the_fix(case, tmp_path)


def test_matrix_is_large_enough():
    assert len(MATRIX) >= 20


@pytest.mark.slow
def test_full_error_shows_the_traceback_of_a_user_error(tmp_path):
    case = next(c for c in MATRIX if c.name == "zero lr")
    run = run_case(case, tmp_path, HYDRA_FULL_ERROR="1")
    assert run.returncode != 0
    assert "Traceback" in run.stderr and "UserError" in run.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


COMPOSITION = [
    (["model=no_such_model"], ["Could not find 'model/no_such_model'", "Available options in 'model'", "tiny_bart"]),
    (["backend=no_such_backend"], ["Could not find 'backend/no_such_backend'", "full"]),
    (["data=no_such_data"], ["Could not find 'data/no_such_data'", "dialogsum_ko"]),
    (["optim.learning_rat=0.1"], ["Key 'learning_rat' not in 'OptimConfig'"]),
    (["optim.batch_size=lots"], ["optim.batch_size", "lots"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides, expected", COMPOSITION, ids=[o[0] for o, _ in COMPOSITION])
def test_composition_mistake_lists_the_choices_without_a_traceback(overrides, expected, tmp_path):
    run = sumexp_cli(f"hydra.run.dir={tmp_path}/run", *overrides)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    for fragment in expected:
        assert fragment in run.stderr, run.stderr
    assert not (tmp_path / "run").exists(), "composition fails before any run folder is made"


# What must load correctly, not fail: BOM, CRLF, quoted newlines, cp949 with its key, JSON arrays.


def load(compose_config, folder: Path, *overrides: str):
    return load_splits(
        compose_config(["data=csv", f"data.dir={folder}", "data.test_file=null", *overrides]).data, seed=0
    )


def write_both(folder: Path, payload: bytes, suffix: str = ".csv") -> None:
    folder.mkdir(exist_ok=True)
    for split in ("train", "dev"):
        (folder / f"{split}{suffix}").write_bytes(payload)


def test_bom_crlf_and_quoted_newlines_load_exactly(compose_config, tmp_path):
    text = (
        "fname,dialogue,summary\r\n"
        '"d1","#Person1#: 안녕하세요.\r\n#Person2#: 네, ""반가워요"".","두 사람이 인사한다.\r\n둘 다 웃는다."\r\n'
        "d2,#Person1#: 네.,답한다.\r\n"
    )
    write_both(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    splits = load(compose_config, tmp_path)
    assert splits.dev.ids == ["d1", "d2"], "the BOM must not stick to the first column name"
    assert splits.dev.dialogues == ['#Person1#: 안녕하세요.\n#Person2#: 네, "반가워요".', "#Person1#: 네."]
    assert splits.dev.references == [["두 사람이 인사한다.\n둘 다 웃는다."], ["답한다."]]
    assert splits.dev.dropped == 0 and splits.notes == []


def test_jsonl_with_bom_crlf_and_nulls_loads_exactly(compose_config, tmp_path):
    lines = [
        {"fname": "a", "dialogue": "#Person1#: 네.\r\n#Person2#: 좋아요.", "summary": "동의한다."},
        {"fname": "b", "dialogue": ["#Person1#: 안녕.", "#Person2#: 안녕."], "summary": None},
        {"fname": "c", "dialogue": "#Person1#: 잘 가.", "summary": ["헤어진다.", ""]},
    ]
    payload = "\r\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\r\n"
    write_both(tmp_path, b"\xef\xbb\xbf" + payload.encode("utf-8"), ".jsonl")
    cfg = compose_config(["data=jsonl", f"data.dir={tmp_path}", "data.test_file=null"]).data
    splits = load_splits(cfg, seed=0)
    assert splits.dev.ids == ["a", "c"] and splits.dev.dropped == 1, "a null summary is a blank row"
    assert splits.dev.dialogues == ["#Person1#: 네.\n#Person2#: 좋아요.", "#Person1#: 잘 가."]
    assert splits.dev.references == [["동의한다."], ["헤어진다."]]


def test_cp949_loads_with_the_fix_the_error_names(compose_config, tmp_path):
    write_both(tmp_path, CP949)
    splits = load(compose_config, tmp_path, "data.encoding=cp949")
    assert splits.train.dialogues == ["#Person1#: 안녕하세요. 내일 만나요."]
    assert splits.train.references == [["두 사람이 내일 만나기로 한다."]]


def test_a_json_array_file_loads(compose_config, tmp_path):
    rows = [{"fname": "a", "dialogue": "#Person1#: 네.", "summary": "답한다."}]
    write_both(tmp_path, json.dumps(rows).encode(), ".json")
    splits = load(compose_config, tmp_path, "data.train_file=train.json", "data.dev_file=dev.json")
    assert splits.dev.ids == ["a"] and splits.dev.references == [["답한다."]]


def test_blank_rows_are_dropped_counted_and_logged(compose_config, tmp_path, caplog):
    write_both(tmp_path, BLANK_ROWS.encode())
    with caplog.at_level(logging.WARNING):
        splits = load(compose_config, tmp_path)
    assert splits.train.ids == ["train_0", "train_3"] and splits.train.dropped == 2
    assert "dropped 2 row(s)" in caplog.text and "train_1, train_2" in caplog.text
    assert any("train.csv: dropped 2 row(s)" in note for note in splits.notes)


def test_blank_test_rows_are_kept_for_the_submission(compose_config, tmp_path, caplog):
    write_sample(tmp_path)
    (tmp_path / "test.csv").write_text("fname,dialogue\nt1,#Person1#: 네.\nt2,\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        splits = load_splits(compose_config(["data=csv", f"data.dir={tmp_path}"]).data, seed=0)
    assert splits.test.ids == ["t1", "t2"] and splits.test.dropped == 0
    assert "test.csv: 1 row(s)" in caplog.text and "kept" in caplog.text


@pytest.mark.slow
def test_dropped_rows_and_precision_note_reach_metrics_and_log(tmp_path):
    """A real run on data with blank rows, asking for fp16 on a CPU: it completes and says what it did."""
    write_sample(tmp_path / "data")
    train = pd.read_csv(tmp_path / "data" / "train.csv", dtype=str, keep_default_na=False).head(24)
    train.loc[3, "dialogue"] = ""
    train.loc[7, "summary"] = "nan"
    train.to_csv(tmp_path / "data" / "train.csv", index=False)
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run",
        "data=csv",
        f"data.dir={tmp_path}/data",
        "optim.precision=fp16",
        "optim.max_steps=2",
        "optim.batch_size=4",
        "optim.eval_on_start=false",
        "data.max_eval_samples=4",
        "generation.num_beams=1",
        "generation.max_new_tokens=4",
        "score.tokenizer=whitespace",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["data"]["train"] == {"rows": 22, "dropped_rows": 2, "source": str(tmp_path / "data" / "train.csv")}
    assert metrics["data"]["dev"]["dropped_rows"] == 0
    assert "dropped 2 row(s)" in metrics["data"]["notes"][0] and "train_3, train_7" in metrics["data"]["notes"][0]
    assert "train_3, train_7" in (tmp_path / "run" / "sumexp.log").read_text()
    assert metrics["precision_requested"] == "fp16" and metrics["precision_effective"] == "fp32"
    assert "needs a CUDA GPU" in metrics["precision_note"]
