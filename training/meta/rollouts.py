"""One meta-training episode, as a rollout worker plays it: a job in, a record out.

A rollout worker holds no learner. For each job it builds the task's env and a copy of
the controller with the job's own exploration seed, loads the learner's ``actor_state``
(weights and exploration settings, never generators), plays one episode through the
episode driver and sends back every transition, for the central learner to learn from::

    spec = ControllerSpec("mat-dqn", options={})
    job = EpisodeJob(round=0, worker=1, task=task, reset_seed=7, explore_seed=8)
    record = play(job, spec, learner.actor_state())
    learner.observe_many(record.transitions)

The same function runs in-process (``--workers 1``) and inside Ray actors
(``training.meta.workers``), so both paths play identical episodes: a job's seeds and the
actor state fix its record. ``explore=False`` plays greedily: a frozen evaluation.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

import envs
from agents import make_controller
from agents.base import Transition
from training.core.callbacks import EpisodeResult, Recorder
from training.core.config import env_make_kwargs
from training.core.episode import Callback, StepContext, run_episode


@dataclass(frozen=True)
class ControllerSpec:
    """How a worker builds its copy of the learner: algorithm, options and env settings."""

    algo: str
    options: Mapping[str, Any] = field(default_factory=dict)
    """Hyperparameters passed to ``make_controller`` (those the learner was built with)."""
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Flat env settings beyond the task's own (``observation``, ``reward_kind``, ...: the
    names of ``training.core.config.ENV_FLAGS``)."""


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to play: which task, and the seeds that fix it."""

    round: int
    worker: int
    task: envs.Task
    reset_seed: int
    """``env.reset(seed=...)``: the model's initialisation and the data order."""
    explore_seed: int
    """Seed of the worker's controller copy: its exploration draws."""
    explore: bool = True
    """False plays greedily (held-out evaluation)."""
    split: str = "train"


@dataclass
class EpisodeRecord:
    """What a worker sends back: the transitions and the episode's outcome."""

    job: EpisodeJob
    transitions: list[Transition]
    result: EpisodeResult
    wall_s: float
    """Seconds from the job's start (env built) to its end."""
    attempts: int = 1
    """How many times the job was started (more than 1 after a worker died)."""

    def summary(self) -> dict[str, Any]:
        """Plain data for logs and ``summary.json`` (no transitions)."""
        r = self.result
        return {"round": self.job.round, "worker": self.job.worker, "split": self.job.split,
                "task": self.job.task.name, "reset_seed": self.job.reset_seed,
                "return": r.episode_return, "final_val_mAP": r.final_val,
                "best_val_mAP": r.best_val, "test_mAP": r.test.get("mAP", float("nan")),
                "choices": list(r.choices), "wall_s": self.wall_s, "attempts": self.attempts}


class _Collect(Callback):
    """Keeps every transition of the episode."""

    def __init__(self) -> None:
        self.transitions: list[Transition] = []

    def on_step(self, ctx: StepContext) -> bool:
        self.transitions.append(ctx.transition)
        return True


def play(job: EpisodeJob, spec: ControllerSpec, actor_state: Mapping[str, Any]) -> EpisodeRecord:
    """Play ``job`` with a copy of the controller acting from ``actor_state``, on one torch
    thread (as every worker does), so the record is the same in whichever pool it runs."""
    with one_torch_thread():
        return _play(job, spec, actor_state)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch on ``count`` intra-op threads inside the block (results depend on the count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_torch_thread() -> contextlib.AbstractContextManager[None]:
    """torch on one intra-op thread inside the block."""
    return torch_threads(1)


def _play(job: EpisodeJob, spec: ControllerSpec, actor_state: Mapping[str, Any]) -> EpisodeRecord:
    start = time.perf_counter()
    env = envs.make(job.task, **env_make_kwargs(job.task.env_id, spec.env_overrides))
    controller = make_controller(spec.algo, env, seed=job.explore_seed, **dict(spec.options))
    controller.load_actor_state(actor_state)
    recorder, collect = Recorder(), _Collect()
    run_episode(env, controller, seed=job.reset_seed, callbacks=[recorder, collect],
                learn=False, explore=job.explore)
    env.close()
    return EpisodeRecord(job, collect.transitions, recorder.episodes[0],
                         time.perf_counter() - start)
