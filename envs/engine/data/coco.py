"""MS-COCO 2014 as an 80-class multi-label dataset.

Layout (the official 2014 archives)::

    <coco>/annotations/instances_{train,val}2014.json   (or <coco>/instances_*.json)
    <coco>/train2014/<file_name>, <coco>/val2014/<file_name>   (or <coco>/images/...)

where ``<coco>`` is the data root or ``<root>/coco``. The (non-contiguous)
category ids are mapped to contiguous label columns in ascending id order; the
class names come from the categories. Only images with at least one annotation
are kept (the usual multi-label protocol), in ascending image-id order.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from envs.engine.data.cache import cached_dataset
from envs.engine.data.dataset import MLICDataset, without_ignores
from envs.engine.data.images import decode_images
from envs.engine.data.roots import not_found_error
from envs.errors import DatasetFormatError, DatasetNotFoundError

logger = logging.getLogger(__name__)

COCO_SPLITS: tuple[str, ...] = ("train", "val")
COCO_URL = "https://cocodataset.org/#download"

_LAYOUT = ("  <root>/ (or <root>/coco/) containing\n"
           "    annotations/instances_train2014.json, annotations/instances_val2014.json "
           "(or these json files directly in the folder),\n"
           "    train2014/<file_name>.jpg and val2014/<file_name>.jpg (or images/train2014/, ...)")
_HOW = (f"download '2014 Train images', '2014 Val images' and '2014 Train/Val annotations' from "
        f"{COCO_URL} and unzip them into one folder (there is no download=True for COCO)")


def coco_candidates(root: Path) -> list[Path]:
    """The folders checked for a COCO tree, in order."""
    return [root, root / "coco"]


def _json_candidates(coco_dir: Path, split: str) -> list[Path]:
    name = f"instances_{split}2014.json"
    return [coco_dir / "annotations" / name, coco_dir / name]


def find_coco_json(root: Path, split: str) -> tuple[Path, Path] | None:
    """``(coco_dir, json_path)`` for ``split``, or None if no candidate holds the json."""
    for cand in coco_candidates(root):
        for path in _json_candidates(cand, split):
            if path.is_file():
                return cand, path
    return None


_REFETCH = (f"use the unmodified instances_*2014.json from '2014 Train/Val annotations' "
            f"({COCO_URL})")


def _require(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise DatasetFormatError(
            f"COCO annotation file {path}: {where} has no key {key!r}; {_REFETCH}")
    return obj[key]


def _require_int(obj: Any, key: str, path: Path, where: str) -> int:
    value = _require(obj, key, path, where)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DatasetFormatError(
            f"COCO annotation file {path}: {where}[{key!r}] must be an integer, got {value!r}; "
            f"{_REFETCH}")
    try:
        return int(value)
    except ValueError:
        raise DatasetFormatError(
            f"COCO annotation file {path}: {where}[{key!r}] must be an integer, "
            f"got {value!r}; {_REFETCH}") from None


def parse_instances(path: Path) -> tuple[tuple[str, ...], list[str], np.ndarray]:
    """``(class_names, file_names, labels)`` from an ``instances_*.json`` file.

    ``labels`` is uint8 ``[N, 80]`` (or however many categories the file has),
    over the images that have at least one annotation, in ascending image id.
    Raises :class:`DatasetFormatError` naming the file and the missing key or bad value.
    """
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DatasetFormatError(
            f"cannot parse COCO annotation file {path}: {exc}. It is truncated or not JSON; "
            f"{_REFETCH}") from exc
    images = _require(data, "images", path, "the top level")
    annotations = _require(data, "annotations", path, "the top level")
    categories = _require(data, "categories", path, "the top level")
    top = (("images", images), ("annotations", annotations), ("categories", categories))
    for key, value in top:
        if not isinstance(value, list):
            raise DatasetFormatError(
                f"COCO annotation file {path}: {key!r} must be a list, got "
                f"{type(value).__name__}; {_REFETCH}")
    cat_names: dict[int, str] = {}
    for i, cat in enumerate(categories):
        cat_id = _require_int(cat, "id", path, f"categories[{i}]")
        cat_names[cat_id] = str(_require(cat, "name", path, f"categories[{i}]"))
    if not cat_names:
        raise DatasetFormatError(f"COCO annotation file {path}: 'categories' is empty; {_REFETCH}")
    cat_ids = sorted(cat_names)
    column = {cat_id: j for j, cat_id in enumerate(cat_ids)}
    file_names: dict[int, str] = {}
    for i, img in enumerate(images):
        img_id = _require_int(img, "id", path, f"images[{i}]")
        name = _require(img, "file_name", path, f"images[{i}]")
        if not isinstance(name, str) or not name.strip():
            raise DatasetFormatError(
                f"COCO annotation file {path}: images[{i}]['file_name'] must be a non-empty "
                f"string, got {name!r}; {_REFETCH}")
        file_names[img_id] = name
    positives: dict[int, set[int]] = {}
    for i, ann in enumerate(annotations):
        img_id = _require_int(ann, "image_id", path, f"annotations[{i}]")
        cat_id = _require_int(ann, "category_id", path, f"annotations[{i}]")
        if cat_id not in column:
            raise DatasetFormatError(
                f"COCO annotation file {path}: annotations[{i}] has category_id {cat_id}, "
                f"which is not among the categories")
        if img_id not in file_names:
            raise DatasetFormatError(
                f"COCO annotation file {path}: annotations[{i}] has image_id {img_id}, "
                f"which is not among the images")
        positives.setdefault(img_id, set()).add(column[cat_id])
    kept_ids = sorted(positives)
    labels = np.zeros((len(kept_ids), len(cat_ids)), dtype=np.uint8)
    for row, img_id in enumerate(kept_ids):
        labels[row, sorted(positives[img_id])] = 1
    dropped = len(file_names) - len(kept_ids)
    if not kept_ids:
        raise DatasetFormatError(
            f"COCO annotation file {path}: none of its {len(file_names)} images has an "
            f"annotation, so there is no label to learn; {_REFETCH}")
    if dropped:  # the ML-GCN convention; reported once, when the split is first decoded
        logger.warning("%s: dropped %d of %d images without annotations (no label), e.g. %s",
                       path, dropped, len(file_names),
                       next(file_names[i] for i in sorted(file_names) if i not in positives))
    names = tuple(cat_names[c] for c in cat_ids)
    return names, [file_names[i] for i in kept_ids], labels


def _image_dir_candidates(coco_dir: Path, split: str) -> list[Path]:
    return [coco_dir / f"{split}2014", coco_dir / "images" / f"{split}2014"]


def _image_dir(coco_dir: Path, split: str) -> Path:
    for cand in _image_dir_candidates(coco_dir, split):
        if cand.is_dir():
            return cand
    return coco_dir / f"{split}2014"


def _build(coco_dir: Path, json_path: Path, split: str, image_size: int,
           on_bad_image: str) -> tuple[MLICDataset, list[str]]:
    names, files, labels = parse_instances(json_path)
    image_dir = _image_dir(coco_dir, split)
    if not image_dir.is_dir():
        looked = " or ".join(str(c) for c in _image_dir_candidates(coco_dir, split))
        raise DatasetNotFoundError(
            f"the COCO {split}2014 images are missing: found {json_path} but no folder {looked}. "
            f"Download '2014 {split.capitalize()} images' from {COCO_URL} and unzip it there")
    images, kept, skipped = decode_images([image_dir / f for f in files], image_size,
                                          on_bad_image=on_bad_image,
                                          what=f"COCO {split}2014 images")
    kept_labels = torch.from_numpy(labels[kept])
    ds = without_ignores(images, kept_labels, names, "coco", split)
    return ds, skipped


def load_coco(split: str, root: Path, origin: str, *, image_size: int, cache_dir: Path,
              on_bad_image: str = "error") -> MLICDataset:
    """Load COCO 2014 ``train`` or ``val`` (images with at least one annotation), cached."""
    found = find_coco_json(root, split)
    if found is None:
        looked = [p for cand in coco_candidates(root) for p in _json_candidates(cand, split)]
        raise not_found_error("coco", root, origin, looked, _LAYOUT, _HOW)
    coco_dir, json_path = found
    return cached_dataset(
        cache_dir=cache_dir, name="coco", split=split, image_size=image_size,
        source_files=[json_path], on_bad_image=on_bad_image,
        extra={"image_dir": str(_image_dir(coco_dir, split).resolve())},
        build=lambda: _build(coco_dir, json_path, split, image_size, on_bad_image))
