"""Downloading and safely extracting dataset archives (PASCAL VOC 2007).

Like torchvision: each archive is fetched with ``urllib`` to a temporary
``.part`` file, its MD5 is checked against the published value, and only then is
it renamed into place. Extraction uses ``tarfile``'s ``filter="data"`` (no
absolute paths, no ``..``, no device files, no links out of the tree) into a
temporary folder inside the root, whose contents are then moved into the root,
so an interrupted extraction never leaves a half-populated dataset tree behind.
The resource list is a parameter, so tests (or mirrors) can pass their own URLs,
``file://`` included.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from envs.errors import DatasetFormatError, DatasetNotFoundError

logger = logging.getLogger(__name__)

VOC2007_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Resource:
    """One archive to fetch."""

    url: str
    """Where to fetch it (``http(s)://`` or ``file://``)."""
    md5: str
    """Expected MD5 hex digest of the archive."""
    filename: str
    """Name the archive is saved under in the root."""


VOC2007_TRAINVAL = Resource(VOC2007_URL + "VOCtrainval_06-Nov-2007.tar",
                            "c52e279531787c972589f7e41ab4ae64", "VOCtrainval_06-Nov-2007.tar")
VOC2007_TEST = Resource(VOC2007_URL + "VOCtest_06-Nov-2007.tar",
                        "b6e924de25625d8de591ea690078ad9f", "VOCtest_06-Nov-2007.tar")
VOC2007_RESOURCES: tuple[Resource, ...] = (VOC2007_TRAINVAL, VOC2007_TEST)


def md5_of(path: str | os.PathLike[str]) -> str:
    """MD5 hex digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(resource: Resource, root: Path, *, timeout: float = 60.0) -> Path:
    """Download ``resource`` into ``root`` and verify it (a copy with the right MD5 is reused).

    Raises :class:`DatasetNotFoundError` if the URL cannot be read or the MD5 does
    not match; in both cases nothing is left behind under ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    target = root / resource.filename
    if target.is_file():
        if md5_of(target) == resource.md5:
            logger.info("using existing archive %s", target)
            return target
        logger.warning("existing archive %s has the wrong MD5; downloading it again", target)
    fd, part_name = tempfile.mkstemp(prefix=f".{resource.filename}.", suffix=".part", dir=root)
    part = Path(part_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        logger.info("downloading %s", resource.url)
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(resource.url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0)
                    done, next_report = 0, 0.1
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if total and done / total >= next_report:
                            logger.info("  %s: %d%% of %d MB", resource.filename,
                                        int(100 * done / total), total >> 20)
                            next_report += 0.1
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DatasetNotFoundError(
                    f"could not download {resource.url}: {exc}. Check the network, or download "
                    f"{resource.filename} yourself from {resource.url}, extract it under {root} "
                    f"and retry without download=True (run_marl: --download)") from exc
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != resource.md5:
            raise DatasetNotFoundError(
                f"downloaded {resource.url} but its MD5 is {got}, expected {resource.md5}: the "
                f"download is corrupt or the server sent something else (e.g. an error page). "
                f"The partial file was removed; retry, or download it by hand into {root}")
        os.replace(part, target)
    finally:
        if part.exists():
            part.unlink()
    return target


def extract_tar(archive: Path, root: Path) -> None:
    """Extract ``archive`` into ``root`` safely (``filter="data"``) and all-or-nothing."""
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive.name}.", dir=root))
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DatasetFormatError(
                f"cannot extract {archive}: {exc}. Delete it and download it again") from exc
        _merge_tree(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _merge_tree(src: Path, dst: Path) -> None:
    """Move every file under ``src`` to the same relative place under ``dst``."""
    for dirpath, _dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            os.replace(Path(dirpath) / name, dst / rel / name)


def download_and_extract(resources: Sequence[Resource], root: str | os.PathLike[str], *,
                         timeout: float = 60.0) -> None:
    """Fetch, verify and extract each resource into ``root`` (skipping already extracted ones)."""
    root_path = Path(root).expanduser()
    root_path.mkdir(parents=True, exist_ok=True)
    for resource in resources:
        marker = root_path / f".{resource.filename}.extracted"
        archive = root_path / resource.filename
        if marker.is_file() and archive.is_file() and marker.read_text().strip() == resource.md5:
            logger.info("%s already extracted under %s", resource.filename, root_path)
            continue
        archive = fetch(resource, root_path, timeout=timeout)
        logger.info("extracting %s into %s", archive, root_path)
        extract_tar(archive, root_path)
        marker.write_text(resource.md5 + "\n")


def download_voc(root: str | os.PathLike[str],
                 resources: Sequence[Resource] = VOC2007_RESOURCES, *,
                 timeout: float = 60.0) -> Path:
    """Download PASCAL VOC 2007 into ``root``; returns ``root/VOCdevkit/VOC2007``.

    ``resources`` defaults to the official trainval and test archives with their
    published MD5s; pass others (a mirror, a ``file://`` URL) to override.
    """
    root_path = Path(root).expanduser()
    download_and_extract(resources, root_path, timeout=timeout)
    voc = root_path / "VOCdevkit" / "VOC2007"
    if not (voc / "Annotations").is_dir():
        raise DatasetFormatError(
            f"the downloaded archives did not produce {voc}/Annotations; check the resource URLs")
    return voc
