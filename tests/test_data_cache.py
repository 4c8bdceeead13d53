"""The decoded-tensor cache: hits skip decoding, keys track the sources, bad files are rebuilt."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

from benchmarks.quality import tiny_datasets as fd
from envs.engine.data import default_cache_dir, load_dataset
from envs.engine.data import cache as cache_mod
from envs.errors import CorruptImageError


@pytest.fixture()
def voc_copy(voc_root: Path, tmp_path: Path) -> Path:
    """A private copy of the VOC fixture that a test may damage."""
    return Path(shutil.copytree(voc_root, tmp_path / "voc"))


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.pt"))


def test_second_load_reads_cache_not_images(voc_copy: Path, data_cache: Path) -> None:
    first = load_dataset("voc", "trainval", data_root=voc_copy, cache_dir=data_cache)
    files = _cache_files(data_cache)
    assert len(files) == 1 and files[0].name.startswith("voc-trainval-64px-")
    shutil.rmtree(fd.voc_dir(voc_copy) / "JPEGImages")
    second = load_dataset("voc", "trainval", data_root=voc_copy, cache_dir=data_cache)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert torch.equal(first.ignore, second.ignore) and first.class_names == second.class_names
    assert not [p for p in data_cache.iterdir() if p.suffix != ".pt"]  # no temp files left


def test_key_covers_split_and_size(voc_copy: Path, data_cache: Path) -> None:
    load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)
    load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache, image_size=32)
    load_dataset("voc", "train", data_root=voc_copy, cache_dir=data_cache)
    assert len(_cache_files(data_cache)) == 3


def test_changed_annotation_invalidates_cache(voc_copy: Path, data_cache: Path) -> None:
    load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)
    xml = fd.voc_dir(voc_copy) / "Annotations" / "000006.xml"
    xml.write_text(fd.voc_xml("000006", [("bird", 0), ("dog", 0)]))
    st = xml.stat()
    os.utime(xml, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    ds = load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)
    assert ds.labels[1, ds.class_names.index("dog")] == 1  # rebuilt from the new annotation
    assert len(_cache_files(data_cache)) == 2


def test_changed_split_file_invalidates_cache(voc_copy: Path, data_cache: Path) -> None:
    load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)
    (fd.voc_dir(voc_copy) / "ImageSets" / "Main" / "val.txt").write_text("000006\n")
    assert len(load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong_payload"])
def test_unreadable_cache_file_is_rebuilt_with_warning(voc_copy: Path, data_cache: Path,
                                                       damage: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    good = load_dataset("voc", "test", data_root=voc_copy, cache_dir=data_cache)
    (path,) = _cache_files(data_cache)
    if damage == "garbage":
        path.write_bytes(b"not a torch file" * 100)
    elif damage == "truncated":
        fd.truncate(path)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"format_version": cache_mod.FORMAT_VERSION, "images": torch.zeros(3)}, path)
    with caplog.at_level(logging.WARNING, logger="envs.engine.data"):
        again = load_dataset("voc", "test", data_root=voc_copy, cache_dir=data_cache)
    assert torch.equal(again.images, good.images) and torch.equal(again.labels, good.labels)
    messages = [r.getMessage() for r in caplog.records]
    assert any("rebuilding" in m and str(path) in m for m in messages)
    assert cache_mod.load_payload(path, cache_mod.validate_dataset_payload) is not None  # rewritten


def test_skip_built_cache_still_raises_under_error(voc_copy: Path, data_cache: Path) -> None:
    bad = fd.voc_dir(voc_copy) / "JPEGImages" / "000007.jpg"
    bad.write_bytes(b"")
    assert len(load_dataset("voc", "test", data_root=voc_copy, cache_dir=data_cache,
                            on_bad_image="skip")) == 12
    with pytest.raises(CorruptImageError, match="000007.jpg"):
        load_dataset("voc", "test", data_root=voc_copy, cache_dir=data_cache)


def test_failed_write_leaves_nothing_and_still_returns(voc_copy: Path, data_cache: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    def broken_save(obj, f) -> None:
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.torch, "save", broken_save)
    with caplog.at_level(logging.WARNING, logger="envs.engine.data"):
        ds = load_dataset("voc", "val", data_root=voc_copy, cache_dir=data_cache)
    assert len(ds) == 8
    assert list(data_cache.iterdir()) == []  # neither a final nor a temporary file
    assert any("disk full" in r.getMessage() for r in caplog.records)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLIC_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MLIC_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "mlic-marl"


def test_cache_dir_from_env_is_used(voc_copy: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLIC_CACHE_DIR", str(tmp_path / "envcache"))
    load_dataset("voc", "val", data_root=voc_copy)
    assert len(list((tmp_path / "envcache").glob("voc-val-64px-*.pt"))) == 1
