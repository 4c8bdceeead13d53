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

``ForkRecorder`` is a fork scorer for the rollout expert (``agents.rollout``): it plays the
candidates' forks here, as the default scorer does, with the same scores, and keeps each
fork's transitions too, as an ``EpisodeTransitions`` that starts at the decision it was
forked at (``start``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import envs
from agents.base import Transition
from agents.rollout import Continuation, play_candidate
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
    start: int = 0
    """The decision the record starts at: 0 from a reset, a fork's decision otherwise."""

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
        self.episodes.append(_start_record(_mlic_env(self._env)))

    def on_step(self, ctx: StepContext) -> bool:
        _append(self.episodes[-1], ctx.transition)
        return True


class ForkRecorder:
    """A rollout fork scorer (``agents.rollout.ForkScorer``) that plays every candidate's fork
    here and keeps its transitions in ``forks``, one ``EpisodeTransitions`` per fork."""

    def __init__(self) -> None:
        self.forks: list[EpisodeTransitions] = []

    def score(self, env: Any, candidates: Sequence[Mapping[str, int]],
              continuation: Continuation) -> list[tuple[float, int]]:
        results = []
        for candidate in candidates:
            fork = env.fork()
            record = _start_record(fork)
            results.append(play_candidate(fork, candidate, continuation,
                                          on_step=lambda t, r=record: _append(r, t)))
            self.forks.append(record)
        return results


def _start_record(base: Any) -> EpisodeTransitions:
    """An empty record of an MLIC env at its current point (its val mAP and decision)."""
    state = base.state_dict()
    return EpisodeTransitions(agents=list(base.possible_agents),
                              val_mAP=[float(state["status"].val_map)],
                              start=int(state["decisions"]))


def _append(record: EpisodeTransitions, t: Transition) -> None:
    """Add one joint step to ``record``."""
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
    if t.done and "test_metrics" in info:
        record.test_mAP = float(info["test_metrics"]["mAP"] or 0.0)


def _mlic_env(env: Any) -> Any:
    """The ``envs.MLICTrainingEnv`` under any PettingZoo wrappers (their ``unwrapped``)."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, envs.MLICTrainingEnv):
        raise TypeError(f"TransitionRecorder needs an envs.MLICTrainingEnv, got "
                        f"{type(base).__name__}")
    return base


def _floats(vector: Any) -> list[float]:
    return [float(x) for x in vector]


__all__ = ["EpisodeTransitions", "ForkRecorder", "TransitionRecorder"]
