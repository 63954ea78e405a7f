"""The Trainer that fine-tunes, scores dev ROUGE by generation at every evaluation (training/evaluation.py) and
keeps the best, and its assembly: the arguments, the callbacks, the collator."""

from __future__ import annotations

import logging
import time

from transformers import (
    DataCollatorForSeq2Seq,
    EarlyStoppingCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from sumexp.errors import EvaluationStopped
from sumexp.features import IGNORE_INDEX
from sumexp.score.rouge import BEST_METRIC
from sumexp.training.evaluation import DevEvaluator, rng_untouched, stopped_evaluation
from sumexp.training.guards import (
    InterruptOnSignal,
    LogAtEverySave,
    SpaceOutCheckpoints,
    StopOnNonFiniteLoss,
    likely_cause,
)
from sumexp.training.meters import StepTimer
from sumexp.training.progress import ConsoleProgress
from sumexp.training.sampling import SeededLengthGroupedSampler
from sumexp.training.schedule import scheduler_kwargs

log = logging.getLogger(__name__)


class SummarizationTrainer(Trainer):
    """A Trainer whose evaluation adds generated-summary ROUGE to the dev loss, and that counts
    the tokens it trains on and the seconds it spends evaluating."""

    def __init__(self, *args, dev_evaluator: DevEvaluator, **kwargs):
        super().__init__(*args, **kwargs)
        self.dev_evaluator = dev_evaluator
        self.stop_guard = next(
            (cb for cb in self.callback_handler.callbacks if isinstance(cb, InterruptOnSignal)), None
        )
        if self.stop_guard is not None and dev_evaluator is not None:
            dev_evaluator.should_stop = self.stop_guard.stop_requested
        # Token counts of the optimizer steps, summed on the batches' device: reading them at every step
        # would make each step wait for the GPU to finish the one before.
        self._processed = None  # non-padding tokens through the model
        self._trained = None  # label tokens that enter the loss
        self.eval_seconds = 0.0  # dev loss, generation and scoring, every evaluation together
        # The checkpoint a resume starts from when a stop saved it before its step's evaluation (eval_on_start
        # then runs that evaluation): None otherwise.
        self.owed_evaluation: str | None = None

    # The two private transformers internals sumexp relies on, kept here and pinned by
    # tests/project/test_transformers_internals.py so that a transformers release that changes them fails loudly.
    @property
    def train_batch_size(self) -> int:
        """The per-device batch size training ran with; smaller than asked after auto_find_batch_size."""
        return self._train_batch_size

    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            return SeededLengthGroupedSampler(sampler.batch_size, lengths=sampler.lengths, seed=self.args.seed)
        return sampler

    def _evaluate(self, trial, ignore_keys_for_eval, skip_scheduler=False):
        """The Trainer's evaluation; the one a resume owes its first step also counts for the best model, as
        it did in the uninterrupted run (eval_on_start alone never does)."""
        metrics = super()._evaluate(trial, ignore_keys_for_eval, skip_scheduler)
        owed, self.owed_evaluation = self.owed_evaluation, None
        if owed is not None and f"eval_{BEST_METRIC}" in metrics and self._determine_best_metric(metrics, trial):
            self.state.best_model_checkpoint = owed  # saved at this very step, before the evaluation
        return metrics

    def training_step(self, model, inputs, num_items_in_batch=None):
        processed, trained = count_tokens(inputs, self.model.config.is_encoder_decoder)
        self._processed = processed if self._processed is None else self._processed + processed
        self._trained = trained if self._trained is None else self._trained + trained
        return super().training_step(model, inputs, num_items_in_batch)

    @property
    def tokens_processed(self) -> int:
        return 0 if self._processed is None else int(self._processed)

    @property
    def tokens_trained(self) -> int:
        return 0 if self._trained is None else int(self._trained)

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
        start = time.perf_counter()
        try:
            if self.stop_guard is not None and self.stop_guard.stop_requested():
                raise EvaluationStopped("a stop was asked for before the evaluation")
            with rng_untouched():
                # Loss only: logits of a whole dev set are large and the summaries come from generate().
                output = super().evaluation_loop(dataloader, description, True, ignore_keys, metric_key_prefix)
                scores = self.dev_evaluator(self.model, self.state.global_step)
        except EvaluationStopped:
            self.stop_guard.evaluation_stopped(self.control)
            return stopped_evaluation(metric_key_prefix)
        finally:
            self.eval_seconds += time.perf_counter() - start
        output.metrics.update({f"{metric_key_prefix}_{name}": value for name, value in scores.items()})
        return output


def count_tokens(batch, is_encoder_decoder: bool):
    """(processed, trained) tokens of a training batch, as tensors on the batch's device. Processed: the
    non-padding tokens through the model, the source plus the summary for an encoder-decoder (a causal
    model's labels are inside its input_ids already). Trained: the label tokens that enter the loss,
    the summary alone (a causal model's prompt is masked out of its labels)."""
    trained = (batch["labels"] != IGNORE_INDEX).sum()
    processed = batch["attention_mask"].sum()
    if is_encoder_decoder:
        processed = processed + trained
    return processed, trained


def training_arguments(cfg, output_dir: str, precision: str, learning_rate: float) -> TrainingArguments:
    import torch

    optim = cfg.optim
    strategy = "steps" if optim.eval_steps else "epoch"  # checkpoints (to resume) on the same schedule
    return TrainingArguments(
        output_dir=output_dir,
        eval_strategy=strategy if optim.evaluate else "no",
        save_strategy=strategy,
        eval_steps=optim.eval_steps,
        save_steps=optim.eval_steps,
        eval_on_start=optim.eval_on_start and optim.evaluate,
        # The newest checkpoint (to resume from) and the best one: at most two on disk. With a limit of 1
        # the Trainer deletes the newest at the end when it is not the best, which an interrupted run needs.
        save_total_limit=2,
        save_only_model=False,  # optimizer, scheduler and RNG states too: a resumed run continues exactly
        # Early stopping's count of evaluations without progress too: without it a resumed run starts counting
        # again and trains past the step where the uninterrupted run stopped.
        restore_callback_states_from_checkpoint=True,
        load_best_model_at_end=optim.evaluate,
        metric_for_best_model=BEST_METRIC if optim.evaluate else None,
        greater_is_better=True,
        learning_rate=learning_rate,
        weight_decay=optim.weight_decay,
        warmup_steps=optim.warmup,
        lr_scheduler_type=optim.scheduler,
        lr_scheduler_kwargs=scheduler_kwargs(optim),
        num_train_epochs=optim.epochs,
        max_steps=optim.max_steps,
        per_device_train_batch_size=optim.batch_size,
        train_sampling_strategy="group_by_length" if optim.group_by_length else "random",
        auto_find_batch_size=optim.auto_find_batch_size,  # halve the batch after an out-of-memory error
        per_device_eval_batch_size=optim.eval_batch_size,
        gradient_accumulation_steps=optim.grad_accum,
        gradient_checkpointing=optim.gradient_checkpointing,
        max_grad_norm=optim.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        logging_steps=optim.logging_steps,
        report_to=cfg.report_to,
        seed=cfg.seed,
        dataloader_pin_memory=torch.cuda.is_available(),  # pinning needs an accelerator
    )


def guard_callbacks(cfg, args: TrainingArguments) -> list[TrainerCallback]:
    """The run's guards, in the order they must see each step: checkpoints are spaced out before a
    signal can ask for one, and the loss is logged at whichever checkpoint is left."""
    precision = "fp16" if args.fp16 else "bf16" if args.bf16 else "fp32"
    guards = [StopOnNonFiniteLoss(likely_cause(precision, args.learning_rate, cfg.model.learning_rate))]
    # With evaluation on, every checkpoint may become the best one, which the Trainer reloads at the end;
    # kept checkpoints are asked for one per epoch.
    if not cfg.optim.evaluate and not cfg.keep_checkpoints:
        guards.append(SpaceOutCheckpoints(60 * cfg.optim.checkpoint_minutes))
    return [*guards, InterruptOnSignal(), LogAtEverySave()]


def build_trainer(cfg, model, tokenizer, train_set, dev_set, evaluator, args: TrainingArguments):
    """The trainer with early stopping, step timing and logged progress wired in."""
    from sumexp.training.meters import TrainingMeasurements

    callbacks = [StepTimer(), TrainingMeasurements(), *guard_callbacks(cfg, args)]
    if cfg.optim.early_stopping_patience is not None and cfg.optim.evaluate:
        callbacks.append(EarlyStoppingCallback(cfg.optim.early_stopping_patience, cfg.optim.early_stopping_threshold))
    trainer = SummarizationTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE_INDEX, padding=True),
        processing_class=tokenizer,
        callbacks=callbacks,
        dev_evaluator=evaluator,
    )
    trainer.remove_callback(ProgressCallback)  # its bars and its printed log dicts: ConsoleProgress instead
    trainer.add_callback(ConsoleProgress)
    return trainer
