"""``mat-dqn``: one Stable-Baselines3 ``DQN`` per agent, stepped in lockstep on a shared reward.

Each agent owns a real SB3 ``DQN`` (Q-network, target network, replay buffer, optimizer,
epsilon schedule) built on a spaces-only dummy Gymnasium env that is never stepped; the
controller drives it through public SB3 calls, as ``OffPolicyAlgorithm.learn`` would:
add to the replay buffer, update epsilon from ``exploration_schedule``, polyak-update
the target network, and call ``train()`` every ``train_freq`` steps.

Tested against stable-baselines3 >=2.3,<3 (pyproject); the internals driven here
(``replay_buffer.add``, ``exploration_schedule``, ``q_net``/``q_net_target``,
``batch_norm_stats``, ``train``) are checked by ``tests/test_agents_mat_dqn.py``.

Seeding never touches the global generators: ``DQN(seed=...)`` would call
``set_random_seed``, so no seed is passed; the Q-network is re-drawn from a private
``torch.Generator``, replay sampling uses ``SeededReplayBuffer`` and the epsilon coin is
thrown here with a private ``np.random.Generator`` (``DQN.predict`` uses ``np.random``).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pettingzoo import ParallelEnv
from stable_baselines3 import DQN
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.utils import polyak_update

from agents.base import Controller, Observations, Transition
from agents.common import (SeededReplayBuffer, check_archive, generator_state, redraw_linear_,
                           set_generator_state)
from agents.errors import AgentConfigError, ControllerCheckpointError
from envs.checks import (check_device, require_in_range, require_mapping, require_optional_path,
                         require_sizes)

_RESERVED = {"seed": "it seeds the global generators; pass seed to make_controller",
             "replay_buffer_class": "sampling must use SeededReplayBuffer",
             "optimize_memory_usage": "SeededReplayBuffer keeps next_observations separately",
             "env": "the controller builds a spaces-only env per agent",
             "policy": "MlpPolicy is used (set net_arch or policy_kwargs)"}

SB3_MEMBERS = ("data", "policy.pth")
"""What every ``DQN.save`` zip holds (its settings and the Q-networks' weights)."""


@dataclass(frozen=True)
class MatDQNConfig:
    """Hyperparameters of ``mat-dqn``, sized for short runs (episodes of ~25 decisions)."""

    learning_rate: float = 1e-3
    """Adam learning rate of each Q-network, in (0, inf)."""
    buffer_size: int = 10_000
    """Replay buffer capacity per agent: an int in [1, inf)."""
    learning_starts: int = 8
    """Env steps collected before the first gradient step: an int in [0, inf)."""
    batch_size: int = 32
    """Transitions per gradient step (sampled with replacement): an int in [1, inf)."""
    tau: float = 0.1
    """Soft target-update coefficient, in (0, 1] (1 = hard copy)."""
    target_update_interval: int = 1
    """Env steps between target-network updates: an int in [1, inf)."""
    gamma: float = 0.5
    """Discount, in [0, 1]. Short: the reward is a per-decision improvement, and on the fake
    env 0.9 bootstrapped noise through the action-dependent next state (1 of 6 seeds failed at
    600 steps, 0 of 6 with 0.5; tests/test_agents_learning.py)."""
    train_freq: int = 1
    """Env steps between training calls: an int in [1, inf)."""
    gradient_steps: int = 1
    """Gradient steps per training call: an int in [1, inf)."""
    exploration_fraction: float = 0.5
    """Fraction of the run (``begin(total_steps)``) over which epsilon goes from initial to
    final, in (0, 1] (SB3's schedule divides by it)."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the first step, in [0, 1]."""
    exploration_final_eps: float = 0.05
    """Epsilon after the decay, in [0, 1]."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of each training step, in (0, inf)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the Q-network: ints in [1, inf) (a list is kept as a tuple)."""
    device: str = "cpu"
    """torch device of the Q-networks (tiny MLPs: the CPU is fastest)."""
    log_dir: str | None = None
    """If set, each agent's SB3 logger writes ``<log_dir>/<agent>/progress.csv``."""
    dqn_kwargs: dict[str, Any] = field(default_factory=dict)
    """Any further ``stable_baselines3.DQN`` keyword argument (e.g. ``policy_kwargs``)."""

    def __post_init__(self) -> None:
        e = AgentConfigError
        for name in ("buffer_size", "batch_size", "target_update_interval", "train_freq",
                     "gradient_steps"):
            require_in_range(name, getattr(self, name), 1, integer=True, error=e)
        require_in_range("learning_starts", self.learning_starts, 0, integer=True, error=e)
        for name in ("learning_rate", "max_grad_norm"):
            require_in_range(name, getattr(self, name), 0.0, low_open=True, error=e)
        require_in_range("tau", self.tau, 0.0, 1.0, low_open=True, error=e)
        require_in_range("exploration_fraction", self.exploration_fraction, 0.0, 1.0,
                         low_open=True, error=e)
        for name in ("gamma", "exploration_initial_eps", "exploration_final_eps"):
            require_in_range(name, getattr(self, name), 0.0, 1.0, error=e)
        object.__setattr__(self, "net_arch", require_sizes("net_arch", self.net_arch, e))
        check_device(self.device, e)
        require_optional_path("log_dir", self.log_dir, e)
        require_mapping("dqn_kwargs", self.dqn_kwargs, e)
        bad = {k: why for k, why in _RESERVED.items() if k in self.dqn_kwargs}
        if bad:
            raise AgentConfigError(f"these DQN arguments cannot be passed through: {bad}")
        unknown = sorted(set(self.dqn_kwargs) - set(passthrough_arguments()))
        if unknown:
            own = [f.name for f in dataclasses.fields(self) if f.name != "dqn_kwargs"]
            valid = own + list(passthrough_arguments())
            hints = {k: difflib.get_close_matches(k, valid, n=2) for k in unknown}
            raise AgentConfigError(
                f"unknown hyperparameters for mat-dqn: {hints} (name: close matches); valid "
                f"names: {', '.join(own)}, and the stable_baselines3.DQN arguments "
                f"{', '.join(passthrough_arguments())}")


def passthrough_arguments() -> tuple[str, ...]:
    """The ``stable_baselines3.DQN`` arguments ``dqn_kwargs`` may carry: those the controller
    does not set itself (from its config, or fixed: ``_RESERVED``, ``verbose``, the buffer's)."""
    own = {f.name for f in dataclasses.fields(MatDQNConfig)} | set(_RESERVED) | {
        "self", "verbose", "replay_buffer_kwargs"}
    return tuple(name for name in inspect.signature(DQN.__init__).parameters
                 if name not in own and not name.startswith("_"))


class _SpacesOnlyEnv(gym.Env):
    """Carries an agent's spaces into ``DQN``; it is never reset or stepped."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        raise RuntimeError("the spaces-only env of a mat-dqn agent is never reset")

    def step(self, action: Any) -> Any:
        raise RuntimeError("the spaces-only env of a mat-dqn agent is never stepped")


class MatDQNController(Controller):
    """Independent SB3 DQN learners, one per agent, sharing the team reward."""

    name = "mat-dqn"
    config_class = MatDQNConfig
    passthrough = "dqn_kwargs"

    def __init__(self, env: ParallelEnv, *, seed: int, config: MatDQNConfig | None = None) -> None:
        super().__init__(env, config or MatDQNConfig())
        self.models: dict[str, DQN] = {}
        self.rngs: dict[str, np.random.Generator] = {}
        for agent, seq in zip(self.agents, np.random.SeedSequence(seed).spawn(len(self.agents))):
            init_seed, buffer_seed, act_seed = (int(s) for s in seq.generate_state(3))
            self.models[agent] = self._build(env, agent, init_seed, buffer_seed)
            self.rngs[agent] = np.random.default_rng(act_seed)

    def _build(self, env: ParallelEnv, agent: str, init_seed: int, buffer_seed: int) -> DQN:
        c = self.config
        extra = dict(c.dqn_kwargs)
        policy_kwargs = {"net_arch": list(c.net_arch), **dict(extra.pop("policy_kwargs", None) or {})}
        model = DQN(
            "MlpPolicy", _SpacesOnlyEnv(env.observation_space(agent), env.action_space(agent)),
            learning_rate=c.learning_rate, buffer_size=c.buffer_size,
            learning_starts=c.learning_starts, batch_size=c.batch_size, tau=c.tau, gamma=c.gamma,
            train_freq=c.train_freq, gradient_steps=c.gradient_steps,
            target_update_interval=c.target_update_interval,
            exploration_fraction=c.exploration_fraction,
            exploration_initial_eps=c.exploration_initial_eps,
            exploration_final_eps=c.exploration_final_eps, max_grad_norm=c.max_grad_norm,
            replay_buffer_class=SeededReplayBuffer, replay_buffer_kwargs={"sampler_seed": buffer_seed},
            policy_kwargs=policy_kwargs, device=c.device, verbose=0, **extra)
        # The policy was built from the global torch generator: re-draw it from our seed.
        redraw_linear_(model.q_net, torch.Generator().manual_seed(init_seed))
        model.q_net_target.load_state_dict(model.q_net.state_dict())
        # configure(None, ...) would create a temp folder per model; a bare Logger records only.
        model.set_logger(configure(str(Path(c.log_dir) / agent), ["csv"]) if c.log_dir
                         else Logger(folder=None, output_formats=[]))
        model.exploration_rate = model.exploration_schedule(1.0)  # SB3 starts it at 0.0
        return model

    # ---------------------------------------------------------------- acting
    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        explore = self.explores(training)
        actions = {}
        for agent in self.live(observations):
            model, rng = self.models[agent], self.rngs[agent]
            if explore and rng.random() < model.exploration_rate:
                actions[agent] = int(rng.integers(self.action_sizes[agent]))
            else:
                action, _ = model.predict(np.asarray(observations[agent]), deterministic=True)
                actions[agent] = int(action)
        return actions

    def greedy_actions(self, observation: np.ndarray) -> dict[str, int]:
        """Each agent's greedy choice for one (shared) observation."""
        return self.act({a: observation for a in self.agents}, training=False)

    # -------------------------------------------------------------- learning
    def observe(self, transition: Transition) -> dict[str, float]:
        if not self.training:
            return {}
        total_steps = self.require_begun()
        t = transition
        logs: dict[str, float] = {}
        for agent in self.live(t.actions):
            term = bool(t.terminations.get(agent, False))
            trunc = bool(t.truncations.get(agent, False))
            obs = np.asarray(t.observations[agent])
            next_obs = np.asarray(t.next_observations.get(agent, obs))
            self.models[agent].replay_buffer.add(
                obs[None], next_obs[None], np.array([[t.actions[agent]]]),
                np.array([t.rewards[agent]], dtype=np.float32), np.array([term or trunc]),
                [{"TimeLimit.truncated": trunc and not term}])
            logs.update(self._advance(agent, total_steps))
        return logs

    def _advance(self, agent: str, total_steps: int) -> dict[str, float]:
        """What ``DQN._on_step`` and ``learn`` do after one env step, via public calls."""
        model = self.models[agent]
        model.num_timesteps += 1
        steps = model.num_timesteps
        remaining = max(0.0, 1.0 - steps / total_steps)
        model._current_progress_remaining = remaining  # read by train() for LR schedules
        model.exploration_rate = model.exploration_schedule(remaining)
        if steps % model.target_update_interval == 0:
            polyak_update(model.q_net.parameters(), model.q_net_target.parameters(), model.tau)
            # Copy running stats, see SB3 GH issue #996
            polyak_update(model.batch_norm_stats, model.batch_norm_stats_target, 1.0)
        logs = {f"agent/{agent}/epsilon": float(model.exploration_rate)}
        if steps > model.learning_starts and steps % model.train_freq.frequency == 0:
            model.train(gradient_steps=model.gradient_steps, batch_size=model.batch_size)
            logs[f"agent/{agent}/loss"] = float(model.logger.name_to_value["train/loss"])
            model.logger.record("rollout/exploration_rate", model.exploration_rate)
            model.logger.dump(steps)
        return logs

    # ------------------------------------------------------------ checkpoint
    def _state(self) -> dict[str, Any]:
        return {"models": {a: _model_state(m, self.rngs[a]) for a, m in self.models.items()}}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        for agent, saved in state["models"].items():
            model = self.models[agent]
            try:
                model.policy.load_state_dict(saved["policy"])
                model.policy.optimizer.load_state_dict(copy.deepcopy(saved["optimizer"]))
            except (RuntimeError, ValueError, KeyError) as error:
                raise ControllerCheckpointError(f"agent {agent!r}: {error}") from error
            model.replay_buffer.load_state_dict(saved["buffer"])
            model.num_timesteps = int(saved["num_timesteps"])
            model._n_updates = int(saved["n_updates"])
            model.exploration_rate = float(saved["exploration_rate"])
            set_generator_state(self.rngs[agent], saved["rng"])

    def actor_state(self) -> dict[str, Any]:
        return {a: {"q_net": copy.deepcopy(m.q_net.state_dict()),
                    "exploration_rate": float(m.exploration_rate)} for a, m in self.models.items()}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        for agent, saved in state.items():
            model = self.models[agent]
            try:
                model.q_net.load_state_dict(saved["q_net"])
            except (RuntimeError, KeyError) as error:
                raise ControllerCheckpointError(f"agent {agent!r}: {error}") from error
            model.exploration_rate = float(saved["exploration_rate"])

    def _save_artifacts(self, directory: Path) -> None:
        """One SB3 ``.zip`` per agent (``DQN.load(directory / f"{agent}.zip")`` opens it)."""
        for agent, model in self.models.items():
            model.save(directory / f"{agent}.zip")

    def load_artifacts(self, directory: Path) -> None:
        """Load each agent's Q-networks and optimizer from ``<agent>.zip`` (buffers start empty)."""
        for agent, model in self.models.items():
            path = Path(directory) / f"{agent}.zip"
            if not path.is_file():
                raise ControllerCheckpointError(f"{path} is missing: no saved DQN for {agent!r}")
            check_archive(path, f"DQN of agent {agent!r}", members=SB3_MEMBERS)
            try:
                model.set_parameters(str(path), exact_match=True, device=self.config.device)
            except (RuntimeError, ValueError, KeyError) as error:
                raise ControllerCheckpointError(
                    f"{path} does not fit agent {agent!r}: {error}") from error


def _model_state(model: DQN, rng: np.random.Generator) -> dict[str, Any]:
    return {"policy": copy.deepcopy(model.policy.state_dict()),
            "optimizer": copy.deepcopy(model.policy.optimizer.state_dict()),
            "buffer": model.replay_buffer.state_dict(),
            "num_timesteps": int(model.num_timesteps), "n_updates": int(model._n_updates),
            "exploration_rate": float(model.exploration_rate), "rng": generator_state(rng)}
