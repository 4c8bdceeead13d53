"""Data that changes partway through training: a :class:`Drift` of the train labels.

On a task whose data never changes, a static recipe can be right from start to finish, and a
controller can at best pick it. A drift makes the train set change at a fixed point of the
budget, so the recipe that is best before it need not be best after it::

    drift = Drift(at=0.5, label_noise=0.3)   # from halfway on, 30 % of train labels flip
    envs.make(envs.Task.of("digits", drift=drift, ...))

The flips are drawn once per (image, class) from the drift's own seeded stream, so the
drifted labels are the same on every machine and a forked env drifts exactly as its parent.
Val and test stay clean: they measure the clean task.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs.engine.checks import require_in_range

_DRIFT_STREAM = 11
"""SeedSequence entry of the drift's label flips (apart from the generator's own streams)."""


@dataclass(frozen=True)
class Drift:
    """From ``at`` (a fraction of the budget) on, train labels flip with ``label_noise``."""

    at: float = 0.5
    """Where the drift starts, as a fraction of the training budget, in (0, 1) (both ends
    open: a drift at the start or at the end would be no drift)."""
    label_noise: float = 0.0
    """Probability that a train label entry flips from then on, in [0, 0.5]."""
    seed: int = 0
    """Seeds the flips (one draw per train image and class): an int in [0, inf)."""

    def __post_init__(self) -> None:
        require_in_range("Drift.at", self.at, 0.0, 1.0, low_open=True, high_open=True)
        require_in_range("Drift.label_noise", self.label_noise, 0.0, 0.5)
        require_in_range("Drift.seed", self.seed, 0, integer=True)

    def start_step(self, total_steps: int) -> int:
        """The first training iteration that sees the drifted labels."""
        return int(round(self.at * total_steps))

    def labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The drifted copy of multi-hot ``labels`` ``[N, K]`` (same dtype)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _DRIFT_STREAM]))
        flips = torch.from_numpy(rng.random(tuple(labels.shape)) < self.label_noise)
        return torch.where(flips, 1 - labels, labels)
