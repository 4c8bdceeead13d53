"""How much the recipe matters: static recipes trained to the full budget on one env.

    python -m benchmarks.static_recipes [--env mlic-digits] [--seeds 2] [--recipes all|quick]

Each recipe is held fixed for the whole episode (every agent repeats one action), the
way the "w/o all agents" row of an ablation runs. Reported per recipe: test mAP (mean ±
std over seeds), best val mAP, and seconds per epoch (training only). This is the
difficulty check behind the README's ``mlic-digits`` figures: a sensible recipe should
land in a useful range and poor recipes clearly below it, leaving the agents room.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import envs
from training.core import cli
from benchmarks.core.episodes import run_recipe
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.reporting import add_env_flags, command_line, env_overrides
from envs.engine.recipe import PANEL, Recipe
from envs.errors import ConfigError

RECIPES: dict[str, Recipe] = PANEL
"""The panel by its tables' names (``envs.engine.recipe.PANEL``)."""
PEERS = ("crop+sf_adamw+constant+asl", "crop+prodigy+cosine+asl")
"""The tuning-free optimizers' recipes: the self-tuning peers of every table."""
QUICK = ("default (ASL paper)", "none+sgd+constant+bce")
DEFAULT_TASK = "mlic-digits-v1"
"""``make run``'s task: ``mlic-digits`` at its defaults, in the latest catalogue."""
RESULTS = Path(__file__).resolve().parents[1] / "results" / "static_recipes.md"


def run_static(env_id: str, recipe: Recipe, seed: int, **overrides) -> dict[str, float]:
    """One episode with ``recipe`` fixed throughout; returns test mAP, best val mAP, s/epoch."""
    episode = run_recipe(env_id, recipe, seed, overrides)
    return {"test_mAP": episode.test["mAP"], "best_val_mAP": episode.best_val,
            "s_per_epoch": episode.train_s / episode.train_epochs}


def chosen(recipes: str) -> list[str]:
    """The panel names ``--recipes`` selects. Every recipe plays on every env: one outside the
    env's catalogue plays in the latest one (``benchmarks.core.episodes.run_recipe``)."""
    if recipes in ("all", "quick", "peers"):
        names = {"all": list(RECIPES), "quick": list(QUICK), "peers": list(PEERS)}[recipes]
    else:
        names = [n.strip() for n in recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown or not names:
        what = f"unknown {', '.join(map(repr, unknown))}" if unknown else "no recipe named"
        raise ConfigError(f"--recipes {recipes}: {what}; use all, quick, peers or names of the "
                          f"panel: {', '.join(RECIPES)}")
    return names


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.static_recipes``."""
    parser = cli.parser("benchmarks.static_recipes", __doc__,
                        example="python -m benchmarks.static_recipes --env mlic-digits --seeds 2 "
                                "--recipes all")
    what = parser.add_argument_group("what to run")
    output = parser.add_argument_group("output")
    what.add_argument("--env", default="mlic-digits",
                      help="the env id every recipe trains in (envs.list_envs())")
    what.add_argument("--seeds", type=cli.positive_int, default=2,
                      help="episodes per recipe (seeds 0..N-1)")
    what.add_argument("--recipes", default="all",
                      help="all (the whole panel), quick (2 recipes), "
                           "peers (the tuning-free optimizers' recipes), or panel names "
                           "joined by ','")
    what.add_argument("--max-decisions", type=cli.positive_int, default=None,
                      help="the budget in one-epoch decisions (default: the env's)")
    output.add_argument("--out", type=Path, default=RESULTS, help="the markdown report")
    add_env_flags(parser)
    return parser


@cli.command
def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    overrides = env_overrides(args, quick=False)
    if args.max_decisions is not None:
        overrides["max_decisions"] = args.max_decisions
    names = chosen(args.recipes)
    rows, start = [], time.perf_counter()
    for name in names:
        runs = [run_static(args.env, RECIPES[name], seed, **overrides) for seed in range(args.seeds)]
        test = [r["test_mAP"] for r in runs]
        rows.append([name, mean_std(test), mean_std([r["best_val_mAP"] for r in runs]),
                     f"{statistics.fmean(r['s_per_epoch'] for r in runs):.2f}"])
        print(f"{name:40s} test mAP {rows[-1][1]}  best val {rows[-1][2]}  s/epoch {rows[-1][3]}"
              f"  [{time.perf_counter() - start:.0f}s]", flush=True)
    table = markdown_table(["recipe (aug+opt+lrs+loss)", "test mAP", "best val mAP", "s / epoch"], rows)
    config = envs.make_config(args.env, **overrides)
    command = command_line("benchmarks.static_recipes", argv if argv is not None else sys.argv[1:])
    budget = (f"budget: {config.max_decisions} epochs, batch {config.batch_size}, "
              f"backbone {config.backbone}")
    text = (result_header(f"Static recipes on {args.env}", command, seeds=args.seeds,
                          details=[budget]) + f"\n{table}\n")
    write_result(args.out, text)
