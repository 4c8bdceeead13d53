"""Baseline controllers: ``static`` (fixed recipe), ``random`` (uniform) and ``bandit``.

``static`` is the paper's "w/o all agents" ablation: the recipe never changes.
``bandit`` is what MAT-Agent's official code actually runs: one independent,
non-stationary epsilon-greedy bandit per agent, each updating only the arm it pulled
with the shared reward (constant step size, Sutton & Barto 2018, Sec. 2.5, so old
rewards are forgotten as training moves on).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from agents.base import Controller, Observations, Transition, action_names, mapping_of_ints
from agents.common import damaged, generator_state, set_generator_state, spawn_generators
from agents.errors import AgentConfigError, ControllerCheckpointError
from envs.checks import require_in_range, require_mapping

BANDIT_FILE = "bandit.json"
_TABLES = ("values", "counts")


@dataclass(frozen=True)
class StaticConfig:
    """Hyperparameters of ``static``."""

    choices: dict[str, int | str] = field(default_factory=dict)
    """Fixed action per agent, by index or by name (``{"opt": "sgd"}``, names from
    ``env.action_names``), e.g. the env's default recipe; missing agents use 0. The indices
    and names are checked against the env's actions when the controller is built."""

    def __post_init__(self) -> None:
        require_mapping("static choices", self.choices, AgentConfigError)


@dataclass(frozen=True)
class RandomConfig:
    """``random`` has no hyperparameters; its seed comes from ``make_controller``."""


@dataclass(frozen=True)
class BanditConfig:
    """Hyperparameters of ``bandit``."""

    alpha: float = 0.3
    """Constant step size of the value update (tracks a non-stationary reward), in (0, 1]."""
    epsilon: float = 0.2
    """Probability of pulling a uniformly random arm while training, in [0, 1]."""
    initial_value: float = 0.0
    """Starting value estimate of every arm: a finite number in (-inf, inf)."""

    def __post_init__(self) -> None:
        e = AgentConfigError
        require_in_range("alpha", self.alpha, 0.0, 1.0, low_open=True, error=e)
        require_in_range("epsilon", self.epsilon, 0.0, 1.0, error=e)
        require_in_range("initial_value", self.initial_value, error=e)


class StaticController(Controller):
    """Always plays the same action per agent; learns nothing."""

    name = "static"
    config_class = StaticConfig

    def __init__(self, env: ParallelEnv, *, seed: int = 0, config: StaticConfig | None = None) -> None:
        super().__init__(env, config or StaticConfig())
        given = mapping_of_ints("choices", self.config.choices, self.action_sizes,
                                names=action_names(env, self.agents))
        self.choices = {a: given.get(a, 0) for a in self.agents}

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        return {a: self.choices[a] for a in self.live(observations)}

    def observe(self, transition: Transition) -> dict[str, float]:
        return {}

    def _state(self) -> dict[str, Any]:
        return {"choices": dict(self.choices)}

    def actor_state(self) -> dict[str, Any]:
        return {"choices": dict(self.choices)}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        self._load_state(state)

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.choices = mapping_of_ints("choices", state["choices"], self.action_sizes)

    def _save_artifacts(self, directory: Path) -> None:
        """The manifest already holds the choices."""

    def load_artifacts(self, directory: Path) -> None:
        """Nothing beyond the manifest's config."""


