"""The Lightning user code of ``tests/test_lightning.py``: a ``LightningModule`` whose loop body
is a ``DynamicRecipe``'s, its data, and a ``fit`` helper. Imported by that module's ``lit``
fixture, so collecting the suite never imports Lightning."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from training.user_loop.lightning import DynamicRecipeCallback

CLASSES, SIDE, BATCHES = 4, 8, 3


class Net(pl.LightningModule):
    """A user MLP whose ``training_step`` is the DynamicRecipe's loop body."""

    def __init__(self, seed: int = 0, steps: int = 1) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 16), nn.ReLU(),
                                 nn.Linear(16, CLASSES))
        self.steps = steps
        """DynamicRecipe steps per batch: 1, or a wrong count for the error test."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        dyn = self.dynamic_recipe
        images, targets = dyn.augment(*batch)
        loss = dyn.loss(self(images), targets)
        for _ in range(self.steps):
            dyn.step(loss)
        return loss

    def configure_optimizers(self):
        return None


class ValidatedNet(Net):
    """With a ``validation_step``, so Lightning loads the val loader the callback defaults to."""

    def validation_step(self, batch, batch_idx):
        return None


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(BATCHES * 8, 3, SIDE, SIDE, generator=g)
    return images, (torch.rand(BATCHES * 8, CLASSES, generator=g) > 0.5).float()


def loaders() -> tuple[DataLoader, DataLoader]:
    images, targets = data()
    return (DataLoader(TensorDataset(images, targets), batch_size=8),
            DataLoader(TensorDataset(images[:16], targets[:16]), batch_size=16))


def make_trainer(max_epochs: int, callbacks: list, **kwargs: Any) -> pl.Trainer:
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    options.update(kwargs)
    return pl.Trainer(max_epochs=max_epochs, callbacks=callbacks, **options)


def fit(max_epochs: int, module: Net | None = None, val_in_callback: bool = True,
        ckpt_path: Path | None = None, extra_callbacks: tuple = (),
        trainer_options: dict | None = None, **options: Any):
    """Fit ``module`` for ``max_epochs``; returns the callback and the trainer."""
    train, val = loaders()
    callback = DynamicRecipeCallback(num_classes=CLASSES, train_targets=data()[1],
                                     val_loader=val if val_in_callback else None, **options)
    trainer = make_trainer(max_epochs, [callback, *extra_callbacks],
                           enable_checkpointing=bool(extra_callbacks), **(trainer_options or {}))
    trainer.fit(module or Net(), train, None if val_in_callback else val, ckpt_path=ckpt_path,
                weights_only=True if ckpt_path else None)
    return callback, trainer
