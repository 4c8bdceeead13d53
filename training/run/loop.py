"""One ``run_marl`` run: build the env and the controller, play them through the episode
driver (``training.core.episode``) with the run's callbacks, then write the summary and report.

After every decision the whole run state is checkpointed atomically: the env's training
state and RNGs, the curiosity model, the controller (networks, replay buffers, epsilon,
RNGs), the episode driver's state and the recorded episodes. ``--resume`` continues from
it and, on CPU, ends with the same result as a run that was never interrupted. A stop
request (SIGINT/SIGTERM in the CLI) is honoured between decisions, right after a checkpoint.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from agents import Controller, load_controller, make_controller
from agents.errors import AgentConfigError
from agents.registry import declared_options
from agents.rewards import shape_rewards
from agents.rollout import InProcessScorer
from envs.errors import CheckpointError, ConfigError
from training.core.callbacks import Checkpoint, ProgressBar, Recorder, StepContext, StepLog, StopOn
from training.core.checkpoint import load_checkpoint, save_atomic
from training.core.config import RunConfig
from training.core.saved_settings import RUN_CONFIG
from training.core.episode import DriverState, run as run_episodes
from training.core.logs import RunLogger, read_steps
from training.run.report import write_report
from training.meta.workers import make_pool

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    interrupted: bool


class RunSession:
    """One run: the env (possibly wrapped), the controller, the logs and where the run stands."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.out = prepare_out_dir(config.out_dir)
        self.env = envs.make(config.env, **config.make_overrides())
        self.stepper = shape_rewards(self.env, seed=config.seed, reward=config.reward,
                                     curiosity=config.curiosity, beta=config.beta,
                                     tail_classes=self.env.profile.tail_classes,
                                     penalty=self.env.config.reward)
        self.total_decisions = config.episodes * self.env.config.max_decisions
        self.controller = self._build_controller()
        if (config.workers > 1 or config.address) and not hasattr(self.controller, "scorer"):
            raise ConfigError(
                f"--workers/--address play a search controller's forks on Ray workers, and "
                f"{config.load_agents or config.algo} does not search (only rollout does): drop "
                f"them (meta-training's workers are training.meta_train --workers)")
        if config.freeze and hasattr(self.stepper, "training"):
            self.stepper.training = False
        self.state = DriverState()
        self.recorder = Recorder()
        if config.resume:
            self._restore()
        else:
            (self.out / RUN_CONFIG).write_text(json.dumps(config.as_dict(), indent=2, default=str))

    def _build_controller(self) -> Controller:
        cfg = self.config
        try:
            if cfg.load_agents:
                return load_controller(cfg.load_agents, self.stepper, seed=cfg.seed,  # or zoo:
                                       training=not cfg.freeze, **cfg.options)
            return make_controller(cfg.algo, self.stepper, seed=cfg.seed, **self._algo_kwargs())
        except AgentConfigError as error:  # a hyperparameter, or a choice, it refused
            if not cfg.options:
                raise
            raise AgentConfigError(f"--options: {error}") from None

    def _algo_kwargs(self) -> dict[str, Any]:
        """The run's ``options``, over what the run decides, offered to every algorithm and taken
        by those whose config declares it: the MA2ML setting, and the fixed choices (the env's
        default recipe, which choices given in ``options`` replace agent by agent)."""
        offered = declared_options(self.config.algo, {
            "setting": self.config.setting,
            "choices": envs.recipe_actions(self.env, self.env.config.default_recipe)})
        options = dict(self.config.options)
        if "choices" in offered and isinstance(options.get("choices"), dict):
            options["choices"] = {**offered["choices"], **options["choices"]}
        return {**offered, **options}

    # ------------------------------------------------------------ checkpoint
    def _restore(self) -> None:
        state = load_checkpoint(self.out / CHECKPOINT)
        if "driver" not in state:  # written before the episode driver (stop 14)
            raise CheckpointError(
                f"checkpoint {self.out / CHECKPOINT} was written by an older version of "
                "run_marl and cannot be resumed by this one; delete it (or pick another --out) "
                "to start over")
        if state["config"] != _resumable(self.config):
            raise ConfigError(f"--resume with settings that differ from the checkpoint in {self.out}: "
                              f"saved {state['config']}, given {_resumable(self.config)}")
        try:
            self.stepper.load_state_dict(state["env"])
            self.controller.load_state_dict(state["controller"])
            self.state = DriverState(**state["driver"])
            self.recorder.load_state_dict(state["recorder"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"checkpoint {self.out / CHECKPOINT} does not fit this run ({type(error).__name__}: "
                f"{error}); it was written by another version or run. Delete it to start over.") from error

    def save_checkpoint(self) -> None:
        save_atomic({"config": _resumable(self.config), "env": self.stepper.state_dict(),
                     "controller": self.controller.state_dict(), "driver": self.state.as_dict(),
                     "recorder": self.recorder.state_dict()}, self.out / CHECKPOINT)

    # ------------------------------------------------------------------ loop
    def run(self, should_stop: Callable[[], bool] = lambda: False) -> RunResult:
        bar = tqdm(total=self.total_decisions, initial=self.state.step, unit="decision",
                   disable=not self.config.progress, dynamic_ncols=True)
        logger = RunLogger(self.out, resume_at=self.state.step)
        callbacks = [self.recorder, StepLog(logger), ProgressBar(bar, _postfix),
                     StopOn(lambda _ctx: should_stop()), Checkpoint(self.save_checkpoint)]
        try:
            with self._search_workers():
                outcome = run_episodes(self.stepper, self.controller,
                                       episodes=self.config.episodes, seed=self.config.seed,
                                       total_steps=self.total_decisions, callbacks=callbacks,
                                       state=self.state)
        finally:
            bar.close()
            logger.close()
        if outcome.stopped:
            return RunResult(self.summary(), interrupted=True)
        return RunResult(self.finish(), interrupted=False)

    @contextlib.contextmanager
    def _search_workers(self) -> Iterator[None]:
        """With --workers N (or --address), a search controller plays its forks on a
        ``training.meta.workers`` pool for the run, and in-process again after it."""
        if self.config.workers == 1 and self.config.address is None:
            yield
            return
        with make_pool(self.config.workers, self.config.address) as pool:
            self.controller.scorer = pool
            try:
                yield
            finally:
                self.controller.scorer = InProcessScorer()

    # --------------------------------------------------------------- outputs
    def summary(self) -> dict[str, Any]:
        r = self.recorder
        tests = [e.test for e in r.finished]
        test = tests[-1] if tests else {}
        values = r.all_val
        return {
            "env": self.config.env, "algo": self.config.algo if not self.config.load_agents else
            f"{self.controller.name} (loaded from {self.config.load_agents})",  # not --algo
            "agents": list(self.env.possible_agents), "curiosity": self.config.curiosity,
            "reward": self.config.reward,
            "seed": self.config.seed, "episodes": self.state.episode, "decisions": self.state.step,
            "best_val_mAP": max(values, default=0.0), "final_val_mAP": values[-1] if values else 0.0,
            "test_mAP": test.get("mAP"), "test_CF1": test.get("CF1"), "test_OF1": test.get("OF1"),
            "test_per_episode": [t.get("mAP") for t in tests],
            "epochs": r.train_images / len(self.env.data.train), "wall_s": r.wall_s,
            "agent_overhead_share": r.agent_s / r.wall_s if r.wall_s else 0.0,
        }

    def finish(self) -> dict[str, Any]:
        summary = self.summary()
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        self.controller.save(self.out / "agents")
        write_report(read_steps(self.out), {a: self.env.action_names(a) for a in envs.COMPONENTS},
                     self.out / "report.png", f"{self.config.env} · {summary['algo']} · seed {self.config.seed}")
        return summary


def _postfix(ctx: StepContext) -> str:
    return f"val mAP {ctx.info['metrics']['mAP'] or 0:.1f} | " + " ".join(ctx.info["config"].values())


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
    """The settings a resumed run must share with the checkpoint (not --resume, --progress
    or where the forks are played: --workers and --address leave the results as they are)."""
    return {k: v for k, v in config.as_dict().items()
            if k not in ("resume", "progress", "workers", "address")}
