"""VOC download: injectable resource list (file:// here), MD5 check, safe extraction."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import torch

from benchmarks.quality import tiny_datasets as fd
from envs.engine.data import Resource, download_voc, load_dataset
from envs.engine.data import download as dl
from envs.engine.data import voc as voc_mod
from envs.errors import DatasetFormatError, DatasetNotFoundError


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture()
def voc_tar(voc_root: Path, tmp_path: Path) -> Resource:
    """The VOC fixture packed like the official archive, as a file:// resource."""
    served = tmp_path / "server"
    served.mkdir()
    tar = fd.make_tar(served / "VOCtrainval_06-Nov-2007.tar", voc_root / "VOCdevkit", "VOCdevkit")
    return Resource(tar.as_uri(), _md5(tar), "VOCtrainval_06-Nov-2007.tar")


def test_official_resources() -> None:
    urls = {r.url for r in dl.VOC2007_RESOURCES}
    assert urls == {"http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar",
                    "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar"}
    assert {r.md5 for r in dl.VOC2007_RESOURCES} == {"c52e279531787c972589f7e41ab4ae64",
                                                    "b6e924de25625d8de591ea690078ad9f"}


def test_download_verify_extract_then_load(voc_tar: Resource, voc_root: Path, tmp_path: Path,
                                           data_cache: Path) -> None:
    root = tmp_path / "data"
    voc = download_voc(root, resources=(voc_tar,))
    assert voc == root / "VOCdevkit" / "VOC2007" and (voc / "Annotations" / "000001.xml").is_file()
    assert (root / voc_tar.filename).is_file()  # archive kept, like torchvision
    assert not [p for p in root.iterdir() if p.name.startswith(".extract") or p.suffix == ".part"]
    got = load_dataset("voc", "trainval", data_root=root, cache_dir=data_cache)
    want = load_dataset("voc", "trainval", data_root=voc_root, cache_dir=data_cache)
    assert torch.equal(got.images, want.images) and torch.equal(got.ignore, want.ignore)


def test_second_call_reuses_extracted_archive(voc_tar: Resource, tmp_path: Path) -> None:
    root = tmp_path / "data"
    download_voc(root, resources=(voc_tar,))
    offline = Resource((tmp_path / "gone.tar").as_uri(), voc_tar.md5, voc_tar.filename)
    assert download_voc(root, resources=(offline,)).is_dir()  # no fetch needed


def test_existing_archive_with_right_md5_is_not_fetched_again(voc_tar: Resource,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / voc_tar.filename).write_bytes(Path(voc_tar.url[len("file://"):]).read_bytes())
    offline = Resource((tmp_path / "gone.tar").as_uri(), voc_tar.md5, voc_tar.filename)
    assert (download_voc(root, resources=(offline,)) / "JPEGImages" / "000009.jpg").is_file()


def test_wrong_md5_raises_and_leaves_nothing(voc_tar: Resource, tmp_path: Path) -> None:
    root = tmp_path / "data"
    bad = Resource(voc_tar.url, "0" * 32, voc_tar.filename)
    with pytest.raises(DatasetNotFoundError) as info:
        download_voc(root, resources=(bad,))
    msg = str(info.value)
    assert "MD5" in msg and "0" * 32 in msg and voc_tar.md5 in msg and voc_tar.url in msg
    assert list(root.iterdir()) == []


def test_unreachable_url_raises_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    missing = Resource((tmp_path / "nope.tar").as_uri(), "0" * 32, "nope.tar")
    with pytest.raises(DatasetNotFoundError, match="could not download"):
        download_voc(root, resources=(missing,))
    assert list(root.iterdir()) == []


def test_unsafe_archive_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    root = tmp_path / "data"
    with pytest.raises(DatasetFormatError, match="evil.tar"):
        download_voc(root, resources=(Resource(archive.as_uri(), _md5(archive), "evil.tar"),))
    assert not (tmp_path / "escaped.txt").exists()
    assert [p.name for p in root.iterdir()] == ["evil.tar"]  # no half-extracted tree


def test_load_dataset_download_flag_uses_resource_list(voc_tar: Resource, tmp_path: Path,
                                                       data_cache: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(voc_mod.VOC_RESOURCES_BY_SPLIT, "val", (voc_tar,))
    root = tmp_path / "fresh"
    with pytest.raises(DatasetNotFoundError):
        load_dataset("voc", "val", data_root=root, cache_dir=data_cache)
    ds = load_dataset("voc", "val", data_root=root, cache_dir=data_cache, download=True)
    assert len(ds) == 8 and (root / "VOCdevkit" / "VOC2007").is_dir()
