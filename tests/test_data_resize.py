"""The generators' resizes (``envs.engine.data.resize``) against torch's interpolate.

They re-implement torch's formulas with elementwise arithmetic so that the data's bytes no
longer depend on the CPU; torch is the independent implementation they must agree with to
float32 rounding.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from envs.engine.data.resize import antialiased_taps, bilinear_taps, resize_square


@pytest.mark.parametrize("src", [4, 8, 24, 28])
@pytest.mark.parametrize("dst", [3, 9, 15, 20, 24, 40])
@pytest.mark.parametrize("antialias", [False, True])
def test_matches_torch_interpolate(src, dst, antialias):
    images = np.random.default_rng(src * 100 + dst).random((6, src, src)).astype(np.float32)
    want = F.interpolate(torch.from_numpy(images)[:, None], size=(dst, dst), mode="bilinear",
                         align_corners=False, antialias=antialias)[:, 0].numpy()
    got = resize_square(images, dst, antialias=antialias)
    assert got.shape == (6, dst, dst) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, atol=3e-6)


@pytest.mark.parametrize("make", [bilinear_taps, antialiased_taps])
@pytest.mark.parametrize("src,dst", [(8, 12), (28, 9), (24, 24), (4, 32), (5, 2)])
def test_taps_are_normalised_and_in_range(make, src, dst):
    index, weight = make(src, dst)
    assert index.shape == weight.shape and index.shape[0] == dst
    assert index.min() >= 0 and index.max() < src and weight.min() >= 0
    np.testing.assert_allclose(weight.sum(axis=1), 1.0, atol=1e-12)


def test_channels_last_axes_and_identity():
    rgb = np.random.default_rng(0).random((2, 4, 4, 3))
    up = resize_square(rgb, 8, antialias=False)  # rows and columns, channels untouched
    assert up.shape == (2, 8, 8, 3)
    np.testing.assert_allclose(up[:, ::2, ::2].mean(), rgb.mean(), atol=0.05)
    np.testing.assert_array_equal(resize_square(rgb, 4, antialias=True), rgb)
