"""``MLICTrainingEnv``: multi-label image-classification training as a PettingZoo ParallelEnv.

Each agent (``aug``, ``opt``, ``lrs``, ``loss``) owns one component of the training
recipe. A ``step`` applies the joint choice, trains one segment (default: one epoch),
evaluates the slow-EMA model on the validation split and returns the new training
state (see :mod:`envs.observation`) and the shared reward (see :mod:`envs.reward`).
``reset`` evaluates the initial model too: that is the episode's start, from which the
``relative`` observation and the ``best_gain`` reward are measured. The test split is
evaluated only when the episode ends.

``reset(seed=...)`` is the only source of randomness: it seeds the trainer's own
generator (weights, shuffling, augmentation), so a seed fixes the whole trajectory on
CPU.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from envs.actions import actions_recipe, validate_actions
from envs.config import EnvConfig, decision_steps, run_budget
from envs.engine.data import DatasetSplits
from envs.engine.trainer import EvalResult, SegmentStats, Trainer
from envs.errors import ConfigError, ResetNeededError
from envs.observation import (RunBudget, TrainingStatus, build_observation, data_profile,
                              initial_status, next_status, probed_effects)
from envs.reward import decision_reward
from envs.spaces import AgentSpaces
from envs.timing import StepTiming


class MLICTrainingEnv(AgentSpaces, ParallelEnv):
    """Training of a multi-label classifier, reconfigured by four cooperating agents.

    Args:
        config: the task (data, sizes, budget, agents, reward weights).
        data: the train/val/test splits, already loaded (``envs.make`` loads them).
        env_id: the registered id, for ``metadata`` and messages.
    """

    metadata = {"name": "mlic_training_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, config: EnvConfig, data: DatasetSplits, env_id: str = "mlic-custom") -> None:
        self._init_spaces(config)
        self.data = data
        self.env_id = env_id
        self.agents: list[str] = []
        self.render_mode: str | None = None
        self._trainer_config = config.trainer_config()
        self.profile = data_profile(data.train.labels, data.train.positive_counts())
        self._seed_rng: np.random.Generator | None = None
        self._trainer: Trainer | None = None
        self._status: TrainingStatus | None = None

    # -------------------------------------------------------------- episodes
    @property
    def trainer(self) -> Trainer:
        if self._trainer is None:
            raise ResetNeededError("the environment has not been reset: call reset() before "
                                   "using it")
        return self._trainer

    @property
    def steps_per_decision(self) -> int:
        """Training iterations per decision (``epochs_per_decision`` epochs unless configured)."""
        return decision_steps(self.config, len(self.data.train))

    def _new_trainer(self, seed: int) -> Trainer:
        trainer = Trainer(self._trainer_config, self.data,
                          total_steps=self.steps_per_decision * self.config.max_decisions,
                          seed=seed, drift=self.config.drift)
        trainer.runtime.keeps_probe = self.config.context_features
        return trainer

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode: a fresh model set to ``default_recipe``, evaluated on the val split.

        ``seed`` reseeds the episode generator (``None`` continues it; the first reset
        without a seed draws one). Returns every agent's observation (the shared vector of
        ``state``) and info (``metrics``, ``config``, ``decision``, ...); ``options`` is
        ignored.
        """
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ConfigError(f"reset(seed={seed!r}): the seed must be a non-negative int or None")
        if seed is not None or self._seed_rng is None:
            self._seed_rng = np.random.default_rng(seed)
        self._trainer = self._new_trainer(seed=int(self._seed_rng.integers(2**63 - 1)))
        self._trainer.apply_recipe(self.config.default_recipe)
        evaluation = self._trainer.evaluate("val")
        self._decisions = 0
        self._status = initial_status(evaluation, self._trainer.lr, self.config.default_recipe)
        self.agents = list(self.possible_agents)
        infos = self._infos(evaluation, None, {}, StepTiming(train_s=0.0, eval_s=evaluation.seconds))
        return self._observations(), infos

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One decision: apply ``actions`` (an action per active agent), train for
        ``steps_per_decision`` iterations and evaluate on the val split.

        Returns PettingZoo's ``(observations, rewards, terminations, truncations, infos)``,
        each keyed by agent; every agent gets the shared reward. The episode is truncated
        after ``max_decisions``, when the infos add ``test_metrics``.
        """
        if self._status is None:
            raise ResetNeededError("step() before the first reset(): call reset() first")
        if not self.agents:
            raise ResetNeededError("the episode is over: call reset() before step()")
        start = time.perf_counter()
        before = self._status
        recipe = actions_recipe(validate_actions(actions, self.agents, self._action_spaces),
                                self.config.default_recipe, self.config.catalogue)
        segment, evaluation = self.trainer.train_and_evaluate(recipe, self.steps_per_decision)
        self._decisions += 1
        probe_start = time.perf_counter()
        effects = probed_effects(self.trainer.runtime, self._decisions, self.budget,
                                 self.config.catalogue, before)
        probe_s = time.perf_counter() - probe_start if effects else 0.0  # () : no context
        self._status = next_status(before, segment, evaluation, recipe, self.trainer.progress,
                                   self.config.history, effects)
        terms = decision_reward(self.config.reward, before, self._status, len(self.possible_agents))
        truncated = self._decisions >= self.config.max_decisions
        test = self.trainer.evaluate("test") if truncated else None
        eval_s = evaluation.seconds + (test.seconds if test else 0.0)
        timing = StepTiming(train_s=segment.seconds, eval_s=eval_s, probe_s=probe_s,
                            overhead_s=max(0.0, time.perf_counter() - start - segment.seconds
                                           - eval_s - probe_s))
        infos = self._infos(evaluation, segment, terms.as_dict(), timing, test)
        observations = self._observations()
        agents = self.agents
        if truncated:
            self.agents = []
        return (observations, {a: terms.reward for a in agents}, {a: False for a in agents},
                {a: truncated for a in agents}, infos)

    # ----------------------------------------------------------------- state
    def state(self) -> np.ndarray:
        """The global state: the shared observation vector."""
        if self._status is None:
            raise ResetNeededError("state() before the first reset(): call reset() first")
        return build_observation(self._status, self.profile, self.config.history,
                                 self.config.observation, self.config.catalogue, self.budget)

    @property
    def budget(self) -> RunBudget | None:
        """The budget the context features read (``None`` unless ``context_features``)."""
        if not self.config.context_features:
            return None
        return run_budget(self.config, len(self.data.train))

    def _observations(self) -> dict[str, np.ndarray]:
        vector = self.state()
        return {a: vector.copy() for a in self.agents}

    def _infos(self, evaluation: EvalResult, segment: SegmentStats | None, terms: dict,
               timing: StepTiming, test: EvalResult | None = None) -> dict[str, dict]:
        assert self._status is not None
        info: dict[str, Any] = {
            "metrics": _public_metrics(evaluation),
            "config": self._status.recipe.as_dict(),
            "reward_terms": terms,
            "time": timing,
            "decision": self._decisions,
            "progress": self.trainer.progress,
            "lr": self.trainer.lr,
        }
        if segment is not None:
            info["train"] = {"loss": segment.train_loss, "grad_norm": segment.grad_norm,
                             "update_ratio": segment.update_ratio, "steps": segment.steps,
                             "images": segment.images, "diverged": segment.diverged}
        if test is not None:
            info["test_metrics"] = _public_metrics(test)
        return {a: info for a in self.possible_agents}

    # ------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this episode exactly (see ``load_state_dict``)."""
        return {"trainer": self.trainer.state_dict(), "status": self._status,
                "decisions": self._decisions, "agents": list(self.agents),
                "seed_rng": None if self._seed_rng is None else self._seed_rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict`` of an env built with the same config and data."""
        self._seed_rng = np.random.default_rng()
        if state["seed_rng"] is not None:
            self._seed_rng.bit_generator.state = state["seed_rng"]
        self._trainer = self._new_trainer(seed=0)
        self._trainer.load_state_dict(state["trainer"])
        self._status = state["status"]
        self._decisions = int(state["decisions"])
        self.agents = list(state["agents"])

    def fork(self) -> MLICTrainingEnv:
        """An independent copy of this env, in memory, at exactly this point of its episode.

        The fork shares the (read-only) datasets and copies everything that changes: the
        model, its EMA, the optimizer's state, the generators, the sampler and the status.
        Continued with the same actions it gives exactly this env's trajectory on CPU; what
        either does afterwards leaves the other untouched. Search methods (the ``rollout``
        expert) try alternatives from one state this way, paying only their compute.
        """
        if self._status is None:
            raise ResetNeededError("fork() before the first reset(): call reset() first")
        other = MLICTrainingEnv(self.config, self.data, env_id=self.env_id)
        other.load_state_dict(copy.deepcopy(self.state_dict()))
        return other

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled (e.g. sent to a Ray worker), an env travels as what ``fork`` copies: its
        settings, its data and its ``state_dict``; unpickled, it is a fork of the original."""
        state = None if self._status is None else self.state_dict()
        return _unpickle, (self.config, self.data, self.env_id, state)

    def close(self) -> None:
        """Drop the model and optimizer; ``reset`` builds new ones."""
        self._trainer = None


def _unpickle(config: EnvConfig, data: DatasetSplits, env_id: str,
              state: dict[str, Any] | None) -> MLICTrainingEnv:
    env = MLICTrainingEnv(config, data, env_id=env_id)
    if state is not None:
        env.load_state_dict(state)
    return env


def _public_metrics(evaluation: EvalResult) -> dict[str, Any]:
    """Metrics for ``infos``: 0..100 throughout (per-class AP too), ``None`` where undefined.

    A class without positives in the split has no AP; ``None`` (not NaN) keeps the infos
    JSON-serialisable and comparable with ``==``.
    """
    metrics: dict[str, Any] = {k: _finite_or_none(v) for k, v in evaluation.metrics.items() if k != "AP"}
    metrics["loss"] = _finite_or_none(evaluation.loss)
    metrics["AP"] = [_finite_or_none(100.0 * x) for x in np.asarray(evaluation.metrics["AP"])]
    return metrics


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
