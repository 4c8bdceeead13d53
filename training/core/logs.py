"""The run's logs: ``steps.jsonl`` (one line per decision) and TensorBoard scalars.

Keys are namespaced (``env/``, ``train/``, ``agent/<id>/``, ``curiosity/``, ``time/``).
On resume, lines and events written after the checkpoint are dropped, so a resumed run's
logs equal those of a run that was never interrupted.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

STEPS_FILE = "steps.jsonl"


class RunLogger:
    """Appends decision records to ``steps.jsonl`` and scalars to TensorBoard."""

    def __init__(self, out_dir: Path, resume_at: int = 0, tensorboard: bool = True) -> None:
        self.path = out_dir / STEPS_FILE
        if resume_at:
            truncate_lines(self.path, resume_at)
        elif self.path.exists():
            self.path.unlink()
        self._file = self.path.open("a", encoding="utf-8")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import; only when used
            self._writer = SummaryWriter(str(out_dir / "tb"), purge_step=resume_at or None)

    def write(self, record: dict[str, Any], scalars: dict[str, float], step: int) -> None:
        self._file.write(json.dumps(record, default=_jsonable) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in scalars.items():
                if value is not None and math.isfinite(value):
                    self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def read_steps(out_dir: Path) -> list[dict[str, Any]]:
    """The records of ``steps.jsonl``."""
    path = out_dir / STEPS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_lines(path: Path, keep: int) -> None:
    """Keep the first ``keep`` lines of ``path`` (what was written past a checkpoint goes)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
    path.write_text("".join(lines[:keep]), encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to steps.jsonl")
