"""Demonstrations: every decision of the rollout expert on a task set's train tasks.

At each state it visits, the expert (``agents.rollout``) scores every candidate it tries: the
candidate's segment, then the fixed continuation to the end, all from the same state,
batches and seed. Each score is a Monte-Carlo estimate of Q(s, a) for that candidate. One
:class:`DemoEpisode` keeps, for each decision of one (task, seed) episode:

* the observation a controller would have seen (``observation``: ``relative`` by default,
  the mode that transfers across tasks);
* every candidate's joint action and score, the incumbent first;
* the action the expert chose;

and the episode's task, seed, final val and test mAP and its compute (segments trained in
forks, and as a multiple of one episode)::

    python -m training.imitate demos --task-set digits-v1 --seeds 2 --workers 2 --out runs/demos

Episodes are stored one JSON line each in the run store (``training.core.run_store``) the
moment they end, so an interrupted recording resumes with ``--resume``. The expert's
candidates are scored on Ray workers with ``--workers N`` (``training.meta.workers``), every
fork on ``--threads`` torch threads (1 by default), so a recording gives the same
demonstrations with any number of workers.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from agents import make_controller
from agents.rollout import RolloutController, halving_rungs, halving_text, parse_halving, \
    rollout_options
from envs.engine.checks import require_in_range
from envs.engine.recipe import DEFAULT_RECIPE, Recipe
from envs.errors import ConfigError
from training.core.callbacks import Recorder
from training.imitation.panel import calibration_best
from training.core.episode import Callback, StepContext, run_episode
from training.core.jsonl import DEMONSTRATIONS
from training.core.run_store import RunStore, read_store
from training.meta.rollouts import torch_threads
from training.meta.workers import make_pool

STORE = "demonstrations.jsonl"
"""The run store's file name inside ``--out``."""
DEFAULT_JUMPS = ("none+sgd+constant+bce", "crop+adamw+cosine+asl")
"""Whole recipes the expert also tries at every decision: the single best static recipe of
``digits-v1``'s calibration (its train tasks) and the best of the panel's adaptive ones."""


@dataclass(frozen=True)
class DemoConfig:
    """What to record: the expert's settings, the tasks and seeds."""

    task_set: str = "digits-v1"
    """Task set whose train tasks the expert plays (never its held-out ones)."""
    seeds: int = 2
    """Episodes per train task (reset seeds 0..seeds-1)."""
    max_tasks: int = 0
    """Only the first N train tasks (0: all of them)."""
    candidates: int = 4
    """The expert's sampled one-component changes per decision (0: all 19)."""
    horizon: int = 0
    """Segments a candidate's fork is held after its own (0: to the end)."""
    halving: tuple[tuple[int, int], ...] = ()
    """The expert's successive-halving rungs, KEPT:HORIZON comma-separated on the command line
    (horizon 0: to the end), e.g. 0:1,2:0: every candidate held 1 segment, then the best 2 and
    the incumbent to the end; empty: off. Each decision then records the last rung's
    candidates and scores (``agents.rollout``)."""
    jumps: tuple[str, ...] = DEFAULT_JUMPS
    """Recipes (``aug+opt+lrs+loss``, comma-separated on the command line) tried at every
    decision besides the changes."""
    start: str = DEFAULT_RECIPE.name
    """The first recipe (``aug+opt+lrs+loss``)."""
    start_from: str = ""
    """A task-set calibration's csv (``python -m benchmarks.task_sets`` writes it beside its
    table): each task starts from its best static recipe there (column ``best``) instead of
    ``start``, so that the expert's first decisions hold the recipe the panel found best on
    that task and its switches improve on it; a task the csv lacks starts from ``start``.
    Empty: every task from ``start``."""
    reuse: bool = False
    """Reuse the chosen candidate's to-the-end score as the next decision's incumbent's
    (``agents.rollout.RolloutConfig.reuse``): the same demonstrations for fewer segments, so a
    recording may be resumed with it on or off (only the compute recorded differs)."""
    observation: str = "relative"
    """The observation mode recorded (``envs.EnvConfig.observation``)."""
    workers: int = 1
    """Ray workers that score the candidates (1: in-process)."""
    threads: int = 1
    """torch threads of every fork, here and in each worker (the scores depend on it; one
    per worker keeps 2 workers from oversubscribing 2 cores)."""
    address: str | None = None
    """Join this Ray cluster instead of starting a local one."""
    out: str = "runs/demos"
    """Output folder: the run store ``demonstrations.jsonl``."""
    resume: bool = False
    """Keep the episodes already in ``--out`` and record only the rest."""
    progress: bool = True
    """Show a progress bar (episodes, compute so far)."""

    def __post_init__(self) -> None:
        for name, low in (("seeds", 1), ("max_tasks", 0), ("candidates", 0), ("horizon", 0),
                          ("workers", 1), ("threads", 1)):  # max_tasks -1 would drop a task
            require_in_range(f"DemoConfig.{name} (--{name.replace('_', '-')})",
                             getattr(self, name), low, integer=True)
        rungs = (parse_halving(self.halving, "--halving") if isinstance(self.halving, str)
                 else halving_rungs(self.halving, "halving"))
        object.__setattr__(self, "halving", rungs)
        if self.halving and self.horizon:
            raise ConfigError(f"--halving {halving_text(self.halving)} sets the horizons: "
                              "leave --horizon 0")
        for name in (self.start, *self.jumps):
            Recipe.parse(name)  # a clear error now, not after the first episode
        envs.task_set(self.task_set)
        if self.start_from:
            self.starts()  # a missing or malformed csv fails now

    def starts(self) -> dict[str, str]:
        """Each train task's first recipe by task name (``start_from``'s best, else
        ``start``)."""
        best = calibration_best(self.start_from) if self.start_from else {}
        return {t.name: best.get(t.name, self.start) for t in envs.task_set(self.task_set).train}

    def settings(self) -> dict[str, Any]:
        """What changes a demonstration (the run store refuses to mix other settings)."""
        return {"task_set": self.task_set, "candidates": self.candidates,
                "horizon": self.horizon, "jumps": list(self.jumps), "start": self.start,
                "observation": self.observation, "threads": self.threads,
                # only when set: recordings made before per-task starts existed still resume
                **({"starts": self.starts()} if self.start_from else {}),
                # only when set: recordings made before halving existed still resume
                **({"halving": halving_text(self.halving)} if self.halving else {})}


