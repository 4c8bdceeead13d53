"""One training episode per benchmark run, driven by a fixed recipe or by a learning controller.

Both go through the one episode driver (``training.core.episode.run``) with a
``training.core.callbacks.Recorder``, so a sweep's runs are played exactly as
``python -m training.run_marl`` plays them; the sweeps add their own callbacks (a
progress bar over the whole sweep, an Optuna pruner). A decision is one budget unit: one
epoch unless ``steps_per_decision`` is overridden.

``run_recipe`` holds one recipe fixed (the static default, random-search and TPE trials) with
the ``static`` controller; ``run_controller`` builds a controller with
``agents.make_controller`` on the env, wrapped by ``agents.rewards.shape_rewards``
(individual rewards for the "w/o coordination" ablation, curiosity) exactly as
``training.run.loop`` wraps it, and lets it act and learn online in one episode.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import envs
from agents import ALGORITHMS, load_controller, make_controller
from agents.registry import declared_options
from agents.rewards import shape_rewards
from envs.engine.recipe import Recipe
from envs.errors import ConfigError, MLICError
from training.core.callbacks import EpisodeResult, Recorder
from training.core.config import env_make_kwargs
from training.core.saved_settings import controller_env_settings
from training.core.fields import flat_settings
from training.core.episode import Callback, run_episode

__all__ = ["ControllerSpec", "EpisodeResult", "check_frozen", "check_online", "describe_choices",
           "parse_recipe", "recipe_name", "run_controller", "run_frozen", "run_recipe",
           "running_best"]


def recipe_name(recipe: Recipe) -> str:
    """``aug+opt+lrs+loss`` (``Recipe.name``)."""
    return recipe.name


def parse_recipe(name: str) -> Recipe:
    """The inverse of ``recipe_name`` (``Recipe.parse``)."""
    return Recipe.parse(name)


def describe_choices(choices: list[str]) -> str:
    """``"N switches; most played R (k/n decisions)"`` for an episode's recipe sequence."""
    if not choices:
        return "no decisions"
    switches = sum(a != b for a, b in zip(choices, choices[1:]))
    top = max(dict.fromkeys(choices), key=choices.count)
    return (f"{switches} switch(es); most played {top} "
            f"({choices.count(top)}/{len(choices)} decisions)")


def running_best(values: list[float]) -> list[float]:
    """Best value so far after each entry."""
    out, best = [], float("-inf")
    for value in values:
        best = max(best, value)
        out.append(best)
    return out


def run_recipe(env_id: str | envs.Task, recipe: Recipe, seed: int, overrides: Mapping[str, Any],
               *, callbacks: Iterable[Callback] = ()) -> EpisodeResult:
    """One episode with ``recipe`` held fixed on an env id or a task (``overrides`` go to
    ``envs.make``). A recipe outside the env's catalogue (a tuning-free optimizer on a ``-v0``
    id or a task of an older task set) plays in the latest catalogue: the catalogue sets only
    the action and observation spaces, so the data, budget and training are the env's."""
    start = time.perf_counter()
    if not recipe.in_catalogue(envs.make_config(env_id, **overrides).catalogue):
        overrides = {**overrides, "catalogue": envs.LATEST_CATALOGUE}
    env = envs.make(env_id, **{**overrides, "agents": envs.COMPONENTS})
    controller = make_controller("static", env, seed=seed,
                                 choices=envs.recipe_actions(env, recipe))
    result = _play(env, controller, seed, callbacks)
    result.recipe = recipe_name(recipe)
    return _finish(result, env, start)


@dataclass(frozen=True)
class ControllerSpec:
    """A controller variant: algorithm, active agents and reward shaping."""

    algo: str = "mat-dqn"
    agents: tuple[str, ...] = envs.COMPONENTS
    """Active agents; the others keep the default recipe's choice."""
    curiosity: str = "none"
    """``none``, ``icm`` or ``rnd``."""
    individual_reward: bool = False
    """Each agent learns from its own reward (``IndividualRewardWrapper``), not the shared one."""


