"""Fit a learner on demonstrations, select it on the held-out tasks, save it as a run.

    python -m training.imitate fit --learner q --demos runs/demos --out runs/imitate-q

The output folder is laid out as a meta-training run's (``training.meta.rounds``): ``best/``
(the controller with the best mean held-out *val* mAP over the evaluations; test is
reported, never selected on), ``final/`` and ``summary.json`` with the held-out curve, so
``python -m training.publish OUT --name NAME`` puts it into the zoo and
``training.meta_train --init OUT/best`` fine-tunes it with RL. An evaluation runs before
training (the untrained network) and after every ``eval_every`` epochs.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from agents import make_controller
from agents.mat_dqn import MatDQNController
from envs.atomic import write_text_atomic
from envs.engine.data.digits import GENERATOR_VERSION
from envs.errors import ConfigError
from training.core.config import env_make_kwargs
from training.core.jsonl import DEMONSTRATIONS
from training.core.run_store import RunStore
from training.imitation import demonstrations, learners
from training.imitation.demonstrations import DemoConfig
from training.imitation.recordings import load_recordings, split_paths
from training.meta.rollouts import ControllerSpec, torch_threads
from training.core.saved_settings import SUMMARY
from training.meta.rounds import evaluate_heldout, git_commit
from training.meta.workers import make_pool

ALGO = "mat-dqn"
"""The controller the learners fit (its Q-networks)."""
DAGGER_STORE = "dagger.jsonl"
"""The run store of the DAgger rounds' labelled episodes, inside ``--out`` (resumed)."""


