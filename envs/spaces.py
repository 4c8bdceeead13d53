"""``ControlSpaces``: an MLIC env's agents, spaces and config, without its data or trainer.

``AgentSpaces`` builds the spaces from an ``EnvConfig``; the env and ``ControlSpaces`` both
inherit it, so the two cannot differ.

What a controller needs to be built or loaded (``agents.make_controller``,
``agents.load_controller``, ``zoo:<name>``) where there is no env to give it: the user-loop
API (``training.user_loop.dynamic``) trains the user's own model on the user's own batches, and
only the controller's interface has to match the env the controller was trained on. The
spaces are the ones ``MLICTrainingEnv`` has for the same ``EnvConfig``; ``state()`` is the
last observation handed over with :meth:`set_state`.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.actions import action_spaces
from envs.config import EnvConfig
from envs.engine.recipe import COMPONENTS, catalogue
from envs.errors import ConfigError, ResetNeededError
from envs.observation import feature_names, observation_space, observation_version


class AgentSpaces:
    """The agents and spaces an ``EnvConfig`` implies (shared by ``MLICTrainingEnv`` and
    ``ControlSpaces``): one ``Discrete`` per agent over its catalogue, one observation Box."""

    config: EnvConfig
    possible_agents: list[str]

    def _init_spaces(self, config: EnvConfig) -> None:
        self.config = config
        self.possible_agents = list(config.agents)
        self._observation_space = observation_space(config.history, config.catalogue,
                                                   config.context_features)
        self._action_spaces = action_spaces(self.possible_agents, config.catalogue)
        self.state_space = self._observation_space

    def observation_space(self, agent: str) -> spaces.Box:
        self._check_agent(agent)
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        self._check_agent(agent)
        return self._action_spaces[agent]

    def action_names(self, agent: str) -> list[str]:
        """The stable names of ``agent``'s choices; action ``i`` picks ``action_names(agent)[i]``."""
        if agent not in COMPONENTS:
            raise ConfigError(f"unknown agent {agent!r}; agents are {list(COMPONENTS)}")
        return list(catalogue(self.config.catalogue)[agent])

    @property
    def observation_names(self) -> tuple[str, ...]:
        """Names of the observation entries (see ``envs.observation.FEATURES``)."""
        return feature_names(self.config.history, self.config.catalogue,
                             self.config.context_features)

    @property
    def observation_version(self) -> int:
        """The observation's version (``envs.observation.OBSERVATION_VERSIONS``): it changes
        with the catalogue, whose choices the observation one-hot encodes, and with the
        context features."""
        return observation_version(self.config.catalogue, self.config.context_features)

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise ConfigError(f"unknown agent {agent!r}; this env's agents are {self.possible_agents}")


class ControlSpaces(AgentSpaces, ParallelEnv):
    """The controller-facing side of ``MLICTrainingEnv(config, ...)``; it cannot be stepped."""

    metadata = {"name": "mlic_control_spaces_v0", "render_modes": []}

    def __init__(self, config: EnvConfig) -> None:
        self._init_spaces(config)
        self.agents = list(self.possible_agents)
        self._state: np.ndarray | None = None

    def set_state(self, vector: np.ndarray) -> None:
        """The observation every agent shares now (what ``state()`` returns)."""
        self._state = vector

    def last_state(self) -> np.ndarray | None:
        """A copy of the observation ``set_state`` was last given (None before any)."""
        return None if self._state is None else self._state.copy()

    def state(self) -> np.ndarray:
        if self._state is None:
            raise ResetNeededError("no observation yet: the training loop has not started")
        return self._state

    def reset(self, seed=None, options=None):  # noqa: D102 - not an episode
        raise ConfigError("ControlSpaces describes a controller's interface; it trains nothing. "
                          "Use envs.make(...) for an environment")

    def step(self, actions):  # noqa: D102
        raise ConfigError("ControlSpaces describes a controller's interface; it trains nothing. "
                          "Use envs.make(...) for an environment")
