"""Tests for envs.engine.augment: ranges, determinism, RNG isolation and op semantics."""
from __future__ import annotations

import pytest
import torch

from envs.engine.augment import AUGMENTATIONS, RANDAUGMENT_OPS, augment_batch
from envs.engine.recipe import AUG_NAMES
from envs.errors import ConfigError


def _batch(b: int = 16, k: int = 5, h: int = 24, w: int = 32,
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g), (torch.rand(b, k, generator=g) < 0.4).float()


def _gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_every_catalogue_name_is_implemented() -> None:
    assert tuple(AUGMENTATIONS) == AUG_NAMES
    assert len(RANDAUGMENT_OPS) == 14


def test_unknown_name_lists_valid_choices() -> None:
    images, targets = _batch()
    with pytest.raises(ConfigError, match="randaugment"):
        augment_batch("autoaugment", images, targets, _gen())
    with pytest.raises(ValueError):
        augment_batch("crop", images[:, :2], targets, _gen())


def test_none_returns_the_inputs_and_draws_nothing() -> None:
    images, targets = _batch()
    g = _gen()
    state = g.get_state()
    out_images, out_targets = augment_batch("none", images, targets, g)
    assert out_images is images and out_targets is targets
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize("name", AUG_NAMES[1:])
def test_range_shape_determinism_and_rng_isolation(name: str) -> None:
    images, targets = _batch()
    before_images, before_targets = images.clone(), targets.clone()
    global_state = torch.get_rng_state()
    out1, y1 = augment_batch(name, images, targets, _gen(7))
    out2, y2 = augment_batch(name, images, targets, _gen(7))
    out3, _ = augment_batch(name, images, targets, _gen(8))
    assert torch.equal(torch.get_rng_state(), global_state)      # global RNG untouched
    assert torch.equal(images, before_images) and torch.equal(targets, before_targets)
    assert out1.shape == images.shape and out1.dtype == images.dtype
    assert y1.shape == targets.shape and y1.dtype == targets.dtype
    assert torch.isfinite(out1).all() and out1.min() >= 0 and out1.max() <= 1
    assert y1.min() >= 0 and y1.max() <= 1
    assert torch.equal(out1, out2) and torch.equal(y1, y2)       # deterministic
    assert not torch.equal(out1, out3)                            # seed matters
    assert not torch.equal(out1, images)                          # it does something


@pytest.mark.parametrize("name", AUG_NAMES)
def test_channels_last_is_preserved_and_equal(name: str) -> None:
    images, targets = _batch()
    cl = images.contiguous(memory_format=torch.channels_last)
    out, y = augment_batch(name, images, targets, _gen(3))
    out_cl, y_cl = augment_batch(name, cl, targets, _gen(3))
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_cl, out, atol=1e-6, rtol=0)
    assert torch.equal(y_cl, y)


@pytest.mark.parametrize("name", AUG_NAMES)
def test_single_sample_batch(name: str) -> None:
    images, targets = _batch(b=1)
    out, y = augment_batch(name, images, targets, _gen())
    assert out.shape == images.shape and torch.isfinite(out).all()


def _column_gradient(b: int) -> torch.Tensor:
    """Images whose brightness increases from left to right."""
    ramp = torch.linspace(0.1, 0.9, 32).view(1, 1, 1, 32)
    return ramp.expand(b, 3, 32, 32).clone()


def test_crop_keeps_orientation_and_flip_crop_mirrors_about_half() -> None:
    images = _column_gradient(200)
    targets = torch.zeros(200, 1)
    cropped, _ = augment_batch("crop", images, targets, _gen(4))
    flipped, _ = augment_batch("flip_crop", images, targets, _gen(4))
    slope = lambda x: (x[:, 0, :, -1] - x[:, 0, :, 0]).mean(1)   # noqa: E731
    assert (slope(cropped) > 0).all()
    mirrored = (slope(flipped) < 0).float().mean().item()
    assert 0.35 < mirrored < 0.65
    # the crop zooms in: the visible range of the ramp shrinks but stays inside it
    assert (slope(cropped) <= 0.8 + 1e-5).all() and (slope(cropped) > 0.5).all()


def test_cutout_greys_one_clipped_square_per_sample() -> None:
    images, targets = _batch(b=64, h=32, w=32)
    out, y = augment_batch("cutout", images, targets, _gen(5))
    assert torch.equal(y, targets)
    grey = (out == 0.5).all(dim=1)                                 # [B, H, W]
    for mask in grey:
        rows, cols = mask.any(1), mask.any(0)
        assert torch.equal(mask, rows[:, None] & cols[None, :])    # a rectangle
        assert rows.sum() <= 17 and cols.sum() <= 17               # side <= 1/2 of 32
    sides = torch.stack([m.any(1).sum() for m in grey]).float()
    assert sides.max() >= 12 and sides.min() >= 1


