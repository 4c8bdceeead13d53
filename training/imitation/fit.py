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
from training.imitation import demonstrations, learners
from training.meta.rollouts import ControllerSpec
from training.meta.rounds import SUMMARY, evaluate_heldout, git_commit
from training.meta.workers import make_pool

ALGO = "mat-dqn"
"""The controller the learners fit (its Q-networks)."""


@dataclass(frozen=True)
class FitConfig:
    """One learner fitted on one recording of demonstrations."""

    demos: str = "runs/demos"
    """The demonstrations' folder (``training.imitate demos --out``)."""
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
    weight_decay: float = 1e-4
    score_scale: float = 5.0
    """``q``: val mAP points per unit of Q target."""
    seed: int = 0
    """Seeds the Q-networks' initialisation."""
    workers: int = 1
    """Held-out episodes played side by side on Ray (1: in-process)."""
    address: str | None = None
    out: str = "runs/imitate"
    options: Mapping[str, Any] = field(default_factory=dict)
    """``mat-dqn`` hyperparameters (e.g. ``net_arch``); those of RL fine-tuning too."""
    progress: bool = True

    def __post_init__(self) -> None:
        if self.learner not in learners.LEARNERS:
            raise ConfigError(f"--learner {self.learner!r} is not one of "
                              f"{', '.join(learners.LEARNERS)}")
        for name in ("epochs", "eval_every", "eval_seeds", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"FitConfig.{name} must be a positive integer, got {value!r}")


def run_fit(config: FitConfig) -> dict[str, Any]:
    """Fit, evaluate, select and save; returns the summary written to ``OUT/summary.json``."""
    from tqdm import tqdm
    start = time.perf_counter()
    settings, episodes = demonstrations.load(config.demos)
    task_set = envs.task_set(settings["task_set"])
    env_overrides = {"observation": settings["observation"]}
    first = task_set.train[0]
    probe = envs.make(first, **env_make_kwargs(first.env_id, env_overrides))
    controller = make_controller(ALGO, probe, seed=config.seed, **dict(config.options))
    assert isinstance(controller, MatDQNController)
    probe.close()
    spec = ControllerSpec(ALGO, dict(config.options), env_overrides)
    x = learners.observations(episodes)
    per_agent = learners.targets(config.learner, episodes, controller.action_sizes,
                                 config.score_scale)
    chosen = {a: t.values for a, t in learners.bc_targets(episodes, controller.agents).items()}
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    curve: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    learner_s = rollout_s = 0.0
    chunks = -(-config.epochs // config.eval_every)
    with make_pool(config.workers, config.address) as pool, tqdm(total=chunks, desc=f"fit {config.learner}", unit="eval",
                                     disable=not config.progress) as bar:
        for chunk in range(chunks + 1):
            if chunk:
                started = time.perf_counter()
                epochs = min(config.eval_every, config.epochs - (chunk - 1) * config.eval_every)
                losses = learners.fit(controller, config.learner, x, per_agent, epochs=epochs,
                                      learning_rate=config.learning_rate,
                                      weight_decay=config.weight_decay)
                learner_s += time.perf_counter() - started
            else:
                losses = {}
            evaluation, wall_s = evaluate_heldout(
                pool, task_set, spec, controller.actor_state(), eval_seeds=config.eval_seeds,
                workers=config.workers, seed=config.seed, round_index=chunk, episodes=0)
            rollout_s += wall_s
            evaluation.update(epochs=min(config.epochs, chunk * config.eval_every),
                              agreement=learners.agreement(controller, x, chosen),
                              loss={a: round(v, 5) for a, v in losses.items()})
            curve.append(evaluation)
            if chunk and (best is None or evaluation["heldout_val_mAP"] > best["heldout_val_mAP"]):
                best = {k: v for k, v in evaluation.items() if k != "choices"}
                controller.save(out / "best")
            if chunk:
                bar.update(1)
            bar.set_postfix(heldout=f"{evaluation['heldout_mAP']:.1f}",
                            agree=f"{evaluation['agreement']:.2f}")
    controller.save(out / "final")
    wall_s = time.perf_counter() - start
    summary = {
        "command": command(config), "algo": ALGO, "learner": config.learner,
        "task_set": task_set.name, "episodes": 0, "epochs": config.epochs,
        "workers": config.workers, "seed": config.seed,
        "cpu_hours": (learner_s + rollout_s) / 3600, "wall_s": wall_s, "learner_s": learner_s,
        "commit": git_commit(), "generator_version": GENERATOR_VERSION, "env": first.env_id,
        "env_settings": env_overrides, "options": dict(config.options),
        "demonstrations": {**demonstrations.summary(episodes), "path": str(config.demos),
                           "expert": {k: settings.get(k) for k in
                                      ("candidates", "horizon", "jumps", "start")}},
        "architectures": sorted({t.backbone or "small_cnn" for t in task_set.train}),
        "best": best, "final": {k: v for k, v in curve[-1].items() if k != "choices"},
        "curve": [{k: e[k] for k in ("round", "episodes", "epochs", "heldout_mAP",
                                     "heldout_val_mAP", "agreement")} for e in curve],
        "choices": curve[-1]["choices"]}
    write_text_atomic(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary


def command(config: FitConfig) -> str:
    """The shell command that reruns ``config``."""
    parts = ["python -m training.imitate fit", f"--learner {config.learner}",
             f"--demos {config.demos}", f"--epochs {config.epochs}",
             f"--eval-every {config.eval_every}", f"--seed {config.seed}",
             f"--out {config.out}"]
    if config.options:
        parts.append(f"--options '{json.dumps(dict(config.options))}'")
    return " ".join(parts)
