"""Real training-control transitions, collected and exported as a Minari dataset.

    python -m benchmarks.dataset collect --task-set digits-v1 [--splits train,heldout]
        [--seeds 1] [--behaviours ...] [--workers 2] [--store PATH] [--resume]
    python -m benchmarks.dataset export [--store PATH] [--dataset-id mlic/digits-v1-mixed-v1]
        [--behaviours ...] [--root DIR]

``collect`` plays behaviour policies on every task of the chosen splits, each episode
recorded in full by ``training.core.transitions.TransitionRecorder`` (observation, joint
action, reward, flags, val mAP after each decision, final test mAP) into a run store
(``--resume`` reuses the episodes it holds). The observation is ``relative`` (scale-free
across tasks, what the recommended zoo controller sees). The default behaviours mix
exploration and competence, so that the data covers what the leaderboard's methods do:

* ``static:<recipe>``: each of the 8 panel recipes held fixed (the default and the SBS among
  them);
* ``random``, ``bandit``, ``mat-dqn``: built-in controllers learning online in the episode;
* ``zoo:bc-digits-v1``: the recommended zoo controller, frozen;
* ``expert``: the rollout expert as ``benchmarks.headroom`` plays it (from the default
  recipe, 4 sampled one-component changes per decision besides the incumbent, each held to
  the end). Its played episode is stored, and so is every candidate's fork
  (``training.core.transitions.ForkRecorder``): the search's own real transitions, each fork
  an episode that starts at the decision it was forked at.

``export`` writes every stored episode as a Minari dataset of the joint Gymnasium view
(``envs.make_joint``: a ``MultiDiscrete`` action, one catalogue index per agent in the order
``aug, opt, lrs, loss``), with per-step infos ``val_mAP``, ``decision`` (decisions made
before the observation) and ``task`` (an index into the dataset's task list) and
per-episode ``test_mAP``; the description holds the task list, the behaviours (a fork's is
``expert-fork``), the generator version and the commands. Each episode's ``seed`` is its
run's; a fork's first observation is the state it was forked at. ``minari.load_dataset(ID)``
loads it (``MINARI_DATASETS_PATH`` or ``--root`` says where). It needs the ``minari`` extra.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import envs
from training.core import cli
from agents import make_controller
from agents.rollout import rollout_options
from benchmarks.core.episodes import (ControllerSpec, check_frozen, run_controller, run_frozen,
                                      run_recipe)
from benchmarks.expert.headroom import HeadroomConfig
from benchmarks.core.reporting import command_line
from benchmarks.expert.static_recipes import RECIPES
from benchmarks.expert.task_sets import warm_up
from envs.engine.data.digits import GENERATOR_VERSION
from envs.errors import DependencyNotInstalledError
from envs.surrogate.model import CATALOGUE
from training.core.episode import run_episode
from training.core import jsonl
from training.core.jsonl import DATASET
from training.core.run_store import RunStore, play_stored
from training.core.transitions import EpisodeTransitions, ForkRecorder, TransitionRecorder

STORE = Path(__file__).resolve().parents[1] / "results" / "runs" / "transitions-digits-v1.jsonl"
OBSERVATION = "relative"
ONLINE = ("random", "bandit", "mat-dqn")
EXPERT = "expert"
EXPERT_CANDIDATES = HeadroomConfig.candidates
"""The expert's sampled one-component changes per decision: benchmarks.headroom's."""
PUBLISHED_PANEL: tuple[str, ...] = (
    "default (ASL paper)", "crop+adamw+cosine+asl", "randaug+adamw+one_cycle+asl",
    "none+adam+cosine+bce", "cutmix+sgd+cosine+focal", "none+sgd+constant+bce",
    "mixup+rmsprop+step+cb_bce", "color_jitter+rmsprop+constant+ls_bce")
"""The static panel when the datasets were published (8 recipes of the ``classic`` catalogue,
whose joint action they encode): their behaviours stay fixed as the panel grows, so that
``export --dataset-id`` rebuilds each published id from the same episodes."""
MIXED: tuple[str, ...] = (*(f"static:{name}" for name in PUBLISHED_PANEL), *ONLINE,
                          "zoo:bc-digits-v1")
BEHAVIOURS: tuple[str, ...] = (*MIXED, EXPERT)
DATASET_ID = "mlic/digits-v1-mixed-v1"
"""The default export: every stored behaviour, the expert and its forks included."""
DATASETS: dict[str, tuple[str, ...]] = {"mlic/digits-v1-mixed-v0": MIXED,
                                        DATASET_ID: BEHAVIOURS}
"""The published ids and the behaviours each holds (v0, without the expert, is what the
bundled surrogate was fitted on)."""
SPLITS = ("train", "heldout")


@dataclass
class Episode(EpisodeTransitions):
    """A stored episode: where and how it was played, then its transitions."""

    task: str = ""
    label: str = ""
    """``split:index`` (1-based) in the task set."""
    behaviour: str = ""
    seed: int = 0
    forks: list[dict[str, Any]] = field(default_factory=list)
    """The expert's candidate forks (``EpisodeTransitions`` as dicts), in the order played."""

    def fork_episodes(self) -> list[Episode]:
        """Every fork as an episode of its own (behaviour ``expert-fork``)."""
        return [Episode(**fork, task=self.task, label=self.label,
                        behaviour=f"{self.behaviour}-fork", seed=self.seed)
                for fork in self.forks]


