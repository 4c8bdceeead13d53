"""Entry points: one native split (:func:`load_dataset`), an env's splits (:func:`load_splits`).

Both look the dataset up in the loader registry (:mod:`envs.engine.data.loaders`),
validate the arguments once into a :class:`DataRequest` and call the loader. The
built-in loaders (coco, csv, digits, mnist, shapes, voc) are defined and registered here.

Held-out slices are deterministic and independent of any env seed: they come
from ``numpy.random.default_rng(SPLIT_SEED)`` permutations of the source split's
images, in its (sorted) order. ``max_train_images`` keeps the first N of a second
fixed permutation (``SPLIT_SEED + 1``) of the training images, so a smaller cap
always gives a subset of a larger one; ``max_eval_images`` does the same to val and to test
with a third (``SPLIT_SEED + 2``). Kept images stay in their original order.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from envs.engine.data.cache import resolve_cache_dir
from envs.engine.data.coco import COCO_SPLITS, load_coco
from envs.engine.data.csvfolder import CSV_SPLIT_FILES, available_splits, find_csv_dir, load_csv
from envs.engine.data.dataset import DatasetSplits, MLICDataset
from envs.engine.data.digits import DigitsConfig, load_digits_splits
from envs.engine.data.glyphs import MNIST_5K, SHAPES, SKLEARN_DIGITS, GlyphSource
from envs.engine.data.images import check_bad_image_policy
from envs.engine.data.loaders import (DataRequest, DatasetLoader, canonical_name, dataset_loader,
                                      dataset_names, register_dataset)
from envs.engine.data.voc import VOC_SPLITS, load_voc
from envs.errors import ConfigError, DatasetFormatError, DatasetNotFoundError

DATASET_NAMES: tuple[str, ...] = ("coco", "csv", "digits", "mnist", "shapes", "voc")
"""The built-in datasets (``loaders.dataset_names()`` also lists those registered since)."""
SPLIT_SEED = 20240601
"""Seed of the fixed permutations behind held-out val slices, ``max_train_images`` (+1) and
``max_eval_images`` (+2)."""
GENERATED: dict[str, GlyphSource] = {"digits": SKLEARN_DIGITS, "mnist": MNIST_5K,
                                     "shapes": SHAPES}
"""The composite-scene datasets (configured by ``digits_config``) and the glyphs they paste."""
CSV_FRACTIONS = (0.70, 0.15, 0.15)
"""train / val / test fractions when a CSV dataset has only ``labels.csv``."""

PathLike = str | os.PathLike[str]


def load_dataset(name: str, split: str, *, data_root: PathLike | None = None,
                 image_size: int | None = None, download: bool = False,
                 cache_dir: PathLike | None = None, on_bad_image: str = "error",
                 digits_config: DigitsConfig | None = None) -> MLICDataset:
    """One native split of a dataset, decoded at ``image_size`` (cached on disk).

    Native splits: voc ``train|val|trainval|test``; coco ``train|val`` (2014);
    csv ``train|val|test`` (its CSV files) or ``all`` (``labels.csv``); generated ones
    ``train|val|test``; a registered dataset those of its loader. ``image_size`` None
    means 32 for the generated datasets, 64 otherwise (a registered loader's own default).
    ``download=True`` fetches VOC 2007 if missing. ``digits_config`` overrides the
    scene generator's knobs (digits, mnist, shapes).
    """
    key = canonical_name(name)
    loader = dataset_loader(key)
    if split not in loader.native_splits:
        raise ConfigError(f"dataset {key!r} has no split {split!r}; its splits are "
                          f"{', '.join(loader.native_splits)}")
    request = _request(key, loader, data_root=data_root, image_size=image_size,
                       download=download, cache_dir=cache_dir, on_bad_image=on_bad_image,
                       val_fraction=0.1, digits_config=digits_config)
    if loader.load_split is None:
        return getattr(_checked_splits(loader.load_splits(request), request), split)
    return loader.load_split(split, request)


def load_splits(name: str, *, data_root: PathLike | None = None, image_size: int | None = None,
                download: bool = False, cache_dir: PathLike | None = None,
                max_train_images: int | None = None, max_eval_images: int | None = None,
                val_fraction: float = 0.1,
                on_bad_image: str = "error",
                digits_config: DigitsConfig | None = None) -> DatasetSplits:
    """The train / val / test an environment uses.

    * voc: ``trainval`` minus a held-out slice (``val_fraction``) / that slice / ``test``.
    * coco: ``train2014`` minus a held-out slice / that slice / ``val2014``.
    * csv: ``train.csv`` / ``val.csv`` (else a held-out slice of train) / ``test.csv``;
      with only ``labels.csv``, a fixed 70/15/15 split of it.
    * digits, mnist, shapes: the generator's own three splits (``val_fraction`` is not used).
    * a registered dataset: what its loader's ``load_splits`` returns.

    The held-out slices use the fixed :data:`SPLIT_SEED`, never an env seed.
    ``max_train_images`` keeps a deterministic subset of train, ``max_eval_images`` one of val
    and one of test.
    """
    key = canonical_name(name)
    loader = dataset_loader(key)
    request = _request(key, loader, data_root=data_root, image_size=image_size,
                       download=download, cache_dir=cache_dir, on_bad_image=on_bad_image,
                       val_fraction=val_fraction, digits_config=digits_config)
    splits = _checked_splits(loader.load_splits(request), request)
    if max_train_images is not None:
        idx = train_subset_index(len(splits.train), max_train_images)
        splits = DatasetSplits(train=splits.train.subset(idx), val=splits.val, test=splits.test)
    if max_eval_images is not None:
        val, test = (part.subset(subset_index(len(part), max_eval_images, "max_eval_images",
                                              seed=SPLIT_SEED + 2))
                     for part in (splits.val, splits.test))
        splits = DatasetSplits(train=splits.train, val=val, test=test)
    return splits


def _request(key: str, loader: DatasetLoader, *, data_root: PathLike | None,
             image_size: int | None, download: bool, cache_dir: PathLike | None,
             on_bad_image: str, val_fraction: float,
             digits_config: DigitsConfig | None) -> DataRequest:
    check_bad_image_policy(on_bad_image)
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if download and not loader.download:
        can = ", ".join(n for n in dataset_names() if dataset_loader(n).download)
        raise ConfigError(f"download=True (run_marl: --download) is not supported for {key}: it "
                          f"must be placed under the data root by hand (download works for: {can})")
    if digits_config is not None:
        if key not in GENERATED:
            raise ConfigError(f"digits_config is only for the generated datasets "
                              f"({', '.join(GENERATED)}), not {key!r}")
        if image_size is not None and image_size != digits_config.image_size:
            raise ConfigError(f"image_size={image_size} contradicts digits_config.image_size="
                              f"{digits_config.image_size}; pass only one")
        image_size = digits_config.image_size
    return DataRequest(name=key, image_size=_image_size(image_size, loader.image_size),
                       cache_dir=resolve_cache_dir(cache_dir), data_root=data_root,
                       download=bool(download), on_bad_image=on_bad_image,
                       val_fraction=float(val_fraction), digits_config=digits_config)


def _image_size(image_size: int | None, default: int) -> int:
    if image_size is None:
        return default
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
            or not 8 <= image_size <= 1024:
        raise ConfigError(f"image_size must be an int in 8..1024, got {image_size!r}")
    return int(image_size)


def _checked_splits(splits: Any, request: DataRequest) -> DatasetSplits:
    """A loader's result, if it is what was asked for (a user loader can get it wrong)."""
    if not isinstance(splits, DatasetSplits):
        raise DatasetFormatError(
            f"the loader of dataset {request.name!r} returned {type(splits).__name__}; it must "
            f"return envs.DatasetSplits(train=..., val=..., test=...)")
    if splits.train.image_size != request.image_size:
        raise DatasetFormatError(
            f"the loader of dataset {request.name!r} returned {splits.train.image_size} px "
            f"images for image_size={request.image_size}; it must resize to "
            f"request.image_size")
    return splits


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
    return subset_index(n, max_images, "max_train_images", seed=SPLIT_SEED + 1)


def subset_index(n: int, max_images: int, name: str, *, seed: int) -> np.ndarray:
    """Sorted indices of the first ``max_images`` (all, if fewer) of the permutation of
    ``range(n)`` drawn with ``seed``; ``name`` is the setting an error names."""
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) \
            or max_images < 1:
        raise ConfigError(f"{name} must be a positive int, got {max_images!r}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:max_images])


def _with_held_out(full: MLICDataset, fraction: float) -> tuple[MLICDataset, MLICDataset]:
    rest, held = held_out_split(len(full), fraction)
    return full.subset(rest, split="train"), full.subset(held, split="val")


# ------------------------------------------------------------------ built-in loaders

def _common(request: DataRequest) -> dict[str, Any]:
    return {"image_size": request.image_size, "cache_dir": request.cache_dir,
            "on_bad_image": request.on_bad_image}


def _voc_split(split: str, request: DataRequest) -> MLICDataset:
    root, origin = request.root()
    return load_voc(split, root, origin, download=request.download, **_common(request))


def _voc_splits(request: DataRequest) -> DatasetSplits:
    train, val = _with_held_out(_voc_split("trainval", request), request.val_fraction)
    return DatasetSplits(train=train, val=val, test=_voc_split("test", request))


def _coco_split(split: str, request: DataRequest) -> MLICDataset:
    root, origin = request.root()
    return load_coco(split, root, origin, **_common(request))


def _coco_splits(request: DataRequest) -> DatasetSplits:
    train, val = _with_held_out(_coco_split("train", request), request.val_fraction)
    test = dataclasses.replace(_coco_split("val", request), split="test")
    return DatasetSplits(train=train, val=val, test=test)


def _csv_split(split: str, request: DataRequest) -> MLICDataset:
    root, origin = request.root()
    return load_csv(split, root, origin, **_common(request))


def _csv_splits(request: DataRequest) -> DatasetSplits:
    csv_dir = find_csv_dir(request.root()[0])
    if csv_dir is None:
        _csv_split("all", request)  # raises the full not-found message
        raise AssertionError("unreachable")
    present = available_splits(csv_dir)
    if "train" in present:
        full_train = _csv_split("train", request)
        if "val" in present:
            train, val = full_train, _csv_split("val", request)
        else:
            train, val = _with_held_out(full_train, request.val_fraction)
        if "test" not in present:
            raise DatasetNotFoundError(
                f"{csv_dir} has train.csv but no test.csv; add test.csv, or put every row in "
                f"labels.csv (instead of train/val/test.csv) to have it split "
                f"{'/'.join(str(int(f * 100)) for f in CSV_FRACTIONS)}")
        return DatasetSplits(train=train, val=val, test=_csv_split("test", request))
    full = _csv_split("all", request)
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


def _generated_splits(request: DataRequest) -> DatasetSplits:
    config = request.digits_config or DigitsConfig(image_size=request.image_size)
    return load_digits_splits(config, request.cache_dir, GENERATED[request.name])


register_dataset("coco", DatasetLoader(_coco_splits, _coco_split, COCO_SPLITS))
register_dataset("csv", DatasetLoader(_csv_splits, _csv_split, tuple(CSV_SPLIT_FILES)))
# Generated, nothing to fetch: download=True is accepted and does nothing.
register_dataset("digits", DatasetLoader(_generated_splits, image_size=32, download=True))
register_dataset("mnist", DatasetLoader(_generated_splits, image_size=32, download=True))
register_dataset("shapes", DatasetLoader(_generated_splits, image_size=32, download=True))
register_dataset("voc", DatasetLoader(_voc_splits, _voc_split, VOC_SPLITS, download=True))
