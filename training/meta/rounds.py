"""Meta-training: one controller learns across many episodes of many tasks, then is used frozen.

A run is a sequence of synchronous *rounds*. In each round every rollout worker plays one
episode on a task drawn from the task set's train split, acting with the learner's
current policy and its own exploration seed (``training.meta.rollouts``); then the central
learner learns from all of them, worker by worker (``Controller.observe_many``)::

    config = MetaConfig(algo="mat-dqn", task_set="digits-v0", episodes=200, workers=2,
                        seed=0, out="runs/meta")
    summary = MetaTrainer(config).run()      # summary.json; best/ is the controller to ship

Every ``eval_every`` rounds (and before the first, as the untrained baseline) the frozen
controller plays each held-out task greedily; the trained controller with the best mean
held-out *val* mAP so far is saved to ``<out>/best`` (test mAP is reported, never selected
on), and the last one to ``<out>/final`` when the run ends (it was evaluated then too). After every round the
whole state (learner, replay buffers, generators, the task sampler, the history) goes to
``<out>/checkpoint.pt``, so ``resume=True`` continues exactly: a job's seeds are a pure
function of the run's seed, its round and its worker, so the rounds still to come are
the ones an uninterrupted run would have played. The seed and the number of workers fix
the result; the pool (in-process or Ray) does not change it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from agents import make_controller, zoo
from agents.registry import declared_options
from agents.rewards import CURIOSITY_CHOICES, check_choice, make_curiosity
from agents.base import MANIFEST, Controller, Transition, read_manifest
from envs.atomic import write_text_atomic
from envs.engine.data.digits import GENERATOR_VERSION
from envs.errors import ConfigError, UnknownEnvError
from envs.task_sets import TaskSet
from training.core.checkpoint import load_checkpoint, save_atomic
from training.core.config import env_make_kwargs
from training.core.saved_settings import SUMMARY, controller_env_settings, controller_settings_of
from training.core.fields import flag
from training.core import jsonl
from training.meta.rollouts import ControllerSpec, EpisodeJob, EpisodeRecord
from training.meta.workers import InProcessPool, RayPool, make_pool

CHECKPOINT = "checkpoint.pt"
EPISODES_FILE = "episodes.jsonl"
EVAL_SEED = 1_000_000
"""Held-out episodes reset with ``EVAL_SEED + i``: the same seeds at every evaluation."""
REWARD_NORMS = ("none", "task")
"""``MetaConfig.reward_norm`` choices."""
RESUMABLE = ("episodes", "progress", "address")
"""Settings a resumed run may change (more episodes, another cluster); the rest must match."""


@dataclass(frozen=True)
class MetaConfig:
    """One meta-training run."""

    algo: str = "mat-dqn"
    """Controller to meta-train (``agents.ALGORITHMS``)."""
    task_set: str = "digits-v0"
    """Task set (``envs.list_task_sets()``): train on its train split, select on its held-out."""
    episodes: int = 200
    """Training episodes in all (rounded up to whole rounds of ``workers`` episodes)."""
    workers: int = 1
    """Rollout workers: 1 plays in-process, more run as Ray actors."""
    seed: int = 0
    """Seeds the learner, the task sampler and every episode's seeds."""
    out: str = "runs/meta"
    """Output folder: checkpoint.pt, summary.json, episodes.jsonl, tb/, best/."""
    eval_every: int = 10
    """Rounds between held-out evaluations (one also runs before the first round)."""
    eval_seeds: int = 1
    """Greedy episodes per held-out task at each evaluation."""
    address: str | None = None
    """Join this Ray cluster (``auto`` or ``HOST:PORT``) instead of starting a local one."""
    curiosity: str = "none"
    """Curiosity bonus added on the learner's side (``none``, ``icm`` or ``rnd``): its model
    learns from every transition the workers send, before the controller does."""
    reward_norm: str = "none"
    """``task``: divide each episode's rewards by the root-mean-square episode return of its
    task so far, so every task weighs alike in the learner; ``none``: rewards as the env pays."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Hyperparameters of the controller by name, as ``make_controller`` takes them (a JSON
    object on the command line, e.g. '{"gamma": 0.9}')."""
    init: str = ""
    """Start the learner from these weights: a saved controller of the same algorithm (a
    folder written by ``Controller.save``, e.g. an imitation learner's ``OUT/best``) or
    ``zoo:<name>``; empty: a fresh initialisation."""
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    """``envs.make`` settings for every task (e.g. ``observation``), beyond the task's own."""
    progress: bool = True
    """Show a progress bar (episodes, mean return, held-out mAP)."""

    def __post_init__(self) -> None:
        check_choice("MetaConfig.curiosity (--curiosity)", self.curiosity, CURIOSITY_CHOICES,
                     ConfigError)
        check_choice("MetaConfig.reward_norm (--reward-norm)", self.reward_norm, REWARD_NORMS,
                     ConfigError)
        for name in ("episodes", "workers", "eval_every", "eval_seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"MetaConfig.{name} must be a positive integer ({flag(name)}), "
                                  f"got {value!r}"
                                  + (" (1 runs in-process without Ray)" if name == "workers"
                                     else ""))

    @property
    def rounds(self) -> int:
        return math.ceil(self.episodes / self.workers)

    def comparable(self) -> dict[str, Any]:
        """The settings a resume must match."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in RESUMABLE}


@dataclass
class MetaState:
    """Everything a resumed run needs besides the learner: where it is and what happened."""

    round: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)
    """One summary per training episode (``EpisodeRecord.summary``), in learning order."""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    """One per held-out evaluation: round, episodes so far, mean val/test mAP, per task."""
    best: dict[str, Any] | None = None
    """The evaluation whose controller is in ``<out>/best``."""
    rollout_s: float = 0.0
    """Seconds the workers spent in episodes (summed over workers: CPU time)."""
    learner_s: float = 0.0
    """Seconds the learner spent in ``observe_many``."""
    wall_s: float = 0.0
    restarts: int = 0
    """Episodes that were played again because their worker died."""
    return_moments: dict[str, list[float]] = field(default_factory=dict)
    """Per train task: [episodes, sum of squared returns] (``reward_norm="task"``)."""


class MetaTrainer:
    """Runs ``config``: rounds of parallel episodes, central learning, held-out selection."""

    def __init__(self, config: MetaConfig, *, resume: bool = False) -> None:
        self.config = config
        self.out = Path(config.out)
        try:
            self.task_set: TaskSet = envs.task_set(config.task_set)
        except UnknownEnvError as error:
            raise ConfigError(f"--task-set: {error}") from error
        first = self.task_set.train[0]
        probe = envs.make(first, **env_make_kwargs(first.env_id, config.env_overrides))
        offered = {"choices": envs.recipe_actions(probe, probe.config.default_recipe)}
        options = {**declared_options(config.algo, offered), **dict(config.options)}
        self.spec = ControllerSpec(config.algo, options, dict(config.env_overrides))
        self.controller: Controller = make_controller(config.algo, probe, seed=config.seed,
                                                      **options)
        if config.init:
            _load_weights(self.controller, config.init, config.algo, probe)
            _require_same_settings(config.init, controller_settings_of(config.env_overrides))
        self.curiosity = (make_curiosity(config.curiosity, probe, seed=config.seed)
                          if config.curiosity != "none" else None)
        probe.close()
        self.sampler = self.task_set.sampler(config.seed)
        self.state = MetaState()
        if resume:
            self._restore()
        mean_decisions = statistics.fmean(t.decisions for t in self.task_set.train)
        self.controller.begin(total_steps=max(1, round(config.rounds * config.workers
                                                       * mean_decisions)))

    # ------------------------------------------------------------------ run
    def run(self, should_stop: Callable[[], bool] = lambda: False,
            pool: InProcessPool | RayPool | None = None) -> dict[str, Any]:
        """Play the remaining rounds; ``should_stop`` is checked after each (then it returns).

        ``pool``: play the jobs there instead of in the pool ``workers`` and ``address`` call
        for (it stays open); any pool gives the same result for the same config.
        """
        from tqdm import tqdm
        c, state = self.config, self.state
        self.out.mkdir(parents=True, exist_ok=True)
        if not state.episodes:  # a fresh run: a fresh episode log
            jsonl.create(self.out / EPISODES_FILE, jsonl.META_EPISODES)
        logger = _TensorBoard(self.out, resume_at=len(state.episodes))
        bar = tqdm(total=c.rounds * c.workers, initial=len(state.episodes), unit="ep",
                   desc=f"meta {c.algo}", disable=not c.progress, dynamic_ncols=True)
        start = time.perf_counter() - state.wall_s
        try:
            finished = state.round >= c.rounds and state.evaluations  # a resumed finished run
            with contextlib.nullcontext(pool) if pool or finished else \
                    make_pool(c.workers, c.address) as pool:
                if not state.evaluations:
                    self._evaluate(pool, logger)
                while state.round < c.rounds:
                    records = pool.map(self._jobs(state.round), self.spec,
                                       self.controller.actor_state())
                    self._learn(records, logger)
                    state.round += 1
                    if state.round % c.eval_every == 0 or state.round == c.rounds:
                        self._evaluate(pool, logger)
                    state.wall_s = time.perf_counter() - start
                    self._checkpoint()
                    bar.update(len(records))
                    bar.set_postfix(self._postfix(records))
                    if should_stop() and state.round < c.rounds:
                        break
            if state.round >= c.rounds:
                self.controller.save(self.out / "final")
        finally:
            bar.close()
            logger.close()
        return self._write_summary()

    def _jobs(self, round_index: int) -> list[EpisodeJob]:
        """This round's episodes: a sampled train task and two seeds per worker."""
        jobs = []
        for worker in range(self.config.workers):
            task = self.task_set.require_train(self.sampler.sample())
            reset_seed, explore_seed = _seeds(self.config.seed, round_index, worker)
            jobs.append(EpisodeJob(round_index, worker, task, reset_seed, explore_seed))
        return jobs

    def _learn(self, records: list[EpisodeRecord], logger: _TensorBoard) -> None:
        state = self.state
        started = time.perf_counter()
        logs: dict[str, float] = {}
        for record in records:
            transitions = self._normalised(record)
            if self.curiosity is not None:
                transitions = [self.curiosity.shape(t) for t in transitions]
            logs = self.controller.observe_many(transitions) or logs
        state.learner_s += time.perf_counter() - started
        log = jsonl.Appender(self.out / EPISODES_FILE)
        for record in records:
            summary = record.summary()
            state.episodes.append(summary)
            state.rollout_s += record.wall_s
            state.restarts += record.attempts - 1
            logger.episode(len(state.episodes), summary)
            log.append(summary)
        logger.scalars(len(state.episodes), logs)

    def _normalised(self, record: EpisodeRecord) -> list[Transition]:
        """The record's transitions, rewards divided by its task's RMS return so far
        (this episode included) when ``reward_norm="task"``."""
        if self.config.reward_norm == "none":
            return record.transitions
        moments = self.state.return_moments.setdefault(record.job.task.name, [0.0, 0.0])
        moments[0] += 1
        moments[1] += record.result.episode_return ** 2
        scale = max(math.sqrt(moments[1] / moments[0]), 1e-6)
        return [dataclasses.replace(t, rewards={a: r / scale for a, r in t.rewards.items()})
                for t in record.transitions]

    def _evaluate(self, pool: Any, logger: _TensorBoard) -> None:
        """Greedy episodes on every held-out task; keeps the best controller so far."""
        state, c = self.state, self.config
        evaluation, wall_s = evaluate_heldout(
            pool, self.task_set, self.spec, self.controller.actor_state(),
            eval_seeds=c.eval_seeds, workers=c.workers, seed=c.seed, round_index=state.round,
            episodes=len(state.episodes))
        state.rollout_s += wall_s
        state.evaluations.append(evaluation)
        logger.evaluation(len(state.episodes), evaluation)
        trained = evaluation["episodes"] > 0  # the evaluation before round 1 is the baseline
        if trained and (state.best is None
                        or evaluation["heldout_val_mAP"] > state.best["heldout_val_mAP"]):
            state.best = {k: v for k, v in evaluation.items() if k != "choices"}
            self.controller.save(self.out / "best")

    # --------------------------------------------------------- persistence
    def _checkpoint(self) -> None:
        save_atomic({"kind": "meta", "config": self.config.comparable(),
                     "controller": self.controller.state_dict(),
                     "sampler": self.sampler.state_dict(),
                     "curiosity": (self.curiosity.model_state()
                                   if self.curiosity is not None else None),
                     "state": dataclasses.asdict(self.state)}, self.out / CHECKPOINT)

    def _restore(self) -> None:
        payload = load_checkpoint(self.out / CHECKPOINT)
        if payload.get("kind") != "meta":
            raise ConfigError(f"{self.out / CHECKPOINT} is not a meta-training checkpoint")
        # a setting added since the checkpoint was written had its default then
        saved = {**MetaConfig().comparable(), **payload["config"]}
        now = self.config.comparable()
        changed = {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v}
        if changed:
            raise ConfigError(f"--resume with settings that differ from the run in {self.out}: "
                              f"{changed} (saved, given); only {RESUMABLE} may change")
        self.controller.load_state_dict(payload["controller"])
        self.sampler.load_state_dict(payload["sampler"])
        if self.curiosity is not None:
            self.curiosity.load_model_state(payload["curiosity"])
        self.state = MetaState(**payload["state"])
        # what was logged past the checkpoint, or cut short by a kill, goes
        jsonl.resume(self.out / EPISODES_FILE, jsonl.META_EPISODES, keep=len(self.state.episodes))

    def _postfix(self, records: list[EpisodeRecord]) -> dict[str, str]:
        last = self.state.evaluations[-1] if self.state.evaluations else None
        return {"return": f"{statistics.fmean(r.result.episode_return for r in records):.2f}",
                "heldout": f"{last['heldout_mAP']:.1f}" if last else "-"}

    def _write_summary(self) -> dict[str, Any]:
        state, c = self.state, self.config
        returns = [e["return"] for e in state.episodes]
        tests = [e["test_mAP"] for e in state.episodes]
        summary = {
            "command": _command(c), "algo": c.algo, "task_set": c.task_set,
            "episodes": len(state.episodes), "rounds": state.round, "workers": c.workers,
            "seed": c.seed, "finished": state.round >= c.rounds,
            "wall_s": state.wall_s, "rollout_s": state.rollout_s, "learner_s": state.learner_s,
            "cpu_hours": (state.rollout_s + state.learner_s) / 3600,
            "learner_share": state.learner_s / state.wall_s if state.wall_s else 0.0,
            "episodes_per_hour": len(state.episodes) / state.wall_s * 3600 if state.wall_s else 0.0,
            "restarts": state.restarts, "commit": git_commit(),
            "generator_version": GENERATOR_VERSION,
            "curiosity": c.curiosity, "reward_norm": c.reward_norm, "env": self.task_set.train[0].env_id, "env_settings": controller_settings_of(c.env_overrides), "options": _jsonable(self.spec.options),
            "return_test_spearman": _spearman(returns, tests),
            "return_test_spearman_within_task": _within_task_spearman(state.episodes),
            "best": state.best,
            "final": ({k: v for k, v in state.evaluations[-1].items() if k != "choices"}
                      if state.round >= c.rounds and state.evaluations else None),
            "curve": [{k: e[k] for k in ("round", "episodes", "heldout_mAP",
                                                              "heldout_val_mAP")}
                                          for e in state.evaluations]}
        write_text_atomic(self.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
        return summary


# ------------------------------------------------------------------ helpers
def _load_weights(controller: Controller, source: str, algo: str, env: Any) -> None:
    """Load the saved weights at ``source`` (a folder or ``zoo:<name>``) into ``controller``."""
    directory = zoo.zoo_dir(source) if zoo.is_zoo_name(source) else Path(source)
    if not (directory / MANIFEST).is_file():
        raise ConfigError(f"--init {source}: {directory} holds no saved controller (no "
                          f"{MANIFEST}); give a folder written by Controller.save, e.g. "
                          "runs/imitate-q/best, or zoo:<name>")
    saved = read_manifest(directory, env, label=source)["algo"]
    if saved != algo:
        raise ConfigError(f"--init {source} holds a {saved!r} controller, not {algo!r}: pass "
                          f"--algo {saved}")
    controller.load_artifacts(directory)


def _require_same_settings(source: str, given: Mapping[str, Any]) -> None:
    """Refuse to fine-tune a controller in envs without the settings it needs (its card's or
    run's ``env_settings``, e.g. the observation); settings it does not name (a reward kind,
    for an imitation learner trained without reward) may be chosen freely."""
    # the catalogue and the observation's version are the task set's, and the manifest check
    # refuses others (with the fix)
    saved = {k: v for k, v in controller_env_settings(source).items()
             if k not in ("catalogue", "context_features")}
    differ = {k: (v, given.get(k)) for k, v in saved.items() if given.get(k) != v}
    if differ:
        fix = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in saved.items())
        raise ConfigError(f"--init {source} needs env settings {saved}; this run has "
                          f"{dict(given)} (differing: {differ}, as (needed, given)); pass {fix}")


