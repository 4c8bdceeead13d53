"""Tests for envs.engine.losses against hand-written float64 reference formulas."""
from __future__ import annotations

import math

import pytest
import torch

from envs.engine.losses import LOSSES, AsymmetricLoss, FocalLoss, build_loss
from envs.engine.recipe import LOSS_NAMES
from envs.errors import ConfigError

COUNTS = torch.tensor([1, 5, 40, 0])
N = 50


def _data(seed: int = 0, soft: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Small logits, targets (soft or hard) and a mask, drawn from an explicit generator."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(6, 4, generator=g) * 3
    targets = torch.rand(6, 4, generator=g) if soft else (torch.rand(6, 4, generator=g) < 0.4)
    mask = torch.rand(6, 4, generator=g) < 0.8
    return logits, targets.float(), mask


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _ref_entry(name: str, x: float, y: float, k: int) -> float:
    """Per-entry loss written from the papers' formulas, in python float64."""
    p = _sig(x)
    if name == "bce":
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))
    if name == "ls_bce":
        ys = y * 0.9 + 0.05
        return -(ys * math.log(p) + (1 - ys) * math.log(1 - p))
    if name == "focal":
        return -(y * 0.25 * (1 - p) ** 2 * math.log(p) + (1 - y) * 0.75 * p ** 2 * math.log(1 - p))
    if name == "asl":
        pm = max(p - 0.05, 0.0)
        return -(y * math.log(p) + (1 - y) * pm ** 4 * math.log(1 - pm))
    if name == "cb_bce":
        weights = [(1 - 0.999) / (1 - 0.999 ** max(int(n), 1)) for n in COUNTS]
        w = weights[k] / sum(weights) * len(weights)
        return w * -(y * math.log(p) + (1 - y) * math.log(1 - p))
    raise AssertionError(name)


def _reference(name: str, logits: torch.Tensor, targets: torch.Tensor,
               mask: torch.Tensor | None) -> float:
    total = 0.0
    for b in range(logits.shape[0]):
        for k in range(logits.shape[1]):
            if mask is None or mask[b, k]:
                total += _ref_entry(name, float(logits[b, k]), float(targets[b, k]), k)
    return total / logits.shape[0]


def test_every_catalogue_name_is_implemented() -> None:
    assert tuple(LOSSES) == LOSS_NAMES
    for name in LOSS_NAMES:
        assert isinstance(build_loss(name, COUNTS, N), torch.nn.Module)


def test_unknown_name_lists_valid_choices() -> None:
    with pytest.raises(ConfigError, match="focal"):
        build_loss("hinge", COUNTS, N)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("soft", [True, False])
def test_matches_reference_formula(name: str, soft: bool) -> None:
    logits, targets, mask = _data(seed=1, soft=soft)
    loss = build_loss(name, COUNTS, N)
    assert loss(logits, targets).item() == pytest.approx(
        _reference(name, logits, targets, None), rel=1e-5)
    assert loss(logits, targets, mask).item() == pytest.approx(
        _reference(name, logits, targets, mask), rel=1e-5)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_reduction_is_sum_over_counted_entries_divided_by_batch(name: str) -> None:
    logits, targets, _ = _data(seed=2)
    loss = build_loss(name, COUNTS, N)
    mask = torch.zeros(6, 4, dtype=torch.bool)
    mask[0, 1] = True
    single = loss(logits[:1, :], targets[:1, :], mask[:1, :]).item()   # B = 1
    assert loss(logits, targets, mask).item() == pytest.approx(single / 6, rel=1e-6)
    assert loss(logits, targets, torch.zeros_like(mask)).item() == 0.0


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("autocast", [False, True])
def test_extreme_logits_give_finite_loss_and_gradients(name: str, autocast: bool) -> None:
    loss = build_loss(name, COUNTS, N)
    logits = torch.tensor([[100.0, -100.0, 0.0, 30.0], [-100.0, 100.0, -30.0, 1e-3]],
                          requires_grad=True)
    targets = torch.tensor([[0.0, 1.0, 0.5, 1.0], [0.0, 1.0, 0.2, 0.0]])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        value = loss(logits * 1.0, targets)
    value.backward()
    assert value.dtype == torch.float32
    assert torch.isfinite(value) and value.item() > 10.0     # the wrong +-100 entries cost
    assert torch.isfinite(logits.grad).all()
    # a confidently wrong entry still receives a gradient pushing it the right way
    assert logits.grad[0, 1] < 0 and logits.grad[1, 0] <= 0 and logits.grad[0, 0] >= 0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_bf16_logits_are_computed_in_fp32(name: str) -> None:
    logits, targets, mask = _data(seed=3)
    loss = build_loss(name, COUNTS, N)
    low = loss(logits.bfloat16(), targets.bfloat16(), mask)
    ref = loss(logits.bfloat16().float(), targets.bfloat16().float(), mask)
    assert low.dtype == torch.float32 and low.item() == pytest.approx(ref.item(), rel=1e-6)


def test_focal_hard_targets_match_alpha_t_form() -> None:
    logits, targets, _ = _data(seed=4, soft=False)
    p = torch.sigmoid(logits.double())
    p_t = torch.where(targets > 0, p, 1 - p)
    alpha_t = torch.where(targets > 0, 0.25, 0.75)
    expected = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).sum() / 6
    assert FocalLoss()(logits, targets).item() == pytest.approx(expected.item(), rel=1e-5)


def test_asl_variants() -> None:
    logits, targets, _ = _data(seed=5, soft=False)
    p = torch.sigmoid(logits.double())
    y = targets.double()
    expected = -(y * (1 - p) * torch.log(p) + (1 - y) * p ** 4 * torch.log(1 - p)).sum() / 6
    got = AsymmetricLoss(gamma_pos=1, clip=0.0)(logits, targets)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    # the margin discards easy negatives entirely
    easy = AsymmetricLoss()(torch.tensor([[-4.0]]), torch.tensor([[0.0]]))   # p ~ 0.018 < 0.05
    assert easy.item() == 0.0
    with pytest.raises(ConfigError):
        AsymmetricLoss(gamma_pos=2)


def test_class_balanced_weights() -> None:
    loss = build_loss("cb_bce", COUNTS, N)
    weights = loss.weights
    assert weights.sum().item() == pytest.approx(4.0, rel=1e-6)
    assert weights[0] == weights[3]                 # n = 0 is clamped to 1
    assert weights[0] > weights[1] > weights[2]     # rarer classes weigh more


def test_invalid_counts_raise() -> None:
    with pytest.raises(ConfigError):
        build_loss("bce", torch.tensor([[1, 2]]), N)
    with pytest.raises(ConfigError):
        build_loss("cb_bce", torch.tensor([1, 60]), N)
    with pytest.raises(ValueError):
        build_loss("bce", COUNTS, N)(torch.zeros(2, 4), torch.zeros(2, 3))
