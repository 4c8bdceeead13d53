"""How much can control win? Each task's headroom: the rollout expert against static recipes.

    python -m benchmarks.headroom [--task-set digits-v1] [--tasks train:1,heldout:3,mnist,default]
                                  [--seeds 3] [--workers 2] [--candidates 4] [--horizon 0]
                                  [--halving 0:1,2:0]
                                  [--sbs RECIPE] [--methods ...] [--resume] [--quick]

In algorithm-selection terms (ASlib), per task and seed, test mAP of:

* ``default``: the env's static default recipe;
* ``panel``: the 8 static recipes of ``benchmarks.expert.static_recipes.RECIPES``, each held for the
  whole budget. From them: the **SBS** (single best solver), the panel recipe with the best
  mean test mAP over the run's train tasks (or ``--sbs``), and the **VBS-8** (virtual best
  solver), each task's own best panel recipe in hindsight (best mean test mAP over seeds);
* ``expert``: the ``rollout`` expert from the default recipe (``--candidates`` one-component
  changes per decision besides the incumbent, each forked and held to the end, or
  ``--horizon`` segments, or scored by successive halving with ``--halving``), never below
  the default on val at the same seed (with ``--halving``: when its last rung runs to the
  end);
* ``expert-sbs``: the expert from the SBS, with the default and ``--jump`` recipes as jumps;
* ``expert-jumps``: the expert from the default with the ``--jumps`` recipes as jumps, the
  expert that records demonstrations (``training.imitate demos --jumps``; opt-in:
  ``--methods``);
* ``vbs-c``: the best on val of a seeded random sample of whole-budget static recipes, as
  many as the expert's compute in episodes (``benchmarks.expert.search.random_search``): the
  per-task best static recipe at the expert's compute;
* ``tpe``: Optuna TPE with a median pruner over static recipes at the expert's compute;
* ``pbt``: Ray Tune PBT, population = the expert's compute, each member the task's budget
  (opt-in: ``--methods``, it needs the ``ray`` extra).

**Headroom** = expert − VBS-C, paired per seed. Compute is counted in episodes of the task
(segments trained, forks included, over the task's decisions). Every method selects on val
and reports test. Runs go to ``<out dir>/runs/<out name>-<set>.jsonl`` as they finish, so an
interrupted benchmark resumes with ``--resume``. Results: ``benchmarks/results/headroom.md``.
"""
from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from agents import AgentConfigError, make_controller
from agents.registry import check_options
from agents.rollout import halving_text, parse_halving, rollout_options
from envs.engine.recipe import Recipe
from envs.errors import ConfigError, MLICError
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.episodes import parse_recipe, recipe_name, run_recipe
from benchmarks.expert.pbt import PBTConfig, run_pbt
from benchmarks.core.plots import plot_bars
from benchmarks.core.reporting import command_line, write_csv
from training.core.jsonl import HEADROOM
from training.core.run_store import RunStore, play_stored, run_sweep
from benchmarks.expert.search import SearchConfig, random_search, tpe_search
from benchmarks.expert.static_recipes import QUICK, RECIPES
from benchmarks.expert.task_sets import warm_up
from benchmarks.ranking.targets import targets
from training.core import cli
from training.core.callbacks import Recorder
from training.core.episode import Callback, StepContext, run_episode

RESULTS = Path(__file__).resolve().parents[1] / "results" / "headroom.md"
METHODS = ("panel", "expert", "expert-sbs", "expert-jumps", "vbs-c", "tpe", "pbt")
DEFAULT_METHODS = ("panel", "expert", "expert-sbs", "vbs-c", "tpe")
DEFAULT_RECIPE = next(iter(RECIPES))
EXPERTS = ("expert", "expert-sbs", "expert-jumps")
NO_TRAIN_TASK = ("no train task in --tasks, so the SBS cannot be chosen: add train tasks or "
                 "pass --sbs RECIPE (e.g. from the task set's calibration, "
                 "benchmarks/results/task_sets*.md)")
"""Why a sweep is refused when its SBS (the panel recipe best over the train tasks run) has
nothing to be chosen from."""


