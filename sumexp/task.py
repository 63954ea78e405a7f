"""The one task function: every single run and every sweep job goes through `run_experiment`."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sumexp.checks import check_config, check_model_limits, check_schedule
from sumexp.data.splits import Split, Splits, load_splits
from sumexp.errors import RunInterrupted
from sumexp.generation import generate_summaries, new_token_limit
from sumexp.run.distributed import is_main_process, world_size
from sumexp.run.record import config_hash, write_completed, write_running

if TYPE_CHECKING:  # the types alone: importing these modules here would import transformers before unsloth
    from omegaconf import DictConfig
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase
    from transformers.trainer_utils import TrainOutput

    from sumexp.backends.base import BuiltModel
    from sumexp.features_cache import EncodedSplits
    from sumexp.models.base_cache import Base
    from sumexp.models.fidelity import Fidelity
    from sumexp.training.evaluation import DevEvaluation, DevEvaluator
    from sumexp.training.trainer import SummarizationTrainer

log = logging.getLogger(__name__)


def run_experiment(cfg, run_dir: str | Path | None = None) -> dict:
    """Seed, load data, build, train, generate, score and write the results; returns the metrics."""
    started = time.perf_counter()
    run_dir = Path(run_dir) if run_dir else _hydra_run_dir()
    check_config(cfg)
    writer = is_main_process()  # data parallel: every rank trains and scores, rank 0 alone writes
    if writer:
        write_running(run_dir, cfg)
    splits = load_splits(cfg.data, cfg.seed)  # before the heavy imports: a data mistake fails in a second
    check_schedule(cfg, len(splits.train.ids), world_size())

    from sumexp.backends.matrix import select_backend
    from sumexp.run.console import quiet_libraries

    backend = select_backend(cfg)  # the compatibility matrix, before transformers loads: unsloth must come first
    quiet_libraries(cfg.verbose)  # imports transformers: after anything that must be imported before it
    from transformers import set_seed

    from sumexp.results.resources import reset_peak_memory

    set_seed(cfg.seed)
    reset_peak_memory()
    inputs = prepare_model_inputs(cfg, splits, run_dir)
    tokenizer, fidelity, model_config, base = inputs.tokenizer, inputs.fidelity, inputs.model_config, inputs.base
    built = backend.build(cfg, tokenizer, model_config, run_dir / "model", base.folder)
    encoded = encode(cfg, inputs, splits)
    evaluator = _dev_evaluator(cfg, tokenizer, encoded.dev_prompts, splits.dev.references)

    from sumexp.results.metrics import collect_metrics, untrained_metrics
    from sumexp.training.figures import training_metrics

    if cfg.train:
        fit = _fit(cfg, built.model, tokenizer, splits, encoded, evaluator, run_dir)
        model, best, training, history = (
            fit.trainer.model,
            _best_evaluation(fit),
            training_metrics(cfg, fit),
            fit.trainer.state.log_history,
        )
        if writer:
            _save_best_model(model, tokenizer, run_dir)
    else:  # the model as it is: a checkpoint already fine-tuned, or an instruct model zero-shot
        model, best, history = built.model, evaluator.evaluate(built.model, step=0), []
        training = untrained_metrics(cfg, evaluator)
    test_summaries = _predict(cfg, model, tokenizer, encoded.test_prompts)

    from sumexp.results.files import write_run_outputs
    from sumexp.results.metrics import summary_line

    run = RunParts(
        cfg,
        run_dir,
        splits,
        tokenizer,
        fidelity,
        model_config,
        built,
        model,
        encoded,
        best,
        time.perf_counter() - started,
        base,
    )
    metrics = collect_metrics(run, training)
    # Sweep bookkeeping: the fingerprint that lets a re-run skip this job, and where it ran.
    metrics.update(config_hash=config_hash(cfg), world_size=world_size(), pid=os.getpid())
    if writer:
        write_run_outputs(run_dir, metrics, splits, best.predictions, test_summaries, history)
        write_completed(run_dir, metrics)  # last: a completed record vouches for every file beside it
        if not cfg.keep_checkpoints:  # only now: until the record says completed, a resume needs them
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        print(summary_line(metrics), flush=True)
    return metrics


@dataclass
class ModelInputs:
    """What every backend of a run is built from: made once, in this order, by prepare_model_inputs."""

    tokenizer: PreTrainedTokenizerBase
    fidelity: Fidelity
    model_config: PretrainedConfig
    base: Base  # what the weights start from: checkpoint, random, or pretrained here


def prepare_model_inputs(cfg, splits: Splits, run_dir: Path) -> ModelInputs:
    """The tokenizer (checked against the data), the model config (checked against the run's lengths) and the base,
    as a run makes them; python -m sumexp.speed builds its backends from the same, so what it times is what a run
    trains. Seed first (transformers.set_seed): a scratch tokenizer and base depend on it."""
    from sumexp.models.base_cache import prepare_base
    from sumexp.models.fidelity import check_tokenizer, fidelity_sample
    from sumexp.models.loading import load_model_config, load_tokenizer

    tokenizer = load_tokenizer(cfg.model, training_texts(splits.train))
    fidelity = check_tokenizer(
        tokenizer, fidelity_sample(splits.train.dialogues, splits.train.first_references()), cfg.model
    )
    tokenizer.padding_side = "right"  # training batches; generation picks the side per family
    model_config = load_model_config(cfg.model, tokenizer)
    check_model_limits(cfg, model_config)  # before the weights load
    base = prepare_base(cfg, splits.train.dialogues, tokenizer, model_config, run_dir)  # dialogues, never summaries
    return ModelInputs(tokenizer, fidelity, model_config, base)


def encode(cfg, inputs: ModelInputs, splits: Splits) -> EncodedSplits:
    """The splits as the model reads them (cached in cache_dir)."""
    from sumexp.features import Encoder
    from sumexp.features_cache import encode_splits

    encoder = Encoder.from_config(cfg.model, inputs.tokenizer, inputs.model_config.is_encoder_decoder)
    return encode_splits(encoder, splits, cfg.cache_dir)


@dataclass
class RunParts:
    """What one run built and measured, for its metrics.json."""

    cfg: DictConfig
    run_dir: Path
    splits: Splits
    tokenizer: PreTrainedTokenizerBase
    fidelity: Fidelity
    model_config: PretrainedConfig
    built: BuiltModel  # requested and effective backend
    model: PreTrainedModel  # the weights the dev and test summaries came from
    encoded: EncodedSplits
    best: DevEvaluation
    seconds: float
    base: Base  # what the weights started from: checkpoint, random, or pretrained here


@dataclass
class Fit:
    trainer: SummarizationTrainer
    evaluator: DevEvaluator  # holds every evaluation's dev predictions and scores
    train_result: TrainOutput
    precision: str
    precision_note: str | None


def _dev_evaluator(cfg, tokenizer, prompts, references):
    from sumexp.score.rouge import RougeScorer
    from sumexp.training.evaluation import DevEvaluator

    return DevEvaluator(
        tokenizer,
        prompts=prompts,
        references=references,
        gen_cfg=cfg.generation,
        max_new_tokens=new_token_limit(cfg),
        batch_size=cfg.optim.eval_batch_size,
        scorer=RougeScorer(
            tokenizer=cfg.score.tokenizer, aggregate=cfg.score.aggregate, use_stemmer=cfg.score.use_stemmer
        ),
        progress=cfg.verbose,
    )


def _fit(cfg, model, tokenizer, splits: Splits, encoded, evaluator, run_dir: Path) -> Fit:
    """Build the Trainer on the encoded splits and train."""
    from sumexp.run.lineage import write_snapshot
    from sumexp.training.checkpoints import owes_evaluation, resume_checkpoint
    from sumexp.training.trainer import build_trainer, training_arguments

    precision, note, learning_rate = precision_and_rate(cfg)
    if note:
        log.warning(note)
    if cfg.report_to == "tensorboard":  # beside the results, not in checkpoints/ (removed after training)
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    checkpoints = run_dir / "checkpoints"
    resume_from = resume_checkpoint(cfg.resume, checkpoints)
    args = training_arguments(cfg, str(checkpoints), precision, learning_rate)
    if resume_from is None:  # a new lineage of checkpoints: record the config and data a resume must match
        write_snapshot(checkpoints, cfg, splits)
    else:  # the Trainer would score the resumed weights again, a second entry for a step already evaluated,
        # unless a stop saved them at an evaluation step before its evaluation
        args.eval_on_start = owes_evaluation(resume_from, args)
    trainer = build_trainer(cfg, model, tokenizer, encoded.train, encoded.dev, evaluator, args)
    if args.eval_on_start and resume_from is not None:
        trainer.owed_evaluation = str(resume_from)
    return Fit(trainer, evaluator, _train(cfg, trainer, checkpoints, resume_from), precision, note)


def precision_and_rate(cfg) -> tuple[str, str | None, float]:
    """The precision training runs in on this machine (and why it differs from the request), and the learning
    rate: optim.lr, or the model's family rate scaled by the backend's lr_scale."""
    import torch

    from sumexp.training.precision import resolve_precision

    cuda = torch.cuda.is_available()
    precision, note = resolve_precision(
        cfg.optim.precision, cfg.model.allow_fp16, cuda, cuda and torch.cuda.is_bf16_supported()
    )
    learning_rate = cfg.optim.lr if cfg.optim.lr is not None else cfg.model.learning_rate * cfg.backend.lr_scale
    return precision, note, learning_rate


def _train(cfg, trainer, checkpoints: Path, resume_from: str | None):
    """trainer.train(), resumed when asked; an interruption or out-of-memory error becomes a clear stop."""
    from sumexp.training.checkpoints import last_complete_checkpoint
    from sumexp.training.guards import InterruptOnSignal, is_out_of_memory, out_of_memory

    interrupt = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, InterruptOnSignal))
    try:
        result = trainer.train(resume_from_checkpoint=resume_from)
    except Exception as err:
        if is_out_of_memory(err):
            raise out_of_memory(cfg.optim) from None
        raise
    finally:
        interrupt.restore()
    if interrupt.signal_name:
        raise RunInterrupted(interrupt.signal_name, _optional_str(last_complete_checkpoint(checkpoints)))
    return result


def _optional_str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _best_evaluation(fit: Fit):
    """The dev evaluation of the weights training ended with: the Trainer has loaded the best
    checkpoint, whose summaries and scores were kept when it was evaluated, so no second pass."""
    state = fit.trainer.state
    step = state.best_global_step or state.global_step  # no best: the final weights
    evaluation = fit.evaluator.by_step.get(step)
    if evaluation is None:  # the final weights were never evaluated
        evaluation = fit.evaluator.evaluate(fit.trainer.model, step)
    return evaluation


def _predict(cfg, model, tokenizer, prompts: list[list[int]] | None) -> list[str] | None:
    from sumexp.results.memory import GENERATION

    if prompts is None:
        return None
    with GENERATION:  # the generation peak (GPU) in metrics.json
        return generate_summaries(
            model,
            tokenizer,
            prompts,
            cfg.generation,
            new_token_limit(cfg),
            cfg.optim.eval_batch_size,
            desc="test generate",
            progress=cfg.verbose,
        )


def _save_best_model(model, tokenizer, run_dir: Path) -> None:
    """The best weights and the tokenizer, loadable with from_pretrained: written beside model/ and renamed,
    so model/ is always whole (a kill while saving leaves a staging folder, removed by the next start).
    What the backend put in model/ when it built the model (an adapter's base/) moves along."""
    from sumexp.results.files import follow_umask

    staging, target = run_dir / f".model.{os.getpid()}", run_dir / "model"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    follow_umask(staging)
    for built in target.iterdir() if target.is_dir() else ():
        if not (staging / built.name).exists():
            os.replace(built, staging / built.name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def training_texts(split: Split) -> list[str]:
    """What a tiny model's tokenizer is trained on: the training dialogues and their summaries."""
    return split.dialogues + [ref for refs in split.references for ref in refs]


def _hydra_run_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)
