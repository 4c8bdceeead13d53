"""Shared machinery of the curiosity reward wrappers (ICM, RND).

A curiosity wrapper is a PettingZoo ``ParallelEnv`` wrapper, so any controller can use
it. After each ``step`` it measures how badly its model predicts the next training
state, normalises that error and adds ``beta * intrinsic`` to every agent's reward (the
agents share one observation and one reward, so the bonus is shared too). Both parts are
reported in ``infos[agent]["reward_extrinsic"]`` and ``infos[agent]["reward_intrinsic"]``.

Normalisation: the raw error is divided by a running std *about zero* (the root mean
square) of all raw errors seen while training, then clipped to ``[0, clip]``. Burda et
al. (2018, Sec. 2.4) divide by the std of intrinsic *returns*; with episodes of ~25
decisions the per-step scale is simpler and comparable. About zero, not about the mean:
when the agents keep repeating a recipe the errors settle to a near-constant value, a
std about the mean then collapses to ~0 and would blow that settled error up to the clip
(measured: a ``static`` controller got the maximal bonus at every step). Not subtracting
a mean also keeps the bonus non-negative, so a novel state is never punished.

``training=False`` freezes the model, its optimizer and the running std; the intrinsic
reward is still computed and reported.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper
from torch import nn

from agents.base import Transition, discrete_size
from agents.errors import AgentConfigError, ControllerCheckpointError
from envs.checks import require_in_range
from envs.errors import ResetNeededError


@dataclass(frozen=True)
class CuriosityConfig:
    """Hyperparameters shared by the curiosity wrappers."""

    beta: float = 0.05
    """Weight of the normalised intrinsic reward added to each agent's reward, in [0, inf)."""
    learning_rate: float = 1e-3
    """Adam learning rate of the curiosity model (one step per env step), in (0, inf)."""
    hidden: int = 64
    """Hidden width of the curiosity MLPs: an int in [1, inf)."""
    feature_dim: int = 32
    """Size of the embedding that is predicted (RND output, ICM state features): an int in
    [1, inf)."""
    clip: float = 5.0
    """Upper clip of the normalised intrinsic reward, in (0, inf)."""

    def __post_init__(self) -> None:
        e = AgentConfigError
        require_in_range("beta", self.beta, 0.0, error=e)
        for name in ("learning_rate", "clip"):
            require_in_range(name, getattr(self, name), 0.0, low_open=True, error=e)
        for name in ("hidden", "feature_dim"):
            require_in_range(name, getattr(self, name), 1, integer=True, error=e)


class TransitionBatch(NamedTuple):
    """A batch of transitions as tensors."""

    obs: torch.Tensor
    """(B, obs_dim) training state before the step."""
    actions: torch.Tensor
    """(B, n_agents) action indices, -1 for an agent that did not act."""
    onehot: torch.Tensor
    """(B, sum of action sizes) concatenated one-hot joint action."""
    next_obs: torch.Tensor
    """(B, obs_dim) training state after the step."""


