"""Dev evaluation by generation: summaries from the current weights, their ROUGE, every evaluation kept by
step; and what an evaluation leaves untouched (the RNG training draws from) or returns when a stop abandons it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sumexp.errors import EvaluationStopped
from sumexp.generation import generate_summaries
from sumexp.score.rouge import BEST_METRIC


@dataclass
class DevEvaluation:
    """One evaluation's dev summaries and their ROUGE, kept so the best one needs no second pass."""

    step: int
    predictions: list[str]
    scores: dict  # RougeScorer.score output: P/R/F on 0-1, rouge_mean on 0-100


class DevEvaluator:
    """Generates dev summaries with the current weights and scores them; keeps every evaluation by step."""

    def __init__(self, tokenizer, prompts, references, gen_cfg, max_new_tokens, batch_size, scorer, progress=False):
        self.tokenizer, self.prompts, self.references = tokenizer, prompts, references
        self.gen_cfg, self.max_new_tokens, self.batch_size = gen_cfg, max_new_tokens, batch_size
        self.scorer, self.progress = scorer, progress  # progress: the generate/tokenize/rouge bars (verbose)
        self.should_stop = None  # asked between batches: a stop abandons the evaluation (training.guards)
        self.by_step: dict[int, DevEvaluation] = {}  # a few KB each: dev summaries are short
        self.seconds = 0.0  # generation and scoring, every evaluation together

    def __call__(self, model, step: int) -> dict[str, float]:
        """ROUGE F1 of each kind and their mean, all on the 0-100 scale, for the Trainer's log."""
        evaluation = self.evaluate(model, step)
        f1 = {name: 100 * evaluation.scores[name]["fmeasure"] for name in ("rouge1", "rouge2", "rougeL")}
        return {**f1, BEST_METRIC: evaluation.scores[BEST_METRIC]}

    def evaluate(self, model, step: int) -> DevEvaluation:
        from sumexp.results.memory import GENERATION

        start = time.perf_counter()
        with GENERATION:
            predictions = generate_summaries(
                model,
                self.tokenizer,
                self.prompts,
                self.gen_cfg,
                self.max_new_tokens,
                self.batch_size,
                desc="dev generate",
                progress=self.progress,
                should_stop=self.should_stop,
            )
        if self.should_stop is not None and self.should_stop():
            raise EvaluationStopped("a stop was asked for before scoring")
        scores = self.scorer.score(predictions, self.references, progress=self.progress)
        self.by_step[step] = DevEvaluation(step, predictions, scores)
        self.seconds += time.perf_counter() - start
        return self.by_step[step]


def rng_untouched():
    """The global torch RNG (CPU and this process's GPU) as it was before, whatever runs inside.

    Each DataLoader iterator draws its base seed from the global RNG, even without workers, so every dev
    evaluation used to move the RNG that training's dropout masks come from: a run evaluated every 30
    steps trained another model than the same run evaluated once at the end.
    """
    import torch

    return torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else [])


def stopped_evaluation(prefix: str):
    """What an abandoned evaluation returns: scores no checkpoint can beat, and none is saved after it."""
    from transformers.trainer_utils import EvalLoopOutput

    metrics = {f"{prefix}_{name}": float("-inf") for name in ("rouge1", "rouge2", "rougeL", BEST_METRIC)}
    return EvalLoopOutput(
        predictions=None, label_ids=None, metrics={f"{prefix}_loss": float("nan"), **metrics}, num_samples=0
    )
