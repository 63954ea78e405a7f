"""Broken inputs through the real CLI: a case breaks the shipped sample (or a config value), the CLI runs on it,
and the refusal must be one line with the fix and a run folder that looks failed, not finished."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sumexp.data.sample import write_sample
from tests.support.cli import sumexp_cli

HEADER = "fname,dialogue,summary\n"
KOREAN_ROW = "d1,#Person1#: 안녕하세요. 내일 만나요.,두 사람이 내일 만나기로 한다.\n"


def rewrite(name: str, text: str | bytes) -> Callable[[Path], None]:
    """A setup that replaces one file of the sample folder."""

    def setup(folder: Path) -> None:
        path = folder / name
        path.unlink(missing_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))

    return setup


@dataclass
class Case:
    name: str
    overrides: list[str]
    expected: list[str]  # fragments of the error line: the file or key, what is wrong, the fix
    setup: Callable[[Path], None] | None = None
    data: list[str] = field(default_factory=lambda: ["data=dialogsum_ko", "data.dir={data}"])


def run_case(case: Case, tmp_path: Path, **env: str):
    """The sample written as files into tmp_path/data, broken by the case, then the CLI on it."""
    data_dir = tmp_path / "data"
    write_sample(data_dir)
    if case.setup:
        case.setup(data_dir)
    args = [a.format(tmp=tmp_path, data=data_dir) for a in case.data + case.overrides]
    return sumexp_cli(f"hydra.run.dir={tmp_path}/run", *args, env=env)


def assert_failed_run_folder(run_dir: Path, message: str) -> None:
    """Nothing in the run folder may look like a finished run."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["stage"] == "input"
    assert metrics["error"] == message
    for finished in ("submission.csv", "dev_predictions.csv", "model", "train_log.jsonl"):
        assert not (run_dir / finished).exists(), finished


def assert_case_is_one_line_with_the_fix(case: Case, tmp_path: Path) -> None:
    """The CLI on the case's broken input: exit 2, no traceback, one error line holding every expected
    fragment, and that line recorded in a run folder that looks failed."""
    run = run_case(case, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr + run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("sumexp: error: ")]
    assert len(errors) == 1, run.stderr[-3000:]
    for fragment in case.expected:
        assert fragment in errors[0], errors[0]
    assert_failed_run_folder(tmp_path / "run", errors[0].removeprefix("sumexp: error: "))
