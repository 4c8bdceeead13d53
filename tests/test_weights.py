"""Tests for envs.engine.weights: the finiteness check the trainer's rollback relies on."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from envs.engine.weights import all_finite


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_a_fresh_model_and_huge_but_finite_weights_are_finite() -> None:
    model = _model()
    assert all_finite(model)
    with torch.no_grad():
        model[3].weight.fill_(3e38)                       # squares overflow, the values do not
    assert all_finite(model)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("where", ["0.weight", "3.bias", "1.running_var"])
def test_one_non_finite_entry_anywhere_in_the_state_is_found(bad: float, where: str) -> None:
    model = _model()
    with torch.no_grad():
        tensor = model.state_dict()[where]
        tensor.view(-1)[tensor.numel() // 2] = bad
    assert not all_finite(model)
