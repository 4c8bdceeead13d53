"""``SurrogateEnv`` (``mlic-surrogate-v0``): the MLIC env's interface, a fitted model's dynamics.

Same agents, spaces and episode shape as ``envs.make(task, observation="relative")``: four
agents choose a component each per decision, and the episode is truncated when the task's
budget is spent. The next observation and the reward come from an ``Ensemble`` fitted on
real transitions (``benchmarks.surrogate fit`` on the Minari dataset of
``benchmarks.dataset``), sampled, so that the same state and action can lead to different
outcomes, as in real training. A step takes microseconds instead of a training segment.

``reset(seed=..., options={"task": NAME})`` (or ``SurrogateEnv(task=NAME)``) starts one of
the fitted task table's tasks, from one of the real initial observations recorded for it;
without a task it draws one of the ``split`` (``train`` by default; ``heldout`` tasks were
only evaluated, never fitted on). The model sees each task's features (its source, backbone,
size, budget, label noise and imbalance), so it can be asked about a task it was not fitted
on.
Infos give the surrogate's ``val_mAP`` (from the predicted relative val-mAP feature and the
task's recorded start), the ``task``, and ``uncertainty``: the ensemble members'
disagreement on the val-mAP change.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from envs.actions import validate_actions
from envs.config import EnvConfig
from envs.engine.recipe import COMPONENTS
from envs.errors import ConfigError, ResetNeededError
from envs.spaces import AgentSpaces
from envs.surrogate.model import (ACTION_SIZES, CATALOGUE, DYNAMIC, SCALARS, Ensemble, model_inputs,
                                  next_observation)

SURROGATE_ID = "mlic-surrogate-v0"
"""Not a training env, so not in the registry: ``envs.make`` builds :class:`SurrogateEnv` for
it (keyword arguments: ``weights``, ``split``)."""
WEIGHTS = Path(__file__).resolve().parent / "weights" / "digits-v1.npz"
"""The bundled fit (its card, ``digits-v1.json`` beside it, says how it was made)."""
SPLITS = ("train", "heldout")
SETTINGS = ("weights", "split", "task")
"""The keywords ``envs.make("mlic-surrogate-v0", ...)`` takes (:func:`make_surrogate`'s)."""
_VAL = DYNAMIC.index("val_map")
ONE_HOT_SIZE = sum(ACTION_SIZES)
_TASK_KEYS = {"split", "decisions", "features", "starts", "start_val"}
"""What every entry of a fit's task table holds."""


class SurrogateEnv(AgentSpaces, ParallelEnv):
    """A PettingZoo ParallelEnv whose transitions are sampled from a fitted ensemble."""

    metadata = {"name": "mlic_surrogate_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, weights: str | Path | None = None, split: str = "train",
                 ensemble: Ensemble | None = None, task: str | None = None) -> None:
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise ConfigError(f"weights must be the path of a fitted .npz, got {weights!r}")
        if not isinstance(split, str) or split not in SPLITS:
            raise ConfigError(f"split {split!r} is not one of {SPLITS}")
        self.model = ensemble if ensemble is not None else Ensemble.load(Path(weights or WEIGHTS))
        self.tasks: dict[str, dict[str, Any]] = self.model.meta["tasks"]
        self.split = split
        self.fixed_task = task if task is None else self._known(task)
        """Every reset starts this task (unless its options name another)."""
        if not any(t["split"] == split for t in self.tasks.values()):
            raise ConfigError(f"the surrogate's task table has no {split} task; its tasks: "
                              f"{sorted(self.tasks)}")
        history = int(self.model.meta["history"])
        self._init_spaces(EnvConfig(observation="relative", history=history,
                                    agents=tuple(COMPONENTS),
                                    catalogue=self.model.meta.get("catalogue", CATALOGUE)))
        self._check_task_table(weights)
        self.render_mode: str | None = None
        self.agents: list[str] = []
        self.task: str | None = None
        self._obs: np.ndarray | None = None
        self._start_val = 0.0
        self._decisions = 0
        self._rng = np.random.default_rng()

    # ------------------------------------------------------------- episode
    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        name = (options or {}).get("task", self.fixed_task)
        if name is None:
            names = sorted(n for n, t in self.tasks.items() if t["split"] == self.split)
            name = names[int(self._rng.integers(len(names)))]
        task = self.tasks[self._known(name)]
        start = int(self._rng.integers(len(task["starts"])))
        self.task, self._decisions = name, 0
        self._obs = np.asarray(task["starts"][start], dtype=np.float32)
        self._start_val = float(task["start_val"][start])
        self.config = dataclasses.replace(self.config, max_decisions=int(task["decisions"]))
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos(None)

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._obs is None:
            raise ResetNeededError("step() before the first reset(): call reset() first")
        if not self.agents:
            raise ResetNeededError("the episode is over: call reset() before step()")
        checked = validate_actions(actions, self.agents, self._action_spaces)
        joint = np.array([[checked[a] for a in self.possible_agents]])
        task = self.tasks[self.task]
        x = model_inputs(self._obs[None], joint, task["features"])
        prediction, disagreement = self.model.sample(x, self._rng)
        self._obs = next_observation(self._obs, joint, prediction, 1.0 / task["decisions"],
                                     self.config.history,
                                     one_hot=x[0, len(self._obs):len(self._obs) + ONE_HOT_SIZE])
        self._decisions += 1
        truncated = self._decisions >= int(task["decisions"])
        agents, observations = self.agents, self._observations()
        infos = self._infos(disagreement[_VAL])
        if truncated:
            self.agents = []
        reward = float(prediction[-1])
        return (observations, {a: reward for a in agents}, {a: False for a in agents},
                {a: truncated for a in agents}, {a: infos[a] for a in agents})

    def _check_task_table(self, weights: str | Path | None) -> None:
        """Refuse a model whose task table or input width does not fit this env (a model file
        that loaded but would fail at the first step), naming the file."""
        obs_dim = self.observation_space(self.possible_agents[0]).shape[0]
        for name, task in self.tasks.items():
            if not isinstance(task, dict) or not _TASK_KEYS <= set(task) \
                    or not all(isinstance(task[k], list) for k in ("features", "starts",
                                                                    "start_val")) \
                    or not task["starts"] or len(task["starts"]) != len(task["start_val"]):
                problem = f"task {name!r} of its table lacks {sorted(_TASK_KEYS)}"
            elif any(not isinstance(s, list) or len(s) != obs_dim for s in task["starts"]):
                problem = f"task {name!r} starts from observations that are not {obs_dim} long"
            elif obs_dim + ONE_HOT_SIZE + len(task["features"]) != self.model.x_mean.size:
                problem = (f"its model takes {self.model.x_mean.size} inputs, not the "
                           f"{obs_dim + ONE_HOT_SIZE + len(task['features'])} of an observation, "
                           f"a joint action and task {name!r}'s features")
            else:
                continue
            raise ConfigError(f"surrogate weights {weights or WEIGHTS} do not fit this env: "
                              f"{problem}; fit them again with python -m benchmarks.surrogate "
                              "fit")

    def _known(self, task: str) -> str:
        if not isinstance(task, str) or task not in self.tasks:
            raise ConfigError(f"task {task!r} is not in the surrogate's task table: use one of "
                              f"{sorted(self.tasks)}")
        return task

    def pinned(self, task: str) -> SurrogateEnv:
        """A surrogate on the same model whose every reset starts ``task``."""
        return SurrogateEnv(split=self.split, ensemble=self.model, task=task)

    # ------------------------------------------------------------- views
    def val_map(self) -> float:
        """The surrogate's val mAP (0..100): the relative val-mAP feature in the task's points."""
        if self._obs is None:
            raise ResetNeededError("val_map() before the first reset(): call reset() first")
        share = float(self._obs[SCALARS.index("val_map")])
        return self._start_val + share * max(1.0, 100.0 - self._start_val)

    def state(self) -> np.ndarray:
        if self._obs is None:
            raise ResetNeededError("state() before the first reset(): call reset() first")
        return self._obs.copy()

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self._obs.copy() for a in self.agents}

    def _infos(self, uncertainty: float | None) -> dict[str, dict]:
        info = {"val_mAP": self.val_map(), "task": self.task, "decision": self._decisions,
                "uncertainty": None if uncertainty is None else float(uncertainty)}
        return {a: dict(info) for a in self.possible_agents}

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None


