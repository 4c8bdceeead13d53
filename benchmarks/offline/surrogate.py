"""Fit ``mlic-surrogate-v0`` on the real transitions, measure its fidelity, train on it.

    python -m benchmarks.surrogate fit [--dataset-id mlic/digits-v1-mixed-v0] [--out PATH]
    python -m benchmarks.surrogate fidelity --methods M,... [--real STORE ...] [--out RESULT]
    python -m benchmarks.surrogate train --algo mat-dqn --episodes N --out DIR

``fit`` trains the ensemble (``envs.surrogate.model``: 5 MLPs, Gaussian heads, each on a
bootstrap resample; the data and the fit are ``benchmarks.offline.surrogate_fit``) on the dataset's *train* tasks only, and writes the weights with a task
table (every task's decisions and its recorded initial observations; held-out tasks are
there to be started, never fitted on).

``fidelity`` writes ``benchmarks/results/surrogate.md``:

* the per-step prediction error on the held-out tasks' real transitions (the ensemble's
  mean against what happened): val-mAP change in points and reward, beside a no-change
  baseline;
* speed: surrogate steps per second against the real env's, measured side by side here;
* ranking: every method is played on the surrogate's held-out tasks (``--episodes`` per
  task), scored by its final surrogate val mAP, and ranked against its real held-out test
  mAP from run stores of ``benchmarks.zero_shot`` / ``benchmarks.protocol`` (``--real``);
  the Spearman correlation of the two rankings, and where they disagree.

``train`` meta-trains a built-in algorithm on the surrogate's train tasks (fast), saves
``DIR/best`` with a ``summary.json`` that ``benchmarks.protocol --algo run:DIR`` and
``benchmarks.zero_shot --runs DIR`` read, then (``--evaluate``, the default) runs the
protocol on the real env with it: one command from surrogate training to a real row. The
protocol rewrites ``benchmarks/results/leaderboard.md``; ``--from`` names the zero-shot stores
whose rows join it, by default those the committed leaderboard holds (``LEADERBOARD_FROM``:
the Ray Tune PBT row), as the docs' protocol commands name them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import envs
from training.core import cli
from agents import load_controller, make_controller, zoo
from agents.registry import declared_options
from benchmarks.core.common import markdown_table, result_header, write_result
from benchmarks.core.reporting import command_line, shown
from benchmarks.expert.static_recipes import RECIPES
from benchmarks.offline.surrogate_fit import (FitConfig, fit, load_dataset, prediction_error,
                                              split_transitions, task_table)
from benchmarks.ranking.zero_shot import CALIBRATION, RUN_PREFIX, frozen_source, panel_best
from envs.engine.checks import require_file
from envs.errors import ConfigError
from envs.surrogate import WEIGHTS, Ensemble, SurrogateEnv
from envs.surrogate.model import CATALOGUE, SCALARS
from training.core import jsonl
from training.core.episode import Callback, StepContext, run, run_episode
from training.core.jsonl import PROTOCOL, ZERO_SHOT
from training.core.saved_settings import controller_env_settings

RESULTS = Path(__file__).resolve().parents[1] / "results" / "surrogate.md"
LEADERBOARD_FROM: tuple[Path, ...] = (RESULTS.parent / "runs" / "zero_shot_pbt_digits_v1.jsonl",)
"""The zero-shot stores whose rows the committed ``leaderboard.md`` holds beside the protocol
store's (the Ray Tune PBT row): ``train``'s protocol run names those that exist with ``--from``
unless ``--from`` is given, or it would rewrite the leaderboard without them."""
SURROGATE_DATASET = "mlic/digits-v1-mixed-v0"
"""What the bundled surrogate was fitted on: the mixed behaviours, without the expert's runs
(``python -m benchmarks.dataset export --dataset-id mlic/digits-v1-mixed-v0``)."""


# ------------------------------------------------------------------ playing methods
class _FinalVal(Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_step(self, ctx: StepContext) -> bool:
        if ctx.done:
            self.values.append(float(ctx.info["val_mAP"]))
        return True


def surrogate_controller(method: str, env: SurrogateEnv, seed: int, best: str) -> Any:
    """A leaderboard method as a controller on the surrogate (the names of
    ``benchmarks.zero_shot`` and ``benchmarks.protocol``: ``static default``, ``static
    panel-best``, ``<algo> online``, ``module.path:Class``, ``zoo:NAME``, ``run:DIR``), built as
    those build it (online ones are offered the default recipe as ``choices``)."""
    if method in ("static default", "static panel-best"):
        recipe = envs.DEFAULT_RECIPE if method == "static default" else RECIPES[best]
        return make_controller("static", env, seed=seed, choices=envs.recipe_actions(env, recipe))
    if method.endswith(" online") or (":" in method and not is_frozen(method)):
        algo = method.removesuffix(" online")  # a registered algorithm, or module.path:Class
        offered = {"choices": envs.recipe_actions(env, envs.DEFAULT_RECIPE)}
        return make_controller(algo, env, seed=seed, **declared_options(algo, offered))
    source = frozen_source(method)
    return load_controller(source, frozen_view(env, source), seed=seed, training=False)


def is_frozen(method: str) -> bool:
    """Whether a leaderboard method is a saved controller (``zoo:NAME``, ``run:DIR``)."""
    return method.startswith((zoo.PREFIX, RUN_PREFIX))


def surrogate_settings(source: str | Path) -> dict[str, Any]:
    """The env settings a frozen controller from ``source`` was trained with, refused unless
    it sees the relative observation (the surrogate's)."""
    settings = controller_env_settings(source)
    if settings.get("observation", "standard") != "relative":
        raise ConfigError(f"{source} sees the {settings.get('observation', 'standard')} "
                          "observation; the surrogate gives the relative one: give a "
                          "controller trained on it (python -m benchmarks.surrogate train) "
                          "or with the relative observation")
    return settings


def frozen_view(env: SurrogateEnv, source: str | Path) -> SurrogateEnv:
    """``env`` as a frozen controller from ``source`` needs it: it must see the relative
    observation (the surrogate's); a reward setting it was trained with is taken on, since a
    frozen controller never learns from the reward (the surrogate's stays the data's)."""
    settings = surrogate_settings(source)
    reward = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("reward.")}
    if reward:
        env.config = replace(env.config, reward=replace(env.config.reward, **reward))
    return env


