"""The agents against hyperparameter-search peers at the same training compute.

    python -m benchmarks.peers --env mlic-digits --budget-epochs 25 --seeds 3 \
        --out benchmarks/results
    python -m benchmarks.peers --quick --seeds 2 --out /tmp/peers          # a few minutes

Every method gets ``E = --budget-epochs`` epochs of training per seed; a search method
shares them across its trials (``benchmarks.search``, ``benchmarks.pbt``):

* ``static``: the static default recipe (AdamW + one-cycle + ASL + flip/crop) for E epochs.
* ``random-search``: random static recipes, ``--trial-epochs`` each; best by val mAP.
* ``tpe``: Optuna TPE over static recipes with its MedianPruner (val mAP reported every
  epoch; pruned trials free epochs for more trials until E are spent). Needs ``optuna``.
* ``pbt``: Population Based Training with Ray Tune's ``PopulationBasedTraining``:
  ``--population`` members of E/population epochs each, recipes exploited/explored every
  ``--interval`` epochs. Needs Ray; without it the report says that PBT was skipped.
* ``bandit``, ``mat-dqn``, ``mat-dqn+<curiosity>``, ``ma2ml`` (and ``ma2ml-lite`` on
  request): one episode of E epochs in which the controller reconfigures the recipe and
  learns online. ``ma2ml`` runs only where ``agents.ALGORITHMS`` has it.

Reported per method (mean ± std over seeds): test mAP / CF1 / OF1 of the method's final
model (for a search: the best finished trial's), the best val mAP seen at 25/50/75/100% of
the budget (also plotted: x = epochs spent out of E, y = best val mAP so far), the epochs
actually spent, trials, and wall time. Outputs in ``--out``: ``peers.md``, ``peers.csv``,
``peers_curves.csv``, ``peers.png`` and ``peers_test_map.png``.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agents
import envs
from benchmarks import pbt
from benchmarks.common import markdown_table, mean_std
from benchmarks.episodes import ControllerSpec, Tick, run_controller
from benchmarks.plots import plot_bars, plot_curves
from benchmarks.reporting import (add_env_flags, command_line, env_overrides, header, progress_bar,
                                  shortfalls, write_csv)
from benchmarks.search import (MethodResult, SearchConfig, from_episode, random_search,
                               static_default, tpe_search)

PEERS = ("static", "random-search", "tpe", "pbt")
AGENTS = ("bandit", "mat-dqn", "mat-dqn-curiosity", "ma2ml", "ma2ml-lite")
DEFAULT_METHODS = ("static", "random-search", "tpe", "pbt", "bandit", "mat-dqn",
                   "mat-dqn-curiosity", "ma2ml")
QUICK_BUDGET = 8
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PeersConfig:
    """One comparison: env, budget, seeds, methods and their settings."""

    env: str = "mlic-digits"
    budget: int = 25
    seeds: int = 3
    out: Path = Path("benchmarks/results")
    overrides: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = DEFAULT_METHODS
    trial_epochs: int = 5
    population: int = 4
    interval: int = 2
    curiosity: str = "rnd"
    progress: bool = True
    command: str = "python -m benchmarks.peers"

    def label(self, method: str) -> str:
        return f"mat-dqn+{self.curiosity}" if method == "mat-dqn-curiosity" else method


def unavailable(method: str) -> str | None:
    """Why ``method`` cannot run here (a missing optional dependency), or None."""
    if method == "pbt" and not pbt.available():
        return ("PBT was skipped because Ray is missing: install the `ray` extra "
                "(`pip install -c constraints.txt 'ray[tune]'`)")
    if method == "tpe" and importlib.util.find_spec("optuna") is None:
        return "TPE was skipped because Optuna is missing: install the `search` extra (`optuna`)"
    if method in ("ma2ml", "ma2ml-lite") and method not in agents.ALGORITHMS:
        return f"{method} was skipped: it is not in agents.ALGORITHMS in this checkout"
    return None


def runner(config: PeersConfig, method: str) -> Callable[[int, Tick], MethodResult]:
    """``run(seed, tick) -> MethodResult`` for one method."""
    env, over, budget = config.env, config.overrides, config.budget
    search = SearchConfig(budget=budget, trial_epochs=min(config.trial_epochs, budget))
    if method == "static":
        return lambda seed, tick: static_default(env, over, seed, budget, tick)
    if method == "random-search":
        return lambda seed, tick: random_search(env, over, seed, search, tick)
    if method == "tpe":
        return lambda seed, tick: tpe_search(env, over, seed, search, tick)
    if method == "pbt":
        settings = pbt.PBTConfig(budget=budget, population=config.population,
                                 interval=config.interval)
        return lambda seed, tick: pbt.run_pbt(env, over, seed, settings, tick)
    curiosity = config.curiosity if method == "mat-dqn-curiosity" else "none"
    algo = "mat-dqn" if method == "mat-dqn-curiosity" else method
    spec = ControllerSpec(algo=algo, curiosity=curiosity)
    episode_over = {**over, "max_decisions": budget}
    return lambda seed, tick: from_episode(run_controller(env, spec, seed, episode_over, tick=tick),
                                           detail=f"{spec.algo} (curiosity {curiosity})")


def sweep(config: PeersConfig) -> tuple[dict[str, list[MethodResult]], list[str]]:
    """Every available method on every seed; the notes say what was skipped and why."""
    notes = [n for n in (unavailable(m) for m in config.methods) if n]
    methods = [m for m in config.methods if unavailable(m) is None]
    results: dict[str, list[MethodResult]] = {}
    with progress_bar(config.budget * config.seeds * len(methods), "peers", config.progress) as bar:
        for method in methods:
            run = runner(config, method)
            session = pbt.ray_session(config.population) if method == "pbt" else None
            with session or contextlib.nullcontext():
                for seed in range(config.seeds):
                    bar.set_postfix_str(f"{config.label(method)} seed {seed}")
                    done = bar.n
                    results.setdefault(method, []).append(run(seed, lambda: bar.update(1)))
                    bar.update(max(0, done + config.budget - bar.n))  # PBT may spend a little less
    return results, notes


def at_fraction(curve: list[float], budget: int, fraction: float) -> float:
    """Best val mAP after ``ceil(fraction * budget)`` epochs (the last one if fewer were spent)."""
    index = min(len(curve), max(1, math.ceil(fraction * budget))) - 1
    return curve[index]


def run_rows(config: PeersConfig, results: dict[str, list[MethodResult]]) -> list[dict[str, Any]]:
    rows = []
    for method, runs in results.items():
        for seed, r in enumerate(runs):
            rows.append({"method": config.label(method), "seed": seed, "test_mAP": r.test["mAP"],
                         "test_CF1": r.test["CF1"], "test_OF1": r.test["OF1"],
                         **{f"best_val_at_{int(f * 100)}pct": at_fraction(r.curve, config.budget, f)
                            for f in FRACTIONS},
                         "epochs_spent": len(r.curve), "trials": r.trials,
                         "wall_s": round(r.wall_s, 2), "detail": r.detail})
    return rows


def table(config: PeersConfig, rows: list[dict[str, Any]]) -> str:
    labels = list(dict.fromkeys(r["method"] for r in rows))
    body = []
    for label in labels:
        mine = [r for r in rows if r["method"] == label]
        body.append([label] + [mean_std([r[k] for r in mine])
                               for k in ("test_mAP", "test_CF1", "test_OF1")]
                    + [mean_std([r[f"best_val_at_{int(f * 100)}pct"] for r in mine])
                       for f in FRACTIONS]
                    + [f"{statistics.fmean(r['epochs_spent'] for r in mine):.1f}",
                       f"{statistics.fmean(r['trials'] for r in mine):.1f}",
                       f"{statistics.fmean(r['wall_s'] for r in mine):.1f}"])
    head = ["method", "test mAP", "test CF1", "test OF1"] + [
        f"best val mAP @{int(f * 100)}% of E" for f in FRACTIONS] + [
        "epochs spent", "trials", "wall (s) per seed"]
    return markdown_table(head, body)


def write_outputs(config: PeersConfig, results: dict[str, list[MethodResult]], notes: list[str],
                  wall_s: float) -> Path:
    out = config.out
    rows = run_rows(config, results)
    write_csv(out / "peers.csv", rows)
    write_csv(out / "peers_curves.csv", [
        {"method": config.label(m), "seed": seed, "epochs_spent": i + 1, "best_val_mAP": v}
        for m, runs in results.items() for seed, r in enumerate(runs)
        for i, v in enumerate(r.curve)])
    curves = {config.label(m): [r.curve for r in runs] for m, runs in results.items()}
    plot_curves(out / "peers.png", curves,
                title=f"{config.env}: best val mAP vs budget spent (E = {config.budget})",
                xlabel=f"epochs spent (of {config.budget})", ylabel="best val mAP so far")
    scores = {config.label(m): [r.test["mAP"] for r in runs] for m, runs in results.items()}
    plot_bars(out / "peers_test_map.png", scores,
              title=f"{config.env}: test mAP at {config.budget} epochs",
              ylabel="test mAP")
    ours = [config.label(m) for m in results if m in AGENTS]
    peers = [config.label(m) for m in results if m in PEERS]
    verdicts = (shortfalls(scores, ours, peers)
                or ["No agent method and peer both ran: nothing to compare."])
    env_config = envs.make_config(config.env, **config.overrides)
    details = [f"budget E = {config.budget} epochs of training per method per seed (batch "
               f"{env_config.batch_size}, backbone {env_config.backbone}, env overrides "
               f"{config.overrides or 'none'}); mean ± std over {config.seeds} seed(s)",
               f"search trials of {min(config.trial_epochs, config.budget)} epochs; PBT population "
               f"{config.population}, {config.budget // config.population} epochs each, "
               f"perturbation every {config.interval} epochs",
               f"sweep wall time: {wall_s / 60:.1f} min"]
    skipped = "\n".join(f"- **Skipped:** {n}" for n in notes)
    text = (header(f"Agents vs peers at equal compute on {config.env}", config.command, details)
            + (f"\n{skipped}\n" if skipped else "") + "\n" + table(config, rows) + "\n\n"
            + "\n".join(f"- {v}" for v in verdicts)
            + "\n\n![best val mAP vs budget](peers.png)\n![test mAP](peers_test_map.png)\n")
    (out / "peers.md").write_text(text, encoding="utf-8")
    return out / "peers.md"


def parse_args(argv: list[str]) -> PeersConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="mlic-digits")
    parser.add_argument("--budget-epochs", type=int, default=None, help="E (default 25; --quick 8)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true",
                        help="tiny runs: image_size 16, 256 train images, E = 8")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated subset of {','.join(PEERS + AGENTS)}")
    parser.add_argument("--trial-epochs", type=int, default=None,
                        help="epochs per search trial (default E // 5, at least 2)")
    parser.add_argument("--population", type=int, default=4, help="PBT members (4-8)")
    parser.add_argument("--interval", type=int, default=None,
                        help="PBT epochs between perturbations (default a third of a member's)")
    parser.add_argument("--curiosity", choices=("icm", "rnd"), default="rnd")
    parser.add_argument("--no-progress", action="store_true")
    add_env_flags(parser)
    args = parser.parse_args(argv)
    budget = args.budget_epochs or (QUICK_BUDGET if args.quick else 25)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in PEERS + AGENTS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {', '.join(PEERS + AGENTS)}")
    if "pbt" in methods and budget < 2 * args.population:
        parser.error(f"PBT needs --budget-epochs >= 2 * --population ({2 * args.population})")
    member = budget // args.population
    return PeersConfig(
        env=args.env, budget=budget, seeds=args.seeds, out=args.out,
        overrides=env_overrides(args, args.quick), methods=methods,
        trial_epochs=args.trial_epochs or max(2, budget // 5), population=args.population,
        interval=args.interval or max(1, member // 3), curiosity=args.curiosity,
        progress=not args.no_progress, command=command_line("benchmarks.peers", argv))


def main(argv: list[str] | None = None) -> Path:
    config = parse_args(list(sys.argv[1:] if argv is None else argv))
    start = time.perf_counter()
    results, notes = sweep(config)
    path = write_outputs(config, results, notes, time.perf_counter() - start)
    for note in notes:
        print(note)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
