"""``training.user_loop.lightning.DynamicRecipeCallback``: a Lightning ``Trainer.fit`` driven by a
``DynamicRecipe`` plays the controller's recipes on the decision budget ``max_epochs /
epochs_per_decision``, refuses settings it cannot honour, and resumes from a Lightning
checkpoint exactly. Skipped, saying why, without the ``lightning`` extra (CI installs it)."""
from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import envs
from training.user_loop.dynamic import UserLoopError

pl = pytest.importorskip("pytorch_lightning", reason="the lightning extra is missing: `make test` "
                         "installs it, or pip install -c constraints.txt -e '.[lightning]'")
from training.user_loop.lightning import DynamicRecipeCallback  # noqa: E402  (after the skip)

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:.*configure_optimizers.* returned `None`",
                                         "ignore:.*does not have many workers",
                                         "ignore:.*LeafSpec.* is deprecated",
                                         "ignore:You passed in a `val_dataloader` but have no",
                                         "ignore:Be aware that when using `ckpt_path`")]
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


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(BATCHES * 8, 3, SIDE, SIDE, generator=g)
    return images, (torch.rand(BATCHES * 8, CLASSES, generator=g) > 0.5).float()


def _loaders() -> tuple[DataLoader, DataLoader]:
    images, targets = _data()
    return (DataLoader(TensorDataset(images, targets), batch_size=8),
            DataLoader(TensorDataset(images[:16], targets[:16]), batch_size=16))


def _trainer(max_epochs: int, callbacks: list, **kwargs: Any) -> pl.Trainer:
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    options.update(kwargs)
    return pl.Trainer(max_epochs=max_epochs, callbacks=callbacks, **options)


def _fit(max_epochs: int, module: Net | None = None, val_in_callback: bool = True,
         ckpt_path: Path | None = None, extra_callbacks: tuple = (),
         trainer_options: dict | None = None, **options: Any):
    """Fit ``module`` for ``max_epochs``; returns the callback and the trainer."""
    train, val = _loaders()
    callback = DynamicRecipeCallback(num_classes=CLASSES, train_targets=_data()[1],
                                     val_loader=val if val_in_callback else None, **options)
    trainer = _trainer(max_epochs, [callback, *extra_callbacks],
                       enable_checkpointing=bool(extra_callbacks), **(trainer_options or {}))
    trainer.fit(module or Net(), train, None if val_in_callback else val, ckpt_path=ckpt_path,
                weights_only=True if ckpt_path else None)
    return callback, trainer


def test_a_static_controller_plays_the_default_recipe_on_the_epoch_budget():
    module = Net()
    callback, trainer = _fit(4, module, controller="static", epochs_per_decision=2)
    dyn = callback.dynamic_recipe
    assert module.dynamic_recipe is dyn and not module.automatic_optimization
    assert dyn.done and len(dyn.history) == dyn.decisions == 2
    assert [d.recipe for d in dyn.history] == [envs.DEFAULT_RECIPE] * 2
    assert all(d.steps == 2 * BATCHES for d in dyn.history)
    assert trainer.global_step == 4 * BATCHES  # Lightning counts the recipe's steps
    logged = trainer.callback_metrics["dynamic_recipe/mAP"]
    assert logged == pytest.approx(dyn.history[-1].val["mAP"])


def test_a_random_controller_switches_recipes_on_the_trainers_val_loader():
    callback, _ = _fit(4, ValidatedNet(), val_in_callback=False, controller="random", seed=1)
    history = callback.dynamic_recipe.history
    assert len(history) == 4 and len({d.recipe for d in history}) > 1
    assert all(0.0 <= d.val["mAP"] <= 100.0 for d in history)


def test_settings_the_recipe_cannot_honour_are_refused():
    with pytest.raises(UserLoopError, match="not a multiple of epochs_per_decision=2"):
        _fit(3, epochs_per_decision=2)
    with pytest.raises(UserLoopError, match="no val loader"):
        _fit(1, val_in_callback=False)
    with pytest.raises(UserLoopError, match="exactly once"):
        _fit(1, Net(steps=0))
    for options, message in [({"max_steps": 5}, "leave max_steps unset"),
                             ({"gradient_clip_val": 1.0}, r"TrainerConfig\(grad_clip"),
                             ({"accumulate_grad_batches": 2}, "one optimizer step per batch"),
                             ({"precision": "64-true"}, r"TrainerConfig\(amp")]:
        with pytest.raises(UserLoopError, match=message):
            _fit(1, trainer_options=options)
    with pytest.raises(UserLoopError, match="epochs_per_decision must be a positive int"):
        DynamicRecipeCallback(num_classes=CLASSES, train_targets=_data()[1], epochs_per_decision=0)


def _assert_same(a: Any, b: Any, where: str = "state") -> None:
    """Recursive equality of two state dicts (tensors, arrays, dataclasses), wall times aside."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, Mapping):
        assert a.keys() == b.keys(), where
        for key in a:
            if not str(key).startswith("seconds"):  # wall times differ between runs
                _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            if not field.name.startswith("seconds"):
                name = field.name
                _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    else:
        assert a == b, where


def test_a_lightning_checkpoint_resumes_the_recipe_exactly(tmp_path):
    checkpoints = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_top_k=-1,
                                               filename="{epoch}")
    whole, _ = _fit(3, Net(seed=0), controller="random", seed=2, extra_callbacks=(checkpoints,))
    saved = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)  # plain tensors and values
    assert saved["global_step"] == BATCHES  # the recipe's steps let ModelCheckpoint save
    resumed, trainer = _fit(3, Net(seed=9), controller="random", seed=2,
                            ckpt_path=tmp_path / "epoch=0.ckpt")
    assert trainer.global_step == 3 * BATCHES
    _assert_same(resumed.state_dict(), whole.state_dict())

    fresh = DynamicRecipeCallback(num_classes=CLASSES, train_targets=_data()[1])
    fresh.load_state_dict(saved["callbacks"]["DynamicRecipeCallback"])  # kept until train start
    _assert_same(fresh.state_dict(), saved["callbacks"]["DynamicRecipeCallback"])


@pytest.mark.parametrize("recipe", [envs.Recipe("crop", "sf_adamw", "constant", "asl"),
                                    envs.Recipe("crop", "prodigy", "cosine", "asl")])
def test_the_tuning_free_optimizers_run_under_lightning(recipe):
    module = Net()
    callback, _ = _fit(2, module, controller=recipe)
    dyn = callback.dynamic_recipe
    assert [d.recipe.opt for d in dyn.history] == [recipe.opt] * 2
    assert type(dyn.optimizer).__name__ in ("AdamWScheduleFree", "Prodigy")
    assert all(0.0 <= d.val["mAP"] <= 100.0 for d in dyn.history)


def test_a_missing_lightning_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    monkeypatch.delitem(sys.modules, "training.user_loop.lightning")
    with pytest.raises(ImportError, match=r'pip install -c constraints.txt "\.\[lightning\]"'):
        importlib.import_module("training.user_loop.lightning")


def test_training_never_imports_lightning_but_here():
    import ast
    root = Path(__file__).resolve().parents[1] / "training"
    importers = {p.name for p in root.rglob("*.py")
                 if any(isinstance(node, (ast.Import, ast.ImportFrom)) and "pytorch_lightning" in
                        ast.unparse(node) for node in ast.walk(ast.parse(p.read_text())))}
    assert importers == {"lightning.py"}
