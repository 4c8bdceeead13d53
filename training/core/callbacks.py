"""The episode driver's callbacks: record, log, checkpoint, show progress, stop, evaluate.

Each is a ``training.core.episode.Callback``; a run composes the ones it needs::

    recorder = Recorder()
    run(env, controller, episodes=1, seed=0, total_steps=25,
        callbacks=[recorder, ProgressBar(tqdm(total=25)), StopOn(lambda ctx: flag())])
    recorder.episodes[0].test["mAP"]

``Recorder`` and ``StepLog`` read the infos of ``envs.MLICTrainingEnv`` (metrics, config,
timings); the others work with any ParallelEnv.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from training.core.episode import Callback, EpisodeEnd, RunStart, StepContext, run
from training.core.logs import RunLogger


# ---------------------------------------------------------------- recording
@dataclass
class EpisodeResult:
    """What one episode of an MLIC env produced."""

    val_map: list[float] = field(default_factory=list)
    """Val mAP after each decision (0..100)."""
    test: dict[str, float] = field(default_factory=dict)
    """Test mAP / CF1 / OF1 at the end; empty when the episode was stopped early."""
    wall_s: float = 0.0
    """Wall time of the episode's steps (callers may add the env's construction)."""
    recipe: str = ""
    """The fixed recipe (``aug+opt+lrs+loss``), if any."""
    train_s: float = 0.0
    """Seconds spent training (the env's ``StepTiming.train_s``), evaluation excluded."""
    train_images: int = 0
    """Training images seen."""
    train_epochs: float = 0.0
    """``train_images`` over the training split's size (set by the caller that knows it)."""
    choices: list[str] = field(default_factory=list)
    """The recipe (``aug+opt+lrs+loss``) trained in each decision."""
    episode_return: float = 0.0
    """Sum over the decisions of the reward averaged over the agents."""
    step_s: list[float] = field(default_factory=list)
    """Wall seconds of each decision (act, step, observe): the wall time to a val-mAP target
    (``benchmarks.algoperf``) sums them up to the decision that reaches it."""

    @property
    def epochs(self) -> int:
        return len(self.val_map)

    @property
    def final_val(self) -> float:
        return self.val_map[-1] if self.val_map else 0.0

    @property
    def best_val(self) -> float:
        return max(self.val_map, default=0.0)

    @property
    def stopped(self) -> bool:
        return not self.test


class Recorder(Callback):
    """Collects an ``EpisodeResult`` per episode, and the time spent acting and learning.

    ``agent_s`` counts the controller's ``act`` and ``observe`` plus the curiosity
    wrapper's own time (``info["curiosity_s"]``); ``wall_s`` every decision's act, step and
    observe. Both, and the episodes, are part of ``state_dict`` for exact resume.
    """

    def __init__(self) -> None:
        self.episodes: list[EpisodeResult] = []
        """Finished episodes, then the one in progress (if any)."""
        self.agent_s = 0.0
        self.wall_s = 0.0
        self._open = False

    def on_episode_start(self, episode: int, seed: int) -> None:
        self.episodes.append(EpisodeResult())
        self._open = True

    def on_step(self, ctx: StepContext) -> bool:
        info, result = ctx.info, self.episodes[-1]
        curiosity_s = float(info.get("curiosity_s", 0.0))
        step_s = ctx.act_s + ctx.env_s + ctx.learn_s
        self.agent_s += ctx.act_s + ctx.learn_s + curiosity_s
        self.wall_s += step_s
        result.wall_s += step_s
        result.step_s.append(step_s)
        result.val_map.append(float(info["metrics"]["mAP"] or 0.0))
        result.choices.append("+".join(info["config"].values()))
        result.train_s += info["time"].train_s
        result.train_images += int(info["train"]["images"])
        result.episode_return += ctx.transition.mean_reward
        if ctx.done:
            test = info.get("test_metrics", {})
            result.test = {k: float(test[k] or 0.0) for k in ("mAP", "CF1", "OF1")}
            self._open = False
        return True

    @property
    def finished(self) -> list[EpisodeResult]:
        return self.episodes[:-1] if self._open else list(self.episodes)

    @property
    def all_val(self) -> list[float]:
        return [v for e in self.episodes for v in e.val_map]

    @property
    def train_images(self) -> int:
        return sum(e.train_images for e in self.episodes)

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": [asdict(e) for e in self.episodes], "agent_s": self.agent_s,
                "wall_s": self.wall_s, "open": self._open}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = [EpisodeResult(**e) for e in state["episodes"]]
        self.agent_s, self.wall_s = float(state["agent_s"]), float(state["wall_s"])
        self._open = bool(state["open"])


# ------------------------------------------------------------ run plumbing
class ProgressBar(Callback):
    """Advances a tqdm-like bar by one per decision, with an optional postfix per step."""

    def __init__(self, bar: Any, describe: Callable[[StepContext], str] | None = None) -> None:
        self.bar = bar
        self.describe = describe

    def on_step(self, ctx: StepContext) -> bool:
        self.bar.update(1)
        if self.describe is not None:
            self.bar.set_postfix_str(self.describe(ctx))
        return True


