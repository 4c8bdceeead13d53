"""The MLIC trainer: trains one segment at a time under a recipe that may change.

Pure torch; it knows nothing of RL. The switching, EMA and rollback below live in
:class:`envs.engine.runtime.RecipeRuntime`, which the user-loop API shares; the trainer
adds its data and evaluation. The environment calls :meth:`Trainer.train_segment`
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

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from envs.engine.data import DatasetSplits, MLICDataset
from envs.engine.drift import Drift
from envs.engine.init import init_weights
from envs.engine.metrics import multilabel_metrics
from envs.engine.models import build_model, classifier_head
from envs.engine.recipe import Recipe
from envs.engine.runtime import RecipeRuntime, SegmentStats
from envs.engine.sampler import BatchSampler
from envs.engine.weights import channel_stats
from envs.engine.checks import (check_device, require_bool, require_in_range,
                                require_optional_in_range, require_optional_path,
                                require_positive_int, require_str)
from envs.errors import ConfigError

AMP_MODES = ("none", "bf16", "fp16")
SCHEDULE_FREE_EVALS = ("ema", "average")


@dataclass(frozen=True)
class TrainerConfig:
    """How the classifier is trained; independent of which recipe is chosen."""

    backbone: str = "small_cnn"
    """Model name, see ``envs.engine.models.BACKBONES``."""
    weights_path: str | None = None
    """Optional local state-dict file for the backbone (pretrained weights)."""
    batch_size: int = 64
    """Training batch size (capped at the training-set size): an int in [1, inf)."""
    eval_batch_size: int = 512
    """Batch size for evaluation: an int in [1, inf)."""
    device: str = "cpu"
    """torch device string, e.g. ``"cpu"`` or ``"cuda"``."""
    amp: str = "none"
    """Mixed precision: ``"none"``, ``"bf16"`` (CPU or CUDA) or ``"fp16"`` (CUDA only)."""
    channels_last: bool = True
    """Use the channels-last memory format (about 1.7x faster convolutions on CPU)."""
    lr_ema_rate: float = 0.2
    """Fast EMA: fraction of the gap to the scheduled LR multiplier closed per iteration, in
    (0, 1]."""
    weight_ema_decay: float = 0.99
    """Slow EMA decay of the weights used for evaluation (per iteration), in [0, 1)."""
    lr_scale: float = 1.0
    """Multiplies every optimizer's base LR (e.g. for a larger batch size), in (0, inf)."""
    grad_clip: float | None = 10.0
    """Max global gradient L2 norm, in (0, inf); ``None`` disables clipping (the norm is
    still measured)."""
    finite_check_every: int = 1
    """Check the loss for NaN/inf every this many iterations (a larger value saves syncs on
    GPU): an int in [1, inf)."""
    schedule_free_eval: str = "ema"
    """What is evaluated while Schedule-Free AdamW trains: ``"ema"``, the slow EMA (as for
    every optimizer) of Schedule-Free's average ``x``; ``"average"``, ``x`` itself (its
    authors' evaluation, no slow EMA on top). BatchNorm statistics are recomputed at the
    evaluated weights either way."""

    def __post_init__(self) -> None:
        require_str("backbone", self.backbone)
        require_optional_path("weights_path", self.weights_path)
        for name in ("batch_size", "eval_batch_size", "finite_check_every"):
            require_positive_int(name, getattr(self, name))
        check_device(self.device)
        if not isinstance(self.amp, str) or self.amp not in AMP_MODES:
            raise ConfigError(f"amp={self.amp!r} is not one of {AMP_MODES}")
        if self.amp == "fp16" and not self.device.startswith("cuda"):
            raise ConfigError("amp='fp16' needs a CUDA device; use amp='bf16' on CPU")
        require_bool("channels_last", self.channels_last)
        require_in_range("lr_scale", self.lr_scale, 0.0, low_open=True)
        require_in_range("lr_ema_rate", self.lr_ema_rate, 0.0, 1.0, low_open=True)
        require_in_range("weight_ema_decay", self.weight_ema_decay, 0.0, 1.0, high_open=True)
        require_optional_in_range("grad_clip", self.grad_clip, 0.0, low_open=True)
        if not isinstance(self.schedule_free_eval, str) \
                or self.schedule_free_eval not in SCHEDULE_FREE_EVALS:
            raise ConfigError(f"schedule_free_eval={self.schedule_free_eval!r} is not one of "
                              f"{SCHEDULE_FREE_EVALS}")


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

    The model, the recipe's components, switching, EMA and rollback are a
    :class:`envs.engine.runtime.RecipeRuntime`; the trainer adds the data (its own seeded
    batch sampler) and evaluation.

    Args:
        config: training settings.
        data: train/val/test splits (uint8 images).
        total_steps: the training budget in iterations; progress = step / total_steps
            drives the LR schedules.
        seed: seeds this trainer's own generator (weights init, shuffling, augmentation).
        drift: train labels that change partway through the budget (``envs.engine.drift``).
    """

    def __init__(self, config: TrainerConfig, data: DatasetSplits, total_steps: int,
                 seed: int, drift: Drift | None = None) -> None:
        require_positive_int("total_steps", total_steps)
        self._config = config
        self.data = data
        self.total_steps = total_steps
        self.device = torch.device(config.device)
        self.generator = torch.Generator().manual_seed(seed)
        train = data.train
        self._memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        model = self._build_model(train.num_classes)
        self.sampler = BatchSampler(len(train), min(config.batch_size, len(train)), self.generator)
        self._train_images = train.images.to(self.device)
        self._train_targets = train.labels.to(self.device, torch.float32)
        self._drift_step = total_steps + 1 if drift is None else drift.start_step(total_steps)
        self._drifted_targets = self._train_targets if drift is None else \
            drift.labels(train.labels).to(self.device, torch.float32)
        self._train_mask = (~train.ignore).to(self.device)
        mean, std = channel_stats(train.images)
        self._mean = mean.view(1, 3, 1, 1).to(self.device)
        self._std = std.view(1, 3, 1, 1).to(self.device)
        self.runtime = RecipeRuntime(model, config, total_steps=total_steps,
                                     positive_counts=train.positive_counts(), train_size=len(train),
                                     generator=self.generator, mean=mean, std=std)

    # ------------------------------------------------------------------ setup
    def _build_model(self, num_classes: int) -> nn.Module:
        model = build_model(self.config.backbone, num_classes, weights_path=self.config.weights_path)
        # With pretrained weights only the new head is initialised, from our generator too.
        init_weights(model if self.config.weights_path is None else classifier_head(model), self.generator)
        return model.to(self.device, memory_format=self._memory_format)

    def apply_recipe(self, recipe: Recipe) -> None:
        """Switch to ``recipe``; the optimizer is rebuilt only if its family changed."""
        self.runtime.apply_recipe(recipe)

    @property
    def config(self) -> TrainerConfig:
        return self._config

    @config.setter
    def config(self, config: TrainerConfig) -> None:
        """A new config (e.g. another ``lr_scale``) applies from the next step on."""
        self._config = config
        self.runtime.config = config

    @property
    def model(self) -> nn.Module:
        return self.runtime.model

    @property
    def ema_model(self) -> nn.Module:
        """The slow-EMA copy of the weights, which evaluation uses."""
        return self.runtime.ema_model

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        return self.runtime.optimizer

    @property
    def recipe(self) -> Recipe | None:
        return self.runtime.recipe

    @property
    def step(self) -> int:
        """Iterations trained so far."""
        return self.runtime.step

    @step.setter
    def step(self, value: int) -> None:
        self.runtime.step = value

    @property
    def progress(self) -> float:
        """Fraction of the training budget spent, in [0, 1]."""
        return self.runtime.progress

    @property
    def lr(self) -> float:
        """The current learning rate."""
        return self.runtime.lr

    def _base_lr(self, opt: str) -> float:
        return self.runtime.base_lr(opt)

    @property
    def steps_per_epoch(self) -> int:
        return self.sampler.batches_per_epoch

    # --------------------------------------------------------------- training
    @torch.enable_grad()  # callers (e.g. TorchRL collectors) may step the env under no_grad
    def train_segment(self, recipe: Recipe, steps: int) -> SegmentStats:
        """Apply ``recipe`` and run ``steps`` iterations (fewer if the loss turns non-finite)."""
        require_positive_int("steps", steps)
        runtime = self.runtime
        runtime.apply_recipe(recipe)
        runtime.begin_segment()
        diverged = False
        for i in range(steps):
            self._train_step()
            if (i + 1) % self.config.finite_check_every == 0 or i + 1 == steps:
                if not runtime.segment_finite():  # one host sync, no extra kernel
                    diverged = True
                    break
        return runtime.end_segment(diverged, images_per_step=self.sampler.batch_size)

    def _train_step(self) -> torch.Tensor:
        runtime = self.runtime
        index = self.sampler.next_batch().to(self.device)
        images = self._train_images[index].float().div_(255.0)
        labels = self._train_targets if runtime.step < self._drift_step else self._drifted_targets
        images, targets, mask = runtime.augment(images, labels[index],
                                                self._train_mask[index])
        with runtime.autocast():
            logits = self.model(images)
        loss = runtime.loss(logits, targets, mask)
        runtime.record(loss, runtime.optimizer_step(loss))
        return loss

    def rollback(self) -> None:
        """Restore the weights, EMA and optimizer saved at the start of the last segment."""
        self.runtime.rollback()

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
        return evaluate_outputs(self.predict(dataset.images), dataset.labels, dataset.ignore,
                                start=start)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of the EMA model for uint8 images ``[N,3,H,W]``, returned on the CPU as float32."""
        self.runtime.prepare_evaluation()
        outputs = []
        for chunk in images.split(self.config.eval_batch_size):
            x = chunk.to(self.device).float().div_(255.0)
            x = ((x - self._mean) / self._std).contiguous(memory_format=self._memory_format)
            with self.runtime.autocast():
                outputs.append(self.ema_model(x).float().cpu())
        return torch.cat(outputs) if outputs else torch.zeros(0, self.data.train.num_classes)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly (weights, optimizer, RNG, sampler)."""
        return {**self.runtime.state_dict(), "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` taken from a trainer built with the same config and data."""
        self.runtime.load_state_dict(state)
        self.sampler.load_state_dict(state["sampler"])


def evaluate_outputs(logits: torch.Tensor, labels: torch.Tensor,
                     ignore: torch.Tensor | None = None, *, start: float | None = None) -> EvalResult:
    """Metrics and mean BCE loss of ``logits`` ``[N, K]`` against multi-hot ``labels``
    (entries where ``ignore`` is True not counted); the env's and the user loop's evaluation.
    ``start``: a ``time.perf_counter()`` reading the reported seconds count from."""
    start = time.perf_counter() if start is None else start
    logits = logits.float().cpu()
    labels = labels.cpu()
    ignore = torch.zeros_like(labels, dtype=torch.bool) if ignore is None else ignore.cpu()
    targets = labels.float()
    mask = ~ignore
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    loss = float((bce * mask).sum() / mask.sum().clamp_min(1))
    metrics = multilabel_metrics(logits, labels, ignore=ignore)
    return EvalResult(metrics=metrics, loss=loss, seconds=time.perf_counter() - start)
