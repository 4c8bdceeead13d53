"""The bundled mlic-digits generator: shapes, determinism, disjoint sources, label statistics."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.core.machine import numerics_lines
from envs.engine.data import DatasetSplits, DigitsConfig, load_dataset, load_splits, make_digits
from envs.engine.data.digits import (GENERATOR_VERSION, digits_structure, load_digits_splits,
                                     make_digits_with_sources)
from envs.errors import ConfigError

SMALL = DigitsConfig(n_train=120, n_val=30, n_test=40)


@pytest.fixture(scope="module")
def default_digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetSplits, None]:
    """The default splits through the public entry point (generated once, cached).

    How long generation takes is measured by benchmarks, not asserted here."""
    splits = load_splits("mlic-digits", cache_dir=tmp_path_factory.mktemp("digits-cache"))
    return splits, None


def test_default_shapes_and_dtypes(default_digits) -> None:  # also: default image size 32
    splits, _ = default_digits
    for split, n in (("train", 4000), ("val", 600), ("test", 1000)):
        ds = getattr(splits, split)
        assert ds.images.shape == (n, 3, 32, 32) and ds.images.dtype == torch.uint8
        assert ds.labels.shape == (n, 10) and ds.labels.dtype == torch.uint8
        assert ds.ignore.shape == (n, 10) and not ds.ignore.any()
        assert ds.images.is_contiguous() and (ds.name, ds.split) == ("digits", split)
        assert ds.class_names == tuple("0123456789")


# The bytes of every split are pinned in tests/test_data_pins.py (every generated dataset and
# task); these sums say by how much a mismatch differs, and the cache key that no old cache
# is read as new data.
PINNED_PIXEL_SUMS = {"train": 1449862246, "val": 217948929, "test": 355999177}
PINNED_LABEL_SUMS = {"train": 8877, "val": 1257, "test": 2224}


def test_default_data_is_pinned(default_digits) -> None:
    splits, _ = default_digits
    got = {s: (int(getattr(splits, s).images.sum()), int(getattr(splits, s).labels.sum()))
           for s in ("train", "val", "test")}
    want = {s: (PINNED_PIXEL_SUMS[s], PINNED_LABEL_SUMS[s]) for s in got}
    assert got == want, ("mlic-digits pixel / label sums differ on this machine:\n  "
                         + "\n  ".join(numerics_lines()))


def test_cache_key_is_pinned(data_cache: Path) -> None:
    config = DigitsConfig(n_train=20, n_val=10, n_test=10, image_size=16)
    load_digits_splits(config, data_cache)
    assert [f.name for f in data_cache.iterdir()] == ["digits-16px-db8f2ea7623464a7c76d.pt"]
    assert GENERATOR_VERSION == 2


def test_images_have_texture_and_variety(default_digits) -> None:
    images = default_digits[0].train.images[:200].float()
    assert images.std(dim=(1, 2, 3)).min() > 5  # never a flat image
    assert images.mean(dim=(1, 2, 3)).std() > 10  # backgrounds differ in brightness
    colourful = (images.max(dim=1).values - images.min(dim=1).values).mean(dim=(1, 2))
    assert (colourful > 20).any()


def test_grayscale_knobs_give_gray_images() -> None:
    gray_cfg = dataclasses.replace(SMALL, desaturate_prob=1.0, ink_saturation=0.0, noise_std=0.0)
    images = make_digits(gray_cfg).train.images.int()
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    colour = make_digits(SMALL).train.images.int()
    assert (colour[:, 0] - colour[:, 2]).abs().float().mean() > 5


def test_deterministic_and_seed_dependent() -> None:
    a, b = make_digits(SMALL), make_digits(SMALL)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).images, getattr(b, split).images)
        assert torch.equal(getattr(a, split).labels, getattr(b, split).labels)
    c = make_digits(dataclasses.replace(SMALL, seed=1))
    assert not torch.equal(a.train.images, c.train.images)


def test_splits_use_disjoint_source_digits() -> None:
    _, sources = make_digits_with_sources(dataclasses.replace(SMALL, n_train=600, n_test=300))
    used = {s: set(v.tolist()) for s, v in sources.items()}
    assert not used["train"] & used["val"] and not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    assert len(used["train"]) > 600 and len(used["test"]) > 250  # many sources really used
    assert all(0 <= i < 1797 for s in used.values() for i in s)


def test_long_tail_class_frequencies(default_digits) -> None:
    counts = default_digits[0].train.labels.sum(dim=0).double()
    assert counts.min() > 50  # every class learnable
    assert counts.max() / counts.min() > 6  # ~10x between the most and least frequent class
    weights = digits_structure(DigitsConfig()).class_weights
    assert int(counts.argmax()) == int(np.argmax(weights))


def test_multiple_labels_per_image(default_digits) -> None:
    per_image = default_digits[0].train.labels.sum(dim=1).double()
    assert per_image.min() >= 1 and per_image.max() <= 4
    assert per_image.mean() > 1.5


def test_partner_pairs_co_occur_above_independence(default_digits) -> None:
    labels = default_digits[0].train.labels.double()
    p = labels.mean(dim=0)
    pairs = digits_structure(DigitsConfig()).partners
    assert len(pairs) == 3
    for a, b in pairs:
        joint = (labels[:, a] * labels[:, b]).mean()
        assert joint > 1.3 * p[a] * p[b], (a, b)
    unpaired = dataclasses.replace(SMALL, n_train=1500, n_partner_pairs=0)
    no_pairs = make_digits(unpaired).train.labels.double()
    q = no_pairs.mean(dim=0)
    a, b = pairs[0]
    assert (no_pairs[:, a] * no_pairs[:, b]).mean() < 1.3 * q[a] * q[b]


def test_digit_size_scales_with_image_size() -> None:
    cfg = dataclasses.replace(SMALL, image_size=64)
    assert cfg.scaled_digit_size() == (24, 40)  # (12, 20) at 32 px, doubled
    assert make_digits(cfg).test.images.shape == (40, 3, 64, 64)


def test_load_dataset_caches_digits(data_cache: Path) -> None:
    val = load_dataset("mlic-digits", "val", cache_dir=data_cache, digits_config=SMALL)
    files = list(data_cache.glob("digits-32px-*.pt"))
    assert len(files) == 1
    assert torch.equal(val.images, make_digits(SMALL).val.images)
    again = load_dataset("digits", "val", cache_dir=data_cache, digits_config=SMALL)
    assert torch.equal(again.images, val.images) and list(data_cache.glob("*.pt")) == files
    splits = load_splits("digits", cache_dir=data_cache, digits_config=SMALL, max_train_images=50)
    assert len(splits.train) == 50 and len(splits.val) == 30 and splits.train.image_size == 32


def test_max_eval_images_keeps_fixed_nested_subsets_of_val_and_test(data_cache: Path) -> None:
    full = load_splits("digits", cache_dir=data_cache, digits_config=SMALL)
    small, large = (load_splits("digits", cache_dir=data_cache, digits_config=SMALL,
                                max_eval_images=n) for n in (7, 20))
    assert torch.equal(small.train.images, full.train.images)  # train is untouched
    for part in ("val", "test"):
        a, b, whole = (getattr(s, part) for s in (small, large, full))
        assert (len(a), len(b)) == (7, 20)
        rows = {tuple(r) for r in b.images.flatten(1).tolist()}
        assert all(tuple(r) in rows for r in a.images.flatten(1).tolist())  # a subset of b
        again = load_splits("digits", cache_dir=data_cache, digits_config=SMALL, max_eval_images=7)
        assert torch.equal(a.images, getattr(again, part).images)  # the same subset each time
    # a cap above the split's size keeps it whole; zero is refused, naming the setting
    assert len(load_splits("digits", cache_dir=data_cache, digits_config=SMALL,
                           max_eval_images=10_000).val) == len(full.val)
    with pytest.raises(ConfigError, match="max_eval_images must be a positive int, got 0"):
        load_splits("digits", cache_dir=data_cache, digits_config=SMALL, max_eval_images=0)


@pytest.mark.parametrize("change", [
    {"n_train": 0}, {"image_size": 8}, {"digits_per_image": (3, 2)}, {"digit_size": (20, 40)},
    {"partner_prob": 1.5}, {"source_fractions": (0.5, 0.5, 0.5)}, {"zipf_exponent": -1.0},
])
def test_config_validation(change: dict) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(SMALL, **change)
    with pytest.raises(ConfigError):
        load_splits("digits", image_size=48, digits_config=SMALL)
