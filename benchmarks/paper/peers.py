"""The agents against hyperparameter-search peers at the same training compute.

    python -m benchmarks.peers --env mlic-digits --budget-epochs 25 --seeds 3 \
        --out benchmarks/results
    python -m benchmarks.peers --quick --seeds 2 --out /tmp/peers          # a few minutes

Every method gets ``E = --budget-epochs`` epochs of training per seed; a search method
shares them across its trials (``benchmarks.expert.search``, ``benchmarks.expert.pbt``):

* ``static``: the ``static`` controller, holding the env's default recipe (AdamW + one-cycle
  + ASL + flip/crop) for E epochs; it is played as the agents are, an algorithm like them.
* ``random-search``: random static recipes, ``--trial-epochs`` each; best by val mAP.
* ``tpe``: Optuna TPE over static recipes with its MedianPruner (val mAP reported every
  epoch; pruned trials free epochs for more trials until E are spent). Needs ``optuna``.
* ``pbt``: Population Based Training with Ray Tune's ``PopulationBasedTraining``:
  ``--population`` members of E/population epochs each, recipes exploited/explored every
  ``--interval`` epochs. Needs Ray; without it the report says that PBT was skipped.
* ``bandit``, ``mat-dqn``, ``mat-dqn+<curiosity>``, ``ma2ml`` (and ``ma2ml-lite`` on
  request): one episode of E epochs in which the controller reconfigures the recipe and
  learns online.

Reported per method (mean ± std over seeds): test mAP / CF1 / OF1 of the method's final
model (for a search: the best finished trial's), the best val mAP seen at 25/50/75/100% of
the budget (also plotted: x = epochs spent out of E, y = best val mAP so far), the epochs
actually spent, trials, and wall time. Outputs in ``--out``: ``peers.md``, ``peers.csv``,
``peers_curves.csv``, ``peers.png`` and ``peers_test_map.png`` (``benchmarks.paper.peers_report``).
They name ``tpe`` "Optuna TPE + median pruner" and ``pbt`` "Ray Tune PBT" (``LABELS``).

A search's final model trains for one trial's epochs only, so its recipe is also trained
from the same seed for all E epochs (``RETRAINED``; skip with ``--no-retrain``). That
costs E more epochs per search and seed and is reported in its own table, apart from the
equal-compute comparison.

Every finished run is stored at once in ``OUT/runs/peers.jsonl``; after an interruption
(Ctrl-C, a crash) the same command with ``--resume`` reloads them and trains only the rest.
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.core import cli
from agents.rewards.curiosity import CURIOSITY
from benchmarks.expert import pbt
from benchmarks.core.episodes import ControllerSpec, describe_choices, parse_recipe, run_controller
from benchmarks.paper.peers_report import SweepResult, write_outputs
from benchmarks.core.reporting import add_env_flags, command_line, env_overrides, progress_bar
from training.core import jsonl
from training.core.run_store import RunStore, run_sweep
from benchmarks.expert.search import (MethodResult, SearchConfig, from_episode, progress,
                                      random_search, static_recipe, tpe_search)

PEERS = ("static", "random-search", "tpe", "pbt")
AGENTS = ("bandit", "mat-dqn", "mat-dqn-curiosity", "ma2ml", "ma2ml-lite")
DEFAULT_METHODS = ("static", "random-search", "tpe", "pbt", "bandit", "mat-dqn",
                   "mat-dqn-curiosity", "ma2ml")
Runner = Callable[[int, Any], MethodResult]
"""``run(seed, bar) -> MethodResult``: one method on one seed, advancing the sweep's bar."""
LABELS: dict[str, str] = {"tpe": "Optuna TPE + median pruner", "pbt": "Ray Tune PBT"}
"""How the reports name a method, where users know it by another name than its ``--methods`` key."""
RETRAINED = ("random-search", "tpe")
"""Searches whose chosen static recipe is also trained for the whole budget (2× compute)."""
QUICK_BUDGET = 8


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
    retrain: bool = True
    """Also train each search's chosen recipe for the whole budget (reported apart)."""
    resume: bool = False
    """Reload the runs an interrupted sweep with the same settings stored in ``store_path``."""
    progress: bool = True
    command: str = "python -m benchmarks.peers"

    def label(self, method: str) -> str:
        """The method's name in the report's tables, sentences, CSVs and plots."""
        if method == "mat-dqn-curiosity":
            return f"mat-dqn+{self.curiosity}"
        return LABELS.get(method, method)

    @property
    def store_path(self) -> Path:
        return self.out / "runs" / "peers.jsonl"

    def settings(self) -> dict[str, Any]:
        """What changes a run's result (seeds and the method list may change on resume)."""
        return {"env": self.env, "budget": self.budget, "overrides": self.overrides,
                "trial_epochs": self.trial_epochs, "population": self.population,
                "interval": self.interval, "curiosity": self.curiosity}


def unavailable(method: str) -> str | None:
    """Why ``method`` cannot run here (a missing optional dependency), or None."""
    if method == "pbt" and not pbt.available():
        return ("PBT was skipped because Ray is missing: install the `ray` extra "
                "(`pip install -c constraints.txt 'ray[tune]'`)")
    if method == "tpe" and importlib.util.find_spec("optuna") is None:
        return "TPE was skipped because Optuna is missing: install the `search` extra (`optuna`)"
    return None


def retrain_runner(config: PeersConfig, chosen: MethodResult) -> Runner:
    """``run(seed, bar)``: a search's chosen recipe trained for the whole budget."""
    recipe = parse_recipe(chosen.recipe)
    return lambda seed, bar: static_recipe(config.env, config.overrides, seed, config.budget,
                                            recipe, bar=bar)


