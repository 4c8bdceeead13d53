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
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

import envs
from training.user_loop.dynamic import UserLoopError

LIGHTNING_MISSING = ("the lightning extra is missing: `make test` installs it, or pip install -c "
                     "constraints.txt -e '.[lightning]'")

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:.*configure_optimizers.* returned `None`",
                                         "ignore:.*does not have many workers",
                                         "ignore:.*LeafSpec.* is deprecated",
                                         "ignore:You passed in a `val_dataloader` but have no",
                                         "ignore:Be aware that when using `ckpt_path`")]


@pytest.fixture(scope="module")
def lit() -> ModuleType:
    """``tests/lightning_user.py``, imported here rather than at collection (Lightning takes
    about 2 s to import); skips, saying why, without the extra."""
    pytest.importorskip("pytorch_lightning", reason=LIGHTNING_MISSING)
    return importlib.import_module("lightning_user")


def test_a_static_controller_plays_the_default_recipe_on_the_epoch_budget(lit):
    module = lit.Net()
    callback, trainer = lit.fit(4, module, controller="static", epochs_per_decision=2)
    dyn = callback.dynamic_recipe
    assert module.dynamic_recipe is dyn and not module.automatic_optimization
    assert dyn.done and len(dyn.history) == dyn.decisions == 2
    assert [d.recipe for d in dyn.history] == [envs.DEFAULT_RECIPE] * 2
    assert all(d.steps == 2 * lit.BATCHES for d in dyn.history)
    assert trainer.global_step == 4 * lit.BATCHES  # Lightning counts the recipe's steps
    logged = trainer.callback_metrics["dynamic_recipe/mAP"]
    assert logged == pytest.approx(dyn.history[-1].val["mAP"])


def test_a_random_controller_switches_recipes_on_the_trainers_val_loader(lit):
    callback, _ = lit.fit(4, lit.ValidatedNet(), val_in_callback=False, controller="random", seed=1)
    history = callback.dynamic_recipe.history
    assert len(history) == 4 and len({d.recipe for d in history}) > 1
    assert all(0.0 <= d.val["mAP"] <= 100.0 for d in history)


def test_settings_the_recipe_cannot_honour_are_refused(lit):
    with pytest.raises(UserLoopError, match="not a multiple of epochs_per_decision=2"):
        lit.fit(3, epochs_per_decision=2)
    with pytest.raises(UserLoopError, match="no val loader"):
        lit.fit(1, val_in_callback=False)
    with pytest.raises(UserLoopError, match="exactly once"):
        lit.fit(1, lit.Net(steps=0))
    for options, message in [({"max_steps": 5}, "leave max_steps unset"),
                             ({"gradient_clip_val": 1.0}, r"TrainerConfig\(grad_clip"),
                             ({"accumulate_grad_batches": 2}, "one optimizer step per batch"),
                             ({"precision": "64-true"}, r"TrainerConfig\(amp")]:
        with pytest.raises(UserLoopError, match=message):
            lit.fit(1, trainer_options=options)
    with pytest.raises(UserLoopError, match="epochs_per_decision must be a positive int"):
        lit.DynamicRecipeCallback(num_classes=lit.CLASSES, train_targets=lit.data()[1], epochs_per_decision=0)


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


def test_a_lightning_checkpoint_resumes_the_recipe_exactly(lit, tmp_path):
    checkpoints = lit.pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_top_k=-1,
                                               filename="{epoch}")
    whole, _ = lit.fit(3, lit.Net(seed=0), controller="random", seed=2, extra_callbacks=(checkpoints,))
    saved = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)  # plain tensors and values
    assert saved["global_step"] == lit.BATCHES  # the recipe's steps let ModelCheckpoint save
    resumed, trainer = lit.fit(3, lit.Net(seed=9), controller="random", seed=2,
                            ckpt_path=tmp_path / "epoch=0.ckpt")
    assert trainer.global_step == 3 * lit.BATCHES
    _assert_same(resumed.state_dict(), whole.state_dict())

    fresh = lit.DynamicRecipeCallback(num_classes=lit.CLASSES, train_targets=lit.data()[1])
    fresh.load_state_dict(saved["callbacks"]["DynamicRecipeCallback"])  # kept until train start
    _assert_same(fresh.state_dict(), saved["callbacks"]["DynamicRecipeCallback"])


@pytest.mark.parametrize("recipe", [envs.Recipe("crop", "sf_adamw", "constant", "asl"),
                                    envs.Recipe("crop", "prodigy", "cosine", "asl")])
def test_the_tuning_free_optimizers_run_under_lightning(lit, recipe):
    module = lit.Net()
    callback, _ = lit.fit(2, module, controller=recipe)
    dyn = callback.dynamic_recipe
    assert [d.recipe.opt for d in dyn.history] == [recipe.opt] * 2
    assert type(dyn.optimizer).__name__ in ("AdamWScheduleFree", "Prodigy")
    assert all(0.0 <= d.val["mAP"] <= 100.0 for d in dyn.history)


def test_a_missing_lightning_names_the_extra(lit, monkeypatch):
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
