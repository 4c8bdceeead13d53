"""Your own LightningModule, trained by ``pl.Trainer``, with the recipe picked by a controller.

``training.user_loop.lightning.DynamicRecipeCallback`` builds a ``DynamicRecipe`` on the module when
training starts (one decision every ``epochs_per_decision`` epochs, ``max_epochs`` in all)
and attaches it as ``module.dynamic_recipe``; the module's ``training_step`` is the plain
loop's body (``augment``, ``loss``, ``step``: Lightning's manual optimization) and its
``configure_optimizers`` returns None, as the recipe owns the optimizer. The data are
``mlic-mnist-v0``'s splits as plain tensors; the model is a user-written small CNN. Needs the
``lightning`` extra (``pip install -c constraints.txt ".[lightning]"``).

    python examples/user_loop_lightning.py      # 10 decisions of one epoch on 1200 scenes, 24 px
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

import envs
from agents import Controller
from training.user_loop.lightning import DynamicRecipeCallback
from training.user_loop import DynamicRecipe, channel_stats, split_loader

DATA_ENV = "mlic-mnist-v0"
DATA_DEFAULTS = {"image_size": 24, "max_train_images": 1200}
"""Sizes for a run of under two minutes on 2 CPU cores."""


class ConvClassifier(pl.LightningModule):
    """Three conv-BN-ReLU-pool stages (16, 32, 64 channels), a linear head: a logit per class."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for channels_in, channels_out in ((3, width), (width, 2 * width), (2 * width, 4 * width)):
            layers += [nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(channels_out), nn.ReLU(), nn.MaxPool2d(2)]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Augment, loss and one recipe step (backward, clipping, optimizer step, EMAs)."""
        dyn = self.dynamic_recipe
        images, targets = dyn.augment(*batch)
        loss = dyn.loss(self(images), targets)
        dyn.step(loss)
        self.log("train_loss", loss.detach())
        return loss

    def configure_optimizers(self) -> None:
        """None: the DynamicRecipe owns the optimizer (Lightning warns that there is none)."""
        return None


def summary(dyn: DynamicRecipe, test: DataLoader) -> dict[str, Any]:
    """The recipes played, the val mAP after each decision and ``eval_model``'s test mAP."""
    val = [d.val["mAP"] for d in dyn.history]
    return {"recipes": [d.recipe.as_dict() for d in dyn.history], "val_mAPs": val,
            "val_mAP": val[-1], "test_mAP": dyn.evaluate(test).metrics["mAP"],
            "dynamic_recipe": dyn}


def main(controller: str | Path | Controller = "zoo:mat-dqn-rnd-digits-v0", decisions: int = 10,
         epochs_per_decision: int = 1, batch_size: int = 64, seed: int = 0,
         **data_options: Any) -> dict[str, Any]:
    """Fit a ``ConvClassifier`` for ``decisions * epochs_per_decision`` epochs.

    ``data_options`` go to ``envs.make(DATA_ENV, ...)`` (``image_size``, ``max_train_images``,
    ``cache_dir``; defaults ``DATA_DEFAULTS``); only its data are used. Returns the recipes
    ``summary``'s dict.
    """
    data = envs.make(DATA_ENV, **{**DATA_DEFAULTS, **data_options}).data
    torch.manual_seed(seed)
    model = ConvClassifier(data.train.num_classes)
    callback = DynamicRecipeCallback(
        num_classes=data.train.num_classes, train_targets=data.train.labels,
        controller=controller, seed=seed, normalize=channel_stats(data.train.images),
        val_loader=split_loader(data.val, 256),
        epochs_per_decision=epochs_per_decision)
    trainer = pl.Trainer(max_epochs=decisions * epochs_per_decision, callbacks=[callback],
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, split_loader(data.train, batch_size, seed))
    return summary(callback.dynamic_recipe, split_loader(data.test, 256))


if __name__ == "__main__":
    out = main()
    for i, (recipe, val_map) in enumerate(zip(out["recipes"], out["val_mAPs"]), 1):
        print(f"decision {i:2d}: {recipe} -> val mAP {val_map:.1f}")
    print(f"test mAP of the EMA model: {out['test_mAP']:.1f}")
