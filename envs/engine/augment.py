"""Batched, seeded image augmentations the ``aug`` agent chooses from (``recipe.AUG_NAMES``).

``augment_batch(name, images, targets, generator)`` takes float images ``[B, 3, H, W]``
in ``[0, 1]`` (any device, any memory format) and float targets ``[B, K]`` and returns
augmented images (still in ``[0, 1]``, in the input's memory format) and targets.

Randomness: every random parameter is drawn **on the CPU from ``generator``** (never
the global RNG) and only then moved to the images' device, so a run is reproducible
from the generator's state and identical on CPU and GPU up to float rounding. The
number of draws depends only on the batch shape, not on the data. Every op is
batched over samples (no python loop over samples); RandAugment loops over its 14
op types, applying each to the samples that drew it.

Ops
    ``none``         the inputs, unchanged (the same tensor objects).
    ``crop``         random-resized crop: area 70-100 %, aspect 3/4-4/3, placed
                     uniformly inside the image (a small shift), resampled bilinearly
                     to the input size with one ``affine_grid``/``grid_sample``.
    ``flip_crop``    ``crop`` plus a horizontal flip with p = 0.5 (in the same affine map).
    ``color_jitter`` per sample brightness, contrast and saturation factors in
                     ``[0.6, 1.4]`` and a hue rotation of up to +-0.05 turn (a rotation of
                     the chroma plane in YIQ space, a cheap approximation of HSV hue).
    ``cutout``       one square per sample, side 1/4-1/2 of the shorter image side,
                     centred anywhere (it may be clipped by the border), filled with
                     grey 0.5 (DeVries & Taylor 2017).
    ``mixup``        ``x = lam x + (1 - lam) x[perm]``, ``y = lam y + (1 - lam) y[perm]``
                     with one ``lam ~ Beta(0.4, 0.4)`` per sample (Zhang et al. 2018). The
                     Beta draws come from a numpy ``Generator`` seeded by one draw from
                     ``generator`` (torch's Beta/Gamma samplers ignore generators).
    ``cutmix``       a box of area fraction ``1 - lam``, ``lam ~ U(0, 1)``, pasted from
                     ``x[perm]`` (Yun et al. 2019). Targets are mixed by the **exact
                     pasted area** ``a`` (after clipping the box to the image):
                     ``y = (1 - a) y + a y[perm]``, not by the union of the label sets: an
                     object of ``y[perm]`` mostly outside the box should not count as
                     fully present, and the soft target keeps the loss scale comparable.
    ``randaugment``  RandAugment (Cubuk et al. 2020): N = 2 ops per sample drawn
                     uniformly from the 14 standard ones, magnitude M = 9 of 30 (m = 0.3)
                     with a random sign for signed ops. Geometric ops fill with grey 0.5.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from envs.errors import ConfigError

__all__ = ["AUGMENTATIONS", "GEOMETRIC_OPS", "RANDAUGMENT_OPS", "augment_batch"]

Augmentation = Callable[[Tensor, Tensor, torch.Generator], tuple[Tensor, Tensor]]
MAGNITUDE = 9 / 30
GREY = 0.5


# ----------------------------------------------------------------------------- helpers
def _uniform(g: torch.Generator, n: int, low: float, high: float) -> Tensor:
    """n CPU float64 draws from U(low, high)."""
    return torch.rand(n, generator=g, dtype=torch.float64) * (high - low) + low


def _gray(x: Tensor) -> Tensor:
    """ITU-R 601 luma [B, 1, H, W]."""
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def _blend(base: Tensor, x: Tensor, factor: Tensor) -> Tensor:
    """base + factor (x - base) with per-sample CPU factors [B], clamped to [0, 1]."""
    factor = factor.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)
    return (base + factor * (x - base)).clamp(0, 1)


def _warp(x: Tensor, theta: Tensor) -> Tensor:
    """Resample x through per-sample affine maps theta [B, 2, 3] (CPU), grey outside."""
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x - GREY, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return (out + GREY).clamp(0, 1)


def _theta(a: Tensor, b: Tensor, tx: Tensor, c: Tensor, d: Tensor, ty: Tensor) -> Tensor:
    """Stack per-sample affine coefficients into [B, 2, 3]."""
    return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)


def _box_mask(x: Tensor, top: Tensor, bottom: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """Bool [B, 1, H, W]: True inside each sample's integer box [top, bottom) x [left, right)."""
    rows = torch.arange(x.shape[2], device=x.device).view(1, -1, 1)
    cols = torch.arange(x.shape[3], device=x.device).view(1, 1, -1)
    top, bottom, left, right = (v.to(x.device).view(-1, 1, 1) for v in (top, bottom, left, right))
    inside = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    return inside.unsqueeze(1)


