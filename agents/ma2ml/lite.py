"""``ma2ml-lite``: the MA2ML ablation without a critic: REINFORCE with a state-value baseline.

Every agent's policy is pushed by the *same* advantage ``G_t - V(s_t)``: no joint-action
critic, no counterfactual credit, no replay. It is on-policy: each transition is used
once, as soon as its return is known, then dropped.

Returns over short horizons, per step: an episode of ~25 decisions would give a run of
25-100 decisions only 1-4 updates, so each transition's return is the discounted sum of
its next ``horizon`` rewards, ``G_t = sum_{k < h} gamma^k r_{t+k}`` (fewer at the episode's
end). A transition is learned from as soon as its ``horizon`` rewards (or the episode's
end) are in: one update per step in mid-episode. ``V`` is only a baseline, never
bootstrapped into ``G`` (that would make it an actor-critic); with ``gamma=0.5`` the
rewards cut off beyond 5 steps weigh 3%. ``horizon=None`` waits for the episode's end:
plain REINFORCE.

The settings and the reward source are those of ``ma2ml`` (see its docstring); in the
pipeline setting every transition ends its episode, so ``G`` is the final val mAP.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo import ParallelEnv
from torch import nn
from torch.nn import functional as F

from agents.base import Transition
from agents.common import generator_state, set_generator_state
from agents.errors import AgentConfigError, ControllerCheckpointError
from agents.common import load_file, load_module, load_optimizer, mlp
from agents.ma2ml.policy_team import PolicyTeamConfig, PolicyTeamController
from envs.checks import require_in_range, require_optional_in_range

BASELINE_FILE = "baseline.pt"


@dataclass(frozen=True)
class MA2MLLiteConfig(PolicyTeamConfig):
    """Hyperparameters of ``ma2ml-lite``."""

    baseline_lr: float = 3e-3
    """Adam learning rate of the state-value baseline, in (0, inf)."""
    horizon: int | None = 5
    """Rewards summed into each return, an int in [1, inf); None: to the episode's end
    (plain REINFORCE)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        e = AgentConfigError
        require_in_range("baseline_lr", self.baseline_lr, 0.0, low_open=True, error=e)
        require_optional_in_range("horizon", self.horizon, 1, integer=True, error=e)


class MA2MLLiteController(PolicyTeamController):
    """Per-agent policies, one shared REINFORCE advantage, a learned ``V(s)`` baseline."""

    name = "ma2ml-lite"
    config_class = MA2MLLiteConfig
    config: MA2MLLiteConfig

    def __init__(self, env: ParallelEnv, *, seed: int,
                 config: MA2MLLiteConfig | None = None) -> None:
        super().__init__(env, config or MA2MLLiteConfig(), seed)
        c = self.config
        self.baseline = mlp([self.state_dim, *c.hidden, 1],
                            torch.Generator().manual_seed(self.seeds[2]))
        self.baseline_optimizer = torch.optim.Adam(self.baseline.parameters(), lr=c.baseline_lr,
                                                   foreach=True)
        self.pending: list[dict[str, Any]] = []
        """Transitions of the running episode still waiting for rewards: state, actions, rewards."""

    # -------------------------------------------------------------- learning
    def observe(self, transition: Transition) -> dict[str, float]:
        state, joint, reward, _, done = self.unpack(transition)
        if not self.training:
            return {}
        self.pending.append({"state": state, "actions": joint, "rewards": []})
        for entry in self.pending:
            entry["rewards"].append(reward)
        horizon = self.config.horizon
        ready = [e for e in self.pending
                 if done or (horizon is not None and len(e["rewards"]) >= horizon)]
        self.pending = [e for e in self.pending if not any(e is r for r in ready)]
        return self._update(ready) if ready else {}

    def _update(self, ready: list[dict[str, Any]]) -> dict[str, float]:
        discounts = [self.config.gamma ** k for k in range(max(len(e["rewards"]) for e in ready))]
        returns = torch.tensor([sum(d * r for d, r in zip(discounts, e["rewards"])) for e in ready],
                               dtype=torch.float32)
        states = torch.from_numpy(np.stack([e["state"] for e in ready]))
        actions = torch.from_numpy(np.stack([e["actions"] for e in ready]))
        logs = self._baseline_step(states, returns)
        with torch.no_grad():
            advantage = returns - self.baseline(states).squeeze(-1)
        logits = self.policy_logits(states)
        surrogates = {
            a: advantage * torch.log_softmax(logits[a], -1).gather(1, actions[:, i, None])[:, 0]
            for i, a in enumerate(self.agents)}
        logs.update(self.policy_step(states, logits, surrogates))
        logs.update({f"agent/{a}/advantage": float(advantage.mean()) for a in self.agents})
        return logs

    def _baseline_step(self, states: torch.Tensor, returns: torch.Tensor) -> dict[str, float]:
        value = self.baseline(states).squeeze(-1)
        loss = F.mse_loss(value, returns)
        self.baseline_optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.baseline.parameters(), self.config.max_grad_norm,
                                 foreach=True)
        self.baseline_optimizer.step()
        return {"baseline/loss": loss.item(), "baseline/value_mean": value.mean().item()}

    # ------------------------------------------------------------ checkpoint
    def _baseline_state(self) -> dict[str, Any]:
        return {"baseline": copy.deepcopy(self.baseline.state_dict()),
                "baseline_optimizer": copy.deepcopy(self.baseline_optimizer.state_dict())}

    def _load_baseline_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.baseline, state["baseline"], "baseline")
        load_optimizer(self.baseline_optimizer, state["baseline_optimizer"], "baseline optimizer")

    def _state(self) -> dict[str, Any]:
        pending = {"states": torch.from_numpy(np.stack([e["state"] for e in self.pending]))
                   if self.pending else torch.zeros(0, self.state_dim),
                   "actions": torch.from_numpy(np.stack([e["actions"] for e in self.pending]))
                   if self.pending else torch.zeros(0, len(self.agents), dtype=torch.int64),
                   "rewards": [list(e["rewards"]) for e in self.pending]}
        return {**self.policy_state(), **self._baseline_state(), "pending": pending,
                "rngs": {"act": generator_state(self.act_rng)}}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.load_policy_state(state)
        self._load_baseline_state(state)
        pending = state["pending"]
        if pending["states"].shape[1:] != (self.state_dim,):
            raise ControllerCheckpointError(
                f"pending states of shape {tuple(pending['states'].shape)} do not fit state "
                f"dimension {self.state_dim}")
        rows = zip(pending["states"], pending["actions"], pending["rewards"])
        self.pending = [{"state": s.numpy().copy(), "actions": a.numpy().copy(), "rewards": list(r)}
                        for s, a, r in rows]
        set_generator_state(self.act_rng, state["rngs"]["act"])

    def _save_artifacts(self, directory: Path) -> None:
        """``policies.pt`` and ``baseline.pt`` (state dicts, incl. optimizers)."""
        self.save_policies(directory)
        torch.save(self._baseline_state(), Path(directory) / BASELINE_FILE)

    def load_artifacts(self, directory: Path) -> None:
        """Load networks and optimizers written by ``save`` (no episode is pending)."""
        self.load_policies(directory)
        self._load_baseline_state(load_file(Path(directory) / BASELINE_FILE, "ma2ml-lite controller"))