def play_on_surrogate(method: str, env: SurrogateEnv, tasks: Sequence[str], episodes: int,
                      best: str) -> dict[str, float]:
    """Mean final surrogate val mAP per task over ``episodes`` seeds (each its own episode)."""
    out = {}
    for task in tasks:
        final, pinned = _FinalVal(), env.pinned(task)
        for seed in range(episodes):
            controller = surrogate_controller(method, pinned, seed, best)
            run_episode(pinned, controller, seed=seed, callbacks=[final],
                        learn=controller.training)
        out[task] = statistics.fmean(final.values)
    return out


def real_scores(stores: Sequence[Path], tasks: dict[str, str],
                seeds: Sequence[int] | None = None) -> dict[str, dict[str, float]]:
    """``method -> {task name: mean test mAP}`` from zero-shot/protocol stores, for the
    stores' targets whose task is in ``tasks`` (label -> name), on ``seeds`` (default: all)."""
    runs: dict[tuple[str, str], list[float]] = {}
    for path in stores:
        require_file(path, "run benchmarks.zero_shot or benchmarks.protocol first",
                     flag="--real")
        for result in jsonl.read(path, (ZERO_SHOT, PROTOCOL)).results:
            label = result["target"].split(":")[0].replace(" ", ":")
            if label in tasks and (seeds is None or int(result["seed"]) in seeds):
                runs.setdefault((result["method"], tasks[label]), []).append(result["test_mAP"])
    out: dict[str, dict[str, float]] = {}
    for (method, task), values in runs.items():
        out.setdefault(method, {})[task] = statistics.fmean(values)
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