def _identity_batch(b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Constant images with distinct values and one-hot targets identifying each sample."""
    values = torch.linspace(0.0, 1.0, b, dtype=torch.float64)
    images = values.view(b, 1, 1, 1).expand(b, 3, 8, 8).clone()
    return images, torch.eye(b, dtype=torch.float64), values


def test_mixup_mixes_images_and_targets_with_the_same_weights() -> None:
    images, targets, values = _identity_batch(500)
    out, y = augment_batch("mixup", images, targets, _gen(6))
    torch.testing.assert_close(y.sum(1), torch.ones(500, dtype=torch.float64))
    expected = y @ values                                          # weights applied to the values
    torch.testing.assert_close(out[:, 0, 0, 0], expected)
    assert (out.amax(dim=(1, 2, 3)) - out.amin(dim=(1, 2, 3))).max() < 1e-12
    lam = y.diagonal()
    own = torch.where(lam >= 1 - 1e-12, 1.0, lam)                  # paired with itself
    tails = ((own < 0.1) | (own > 0.9)).double().mean()
    assert tails > 0.35                                            # Beta(0.4, 0.4) is U-shaped


def test_cutmix_mixes_targets_by_the_pasted_area() -> None:
    images, targets, values = _identity_batch(64)
    out, y = augment_batch("cutmix", images, targets, _gen(7))
    torch.testing.assert_close(y.sum(1), torch.ones(64, dtype=torch.float64))
    pixels = out[:, 0]                                             # [B, 8, 8]
    for i in range(64):
        fractions = torch.stack([(pixels[i] == v).double().mean() for v in values])
        torch.testing.assert_close(fractions, y[i])
    assert (y.diagonal() < 1).sum() > 32                           # most samples got a box


def test_color_jitter_keeps_grey_images_grey() -> None:
    grey = torch.rand(8, 1, 16, 16, generator=_gen(8)).expand(8, 3, 16, 16).clone()
    out, _ = augment_batch("color_jitter", grey, torch.zeros(8, 2), _gen(9))
    torch.testing.assert_close(out[:, 0], out[:, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, 0], out[:, 2], atol=1e-5, rtol=0)
    assert not torch.allclose(out, grey)


@pytest.mark.parametrize("op", list(RANDAUGMENT_OPS))
def test_each_randaugment_op_stays_in_range(op: str) -> None:
    images, _ = _batch(b=6)
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    out = RANDAUGMENT_OPS[op](images, sign)
    assert out.shape == images.shape and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    if op != "identity":
        assert not torch.equal(out, images)


def test_randaugment_op_semantics() -> None:
    x = torch.rand(2, 3, 16, 16, generator=_gen(10)) * 0.5 + 0.25    # range [0.25, 0.75]
    sign = torch.ones(2, dtype=torch.float64)
    stretched = RANDAUGMENT_OPS["autocontrast"](x, sign)
    torch.testing.assert_close(stretched.amin(dim=(2, 3)), torch.zeros(2, 3))
    torch.testing.assert_close(stretched.amax(dim=(2, 3)), torch.ones(2, 3))
    equalized = RANDAUGMENT_OPS["equalize"](x, sign)
    assert abs(equalized.mean().item() - 0.5) < 0.05 and equalized.max() == 1.0
    solarized = RANDAUGMENT_OPS["solarize"](x, sign)
    torch.testing.assert_close(solarized, torch.where(x >= 0.7, 1 - x, x))
    posterized = RANDAUGMENT_OPS["posterize"](x, sign) * 255
    assert torch.equal(posterized.round() % 8, torch.zeros_like(posterized))
    brighter = RANDAUGMENT_OPS["brightness"](x, sign)
    torch.testing.assert_close(brighter, (x * 1.27).clamp(0, 1))
    shifted = RANDAUGMENT_OPS["translate_x"](x, sign)    # +0.135 * 16 px: content moves left
    assert (shifted[..., -2:] == 0.5).all() and not (shifted[..., -3] == 0.5).any()
    torch.testing.assert_close(shifted[..., :-3], x[..., 2:-1] * 0.84 + x[..., 3:] * 0.16)


def test_randaugment_changes_most_samples() -> None:
    images, targets = _batch(b=64)
    out, y = augment_batch("randaugment", images, targets, _gen(11))
    changed = (out - images).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert changed.float().mean() > 0.8 and torch.equal(y, targets)


def test_randaugment_batching_matches_a_per_sample_reference() -> None:
    """Same draws, ops applied one sample at a time: the batched result must agree."""
    images, targets = _batch(b=40, h=20, w=28)
    out, _ = augment_batch("randaugment", images, targets, _gen(12))
    g, names, x = _gen(12), list(RANDAUGMENT_OPS), images
    for _ in range(2):
        choice = torch.randint(len(names), (40,), generator=g)
        sign = torch.where(torch.rand(40, generator=g) < 0.5, -1.0, 1.0).double()
        x = torch.cat([RANDAUGMENT_OPS[names[int(choice[i])]](x[i:i + 1], sign[i:i + 1])
                       for i in range(40)])
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)
