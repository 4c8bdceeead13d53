"""Where datasets live on disk, and the error raised when they are not there.

The data root is the ``data_root`` argument, else ``$MLIC_DATA_ROOT``, else
``<default_cache_dir()>/data`` (where ``download=True`` puts VOC when nothing
else is given). Each loader then looks in a few layouts under that root.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from envs.engine.data.cache import default_cache_dir
from envs.errors import DatasetNotFoundError

DATA_ROOT_ENV_VAR = "MLIC_DATA_ROOT"


def resolve_data_root(data_root: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data root, and where it came from (for error messages)."""
    if data_root is not None:
        return Path(data_root).expanduser(), "the data_root argument"
    env = os.environ.get(DATA_ROOT_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser(), f"${DATA_ROOT_ENV_VAR}"
    return default_cache_dir() / "data", \
        f"the default (no data_root argument and ${DATA_ROOT_ENV_VAR} unset)"


def not_found_error(dataset: str, root: Path, origin: str, looked_at: Sequence[Path],
                    layout: str, how_to_get: str) -> DatasetNotFoundError:
    """A :class:`DatasetNotFoundError` naming every path looked at, the layout and the fix."""
    looked = "\n".join(f"  - {p}" for p in looked_at)
    return DatasetNotFoundError(
        f"dataset {dataset!r} not found under data root {root} (from {origin}).\n"
        f"Looked at:\n{looked}\n"
        f"Expected layout:\n{layout}\n"
        f"How to get it: {how_to_get}\n"
        f"Pass data_root=... (run_marl: --data-root DIR) or set ${DATA_ROOT_ENV_VAR} to the "
        f"folder that holds it. "
        f"The bundled 'mlic-digits' dataset needs no data and no download.")
