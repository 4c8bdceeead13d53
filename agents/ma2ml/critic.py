"""``ma2ml``: a centralized critic with counterfactual credit assignment, trained off-policy.

MA2ML (Multi-Agent Automated Machine Learning, Wang et al., CVPR 2023) treats each
training component (``aug``, ``opt``, ``lrs``, ``loss``) as a cooperative agent with a
shared reward, credit assignment, off-policy learning and monotonic improvement. Its code
is not public; this is built from the method:

* **Centralized critic** ``Q(s, a_1..a_n)`` over the global state and the one-hot of every
  agent's action (``agents.ma2ml.nets.JointCritic``), with a polyak target critic. The
  global state is the shared observation (``env.state()`` in ``MLICTrainingEnv``; see
  ``agents.ma2ml.policy_team``).
* **Counterfactual advantage** (COMA, Foerster et al. 2018):
  ``A_i(s, a) = Q(s, a) - sum_{a_i'} pi_i(a_i'|s) Q(s, (a_i', a_-i))``, computed from the
  critic for every agent and every alternative action in one batched forward pass, so no
  training run is re-executed. ``observe`` logs each agent's batch mean.
* **Off-policy**: every transition goes to a replay buffer (own seeded generator). The
  critic regresses ``r + gamma (1 - done) E_{a'~pi}[Q_target(s', a')]``; the expectation over
  the joint next action is a Monte-Carlo mean over ``next_action_samples`` joint actions
  drawn from the *current* policies (each agent independently, a seeded
  ``torch.Generator``): exact in expectation, unlike plugging in per-agent expected
  one-hots, which is exact only for a critic linear in the actions.
* **Policies** are trained on replayed states with the *current* critic (after its step),
  by the all-actions policy gradient ``grad sum_{a_i'} pi_i(a_i'|s) A_i(s, (a_i', a_-i))``
  (Ciosek & Whiteson 2018, expected policy gradients). Summing over the agent's own
  actions needs no importance weight for ``a_i``; the replayed ``a_-i`` came from older
  policies, corrected by the truncated ratio ``min(c, pi_-i(a_-i|s) / mu_-i(a_-i|s))``
  (ACER/Retrace-style, ``importance_clip=c``; None switches it off). ``mu`` is the policy
  that acted, stored with the transition. The state distribution is not corrected.
* **Trust region**: a KL penalty towards slowly updated target policies stands in for
  the paper's monotonic-improvement step; plus an entropy bonus (``agents.ma2ml.policy_team``).

Settings (``setting=``): ``"per-step"`` decides at every env step, as MAT-Agent.
``"pipeline"`` decides once per episode; **contract**: the env ends every episode after
its single step (``envs.make(..., max_decisions=1, steps_per_decision=<whole budget>)``,
set by the CLI's ``--setting pipeline``), and the controller's reward is then the final
val mAP, ``infos[agent]["metrics"]["mAP"] / 100`` (``reward_source`` defaults to
``"val_map"`` there and to ``"env"`` per step). ``observe`` fails on a pipeline step that
does not end its episode. Every transition then ends its episode, so the critic learns
``Q(s0, a) = E[final mAP | a]`` and the counterfactual advantage says what each
component's choice added to it.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo import ParallelEnv
from stable_baselines3.common.utils import polyak_update
from torch import nn
from torch.nn import functional as F

from agents.base import Transition
from agents.common import generator_state, set_generator_state
from agents.errors import AgentConfigError
from agents.common import (JointBatch, JointReplayBuffer, load_file, load_module,
                           load_optimizer)
from agents.ma2ml.nets import JointCritic
from agents.ma2ml.policy_team import PolicyTeamConfig, PolicyTeamController
from envs.checks import require_in_range, require_optional_in_range

CRITIC_FILE = "critic.pt"


@dataclass(frozen=True)
class MA2MLConfig(PolicyTeamConfig):
    """Hyperparameters of ``ma2ml`` (runs of 25-100 decisions: learns from the 8th)."""

    policy_lr: float = 1e-3
    """Adam learning rate of each policy (slower than the critic it follows), in (0, inf)."""
    critic_lr: float = 1e-2
    """Adam learning rate of the critic (tiny MLP, short runs: learns fast), in (0, inf)."""
    buffer_size: int = 10_000
    """Replay capacity (joint transitions): an int in [1, inf)."""
    learning_starts: int = 8
    """Transitions stored before the first update: an int in [1, inf)."""
    batch_size: int = 32
    """Replayed transitions per update (drawn with replacement): an int in [1, inf)."""
    gradient_steps: int = 1
    """Updates (critic, then policies) per env step: an int in [1, inf)."""
    tau: float = 0.05
    """Polyak coefficient of the target critic, in (0, 1]."""
    next_action_samples: int = 8
    """Joint next actions sampled per state for the TD target's expectation: an int in
    [1, inf)."""
    importance_clip: float | None = 1.0
    """Truncation c of the others' importance ratio, in (0, inf); None: no importance
    weights."""

    def __post_init__(self) -> None:
        super().__post_init__()
        e = AgentConfigError
        for name in ("buffer_size", "learning_starts", "batch_size", "gradient_steps",
                     "next_action_samples"):
            require_in_range(name, getattr(self, name), 1, integer=True, error=e)
        require_in_range("critic_lr", self.critic_lr, 0.0, low_open=True, error=e)
        require_in_range("tau", self.tau, 0.0, 1.0, low_open=True, error=e)
        require_optional_in_range("importance_clip", self.importance_clip, 0.0, low_open=True,
                                  error=e)


class MA2MLController(PolicyTeamController):
    """Per-agent policies trained off-policy on a centralized critic's counterfactual advantage."""

    name = "ma2ml"
    config_class = MA2MLConfig
    config: MA2MLConfig

    def __init__(self, env: ParallelEnv, *, seed: int, config: MA2MLConfig | None = None) -> None:
        super().__init__(env, config or MA2MLConfig(), seed)
        c = self.config
        sizes = [self.action_sizes[a] for a in self.agents]
        self.critic = JointCritic(self.state_dim, sizes, c.hidden,
                                  torch.Generator().manual_seed(self.seeds[2]))
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.critic_lr,
                                                 foreach=True)
        self.buffer = JointReplayBuffer(c.buffer_size, self.state_dim, len(self.agents),
                                        self.seeds[3])
        self.sample_rng = torch.Generator().manual_seed(self.seeds[4])
        self.updates = 0

    # -------------------------------------------------------------- learning
    def observe(self, transition: Transition) -> dict[str, float]:
        return self._observe(transition, None)

    def observe_many(self, transitions: Sequence[Transition]) -> dict[str, float]:
        """Learn from rollout workers' transitions: their behaviour log-probabilities are
        read from the policies before the first update, as the workers acted with them."""
        if not self.training:
            return {}
        behaviour = [self._behaviour_logp(*self.unpack(t)[:2]) for t in transitions]
        logs: dict[str, float] = {}
        for transition, logp in zip(transitions, behaviour):
            logs = self._observe(transition, logp) or logs
        return logs

    def _observe(self, transition: Transition, logp: np.ndarray | None) -> dict[str, float]:
        state, joint, reward, next_state, done = self.unpack(transition)
        if not self.training:
            return {}
        if logp is None:
            logp = self._behaviour_logp(state, joint)
        self.buffer.add(state, joint, logp, reward, next_state, done)
        if len(self.buffer) < self.config.learning_starts:
            return {}
        logs: dict[str, float] = {}
        for _ in range(self.config.gradient_steps):
            logs = self._update(self.buffer.sample(self.config.batch_size))
        return logs

    def _behaviour_logp(self, state: np.ndarray, joint: np.ndarray) -> np.ndarray:
        """log mu_i(a_i|s): the policies have not changed since ``act`` drew the actions."""
        with torch.no_grad():
            s = torch.from_numpy(state)[None]
            return np.array([float(torch.log_softmax(self.policies[a](s), -1)[0, joint[i]])
                             for i, a in enumerate(self.agents)], dtype=np.float32)

    def _update(self, batch: JointBatch) -> dict[str, float]:
        logs = self._critic_step(batch)
        logs.update(self._policy_step(batch))
        polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.config.tau)
        self.updates += 1
        return logs

    def _critic_step(self, batch: JointBatch) -> dict[str, float]:
        c = self.config
        with torch.no_grad():
            next_probs = [torch.softmax(self.policies[a](batch.next_states), -1)
                          for a in self.agents]
            next_q = self.critic_target.expected_q(batch.next_states, next_probs,
                                                   c.next_action_samples, self.sample_rng)
            target = batch.rewards + c.gamma * (1.0 - batch.dones) * next_q
        q = self.critic(batch.states, batch.actions)
        loss = F.mse_loss(q, target)
        self.critic_optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.critic.parameters(), c.max_grad_norm, foreach=True)
        self.critic_optimizer.step()
        return {"critic/loss": loss.item(), "critic/q_mean": q.mean().item()}

    def counterfactual_advantages(self, states: torch.Tensor, actions: torch.Tensor,
                                  probs: Mapping[str, torch.Tensor] | None = None
                                  ) -> dict[str, torch.Tensor]:
        """``A_i(s, (a_i', a_-i))`` for every agent and every ``a_i'``: (B, n_i) per agent.

        The replayed action's entry is COMA's ``A_i(s, a)``; the others are what agent i
        would have added by deviating alone. Uses the current critic, and the current
        policies unless ``probs`` (per agent, (B, n_i)) are given.
        """
        with torch.no_grad():
            if probs is None:
                probs = {a: torch.softmax(p(states), -1) for a, p in self.policies.items()}
            q_cf = self.critic.counterfactual(states, actions)
            return {a: q - (probs[a] * q).sum(-1, keepdim=True) for a, q in zip(self.agents, q_cf)}

    def _policy_step(self, batch: JointBatch) -> dict[str, float]:
        logits = self.policy_logits(batch.states)
        logp = {a: torch.log_softmax(x, -1) for a, x in logits.items()}
        probs = {a: x.detach().exp() for a, x in logp.items()}
        advantages = self.counterfactual_advantages(batch.states, batch.actions, probs)
        weights = self._importance_weights(batch, logp)
        surrogates = {a: weights[a] * (logp[a].exp() * advantages[a]).sum(-1) for a in self.agents}
        logs = self.policy_step(batch.states, logits, surrogates)
        for i, agent in enumerate(self.agents):
            taken = advantages[agent].gather(1, batch.actions[:, i, None])
            logs[f"agent/{agent}/advantage"] = taken.mean().item()
        return logs

    def _importance_weights(self, batch: JointBatch, logp: Mapping[str, torch.Tensor]
                            ) -> dict[str, torch.Tensor]:
        """Per agent, ``min(c, prod_{j != i} pi_j(a_j|s) / mu_j(a_j|s))`` (ones if c is None)."""
        c = self.config.importance_clip
        if c is None:
            return {a: torch.ones(batch.rewards.shape) for a in self.agents}
        with torch.no_grad():
            log_ratio = torch.stack([logp[a].gather(1, batch.actions[:, i, None])[:, 0]
                                     - batch.behaviour_logp[:, i]
                                     for i, a in enumerate(self.agents)], dim=1)  # (B, n_agents)
            others = log_ratio.sum(1, keepdim=True) - log_ratio
            return {a: others[:, i].exp().clamp(max=c) for i, a in enumerate(self.agents)}

    # ------------------------------------------------------------ checkpoint
    def _critic_state(self) -> dict[str, Any]:
        return {"critic": copy.deepcopy(self.critic.state_dict()),
                "critic_target": copy.deepcopy(self.critic_target.state_dict()),
                "critic_optimizer": copy.deepcopy(self.critic_optimizer.state_dict())}

    def _load_critic_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.critic, state["critic"], "critic")
        load_module(self.critic_target, state["critic_target"], "target critic")
        load_optimizer(self.critic_optimizer, state["critic_optimizer"], "critic optimizer")

    def _state(self) -> dict[str, Any]:
        return {**self.policy_state(), **self._critic_state(), "buffer": self.buffer.state_dict(),
                "updates": int(self.updates),
                "rngs": {"act": generator_state(self.act_rng),
                         "sample": self.sample_rng.get_state()}}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.load_policy_state(state)
        self._load_critic_state(state)
        self.buffer.load_state_dict(state["buffer"])
        self.updates = int(state["updates"])
        set_generator_state(self.act_rng, state["rngs"]["act"])
        self.sample_rng.set_state(state["rngs"]["sample"])

    def _save_artifacts(self, directory: Path) -> None:
        """``policies.pt`` and ``critic.pt`` (state dicts, incl. targets and optimizers)."""
        self.save_policies(directory)
        torch.save(self._critic_state(), Path(directory) / CRITIC_FILE)

    def load_artifacts(self, directory: Path) -> None:
        """Load networks and optimizers written by ``save`` (the replay buffer starts empty)."""
        self.load_policies(directory)
        self._load_critic_state(load_file(Path(directory) / CRITIC_FILE, "ma2ml controller"))
