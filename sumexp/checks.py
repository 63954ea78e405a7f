"""Check a composed run config before anything heavy runs, reporting every problem at once."""

from __future__ import annotations

import importlib.util
import math

from sumexp.data.rows import on_bad_rows_problem
from sumexp.data.sources import holdout_problem, unknown_source
from sumexp.data.tables import unknown_encoding
from sumexp.errors import UserError
from sumexp.generation import new_token_limit
from sumexp.security.trust import remote_code_problems
from sumexp.training.precision import PRECISIONS
from sumexp.training.schedule import scheduler_kwargs, warmup_problem

MAX_SEED = 2**32 - 1
TRACKERS = {"none": None, "tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_config(cfg) -> None:
    """Raise one UserError listing every problem found, each naming its key and the fix."""
    from sumexp.score.rouge import TOKENIZERS

    problems = []
    if not cfg.model.checkpoint and cfg.model.scratch is None:
        problems.append(f"model={cfg.model.name}: set model.checkpoint (hub id or folder) or model.scratch")
    if cfg.model.checkpoint and cfg.model.scratch is not None:  # scratch wins: the record would name a model not run
        problems.append(
            f"model.checkpoint={cfg.model.checkpoint}: model={cfg.model.name} builds random weights from "
            f"model.scratch, so the checkpoint would not be loaded; add model.scratch=null to load it, "
            f"or drop model.checkpoint"
        )
    if "{dialogue}" not in cfg.model.prompt_template:
        problems.append("model.prompt_template: has no {dialogue} slot; add one")
    if cfg.optim.precision not in PRECISIONS:
        problems.append(f"optim.precision={cfg.optim.precision}: use one of {', '.join(PRECISIONS)}")
    if cfg.score.tokenizer not in TOKENIZERS:
        problems.append(f"score.tokenizer={cfg.score.tokenizer}: use one of {', '.join(TOKENIZERS)}")
    if cfg.score.aggregate not in ("mean", "max"):
        problems.append(f"score.aggregate={cfg.score.aggregate}: use mean or max")
    problems += _tracker_problems(cfg.report_to)
    problems += _backend_problems(cfg.backend)
    for key in ("batch_size", "eval_batch_size", "grad_accum"):
        if cfg.optim[key] < 1:
            problems.append(f"optim.{key}={cfg.optim[key]}: must be at least 1")
    if cfg.train and cfg.optim.max_steps <= 0 and cfg.optim.epochs == 0:
        problems.append("optim.epochs and optim.max_steps are both 0: set optim.epochs > 0 or optim.max_steps > 0")
    try:
        scheduler_kwargs(cfg.optim)
    except UserError as err:
        problems.append(str(err))
    problems += _number_problems(cfg) + _data_problems(cfg.data) + remote_code_problems(cfg.model)
    problems += unread_key_problems(cfg)
    if problems:
        raise UserError("; ".join(problems))


def check_model_limits(cfg, model_config) -> None:
    """Token lengths against the model's position limit, once its config is known and before weights load;
    and the scheduler, which only transformers (loaded by now) can name."""
    from sumexp.training.schedule import scheduler_problems

    limit = getattr(model_config, "max_position_embeddings", None)  # None: relative positions (T5)
    if isinstance(limit, int) and limit > 0:
        problems = _position_problems(cfg, model_config.is_encoder_decoder, limit)
        if problems:
            raise UserError(f"model={cfg.model.name}: " + "; ".join(problems))
    if cfg.train and (problems := scheduler_problems(cfg.optim)):
        raise UserError("; ".join(problems))


def _position_problems(cfg, is_encoder_decoder: bool, limit: int) -> list[str]:
    new_tokens = new_token_limit(cfg)
    if not is_encoder_decoder:  # the prompt and what is generated share the positions
        if cfg.model.max_source_length + new_tokens <= limit:
            return []
        return [
            f"model.max_source_length + generation.max_new_tokens = {cfg.model.max_source_length} + {new_tokens}: "
            f"above the model's {limit} positions; lower one so they fit"
        ]
    lengths = {
        "model.max_source_length": cfg.model.max_source_length,
        "model.max_target_length": cfg.model.max_target_length,
        "generation.max_new_tokens": cfg.generation.max_new_tokens or 0,
    }
    return [
        f"{key}={value}: above the model's {limit} positions; lower it to at most {limit}"
        for key, value in lengths.items()
        if value > limit
    ]


def _number_problems(cfg) -> list[str]:
    """Values that must be positive or in range; `not x > 0` also catches NaN."""
    lr_key, lr = (
        ("optim.lr", cfg.optim.lr) if cfg.optim.lr is not None else ("model.learning_rate", cfg.model.learning_rate)
    )
    problems = [] if 0 < lr < math.inf else [f"{lr_key}={lr}: must be above 0 and finite, e.g. {lr_key}=5e-5"]
    if not 0 <= cfg.seed <= MAX_SEED:  # numpy's generator takes 32-bit seeds only
        problems.append(f"seed={cfg.seed}: must be between 0 and {MAX_SEED}, e.g. seed=42")
    problems += _optim_problems(cfg.optim, cfg.train) + _generation_problems(cfg.generation)
    problems += _pretrain_problems(cfg.model.scratch.pretrain) if cfg.model.scratch is not None else []
    counts = {
        "model.max_source_length": cfg.model.max_source_length,
        "model.max_target_length": cfg.model.max_target_length,
        "generation.max_new_tokens": cfg.generation.max_new_tokens,
        "generation.num_beams": cfg.generation.num_beams,
        "data.max_train_samples": cfg.data.max_train_samples,
        "data.max_eval_samples": cfg.data.max_eval_samples,
        "optim.logging_steps": cfg.optim.logging_steps,
        "optim.eval_steps": cfg.optim.eval_steps,
    }
    return problems + [
        f"{key}={value}: must be at least 1" for key, value in counts.items() if value is not None and value < 1
    ]


def _pretrain_problems(pretrain) -> list[str]:
    """model.scratch.pretrain: counts, a finite rate and a seed numpy takes."""
    key = "model.scratch.pretrain"
    problems = [] if pretrain.steps >= 0 else [f"{key}.steps={pretrain.steps}: must be 0 (random weights) or more"]
    problems += [
        f"{key}.{name}={pretrain[name]}: must be at least 1, e.g. {key}.{name}={default}"
        for name, default in (("batch_size", 16), ("block_size", 128))
        if pretrain[name] < 1
    ]
    if not 0 < pretrain.learning_rate < math.inf:
        problems.append(f"{key}.learning_rate={pretrain.learning_rate}: must be above 0 and finite, e.g. 3e-3")
    if not 0 <= pretrain.seed <= MAX_SEED:
        problems.append(f"{key}.seed={pretrain.seed}: must be between 0 and {MAX_SEED}, e.g. {key}.seed=0")
    return problems


def _optim_problems(optim, train: bool) -> list[str]:
    problems = []
    if not optim.epochs >= 0:
        problems.append(
            f"optim.epochs={optim.epochs}: must be 0 or more (0 with optim.max_steps > 0), e.g. optim.epochs=3"
        )
    elif train and optim.max_steps <= 0 and optim.epochs == math.inf:
        problems.append(
            f"optim.epochs={optim.epochs}: must be a finite number of epochs, e.g. optim.epochs=10 "
            f"(early stopping still ends the run sooner), or set optim.max_steps"
        )
    if not optim.checkpoint_minutes >= 0:
        problems.append(
            f"optim.checkpoint_minutes={optim.checkpoint_minutes}: must be 0 or more (0: a checkpoint "
            f"every epoch), e.g. optim.checkpoint_minutes=10"
        )
    if problem := warmup_problem(optim.warmup):
        problems.append(problem)
    finite = {
        "optim.weight_decay": (optim.weight_decay, "0.01"),
        "optim.max_grad_norm": (optim.max_grad_norm, "1.0 (0: no clipping)"),
        "optim.early_stopping_threshold": (optim.early_stopping_threshold, "0.0"),
    }
    problems += [
        f"{key}={value}: must be a finite number, 0 or more, e.g. {key}={example}"
        for key, (value, example) in finite.items()
        if not 0 <= value < math.inf
    ]
    if optim.early_stopping_patience is not None and optim.early_stopping_patience < 0:
        problems.append(
            f"optim.early_stopping_patience={optim.early_stopping_patience}: must be 0 or more, or null to never stop early"
        )
    return problems


def _generation_problems(generation) -> list[str]:
    problems = []
    if generation.no_repeat_ngram_size < 0:
        problems.append(f"generation.no_repeat_ngram_size={generation.no_repeat_ngram_size}: must be 0 (off) or more")
    if not math.isfinite(generation.length_penalty):
        problems.append(f"generation.length_penalty={generation.length_penalty}: must be a finite number, e.g. 1.0")
    return problems


def _data_problems(data) -> list[str]:
    """The data package's own rules, asked before anything is read (the readers apply the same ones)."""
    found = [
        unknown_source(data.source),
        holdout_problem(data.holdout_when_no_train),
        on_bad_rows_problem(data.on_bad_rows),
        unknown_encoding(data.encoding),
        None if data.max_file_mb > 0 else f"data.max_file_mb={data.max_file_mb}: must be above 0, e.g. 1024",
    ]
    return [problem for problem in found if problem]


def _tracker_problems(report_to: str) -> list[str]:
    if report_to not in TRACKERS:
        return [f"report_to={report_to}: use one of {', '.join(TRACKERS)}"]
    package = TRACKERS[report_to]
    if package and importlib.util.find_spec(package) is None:
        return [
            f"report_to={report_to}: the {package} package is not installed; pip install {package}, or report_to=none"
        ]
    return []


def _backend_problems(backend) -> list[str]:
    from sumexp.backends.matrix import BACKENDS, unknown_backend

    unknown = unknown_backend(backend.name)
    if unknown:
        return [unknown]
    problems = []
    if BACKENDS[backend.name].adapters and backend.lora is None:
        problems.append(
            f"backend={backend.name}: backend.lora is null; adapters need r, alpha, dropout (see conf/backend/lora.yaml)"
        )
    if backend.lora is not None:
        if backend.lora.r < 1 or backend.lora.alpha <= 0:
            problems.append(f"backend.lora: r={backend.lora.r}, alpha={backend.lora.alpha}; both must be positive")
        if not 0 <= backend.lora.dropout < 1:
            problems.append(f"backend.lora.dropout={backend.lora.dropout}: must be in [0, 1)")
    quantization = backend.quantization
    if quantization is not None:
        if quantization.quant_type not in ("nf4", "fp4"):
            problems.append(f"backend.quantization.quant_type={quantization.quant_type}: use nf4 or fp4")
        if quantization.compute_dtype not in PRECISIONS:
            problems.append(
                f"backend.quantization.compute_dtype={quantization.compute_dtype}: use auto, bf16, fp16 or fp32"
            )
    return problems


def check_schedule(cfg, train_rows: int, processes: int = 1) -> None:
    """Refuse a schedule whose warm-up keeps the learning rate negligible until the run can end
    (optim.epochs=1e9 with a 10% warm-up: 10^8 epochs of warm-up, and early stopping ends it at ROUGE 0)."""
    from sumexp.training.schedule import NEGLIGIBLE_LR_SHARE, peak_lr_share

    if not cfg.train:
        return
    optim = cfg.optim
    batches = math.ceil(train_rows / (optim.batch_size * processes))
    steps_per_epoch = max(1, batches // optim.grad_accum)
    share, horizon, warmup = peak_lr_share(optim, steps_per_epoch)
    if share >= NEGLIGIBLE_LR_SHARE:
        return
    length = f"optim.max_steps={optim.max_steps}" if optim.max_steps > 0 else f"optim.epochs={optim.epochs:g}"
    if optim.warmup >= 1:
        fix = f"lower optim.warmup to a share of those steps, e.g. optim.warmup={max(1, horizon // 10)}"
    else:
        fix = (
            f"lower optim.epochs (early stopping ends a run sooner), or give optim.warmup as a step count, "
            f"e.g. optim.warmup={max(1, steps_per_epoch // 10)}"
        )
    raise UserError(
        f"optim.warmup={optim.warmup:g} with {length}: the warm-up lasts {warmup} steps, so the learning rate reaches "
        f"at most {share:.2g} of its peak in the {horizon} steps the run can take before it ends "
        f"({steps_per_epoch} steps an epoch); {fix}"
    )


def unread_key_problems(cfg) -> list[str]:
    """Keys added with `+` that nothing in sumexp reads (`+optim.lrr=0.5`): the run would record them and go on
    with the default. Secrets are the exception (`+hf_token=...`): named like one, they are read by the
    libraries that log in, and kept out of every file (docs/security.md)."""
    import dataclasses
    import difflib

    from omegaconf import DictConfig, OmegaConf

    from sumexp.security.secrets import is_secret_key

    def secret_only(node, key) -> bool:
        if isinstance(node, DictConfig):
            return all(secret_only(node._get_node(k), k) for k in node.keys())
        return is_secret_key(str(key))

    problems = []

    def walk(node: DictConfig, prefix: str) -> None:
        schema = OmegaConf.get_type(node)
        if not dataclasses.is_dataclass(schema):
            return  # a free-form mapping (optim.scheduler_kwargs, model.tokenizer_kwargs) takes any key
        fields = [f.name for f in dataclasses.fields(schema)]
        for key in node.keys():
            child = node._get_node(key)
            if key in fields:
                if isinstance(child, DictConfig):
                    walk(child, f"{prefix}{key}.")
            elif not secret_only(child, key):
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f"did you mean {prefix}{close[0]}? " if close else ""
                problems.append(
                    f"+{prefix}{key}: sumexp reads no such key; {hint}the keys of {prefix.rstrip('.') or 'the run'} "
                    f"are in docs/configuration.md"
                )

    walk(cfg, "")
    return problems
