"""Tests for envs.engine.optimizers: families, parameter groups and state transfer."""
from __future__ import annotations

import copy
import itertools

import pytest
import torch
from prodigyopt import Prodigy
from schedulefree import AdamWScheduleFree
from torch import nn

from envs.engine.optimizers import (OPTIMIZERS, OptimizerSpec, copy_state_dict, param_groups,
                                    transfer_state)
from envs.engine.recipe import OPT_NAMES
from envs.errors import ConfigError

CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "sf_adamw": AdamWScheduleFree, "prodigy": Prodigy}


def _tiny_model(seed: int = 0) -> nn.Module:
    """Conv-BN-ReLU-pool-linear, initialised from an explicit generator."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        model[1].weight.add_(1.0)                       # BN scales around 1
    return model


def _data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, 8, 8, generator=g), (torch.rand(16, 4, generator=g) < 0.3).float()


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int) -> list[float]:
    x, y = _data()
    losses = []
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_every_catalogue_name_is_implemented() -> None:
    assert tuple(OPTIMIZERS) == OPT_NAMES
    model = _tiny_model()
    for name, spec in OPTIMIZERS.items():
        assert spec.name == name and spec.base_lr > 0 and spec.weight_decay >= 0
        assert type(spec.build(param_groups(model), spec.base_lr)) is CLASSES[name]


def test_unknown_names_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="adamw"):
        OptimizerSpec("lamb", 1e-3, 0.0)
    opt = OPTIMIZERS["sgd"].build(param_groups(_tiny_model()), 0.1)
    with pytest.raises(ConfigError):
        transfer_state(opt, "sgd", opt, "lion")
    with pytest.raises(ConfigError):
        OPTIMIZERS["sgd"].build(param_groups(_tiny_model()), 0.0)


def test_param_groups_split_weights_from_biases_and_norms() -> None:
    model = _tiny_model()
    conv, bn, linear = model[0], model[1], model[5]
    decay, no_decay = param_groups(model)
    assert {id(p) for p in decay["params"]} == {id(conv.weight), id(linear.weight)}
    assert {id(p) for p in no_decay["params"]} == {
        id(conv.bias), id(bn.weight), id(bn.bias), id(linear.bias)}
    assert no_decay["weight_decay"] == 0.0 and "weight_decay" not in decay


def test_frozen_parameters_are_left_out() -> None:
    model = _tiny_model()
    model[0].weight.requires_grad_(False)
    decay, _ = param_groups(model)
    assert all(p is not model[0].weight for p in decay["params"])


@pytest.mark.parametrize("name", OPT_NAMES)
def test_build_applies_lr_and_weight_decay_per_group(name: str) -> None:
    spec = OPTIMIZERS[name]
    groups = param_groups(_tiny_model())
    opt = spec.build(groups, 0.123)
    assert [g["lr"] for g in opt.param_groups] == [0.123, 0.123]
    assert [g["weight_decay"] for g in opt.param_groups] == [spec.weight_decay, 0.0]
    assert "lr" not in groups[0] and "weight_decay" not in groups[0]   # input untouched


def test_sgd_is_nesterov_momentum() -> None:
    opt = OPTIMIZERS["sgd"].build(param_groups(_tiny_model()), 0.1)
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["nesterov"]


def test_adam_to_adamw_transfer_continues_exactly() -> None:
    """With weight decay 0, AdamW after a transfer takes the step Adam would have taken."""
    reference, switched = _tiny_model(), _tiny_model()
    adam_ref = OptimizerSpec("adam", 1e-2, 0.0).build(param_groups(reference), 1e-2)
    adam = OptimizerSpec("adam", 1e-2, 0.0).build(param_groups(switched), 1e-2)
    _train(reference, adam_ref, 5)
    _train(switched, adam, 5)
    adamw = OptimizerSpec("adamw", 1e-2, 0.0).build(param_groups(switched), 1e-2)
    assert transfer_state(adam, "adam", adamw, "adamw")
    _train(reference, adam_ref, 3)
    _train(switched, adamw, 3)
    for p, q in zip(reference.parameters(), switched.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    fresh_model = _tiny_model()
    _train(fresh_model, OptimizerSpec("adam", 1e-2, 0.0).build(param_groups(fresh_model), 1e-2), 5)
    fresh = OptimizerSpec("adamw", 1e-2, 0.0).build(param_groups(fresh_model), 1e-2)
    _train(fresh_model, fresh, 3)                     # without the transfer it differs
    assert not torch.allclose(fresh_model[5].weight, reference[5].weight, atol=1e-6)


def test_transferred_state_is_a_copy() -> None:
    model = _tiny_model()
    old = OPTIMIZERS["sgd"].build(param_groups(model), 0.05)
    _train(model, old, 2)
    new = OPTIMIZERS["sgd"].build(param_groups(model), 0.05)
    assert transfer_state(old, "sgd", new, "sgd")
    p = model[0].weight
    assert torch.equal(new.state[p]["momentum_buffer"], old.state[p]["momentum_buffer"])
    assert new.state[p]["momentum_buffer"] is not old.state[p]["momentum_buffer"]


@pytest.mark.parametrize("name", OPT_NAMES)
def test_copy_state_dict_is_a_deepcopy_that_later_steps_leave_alone(name: str) -> None:
    model = _tiny_model()
    opt = OPTIMIZERS[name].build(param_groups(model), OPTIMIZERS[name].base_lr)
    _train(model, opt, 3)
    copied, deep = copy_state_dict(opt.state_dict()), copy.deepcopy(opt.state_dict())
    _train(model, opt, 2)                                   # moves the live state on
    assert copied["param_groups"] == deep["param_groups"]
    assert copied["state"].keys() == deep["state"].keys()
    for index, state in deep["state"].items():
        assert state.keys() == copied["state"][index].keys()
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):  # Prodigy keeps plain numbers too
                assert copied["state"][index][key] == value, (index, key)
                continue
            assert torch.equal(copied["state"][index][key], value), (index, key)
            assert copied["state"][index][key].stride() == value.stride()


@pytest.mark.parametrize("old_name,new_name", [("sgd", "adam"), ("adam", "sgd"),
                                               ("rmsprop", "adamw"), ("adamw", "rmsprop")])
def test_incompatible_pairs_carry_nothing(old_name: str, new_name: str) -> None:
    model = _tiny_model()
    old = OPTIMIZERS[old_name].build(param_groups(model), OPTIMIZERS[old_name].base_lr)
    _train(model, old, 2)
    new = OPTIMIZERS[new_name].build(param_groups(model), OPTIMIZERS[new_name].base_lr)
    assert not transfer_state(old, old_name, new, new_name)
    assert len(new.state) == 0


@pytest.mark.parametrize("old_name,new_name", list(itertools.product(OPT_NAMES, OPT_NAMES)))
def test_switch_mid_training_stays_finite(old_name: str, new_name: str) -> None:
    model = _tiny_model(seed=3)
    old_spec, new_spec = OPTIMIZERS[old_name], OPTIMIZERS[new_name]
    old = old_spec.build(param_groups(model), old_spec.base_lr)
    before = _train(model, old, 15)
    new = new_spec.build(param_groups(model), new_spec.base_lr)
    carried = transfer_state(old, old_name, new, new_name)
    assert carried == (old_name == new_name or {old_name, new_name} == {"adam", "adamw"})
    after = _train(model, new, 15)
    assert all(torch.isfinite(torch.tensor(before + after)))
    assert after[-1] < before[0]                       # still learning after the switch