def runner(config: PeersConfig, method: str) -> Runner:
    """``run(seed, bar) -> MethodResult`` for one method."""
    env, over, budget = config.env, config.overrides, config.budget
    search = SearchConfig(budget=budget, trial_epochs=min(config.trial_epochs, budget))
    if method == "random-search":
        return lambda seed, bar: random_search(env, over, seed, search, bar)
    if method == "tpe":
        return lambda seed, bar: tpe_search(env, over, seed, search, bar)
    if method == "pbt":
        settings = pbt.PBTConfig(budget=budget, population=config.population,
                                 interval=config.interval)
        return lambda seed, bar: pbt.run_pbt(env, over, seed, settings, bar)
    # Every other method is a registered algorithm, static among them: run_controller offers
    # each the env's default recipe as run_marl does, and static holds it.
    curiosity = config.curiosity if method == "mat-dqn-curiosity" else "none"
    algo = "mat-dqn" if method == "mat-dqn-curiosity" else method
    spec = ControllerSpec(algo=algo, curiosity=curiosity)
    episode_over = {**over, "max_decisions": budget}

    def run_agent(seed: int, bar: Any) -> MethodResult:
        episode = run_controller(env, spec, seed, episode_over, callbacks=progress(bar))
        return from_episode(episode, detail=f"{spec.algo} (curiosity {curiosity}): "
                                            f"{describe_choices(episode.choices)}")
    return run_agent


def sweep(config: PeersConfig) -> SweepResult:
    """Every available method on every seed, then (``config.retrain``) each search's chosen
    recipe trained for the whole budget; the notes say what was skipped and why.

    Each finished run is stored in ``config.store_path`` at once; with ``config.resume``
    the runs stored by an interrupted sweep with the same settings are reloaded, not rerun.
    """
    start = time.perf_counter()
    store = RunStore(config.store_path, config.settings(), config.resume, jsonl.PEERS)
    found = SweepResult(results={}, notes=[n for n in map(unavailable, config.methods) if n])
    methods = [m for m in config.methods if unavailable(m) is None]
    again = [m for m in RETRAINED if m in methods] if config.retrain else []
    total = config.budget * config.seeds * (len(methods) + len(again))
    with progress_bar(total, "peers", config.progress) as bar:
        def run_or_reload(name: str, seed: int, run: Runner) -> MethodResult:
            bar.set_postfix_str(f"{config.label(name)} seed {seed}")
            done = bar.n
            result = store.fetch(name, seed, MethodResult, lambda: run(seed, bar))
            bar.update(max(0, done + config.budget - bar.n))  # reloaded, or PBT spent a little less
            return result

        for method in methods:
            run = runner(config, method)
            pending = any(store.get(method, s, MethodResult) is None for s in range(config.seeds))
            session = pbt.ray_session(config.population) if method == "pbt" and pending else None
            with session or contextlib.nullcontext():
                found.results[method] = [run_or_reload(method, seed, run)
                                         for seed in range(config.seeds)]
        for method in again:
            found.retrained[method] = [
                run_or_reload(f"{method}/retrained", seed, retrain_runner(config, result))
                for seed, result in enumerate(found.results[method])]
    found.wall_s, found.reloaded = time.perf_counter() - start, store.reused
    return found


def parse_args(argv: list[str]) -> PeersConfig:
    parser = cli.parser("benchmarks.peers", __doc__, example=(
        "python -m benchmarks.peers --env mlic-digits --budget-epochs 25 --seeds 5 "
        "--out benchmarks/results\npython -m benchmarks.peers --quick --seeds 2 --out /tmp/peers"))
    what = parser.add_argument_group("what to run")
    searches = parser.add_argument_group("the methods' settings")
    output = parser.add_argument_group("output")
    what.add_argument("--env", default="mlic-digits",
                      help="the env id every method trains in (envs.list_envs())")
    what.add_argument("--budget-epochs", type=cli.positive_int, default=None,
                      help="E, the epochs of training every method gets per seed "
                           "(default 25; --quick 8)")
    what.add_argument("--seeds", type=cli.positive_int, default=3,
                      help="seeds of every method (0..N-1)")
    output.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                        help="the output folder: peers.md, peers.csv, peers_curves.csv, the "
                             "plots and the run store runs/peers.jsonl")
    what.add_argument("--quick", action="store_true",
                      help="tiny runs: image_size 16, 256 train images, E = 8")
    what.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                      help=f"comma-separated subset of {', '.join(PEERS + AGENTS)}")
    searches.add_argument("--trial-epochs", type=cli.positive_int, default=None,
                          help="epochs per search trial (default E // 5, at least 2)")
    searches.add_argument("--population", type=cli.positive_int, default=4,
                          help="PBT members (4-8)")
    searches.add_argument("--interval", type=cli.positive_int, default=None,
                          help="PBT epochs between perturbations (default a third of a member's)")
    searches.add_argument("--curiosity", choices=CURIOSITY, default="rnd",
                          help="the curiosity bonus of the mat-dqn-curiosity method")
    searches.add_argument("--no-retrain", action="store_true",
                          help="skip training each search's chosen recipe for the whole budget "
                               "(that extra run costs E epochs per search and seed)")
    output.add_argument("--resume", action="store_true",
                        help="reload the runs an interrupted sweep stored in OUT/runs/peers.jsonl")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
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
        retrain=not args.no_retrain, resume=args.resume, progress=not args.no_progress,
        command=command_line("benchmarks.peers", argv))


@cli.command
def main(argv: list[str] | None = None) -> Path:
    config = parse_args(list(sys.argv[1:] if argv is None else argv))
    result = run_sweep(sweep, config, config.store_path)
    path = write_outputs(config, result, list(AGENTS), list(PEERS))
    for note in result.notes:
        print(note)
    print(f"wrote {path}")
    return path
