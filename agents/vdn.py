"""``vdn``: value decomposition, one Q-network per agent whose sum is the team's Q.

VDN (Sunehag et al. 2018, "Value-Decomposition Networks For Cooperative Multi-Agent
Learning", Sec. 3) writes the team's action value as a sum of per-agent utilities,
``Q_tot(s, a) = sum_i Q_i(s, a_i)``, and trains the sum, not each term, on the shared
reward. Each agent then acts greedily on its own ``Q_i`` and the joint greedy action is
the argmax of ``Q_tot``: decentralised acting, centralised training. Unlike ``mat-dqn``'s
independent learners, the TD error of the team is what every ``Q_i`` moves by, so an
agent is not blamed for a teammate's exploratory choice beyond its own term.

* **State.** Every ``Q_i`` reads the shared observation (``agents.common.shared_state_dim``).
* **Target.** ``r_team + gamma * (1 - terminated) * sum_i max_a Q_i^target(s', a)``, with
  ``r_team = Transition.mean_reward``. A truncated episode bootstraps (the time limit is
  not a property of the state; SB3's ``timeouts`` does the same for ``mat-dqn``).
  ``double_q`` picks each ``a`` with the online net and values it with the target net
  (van Hasselt et al. 2016).
* **Training** follows SB3's DQN: Huber loss, Adam, gradient-norm clip, a polyak target
  update after every gradient step, epsilon decaying linearly over
  ``exploration_fraction`` of the run given to ``begin(total_steps)``.

All randomness comes from generators seeded by the constructor's ``seed``: the weights
(``torch.Generator``), replay sampling (``JointReplayBuffer``) and the epsilon coin.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo import ParallelEnv
from stable_baselines3.common.utils import polyak_update
from torch import nn
from torch.nn import functional as F

from agents.base import Controller, Observations, Transition
from agents.common import (JointBatch, JointReplayBuffer, as_state, generator_state, joint_step,
                           load_file, load_module, load_optimizer, mlp, set_generator_state,
                           shared_state_dim, spawn_seeds)
from agents.errors import AgentConfigError

try:  # SB3 >= 2.6; get_linear_fn, the same schedule under its older name, warns since
    from stable_baselines3.common.utils import LinearSchedule
except ImportError:  # pragma: no cover - SB3 2.3 to 2.5
    from stable_baselines3.common.utils import get_linear_fn as LinearSchedule

Q_FILE = "q_nets.pt"


@dataclass(frozen=True)
class VDNConfig:
    """Hyperparameters of ``vdn``, sized as ``mat-dqn``'s for short runs (~25-decision episodes)."""

    learning_rate: float = 1e-3
    """Adam learning rate of the Q-networks."""
    buffer_size: int = 10_000
    """Replay capacity (joint transitions)."""
    learning_starts: int = 8
    """Transitions stored before the first gradient step (taken at the ``learning_starts``-th)."""
    batch_size: int = 32
    """Transitions per gradient step (sampled with replacement)."""
    gamma: float = 0.5
    """Discount. Short, as ``mat-dqn``'s: the reward is a per-decision improvement."""
    tau: float = 0.1
    """Polyak coefficient of the target networks, applied after every gradient step (1: copy)."""
    exploration_fraction: float = 0.5
    """Fraction of the run (``begin(total_steps)``) over which epsilon decays to its final value."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the first step."""
    exploration_final_eps: float = 0.05
    """Epsilon after the decay."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of every agent's Q-network."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of each step (over all Q-networks: they share one loss)."""
    double_q: bool = False
    """Double Q-learning: the online nets pick the next actions, the target nets value them."""

    def __post_init__(self) -> None:
        positive_int = (lambda v: v == int(v) >= 1, "an integer >= 1")
        checks: dict[str, tuple[Callable[[Any], bool], str]] = {
            "learning_rate": (lambda v: v > 0, "> 0"),
            "buffer_size": positive_int, "learning_starts": positive_int,
            "batch_size": positive_int,
            "gamma": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "tau": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "exploration_fraction": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "exploration_initial_eps": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "exploration_final_eps": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "hidden": (lambda v: all(n == int(n) >= 1 for n in v), "a sequence of integers >= 1"),
            "max_grad_norm": (lambda v: v > 0, "> 0"),
            "double_q": (lambda v: isinstance(v, bool), "True or False"),
        }
        for name, (ok, what) in checks.items():
            value = getattr(self, name)
            try:
                valid = not isinstance(value, str) and ok(value)
            except (TypeError, ValueError, OverflowError):
                valid = False
            if not valid:
                raise AgentConfigError(f"{name} must be {what}, got {value!r}")
        object.__setattr__(self, "hidden", tuple(int(n) for n in self.hidden))


