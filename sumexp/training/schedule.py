"""Learning-rate schedule arguments (the metric's direction for schedulers that watch it) and how far a warm-up lets the lr rise."""

from __future__ import annotations

import math

from sumexp.errors import UserError

# These schedulers are stepped on dev ROUGE mean (higher is better); transformers builds them with
# mode="min" unless told, which cuts the learning rate while ROUGE is still rising.
METRIC_DIRECTED_SCHEDULERS = ("reduce_lr_on_plateau", "greedy")


def scheduler_kwargs(optim) -> dict:
    """optim.scheduler_kwargs, with mode="max" for a scheduler that watches the metric."""
    kwargs = dict(optim.scheduler_kwargs)
    if optim.scheduler in METRIC_DIRECTED_SCHEDULERS:
        if kwargs.get("mode", "max") != "max":
            raise UserError(
                f"optim.scheduler_kwargs.mode={kwargs['mode']}: {optim.scheduler} is stepped on dev ROUGE mean, "
                f"where higher is better; drop the key or set it to max"
            )
        kwargs["mode"] = "max"
    return kwargs


# Schedulers whose learning rate does not ramp up over optim.warmup (transformers ignores it for them).
NO_WARMUP_SCHEDULERS = ("constant", "reduce_lr_on_plateau", "greedy")
# Below this share of the peak learning rate the weights barely move: a run that never gets past it learns nothing.
NEGLIGIBLE_LR_SHARE = 0.01


def warmup_problem(warmup: float) -> str | None:
    """optim.warmup is a ratio of the training steps (< 1) or a step count (>= 1); anything else is a mistake."""
    if 0 <= warmup < 1 or (warmup >= 1 and float(warmup).is_integer() and warmup < float("inf")):
        return None
    return (
        f"optim.warmup={warmup}: must be a ratio of the training steps in [0, 1), e.g. optim.warmup=0.1, "
        f"or a whole number of steps, e.g. optim.warmup=100"
    )


def planned_steps(optim, steps_per_epoch: int) -> int:
    """Optimizer steps the schedule is laid out over, as the Trainer computes them."""
    if optim.max_steps > 0:
        return optim.max_steps
    return max(1, math.ceil(optim.epochs * steps_per_epoch))


def warmup_steps(optim, planned: int) -> int:
    return int(optim.warmup) if optim.warmup >= 1 else math.ceil(planned * optim.warmup)


def peak_lr_share(optim, steps_per_epoch: int) -> tuple[float, int, int]:
    """(the largest share of the peak lr the run can reach before it may end, that horizon in steps, the warm-up).

    The run may end at the planned steps or, with early stopping, after patience + 1 evaluations
    without a gain, which is what a run whose lr is still negligible gets.
    """
    planned = planned_steps(optim, steps_per_epoch)
    horizon = planned
    if optim.evaluate and optim.early_stopping_patience is not None:
        interval = optim.eval_steps or steps_per_epoch
        horizon = min(planned, (optim.early_stopping_patience + 1) * interval)
    warmup = 0 if optim.scheduler in NO_WARMUP_SCHEDULERS else warmup_steps(optim, planned)
    return (1.0 if warmup <= horizon else horizon / warmup), horizon, warmup


def scheduler_problems(optim) -> list[str]:
    """optim.scheduler and its kwargs against what transformers offers (imports transformers: call it late)."""
    import inspect

    from transformers.optimization import TYPE_TO_SCHEDULER_FUNCTION

    functions = {kind.value: function for kind, function in TYPE_TO_SCHEDULER_FUNCTION.items()}
    if optim.scheduler not in functions:
        return [f"optim.scheduler={optim.scheduler}: not a transformers scheduler; use one of {', '.join(functions)}"]
    parameters = inspect.signature(functions[optim.scheduler]).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return []
    taken = [
        name for name in parameters if name not in ("optimizer", "num_warmup_steps", "num_training_steps", "last_epoch")
    ]
    unknown = [key for key in scheduler_kwargs(optim) if key not in taken]
    if not unknown:
        return []
    return [
        f"optim.scheduler_kwargs: {', '.join(unknown)} not taken by the {optim.scheduler} scheduler; "
        f"it takes {', '.join(taken) or 'none'}"
    ]
