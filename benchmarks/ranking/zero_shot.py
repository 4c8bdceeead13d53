"""Zero-shot: do meta-trained controllers, frozen, beat static recipes on tasks they never saw?

    python -m benchmarks.zero_shot [--task-set digits-v0] [--seeds 5] [--workers 2]
                                   [--targets heldout,mnist,default] [--zoo NAME,...]
                                   [--runs RUN_DIR,...]

Targets: every held-out task of the task set; ``mlic-mnist-v0`` (real MNIST digits, the
cross-dataset target, at the task set's standard size); and the full default
``mlic-digits`` task (25 epochs, 4,000 images, 32 px). Each method gets one run per target
and seed (equal deployment compute):

* each zoo controller, frozen (``zoo:<name>``; its env settings from its card), and the
  ``best/`` controller of each meta-training run given with ``--runs`` (``run:<dir>``;
  its env settings from the run's ``summary.json``);
* ``static default``: the default recipe (ASL paper) held fixed;
* ``static panel-best``: the one recipe of the calibration panel
  (``benchmarks/results/task_sets.csv``) with the best mean test mAP over the train
  tasks; choosing it cost the panel's compute (train tasks x 8 recipes x 3 seeds);
* ``bandit online`` and ``mat-dqn online``: learning from scratch inside the one run;
* ``Ray Tune PBT``: a population of 4 that shares the run's budget (each member trains a
  quarter of the epochs, exploiting and exploring the recipe every 2 epochs).

Reported per target: test mAP mean ± std over seeds, beside them the target's best static
recipe in hindsight (the VBS, a reference column, not a competitor: the leaderboard's VBS row,
from the task set's VBS stores, ``benchmarks.ranking.vbs.VBS_STORES`` or ``--vbs``, and this
table's static runs; ``—`` where no VBS store covers the target), and for each zoo controller
its per-seed paired margin over the static default, over the panel-best recipe and over the
VBS (on the seeds both ran), with wins; the zoo's meta-training compute comes from its model
card, apart. Every run is stored in ``OUT_DIR/runs/zero_shot.jsonl`` as it ends
(``--resume`` reuses them, and rebuilds the table without training).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from agents import zoo
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.episodes import (ControllerSpec, check_frozen, describe_choices,
                                      run_controller, run_frozen, run_recipe)
from benchmarks.core.reporting import command_line, shown
from benchmarks.expert.static_recipes import RECIPES
from benchmarks.expert.task_sets import warm_up
from benchmarks.ranking import normalised
from benchmarks.ranking.choice_maps import plot_choice_maps, task_dependence
from benchmarks.ranking.targets import TARGET_KINDS, short_target, targets
from benchmarks.ranking.vbs import VBS_ROW, VBS_STORES, read_vbs
from envs.engine.checks import require_file
from envs.errors import ConfigError, MLICError
from training.core import cli
from training.core.jsonl import ZERO_SHOT
from training.core.run_store import RunStore, play_stored

RESULTS = Path(__file__).resolve().parents[1] / "results" / "zero_shot.md"
CALIBRATION = Path(__file__).resolve().parents[1] / "results" / "task_sets.csv"
DEFAULT = "static default"
PANEL_BEST = "static panel-best"
ONLINE = {"bandit online": "bandit", "mat-dqn online": "mat-dqn"}
PBT = "Ray Tune PBT"
PBT_POPULATION = 4
RUN_PREFIX = "run:"
"""Marks a meta-training run directory (its ``best/`` controller) among the methods."""


def check_run(run: Path) -> str:
    """``--runs DIR`` as a method name's path; a folder that is not a finished meta-training
    run is refused (a ``ConfigError``)."""
    if not (run / "best").is_dir() or not (run / "summary.json").is_file():
        raise ConfigError(f"--runs {run}: not a finished meta-training run (it needs best/ and "
                          "summary.json; see python -m training.meta_train)")
    return str(run)


@dataclass
class Run:
    target: str
    method: str
    seed: int
    test_mAP: float
    choices: list[str]
    wall_s: float
    curve: list[float] = field(default_factory=list)
    """Val mAP after each decision (PBT's: the best so far over its members), for the time to
    target (``benchmarks.algoperf``); empty in stores written before curves were kept."""
    step_s: list[float] = field(default_factory=list)
    """Wall seconds of each decision (not PBT's); empty in stores written before."""


def add_controller_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--zoo``, ``--runs`` and ``--calibration``, shared with ``benchmarks.user_loop`` (on a
    parser or one of its argument groups)."""
    parser.add_argument("--zoo", default=None,
                        help="zoo entries to compare, comma-separated names (default: all)")
    parser.add_argument("--runs", default="",
                        help="meta-training run directories whose best/ controller to compare "
                             "too, before publishing them (comma-separated)")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION,
                        help="the task set's benchmarks.task_sets calibration csv: static "
                             "panel-best, the SBS, is its best recipe over the train tasks")


def chosen_controllers(args: argparse.Namespace) -> list[str]:
    """``zoo:<name>`` for each ``--zoo`` entry (default: all), then ``run:<dir>`` per ``--runs``."""
    names = args.zoo.split(",") if args.zoo else zoo.list_zoo()
    controllers = [zoo.resolve(f"{zoo.PREFIX}{zoo.check_name(n)}") for n in names]
    return controllers + [f"{RUN_PREFIX}{check_run(Path(r))}" for r in args.runs.split(",") if r]


def frozen_source(method: str) -> str | Path:
    """What ``run_frozen`` loads for a controller method: ``run:<dir>``'s ``best/``, or the
    ``zoo:<name>`` itself."""
    if method.startswith(RUN_PREFIX):
        return Path(method.removeprefix(RUN_PREFIX)) / "best"
    return method


def check_controllers(controllers: list[str], chosen: dict[str, str | envs.Task]) -> None:
    """Load a throwaway of every controller on every target's spaces
    (``benchmarks.core.episodes.check_frozen``) before any run: a controller that cannot be loaded
    there (a missing file, spaces it does not fit) fails now, naming it. Each run loads its
    own."""
    for c in controllers:
        try:
            for target in chosen.values():
                check_frozen(target, frozen_source(c))
        except MLICError as error:
            raise ConfigError(f"{c}: {error}") from error


def panel_best(calibration: Path = CALIBRATION) -> str:
    """The panel recipe with the best mean test mAP over the calibration's train tasks; a
    missing file, or one that is not a ``benchmarks.task_sets`` calibration csv, is refused (a
    ``ConfigError`` naming ``--calibration`` and the command that writes it)."""
    fix = ("run python -m benchmarks.task_sets first (the panel-best recipe comes from its "
           "train tasks), or pass the calibration csv it writes")
    require_file(calibration, fix, flag="--calibration")
    try:
        with calibration.open(newline="", encoding="utf-8") as file:
            rows = [r for r in csv.DictReader(file) if r.get("split") == "train"]
        measured = [name for name in RECIPES if rows and f"mAP[{name}]" in rows[0]]  # its panel
        means = {name: statistics.fmean(float(r[f"mAP[{name}]"]) for r in rows)
                 for name in measured}
    except (UnicodeDecodeError, csv.Error, TypeError, ValueError) as error:
        raise ConfigError(f"--calibration {calibration} is not a calibration csv ({error}): "
                          f"{fix}") from None
    if not means:
        raise ConfigError(f"--calibration {calibration} is not a calibration csv (no train "
                          f"task with a panel recipe's mAP[...] column): {fix}")
    return max(means, key=means.get)


def run_one(job: tuple[str, str | envs.Task, str, int, str]) -> Run:
    """One target, method and seed (in a worker process started by ``warm_up``)."""
    label, target, method, seed, best = job
    if method == DEFAULT:
        episode = run_recipe(target, envs.DEFAULT_RECIPE, seed, {})
    elif method == PANEL_BEST:
        episode = run_recipe(target, RECIPES[best], seed, {})
    elif method in ONLINE:
        episode = run_controller(target, ControllerSpec(ONLINE[method]), seed, {})
    else:
        episode = run_frozen(target, frozen_source(method), seed)
    return Run(label, method, seed, episode.test["mAP"], episode.choices, episode.wall_s,
               episode.val_map, episode.step_s)


@cli.command
def main(argv: list[str] | None = None) -> Path:
    parser = cli.parser("benchmarks.zero_shot", __doc__, example=(
        "python -m benchmarks.zero_shot --task-set digits-v0 --seeds 5 --workers 2 "
        "--targets heldout,mnist"))
    what = parser.add_argument_group("what to run")
    methods = parser.add_argument_group("the methods (and the VBS reference)")
    output = parser.add_argument_group("output")
    what.add_argument("--task-set", default="digits-v0",
                      help="the task set whose held-out tasks (and size) make the targets "
                           "(envs.list_task_sets())")
    what.add_argument("--seeds", type=cli.positive_int, default=5,
                      help="runs per method and target, on seeds 0..N-1")
    what.add_argument("--workers", type=cli.positive_int, default=2,
                      help="runs side by side, 1 thread each")
    what.add_argument("--targets", default=",".join(TARGET_KINDS),
                      help=f"comma-separated subset of {','.join(TARGET_KINDS)}")
    add_controller_flags(methods)
    output.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report; its run store goes to OUT_DIR/runs/<out "
                             "stem>.jsonl and its choice plots beside it")
    output.add_argument("--resume", action="store_true",
                        help="reuse the runs stored in OUT_DIR/runs/<out stem>.jsonl (and "
                             "rebuild the table without training)")
    methods.add_argument("--no-pbt", dest="pbt", action="store_false",
                         help="leave out Ray Tune PBT (it needs the ray extra)")
    what.add_argument("--quick", action="store_true",
                      help="tiny versions of the held-out and mnist targets, for tests")
    methods.add_argument("--vbs", type=Path, nargs="*", default=None,
                         help="benchmarks.headroom run stores whose panels give each target's "
                              "VBS column (default: the task set's, "
                              "benchmarks.ranking.vbs.VBS_STORES; none with --quick)")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    args = parser.parse_args(argv)
    kinds = [k for k in args.targets.split(",") if k]
    unknown = sorted(set(kinds) - set(TARGET_KINDS))
    if unknown:
        parser.error(f"--targets {unknown} not in {TARGET_KINDS}")
    ts = envs.task_set(args.task_set)
    vbs, vbs_none = vbs_stores(args, ts.name)
    for path in vbs:
        if not path.is_file():
            parser.error(f"--vbs {path} is missing: give benchmarks.headroom run stores that "
                         "exist (benchmarks/results/runs/*.jsonl)")
        ran = normalised.read_settings(path, normalised.HEADROOM_KINDS).get("task_set", ts.name)
        if ran != ts.name:
            parser.error(f"--vbs {path} ran {ran}, not --task-set {ts.name}: give the VBS "
                         "stores of that task set")
    controllers = chosen_controllers(args)
    best = panel_best(args.calibration)
    methods = [*controllers, DEFAULT, PANEL_BEST, *ONLINE]
    chosen = targets(ts, kinds, args.quick)
    check_controllers(controllers, chosen)
    store = RunStore(args.out.parent / "runs" / f"{args.out.stem}.jsonl",
                     {"task_set": ts.name, "panel_best": best,
                      "targets": {k: getattr(v, "name", v) for k, v in chosen.items()}},
                     args.resume, ZERO_SHOT)
    jobs = [(label, target, method, seed, best) for label, target in chosen.items()
            for method in methods for seed in range(args.seeds)]
    with tqdm(total=len(jobs), unit="run", desc="zero-shot", disable=not args.progress) as bar:
        runs = play_stored(jobs, run_one, lambda j: (f"{j[0]}|{j[2]}", j[3]), Run, store,
                           args.workers, bar, warm_up)
    if args.pbt:
        methods.append(PBT)
        runs += _play_pbt(chosen, args.seeds, store, args.progress)
    text = report(runs, methods, controllers, best, args, argv, vbs=vbs, vbs_none=vbs_none)
    return write_result(args.out, text)


def vbs_stores(args: argparse.Namespace, task_set: str) -> tuple[tuple[Path, ...], str]:
    """The stores the VBS column comes from (``--vbs``, else the task set's
    ``benchmarks.ranking.vbs.VBS_STORES``; none with ``--quick``, whose targets are shrunk tasks),
    and, where there are none, the header line that says why its cells are ``—``."""
    if args.vbs is not None:
        return tuple(args.vbs), "" if args.vbs else "none given (--vbs without a store)"
    if args.quick:
        return (), "--quick: the targets are shrunk tasks, which no VBS store covers"
    stores = VBS_STORES.get(task_set, ())
    return tuple(stores), "" if stores else (
        f"task set {task_set} has no VBS stores (benchmarks.ranking.vbs.VBS_STORES); give "
        "benchmarks.headroom run stores of its targets with --vbs STORE ...")


def best_static(runs: list[Run], stores: tuple[Path, ...], best: str, seeds: int
                ) -> tuple[dict[str, dict[int, float]], dict[str, str]]:
    """Each target's VBS, by target label: the runs (on seeds ``0 .. seeds-1`` where the VBS
    holds any of them) of the static method with the best mean test mAP among the panel
    recipes and the VBS-C search of the VBS ``stores`` and this table's static default and
    static panel-best runs, exactly as the leaderboard's VBS row
    (``benchmarks.ranking.vbs.read_vbs``); and which it was. Targets no store covers have
    none (``—``), whatever this table's static runs."""
    if not stores:
        return {}, {}
    covered = set(read_vbs(stores)[0])
    default = next((n for n, r in RECIPES.items() if r == envs.DEFAULT_RECIPE), "default")
    names = {DEFAULT: f"{DEFAULT}: {default}", PANEL_BEST: f"{PANEL_BEST}: {best}"}
    static_rows: dict[str, dict[str, dict[int, float]]] = {}
    for r in runs:
        if r.method in names and short_target(r.target) in covered:
            static_rows.setdefault(names[r.method], {}).setdefault(
                short_target(r.target), {})[r.seed] = r.test_mAP
    scores, which = read_vbs(stores, static_rows)
    out, named = {}, {}
    for label in dict.fromkeys(r.target for r in runs):
        target = short_target(label)
        if target in covered and target in scores:
            same = {s: v for s, v in sorted(scores[target].items()) if s < seeds}
            out[label], named[label] = same or dict(sorted(scores[target].items())), which[target]
    return out, named


def _vbs_cell(runs: dict[int, float], which: str, seeds: int) -> str:
    count = "" if len(runs) == seeds else f"; {len(runs)} seed{'s' * (len(runs) != 1)}"
    return f"{mean_std(list(runs.values()))} ({which}{count})"


def _play_pbt(chosen: dict[str, str | envs.Task], seeds: int, store: RunStore,
              progress: bool) -> list[Run]:
    """Ray Tune PBT on every target and seed, here (it runs its own Ray actors): a population
    of 4 sharing the target's budget, so it spends what one run spends."""
    from benchmarks.expert import pbt
    out, todo = [], []
    for label, target in chosen.items():
        for seed in range(seeds):
            run = store.get(f"{label}|{PBT}", seed, Run)
            (out.append(run) if run is not None else todo.append((label, target, seed)))
    if todo:
        with pbt.ray_session(PBT_POPULATION), tqdm(total=len(todo), unit="run", desc="pbt",
                                                   disable=not progress) as bar:
            for label, target, seed in todo:
                env_id, overrides = ((target.env_id, target.overrides())
                                     if isinstance(target, envs.Task) else (target, {}))
                budget = envs.make_config(env_id, **overrides).max_decisions
                result = pbt.run_pbt(env_id, overrides, seed,
                                     pbt.PBTConfig(budget=budget, population=PBT_POPULATION))
                run = Run(label, PBT, seed, result.test["mAP"],
                          result.choices or [result.recipe], result.wall_s, list(result.curve))
                store.put(f"{label}|{PBT}", seed, run)
                out.append(run)
                bar.update(1)
    return out


def training_line(card: dict[str, Any]) -> str:
    """How a controller was made, from its card or run summary: meta-training episodes, a
    learner fitted on the rollout expert's demonstrations (and their compute), or offline
    RL on a Minari dataset."""
    if card.get("offline"):
        offline = card["offline"]
        return (f"{card['algo']} trained offline on the Minari dataset {offline['dataset']} "
                f"({offline['episodes']} train-task episodes, {offline['passes']} passes, no env "
                f"step), {card['cpu_hours']:.2f} CPU-hours")
    if card.get("learner"):
        demos, dagger = card.get("demonstrations") or {}, card.get("dagger") or {}
        labelled = (f" and {dagger['episodes']} DAgger episodes "
                    f"({dagger['episodes_of_compute']} episodes of compute)" if dagger else "")
        return (f"{card['algo']} fitted by learner `{card['learner']}` on {card['task_set']}'s "
                f"expert demonstrations ({demos.get('episodes')} episodes, "
                f"{demos.get('decisions')} decisions, {demos.get('episodes_of_compute')} "
                f"episodes of compute){labelled}; fit and selection {card['cpu_hours']:.2f} "
                "CPU-hours")
    return (f"{card['algo']} meta-trained on {card['task_set']} for {card['episodes']} "
            f"episodes, {card['cpu_hours']:.2f} CPU-hours")


def report(runs: list[Run], methods: list[str], controllers: list[str], best: str,
           args: Any, argv: list[str] | None, *, vbs: tuple[Path, ...] = (),
           vbs_none: str = "") -> str:
    labels = list(dict.fromkeys(r.target for r in runs))
    score = {(r.target, r.method, r.seed): r.test_mAP for r in runs}
    seeds = range(args.seeds)
    reference, which = best_static(runs, vbs, best, args.seeds)

    def values(label: str, method: str) -> list[float]:
        return [score[(label, method, s)] for s in seeds]

    table = markdown_table(
        ["target", *methods, VBS_ROW],
        [[label, *(mean_std(values(label, m)) for m in methods),
          _vbs_cell(reference[label], which[label], args.seeds) if label in reference else "—"]
         for label in labels])
    margins = []
    for c in controllers:
        for label in labels:
            for base in (DEFAULT, PANEL_BEST):
                diff = [a - b for a, b in zip(values(label, c), values(label, base))]
                margins.append([c, label, base, mean_std(diff),
                                f"{sum(d > 0 for d in diff)}/{len(diff)}",
                                ", ".join(f"{d:+.1f}" for d in diff)])
            shared = [s for s in seeds if s in reference.get(label, {})
                      and (label, c, s) in score]
            if shared:  # the VBS's runs on the seeds it shares with the controller
                diff = [score[(label, c, s)] - reference[label][s] for s in shared]
                on = "" if len(shared) == args.seeds else \
                    f", seeds {', '.join(map(str, shared))}"
                margins.append([c, label, f"VBS ({which[label]}{on})", mean_std(diff),
                                f"{sum(d > 0 for d in diff)}/{len(diff)}",
                                ", ".join(f"{d:+.1f}" for d in diff)])
    margin_table = markdown_table(["controller", "target", "vs", "margin", "wins", "per seed"],
                                  margins)
    behaviour = markdown_table(
        ["controller", "target", "seed 0: what it played"],
        [[c, label, describe_choices(next(r.choices for r in runs if r.target == label
                                          and r.method == c and r.seed == 0))]
         for c in controllers for label in labels])
    dependence = []
    for c in controllers:
        played = {label: {r.seed: r.choices for r in runs if r.target == label and r.method == c}
                  for label in labels}
        between, within = task_dependence(played)
        plot = args.out.with_name(f"{args.out.stem}_choices_{Path(c.split(':', 1)[1]).name}.png")
        plot_choice_maps(played, plot, f"{c}: share of seeds playing each choice")
        dependence.append([c, f"{between:.2f}", f"{within:.2f}", f"[{plot.name}]({plot.name})"])
    dependence_table = markdown_table(
        ["controller", "between targets", "within a target (across seeds)", "choices per decision"],
        dependence)
    cards = []
    for c in controllers:
        card = (json.loads((Path(c.removeprefix(RUN_PREFIX)) / "summary.json").read_text())
                if c.startswith(RUN_PREFIX) else zoo.read_card(c))
        cards.append(f"- `{c}`: {training_line(card)} (`{card['command']}`, commit "
                     f"{card['commit']})")
    details = [f"panel-best recipe: {best} (best mean test mAP over the calibration's train "
               "tasks; choosing it cost the panel: every train task x 8 recipes x 3 seeds)",
               vbs_line(vbs, vbs_none, [label for label in labels if label not in reference]),
               f"{args.workers} runs side by side, 1 torch thread each; one run per method, "
               "target and seed (equal deployment compute)"]
    command = command_line("benchmarks.zero_shot", argv if argv is not None else sys.argv[1:])
    return (result_header("Zero-shot: frozen meta-trained controllers vs static recipes",
                          command, seeds=args.seeds, details=details)
            + "\nTest mAP, mean ± std over seeds:\n\n" + table
            + "\n\nPaired margins (controller minus baseline, same seed; vs the VBS on the "
              "seeds both ran):\n\n" + margin_table
            + "\n\nWhat the controllers do:\n\n" + behaviour
            + "\n\nDoes it play differently on different targets? Mean total-variation distance "
              "between two episodes' choice shares (per component, averaged; 0 = the same "
              "choices, 1 = disjoint):\n\n" + dependence_table
            + "\n\nMeta-training compute (apart from the runs above):\n\n" + "\n".join(cards)
            + "\n")


def vbs_line(vbs: tuple[Path, ...], none: str, uncovered: list[str]) -> str:
    """The header line that says where the VBS column comes from (``uncovered``: the labels
    of the targets it has no VBS for)."""
    if not vbs:
        return f"{VBS_ROW}: a reference column, not a competitor; — on every target: {none}"
    return (f"{VBS_ROW}: a reference column, not a competitor (the leaderboard's VBS row): "
            "on each target, the static method with the best mean test mAP among the panel "
            "recipes and the VBS-C search (vbs-c: per run, the best of random static recipes on "
            f"val) of the VBS stores {', '.join(shown(p) for p in vbs)} and this table's "
            "static default and static panel-best runs; the cell names it, and its seed count "
            "where it differs from this table's (its runs on this table's seeds where it has "
            "any); — on the targets no VBS store covers: "
            f"{', '.join(short_target(label) for label in uncovered) or 'none'}")
