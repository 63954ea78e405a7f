"""Score a prediction file against a reference file: python -m sumexp.score PRED REF [options].

PRED is a submission-style table (fname + summary/prediction), REF has fname and one or more
reference columns; rows are joined on fname. See docs/metrics.md for the metric itself.
"""

from __future__ import annotations

import argparse
import json
import sys

from sumexp.data.tables import MAX_FILE_MB, read_table, reference_columns, reference_lists
from sumexp.errors import UserError, run_cli
from sumexp.results.spreadsheet import from_text_cells
from sumexp.score.rouge import AGGREGATES, METRICS, RougeScorer
from sumexp.score.tokenization import TOKENIZERS

PROG = "sumexp.score"
# The first one present is the default prediction column: a run's dev_predictions.csv has both a
# prediction and its references under the data's own name (summary), a submission only summary.
PRED_COLUMNS = ("prediction", "summary")
SHOW = 5  # how many fnames an error or warning lists


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is the same one-line error as any other user mistake."""

    def error(self, message):
        raise UserError(f"{message} (see python -m {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog=PROG, description="ROUGE-1/2/L F1 of predictions against references.")
    add = parser.add_argument
    add("pred", help="predictions: CSV or JSONL with fname and summary (or prediction)")
    add("ref", help="references: CSV or JSONL with fname and summary, summary1..N or a list column")
    add(
        "--tokenizer",
        default="morpheme",
        choices=TOKENIZERS,
        help="tokenization (default: morpheme, i.e. Kiwi; rouge_score for English)",
    )
    add(
        "--agg",
        default="mean",
        choices=AGGREGATES,
        help="combine several references per example (default: mean, as the competition)",
    )
    add("--stemmer", action="store_true", help="Porter stemming (rouge_score tokenizer only)")
    add("--json", action="store_true", help="print the result as JSON")
    add("--pred-column", help="prediction column in PRED (default: prediction, else summary)")
    add("--ref-columns", help="comma-separated reference columns in REF (default: summary, summary1..N)")
    add("--max-file-mb", type=float, default=MAX_FILE_MB, help=f"refuse a larger file (default {MAX_FILE_MB})")
    return parser


def _require(frame, path: str, columns: list[str], option: str) -> None:
    """Raise a UserError naming the missing columns and those the file has."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path}: no column {', '.join(map(repr, missing))}; columns are "
            f"{', '.join(map(str, frame.columns))}; choose one with {option}"
        )


def _unique_fnames(frame, path: str) -> None:
    """Joining on fname needs each fname once."""
    duplicated = frame["fname"][frame["fname"].duplicated()].unique().tolist()
    if duplicated:
        raise UserError(f"{path}: {len(duplicated)} duplicated fname(s) ({_few(duplicated)}); keep one row per fname")


def _few(names: list[str]) -> str:
    """The first few names, and how many more."""
    more = f", ... {len(names) - SHOW} more" if len(names) > SHOW else ""
    return ", ".join(map(str, names[:SHOW])) + more


def load_predictions(path: str, column: str | None, max_mb: float = MAX_FILE_MB) -> dict[str, str]:
    """fname → prediction text."""
    frame = read_table(path, max_mb=max_mb, limit_key="--max-file-mb")
    if column is None:
        column = next((c for c in PRED_COLUMNS if c in frame.columns), PRED_COLUMNS[-1])
    _require(frame, path, ["fname", column], "--pred-column")
    frame = from_text_cells(frame, ["fname", column])
    _unique_fnames(frame, path)
    if any(isinstance(v, list) for v in frame[column]):
        raise UserError(f"{path}: column {column!r} holds lists; give one prediction per row")
    return dict(zip(frame["fname"], frame[column]))


def load_references(
    path: str, columns: str | None, max_mb: float = MAX_FILE_MB
) -> tuple[list[str], list[list[str]], list[str]]:
    """fnames, their reference lists, and the reference columns used."""
    frame = read_table(path, max_mb=max_mb, limit_key="--max-file-mb")
    if columns:
        names = [c.strip() for c in columns.split(",") if c.strip()]
    else:
        names = reference_columns(frame, "summary")
    if not names:
        raise UserError(
            f"{path}: no reference column (summary, summary1, ...); columns are "
            f"{', '.join(map(str, frame.columns))}; choose with --ref-columns"
        )
    _require(frame, path, ["fname", *names], "--ref-columns")
    frame = from_text_cells(frame, ["fname", *names])
    _unique_fnames(frame, path)
    if frame.empty:
        raise UserError(f"{path}: no rows; give a reference file with at least one example")
    return frame["fname"].tolist(), reference_lists(frame, names), names


def join(preds: dict[str, str], fnames: list[str], args) -> list[str]:
    """Predictions in reference order; missing ones are an error, extra ones a warning."""
    missing = [f for f in fnames if f not in preds]
    if missing:
        raise UserError(
            f"{args.pred}: no prediction for {len(missing)} of {len(fnames)} fnames in "
            f"{args.ref} ({_few(missing)}); add them or score against matching "
            "references"
        )
    extra = sorted(set(preds) - set(fnames))
    if extra:
        _warn(f"{args.pred}: {len(extra)} fname(s) not in {args.ref} ignored ({_few(extra)})")
    return [preds[f] for f in fnames]


def _warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def format_table(result: dict) -> str:
    """A fixed-width table, scores × 100."""
    lines = [
        f"{result['num_examples']} examples  tokenizer={result['tokenizer']}  aggregate={result['aggregate']}",
        f"{'metric':<10}{'precision':>10}{'recall':>10}{'fmeasure':>10}",
    ]
    for m in METRICS:
        cells = (f"{100 * result[m][k]:>10.2f}" for k in ("precision", "recall", "fmeasure"))
        lines.append(f"{m:<10}" + "".join(cells))
    lines.append(f"{'rouge_mean':<10}{result['rouge_mean']:>30.2f}  (mean of the three F1 x 100)")
    return "\n".join(lines)


def score_files(args: argparse.Namespace) -> dict:
    """Load, join and score; the result dict with the inputs recorded."""
    if args.stemmer and args.tokenizer != "rouge_score":
        _warn(f"--stemmer only affects --tokenizer rouge_score; ignored with {args.tokenizer}")
    preds = load_predictions(args.pred, args.pred_column, args.max_file_mb)
    fnames, refs, columns = load_references(args.ref, args.ref_columns, args.max_file_mb)
    predictions = join(preds, fnames, args)
    empty = [f for f, r in zip(fnames, refs) if not r]
    if empty:
        _warn(f"{args.ref}: {len(empty)} row(s) have no non-empty reference and score 0 ({_few(empty)})")
    result = RougeScorer(args.tokenizer, args.agg, args.stemmer).score(predictions, refs)
    result.update(use_stemmer=args.stemmer, pred=args.pred, ref=args.ref, ref_columns=columns)
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 on success, 2 on a user error (one line on stderr, no traceback)."""

    def score_and_print() -> None:  # the parser reports a bad argument as a UserError too
        args = build_parser().parse_args(argv)
        result = score_files(args)
        print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else format_table(result))

    return run_cli(score_and_print, PROG)
