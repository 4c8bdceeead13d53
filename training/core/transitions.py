"""Keep every real transition of an episode: the offline dataset's and the surrogate's raw data.

``TransitionRecorder`` is an episode-driver callback. Per episode it keeps, in the joint
Gymnasium view's terms (``envs.make_joint``: one observation, one action per agent in the
env's agent order):

* the observations, the reset's first and then one after each decision (``T + 1``);
* the joint actions (``T`` rows of one catalogue index per agent);
* the reward (averaged over the agents: the shared reward when every agent is paid alike),
  the termination and truncation flags;
* the val mAP at the reset and after each decision, and the final test mAP.

The env must be an ``envs.MLICTrainingEnv`` (through any wrappers): the start's val mAP comes
from its ``state_dict``. The records are plain data (``EpisodeTransitions``), stored with
``training.core.run_store.RunStore`` like every other run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import envs
from training.core.episode import Callback, RunStart, StepContext


@dataclass
class EpisodeTransitions:
    """One episode's real transitions (see the module docstring)."""

    agents: list[str] = field(default_factory=list)
    """The env's agents, the order of each action row."""
    observations: list[list[float]] = field(default_factory=list)
    actions: list[list[int]] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminations: list[bool] = field(default_factory=list)
    truncations: list[bool] = field(default_factory=list)
    val_mAP: list[float] = field(default_factory=list)
    """At the reset, then after each decision (0..100)."""
    test_mAP: float | None = None
    """At the end; None when the episode was stopped early."""

    @property
    def steps(self) -> int:
        return len(self.actions)


class TransitionRecorder(Callback):
    """Collects an ``EpisodeTransitions`` per episode of an MLIC env (``episodes``)."""

    def __init__(self) -> None:
        self.episodes: list[EpisodeTransitions] = []
        self._env: Any = None

    def on_run_start(self, run: RunStart) -> None:
        self._env = run.env

    def on_episode_start(self, episode: int, seed: int) -> None:
        base = _mlic_env(self._env)
        status = base.state_dict()["status"]
        self.episodes.append(EpisodeTransitions(agents=list(base.possible_agents),
                                                val_mAP=[float(status.val_map)]))

    def on_step(self, ctx: StepContext) -> bool:
        record, t = self.episodes[-1], ctx.transition
        first = record.agents[0]
        if not record.observations:
            record.observations.append(_floats(t.observations[first]))
        record.observations.append(_floats(t.next_observations[first]))
        record.actions.append([int(t.actions[a]) for a in record.agents])
        record.rewards.append(t.mean_reward)
        record.terminations.append(bool(t.terminations[first]))
        record.truncations.append(bool(t.truncations[first]))
        info = t.infos[first]
        record.val_mAP.append(float(info["metrics"]["mAP"] or 0.0))
        if ctx.done and "test_metrics" in info:
            record.test_mAP = float(info["test_metrics"]["mAP"] or 0.0)
        return True


def _mlic_env(env: Any) -> Any:
    """The ``envs.MLICTrainingEnv`` under any PettingZoo wrappers (their ``unwrapped``)."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, envs.MLICTrainingEnv):
        raise TypeError(f"TransitionRecorder needs an envs.MLICTrainingEnv, got "
                        f"{type(base).__name__}")
    return base


def _floats(vector: Any) -> list[float]:
    return [float(x) for x in vector]


__all__ = ["EpisodeTransitions", "TransitionRecorder"]