@dataclass(frozen=True)
class HeadroomConfig:
    """What the benchmark runs."""

    task_set: str = "digits-v1"
    tasks: tuple[str, ...] = ()
    """Labels to run (``train:I``, ``heldout:I``, 1-based, ``mnist``, ``default``); empty:
    every task of the set, mnist at task size and the full default task."""
    seeds: int = 3
    workers: int = 2
    candidates: int = 4
    """The expert's one-component changes per decision (0: all 19)."""
    horizon: int = 0
    """Segments a candidate's fork is held after its own (0: to the end)."""
    halving: tuple[tuple[int, int], ...] = ()
    """The expert's successive-halving rungs (``agents.rollout.RolloutConfig.halving``);
    empty: every candidate held for ``horizon``."""
    jumps: tuple[str, ...] = ("crop+adamw+cosine+asl",)
    """Recipes the expert from the SBS also tries at every decision (the default too), and
    those the expert from the default tries in ``expert-jumps``."""
    sbs: str = ""
    """The SBS recipe; empty: the panel recipe best over the run's train tasks."""
    methods: tuple[str, ...] = DEFAULT_METHODS
    quick: bool = False
    resume: bool = False
    progress: bool = True
    out: Path = RESULTS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown or "panel" not in self.methods:
            what = (f"unknown {', '.join(unknown)}" if unknown else
                    "the panel is needed (the default, SBS and VBS-8 come from it)")
            raise ConfigError(f"--methods {','.join(self.methods)}: {what}; give "
                              f"comma-separated methods of {', '.join(METHODS)}, panel "
                              "included")
        for name in (self.sbs, *self.jumps):
            if name:
                recipe_of(name)


def recipe_of(name: str) -> Recipe:
    """A panel recipe by its name (``RECIPES``), or any recipe as ``aug+opt+lrs+loss``."""
    if name in RECIPES:
        return RECIPES[name]
    try:
        return parse_recipe(name)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{name!r} is neither a panel recipe ({', '.join(RECIPES)}) "
                          f"nor aug+opt+lrs+loss: {error}") from None


@dataclass(frozen=True)
class Job:
    """One method on one task and seed; ``episodes``: the compute given to a search."""

    label: str
    target: envs.Task | str
    method: str
    seed: int
    recipe: str = ""
    episodes: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """A finished job: val and test mAP, compute in episodes, the recipe of each decision."""

    label: str
    method: str
    seed: int
    val_mAP: float
    """The final model's (a search's: the best val mAP any of its trials reached)."""
    test_mAP: float
    episodes: float
    choices: list[str] = field(default_factory=list)
    detail: str = ""
    gains: list[float] = field(default_factory=list)
    """The expert's: per decision, its choice's score minus the incumbent's (val mAP its
    switch was predicted to gain; 0 where it held)."""
    curve: list[float] = field(default_factory=list)
    """Val mAP after each decision (a search's: the best val mAP so far over its trials'
    decisions, in the order trained, so its time counts every trial); empty in stores
    written before curves were kept. ``benchmarks.algoperf`` reads time to target off it."""
    step_s: list[float] = field(default_factory=list)
    """Wall seconds of each decision of ``curve`` (a static recipe's; empty for searches and
    the expert, and in stores written before they were kept)."""


def _env_args(target: envs.Task | str) -> tuple[str, dict[str, Any], int]:
    """Env id, ``envs.make`` overrides and decisions of a task or an env id."""
    if isinstance(target, envs.Task):
        return target.env_id, target.overrides(), target.decisions
    return target, {}, envs.make_config(target).max_decisions


def run_job(job: Job) -> Run:
    """Play one job (in a worker process started by ``benchmarks.expert.task_sets.warm_up``)."""
    env_id, overrides, decisions = _env_args(job.target)
    if job.method == "panel":
        episode = run_recipe(env_id, recipe_of(job.recipe), job.seed, overrides)
        return Run(job.label, f"panel:{job.recipe}", job.seed, episode.final_val,
                   episode.test["mAP"], 1.0, episode.choices, curve=episode.val_map,
                   step_s=episode.step_s)
    if job.method.startswith("expert"):
        return _expert(job, env_id, overrides)
    search = SearchConfig(budget=job.episodes * decisions, trial_epochs=decisions)
    if job.method == "pbt":
        result = run_pbt(env_id, overrides, job.seed,
                         PBTConfig(budget=job.episodes * decisions, population=job.episodes))
    else:
        result = (random_search if job.method == "vbs-c" else tpe_search)(
            env_id, overrides, job.seed, search)
    val = max(result.curve) if result.curve else math.nan
    return Run(job.label, job.method, job.seed, val, result.test["mAP"],
               len(result.curve) / decisions, detail=result.detail, curve=list(result.curve))


