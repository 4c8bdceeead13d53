"""Calibration of a task set: is every task cheap, sensitive to the recipe, and different?

    python -m benchmarks.task_sets [--task-set digits-v0] [--seeds 3] [--workers 2] [--quick]

For every task of the set (train and held-out), each recipe of the static panel
(``benchmarks.static_recipes.RECIPES``: 8 recipes, the default among them) is held fixed
for the task's whole budget, over ``--seeds`` seeds, one torch thread per run (``--workers``
runs side by side). Reported per task: seconds per episode (env build included), the test
mAP of the best and of the default recipe, the spread (best - worst recipe mean), and the
largest seed std of any recipe; and per split, the targets of issue 11:

* train tasks take <= 5 s per episode on one thread;
* the spread is >= 8 mAP on every task;
* at least 3 different best recipes across the set;
* every recipe's seed std is <= 1.5 mAP.

Per-recipe means go to ``<out>.csv``. Results go to ``benchmarks/results/task_sets.md``.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from benchmarks.common import markdown_table, mean_std, result_header, write_result
from benchmarks.episodes import run_recipe
from benchmarks.reporting import command_line, write_csv
from benchmarks.static_recipes import QUICK, RECIPES

RESULTS = Path(__file__).resolve().parent / "results" / "task_sets.md"
TARGETS = {"s_per_episode": 5.0, "spread": 8.0, "best_recipes": 3, "seed_std": 1.5}


def axes(task: envs.Task) -> str:
    """The task's settings that differ from the generator defaults (sizes included)."""
    default = dataclasses.asdict(envs.engine.data.DigitsConfig())
    changed = {k: v for k, v in dataclasses.asdict(task.generator).items()
               if v != default[k] and k not in ("n_val", "n_test")}
    parts = [task.source, f"{task.decisions}x{task.epochs_per_decision}ep"]
    return " ".join(parts + [f"{k}={v}" for k, v in changed.items()])


def warm_up() -> None:
    """A worker's start: one torch thread, and the lazy imports of a first optimizer step
    (about 1.7 s, once per process) paid before any episode is timed."""
    import torch
    torch.set_num_threads(1)
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def run_one(job: tuple[int, envs.Task, str, int]) -> dict[str, Any]:
    """One task, recipe and seed (run in a worker process started by ``warm_up``)."""
    index, task, recipe, seed = job
    episode = run_recipe(task, RECIPES[recipe], seed, {})
    return {"index": index, "recipe": recipe, "seed": seed,
            "test_mAP": episode.test["mAP"], "s_per_episode": episode.wall_s}


def summarise(task: envs.Task, split: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The calibration row of one task."""
    by_recipe = {r: [x["test_mAP"] for x in runs if x["recipe"] == r]
                 for r in dict.fromkeys(x["recipe"] for x in runs)}
    means = {r: statistics.fmean(v) for r, v in by_recipe.items()}
    best = max(means, key=means.get)
    stds = [statistics.stdev(v) for v in by_recipe.values() if len(v) > 1]
    return {"split": split, "task": task.name, "axes": axes(task),
            "s_per_episode": statistics.fmean(x["s_per_episode"] for x in runs),
            "best": best, "best_mAP": means[best], "default_mAP": means.get(next(iter(RECIPES))),
            "spread": means[best] - min(means.values()), "max_seed_std": max(stds, default=0.0),
            **{f"mAP[{r}]": m for r, m in means.items()}}


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One line per target, with the measured value and whether it is met."""
    train = [r for r in rows if r["split"] == "train"]
    slowest = max(r["s_per_episode"] for r in train)
    narrowest = min(r["spread"] for r in rows)
    bests = {r["best"] for r in rows}
    noisiest = max(r["max_seed_std"] for r in rows)

    def ok(flag: bool) -> str:
        return "met" if flag else "**not met**"
    return [
        f"train tasks <= {TARGETS['s_per_episode']:.0f} s per episode: slowest {slowest:.1f} s, "
        f"{ok(slowest <= TARGETS['s_per_episode'])}",
        f"spread >= {TARGETS['spread']:.0f} mAP on every task: narrowest {narrowest:.1f}, "
        f"{ok(narrowest >= TARGETS['spread'])} "
        f"({sum(r['spread'] >= TARGETS['spread'] for r in rows)}/{len(rows)} tasks)",
        f">= {TARGETS['best_recipes']} different best recipes: {len(bests)} "
        f"({', '.join(sorted(bests))}), {ok(len(bests) >= TARGETS['best_recipes'])}",
        f"seed std <= {TARGETS['seed_std']} mAP: largest {noisiest:.2f}, "
        f"{ok(noisiest <= TARGETS['seed_std'])}",
    ]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-set", default="digits-v0", help="a name from envs.list_task_sets()")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="runs side by side, 1 thread each")
    parser.add_argument("--quick", action="store_true", help="tiny tasks, 2 recipes, for tests")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ts = envs.task_set(args.task_set)
    tasks = [(split, envs.task_sets.shrink(t) if args.quick else t) for split in ("train", "heldout")
             for t in ts.split(split)]
    recipes = list(QUICK) if args.quick else list(RECIPES)
    jobs = [(i, t, r, s) for i, (_, t) in enumerate(tasks) for r in recipes
            for s in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers, initializer=warm_up) as pool, \
            tqdm(total=len(jobs), desc=ts.name, unit="run", disable=not args.progress) as bar:
        runs = []
        for result in pool.map(run_one, jobs):
            runs.append(result)
            bar.update(1)
    rows = [summarise(t, split, [r for r in runs if r["index"] == i])
            for i, (split, t) in enumerate(tasks)]
    write_csv(args.out.with_suffix(".csv"), rows)
    table = markdown_table(
        ["split", "task", "settings", "s / episode", "best recipe", "best", "default", "spread",
         "max seed std"],
        [[r["split"], f"`{r['task']}`", r["axes"], f"{r['s_per_episode']:.1f}", r["best"],
          f"{r['best_mAP']:.1f}", f"{r['default_mAP']:.1f}", f"{r['spread']:.1f}",
          f"{r['max_seed_std']:.2f}"] for r in rows])
    details = [f"{len(tasks)} tasks x {len(recipes)} static recipes x {args.seeds} seeds, test mAP; "
               f"{args.workers} worker processes, 1 torch thread each; the tasks are defined in "
               "envs/task_sets.py (settings: what differs from the generator's defaults)"]
    text = (result_header(f"Task set {ts.name}: calibration",
                          command_line("benchmarks.task_sets", argv if argv is not None
                                       else sys.argv[1:]), seeds=args.seeds, details=details)
            + "\n" + table + "\n\nTargets (issue 11):\n\n"
            + "\n".join(f"- {line}" for line in verdicts(rows)) + "\n\n"
            + f"Per-recipe means: [{args.out.with_suffix('.csv').name}]"
              f"({args.out.with_suffix('.csv').name}).\n")
    return write_result(args.out, text)


if __name__ == "__main__":
    main()
