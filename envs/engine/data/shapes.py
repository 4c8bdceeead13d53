"""Mirror-symmetric glyphs for ``mlic-shapes``: the flip-symmetry axis of issue 11.

Ten capital letters that look the same mirrored left to right (A H I M O T U V X Y),
drawn procedurally from line strokes. Each sample varies its stroke thickness,
width, height, vertical position and stroke end points; every variation is drawn
on the left half and mirrored, so each glyph equals its horizontal flip exactly.
On these classes a horizontal-flip augmentation keeps every label right, unlike on
digits, so the best recipe differs.

The glyph set is fixed (:data:`SHAPES_SEED`), like a bundled dataset, so that train,
val and test draw on disjoint samples as they do for the digit sources.
"""
from __future__ import annotations

import numpy as np

SHAPE_CLASSES: tuple[str, ...] = ("A", "H", "I", "M", "O", "T", "U", "V", "X", "Y")
"""The letters drawn, in label-column order."""
SHAPES_PER_CLASS = 200
"""Samples drawn per letter."""
SHAPE_SIDE = 24
"""Side of each drawn glyph in pixels (resized to the pasted size like MNIST's)."""
SHAPES_SEED = 20261201
"""Seed of the fixed glyph set."""
JITTER = 0.04
"""Standard deviation of each stroke end point's offset (coordinates span -1..1)."""


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         n: int = 6) -> list[tuple[float, float, float, float]]:
    """Segments along an elliptic arc from angle ``start`` to ``stop`` (x = cx - rx cos)."""
    t = np.linspace(start, stop, n + 1)
    x = np.round(cx - rx * np.cos(t), 6)
    y = np.round(cy + ry * np.sin(t), 6)
    return [(x[i], y[i], x[i + 1], y[i + 1]) for i in range(n)]


STROKES: dict[str, list[tuple[float, float, float, float]]] = {
    "A": [(-0.6, 0.8, 0.0, -0.8), (-0.3, 0.15, 0.0, 0.15)],
    "H": [(-0.6, -0.8, -0.6, 0.8), (-0.6, 0.0, 0.0, 0.0)],
    "I": [(0.0, -0.8, 0.0, 0.8), (-0.4, -0.8, 0.0, -0.8), (-0.4, 0.8, 0.0, 0.8)],
    "M": [(-0.7, 0.8, -0.7, -0.8), (-0.7, -0.8, 0.0, 0.2)],
    "O": _arc(0.0, 0.0, 0.6, 0.8, -np.pi / 2, np.pi / 2),
    "T": [(-0.7, -0.8, 0.0, -0.8), (0.0, -0.8, 0.0, 0.8)],
    "U": [(-0.6, -0.8, -0.6, 0.2)] + _arc(0.0, 0.2, 0.6, 0.6, 0.0, np.pi / 2, 4),
    "V": [(-0.7, -0.8, 0.0, 0.8)],
    "X": [(-0.7, -0.8, 0.7, 0.8)],
    "Y": [(-0.7, -0.8, 0.0, 0.0), (0.0, 0.0, 0.0, 0.8)],
}
"""Each letter's strokes ``(x0, y0, x1, y1)``, y down; the mirror image is added to them."""


def draw_strokes(segments: np.ndarray, thickness: np.ndarray, side: int) -> np.ndarray:
    """``[m, side, side]`` ink of ``m`` glyphs from ``segments [m, S, 4]`` (then mirrored)."""
    centres = (np.arange(side) + 0.5) / side * 2.0 - 1.0
    gx, gy = np.meshgrid(centres, centres)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)[None, None]  # [1, 1, P, 2]
    a, b = segments[..., None, :2], segments[..., None, 2:]  # [m, S, 1, 2]
    ab = b - a
    t = np.clip(((grid - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(grid - a - t[..., None] * ab, axis=-1).min(axis=1)  # [m, P]
    ink = np.clip((thickness[:, None] - dist) * (side / 2.0) + 0.5, 0.0, 1.0)
    ink = ink.reshape(-1, side, side)
    return np.maximum(ink, ink[:, :, ::-1]).astype(np.float32)  # exactly mirror-symmetric


def _samples(strokes: list[tuple[float, float, float, float]], m: int,
             rng: np.random.Generator) -> np.ndarray:
    """``[m, S, 4]`` varied copies of a letter's strokes: end-point jitter, scale, shift."""
    base = np.asarray(strokes, dtype=np.float64)[None].repeat(m, axis=0)
    jitter = rng.normal(0.0, JITTER, base.shape)
    jitter[..., 0::2] *= base[..., 0::2] != 0  # points on the axis stay on it
    width = rng.uniform(0.7, 1.05, (m, 1, 1))
    height = rng.uniform(0.75, 1.05, (m, 1, 1))
    shift = rng.uniform(-0.08, 0.08, (m, 1, 1))
    out = base + jitter
    out[..., 0::2] *= width
    out[..., 1::2] = out[..., 1::2] * height + shift
    return out


def load_shapes() -> tuple[np.ndarray, np.ndarray]:
    """The fixed glyph set: float32 ``[10 * SHAPES_PER_CLASS, 24, 24]`` ink and classes."""
    rng = np.random.default_rng(SHAPES_SEED)
    images, targets = [], []
    for c, letter in enumerate(SHAPE_CLASSES):
        segments = _samples(STROKES[letter], SHAPES_PER_CLASS, rng)
        thickness = rng.uniform(0.08, 0.16, SHAPES_PER_CLASS)
        images.append(draw_strokes(segments, thickness, SHAPE_SIDE))
        targets.append(np.full(SHAPES_PER_CLASS, c, dtype=np.int64))
    return np.concatenate(images), np.concatenate(targets)
