"""Single-agent Gymnasium views of the multi-agent env, for single-agent RL libraries.

``JointActionEnv`` lets one policy pick the whole recipe: the action is a
``MultiDiscrete`` vector (one entry per active agent, e.g. for SB3 PPO) or, with
``flatten=True``, one ``Discrete`` index over all joint choices (e.g. for SB3 DQN,
which rejects ``MultiDiscrete``). Observation and reward are the shared ones.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.env import MLICTrainingEnv
from envs.errors import InvalidActionError


class JointActionEnv(gymnasium.Env):
    """One agent controls every component of ``env``."""

    metadata = {"render_modes": []}

    def __init__(self, env: MLICTrainingEnv, flatten: bool = False) -> None:
        self.env = env
        self.flatten = flatten
        self.agent_order = list(env.possible_agents)
        self.nvec = np.array([env.action_space(a).n for a in self.agent_order], dtype=np.int64)
        self.action_space = (spaces.Discrete(int(np.prod(self.nvec))) if flatten
                             else spaces.MultiDiscrete(self.nvec))
        self.observation_space = env.observation_space(self.agent_order[0])

    def decode(self, action: Any) -> dict[str, int]:
        """The per-agent actions a joint action stands for."""
        if self.flatten:
            index = np.asarray(action).reshape(-1)
            if index.size != 1 or not np.issubdtype(index.dtype, np.integer) \
                    or not 0 <= int(index[0]) < self.action_space.n:
                raise InvalidActionError(
                    f"joint action {action!r} must be an int in [0, {self.action_space.n - 1}]")
            parts = np.unravel_index(int(index[0]), tuple(self.nvec))
        else:
            parts = np.asarray(action).reshape(-1)
            if parts.shape != self.nvec.shape:
                raise InvalidActionError(
                    f"joint action must have {len(self.nvec)} entries (one per agent "
                    f"{self.agent_order}), got {action!r}")
        return {agent: parts[i] for i, agent in enumerate(self.agent_order)}

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict]:
        """Reset the wrapped env; returns the shared observation and the first agent's info."""
        super().reset(seed=seed)
        observations, infos = self.env.reset(seed=seed, options=options)
        first = self.agent_order[0]
        return observations[first], infos[first]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play one joint action (see ``decode``); returns the shared observation, reward,
        termination and truncation, and the first agent's info."""
        observations, rewards, terminations, truncations, infos = self.env.step(self.decode(action))
        first = self.agent_order[0]
        return (observations[first], float(rewards[first]), bool(terminations[first]),
                bool(truncations[first]), infos[first])

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()