def _expert(job: Job, env_id: str, overrides: Mapping[str, Any]) -> Run:
    env = envs.make(env_id, **{**overrides, "agents": envs.COMPONENTS})
    controller = make_controller("rollout", env, seed=job.seed, **job.options)
    recorder, gains = Recorder(), _Gains()
    run_episode(env, controller, seed=job.seed, callbacks=[recorder, gains])
    episode = recorder.episodes[0]
    own = len(episode.val_map) / env.config.max_decisions  # the real episode's own segments
    return Run(job.label, job.method, job.seed, episode.final_val, episode.test["mAP"],
               controller.episodes_of_compute + own, episode.choices, gains=gains.seen,
               curve=episode.val_map)


class _Gains(Callback):
    """The rollout controller's ``search/predicted_gain`` at every decision."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_step(self, ctx: StepContext) -> bool:
        self.seen.append(float(ctx.logs.get("search/predicted_gain", 0.0)))
        return True  # go on


# ------------------------------------------------------------------ the sweep
def parse_tasks(config: HeadroomConfig) -> dict[str, envs.Task | str]:
    """``{label: task or env id}`` in the order of the result table."""
    ts = envs.task_set(config.task_set)
    shrink = envs.task_sets.shrink if config.quick else (lambda t: t)
    every: dict[str, envs.Task | str] = {}
    for split in ("train", "heldout"):
        every.update({f"{split}:{i + 1}": shrink(t) for i, t in enumerate(ts.split(split))})
    for label, target in targets(ts, ["mnist", "default"], quick=config.quick).items():
        every["mnist" if "mnist" in label else "default"] = target
    chosen = config.tasks or tuple(every)
    unknown = [label for label in chosen if label not in every]
    if unknown:
        raise ConfigError(f"--tasks {','.join(unknown)}: not a task of {ts.name}; valid: "
                          f"{', '.join(every)}")
    return {label: every[label] for label in chosen}


def _expert_options(config: HeadroomConfig, start: str, jumps: Sequence[str]
                    ) -> dict[str, Any]:
    return rollout_options(recipe_of(start), candidates=config.candidates,
                           horizon=config.horizon, jumps=[recipe_of(j) for j in jumps],
                           halving=config.halving)


def expert_starts(config: HeadroomConfig) -> list[tuple[str, tuple[str, ...]]]:
    """The expert variants' (start recipe, jumps): from the default, from the SBS
    (``--sbs``, or the default standing in for the panel's choice, known only after the
    panel has run) and from the default with ``--jumps``."""
    return ([(DEFAULT_RECIPE, ())] if "expert" in config.methods else []) + (
        [(config.sbs or DEFAULT_RECIPE, (DEFAULT_RECIPE, *config.jumps))]
        if "expert-sbs" in config.methods else []) + (
        [(DEFAULT_RECIPE, config.jumps)] if "expert-jumps" in config.methods else [])


def check_experts(config: HeadroomConfig, tasks: Mapping[str, envs.Task | str]) -> None:
    """The rollout expert's options as its runs give them (a throwaway ``RolloutConfig``,
    ``agents.registry.check_options``), and its recipes on every task's spaces
    (``envs.ControlSpaces``: no data loaded), before any run: a bad option fails here, not in
    a worker after the panel runs (issue 31). The rollout controller itself needs an env that
    forks, so each run builds it."""
    for start, jumps in expert_starts(config):
        check_options("rollout", _expert_options(config, start, jumps))
        for label, target in tasks.items():
            env_id, overrides, _ = _env_args(target)
            spaces = envs.ControlSpaces(envs.make_config(
                env_id, **{**overrides, "agents": envs.COMPONENTS}))
            for name in (start, *jumps):
                try:
                    envs.recipe_actions(spaces, recipe_of(name))
                except MLICError as error:
                    raise ConfigError(f"the expert cannot play {name} (--sbs, --jumps) on "
                                      f"{label}: {error}") from error


def sweep(config: HeadroomConfig) -> Path:
    tasks = parse_tasks(config)
    if not config.sbs and not any(label.startswith("train:") for label in tasks):
        raise ConfigError(NO_TRAIN_TASK)  # before any run: the SBS is needed to report
    check_experts(config, tasks)
    seeds = range(config.seeds)
    # every recipe on every target: one outside a target's catalogue plays in the latest one
    # (benchmarks.core.episodes.run_recipe), on the same data and budget
    recipes = list(QUICK) if config.quick else list(RECIPES)
    store = RunStore(store_path(config),
                     {"task_set": config.task_set, "quick": config.quick,
                      "candidates": config.candidates, "horizon": config.horizon,
                      "jumps": list(config.jumps),
                      # only when set: stores written before halving existed still resume
                      **({"halving": halving_text(config.halving)} if config.halving else {})},
                     config.resume, HEADROOM)

    def key(job: Job) -> tuple[str, int]:
        task = getattr(job.target, "name", job.target)  # the task's name pins its settings
        return f"{job.label}|{task}|{job.method}|{job.recipe}|{job.episodes}", job.seed

    def play(jobs: list[Job], what: str) -> list[Run]:
        with tqdm(total=len(jobs), desc=what, unit="run", disable=not config.progress) as bar:
            return play_stored(jobs, run_job, key, Run, store, config.workers, bar, warm_up)

    # 1. the panel and the expert from the default
    first = [Job(label, t, "panel", s, recipe=r) for label, t in tasks.items() for r in recipes
             for s in seeds]
    first += [Job(label, t, "expert", s, options=_expert_options(config, DEFAULT_RECIPE, ()))
              for label, t in tasks.items() for s in seeds if "expert" in config.methods]
    first += [Job(label, t, "expert-jumps", s,
                  options=_expert_options(config, DEFAULT_RECIPE, config.jumps))
              for label, t in tasks.items() for s in seeds if "expert-jumps" in config.methods]
    runs = play(first, "panel, expert")
    sbs = config.sbs or single_best(runs, recipes)
    # 2. at the expert's compute, and the expert from the SBS
    compute = {(r.label, r.seed): max(1, round(r.episodes)) for r in runs if r.method == "expert"}
    second = [Job(label, t, m, s, episodes=compute.get((label, s), len(recipes)))
              for label, t in tasks.items() for s in seeds
              for m in ("vbs-c", "tpe", "pbt") if m in config.methods]
    second += [Job(label, t, "expert-sbs", s,
                   options=_expert_options(config, sbs, (DEFAULT_RECIPE, *config.jumps)))
               for label, t in tasks.items() for s in seeds if "expert-sbs" in config.methods]
    runs += play(second, "at the expert's compute")
    return report(config, tasks, runs, sbs, recipes)


def single_best(runs: Sequence[Run], recipes: Sequence[str]) -> str:
    """The panel recipe with the best mean test mAP over the train tasks run."""
    train = [r for r in runs if r.label.startswith("train:") and r.method.startswith("panel:")]
    if not train:
        raise ConfigError(NO_TRAIN_TASK)
    return max(recipes, key=lambda r: statistics.fmean(
        x.test_mAP for x in train if x.method == f"panel:{r}"))


# ------------------------------------------------------------------ the report
def _by(runs: Sequence[Run], label: str, method: str) -> dict[int, Run]:
    return {r.seed: r for r in runs if r.label == label and r.method == method}


def schedule(choices: Sequence[str]) -> str:
    """``a x3 -> b x5``: a recipe sequence with its repeats folded."""
    parts: list[list[Any]] = []
    for choice in choices:
        if parts and parts[-1][0] == choice:
            parts[-1][1] += 1
        else:
            parts.append([choice, 1])
    return " → ".join(f"{c} ×{n}" for c, n in parts)


def task_rows(tasks: Mapping[str, Any], runs: Sequence[Run], sbs: str, recipes: Sequence[str]
              ) -> list[dict[str, Any]]:
    """Per task: each method's test mAPs by seed, the VBS-8 recipe, compute, headroom."""
    rows = []
    for label, target in tasks.items():
        panel = {r: _by(runs, label, f"panel:{r}") for r in recipes}
        vbs8 = max(recipes, key=lambda r: statistics.fmean(x.test_mAP for x in panel[r].values()))
        methods = {"default": panel[DEFAULT_RECIPE], "SBS": panel[sbs], "VBS-8": panel[vbs8]}
        for m in ("vbs-c", "tpe", "pbt", *EXPERTS):
            if _by(runs, label, m):
                methods[m] = _by(runs, label, m)
        row: dict[str, Any] = {"label": label, "task": getattr(target, "name", target),
                               "vbs8": vbs8, "methods": methods}
        row["headroom"] = {
            m: [methods[m][s].test_mAP - methods["vbs-c"][s].test_mAP
                for s in sorted(set(methods[m]) & set(methods["vbs-c"]))]
            for m in EXPERTS if m in methods and "vbs-c" in methods}
        rows.append(row)
    return rows


