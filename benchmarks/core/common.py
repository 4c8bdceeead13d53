"""Helpers shared by the benchmark scripts: the result files' header, mean ± std and tables.
The argparse types that check a count or a threshold at parse time live in
``training.core.cli`` (every command's); they are re-exported here."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch

from benchmarks.core.machine import cpu_model
from envs.engine.data.digits import GENERATOR_VERSION
from training.core.cli import non_negative_float, non_negative_int, positive_int

__all__ = ["data_version_line", "machine_description", "markdown_table", "mean_std",
           "non_negative_float", "non_negative_int", "positive_int", "result_header", "today",
           "write_result"]


def machine_description() -> str:
    """One line naming the CPU/GPU, core count, and torch version."""
    cpu = cpu_model()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}")


def data_version_line() -> str:
    """What the result's generated data (mlic-digits, -mnist, -shapes, task sets) was."""
    return (f"generated datasets of generator version {GENERATOR_VERSION} "
            "(byte-identical on every CPU since version 2)")


def today() -> str:
    return _dt.date.today().isoformat()


def result_header(title: str, command: str, *, seeds: int | None = None,
                  details: Sequence[str] = (), intro: str = "") -> str:
    """How every file in ``benchmarks/results`` opens, so that each says how it was made.

    ``# title``; ``intro`` as a paragraph if given; then one bullet each for the command that
    wrote the file, this machine, today's date, the version of the generated data
    (``GENERATOR_VERSION``) and (unless ``seeds`` is None) the seeds ``0 .. seeds-1`` that
    every mean ± std is over; then one bullet per ``details`` entry.
    """
    lines = [f"# {title}", ""] + ([intro, ""] if intro else [])
    lines += [f"- command: `{command}`", f"- machine: {machine_description()}",
              f"- date: {today()}", f"- data: {data_version_line()}"]
    if seeds is not None:
        which = "0" if seeds == 1 else f"0 to {seeds - 1}"
        lines.append(f"- seeds: {seeds} ({which}); every ± is the std over them")
    lines += [f"- {d}" for d in details]
    return "\n".join(lines) + "\n"


def mean_std(values: Sequence[float], digits: int = 1) -> str:
    """``"mean ± std"`` (sample std; 0 for a single value)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(path: Path, text: str) -> Path:
    """Write a result file (creating its folder) and say where it went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return path
