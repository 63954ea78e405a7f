"""ROUGE-1/2/L F1 with selectable tokenization, multi-reference aggregation and a token cache.

The arithmetic is rouge-score's (google-research), so `tokenizer="rouge_score"` reproduces that
package exactly and the Korean modes equal rouge-score fed the same token lists (docs/metrics.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sumexp.score.tokenization import TOKENIZERS, Tokenizer, check_choice, progress_bar

__all__ = ["RougeScorer", "score_rouge", "TOKENIZERS", "AGGREGATES", "METRICS", "PER_EXAMPLE", "lcs_length"]

AGGREGATES = ("mean", "max")
METRICS = ("rouge1", "rouge2", "rougeL")
BEST_METRIC = "rouge_mean"  # the mean of the three F1 (0-100): picks the checkpoint, drives early stopping
_FIELDS = ("precision", "recall", "fmeasure")
PER_EXAMPLE = "per_example"  # result key: each example's F1 per metric (0-1), whose means are the corpus F1


class _Text:
    """One tokenized text with what the three metrics need, computed once and reused."""

    __slots__ = ("tokens", "unigrams", "bigrams", "masks")

    def __init__(self, tokens: Sequence[str]):
        self.tokens = tuple(tokens)
        self.unigrams = Counter(self.tokens)
        self.bigrams = Counter(zip(self.tokens, self.tokens[1:]))
        masks: dict[str, int] = {}
        for i, token in enumerate(self.tokens):
            masks[token] = masks.get(token, 0) | (1 << i)
        self.masks = masks


def lcs_length(masks: dict[str, int], length: int, tokens: Sequence[str]) -> int:
    """LCS length of a sequence (given as token→position bitmask) and `tokens`.

    Bit-parallel (Allison–Dix / Hyyrö 2004): one big-int step per token instead of
    rouge-score's O(n·m) Python table; zero bits of `v` count the LCS.
    """
    full = (1 << length) - 1
    v = full
    for token in tokens:
        match = masks.get(token)
        if match:  # no match leaves v unchanged
            u = v & match
            v = ((v + u) | (v - u)) & full
    return length - v.bit_count()


def _overlap(a: Counter, b: Counter) -> int:
    """Clipped n-gram matches: sum of min counts over shared n-grams."""
    return sum(min(a[k], b[k]) for k in a.keys() & b.keys())


def _prf(hits: int, pred_count: int, ref_count: int, fmeasure) -> tuple[float, float, float]:
    """rouge-score's n-gram arithmetic (max(count, 1) guards empty texts)."""
    precision = hits / max(pred_count, 1)
    recall = hits / max(ref_count, 1)
    return precision, recall, fmeasure(precision, recall)


def _pair(pred: _Text, ref: _Text, fmeasure) -> tuple[tuple[float, float, float], ...]:
    """(P, R, F) for rouge1, rouge2, rougeL of one prediction against one reference."""
    n_pred, n_ref = len(pred.tokens), len(ref.tokens)
    r1 = _prf(_overlap(pred.unigrams, ref.unigrams), n_pred, n_ref, fmeasure)
    r2 = _prf(_overlap(pred.bigrams, ref.bigrams), max(n_pred - 1, 0), max(n_ref - 1, 0), fmeasure)
    if not n_pred or not n_ref:  # rouge-score's rule: empty side → all zero
        return r1, r2, (0.0, 0.0, 0.0)
    lcs = lcs_length(ref.masks, n_ref, pred.tokens)
    precision, recall = lcs / n_pred, lcs / n_ref
    return r1, r2, (precision, recall, fmeasure(precision, recall))


def _aggregate(per_ref: list, how: str) -> list[tuple[float, float, float]]:
    """Per metric: mean of each of P/R/F over references, or the reference with the best F."""
    out = []
    for m in range(len(METRICS)):
        scores = [ref_scores[m] for ref_scores in per_ref]
        if how == "max":
            best = max(range(len(scores)), key=lambda i: scores[i][2])  # first of ties, like argmax
            out.append(scores[best])
        else:
            out.append(tuple(sum(s[f] for s in scores) / len(scores) for f in range(3)))
    return out


def _as_reference_lists(references) -> list[list[str]]:
    """Accept one string or a list of strings per example; no reference counts as one empty one."""
    rows = []
    for refs in references:
        refs = [refs] if isinstance(refs, str) else list(refs)
        rows.append(refs or [""])
    return rows


class RougeScorer:
    """Scores predictions against 1..N references; keeps the references' tokens between calls."""

    def __init__(self, tokenizer: str = "morpheme", aggregate: str = "mean", use_stemmer: bool = False):
        self.tokenizer = Tokenizer(tokenizer, use_stemmer)
        self.aggregate = check_choice(aggregate, AGGREGATES, "aggregate")
        self._cache: dict[str, _Text] = {}

    def _tokenized(self, refs: list[str], preds: list[str], progress: bool) -> dict[str, _Text]:
        """Token data for every distinct text: uncached ones go to the tokenizer as one batch."""
        texts = dict.fromkeys(refs + preds)
        todo = [t for t in texts if t not in self._cache]
        tokens = self.tokenizer.tokenize_batch(todo, progress) if todo else []
        new = dict(zip(todo, map(_Text, tokens)))
        # Keep references only: they recur every epoch, predictions mostly do not.
        self._cache.update((t, new[t]) for t in dict.fromkeys(refs) if t in new)
        return {t: self._cache.get(t) or new[t] for t in texts}

    def score(self, predictions: Sequence[str], references, progress: bool = False) -> dict:
        """Corpus ROUGE: per-example aggregate over references, then the mean over examples.

        The result also holds each example's F1 under PER_EXAMPLE: the corpus F1 is their mean, so
        per-example figures (dev_predictions.csv, the bootstrap) average to the run's own numbers.
        """
        from rouge_score.scoring import fmeasure

        predictions = list(predictions)
        references = _as_reference_lists(references)
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions, {len(references)} reference lists")
        texts = self._tokenized([r for refs in references for r in refs], predictions, progress)
        totals = [[0.0, 0.0, 0.0] for _ in METRICS]
        f1 = {metric: [] for metric in METRICS}
        examples = progress_bar(zip(predictions, references), progress, len(predictions), "rouge")
        for pred, refs in examples:
            per_ref = [_pair(texts[pred], texts[r], fmeasure) for r in refs]
            for metric, total, prf in zip(METRICS, totals, _aggregate(per_ref, self.aggregate)):
                f1[metric].append(prf[2])
                for f in range(3):
                    total[f] += prf[f]
        return {**self._result(totals, len(predictions)), PER_EXAMPLE: f1}

    def _result(self, totals: list[list[float]], count: int) -> dict:
        """The result dict: corpus means as plain floats, rouge_mean on the 0–100 scale."""
        result: dict = {
            metric: {name: total[f] / count if count else 0.0 for f, name in enumerate(_FIELDS)}
            for metric, total in zip(METRICS, totals)
        }
        result["rouge_mean"] = float(sum(result[m]["fmeasure"] for m in METRICS) / 3 * 100)
        result.update(tokenizer=self.tokenizer.name, aggregate=self.aggregate, num_examples=count)
        return result


def score_rouge(
    predictions,
    references,
    tokenizer: str = "morpheme",
    aggregate: str = "mean",
    use_stemmer: bool = False,
    progress: bool = False,
) -> dict:
    """One-shot convenience: a fresh RougeScorer(...).score(...)."""
    scorer = RougeScorer(tokenizer=tokenizer, aggregate=aggregate, use_stemmer=use_stemmer)
    return scorer.score(predictions, references, progress=progress)