def report(config: HeadroomConfig, tasks: Mapping[str, Any], runs: Sequence[Run], sbs: str,
           recipes: Sequence[str]) -> Path:
    rows = task_rows(tasks, runs, sbs, recipes)
    names = list(dict.fromkeys(m for row in rows for m in row["methods"]))
    experts = [m for m in EXPERTS if m in names]
    table = markdown_table(
        ["task", *names, *[f"{m} compute (episodes)" for m in experts],
         *[f"headroom: {m} − VBS-C" for m in experts]],
        [[f"{row['label']} `{row['task']}`",
          *[mean_std([r.test_mAP for r in row["methods"][m].values()])
            if m in row["methods"] else "" for m in names],
          *[mean_std([r.episodes for r in row["methods"].get(m, {}).values()] or [0.0])
            for m in experts],
          *[mean_std(row["headroom"][m]) if row["headroom"].get(m) else "" for m in experts]]
         for row in rows])
    flat = [{"task": row["label"], "method": m, "seed": s, "val_mAP": r.val_mAP,
             "test_mAP": r.test_mAP, "episodes": r.episodes, "schedule": schedule(r.choices),
             "detail": r.detail}
            for row in rows for m, by_seed in row["methods"].items() for s, r in by_seed.items()]
    write_csv(config.out.with_suffix(".csv"), flat)
    averages = {m: [statistics.fmean(r.test_mAP for r in row["methods"][m].values())
                    for row in rows] for m in names if all(m in row["methods"] for row in rows)}
    plot = plot_bars(config.out.with_name(config.out.stem + ".png"), averages,
                     title=f"{config.task_set}: test mAP per method, mean over {len(rows)} tasks",
                     ylabel="test mAP (task means)")
    lines = [_summary_line(rows, averages),
             *expert_lines(rows, {"expert": DEFAULT_RECIPE, "expert-sbs": sbs,
                                  "expert-jumps": DEFAULT_RECIPE})]
    said = {"expert": "expert", "expert-sbs": "expert from the SBS",
            "expert-jumps": "expert with jumps"}
    lines += [f"{row['label']}: {said[m]} (seed 0): {schedule(row['methods'][m][0].choices)}"
              for m in EXPERTS for row in rows if 0 in row["methods"].get(m, {})]
    details = [f"tasks: {', '.join(tasks)} of {config.task_set} (labels: split:index, 1-based; "
               "mnist: mlic-mnist-v0 at task size; default: the full mlic-digits-v1 task, make "
               "run's)",
               f"SBS: {sbs}" + ("" if config.sbs else " (best mean test mAP over the train tasks "
                                                      "run)"),
               f"expert: rollout, {config.candidates or 'all'} one-component candidates per "
               f"decision besides the incumbent, continuation "
               + (f"by successive halving (rungs of kept:horizon {halving_text(config.halving)})"
                  if config.halving else
                  f"{'to the end' if config.horizon == 0 else f'{config.horizon} segments'}")
               + ", hold"
               + ("; expert-sbs also jumps to "
                  f"{', '.join((DEFAULT_RECIPE, *config.jumps))}"
                  if "expert-sbs" in config.methods else "")
               + (f"; expert-jumps (from the default) jumps to {', '.join(config.jumps)}"
                  if "expert-jumps" in config.methods else ""),
               f"panel: {len(recipes)} recipes ({', '.join(recipes)}); "
               "VBS-8: the task's best panel recipe by mean test mAP (hindsight; the name "
               "predates the larger panel); VBS-C, TPE: "
               "the best on val at the expert's compute of that seed; headroom is paired per "
               "seed", f"{config.workers} worker processes, 1 torch thread each"]
    text = (result_header(f"Headroom on {config.task_set}: the rollout expert against static "
                          "recipes", command_line("benchmarks.headroom", config_argv(config)),
                          seeds=config.seeds, details=details)
            + "\nTest mAP, mean ± std over seeds.\n\n" + table + "\n\n"
            + "\n".join(f"- {line}" for line in lines)
            + f"\n\n![methods]({plot.name})\n\nEvery run: [{config.out.with_suffix('.csv').name}]"
              f"({config.out.with_suffix('.csv').name}).\n")
    return write_result(config.out, text)


