"""A cheap cooperative game whose reward is known, to test credit assignment (no images).

``InteractionGameEnv`` is a PettingZoo ParallelEnv with the agents of the MLIC env. The
shared reward of a joint action ``a`` is::

    r(a) = sum_i w_i[a_i] + BONUS * [a_aug == 2 and a_opt == 1] + noise * N(0, 1)

Each agent's choice adds its own term; ``aug``'s choice 2 is only its second best alone
(0.20 < 0.30) but, together with ``opt``'s best choice 1, earns the interaction bonus, so
the optimal joint action is ``OPTIMUM`` (expected reward 1.25; the best joint action
without the bonus earns 1.05). The observation is the episode progress ``[2 t / T - 1]``.
The noise comes from a generator seeded by ``reset(seed=...)``.

``expected_reward``, ``contribution`` and ``expected_team_reward`` give the exact
quantities a controller's estimates can be checked against.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.errors import ResetNeededError

WEIGHTS: dict[str, tuple[float, ...]] = {
    "aug": (0.30, 0.00, 0.20, 0.10),
    "opt": (0.00, 0.30, 0.10, 0.20),
    "lrs": (0.10, 0.00, 0.25),
    "loss": (0.20, 0.10, 0.00),
}
"""Each agent's own contribution w_i[a_i]; any two of an agent's choices differ by >= 0.1."""
BONUS = 0.3
PAIR = {"aug": 2, "opt": 1}
"""The joint choice of two agents that earns ``BONUS``."""
OPTIMUM: dict[str, int] = {"aug": 2, "opt": 1, "lrs": 2, "loss": 0}
NOISE = 0.1
"""Default standard deviation of the reward noise."""


def expected_reward(joint: Mapping[str, int]) -> float:
    """The noise-free reward of one joint action."""
    own = sum(WEIGHTS[a][int(joint[a])] for a in WEIGHTS)
    return own + BONUS * all(int(joint[a]) == c for a, c in PAIR.items())


def contribution(agent: str, action: int, others: Mapping[str, int] = OPTIMUM) -> float:
    """What ``agent`` playing ``action`` earns when every other agent plays ``others``."""
    return expected_reward({**others, agent: action})


def expected_team_reward(probs: Mapping[str, np.ndarray]) -> float:
    """E[r] when each agent draws independently from ``probs[agent]``."""
    own = sum(float(np.dot(probs[a], WEIGHTS[a])) for a in WEIGHTS)
    return own + BONUS * float(np.prod([probs[a][c] for a, c in PAIR.items()]))


class InteractionGameEnv(ParallelEnv):
    """Repeated cooperative game with a known reward (see the module docstring)."""

    metadata = {"name": "interaction_game_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, max_steps: int = 25, noise: float = NOISE) -> None:
        self.max_steps, self.noise = int(max_steps), float(noise)
        self.render_mode = None
        self.possible_agents = list(WEIGHTS)
        self.agents: list[str] = []
        self._action_spaces = {a: spaces.Discrete(len(w)) for a, w in WEIGHTS.items()}
        self._observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.state_space = self._observation_space
        self._rng: np.random.Generator | None = None
        self._step = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self._step = 0
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise ResetNeededError("the episode is over (or never started): call reset() first")
        assert self._rng is not None
        reward = expected_reward(actions) + self.noise * float(self._rng.normal())
        self._step += 1
        truncated = self._step >= self.max_steps
        agents, observations = self.agents, self._observations()
        if truncated:
            self.agents = []
        return (observations, {a: reward for a in agents}, {a: False for a in agents},
                {a: truncated for a in agents}, {a: {} for a in agents})

    def state(self) -> np.ndarray:
        return self.observation_at(self._step)

    def observation_at(self, step: int) -> np.ndarray:
        """The observation at ``step`` of an episode (``step`` decisions already taken)."""
        return np.array([2.0 * step / self.max_steps - 1.0], dtype=np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.state() for a in self.agents}