def _box(g: torch.Generator, n: int, height: int, width: int, side_h: Tensor,
         side_w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Integer boxes of the given sides centred uniformly in the image, clipped to it."""
    cy, cx = _uniform(g, n, 0, height), _uniform(g, n, 0, width)
    top = (cy - side_h / 2).round().clamp(0, height).long()
    bottom = (cy + side_h / 2).round().clamp(0, height).long()
    left = (cx - side_w / 2).round().clamp(0, width).long()
    right = (cx + side_w / 2).round().clamp(0, width).long()
    return top, bottom, left, right


# ------------------------------------------------------------------------ batch ops
def _crop_theta(g: torch.Generator, n: int, flip: bool) -> Tensor:
    """Affine maps of random-resized crops (optionally mirrored), inside the image."""
    area = _uniform(g, n, 0.7, 1.0)
    ratio = torch.exp(_uniform(g, n, math.log(3 / 4), math.log(4 / 3)))
    sx, sy = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    tx, ty = _uniform(g, n, -1, 1) * (1 - sx), _uniform(g, n, -1, 1) * (1 - sy)
    if flip:
        sx = torch.where(torch.rand(n, generator=g) < 0.5, -sx, sx)
    zero = torch.zeros(n, dtype=torch.float64)
    return _theta(sx, zero, tx, zero, sy, ty)


def _crop(images: Tensor, targets: Tensor, g: torch.Generator,
          flip: bool = False) -> tuple[Tensor, Tensor]:
    """Random-resized crop with a small shift (and a horizontal flip with p = 0.5)."""
    return _warp(images, _crop_theta(g, images.shape[0], flip)), targets


def _hue(x: Tensor, turns: Tensor) -> Tensor:
    """Rotate each sample's chroma (I, Q in YIQ) by ``turns`` of a full circle."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                           [0.211, -0.523, 0.312]], dtype=torch.float64)
    angle = 2 * math.pi * turns
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(turns), 3, 3, dtype=torch.float64)
    rot[:, 0, 0], rot[:, 1, 1], rot[:, 2, 2] = 1, cos, cos
    rot[:, 1, 2], rot[:, 2, 1] = -sin, sin
    matrix = torch.linalg.inv(to_yiq) @ rot @ to_yiq            # [B, 3, 3] RGB -> RGB
    matrix = matrix.to(device=x.device, dtype=x.dtype)
    return torch.einsum("bij,bjhw->bihw", matrix, x).clamp(0, 1)


def _color_jitter(images: Tensor, targets: Tensor,
                  g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Per-sample brightness, contrast, saturation and hue jitter."""
    n = images.shape[0]
    bright, contrast, sat = (_uniform(g, n, 0.6, 1.4) for _ in range(3))
    hue = _uniform(g, n, -0.05, 0.05)
    x = _blend(torch.zeros_like(images), images, bright)
    x = _blend(_gray(x).mean(dim=(2, 3), keepdim=True), x, contrast)
    x = _blend(_gray(x), x, sat)
    return _hue(x, hue), targets


def _cutout(images: Tensor, targets: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Grey out one random square per sample."""
    n, _, h, w = images.shape
    side = _uniform(g, n, 0.25, 0.5) * min(h, w)
    inside = _box_mask(images, *_box(g, n, h, w, side, side))
    return torch.where(inside, torch.full_like(images, GREY), images), targets


def _beta(g: torch.Generator, n: int, alpha: float) -> Tensor:
    """n CPU draws from Beta(alpha, alpha), reproducible from ``g``."""
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=g))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=n))


