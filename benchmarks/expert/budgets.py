"""What changes with the budget: static recipes and a controller on ``make run``'s data, at
several budgets.

    python -m benchmarks.budgets [--budgets 6,12,25,50] [--recipes peers|quick|all|NAMES]
                                 [--controllers zoo:recommended] [--seeds 1] [--workers 2]
                                 [--resume] [--out benchmarks/results/budgets.md]

The task is ``make run``'s (``envs.task_sets.DEFAULT_TASK``: ``mlic-digits`` at its defaults,
4,000 training images, ``small_cnn``) with its budget replaced: ``B`` decisions of one epoch
each for every ``B`` of ``--budgets``. Each recipe of ``--recipes`` is held fixed and each
controller of ``--controllers`` plays frozen (``benchmarks.core.episodes.run_frozen``, in the env
its saved settings ask for) on every budget and seed. Reported: test mAP per method and
budget, the best static recipe at each budget, what each controller played (its most played
recipe and switches, and how many decisions used flips), and a plot of test mAP against the
budget. Runs are stored in ``OUT_DIR/runs/<out stem>.jsonl`` as they end (``--resume``
reuses them), each controller under the entry it loaded (``zoo:recommended`` as the
``zoo:<name>`` it names when the command runs, ``agents.zoo.resolve``).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

import envs
from agents import zoo
from training.core import cli
from benchmarks.core.common import (markdown_table, mean_std, positive_int, result_header,
                                    write_result)
from benchmarks.core.episodes import check_frozen, describe_choices, run_frozen, run_recipe
from benchmarks.core.plots import plot_curves
from benchmarks.core.reporting import command_line
from benchmarks.expert.static_recipes import RECIPES, chosen
from training.core.jsonl import BUDGETS
from training.core.run_store import RunStore, play_stored

RESULTS = Path(__file__).resolve().parents[1] / "results" / "budgets.md"
DEFAULT_BUDGETS = (6, 12, 25, 50)


@dataclass
class Run:
    """One method on one budget and seed."""

    method: str
    budget: int
    seed: int
    test_mAP: float
    choices: list[str] = field(default_factory=list)
    """The recipe of each decision (a static recipe's, repeated)."""


def task_at(budget: int, quick: bool = False) -> envs.Task:
    """``make run``'s task with ``budget`` one-epoch decisions (``quick``: its data shrunk by
    ``envs.task_sets.shrink``, for tests)."""
    task = envs.task_sets.DEFAULT_TASK
    return dataclasses.replace(envs.task_sets.shrink(task) if quick else task, decisions=budget)


def run_one(job: tuple[str, int, int, bool]) -> Run:
    """One method, budget and seed (in a worker process, one torch thread)."""
    method, budget, seed, quick = job
    task = task_at(budget, quick)
    if method in RECIPES:
        episode = run_recipe(task, RECIPES[method], seed, {})
    else:
        episode = run_frozen(task, method, seed)
    return Run(method, budget, seed, episode.test["mAP"], list(episode.choices))


def _warm_up() -> None:
    torch.set_num_threads(1)


def budgets_arg(text: str) -> tuple[int, ...]:
    """``--budgets``: comma-separated positive ints."""
    try:
        values = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give decisions as comma-separated "
                                         "integers, e.g. 6,12,25,50") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every budget must be >= 1 decision")
    return values


def parser() -> argparse.ArgumentParser:
    p = cli.parser("benchmarks.budgets", __doc__, example=(
        "python -m benchmarks.budgets --budgets 6,12,25,50 --controllers "
        "zoo:bc-digits-v1,zoo:recommended --seeds 1 --workers 2 --out "
        "benchmarks/results/budgets.md"))
    what = p.add_argument_group("what to run")
    compute = p.add_argument_group("compute")
    output = p.add_argument_group("output")
    what.add_argument("--budgets", type=budgets_arg, default=DEFAULT_BUDGETS,
                      help="budgets in one-epoch decisions, comma-separated (default: 6,12,25,50)")
    what.add_argument("--recipes", default="peers,crop+adamw+cosine+asl,crop+sgd+constant+bce,"
                      "none+sgd+constant+bce,default (ASL paper)",
                      help="panel recipes to hold fixed: all, quick, peers, or names "
                           "(comma-separated); default: the SBS, the default, the practitioner's "
                           "standard, the default task's best and the two tuning-free optimizers")
    what.add_argument("--controllers", default="zoo:recommended",
                      help="frozen controllers (zoo:<name> or a saved folder), comma-separated; "
                           "'' for none")
    what.add_argument("--seeds", type=positive_int, default=1,
                      help="seeds of every method and budget (0..N-1)")
    compute.add_argument("--workers", type=positive_int, default=2,
                         help="runs side by side, 1 torch thread each")
    output.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report; its .png plot goes beside it and its run store "
                             "into OUT_DIR/runs/<out stem>.jsonl")
    output.add_argument("--resume", action="store_true",
                        help="reuse the runs stored in OUT_DIR/runs/<out stem>.jsonl")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    what.add_argument("--quick", action="store_true", help="the data shrunk, for tests")
    return p


