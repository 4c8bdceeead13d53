"""PASCAL VOC 2007 as a multi-label dataset (the ML-GCN convention).

Layout (the ``VOC2007`` folder of the official archives)::

    VOC2007/
      JPEGImages/<id>.jpg
      Annotations/<id>.xml
      ImageSets/Main/{train,val,trainval,test}.txt

The data root may be that folder itself, or a folder containing ``VOC2007/`` or
``VOCdevkit/VOC2007/``. Labels: a class is positive for an image if the image
has at least one non-``difficult`` object of that class; if every object of the
class in that image is ``difficult`` the entry is ignored (label 0, ignore True).
An image whose annotation has no ``<object>`` at all has no label: it is dropped
(as COCO drops unannotated images), and one warning per split gives the count.
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch

from envs.engine.data.cache import cached_dataset
from envs.engine.data.dataset import MLICDataset
from envs.engine.data.download import VOC2007_TEST, VOC2007_TRAINVAL, VOC2007_URL, Resource, \
    download_voc
from envs.engine.data.images import decode_images
from envs.engine.data.roots import not_found_error
from envs.errors import DatasetFormatError, DatasetNotFoundError

logger = logging.getLogger(__name__)

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOC_SPLITS: tuple[str, ...] = ("train", "val", "trainval", "test")

VOC_RESOURCES_BY_SPLIT: dict[str, tuple[Resource, ...]] = {
    "train": (VOC2007_TRAINVAL,), "val": (VOC2007_TRAINVAL,), "trainval": (VOC2007_TRAINVAL,),
    "test": (VOC2007_TEST,),
}
"""Which archives ``download=True`` fetches for each split."""

_LAYOUT = ("  <root>/VOCdevkit/VOC2007/  (or <root>/VOC2007/, or <root> itself), containing\n"
           "    JPEGImages/<id>.jpg, Annotations/<id>.xml,\n"
           "    ImageSets/Main/{train,val,trainval,test}.txt")
_HOW = (f"download VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar from {VOC2007_URL} "
        f"and extract both into the data root, or pass download=True (run_marl: --download) "
        "to have this done for you")


_REEXTRACT = (f"re-extract it from the official archive ({VOC2007_URL}) or pass download=True "
              "(run_marl: --download) to fetch a fresh copy")


def voc_candidates(root: Path) -> list[Path]:
    """The folders checked for a VOC2007 tree, in order."""
    return [root, root / "VOC2007", root / "VOCdevkit" / "VOC2007"]


def find_voc_dir(root: Path) -> Path | None:
    """The first candidate folder holding ``Annotations/`` and ``ImageSets/Main/``, else None."""
    for cand in voc_candidates(root):
        if (cand / "Annotations").is_dir() and (cand / "ImageSets" / "Main").is_dir():
            return cand
    return None


def read_split_ids(voc_dir: Path, split: str) -> list[str]:
    """Image ids listed in ``ImageSets/Main/<split>.txt`` (first token of each non-blank line)."""
    path = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        extra = " (the test split comes from VOCtest_06-Nov-2007.tar)" if split == "test" else ""
        raise DatasetNotFoundError(
            f"VOC split file {path} does not exist{extra}. Extract the official archive into "
            f"the data root (see {VOC2007_URL}) or pass download=True (run_marl: --download)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(
            f"cannot read VOC split file {path}: {exc}. It must be text with one image id per "
            f"line; {_REEXTRACT}") from exc
    ids = [line.split()[0] for line in text.splitlines() if line.strip()]
    if not ids:
        raise DatasetFormatError(
            f"VOC split file {path} lists no image ids (it is empty); {_REEXTRACT}")
    return ids


def parse_annotation(path: Path, class_index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, ignore)`` for one annotation XML, each a length-``K`` array.

    Raises :class:`DatasetFormatError` naming the file for malformed XML, an object
    without a name, an unknown class name or a ``difficult`` value other than 0/1.
    """
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        raise DatasetFormatError(
            f"malformed VOC annotation {path}: {exc}. Fix the XML, or {_REEXTRACT}") from exc
    except FileNotFoundError:
        raise DatasetNotFoundError(
            f"VOC annotation {path} does not exist but its id is listed in the split "
            f"file; the extraction is incomplete: {_REEXTRACT}, or remove the id from the "
            f"split file") from None
    except OSError as exc:
        raise DatasetFormatError(f"cannot read VOC annotation {path}: {exc}; {_REEXTRACT}") from exc
    k = len(class_index)
    easy = np.zeros(k, dtype=bool)
    hard = np.zeros(k, dtype=bool)
    for obj in tree.getroot().iter("object"):
        name_el = obj.find("name")
        name = (name_el.text or "").strip() if name_el is not None else ""
        if not name:
            raise DatasetFormatError(f"VOC annotation {path}: an <object> has no <name>")
        if name not in class_index:
            raise DatasetFormatError(
                f"VOC annotation {path}: unknown class name {name!r}; the VOC 2007 classes "
                f"are {', '.join(VOC_CLASSES)}")
        diff_el = obj.find("difficult")
        diff_text = (diff_el.text or "").strip() if diff_el is not None else "0"
        if diff_text not in ("0", "1"):
            raise DatasetFormatError(
                f"VOC annotation {path}: <difficult> must be 0 or 1, got {diff_text!r}")
        (hard if diff_text == "1" else easy)[class_index[name]] = True
    return easy, hard & ~easy