def expert_lines(rows: Sequence[dict[str, Any]], starts: Mapping[str, str]) -> list[str]:
    """What each expert variant does over all its runs: how often it switches, mid-run
    (after its first decision) or not, which components, and what the switches were predicted
    to gain on val (the search's own scores) against what they gained on test over its start
    recipe held throughout."""
    lines = []
    for method, start in starts.items():
        runs = [(row, r) for row in rows for r in row["methods"].get(method, {}).values()]
        if not runs:
            continue
        per_component = dict.fromkeys(envs.COMPONENTS, 0)
        predicted = dict.fromkeys(envs.COMPONENTS, 0.0)
        mid, test_gain = [], {True: [], False: []}
        for row, run in runs:
            seq = [recipe_name(recipe_of(start)), *run.choices]
            switched_mid = False
            for t, (a, b) in enumerate(zip(seq, seq[1:])):
                changed = [c for c, x, y in zip(envs.COMPONENTS, a.split("+"), b.split("+"))
                           if x != y]
                switched_mid |= bool(changed) and t >= 1
                for c in changed:
                    per_component[c] += 1
                    if t < len(run.gains):
                        predicted[c] += run.gains[t] / len(changed)
            mid.append(switched_mid)
            held = row["methods"]["SBS" if method == "expert-sbs" else "default"].get(run.seed)
            if held is not None:
                test_gain[switched_mid].append(run.test_mAP - held.test_mAP)
        counts = ", ".join(f"{c} {n}" for c, n in per_component.items())
        gains = (", ".join(f"{c} {v:+.1f}" for c, v in predicted.items())
                 if any(run.gains for _, run in runs) else "not recorded by these runs")
        split = "; ".join(
            f"{'with' if k else 'without'} a mid-run switch: {len(v)} run(s), test "
            f"{statistics.fmean(v):+.1f} over {start} held" for k, v in test_gain.items() if v)
        lines.append(f"{method}: {sum(mid)}/{len(runs)} runs switch after their first decision; "
                     f"switches per component: {counts}; val gain its search predicted, summed "
                     f"by component: {gains}; {split}")
    return lines