@dataclass
class DemoEpisode:
    """The expert's episode on one train task and seed."""

    task: str
    """The task's name (``envs.Task.name``)."""
    seed: int
    observations: list[list[float]]
    """Per decision: the shared observation the agents saw."""
    candidates: list[list[dict[str, int]]]
    """Per decision: the candidates' joint actions, the incumbent first."""
    scores: list[list[float]]
    """Per decision: each candidate's score (its fork's final val mAP)."""
    chosen: list[dict[str, int]]
    """Per decision: the joint action the expert played."""
    final_val: float
    test_mAP: float
    segments: int
    """Segments trained in the candidates' forks."""
    episodes_of_compute: float
    """``segments`` over the episode's length, plus the episode itself."""
    wall_s: float
    agents: list[str] = field(default_factory=list)
    played: list[dict[str, int]] = field(default_factory=list)
    """Per decision: the joint action played (the expert's choice, or in a DAgger episode the
    learner's; the next decision's incumbent)."""

    @property
    def decisions(self) -> int:
        return len(self.chosen)


class _Demonstrate(Callback):
    """Copies the expert's candidates, scores and choice at each decision."""

    def __init__(self, expert: RolloutController) -> None:
        self.expert = expert
        self.rows: list[tuple[list[float], list[dict[str, int]], list[float], dict[str, int],
                              dict[str, int]]] = []

    def on_step(self, ctx: StepContext) -> bool:
        t = ctx.transition
        observation = next(iter(t.observations.values()))
        candidates = [c for c, _ in self.expert.last_candidates]
        scores = [s if math.isfinite(s) else -1.0 for _, s in self.expert.last_candidates]
        self.rows.append(([float(x) for x in observation], candidates, scores,
                          dict(self.expert.last_choice), dict(t.actions)))
        return True


class _LearnerPlays:
    """DAgger's player (its mixing weight beta = 0): the learner's action is played, and the
    expert labels the state it reaches, scoring candidates around the recipe in effect."""

    def __init__(self, expert: RolloutController, learner: Any) -> None:
        self.expert, self.learner = expert, learner

    def attach(self, env: Any) -> None:
        self.expert.attach(env)
        self.learner.attach(env)

    def act(self, observations: Any, training: bool = False) -> dict[str, int]:
        self.expert.act(observations)  # the label: scores and choice, kept for the recorder
        played = self.learner.act(observations, training=False)
        self.expert.incumbent = {a: played.get(a, self.expert.incumbent[a])
                                 for a in self.expert.agents}
        return played


