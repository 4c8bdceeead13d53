"""``RecipeRuntime``: one model trained under a recipe that may change, batch by batch.

This is the part of the engine that does not care where batches come from. The env's
:class:`envs.engine.trainer.Trainer` feeds it batches from its own sampler; the user-loop
API (``training.user_loop.dynamic``) feeds it the batches of the user's ``DataLoader``. Both run
exactly this code for:

* the catalogues: augmentation (:func:`augment`), loss (:func:`loss`) and optimizer
  (:meth:`apply_recipe`, rebuilt only when its family changes, with
  :func:`envs.engine.optimizers.transfer_state` carrying Adam <-> AdamW moments);
* the fast EMA of the LR multiplier towards the schedule's target (:meth:`optimizer_step`);
* gradient clipping, AMP (bf16 autocast, fp16 with a grad scaler);
* the slow EMA of the weights used for evaluation (``ema_model``); under Schedule-Free
  AdamW it averages the optimizer's evaluation point ``x``, not the parameters
  (``TrainerConfig.schedule_free_eval``), and :meth:`prepare_evaluation` recomputes the
  BatchNorm statistics at that point from the last clean training batches;
* segments: :meth:`begin_segment` snapshots weights, EMA and optimizer, :meth:`record`
  accumulates the loss and gradient norm, :meth:`end_segment` measures the update and
  rolls back a segment that went non-finite;
* the label-effect probe (:meth:`probe_losses`): the eval model's BCE on a few clean images
  of the last training batch and on each augmentation family's view of them, for
  observation version 2's ``aug_effect`` features.

All randomness (augmentation) comes from the ``generator`` it is given.
"""
from __future__ import annotations

import collections
import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from envs.engine.augment import augment_batch
from envs.engine.losses import build_loss
from envs.engine.optimizers import (OPTIMIZERS, SCHEDULE_FREE, copy_state_dict, evaluation_point,
                                    leave, param_groups, transfer_state)
from envs.engine.recipe import Recipe
from envs.engine.schedules import schedule_factor
from envs.engine.weights import all_finite, clone_state, param_distance, param_norm


BN_BATCHES = 4
"""Clean training batches kept for Schedule-Free's BatchNorm recomputation."""
PROBE_IMAGES = 16
"""Clean training images the label-effect probe augments (:meth:`RecipeRuntime.probe_losses`)."""
PROBE_SEED = 0
"""The probe's augmentation generator seed (the same draws at every probe of every run)."""


@dataclass(frozen=True)
class SegmentStats:
    """What one training segment did."""

    steps: int
    """Iterations run (fewer than asked if the segment diverged)."""
    images: int
    """Training images processed."""
    train_loss: float
    """Mean training loss over the segment (NaN if it diverged on the first step)."""
    grad_norm: float
    """Mean global gradient L2 norm before clipping."""
    update_ratio: float
    """||w_end - w_start|| / ||w_start|| over the segment."""
    lr: float
    """Learning rate at the end of the segment."""
    diverged: bool
    """True if a non-finite loss forced a rollback to the segment's start."""
    seconds: float
    """Wall time of the segment."""


