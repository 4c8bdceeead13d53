"""Writers of tiny datasets in their true on-disk formats.

The data-layer tests build their fixtures with them, and the reliability corpus
(``benchmarks.quality.badinputs``) breaks copies of them on purpose.

Every image is a real file written by PIL (JPEG, or PNG where noted); VOC
annotations are real XML, COCO annotations real ``instances_*.json``. Each image
is a solid colour, so a test can check that image ``i`` carries label row ``i``.
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# ---------------------------------------------------------------- images


def save_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (48, 36),
               mode: str = "RGB", fmt: str = "JPEG") -> Path:
    """Write a solid-colour image in ``mode`` (RGB, L, CMYK, P, RGBA) as ``fmt``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    if mode == "L":
        img = img.convert("L")
    elif mode == "CMYK":
        img = img.convert("CMYK")
    elif mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    elif mode == "RGBA":
        img = img.convert("RGBA")
    img.save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def save_noise_jpeg(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """Write a random-noise JPEG (large enough that truncating it really cuts image data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="JPEG", quality=95)
    return path


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file to ``keep`` of its bytes (a truncated download)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ---------------------------------------------------------------- VOC 2007

VOC_CLASS_NAMES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOC_OBJECTS: dict[str, list[tuple[str, int]]] = {
    "000001": [("dog", 0), ("person", 0)],
    "000002": [("cat", 0), ("cat", 1)],                 # one easy cat -> positive
    "000003": [("car", 1), ("bicycle", 0)],             # only a difficult car -> car ignored
    "000004": [("aeroplane", 0), ("tvmonitor", 0)],
    "000005": [("chair", 1), ("chair", 1), ("sofa", 0)],  # difficult-only chair -> ignored
    "000006": [("bird", 0)],
    "000007": [("horse", 0)],
    "000008": [("sheep", 0), ("cow", 1)],
    "000009": [("boat", 0), ("boat", 1)],
}
"""id -> (class name, difficult) per object; the hand-written images come first in each split."""
VOC_HAND: dict[str, list[str]] = {
    "train": ["000001", "000002", "000003", "000004"],
    "val": ["000005", "000006"],
    "trainval": ["000001", "000002", "000003", "000004", "000005", "000006"],
    "test": ["000007", "000008", "000009"],
}
"""The hand-written images of each split (a prefix of the split, ids being sorted)."""
VOC_COLOURS: dict[str, tuple[int, int, int]] = {
    "000001": (200, 30, 30), "000002": (128, 128, 128), "000003": (30, 200, 30),
    "000004": (255, 0, 0), "000005": (30, 30, 200), "000006": (250, 200, 0),
    "000007": (10, 120, 220), "000008": (220, 120, 10), "000009": (90, 90, 90),
}
VOC_MODES: dict[str, tuple[str, str]] = {"000002": ("L", "JPEG"), "000004": ("CMYK", "JPEG"),
                                         "000006": ("P", "PNG")}
"""Images not written as RGB JPEG: (mode, real format); 000006 is PNG bytes named .jpg."""
_VOC_EXTRA = {"train": range(10, 24), "val": range(24, 30), "test": range(30, 40)}
"""Generated filler images (easy objects only) so that envs have something to train on."""


def _filler_colour(n: int) -> tuple[int, int, int]:
    return ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256)


for _split, _numbers in _VOC_EXTRA.items():
    for _n in _numbers:
        _id = f"{_n:06d}"
        VOC_OBJECTS[_id] = [(VOC_CLASS_NAMES[(_n * 7) % 20], 0)] + (
            [(VOC_CLASS_NAMES[(_n * 11 + 3) % 20], 0)] if _n % 2 else [])
        VOC_COLOURS[_id] = _filler_colour(_n)
VOC_SPLITS: dict[str, list[str]] = {
    split: ids + [f"{n:06d}" for n in _VOC_EXTRA.get(split, ())]
    for split, ids in VOC_HAND.items()
}
VOC_SPLITS["trainval"] = sorted(VOC_SPLITS["train"] + VOC_SPLITS["val"])
"""Every split's ids, as written to ``ImageSets/Main/<split>.txt`` (sorted, like VOC)."""


def voc_xml(image_id: str, objects: list[tuple[str, int]], size: tuple[int, int] = (48, 36)) -> str:
    """A VOC 2007 annotation file's text."""
    objs = "".join(
        f"  <object>\n    <name>{name}</name>\n    <pose>Unspecified</pose>\n"
        f"    <truncated>0</truncated>\n    <difficult>{diff}</difficult>\n"
        f"    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>{size[0] - 1}</xmax>"
        f"<ymax>{size[1] - 1}</ymax></bndbox>\n  </object>\n"
        for name, diff in objects)
    return (f"<annotation>\n  <folder>VOC2007</folder>\n  <filename>{image_id}.jpg</filename>\n"
            f"  <source><database>The VOC2007 Database</database></source>\n"
            f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>\n"
            f"  <segmented>0</segmented>\n{objs}</annotation>\n")


def write_voc(root: Path) -> Path:
    """Write ``root/VOCdevkit/VOC2007`` (all four split files); returns ``root``."""
    voc = root / "VOCdevkit" / "VOC2007"
    (voc / "Annotations").mkdir(parents=True, exist_ok=True)
    (voc / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for image_id, objects in VOC_OBJECTS.items():
        (voc / "Annotations" / f"{image_id}.xml").write_text(voc_xml(image_id, objects))
        mode, fmt = VOC_MODES.get(image_id, ("RGB", "JPEG"))
        save_image(voc / "JPEGImages" / f"{image_id}.jpg", VOC_COLOURS[image_id],
                   mode=mode, fmt=fmt)
    for split, ids in VOC_SPLITS.items():
        (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(i + "\n" for i in ids))
    return root


def voc_dir(root: Path) -> Path:
    """The VOC2007 folder :func:`write_voc` created under ``root``."""
    return root / "VOCdevkit" / "VOC2007"


def make_tar(tar_path: Path, src: Path, arcname: str) -> Path:
    """Tar ``src`` (a folder) under the name ``arcname``."""
    with tarfile.open(tar_path, "w") as tar:
        tar.add(src, arcname=arcname)
    return tar_path


# ---------------------------------------------------------------- COCO 2014

COCO_CATEGORIES = [  # deliberately not in id order, ids non-contiguous
    {"id": 90, "name": "toothbrush", "supercategory": "indoor"},
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
]
COCO_IMAGES = {
    "train": [  # (id, file_name, colour, category ids annotated)
        (42, "COCO_train2014_000000000042.jpg", (200, 30, 30), [1, 1, 90]),
        (7, "COCO_train2014_000000000007.jpg", (30, 200, 30), [3]),
        (99, "COCO_train2014_000000000099.jpg", (30, 30, 200), []),  # no annotation -> dropped
        (13, "COCO_train2014_000000000013.jpg", (250, 200, 0), [90, 3]),
        (20, "COCO_train2014_000000000020.jpg", (10, 120, 220), [1]),
    ],
    "val": [
        (5, "COCO_val2014_000000000005.jpg", (220, 120, 10), [1, 3]),
        (8, "COCO_val2014_000000000008.jpg", (90, 90, 90), [90]),
    ],
}
"""Hand-written images (ids below 100, so they come first once sorted by id)."""
_COCO_EXTRA = {"train": range(100, 130), "val": range(200, 216)}
for _split, _numbers in _COCO_EXTRA.items():
    for _n in _numbers:
        _cats = sorted({(1, 3, 90)[_n % 3], (1, 3, 90)[(_n // 3) % 3]})
        COCO_IMAGES[_split].append(
            (_n, f"COCO_{_split}2014_{_n:012d}.jpg", _filler_colour(_n), _cats))


def coco_instances(split: str) -> dict:
    """The ``instances_<split>2014.json`` content for the fixture."""
    images, annotations = [], []
    for img_id, name, _, cats in COCO_IMAGES[split]:
        images.append({"id": img_id, "file_name": name, "width": 48, "height": 36})
        for cat in cats:
            annotations.append({"id": len(annotations) + 1, "image_id": img_id, "category_id": cat,
                                "bbox": [1, 1, 10, 10], "area": 100.0, "iscrowd": 0})
    return {"info": {}, "images": images, "annotations": annotations,
            "categories": COCO_CATEGORIES}


def write_coco(root: Path, json_in_annotations: bool = True, images: bool = True) -> Path:
    """Write a COCO 2014 tree at ``root`` (jsons in ``annotations/`` or in ``root``)."""
    ann_dir = root / "annotations" if json_in_annotations else root
    ann_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (ann_dir / f"instances_{split}2014.json").write_text(json.dumps(coco_instances(split)))
        if images:
            for _, name, colour, _ in COCO_IMAGES[split]:
                save_image(root / f"{split}2014" / name, colour)
    return root


# ---------------------------------------------------------------- CSV folder

CSV_CLASSES = ("zebra", "apple", "mango")  # classes.txt order, deliberately not sorted
CSV_ROWS = [  # (filename, labels field, colour, mode, format)
    ("a.jpg", "apple|zebra", (200, 30, 30), "RGB", "JPEG"),
    ("b.jpg", "mango", (30, 200, 30), "RGB", "JPEG"),
    ("c.png", "", (30, 30, 200), "RGBA", "PNG"),                # no positive label
    ("d.jpg", "zebra", (128, 128, 128), "L", "JPEG"),
    ("e.png", "apple | mango", (250, 200, 0), "P", "PNG"),
    ("f.jpg", "mango|apple|zebra", (10, 120, 220), "RGB", "JPEG"),
    ("g.jpg", "apple", (220, 120, 10), "RGB", "JPEG"),
    ("h.jpg", "zebra|mango", (90, 90, 90), "RGB", "JPEG"),
    ("i.jpg", "apple", (60, 160, 60), "RGB", "JPEG"),
    ("j.jpg", "mango", (160, 60, 160), "RGB", "JPEG"),
]
CSV_HAND_ROWS = list(CSV_ROWS)
"""The hand-written rows; :data:`CSV_ROWS` adds generated filler rows after them."""
CSV_ROWS += [(f"x{n:02d}.jpg", "|".join(CSV_CLASSES[k] for k in range(3) if (n >> k) & 1),
              _filler_colour(n), "RGB", "JPEG") for n in range(20)]


def write_csv(root: Path, classes: bool = True, header: bool = True) -> Path:
    """Write ``root/images/*``, ``root/labels.csv`` (and ``classes.txt``); returns ``root``."""
    for name, _, colour, mode, fmt in CSV_ROWS:
        save_image(root / "images" / name, colour, mode=mode, fmt=fmt)
    lines = (["filename,labels"] if header else []) + [f"{n},{labs}" for n, labs, *_ in CSV_ROWS]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    if classes:
        (root / "classes.txt").write_text("\n".join(CSV_CLASSES) + "\n")
    return root


def write_csv_splits(root: Path, with_val: bool = True) -> Path:
    """Images directly in ``root``, ``train.csv`` / (``val.csv``) / ``test.csv``, no classes.txt.

    Only the hand-written rows: train 6, val 2, test 2.
    """
    for name, _, colour, mode, fmt in CSV_HAND_ROWS:
        save_image(root / name, colour, mode=mode, fmt=fmt)
    rows = [f"{n},{labs}" for n, labs, *_ in CSV_HAND_ROWS]
    (root / "train.csv").write_text("\n".join(rows[:6]) + "\n")
    if with_val:
        (root / "val.csv").write_text("filename,labels\n" + "\n".join(rows[6:8]) + "\n")
    (root / "test.csv").write_text("\n".join(rows[8:]) + "\n")
    return root
