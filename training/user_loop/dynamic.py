"""Dynamic recipes in your own training loop: ``DynamicRecipe``.

You keep your model, your ``DataLoader`` and your loop; a controller (a zoo name, a saved
directory, an algorithm name or any ``agents.Controller``) picks the augmentation, optimizer,
LR schedule and loss at every decision, from the same observation the env builds::

    dyn = DynamicRecipe(model, num_classes=10, decisions=8, steps_per_decision=len(train_loader),
                        train_targets=train_set.targets, controller="zoo:mat-dqn-rnd-digits-v0")
    dyn.start(val_loader)                       # evaluates the initial model, picks a recipe
    while not dyn.done:
        for images, targets in train_loader:    # images: float [B, 3, H, W] in [0, 1]
            images, targets = dyn.augment(images, targets)
            dyn.step(dyn.loss(model(images), targets))
        dyn.decide(val_loader)                  # metrics -> observation -> the next recipe
    dyn.eval_model                              # the slow-EMA weights, for your test set

Nothing here is a second copy of the engine: the components, switching, the LR's fast EMA,
the optimizer-state carry-over, the weights' slow EMA and the rollback of a non-finite
segment are ``envs.engine.runtime.RecipeRuntime``, which the env's trainer runs too; the
metrics, status transitions, observation and reward are the env's functions. With the
engine's model, its batches and a seed, this loop reproduces the env's trajectory
(``tests/test_user_loop.py``).

The user's loop owns the data; the API owns the optimizer (``step(loss)`` does backward,
clipping, the step and the EMAs: do not call ``backward`` yourself). Validation outputs come
from ``eval_model`` (the slow-EMA copy the env evaluates) when ``decide`` is given a loader;
precomputed ``logits=``/``targets=`` are taken as they are.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from agents import Controller, Transition, load_controller, make_controller, zoo
from agents.base import check_fits
from agents.registry import declared_options
from envs.config import EnvConfig
from envs.engine.recipe import Recipe
from envs.engine.runtime import RecipeRuntime
from envs.engine.trainer import EvalResult, SegmentStats, TrainerConfig, evaluate_outputs
from envs.engine.weights import channel_stats  # re-exported: (mean, std) for normalize=
from envs.errors import ConfigError
from envs.actions import actions_recipe, recipe_actions, validate_actions
from envs.observation import (RunBudget, TrainingStatus, build_observation, data_profile,
                              initial_status, next_status, probed_effects, status_from_state,
                              status_state)
from envs.reward import decision_reward
from envs.spaces import ControlSpaces
from training.core.config import config_kwargs
from training.core.fields import flat_settings
from training.core.saved_settings import controller_env_settings

__all__ = ["Decision", "DynamicRecipe", "UserLoopError", "channel_stats", "split_loader"]


class UserLoopError(ConfigError):
    """The user loop called the API out of order, or with outputs it cannot use."""


@dataclass(frozen=True)
class Decision:
    """One decision's record: what was played, and what it gave."""

    decision: int
    recipe: Recipe
    """The recipe played for the segment that just ended."""
    val: dict[str, float]
    """Val mAP, CF1, OF1 and BCE loss after it."""
    train_loss: float
    steps: int
    diverged: bool
    reward: float
    seconds_controller: float
    """Wall time of the API's own work at this decision (observation, act, switch)."""


def _settings_config(decisions: int, steps_per_decision: int,
                     settings: Mapping[str, Any]) -> EnvConfig:
    """The ``EnvConfig`` whose controller interface (agents, observation, reward) we present.

    ``settings`` are ``EnvConfig`` fields, flat (``reward_kind``) or dotted (``reward.kind``)."""
    base = EnvConfig(max_decisions=decisions, steps_per_decision=steps_per_decision)
    kwargs = config_kwargs(lambda: base, flat_settings(settings))
    unknown = sorted(set(kwargs) - set(EnvConfig.__dataclass_fields__))
    if unknown:
        raise UserLoopError(f"unknown env setting(s) {unknown}; give EnvConfig fields such as "
                            "observation, history, agents or reward.kind")
    if "agents" in kwargs:
        kwargs["agents"] = tuple(kwargs["agents"])
    return replace(base, **kwargs)


