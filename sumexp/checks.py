"""Check a composed run config before anything heavy runs, reporting every problem at once."""
from __future__ import annotations

import importlib.util

from sumexp.errors import UserError
from sumexp.training.schedule import scheduler_kwargs
from sumexp.training.precision import PRECISIONS

DATA_SOURCES = ("sample", "files", "hf")
TRACKERS = {"none": None, "tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_config(cfg) -> None:
    """Raise one UserError listing every problem found, each naming its key and the fix."""
    from sumexp.scoring.rouge import TOKENIZERS

    problems = []
    if not cfg.model.checkpoint and cfg.model.scratch is None:
        problems.append(f"model={cfg.model.name}: set model.checkpoint (hub id or folder) or model.scratch")
    if "{dialogue}" not in cfg.model.prompt_template:
        problems.append("model.prompt_template: has no {dialogue} slot; add one")
    if cfg.optim.precision not in PRECISIONS:
        problems.append(f"optim.precision={cfg.optim.precision}: use one of {', '.join(PRECISIONS)}")
    if cfg.data.source not in DATA_SOURCES:
        problems.append(f"data.source={cfg.data.source}: use one of {', '.join(DATA_SOURCES)}")
    if cfg.score.tokenizer not in TOKENIZERS:
        problems.append(f"score.tokenizer={cfg.score.tokenizer}: use one of {', '.join(TOKENIZERS)}")
    if cfg.score.aggregate not in ("mean", "max"):
        problems.append(f"score.aggregate={cfg.score.aggregate}: use mean or max")
    problems += _tracker_problems(cfg.report_to)
    problems += _backend_problems(cfg.backend)
    for key in ("batch_size", "eval_batch_size", "grad_accum"):
        if cfg.optim[key] < 1:
            problems.append(f"optim.{key}={cfg.optim[key]}: must be at least 1")
    if cfg.optim.max_steps <= 0 and cfg.optim.epochs <= 0:
        problems.append("optim.epochs and optim.max_steps are both 0: set optim.epochs > 0 or optim.max_steps > 0")
    try:
        scheduler_kwargs(cfg.optim)
    except UserError as err:
        problems.append(str(err))
    if problems:
        raise UserError("; ".join(problems))


def _tracker_problems(report_to: str) -> list[str]:
    if report_to not in TRACKERS:
        return [f"report_to={report_to}: use one of {', '.join(TRACKERS)}"]
    package = TRACKERS[report_to]
    if package and importlib.util.find_spec(package) is None:
        return [f"report_to={report_to}: the {package} package is not installed; pip install {package}, or report_to=none"]
    return []


def _backend_problems(backend) -> list[str]:
    from sumexp.backends.matrix import MATRIX

    problems = []
    if backend.name not in MATRIX:
        problems.append(f"backend.name={backend.name}: not in the backend matrix; use one of {', '.join(MATRIX)}")
    if backend.name != "full" and backend.lora is None:
        problems.append(f"backend={backend.name}: backend.lora is null; adapters need r, alpha, dropout (see conf/backend/lora.yaml)")
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
            problems.append(f"backend.quantization.compute_dtype={quantization.compute_dtype}: use auto, bf16, fp16 or fp32")
    return problems