class StopOn(Callback):
    """Stops the run after the first step for which ``predicate(ctx)`` is true.

    E.g. ``StopOn(lambda ctx: flag())`` for a signal, or an Optuna pruner's verdict.
    """

    def __init__(self, predicate: Callable[[StepContext], bool]) -> None:
        self.predicate = predicate

    def on_step(self, ctx: StepContext) -> bool:
        return not self.predicate(ctx)


class Checkpoint(Callback):
    """Calls ``save()`` after every decision, once every other callback has seen it.

    Put it last: mid-episode it saves in ``on_step``, at an episode's end in
    ``on_episode_end`` (after the episode's own bookkeeping).
    """

    def __init__(self, save: Callable[[], None]) -> None:
        self.save = save

    def on_step(self, ctx: StepContext) -> bool:
        if not ctx.done:
            self.save()
        return True

    def on_episode_end(self, end: EpisodeEnd) -> None:
        self.save()


class StepLog(Callback):
    """One ``steps.jsonl`` line and a set of TensorBoard scalars per decision.

    The logger belongs to the caller, which closes it (also when the run raises).
    """

    def __init__(self, logger: RunLogger) -> None:
        self.logger = logger

    def on_step(self, ctx: StepContext) -> bool:
        record = step_record(ctx)
        self.logger.write(record, step_scalars(record), ctx.step)
        return True


def step_record(ctx: StepContext) -> dict[str, Any]:
    """The ``steps.jsonl`` line of one decision of an MLIC env."""
    t, info = ctx.transition, ctx.info
    agent_time = {"act_s": ctx.act_s, "learn_s": ctx.learn_s,
                  "curiosity_s": info.get("curiosity_s", 0.0)}
    record = {
        "episode": ctx.episode, "decision": info["decision"], "step": ctx.step,
        "actions": {a: int(v) for a, v in t.actions.items()}, "config": info["config"],
        "reward": t.mean_reward,
        "rewards": {a: float(r) for a, r in t.rewards.items()},
        "reward_terms": info["reward_terms"],
        "val": {k: info["metrics"][k] for k in ("mAP", "CF1", "OF1", "loss")},
        "train": info["train"], "lr": info["lr"], "progress": info["progress"],
        "time": {**info["time"].as_dict(), **agent_time}, "agent": dict(ctx.logs),
    }
    if "reward_intrinsic" in info:
        record["curiosity"] = {"extrinsic": info["reward_extrinsic"],
                               "intrinsic": info["reward_intrinsic"]}
    if "test_metrics" in info:
        record["test"] = {k: info["test_metrics"][k] for k in ("mAP", "CF1", "OF1")}
    return record


def step_scalars(record: dict[str, Any]) -> dict[str, float]:
    """TensorBoard scalars of one decision, under namespaced keys."""
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


# --------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    """Frozen episodes played after a training episode."""

    after_episode: int
    """Training episodes finished before it."""
    step: int
    """Training env steps taken before it."""
    actions: list[list[dict[str, int]]]
    """Per evaluation episode, the joint action of every decision."""
    returns: list[float]
    """Per evaluation episode, the sum of the mean reward."""
    final_infos: list[dict[str, Any]]
    """Per evaluation episode, the first agent's last info (``test_metrics`` in MLIC envs)."""


class Evaluate(Callback):
    """Every ``every`` training episodes, plays ``episodes`` greedy episodes on ``env``.

    The controller acts with ``training=False`` and learns nothing; evaluation ``k`` (from
    0) resets with seeds ``seed + k * episodes + i``. ``env`` must be another instance than
    the one being trained (its episode is in flight). Results go to ``evaluations``.
    """

    def __init__(self, env: Any, *, every: int = 1, episodes: int = 1, seed: int = 0) -> None:
        self.env, self.every, self.n, self.seed = env, int(every), int(episodes), int(seed)
        self.evaluations: list[Evaluation] = []
        self._controller: Any = None

    def on_run_start(self, run: RunStart) -> None:
        self._controller = run.controller

    def on_episode_end(self, end: EpisodeEnd) -> None:
        if (end.episode + 1) % self.every:
            return
        actions = _Actions()
        start = self.seed + len(self.evaluations) * self.n
        run(self.env, self._controller, episodes=self.n, seed=start, learn=False,
            callbacks=[actions])
        self.evaluations.append(Evaluation(end.episode + 1, end.last.step, actions.episodes,
                                           actions.returns, actions.final_infos))


class _Actions(Callback):
    """Joint actions, returns and last infos per episode (for ``Evaluate``)."""

    def __init__(self) -> None:
        self.episodes: list[list[dict[str, int]]] = []
        self.returns: list[float] = []
        self.final_infos: list[dict[str, Any]] = []

    def on_episode_start(self, episode: int, seed: int) -> None:
        self.episodes.append([])

    def on_step(self, ctx: StepContext) -> bool:
        self.episodes[-1].append({a: int(v) for a, v in ctx.transition.actions.items()})
        return True

    def on_episode_end(self, end: EpisodeEnd) -> None:
        self.returns.append(end.episode_return)
        self.final_infos.append(end.last.info)
