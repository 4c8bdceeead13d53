"""Calibration of a task set: is every task cheap, sensitive to the recipe, and different?

    python -m benchmarks.task_sets [--task-set digits-v0] [--seeds 3] [--workers 2] [--quick]

For every task of the set (train and held-out), each recipe of the static panel
(``benchmarks.expert.static_recipes.RECIPES``: 8 recipes, the default among them) is held fixed
for the task's whole budget, over ``--seeds`` seeds, one torch thread per run (``--workers``
runs side by side). Reported per task: seconds per episode (env build included), the test
mAP of the best and of the default recipe, the spread (best - worst recipe mean), and the
largest seed std of any recipe; and the set's calibration targets (``TARGETS``; a set without
its own takes ``digits-v0``'s, issue 11's):

* ``digits-v0`` (and ``digits-v1``): train tasks take <= 5 s per episode on one thread; the
  spread is >= 8 mAP on every task; at least 3 different best recipes across the set; every
  recipe's seed std is <= 1.5 mAP.
* ``digits-long-v0`` (and ``-v1``): train tasks take <= 60 s per episode on one thread; the
  spread is >= 8 mAP on >= 75 % of the tasks; at least 4 different best recipes over the train
  tasks, none best on more than 40 % of them; seed std <= 1.5 mAP.

``--third-seed-within X`` runs a third seed (seed 2) of a task's top two recipes wherever their
means after the first ``--seeds`` are within ``X`` mAP: the economy that keeps the panel at 2
seeds where the best recipe is clear.

Per-recipe means go to ``<out>.csv``. Results go to ``benchmarks/results/task_sets.md``.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from training.core import cli
from benchmarks.core.common import (markdown_table, non_negative_float, positive_int, result_header,
                                    write_result)
from benchmarks.core.episodes import run_recipe
from benchmarks.core.reporting import command_line, write_csv
from training.core.jsonl import TASK_SETS
from training.core.run_store import RunStore, play_stored
from benchmarks.expert.static_recipes import QUICK, RECIPES

RESULTS = Path(__file__).resolve().parents[1] / "results" / "task_sets.md"
@dataclass(frozen=True)
class CalibrationTargets:
    """What a task set's calibration must show."""

    s_per_episode: float = 5.0
    """Seconds per train-task episode, at most, alone on one thread."""
    spread: float = 8.0
    """Best minus worst recipe mean, at least (mAP) ..."""
    spread_share: float = 1.0
    """... on at least this share of the tasks."""
    best_recipes: int = 3
    """Different best recipes, at least ..."""
    best_split: str = "all"
    """... over these tasks (``all`` or ``train``) ..."""
    best_share: float = 1.0
    """... none best on more than this share of them."""
    seed_std: float = 1.5
    """Every recipe's seed std, at most (mAP)."""
    source: str = "issue 11"


TARGETS: dict[str, CalibrationTargets] = {
    "digits-v0": CalibrationTargets(),
    "digits-long-v0": CalibrationTargets(s_per_episode=60.0, spread_share=0.75, best_recipes=4,
                                         best_split="train", best_share=0.4,
                                         source="digits-long-v0's issue"),
}
TARGETS["digits-long-v1"] = dataclasses.replace(TARGETS["digits-long-v0"],
                                                source="digits-long-v0's issue, unchanged")
"""Each task set's calibration targets; a set not listed takes ``digits-v0``'s."""


def targets_of(task_set: str) -> CalibrationTargets:
    return TARGETS.get(task_set, TARGETS["digits-v0"])


def axes(task: envs.Task) -> str:
    """The task's settings that differ from the generator defaults (sizes included)."""
    default = dataclasses.asdict(envs.engine.data.DigitsConfig())
    changed = {k: v for k, v in dataclasses.asdict(task.generator).items()
               if v != default[k] and k not in ("n_val", "n_test")}
    parts = [task.source, f"{task.decisions}x{task.epochs_per_decision}ep"]
    return " ".join(parts + [f"{k}={v}" for k, v in changed.items()])


def warm_up() -> None:
    """A worker's start: one torch thread, and what a process pays once (the lazy imports
    of a first optimizer step, about 1.7 s; each source's glyphs and backgrounds) paid on a
    tiny episode per source before any episode is timed."""
    import torch
    torch.set_num_threads(1)
    for source in ("digits", "shapes"):
        run_recipe(envs.task_sets.shrink(envs.Task.of(source, decisions=1)),
                   RECIPES["crop+adamw+cosine+asl"], 0, {})


