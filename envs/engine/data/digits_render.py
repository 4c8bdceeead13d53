"""Rendering of ``mlic-digits`` images: photo backgrounds, digit placement, ink compositing.

The knobs come from :class:`envs.engine.data.digits.DigitsConfig`; every random
choice comes from the ``numpy.random.Generator`` passed in. The work is
vectorised per background zoom level and per (digit size, digit slot) group;
within one slot an image holds at most one digit, so group writes never collide.

The arithmetic that decides a byte is elementwise (one IEEE-754 operation at a time,
which every CPU rounds alike) or an integer / float64 sum: no BLAS call (``@``,
``einsum``) and no torch kernel, whose results depend on the CPU (issue 18; the
resizes are :mod:`envs.engine.data.resize`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from envs.engine.data.digits import DigitsConfig, DigitsStructure

LUMA = (0.299, 0.587, 0.114)
"""RGB -> luminance weights (ITU-R BT.601)."""
N_SCALES = 8
"""Background zoom levels, each a pre-resized copy of each photo."""

Pyramid = list[list[np.ndarray]]


def background_pyramid(config: DigitsConfig) -> Pyramid:
    """Each sample photo resized so that an ``image_size`` crop spans each of the zoom levels."""
    from sklearn.datasets import load_sample_images  # lazy: `import envs` stays light
    size = config.image_size
    lo, hi = config.background_crop
    fractions = np.geomspace(lo, hi, N_SCALES) if hi > lo else np.full(N_SCALES, lo)
    levels = []
    for photo in load_sample_images().images:
        pil = Image.fromarray(photo)
        short = min(pil.size)
        per_photo = []
        for f in fractions:
            scale = size / (f * short)
            w = max(size, int(round(pil.size[0] * scale)))
            h = max(size, int(round(pil.size[1] * scale)))
            resized = pil.resize((w, h), Image.Resampling.BILINEAR)
            per_photo.append(np.asarray(resized, dtype=np.float32) / np.float32(255.0))
        levels.append(per_photo)
    return levels


def backgrounds(n: int, config: DigitsConfig, pyramid: Pyramid,
                rng: np.random.Generator) -> np.ndarray:
    """``n`` float RGB crops ``[n, S, S, 3]`` in [0, 1]: random photo, zoom, place, flip,
    optional desaturation and reduced contrast."""
    size = config.image_size
    out = np.empty((n, size, size, 3), dtype=np.float32)
    photo = rng.integers(0, len(pyramid), n)
    level = rng.integers(0, N_SCALES, n)
    uy, ux = rng.random(n), rng.random(n)
    ar = np.arange(size)
    for p in range(len(pyramid)):
        for lv in range(N_SCALES):
            sel = np.flatnonzero((photo == p) & (level == lv))
            if not len(sel):
                continue
            src = pyramid[p][lv]
            y = (uy[sel] * (src.shape[0] - size + 1)).astype(np.int64)
            x = (ux[sel] * (src.shape[1] - size + 1)).astype(np.int64)
            out[sel] = src[(y[:, None] + ar)[:, :, None], (x[:, None] + ar)[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    lum = luminance(out)
    gray = rng.random(n) < config.desaturate_prob
    out[gray] = lum[gray][..., None]
    mean = lum.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)[:, None, None, None]
    contrast = rng.uniform(*config.background_contrast, n).astype(np.float32)
    return np.clip(mean + (out - mean) * contrast[:, None, None, None], 0.0, 1.0)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """``rgb[..., 3]`` -> luminance ``[...]``, as elementwise multiply-adds in ``rgb``'s dtype
    (a matrix product would go through BLAS, whose kernels round differently by CPU)."""
    weights = [np.asarray(w, dtype=rgb.dtype) for w in LUMA]
    return rgb[..., 0] * weights[0] + rgb[..., 1] * weights[1] + rgb[..., 2] * weights[2]


def draw_classes(n: int, config: DigitsConfig, structure: DigitsStructure,
                 rng: np.random.Generator) -> list[list[int]]:
    """The distinct classes of each image: weighted draws without replacement, plus partners."""
    lo, hi = config.digits_per_image
    counts = rng.integers(lo, hi + 1, n)
    with np.errstate(divide="ignore"):  # weight 0 (beyond n_classes) -> key -inf: never drawn
        log_weights = np.log(structure.class_weights)
    keys = log_weights[None, :] + rng.gumbel(size=(n, 10))
    order = np.argsort(-keys, axis=1)  # weighted sampling without replacement (Gumbel top-k)
    coins = rng.random((n, 10)) < config.partner_prob
    partner = {a: b for a, b in structure.partners} | {b: a for a, b in structure.partners}
    out = []
    for i in range(n):
        chosen = [int(c) for c in order[i, :counts[i]]]
        for c in list(chosen):
            mate = partner.get(c)
            if mate is not None and mate not in chosen and coins[i, c] and len(chosen) < hi:
                chosen.append(mate)
        out.append(chosen)
    return out


def place(img_of: np.ndarray, slot: np.ndarray, first: np.ndarray, sizes: np.ndarray,
          size: int, max_overlap: float, rng: np.random.Generator,
          tries: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners ``(y, x)`` of every digit's box, one slot (1st, 2nd, ... digit) at a time.

    Each digit takes the first of ``tries`` random candidates whose overlap with every
    earlier box of its image is at most ``max_overlap`` of the smaller box, else the
    least overlapping candidate. ``first[i]`` is the index of image ``i``'s first digit.
    """
    ys = np.zeros(len(sizes), dtype=np.int64)
    xs = np.zeros(len(sizes), dtype=np.int64)
    for j in range(int(slot.max()) + 1 if len(slot) else 0):
        cur = np.flatnonzero(slot == j)
        s = sizes[cur][:, None]
        cy = rng.integers(0, size - s + 1, (len(cur), tries))
        cx = rng.integers(0, size - s + 1, (len(cur), tries))
        worst = np.zeros((len(cur), tries))
        for k in range(j):
            prev = first[img_of[cur]] + k
            py, px, ps = ys[prev][:, None], xs[prev][:, None], sizes[prev][:, None]
            inter = (np.maximum(np.minimum(cy + s, py + ps) - np.maximum(cy, py), 0)
                     * np.maximum(np.minimum(cx + s, px + ps) - np.maximum(cx, px), 0))
            worst = np.maximum(worst, inter / np.minimum(s, ps) ** 2)
        ok = worst <= max_overlap
        pick = np.where(ok.any(axis=1), ok.argmax(axis=1), worst.argmin(axis=1))
        ys[cur] = cy[np.arange(len(cur)), pick]
        xs[cur] = cx[np.arange(len(cur)), pick]
    return ys, xs