class CuriosityModel(nn.Module):
    """What a wrapper needs from its model."""

    def error(self, batch: TransitionBatch) -> torch.Tensor:
        """(B,) raw prediction error of each transition's next state."""
        raise NotImplementedError

    def loss(self, batch: TransitionBatch) -> torch.Tensor:
        """Scalar training loss."""
        raise NotImplementedError

    def trainable(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates."""
        return [p for p in self.parameters() if p.requires_grad]


class RunningStd:
    """Running mean, variance and root mean square of a scalar stream (Welford's algorithm)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    @property
    def std(self) -> float:
        """Population std about the mean (0 until a value was seen)."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    @property
    def rms(self) -> float:
        """Root mean square, the std about zero; 1 until a value was seen."""
        return math.sqrt(self.m2 / self.count + self.mean ** 2) if self.count else 1.0

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        self.count, self.mean, self.m2 = int(state["count"]), float(state["mean"]), float(state["m2"])


class CuriosityWrapper(BaseParallelWrapper):
    """Adds ``beta * normalised prediction error`` to every agent's reward.

    Args:
        env: a ParallelEnv whose agents share one Box observation and have Discrete actions.
        seed: seeds the model's initial weights (the only randomness of the wrapper).
        config: hyperparameters (the subclass's config type).
    """

    kind = "base"

    def __init__(self, env: ParallelEnv, *, seed: int, config: CuriosityConfig) -> None:
        super().__init__(env)
        self.config = config
        self.training = True
        """False freezes the model, optimizer and running std (the bonus is still reported)."""
        self._agents = list(env.possible_agents)
        self._sizes = [discrete_size(env, a) for a in self._agents]
        self._obs_dim = _shared_obs_dim(env)
        generator = torch.Generator().manual_seed(int(seed))
        self.model = self.build_model(self._obs_dim, self._sizes, generator)
        self.optimizer = torch.optim.Adam(self.model.trainable(), lr=config.learning_rate)
        self.stats = RunningStd()
        self._last_obs: np.ndarray | None = None

    def build_model(self, obs_dim: int, action_sizes: list[int],
                    generator: torch.Generator) -> CuriosityModel:
        raise NotImplementedError

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, Any], dict[str, dict]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        self._last_obs = self._shared(observations)
        return observations, infos

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._last_obs is None:
            raise ResetNeededError(f"{type(self).__name__}: call reset() before step()")
        observations, rewards, terms, truncs, infos = self.env.step(actions)
        next_obs = self._shared(observations)
        shaped, infos = self._bonus(self._last_obs, actions, next_obs, rewards, infos)
        if next_obs is not None:
            self._last_obs = next_obs
        return observations, shaped, terms, truncs, infos

    def shape(self, transition: Transition) -> Transition:
        """``transition`` with the bonus added, the model learning from it as ``step`` would:
        curiosity on the learner's side, for transitions that rollout workers collected."""
        shaped, infos = self._bonus(self._shared(transition.observations), transition.actions,
                                    self._shared(transition.next_observations),
                                    transition.rewards, transition.infos)
        return dataclasses.replace(transition, rewards=shaped, infos=infos)

    def _bonus(self, obs: np.ndarray | None, actions: Mapping[str, Any],
               next_obs: np.ndarray | None, rewards: Mapping[str, float],
               infos: Mapping[str, dict]) -> tuple[dict[str, float], dict[str, dict]]:
        """Rewards plus ``beta * intrinsic`` (learning first when training), and the infos
        with both parts and the seconds it took."""
        start = time.perf_counter()
        intrinsic = 0.0
        if obs is not None and next_obs is not None:
            batch = self._batch(obs, actions, next_obs)
            raw = self._raw_error(batch)
            if self.training:
                self._learn(batch, raw)
            intrinsic = self._normalise(raw)
        shaped = {a: float(r) + self.config.beta * intrinsic for a, r in rewards.items()}
        out = dict(infos)
        seconds = time.perf_counter() - start
        for agent, extrinsic in rewards.items():
            out[agent] = {**out.get(agent, {}), "reward_extrinsic": float(extrinsic),
                          "reward_intrinsic": intrinsic, "curiosity_s": seconds}
        return shaped, out

    def intrinsic_reward(self, obs: np.ndarray, actions: Mapping[str, int],
                         next_obs: np.ndarray) -> float:
        """The normalised bonus the wrapper would give this transition now (nothing is updated)."""
        return self._normalise(self._raw_error(self._batch(obs, actions, next_obs)))

    # ------------------------------------------------------------ internals
    def _shared(self, observations: Mapping[str, Any]) -> np.ndarray | None:
        """The shared training state: the first live agent's observation."""
        for agent in self._agents:
            if agent in observations:
                return np.asarray(observations[agent], dtype=np.float32).reshape(-1)
        return None

    def _batch(self, obs: np.ndarray, actions: Mapping[str, Any], next_obs: np.ndarray) -> TransitionBatch:
        indices = [int(actions[a]) if a in actions else -1 for a in self._agents]
        onehot = torch.zeros(1, sum(self._sizes))
        offset = 0
        for index, size in zip(indices, self._sizes):
            if index >= 0:
                onehot[0, offset + index] = 1.0
            offset += size
        return TransitionBatch(torch.tensor(obs, dtype=torch.float32).reshape(1, -1),
                          torch.tensor([indices]), onehot,
                          torch.tensor(next_obs, dtype=torch.float32).reshape(1, -1))

    def _raw_error(self, batch: TransitionBatch) -> float:
        with torch.no_grad():
            return float(self.model.error(batch).mean())

    def _learn(self, batch: TransitionBatch, raw: float) -> None:
        self.stats.update(raw)
        self.optimizer.zero_grad()
        self.model.loss(batch).backward()
        self.optimizer.step()

    def _normalise(self, raw: float) -> float:
        return float(min(self.config.clip, raw / max(self.stats.rms, 1e-8)))

    # ----------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """The wrapper's model, optimizer, running std and last observation, plus the
        wrapped env's own ``state_dict()`` (if it has one) under ``"env"``."""
        inner = self.env.state_dict() if hasattr(self.env, "state_dict") else None
        return {"curiosity": self.model_state(), "env": inner}

    def model_state(self) -> dict[str, Any]:
        """The wrapper's own part of ``state_dict``: model, optimizer, running std, last
        observation (all that a learner shaping workers' transitions keeps)."""
        last = None if self._last_obs is None else torch.from_numpy(self._last_obs.copy())
        return {"kind": self.kind, "model": copy.deepcopy(self.model.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "stats": self.stats.state_dict(), "last_obs": last}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_model_state(state["curiosity"])
        if state.get("env") is not None and hasattr(self.env, "load_state_dict"):
            self.env.load_state_dict(state["env"])

    def load_model_state(self, own: Mapping[str, Any]) -> None:
        """Restore what ``model_state`` returned."""
        if own.get("kind") != self.kind:
            raise ControllerCheckpointError(
                f"state of a {own.get('kind')!r} wrapper given to {self.kind!r}")
        try:
            self.model.load_state_dict(own["model"])
            self.optimizer.load_state_dict(copy.deepcopy(own["optimizer"]))
        except (RuntimeError, ValueError) as error:
            raise ControllerCheckpointError(f"{self.kind} state does not fit: {error}") from error
        self.stats.load_state_dict(own["stats"])
        self._last_obs = None if own["last_obs"] is None else own["last_obs"].numpy().copy()


def _shared_obs_dim(env: ParallelEnv) -> int:
    shapes = {a: env.observation_space(a).shape for a in env.possible_agents}
    if len(set(shapes.values())) != 1 or None in shapes.values():
        raise AgentConfigError(f"curiosity needs one shared Box observation; got shapes {shapes}")
    return int(np.prod(next(iter(shapes.values()))))
