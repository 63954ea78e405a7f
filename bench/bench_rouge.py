"""Time sumexp's RougeScorer against a naive rouge-score loop on the Korean dev set (morphemes).

Run: python bench/bench_rouge.py [--rows N] [--tokenizer morpheme|...] [--repeat N] [--data DIR]

Predictions are a lead-3 baseline (the first three dialogue turns). References per row: the
dialogsum-ko summary, the dialogsum-ko-2024 summary of the same fname when present, and a third,
synthetic one (the first reference's sentences in reverse order) so rows have 3 references like the
competition's test set. Without ../shared/data the script says so and uses synthetic Korean text.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))  # run as a script, the repo root is not on sys.path

from sumexp.data.tables import read_table  # noqa: E402
from sumexp.score.rouge import METRICS, RougeScorer  # noqa: E402
from sumexp.score.tokenization import Tokenizer, get_kiwi  # noqa: E402


def real_rows(data: Path, rows: int) -> tuple[list[str], list[list[str]]] | None:
    """Lead-3 predictions and up to 3 references from the shared Korean dev files, if present."""
    ko, ko24 = data / "dialogsum-ko" / "dev.csv", data / "dialogsum-ko-2024" / "dev.csv"
    if not ko.is_file():
        print(f"{ko} not found: using synthetic Korean text instead of the dev set")
        return None
    frame = read_table(ko).head(rows)
    second = dict(zip(*read_table(ko24)[["fname", "summary"]].T.values)) if ko24.is_file() else {}
    if not second:
        print(f"{ko24} not found: rows get 2 references instead of 3")
    preds = [" ".join(d.splitlines()[:3]) for d in frame["dialogue"]]
    refs = [
        [s] + ([second[f]] if f in second else []) + [_reversed_sentences(s)]
        for f, s in zip(frame["fname"], frame["summary"])
    ]
    return preds, refs


def _reversed_sentences(text: str) -> str:
    """Same sentences, reverse order: a plausible extra reference with realistic vocabulary."""
    return " ".join(reversed([s for s in text.replace(". ", ".\n").splitlines() if s]))


def synthetic_rows(rows: int) -> tuple[list[str], list[list[str]]]:
    """Seeded random Korean sentences with placeholders, summary-sized."""
    rng = random.Random(0)
    words = (
        "#Person1#는",
        "#Person2#에게",
        "친구와",
        "영화를",
        "보러",
        "가기로",
        "했습니다.",
        "회의에서",
        "새로운",
        "계획을",
        "설명하고",
        "#PhoneNumber#로",
        "전화합니다.",
        "병원에",
        "예약을",
        "도와줍니다.",
    )
    text = lambda: " ".join(rng.choice(words) for _ in range(rng.randint(8, 25)))  # noqa: E731
    return [text() for _ in range(rows)], [[text() for _ in range(3)] for _ in range(rows)]


def naive(preds: list[str], refs: list[list[str]], tokenizer: str) -> dict:
    """rouge-score called pair by pair with the same tokenizer, F/P/R averaged the same way."""
    from rouge_score.rouge_scorer import RougeScorer as GoogleScorer

    google = GoogleScorer(list(METRICS), tokenizer=Tokenizer(tokenizer))
    totals = {m: [0.0, 0.0, 0.0] for m in METRICS}
    for pred, ref_list in zip(preds, refs):
        per_ref = [google.score(ref, pred) for ref in ref_list]
        for m in METRICS:
            for f in range(3):
                totals[m][f] += sum(s[m][f] for s in per_ref) / len(per_ref)
    return {m: [t / len(preds) for t in totals[m]] for m in METRICS}


def max_difference(ours: dict, theirs: dict) -> float:
    """Largest absolute difference over the 9 P/R/F numbers."""
    fields = ("precision", "recall", "fmeasure")
    return max(abs(ours[m][f] - theirs[m][i]) for m in METRICS for i, f in enumerate(fields))


def timed(fn, repeat: int):
    """Best wall time of `repeat` runs (the least disturbed by other processes) and the result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(t_naive: float, t_cold: float, t_warm: float, diff: float, rouge_mean: float) -> None:
    """Print times, ratios and the agreement check."""
    print(f"naive rouge-score loop : {t_naive:7.3f} s")
    print(f"sumexp RougeScorer     : {t_cold:7.3f} s first call, {t_warm:.3f} s with references cached")
    print(f"speed-up               : {t_naive / t_cold:7.1f}x first call, {t_naive / t_warm:.1f}x cached")
    print(f"max |difference|       : {diff:.3g} (rouge_mean {rouge_mean:.4f})")


def main() -> int:
    """Warm up, time both, check the numbers agree, print times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=499)
    parser.add_argument("--tokenizer", default="morpheme")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each timing")
    parser.add_argument("--data", type=Path, default=DATA, help=f"default: {DATA}")
    args = parser.parse_args()
    preds, refs = real_rows(args.data, args.rows) or synthetic_rows(args.rows)
    print(
        f"{len(preds)} predictions, {sum(len(r) for r in refs)} prediction-reference pairs, "
        f"tokenizer={args.tokenizer}, best of {args.repeat}"
    )
    if args.tokenizer == "morpheme":
        loaded, _ = timed(get_kiwi, 1)
        print(f"Kiwi load + warm-up (once per process, not timed below): {loaded:.2f} s")

    t_naive, theirs = timed(lambda: naive(preds, refs, args.tokenizer), args.repeat)
    # A fresh scorer each time: nothing cached yet, as at the first dev evaluation.
    t_cold, ours = timed(lambda: RougeScorer(args.tokenizer).score(preds, refs), args.repeat)
    scorer = RougeScorer(args.tokenizer)
    scorer.score(preds, refs)
    # References cached, predictions new to the scorer: every later epoch.
    t_warm, again = timed(lambda: scorer.score(preds, refs), args.repeat)

    diff = max(max_difference(ours, theirs), max_difference(again, theirs))
    report(t_naive, t_cold, t_warm, diff, ours["rouge_mean"])
    if diff > 1e-9:
        print("ERROR: sumexp and rouge-score disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