def _recipes(text: str) -> list[str]:
    """``--recipes``: groups (all, quick, peers) and names, comma-separated, in order."""
    return list(dict.fromkeys(n for part in text.split(",") if part.strip()
                              for n in chosen(part.strip())))


@cli.command
def main(argv: list[str] | None = None) -> Path:
    args = parser().parse_args(argv)
    recipes = _recipes(args.recipes)
    controllers = [zoo.resolve(c) for c in args.controllers.split(",") if c]
    for c in controllers:  # a throwaway of each, on the task's spaces: it fails before any run
        check_frozen(task_at(1, args.quick), c)
    methods = [*controllers, *recipes]
    store = RunStore(args.out.parent / "runs" / f"{args.out.stem}.jsonl",
                     {"task": task_at(1, args.quick).name, "epochs_per_decision": 1},
                     args.resume, BUDGETS)
    jobs = [(m, b, s, args.quick) for b in args.budgets for m in methods
            for s in range(args.seeds)]
    with tqdm(total=len(jobs), unit="run", desc="budgets", disable=not args.progress) as bar:
        runs = play_stored(jobs, run_one, lambda j: (f"{j[0]}|{j[1]}", j[2]), Run, store,
                           args.workers, bar, _warm_up)
    return write_result(args.out, report(runs, methods, controllers, recipes, args, argv))


def report(runs: list[Run], methods: list[str], controllers: list[str], recipes: list[str],
           args: argparse.Namespace, argv: list[str] | None) -> str:
    by = {(r.method, r.budget): [x for x in runs if (x.method, x.budget) == (r.method, r.budget)]
          for r in runs}

    def mean(method: str, budget: int) -> float:
        return statistics.fmean(r.test_mAP for r in by[(method, budget)])

    best = {b: max(recipes, key=lambda m: mean(m, b)) for b in args.budgets} if recipes else {}
    rows = [[m, *(mean_std([r.test_mAP for r in by[(m, b)]]) for b in args.budgets)]
            for m in methods]
    if recipes:
        rows.append(["best static recipe", *(f"{best[b]} ({mean(best[b], b):.1f})"
                                             for b in args.budgets)])
    table = markdown_table(["method", *(f"{b} epochs" for b in args.budgets)], rows)
    played = []
    for c in controllers:
        for b in args.budgets:
            first = by[(c, b)][0]
            flips = sum("flip" in choice.split("+")[0] for choice in first.choices)
            played.append([c, str(b), describe_choices(first.choices),
                           f"{flips}/{len(first.choices)}",
                           f"{mean(c, b) - mean(best[b], b):+.1f}" if recipes else "—"])
    played_table = markdown_table(["controller", "budget (epochs)", "seed 0: what it played",
                                   "decisions with flips", "vs the best static recipe"], played)
    plot = plot_curves(args.out.with_suffix(".png"),
                       {m: [[mean(m, b) for b in args.budgets]] for m in methods},
                       title="test mAP against the budget (make run's data)",
                       xlabel="budget (epochs, one decision each)", ylabel="test mAP",
                       x_at=args.budgets)
    details = [f"task: make run's ({envs.task_sets.DEFAULT_TASK.name}) with B one-epoch "
               f"decisions, B in {', '.join(map(str, args.budgets))}",
               f"{args.workers} runs side by side, 1 torch thread each; controllers frozen, in "
               "the env their saved settings ask for"]
    return (result_header("What changes with the budget",
                          command_line("benchmarks.budgets",
                                       argv if argv is not None else sys.argv[1:]),
                          seeds=args.seeds, details=details)
            + "\nTest mAP, mean ± std over seeds:\n\n" + table
            + ("\n\nWhat each controller plays at each budget:\n\n" + played_table
               if controllers else "")
            + f"\n\n![budgets]({plot.name})\n")
