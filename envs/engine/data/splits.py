"""Entry points: one native split (:func:`load_dataset`), an env's splits (:func:`load_splits`).

Held-out slices are deterministic and independent of any env seed: they come
from ``numpy.random.default_rng(SPLIT_SEED)`` permutations of the source split's
images, in its (sorted) order. ``max_train_images`` keeps the first N of a second
fixed permutation (``SPLIT_SEED + 1``) of the training images, so a smaller cap
always gives a subset of a larger one. Kept images stay in their original order.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from envs.engine.data.cache import resolve_cache_dir
from envs.engine.data.coco import COCO_SPLITS, load_coco
from envs.engine.data.csvfolder import CSV_SPLIT_FILES, available_splits, find_csv_dir, load_csv
from envs.engine.data.dataset import DatasetSplits, MLICDataset
from envs.engine.data.digits import DigitsConfig, load_digits_splits
from envs.engine.data.images import check_bad_image_policy
from envs.engine.data.roots import resolve_data_root
from envs.engine.data.voc import VOC_SPLITS, load_voc
from envs.errors import ConfigError, DatasetNotFoundError, UnknownEnvError

DATASET_NAMES: tuple[str, ...] = ("coco", "csv", "digits", "voc")
NATIVE_SPLITS: dict[str, tuple[str, ...]] = {
    "coco": COCO_SPLITS, "csv": tuple(CSV_SPLIT_FILES), "digits": ("train", "val", "test"),
    "voc": VOC_SPLITS,
}
"""The splits :func:`load_dataset` accepts per dataset (csv: those whose file exists)."""
DEFAULT_IMAGE_SIZE: dict[str, int] = {"coco": 64, "csv": 64, "digits": 32, "voc": 64}
SPLIT_SEED = 20240601
"""Seed of the fixed permutations behind held-out val slices and ``max_train_images``."""
CSV_FRACTIONS = (0.70, 0.15, 0.15)
"""train / val / test fractions when a CSV dataset has only ``labels.csv``."""

PathLike = str | os.PathLike[str]


def canonical_name(name: str) -> str:
    """``"voc"`` for ``"voc"``, ``"mlic-voc"``, ``"VOC"``; :class:`UnknownEnvError` otherwise."""
    key = str(name).strip().lower()
    if key.startswith("mlic-"):
        key = key[len("mlic-"):]
    if key not in DATASET_NAMES:
        raise UnknownEnvError(
            f"unknown dataset {name!r}; known datasets: "
            f"{', '.join(DATASET_NAMES)} (also as mlic-<name>)")
    return key


def _image_size(name: str, image_size: int | None) -> int:
    if image_size is None:
        return DEFAULT_IMAGE_SIZE[name]
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or not 8 <= image_size <= 1024:
        raise ConfigError(f"image_size must be an int in 8..1024, got {image_size!r}")
    return int(image_size)


def _digits_config(image_size: int | None, config: DigitsConfig | None) -> DigitsConfig:
    if config is None:
        return DigitsConfig(image_size=_image_size("digits", image_size))
    if image_size is not None and image_size != config.image_size:
        raise ConfigError(f"image_size={image_size} contradicts digits_config.image_size="
                          f"{config.image_size}; pass only one")
    return config


def load_dataset(name: str, split: str, *, data_root: PathLike | None = None,
                 image_size: int | None = None, download: bool = False,
                 cache_dir: PathLike | None = None, on_bad_image: str = "error",
                 digits_config: DigitsConfig | None = None) -> MLICDataset:
    """One native split of a dataset, decoded at ``image_size`` (cached on disk).

    Native splits: voc ``train|val|trainval|test``; coco ``train|val`` (2014);
    csv ``train|val|test`` (its CSV files) or ``all`` (``labels.csv``); digits
    ``train|val|test``. ``image_size`` None means 32 for digits, 64 otherwise.
    ``download=True`` fetches VOC 2007 if missing. ``digits_config`` overrides the
    digits generator's knobs.
    """
    key = canonical_name(name)
    if split not in NATIVE_SPLITS[key]:
        raise ConfigError(f"dataset {key!r} has no split {split!r}; its splits are "
                          f"{', '.join(NATIVE_SPLITS[key])}")
    check_bad_image_policy(on_bad_image)
    cache = resolve_cache_dir(cache_dir)
    if key == "digits":
        return getattr(load_digits_splits(_digits_config(image_size, digits_config), cache), split)
    size = _image_size(key, image_size)
    root, origin = resolve_data_root(data_root)
    common = {"image_size": size, "cache_dir": cache, "on_bad_image": on_bad_image}
    if key == "voc":
        return load_voc(split, root, origin, download=download, **common)
    if download:
        raise ConfigError(f"download=True is only supported for voc; {key} must be "
                          f"placed under the data root by hand")
    if key == "coco":
        return load_coco(split, root, origin, **common)
    return load_csv(split, root, origin, **common)


def held_out_split(n: int, fraction: float,
                   seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(rest, held_out)`` sorted index arrays; ``held_out`` has ``round(fraction * n)`` items.

    At least one image is held out and at least one kept.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {fraction!r}")
    if n < 2:
        raise ConfigError(f"cannot hold out a validation slice from {n} image(s)")
    n_out = min(n - 1, max(1, int(round(fraction * n))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def train_subset_index(n: int, max_images: int) -> np.ndarray:
    """Sorted indices of the first ``max_images`` of a fixed permutation of ``range(n)``."""
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) \
            or max_images < 1:
        raise ConfigError(f"max_train_images must be a positive int, got {max_images!r}")
    perm = np.random.default_rng(SPLIT_SEED + 1).permutation(n)
    return np.sort(perm[:max_images])


def _with_held_out(full: MLICDataset, fraction: float) -> tuple[MLICDataset, MLICDataset]:
    rest, held = held_out_split(len(full), fraction)
    return full.subset(rest, split="train"), full.subset(held, split="val")


def _csv_splits(root: Path, origin: str, val_fraction: float, **common) -> DatasetSplits:
    csv_dir = find_csv_dir(root)
    if csv_dir is None:
        load_csv("all", root, origin, **common)  # raises the full not-found message
        raise AssertionError("unreachable")
    present = available_splits(csv_dir)
    if "train" in present:
        full_train = load_csv("train", root, origin, **common)
        if "val" in present:
            train, val = full_train, load_csv("val", root, origin, **common)
        else:
            train, val = _with_held_out(full_train, val_fraction)
        if "test" not in present:
            raise DatasetNotFoundError(
                f"{csv_dir} has train.csv but no test.csv; add test.csv, or put every row in "
                f"labels.csv (instead of train/val/test.csv) to have it split "
                f"{'/'.join(str(int(f * 100)) for f in CSV_FRACTIONS)}")
        return DatasetSplits(train=train, val=val, test=load_csv("test", root, origin, **common))
    full = load_csv("all", root, origin, **common)
    n = len(full)
    if n < 3:
        raise ConfigError(
            f"{csv_dir / 'labels.csv'} has {n} usable images; need at least 3 to split")
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_val = max(1, int(round(CSV_FRACTIONS[1] * n)))
    n_test = max(1, int(round(CSV_FRACTIONS[2] * n)))
    val_idx, test_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:n_val + n_test])
    train_idx = np.sort(perm[n_val + n_test:])
    return DatasetSplits(train=full.subset(train_idx, split="train"),
                         val=full.subset(val_idx, split="val"),
                         test=full.subset(test_idx, split="test"))


def load_splits(name: str, *, data_root: PathLike | None = None, image_size: int | None = None,
                download: bool = False, cache_dir: PathLike | None = None,
                max_train_images: int | None = None, val_fraction: float = 0.1,
                on_bad_image: str = "error",
                digits_config: DigitsConfig | None = None) -> DatasetSplits:
    """The train / val / test an environment uses.

    * voc: ``trainval`` minus a held-out slice (``val_fraction``) / that slice / ``test``.
    * coco: ``train2014`` minus a held-out slice / that slice / ``val2014``.
    * csv: ``train.csv`` / ``val.csv`` (else a held-out slice of train) / ``test.csv``;
      with only ``labels.csv``, a fixed 70/15/15 split of it.
    * digits: the generator's own three splits (``val_fraction`` is not used).

    The held-out slices use the fixed :data:`SPLIT_SEED`, never an env seed.
    ``max_train_images`` keeps a deterministic subset of train.
    """
    key = canonical_name(name)
    check_bad_image_policy(on_bad_image)
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    cache = resolve_cache_dir(cache_dir)
    if key == "digits":
        splits = load_digits_splits(_digits_config(image_size, digits_config), cache)
    else:
        if download and key != "voc":
            raise ConfigError(f"download=True is only supported for voc; {key} must be "
                              f"placed under the data root by hand")
        size = _image_size(key, image_size)
        root, origin = resolve_data_root(data_root)
        common = {"image_size": size, "cache_dir": cache, "on_bad_image": on_bad_image}
        if key == "voc":
            train, val = _with_held_out(
                load_voc("trainval", root, origin, download=download, **common), val_fraction)
            splits = DatasetSplits(train=train, val=val,
                                   test=load_voc("test", root, origin, download=download, **common))
        elif key == "coco":
            train, val = _with_held_out(load_coco("train", root, origin, **common), val_fraction)
            test = dataclasses.replace(load_coco("val", root, origin, **common), split="test")
            splits = DatasetSplits(train=train, val=val, test=test)
        else:
            splits = _csv_splits(root, origin, val_fraction, **common)
    if max_train_images is not None:
        idx = train_subset_index(len(splits.train), max_train_images)
        splits = DatasetSplits(train=splits.train.subset(idx), val=splits.val, test=splits.test)
    return splits
