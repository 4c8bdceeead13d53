"""AlgoPerf's scoring on this project's targets: time to a fixed val-mAP target, performance
ratios and profiles, and the integrated score, self-tuning and external-tuning tracks apart.

    python -m benchmarks.algoperf targets --tasks default --reference STORE_OR_RECIPE
    python -m benchmarks.algoperf score --tasks default --headroom STORE [STORE ...] \\
        --controllers zoo:recommended --seeds 2

MLCommons AlgoPerf (Dahl et al., "Benchmarking Neural Network Training Algorithms", 2023)
scores a training algorithm by the time it needs to reach a validation target fixed in
advance, not by its final accuracy. Here, per target (a task and its budget):

* **The target** is set once, by ``targets``, from a reference recipe (the target's best
  known static recipe, its VBS) run on target-setting seeds (100, 101, 102) that no scored
  run uses: the lowest of their best val mAPs, so the reference reaches it within the budget
  on every one of them. Targets live in ``benchmarks/results/algoperf_targets.json``;
  ``targets`` refuses to change one (``--force`` to redo it on purpose), and ``score`` never
  derives one from a method it scores.
* **Time to target**: the decisions (one-epoch segments on the default task) until val mAP
  first reaches the target, ``inf`` if it never does (``benchmarks.core.reporting.reach_epoch``,
  the measurement ``benchmarks.ablations`` makes). A search's time counts every trial's
  segments in the order it trained them. A method's time on a target is the median over its
  seeds (a median that takes a missed seed is ``inf``).
* **Performance ratio**: a method's time over the fastest method's of its track on that target;
  above ``R_MAX`` it counts as ``inf``. **Performance profile** ``rho(tau)``: the share of
  targets with ratio <= ``tau``. **Score**: the profile's integral over ``[1, R_MAX]`` divided by
  ``R_MAX - 1`` (AlgoPerf's; 1 = fastest everywhere, 0 = never within ``R_MAX`` of it).
* **Tracks**: *self-tuning*, the 1x methods that choose nothing per target in hindsight (the
  static default, the SBS, the tuning-free optimizers' recipes, frozen controllers);
  *external tuning*, the searches, each at its stated compute. The **VBS** (the target's best
  static recipe in hindsight) is a reference row, in neither track.

The same curves give the seed paper's convergence claim ("MAT-Agent reaches standard training's
final accuracy at epoch 47 of 80"): per seed, the fraction of the budget a method needs to
reach the static default's final val mAP on that seed.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from agents import zoo
from training.core import cli
from benchmarks.core.common import (machine_description, markdown_table, mean_std, result_header,
                                    today, write_result)
from benchmarks.core.episodes import check_frozen, parse_recipe, run_frozen, run_recipe
from benchmarks.expert.headroom import Run, parse_tasks, HeadroomConfig
from benchmarks.core.reporting import command_line, reach_epoch
from benchmarks.expert.static_recipes import PEERS, RECIPES
from envs.engine.checks import require_file
from envs.errors import ConfigError
from training.core.jsonl import ALGOPERF_CONTROLLERS, ALGOPERF_TARGETS, HEADROOM
from training.core.run_store import RunStore, read_store

RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGETS = RESULTS / "algoperf_targets.json"
"""The committed targets, by target label."""
TARGET_SEEDS = (100, 101, 102)
"""Seeds of the target-setting runs: never used by a scored run."""
R_MAX = 4.0
"""AlgoPerf's largest performance ratio that still scores."""
SELF, EXTERNAL, REFERENCE = "self-tuning", "external tuning", "reference"
DEFAULT_NAME = next(iter(RECIPES))
PEER_NAMES = {"crop+sf_adamw+constant+asl": "Schedule-Free AdamW (crop, constant, asl)",
              "crop+prodigy+cosine+asl": "Prodigy (crop, cosine, asl)"}
assert set(PEER_NAMES) == set(PEERS)


# ---------------------------------------------------------------- the scoring itself
def time_to_target(curve: Sequence[float], target: float) -> float:
    """Decisions until ``curve`` (val mAP after each) first reaches ``target``; inf if never."""
    reached = reach_epoch(curve, target)
    return math.inf if reached is None else float(reached)