def expert_options(config: DemoConfig, start: str | None = None) -> dict[str, Any]:
    """``make_controller("rollout", ...)`` options of the recording's expert (from ``start``,
    default ``config.start``)."""
    return rollout_options(Recipe.parse(start or config.start), candidates=config.candidates,
                           horizon=config.horizon, jumps=[Recipe.parse(j) for j in config.jumps],
                           halving=config.halving) | ({"reuse": True} if config.reuse else {})


def record_episode(task: envs.Task, seed: int, config: DemoConfig, scorer: Any = None,
                   player: Any = None, start: str | None = None) -> DemoEpisode:
    """The expert's episode on ``task`` from ``reset(seed)``; ``scorer``: where its candidates
    are played (a ``training.meta.workers`` pool; None: here, one after another).

    ``player``: a controller whose actions are played instead of the expert's, the expert
    only labelling the states it reaches (DAgger); its ``chosen`` are the expert's labels.
    ``start``: the expert's first recipe (default ``config.start``)."""
    began = time.perf_counter()
    env = envs.make(task, observation=config.observation)
    expert = make_controller("rollout", env, seed=seed, **expert_options(config, start))
    if scorer is not None:
        expert.scorer = scorer
    recorder, demo = Recorder(), _Demonstrate(expert)
    acting = expert if player is None else _LearnerPlays(expert, player)
    run_episode(env, acting, seed=seed, callbacks=[recorder, demo], learn=False)
    result = recorder.episodes[0]
    observations, candidates, scores, chosen, played = (list(x) for x in zip(*demo.rows))
    return DemoEpisode(task.name, seed, observations, candidates, scores, chosen,
                       result.final_val, result.test.get("mAP", math.nan), expert.segments,
                       1.0 + expert.episodes_of_compute, time.perf_counter() - began,
                       list(expert.agents), played)


def record(config: DemoConfig) -> list[DemoEpisode]:
    """Every (train task, seed) episode of the expert: from the store, or played and stored."""
    from tqdm import tqdm
    tasks = envs.task_set(config.task_set).train[:config.max_tasks or None]
    store = RunStore(Path(config.out) / STORE, config.settings(), config.resume, DEMONSTRATIONS)
    # seed-major: a recording stopped early still covers every task
    jobs = [(task, seed) for seed in range(config.seeds) for task in tasks]
    starts = config.starts()
    out: list[DemoEpisode] = []
    with torch_threads(config.threads), make_pool(config.workers, config.address) as scorer, \
            tqdm(total=len(jobs), desc="demonstrations", unit="episode",
                 disable=not config.progress) as bar:
        for task, seed in jobs:
            out.append(store.fetch(task.name, seed, DemoEpisode,
                                   lambda: record_episode(task, seed, config, scorer,
                                                          start=starts[task.name])))
            bar.update(1)
            bar.set_postfix(compute=f"{sum(e.episodes_of_compute for e in out):.0f} ep")
    return out


def load(path: Path | str) -> tuple[dict[str, Any], list[DemoEpisode]]:
    """The settings and episodes of the demonstrations in ``path`` (a recording's ``--out``
    folder or its store file); a file that is not a demonstrations store is refused
    (``training.core.jsonl.StoreFormatError``, a ``ConfigError``)."""
    path = Path(path)
    path = path / STORE if path.is_dir() else path
    if not path.is_file():
        raise ConfigError(f"no demonstrations at {path}: record them with "
                          "python -m training.imitate demos --out DIR")
    try:
        return read_store(path, DemoEpisode, DEMONSTRATIONS)
    except TypeError as error:
        raise ConfigError(f"{path} does not hold demonstrations ({error})") from None


def card(settings: Mapping[str, Any], episodes: Sequence[DemoEpisode], path: str | Path
         ) -> dict[str, Any]:
    """What a learner's summary and model card say of its demonstrations."""
    return {**summary(episodes), "path": str(path),
            "expert": {k: settings.get(k) for k in ("candidates", "horizon", "jumps", "start")
                       + (("starts",) if settings.get("starts") else ())}
            | ({"halving": settings["halving"]} if settings.get("halving") else {})}


def summary(episodes: Sequence[DemoEpisode]) -> dict[str, Any]:
    """Counts and compute of a recording, for logs and cards."""
    return {"episodes": len(episodes), "decisions": sum(e.decisions for e in episodes),
            "candidates_scored": sum(len(c) for e in episodes for c in e.candidates),
            "tasks": len({e.task for e in episodes}),
            "episodes_of_compute": round(sum(e.episodes_of_compute for e in episodes), 1),
            "wall_s": round(sum(e.wall_s for e in episodes), 1)}
