"""The order of training batches: length-grouped, and the same in a resumed run as in an uninterrupted one."""

from __future__ import annotations

from transformers.trainer_pt_utils import LengthGroupedSampler


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches in an order fixed by (seed, epoch), as accelerate fixes the plain shuffle.

    transformers' LengthGroupedSampler draws from the global RNG when an epoch starts; a resumed run
    has restored that RNG to the checkpoint's state, so its interrupted epoch would go on in another
    order and the result would differ from an uninterrupted run.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        import torch

        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it at the start of every epoch
        self.generator.manual_seed(self.seed + epoch)
