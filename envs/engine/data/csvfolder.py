"""A user's own multi-label data as a folder of images plus CSV label files.

Layout (``<folder>`` is the data root or ``<root>/csv``)::

    <folder>/images/<file>    (or the images directly in <folder>/)
    <folder>/labels.csv       rows "filename,label1|label2|..."   -> split "all"
    <folder>/train.csv, val.csv, test.csv  (instead of, or beside, labels.csv)
    <folder>/classes.txt      optional: one class name per line, fixes the column order

An optional header row ``filename,labels`` is skipped; an empty label field
means the image has no positive class (it is kept as a negative for every class,
and one warning per split gives the count; a file in which no row has a label
is an error). Without ``classes.txt`` the classes are the sorted union of the
labels in every CSV file of the folder, so all splits share one column order.
Filenames are relative to the images folder; each may appear once per file.
Labels are separated by ``|``: a label containing ``;`` is rejected as a likely
wrong separator unless ``classes.txt`` lists it.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch

from envs.engine.data.cache import cached_dataset
from envs.engine.data.dataset import MLICDataset, without_ignores
from envs.engine.data.images import decode_images
from envs.engine.data.roots import not_found_error
from envs.errors import DatasetFormatError, DatasetNotFoundError

CSV_SPLIT_FILES: dict[str, str] = {
    "train": "train.csv", "val": "val.csv", "test": "test.csv", "all": "labels.csv",
}
"""Split name -> the CSV file that defines it."""

_LAYOUT = ("  <root>/ (or <root>/csv/) containing labels.csv (or train.csv/val.csv/test.csv) with\n"
           "    rows 'filename,label1|label2|...', the images in images/ (or beside the CSV),\n"
           "    and optionally classes.txt with one class name per line")
_HOW = "this is your own data: create the folder as above (see envs/engine/data/csvfolder.py)"

Row = tuple[str, list[str], int]  # filename, labels, line number

logger = logging.getLogger(__name__)


def csv_candidates(root: Path) -> list[Path]:
    """The folders checked for a CSV dataset, in order."""
    return [root, root / "csv"]


def find_csv_dir(root: Path) -> Path | None:
    """The first candidate holding ``labels.csv`` or ``train.csv``, else None."""
    for cand in csv_candidates(root):
        if (cand / "labels.csv").is_file() or (cand / "train.csv").is_file():
            return cand
    return None


def available_splits(csv_dir: Path) -> tuple[str, ...]:
    """The split names whose CSV file exists in ``csv_dir``."""
    return tuple(s for s, f in CSV_SPLIT_FILES.items() if (csv_dir / f).is_file())


def read_rows(path: Path) -> list[Row]:
    """The ``(filename, labels, line)`` rows of a label CSV (header and blank lines skipped)."""
    rows: list[Row] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                line = reader.line_num
                cells = [c.strip() for c in row]
                if not any(cells):
                    continue
                if not rows and line_is_header(cells):
                    continue
                if len(cells) > 2:
                    raise DatasetFormatError(
                        f"{path}, line {line}: expected 'filename,label1|label2|...', got "
                        f"{len(cells)} fields {row!r} (quote filenames that contain commas)")
                if not cells[0]:
                    raise DatasetFormatError(f"{path}, line {line}: empty filename")
                labels = [lab.strip() for lab in cells[1].split("|")] if len(cells) > 1 else []
                rows.append((cells[0], [lab for lab in labels if lab], line))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetFormatError(
            f"cannot read label file {path}: {exc}. It must be UTF-8 CSV text with rows "
            f"'filename,label1|label2|...'") from exc
    first_line: dict[str, int] = {}
    for filename, _, line in rows:
        if filename in first_line:
            raise DatasetFormatError(
                f"{path}, line {line}: {filename} is listed again (first on line "
                f"{first_line[filename]}); list each image once, with all its labels "
                f"joined by '|' (e.g. '{filename},cat|dog')")
        first_line[filename] = line
    return rows


def line_is_header(cells: list[str]) -> bool:
    """True for a ``filename,labels`` header row."""
    return cells[0].lower() == "filename" and (
        len(cells) < 2 or cells[1].lower() in ("labels", "label"))


def read_classes(csv_dir: Path) -> tuple[str, ...] | None:
    """The class order from ``classes.txt`` (None if there is no such file)."""
    path = csv_dir / "classes.txt"
    if not path.is_file():
        return None
    try:
        names = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"cannot read {path}: {exc}") from exc
    names = [n for n in names if n]
    if not names:
        raise DatasetFormatError(f"{path} lists no class names")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DatasetFormatError(f"{path}: class name {n!r} is listed twice")
        if "|" in n:
            raise DatasetFormatError(f"{path}: class name {n!r} contains '|', the label separator")
        seen.add(n)
    return tuple(names)


def class_names_for(csv_dir: Path) -> tuple[str, ...]:
    """``classes.txt`` if present, else the sorted union of labels over every CSV in the folder."""
    fixed = read_classes(csv_dir)
    if fixed is not None:
        return fixed
    union: set[str] = set()
    for split in available_splits(csv_dir):
        path = csv_dir / CSV_SPLIT_FILES[split]
        for filename, labels, line in read_rows(path):
            for lab in labels:
                if ";" in lab:
                    raise DatasetFormatError(
                        f"{path}, line {line} ({filename}): label {lab!r} contains ';' - labels "
                        f"are separated by '|' (write {'|'.join(lab.split(';'))!r}); if ';' "
                        f"really is part of a class name, list the classes in "
                        f"{csv_dir / 'classes.txt'}")
            union.update(labels)
    if not union:
        raise DatasetFormatError(
            f"the label files in {csv_dir} contain no labels at all (is the label column "
            f"missing?); rows must be 'filename,label1|label2|...'")
    return tuple(sorted(union))


def images_dir(csv_dir: Path) -> Path:
    """``<folder>/images`` if it exists, else the folder itself."""
    sub = csv_dir / "images"
    return sub if sub.is_dir() else csv_dir


def _build(csv_dir: Path, split: str, image_size: int,
           on_bad_image: str) -> tuple[MLICDataset, list[str]]:
    path = csv_dir / CSV_SPLIT_FILES[split]
    names = class_names_for(csv_dir)
    column = {n: j for j, n in enumerate(names)}
    rows = read_rows(path)
    if not rows:
        raise DatasetFormatError(
            f"label file {path} has no rows; add one row 'filename,label1|label2|...' per image")
    labels = np.zeros((len(rows), len(names)), dtype=np.uint8)
    for i, (filename, labs, line) in enumerate(rows):
        for lab in labs:
            if lab not in column:
                hint = (f" (labels are separated by '|', not ';')" if ";" in lab else "")
                raise DatasetFormatError(
                    f"{path}, line {line} ({filename}): unknown label {lab!r}{hint}; "
                    f"{csv_dir / 'classes.txt'} lists {', '.join(names)}: fix the row or add "
                    f"the class to classes.txt")
            labels[i, column[lab]] = 1
    empty = [r for r in rows if not r[1]]
    if len(empty) == len(rows):
        raise DatasetFormatError(
            f"label file {path}: none of its {len(rows)} rows has a label (is the label column "
            f"missing?); rows must be 'filename,label1|label2|...'")
    if empty:
        logger.warning("%s: %d of %d images have no label (e.g. %s, line %d); they are kept as "
                       "negatives for every class - give them labels or remove their rows",
                       path, len(empty), len(rows), empty[0][0], empty[0][2])
    base = images_dir(csv_dir)
    images, kept, skipped = decode_images([base / r[0] for r in rows], image_size,
                                          on_bad_image=on_bad_image,
                                          what=f"images of {path.name}")
    kept_labels = torch.from_numpy(labels[kept])
    ds = without_ignores(images, kept_labels, names, "csv", split)
    return ds, skipped


def load_csv(split: str, root: Path, origin: str, *, image_size: int, cache_dir: Path,
             on_bad_image: str = "error") -> MLICDataset:
    """Load the split defined by one CSV file (``train``/``val``/``test``/``all``), cached."""
    csv_dir = find_csv_dir(root)
    if csv_dir is None:
        looked = [c / f for c in csv_candidates(root) for f in ("labels.csv", "train.csv")]
        raise not_found_error("csv", root, origin, looked, _LAYOUT, _HOW)
    present = available_splits(csv_dir)
    if split not in present:
        raise DatasetNotFoundError(
            f"split {split!r} needs {csv_dir / CSV_SPLIT_FILES[split]}, which does not exist; "
            f"the splits present in {csv_dir} are {', '.join(present)} "
            f"('all' is labels.csv)")
    sources = [csv_dir / CSV_SPLIT_FILES[s] for s in present]
    if (csv_dir / "classes.txt").is_file():
        sources.append(csv_dir / "classes.txt")
    return cached_dataset(
        cache_dir=cache_dir, name="csv", split=split, image_size=image_size,
        source_files=sources, on_bad_image=on_bad_image,
        extra={"images_dir": str(images_dir(csv_dir).resolve())},
        build=lambda: _build(csv_dir, split, image_size, on_bad_image))
