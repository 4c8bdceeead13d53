"""``mlic-digits``: a bundled multi-label dataset that needs no download.

Each image is a crop of a real photograph (scikit-learn's ``china.jpg`` and
``flower.jpg`` sample images, randomly cropped, zoomed, flipped, sometimes
desaturated, with reduced contrast) with 1-4 real handwritten digits
(scikit-learn's 8x8 ``load_digits``, 1797 scans) pasted on it in random colours,
sizes and positions. The labels are the digit classes present ("0".."9").

The class frequencies are long-tailed (Zipf weights over a seeded class order)
and classes co-occur: a few fixed partner pairs, where drawing one class adds its
partner with probability ``partner_prob``. Train, val and test draw on disjoint
source digits (the 1797 scans are split per class first), so test accuracy
measures generalisation to unseen handwriting.

The handwriting is a parameter (:class:`envs.engine.data.glyphs.GlyphSource`):
``mlic-mnist`` runs this same generator with real MNIST digits instead, ``mlic-shapes``
with mirror-symmetric letters. The axes ``label_noise``, ``n_classes`` and
``background`` (issue 11) live in :mod:`envs.engine.data.digits_axes`.

Generation is deterministic given :class:`DigitsConfig` (one
``numpy.random.SeedSequence`` per stage, no global seeding), byte for byte on every
CPU, BLAS kernel and thread count (no BLAS or torch kernel decides a byte; see
:mod:`envs.engine.data.digits_render`; ``tests/test_data_pins.py`` pins the bytes), and
takes about a second for the default sizes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from envs.engine.data.cache import cached
from envs.engine.data.dataset import DatasetSplits, MLICDataset
from envs.engine.data.digits_axes import (BACKGROUNDS, flip_labels, key_dict,
                                          synthetic_backgrounds)
from envs.engine.data.digits_render import background_pyramid, backgrounds, render_split
from envs.engine.checks import require_choice, require_in_range, require_pair
from envs.engine.data.glyphs import DIGITS_CLASSES, SKLEARN_DIGITS, GlyphSource
from envs.errors import ConfigError

__all__ = ["DIGITS_CLASSES", "DigitsConfig", "DigitsStructure", "digits_structure",
           "load_digits_splits", "make_digits", "make_digits_with_sources", "source_partition"]
GENERATOR_VERSION = 2
"""Bump when the generator's output for a given config changes (invalidates caches).
Version 2 (issue 18): the same draws as 1, with arithmetic that no CPU feature changes."""
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DigitsConfig:
    """Every knob of the ``mlic-digits`` generator; equal configs give identical data."""

    n_train: int = 4000
    """Number of training images: an int in [1, inf)."""
    n_val: int = 600
    """Number of validation images: an int in [1, inf)."""
    n_test: int = 1000
    """Number of test images: an int in [1, inf)."""
    image_size: int = 32
    """Side of the square images in pixels (digit sizes scale with it): an int in [16, 1024]."""
    seed: int = 0
    """Seed of every random choice (source split, class structure, rendering): an int in
    [0, inf)."""
    digits_per_image: tuple[int, int] = (1, 3)
    """Inclusive range (lo, hi) of digits drawn per image, ints with 1 <= lo <= hi <= 10 and
    hi <= ``n_classes`` (partners are added up to the maximum)."""
    digit_size: tuple[int, int] = (12, 20)
    """Inclusive range (lo, hi) of a digit's side in pixels at image_size 32, ints with
    1 <= lo <= hi <= 32; scaled with image_size, it must stay within [3, image_size]."""
    zipf_exponent: float = 1.4
    """Class weights are ``rank ** -zipf_exponent`` over a seeded class order (0 = uniform):
    a finite number in [0, inf)."""
    n_partner_pairs: int = 3
    """Number of disjoint class pairs that co-occur, an int in [0, 5] (at most
    ``n_classes // 2`` are used)."""
    partner_prob: float = 0.5
    """Probability that drawing a paired class also adds its partner, in [0, 1]."""
    source_fractions: tuple[float, float, float] = (0.6, 0.15, 0.25)
    """Fractions of each class's 8x8 source digits reserved for train / val / test: each in
    (0, 1), summing to 1."""
    background_crop: tuple[float, float] = (0.15, 0.6)
    """Range (lo, hi) of the background crop side as a fraction of the photo's short side
    (small = zoomed-in texture), with 0.01 <= lo <= hi <= 1."""
    background_contrast: tuple[float, float] = (0.5, 1.0)
    """Range (lo, hi) of the factor that scales background contrast around its mean, with
    0 <= lo <= hi <= 2."""
    desaturate_prob: float = 0.3
    """Probability that a background is turned to grayscale, in [0, 1]."""
    ink_contrast: tuple[float, float] = (0.4, 0.75)
    """Range (lo, hi) of the luminance gap between a digit's ink and the background under it,
    with 0 <= lo <= hi <= 1."""
    ink_saturation: float = 0.8
    """How colourful the ink is, in [0, 1] (0 = gray ink, 1 = the full random hue)."""
    ink_opacity: tuple[float, float] = (0.75, 1.0)
    """Range (lo, hi) of the ink's opacity, with 0 <= lo <= hi <= 1."""
    max_overlap: float = 0.25
    """Largest allowed overlap between two digits' boxes, as a fraction of the smaller box,
    in [0, 1]."""
    noise_std: float = 4.0
    """Standard deviation of additive pixel noise, in 0..255 units: in [0, 255]."""
    label_noise: float = 0.0
    """Probability, per train image and class, that the label is flipped (val/test stay
    clean), in [0, 0.5]."""
    n_classes: int = 10
    """Number of glyph classes drawn and labelled: the first ``n_classes``, an int in
    [2, 10]."""
    background: str = "photo"
    """Background kind: ``photo`` crops, ``plain`` (flat colour) or ``noise`` (smooth texture)."""

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            require_in_range(f"DigitsConfig.{name}", getattr(self, name), 1, integer=True)
        require_in_range("DigitsConfig.image_size", self.image_size, 16, 1024, integer=True)
        require_in_range("DigitsConfig.seed", self.seed, 0, integer=True)
        self._pair("digits_per_image", 1, 10, integer=True)
        self._pair("digit_size", 1, 32, integer=True)
        smin, smax = self.scaled_digit_size()
        if not 3 <= smin <= smax <= self.image_size:
            raise ConfigError(f"DigitsConfig.digit_size {self.digit_size} gives {smin}..{smax} "
                              f"px at image_size {self.image_size}; need 3 <= min <= max <= "
                              f"image_size")
        require_in_range("DigitsConfig.zipf_exponent", self.zipf_exponent, 0.0)
        require_in_range("DigitsConfig.n_partner_pairs", self.n_partner_pairs, 0, 5, integer=True)
        for name in ("partner_prob", "desaturate_prob", "ink_saturation", "max_overlap"):
            require_in_range(f"DigitsConfig.{name}", getattr(self, name), 0.0, 1.0)
        require_in_range("DigitsConfig.noise_std", self.noise_std, 0.0, 255.0)
        self._check_fractions()
        for name, (low, high) in (("background_crop", (0.01, 1.0)),
                                  ("background_contrast", (0.0, 2.0)),
                                  ("ink_contrast", (0.0, 1.0)), ("ink_opacity", (0.0, 1.0))):
            self._pair(name, low, high)
        self._check_axes()

    def _pair(self, name: str, low: float, high: float, integer: bool = False) -> None:
        # a list (e.g. from JSON) is kept as the tuple it stands for: configs stay hashable
        object.__setattr__(self, name, require_pair(f"DigitsConfig.{name}", getattr(self, name),
                                                    low, high, integer=integer))

    def _check_fractions(self) -> None:
        value = self.source_fractions
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
            raise ConfigError(f"DigitsConfig.source_fractions must be 3 numbers (train, val, "
                              f"test), each in (0, 1), summing to 1, got {value!r}")
        for item in value:
            require_in_range("DigitsConfig.source_fractions entries", item, 0.0, 1.0,
                             low_open=True, high_open=True)
        if abs(math.fsum(value) - 1.0) > 1e-6:
            raise ConfigError(f"DigitsConfig.source_fractions must sum to 1, got {value!r} "
                              f"(sum {math.fsum(value):g})")
        object.__setattr__(self, "source_fractions", tuple(value))

    def _check_axes(self) -> None:
        require_in_range("DigitsConfig.label_noise", self.label_noise, 0.0, 0.5)
        require_in_range("DigitsConfig.n_classes", self.n_classes, 2, 10, integer=True)
        if self.digits_per_image[1] > self.n_classes:
            raise ConfigError(f"DigitsConfig.n_classes {self.n_classes} is below "
                              f"digits_per_image max {self.digits_per_image[1]}: need "
                              f"max <= n_classes")
        require_choice("DigitsConfig.background", self.background, BACKGROUNDS)

    def scaled_digit_size(self) -> tuple[int, int]:
        """``digit_size`` scaled from 32 px to ``image_size``."""
        scale = self.image_size / 32.0
        lo = max(1, int(round(self.digit_size[0] * scale)))
        return lo, max(lo, int(round(self.digit_size[1] * scale)))


@dataclass(frozen=True)
class DigitsStructure:
    """The class statistics shared by all splits of one config."""

    class_weights: np.ndarray
    """Sampling weights of classes 0..9 (sum to 1; 0 for classes beyond ``n_classes``)."""
    partners: tuple[tuple[int, int], ...]
    """The co-occurring class pairs."""


def digits_structure(config: DigitsConfig) -> DigitsStructure:
    """The seeded long-tail weights and partner pairs of ``config``."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    n = config.n_classes  # classes 0..n-1; for n = 10 the draws are those of version 1
    order = rng.permutation(n)  # order[r] is the class of rank r
    weights = np.zeros(10)
    weights[order] = (np.arange(n) + 1.0) ** -config.zipf_exponent
    paired = rng.permutation(n)[:2 * min(config.n_partner_pairs, n // 2)]
    partners = tuple((int(a), int(b)) for a, b in zip(paired[0::2], paired[1::2]))
    return DigitsStructure(weights / weights.sum(), partners)


def source_partition(config: DigitsConfig, targets: np.ndarray) -> dict[str, np.ndarray]:
    """The disjoint source-digit indices (into the glyph source's digits) of each split."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0]))
    parts: dict[str, list[np.ndarray]] = {s: [] for s in _SPLITS}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(targets == c))
        n_tr = int(round(config.source_fractions[0] * len(idx)))
        n_va = max(1, int(round(config.source_fractions[1] * len(idx))))
        chunks = (idx[:n_tr], idx[n_tr:n_tr + n_va], idx[n_tr + n_va:])
        for split, chunk in zip(_SPLITS, chunks):
            parts[split].append(chunk)
    return {s: np.sort(np.concatenate(v)) for s, v in parts.items()}


def make_digits_with_sources(config: DigitsConfig = DigitsConfig(),
                             glyphs: GlyphSource = SKLEARN_DIGITS
                             ) -> tuple[DatasetSplits, dict[str, np.ndarray]]:
    """Generate the three splits, and per split the source index of every digit drawn.

    ``glyphs`` picks the handwriting pasted (scikit-learn's 8x8 digits, or MNIST for
    ``mlic-mnist``). The source indices (into ``glyphs.load()``) let tests check that
    train, val and test never share a handwritten sample.
    """
    images, targets = glyphs.load()
    partition = source_partition(config, targets)
    structure = digits_structure(config)
    pyramid = background_pyramid(config) if config.background == "photo" else []
    out: dict[str, MLICDataset] = {}
    used: dict[str, np.ndarray] = {}
    sizes = (config.n_train, config.n_val, config.n_test)
    for k, (split, n) in enumerate(zip(_SPLITS, sizes)):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2 + k]))
        canvas = (backgrounds(n, config, pyramid, rng) if config.background == "photo"
                  else synthetic_backgrounds(n, config, rng))  # first draws, as in version 1
        scenes, labels, used[split] = render_split(canvas, partition[split], images, targets,
                                                   glyphs.resize, config, structure, rng)
        labels = labels[:, :config.n_classes]
        if split == "train":
            labels = flip_labels(labels, config)
        out[split] = _dataset(scenes, torch.from_numpy(np.ascontiguousarray(labels)), split,
                              glyphs.name, glyphs.class_names[:config.n_classes])
    return DatasetSplits(**out), used


