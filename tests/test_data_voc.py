"""PASCAL VOC 2007 loading: labels, difficult -> ignore, layouts, splits and bad inputs."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from benchmarks.quality import tiny_datasets as fd
from envs.engine.data import DATASET_NAMES, MLICDataset, load_dataset, load_splits
from envs.engine.data.voc import VOC_CLASSES
from envs.errors import (ConfigError, CorruptImageError, DatasetFormatError, DatasetNotFoundError,
                         UnknownEnvError)


def _row(ds: MLICDataset, i: int) -> dict[str, str]:
    """Class name -> '+' (positive) / '?' (ignored) for image i."""
    out = {}
    for k, name in enumerate(ds.class_names):
        if ds.ignore[i, k]:
            out[name] = "?"
        elif ds.labels[i, k]:
            out[name] = "+"
    return out


def test_trainval_labels_and_ignore_exact(voc_root: Path, data_cache: Path) -> None:
    ds = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache)
    assert ds.class_names == VOC_CLASSES
    assert ds.class_names[0] == "aeroplane" and ds.class_names[-1] == "tvmonitor"
    assert (ds.name, ds.split, len(ds), ds.num_classes) == ("voc", "trainval", 26, 20)
    assert [_row(ds, i) for i in range(6)] == [  # the hand-written images come first
        {"dog": "+", "person": "+"},
        {"cat": "+"},                        # easy + difficult cat -> positive
        {"bicycle": "+", "car": "?"},        # difficult-only car -> ignored
        {"aeroplane": "+", "tvmonitor": "+"},
        {"chair": "?", "sofa": "+"},
        {"bird": "+"},
    ]
    assert ds.labels.dtype == torch.uint8 and ds.ignore.dtype == torch.bool
    assert int(ds.ignore.sum()) == 2  # the filler images have no difficult objects
    assert _row(ds, 6) == {"diningtable": "+"}  # filler 000010: class 70 % 20
    assert _row(ds, 7) == {"sofa": "+", "bottle": "+"}  # filler 000011: 77 % 20, 124 % 20


def test_positive_counts_exclude_ignored(voc_root: Path, data_cache: Path) -> None:
    ds = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache).subset(range(6))
    counts = ds.positive_counts()
    assert counts.dtype == torch.int64 and counts.shape == (20,)
    idx = {c: i for i, c in enumerate(VOC_CLASSES)}
    assert counts[idx["car"]] == 0 and counts[idx["chair"]] == 0
    assert counts[idx["cat"]] == 1 and int(counts.sum()) == 8


def test_test_split_and_ids_in_file_order(voc_root: Path, data_cache: Path) -> None:
    ds = load_dataset("mlic-voc", "test", data_root=voc_root, cache_dir=data_cache)
    assert len(ds) == 13 and [_row(ds, i) for i in range(3)] == [
        {"horse": "+"}, {"sheep": "+", "cow": "?"}, {"boat": "+"}]
    train = load_dataset("voc", "train", data_root=voc_root, cache_dir=data_cache)
    val = load_dataset("voc", "val", data_root=voc_root, cache_dir=data_cache)
    assert (len(train), len(val)) == (18, 8)
    assert _row(val, 1) == {"bird": "+"}


def test_images_decoded_in_label_order_all_modes(voc_root: Path, data_cache: Path) -> None:
    ds = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache, image_size=40)
    assert ds.images.shape == (26, 3, 40, 40) and ds.images.dtype == torch.uint8
    assert ds.images.is_contiguous() and ds.image_size == 40
    for i, image_id in enumerate(fd.VOC_SPLITS["trainval"]):
        mean = ds.images[i].float().mean(dim=(1, 2))
        want = torch.tensor(fd.VOC_COLOURS[image_id], dtype=torch.float)
        assert torch.allclose(mean, want, atol=4), (image_id, mean)
    gray = ds.images[1].float()  # 000002 is a grayscale JPEG
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


@pytest.mark.parametrize("layout", ["voc2007_itself", "contains_voc2007", "contains_vocdevkit"])
def test_accepted_layouts(voc_root: Path, data_cache: Path, tmp_path: Path, layout: str) -> None:
    voc = fd.voc_dir(voc_root)
    if layout == "voc2007_itself":
        root = voc
    elif layout == "contains_voc2007":
        root = tmp_path / "data"
        root.mkdir()
        (root / "VOC2007").symlink_to(voc, target_is_directory=True)
    else:
        root = voc_root
    ds = load_dataset("voc", "val", data_root=root, cache_dir=data_cache)
    assert len(ds) == 8 and _row(ds, 0) == {"chair": "?", "sofa": "+"}


def test_data_root_from_env_var(voc_root: Path, data_cache: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLIC_DATA_ROOT", str(voc_root))
    assert len(load_dataset("voc", "test", cache_dir=data_cache)) == 13


def test_load_splits_holds_out_a_fixed_val_slice(voc_root: Path, data_cache: Path) -> None:
    splits = load_splits("voc", data_root=voc_root, cache_dir=data_cache, val_fraction=0.34)
    assert splits.train.image_size == 64  # default for VOC
    assert (len(splits.train), len(splits.val), len(splits.test)) == (17, 9, 13)
    assert (splits.train.split, splits.val.split, splits.test.split) == ("train", "val", "test")
    trainval = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache)
    both = torch.cat([splits.train.images, splits.val.images])
    # the two parts are disjoint and together give trainval
    def rows(t: torch.Tensor) -> list[bytes]:
        return sorted(bytes(r) for r in t.flatten(1).numpy())
    assert rows(both) == rows(trainval.images)
    again = load_splits("voc", data_root=voc_root, cache_dir=data_cache, val_fraction=0.34)
    assert torch.equal(again.val.images, splits.val.images)
    small = load_splits("voc", data_root=voc_root, cache_dir=data_cache, val_fraction=0.34,
                        max_train_images=2)
    assert len(small.train) == 2 and torch.equal(small.val.labels, splits.val.labels)


def test_subset_and_dataset_validation(voc_root: Path, data_cache: Path) -> None:
    ds = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache)
    sub = ds.subset([4, 0])
    assert len(sub) == 2 and torch.equal(sub.labels[1], ds.labels[0]) and sub.split == "trainval"
    assert torch.equal(sub.ignore[0], ds.ignore[4]) and sub.images.is_contiguous()
    assert len(ds.subset(torch.tensor([1, 2, 3]), split="val")) == 3
    with pytest.raises(IndexError):
        ds.subset([len(ds)])
    with pytest.raises(DatasetFormatError):
        MLICDataset(images=ds.images, labels=ds.labels, ignore=ds.labels.bool() | True,
                    class_names=ds.class_names, name="voc", split="x")
    with pytest.raises(DatasetFormatError):
        MLICDataset(images=ds.images.float(), labels=ds.labels, ignore=ds.ignore,
                    class_names=ds.class_names, name="voc", split="x")


def test_missing_root_names_paths_layout_and_digits(tmp_path: Path, data_cache: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("voc", "trainval", data_root=root, cache_dir=data_cache)
    msg = str(info.value)
    for path in (root, root / "VOC2007", root / "VOCdevkit" / "VOC2007"):
        assert str(path) in msg
    assert "mlic-digits" in msg and "download=True" in msg and "host.robots.ox.ac.uk" in msg
    assert "JPEGImages" in msg and "Annotations" in msg


def test_unknown_names_and_options(voc_root: Path, data_cache: Path) -> None:
    with pytest.raises(UnknownEnvError, match="voc"):
        load_dataset("imagenet", "train")
    with pytest.raises(ConfigError, match="trainval"):
        load_dataset("voc", "validation", data_root=voc_root, cache_dir=data_cache)
    with pytest.raises(ConfigError, match="on_bad_image"):
        load_dataset("voc", "val", data_root=voc_root, cache_dir=data_cache, on_bad_image="ignore")
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("voc", "val", data_root=voc_root, cache_dir=data_cache, image_size=0)
    assert DATASET_NAMES == ("coco", "csv", "digits", "mnist", "shapes", "voc")


# ---------------------------------------------------------------- broken trees

@pytest.fixture()
def fresh_voc(tmp_path: Path) -> Path:
    return fd.write_voc(tmp_path / "data")


def test_malformed_xml(fresh_voc: Path, data_cache: Path) -> None:
    bad = fd.voc_dir(fresh_voc) / "Annotations" / "000003.xml"
    bad.write_text(bad.read_text()[:-30])
    with pytest.raises(DatasetFormatError, match="000003.xml"):
        load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache)


def test_unknown_class_names_file_and_value(fresh_voc: Path, data_cache: Path) -> None:
    (fd.voc_dir(fresh_voc) / "Annotations" / "000002.xml").write_text(
        fd.voc_xml("000002", [("cat", 0), ("unicorn", 0)]))
    with pytest.raises(DatasetFormatError) as info:
        load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache)
    assert "000002.xml" in str(info.value) and "unicorn" in str(info.value)


def test_bad_difficult_value(fresh_voc: Path, data_cache: Path) -> None:
    (fd.voc_dir(fresh_voc) / "Annotations" / "000001.xml").write_text(
        fd.voc_xml("000001", [("dog", 0)]).replace("<difficult>0", "<difficult>yes"))
    with pytest.raises(DatasetFormatError, match="'yes'"):
        load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache)


def test_missing_and_empty_split_files(fresh_voc: Path, data_cache: Path) -> None:
    main = fd.voc_dir(fresh_voc) / "ImageSets" / "Main"
    (main / "test.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="test.txt"):
        load_dataset("voc", "test", data_root=fresh_voc, cache_dir=data_cache)
    (main / "val.txt").write_text("\n\n")
    with pytest.raises(DatasetFormatError, match="val.txt"):
        load_dataset("voc", "val", data_root=fresh_voc, cache_dir=data_cache)


def test_missing_annotation_for_listed_id(fresh_voc: Path, data_cache: Path) -> None:
    (fd.voc_dir(fresh_voc) / "Annotations" / "000004.xml").unlink()
    with pytest.raises(DatasetNotFoundError, match="000004.xml"):
        load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache)


@pytest.mark.parametrize("damage", ["truncated", "zero_bytes", "garbage"])
def test_corrupt_image_raises_naming_file_and_fix(fresh_voc: Path, data_cache: Path,
                                                  damage: str) -> None:
    path = fd.voc_dir(fresh_voc) / "JPEGImages" / "000003.jpg"
    if damage == "truncated":
        fd.save_noise_jpeg(path)
        fd.truncate(path)
    elif damage == "zero_bytes":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"this is not an image" * 20)
    with pytest.raises(CorruptImageError) as info:
        load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache)
    msg = str(info.value)
    assert str(path) in msg and "on_bad_image='skip'" in msg and "re-download" in msg
    assert damage != "zero_bytes" or "empty (0 bytes)" in msg
    assert not list(data_cache.glob("*.pt"))  # nothing cached on failure


def test_skip_drops_bad_images_with_one_warning(fresh_voc: Path, data_cache: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    images = fd.voc_dir(fresh_voc) / "JPEGImages"
    (images / "000003.jpg").write_bytes(b"")
    fd.save_noise_jpeg(images / "000001.jpg")
    fd.truncate(images / "000001.jpg")
    with caplog.at_level(logging.WARNING, logger="envs.engine.data"):
        ds = load_dataset("voc", "train", data_root=fresh_voc, cache_dir=data_cache,
                          on_bad_image="skip")
    assert len(ds) == 16 and [_row(ds, i) for i in range(2)] == [
        {"cat": "+"}, {"aeroplane": "+", "tvmonitor": "+"}]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 " in warnings[0].getMessage()


def test_missing_image_file(fresh_voc: Path, data_cache: Path) -> None:
    (fd.voc_dir(fresh_voc) / "JPEGImages" / "000006.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="000006.jpg"):
        load_dataset("voc", "val", data_root=fresh_voc, cache_dir=data_cache)
    ds = load_dataset("voc", "val", data_root=fresh_voc, cache_dir=data_cache, on_bad_image="skip")
    assert len(ds) == 7


def test_png_bytes_in_jpg_file_decode(tmp_path: Path, data_cache: Path) -> None:
    root = fd.write_voc(tmp_path / "data")
    path = fd.voc_dir(root) / "JPEGImages" / "000005.jpg"
    fd.save_image(path, (5, 250, 5), fmt="PNG")
    assert path.read_bytes()[:4] == b"\x89PNG"
    ds = load_dataset("voc", "val", data_root=root, cache_dir=data_cache)
    assert ds.images[0, 1].float().mean() > 240


def test_thread_pool_decoding_keeps_order_and_raises(voc_root: Path, tmp_path: Path) -> None:
    from envs.engine.data.images import decode_images
    ids = fd.VOC_SPLITS["trainval"]
    paths = [fd.voc_dir(voc_root) / "JPEGImages" / f"{ids[i % len(ids)]}.jpg" for i in range(100)]
    serial, _, _ = decode_images(paths, 16, num_workers=1)
    pooled, kept, skipped = decode_images(paths, 16, num_workers=2)
    assert torch.equal(serial, pooled) and kept.all() and skipped == []
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(CorruptImageError, match="bad.jpg"):
        decode_images(paths[:70] + [bad] + paths[70:], 16, num_workers=2)
    images, kept, skipped = decode_images(paths[:70] + [bad] + paths[70:], 16, num_workers=2,
                                          on_bad_image="skip")
    assert torch.equal(images, serial) and not kept[70] and skipped == [str(bad)]
