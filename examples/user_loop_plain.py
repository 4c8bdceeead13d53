"""Your own residual net in your own PyTorch loop, with the recipe picked by a controller.

``training.user_loop.DynamicRecipe`` is the whole integration: ``start`` evaluates the initial
model and picks a recipe, each batch goes through ``augment``, ``loss`` and ``step`` (which
does backward, clipping, the optimizer step and the EMAs), and ``decide`` evaluates the
slow-EMA weights on the val loader and lets the controller pick the next augmentation,
optimizer, LR schedule and loss. The data are ``mlic-mnist-v0``'s splits (MNIST digits
composited into multi-label scenes), used as plain tensors; the controller is the frozen
zoo entry meta-trained on the digits task set.

    python examples/user_loop_plain.py      # 10 decisions of one epoch on 1200 scenes, 24 px
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

import envs
from agents import Controller
from training.user_loop import DynamicRecipe, channel_stats, split_loader

DATA_ENV = "mlic-mnist-v0"
DATA_DEFAULTS = {"image_size": 24, "max_train_images": 1200}
"""Sizes for a run of under two minutes on 2 CPU cores."""


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a (projected) shortcut."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True),
            nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels_out))
        self.shortcut = nn.Identity() if stride == 1 and channels_in == channels_out else \
            nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                          nn.BatchNorm2d(channels_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A stem and three residual stages (16, 32, 64 channels), pooled into one logit per class."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            ResidualBlock(width, width, 1), ResidualBlock(width, 2 * width, 2),
            ResidualBlock(2 * width, 4 * width, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def summary(dyn: DynamicRecipe, test: DataLoader) -> dict[str, Any]:
    """The recipes played, the val mAP after each decision and ``eval_model``'s test mAP."""
    val = [d.val["mAP"] for d in dyn.history]
    return {"recipes": [d.recipe.as_dict() for d in dyn.history], "val_mAPs": val,
            "val_mAP": val[-1], "test_mAP": dyn.evaluate(test).metrics["mAP"],
            "dynamic_recipe": dyn}


def main(controller: str | Path | Controller = "zoo:mat-dqn-rnd-digits-v0", decisions: int = 10,
         epochs_per_decision: int = 1, batch_size: int = 64, seed: int = 0,
         **data_options: Any) -> dict[str, Any]:
    """Train a ``SmallResNet`` for ``decisions`` decisions of ``epochs_per_decision`` epochs.

    ``data_options`` go to ``envs.make(DATA_ENV, ...)`` (``image_size``, ``max_train_images``,
    ``cache_dir``; defaults ``DATA_DEFAULTS``); only its data are used. Returns ``summary``'s dict.
    """
    data = envs.make(DATA_ENV, **{**DATA_DEFAULTS, **data_options}).data
    torch.manual_seed(seed)
    model = SmallResNet(data.train.num_classes)
    train, val = split_loader(data.train, batch_size, seed), split_loader(data.val, 256)
    dyn = DynamicRecipe(model, num_classes=data.train.num_classes, decisions=decisions,
                        steps_per_decision=len(train) * epochs_per_decision,
                        train_targets=data.train.labels, controller=controller, seed=seed,
                        normalize=channel_stats(data.train.images))
    dyn.start(val)
    model.train()
    while not dyn.done:
        for _ in range(epochs_per_decision):
            for images, targets in train:
                images, targets = dyn.augment(images, targets)
                dyn.step(dyn.loss(model(images), targets))
        dyn.decide(val)
    return summary(dyn, split_loader(data.test, 256))


if __name__ == "__main__":
    out = main()
    for i, (recipe, val_map) in enumerate(zip(out["recipes"], out["val_mAPs"]), 1):
        print(f"decision {i:2d}: {recipe} -> val mAP {val_map:.1f}")
    print(f"test mAP of the EMA model: {out['test_mAP']:.1f}")