def _dataset(images: torch.Tensor, labels: torch.Tensor, split: str, name: str,
             class_names: tuple[str, ...]) -> MLICDataset:
    return MLICDataset(images=images, labels=labels,
                       ignore=torch.zeros(labels.shape, dtype=torch.bool),
                       class_names=class_names, name=name, split=split)


def make_digits(config: DigitsConfig = DigitsConfig(),
                glyphs: GlyphSource = SKLEARN_DIGITS) -> DatasetSplits:
    """Generate the ``mlic-digits`` (or, with ``MNIST_5K``, ``mlic-mnist``) splits (no caching)."""
    return make_digits_with_sources(config, glyphs)[0]


def _payload(splits: DatasetSplits) -> dict[str, Any]:
    return {s: {"images": getattr(splits, s).images, "labels": getattr(splits, s).labels}
            for s in _SPLITS}


def _validator(n_classes: int) -> Callable[[dict[str, Any]], None]:
    def validate(payload: dict[str, Any]) -> None:
        for s in _SPLITS:
            images, labels = payload[s]["images"], payload[s]["labels"]
            if images.dtype != torch.uint8 or labels.dtype != torch.uint8 \
                    or labels.shape[1] != n_classes or images.shape[0] != labels.shape[0]:
                raise ValueError(f"bad digits payload for split {s}")
    return validate


def load_digits_splits(config: DigitsConfig, cache_dir: Path,
                       glyphs: GlyphSource = SKLEARN_DIGITS) -> DatasetSplits:
    """The splits of ``config`` with ``glyphs``, generated once and cached under ``cache_dir``.

    The cache key holds ``glyphs.name`` and the config without the axes left at their
    defaults (:func:`key_dict`); for the sklearn digits it is the key ``mlic-digits``
    always had, so existing caches stay valid.
    """
    parts = {"name": glyphs.name, "generator_version": GENERATOR_VERSION,
             "config": key_dict(config)}
    payload = cached(cache_dir, f"{glyphs.name}-{config.image_size}px", parts,
                     lambda: _payload(make_digits(config, glyphs)), _validator(config.n_classes))
    names = glyphs.class_names[:config.n_classes]
    return DatasetSplits(**{s: _dataset(payload[s]["images"], payload[s]["labels"], s,
                                        glyphs.name, names) for s in _SPLITS})
