"""python -m sumexp.report on records it did not write as they are: each is shown for what it is, and a report
is written whole or not at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sumexp.report import main as report_main
from sumexp.report import write_report
from sumexp.report.cli import OUTPUTS
from tests.support.runs import completed, config, dev_predictions, make_run

SCORES = np.linspace(20, 40, 40)


def full_run(root, name="0_tiny_bart_full", **extra):
    return make_run(
        root, name, completed("tiny_bart", "full", **extra), config=config(), examples=dev_predictions(SCORES)
    )


def test_figures_that_are_not_numbers_or_an_interval_that_misses_its_mean_are_shown_missing_with_a_note(
    tmp_path, capsys
):
    root = tmp_path / "sweep"
    full_run(root)
    full_run(root, "1_high", dev_rouge_mean="high")
    full_run(root, "2_nan", dev_rouge_mean=float("nan"), dev_rouge_mean_ci95=[1.0, 2.0])
    full_run(root, "3_outside", dev_rouge_mean_ci95=[90.0, 95.0])
    assert report_main([str(root)]) == 0, capsys.readouterr().err
    rows = {row["run"]: row for row in _csv(root)}
    assert rows["1_high"]["rouge_mean"] == "" and rows["2_nan"]["rouge_mean"] == ""
    assert rows["3_outside"]["rouge_mean_lo"] == "" and rows["3_outside"]["rouge_mean"] != ""
    notes = (root / "report.md").read_text()
    assert "`1_high`: record: metrics.json: not a number, shown as missing: dev_rouge_mean='high'" in notes
    assert "dev_rouge_mean=nan" in notes
    assert (
        "`3_outside`: record: metrics.json: dev_rouge_mean_ci95=[90.0, 95.0] is not an interval around the mean"
        in notes
    )
    assert all((root / name).is_file() for name in OUTPUTS)


def test_a_record_that_is_not_a_json_object_is_an_unknown_run(tmp_path, capsys):
    root = tmp_path / "sweep"
    full_run(root)
    listed = full_run(root, "1_list")
    (listed / "metrics.json").write_text(json.dumps([completed("tiny_bart", "full")]))
    assert report_main([str(root)]) == 0, capsys.readouterr().err
    assert "- `1_list` (unknown): metrics.json is not a sumexp record" in (root / "report.md").read_text()


def test_a_completed_record_without_its_dev_predictions_is_not_shown_completed(tmp_path, capsys):
    root = tmp_path / "sweep"
    full_run(root)
    partial = full_run(root, "1_partial")
    (partial / "dev_predictions.csv").unlink()
    assert report_main([str(root)]) == 0, capsys.readouterr().err
    rows = {row["run"]: row for row in _csv(root)}
    assert rows["1_partial"]["status"] == "incomplete" and rows["0_tiny_bart_full"]["status"] == "completed"
    assert "dev_predictions.csv is missing (a partial copy?)" in (root / "report.md").read_text()


def test_a_report_that_fails_before_its_last_file_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    root = tmp_path / "sweep"
    full_run(root)
    write_report([root], root)
    before = {name: (root / name).read_bytes() for name in OUTPUTS}
    full_run(root, "1_new")

    def broken(*args, **kwargs):
        raise RuntimeError("the page could not be drawn")

    monkeypatch.setattr("sumexp.report.html.render_html", broken)
    with pytest.raises(RuntimeError):
        write_report([root], root)
    assert {name: (root / name).read_bytes() for name in OUTPUTS} == before
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == sorted(OUTPUTS)  # no staged file left


def _csv(root):
    import csv

    with open(root / "report.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