def render_split(canvas: np.ndarray, pool: np.ndarray, glyphs: np.ndarray, targets: np.ndarray,
                 resize: Callable[[np.ndarray, int], np.ndarray], config: DigitsConfig,
                 structure: DigitsStructure,
                 rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Paste digits drawn only from ``pool`` (indices into ``glyphs``) onto ``canvas``.

    ``canvas`` is the ``[n, S, S, 3]`` float backgrounds (painted over in place).
    ``resize(glyphs[idx], size)`` gives the ``[m, size, size]`` ink of the pasted digits
    (see :class:`envs.engine.data.glyphs.GlyphSource`). Returns uint8 images
    ``[n, 3, S, S]``, uint8 labels ``[n, 10]`` and the source index of every digit drawn.
    """
    size = config.image_size
    n = len(canvas)
    classes = draw_classes(n, config, structure, rng)
    counts = np.array([len(c) for c in classes], dtype=np.int64)
    img_of = np.repeat(np.arange(n), counts)
    cls = np.array([c for cs in classes for c in cs], dtype=np.int64)
    d = len(cls)
    src = np.empty(d, dtype=np.int64)
    pick = rng.random(d)
    for c in range(10):
        mine = pool[targets[pool] == c]
        sel = cls == c
        src[sel] = mine[(pick[sel] * len(mine)).astype(np.int64)]
    smin, smax = config.scaled_digit_size()
    sizes = rng.integers(smin, smax + 1, d)
    opacity = rng.uniform(*config.ink_opacity, d).astype(np.float32)
    gap = rng.uniform(*config.ink_contrast, d).astype(np.float32)
    hue = rng.random((d, 3)).astype(np.float32)
    chroma = (hue - luminance(hue)[:, None]) * np.float32(config.ink_saturation)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(d) - first[img_of]
    ys, xs = place(img_of, slot, first, sizes, size, config.max_overlap, rng)
    for s in np.unique(sizes):
        ar = np.arange(s)
        for j in range(int(slot.max()) + 1):  # one digit per image per pass: no write conflicts
            sel = np.flatnonzero((sizes == s) & (slot == j))
            if not len(sel):
                continue
            patch = resize(glyphs[src[sel]], int(s))
            rows = (ys[sel, None] + ar)[:, :, None]
            cols = (xs[sel, None] + ar)[:, None, :]
            imgs = img_of[sel][:, None, None]
            region = canvas[imgs, rows, cols]  # [m, s, s, 3]
            local = luminance(region.mean(axis=(1, 2), dtype=np.float64).astype(np.float32))
            target = np.where(local > 0.5, local - gap[sel], local + gap[sel])
            ink = np.clip(target[:, None] + chroma[sel], 0.0, 1.0)[:, None, None, :]
            alpha = (patch * opacity[sel, None, None])[..., None]
            canvas[imgs, rows, cols] = region * (1.0 - alpha) + alpha * ink
    pixels = canvas * 255.0
    if config.noise_std > 0:
        noise = rng.standard_normal(pixels.shape, dtype=np.float32)
        pixels += noise * np.float32(config.noise_std)
    images = torch.from_numpy(np.ascontiguousarray(
        np.clip(np.rint(pixels), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)))
    labels = np.zeros((n, 10), dtype=np.uint8)
    labels[img_of, cls] = 1
    return images, labels, src
