"""Atomic file writes: a reader sees the old file or the complete new one, never a part of it.

The content goes to a temporary file in the target's folder (``.<name>.<random>.tmp``),
is flushed and fsynced, then renamed over the target with ``os.replace`` (atomic on
POSIX and Windows); the folder is fsynced last so that the rename survives a power loss.
A write that fails removes its temporary file and re-raises the error unchanged, so each
caller decides what a failure means (the dataset cache logs it and carries on, a
checkpoint raises :class:`envs.errors.CheckpointError`). A writer killed outright
(``kill -9``) cannot clean up: :func:`remove_stale_temps` deletes what it left behind.

One helper serves the dataset cache (``envs.engine.data.cache``), run checkpoints
(``training.core.checkpoint``) and benchmark run stores (``training.core.run_store``); it lives
in ``envs``, the bottom layer, so that every layer can import it.
"""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

PathLike = str | os.PathLike[str]
FILE_MODE = 0o644
"""Permissions of a written file (``mkstemp`` alone would leave it readable by its owner only)."""


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None], *,
                 mode: int = FILE_MODE) -> Path:
    """Replace ``path`` atomically by what ``write(file)`` writes to a binary file object.

    Creates the parent folder if needed and returns ``path`` as a :class:`Path`. If
    ``write`` or any file operation raises, the temporary file is removed, ``path`` is
    left as it was and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    renamed = False
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        renamed = True
    finally:
        if not renamed:
            with contextlib.suppress(OSError):  # never hide the error that brought us here
                os.unlink(tmp)
    _fsync_dir(path.parent)
    return path


def save_torch_atomic(obj: Any, path: PathLike, *, mode: int = FILE_MODE) -> Path:
    """``torch.save(obj, path)``, atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: torch.save(obj, f), mode=mode)


def write_text_atomic(path: PathLike, text: str, *, encoding: str = "utf-8",
                      mode: int = FILE_MODE) -> Path:
    """``Path(path).write_text(text)``, atomically (see :func:`atomic_write`)."""
    data = text.encode(encoding)
    return atomic_write(path, lambda f: f.write(data), mode=mode)


def remove_stale_temps(path: PathLike) -> None:
    """Delete the temporary files that interrupted atomic writes of ``path`` left behind.

    Call it only where no other process may be writing ``path`` at the same moment: it
    would delete that writer's temporary file too.
    """
    path = Path(path)
    for leftover in path.parent.glob(f"{glob.escape(_temp_prefix(path))}*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _fsync_dir(directory: PathLike) -> None:
    """Flush ``directory``'s entries (a rename into it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. Windows, or a file system that cannot fsync a folder
    finally:
        os.close(fd)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."