Play = Callable[[envs.Task, str, int, TransitionRecorder], list[dict[str, Any]]]
"""How a behaviour plays one recorded episode: on the task, as the behaviour named, with the
seed, into the recorder; it returns the forks it recorded besides (the expert's candidates;
none for the others)."""


@dataclass(frozen=True)
class Behaviour:
    """How ``collect`` checks and plays a kind of behaviour."""

    play: Play
    accepts: Callable[[str], bool] = lambda argument: True
    """Whether the argument of ``<kind>:<argument>`` names one (a panel recipe, a run folder)."""
    source: Callable[[str], str | Path] | None = None
    """The saved controller a behaviour of this kind plays frozen, from its name (loaded first,
    in the parent: ``check_controllers``)."""


def _argument(behaviour: str) -> str:
    """What follows ``<kind>:``."""
    return behaviour.partition(":")[2]


def _static(task: envs.Task, behaviour: str, seed: int,
            recorder: TransitionRecorder) -> list[dict[str, Any]]:
    run_recipe(task, RECIPES[_argument(behaviour)], seed, {"observation": OBSERVATION},
               callbacks=[recorder])
    return []


def _online(task: envs.Task, behaviour: str, seed: int,
            recorder: TransitionRecorder) -> list[dict[str, Any]]:
    run_controller(task, ControllerSpec(behaviour), seed, {"observation": OBSERVATION},
                   callbacks=[recorder])
    return []


def _expert(task: envs.Task, behaviour: str, seed: int,
            recorder: TransitionRecorder) -> list[dict[str, Any]]:
    """The rollout expert's episode, its candidate forks recorded as well."""
    env = envs.make(task, observation=OBSERVATION, agents=envs.COMPONENTS)
    controller = make_controller("rollout", env, seed=seed, **rollout_options(
        envs.DEFAULT_RECIPE, candidates=EXPERT_CANDIDATES, horizon=0))
    controller.scorer = forks = ForkRecorder()
    run_episode(env, controller, seed=seed, callbacks=[recorder])
    return [asdict(f) for f in forks.forks]


def _frozen(task: envs.Task, behaviour: str, seed: int,
            recorder: TransitionRecorder) -> list[dict[str, Any]]:
    # a saved controller brings its own env settings; they must match the dataset's
    run_frozen(task, frozen_source(behaviour), seed, callbacks=[recorder])
    return []


NAMED: dict[str, Behaviour] = {**{algo: Behaviour(_online) for algo in ONLINE},
                               EXPERT: Behaviour(_expert)}
"""The behaviours named in full: the built-in controllers learning online, the rollout expert."""
KINDS: dict[str, Behaviour] = {
    "static": Behaviour(_static, accepts=lambda recipe: recipe in RECIPES),
    "zoo": Behaviour(_frozen, accepts=bool, source=lambda behaviour: behaviour),
    "run": Behaviour(_frozen, accepts=lambda folder: Path(folder, "best").is_dir(),
                     source=lambda behaviour: Path(_argument(behaviour)) / "best"),
}
"""The behaviours ``<kind>:<argument>``: a panel recipe held fixed (``static:<recipe>``), a
saved controller played frozen (``zoo:<name>``, ``run:<dir>``: its ``best/``)."""


def _behaviour(name: str) -> Behaviour:
    """The kind of behaviour ``name`` is; a ValueError naming the forms if ``collect`` cannot
    play it."""
    kind, _, argument = name.partition(":")
    if name in NAMED:
        return NAMED[name]
    if kind in KINDS and KINDS[kind].accepts(argument):
        return KINDS[kind]
    raise ValueError(f"unknown behaviour {name!r}: use static:<panel recipe> "
                     f"({', '.join(RECIPES)}), one of {', '.join((*ONLINE, EXPERT))}, "
                     "zoo:<name>, or "
                     "run:<dir> (a meta-training or imitation run with a best/ controller)")