class RandomController(Controller):
    """Uniformly random actions from its own generator (one per agent)."""

    name = "random"
    config_class = RandomConfig

    def __init__(self, env: ParallelEnv, *, seed: int, config: RandomConfig | None = None) -> None:
        super().__init__(env, config or RandomConfig())
        self.rngs = dict(zip(self.agents, spawn_generators(seed, len(self.agents))))

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        return {a: int(self.rngs[a].integers(self.action_sizes[a])) for a in self.live(observations)}

    def observe(self, transition: Transition) -> dict[str, float]:
        return {}

    def _state(self) -> dict[str, Any]:
        return {"rngs": {a: generator_state(r) for a, r in self.rngs.items()}}

    def actor_state(self) -> dict[str, Any]:
        return {}  # nothing learned: a copy acts from its own generators

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to copy."""

    def _load_state(self, state: Mapping[str, Any]) -> None:
        for agent, rng_state in state["rngs"].items():
            set_generator_state(self.rngs[agent], rng_state)

    def _save_artifacts(self, directory: Path) -> None:
        """Nothing to save: a random controller has no learned state."""

    def load_artifacts(self, directory: Path) -> None:
        """Nothing to load."""


class BanditController(Controller):
    """One non-stationary epsilon-greedy bandit per agent over its Discrete choices.

    With a constant step a single lucky reward can lift an explored arm above the
    incumbent for a while, so the *greedy* arm flickers under noise even when the arm
    played most often is the best one; judge it by what it plays.
    """

    name = "bandit"
    config_class = BanditConfig

    def __init__(self, env: ParallelEnv, *, seed: int, config: BanditConfig | None = None) -> None:
        super().__init__(env, config or BanditConfig())
        self.rngs = dict(zip(self.agents, spawn_generators(seed, len(self.agents))))
        start = float(self.config.initial_value)
        self.values = {a: np.full(n, start) for a, n in self.action_sizes.items()}
        self.counts = {a: np.zeros(n, dtype=np.int64) for a, n in self.action_sizes.items()}

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        explore = self.explores(training)
        return {a: self._pull(a, explore) for a in self.live(observations)}

    def _pull(self, agent: str, explore: bool) -> int:
        values, rng = self.values[agent], self.rngs[agent]
        if not explore:
            return int(np.argmax(values))  # frozen: deterministic, ties to the lowest index
        if rng.random() < self.config.epsilon:
            return int(rng.integers(len(values)))
        best = np.flatnonzero(values == values.max())
        return int(best[rng.integers(len(best))])  # random tie-break explores the untried arms

    def observe(self, transition: Transition) -> dict[str, float]:
        logs: dict[str, float] = {}
        for agent in self.live(transition.actions):
            if self.training:
                self._update(agent, int(transition.actions[agent]),
                             float(transition.rewards[agent]))
            logs[f"agent/{agent}/epsilon"] = self.config.epsilon if self.training else 0.0
            logs[f"agent/{agent}/value_max"] = float(self.values[agent].max())
            logs[f"agent/{agent}/greedy"] = float(np.argmax(self.values[agent]))
        return logs

    def _update(self, agent: str, arm: int, reward: float) -> None:
        self.values[agent][arm] += self.config.alpha * (reward - self.values[agent][arm])
        self.counts[agent][arm] += 1

    def greedy_choices(self) -> dict[str, int]:
        """The arm each agent currently believes best."""
        return {a: int(np.argmax(v)) for a, v in self.values.items()}

    def _tables(self) -> dict[str, dict[str, list]]:
        return {name: {a: t.tolist() for a, t in getattr(self, name).items()} for name in _TABLES}

    def _set_tables(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        for agent in self.agents:
            values, counts = (np.asarray(tables[k][agent], dtype=float) for k in _TABLES)
            if not values.shape == counts.shape == (self.action_sizes[agent],):
                raise ControllerCheckpointError(
                    f"bandit tables for {agent!r} have {values.shape[0]} arms; the env gives "
                    f"{self.action_sizes[agent]}")
            self.values[agent] = values
            self.counts[agent] = counts.astype(np.int64)

    def _state(self) -> dict[str, Any]:
        return {**self._tables(), "rngs": {a: generator_state(r) for a, r in self.rngs.items()}}

    def actor_state(self) -> dict[str, Any]:
        return self._tables()

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        self._set_tables(state)

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self._set_tables(state)
        for agent, rng_state in state["rngs"].items():
            set_generator_state(self.rngs[agent], rng_state)

    def _save_artifacts(self, directory: Path) -> None:
        (directory / BANDIT_FILE).write_text(json.dumps(self._tables(), indent=2))

    def load_artifacts(self, directory: Path) -> None:
        """Load the value tables written by ``save`` (the generators stay as seeded)."""
        path = Path(directory) / BANDIT_FILE
        if not path.is_file():
            raise ControllerCheckpointError(f"{path} is missing: not a saved bandit controller")
        try:
            tables = json.loads(path.read_text())
        except ValueError as error:  # not JSON, or not even text
            raise damaged(path, "bandit's value tables", f"not valid JSON: {error}") from error
        if not isinstance(tables, dict) or any(k not in tables for k in _TABLES):
            raise damaged(path, "bandit's value tables", f"it lacks {list(_TABLES)}")
        self._set_tables(tables)
