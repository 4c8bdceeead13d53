"""Shuffled mini-batch indices drawn from an explicit generator, with resumable state.

Training runs in segments whose length need not be a multiple of an epoch, so the
sampler keeps a cursor into the current epoch's permutation. The last partial batch
of an epoch is dropped (a batch of one breaks BatchNorm, and equal batch sizes keep
per-step costs comparable).
"""
from __future__ import annotations

from typing import Any

import torch


class BatchSampler:
    """Yields index batches of a fixed size, reshuffling each epoch."""

    def __init__(self, num_samples: int, batch_size: int, generator: torch.Generator) -> None:
        if num_samples < 1 or batch_size < 1 or batch_size > num_samples:
            raise ValueError(f"need 1 <= batch_size ({batch_size}) <= num_samples ({num_samples})")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.generator = generator
        self._perm = torch.randperm(num_samples, generator=generator)
        self._cursor = 0
        self.epoch = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    def next_batch(self) -> torch.Tensor:
        """The next batch of indices (a CPU LongTensor)."""
        if self._cursor + self.batch_size > self.num_samples:
            self._perm = torch.randperm(self.num_samples, generator=self.generator)
            self._cursor = 0
            self.epoch += 1
        batch = self._perm[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self._perm.clone(), "cursor": self._cursor, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._perm = state["perm"].clone()
        self._cursor = int(state["cursor"])
        self.epoch = int(state["epoch"])
