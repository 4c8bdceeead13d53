"""Image resizing for generated data whose bytes no CPU feature can change.

The generators (``mlic-digits``, ``mlic-mnist``, ``mlic-shapes``) must give byte-identical
data on every machine. A resize through BLAS (``np.einsum(..., optimize=True)``, ``@``) or
a torch kernel does not: OpenBLAS and ATen pick their kernels (and with them the order of
the sums and the use of fused multiply-adds) by CPU, so the last bit of a pixel moves, and
a pixel that lands near a rounding boundary flips a byte (issue 18).

Here a separable filter is a list of *taps* per output pixel, ``(index, weight)``, and it is
applied as explicit elementwise multiply-adds in float64, one tap after the other. Every
operation is a single IEEE-754 ``*`` or ``+`` in a fixed order, which every CPU rounds the
same way, with no reduction and no library kernel in between.

Two filters:

* :func:`bilinear_taps`: two taps, pixel centres aligned, edges clamped (the arithmetic
  ``mlic-digits`` always used for its 8x8 scans and the ``noise`` backgrounds);
* :func:`antialiased_taps`: the triangle filter widened by the downscale factor and
  normalised per output pixel, the formula of ``torch.nn.functional.interpolate(...,
  mode="bilinear", antialias=True)`` (what ``mlic-mnist`` and ``mlic-shapes`` used).
"""
from __future__ import annotations

import numpy as np

Taps = tuple[np.ndarray, np.ndarray]
"""``(index [dst, T] int64, weight [dst, T] float64)``: output pixel ``i`` is
``sum_t weight[i, t] * input[index[i, t]]``, summed in ``t`` order."""


def bilinear_taps(src: int, dst: int) -> Taps:
    """Two-tap bilinear interpolation from ``src`` to ``dst`` pixels, edges clamped."""
    pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    return np.stack([lo, hi], axis=1), np.stack([1.0 - frac, frac], axis=1)


def antialiased_taps(src: int, dst: int) -> Taps:
    """The antialiased bilinear (triangle) filter from ``src`` to ``dst`` pixels.

    The filter's support grows with the downscale factor ``src / dst`` (at least one
    pixel), and each output pixel's weights are divided by their sum, as torch and
    Pillow do. Unused taps have weight 0 and index 0.
    """
    scale = src / dst
    support = max(scale, 1.0)
    centre = (np.arange(dst) + 0.5) * scale
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    last = np.minimum((centre + support + 0.5).astype(np.int64), src)
    width = int((last - first).max())
    offsets = np.arange(width)
    index = first[:, None] + offsets[None, :]
    inside = index < last[:, None]
    weight = np.maximum(0.0, 1.0 - np.abs((index - centre[:, None] + 0.5) / support))
    weight = np.where(inside, weight, 0.0)
    total = np.zeros(dst)
    for t in range(width):  # a fixed order, not a library reduction
        total = total + weight[:, t]
    weight = weight / np.where(total > 0, total, 1.0)[:, None]
    return np.where(inside, index, 0), weight


def apply_taps(images: np.ndarray, taps: Taps, axis: int) -> np.ndarray:
    """Resize ``images`` along ``axis`` with ``taps``, in float64, one multiply-add per tap."""
    index, weight = taps
    x = np.moveaxis(np.asarray(images, dtype=np.float64), axis, -1)
    out = np.zeros(x.shape[:-1] + (index.shape[0],))
    for t in range(index.shape[1]):
        out = out + x[..., index[:, t]] * weight[:, t]
    return np.moveaxis(out, -1, axis)


def resize_square(images: np.ndarray, size: int, antialias: bool,
                  axes: tuple[int, int] = (1, 2)) -> np.ndarray:
    """Resize the square images along ``axes`` (rows, then columns) to ``size`` x ``size``.

    Returns float64; ``antialias`` picks :func:`antialiased_taps` over :func:`bilinear_taps`.
    """
    make = antialiased_taps if antialias else bilinear_taps
    out = np.asarray(images)
    for axis in axes:
        out = apply_taps(out, make(out.shape[axis], size), axis)
    return out