def _mixup(images: Tensor, targets: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Convex mix with a permuted batch, one Beta(0.4, 0.4) weight per sample."""
    n = images.shape[0]
    lam = _beta(g, n, 0.4)
    perm = torch.randperm(n, generator=g).to(images.device)
    mixed = _blend(images[perm], images, lam)
    lam_y = lam.to(device=targets.device, dtype=targets.dtype).view(-1, 1)
    return mixed, lam_y * targets + (1 - lam_y) * targets[perm.to(targets.device)]


def _cutmix(images: Tensor, targets: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Paste a random box from a permuted batch; mix targets by the pasted area."""
    n, _, h, w = images.shape
    ratio = (1 - torch.rand(n, generator=g, dtype=torch.float64)).sqrt()
    top, bottom, left, right = _box(g, n, h, w, ratio * h, ratio * w)
    perm = torch.randperm(n, generator=g).to(images.device)
    inside = _box_mask(images, top, bottom, left, right)
    area = ((bottom - top) * (right - left)).double() / (h * w)
    area = area.to(device=targets.device, dtype=targets.dtype).view(-1, 1)
    mixed_y = (1 - area) * targets + area * targets[perm.to(targets.device)]
    return torch.where(inside, images[perm], images), mixed_y


# ---------------------------------------------------------------------- randaugment
def _ra_autocontrast(x: Tensor, sign: Tensor) -> Tensor:
    """Stretch each channel to the full [0, 1] range."""
    lo, hi = x.amin(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
    return torch.where(hi > lo, (x - lo) / (hi - lo).clamp(min=1e-6), x).clamp(0, 1)


def _ra_equalize(x: Tensor, sign: Tensor) -> Tensor:
    """Per-channel histogram equalisation on 256 levels."""
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w).float()          # counts need more than bf16 precision
    q = (flat * 255).round().long().clamp(0, 255)
    hist = torch.zeros(b * c, 256, device=x.device).scatter_add_(
        1, q, torch.ones_like(flat))
    cdf = hist.cumsum(1)
    cdf_min = cdf.gather(1, q.amin(1, keepdim=True))
    span = (h * w - cdf_min)
    out = (cdf.gather(1, q) - cdf_min) / span.clamp(min=1)
    out = torch.where(span > 0, out, flat)
    return out.reshape(b, c, h, w).to(x.dtype).clamp(0, 1)


GEOMETRIC_OPS: tuple[str, ...] = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")


def _geometric_theta(kind: str, sign: Tensor, aspect: float) -> Tensor:
    """Per-sample affine maps [b, 2, 3] of a geometric op; ``aspect`` = H / W.

    Rotation by +-30 m degrees (aspect-correct), shear by +-0.3 m, translation by
    +-0.45 m of the image size (normalised coordinates span 2).
    """
    one, zero = torch.ones_like(sign), torch.zeros_like(sign)
    if kind == "rotate":
        angle = sign * math.radians(30 * MAGNITUDE)
        cos, sin = torch.cos(angle), torch.sin(angle)
        return _theta(cos, -sin * aspect, zero, sin / aspect, cos, zero)
    shear, shift = sign * 0.3 * MAGNITUDE, sign * 2 * 0.45 * MAGNITUDE
    coefficients = {
        "shear_x": (one, shear * aspect, zero, zero, one, zero),
        "shear_y": (one, zero, zero, shear / aspect, one, zero),
        "translate_x": (one, zero, shift, zero, one, zero),
        "translate_y": (one, zero, zero, zero, one, shift),
    }
    return _theta(*coefficients[kind])


def _ra_geometric(kind: str) -> Callable[[Tensor, Tensor], Tensor]:
    """A geometric op applied on its own (RandAugment batches them into one warp)."""
    def op(x: Tensor, sign: Tensor) -> Tensor:
        return _warp(x, _geometric_theta(kind, sign, x.shape[2] / x.shape[3]))
    op.__doc__ = f"{kind} at magnitude m, grey fill."
    return op


def _ra_solarize(x: Tensor, sign: Tensor) -> Tensor:
    """Invert pixels at or above 1 - m."""
    return torch.where(x >= 1 - MAGNITUDE, 1 - x, x)


def _ra_posterize(x: Tensor, sign: Tensor) -> Tensor:
    """Drop the round(10 m) lowest of 8 bits per channel (keeps 5 at the default m)."""
    step = 2 ** round(10 * MAGNITUDE)
    return (torch.floor(x * 255 / step) * step / 255).clamp(0, 1)


def _ra_enhance(kind: str) -> Callable[[Tensor, Tensor], Tensor]:
    """PIL-style enhance op (factor 1 +- 0.9 m) blending towards a degenerate image."""
    def op(x: Tensor, sign: Tensor) -> Tensor:
        factor = 1 + sign * 0.9 * MAGNITUDE
        if kind == "brightness":
            base = torch.zeros_like(x)
        elif kind == "contrast":
            base = _gray(x).mean(dim=(2, 3), keepdim=True)
        elif kind == "color":
            base = _gray(x)
        else:  # sharpness: PIL's SMOOTH kernel, borders padded by replication
            kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]], device=x.device,
                                  dtype=x.dtype) / 13
            base = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"),
                            kernel.expand(x.shape[1], 1, 3, 3), groups=x.shape[1])
        return _blend(base, x, factor)
    op.__doc__ = f"PIL ImageEnhance.{kind.capitalize()} with factor 1 +- 0.9 m."
    return op


