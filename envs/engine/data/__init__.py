"""The dataset layer: decode a multi-label dataset once into uint8 tensors and cache it.

``load_dataset(name, split)`` gives one native split, ``load_splits(name)`` the
train / val / test an environment uses. Datasets: ``voc`` (PASCAL VOC 2007),
``coco`` (MS-COCO 2014), ``csv`` (your own folder of images plus label CSVs),
``digits``, ``mnist`` and ``shapes`` (bundled, generated, no download). Decoded tensors are cached
under :func:`default_cache_dir`; data is found under ``data_root`` or
``$MLIC_DATA_ROOT``. ``register_dataset(name, loader)`` adds a dataset of your own
(see :mod:`envs.engine.data.loaders`).
"""
from envs.engine.data.cache import default_cache_dir
from envs.engine.data.dataset import DatasetSplits, MLICDataset
from envs.engine.data.digits import DigitsConfig, make_digits
from envs.engine.data.download import Resource, download_voc
from envs.engine.data.glyphs import MNIST_5K, SHAPES, SKLEARN_DIGITS, GlyphSource
from envs.engine.data.loaders import (DataRequest, DatasetLoader, dataset_names, register_dataset,
                                      unregister_dataset)
from envs.engine.data.splits import DATASET_NAMES, load_dataset, load_splits

__all__ = [
    "DATASET_NAMES", "DataRequest", "DatasetLoader", "DatasetSplits", "DigitsConfig",
    "GlyphSource", "MLICDataset", "MNIST_5K", "Resource", "SHAPES", "SKLEARN_DIGITS",
    "dataset_names", "default_cache_dir", "download_voc", "load_dataset", "load_splits", "make_digits",
    "register_dataset", "unregister_dataset",
]