def evaluate_heldout(pool: Any, task_set: TaskSet, spec: ControllerSpec,
                     actor_state: Mapping[str, Any], *, eval_seeds: int, workers: int, seed: int,
                     round_index: int, episodes: int) -> tuple[dict[str, Any], float]:
    """Greedy episodes of the controller ``actor_state`` describes on every held-out task
    (reset seeds ``EVAL_SEED + i``), played by ``pool``: the evaluation (round, episodes,
    mean val and test mAP, per task, choices) and the seconds the episodes took."""
    jobs = [EpisodeJob(round_index, i % workers, task, EVAL_SEED + s, seed, explore=False,
                       split="heldout")
            for i, (task, s) in enumerate((t, s) for t in task_set.heldout
                                          for s in range(eval_seeds))]
    records = pool.map(jobs, spec, actor_state)
    per_task: dict[str, dict[str, list[float]]] = {}
    for r in records:
        entry = per_task.setdefault(r.job.task.name, {"val": [], "test": []})
        entry["val"].append(r.result.final_val)
        entry["test"].append(r.result.test.get("mAP", float("nan")))
    evaluation = {
        "round": round_index, "episodes": episodes,
        "heldout_val_mAP": statistics.fmean(statistics.fmean(e["val"])
                                            for e in per_task.values()),
        "heldout_mAP": statistics.fmean(statistics.fmean(e["test"]) for e in per_task.values()),
        "per_task": {k: statistics.fmean(e["test"]) for k, e in per_task.items()},
        "choices": {r.job.task.name: r.result.choices for r in records}}
    return evaluation, sum(r.wall_s for r in records)


