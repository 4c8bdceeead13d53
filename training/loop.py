"""The run loop: build env + controller, step them in lockstep, log, checkpoint, report.

After every decision the whole run state is checkpointed atomically: the env's training
state and RNGs, the curiosity model, the controller (networks, replay buffers, epsilon,
RNGs) and the loop's own progress. ``--resume`` continues from it and, on CPU, ends with
the same result as a run that was never interrupted. A stop request (SIGINT/SIGTERM in
the CLI) is honoured between decisions, right after a checkpoint.
"""
from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from agents import Controller, load_controller, make_controller
from agents.base import MANIFEST
from agents.shaping import shape_rewards
from envs.errors import CheckpointError, ConfigError
from training.checkpoint import load_checkpoint, save_atomic
from training.config import RunConfig
from training.logs import RunLogger, read_steps
from training.report import write_report

CHECKPOINT = "checkpoint.pt"


@dataclass
class Progress:
    """The loop's own state (saved in every checkpoint)."""

    episode: int = 0
    decisions: int = 0
    observations: dict | None = None
    """Observations of the current decision; ``None`` means the next episode must reset."""
    wall_s: float = 0.0
    agent_s: float = 0.0
    best_val_map: float = 0.0
    last_val_map: float = 0.0
    train_images: int = 0
    tests: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    interrupted: bool


class RunSession:
    """One run: the env (possibly wrapped), the controller, the logs and the progress."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.out = prepare_out_dir(config.out_dir)
        self.env = envs.make(config.env, **config.env_overrides())
        self.stepper = shape_rewards(self.env, seed=config.seed, reward=config.reward,
                                     curiosity=config.curiosity, beta=config.beta,
                                     tail_classes=self.env.profile.tail_classes)
        self.total_decisions = config.episodes * self.env.config.max_decisions
        self.controller = self._build_controller()
        if config.freeze and hasattr(self.stepper, "training"):
            self.stepper.training = False
        self.progress = Progress()
        if config.resume:
            self._restore()
        else:
            (self.out / "config.json").write_text(json.dumps(config.as_dict(), indent=2, default=str))

    def _build_controller(self) -> Controller:
        cfg = self.config
        if cfg.load_agents:
            directory = Path(cfg.load_agents)
            saved = json.loads((directory / MANIFEST).read_text()) if (directory / MANIFEST).is_file() else {}
            extra = {"total_steps": self.total_decisions} if saved.get("algo") == "mat-dqn" else {}
            return load_controller(directory, self.stepper, seed=cfg.seed, training=not cfg.freeze, **extra)
        return make_controller(cfg.algo, self.stepper, seed=cfg.seed, **self._algo_kwargs())

    def _algo_kwargs(self) -> dict[str, Any]:
        if self.config.algo == "mat-dqn":
            return {"total_steps": self.total_decisions}
        if self.config.algo in ("ma2ml", "ma2ml-lite"):
            return {"setting": self.config.setting}
        if self.config.algo == "static":
            recipe = self.env.config.default_recipe
            return {"choices": {a: self.env.action_names(a).index(getattr(recipe, a))
                                for a in self.env.possible_agents}}
        return {}

    # ------------------------------------------------------------ checkpoint
    def _restore(self) -> None:
        state = load_checkpoint(self.out / CHECKPOINT)
        if state["config"] != _resumable(self.config):
            raise ConfigError(f"--resume with settings that differ from the checkpoint in {self.out}: "
                              f"saved {state['config']}, given {_resumable(self.config)}")
        try:
            self.stepper.load_state_dict(state["env"])
            self.controller.load_state_dict(state["controller"])
            self.progress = Progress(**state["progress"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"checkpoint {self.out / CHECKPOINT} does not fit this run ({type(error).__name__}: "
                f"{error}); it was written by another version or run. Delete it to start over.") from error

    def save_checkpoint(self) -> None:
        save_atomic({"config": _resumable(self.config), "env": self.stepper.state_dict(),
                     "controller": self.controller.state_dict(), "progress": asdict(self.progress)},
                    self.out / CHECKPOINT)

    # ------------------------------------------------------------------ loop
    def run(self, should_stop: Callable[[], bool] = lambda: False) -> RunResult:
        logger = RunLogger(self.out, resume_at=self.progress.decisions)
        bar = tqdm(total=self.total_decisions, initial=self.progress.decisions, unit="decision",
                   disable=not self.config.progress, dynamic_ncols=True)
        try:
            while self.progress.episode < self.config.episodes:
                if self.progress.observations is None:
                    self.progress.observations, _ = self.stepper.reset(seed=self.config.seed + self.progress.episode)
                record, scalars = self._decide()
                logger.write(record, scalars, self.progress.decisions)
                bar.update(1)
                bar.set_postfix_str(f"val mAP {record['val']['mAP'] or 0:.1f} | "
                                    + " ".join(record["config"].values()))
                self.save_checkpoint()
                if should_stop() and self.progress.episode < self.config.episodes:
                    return RunResult(self.summary(), interrupted=True)
        finally:
            bar.close()
            logger.close()
        return RunResult(self.finish(), interrupted=False)

    def _decide(self) -> tuple[dict[str, Any], dict[str, float]]:
        start = time.perf_counter()
        p = self.progress
        observations = p.observations
        assert observations is not None
        actions = self.controller.act(observations)
        act_s = time.perf_counter() - start
        next_obs, rewards, terms, truncs, infos = self.stepper.step(actions)
        learn_start = time.perf_counter()
        agent_logs = self.controller.observe(observations, actions, rewards, next_obs, terms, truncs, infos)
        learn_s = time.perf_counter() - learn_start
        info = infos[self.env.possible_agents[0]]
        curiosity_s = info.get("curiosity_s", 0.0)
        p.decisions += 1
        p.agent_s += act_s + learn_s + curiosity_s
        p.wall_s += time.perf_counter() - start
        p.best_val_map = max(p.best_val_map, info["metrics"]["mAP"] or 0.0)
        p.last_val_map = info["metrics"]["mAP"] or 0.0
        p.train_images += info["train"]["images"]
        record = _record(p, actions, rewards, info, agent_logs,
                         {"act_s": act_s, "learn_s": learn_s, "curiosity_s": curiosity_s})
        if any(truncs.values()) or any(terms.values()):
            p.tests.append({"episode": p.episode, **info.get("test_metrics", {})})
            p.episode += 1
            p.observations = None
        else:
            p.observations = next_obs
        return record, _scalars(record)

    # --------------------------------------------------------------- outputs
    def summary(self) -> dict[str, Any]:
        p = self.progress
        test = p.tests[-1] if p.tests else {}
        return {
            "env": self.config.env, "algo": self.config.algo if not self.config.load_agents else
            f"{self.config.algo} (loaded from {self.config.load_agents})",
            "agents": list(self.env.possible_agents), "curiosity": self.config.curiosity,
            "reward": self.config.reward,
            "seed": self.config.seed, "episodes": p.episode, "decisions": p.decisions,
            "best_val_mAP": p.best_val_map, "final_val_mAP": p.last_val_map,
            "test_mAP": test.get("mAP"), "test_CF1": test.get("CF1"), "test_OF1": test.get("OF1"),
            "test_per_episode": [t.get("mAP") for t in p.tests],
            "epochs": p.train_images / len(self.env.data.train), "wall_s": p.wall_s,
            "agent_overhead_share": p.agent_s / p.wall_s if p.wall_s else 0.0,
        }

    def finish(self) -> dict[str, Any]:
        summary = self.summary()
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        self.controller.save(self.out / "agents")
        write_report(read_steps(self.out), {a: self.env.action_names(a) for a in envs.COMPONENTS},
                     self.out / "report.png", f"{self.config.env} · {summary['algo']} · seed {self.config.seed}")
        return summary


def run(config: RunConfig, should_stop: Callable[[], bool] = lambda: False) -> RunResult:
    """Run ``config`` to completion (or until ``should_stop()`` is true after a decision)."""
    return RunSession(config).run(should_stop)


def prepare_out_dir(path: Path) -> Path:
    """Create ``path`` and check it is writable, with an error that names it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"cannot write to --out {path}: {error.strerror}. "
                          f"Pick a writable directory with --out DIR.") from error
    return path


