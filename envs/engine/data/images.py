"""Decoding image files into fixed-size uint8 tensors.

Every image is opened with PIL (which sniffs the content, so PNG bytes in a
``.jpg`` file decode fine), converted to RGB (grayscale, CMYK, palette and
alpha images all end up with three channels) and resized to a square
``size x size`` with bilinear filtering, squashing the aspect ratio as ML-GCN's
``Warp`` transform does. JPEGs are decoded at a reduced DCT scale first
(``Image.draft``) when that still leaves at least ``size`` pixels per side.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from envs.errors import ConfigError, CorruptImageError, DatasetNotFoundError

logger = logging.getLogger(__name__)

BAD_IMAGE_POLICIES: tuple[str, ...] = ("error", "skip")
PROGRESS_EVERY = 1000
"""Log an INFO progress line every this many decoded images."""

# What PIL raises for unreadable content: OSError covers truncated data and
# UnidentifiedImageError; the others come from malformed headers and chunk data.
_DECODE_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError,
                  Image.DecompressionBombError)


class _Missing(Exception):
    """Internal: the file does not exist."""


class _Bad(Exception):
    """Internal: the file exists but cannot be decoded."""


def check_bad_image_policy(on_bad_image: str) -> None:
    """Raise :class:`ConfigError` unless ``on_bad_image`` is ``"error"`` or ``"skip"``."""
    if on_bad_image not in BAD_IMAGE_POLICIES:
        raise ConfigError(
            f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {on_bad_image!r}")


SKIP_HINT = "pass on_bad_image='skip' (run_marl: --on-bad-image skip)"
"""How to drop unreadable or missing images instead of failing; quoted by every image error."""


def corrupt_image_message(path: str | os.PathLike[str], reason: str) -> str:
    """The user-facing message for an undecodable image, with the ways to fix it."""
    if reason.startswith("DecompressionBombError"):
        return (f"cannot decode image {os.fspath(path)}: {reason} If you trust the file, raise "
                f"PIL.Image.MAX_IMAGE_PIXELS (currently {Image.MAX_IMAGE_PIXELS}); otherwise "
                f"shrink or delete it (and its label entry), or {SKIP_HINT} to drop it")
    return (f"cannot decode image {os.fspath(path)}: {reason}. The file is corrupt or "
            f"truncated: re-download it, delete it (and its label entry), or "
            f"{SKIP_HINT} to drop unreadable images")


def missing_image_message(path: str | os.PathLike[str]) -> str:
    """The user-facing message for an image file that is listed but absent."""
    return (f"image file {os.fspath(path)} does not exist; restore it, remove its label "
            f"entry, or {SKIP_HINT}")


def decode_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """Decode one image file to a uint8 array ``[3, size, size]``.

    Raises :class:`DatasetNotFoundError` if the file is missing and
    :class:`CorruptImageError` (naming the file and the fix) if it cannot be decoded.
    """
    try:
        return _decode(Path(path), size)
    except _Missing:
        raise DatasetNotFoundError(missing_image_message(path)) from None
    except _Bad as exc:
        raise CorruptImageError(corrupt_image_message(path, str(exc))) from exc.__cause__


def _decode(path: Path, size: int) -> np.ndarray:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _Missing(str(path)) from None
    if not path.is_file():
        raise _Missing(str(path))
    if st.st_size == 0:
        raise _Bad("the file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))
            im.load()
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                im = Image.fromarray(_wide_gray_to_uint8(np.asarray(im, dtype=np.float64),
                                                         im.mode == "F"))
            rgb = im.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(rgb, dtype=np.uint8)
    except _DECODE_ERRORS as exc:
        raise _Bad(f"{type(exc).__name__}: {exc}") from exc
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _wide_gray_to_uint8(arr: np.ndarray, is_float: bool) -> np.ndarray:
    """16/32-bit integer or float grayscale as 8 bits, before the RGB conversion clips it.

    Integers above 255 are rescaled by their maximum; floats (mode ``F``, e.g. a float
    TIFF) in ``[0, 1]`` are scaled by 255, larger ones by their maximum. NaN/inf become 0.
    """
    arr = np.where(np.isfinite(arr), arr, 0.0)
    arr = np.clip(arr, 0.0, None)
    top = float(arr.max()) if arr.size else 0.0
    if is_float and top <= 1.0:
        arr = arr * 255.0
    elif top > 255:
        arr = arr * (255.0 / top)
    return np.clip(np.rint(arr) if is_float else arr, 0, 255).astype(np.uint8)


def decode_images(paths: Sequence[str | os.PathLike[str]], size: int, *,
                  on_bad_image: str = "error", what: str = "images",
                  num_workers: int | None = None
                  ) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """Decode ``paths`` into a uint8 tensor ``[M, 3, size, size]``.

    Returns ``(images, kept, skipped)``: ``kept`` is a bool array over ``paths``
    (False for a dropped image) and ``skipped`` the dropped files' paths. With
    ``on_bad_image="error"`` the first missing or undecodable file raises
    (:class:`DatasetNotFoundError` / :class:`CorruptImageError`); with ``"skip"``
    such files are dropped and ONE warning with the count is logged.
    Decoding runs on a small thread pool (PIL releases the GIL while decoding).
    """
    check_bad_image_policy(on_bad_image)
    n = len(paths)
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    kept = np.ones(n, dtype=bool)
    skipped: list[str] = []
    workers = num_workers if num_workers is not None else min(8, os.cpu_count() or 1)
    if n:
        logger.info("decoding %d %s at %dx%d", n, what, size, size)

    def work(i: int) -> tuple[int, np.ndarray | None, Exception | None]:
        try:
            return i, _decode(Path(paths[i]), size), None
        except (_Missing, _Bad) as exc:
            return i, None, exc

    def consume(i: int, arr: np.ndarray | None, err: Exception | None) -> None:
        if err is not None:
            if on_bad_image == "error":
                if isinstance(err, _Missing):
                    raise DatasetNotFoundError(missing_image_message(paths[i]))
                message = corrupt_image_message(paths[i], str(err))
                raise CorruptImageError(message) from err.__cause__
            kept[i] = False
            skipped.append(os.fspath(paths[i]))
        else:
            out[i] = arr
        done = i + 1
        if done % PROGRESS_EVERY == 0 and done < n:
            logger.info("decoded %d / %d %s", done, n, what)

    if workers <= 1 or n < 64:
        for i in range(n):
            consume(*work(i))
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for result in pool.map(work, range(n)):
                consume(*result)
        finally:  # on an error, do not decode the rest before raising
            pool.shutdown(wait=True, cancel_futures=True)
    if skipped:
        logger.warning("skipped %d unreadable or missing %s (on_bad_image='skip'), e.g. %s",
                       len(skipped), what, skipped[0])
    images = torch.from_numpy(out[kept] if not kept.all() else out)
    return images.contiguous(), kept, skipped
