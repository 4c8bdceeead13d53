"""What the sweep scripts share: the command line, a path as the results show it, the progress
bar, CSV files and the sentences that say, from the numbers, where the agents do not beat a
comparison."""
from __future__ import annotations

import argparse
import csv
import shlex
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

import training.core.fields


def command_line(module: str, argv: Sequence[str]) -> str:
    """The exact command that produced a report."""
    return f"python -m {module} {shlex.join(argv)}".strip()


def shown(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it (for the results)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def progress_bar(total: int, description: str, enabled: bool = True) -> tqdm:
    """A bar over every epoch trained in the sweep."""
    return tqdm(total=total, desc=description, unit="epoch", dynamic_ncols=True,
                disable=not enabled)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows of dicts (the first row's keys are the columns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def shortfalls(scores: Mapping[str, Sequence[float]], ours: Sequence[str], others: Sequence[str],
               what: str = "test mAP") -> list[str]:
    """One sentence per name in ``ours``: which of ``others`` it does not beat on mean ``what``.

    A comparison is "not beaten" when its mean is at least ours; "not a clear win" when ours
    is ahead by less than the larger of the two seed stds.
    """
    sentences = []
    for name in ours:
        if name not in scores:
            continue
        mine = _mean(scores[name])
        rivals = [o for o in others if o in scores and o != name]
        lost = [o for o in rivals if _mean(scores[o]) >= mine]
        narrow = [o for o in rivals if o not in lost
                  and mine - _mean(scores[o]) < max(_std(scores[name]), _std(scores[o]))]
        if lost:
            listed = ", ".join(f"{o} ({_mean(scores[o]):.2f} vs {mine:.2f})" for o in lost)
            sentences.append(f"**{name} does not beat** {listed} on mean {what}.")
        if narrow:
            listed = ", ".join(f"{o} ({_mean(scores[o]):.2f} vs {mine:.2f})" for o in narrow)
            sentences.append(f"{name} is ahead of {listed} by less than one seed std: "
                             "not a clear win.")
        if not lost and not narrow and rivals:
            sentences.append(f"{name} is ahead of every comparison ({', '.join(rivals)}) on "
                             f"mean {what} by more than one seed std.")
    return sentences


def winner_sentence(scores: Mapping[str, Sequence[float]], what: str = "test mAP") -> str:
    """Who has the best mean ``what``, and its margin over every other entry, paired by seed.

    Seeds are paired by index (seed ``i`` of every method starts from the same split and
    initial weights), so each margin is the mean ± std of the per-seed differences, with the
    number of seeds on which the winner is ahead.
    """
    best = max(scores, key=lambda n: _mean(scores[n]))
    parts = []
    for other in sorted((n for n in scores if n != best), key=lambda n: -_mean(scores[n])):
        diffs = [a - b for a, b in zip(scores[best], scores[other])]
        ahead, tied = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs)
        parts.append(f"{other} {_mean(diffs):+.1f} ± {_std(diffs):.1f} "
                     f"(ahead on {ahead}/{len(diffs)} seeds" + (f", tied on {tied}" if tied else "")
                     + ")")
    margins = "; ".join(parts) if parts else "nothing to compare with"
    return (f"**Best mean {what}: {best}, {_mean(scores[best]):.1f} ± "
            f"{_std(scores[best]):.1f}.** Its per-seed margin over each other method: {margins}.")


def reach_epoch(curve: Sequence[float], target: float) -> int | None:
    """The first epoch (from 1) at which ``curve`` reaches ``target``; None if it never does."""
    for epoch, value in enumerate(curve, start=1):
        if value >= target:
            return epoch
    return None


QUICK_OVERRIDES: dict[str, int] = {"image_size": 16, "max_train_images": 256}
"""Env overrides of ``--quick`` (each sweep adds its own budget)."""
SWEEP_ENV_FLAGS: tuple[str, ...] = ("image_size", "max_train_images", "max_eval_images",
                                     "steps_per_decision",
                                     "batch_size", "data_root", "observation",
                                     "schedule_free_eval")
"""The ``envs.EnvConfig`` fields a sweep may override from the command line. Only plain fields:
the sweeps pass their overrides straight to ``envs.make`` (and ``overhead`` to ``RunConfig``),
so a nested setting such as ``run_marl``'s ``--reward-kind`` would need translating at each."""


ENV_GROUP = "env overrides (unset: the env's own settings)"
"""The help's group of the sweeps' env flags (``add_env_flags``)."""


def add_env_flags(parser: Any) -> None:
    """``--image-size`` etc.: env overrides given on the command line (they win over --quick),
    in their own group of a parser's help (``ENV_GROUP``; a group given instead takes them)."""
    group = (parser.add_argument_group(ENV_GROUP) if isinstance(parser, argparse.ArgumentParser)
             else parser)
    training.core.fields.add_env_flags(group, SWEEP_ENV_FLAGS)


def env_overrides(args: Any, quick: bool) -> dict[str, Any]:
    """The ``envs.make`` overrides the flags and ``--quick`` imply."""
    overrides: dict[str, Any] = dict(QUICK_OVERRIDES) if quick else {}
    overrides.update({k: getattr(args, k) for k in SWEEP_ENV_FLAGS
                      if getattr(args, k, None) is not None})
    return overrides