def _summary_line(rows: Sequence[dict[str, Any]], averages: Mapping[str, list[float]]) -> str:
    means = ", ".join(f"{m} {statistics.fmean(v):.1f}" for m, v in averages.items())
    parts = [f"mean over tasks: {means}"]
    for m in EXPERTS:
        rooms = [statistics.fmean(row["headroom"][m]) for row in rows if row["headroom"].get(m)]
        if rooms:
            parts.append(f"headroom ({m} − VBS-C) {statistics.fmean(rooms):+.1f} on average, "
                         f">= 2 mAP on {sum(r >= 2 for r in rooms)}/{len(rooms)} tasks")
    return "; ".join(parts)


def config_argv(config: HeadroomConfig) -> list[str]:
    """The command line that reproduces ``config`` (for the result's header)."""
    default = HeadroomConfig()
    argv = []
    for name in ("task_set", "seeds", "workers", "candidates", "horizon", "sbs"):
        if getattr(config, name) != getattr(default, name):
            argv += [f"--{name.replace('_', '-')}", str(getattr(config, name))]
    for name in ("tasks", "methods", "jumps"):
        if getattr(config, name) != getattr(default, name):
            argv += [f"--{name}", ",".join(getattr(config, name))]
    argv += ["--halving", halving_text(config.halving)] if config.halving else []
    argv += ["--quick"] if config.quick else []
    if Path(config.out).resolve() != RESULTS:
        out = Path(config.out).resolve()
        root = RESULTS.parents[2]
        argv += ["--out", str(out.relative_to(root) if out.is_relative_to(root) else out)]
    return argv


