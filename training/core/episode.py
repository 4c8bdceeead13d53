"""THE episode driver: ``run`` steps a ParallelEnv with a controller, episode after episode.

Every caller that plays episodes goes through here: ``python -m training.run_marl``, the
benchmark sweeps, the learning tests and evaluation. What differs between them is done by
callbacks (``training.core.callbacks``: logging, checkpoints, a progress bar, stopping on a
signal or a pruner, frozen evaluation), composed in the style of SB3's ``BaseCallback`` /
``CallbackList``. A callback gets a typed context (``StepContext``, ``EpisodeEnd``), never
``locals()``.

The run length is an argument of the run: ``run`` tells the controller the run ahead with
``controller.begin(total_steps)`` (SB3's ``learn(total_timesteps)``), so no algorithm
carries it in its config and nothing here knows an algorithm by name.

Episode ``e`` (from 0) resets with ``seed + e`` (or, with ``seed_each_episode=False``, only
the first reset is seeded). ``DriverState`` says where a run stands
(episodes finished, steps taken, the observations of a decision in flight), so a
checkpointed run resumes in the middle of an episode.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents import Controller, Transition
from envs.errors import ConfigError


@dataclass
class DriverState:
    """Where a run stands (saved in checkpoints; ``run`` continues from it)."""

    episode: int = 0
    """Episodes finished."""
    step: int = 0
    """Env steps taken over the whole run."""
    observations: dict[str, Any] | None = None
    """Observations of the next decision; ``None`` means the next episode must reset."""
    episode_steps: int = 0
    """Steps taken in the current episode."""
    episode_return: float = 0.0
    """Sum of the mean reward over the current episode's steps."""

    def as_dict(self) -> dict[str, Any]:
        return {"episode": self.episode, "step": self.step, "observations": self.observations,
                "episode_steps": self.episode_steps, "episode_return": self.episode_return}


@dataclass(frozen=True)
class RunStart:
    """What a run is about to do (``Callback.on_run_start``)."""

    env: Any
    controller: Controller
    episodes: int
    """Episodes the run will have finished at its end."""
    seed: int
    learn: bool
    state: DriverState
    """Where it starts (not the origin when resumed)."""


@dataclass(frozen=True)
class StepContext:
    """One decision, as the callbacks see it."""

    episode: int
    """Index of the episode this step belongs to (from 0)."""
    step: int
    """Env steps taken over the run, this one included."""
    episode_step: int
    """Steps taken in this episode, this one included."""
    transition: Transition
    logs: Mapping[str, float]
    """What ``controller.observe`` returned (empty when not learning)."""
    act_s: float
    """Seconds in ``controller.act``."""
    env_s: float
    """Seconds in ``env.step``."""
    learn_s: float
    """Seconds in ``controller.observe``."""

    @property
    def done(self) -> bool:
        return self.transition.done

    @property
    def info(self) -> dict[str, Any]:
        """The first agent's info (in the MLIC env every agent's info is the same)."""
        return next(iter(self.transition.infos.values()), {})


@dataclass(frozen=True)
class EpisodeEnd:
    """A finished episode (``Callback.on_episode_end``)."""

    episode: int
    """Its index (from 0)."""
    seed: int
    """The seed it was reset with."""
    steps: int
    episode_return: float
    """Sum over its steps of the reward averaged over the agents."""
    last: StepContext
    """Its last step (``last.info`` holds the MLIC env's ``test_metrics``)."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    state: DriverState
    stopped: bool
    """A callback stopped it before the requested episodes were done."""


class Callback:
    """Base class of the driver's hooks; override the ones you need (all are no-ops here)."""

    def on_run_start(self, run: RunStart) -> None:
        """Before the first step of the run (also when it resumes)."""

    def on_episode_start(self, episode: int, seed: int) -> None:
        """Right after ``env.reset(seed=seed)``."""

    def on_step(self, ctx: StepContext) -> bool:
        """After every step; return False to stop the run after this step."""
        return True

    def on_episode_end(self, end: EpisodeEnd) -> None:
        """After the ``on_step`` of an episode's last step."""

    def on_run_end(self, outcome: RunOutcome) -> None:
        """When the run ends, finished or stopped (not when an exception escapes)."""


