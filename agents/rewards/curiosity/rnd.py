"""Random Network Distillation (Burda et al. 2018) as a PettingZoo reward wrapper.

A fixed, randomly initialised *target* network embeds the next training state; a
*predictor* network is trained to match it. States seen often are predicted well, so
the prediction error is a novelty bonus (see ``agents.rewards.curiosity.base`` for how it is
normalised and added). Observations are not re-normalised as in the paper: the
environment already scales them to [-1, 1].
"""
from __future__ import annotations

import torch
from pettingzoo import ParallelEnv

from agents.common import mlp
from agents.rewards.curiosity.base import (CuriosityConfig, CuriosityModel, CuriosityWrapper,
                                           TransitionBatch)


class RNDModel(CuriosityModel):
    """Frozen random target and trained predictor, both ``obs -> feature_dim``."""

    def __init__(self, obs_dim: int, hidden: int, feature_dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.target = mlp([obs_dim, hidden, feature_dim], generator).requires_grad_(False)
        # A deeper predictor than target, as in the paper, so it can fit the target.
        self.predictor = mlp([obs_dim, hidden, hidden, feature_dim], generator)

    def error(self, batch: TransitionBatch) -> torch.Tensor:
        return (self.predictor(batch.next_obs) - self.target(batch.next_obs)).pow(2).mean(dim=-1)

    def loss(self, batch: TransitionBatch) -> torch.Tensor:
        return self.error(batch).mean()


class RNDWrapper(CuriosityWrapper):
    """Adds ``beta * normalised RND error of the next state`` to every agent's reward."""

    kind = "rnd"

    def __init__(self, env: ParallelEnv, *, seed: int, config: CuriosityConfig | None = None) -> None:
        super().__init__(env, seed=seed, config=config or CuriosityConfig())

    def build_model(self, obs_dim: int, action_sizes: list[int],
                    generator: torch.Generator) -> RNDModel:
        return RNDModel(obs_dim, self.config.hidden, self.config.feature_dim, generator)
