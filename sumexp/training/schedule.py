"""Learning-rate schedule arguments, with the direction of the metric for schedulers that watch it."""
from __future__ import annotations

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
