"""The training engine: rollback on divergence, exact resume, switching, evaluation."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from envs.engine.data import DatasetSplits, MLICDataset
from envs.engine.recipe import DEFAULT_RECIPE, Recipe
from envs.engine.schedules import schedule_factor
from envs.engine.trainer import Trainer, TrainerConfig
from envs.errors import ConfigError


def _dataset(n: int, split: str, seed: int, k: int = 5, size: int = 16) -> MLICDataset:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, k, generator=g) < 0.3).to(torch.uint8)
    images = torch.randint(0, 50, (n, 3, size, size), generator=g, dtype=torch.uint8)
    for c in range(k):  # a learnable signal: class c brightens channel c % 3 in a band
        band = slice(3 * c, 3 * c + 3)
        images[:, c % 3, band, :] += (labels[:, c] * 150).view(n, 1, 1).to(torch.uint8)
    return MLICDataset(images=images, labels=labels, ignore=torch.zeros(n, k, dtype=torch.bool),
                       class_names=tuple(str(i) for i in range(k)), name="synthetic", split=split)


@pytest.fixture(scope="module")
def splits() -> DatasetSplits:
    return DatasetSplits(train=_dataset(96, "train", 0), val=_dataset(48, "val", 1),
                         test=_dataset(48, "test", 2))


def _trainer(splits, seed=0, **overrides) -> Trainer:
    return Trainer(TrainerConfig(batch_size=16, **overrides), splits, total_steps=60, seed=seed)


def test_training_learns_the_signal(splits):
    trainer = _trainer(splits)
    before = trainer.evaluate("val").metrics["mAP"]
    for _ in range(4):
        stats = trainer.train_segment(DEFAULT_RECIPE.with_choice("aug", "none"), 12)
        assert not stats.diverged and stats.steps == 12 and stats.images == 12 * 16
    after = trainer.evaluate("val").metrics["mAP"]
    assert after > before + 15 and after > 70


def test_huge_lr_rolls_back_and_training_continues(splits):
    trainer = _trainer(splits, lr_scale=1e9, grad_clip=None)
    recipe = Recipe(aug="none", opt="sgd", lrs="constant", loss="bce")
    saved = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    spent = 0
    for _ in range(2):
        stats, evaluation = trainer.train_and_evaluate(recipe, 8)
        spent += stats.steps
        assert stats.diverged and stats.update_ratio == 0.0
        assert torch.isfinite(torch.tensor(evaluation.loss))
        for name, value in trainer.model.state_dict().items():
            assert torch.equal(value, saved[name]), name
    assert trainer.step == spent > 0  # the spent compute still counts as progress
    trainer.config = dataclasses.replace(trainer.config, lr_scale=1.0)
    stats, _ = trainer.train_and_evaluate(recipe, 4)
    assert not stats.diverged  # training goes on once the LR is sane again


def test_rollback_restores_weights_ema_and_optimizer_state(splits):
    trainer = _trainer(splits, grad_clip=None)
    recipe = Recipe(aug="none", opt="adamw", lrs="constant", loss="bce")
    trainer.train_segment(recipe, 4)                      # a good segment: Adam moments exist
    saved = {"model": trainer.model.state_dict(), "ema": trainer.ema_model.state_dict(),
             "optimizer": trainer.optimizer.state_dict()["state"]}
    saved = {part: {k: {n: t.clone() for n, t in v.items()} if isinstance(v, dict) else v.clone()
                    for k, v in state.items()} for part, state in saved.items()}
    trainer.config = dataclasses.replace(trainer.config, lr_scale=1e12)
    assert trainer.train_segment(recipe, 6).diverged
    for part, module in (("model", trainer.model), ("ema", trainer.ema_model)):
        for name, value in module.state_dict().items():
            assert torch.equal(value, saved[part][name]), (part, name)
    for index, state in trainer.optimizer.state_dict()["state"].items():
        for key, value in state.items():
            assert torch.equal(value, saved["optimizer"][index][key]), (index, key)


def test_state_dict_resume_is_exact(splits):
    recipes = [Recipe("cutmix", "sgd", "cosine", "focal"), Recipe("mixup", "adam", "step", "asl"),
               Recipe("randaugment", "adamw", "one_cycle", "cb_bce")]
    straight = _trainer(splits, seed=3)
    for r in recipes:
        straight.train_segment(r, 5)
    resumed_from = _trainer(splits, seed=3)
    resumed_from.train_segment(recipes[0], 5)
    state = resumed_from.state_dict()
    resumed = _trainer(splits, seed=99)  # a different seed: everything must come from the state
    resumed.load_state_dict(state)
    for r in recipes[1:]:
        resumed.train_segment(r, 5)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert straight.evaluate("test").metrics["mAP"] == resumed.evaluate("test").metrics["mAP"]


def test_lr_multiplier_blends_across_a_schedule_switch(splits):
    trainer = _trainer(splits, lr_ema_rate=0.5)
    trainer.train_segment(Recipe("none", "adamw", "constant", "bce"), 4)
    assert trainer.lr == pytest.approx(trainer._base_lr("adamw"))
    trainer.train_segment(Recipe("none", "adamw", "step", "bce"), 1)
    # step schedule at this progress is 1.0 too; switch to cosine late -> blended, not jumped
    trainer.step = 55
    trainer.train_segment(Recipe("none", "adamw", "cosine", "bce"), 1)
    target = trainer._base_lr("adamw") * schedule_factor("cosine", 55 / 60)
    assert target < trainer.lr < trainer._base_lr("adamw")


def test_ignored_entries_do_not_contribute_to_the_loss(splits):
    ignore_all = dataclasses.replace(splits.train, labels=torch.zeros_like(splits.train.labels),
                                     ignore=torch.ones_like(splits.train.ignore))
    trainer = _trainer(DatasetSplits(ignore_all, splits.val, splits.test))
    stats = trainer.train_segment(Recipe("none", "sgd", "constant", "bce"), 2)
    assert stats.train_loss == 0.0 and stats.grad_norm == 0.0


def test_evaluation_uses_the_slow_ema(splits):
    trainer = _trainer(splits, weight_ema_decay=0.9)
    trainer.train_segment(DEFAULT_RECIPE, 20)
    live = dict(trainer.model.named_parameters())
    ema = dict(trainer.ema_model.named_parameters())
    assert any(not torch.equal(live[n], ema[n]) for n in live)


@pytest.mark.parametrize("bad", [dict(batch_size=0), dict(amp="fp8"), dict(amp="fp16"),
                                 dict(lr_scale=0.0), dict(weight_ema_decay=1.0)])
def test_bad_trainer_config(bad):
    with pytest.raises(ConfigError):
        TrainerConfig(**bad)


def test_bf16_autocast_trains(splits):
    stats = _trainer(splits, amp="bf16").train_segment(DEFAULT_RECIPE, 4)
    assert not stats.diverged and torch.isfinite(torch.tensor(stats.train_loss))