class CallbackList(Callback):
    """Several callbacks called in order; the run stops if any ``on_step`` returns False."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_run_start(self, run: RunStart) -> None:
        for callback in self.callbacks:
            callback.on_run_start(run)

    def on_episode_start(self, episode: int, seed: int) -> None:
        for callback in self.callbacks:
            callback.on_episode_start(episode, seed)

    def on_step(self, ctx: StepContext) -> bool:
        keep_going = True
        for callback in self.callbacks:  # every callback sees every step, even after a stop
            keep_going = callback.on_step(ctx) is not False and keep_going
        return keep_going

    def on_episode_end(self, end: EpisodeEnd) -> None:
        for callback in self.callbacks:
            callback.on_episode_end(end)

    def on_run_end(self, outcome: RunOutcome) -> None:
        for callback in self.callbacks:
            callback.on_run_end(outcome)


def run(env: Any, controller: Controller, *, episodes: int, seed: int,
        total_steps: int | None = None, callbacks: Iterable[Callback] | Callback = (),
        state: DriverState | None = None, learn: bool = True,
        seed_each_episode: bool = True, explore: bool | None = None) -> RunOutcome:
    """Play ``episodes`` episodes of ``env`` (a ParallelEnv or wrapper) with ``controller``.

    Args:
        episodes: episodes the run ends with (counting those ``state`` already finished).
        seed: episode ``e`` resets with ``seed + e``.
        total_steps: env steps of the whole run, told to the controller with ``begin``;
            required when ``learn`` (e.g. ``episodes * max_decisions``).
        callbacks: hooks, called in order (see ``Callback``).
        state: where to continue from (a checkpoint's ``DriverState``); it is updated in place.
        learn: False plays greedily (``act(training=False)``) and never calls ``observe``
            or ``begin``: a frozen evaluation.
        seed_each_episode: False seeds only the first reset (Gymnasium's convention: later
            episodes continue the env's generators) instead of ``seed + e``.
        explore: how the controller acts (``act(training=explore)``); default ``learn``.
            ``learn=False, explore=True`` is a rollout worker's episode: it explores with
            the current policy and leaves the learning to a central learner.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
    if learn:
        if total_steps is None:
            raise ConfigError("run(learn=True) needs total_steps: the env steps of the whole run "
                              "(e.g. episodes * max_decisions), which the controller schedules over")
        controller.begin(total_steps=total_steps)
    controller.attach(env)
    hooks = callbacks if isinstance(callbacks, Callback) else CallbackList(callbacks)
    state = state if state is not None else DriverState()
    hooks.on_run_start(RunStart(env, controller, episodes, seed, learn, state))
    stopped = False
    while state.episode < episodes and not stopped:
        if state.observations is None:
            reseed = seed_each_episode or state.step == 0
            state.observations, _ = env.reset(seed=seed + state.episode if reseed else None)
            state.episode_steps, state.episode_return = 0, 0.0
            hooks.on_episode_start(state.episode, seed + state.episode)
        ctx = _step(env, controller, state, learn, learn if explore is None else explore)
        stopped = not hooks.on_step(ctx)
        if ctx.done:
            hooks.on_episode_end(EpisodeEnd(ctx.episode, seed + ctx.episode, ctx.episode_step,
                                            state.episode_return, ctx))
    outcome = RunOutcome(state, stopped=stopped and state.episode < episodes)
    hooks.on_run_end(outcome)
    return outcome


def _step(env: Any, controller: Controller, state: DriverState, learn: bool,
          explore: bool) -> StepContext:
    """One decision: act, step, observe; ``state`` moves past it."""
    observations = state.observations
    assert observations is not None
    start = time.perf_counter()
    actions = controller.act(observations, training=explore)
    acted = time.perf_counter()
    next_obs, rewards, terms, truncs, infos = env.step(actions)
    stepped = time.perf_counter()
    transition = Transition(observations, actions, rewards, next_obs, terms, truncs, infos)
    logs = controller.observe(transition) if learn else {}
    learned = time.perf_counter()
    episode = state.episode
    state.step += 1
    state.episode_steps += 1
    state.episode_return += transition.mean_reward
    if transition.done:
        state.episode += 1
        state.observations = None
    else:
        state.observations = next_obs
    return StepContext(episode=episode, step=state.step, episode_step=state.episode_steps,
                       transition=transition, logs=logs, act_s=acted - start,
                       env_s=stepped - acted, learn_s=learned - stepped)


def run_episode(env: Any, controller: Controller, *, seed: int,
                callbacks: Iterable[Callback] | Callback = (), learn: bool = True,
                total_steps: int | None = None, explore: bool | None = None) -> RunOutcome:
    """One episode from ``reset(seed)``; a learning controller is told ``total_steps``
    (default: the episode's length, ``max_episode_steps(env)``)."""
    if learn and total_steps is None:
        total_steps = max_episode_steps(env)
    return run(env, controller, episodes=1, seed=seed, total_steps=total_steps,
               callbacks=callbacks, learn=learn, explore=explore)


def max_episode_steps(env: Any) -> int:
    """Decisions per episode of an MLIC env (``config.max_decisions``) or a test fake
    (``max_steps``), through any wrappers."""
    base = getattr(env, "unwrapped", env)
    config = getattr(base, "config", None)
    steps = getattr(config, "max_decisions", None) or getattr(base, "max_steps", None)
    if steps is None:
        raise ConfigError(f"cannot tell how many steps an episode of {type(base).__name__} has: "
                          "pass total_steps= explicitly")
    return int(steps)


__all__ = ["Callback", "CallbackList", "DriverState", "EpisodeEnd", "RunOutcome", "RunStart",
           "StepContext", "max_episode_steps", "run", "run_episode"]