def check_behaviour(name: str) -> str:
    """``name`` if it is a behaviour ``collect`` can play, else a ValueError naming the forms."""
    _behaviour(name)
    return name


def frozen_source(behaviour: str) -> str | Path | None:
    """The saved controller a ``zoo:<name>`` or ``run:<dir>`` behaviour plays (None for the
    others)."""
    kind = behaviour.partition(":")[0]
    source = KINDS[kind].source if kind in KINDS else None
    return source(behaviour) if source is not None else None


def check_controllers(behaviours: Sequence[str], tasks: Sequence[envs.Task]) -> None:
    """Load, on every task's spaces, a throwaway of each saved controller the behaviours play
    (``benchmarks.core.episodes.check_frozen``), so that an unknown zoo name or a run folder with no
    saved controller fails here, in the parent, before any episode; the project error of
    ``agents`` or ``envs`` otherwise (``cli.command`` reports it)."""
    for behaviour in behaviours:
        source = frozen_source(behaviour)
        if source is not None:
            for task in {task.name: task for task in tasks}.values():
                check_frozen(task, source)


def play(job: tuple[str, str, envs.Task, str, int]) -> Episode:
    """One recorded episode (in a worker process, one torch thread)."""
    label, split, task, behaviour, seed = job
    recorder = TransitionRecorder()
    forks = _behaviour(behaviour).play(task, behaviour, seed, recorder)
    return Episode(**asdict(recorder.episodes[0]), task=task.name, label=label,
                   behaviour=behaviour, seed=seed, forks=forks)


def tasks_of(task_set: envs.TaskSet, splits: Sequence[str]) -> list[tuple[str, str, envs.Task]]:
    """``(label, split, task)`` for every task of the splits, labels ``split:index`` (1-based)."""
    return [(f"{split}:{i}", split, task) for split in splits
            for i, task in enumerate(getattr(task_set, split), 1)]


def open_store(path: Path, task_set: str, resume: bool) -> RunStore:
    return RunStore(path, {"task_set": task_set, "observation": OBSERVATION}, resume, DATASET)


def collect(task_set: str, splits: Sequence[str], behaviours: Sequence[str], seeds: int,
            workers: int, store_path: Path, resume: bool, progress: bool = True) -> list[Episode]:
    """Play and store every (task, behaviour, seed) episode; returns them in job order. The
    saved controllers the behaviours play are loaded first (:func:`check_controllers`)."""
    ts = envs.task_set(task_set)
    tasks = tasks_of(ts, splits)
    check_controllers(behaviours, [task for _, _, task in tasks])
    store = open_store(store_path, ts.name, resume)
    jobs = [(label, split, task, b, s) for label, split, task in tasks
            for b in behaviours for s in range(seeds)]
    with tqdm(total=len(jobs), unit="episode", desc="collect", disable=not progress) as bar:
        return play_stored(jobs, play, lambda j: (f"{j[0]}|{j[3]}", j[4]), Episode, store,
                           workers, bar, warm_up)


def stored_episodes(store_path: Path) -> tuple[dict[str, Any], list[Episode]]:
    """A ``collect`` store's settings (its task set, ...) and every episode, in the order
    stored. A missing file raises ``envs.ConfigError``, one that is not a collection store
    (empty, binary, another kind) ``jsonl.StoreFormatError``."""
    if not store_path.is_file():
        raise envs.ConfigError(f"--store {store_path} is missing: run python -m "
                               "benchmarks.dataset collect first (or pass --store PATH, the "
                               "store it wrote)")
    names = {f.name for f in fields(Episode)}
    store = jsonl.read(store_path, DATASET)
    return store.settings, [Episode(**{k: v for k, v in result.items() if k in names})
                            for result in store.results]


def require_minari() -> Any:
    try:
        import minari
    except ImportError as error:  # pragma: no cover - the extra is part of make setup
        raise DependencyNotInstalledError(
            f"the Minari export needs the minari extra ({error}): pip install -c "
            "constraints.txt -e '.[minari]'") from error
    return minari