def _build(voc_dir: Path, split: str, ids: list[str], image_size: int,
           on_bad_image: str) -> tuple[MLICDataset, list[str]]:
    if not (voc_dir / "JPEGImages").is_dir():
        raise DatasetNotFoundError(
            f"{voc_dir / 'JPEGImages'} does not exist, so the {split} images cannot be read. "
            f"Extract the JPEGImages/ folder of the official archive next to Annotations/ "
            f"({VOC2007_URL}), or pass download=True (run_marl: --download)")
    class_index = {c: i for i, c in enumerate(VOC_CLASSES)}
    labels = np.zeros((len(ids), len(VOC_CLASSES)), dtype=np.uint8)
    ignore = np.zeros((len(ids), len(VOC_CLASSES)), dtype=bool)
    for row, image_id in enumerate(ids):
        pos, ign = parse_annotation(voc_dir / "Annotations" / f"{image_id}.xml", class_index)
        labels[row], ignore[row] = pos, ign
    unlabelled = ~(labels.any(axis=1) | ignore.any(axis=1))
    if unlabelled.any():
        first = ids[int(np.flatnonzero(unlabelled)[0])]
        logger.warning(
            "VOC2007 %s: dropped %d of %d images whose annotation has no <object> (no label), "
            "e.g. %s; add their objects to the XML to use them",
            split, int(unlabelled.sum()), len(ids), voc_dir / "Annotations" / f"{first}.xml")
        keep = ~unlabelled
        ids = [i for i, k in zip(ids, keep) if k]
        labels, ignore = labels[keep], ignore[keep]
    paths = [voc_dir / "JPEGImages" / f"{image_id}.jpg" for image_id in ids]
    images, kept, skipped = decode_images(paths, image_size, on_bad_image=on_bad_image,
                                          what=f"VOC2007 {split} images")
    ds = MLICDataset(images=images, labels=torch.from_numpy(labels[kept]),
                     ignore=torch.from_numpy(ignore[kept]), class_names=VOC_CLASSES,
                     name="voc", split=split)
    return ds, skipped


def load_voc(split: str, root: Path, origin: str, *, image_size: int, cache_dir: Path,
             on_bad_image: str = "error", download: bool = False) -> MLICDataset:
    """Load one native VOC 2007 split (``train``, ``val``, ``trainval`` or ``test``), cached.

    ``root`` is the data root (see the module docstring for the accepted layouts);
    ``origin`` says where it came from, for error messages.
    """
    voc_dir = find_voc_dir(root)
    needs_download = voc_dir is None \
        or not (voc_dir / "ImageSets" / "Main" / f"{split}.txt").is_file()
    if needs_download and download:
        download_root = root if voc_dir is None else voc_dir.parent.parent
        if voc_dir is not None and voc_dir.parent.name != "VOCdevkit":
            raise DatasetNotFoundError(
                f"{voc_dir} lacks ImageSets/Main/{split}.txt and is not inside a VOCdevkit/ "
                f"folder, so download=True cannot extract into it; extract the archive by hand")
        download_voc(download_root, VOC_RESOURCES_BY_SPLIT[split])
        voc_dir = find_voc_dir(root)
    if voc_dir is None:
        raise not_found_error("voc", root, origin, voc_candidates(root), _LAYOUT, _HOW)
    found: Path = voc_dir
    ids = read_split_ids(found, split)
    annotations = [found / "Annotations" / f"{image_id}.xml" for image_id in ids]
    try:
        sources = [found / "ImageSets" / "Main" / f"{split}.txt", *annotations]
        return cached_dataset(
            cache_dir=cache_dir, name="voc", split=split, image_size=image_size,
            source_files=sources, on_bad_image=on_bad_image,
            build=lambda: _build(found, split, ids, image_size, on_bad_image))
    except FileNotFoundError as exc:
        if isinstance(exc, DatasetNotFoundError):
            raise
        raise DatasetNotFoundError(
            f"VOC annotation {exc.filename} does not exist but its id is listed in the "
            f"{split} split file; the extraction is incomplete: {_REEXTRACT}, or remove the "
            f"id from the split file") from exc

