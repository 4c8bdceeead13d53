"""Generator axes of ``mlic-digits`` that change the best training recipe (issue 11).

Each axis is a :class:`envs.engine.data.digits.DigitsConfig` field whose default
leaves the generated data bit for bit as before:

* ``label_noise``: train labels flipped per (image, class) from their own seeded
  stream, so every other draw is unchanged and val/test stay clean;
* ``n_classes``: only the first ``n`` glyph classes are drawn and labelled;
* ``background``: ``photo`` crops (:mod:`digits_render`), or a ``plain`` flat colour,
  or a smooth ``noise`` texture (a coarse random colour grid, bilinearly upsampled).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from envs.engine.data.resize import resize_square

if TYPE_CHECKING:
    from envs.engine.data.digits import DigitsConfig

BACKGROUNDS: tuple[str, ...] = ("photo", "plain", "noise")
"""The background kinds: photo-texture crops, a flat colour, smooth random noise."""
NOISE_CELLS = 4
"""Side of the random colour grid that a ``noise`` background is upsampled from."""
AXIS_DEFAULTS: dict[str, object] = {"label_noise": 0.0, "n_classes": 10, "background": "photo"}
"""The axes added after GENERATOR_VERSION 1 and the defaults that keep its random draws and keys."""
_LABEL_NOISE_STREAM = 7
"""SeedSequence entry of the label-noise draws (0..4 are the generator's own stages)."""


def synthetic_backgrounds(n: int, config: DigitsConfig, rng: np.random.Generator) -> np.ndarray:
    """``n`` float RGB backgrounds ``[n, S, S, 3]`` in [0, 1] of kind ``plain`` or ``noise``."""
    size = config.image_size
    if config.background == "plain":
        colour = rng.random((n, 1, 1, 3), dtype=np.float32)
        return np.ascontiguousarray(np.broadcast_to(colour, (n, size, size, 3)))
    grid = rng.random((n, NOISE_CELLS, NOISE_CELLS, 3), dtype=np.float32)
    smooth = resize_square(grid, size, antialias=False)  # elementwise: the same on every CPU
    return np.clip(smooth, 0.0, 1.0).astype(np.float32)


def flip_labels(labels: np.ndarray, config: DigitsConfig) -> np.ndarray:
    """``labels`` with each entry flipped with probability ``config.label_noise``."""
    if config.label_noise == 0:
        return labels
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _LABEL_NOISE_STREAM]))
    flips = rng.random(labels.shape) < config.label_noise
    return np.where(flips, 1 - labels, labels).astype(np.uint8)


def key_dict(config: DigitsConfig) -> dict[str, object]:
    """The config as plain data without the axes left at their defaults.

    Cache keys and task names hash this, so configs from before the axes existed keep
    their keys (tests/test_data_digits.py pins one).
    """
    out = dataclasses.asdict(config)
    for name, default in AXIS_DEFAULTS.items():
        if out[name] == default:
            del out[name]
    return out