def check_dataset_id(dataset_id: str) -> str:
    """``dataset_id`` if Minari can create a dataset of that id, else ``envs.ConfigError``
    naming the form. Checked before Minari runs: it makes the dataset's folder before it parses
    the id, and the folder a bad id leaves in its root breaks every later export there."""
    from minari.dataset.minari_dataset import parse_dataset_id
    try:
        parse_dataset_id(dataset_id)  # a TypeError: no version, which Minari needs here
    except (ValueError, TypeError):
        raise envs.ConfigError(
            f"--dataset-id {dataset_id!r} is not a Minari dataset id: use "
            f"[namespace/]name-v<version> (letters, digits, '-' and '_'), e.g. "
            f"{DATASET_ID}") from None
    return dataset_id


def export(episodes: Sequence[Episode], dataset_id: str, task_set: str, command: str = "") -> Any:
    """A Minari dataset of ``episodes`` (see the module docstring); an existing dataset of the
    same id is replaced."""
    minari = require_minari()
    check_dataset_id(dataset_id)
    from gymnasium import spaces
    from minari.data_collector.episode_buffer import EpisodeBuffer
    if not episodes:
        raise ValueError("no episodes to export: collect some first")
    episodes = [each for e in episodes for each in (e, *e.fork_episodes())]
    tasks = sorted({e.task for e in episodes})
    choices = envs.catalogue(CATALOGUE)
    nvec = np.array([len(choices[a]) for a in episodes[0].agents], dtype=np.int64)
    dim = len(episodes[0].observations[0])
    buffers = []
    for i, e in enumerate(episodes):
        # per-step infos as (T + 1, 1) columns: Minari's arrow storage cannot read scalars back
        index = np.full((e.steps + 1, 1), tasks.index(e.task), dtype=np.int64)
        test = np.full((e.steps + 1, 1), np.nan if e.test_mAP is None else e.test_mAP)
        decision = np.arange(e.start, e.start + e.steps + 1, dtype=np.int64)[:, None]
        buffers.append(EpisodeBuffer(
            id=i, seed=e.seed,
            observations=[np.asarray(o, dtype=np.float32) for o in e.observations],
            actions=[np.asarray(a, dtype=np.int64) for a in e.actions], rewards=list(e.rewards),
            terminations=list(e.terminations), truncations=list(e.truncations),
            infos={"val_mAP": np.asarray(e.val_mAP, dtype=np.float64)[:, None], "task": index,
                   "test_mAP": test, "decision": decision}))
    description = json.dumps({
        "what": "real transitions of MLIC training control (the joint view of envs.make_joint, "
                "relative observation); infos: val_mAP (at the episode's first observation, "
                "then after each decision), task (index into tasks), test_mAP (the "
                "episode's final), decision (decisions made before the observation; an "
                "expert-fork episode starts at the decision it was forked at)",
        "task_set": task_set, "tasks": tasks,
        "splits": {e.task: e.label.split(":")[0] for e in episodes},
        "behaviours": sorted({e.behaviour for e in episodes}),
        "agents": episodes[0].agents, "generator_version": GENERATOR_VERSION,
        "catalogue": CATALOGUE,
        "command": command})
    if dataset_id in minari.list_local_datasets():
        minari.delete_dataset(dataset_id)
    with warnings.catch_warnings():  # no Gymnasium env id, e-mail or URL to give: say nothing
        warnings.filterwarnings("ignore", category=UserWarning,
                                message=".*(author_email|eval_env|env_spec|code_permalink)`? is")
        return minari.create_dataset_from_buffers(
            dataset_id, buffers, observation_space=spaces.Box(-1.0, 1.0, (dim,), np.float32),
            action_space=spaces.MultiDiscrete(nvec), algorithm_name="mixed behaviours: "
            + ", ".join(sorted({e.behaviour for e in episodes})), author="mlic-marl",
            description=description, data_format="arrow")


def dataset_size(dataset: Any) -> tuple[int, int, int]:
    """(episodes, transitions, bytes on disk) of a Minari dataset."""
    root = Path(dataset.spec.data_path)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return dataset.total_episodes, dataset.total_steps, size