def make_surrogate(weights: str | Path | None = None, split: str = "train",
                   task: str | None = None) -> SurrogateEnv:
    """``mlic-surrogate-v0``: the bundled fit, or the ``weights`` of another."""
    return SurrogateEnv(weights, split, task=task)


def surrogate_from_settings(settings: Mapping[str, Any]) -> SurrogateEnv:
    """``envs.make("mlic-surrogate-v0", **settings)``: :func:`make_surrogate`, refusing a
    setting it does not take (a training env's, such as ``image_size``) by name, with the ones
    it takes."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        hints = "".join(f" ({name!r}: did you mean {close[0]!r}?)" for name in unknown
                        for close in [difflib.get_close_matches(name, SETTINGS, n=1)] if close)
        raise ConfigError(
            f"{SURROGATE_ID} does not take {', '.join(map(repr, unknown))}{hints}: its dynamics "
            f"are a fitted model, so no data, model or budget setting applies. It takes "
            f"{', '.join(SETTINGS)} (weights: a fitted .npz, default the bundled one; split: "
            f"one of {SPLITS}; task: a name in its task table)")
    return make_surrogate(**settings)


__all__ = ["SETTINGS", "SURROGATE_ID", "SurrogateEnv", "WEIGHTS", "make_surrogate",
           "surrogate_from_settings"]