@dataclass(frozen=True)
class FitConfig:
    """One learner fitted on one recording of demonstrations."""

    demos: str = "runs/demos"
    """The demonstrations' folder (``training.imitate demos --out``), or several
    comma-separated, one per task set: their observations are written in the newest version
    among them and the learner is selected on all their held-out tasks
    (``training.imitation.recordings``)."""
    learner: str = "bc"
    """``bc`` (behaviour cloning of the expert's choice) or ``q`` (Q regression on every
    candidate's score)."""
    epochs: int = 300
    """Full-batch Adam steps per agent."""
    eval_every: int = 100
    """Epochs between held-out evaluations."""
    eval_seeds: int = 1
    """Greedy episodes per held-out task at each evaluation."""
    learning_rate: float = 1e-3
    """Adam's learning rate."""
    weight_decay: float = 1e-4
    """Adam's L2 weight decay."""
    score_scale: float = 5.0
    """``q``: val mAP points per unit of Q target."""
    dagger_rounds: int = 0
    """DAgger rounds after the first fit: the learner plays ``dagger_episodes`` train
    episodes, the expert labels every state it reaches, and the learner is fitted afresh on
    all the data so far."""
    dagger_episodes: int = 12
    """Train episodes per DAgger round (tasks drawn by a seeded sampler)."""
    seed: int = 0
    """Seeds the Q-networks' initialisation."""
    workers: int = 1
    """Held-out episodes played side by side on Ray (1: in-process)."""
    address: str | None = None
    """Join this Ray cluster (``auto`` or ``HOST:PORT``) instead of starting a local one."""
    out: str = "runs/imitate"
    """Output folder, laid out as a meta-training run's: ``best/``, ``final/``,
    ``summary.json`` (and ``dagger.jsonl`` with DAgger rounds)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """``mat-dqn`` hyperparameters (e.g. ``net_arch``); those of RL fine-tuning too."""
    progress: bool = True
    """Show a progress bar (evaluations, held-out mAP)."""

    def __post_init__(self) -> None:
        if self.learner not in learners.LEARNERS:
            raise ConfigError(f"--learner {self.learner!r} is not one of "
                              f"{', '.join(learners.LEARNERS)}")
        if isinstance(self.dagger_rounds, bool) or not isinstance(self.dagger_rounds, int) \
                or self.dagger_rounds < 0:
            raise ConfigError(f"FitConfig.dagger_rounds must be an int >= 0, got "
                              f"{self.dagger_rounds!r}")
        if self.dagger_rounds and len(split_paths(self.demos)) > 1:
            raise ConfigError(f"--dagger-rounds {self.dagger_rounds} with several recordings "
                              f"({self.demos}): DAgger's expert is one recording's; fit on one "
                              "recording, or leave --dagger-rounds 0")
        for name in ("epochs", "eval_every", "eval_seeds", "workers", "dagger_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"FitConfig.{name} must be a positive integer, got {value!r}")


def run_fit(config: FitConfig) -> dict[str, Any]:
    """Fit, evaluate, select and save (then DAgger rounds); returns the summary written to
    ``OUT/summary.json``."""
    from tqdm import tqdm
    fitter = _Fitter(config)
    chunks = -(-config.epochs // config.eval_every)
    with make_pool(config.workers, config.address) as pool, \
            tqdm(total=chunks + config.dagger_rounds, desc=f"fit {config.learner}", unit="eval",
                 disable=not config.progress) as bar:
        fitter.evaluate(pool, epochs=0)  # the untrained network
        for chunk in range(1, chunks + 1):
            epochs = min(config.eval_every, config.epochs - (chunk - 1) * config.eval_every)
            fitter.fit(epochs)
            fitter.evaluate(pool, epochs=min(config.epochs, chunk * config.eval_every))
            bar.update(1)
            bar.set_postfix(fitter.postfix())
        for dagger_round in range(1, config.dagger_rounds + 1):
            fitter.dagger(dagger_round, pool)
            fitter.evaluate(pool, epochs=config.epochs)
            bar.update(1)
            bar.set_postfix(fitter.postfix())
    return fitter.finish()


class _Fitter:
    """A learner's state through a fit: its data, network, curve and best evaluation."""

    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.start = time.perf_counter()
        recorded = load_recordings(config.demos)
        self.settings, self.episodes = recorded.newest_settings, recorded.episodes
        self.task_set = recorded.task_set
        self.env_overrides = {"observation": self.settings["observation"]}
        self.spec = ControllerSpec(ALGO, dict(config.options), self.env_overrides)
        self.controller = self._fresh()
        self.dagger_episodes: list[demonstrations.DemoEpisode] = []
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.curve: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.learner_s = self.rollout_s = 0.0
        self.losses: dict[str, float] = {}
        self._data()

    def _fresh(self) -> MatDQNController:
        first = self.task_set.train[0]
        probe = envs.make(first, **env_make_kwargs(first.env_id, self.env_overrides))
        controller = make_controller(ALGO, probe, seed=self.config.seed,
                                     **dict(self.config.options))
        probe.close()
        assert isinstance(controller, MatDQNController)
        return controller

    def _data(self) -> None:
        data = self.episodes + self.dagger_episodes
        self.x = learners.observations(data)
        self.targets = learners.targets(self.config.learner, data,
                                        self.controller.action_sizes, self.config.score_scale)
        self.chosen = {a: t.values for a, t in
                       learners.bc_targets(data, self.controller.agents).items()}

    def fit(self, epochs: int) -> None:
        c, started = self.config, time.perf_counter()
        self.losses = learners.fit(self.controller, c.learner, self.x, self.targets,
                                   epochs=epochs, learning_rate=c.learning_rate,
                                   weight_decay=c.weight_decay)
        self.learner_s += time.perf_counter() - started

    def evaluate(self, pool: Any, *, epochs: int) -> None:
        """Held-out greedy episodes; the best by val so far is saved to ``OUT/best``."""
        c = self.config
        evaluation, wall_s = evaluate_heldout(
            pool, self.task_set, self.spec, self.controller.actor_state(),
            eval_seeds=c.eval_seeds, workers=c.workers, seed=c.seed,
            round_index=len(self.curve), episodes=0)
        self.rollout_s += wall_s
        evaluation.update(epochs=epochs, dagger_episodes=len(self.dagger_episodes),
                          agreement=learners.agreement(self.controller, self.x, self.chosen),
                          loss={a: round(v, 5) for a, v in self.losses.items()})
        self.curve.append(evaluation)
        if epochs and (self.best is None
                       or evaluation["heldout_val_mAP"] > self.best["heldout_val_mAP"]):
            self.best = {k: v for k, v in evaluation.items() if k != "choices"}
            self.controller.save(self.out / "best")

    def dagger(self, dagger_round: int, pool: Any) -> None:
        """One DAgger round: the learner plays, the expert labels, the learner is refitted."""
        c = self.config
        expert = DemoConfig(**{k: self.settings[k] for k in
                               ("task_set", "candidates", "horizon", "start", "observation")},
                            jumps=tuple(self.settings["jumps"]),
                            threads=int(self.settings.get("threads", 1)),
                            halving=self.settings.get("halving", ""))  # the recording's expert
        store = RunStore(self.out / DAGGER_STORE, {**expert.settings(), "learner": c.learner,
                                                   "seed": c.seed, "epochs": c.epochs,
                                                   "demos": str(c.demos)},
                         resume=True, kind=DEMONSTRATIONS)
        sampler = self.task_set.sampler(seed=c.seed * 1000 + dagger_round)
        with torch_threads(expert.threads):
            for i in range(c.dagger_episodes):
                task = self.task_set.require_train(sampler.sample())
                seed = 10_000 * dagger_round + i
                self.dagger_episodes.append(store.fetch(
                    f"round{dagger_round}|{task.name}", seed, demonstrations.DemoEpisode,
                    lambda: demonstrations.record_episode(task, seed, expert, pool,
                                                          player=self.controller)))
        self.controller = self._fresh()
        self._data()
        self.fit(c.epochs)

    def postfix(self) -> dict[str, str]:
        last = self.curve[-1]
        return {"heldout": f"{last['heldout_mAP']:.1f}", "agree": f"{last['agreement']:.2f}"}

    def finish(self) -> dict[str, Any]:
        c, first = self.config, self.task_set.train[0]
        self.controller.save(self.out / "final")
        dagger = demonstrations.summary(self.dagger_episodes) if self.dagger_episodes else None
        summary = {
            "command": command(c), "algo": ALGO, "learner": c.learner,
            "task_set": self.task_set.name, "episodes": 0, "epochs": c.epochs,
            "dagger_rounds": c.dagger_rounds, "workers": c.workers, "seed": c.seed,
            "cpu_hours": (self.learner_s + self.rollout_s) / 3600,
            "wall_s": time.perf_counter() - self.start, "learner_s": self.learner_s,
            "commit": git_commit(), "generator_version": GENERATOR_VERSION,
            "env": first.env_id, "env_settings": self.env_overrides,
            "options": dict(c.options),
            "demonstrations": demonstrations.card(self.settings, self.episodes, c.demos),
            "dagger": dagger,
            "architectures": architectures(self.task_set),
            "best": self.best,
            "final": {k: v for k, v in self.curve[-1].items() if k != "choices"},
            "curve": [{k: e[k] for k in ("round", "episodes", "epochs", "dagger_episodes",
                                         "heldout_mAP", "heldout_val_mAP", "agreement")}
                      for e in self.curve],
            "choices": self.curve[-1]["choices"]}
        write_text_atomic(self.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
        return summary


def architectures(task_set: envs.TaskSet) -> list[str]:
    """The backbones of a task set's train tasks (what a learner was trained on)."""
    return sorted({t.backbone or "small_cnn" for t in task_set.train})


def command(config: FitConfig) -> str:
    """The shell command that reruns ``config`` (every setting not at its default)."""
    default = FitConfig()
    parts = ["python -m training.imitate fit", f"--learner {config.learner}",
             f"--demos {config.demos}"]
    for name in ("epochs", "eval_every", "eval_seeds", "learning_rate", "weight_decay",
                 "score_scale", "dagger_rounds", "dagger_episodes", "seed", "workers"):
        if getattr(config, name) != getattr(default, name):
            parts.append(f"--{name.replace('_', '-')} {getattr(config, name)}")
    parts.append(f"--out {config.out}")
    if config.options:
        parts.append(f"--options '{json.dumps(dict(config.options))}'")
    return " ".join(parts)