@dataclass
class PanelRun:
    """One task, recipe and seed: its test mAP and wall time (env build included)."""

    task: str
    recipe: str
    seed: int
    test_mAP: float
    s_per_episode: float


def run_one(job: tuple[envs.Task, str, int]) -> PanelRun:
    """One task, recipe and seed (run in a worker process started by ``warm_up``)."""
    task, recipe, seed = job
    episode = run_recipe(task, RECIPES[recipe], seed, {})
    return PanelRun(task.name, recipe, seed, episode.test["mAP"], episode.wall_s)


def summarise(task: envs.Task, split: str, runs: list[PanelRun], alone_s: float) -> dict[str, Any]:
    """The calibration row of one task."""
    by_recipe = {r: [x.test_mAP for x in runs if x.recipe == r]
                 for r in dict.fromkeys(x.recipe for x in runs)}
    means = {r: statistics.fmean(v) for r, v in by_recipe.items()}
    best = max(means, key=means.get)
    stds = [statistics.stdev(v) for v in by_recipe.values() if len(v) > 1]
    return {"split": split, "task": task.name, "axes": axes(task), "s_per_episode": alone_s,
            "s_side_by_side": statistics.fmean(x.s_per_episode for x in runs),
            "best": best, "best_mAP": means[best], "default_mAP": means.get(next(iter(RECIPES))),
            "spread": means[best] - min(means.values()), "max_seed_std": max(stds, default=0.0),
            **{f"mAP[{r}]": m for r, m in means.items()}}


def verdicts(rows: list[dict[str, Any]], targets: CalibrationTargets = TARGETS["digits-v0"]
             ) -> list[str]:
    """One line per target, with the measured value and whether it is met."""
    t = targets
    train = [r for r in rows if r["split"] == "train"]
    slowest = max(r["s_per_episode"] for r in train)
    narrowest = min(r["spread"] for r in rows)
    wide = sum(r["spread"] >= t.spread for r in rows)
    pool = train if t.best_split == "train" else rows
    bests = [r["best"] for r in pool]
    top_share = max(bests.count(b) for b in bests) / len(bests)
    noisiest = max(r["max_seed_std"] for r in rows)

    def ok(flag: bool) -> str:
        return "met" if flag else "**not met**"
    where = "every task" if t.spread_share >= 1 else f">= {t.spread_share:.0%} of the tasks"
    cap = (f", none best on more than {t.best_share:.0%} (most: {top_share:.0%}"
           f"{', met' if top_share <= t.best_share else ', **not met**'})"
           if t.best_share < 1 else "")
    return [
        f"train tasks <= {t.s_per_episode:.0f} s per episode: slowest {slowest:.1f} s, "
        f"{ok(slowest <= t.s_per_episode)}",
        f"spread >= {t.spread:.0f} mAP on {where}: {wide}/{len(rows)} tasks (narrowest "
        f"{narrowest:.1f}), {ok(wide >= t.spread_share * len(rows))}",
        f">= {t.best_recipes} different best recipes over the "
        f"{'train tasks' if t.best_split == 'train' else 'tasks'}: {len(set(bests))} "
        f"({', '.join(sorted(set(bests)))}), {ok(len(set(bests)) >= t.best_recipes)}{cap}",
        f"seed std <= {t.seed_std} mAP: largest {noisiest:.2f}, {ok(noisiest <= t.seed_std)}",
    ]