def _require_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UserLoopError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _multi_hot(name: str, targets: Any, num_classes: int, values: bool = True) -> torch.Tensor:
    """``targets`` as a tensor, refused unless it is ``[N, num_classes]`` of 0s and 1s (the
    values checked only when ``values``: the check costs a device sync)."""
    targets = torch.as_tensor(targets)
    if targets.ndim != 2 or targets.shape[1] != num_classes:
        raise UserLoopError(
            f"{name} has shape {tuple(targets.shape)}; expected multi-hot [N, {num_classes}] "
            f"(num_classes={num_classes}; class indices? one-hot them with "
            "torch.nn.functional.one_hot(y, num_classes).float())")
    if values and not torch.all((targets == 0) | (targets == 1)):
        bad = targets[(targets != 0) & (targets != 1)].flatten()[:3].tolist()
        raise UserLoopError(f"{name} must be multi-hot (only 0 and 1), found values such as "
                            f"{bad}; pass the raw labels, before any smoothing or mixing")
    return targets


def split_loader(split: Any, batch_size: int, seed: int | None = None,
                 drop_last: bool = False) -> DataLoader:
    """A ``DataLoader`` of ``(float images in [0, 1], multi-hot float targets)`` over an env's
    split (``env.data.train``, ...), shuffled by its own generator when given a ``seed``."""
    data = TensorDataset(split.images.float().div(255.0), split.labels.float())
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=seed is not None, generator=generator,
                      drop_last=drop_last)