def wall_to_target(curve: Sequence[float], step_s: Sequence[float], target: float) -> float:
    """Wall seconds of the decisions up to the one whose val mAP first reaches ``target``
    (``step_s``: each decision's); inf if never; NaN if the decisions' times were not kept."""
    if len(step_s) != len(curve):
        return math.nan
    reached = reach_epoch(curve, target)
    return math.inf if reached is None else float(sum(step_s[:reached]))


def method_time(times: Sequence[float]) -> float:
    """A method's time on one target: the median over its seeds (inf if it takes a miss)."""
    ordered = sorted(times)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def performance_ratios(times: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``{method: {target: ratio}}`` from ``{method: {target: time}}``: each time over the
    fastest of these methods on that target; inf where it missed, where every method missed,
    or above ``R_MAX``."""
    targets = {t for by_target in times.values() for t in by_target}
    best = {t: min((by[t] for by in times.values() if t in by), default=math.inf) for t in targets}
    out: dict[str, dict[str, float]] = {}
    for method, by_target in times.items():
        out[method] = {}
        for target in targets:
            t = by_target.get(target, math.inf)
            ratio = t / best[target] if math.isfinite(t) and math.isfinite(best[target]) else math.inf
            out[method][target] = ratio if ratio <= R_MAX else math.inf
    return out


def profile(ratios: Mapping[str, float], tau: float) -> float:
    """rho(tau): the share of targets on which the ratio is at most ``tau``."""
    return sum(r <= tau for r in ratios.values()) / len(ratios) if ratios else 0.0


def score(ratios: Mapping[str, float]) -> float:
    """The profile's integral over [1, R_MAX] / (R_MAX - 1): exact for its step function."""
    if not ratios:
        return 0.0
    return statistics.fmean(max(0.0, (R_MAX - r) / (R_MAX - 1)) if math.isfinite(r) else 0.0
                            for r in ratios.values())


def track_scores(curves: Mapping[str, Mapping[str, Mapping[int, Sequence[float]]]],
                 tracks: Mapping[str, str], targets: Mapping[str, float]) -> dict[str, float]:
    """AlgoPerf's score of each method that has val curves on every target of ``targets``
    (``{target: val-mAP target}``), against the other such methods of its track (``tracks``:
    method -> ``SELF`` or ``EXTERNAL``). ``curves``: method -> target -> seed -> curve. A method
    without curves on one of the targets is not scored (absent from the result)."""
    out: dict[str, float] = {}
    if not targets:
        return out
    for track in (SELF, EXTERNAL):
        times = {m: {t: method_time([time_to_target(c, goal) for c in curves[m][t].values()])
                     for t, goal in targets.items()}
                 for m in curves if tracks.get(m) == track
                 and all(curves[m].get(t) for t in targets)}
        out.update({m: score(r) for m, r in performance_ratios(times).items()})
    return out


def targets_by_task(path: Path | None = None) -> dict[str, float]:
    """The committed val-mAP targets (``TARGETS`` unless ``path``) by task (a task's name, or an
    env id): a target belongs to the task it was set on, whatever a table labels it."""
    path = TARGETS if path is None else path
    if not path.is_file():
        return {}
    return {t["task"]: float(t["target_val_mAP"]) for t in read_targets(path).values()}


# ---------------------------------------------------------------- targets
@dataclass
class TargetRun:
    """One target-setting run of the reference recipe."""

    seed: int
    curve: list[float]
    test_mAP: float


def vbs_recipe(store: Path, label: str, task_set: str | None = None) -> str:
    """The target's best known static recipe from a ``benchmarks.headroom`` store: the panel
    recipe with the best mean test mAP, or the recipe the search over static recipes (VBS-C)
    picked on seed 0 where that search's mean test mAP is higher. A file that is not a
    headroom store (of ``task_set``, where given) is refused (a ``ConfigError``)."""
    _, runs = read_store(store, Run, HEADROOM, task_set=task_set)
    panel: dict[str, list[float]] = {}
    for r in runs:
        if r.label == label and r.method.startswith("panel:"):
            panel.setdefault(r.method.removeprefix("panel:"), []).append(r.test_mAP)
    if not panel:
        raise ConfigError(f"{store} holds no panel runs for {label!r}: run benchmarks.headroom "
                          f"--tasks {label} first")
    best = max(panel, key=lambda name: statistics.fmean(panel[name]))
    search = sorted((r for r in runs if r.label == label and r.method == "vbs-c"),
                    key=lambda r: r.seed)
    if search and statistics.fmean(r.test_mAP for r in search) > statistics.fmean(panel[best]):
        return search[0].detail.rsplit(": ", 1)[-1]
    return RECIPES[best].name if best in RECIPES else best


def set_targets(labels: Sequence[str], reference: str, seeds: Sequence[int], *,
                task_set: str = "digits-v1", force: bool = False, path: Path = TARGETS,
                progress: bool = True) -> dict[str, Any]:
    """Run the reference recipe on ``seeds`` for each target label and commit the targets to
    ``path``. ``reference`` is ``aug+opt+lrs+loss``, or a ``benchmarks.headroom`` store whose
    runs name each target's VBS (:func:`vbs_recipe`).

    A target already in the file is kept unless ``force``: targets are fixed in advance.
    """
    existing = read_targets(path) if path.is_file() else {}
    tasks = parse_tasks(HeadroomConfig(task_set=task_set, tasks=tuple(labels)))
    if reference.endswith(".jsonl"):
        require_file(reference, "give a benchmarks.headroom run store (.jsonl) of these "
                     "targets, or the reference recipe itself (aug+opt+lrs+loss)",
                     flag="--reference")
    names = {label: vbs_recipe(Path(reference), label, task_set)
             if reference.endswith(".jsonl") else reference for label in tasks}
    recipes = {label: parse_recipe(name) for label, name in names.items()}  # before any run
    for label, target in tasks.items():
        name, recipe = names[label], recipes[label]
        if label in existing and not force:
            print(f"{label}: target {existing[label]['target_val_mAP']:.2f} kept (fixed in "
                  "advance; --force redoes it)")
            continue
        env_id, overrides = (target.env_id, target.overrides()) if isinstance(target, envs.Task) \
            else (target, {})
        # named after the targets file: another task set's file keeps its own stores
        store = RunStore(path.parent / "runs" / f"{path.stem}-{label.replace(':', '')}.jsonl",
                         {"target": getattr(target, "name", target), "reference": name},
                         resume=True, kind=ALGOPERF_TARGETS)
        runs = []
        for seed in seeds:
            runs.append(store.fetch(name, seed, TargetRun, lambda seed=seed: _target_run(
                env_id, recipe, seed, overrides)))
            if progress:
                print(f"{label}: {name} seed {seed}: best val {max(runs[-1].curve):.2f}",
                      flush=True)
        bests = [max(r.curve) for r in runs]
        existing[label] = {
            "task": getattr(target, "name", target), "reference": name,
            "seeds": list(seeds), "best_val_mAP": bests, "target_val_mAP": min(bests),
            "decisions": len(runs[0].curve),
            "reference_reaches_at": [reach_epoch(r.curve, min(bests)) for r in runs],
            "command": command_line("benchmarks.algoperf", sys.argv[1:]),
            "machine": machine_description(), "date": today()}
    path.write_text(json.dumps(existing, indent=2) + "\n")
    return existing


def _target_run(env_id: str, recipe: envs.Recipe, seed: int, overrides: Mapping[str, Any]
                ) -> TargetRun:
    episode = run_recipe(env_id, recipe, seed, overrides)
    return TargetRun(seed, episode.val_map, episode.test["mAP"])


def read_targets(path: Path = TARGETS) -> dict[str, Any]:
    """The targets file, checked: a JSON object of targets, each with its task and val-mAP
    target; anything else is refused, naming the file and what is wrong."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing: set the targets first with python -m "
                          "benchmarks.algoperf targets --tasks default --reference RECIPE")
    try:
        targets = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not a targets file (not JSON: {error}); restore it from "
                          "git or set the targets again with python -m benchmarks.algoperf "
                          "targets") from None
    bad = [label for label, t in targets.items() if not isinstance(t, dict)
           or not {"task", "target_val_mAP"} <= set(t)] if isinstance(targets, dict) else ["(all)"]
    if bad:
        raise ConfigError(f"{path} is not a targets file: {bad} lack a task and a "
                          "target_val_mAP; restore it from git or set the targets again")
    return targets


# ---------------------------------------------------------------- scored methods
@dataclass
class Method:
    """One method's runs on one target: curves and test mAPs by seed."""

    name: str
    track: str
    curves: dict[int, list[float]]
    test: dict[int, float]
    compute: str = "1×"
    choices: dict[int, list[str]] = field(default_factory=dict)
    static: bool = False
    """A static recipe, or a search over them: a candidate for the VBS."""
    step_s: dict[int, list[float]] = field(default_factory=dict)
    """Each seed's wall seconds per decision, where the runs kept them."""


@dataclass
class ControllerRun:
    """A frozen controller's episode (the ``score`` command's own store)."""

    seed: int
    curve: list[float]
    test_mAP: float
    choices: list[str]
    step_s: list[float] = field(default_factory=list)


def headroom_methods(paths: Sequence[Path], label: str, sbs: str, seeds: Sequence[int],
                     task_set: str | None = None) -> list[Method]:
    """The static recipes and searches ``benchmarks.headroom`` stored for target ``label``
    in any of the stores ``paths``."""
    runs = [r for path in paths for r in read_store(path, Run, HEADROOM, task_set=task_set)[1]]
    path = ", ".join(map(str, paths))
    mine = [r for r in runs if r.label == label and r.seed in seeds]
    if any(not r.curve for r in mine):
        raise ConfigError(f"{path} holds runs without val curves (written before curves were "
                          "kept): rerun them with benchmarks.headroom to score time to target")
    by_method: dict[str, list[Run]] = {}
    for r in sorted(mine, key=lambda r: r.episodes):  # a search rerun at more compute wins
        group = by_method.setdefault(r.method, [])
        group[:] = [x for x in group if x.seed != r.seed] + [r]
    out = []
    for method, group in by_method.items():
        recipe = method.removeprefix("panel:")
        if method.startswith("panel:"):
            name = ("static default" if recipe == DEFAULT_NAME else
                    f"SBS ({recipe})" if recipe == sbs else PEER_NAMES.get(recipe, recipe))
            track = SELF if recipe in (DEFAULT_NAME, sbs, *PEERS) else REFERENCE
            compute = "1×"
        else:
            name, track = method, EXTERNAL
            compute = f"{statistics.fmean(r.episodes for r in group):.0f}× (episodes)"
        out.append(Method(name, track, {r.seed: r.curve for r in group},
                          {r.seed: r.test_mAP for r in group}, compute,
                          {r.seed: r.choices for r in group},
                          static=method.startswith("panel:") or method == "vbs-c",
                          step_s={r.seed: r.step_s for r in group}))
    return out


def controller_methods(controllers: Sequence[str], label: str, target: envs.Task | str,
                       seeds: Sequence[int], store: RunStore) -> list[Method]:
    """Each controller frozen on ``target`` at ``seeds`` (stored in ``store``, resumable)."""
    out = []
    for source in controllers:
        key = f"{label}|{getattr(target, 'name', target)}|{source}"
        runs = [store.fetch(key, seed, ControllerRun,
                            lambda seed=seed, source=source: _controller_run(target, source, seed))
                for seed in seeds]
        out.append(Method(source, SELF, {r.seed: r.curve for r in runs},
                          {r.seed: r.test_mAP for r in runs},
                          choices={r.seed: r.choices for r in runs},
                          step_s={r.seed: r.step_s for r in runs}))
    return out


def _controller_run(target: envs.Task | str, source: str, seed: int) -> ControllerRun:
    episode = run_frozen(target, source, seed)
    return ControllerRun(seed, episode.val_map, episode.test["mAP"], episode.choices,
                         episode.step_s)


def vbs(methods: Sequence[Method]) -> Method:
    """The target's best static recipe in hindsight (best mean test mAP of the panel's recipes
    and, where one ran, the search over static recipes): the reference row."""
    best = max((m for m in methods if m.static), key=lambda m: statistics.fmean(m.test.values()))
    return Method(f"VBS = {best.name}", REFERENCE, best.curves, best.test, best.compute,
                  best.choices, static=True, step_s=best.step_s)


# ---------------------------------------------------------------- the report
def report(label: str, target: Mapping[str, Any], methods: Sequence[Method]) -> tuple[str, list[dict]]:
    """The target's table (markdown) and its rows (one per method)."""
    default = next(m for m in methods if m.name == "static default")
    reference = vbs(methods)
    rows = []
    for m in [*methods, reference]:
        times = {s: time_to_target(c, target["target_val_mAP"]) for s, c in m.curves.items()}
        conv = {s: reach_epoch(c, default.curves[s][-1]) for s, c in m.curves.items()
                if s in default.curves}
        walls = {s: wall_to_target(c, m.step_s.get(s, []), target["target_val_mAP"])
                 for s, c in m.curves.items()}
        rows.append({"method": m.name, "track": m.track, "compute": m.compute,
                     "test": list(m.test.values()), "times": times, "walls": walls,
                     "time": method_time(list(times.values())),
                     "convergence": {s: (None if v is None else v / len(m.curves[s]))
                                     for s, v in conv.items()}})
    for track in (SELF, EXTERNAL):
        mine = [r for r in rows if r["track"] == track]
        ratios = performance_ratios({r["method"]: {label: r["time"]} for r in mine})
        for r in mine:
            r["ratio"], r["score"] = ratios[r["method"]][label], score(ratios[r["method"]])
    table = markdown_table(
        ["track", "method", "compute", "test mAP", "time to target (decisions, per seed)",
         "wall s to target (per seed)", "ratio", "score",
         "budget to reach the default's final val (per seed)"],
        [[r["track"], r["method"], r["compute"], mean_std(r["test"]),
          ", ".join(_fmt_time(t) for t in r["times"].values()),
          ", ".join(_fmt_wall(t) for t in r["walls"].values()),
          _fmt_ratio(r.get("ratio")), "" if "score" not in r else f"{r['score']:.2f}",
          ", ".join("never" if v is None else f"{v:.2f}" for v in r["convergence"].values())]
         for r in sorted(rows, key=_order)])
    return table, rows


def _order(row: Mapping[str, Any]) -> tuple[int, float]:
    return ((SELF, EXTERNAL, REFERENCE).index(row["track"]), -statistics.fmean(row["test"]))


def _fmt_time(t: float) -> str:
    return "∞" if math.isinf(t) else f"{t:.0f}"


def _fmt_wall(t: float) -> str:
    """A wall time to target: ∞ if never reached, — where the runs kept no decision times."""
    return "—" if math.isnan(t) else "∞" if math.isinf(t) else f"{t:.0f}"


def _fmt_ratio(r: float | None) -> str:
    return "" if r is None else "∞" if math.isinf(r) else f"{r:.2f}"


def score_command(args: argparse.Namespace) -> Path:
    targets = read_targets(args.targets)
    seeds = list(range(args.seeds))
    if args.sbs not in RECIPES:  # it names the headroom store's panel runs of the SBS
        raise ConfigError(f"--sbs {args.sbs!r} is not a panel recipe: give one of "
                          f"{', '.join(RECIPES)} (the panel's names, aug+opt+lrs+loss)")
    for path in args.headroom:
        require_file(path, "give benchmarks.headroom run stores (.jsonl) of these targets, "
                     "with val curves", flag="--headroom")
    labels = args.tasks.split(",")
    tasks = parse_tasks(HeadroomConfig(task_set=args.task_set, tasks=tuple(labels)))
    for label in labels:
        if label not in targets:
            raise ConfigError(f"no target for {label!r} in {args.targets}; set it first with "
                              f"python -m benchmarks.algoperf targets --tasks {label} "
                              "--reference RECIPE")
        if set(seeds) & set(targets[label]["seeds"]):
            raise ConfigError(f"--seeds overlap the target-setting seeds "
                              f"{targets[label]['seeds']}: score on fewer seeds (--seeds N "
                              f"plays seeds 0 to N-1)")
    controllers = [zoo.resolve(c) for c in args.controllers.split(",") if c]
    for source in controllers:  # a throwaway of each on every target's spaces, before any run
        for label in labels:
            check_frozen(tasks[label], source)
    store = RunStore(args.store or args.out.parent / "runs" / f"{args.out.stem}-controllers.jsonl",
                     {"task_set": args.task_set}, resume=True, kind=ALGOPERF_CONTROLLERS)
    sections, all_rows, times = [], [], {SELF: {}, EXTERNAL: {}}
    for label in labels:
        target = targets[label]
        methods = headroom_methods(args.headroom, label, args.sbs, seeds, args.task_set)
        methods += controller_methods(controllers, label, tasks[label], seeds, store)
        table, rows = report(label, target, methods)
        all_rows += [{**r, "target": label} for r in rows]
        for r in rows:
            if r["track"] in times:
                times[r["track"]].setdefault(r["method"], {})[label] = r["time"]
        sections.append(f"## {label}: `{target['task']}`\n\nTarget: val mAP "
                        f"{target['target_val_mAP']:.2f}, the lowest best val mAP of "
                        f"{target['reference']} on target-setting seeds {target['seeds']} "
                        f"({', '.join(f'{v:.2f}' for v in target['best_val_mAP'])}; reached at "
                        f"decisions {target['reference_reaches_at']} of {target['decisions']}); "
                        f"set {target['date']} on {target['machine']}.\n\n{table}\n")
    overall = _overall(times, len(labels)) if len(labels) > 1 else ""
    details = [f"targets: {args.targets.name}; time = decisions until val mAP first reaches the "
               "target (∞ if never), the median over seeds; ratio = time / the track's fastest "
               f"(∞ above {R_MAX:g}); score = the performance profile's integral over [1, {R_MAX:g}]"
               f" / {R_MAX - 1:g}",
               "wall s to target: the wall seconds of the decisions up to the one that reaches "
               "it, where the runs kept each decision's time (— in stores older than that); the "
               "runs of a target share one machine (this table's)",
               "tracks: self-tuning (1×, nothing chosen per target in hindsight), external "
               "tuning (searches at their compute), and the VBS, a reference in neither",
               f"last column: the fraction of the budget until val mAP reaches the static default's "
               f"final val mAP on the same seed (the seed paper's convergence claim: 47/80 = 0.59)",
               f"SBS: {args.sbs}"]
    text = (result_header("AlgoPerf scoring: time to a fixed val-mAP target",
                          command_line("benchmarks.algoperf", sys.argv[1:]), seeds=args.seeds,
                          details=details) + "\n" + overall + "\n".join(sections))
    args.out.with_suffix(".json").write_text(json.dumps(all_rows, indent=1, default=str) + "\n")
    return write_result(args.out, text)


def _overall(times: Mapping[str, Mapping[str, Mapping[str, float]]], n: int) -> str:
    """Each track's performance profile score over all the targets, as a table."""
    rows = []
    for track, by_method in times.items():
        complete = {m: t for m, t in by_method.items() if len(t) == n}
        ratios = performance_ratios(complete)
        for m, r in sorted(ratios.items(), key=lambda kv: -score(kv[1])):
            rows.append([track, m, f"{score(r):.2f}", " ".join(
                f"{profile(r, tau):.2f}" for tau in (1.0, 1.5, 2.0, 3.0, 4.0))])
    table = markdown_table(["track", "method", f"score (r_max {R_MAX:g})",
                            "profile at tau = 1, 1.5, 2, 3, 4"], rows)
    return f"## All {n} targets\n\n{table}\n\n"


def seed_list(text: str) -> tuple[int, ...]:
    """``targets --seeds``: comma-separated seeds, each an int >= 0 (argparse names the flag)."""
    seeds = tuple(cli.non_negative_int(x) for x in text.split(",") if x.strip())
    if not seeds:
        raise argparse.ArgumentTypeError(f"give at least one seed, got {text!r}")
    return seeds


def parser() -> argparse.ArgumentParser:
    targets_example = ("python -m benchmarks.algoperf targets --tasks default --reference "
                       "benchmarks/results/runs/default_task-digits-v1.jsonl")
    score_example = ("python -m benchmarks.algoperf score --tasks default --headroom "
                     "benchmarks/results/runs/default_task-digits-v1.jsonl --controllers "
                     "zoo:recommended --seeds 2 --out benchmarks/results/algoperf_default.md")
    p = cli.parser("benchmarks.algoperf", __doc__,
                   example=f"{targets_example}\n{score_example}")
    sub = p.add_subparsers(dest="command", required=True, title="commands",
                           help="what to do (each has its own --help)")
    t = cli.subcommand(sub, "targets", "run the reference recipe on the target-setting seeds and "
                       "commit the targets", targets_example, description=(
                           "Set each target's val-mAP target once: the lowest best val mAP of "
                           "the reference recipe (the target's VBS) over the target-setting "
                           "seeds, written to the targets file."))
    t_what = t.add_argument_group("what to set")
    t_output = t.add_argument_group("output")
    t_what.add_argument("--tasks", default="default",
                        help="comma-separated target labels, as benchmarks.headroom's "
                             "(train:I, heldout:I, mnist, default)")
    t_what.add_argument("--task-set", default="digits-v1", help="whose tasks the labels name")
    t_what.add_argument("--reference", required=True,
                        help="the targets' VBS recipe, aug+opt+lrs+loss, or a "
                             "benchmarks.headroom store (.jsonl) whose runs give each target's "
                             "VBS")
    t_what.add_argument("--seeds", type=seed_list, default=TARGET_SEEDS,
                        help="target-setting seeds, comma-separated, never used by a scored run")
    t_output.add_argument("--force", action="store_true",
                          help="redo a target already in the file")
    t_output.add_argument("--targets", type=Path, default=TARGETS,
                          help="the targets file (JSON, by target label)")
    s = cli.subcommand(sub, "score", "score the stored runs against the targets", score_example,
                       description=(
                           "Score every method's time to each target (decisions until val mAP "
                           "reaches it): performance ratios and profiles, and AlgoPerf's "
                           "integrated score, self-tuning and external-tuning tracks apart."))
    s_what = s.add_argument_group("what to score")
    s_input = s.add_argument_group("inputs")
    s_output = s.add_argument_group("output")
    s_what.add_argument("--task-set", default="digits-v1", help="whose tasks the labels name")
    s_what.add_argument("--tasks", default="default",
                        help="comma-separated target labels (each needs a target in --targets)")
    s_input.add_argument("--headroom", type=Path, nargs="+", required=True,
                         help="benchmarks.headroom run stores (with val curves) for these "
                              "targets")
    s_what.add_argument("--controllers", default="zoo:recommended",
                        help="frozen controllers to run and score (comma-separated; '' for none)")
    s_what.add_argument("--sbs", default="none+sgd+constant+bce",
                        help="the SBS recipe, aug+opt+lrs+loss")
    s_what.add_argument("--seeds", type=cli.positive_int, default=2,
                        help="scored seeds 0 .. N-1")
    s_input.add_argument("--targets", type=Path, default=TARGETS, help="the targets file")
    s_output.add_argument("--out", type=Path, default=RESULTS / "algoperf_default.md",
                          help="the result file (markdown)")
    s_output.add_argument("--store", type=Path, default=None,
                          help="the controllers' run store (default: runs/<out "
                               "stem>-controllers.jsonl beside --out); stored runs are reused, so "
                               "a committed store rebuilds the committed table without training")
    return p


@cli.command
def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "targets":
        set_targets(args.tasks.split(","), args.reference, args.seeds, task_set=args.task_set,
                    force=args.force, path=args.targets)
        print(f"wrote {args.targets}")
    else:
        print(f"wrote {score_command(args)}")
