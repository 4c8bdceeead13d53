"""The run's logs: ``steps.jsonl`` (one line per decision) and TensorBoard scalars.

Keys are namespaced (``env/``, ``train/``, ``agent/<id>/``, ``curiosity/``, ``time/``).
``steps.jsonl`` is a ``training.core.jsonl`` log of kind ``steps``: a header line, then one
record per decision, each flushed and fsynced. On resume, lines and events written after the
checkpoint are dropped, and a line cut short by a kill is cut off before the next record is
appended, so a resumed run's logs equal those of a run that was never interrupted. An old
``steps.jsonl`` without a header is still read, recognised by its records' keys.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from training.core import jsonl

STEPS_FILE = "steps.jsonl"


class RunLogger:
    """Appends decision records to ``steps.jsonl`` and scalars to TensorBoard."""

    def __init__(self, out_dir: Path, resume_at: int = 0, tensorboard: bool = True) -> None:
        self.path = out_dir / STEPS_FILE
        if resume_at:
            store, self._log = jsonl.resume(self.path, jsonl.STEPS, keep=resume_at,
                                            default=_jsonable)
            held = len(store.records) if store is not None else 0
            if held < resume_at:
                warnings.warn(f"{self.path} holds {held} of the {resume_at} decisions made "
                              "before the checkpoint: the log lacks the others",
                              jsonl.CutLineWarning, stacklevel=2)
        else:
            self._log = jsonl.create(self.path, jsonl.STEPS, default=_jsonable)
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import; only when used
            self._writer = SummaryWriter(str(out_dir / "tb"), purge_step=resume_at or None)

    def write(self, record: dict[str, Any], scalars: dict[str, float], step: int) -> None:
        self._log.append(record)
        if self._writer is not None:
            for key, value in scalars.items():
                if value is not None and math.isfinite(value):
                    self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_steps(out_dir: Path) -> list[dict[str, Any]]:
    """The records of ``steps.jsonl`` (none where there is no log)."""
    path = out_dir / STEPS_FILE
    if not path.exists():
        return []
    return jsonl.read(path, jsonl.STEPS).records


def _jsonable(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to steps.jsonl")