# ------------------------------------------------------------------ speed
def speed(env: SurrogateEnv, task: envs.Task, steps: int = 2000) -> tuple[float, float]:
    """(surrogate steps/s, real env steps/s) measured side by side, one thread."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    start, done = time.perf_counter(), 0
    while done < steps:
        if not env.agents:
            env.reset()
        env.step({a: int(rng.integers(env.action_space(a).n)) for a in env.agents})
        done += 1
    surrogate = done / (time.perf_counter() - start)
    real = envs.make(task, observation="relative")
    real.reset(seed=0)
    start, done = time.perf_counter(), 0
    while real.agents:
        real.step({a: int(rng.integers(real.action_space(a).n)) for a in real.agents})
        done += 1
    return surrogate, done / (time.perf_counter() - start)


# ------------------------------------------------------------------ commands
def _fit_command(args: argparse.Namespace, argv: list[str]) -> Path:
    torch.set_num_threads(args.threads)
    dataset, info = load_dataset(args.dataset_id)
    train = split_transitions(dataset, info, "train")
    config = FitConfig(members=args.members, epochs=args.epochs, seed=args.seed)
    start = time.perf_counter()
    meta = {"dataset_id": args.dataset_id, "tasks": task_table(dataset, info),
            "history": dataset.observation_space.shape[0] - len(SCALARS)
            - sum(len(envs.catalogue(CATALOGUE)[c]) for c in envs.COMPONENTS),
            "catalogue": CATALOGUE,
            "train_transitions": int(len(train.rewards)), "fit": asdict(config),
            "command": command_line("benchmarks.surrogate", argv)}
    model = fit(train, config, meta)
    model.meta["fit_s"] = round(time.perf_counter() - start, 1)
    path = model.save(args.out)
    print(f"fitted {config.members} members on {len(train.rewards)} train transitions in "
          f"{model.meta['fit_s']} s -> {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return path


def leaderboard_stores(given: Sequence[Path] | None) -> list[Path]:
    """The ``--from`` stores of ``train``'s protocol run: those given (none for a bare
    ``--from``), else the ones of ``LEADERBOARD_FROM`` that exist."""
    return list(given) if given is not None else [p for p in LEADERBOARD_FROM if p.is_file()]


def _train_command(args: argparse.Namespace, argv: list[str]) -> Path:
    """Meta-train on the surrogate's train tasks, save ``OUT/best`` and ``summary.json``, then
    (``--evaluate``) run the protocol with it, its leaderboard keeping the ``--from`` rows."""
    stores = leaderboard_stores(args.extra)
    if args.evaluate and stores:  # read before training: a bad store is refused at once
        from benchmarks.ranking import leaderboard
        leaderboard.read_stores(stores, "digits-v1")
    torch.set_num_threads(args.threads)
    env = SurrogateEnv(args.weights, split="train")
    controller = make_controller(args.algo, env, seed=args.seed)
    start = time.perf_counter()
    total = sum(int(t["decisions"]) for t in env.tasks.values() if t["split"] == "train")
    steps = args.episodes * total // sum(1 for t in env.tasks.values() if t["split"] == "train")
    run(env, controller, episodes=args.episodes, seed=args.seed, total_steps=steps)
    wall = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    controller.training = False
    controller.save(args.out / "best")
    summary = {"algo": args.algo, "task_set": "digits-v1 (surrogate mlic-surrogate-v0)",
               "episodes": args.episodes, "workers": 1, "seed": args.seed,
               "cpu_hours": wall * args.threads / 3600, "wall_s": wall,
               "env_settings": {"observation": "relative"},
               "command": command_line("benchmarks.surrogate", argv)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"trained {args.algo} on the surrogate for {args.episodes} episodes in {wall:.1f} s "
          f"-> {args.out}/best")
    if args.evaluate:
        from benchmarks.ranking import protocol
        protocol.main(["--algo", f"run:{args.out}", "--task-set", "digits-v1",
                       "--seeds", str(args.eval_seeds), "--targets", "heldout,mnist",
                       "--workers", str(args.workers), "--resume",
                       *(["--from", *map(shown, stores)] if stores else [])])
    return args.out


def _fidelity_command(args: argparse.Namespace, argv: list[str]) -> Path:
    torch.set_num_threads(1)
    model = Ensemble.load(args.weights)
    env = SurrogateEnv(ensemble=model, split="heldout")
    ts = envs.task_set("digits-v1")
    labels = {f"heldout:{i}": t.name for i, t in enumerate(ts.heldout, 1)}
    tasks = [n for n in labels.values() if n in env.tasks]
    real = real_scores(args.real, labels)  # the inputs first: refused before any work
    best = panel_best(args.calibration)
    methods = [m for m in args.methods.split(",") if m]
    missing = [m for m in methods if not all(t in real.get(m, {}) for t in tasks)]
    if missing:
        raise ConfigError(f"the --real stores lack held-out runs of {', '.join(missing)}: "
                          "give --methods that they ran (their method names), or stores that "
                          "ran them")
    for method in filter(is_frozen, methods):
        surrogate_settings(frozen_source(method))
    dataset, info = load_dataset(model.meta["dataset_id"])
    errors = prediction_error(model, split_transitions(dataset, info, "heldout"))
    rows, real_means, surrogate_means = [], [], []
    for method in methods:
        on_surrogate = play_on_surrogate(method, env, tasks, args.episodes, best)
        real_means.append(statistics.fmean(real[method][t] for t in tasks))
        surrogate_means.append(statistics.fmean(on_surrogate.values()))
        rows.append([method, f"{real_means[-1]:.2f}", f"{surrogate_means[-1]:.2f}"])
    real_rank = _ranks(real_means)
    surrogate_rank = _ranks(surrogate_means)
    for row, r, s in zip(rows, real_rank, surrogate_rank):
        row += [str(r), str(s), f"{s - r:+d}"]
    rho = spearman(real_means, surrogate_means)
    halves = [real_scores(args.real, labels, seeds) for seeds in ((0, 2, 4), (1, 3))]
    split_half = spearman(*[[statistics.fmean(h[m][t] for t in tasks) for m in methods]
                            for h in halves])
    fast, slow = speed(SurrogateEnv(ensemble=model), ts.heldout[0])
    card = {"spearman": rho, "real_split_half_spearman": split_half, "methods": len(methods),
            "speedup": fast / slow,
            "surrogate_steps_per_s": fast, "real_steps_per_s": slow, **errors}
    table = markdown_table(["method", "real held-out test mAP", "surrogate held-out val mAP",
                            "real rank", "surrogate rank", "shift"], rows)
    error_table = markdown_table(
        ["per step, held-out tasks", "surrogate (ensemble mean)", "baseline"],
        [["val mAP change, MAE in points", f"{errors['val_mAP_change_mae']:.2f}",
          f"{errors['val_mAP_change_mae_no_change']:.2f} (no change)"],
         ["reward, MAE", f"{errors['reward_mae']:.3f}",
          f"{errors['reward_mae_mean']:.3f} (the mean reward)"]])
    details = [f"surrogate: {shown(args.weights)} (fitted on {model.meta['train_transitions']} train "
               f"transitions of {model.meta['dataset_id']}; {model.members} members)",
               f"held-out tasks: {len(tasks)} of digits-v1, {int(errors['transitions'])} real "
               "transitions for the prediction error",
               f"surrogate play: {args.episodes} episodes per task and method (seeds 0 to "
               f"{args.episodes - 1}), scored by the final surrogate val mAP",
               "real: " + ", ".join(str(p) for p in args.real) + " (mean held-out test mAP)",
               f"speed: {fast:,.0f} surrogate steps/s against {slow:.2f} real steps/s on "
               f"{ts.heldout[0].name}, one thread, side by side: {fast / slow:,.0f}x"]
    text = (result_header("The surrogate env mlic-surrogate-v0: fidelity and speed",
                          command_line("benchmarks.surrogate", argv), seeds=None, details=details)
            + f"\nSpearman correlation of the rankings: **{rho:.2f}** over {len(methods)} "
            f"methods. The real ranking's own reproducibility (Spearman between its means on "
            f"seeds 0, 2, 4 and on seeds 1, 3): {split_half:.2f}.\n\n" + table
            + "\n\nPer-step prediction error on the held-out tasks' "
            "real transitions:\n\n" + error_table + "\n")
    args.weights.with_suffix(".json").write_text(json.dumps(
        {**{k: model.meta[k] for k in ("dataset_id", "train_transitions", "command")},
         "fidelity": card, "fidelity_command": command_line("benchmarks.surrogate", argv)},
        indent=2) + "\n")
    return write_result(args.out, text)


def _ranks(values: Sequence[float]) -> list[int]:
    """1 for the highest value."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0] * len(values)
    for rank, i in enumerate(order, 1):
        ranks[i] = rank
    return ranks


