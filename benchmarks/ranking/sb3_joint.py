"""Stable-Baselines3 on the joint Gymnasium view, trained on a task set's train tasks, then
played frozen: the ``sb3:PPO`` / ``sb3:A2C`` / ``sb3:DQN`` methods of ``benchmarks.protocol``.

``train(algo, train_set, episodes, out)`` fits one SB3 model on ``envs.make_joint`` views of
the train tasks (``TrainTasks``: each episode draws one task, with a seed that is a pure
function of the episode's index) for exactly ``episodes`` episodes, and saves it in ``out``
(``model.zip`` and ``summary.json``: algorithm, episodes, options, wall time); a folder that
holds a finished model is reused, since SB3 cannot continue a run cut short.
``play(target, out, seed)`` then plays one episode of a target with the saved model as a
frozen ``agents.base.Controller`` (``SB3Policy``: it reads the shared observation and plays
the joint action its policy picks greedily), as ``benchmarks.core.episodes.run_frozen`` plays a
saved controller. PPO and A2C act on the ``MultiDiscrete`` view (a head per agent), DQN on
the flat ``Discrete`` one.
"""
from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import envs
from agents import Controller
from agents.base import Observations, Transition
from envs.atomic import write_text_atomic
from training.core.callbacks import EpisodeResult, Recorder
from training.core.episode import run_episode

PREFIX = "sb3:"
ALGOS = {"PPO": False, "A2C": False, "DQN": True}
"""SB3 algorithms the joint view fits, and whether each needs the flat ``Discrete`` view."""


class TrainTasks(gymnasium.Env):
    """The joint view of a list of tasks: each reset draws one (uniformly, its own generator)
    and resets it with a seed that is a pure function of the episode's index."""

    def __init__(self, tasks: tuple[envs.Task, ...], flatten: bool, seed: int) -> None:
        self.sampler = envs.TaskSampler(tasks, seed)
        self.flatten, self.seed, self.episodes = flatten, seed, 0
        self._joints: dict[envs.Task, envs.JointActionEnv] = {}
        self.current = self._joint(tasks[0])
        self.action_space = self.current.action_space
        self.observation_space = self.current.observation_space

    def _joint(self, task: envs.Task) -> envs.JointActionEnv:
        if task not in self._joints:
            self._joints[task] = envs.make_joint(task, flatten=self.flatten)
        return self._joints[task]

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.current = self._joint(self.sampler.sample())
        episode_seed = np.random.SeedSequence([self.seed, self.episodes]).generate_state(1)[0]
        self.episodes += 1
        return self.current.reset(seed=int(episode_seed % 2**31), options=options)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.current.step(action)

    def close(self) -> None:
        for joint in self._joints.values():
            joint.close()


def train(algo: str, train_set: envs.TaskSet, episodes: int, out: Path,
          command: str = "") -> tuple[Path, str]:
    """Train SB3 ``algo`` (a key of ``ALGOS``) on ``train_set``'s train tasks for exactly
    ``episodes`` episodes (seed 0) into ``out``, unless ``out`` holds a finished model; the
    folder and a line on its compute."""
    if not (out / "summary.json").is_file():
        import stable_baselines3
        from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes
        tasks = train_set.train
        env = TrainTasks(tasks, ALGOS[algo], seed=0)
        steps = max(2, round(statistics.fmean(t.decisions for t in tasks)))  # ~one episode
        options = {"PPO": {"n_steps": steps, "batch_size": steps, "n_epochs": 4},
                   "A2C": {"n_steps": steps},
                   "DQN": {"learning_starts": steps, "buffer_size": 10_000}}[algo]
        # seed= also seeds SB3's global generators: call this in the CLI's own process,
        # before any runs (whose workers seed everything through reset(seed=...))
        model = getattr(stable_baselines3, algo)("MlpPolicy", env, seed=0, verbose=0,
                                                 device="cpu", **options)
        # SB3's default logger makes a folder in the temp dir per model; a bare one records only
        from stable_baselines3.common.logger import Logger
        model.set_logger(Logger(folder=None, output_formats=[]))
        stop, start = StopTrainingOnMaxEpisodes(episodes), time.perf_counter()
        model.learn(episodes * max(t.decisions for t in tasks), callback=stop)
        wall_s = time.perf_counter() - start
        env.close()
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / "model.zip")
        write_text_atomic(out / "summary.json", json.dumps({
            "algo": f"{PREFIX}{algo}", "task_set": train_set.name, "episodes": stop.n_episodes,
            "options": options, "wall_s": wall_s, "cpu_hours": wall_s / 3600,
            "command": command}, indent=2) + "\n")
    summary = json.loads((out / "summary.json").read_text())
    return out, (f"SB3 {algo} on the joint view, trained on {summary['task_set']}'s train tasks "
                 f"for {summary['episodes']} episodes, {summary['cpu_hours']:.2f} CPU-hours "
                 "(one process)")


@dataclass(frozen=True)
class _NoOptions:
    """An SB3 policy's settings live in its own ``model.zip``."""


class SB3Policy(Controller):
    """A trained SB3 model on the joint view, as a frozen controller: it reads the shared
    observation and plays the joint action its policy picks greedily."""

    name = "sb3-policy"
    config_class = _NoOptions

    def __init__(self, env: Any, model: Any, flatten: bool) -> None:
        super().__init__(env, _NoOptions())
        self.model, self.joint, self.training = model, envs.JointActionEnv(env, flatten), False

    @classmethod
    def from_run(cls, out: Path, env: Any) -> SB3Policy:
        """The model that ``train`` saved in ``out``, for ``env``."""
        algo = json.loads((out / "summary.json").read_text())["algo"].removeprefix(PREFIX)
        import stable_baselines3
        model = getattr(stable_baselines3, algo).load(out / "model.zip", device="cpu")
        return cls(env, model, ALGOS[algo])

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]:
        action, _ = self.model.predict(observations[self.agents[0]], deterministic=True)
        live = self.live(observations)
        return {a: int(v) for a, v in self.joint.decode(action).items() if a in live}

    def observe(self, transition: Transition) -> dict[str, float]:
        return {}

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        """Nothing beyond the model."""

    def _save_artifacts(self, directory: Path) -> None:
        """SB3 saves the model (``model.zip``)."""

    def load_artifacts(self, directory: Path) -> None:
        """SB3 loads the model (``from_run``)."""


def play(target: str | envs.Task, out: Path, seed: int) -> EpisodeResult:
    """One episode of ``target`` (an env id or a task) with the model saved in ``out``,
    frozen, on the env's shared reward (wall time: the env's build included)."""
    start = time.perf_counter()
    env = envs.make(target, agents=envs.COMPONENTS)
    recorder = Recorder()
    run_episode(env, SB3Policy.from_run(out, env), seed=seed, callbacks=[recorder], learn=False)
    result = recorder.episodes[0]
    result.wall_s = time.perf_counter() - start
    result.train_epochs = result.train_images / max(1, len(env.data.train))
    return result
