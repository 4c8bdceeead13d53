"""The MLIC trainer: trains one segment at a time under a recipe that may change.

Pure torch; it knows nothing of RL. The environment calls :meth:`Trainer.train_segment`
with the recipe the agents chose, then :meth:`Trainer.evaluate`.

Switching is made stable by three mechanisms (MAT-Agent, Sec. 3.4 "dual-rate EMA"):

* **Fast EMA of scalar settings.** The LR is ``base_lr(opt) * m`` where the multiplier
  ``m`` follows the schedule's target ``schedule_factor(lrs, progress)`` through an EMA
  with rate ``TrainerConfig.lr_ema_rate`` per iteration. A schedule switch therefore
  blends over a few iterations instead of jumping. The multiplier, not the raw LR, is
  blended, because base LRs differ by 50x between SGD and Adam: blending raw LRs would
  hand Adam an SGD-sized step.
* **Optimizer state across a switch.** See :func:`envs.engine.optimizers.transfer_state`:
  Adam <-> AdamW carry their moments; other switches start a fresh state (safe: Adam's
  bias correction makes its first steps ``lr``-sized).
* **Slow EMA of the weights**, used for evaluation (``weight_ema_decay``, with the usual
  ``(1+n)/(10+n)`` warm-up), so a bad segment shows up damped in val mAP.

A non-finite loss restores the state saved at the start of the segment (weights, EMA,
optimizer), ends the segment early and is reported in :class:`SegmentStats`; the
compute it consumed still counts towards progress.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from envs.engine.augment import augment_batch
from envs.engine.data import DatasetSplits, MLICDataset
from envs.engine.init import init_weights
from envs.engine.losses import build_loss
from envs.engine.metrics import multilabel_metrics
from envs.engine.models import build_model, classifier_head
from envs.engine.optimizers import OPTIMIZERS, copy_state_dict, param_groups, transfer_state
from envs.engine.recipe import Recipe
from envs.engine.sampler import BatchSampler
from envs.engine.schedules import schedule_factor
from envs.engine.weights import all_finite, channel_stats, clone_state, param_distance, param_norm
from envs.engine.checks import require_positive_int
from envs.errors import ConfigError

AMP_MODES = ("none", "bf16", "fp16")


@dataclass(frozen=True)
class TrainerConfig:
    """How the classifier is trained; independent of which recipe is chosen."""

    backbone: str = "small_cnn"
    """Model name, see ``envs.engine.models.BACKBONES``."""
    weights_path: str | None = None
    """Optional local state-dict file for the backbone (pretrained weights)."""
    batch_size: int = 64
    """Training batch size (capped at the training-set size)."""
    eval_batch_size: int = 512
    """Batch size for evaluation."""
    device: str = "cpu"
    """torch device string, e.g. ``"cpu"`` or ``"cuda"``."""
    amp: str = "none"
    """Mixed precision: ``"none"``, ``"bf16"`` (CPU or CUDA) or ``"fp16"`` (CUDA only)."""
    channels_last: bool = True
    """Use the channels-last memory format (about 1.7x faster convolutions on CPU)."""
    lr_ema_rate: float = 0.2
    """Fast EMA: fraction of the gap to the scheduled LR multiplier closed per iteration."""
    weight_ema_decay: float = 0.99
    """Slow EMA decay of the weights used for evaluation (per iteration)."""
    lr_scale: float = 1.0
    """Multiplies every optimizer's base LR (e.g. for a larger batch size)."""
    grad_clip: float | None = 10.0
    """Max global gradient L2 norm; ``None`` disables clipping (the norm is still measured)."""
    finite_check_every: int = 1
    """Check the loss for NaN/inf every this many iterations (a larger value saves syncs on GPU)."""

    def __post_init__(self) -> None:
        require_positive_int("batch_size", self.batch_size)
        require_positive_int("eval_batch_size", self.eval_batch_size)
        require_positive_int("finite_check_every", self.finite_check_every)
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp={self.amp!r} is not one of {AMP_MODES}")
        if self.amp == "fp16" and not self.device.startswith("cuda"):
            raise ConfigError("amp='fp16' needs a CUDA device; use amp='bf16' on CPU")
        if not self.lr_scale > 0.0:
            raise ConfigError(f"lr_scale must be positive, got {self.lr_scale}")
        if not 0.0 < self.lr_ema_rate <= 1.0:
            raise ConfigError(f"lr_ema_rate must be in (0, 1], got {self.lr_ema_rate}")
        if not 0.0 <= self.weight_ema_decay < 1.0:
            raise ConfigError(f"weight_ema_decay must be in [0, 1), got {self.weight_ema_decay}")


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


@dataclass(frozen=True)
class EvalResult:
    """Metrics of the EMA model on one split."""

    metrics: dict[str, Any]
    """``multilabel_metrics`` output (mAP, CP, CR, CF1, OP, OR, OF1 in 0..100, AP per class)."""
    loss: float
    """Mean BCE loss over the split."""
    seconds: float
    """Wall time of the evaluation."""