def parser() -> argparse.ArgumentParser:
    """The command line: ``fit``, ``fidelity`` and ``train``."""
    fit_example = "python -m benchmarks.surrogate fit --dataset-id mlic/digits-v1-mixed-v0"
    fidelity_example = ("python -m benchmarks.surrogate fidelity --real "
                        "benchmarks/results/runs/protocol-digits-v1.jsonl --methods "
                        "'static default,static panel-best,random online,bandit online'")
    train_example = ("python -m benchmarks.surrogate train --algo mat-dqn --episodes 2000 "
                     "--out runs/surrogate-mat-dqn")
    p = cli.parser("benchmarks.surrogate", __doc__,
                   example="\n".join((fit_example, fidelity_example, train_example)))
    sub = p.add_subparsers(dest="command", required=True, title="commands",
                           help="what to do (each has its own --help)")
    f = cli.subcommand(sub, "fit", "fit the ensemble on the dataset's train tasks", fit_example,
                       description=(
                           "Fit the surrogate's ensemble (MLPs with Gaussian heads, each on a "
                           "bootstrap resample) on a Minari dataset's train tasks only, and "
                           "write its weights with the task table."))
    f_what = f.add_argument_group("what to fit")
    f_output = f.add_argument_group("output")
    f_compute = f.add_argument_group("compute")
    f_what.add_argument("--dataset-id", default=SURROGATE_DATASET,
                        help="the Minari dataset of real transitions (benchmarks.dataset export)")
    f_output.add_argument("--out", type=Path, default=WEIGHTS,
                          help="the weights file (.npz) to write")
    f_what.add_argument("--members", type=cli.positive_int, default=FitConfig.members,
                        help="ensemble members, each on its own bootstrap resample")
    f_what.add_argument("--epochs", type=cli.positive_int, default=FitConfig.epochs,
                        help="passes over each member's resample (AdamW, minibatches of "
                             f"{FitConfig.batch_size})")
    f_what.add_argument("--seed", type=cli.non_negative_int, default=0,
                        help="seeds the resamples and the members' initialisation")
    f_compute.add_argument("--threads", type=cli.positive_int, default=2,
                           help="torch threads of the fit")
    d = cli.subcommand(sub, "fidelity", "prediction error, speed and ranking fidelity",
                       fidelity_example, description=(
                           "Measure the surrogate against the real env: per-step prediction "
                           "error on the held-out tasks' real transitions, steps per second, "
                           "and how it ranks methods against their real held-out test mAP "
                           "(Spearman)."))
    d_what = d.add_argument_group("what to compare")
    d_input = d.add_argument_group("inputs")
    d_output = d.add_argument_group("output")
    d_input.add_argument("--weights", type=Path, default=WEIGHTS,
                         help="the surrogate's weights file (.npz, written by fit)")
    d_what.add_argument("--methods", required=True,
                        help="comma-separated zero-shot method names (static default, static "
                             "panel-best, bandit online, zoo:NAME, run:DIR, ...)")
    d_input.add_argument("--real", type=Path, nargs="+", required=True,
                         help="zero-shot or protocol run stores with the methods' real runs")
    d_what.add_argument("--episodes", type=cli.positive_int, default=60,
                        help="surrogate episodes per task and method (their mean is the score)")
    d_input.add_argument("--calibration", type=Path, default=CALIBRATION.with_name(
        "task_sets_digits_v1.csv"), help="the benchmarks.task_sets calibration csv that picks "
                                         "static panel-best (its best recipe on the train tasks)")
    d_output.add_argument("--out", type=Path, default=RESULTS, help="the markdown report")
    t = cli.subcommand(sub, "train", "meta-train on the surrogate, then the real protocol",
                       train_example, description=(
                           "Meta-train a built-in algorithm on the surrogate's train tasks, save "
                           "OUT/best with a summary.json (benchmarks.protocol --algo run:OUT and "
                           "benchmarks.zero_shot --runs OUT read it), then run the protocol on "
                           "the real env with it."))
    t_what = t.add_argument_group("what to train")
    t_output = t.add_argument_group("output")
    t_eval = t.add_argument_group("evaluation on the real env (benchmarks.protocol)")
    t_what.add_argument("--algo", default="mat-dqn",
                        help="the registered algorithm to train (agents.ALGORITHMS)")
    t_what.add_argument("--episodes", type=cli.positive_int, default=2000,
                        help="surrogate training episodes, each on a train task drawn at random")
    t_what.add_argument("--weights", type=Path, default=WEIGHTS,
                        help="the surrogate's weights file (.npz)")
    t_what.add_argument("--seed", type=cli.non_negative_int, default=0,
                        help="seeds the controller and the surrogate episodes")
    t_what.add_argument("--threads", type=cli.positive_int, default=1,
                        help="torch threads of the training")
    t_output.add_argument("--out", type=Path, required=True,
                          help="the run folder: best/ (the trained controller) and summary.json")
    t_eval.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                        help="only train: skip the real protocol run")
    t_eval.add_argument("--eval-seeds", type=cli.positive_int, default=5,
                        help="protocol seeds per real target (held-out tasks and mnist)")
    t_eval.add_argument("--workers", type=cli.positive_int, default=2,
                        help="protocol runs side by side, 1 thread each")
    t_eval.add_argument("--from", dest="extra", type=Path, nargs="*", default=None,
                        metavar="STORE", help=(
                            "zero-shot stores whose rows join the leaderboard the protocol "
                            "rewrites (its --from); a bare --from names none (default: "
                            f"{', '.join(cli.shown(p) for p in LEADERBOARD_FROM)}, the "
                            "committed leaderboard's PBT row, when it exists)"))
    return p


@cli.command
def main(argv: Sequence[str] | None = None) -> Any:
    args = parser().parse_args(argv)
    argv_list = list(argv) if argv is not None else sys.argv[1:]
    command = {"fit": _fit_command, "fidelity": _fidelity_command, "train": _train_command}
    return command[args.command](args, argv_list)