def _resumable(config: RunConfig) -> dict[str, Any]:
    """The settings a resumed run must share with the checkpoint (not --resume/--progress)."""
    return {k: v for k, v in config.as_dict().items() if k not in ("resume", "progress")}


def _record(p: Progress, actions: dict, rewards: dict, info: dict, agent_logs: dict,
            agent_time: dict) -> dict[str, Any]:
    record = {
        "episode": p.episode, "decision": info["decision"], "step": p.decisions,
        "actions": {a: int(v) for a, v in actions.items()}, "config": info["config"],
        "reward": statistics.fmean(float(r) for r in rewards.values()),
        "rewards": {a: float(r) for a, r in rewards.items()}, "reward_terms": info["reward_terms"],
        "val": {k: info["metrics"][k] for k in ("mAP", "CF1", "OF1", "loss")},
        "train": info["train"], "lr": info["lr"], "progress": info["progress"],
        "time": {**info["time"].as_dict(), **agent_time}, "agent": agent_logs,
    }
    if "reward_intrinsic" in info:
        record["curiosity"] = {"extrinsic": info["reward_extrinsic"], "intrinsic": info["reward_intrinsic"]}
    if "test_metrics" in info:
        record["test"] = {k: info["test_metrics"][k] for k in ("mAP", "CF1", "OF1")}
    return record


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    scalars = {f"env/val_{k}": v for k, v in record["val"].items()}
    scalars.update({f"env/reward_{k}": v for k, v in record["reward_terms"].items()})
    scalars.update({"train/loss": record["train"]["loss"], "train/lr": record["lr"],
                    "train/grad_norm": record["train"]["grad_norm"]})
    scalars.update({f"time/{k}": v for k, v in record["time"].items()})
    scalars.update({k: v for k, v in record["agent"].items() if isinstance(v, (int, float))})
    for key, value in record.get("curiosity", {}).items():
        scalars[f"curiosity/{key}"] = value
    for key, value in record.get("test", {}).items():
        scalars[f"env/test_{key}"] = value
    return scalars