class Trainer:
    """Trains a multi-label classifier segment by segment under a changing recipe.

    Args:
        config: training settings.
        data: train/val/test splits (uint8 images).
        total_steps: the training budget in iterations; progress = step / total_steps
            drives the LR schedules.
        seed: seeds this trainer's own generator (weights init, shuffling, augmentation).
    """

    def __init__(self, config: TrainerConfig, data: DatasetSplits, total_steps: int,
                 seed: int) -> None:
        require_positive_int("total_steps", total_steps)
        self.config = config
        self.data = data
        self.total_steps = total_steps
        self.device = torch.device(config.device)
        self.generator = torch.Generator().manual_seed(seed)
        train = data.train
        self._memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model = self._build_model(train.num_classes)
        self.ema_model = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.sampler = BatchSampler(len(train), min(config.batch_size, len(train)), self.generator)
        self._train_images = train.images.to(self.device)
        self._train_targets = train.labels.to(self.device, torch.float32)
        self._train_mask = (~train.ignore).to(self.device)
        mean, std = channel_stats(train.images)
        self._mean = mean.view(1, 3, 1, 1).to(self.device)
        self._std = std.view(1, 3, 1, 1).to(self.device)
        self._positive_counts = train.positive_counts()
        self._losses: dict[str, nn.Module] = {}
        self.recipe: Recipe | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.lr_multiplier: float | None = None
        self._scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" else None
        self._segment_start: dict[str, Any] | None = None

    # ------------------------------------------------------------------ setup
    def _build_model(self, num_classes: int) -> nn.Module:
        model = build_model(self.config.backbone, num_classes, weights_path=self.config.weights_path)
        # With pretrained weights only the new head is initialised, from our generator too.
        init_weights(model if self.config.weights_path is None else classifier_head(model), self.generator)
        return model.to(self.device, memory_format=self._memory_format)

    def _loss(self, name: str) -> nn.Module:
        if name not in self._losses:
            self._losses[name] = build_loss(name, self._positive_counts, len(self.data.train)).to(self.device)
        return self._losses[name]

    def apply_recipe(self, recipe: Recipe) -> None:
        """Switch to ``recipe``; the optimizer is rebuilt only if its family changed."""
        if self.lr_multiplier is None:
            self.lr_multiplier = schedule_factor(recipe.lrs, self.progress)
        if self.optimizer is None or self.recipe is None or recipe.opt != self.recipe.opt:
            spec = OPTIMIZERS[recipe.opt]
            new = spec.build(param_groups(self.model), self._base_lr(recipe.opt) * self.lr_multiplier)
            if self.optimizer is not None and self.recipe is not None:
                transfer_state(self.optimizer, self.recipe.opt, new, recipe.opt)
            self.optimizer = new
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
        return self._base_lr(self.recipe.opt) * self.lr_multiplier

    def _base_lr(self, opt: str) -> float:
        return OPTIMIZERS[opt].base_lr * self.config.lr_scale

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.batches_per_epoch

    # --------------------------------------------------------------- training
    @torch.enable_grad()  # callers (e.g. TorchRL collectors) may step the env under no_grad
    def train_segment(self, recipe: Recipe, steps: int) -> SegmentStats:
        """Apply ``recipe`` and run ``steps`` iterations (fewer if the loss turns non-finite)."""
        require_positive_int("steps", steps)
        start = time.perf_counter()
        self.apply_recipe(recipe)
        snapshot = self._snapshot()
        start_norm = param_norm(self.model)
        loss_sum = torch.zeros((), device=self.device)
        grad_sum = torch.zeros((), device=self.device)
        done, diverged = 0, False
        for i in range(steps):
            loss, grad_norm = self._train_step()
            loss_sum += loss
            grad_sum += grad_norm
            done += 1
            if (i + 1) % self.config.finite_check_every == 0 or i + 1 == steps:
                if not math.isfinite(loss_sum):  # one host sync, no extra kernel
                    diverged = True
                    break
        update_ratio = param_distance(self.model, snapshot["model"]) / max(start_norm, 1e-12)
        # A finite last loss can still leave inf/NaN weights or BN statistics behind (the
        # update after it); such a state must not become the next segment's "last good state".
        diverged = diverged or not all_finite(self.model)
        self._segment_start = snapshot
        if diverged:
            self.rollback()
            update_ratio = 0.0
        return SegmentStats(
            steps=done, images=done * self.sampler.batch_size,
            train_loss=float(loss_sum) / done, grad_norm=float(grad_sum) / done,
            update_ratio=float(update_ratio), lr=self.lr, diverged=diverged,
            seconds=time.perf_counter() - start)

    def _train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.recipe is not None and self.optimizer is not None
        images, targets, mask = self._augmented_batch()
        self._advance_lr()
        with self._autocast():
            logits = self.model(images)
        loss = self._loss(self.recipe.loss)(logits.float(), targets, mask)
        self.optimizer.zero_grad(set_to_none=True)
        grad_norm = self._backward_and_step(loss)
        self._update_ema()
        self.step += 1
        return loss.detach(), grad_norm

    def _augmented_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        assert self.recipe is not None
        index = self.sampler.next_batch().to(self.device)
        images = self._train_images[index].float().div_(255.0)
        targets = self._train_targets[index]
        mask = self._train_mask[index]
        # Mixing augmentations mix targets; carrying the mask as extra target columns mixes
        # it the same way, and an entry stays counted only where both sources counted it.
        k = targets.shape[1]
        images, mixed = augment_batch(self.recipe.aug, images, torch.cat([targets, mask.float()], 1),
                                      self.generator)
        targets, mask = mixed[:, :k], mixed[:, k:] > 0.999
        images = ((images - self._mean) / self._std).contiguous(memory_format=self._memory_format)
        return images, targets, mask

    def _advance_lr(self) -> None:
        assert self.recipe is not None and self.optimizer is not None and self.lr_multiplier is not None
        target = schedule_factor(self.recipe.lrs, self.progress)
        self.lr_multiplier += self.config.lr_ema_rate * (target - self.lr_multiplier)
        lr = self.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _backward_and_step(self, loss: torch.Tensor) -> torch.Tensor:
        assert self.optimizer is not None
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
        return grad_norm.detach()

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.weight_ema_decay, (1 + self.step) / (10 + self.step))
        for ema_p, p in zip(self.ema_model.parameters(), self.model.parameters()):
            ema_p.lerp_(p, 1.0 - decay)
        for ema_b, b in zip(self.ema_model.buffers(), self.model.buffers()):
            ema_b.copy_(b)

    def _autocast(self) -> torch.autocast:
        dtype = torch.float16 if self.config.amp == "fp16" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.config.amp != "none")

    # ---------------------------------------------------------------- rollback
    def _snapshot(self) -> dict[str, Any]:
        assert self.optimizer is not None
        return {
            "model": clone_state(self.model.state_dict()),
            "ema": clone_state(self.ema_model.state_dict()),
            "optimizer": copy_state_dict(self.optimizer.state_dict()),
        }

    def rollback(self) -> None:
        """Restore the weights, EMA and optimizer saved at the start of the last segment."""
        snapshot = self._segment_start
        if snapshot is None or self.optimizer is None:
            raise RuntimeError("no segment to roll back: call train_segment() first")
        self.model.load_state_dict(snapshot["model"])
        self.ema_model.load_state_dict(snapshot["ema"])
        self.optimizer.load_state_dict(snapshot["optimizer"])

    def train_and_evaluate(self, recipe: Recipe, steps: int) -> tuple[SegmentStats, EvalResult]:
        """Train a segment, then evaluate on val; roll back if either turns non-finite.

        Huge-but-finite weights pass the loss check and only overflow at evaluation, so
        the segment counts as good only once its validation loss is finite too.
        """
        stats = self.train_segment(recipe, steps)
        evaluation = self.evaluate("val")
        if not math.isfinite(evaluation.loss):
            self.rollback()
            stats = replace(stats, diverged=True, update_ratio=0.0)
            evaluation = replace(self.evaluate("val"), seconds=evaluation.seconds)
        return stats, evaluation

    # -------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, split: str = "val") -> EvalResult:
        """Evaluate the slow-EMA model on ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise ConfigError(f"split must be 'train', 'val' or 'test', got {split!r}")
        start = time.perf_counter()
        dataset: MLICDataset = getattr(self.data, split)
        logits = self.predict(dataset.images)
        targets = dataset.labels.float()
        mask = ~dataset.ignore
        bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        loss = float((bce * mask).sum() / mask.sum().clamp_min(1))
        metrics = multilabel_metrics(logits, dataset.labels, ignore=dataset.ignore)
        return EvalResult(metrics=metrics, loss=loss, seconds=time.perf_counter() - start)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of the EMA model for uint8 images ``[N,3,H,W]``, returned on the CPU as float32."""
        outputs = []
        for chunk in images.split(self.config.eval_batch_size):
            x = chunk.to(self.device).float().div_(255.0)
            x = ((x - self._mean) / self._std).contiguous(memory_format=self._memory_format)
            with self._autocast():
                outputs.append(self.ema_model(x).float().cpu())
        return torch.cat(outputs) if outputs else torch.zeros(0, self.data.train.num_classes)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly (weights, optimizer, RNG, sampler)."""
        return {
            "model": self.model.state_dict(),
            "ema": self.ema_model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "recipe": None if self.recipe is None else self.recipe.as_dict(),
            "step": self.step,
            "lr_multiplier": self.lr_multiplier,
            "generator": self.generator.get_state(),
            "sampler": self.sampler.state_dict(),
            "scaler": None if self._scaler is None else self._scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` taken from a trainer built with the same config and data."""
        self.model.load_state_dict(state["model"])
        self.ema_model.load_state_dict(state["ema"])
        self.step = int(state["step"])
        self.lr_multiplier = state["lr_multiplier"]
        self.generator.set_state(state["generator"])
        self.sampler.load_state_dict(state["sampler"])
        self.recipe, self.optimizer = None, None
        if state["recipe"] is not None:
            self.apply_recipe(Recipe(**state["recipe"]))
            assert self.optimizer is not None
            self.optimizer.load_state_dict(state["optimizer"])
        if self._scaler is not None and state["scaler"] is not None:
            self._scaler.load_state_dict(state["scaler"])
