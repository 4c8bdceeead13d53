"""Atomic checkpoints: written to a temporary file, fsynced, then renamed into place.

A crash (even ``kill -9``) while writing leaves the previous checkpoint intact; a
truncated or corrupt file is reported as :class:`envs.errors.CheckpointError` naming it.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from envs.errors import CheckpointError

FORMAT_VERSION = 1


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic`."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: run without --resume to start a new run")
    try:
        # Our own file holds numpy arrays and dataclasses next to tensors, hence weights_only=False.
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError) as error:
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({type(error).__name__}: {error}). "
            f"Delete it to start the run over.") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a run checkpoint of format {FORMAT_VERSION}")
    return payload
