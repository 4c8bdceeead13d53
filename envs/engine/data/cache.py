"""On-disk cache of decoded datasets.

A decoded split is stored with ``torch.save`` as a dict of tensors and plain
values, in a file whose name carries a key: a SHA-256 of the dataset name, the
split, the image size, :data:`FORMAT_VERSION` and a fingerprint of the source
files (their resolved paths, sizes and modification times). Editing an
annotation file, moving the dataset or bumping the format version therefore
selects a new file; stale files are left in place and can be deleted at will.

Writes are atomic (:mod:`envs.atomic`: temporary file in the same directory,
``fsync``, ``os.replace``), so a crash never leaves a half-written cache file under the
final name. A cache file that cannot be read back is logged and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch

from envs.atomic import save_torch_atomic
from envs.engine.data.dataset import MLICDataset
from envs.engine.data.images import SKIP_HINT, corrupt_image_message
from envs.errors import CorruptImageError, DatasetFormatError, DatasetNotFoundError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the decoded content changes (resize filter, label rules, payload layout)."""

CACHE_ENV_VAR = "MLIC_CACHE_DIR"

# What torch.load raises on a truncated, garbled or foreign file.
_LOAD_ERRORS = (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError, AttributeError,
                IndexError, pickle.UnpicklingError, zipfile.BadZipFile, UnicodeDecodeError)


def default_cache_dir() -> Path:
    """``$MLIC_CACHE_DIR`` if set, else ``~/.cache/mlic-marl``."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "mlic-marl"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir`` as a Path, or :func:`default_cache_dir` when None."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def fingerprint_files(paths: Iterable[str | os.PathLike[str]]) -> str:
    """A digest of each file's resolved path, size and mtime (content is not read)."""
    digest = hashlib.sha256()
    for p in paths:
        path = Path(p).resolve()
        st = path.stat()
        line = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def cache_key(parts: Mapping[str, Any]) -> str:
    """A short stable digest of ``parts`` (JSON-serialisable) plus :data:`FORMAT_VERSION`."""
    blob = json.dumps({"format_version": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def cache_path(cache_dir: Path, stem: str, parts: Mapping[str, Any]) -> Path:
    """The cache file for ``parts``: ``<cache_dir>/<stem>-<key>.pt``."""
    return cache_dir / f"{stem}-{cache_key(parts)}.pt"


def load_payload(path: Path, validate: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
    """The payload stored at ``path``, or None if absent or unreadable (logged, to be rebuilt).

    ``validate`` raises ``ValueError``/``KeyError``/``TypeError`` for a payload of the wrong shape.
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
            raise ValueError("not a payload of this format version")
        validate(payload)
    except _LOAD_ERRORS as exc:
        logger.warning("cache file %s is unreadable (%s: %s); rebuilding it",
                       path, type(exc).__name__, exc)
        return None
    return payload


def save_payload(path: Path, payload: Mapping[str, Any]) -> bool:
    """Write ``payload`` atomically to ``path``; False (and a warning) if that is impossible."""
    try:
        save_torch_atomic({"format_version": FORMAT_VERSION, **payload}, path)
    except OSError as exc:
        logger.warning("could not write cache file %s (%s); continuing without caching", path, exc)
        return False
    return True


def cached(cache_dir: Path, stem: str, parts: Mapping[str, Any],
           build: Callable[[], dict[str, Any]],
           validate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The cached payload for ``parts``, building and saving it on a miss."""
    path = cache_path(cache_dir, stem, parts)
    payload = load_payload(path, validate)
    if payload is not None:
        logger.debug("loaded %s from cache %s", stem, path)
        return payload
    payload = build()
    if save_payload(path, payload):
        logger.info("cached %s at %s", stem, path)
    return payload


# ---------------------------------------------------------------- dataset payloads

def dataset_payload(ds: MLICDataset, skipped: list[str]) -> dict[str, Any]:
    """The cache payload for one decoded split and the files dropped while decoding it."""
    return {"images": ds.images, "labels": ds.labels, "ignore": ds.ignore,
            "class_names": list(ds.class_names), "skipped": list(skipped)}


def validate_dataset_payload(payload: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``payload`` looks like :func:`dataset_payload`'s output."""
    images, labels, ignore = payload["images"], payload["labels"], payload["ignore"]
    names, skipped = payload["class_names"], payload["skipped"]
    if not all(isinstance(t, torch.Tensor) for t in (images, labels, ignore)):
        raise ValueError("tensors missing")
    if images.dtype != torch.uint8 or images.dim() != 4 or labels.dtype != torch.uint8 \
            or ignore.dtype != torch.bool or labels.shape != ignore.shape \
            or labels.shape[0] != images.shape[0]:
        raise ValueError("tensor dtypes or shapes do not match")
    if not isinstance(names, list) or len(names) != labels.shape[1] \
            or not all(isinstance(n, str) for n in names):
        raise ValueError("class names do not match the labels")
    if not isinstance(skipped, list):
        raise ValueError("skipped list missing")


def cached_dataset(*, cache_dir: Path, name: str, split: str, image_size: int,
                   source_files: Iterable[str | os.PathLike[str]], on_bad_image: str,
                   build: Callable[[], tuple[MLICDataset, list[str]]],
                   extra: Mapping[str, Any] | None = None) -> MLICDataset:
    """Load one decoded split from the cache, or build it with ``build`` and cache it.

    The key covers ``name``, ``split``, ``image_size``, the fingerprint of
    ``source_files`` and ``extra``. ``build`` returns the dataset and the files it
    skipped. The cache is shared between ``on_bad_image`` policies: a split that
    was built with ``"skip"`` and dropped files raises again under ``"error"``.
    """
    parts = {"name": name, "split": split, "image_size": image_size,
             "sources": fingerprint_files(source_files), **(extra or {})}

    built: list[bool] = []

    def build_payload() -> dict[str, Any]:
        ds, skipped = build()
        if len(ds) == 0:  # never cache (or train on) an empty split
            cause = (f"all {len(skipped)} of its images are missing or unreadable (e.g. "
                     f"{skipped[0]}); check that the images are where its label files say"
                     if skipped else "its label files list no usable image")
            raise DatasetFormatError(
                f"{name}/{split} has no usable images: {cause}. Fix the data (or the data "
                f"root), or use the bundled 'mlic-digits' to try things out")
        built.append(True)
        return dataset_payload(ds, skipped)

    payload = cached(cache_dir, f"{name}-{split}-{image_size}px", parts, build_payload,
                     validate_dataset_payload)
    skipped = payload["skipped"]
    if skipped:
        if on_bad_image == "error":
            first = skipped[0]
            if not os.path.exists(first):
                raise DatasetNotFoundError(
                    f"image file {first} does not exist ({len(skipped)} missing or unreadable "
                    f"in {name}/{split}); restore it, remove its label entry, or {SKIP_HINT}")
            raise CorruptImageError(corrupt_image_message(
                first, f"one of {len(skipped)} unreadable images in {name}/{split}"))
        if not built:  # a fresh decode has already logged its one warning
            logger.warning("%s/%s: %d unreadable or missing images were skipped, e.g. %s",
                           name, split, len(skipped), skipped[0])
    return MLICDataset(images=payload["images"], labels=payload["labels"],
                       ignore=payload["ignore"], class_names=tuple(payload["class_names"]),
                       name=name, split=split)
