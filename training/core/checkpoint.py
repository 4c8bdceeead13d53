"""Atomic checkpoints: written to a temporary file, fsynced, then renamed into place.

The writing is :mod:`envs.atomic`'s; this module adds the format tag and the errors.

A crash (even ``kill -9``) while writing leaves the previous checkpoint intact; a
truncated or corrupt file is reported as :class:`envs.errors.CheckpointError` naming it.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from envs.atomic import remove_stale_temps, save_torch_atomic
from envs.errors import CheckpointError

FORMAT_VERSION = 1


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the complete new one.

    The payload goes to a temporary file in the same folder (``.<name>.<random>.tmp``), is
    fsynced and renamed over ``path``; the folder is then fsynced. Temporary files left by
    a writer that was killed (``kill -9``, power loss) are removed after the next successful
    save. A failed write (disk full, permissions) raises :class:`CheckpointError` and leaves
    the previous checkpoint in place.
    """
    path = Path(path)
    try:
        save_torch_atomic({"format": FORMAT_VERSION, **payload}, path)
    except OSError as error:
        kept = ("the previous checkpoint is unchanged" if path.is_file()
                else "no checkpoint exists yet")
        raise CheckpointError(
            f"could not write checkpoint {path}: {error.strerror or error}; {kept}. Free disk "
            f"space or fix the folder's permissions, then continue with --resume") from error
    remove_stale_temps(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic`; a bad one is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: run without --resume to start a new run")
    try:
        # Our own file holds numpy arrays and dataclasses next to tensors, hence weights_only=False.
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError, KeyError, IndexError, TypeError, AttributeError, ImportError) as error:
        # (garbled pickle data can surface as any of the last five)
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({type(error).__name__}: {error}). "
            f"It cannot be resumed: delete it (or pick a new --out) and start the run over "
            f"without --resume.") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a run checkpoint of format {FORMAT_VERSION}: "
                              f"point --out at the folder of the run to resume, or start the run "
                              f"over without --resume")
    return payload
