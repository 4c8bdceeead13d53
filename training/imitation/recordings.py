"""Several recordings of demonstrations as one: ``fit --demos runs/demos-long,runs/demos``.

Each recording (``training.imitate demos --out DIR``) was made on one task set, in that set's
observation version (``envs.observation.OBSERVATION_VERSIONS``: ``digits-v1`` in version 0,
``digits-long-v1`` in version 2). A learner sees one layout, so :func:`load_recordings`
writes every observation in the newest version among the recordings
(``envs.observation.upgrade_observation``):

* every entry an older vector has keeps its value; a choice its catalogue lacked
  (``last_opt=sf_adamw``, ``last_opt=prodigy``) reads 0, as it was never played;
* the budget features are computed from the recorded task's budget (its decisions, epochs per
  decision and training images: ``envs.config.run_budget``) and each decision's ``progress``;
* the augmentations' label effects read 0, the probe's "nothing measured yet".

Joint actions need no mapping: a ``classic`` choice keeps its index in ``tuning-free``, which
appends its two optimizers. The recordings' held-out tasks, each moved to the newest version's
env id (training is the same in every version, ``envs.Task.version``), make one
:class:`envs.TaskSet` whose held-out mean selects the learner: the combined held-out of both
sets.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import envs
from envs.config import run_budget
from envs.errors import ConfigError
from envs.observation import RunBudget, observation_version, upgrade_observation
from training.imitation.demonstrations import DemoEpisode, load


@dataclass(frozen=True)
class Recordings:
    """One or more recordings, their observations in one version."""

    settings: tuple[dict[str, Any], ...]
    """Each recording's settings (its expert, task set and observation mode), in order."""
    episodes: list[DemoEpisode]
    """Every episode, recording by recording, observations written in ``version``."""
    version: int
    """The observation version of every observation in ``episodes``: the newest recorded."""
    task_set: envs.TaskSet
    """The recordings' task set, or one joining theirs (train and held-out tasks concatenated,
    newest version first, each task on the env id of ``version``)."""

    newest: int = 0
    """The index of the first recording in ``version`` (the fit's expert for DAgger, its
    probe env)."""

    @property
    def newest_settings(self) -> dict[str, Any]:
        return self.settings[self.newest]


def split_paths(demos: str | Sequence[str], flag: str = "--demos") -> tuple[str, ...]:
    """``a,b`` (or a sequence) as paths, for ``flag`` (``--demos``: recordings; ``--panel``:
    calibration csvs); empty entries and one named twice are refused."""
    paths = tuple(p.strip() for p in demos.split(",")) if isinstance(demos, str) else tuple(demos)
    example = {"--demos": "demonstrations' folders, comma-separated, e.g. "
                          "runs/demos-long,runs/demos",
               "--panel": "calibration csvs, comma-separated, e.g. "
                          "benchmarks/results/task_sets_digits_long_v1.csv"}[flag]
    if not paths or not all(paths):
        raise ConfigError(f"{flag} {demos!r}: give one or more {example}")
    if len(set(paths)) != len(paths):
        what = "recording" if flag == "--demos" else "file"
        raise ConfigError(f"{flag} {demos!r} names a {what} twice: give each once")
    return paths


def task_set_version(task_set: envs.TaskSet) -> int:
    """The observation version a task set's tasks are played in (all of them alike)."""
    versions = {_task_version(t) for t in (*task_set.train, *task_set.heldout)}
    if len(versions) != 1:
        raise ConfigError(f"task set {task_set.name!r} mixes observation versions "
                          f"{sorted(versions)}: its demonstrations have no single layout")
    return versions.pop()


def _task_version(task: envs.Task) -> int:
    config = envs.make_config(task)
    return observation_version(config.catalogue, config.context_features)


def task_budget(task: envs.Task) -> RunBudget:
    """The budget a task's run has, as the context features read it."""
    config = envs.make_config(task)
    return run_budget(config, _train_images(task, config))


def _train_images(task: envs.Task, config: Any) -> int:
    """The training images a run of ``task`` (built as ``config``) trains on."""
    images = task.generator.n_train
    return images if config.max_train_images is None else min(images, config.max_train_images)


def load_recordings(demos: str | Sequence[str]) -> Recordings:
    """Every recording in ``demos`` (``a,b``), observations in the newest version among them;
    recordings of different observation modes, or of the same task set twice, are refused."""
    paths = split_paths(demos)
    loaded = [load(p) for p in paths]
    settings = tuple(dict(s) for s, _ in loaded)
    modes = {s["observation"] for s in settings}
    if len(modes) > 1:
        raise ConfigError(f"--demos {','.join(paths)}: the recordings use observation modes "
                          f"{sorted(modes)}; a learner needs one: record them with the same "
                          "--observation")
    names = [s["task_set"] for s in settings]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"--demos {','.join(paths)}: two recordings of task set {twice!r}; join "
                          "recordings of different task sets (resume one recording to add "
                          "seeds)")
    sets = [envs.task_set(n) for n in names]
    versions = [task_set_version(ts) for ts in sets]
    version = max(versions)
    episodes: list[DemoEpisode] = []
    for (_, recorded), task_set, recorded_version in zip(loaded, sets, versions):
        episodes += [_upgraded(e, task_set, recorded_version, version) for e in recorded]
    order = sorted(range(len(sets)), key=lambda i: -versions[i])  # newest first
    joined = (sets[0] if len(sets) == 1 else envs.TaskSet(
        name="+".join(sets[i].name for i in order),
        train=_unique(_in_version(t, version) for i in order for t in sets[i].train),
        heldout=_unique(_in_version(t, version) for i in order for t in sets[i].heldout),
        description="the train and held-out tasks of " + ", ".join(sets[i].name for i in order)))
    return Recordings(settings, episodes, version, joined, versions.index(version))


def _unique(tasks: Iterable[envs.Task]) -> tuple[envs.Task, ...]:
    """``tasks`` in order, a task two sets share once."""
    return tuple(dict.fromkeys(tasks))


def _in_version(task: envs.Task, version: int) -> envs.Task:
    """``task`` on the env id whose observation has ``version`` (its own when it has)."""
    if _task_version(task) == version:
        return task
    moved = dataclasses.replace(task, version=version)
    if _task_version(moved) != version:  # an env-id version whose observation differs
        raise ConfigError(f"task {task.name} has no env id in observation version {version}")
    return moved


def _upgraded(episode: DemoEpisode, task_set: envs.TaskSet, version: int, to_version: int
              ) -> DemoEpisode:
    if version == to_version:
        return episode
    task = next((t for t in task_set.train if t.name == episode.task), None)
    if task is None:
        raise ConfigError(f"demonstration of task {episode.task}, not a train task of "
                          f"{task_set.name}: was the recording made with another version of "
                          "the task set? Record it again")
    config = envs.make_config(task)
    history, budget = config.history, run_budget(config, _train_images(task, config))
    observations = [upgrade_observation(o, history, version, budget, to_version).tolist()
                    for o in episode.observations]
    return dataclasses.replace(episode, observations=observations)