def parser() -> argparse.ArgumentParser:
    """The command line: ``collect`` and ``export``."""
    collect_example = "python -m benchmarks.dataset collect --task-set digits-v1 --seeds 3 " \
                      "--workers 2"
    export_example = "python -m benchmarks.dataset export --dataset-id mlic/digits-v1-mixed-v0"
    p = cli.parser("benchmarks.dataset", __doc__,
                   example=f"{collect_example}\n{export_example}")
    sub = p.add_subparsers(dest="command", required=True, title="commands",
                           help="what to do (each has its own --help)")
    c = cli.subcommand(sub, "collect", "play behaviours on the task set and store every step",
                       collect_example, description=(
                           "Play behaviour policies on every task of the chosen splits, each "
                           "episode recorded in full (observation, joint action, reward, val mAP "
                           "after each decision, final test mAP) into a run store; the "
                           "observation is relative."))
    c_what = c.add_argument_group("what to play")
    c_compute = c.add_argument_group("compute")
    c_output = c.add_argument_group("output")
    c_what.add_argument("--task-set", default="digits-v1",
                        help="the task set whose tasks are played (envs.list_task_sets())")
    c_what.add_argument("--splits", default="train,heldout",
                        help=f"comma-separated of {', '.join(SPLITS)}")
    c_what.add_argument("--behaviours", default=",".join(BEHAVIOURS),
                        help="comma-separated: static:<panel recipe>, random, bandit, mat-dqn, "
                             "expert (with its forks), zoo:<name>, run:<dir>; default: the 8 "
                             "published panel recipes, random, bandit, mat-dqn, "
                             "zoo:bc-digits-v1 and expert")
    c_what.add_argument("--seeds", type=cli.positive_int, default=1,
                        help="episodes per task and behaviour (seeds 0..N-1)")
    c_compute.add_argument("--workers", type=cli.positive_int, default=2,
                           help="episodes side by side, 1 thread each")
    c_output.add_argument("--store", type=Path, default=STORE,
                          help="the run store (.jsonl) the episodes go to")
    c_output.add_argument("--resume", action="store_true",
                          help="reuse the episodes already in --store and play only the rest")
    c_output.add_argument("--no-progress", dest="progress", action="store_false",
                          help="no progress bar")
    e = cli.subcommand(sub, "export", "write the stored episodes as a Minari dataset",
                       export_example, description=(
                           "Write the stored episodes as a Minari dataset of the joint Gymnasium "
                           "view (envs.make_joint); minari.load_dataset(ID) loads it. Needs the "
                           "minari extra."))
    e_what = e.add_argument_group("what to export")
    e_output = e.add_argument_group("output")
    e_what.add_argument("--store", type=Path, default=STORE,
                        help="the run store that collect wrote")
    e_output.add_argument("--dataset-id", default=DATASET_ID,
                          help="the Minari dataset id, [namespace/]name-v<version>")
    e_what.add_argument("--behaviours", default=None,
                        help="comma-separated stored behaviours to export (an expert's forks "
                             "come with it); default: those of a published id "
                             f"({', '.join(DATASETS)}), else all")
    e_output.add_argument("--root", type=Path, default=None,
                          help="where Minari keeps datasets (default: MINARI_DATASETS_PATH or "
                               "~/.minari)")
    return p


@cli.command
def main(argv: Sequence[str] | None = None) -> Any:
    p = parser()
    args = p.parse_args(argv)
    argv_list = list(argv) if argv is not None else sys.argv[1:]
    if args.command == "collect":
        splits = [s for s in args.splits.split(",") if s]
        if not splits or set(splits) - set(SPLITS):
            p.error(f"--splits {args.splits!r}: use a comma-separated subset of {SPLITS}")
        try:
            behaviours = [check_behaviour(b) for b in args.behaviours.split(",") if b]
            envs.task_set(args.task_set)
        except (ValueError, envs.MLICError) as error:
            p.error(str(error))
        episodes = collect(args.task_set, splits, behaviours, args.seeds, args.workers,
                           args.store, args.resume, args.progress)
        steps = sum(ep.steps for ep in episodes)
        print(f"collected {len(episodes)} episodes, {steps} transitions -> {args.store}")
        return episodes
    require_minari()
    try:
        check_dataset_id(args.dataset_id)
    except envs.ConfigError as error:
        p.error(str(error))
    if args.root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(args.root.resolve())
    settings, episodes = stored_episodes(args.store)  # its errors: cli.command reports them
    wanted = (args.behaviours.split(",") if args.behaviours is not None
              else DATASETS.get(args.dataset_id))
    if wanted is not None:
        missing = sorted(set(wanted) - {e.behaviour for e in episodes})
        if missing:
            p.error(f"--behaviours: {', '.join(missing)} not in {args.store}; collect them "
                    f"first (python -m benchmarks.dataset collect --behaviours "
                    f"{','.join(missing)} --resume)")
        episodes = [e for e in episodes if e.behaviour in wanted]
    dataset = export(episodes, args.dataset_id, settings["task_set"],
                     command_line("benchmarks.dataset", argv_list))
    n_episodes, n_steps, size = dataset_size(dataset)
    print(f"wrote Minari dataset {args.dataset_id}: {n_episodes} episodes, {n_steps} "
          f"transitions, {size / 2**20:.2f} MiB at {dataset.spec.data_path}")
    return dataset
