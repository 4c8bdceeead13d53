"""mlic-shapes: mirror-symmetric procedural letters, registered as dataset, source and env id."""
from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import envs
from envs.engine.data import SHAPES, DigitsConfig, make_digits
from envs.engine.data.glyphs import resize_antialiased
from envs.engine.data.shapes import SHAPE_CLASSES, SHAPES_PER_CLASS


@pytest.fixture(scope="module")
def glyphs() -> tuple[np.ndarray, np.ndarray]:
    return SHAPES.load()


def test_glyph_set_is_fixed_and_balanced(glyphs) -> None:
    images, targets = glyphs
    assert images.shape == (10 * SHAPES_PER_CLASS, 24, 24) and images.dtype == np.float32
    assert np.bincount(targets).tolist() == [SHAPES_PER_CLASS] * 10
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert np.array_equal(SHAPES.load()[0], images)  # deterministic


@pytest.mark.parametrize("size", [24, 11, 6])
def test_every_glyph_equals_its_horizontal_flip(glyphs, size) -> None:
    images = resize_antialiased(glyphs[0], size) if size != 24 else glyphs[0]
    assert np.abs(images - images[:, :, ::-1]).max() < 1e-5


def test_classes_differ_and_samples_vary(glyphs) -> None:
    images, targets = glyphs
    flat = images.reshape(len(images), -1)
    means = np.stack([flat[targets == c].mean(0) for c in range(10)])
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert gaps[~np.eye(10, dtype=bool)].min() > 1.0  # every pair of classes apart
    nearest = np.linalg.norm(flat[:, None] - means[None], axis=-1).argmin(1)
    assert (nearest == targets).mean() > 0.9  # a class is told by its shape
    within = [flat[targets == c].std(0).mean() for c in range(10)]
    assert min(within) > 0.05  # thickness, scale and jitter vary per sample
    assert len({images[i].tobytes() for i in range(len(images))}) == len(images)


def test_scenes_carry_letter_names() -> None:
    splits = make_digits(DigitsConfig(n_train=40, n_val=10, n_test=10, image_size=16), SHAPES)
    assert splits.train.class_names == SHAPE_CLASSES and splits.train.name == "shapes"
    assert splits.train.labels.shape == (40, 10) and (splits.train.labels.sum(1) >= 1).all()


def test_tiny_shapes_task_passes_pettingzoo_conformance(env_cache) -> None:
    task = envs.Task.of("shapes", image_size=16, n_train=96, n_val=32, n_test=40, decisions=2)
    assert task.env_id == "mlic-shapes-v0"
    env = envs.make(task, steps_per_decision=1, batch_size=16, cache_dir=str(env_cache))
    assert env.data.train.class_names == SHAPE_CLASSES
    parallel_api_test(env, num_cycles=3)