def _seeds(seed: int, round_index: int, worker: int) -> tuple[int, int]:
    """(reset seed, exploration seed) of one training episode: a pure function of its place."""
    a, b = np.random.SeedSequence([seed, round_index, worker]).generate_state(2)
    return int(a % 2**31), int(b % 2**31)


def _spearman(x: list[float], y: list[float]) -> float | None:
    """Rank correlation of episode return and final test mAP (None below 3 episodes)."""
    pairs = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 3:
        return None
    from scipy.stats import spearmanr
    value = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
    return float(value) if math.isfinite(value) else None


def _within_task_spearman(episodes: list[dict[str, Any]]) -> float | None:
    """The mean over tasks of the return/test-mAP rank correlation among a task's episodes
    (across tasks, a return relative to the start cannot rank absolute mAPs)."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in episodes:
        by_task.setdefault(e["task"], []).append(e)
    values = [_spearman([e["return"] for e in group], [e["test_mAP"] for e in group])
              for group in by_task.values()]
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _command(c: MetaConfig) -> str:
    parts = ["python -m training.meta_train", f"--algo {c.algo}", f"--task-set {c.task_set}",
             f"--episodes {c.episodes}", f"--workers {c.workers}", f"--seed {c.seed}",
             f"--eval-every {c.eval_every}", f"--out {c.out}"]
    if c.curiosity != "none":
        parts.append(f"--curiosity {c.curiosity}")
    if c.reward_norm != "none":
        parts.append(f"--reward-norm {c.reward_norm}")
    if c.init:
        parts.append(f"--init {c.init}")
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in c.env_overrides.items()]
    if c.options:
        parts.append(f"--options '{json.dumps(_jsonable(c.options))}'")
    return " ".join(parts)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class _TensorBoard:
    """Scalars per training episode and per evaluation (x axis: training episodes)."""

    def __init__(self, out: Path, resume_at: int) -> None:
        from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(out / "tb"), purge_step=resume_at or None)

    def episode(self, step: int, summary: Mapping[str, Any]) -> None:
        for key in ("return", "final_val_mAP", "test_mAP", "wall_s"):
            self.writer.add_scalar(f"train/{key}", summary[key], step)

    def scalars(self, step: int, logs: Mapping[str, float]) -> None:
        for key, value in logs.items():
            if math.isfinite(value):
                self.writer.add_scalar(key, value, step)

    def evaluation(self, step: int, evaluation: Mapping[str, Any]) -> None:
        self.writer.add_scalar("heldout/test_mAP", evaluation["heldout_mAP"], step)
        self.writer.add_scalar("heldout/val_mAP", evaluation["heldout_val_mAP"], step)

    def close(self) -> None:
        self.writer.close()
