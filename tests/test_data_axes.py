"""Generator axes (issue 11): label noise, class subsets, backgrounds; defaults change nothing."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test

import envs
from envs.engine.data import DigitsConfig, make_digits
from envs.engine.data.digits import load_digits_splits
from envs.engine.data.digits_axes import AXIS_DEFAULTS, key_dict
from envs.errors import ConfigError

SMALL = DigitsConfig(n_train=400, n_val=60, n_test=80, image_size=16)


@pytest.fixture(scope="module")
def small_clean():
    return make_digits(SMALL)


def test_axis_defaults_are_the_field_defaults() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(DigitsConfig)}
    assert all(defaults[k] == v for k, v in AXIS_DEFAULTS.items())
    assert not set(AXIS_DEFAULTS) & set(key_dict(SMALL))
    assert key_dict(dataclasses.replace(SMALL, n_classes=4))["n_classes"] == 4


def test_label_noise_flips_train_labels_only(small_clean) -> None:
    noisy = make_digits(dataclasses.replace(SMALL, label_noise=0.1))
    assert torch.equal(noisy.train.images, small_clean.train.images)  # other draws unchanged
    for split in ("val", "test"):
        assert torch.equal(getattr(noisy, split).labels, getattr(small_clean, split).labels)
        assert torch.equal(getattr(noisy, split).images, getattr(small_clean, split).images)
    flipped = (noisy.train.labels != small_clean.train.labels).float().mean().item()
    assert 0.08 < flipped < 0.12
    assert torch.equal(make_digits(dataclasses.replace(SMALL, label_noise=0.1)).train.labels,
                       noisy.train.labels)  # seeded


def test_n_classes_narrows_labels_and_names() -> None:
    splits = make_digits(dataclasses.replace(SMALL, n_classes=4))
    for split in ("train", "val", "test"):
        ds = getattr(splits, split)
        assert ds.labels.shape == (len(ds), 4) and ds.class_names == ("0", "1", "2", "3")
        assert (ds.labels.sum(dim=1) >= 1).all()  # every pasted digit is a kept class
    assert (splits.train.labels.sum(dim=0) > 0).all()


def test_n_classes_cache_round_trip(data_cache) -> None:
    config = DigitsConfig(n_train=20, n_val=10, n_test=10, image_size=16, n_classes=2,
                          digits_per_image=(1, 2))
    first = load_digits_splits(config, data_cache)
    again = load_digits_splits(config, data_cache)  # from the cache
    assert again.train.labels.shape == (20, 2) and torch.equal(first.test.labels,
                                                               again.test.labels)


def _mode_fraction(image: torch.Tensor) -> float:
    pixels = image.reshape(3, -1).T.numpy()
    _, counts = np.unique(pixels, axis=0, return_counts=True)
    return counts.max() / len(pixels)


def test_plain_background_is_flat_away_from_glyphs(small_clean) -> None:
    config = dataclasses.replace(SMALL, background="plain", noise_std=0.0)
    images = make_digits(config).train.images
    assert min(_mode_fraction(img) for img in images[:50]) > 0.3
    assert images[:50].float().mean(dim=(1, 2, 3)).std() > 10  # colours differ per image
    assert torch.equal(make_digits(config).train.images, images)  # deterministic


def test_noise_background_is_smooth_and_varied(small_clean) -> None:
    config = dataclasses.replace(SMALL, background="noise", noise_std=0.0)
    images = make_digits(config).train.images
    assert torch.equal(make_digits(config).train.images, images)  # deterministic
    assert not torch.equal(images, small_clean.train.images)
    assert max(_mode_fraction(img) for img in images[:50]) < 0.3  # not flat
    assert images[:50].float().std(dim=(2, 3)).mean() > 5


@pytest.mark.parametrize("kwargs, field", [
    ({"label_noise": 0.7}, "label_noise"), ({"label_noise": -0.1}, "label_noise"),
    ({"n_classes": 1}, "n_classes"), ({"n_classes": 11}, "n_classes"),
    ({"n_classes": 2.5}, "n_classes"), ({"n_classes": 2}, "n_classes"),  # 3 digits need 3
    ({"background": "photos"}, "background")])
def test_bad_axes_name_the_field(kwargs, field) -> None:
    with pytest.raises(ConfigError, match=f"DigitsConfig.{field}"):
        DigitsConfig(**kwargs)


def test_task_with_every_axis_passes_pettingzoo_conformance(env_cache) -> None:
    task = envs.Task.of("digits", image_size=16, n_train=96, n_val=32, n_test=40, decisions=2,
                        label_noise=0.1, n_classes=5, background="noise")
    env = envs.make(task, steps_per_decision=1, batch_size=16, cache_dir=str(env_cache))
    assert env.data.train.labels.shape == (96, 5) and env.data.test.num_classes == 5
    parallel_api_test(env, num_cycles=3)
    default = envs.Task.of("digits", n_classes=10, background="photo", label_noise=0.0)
    assert default.name == envs.Task.of("digits").name  # axes at defaults keep old names