def run_controller(env_id: str | envs.Task, spec: ControllerSpec, seed: int, overrides: Mapping[str, Any], *,
                   callbacks: Iterable[Callback] = ()) -> EpisodeResult:
    """One episode in which ``spec``'s controller reconfigures the recipe and learns online."""
    start = time.perf_counter()
    env = envs.make(env_id, **{**overrides, "agents": spec.agents})
    stepper = shape_rewards(env, seed=seed, curiosity=spec.curiosity,
                            reward="individual" if spec.individual_reward else "shared",
                            tail_classes=env.profile.tail_classes, penalty=env.config.reward)
    offered = {"choices": envs.recipe_actions(env, env.config.default_recipe)}
    controller = make_controller(spec.algo, stepper, seed=seed,
                                 **declared_options(spec.algo, offered))
    return _finish(_play(stepper, controller, seed, callbacks), env, start)


def _play(env: Any, controller: Any, seed: int, callbacks: Iterable[Callback],
          learn: bool = True) -> EpisodeResult:
    recorder = Recorder()
    run_episode(env, controller, seed=seed, callbacks=[recorder, *callbacks], learn=learn)
    return recorder.episodes[0]


def _finish(result: EpisodeResult, env: envs.MLICTrainingEnv, start: float) -> EpisodeResult:
    """Wall time from ``start`` (env construction included) and epochs trained."""
    result.wall_s = time.perf_counter() - start
    result.train_epochs = result.train_images / max(1, len(env.data.train))
    return result


def _frozen_kwargs(env_id: str | envs.Task, source: str | Path,
                   overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``envs.make`` keywords of ``run_frozen``'s env: the settings the controller needs
    (:func:`controller_env_settings`), then ``overrides``."""
    settings = flat_settings(controller_env_settings(source))
    base = env_id.env_id if isinstance(env_id, envs.Task) else env_id
    return {**env_make_kwargs(base, settings), **dict(overrides or {})}


def run_frozen(env_id: str | envs.Task, source: str | Path, seed: int,
               overrides: Mapping[str, Any] | None = None, *,
               callbacks: Iterable[Callback] = ()) -> EpisodeResult:
    """One episode with a saved controller (a folder, or ``zoo:<name>``) frozen: it acts
    greedily and learns nothing. The env is built with the settings the controller needs
    (:func:`controller_env_settings`)."""
    start = time.perf_counter()
    env = envs.make(env_id, **_frozen_kwargs(env_id, source, overrides))
    controller = load_controller(source, env, seed=seed, training=False)
    result = _play(env, controller, seed, callbacks, learn=False)
    return _finish(result, env, start)


# ------------------------------------------------------------------ checks before any run
# A sweep builds, in its parent process, a throwaway of every controller its runs will build,
# on the target's spaces (``envs.ControlSpaces``: no data loaded, nothing trained), so that a
# bad controller fails before any compute is spent, not in a worker after other runs (issue
# 31). Each run still builds its own: online learners share nothing between runs.

def check_frozen(env_id: str | envs.Task, source: str | Path,
                 overrides: Mapping[str, Any] | None = None) -> None:
    """Load the controller ``run_frozen(env_id, source, ...)`` would load, on its env's
    spaces; its error (``agents`` or ``envs``: a missing file, other spaces) otherwise."""
    config = envs.make_config(env_id, **_frozen_kwargs(env_id, source, overrides))
    load_controller(source, envs.ControlSpaces(config), seed=0, training=False)


def check_online(env_id: str | envs.Task, spec: ControllerSpec,
                 overrides: Mapping[str, Any] | None = None) -> None:
    """Build the controller ``run_controller(env_id, spec, ...)`` would build, on its env's
    spaces. A class of the user's (``module.path:ClassName``) that cannot be built as every
    controller is (``cls(env, seed=..., config=...)``) is a ``ConfigError`` naming it."""
    config = envs.make_config(env_id, **{**dict(overrides or {}), "agents": spec.agents})
    spaces = envs.ControlSpaces(config)
    offered = {"choices": envs.recipe_actions(spaces, config.default_recipe)}
    try:
        make_controller(spec.algo, spaces, seed=0, **declared_options(spec.algo, offered))
    except MLICError:
        raise
    except Exception as error:
        if spec.algo in ALGORITHMS:
            raise  # one of ours: a bug, with its traceback
        raise ConfigError(  # the user's class: say how every controller is built
            f"{spec.algo.partition(':')[2]}(env, seed=0, config=...) failed ("
            f"{type(error).__name__}: {error}): agents.make_controller builds every controller "
            "so, so its constructor must take the env and the keywords seed and config (see "
            "examples/protocol_controller.py)") from error