def parse_args(argv: Sequence[str] | None) -> HeadroomConfig:
    p = cli.parser("benchmarks.headroom", __doc__, example=(
        "python -m benchmarks.headroom --tasks default --methods panel,vbs-c "
        "--sbs none+sgd+constant+bce --seeds 2 --workers 2 "
        "--out benchmarks/results/default_task.md"))
    what = p.add_argument_group("what to run")
    expert = p.add_argument_group("the rollout expert")
    compute = p.add_argument_group("compute")
    output = p.add_argument_group("output")
    what.add_argument("--task-set", default="digits-v1",
                      help="the task set whose tasks are run (a name of envs.list_task_sets())")
    what.add_argument("--tasks", default="",
                      help="comma-separated task labels: train:I, heldout:I (1-based), mnist "
                           "(mlic-mnist at task size), default (the full default task); "
                           "default: every task of the set, mnist and default")
    what.add_argument("--seeds", type=cli.positive_int, default=3,
                      help="seeds of every task and method (0..N-1)")
    compute.add_argument("--workers", type=cli.positive_int, default=2,
                         help="runs side by side, 1 thread each")
    expert.add_argument("--candidates", type=cli.non_negative_int, default=4,
                        help="the expert's one-component changes per decision (0: all 19)")
    expert.add_argument("--horizon", type=cli.non_negative_int, default=0,
                        help="segments a candidate's fork is held after its own (0: to the end)")
    expert.add_argument("--halving", default="",
                        help="the expert's successive-halving rungs, KEPT:HORIZON comma-separated "
                             "(horizon 0: to the end), e.g. 0:1,2:0: every candidate held 1 "
                             "segment, then the best 2 and the incumbent to the end; empty: off")
    expert.add_argument("--jumps", default=",".join(HeadroomConfig.jumps),
                        help="comma-separated recipes (panel names or aug+opt+lrs+loss) that "
                             "expert-sbs also tries at every decision, besides the default, "
                             "and expert-jumps (from the default) tries")
    what.add_argument("--sbs", default="",
                      help="the SBS recipe (a panel name or aug+opt+lrs+loss), where expert-sbs "
                           "starts; default: the panel recipe with the best mean test mAP over "
                           "the train tasks run (needs train tasks in --tasks)")
    what.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                      help=f"comma-separated, panel included: {', '.join(METHODS)}")
    what.add_argument("--quick", action="store_true", help="tiny tasks, 2 recipes, for tests")
    output.add_argument("--resume", action="store_true",
                        help="reuse the runs an interrupted sweep stored in "
                             "OUT_DIR/runs/<out stem>-<task set>.jsonl")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    output.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report; its .csv and .png go beside it and its run "
                             "store into OUT_DIR/runs/")
    a = p.parse_args(argv)

    try:
        halving = parse_halving(a.halving, "--halving")
    except AgentConfigError as error:
        p.error(str(error))
    if halving and a.horizon:
        p.error(f"--halving {a.halving} sets the horizons: leave --horizon 0")

    def items(text: str) -> tuple[str, ...]:
        return tuple(x for x in text.split(",") if x)
    config = HeadroomConfig(task_set=a.task_set, tasks=items(a.tasks), seeds=a.seeds,
                            workers=a.workers, candidates=a.candidates, horizon=a.horizon,
                            halving=halving,
                            jumps=items(a.jumps), sbs=a.sbs, methods=items(a.methods),
                            quick=a.quick, resume=a.resume, progress=a.progress, out=a.out)
    try:  # the expert's options, as a throwaway RolloutConfig (its spaces: check_experts)
        for start, jumps in expert_starts(config):
            check_options("rollout", _expert_options(config, start, jumps))
    except AgentConfigError as error:
        p.error(str(error))
    return config


@cli.command
def main(argv: Sequence[str] | None = None) -> Path:
    config = parse_args(argv if argv is not None else sys.argv[1:])
    return run_sweep(sweep, config, store_path(config))


def store_path(config: HeadroomConfig) -> Path:
    """Where the finished runs are kept: one file per result file and task set."""
    return config.out.parent / "runs" / f"{config.out.stem}-{config.task_set}.jsonl"
