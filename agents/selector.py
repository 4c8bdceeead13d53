"""``selector``: per-task algorithm selection, the baseline a dynamic controller must beat.

At an episode's first decision it picks one static recipe from the observation, then holds it
to the end. It picks by k nearest neighbours: ``memory`` holds, for past episodes, the first
observation and the score each recipe reached from there relative to the first recipe's (in
the rollout expert's demonstrations, a candidate scored at the first decision and held to the
end *is* that static recipe's run: ``training.imitation.selector`` builds the memory from
them). The recipe with the best mean relative score over the ``neighbours`` nearest
episodes that scored it is played; with an empty memory, the first recipe.

It learns nothing from the env's reward: it is ASlib's per-instance selector, with the
features the env's observation offers at the start (the first feature, progress, is 0 there,
which is how it tells a new episode, frozen or not). With ``decide_at=d`` it plays the first
recipe for ``d`` decisions and picks from the observation after them, which then holds what
those segments measured (observation version 2: each augmentation family's label effect).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from agents.base import (Controller, Observations, Transition, action_names, mapping_of_ints,
                         require_recipes)
from agents.errors import AgentConfigError, ControllerCheckpointError
from envs.checks import require_in_range

MEMORY = "memory.json"
"""The saved memory's file inside a saved selector's folder."""


@dataclass(frozen=True)
class SelectorConfig:
    """Hyperparameters of ``selector``."""

    recipes: tuple[dict[str, int | str], ...] = ()
    """The static recipes it picks from, each an action per agent by index or name (missing
    agents: 0); empty: the env's first actions only."""
    neighbours: int = 3
    """Past episodes whose first observation is nearest that vote: an int in [1, inf)."""
    decide_at: int = 0
    """The decision at which it picks, from that decision's observation: 0, the first; ``d``,
    after ``d`` segments of the first recipe (with observation version 2, the augmentations'
    label effects are measured after the first segment). Its memory must hold observations
    of that decision. An int in [0, inf)."""

    def __post_init__(self) -> None:
        require_recipes("selector recipes", self.recipes)
        require_in_range("selector neighbours", self.neighbours, 1, integer=True,
                         error=AgentConfigError)
        require_in_range("selector decide_at", self.decide_at, 0, integer=True,
                         error=AgentConfigError)


@dataclass
class Episode:
    """One remembered episode: its first observation and each recipe's relative score."""

    observation: list[float]
    scores: dict[int, float] = field(default_factory=dict)
    """Recipe index -> score minus the first recipe's (those the episode scored)."""


class SelectorController(Controller):
    """Picks one static recipe per episode from its first observation, by nearest episodes."""

    name = "selector"
    config_class = SelectorConfig

    def __init__(self, env: ParallelEnv, *, seed: int = 0,
                 config: SelectorConfig | None = None) -> None:
        super().__init__(env, config or SelectorConfig())
        names = action_names(env, self.agents)
        given = self.config.recipes or ({},)
        self.recipes = [self._recipe(i, r, names) for i, r in enumerate(given)]
        self.memory: list[Episode] = []
        self.pick: int | None = None
        """The recipe index of the running episode (None before it picks)."""
        self.decision = 0
        """Decisions taken in the running episode."""

    def _recipe(self, index: int, given: Mapping[str, int | str], names: Any) -> dict[str, int]:
        chosen = mapping_of_ints(f"recipes[{index}]", given, self.action_sizes, names=names)
        return {a: chosen.get(a, 0) for a in self.agents}

    def remember(self, episodes: list[Episode]) -> None:
        """Replace the memory (``training.imitation.selector`` fits it)."""
        self.memory = [Episode(list(map(float, e.observation)),
                               {int(k): float(v) for k, v in e.scores.items()}) for e in episodes]

    def choose(self, observation: np.ndarray) -> int:
        """The recipe index with the best mean relative score among the nearest episodes."""
        if not self.memory:
            return 0
        x = np.asarray(observation, dtype=np.float64)
        distances = [float(np.linalg.norm(np.asarray(e.observation) - x)) for e in self.memory]
        nearest = [self.memory[i] for i in np.argsort(distances, kind="stable")]
        votes: dict[int, list[float]] = {}
        for episode in nearest[:self.config.neighbours]:
            for recipe, score in episode.scores.items():
                votes.setdefault(recipe, []).append(score)
        means = {r: float(np.mean(v)) for r, v in votes.items() if r < len(self.recipes)}
        return max(sorted(means), key=lambda r: means[r]) if means else 0

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        live = self.live(observations)
        observation = np.asarray(next(iter(observations.values())))
        if observation[0] == 0.0:  # feature 0 is progress: a new episode
            self.pick, self.decision = None, 0
        if self.pick is None and self.decision >= self.config.decide_at:
            self.pick = self.choose(observation)
        self.decision += 1
        recipe = self.recipes[0 if self.pick is None else self.pick]
        return {a: recipe[a] for a in live}

    def observe(self, transition: Transition) -> dict[str, float]:
        if transition.done:
            self.pick, self.decision = None, 0
        return {}

    def _state(self) -> dict[str, Any]:
        return {"pick": self.pick, "decision": self.decision, **self.actor_state()}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.load_actor_state(state)
        self.pick, self.decision = state.get("pick"), int(state.get("decision", 0))

    def actor_state(self) -> dict[str, Any]:
        return {"memory": [{"observation": e.observation, "scores": e.scores}
                           for e in self.memory]}

    def load_actor_state(self, state: Mapping[str, Any]) -> None:
        self.remember([Episode(e["observation"], e["scores"]) for e in state["memory"]])
        self.pick, self.decision = None, 0

    def _save_artifacts(self, directory: Path) -> None:
        """The memory as JSON (the recipes are in the manifest's config)."""
        (Path(directory) / MEMORY).write_text(json.dumps(self.actor_state()["memory"]) + "\n")

    def load_artifacts(self, directory: Path) -> None:
        path = Path(directory) / MEMORY
        if not path.is_file():
            raise ControllerCheckpointError(f"{path} is missing: no saved selector memory")
        try:
            self.load_actor_state({"memory": json.loads(path.read_text())})
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ControllerCheckpointError(f"{path} is not a selector's memory ({error})") \
                from None