def third_seed_jobs(tasks: list[envs.Task], runs: list[PanelRun], seeds: int,
                    within: float) -> list[tuple[envs.Task, str, int]]:
    """Seed ``seeds`` (the next one) of each task's top two recipes, where their means over the
    first ``seeds`` are within ``within`` mAP."""
    jobs = []
    for task in tasks:
        means: dict[str, list[float]] = {}
        for r in runs:
            if r.task == task.name and r.seed < seeds:
                means.setdefault(r.recipe, []).append(r.test_mAP)
        ranked = sorted(means, key=lambda k: -statistics.fmean(means[k]))
        if len(ranked) >= 2 and (statistics.fmean(means[ranked[0]])
                                 - statistics.fmean(means[ranked[1]])) <= within:
            jobs += [(task, recipe, seeds) for recipe in ranked[:2]]
    return jobs


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.task_sets``."""
    parser = cli.parser("benchmarks.task_sets", __doc__, example=(
        "python -m benchmarks.task_sets --task-set digits-v1 --seeds 3 --workers 2 "
        "--out benchmarks/results/task_sets_digits_v1.md"))
    what = parser.add_argument_group("what to run")
    compute = parser.add_argument_group("compute")
    output = parser.add_argument_group("output")
    what.add_argument("--task-set", default="digits-v0", help="a name from envs.list_task_sets()")
    what.add_argument("--seeds", type=positive_int, default=3,
                      help="seeds of every task and recipe (default: %(default)s)")
    what.add_argument("--third-seed-within", type=non_negative_float, default=None,
                      metavar="MAP", help="run one more seed of a task's top two recipes where "
                      "their means are within MAP mAP (e.g. 1.0 with --seeds 2); unset: no "
                      "third seed")
    compute.add_argument("--workers", type=positive_int, default=2,
                         help="runs side by side, 1 thread each")
    what.add_argument("--quick", action="store_true", help="tiny tasks, 2 recipes, for tests")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    output.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report; its per-recipe means go to <out>.csv beside "
                             "it and its run store to OUT_DIR/runs/task_sets-<task set>.jsonl")
    output.add_argument("--resume", action="store_true",
                        help="reuse the runs an interrupted calibration stored in OUT_DIR/runs/")
    return parser


@cli.command
def main(argv: list[str] | None = None) -> Path:
    args = parser().parse_args(argv)
    ts = envs.task_set(args.task_set)
    targets = targets_of(ts.name)
    tasks = [(split, envs.task_sets.shrink(t) if args.quick else t) for split in ("train", "heldout")
             for t in ts.split(split)]
    recipes = list(QUICK) if args.quick else list(RECIPES)
    store = RunStore(args.out.parent / "runs" / f"task_sets-{ts.name}.jsonl",
                     {"task_set": ts.name, "tasks": [t.name for _, t in tasks]}, args.resume,
                     TASK_SETS)
    default = next(iter(RECIPES))
    timing = [(t, default, 0) for _, t in tasks]
    panel = [(t, r, s) for _, t in tasks for r in recipes for s in range(args.seeds)]
    with tqdm(total=len(timing) + len(panel), desc=ts.name, unit="run",
              disable=not args.progress) as bar:
        # first each task alone (one process, nothing beside it): the seconds per episode
        alone = play_stored(timing, run_one, lambda j: (f"{j[0].name}|alone", j[2]), PanelRun,
                            store, 1, bar, warm_up)
        runs = play_stored(panel, run_one, lambda j: (f"{j[0].name}|{j[1]}", j[2]), PanelRun,
                           store, args.workers, bar, warm_up)
        if args.third_seed_within is not None:
            extra = third_seed_jobs([t for _, t in tasks], runs, args.seeds, args.third_seed_within)
            bar.total += len(extra)
            runs += play_stored(extra, run_one, lambda j: (f"{j[0].name}|{j[1]}", j[2]),
                                PanelRun, store, args.workers, bar, warm_up)
    alone_s = {r.task: r.s_per_episode for r in alone}
    rows = [summarise(t, split, [r for r in runs if r.task == t.name], alone_s[t.name])
            for split, t in tasks]
    write_csv(args.out.with_suffix(".csv"), rows)
    table = markdown_table(
        ["split", "task", "settings", "s / episode", f"s, {args.workers} side by side",
         "best recipe", "best", "default", "spread", "max seed std"],
        [[r["split"], f"`{r['task']}`", r["axes"], f"{r['s_per_episode']:.1f}",
          f"{r['s_side_by_side']:.1f}", r["best"],
          f"{r['best_mAP']:.1f}", f"{r['default_mAP']:.1f}", f"{r['spread']:.1f}",
          f"{r['max_seed_std']:.2f}"] for r in rows])
    details = [f"{len(tasks)} tasks x {len(recipes)} static recipes x {args.seeds} seeds, test mAP; "
               f"{args.workers} worker processes, 1 torch thread each; the tasks are defined in "
               "envs/task_sets.py (settings: what differs from the generator's defaults)",
               "s / episode: the default recipe's episode (env build included) run alone, one "
               f"process on one thread, before the panel; s, {args.workers} side by side: the "
               "panel's mean, while the worker processes share the cores"]
    text = (result_header(f"Task set {ts.name}: calibration",
                          command_line("benchmarks.task_sets", argv if argv is not None
                                       else sys.argv[1:]), seeds=args.seeds, details=details)
            + "\n" + table + f"\n\nTargets ({targets.source}):\n\n"
            + "\n".join(f"- {line}" for line in verdicts(rows, targets)) + "\n\n"
            + f"Per-recipe means: [{args.out.with_suffix('.csv').name}]"
              f"({args.out.with_suffix('.csv').name}).\n")
    return write_result(args.out, text)
