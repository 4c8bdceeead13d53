"""Hyperparameter search over static recipes at a fixed epoch budget: random search and Optuna TPE.

A search method's budget of ``budget`` epochs is shared by its trials. Each trial trains a
fresh model (env seeded with the run's seed) for ``trial_epochs`` epochs with one recipe
held fixed; the LR schedule spans the trial. The method's result is the *completed* trial
with the best final val mAP (the model the env evaluates on the test split), and its test
metrics. The curve is the best val mAP seen so far, in any trial, after each epoch spent.

* **random search**: ``ceil(budget / trial_epochs)`` recipes drawn uniformly from the four
  catalogues (the last trial gets the remainder).
* **TPE** (Optuna's ``TPESampler``, seeded) with ``MedianPruner``: each trial reports its
  val mAP after every epoch; a trial below the median of earlier trials at the same epoch
  is stopped, and the epochs it did not use go to further trials, until the budget is spent
  (the last trial gets what is left). ``tpe_startup`` random trials precede the model
  (Optuna's default of 10 would never be reached at 25 epochs); pruning starts after
  ``prune_startup`` finished trials, from the epoch after ``prune_warmup``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import envs

from benchmarks.core.episodes import EpisodeResult, recipe_name, run_recipe, running_best
from training.core.callbacks import ProgressBar, StopOn
from training.core.episode import Callback, StepContext
from envs.engine.recipe import CATALOGUES, COMPONENTS, Recipe, catalogue


@dataclass
class MethodResult:
    """One method on one seed, at the shared budget."""

    test: dict[str, float]
    """Test mAP / CF1 / OF1 of the method's final model (the chosen trial's)."""
    curve: list[float]
    """Best val mAP so far after each epoch spent (length = epochs spent)."""
    wall_s: float
    trials: int = 1
    detail: str = ""
    """The chosen recipe or other notes."""
    recipe: str = ""
    """The static recipe of the final model (static default, a search's chosen trial)."""
    choices: list[str] = field(default_factory=list)
    """The recipe of each decision, for a single-episode method."""


@dataclass(frozen=True)
class SearchConfig:
    """Budget and search settings shared by the search methods."""

    budget: int
    """Epochs the method may spend in total."""
    trial_epochs: int
    """Epochs of one (unpruned) trial."""
    tpe_startup: int = 3
    """Random trials before TPE models the objective."""
    prune_startup: int = 2
    """Finished trials before the median pruner prunes."""
    prune_warmup: int = 1
    """Epochs of every trial that are never pruned."""

    def __post_init__(self) -> None:
        if self.budget < 1 or self.trial_epochs < 1:
            raise ValueError(f"budget and trial_epochs must be >= 1: {self}")


def from_episode(episode: EpisodeResult, detail: str = "") -> MethodResult:
    """A single-episode method (static recipe, a controller). Its ``recipe`` is the one it
    held, when it played a single recipe throughout (as ``static`` does)."""
    played = set(episode.choices)
    recipe = episode.recipe or (next(iter(played)) if len(played) == 1 else "")
    return MethodResult(test=episode.test, curve=running_best(episode.val_map),
                        wall_s=episode.wall_s, detail=detail or recipe,
                        recipe=recipe, choices=episode.choices)


def _combine(trials: list[EpisodeResult], wall_s: float) -> MethodResult:
    finished = [t for t in trials if not t.stopped]
    best = max(finished, key=lambda t: t.final_val)
    curve = running_best([v for t in trials for v in t.val_map])
    return MethodResult(test=best.test, curve=curve, wall_s=wall_s, trials=len(trials),
                        detail=f"best of {len(trials)} trials ({len(finished)} finished): "
                               f"{best.recipe}", recipe=best.recipe)


def _trial_overrides(overrides: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    return {**overrides, "max_decisions": epochs}


def progress(bar: Any | None) -> list[Callback]:
    """The callbacks that advance the sweep's progress bar ``bar`` (none without one)."""
    return [] if bar is None else [ProgressBar(bar)]


def catalogue_of(env_id: str, overrides: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The choices of the catalogue the env ``env_id`` (with ``overrides``) offers: what a
    search over static recipes on it may draw."""
    return catalogue(envs.make_config(env_id, **overrides).catalogue)


def draw_recipes(seed: int, count: int, choices: Mapping[str, Sequence[str]] | None = None
                 ) -> list[Recipe]:
    """``count`` recipes drawn uniformly from ``choices`` (a catalogue; default the latest):
    random search's draws and PBT's start."""
    choices = CATALOGUES if choices is None else choices
    rng = np.random.default_rng(seed)
    return [Recipe(**{c: choices[c][int(rng.integers(len(choices[c])))] for c in COMPONENTS})
            for _ in range(count)]


def random_search(env_id: str, overrides: Mapping[str, Any], seed: int, config: SearchConfig,
                  bar: Any | None = None) -> MethodResult:
    """Uniformly drawn recipes, ``trial_epochs`` each, until the budget is spent."""
    start = time.perf_counter()
    trials, spent = [], 0
    for recipe in draw_recipes(seed, math.ceil(config.budget / config.trial_epochs),
                               catalogue_of(env_id, overrides)):
        epochs = min(config.trial_epochs, config.budget - spent)
        trials.append(run_recipe(env_id, recipe, seed, _trial_overrides(overrides, epochs),
                                 callbacks=progress(bar)))
        spent += trials[-1].epochs
    return _combine(trials, time.perf_counter() - start)


def tpe_search(env_id: str, overrides: Mapping[str, Any], seed: int, config: SearchConfig,
               bar: Any | None = None) -> MethodResult:
    """Optuna TPE with a median pruner; pruned trials free their remaining epochs."""
    import optuna  # optional dependency: the ``search`` extra
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.tpe_startup),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=config.prune_startup,
                                           n_warmup_steps=config.prune_warmup))
    start = time.perf_counter()
    trials: list[EpisodeResult] = []
    spent = 0
    choices = catalogue_of(env_id, overrides)
    while spent < config.budget:
        trial = study.ask()
        recipe = Recipe(**{c: trial.suggest_categorical(c, list(choices[c]))
                           for c in COMPONENTS})

        def prune(ctx: StepContext, trial: Any = trial) -> bool:
            if ctx.done:  # the trial ran its course: nothing left to prune
                return False
            trial.report(float(ctx.info["metrics"]["mAP"] or 0.0), ctx.episode_step)
            return trial.should_prune()

        epochs = min(config.trial_epochs, config.budget - spent)
        episode = run_recipe(env_id, recipe, seed, _trial_overrides(overrides, epochs),
                             callbacks=[*progress(bar), StopOn(prune)])
        trials.append(episode)
        spent += episode.epochs
        if episode.stopped:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, episode.final_val)
    return _combine(trials, time.perf_counter() - start)


def static_recipe(env_id: str, overrides: Mapping[str, Any], seed: int, budget: int,
                  recipe: Recipe | None = None, bar: Any | None = None) -> MethodResult:
    """One recipe held for the whole budget (default: the env's static default recipe)."""
    import envs
    recipe = recipe or envs.make_config(env_id, **overrides).default_recipe
    episode = run_recipe(env_id, recipe, seed, _trial_overrides(overrides, budget),
                         callbacks=progress(bar))
    return from_episode(episode, detail=recipe_name(recipe))
