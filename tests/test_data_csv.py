"""CSV-folder datasets: classes.txt order, label parsing, split files and bad rows."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks.quality import tiny_datasets as fd
from envs.engine.data import load_dataset, load_splits
from envs.errors import DatasetFormatError, DatasetNotFoundError

EXPECTED = [  # columns zebra, apple, mango (classes.txt order)
    [1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0], [0, 1, 1],
    [1, 1, 1], [0, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1],
]


def test_classes_txt_fixes_order_and_labels_exact(csv_root: Path, data_cache: Path) -> None:
    ds = load_dataset("csv", "all", data_root=csv_root, cache_dir=data_cache)
    assert ds.class_names == fd.CSV_CLASSES
    assert ds.labels[:10].tolist() == EXPECTED  # header skipped, empty field -> no positive
    assert len(ds) == 30 and ds.labels[10 + 5].tolist() == [1, 0, 1]  # filler x05: bits 0, 2
    assert (ds.name, ds.split) == ("csv", "all") and not ds.ignore.any()


def test_every_colour_mode_decodes_to_rgb(csv_root: Path, data_cache: Path) -> None:
    ds = load_dataset("mlic-csv", "all", data_root=csv_root, cache_dir=data_cache, image_size=24)
    assert ds.images.shape == (30, 3, 24, 24) and ds.images.dtype == torch.uint8
    for i, (_, _, colour, mode, _) in enumerate(fd.CSV_ROWS):  # RGB, RGBA png, L, P png
        mean = ds.images[i].float().mean(dim=(1, 2))
        assert torch.allclose(mean, torch.tensor(colour, dtype=torch.float), atol=4), (mode, mean)


def test_no_header_row(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv(tmp_path / "d", header=False)
    ds = load_dataset("csv", "all", data_root=root, cache_dir=data_cache)
    assert ds.labels[:10].tolist() == EXPECTED


def test_split_files_and_sorted_union_of_classes(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv_splits(tmp_path / "d")
    train = load_dataset("csv", "train", data_root=root, cache_dir=data_cache)
    test = load_dataset("csv", "test", data_root=root, cache_dir=data_cache)
    assert train.class_names == test.class_names == ("apple", "mango", "zebra")
    assert train.labels.tolist() == [
        [1, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 1], [1, 1, 0], [1, 1, 1]]
    assert test.labels.tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(DatasetNotFoundError, match="labels.csv"):
        load_dataset("csv", "all", data_root=root, cache_dir=data_cache)
    splits = load_splits("mlic-csv", data_root=root, cache_dir=data_cache)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 2, 2)


def test_csv_subfolder_and_held_out_val(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv_splits(tmp_path / "data" / "csv", with_val=False)
    splits = load_splits("csv", data_root=tmp_path / "data", cache_dir=data_cache,
                         val_fraction=0.34)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (4, 2, 2)
    assert splits.val.split == "val"
    assert (root / "train.csv").is_file()


def test_labels_csv_split_70_15_15(csv_root: Path, data_cache: Path) -> None:
    splits = load_splits("csv", data_root=csv_root, cache_dir=data_cache)
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    assert sizes == (22, 4, 4)  # 30 rows; round(4.5) = 4 for val and test
    full = load_dataset("csv", "all", data_root=csv_root, cache_dir=data_cache)
    rows = splits.train.labels.tolist() + splits.val.labels.tolist() + splits.test.labels.tolist()
    assert sorted(rows) == sorted(full.labels.tolist())
    pixels = torch.cat([splits.train.images, splits.val.images, splits.test.images]).flatten(1)
    assert len({bytes(p.numpy()) for p in pixels}) == 30  # disjoint, all images used
    again = load_splits("csv", data_root=csv_root, cache_dir=data_cache)
    assert torch.equal(again.test.images, splits.test.images)


def test_unknown_label_names_row_label_and_file(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv(tmp_path / "d")
    path = root / "labels.csv"
    path.write_text(path.read_text() + "k.jpg,apple|kiwi\n")
    fd.save_image(root / "images" / "k.jpg", (1, 2, 3))
    with pytest.raises(DatasetFormatError) as info:
        load_dataset("csv", "all", data_root=root, cache_dir=data_cache)
    msg = str(info.value)
    assert "'kiwi'" in msg and "line 32" in msg and str(path) in msg and "k.jpg" in msg


def test_missing_image_is_named(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv(tmp_path / "d")
    (root / "images" / "e.png").unlink()
    with pytest.raises(DatasetNotFoundError, match="e.png"):
        load_dataset("csv", "all", data_root=root, cache_dir=data_cache)


def test_too_many_fields_and_duplicate_class(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_csv(tmp_path / "d")
    (root / "labels.csv").write_text("a.jpg,apple,zebra\n")
    with pytest.raises(DatasetFormatError, match="line 1"):
        load_dataset("csv", "all", data_root=root, cache_dir=data_cache)
    (root / "classes.txt").write_text("apple\nzebra\napple\n")
    with pytest.raises(DatasetFormatError, match="classes.txt"):
        load_dataset("csv", "all", data_root=root, cache_dir=data_cache)


def test_missing_csv_dataset(tmp_path: Path, data_cache: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("csv", "all", data_root=tmp_path, cache_dir=data_cache)
    msg = str(info.value)
    assert str(tmp_path / "labels.csv") in msg and str(tmp_path / "csv" / "labels.csv") in msg
    assert "mlic-digits" in msg