class DynamicRecipe:
    """A controller-driven recipe for a user's model, batch by batch.

    Args:
        model: the user's network, on the device it trains on; trained in place.
        num_classes: labels per image (the logits' width).
        decisions: recipe decisions in the run (the budget's first half).
        steps_per_decision: optimizer steps between decisions (the other half).
        train_targets: the training set's multi-hot labels ``[N, num_classes]``: the
            class-balanced losses and the observation's data profile need their counts.
        controller: ``"zoo:<name>"`` (frozen), a directory a controller was saved to, an
            algorithm name (``"static"`` plays the default recipe), a controller object, or
            an ``envs.Recipe`` to hold fixed.
        seed: seeds the augmentation generator and a controller built here.
        normalize: per-channel ``(mean, std)`` applied after augmentation, and before
            ``eval_model`` when ``decide`` gets a loader; ``None`` uses images as given.
        trainer: switching, EMA, clipping and AMP settings (``TrainerConfig``; its model and
            batch fields do not apply). Default: the env's, without channels-last.
        env_settings: the env settings the controller's observation and reward follow
            (``observation``, ``history``, ``agents``, ``reward.kind`` ...). A zoo entry's
            card, or a meta-training run's ``summary.json`` beside a saved controller,
            supplies its own; these override them.
        generator: a CPU generator for the augmentation draws (default: seeded by ``seed``).
        train_ignore: entries of ``train_targets`` not counted (``[N, num_classes]`` bool).
        batch_size: the training batch size; needed (and only read) where the controller's
            observation has the context features (observation version 2), which read the
            budget in epochs.
    """

    def __init__(self, model: nn.Module, *, num_classes: int, decisions: int,
                 steps_per_decision: int, train_targets: Any,
                 controller: str | Path | Controller | Recipe = "static", seed: int = 0,
                 normalize: tuple[Any, Any] | None = None, trainer: TrainerConfig | None = None,
                 env_settings: Mapping[str, Any] | None = None,
                 generator: torch.Generator | None = None,
                 train_ignore: Any = None, batch_size: int | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise UserLoopError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.num_classes = _require_count("num_classes", num_classes)
        self.decisions = _require_count("decisions", decisions)
        self.steps_per_decision = _require_count("steps_per_decision", steps_per_decision)
        targets = _multi_hot("train_targets", train_targets, self.num_classes)
        ignore = (torch.zeros_like(targets, dtype=torch.bool) if train_ignore is None
                  else torch.as_tensor(train_ignore, dtype=torch.bool))
        self.model = model
        settings = (controller_env_settings(controller)
                    if isinstance(controller, (str, Path)) else {})
        settings.update(env_settings or {})
        self.env_config = _settings_config(self.decisions, self.steps_per_decision, settings)
        self.spaces = ControlSpaces(self.env_config)
        self.controller = self._controller(controller, seed)
        self.controller.begin(total_steps=self.decisions)
        device = next(iter(model.parameters()), torch.zeros(())).device
        config = replace(trainer or TrainerConfig(channels_last=False), device=str(device))
        mean, std = (None, None) if normalize is None else (
            torch.as_tensor(normalize[0], dtype=torch.float32),
            torch.as_tensor(normalize[1], dtype=torch.float32))
        self._normalize = (mean, std)
        positive_counts = ((targets == 1) & ~ignore).sum(dim=0, dtype=torch.int64)
        self.profile = data_profile(targets, positive_counts)
        self.runtime = RecipeRuntime(
            model, config, total_steps=self.decisions * self.steps_per_decision,
            positive_counts=positive_counts, train_size=targets.shape[0],
            generator=generator or torch.Generator().manual_seed(int(seed)), mean=mean, std=std)
        self.runtime.keeps_probe = self.env_config.context_features
        self.status: TrainingStatus | None = None
        self.decisions_made = 0
        self.steps_in_decision = 0
        self.history: list[Decision] = []
        self._observation: np.ndarray | None = None
        self._diverged = False
        if self.env_config.context_features and batch_size is None:
            raise UserLoopError(
                "this controller's observation reads the budget in epochs (observation version "
                "2, context_features): pass batch_size=<your training batch size> so that "
                "decisions x steps_per_decision x batch_size / len(train_targets) gives it")
        self.batch_size = None if batch_size is None else _require_count("batch_size", batch_size)

    # ------------------------------------------------------------- set-up
    def _controller(self, source: str | Path | Controller | Recipe, seed: int) -> Controller:
        if isinstance(source, Recipe):  # a static recipe, held for the whole run
            return make_controller("static", self.spaces, seed=seed,
                                   choices=recipe_actions(self.spaces, source))
        if isinstance(source, Controller):
            check_fits(source, self.spaces, f"the {source.name!r} controller")
            return source
        if isinstance(source, str) and zoo.is_zoo_name(source):
            return make_controller(source, self.spaces, seed=seed)
        if isinstance(source, (str, Path)) and Path(source).is_dir():
            return load_controller(source, self.spaces, seed=seed, training=False)
        if isinstance(source, str):  # an algorithm: offered the default recipe, as a run offers it
            offered = {"choices": recipe_actions(self.spaces, self.env_config.default_recipe)}
            return make_controller(source, self.spaces, seed=seed,
                                   **declared_options(source, offered))
        raise UserLoopError(f"controller must be 'zoo:<name>', a saved controller's directory, "
                            f"an algorithm name, an agents.Controller or an envs.Recipe, got "
                            f"{source!r}")

    # ------------------------------------------------------------ the run
    @property
    def recipe(self) -> Recipe | None:
        """The recipe in force (None before ``start``)."""
        return self.runtime.recipe

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer in force; ``step(loss)`` drives it."""
        return self.runtime.optimizer

    @property
    def lr(self) -> float:
        return self.runtime.lr

    @property
    def eval_model(self) -> nn.Module:
        """The slow-EMA copy of the weights: what the controller's metrics come from, and the
        model to test. Under Schedule-Free AdamW it is the EMA of the optimizer's average, with
        BatchNorm statistics recomputed there from the last batches given to ``augment``
        (``RecipeRuntime.prepare_evaluation``)."""
        self.runtime.prepare_evaluation()
        return self.runtime.ema_model

    def autocast(self) -> torch.autocast:
        """The forward pass's autocast context for ``trainer.amp`` (``with dyn.autocast():
        logits = model(images)``; a no-op context when AMP is off, the default)."""
        return self.runtime.autocast()

    @property
    def done(self) -> bool:
        """True once the last decision has been made (the budget is spent)."""
        return self.decisions_made >= self.decisions

    def start(self, val: Iterable[Any] | None = None, *, logits: Any = None,
              targets: Any = None) -> Recipe:
        """Evaluate the initial model (a val loader, or its ``logits``/``targets``) and let the
        controller pick the first recipe; returns it."""
        if self.status is not None:
            raise UserLoopError("start() was already called: it begins the run once")
        default = self.env_config.default_recipe
        self.runtime.apply_recipe(default)
        evaluation = self._evaluation(val, logits, targets, "start")
        self.status = initial_status(evaluation, self.runtime.lr, default)
        return self._next_recipe()

    def augment(self, images: torch.Tensor, targets: Any, mask: Any = None) -> Any:
        """The current augmentation of a batch of float images ``[B, 3, H, W]`` in [0, 1]
        with multi-hot ``targets``; returns ``(images, targets)`` (mixing augmentations mix
        the targets), or ``(images, targets, mask)`` when given a mask of counted entries."""
        self._require_running("augment")
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise UserLoopError(f"augment(images, targets): images must be a float tensor "
                                f"[B, 3, H, W] in [0, 1], got {shape}")
        # values on a decision's first batch only: the per-batch hot path stays sync-free
        targets = _multi_hot("targets", targets, self.num_classes,
                             values=self.steps_in_decision == 0).to(images.device, torch.float32)
        if targets.shape[0] != images.shape[0]:
            raise UserLoopError(f"{images.shape[0]} images but {targets.shape[0]} target rows")
        given = mask is not None
        mask = None if mask is None else torch.as_tensor(mask, dtype=torch.bool, device=images.device)
        images, targets, mask = self.runtime.augment(images.float(), targets, mask)
        return (images, targets, mask) if given else (images, targets)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, mask: Any = None) -> torch.Tensor:
        """The current loss of ``logits`` ``[B, num_classes]`` against ``targets`` (multi-hot,
        or mixed by ``augment``: values in [0, 1]; shapes are checked on every batch, target
        values on each decision's first)."""
        self._require_running("loss")
        self._check_logits("loss(logits, targets)", logits)
        if not isinstance(targets, torch.Tensor) or targets.shape != logits.shape:
            shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
            raise UserLoopError(f"loss(logits, targets): targets have shape {shape}, logits "
                                f"{tuple(logits.shape)}; give one target row per logit row")
        if self.steps_in_decision == 0 and targets.numel() and (targets.min() < 0 or targets.max() > 1):
            raise UserLoopError("loss(logits, targets): targets must lie in [0, 1] (multi-hot, or "
                                "mixed by augment)")
        mask = None if mask is None else torch.as_tensor(mask, dtype=torch.bool, device=logits.device)
        return self.runtime.loss(logits, targets.float(), mask)

    def step(self, loss: torch.Tensor) -> None:
        """One optimizer step from ``loss`` (backward, clipping, the step, the EMAs).

        After a non-finite loss the segment is rolled back to its start and the rest of its
        steps update nothing, as in the env."""
        self._require_running("step")
        if self.steps_in_decision >= self.steps_per_decision:
            raise UserLoopError(
                f"decision {self.decisions_made + 1}'s {self.steps_per_decision} steps are done: "
                "call decide(val) before the next step (steps_per_decision sets the length)")
        self.steps_in_decision += 1
        if self._diverged:
            return
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not loss.requires_grad:
            raise UserLoopError("step(loss) needs the scalar loss tensor of this batch, with its "
                                "graph (from dyn.loss(model(images), targets))")
        runtime = self.runtime
        runtime.record(loss, runtime.optimizer_step(loss))
        every = runtime.config.finite_check_every
        if (runtime.segment_steps % every == 0 or self.steps_in_decision == self.steps_per_decision) \
                and not runtime.segment_finite():
            self._diverged = True
            runtime.rollback_segment()

    def decide(self, val: Iterable[Any] | None = None, *, logits: Any = None,
               targets: Any = None) -> Recipe | None:
        """End the decision: evaluate (a val loader run through ``eval_model``, or its
        ``logits``/``targets``), build the observation and let the controller pick the next
        recipe; returns it (None after the last decision)."""
        self._require_running("decide")
        if self.steps_in_decision == 0:
            raise UserLoopError("decide() before any training step of this decision: train "
                                "(augment, loss, step) first; start(val) evaluates the initial model")
        started = time.perf_counter()
        runtime = self.runtime
        recipe = runtime.recipe
        assert recipe is not None and self.status is not None
        if val is None:
            self._check_outputs("decide", logits, targets)
        open_segment = runtime.segment_state()
        segment: SegmentStats = runtime.end_segment(self._diverged, images_per_step=0)
        wall = time.perf_counter()
        try:
            evaluation = self._evaluation(val, logits, targets, "decide")
        except Exception:  # a bad val batch: leave the decision open, to be retried
            runtime.reopen_segment(open_segment)
            raise
        if not math.isfinite(evaluation.loss):  # huge-but-finite weights overflow only here
            runtime.rollback()
            segment = replace(segment, diverged=True, update_ratio=0.0)
            if val is not None:
                evaluation = self._evaluation(val, None, None, "decide")
        eval_s = time.perf_counter() - wall
        before = self.status
        effects = probed_effects(runtime, self.decisions_made + 1, self.budget,
                                 self.env_config.catalogue, before)
        self.status = next_status(before, segment, evaluation, recipe, runtime.progress,
                                  self.env_config.history, effects)
        self.decisions_made += 1
        self.steps_in_decision = 0
        self._diverged = False
        terms = decision_reward(self.env_config.reward, before, self.status,
                                len(self.spaces.possible_agents))
        observation = self._observe()
        if self.controller.training:
            agents = self.spaces.possible_agents
            done = self.done
            self.controller.observe(Transition(
                self._last_obs, self._last_actions, {a: terms.reward for a in agents},
                observation, {a: False for a in agents}, {a: done for a in agents},
                {a: {"metrics": evaluation.metrics} for a in agents}))
        next_recipe = None if self.done else self._next_recipe(observation)
        self.history.append(Decision(
            decision=self.decisions_made, recipe=recipe,
            val={"mAP": self.status.val_map, "CF1": self.status.val_cf1,
                 "OF1": self.status.val_of1, "loss": evaluation.loss},
            train_loss=segment.train_loss, steps=segment.steps, diverged=segment.diverged,
            reward=terms.reward, seconds_controller=max(0.0, time.perf_counter() - started - eval_s)))
        return next_recipe

    # ----------------------------------------------------------- internals
    def _require_running(self, call: str) -> None:
        if self.status is None:
            raise UserLoopError(f"{call}() before start(): call dyn.start(val_loader) first; it "
                                "evaluates the initial model and picks the first recipe")
        if self.done:
            raise UserLoopError(
                f"{call}() after the budget ended: all {self.decisions} decisions of "
                f"{self.steps_per_decision} steps are spent (dyn.done is True). Build a new "
                "DynamicRecipe, with a larger decisions=, to train on")

    def _check_logits(self, where: str, logits: Any) -> None:
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 \
                or logits.shape[1] != self.num_classes:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise UserLoopError(f"{where}: logits have shape {shape}; expected [B, "
                                f"{self.num_classes}], one raw score per class (num_classes="
                                f"{self.num_classes}; no sigmoid, no softmax)")

    def _observe(self) -> dict[str, np.ndarray]:
        assert self.status is not None
        vector = build_observation(self.status, self.profile, self.env_config.history,
                                   self.env_config.observation, self.env_config.catalogue,
                                   self.budget)
        self.spaces.set_state(vector)
        return {a: vector.copy() for a in self.spaces.possible_agents}

    @property
    def budget(self) -> RunBudget | None:
        """The budget the context features read (``None`` unless the controller's observation
        has them): epochs per decision are ``steps_per_decision x batch_size`` / the training
        images."""
        if not self.env_config.context_features or self.batch_size is None:
            return None
        n = self.profile.train_size
        return RunBudget(decisions=self.decisions, train_images=n,
                         epochs_per_decision=self.steps_per_decision * self.batch_size / max(n, 1))

    def _next_recipe(self, observation: dict[str, np.ndarray] | None = None) -> Recipe:
        observation = observation if observation is not None else self._observe()
        actions = validate_actions(self.controller.act(observation, training=self.controller.training),
                                   self.spaces.possible_agents,
                                   {a: self.spaces.action_space(a) for a in self.spaces.possible_agents})
        self._last_obs, self._last_actions = observation, actions
        recipe = actions_recipe(actions, self.env_config.default_recipe, self.env_config.catalogue)
        self.runtime.apply_recipe(recipe)
        self.runtime.begin_segment()
        return recipe

    @torch.no_grad()
    def evaluate(self, val: Iterable[Any]) -> EvalResult:
        """Metrics of ``eval_model`` on a loader of ``(images, targets)`` batches (images
        normalised as ``augment`` does)."""
        start = time.perf_counter()
        model = self.eval_model
        device = self.runtime.device
        mean, std = self._normalize
        outputs, labels = [], []
        for batch in val:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise UserLoopError("the val loader must yield (images, targets) batches")
            images, batch_targets = batch[0], batch[1]
            images = images.to(device).float()
            if mean is not None and std is not None:
                images = (images - mean.view(1, -1, 1, 1).to(device)) / std.view(1, -1, 1, 1).to(device)
            with self.runtime.autocast():
                out = model(images.contiguous(memory_format=self.runtime.memory_format))
            self._check_logits("eval_model(images) on the val loader", out)
            outputs.append(out.float().cpu())
            labels.append(_multi_hot("val targets", batch_targets, self.num_classes).cpu())
        if not outputs:
            raise UserLoopError("the val loader yielded no batches")
        return evaluate_outputs(torch.cat(outputs), torch.cat(labels).to(torch.int64), start=start)

    def _evaluation(self, val: Any, logits: Any, targets: Any, call: str) -> EvalResult:
        if val is not None:
            return self.evaluate(val)
        labels = self._check_outputs(call, logits, targets)
        return evaluate_outputs(torch.as_tensor(logits), labels.to(torch.int64))

    def _check_outputs(self, call: str, logits: Any, targets: Any) -> torch.Tensor:
        """Validation ``logits``/``targets`` checked; returns the targets as a tensor."""
        if logits is None or targets is None:
            raise UserLoopError(f"{call}() needs the validation set: a loader of (images, "
                                "targets), or logits= and targets=")
        self._check_logits(f"{call}(logits=...)", torch.as_tensor(logits))
        labels = _multi_hot("targets", targets, self.num_classes)
        if labels.shape[0] != torch.as_tensor(logits).shape[0]:
            raise UserLoopError(f"{call}(): {torch.as_tensor(logits).shape[0]} logit rows but "
                                f"{labels.shape[0]} target rows")
        return labels

    # --------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly, mid-decision too (with the model's and the
        data loader's own state, which stay the user's); tensors and plain values only, so
        ``torch.load(weights_only=True)`` reads it."""
        last_obs = getattr(self, "_last_obs", None)
        state = self.spaces.last_state()
        return {"runtime": self.runtime.state_dict(),
                "status": None if self.status is None else status_state(self.status),
                "decisions_made": self.decisions_made, "steps_in_decision": self.steps_in_decision,
                "diverged": self._diverged,
                "history": [{**dataclasses.asdict(d), "recipe": d.recipe.as_dict()}
                            for d in self.history],
                "controller": self.controller.state_dict(),
                "last_obs": None if last_obs is None else
                {a: torch.from_numpy(v.copy()) for a, v in last_obs.items()},
                "last_actions": getattr(self, "_last_actions", None),
                "state": None if state is None else torch.from_numpy(state)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a ``state_dict`` of a ``DynamicRecipe`` built the same way."""
        self.runtime.load_state_dict(state["runtime"])
        self.status = None if state["status"] is None else status_from_state(state["status"])
        self.decisions_made = int(state["decisions_made"])
        self.steps_in_decision = int(state["steps_in_decision"])
        self._diverged = bool(state["diverged"])
        self.history = [Decision(**{**d, "recipe": Recipe(**d["recipe"])})
                        for d in state["history"]]
        self.controller.load_state_dict(state["controller"])
        self._last_obs = None if state["last_obs"] is None else \
            {a: v.numpy().copy() for a, v in state["last_obs"].items()}
        self._last_actions = state["last_actions"]
        if state["state"] is not None:
            self.spaces.set_state(state["state"].numpy().copy())
