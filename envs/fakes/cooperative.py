"""A cheap cooperative ParallelEnv with a known best joint choice, for testing controllers.

``CooperativeFakeEnv`` mimics ``envs.MLICTrainingEnv``'s interface (agents ``aug``,
``opt``, ``lrs``, ``loss`` with Discrete actions, one shared float32 observation in
[-1, 1], one shared reward, truncation after ``max_steps``). Each agent's choices have
fixed values and exactly one is clearly best, so a learner has something to find.
No images and no training: a step costs microseconds.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.errors import ConfigError, InvalidActionError, ResetNeededError

DEFAULT_ACTIONS: dict[str, int] = {"aug": 8, "opt": 4, "lrs": 5, "loss": 5}
DEFAULT_BEST: dict[str, int] = {"aug": 3, "opt": 1, "lrs": 2, "loss": 4}


class CooperativeFakeEnv(ParallelEnv):
    """Reward = sum over agents of ``value(agent, choice) / n_agents`` + Gaussian noise.

    The best choice is worth 1, every other choice at most 0.5, so the best joint choice
    earns about 1 per step. The observation is ``[2 * step / max_steps - 1]`` followed by
    the one-hot of every agent's last choice. The noise comes from a generator seeded by
    ``reset(seed=...)``.
    """

    metadata = {"name": "cooperative_fake_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, n_actions: Mapping[str, int] | None = None,
                 best: Mapping[str, int] | None = None, max_steps: int = 25,
                 noise: float = 0.1) -> None:
        self.n_actions = dict(n_actions or DEFAULT_ACTIONS)
        self.best = dict(best or {a: DEFAULT_BEST.get(a, 0) for a in self.n_actions})
        if set(self.best) != set(self.n_actions) or any(
                not 0 <= self.best[a] < n for a, n in self.n_actions.items()):
            raise ConfigError(f"best={self.best} does not fit n_actions={self.n_actions}: give "
                              f"every agent of n_actions one best choice in range(n)")
        self.max_steps, self.noise = int(max_steps), float(noise)
        self.render_mode = None
        self.possible_agents = list(self.n_actions)
        self.agents: list[str] = []
        self._action_spaces = {a: spaces.Discrete(n) for a, n in self.n_actions.items()}
        dim = 1 + sum(self.n_actions.values())
        self._observation_space = spaces.Box(-1.0, 1.0, shape=(dim,), dtype=np.float32)
        self.state_space = self._observation_space
        self._rng: np.random.Generator | None = None
        self._step = 0
        self._last: dict[str, int | None] = {a: None for a in self.possible_agents}

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    def value(self, agent: str, choice: int) -> float:
        """Worth of one choice: 1 for the best, ``0.5 * k / n`` (k < n) for the others."""
        n, best = self.n_actions[agent], self.best[agent]
        return 1.0 if choice == best else 0.5 * ((choice + best) % n) / n

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self._step = 0
        self._last = {a: None for a in self.possible_agents}
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise ResetNeededError("the episode is over (or never started): call reset() first")
        if set(actions) != set(self.agents):
            raise InvalidActionError(
                f"need one action per live agent {self.agents}, got {sorted(actions)}")
        assert self._rng is not None
        terms = {a: self.value(a, int(actions[a])) / len(self.possible_agents) for a in self.agents}
        reward = float(sum(terms.values()) + self.noise * self._rng.normal())
        self._last = {a: int(actions[a]) for a in self.agents}
        self._step += 1
        truncated = self._step >= self.max_steps
        agents, observations = self.agents, self._observations()
        if truncated:
            self.agents = []
        infos = {a: {"terms": dict(terms)} for a in agents}
        return (observations, {a: reward for a in agents}, {a: False for a in agents},
                {a: truncated for a in agents}, infos)

    def state(self) -> np.ndarray:
        parts = [np.array([2.0 * self._step / self.max_steps - 1.0])]
        for agent, n in self.n_actions.items():
            onehot = np.zeros(n)
            if self._last[agent] is not None:
                onehot[self._last[agent]] = 1.0
            parts.append(onehot)
        return np.concatenate(parts).astype(np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        vector = self.state()
        return {a: vector.copy() for a in self.agents}

    def state_dict(self) -> dict[str, Any]:
        return {"step": self._step, "last": dict(self._last), "agents": list(self.agents),
                "rng": None if self._rng is None else self._rng.bit_generator.state}

    def fork(self) -> CooperativeFakeEnv:
        """An independent copy at this point of the episode (as ``MLICTrainingEnv.fork``)."""
        other = copy.copy(self)
        other.load_state_dict(copy.deepcopy(self.state_dict()))
        return other

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._step, self._last, self.agents = state["step"], dict(state["last"]), list(state["agents"])