class RecipeRuntime:
    """Trains ``model`` one optimizer step at a time under a switchable recipe.

    Args:
        model: the network (already on ``config.device``); trained in place.
        config: an ``envs.engine.trainer.TrainerConfig`` (its switching, EMA, clipping,
            AMP and memory-format settings; the model and batch-size fields are the caller's).
        total_steps: the budget in optimizer steps; progress = step / total_steps drives
            the LR schedules.
        positive_counts: positive labels per class in the training set (``[K]``), for the
            class-balanced losses.
        train_size: training images, for the class-balanced losses.
        generator: a CPU generator; every augmentation draw comes from it.
        mean, std: per-channel statistics ``[3]`` to normalise images by after augmentation
            (``None``: images are used as given).
    """

    def __init__(self, model: nn.Module, config: Any, *, total_steps: int,
                 positive_counts: torch.Tensor, train_size: int, generator: torch.Generator,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        self.config = config
        self.device = torch.device(config.device)
        self.model = model
        self.ema_model = copy.deepcopy(model).requires_grad_(False).eval()
        self.total_steps = total_steps
        self.generator = generator
        self._positive_counts = positive_counts
        self._train_size = train_size
        self._mean = None if mean is None else mean.view(1, -1, 1, 1).to(self.device)
        self._std = None if std is None else std.view(1, -1, 1, 1).to(self.device)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self._losses: dict[str, nn.Module] = {}
        self.recipe: Recipe | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.lr_multiplier: float | None = None
        self._scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" else None
        self._segment_start: dict[str, Any] | None = None
        self._segment: dict[str, Any] | None = None
        self._has_batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                   for m in model.modules())
        self._bn_batches: collections.deque[torch.Tensor] = collections.deque(maxlen=BN_BATCHES)
        """The last clean (unaugmented, normalised) training inputs, kept while Schedule-Free
        trains a model with BatchNorm: where :meth:`prepare_evaluation` recomputes its
        statistics."""
        self.keeps_probe = False
        """Keep the probe images of every batch (set where the observation reads the label
        effects, ``EnvConfig.context_features``); off, the training loop copies nothing."""
        self._probe: tuple[torch.Tensor, torch.Tensor] | None = None
        """The first ``PROBE_IMAGES`` clean images (in [0, 1]) and targets of the last training
        batch: what :meth:`probe_losses` augments."""

    # ---------------------------------------------------------------- recipe
    def apply_recipe(self, recipe: Recipe) -> None:
        """Switch to ``recipe``; the optimizer is rebuilt only if its family changed."""
        if self.lr_multiplier is None:
            self.lr_multiplier = schedule_factor(recipe.lrs, self.progress)
        if self.optimizer is None or self.recipe is None or recipe.opt != self.recipe.opt:
            if self.optimizer is not None and self.recipe is not None:
                leave(self.optimizer, self.recipe.opt)  # Schedule-Free: weights to its average
            spec = OPTIMIZERS[recipe.opt]
            new = spec.build(param_groups(self.model), self.base_lr(recipe.opt) * self.lr_multiplier,
                             total_steps=self.total_steps)
            if self.optimizer is not None and self.recipe is not None:
                transfer_state(self.optimizer, self.recipe.opt, new, recipe.opt)
            self.optimizer = new
            self._bn_batches.clear()
        self.recipe = recipe

    @property
    def progress(self) -> float:
        """Fraction of the training budget spent, in [0, 1]."""
        return min(1.0, self.step / self.total_steps)

    @property
    def lr(self) -> float:
        """The current learning rate."""
        if self.recipe is None or self.lr_multiplier is None:
            return 0.0
        return self.base_lr(self.recipe.opt) * self.lr_multiplier

    def base_lr(self, opt: str) -> float:
        return OPTIMIZERS[opt].base_lr * self.config.lr_scale

    def _require_recipe(self) -> Recipe:
        if self.recipe is None or self.optimizer is None:
            raise RuntimeError("no recipe applied yet: call apply_recipe() first")
        return self.recipe

    # ------------------------------------------------------------ components
    def augment(self, images: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The current augmentation on a batch of float images in [0, 1], then the
        normalisation; returns ``(images, targets, mask)``.

        Mixing augmentations mix targets; carrying the mask as extra target columns mixes it
        the same way, and an entry stays counted only where both sources counted it.
        """
        recipe = self._require_recipe()
        clean = images
        if mask is None:
            mask = torch.ones_like(targets, dtype=torch.bool)
        targets_in, mask_in = targets.detach().float(), mask
        k = targets.shape[1]
        images, mixed = augment_batch(recipe.aug, images, torch.cat([targets, mask.float()], 1),
                                      self.generator)
        targets, mask = mixed[:, :k], mixed[:, k:] > 0.999
        if self._keeps_bn_batches:
            self._bn_batches.append(self._normalise(clean).detach())
        if self.keeps_probe:
            self._probe = (clean[:PROBE_IMAGES].detach().clone(),
                           torch.cat([targets_in[:PROBE_IMAGES], mask_in[:PROBE_IMAGES].float()], 1))
        return self._normalise(images), targets, mask

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        if self._mean is not None and self._std is not None:
            images = (images - self._mean) / self._std
        return images.contiguous(memory_format=self.memory_format)

    @property
    def _keeps_bn_batches(self) -> bool:
        return self._has_batch_norm and self.recipe is not None and self.recipe.opt == SCHEDULE_FREE

    @torch.no_grad()
    def prepare_evaluation(self) -> None:
        """Make ``ema_model`` ready to evaluate. Under Schedule-Free with BatchNorm, its running
        statistics (copied from the training point ``y``) are recomputed at the evaluated
        weights from the last clean training batches, as Schedule-Free's authors prescribe
        (``torch.optim.swa_utils.update_bn``'s cumulative average); otherwise nothing. The
        result depends only on the state, so evaluating twice gives the same metrics."""
        if not (self._keeps_bn_batches and self._bn_batches):
            return
        torch.optim.swa_utils.update_bn(list(self._bn_batches), self.ema_model)
        self.ema_model.eval()

    @torch.no_grad()
    def probe_losses(self, families: tuple[str, ...]) -> tuple[float, ...]:
        """The eval model's BCE on the probe images (``PROBE_IMAGES`` clean images of the last
        training batch), then on each family's augmented view of them, with the targets the
        family gives them (mixing families mix them); ``()`` before any batch.

        One forward pass of ``(1 + len(families)) x PROBE_IMAGES`` images; the augmentations
        draw from a generator seeded ``PROBE_SEED`` afresh each time, never from the run's, so
        probing changes nothing in the run, and every probe of a run uses the same draws."""
        if self._probe is None:
            return ()
        images, packed = self._probe
        k = packed.shape[1] // 2
        generator = torch.Generator().manual_seed(PROBE_SEED)
        views, targets, masks = [images], [packed[:, :k]], [packed[:, k:] > 0.5]
        for family in families:
            x, mixed = augment_batch(family, images, packed, generator)
            views.append(x)
            targets.append(mixed[:, :k])
            masks.append(mixed[:, k:] > 0.999)
        self.prepare_evaluation()
        with self.autocast():
            logits = self.ema_model(self._normalise(torch.cat(views).to(self.device))).float()
        n = images.shape[0]
        losses = []
        for i, (y, m) in enumerate(zip(targets, masks)):
            per_entry = F.binary_cross_entropy_with_logits(
                logits[i * n:(i + 1) * n], y.to(logits.device), reduction="none")
            m = m.to(logits.device)
            losses.append(float((per_entry * m).sum() / m.sum().clamp(min=1)))
        return tuple(losses)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """The current loss (scalar) of ``logits`` against ``targets`` (counted where ``mask``)."""
        name = self._require_recipe().loss
        if name not in self._losses:
            self._losses[name] = build_loss(name, self._positive_counts, self._train_size).to(self.device)
        return self._losses[name](logits.float(), targets, mask)

    def autocast(self) -> torch.autocast:
        """The forward pass's autocast context (off unless ``config.amp`` says otherwise)."""
        dtype = torch.float16 if self.config.amp == "fp16" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.config.amp != "none")

    # -------------------------------------------------------------- stepping
    def optimizer_step(self, loss: torch.Tensor) -> torch.Tensor:
        """One update from ``loss``: the LR's fast EMA, backward, clipping, the optimizer's
        step and the weights' slow EMA. Returns the gradient norm before clipping."""
        self._require_recipe()
        assert self.optimizer is not None and self.recipe is not None
        assert self.lr_multiplier is not None
        target = schedule_factor(self.recipe.lrs, self.progress)
        self.lr_multiplier += self.config.lr_ema_rate * (target - self.lr_multiplier)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.optimizer.zero_grad(set_to_none=True)
        max_norm = self.config.grad_clip if self.config.grad_clip is not None else float("inf")
        if self._scaler is not None:
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(self.optimizer)
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
            self._scaler.step(self.optimizer)
            self._scaler.update()
        else:
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
            self.optimizer.step()
        self._update_ema()
        self.step += 1
        return grad_norm.detach()

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.weight_ema_decay, (1 + self.step) / (10 + self.step))
        params = list(self.model.parameters())
        assert self.optimizer is not None and self.recipe is not None
        point = evaluation_point(self.optimizer, self.recipe.opt, params)
        if point is not None:  # Schedule-Free: average its x, or evaluate x itself
            params = point
            if self.config.schedule_free_eval == "average":
                decay = 0.0
        for ema_p, p in zip(self.ema_model.parameters(), params):
            ema_p.lerp_(p, 1.0 - decay)
        for ema_b, b in zip(self.ema_model.buffers(), self.model.buffers()):
            ema_b.copy_(b)

    # -------------------------------------------------------------- segments
    def begin_segment(self) -> None:
        """Snapshot the state a non-finite segment rolls back to, and reset the meters."""
        self._require_recipe()
        self._segment = {"snapshot": self._snapshot(), "start_norm": param_norm(self.model),
                         "loss_sum": torch.zeros((), device=self.device),
                         "grad_sum": torch.zeros((), device=self.device), "done": 0,
                         "start": time.perf_counter()}

    @property
    def in_segment(self) -> bool:
        return self._segment is not None

    def record(self, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Count one step of the open segment."""
        assert self._segment is not None, "begin_segment() first"
        self._segment["loss_sum"] += loss.detach()
        self._segment["grad_sum"] += grad_norm
        self._segment["done"] += 1

    @property
    def segment_steps(self) -> int:
        return 0 if self._segment is None else self._segment["done"]

    def segment_finite(self) -> bool:
        """Whether the open segment's losses are all finite so far (one host sync)."""
        assert self._segment is not None, "begin_segment() first"
        return math.isfinite(self._segment["loss_sum"])

    def end_segment(self, diverged: bool = False, images_per_step: int = 0) -> SegmentStats:
        """Close the segment: its ``SegmentStats``, after rolling back if it went non-finite
        (a non-finite loss, or weights / BN statistics left non-finite by the last update)."""
        segment, self._segment = self._segment, None
        assert segment is not None, "begin_segment() first"
        done = segment["done"]
        snapshot = segment["snapshot"]
        update_ratio = param_distance(self.model, snapshot["model"]) / max(segment["start_norm"], 1e-12)
        diverged = diverged or not math.isfinite(segment["loss_sum"]) or not all_finite(self.model)
        self._segment_start = snapshot
        if diverged:
            self.rollback()
            update_ratio = 0.0
        return SegmentStats(
            steps=done, images=done * images_per_step,
            train_loss=float(segment["loss_sum"]) / max(done, 1),
            grad_norm=float(segment["grad_sum"]) / max(done, 1),
            update_ratio=float(update_ratio), lr=self.lr, diverged=diverged,
            seconds=time.perf_counter() - segment["start"])

    def reopen_segment(self, segment: dict[str, Any]) -> None:
        """Open again a segment :meth:`segment_state` returned before :meth:`end_segment`
        (the caller's evaluation failed, and the decision will be retried)."""
        self._segment = segment

    def segment_state(self) -> dict[str, Any] | None:
        """The open segment's meters and snapshot (see :meth:`reopen_segment`)."""
        return self._segment

    def rollback_segment(self) -> None:
        """Restore the open segment's start now (its later steps should update nothing)."""
        assert self._segment is not None, "begin_segment() first"
        self._restore(self._segment["snapshot"])

    def _snapshot(self) -> dict[str, Any]:
        assert self.optimizer is not None
        return {"model": clone_state(self.model.state_dict()),
                "ema": clone_state(self.ema_model.state_dict()),
                "optimizer": copy_state_dict(self.optimizer.state_dict())}

    def rollback(self) -> None:
        """Restore the weights, EMA and optimizer saved at the start of the last segment."""
        snapshot = self._segment_start
        if snapshot is None or self.optimizer is None:
            raise RuntimeError("no segment to roll back: train a segment first")
        self._restore(snapshot)

    def _restore(self, snapshot: dict[str, Any]) -> None:
        assert self.optimizer is not None
        self.model.load_state_dict(snapshot["model"])
        self.ema_model.load_state_dict(snapshot["ema"])
        self.optimizer.load_state_dict(snapshot["optimizer"])

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Weights, EMA, optimizer, recipe, step, LR multiplier, generator, scaler, and the
        open segment (so a run stopped mid-segment resumes exactly)."""
        return {
            "model": self.model.state_dict(),
            "ema": self.ema_model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "recipe": None if self.recipe is None else self.recipe.as_dict(),
            "step": self.step,
            "lr_multiplier": self.lr_multiplier,
            "generator": self.generator.get_state(),
            "scaler": None if self._scaler is None else self._scaler.state_dict(),
            "segment": None if self._segment is None else {**self._segment, "start": None},
            "bn_batches": list(self._bn_batches),
            "probe": None if self._probe is None else list(self._probe),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` taken from a runtime built the same way."""
        self.model.load_state_dict(state["model"])
        self.ema_model.load_state_dict(state["ema"])
        self.step = int(state["step"])
        self.lr_multiplier = state["lr_multiplier"]
        self.generator.set_state(state["generator"])
        self.recipe, self.optimizer = None, None
        if state["recipe"] is not None:
            self.apply_recipe(Recipe(**state["recipe"]))
            assert self.optimizer is not None
            self.optimizer.load_state_dict(state["optimizer"])
        if self._scaler is not None and state.get("scaler") is not None:
            self._scaler.load_state_dict(state["scaler"])
        segment = state.get("segment")
        self._segment = None if segment is None else {**segment, "start": time.perf_counter()}
        self._bn_batches.clear()
        self._bn_batches.extend(state.get("bn_batches") or ())  # absent: an older checkpoint
        probe = state.get("probe")  # absent: an older checkpoint
        self._probe = None if probe is None else (probe[0], probe[1])
