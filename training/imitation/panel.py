"""A task set's calibration csv (``python -m benchmarks.task_sets`` writes it) read for
imitation: each task's best static recipe (``demos --start-from``, the expert's starts) and
every panel recipe's test mAP per task (``select --panel``, the selector's memory).

The csv has one row per task (columns ``split``, ``task``, ``best`` and one ``mAP[<panel
name>]`` per recipe of the panel); panel names are read with ``envs.engine.recipe.panel_recipe``
(``default (ASL paper)`` is the default recipe, ``randaug+...`` is RandAugment).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from envs.engine.recipe import panel_recipe
from envs.errors import ConfigError

_EXAMPLE = "benchmarks/results/task_sets_digits_long_v1.csv"


def read_calibration(path: str | Path, flag: str, columns: set[str]) -> list[dict[str, str]]:
    """The csv's rows; a missing file or one without ``columns`` is refused, naming ``flag``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{flag} {path}: no such file; give a task-set calibration's csv, "
                          f"e.g. {_EXAMPLE} (python -m benchmarks.task_sets writes it)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not columns <= set(rows[0]):
        raise ConfigError(f"{flag} {path}: not a calibration csv (it needs the columns "
                          f"{', '.join(sorted(columns))}, as python -m benchmarks.task_sets "
                          "writes them)")
    return rows


def recipe_name(name: str, flag: str, path: str | Path, task: str) -> str:
    """The ``aug+opt+lrs+loss`` name of a panel name found in the csv."""
    try:
        return panel_recipe(name).name
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{flag} {path}: task {task}'s recipe {name!r} is not "
                          f"aug+opt+lrs+loss ({error})") from None


def calibration_best(path: str | Path, flag: str = "--start-from") -> dict[str, str]:
    """``{task name: best recipe}``, every task of the csv."""
    rows = read_calibration(path, flag, {"task", "best"})
    return {row["task"]: recipe_name(row["best"], flag, path, row["task"]) for row in rows}


def calibration_scores(path: str | Path, flag: str = "--panel") -> dict[str, dict[str, float]]:
    """``{task name: {recipe: test mAP}}`` of the csv's train tasks (the held-out rows are
    never read: a selector fitted on them would have seen its test), each recipe by its
    ``aug+opt+lrs+loss`` name; an empty or non-finite cell (a recipe not run) is left out,
    any other text is refused."""
    rows = read_calibration(path, flag, {"split", "task"})
    panel = [c for c in rows[0] if c.startswith("mAP[") and c.endswith("]")]
    if not panel:
        raise ConfigError(f"{flag} {path}: no mAP[<recipe>] column: not a calibration csv of a "
                          "panel (python -m benchmarks.task_sets writes one per recipe)")
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        if row["split"] != "train":
            continue
        scores = {}
        for column in panel:
            cell = (row[column] or "").strip()
            if not cell:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise ConfigError(f"{flag} {path}: task {row['task']}'s {column} is {cell!r}, "
                                  "not a number: regenerate the csv with python -m "
                                  "benchmarks.task_sets") from None
            if math.isfinite(value):
                scores[recipe_name(column[4:-1], flag, path, row["task"])] = value
        out[row["task"]] = scores
    return out
