"""Fit the ``selector`` baseline on demonstrations: which static recipe, from the first
observation?

    python -m training.imitate select --demos runs/demos --out runs/selector

At an episode's first decision the expert scored each candidate held from the start to the
end: a static run of that recipe. The recipes scored there in at least half of the
episodes (the start, the expert's jumps, and changes the sampler drew often) become the
selector's choices, and each episode's first observation with those scores, relative to
the start's, its memory (``agents.selector``). The output folder is laid out as a learner's
(``training.imitation.fit``): ``best/``, ``summary.json`` with one held-out evaluation.

With ``--panel`` the memory comes from the task sets' calibrations instead: each train task's
first observation (``reset(seed=0)``) with every panel recipe's test mAP, relative to the
default recipe's, each held to the end of the budget. The recordings then only name the task
sets and the observation. The expert's first decisions score few recipes per task when its
rungs are short or its starts differ per task; the panel scores the same recipes on every
task, to the end::

    python -m training.imitate select --demos runs/demos-long-v1 \
        --panel benchmarks/results/task_sets_digits_long_v1.csv --out runs/selector-panel
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import envs
from agents import make_controller
from agents.selector import Episode
from envs.atomic import write_text_atomic
from envs.engine.checks import require_in_range
from envs.engine.data.digits import GENERATOR_VERSION
from envs.engine.recipe import DEFAULT_RECIPE, Recipe
from envs.errors import ConfigError
from training.imitation import demonstrations
from training.imitation.panel import calibration_scores
from training.imitation.recordings import load_recordings, split_paths
from training.imitation.demonstrations import DemoEpisode
from training.imitation.fit import architectures
from training.meta.rollouts import ControllerSpec
from training.core.saved_settings import SUMMARY
from training.meta.rounds import evaluate_heldout, git_commit
from training.meta.workers import make_pool

ALGO = "selector"


@dataclass(frozen=True)
class SelectConfig:
    """The selector fitted on one recording of demonstrations."""

    demos: str = "runs/demos"
    """The demonstrations' folder (``training.imitate demos --out``), or several
    comma-separated, one per task set (``training.imitation.recordings``)."""
    neighbours: int = 3
    """Nearest episodes that vote."""
    min_share: float = 0.5
    """A recipe is a choice if the expert scored it at the first decision of at least this
    share of the episodes."""
    panel: str | None = None
    """Calibration csvs of the recordings' task sets (``python -m benchmarks.task_sets``),
    comma-separated: the memory is each train task's panel instead (see the module)."""
    decide_at: int = 0
    """With ``panel``: the decision the selector picks at (``agents.selector``); the memory
    then holds each train task's observation after that many segments of the default
    recipe (seed 0)."""
    eval_seeds: int = 1
    """Greedy episodes per held-out task in the evaluation."""
    workers: int = 1
    """Held-out episodes played side by side on Ray (1: in-process)."""
    address: str | None = None
    """Join this Ray cluster (``auto`` or ``HOST:PORT``) instead of starting a local one."""
    out: str = "runs/selector"
    """Output folder, laid out as a learner's: ``best/`` and ``summary.json``."""
    progress: bool = True
    """Show a progress bar (select has none: the flag is there for the same flags as
    ``demos`` and ``fit``)."""

    def __post_init__(self) -> None:
        for name in ("neighbours", "eval_seeds", "workers"):
            require_in_range(f"SelectConfig.{name} (--{name.replace('_', '-')})",
                             getattr(self, name), 1, integer=True)
        if not 0.0 < self.min_share <= 1.0:
            raise ConfigError(f"--min-share must be in (0, 1], got {self.min_share!r}")
        require_in_range("SelectConfig.decide_at (--decide-at)", self.decide_at, 0,
                         integer=True)
        if self.decide_at and not self.panel:
            raise ConfigError(f"--decide-at {self.decide_at} needs --panel: the "
                              "demonstrations score recipes from the first decision only")
        self.panel_scores()  # a missing or malformed csv fails now

    def panel_scores(self) -> dict[str, dict[str, float]]:
        """``{train task: {recipe: test mAP}}`` of every ``panel`` csv (empty without)."""
        out: dict[str, dict[str, float]] = {}
        for path in split_paths(self.panel, "--panel") if self.panel else ():
            out.update(calibration_scores(path))
        return out


def selector_memory(episodes: Sequence[DemoEpisode], min_share: float = 0.5
                    ) -> tuple[list[dict[str, int]], list[Episode]]:
    """The recipes a selector picks from (the start first) and its memory."""
    if not episodes:
        raise ConfigError("the demonstrations hold no episode: record some first")
    key = lambda actions: tuple(sorted(actions.items()))  # noqa: E731 - a dict as a key
    start = key(episodes[0].candidates[0][0])
    counts = Counter(key(c) for e in episodes for c in {key(c): c for c in e.candidates[0]}.values())
    kept = [start] + sorted((k for k, n in counts.items()
                             if k != start and n >= min_share * len(episodes)),
                            key=lambda k: (-counts[k], k))
    index = {k: i for i, k in enumerate(kept)}
    memory = []
    for e in episodes:
        base = e.scores[0][0]
        scores = {index[key(c)]: s - base for c, s in zip(e.candidates[0], e.scores[0])
                  if key(c) in index}
        memory.append(Episode(list(e.observations[0]), scores))
    return [dict(k) for k in kept], memory


