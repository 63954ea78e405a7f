"""python -m sumexp.score: joining on fname, column choice, output, and one-line user errors."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sumexp.score.cli import main
from sumexp.score.rouge import METRICS, score_rouge
from tests.support.limits import hang_limit
from tests.support.repo import REPO

DATA = REPO.parent / "shared" / "data"
KO_DEV = DATA / "dialogsum-ko" / "dev.csv"
EN_TEST = DATA / "dialogsum-en" / "test.jsonl"
needs_ko = pytest.mark.skipif(not KO_DEV.is_file(), reason=f"{KO_DEV} not present")
needs_en = pytest.mark.skipif(not EN_TEST.is_file(), reason=f"{EN_TEST} not present")


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path: Path, rows: dict) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    """A 3-row reference file with two reference columns and a matching prediction file."""
    ref = write_csv(
        tmp_path / "ref.csv",
        {"fname": ["d0", "d1", "d2"], "summary1": ["a b c", "d e f", "g h"], "summary2": ["a b x", "d e", "g h i"]},
    )
    pred = write_csv(tmp_path / "pred.csv", {"fname": ["d2", "d0", "d1"], "summary": ["g h", "a b", "f e d"]})
    return pred, ref


def test_scores_joined_on_fname_in_reference_order(capsys, files):
    code, out, err = cli(capsys, *files, "--tokenizer", "whitespace", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    refs = [["a b c", "a b x"], ["d e f", "d e"], ["g h", "g h i"]]
    expected = score_rouge(["a b", "f e d", "g h"], refs, tokenizer="whitespace")
    assert {k: result[k] for k in expected} == expected
    assert result["ref_columns"] == ["summary1", "summary2"] and result["use_stemmer"] is False


def test_table_output_shows_scores_times_100(capsys, files):
    code, out, _ = cli(capsys, *files, "--tokenizer", "char", "--agg", "max")
    assert code == 0
    assert "3 examples  tokenizer=char  aggregate=max" in out
    assert out.splitlines()[1].split() == ["metric", "precision", "recall", "fmeasure"]
    assert "rouge_mean" in out


def test_prediction_column_falls_back_to_prediction_and_list_references(capsys, tmp_path):
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"fname": "x", "prediction": "#Person1#은 집에 간다."}])
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"fname": "x", "summary": ["#Person1#은 집에 간다.", "다른 요약"]}])
    code, out, _ = cli(capsys, pred, ref, "--tokenizer", "whitespace", "--agg", "max", "--json")
    assert code == 0 and json.loads(out)["rouge_mean"] == 100.0


def test_explicit_columns(capsys, files, tmp_path):
    pred = write_csv(tmp_path / "p.csv", {"fname": ["d0", "d1", "d2"], "out": ["a b c", "d e f", "g h"]})
    code, out, _ = cli(
        capsys,
        pred,
        files[1],
        "--pred-column",
        "out",
        "--ref-columns",
        "summary1",
        "--tokenizer",
        "whitespace",
        "--json",
    )
    assert code == 0 and json.loads(out)["rouge_mean"] == 100.0


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("sumexp.score: error: ")
    for fragment in fragments:
        assert fragment in err


def test_missing_predictions_are_an_error_with_count_and_examples(capsys, files, tmp_path):
    pred = write_csv(tmp_path / "p.csv", {"fname": ["d0"], "summary": ["a b"]})
    assert_one_line_error(*cli(capsys, pred, files[1]), "no prediction for 2 of 3 fnames", "d1, d2")


def test_extra_predictions_are_a_warning_and_ignored(capsys, files, tmp_path):
    pred = write_csv(tmp_path / "p.csv", {"fname": ["d0", "d1", "d2", "zz"], "summary": ["a b c", "d e f", "g h", "q"]})
    code, out, err = cli(capsys, pred, files[1], "--ref-columns", "summary1", "--tokenizer", "whitespace", "--json")
    assert code == 0 and json.loads(out)["num_examples"] == 3 and json.loads(out)["rouge_mean"] == 100.0
    assert err.startswith("sumexp.score: warning: ") and "1 fname(s)" in err and "zz" in err


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["{tmp}/nope.csv", "{ref}"], ["nope.csv: file not found"]),
        (
            ["{pred}", "{ref}", "--pred-column", "text"],
            ["no column 'text'", "columns are fname, summary", "--pred-column"],
        ),
        (["{pred}", "{ref}", "--ref-columns", "summary1,gold"], ["no column 'gold'", "fname, summary1, summary2"]),
        (["{pred}", "{ref}", "--tokenizer", "bpe"], ["invalid choice: 'bpe'", "morpheme"]),
        (["{pred}", "{ref}", "--agg", "median"], ["invalid choice: 'median'"]),
        (["{pred}"], ["required: ref"]),
        (["{pred}", "{ref}", "--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(capsys, files, tmp_path, argv, fragments):
    pred, ref = files
    argv = [a.format(tmp=tmp_path, pred=pred, ref=ref) for a in argv]
    assert_one_line_error(*cli(capsys, *argv), *fragments)


def test_reference_file_without_reference_columns(capsys, files, tmp_path):
    ref = write_csv(tmp_path / "r.csv", {"fname": ["d0"], "dialogue": ["..."]})
    assert_one_line_error(*cli(capsys, files[0], ref), "no reference column", "--ref-columns")


def test_duplicate_fnames_are_an_error(capsys, files, tmp_path):
    pred = write_csv(tmp_path / "p.csv", {"fname": ["d0", "d0", "d1", "d2"], "summary": ["a", "b", "c", "d"]})
    assert_one_line_error(*cli(capsys, pred, files[1]), "1 duplicated fname(s) (d0)")


def test_rows_without_any_reference_warn_and_score_zero(capsys, files, tmp_path):
    ref = write_csv(tmp_path / "r.csv", {"fname": ["d0", "d1", "d2"], "summary": ["a b c", "", "g h"]})
    code, out, err = cli(capsys, files[0], ref, "--tokenizer", "whitespace", "--json")
    assert code == 0 and "1 row(s) have no non-empty reference" in err and "d1" in err


def test_stemmer_outside_rouge_score_mode_warns(capsys, files):
    code, _, err = cli(capsys, *files, "--tokenizer", "whitespace", "--stemmer")
    assert code == 0 and "--stemmer only affects" in err


@pytest.mark.slow
def test_module_entry_point_exit_codes_and_no_traceback(files, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "sumexp.score", *map(str, args)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=hang_limit(120),
        )

    bad = run(tmp_path / "missing.csv", files[1])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("sumexp.score: error: ") and len(bad.stderr.splitlines()) == 1
    good = run(*files, "--tokenizer", "whitespace", "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["num_examples"] == 3


@needs_ko
@pytest.mark.slow
def test_korean_dev_against_itself_is_100(capsys):
    code, out, _ = cli(capsys, KO_DEV, KO_DEV, "--json")
    result = json.loads(out)
    assert code == 0 and result["rouge_mean"] == 100.0 and result["num_examples"] == 499
    assert result["tokenizer"] == "morpheme"


@needs_ko
@pytest.mark.slow
def test_shuffled_predictions_score_low(capsys, tmp_path):
    frame = pd.read_csv(KO_DEV, dtype=str, keep_default_na=False)[["fname", "summary"]]
    summaries = frame["summary"].tolist()
    random.Random(0).shuffle(summaries)
    pred = write_csv(tmp_path / "shuffled.csv", {"fname": frame["fname"], "summary": summaries})
    code, out, _ = cli(capsys, pred, KO_DEV, "--json")
    # Matched summaries of two translations score ~56 (docs/metrics.md); mismatched ones far less.
    assert code == 0 and json.loads(out)["rouge_mean"] < 25


@needs_en
@pytest.mark.slow
@pytest.mark.parametrize("agg", ["mean", "max"])
def test_english_multi_reference_equals_rouge_score(capsys, agg):
    from rouge_score.rouge_scorer import RougeScorer as GoogleScorer

    code, out, _ = cli(
        capsys,
        EN_TEST,
        EN_TEST,
        "--pred-column",
        "summary1",
        "--ref-columns",
        "summary2,summary3",
        "--tokenizer",
        "rouge_score",
        "--agg",
        agg,
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and result["num_examples"] == 500
    google = GoogleScorer(list(METRICS))
    records = [json.loads(line) for line in EN_TEST.read_text(encoding="utf-8").splitlines()]
    for m in METRICS:
        per_example = []
        for r in records:
            scores = [google.score(r[c], r["summary1"])[m] for c in ("summary2", "summary3")]
            if agg == "max":
                per_example.append(max(scores, key=lambda s: s.fmeasure))  # first of ties
            else:
                per_example.append([sum(s[f] for s in scores) / len(scores) for f in range(3)])
        for f, name in enumerate(("precision", "recall", "fmeasure")):
            expected = sum(s[f] for s in per_example) / len(per_example)
            assert abs(result[m][name] - expected) <= 1e-9


@pytest.mark.parametrize("tokenizer", ["morpheme", "whitespace", "char"])
def test_the_same_korean_spelt_decomposed_or_with_invisible_characters_scores_100(capsys, tmp_path, tokenizer):
    """NFD Hangul (typed on some systems, copied from file names) and zero-width characters are the same text."""
    import unicodedata

    references = ["두 사람이 내일 도서관에서 만나기로 한다.", "#Person1#은 #Person2#에게 전화번호를 묻는다."]
    ref = write_csv(tmp_path / "ref.csv", {"fname": ["d0", "d1"], "summary": references})
    for name, spelt in (
        ("decomposed", [unicodedata.normalize("NFD", text) for text in references]),
        ("invisible", [text.replace(" ", " \u200b", 2).replace("다", "\ufeff다") for text in references]),
    ):
        assert spelt != references, name
        pred = write_csv(tmp_path / f"{name}.csv", {"fname": ["d0", "d1"], "summary": spelt})
        code, out, err = cli(capsys, pred, ref, "--tokenizer", tokenizer, "--json")
        assert code == 0, err
        assert json.loads(out)["rouge_mean"] == pytest.approx(100.0), name