class VDNController(Controller):
    """Per-agent Q-networks on the shared state, trained through their sum on the team reward."""

    name = "vdn"
    config_class = VDNConfig
    config: VDNConfig

    def __init__(self, env: ParallelEnv, *, seed: int, config: VDNConfig | None = None) -> None:
        super().__init__(env, config or VDNConfig())
        c = self.config
        self.state_dim = shared_state_dim(env, self.agents, self.name)
        init_seed, buffer_seed, act_seed = spawn_seeds(seed, 3)
        init = torch.Generator().manual_seed(init_seed)
        self.q_nets = nn.ModuleDict({a: mlp([self.state_dim, *c.hidden, n], init)
                                     for a, n in self.action_sizes.items()})
        self.q_targets = copy.deepcopy(self.q_nets).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_nets.parameters(), lr=c.learning_rate,
                                          foreach=True)
        self.buffer = JointReplayBuffer(c.buffer_size, self.state_dim, len(self.agents),
                                        buffer_seed)
        self.act_rng = np.random.default_rng(act_seed)
        self.schedule = LinearSchedule(c.exploration_initial_eps, c.exploration_final_eps,
                                       c.exploration_fraction)
        self.epsilon = float(self.schedule(1.0))
        """Probability that a training ``act`` picks an agent's action uniformly at random."""
        self.steps = 0
        """Transitions observed while training."""
        self.updates = 0
        """Gradient steps taken."""

    # ---------------------------------------------------------------- acting
    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        live = self.live(observations)
        if not live:
            return {}
        q = self.q_values(observations[live[0]])
        explore = self.explores(training)
        actions = {}
        for agent in live:  # one coin per agent, as each would throw its own
            if explore and self.act_rng.random() < self.epsilon:
                actions[agent] = int(self.act_rng.integers(self.action_sizes[agent]))
            else:
                actions[agent] = int(np.argmax(q[agent]))
        return actions

    def q_values(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        """Every agent's ``Q_i(s, .)`` for one (shared) observation."""
        state = as_state(observation)
        with torch.no_grad():
            return {a: net(state)[0].numpy() for a, net in self.q_nets.items()}

    def greedy_actions(self, observation: np.ndarray) -> dict[str, int]:
        """Each agent's greedy choice for one (shared) observation: the argmax of ``Q_tot``."""
        return {a: int(np.argmax(q)) for a, q in self.q_values(observation).items()}

    # -------------------------------------------------------------- learning
    def observe(self, transition: Transition) -> dict[str, float]:
        if not self.training:
            return {}
        total_steps = self.require_begun()
        state, joint, next_state = joint_step(transition, self.agents, self.name)
        terminated = any(bool(transition.terminations.get(a, False)) for a in self.agents)
        no_behaviour = np.zeros(len(self.agents), dtype=np.float32)  # no policy to correct for
        self.buffer.add(state, joint, no_behaviour, transition.mean_reward, next_state, terminated)
        self.steps += 1
        self.epsilon = float(self.schedule(max(0.0, 1.0 - self.steps / total_steps)))
        logs = {f"agent/{a}/epsilon": self.epsilon for a in self.agents}
        if self.steps >= self.config.learning_starts:
            logs.update(self._update(self.buffer.sample(self.config.batch_size)))
        return logs

    def _update(self, batch: JointBatch) -> dict[str, float]:
        """One gradient step on the team's TD error, then a polyak step of the targets."""
        c = self.config
        with torch.no_grad():
            target = batch.rewards + c.gamma * (1.0 - batch.dones) * self._next_value(batch)
        taken = torch.stack([self.q_nets[a](batch.states).gather(1, batch.actions[:, i, None])[:, 0]
                             for i, a in enumerate(self.agents)], dim=1)  # (B, n_agents)
        q_tot = taken.sum(1)
        loss = F.smooth_l1_loss(q_tot, target)  # Huber, as SB3's DQN.train
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_nets.parameters(), c.max_grad_norm, foreach=True)
        self.optimizer.step()
        polyak_update(self.q_nets.parameters(), self.q_targets.parameters(), c.tau)
        self.updates += 1
        logs = {"team/td_loss": loss.item(), "team/q_tot": q_tot.mean().item()}
        logs.update({f"agent/{a}/q": taken[:, i].mean().item() for i, a in enumerate(self.agents)})
        return logs

    def _next_value(self, batch: JointBatch) -> torch.Tensor:
        """``sum_i max_a Q_i^target(s', a)`` per row (with double_q, online nets choose ``a``)."""
        values = []
        for agent in self.agents:
            target_q = self.q_targets[agent](batch.next_states)
            if self.config.double_q:
                choice = self.q_nets[agent](batch.next_states).argmax(1, keepdim=True)
                values.append(target_q.gather(1, choice)[:, 0])
            else:
                values.append(target_q.max(1).values)
        return torch.stack(values, dim=1).sum(1)

    # ------------------------------------------------------------ checkpoint
    def _nets_state(self) -> dict[str, Any]:
        return {"q_nets": copy.deepcopy(self.q_nets.state_dict()),
                "q_targets": copy.deepcopy(self.q_targets.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict())}

    def _load_nets_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.q_nets, state["q_nets"], "Q-networks")
        load_module(self.q_targets, state["q_targets"], "target Q-networks")
        load_optimizer(self.optimizer, state["optimizer"], "Q-network optimizer")

    def _state(self) -> dict[str, Any]:
        return {**self._nets_state(), "buffer": self.buffer.state_dict(),
                "steps": int(self.steps), "updates": int(self.updates),
                "epsilon": float(self.epsilon), "rngs": {"act": generator_state(self.act_rng)}}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self._load_nets_state(state)
        self.buffer.load_state_dict(state["buffer"])
        self.steps, self.updates = int(state["steps"]), int(state["updates"])
        self.epsilon = float(state["epsilon"])
        set_generator_state(self.act_rng, state["rngs"]["act"])

    def actor_state(self) -> dict[str, Any]:
        return {"q_nets": copy.deepcopy(self.q_nets.state_dict()), "epsilon": float(self.epsilon)}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        load_module(self.q_nets, state["q_nets"], "Q-networks")
        self.epsilon = float(state["epsilon"])

    def _save_artifacts(self, directory: Path) -> None:
        """``q_nets.pt``: Q-networks, their targets and the optimizer (no buffer, no generators)."""
        torch.save(self._nets_state(), Path(directory) / Q_FILE)

    def load_artifacts(self, directory: Path) -> None:
        """Load what ``save`` wrote (the replay buffer starts empty, epsilon at its start)."""
        self._load_nets_state(load_file(Path(directory) / Q_FILE, "vdn controller"))