RANDAUGMENT_OPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "identity": lambda x, sign: x,
    "autocontrast": _ra_autocontrast,
    "equalize": _ra_equalize,
    "rotate": _ra_geometric("rotate"),
    "solarize": _ra_solarize,
    "color": _ra_enhance("color"),
    "posterize": _ra_posterize,
    "contrast": _ra_enhance("contrast"),
    "brightness": _ra_enhance("brightness"),
    "sharpness": _ra_enhance("sharpness"),
    "shear_x": _ra_geometric("shear_x"),
    "shear_y": _ra_geometric("shear_y"),
    "translate_x": _ra_geometric("translate_x"),
    "translate_y": _ra_geometric("translate_y"),
}
"""The 14 RandAugment ops: ``op(images [b, 3, H, W], sign [b] CPU float64 of +-1)``."""


def _randaugment(images: Tensor, targets: Tensor,
                 g: torch.Generator, num_ops: int = 2) -> tuple[Tensor, Tensor]:
    """N = 2 random ops per sample at magnitude 9/30, batched by op type.

    Each round draws an op index and a sign per sample; every op runs once on the
    samples that drew it, and the geometric ops share a single warp.
    """
    n, names = images.shape[0], list(RANDAUGMENT_OPS)
    aspect = images.shape[2] / images.shape[3]
    x = images
    for _ in range(num_ops):
        choice = torch.randint(len(names), (n,), generator=g)
        sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
        out, warped = x.clone(), torch.zeros(n, dtype=torch.bool)
        theta = torch.tensor([[1.0, 0, 0], [0, 1, 0]], dtype=torch.float64).repeat(n, 1, 1)
        for index in choice.unique().tolist():
            rows = (choice == index).nonzero().squeeze(1)
            if names[index] in GEOMETRIC_OPS:
                theta[rows] = _geometric_theta(names[index], sign[rows], aspect)
                warped[rows] = True
            elif names[index] != "identity":
                picked = rows.to(x.device)
                out[picked] = RANDAUGMENT_OPS[names[index]](x[picked], sign[rows]).to(x.dtype)
        if bool(warped.any()):
            rows = warped.nonzero().squeeze(1)
            out[rows.to(x.device)] = _warp(x[rows.to(x.device)], theta[rows]).to(x.dtype)
        x = out
    return x, targets


AUGMENTATIONS: dict[str, Augmentation] = {
    "none": lambda images, targets, g: (images, targets),
    "crop": _crop,
    "flip_crop": functools.partial(_crop, flip=True),
    "color_jitter": _color_jitter,
    "cutout": _cutout,
    "mixup": _mixup,
    "cutmix": _cutmix,
    "randaugment": _randaugment,
}
"""Batch augmentations by name (``recipe.AUG_NAMES``)."""


def augment_batch(name: str, images: Tensor, targets: Tensor,
                  generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Apply augmentation ``name`` to a batch, drawing all randomness from ``generator``."""
    if name not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {name!r}; valid choices: "
                          f"{', '.join(AUGMENTATIONS)}")
    if generator.device.type != "cpu":
        raise ValueError(f"augment_batch needs a CPU torch.Generator, got {generator.device}")
    if images.ndim != 4 or images.shape[1] != 3 or targets.shape[0] != images.shape[0]:
        raise ValueError(f"expected images [B, 3, H, W] and targets [B, K], got "
                         f"{tuple(images.shape)} and {tuple(targets.shape)}")
    if name == "none" or images.shape[0] == 0:
        return images, targets
    out_images, out_targets = AUGMENTATIONS[name](images, targets, generator)
    if images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous():
        out_images = out_images.contiguous(memory_format=torch.channels_last)
    return out_images, out_targets