def panel_memory(task_set: envs.TaskSet, scores: dict[str, dict[str, float]], observation: str,
                 decide_at: int = 0) -> tuple[list[dict[str, int]], list[Episode]]:
    """The selector's recipes (the default first, then the panel's in csv order) and its
    memory from the panel: each train task of ``task_set`` that ``scores`` names, its
    observation at decision ``decide_at`` (after that many segments of the default recipe,
    from ``reset(seed=0)``) and each recipe's score minus the default's (held from the start:
    for ``decide_at`` > 0 an approximation, closer the longer the budget)."""
    def calibrated(task: envs.Task) -> str | None:  # its name in the csv, in any version
        names = (dataclasses.replace(task, version=v).name for v in range(task.version, -1, -1))
        return next((n for n in names if n in scores), None)

    tasks = [(t, name) for t in task_set.train if (name := calibrated(t))]
    if not tasks:
        raise ConfigError(f"--panel names none of {task_set.name}'s train tasks: give the "
                          "calibration csv of the recordings' task sets (python -m "
                          "benchmarks.task_sets --task-set NAME writes it)")
    default = DEFAULT_RECIPE.name
    missing = [name for _, name in tasks if default not in scores[name]]
    if missing:
        raise ConfigError(f"--panel: task {missing[0]} has no score of the default recipe "
                          f"({default}), the baseline of the others' scores: calibrate it "
                          "with the whole panel")
    names = [default] + list(dict.fromkeys(n for _, name in tasks for n in scores[name]
                                           if n != default))
    index = {n: i for i, n in enumerate(names)}
    memory, recipes = [], None
    for task, name in tasks:
        env = envs.make(task, observation=observation)
        try:
            observations, _ = env.reset(seed=0)
            if recipes is None:  # every task plays the same catalogue
                recipes = [envs.recipe_actions(env, Recipe.parse(n)) for n in names]
            for _ in range(min(decide_at, task.decisions - 1)):
                observations, *_ = env.step(recipes[0])  # the default recipe
        finally:
            env.close()
        first = next(iter(observations.values()))
        base = scores[name][default]
        memory.append(Episode([float(x) for x in first],
                              {index[n]: s - base for n, s in scores[name].items()}))
    return recipes, memory


def run_select(config: SelectConfig) -> dict[str, Any]:
    """Fit, evaluate on the held-out tasks, save; returns the summary."""
    start = time.perf_counter()
    recorded = load_recordings(config.demos)
    settings, episodes, task_set = recorded.newest_settings, recorded.episodes, recorded.task_set
    env_overrides = {"observation": settings["observation"]}
    if config.panel:
        recipes, memory = panel_memory(task_set, config.panel_scores(), settings["observation"],
                                       config.decide_at)
    else:
        recipes, memory = selector_memory(episodes, config.min_share)
    options = {"recipes": recipes, "neighbours": config.neighbours,
               **({"decide_at": config.decide_at} if config.decide_at else {})}
    first = task_set.train[0]
    probe = envs.make(first, observation=settings["observation"])
    selector = make_controller(ALGO, probe, seed=0, **options)
    selector.remember(memory)
    probe.close()
    with make_pool(config.workers, config.address) as pool:
        evaluation, rollout_s = evaluate_heldout(
            pool, task_set, ControllerSpec(ALGO, options, env_overrides), selector.actor_state(),
            eval_seeds=config.eval_seeds, workers=config.workers, seed=0, round_index=1,
            episodes=0)
    out = Path(config.out)
    selector.save(out / "best")
    best = {k: v for k, v in evaluation.items() if k != "choices"}
    summary = {
        "command": f"python -m training.imitate select --demos {config.demos} --neighbours "
                   f"{config.neighbours} --min-share {config.min_share}"
                   + (f" --panel {config.panel}" if config.panel else "")
                   + (f" --decide-at {config.decide_at}" if config.decide_at else "")
                   + " --eval-seeds "
                   f"{config.eval_seeds} --workers {config.workers} --out {config.out}",
        "algo": ALGO, "learner": ALGO, "task_set": task_set.name, "episodes": 0,
        "workers": config.workers, "seed": 0, "cpu_hours": rollout_s / 3600,
        "wall_s": time.perf_counter() - start, "commit": git_commit(),
        "generator_version": GENERATOR_VERSION, "env": first.env_id,
        "env_settings": env_overrides, "options": options,
        "demonstrations": demonstrations.card(settings, episodes, config.demos),
        "architectures": architectures(task_set), "best": best, "final": best,
        "curve": [{k: evaluation[k] for k in ("round", "episodes", "heldout_mAP",
                                              "heldout_val_mAP")}],
        "choices": evaluation["choices"]}
    write_text_atomic(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary
