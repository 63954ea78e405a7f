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
