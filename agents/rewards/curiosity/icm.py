"""Intrinsic Curiosity Module (Pathak et al. 2017) as a PettingZoo reward wrapper.

An encoder maps a training state to features phi(s). An *inverse* model predicts the
joint action from (phi(s), phi(s')), which makes phi keep what the agents' choices
affect; a *forward* model predicts phi(s') from (phi(s), joint action one-hot). The
bonus is the forward model's error, ``0.5 * mean((f(phi(s), a) - phi(s'))^2)``
(the paper's eta/2 ||.||^2; scale is removed by the normalisation in
``agents.rewards.curiosity.base``). The loss is ``(1 - w) * inverse + w * forward`` with
``w = forward_weight`` (paper: 0.2).

The forward loss does not back-propagate into phi(s') (it is detached): otherwise it
can shrink the features until every next state is trivially predictable.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from pettingzoo import ParallelEnv
from torch.nn import functional as F

from agents.common import mlp
from agents.rewards.curiosity.base import (CuriosityConfig, CuriosityModel, CuriosityWrapper,
                                           TransitionBatch)
from agents.errors import AgentConfigError
from envs.checks import require_in_range


@dataclass(frozen=True)
class ICMConfig(CuriosityConfig):
    """Hyperparameters of the ICM wrapper."""

    forward_weight: float = 0.2
    """Weight of the forward loss against the inverse loss (Pathak et al.'s beta), in [0, 1]."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_in_range("forward_weight", self.forward_weight, 0.0, 1.0,
                         error=AgentConfigError)


class ICMModel(CuriosityModel):
    """Encoder, forward model and one inverse-model head per agent."""

    def __init__(self, obs_dim: int, action_sizes: list[int], config: ICMConfig,
                 generator: torch.Generator) -> None:
        super().__init__()
        h, k, n = config.hidden, config.feature_dim, sum(action_sizes)
        self.action_sizes = list(action_sizes)
        self.forward_weight = config.forward_weight
        self.encoder = mlp([obs_dim, h, k], generator)
        self.forward_model = mlp([k + n, h, k], generator)
        self.inverse_model = mlp([2 * k, h, n], generator)

    def _forward_error(self, batch: TransitionBatch) -> torch.Tensor:
        phi, phi_next = self.encoder(batch.obs), self.encoder(batch.next_obs)
        predicted = self.forward_model(torch.cat([phi, batch.onehot], dim=-1))
        return 0.5 * (predicted - phi_next.detach()).pow(2).mean(dim=-1)

    def error(self, batch: TransitionBatch) -> torch.Tensor:
        return self._forward_error(batch)

    def loss(self, batch: TransitionBatch) -> torch.Tensor:
        phi, phi_next = self.encoder(batch.obs), self.encoder(batch.next_obs)
        logits = self.inverse_model(torch.cat([phi, phi_next], dim=-1))
        inverse = torch.stack([
            F.cross_entropy(part, batch.actions[:, i], ignore_index=-1)
            for i, part in enumerate(logits.split(self.action_sizes, dim=-1))
            if bool((batch.actions[:, i] >= 0).any())]).mean()
        forward = self._forward_error(batch).mean()
        return (1.0 - self.forward_weight) * inverse + self.forward_weight * forward


class ICMWrapper(CuriosityWrapper):
    """Adds ``beta * normalised ICM forward error`` to every agent's reward."""

    kind = "icm"

    def __init__(self, env: ParallelEnv, *, seed: int, config: ICMConfig | None = None) -> None:
        super().__init__(env, seed=seed, config=config or ICMConfig())

    def build_model(self, obs_dim: int, action_sizes: list[int],
                    generator: torch.Generator) -> ICMModel:
        assert isinstance(self.config, ICMConfig)
        return ICMModel(obs_dim, action_sizes, self.config, generator)
