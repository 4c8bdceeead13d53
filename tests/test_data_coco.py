"""MS-COCO 2014 loading: category-id mapping, dropped images, layouts and malformed json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.quality import tiny_datasets as fd
from envs.engine.data import load_dataset, load_splits
from envs.errors import ConfigError, DatasetFormatError, DatasetNotFoundError


def test_category_ids_map_to_ascending_columns(coco_root: Path, data_cache: Path) -> None:
    ds = load_dataset("coco", "train", data_root=coco_root, cache_dir=data_cache)
    # ids 1, 3, 90 (listed as 90, 1, 3 in the json) -> columns 0, 1, 2
    assert ds.class_names == ("person", "car", "toothbrush")
    assert (ds.name, ds.split, ds.num_classes) == ("coco", "train", 3)


def test_labels_exact_and_unannotated_image_dropped(coco_root: Path, data_cache: Path) -> None:
    ds = load_dataset("coco", "train", data_root=coco_root, cache_dir=data_cache)
    # image ids ascending: 7 (car), 13 (toothbrush, car), 20 (person), 42 (person x2, toothbrush);
    # 99 has no annotation and is dropped
    assert ds.labels[:4].tolist() == [[0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]]
    assert len(ds) == len(fd.COCO_IMAGES["train"]) - 1 and not ds.ignore.any()
    assert ds.labels[4].tolist() == [1, 1, 0]  # filler image 100: ids 3 and 1
    colours = {img_id: colour for img_id, _, colour, _ in fd.COCO_IMAGES["train"]}
    for row, img_id in enumerate([7, 13, 20, 42]):
        mean = ds.images[row].float().mean(dim=(1, 2))
        assert torch.allclose(mean, torch.tensor(colours[img_id], dtype=torch.float), atol=4)
    assert ds.subset(range(4)).positive_counts().tolist() == [2, 2, 2]


def test_val_split(coco_root: Path, data_cache: Path) -> None:
    ds = load_dataset("mlic-coco", "val", data_root=coco_root, cache_dir=data_cache, image_size=32)
    assert ds.labels[:2].tolist() == [[1, 1, 0], [0, 0, 1]]
    assert ds.images.shape == (18, 3, 32, 32)


@pytest.mark.parametrize("layout", ["json_in_root", "coco_subfolder"])
def test_accepted_layouts(tmp_path: Path, data_cache: Path, layout: str) -> None:
    if layout == "json_in_root":
        root = fd.write_coco(tmp_path / "c", json_in_annotations=False)
        data_root = root
    else:
        fd.write_coco(tmp_path / "data" / "coco")
        data_root = tmp_path / "data"
    ds = load_dataset("coco", "train", data_root=data_root, cache_dir=data_cache)
    assert ds.labels[:4].tolist() == [[0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1]]


def test_load_splits_uses_val2014_as_test(coco_root: Path, data_cache: Path) -> None:
    splits = load_splits("coco", data_root=coco_root, cache_dir=data_cache, val_fraction=0.2)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 7, 18)
    assert splits.test.split == "test"
    assert splits.test.labels[:2].tolist() == [[1, 1, 0], [0, 0, 1]]
    full = load_dataset("coco", "train", data_root=coco_root, cache_dir=data_cache)
    rows = sorted(splits.train.labels.tolist() + splits.val.labels.tolist())
    assert rows == sorted(full.labels.tolist())
    with pytest.raises(ConfigError, match="download"):
        load_splits("coco", data_root=coco_root, cache_dir=data_cache, download=True)


def _break_json(root: Path, edit) -> Path:
    path = root / "annotations" / "instances_train2014.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("key,edit", [
    ("images", lambda d: d.pop("images")),
    ("annotations", lambda d: d.pop("annotations")),
    ("categories", lambda d: d.pop("categories")),
    ("id", lambda d: d["images"][1].pop("id")),
    ("file_name", lambda d: d["images"][0].pop("file_name")),
    ("category_id", lambda d: d["annotations"][2].pop("category_id")),
    ("image_id", lambda d: d["annotations"][0].pop("image_id")),
    ("id", lambda d: d["categories"][0].pop("id")),
])
def test_missing_json_key_names_file_and_key(tmp_path: Path, data_cache: Path, key: str,
                                             edit) -> None:
    root = fd.write_coco(tmp_path / "c", images=False)
    path = _break_json(root, edit)
    with pytest.raises(DatasetFormatError) as info:
        load_dataset("coco", "train", data_root=root, cache_dir=data_cache)
    assert str(path) in str(info.value) and repr(key) in str(info.value)


def test_unknown_category_and_image_ids(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_coco(tmp_path / "c", images=False)
    _break_json(root, lambda d: d["annotations"][0].update(category_id=2))
    with pytest.raises(DatasetFormatError, match="category_id 2"):
        load_dataset("coco", "train", data_root=root, cache_dir=data_cache)
    _break_json(root, lambda d: d["annotations"][0].update(category_id=1, image_id=12345))
    with pytest.raises(DatasetFormatError, match="12345"):
        load_dataset("coco", "train", data_root=root, cache_dir=data_cache)


def test_malformed_json(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_coco(tmp_path / "c", images=False)
    path = root / "annotations" / "instances_val2014.json"
    path.write_text(path.read_text()[:50])
    with pytest.raises(DatasetFormatError, match="instances_val2014.json"):
        load_dataset("coco", "val", data_root=root, cache_dir=data_cache)


def test_missing_image_is_named(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_coco(tmp_path / "c")
    (root / "train2014" / "COCO_train2014_000000000013.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="COCO_train2014_000000000013.jpg"):
        load_dataset("coco", "train", data_root=root, cache_dir=data_cache)


def test_missing_coco_names_paths_and_digits(tmp_path: Path, data_cache: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("coco", "val", data_root=tmp_path, cache_dir=data_cache)
    msg = str(info.value)
    for path in (tmp_path / "annotations" / "instances_val2014.json",
                 tmp_path / "coco" / "annotations" / "instances_val2014.json",
                 tmp_path / "instances_val2014.json"):
        assert str(path) in msg
    assert "mlic-digits" in msg and "cocodataset.org" in msg
