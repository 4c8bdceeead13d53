"""The registry of dataset loaders: a dataset name maps to a :class:`DatasetLoader`.

``load_dataset`` and ``load_splits`` (:mod:`envs.engine.data.splits`) look a name up
here and call its loader with a validated :class:`DataRequest`. The built-in datasets
(``coco``, ``csv``, ``digits``, ``mnist``, ``shapes``, ``voc``) register themselves when ``splits`` is
imported; :func:`register_dataset` adds your own, so that an env id can train on it::

    envs.register_dataset("mine", lambda request: my_splits(request.image_size))
    envs.register(envs.EnvSpec("mine-v0", envs.EnvConfig(dataset="mine"), "my data"))
    env = envs.make("mine")

Registering stores the loader; nothing is loaded until an env or a split is asked for.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from envs.engine.data.dataset import DatasetSplits, MLICDataset
from envs.engine.data.digits import DigitsConfig
from envs.engine.data.roots import resolve_data_root
from envs.errors import ConfigError, UnknownEnvError

PathLike = str | os.PathLike[str]
_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")
_VERSION_SUFFIX = re.compile(r"-v\d+$")


@dataclass(frozen=True)
class DataRequest:
    """What a caller of ``load_dataset`` / ``load_splits`` asked a loader for, validated."""

    name: str
    """The registered dataset name."""
    image_size: int
    """Side ``S`` of the square images the loader must return (``[N, 3, S, S]`` uint8)."""
    cache_dir: Path
    """Where decoded tensors may be cached (see ``envs.engine.data.cache``)."""
    data_root: PathLike | None
    """The ``data_root`` argument as given; :meth:`root` resolves it."""
    download: bool
    """Fetch missing files (True only reaches loaders registered with ``download=True``)."""
    on_bad_image: str
    """``"error"`` or ``"skip"``: what to do with a missing or undecodable image file."""
    val_fraction: float
    """Fraction of the training images to hold out as val where the dataset has no val split."""
    digits_config: DigitsConfig | None = None
    """The scene generator's knobs (``digits``, ``mnist``, ``shapes`` only; None for every other dataset)."""

    def root(self) -> tuple[Path, str]:
        """The data root (argument, else ``$MLIC_DATA_ROOT``, else the default) and its origin."""
        return resolve_data_root(self.data_root)


@dataclass(frozen=True)
class DatasetLoader:
    """How to load one dataset: the env's three splits and, optionally, named native splits."""

    load_splits: Callable[[DataRequest], DatasetSplits]
    """The train / val / test an environment uses (``max_train_images`` is applied after)."""
    load_split: Callable[[str, DataRequest], MLICDataset] | None = None
    """One native split by name; None serves ``train|val|test`` out of ``load_splits``."""
    native_splits: tuple[str, ...] = ("train", "val", "test")
    """The split names ``load_dataset`` accepts."""
    image_size: int = 64
    """Image side when the caller gives none."""
    download: bool = False
    """Whether ``download=True`` is accepted (voc fetches its files; the generated ones have none
    to fetch)."""

    def __post_init__(self) -> None:
        if not callable(self.load_splits):
            raise ConfigError(f"DatasetLoader.load_splits must be a callable taking a DataRequest "
                              f"and returning DatasetSplits, got {self.load_splits!r}")
        if self.load_split is None and not set(self.native_splits) <= {"train", "val", "test"}:
            raise ConfigError(f"native_splits {self.native_splits} need a load_split function: "
                              f"without one only train, val and test can be served")


Loader = DatasetLoader | Callable[[DataRequest], DatasetSplits]
"""What :func:`register_dataset` accepts: a loader, or a bare ``load_splits`` callable."""

_LOADERS: dict[str, DatasetLoader] = {}


def register_dataset(name: str, loader: Loader) -> None:
    """Make ``name`` loadable by ``load_dataset`` / ``load_splits`` and usable as ``EnvConfig.dataset``.

    ``loader`` is a :class:`DatasetLoader`, or a callable ``f(request) -> DatasetSplits``
    (taken as ``DatasetLoader(load_splits=f)``). Names are lower-case letters, digits and
    ``_``, and must be new; :func:`unregister_dataset` removes one.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"dataset name {name!r} is invalid: use lower-case letters, digits and "
                          f"'_' (e.g. 'my_photos')")
    if name in _LOADERS:
        raise ConfigError(f"dataset {name!r} is already registered; pick another name or "
                          f"unregister_dataset({name!r}) first")
    if not isinstance(loader, DatasetLoader):
        loader = DatasetLoader(load_splits=loader)
    _LOADERS[name] = loader


def unregister_dataset(name: str) -> None:
    """Remove a dataset registered with :func:`register_dataset` (e.g. at the end of a test)."""
    _LOADERS.pop(canonical_name(name))


def dataset_names() -> tuple[str, ...]:
    """Every registered dataset name, sorted."""
    return tuple(sorted(_LOADERS))


def canonical_name(name: str) -> str:
    """``"voc"`` for ``"voc"``, ``"VOC"``, ``"mlic-voc"``, ``"mlic-voc-v0"``; else :class:`UnknownEnvError`."""
    key = str(name).strip().lower()
    unprefixed = key[len("mlic-"):] if key.startswith("mlic-") else key
    for candidate in (key, unprefixed, _VERSION_SUFFIX.sub("", unprefixed)):
        if candidate in _LOADERS:
            return candidate
    raise UnknownEnvError(
        f"unknown dataset {name!r}; registered datasets: {', '.join(dataset_names())} "
        f"(also as mlic-<name>). Add your own with envs.register_dataset(name, loader)")


def dataset_loader(name: str) -> DatasetLoader:
    """The loader registered as ``name`` (any spelling :func:`canonical_name` accepts)."""
    return _LOADERS[canonical_name(name)]
