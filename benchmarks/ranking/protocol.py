"""The protocol: one command that puts any controller on the leaderboard, under fixed rules.

    python -m benchmarks.protocol --algo SPEC --task-set digits-v1 [--seeds 5]
        [--targets heldout,mnist,default] [--workers 2] [--meta-episodes N] [--resume]
        [--no-progress] [--quick]
    python -m benchmarks.protocol --leaderboard --task-set digits-v1 [--from STORE ...]

SPEC is ``static`` (the env's default recipe held fixed), ``sbs`` (the panel-best static
recipe, chosen on the train split from the task set's calibration csv), ``recipe:NAME``
(any static recipe ``aug+opt+lrs+loss`` held fixed, e.g. a tuning-free optimizer's,
``recipe:crop+sf_adamw+constant+asl``: chosen in advance, not per target), a registered
algorithm (``random``, ``bandit``, ``mat-dqn``, ...: online, learning within each run; with
``--meta-episodes N`` meta-trained on the train split for exactly N episodes first, by
``training.meta_train``, then frozen), ``zoo:NAME`` or ``run:DIR`` (frozen, as in
``benchmarks.zero_shot``), ``module.path:ClassName`` (your ``agents.base.Controller``
subclass: the registry builds it, and it plays online as a registered algorithm does) or
``sb3:PPO`` / ``sb3:A2C`` / ``sb3:DQN`` (an SB3 model on the joint Gymnasium view, trained on
the train tasks for ``--meta-episodes`` episodes, then frozen: ``benchmarks.ranking.sb3_joint``).

The rules: every method gets one episode per target and seed (the task set's held-out
tasks, mlic-mnist-v0 at task size, the full default task: ``benchmarks.ranking.targets``),
so its deployment compute is 1x; the SBS runs of the same targets and seeds are played too,
once: every method shares them. Runs go to one store per task set,
``benchmarks/results/runs/protocol-<task set>.jsonl``, keyed as the zero-shot stores are;
``--resume`` reuses the method's stored runs (the SBS's are always reused). Meta-training
runs live under ``runs/protocol/`` and continue from their checkpoint. Each method's kind,
compute and command go beside the store (``protocol-<task set>.methods.json``). Then the
leaderboard (``benchmarks.ranking.leaderboard``) is written again from the store.

The normalised score's 1 (the rollout expert) and the anchor rows come from
``benchmarks.headroom``: ``--headroom`` takes its run store (``runs/headroom-*.jsonl``) or
the result csv it writes beside its report; the default is the committed csv of the task set
(``benchmarks/results/headroom.csv`` for digits-v1, ``headroom_digits_v0.csv`` for
digits-v0, ``headroom_<task set>.csv`` otherwise), so a fresh clone, without the gitignored
stores, needs no hour of headroom runs first.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import difflib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import agents
import envs
from agents import ALGORITHMS, UnknownAlgorithmError, zoo
from agents.errors import AgentsError
from benchmarks.core.common import machine_description
from benchmarks.core.episodes import (ControllerSpec, check_frozen, check_online, run_controller,
                                      run_frozen, run_recipe)
from benchmarks.core.reporting import command_line
from benchmarks.expert.static_recipes import RECIPES
from benchmarks.expert.task_sets import warm_up
from benchmarks.ranking import leaderboard, normalised, sb3_joint
from benchmarks.ranking.leaderboard import ONE_RUN, MethodInfo
from benchmarks.ranking.targets import TARGET_KINDS, targets
from benchmarks.ranking.vbs import VBS_STORES, read_vbs
from benchmarks.ranking.zero_shot import (DEFAULT, PANEL_BEST, RUN_PREFIX, Run, panel_best,
                                          training_line)
from envs.atomic import write_text_atomic
from envs.errors import ConfigError, MLICError
from training.core import cli
from training.core.cli import non_negative_int, positive_int
from training.core.jsonl import PROTOCOL
from training.core.run_store import RunStore, SweepResumeError, play_stored

RESULTS = Path(__file__).resolve().parents[1] / "results"
CALIBRATIONS = {"digits-v0": RESULTS / "task_sets.csv",
                "digits-v1": RESULTS / "task_sets_digits_v1.csv"}
HEADROOMS = {"digits-v0": RESULTS / "headroom_digits_v0.csv",
             "digits-v1": RESULTS / "headroom.csv"}
"""The committed ``benchmarks.headroom`` result csv of each task set (``--headroom``'s
default; ``headroom_<task set>.csv`` for the others)."""
HEADROOM_SUFFIXES = (".jsonl", ".csv")
RECIPE_PREFIX = "recipe:"
"""``--algo recipe:aug+opt+lrs+loss``: one static recipe held fixed on every target."""


@dataclass(frozen=True)
class ProtocolConfig:
    """One invocation, with the task set's default paths filled in (``from_args``)."""

    algo: str = ""
    """SPEC: ``static``, ``sbs``, a registered algorithm, ``zoo:NAME``, ``run:DIR``,
    ``module.path:ClassName`` or ``sb3:PPO|A2C|DQN``."""
    task_set: str = "digits-v1"
    """Targets: its held-out tasks; meta-training: its train split."""
    seeds: int = 5
    """Runs per method and target, on seeds 0 .. seeds-1."""
    targets: tuple[str, ...] = TARGET_KINDS
    """Target kinds (``heldout``, ``mnist``, ``default``)."""
    workers: int = 2
    """Runs side by side, one torch thread each."""
    meta_episodes: int = 0
    """Training budget on the train split, in episodes (0: a registered algorithm plays
    online)."""
    meta_workers: int = 1
    """Rollout workers of ``training.meta_train`` (the seed and this fix its result)."""
    meta_out: Path = Path("runs/protocol")
    """Folder of the meta-training (and SB3) runs."""
    calibration: Path = CALIBRATIONS["digits-v1"]
    """The task set's calibration csv (``benchmarks.task_sets``): the SBS comes from it."""
    headroom: Path = HEADROOMS["digits-v1"]
    """The ``benchmarks.headroom`` store (.jsonl) or result csv (.csv): the expert (the
    normalised score's 1), anchors."""
    out: Path = RESULTS / "leaderboard.md"
    """The leaderboard (its performance profile beside it)."""
    store: Path = RESULTS / "runs" / "protocol-digits-v1.jsonl"
    """The run store every method of the task set shares."""
    extra: tuple[Path, ...] = ()
    """Zero-shot stores whose rows join the leaderboard (``--from``)."""
    vbs: tuple[Path, ...] = ()
    """``benchmarks.headroom`` stores whose panels give each target's VBS row (``--vbs``)."""
    reps: int = 5000
    """Bootstrap resamples of every interval."""
    resume: bool = False
    """Reuse the method's stored runs (without it they are played again)."""
    quick: bool = False
    """Tiny targets and train tasks, for tests."""
    progress: bool = True
    """Progress bars (runs, meta-training)."""
    command: str = ""
    """The command line, recorded beside the runs it makes."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, command: str) -> ProtocolConfig:
        slug, quick = args.task_set.replace("-", "_"), "_quick" if args.quick else ""
        out = args.out or RESULTS / (f"leaderboard{quick}.md" if args.task_set == "digits-v1"
                                     else f"leaderboard_{slug}{quick}.md")
        return cls(
            algo=args.algo or "", task_set=args.task_set, seeds=args.seeds,
            targets=tuple(k for k in args.targets.split(",") if k), workers=args.workers,
            meta_episodes=args.meta_episodes, meta_workers=args.meta_workers,
            meta_out=args.meta_out, calibration=args.calibration or CALIBRATIONS.get(
                args.task_set, RESULTS / f"task_sets_{slug}.csv"),
            headroom=args.headroom or HEADROOMS.get(args.task_set,
                                                    RESULTS / f"headroom_{slug}.csv"),
            out=out, store=args.store or out.parent / "runs" / (
                f"protocol-{args.task_set}{'-quick' if args.quick else ''}.jsonl"),
            extra=tuple(args.extra), reps=args.reps or (200 if args.quick else 5000),
            vbs=tuple(args.vbs if args.vbs is not None else
                      () if args.quick else VBS_STORES.get(args.task_set, ())),
            resume=args.resume, quick=args.quick, progress=args.progress, command=command)


class SpecError(ConfigError):
    """``--algo`` names nothing the protocol can run."""


@dataclass(frozen=True)
class Method:
    """A resolved ``--algo``: what its runs are stored as and how one is played."""

    label: str
    """The method name in the store (zero-shot's names for the static recipes)."""
    play: str
    """``recipe``, ``online``, ``frozen`` or ``sb3``."""
    source: Any
    """The recipe, algorithm (or ``module:Class``), controller folder / ``zoo:<name>``, SB3
    run folder."""
    info: MethodInfo


@dataclass(frozen=True)
class Job:
    """One method on one target and seed (played in a worker process)."""

    label: str
    target: str | envs.Task
    method: str
    play: str
    source: Any
    seed: int

    def key(self) -> tuple[str, int]:
        """The zero-shot stores' key: ``(f"{target label}|{method}", seed)``."""
        return f"{self.label}|{self.method}", self.seed


# ------------------------------------------------------------------ --algo
@dataclass(frozen=True)
class FixedMethod:
    """A method ``--algo`` names with a fixed name: one recipe held fixed on every target,
    chosen before any target is seen."""

    label: str
    """Its name in the store (zero-shot's names for the static recipes)."""
    recipe: Callable[[str], envs.Recipe]
    """The recipe it holds, given the SBS (the calibration's panel-best recipe, by name)."""
    kind: str
    """Its kind on the leaderboard."""
    meta_training: Callable[[ProtocolConfig], str]
    """What choosing its recipe cost (the leaderboard's meta-training compute)."""


SBS = "sbs"
"""The fixed method whose runs every protocol run plays too (every method shares them)."""
FIXED: dict[str, FixedMethod] = {
    "static": FixedMethod(DEFAULT, lambda best: envs.DEFAULT_RECIPE, "static",
                          lambda config: "none"),
    SBS: FixedMethod(PANEL_BEST, lambda best: RECIPES[best], "static (chosen on the train split)",
                     lambda config: panel_line(config.calibration)),
}
"""The fixed names of ``--algo``: ``static`` (the env's default recipe) and ``sbs`` (the
panel-best static recipe). They name the protocol's own rows and come before the registry's
names (whose ``static``, ``agents.StaticController``, is how any recipe is played)."""


def check_spec(spec: str, meta_episodes: int) -> str:
    """The form of ``--algo`` (``fixed``: a name of ``FIXED``; ``registered``: a name of the
    agents' registry; ``recipe``, ``zoo``, ``run``, ``sb3``, ``class``), or a ``SpecError``
    that says what is wrong and what would do."""
    if spec.startswith(sb3_joint.PREFIX):
        if spec.removeprefix(sb3_joint.PREFIX) not in sb3_joint.ALGOS:
            raise SpecError(f"--algo {spec}: the joint view's actions are MultiDiscrete or "
                            "Discrete; choose one of "
                            f"{', '.join(sb3_joint.PREFIX + a for a in sb3_joint.ALGOS)}")
        if meta_episodes < 1:
            raise SpecError(f"--algo {spec} is trained on the train tasks first: give its "
                            "budget with --meta-episodes N (N > 0)")
        return "sb3"
    if spec == "rollout":
        raise SpecError("--algo rollout: the rollout expert searches at k x compute; "
                        "python -m benchmarks.headroom measures it (the expert anchor row)")
    if spec in FIXED:
        form = "fixed"
    elif spec in ALGORITHMS:
        return "registered"
    elif spec.startswith(RECIPE_PREFIX):
        try:
            envs.Recipe.parse(spec.removeprefix(RECIPE_PREFIX))
        except MLICError as error:
            raise SpecError(f"--algo {spec}: {error}") from None
        form = "recipe"
    elif spec.startswith(zoo.PREFIX):
        try:
            zoo.read_card(spec)
        except AgentsError as error:
            raise SpecError(f"--algo {spec}: {error}") from None
        form = "zoo"
    elif spec.startswith(RUN_PREFIX):
        run = Path(spec.removeprefix(RUN_PREFIX))
        if not (run / "best").is_dir() or not (run / "summary.json").is_file():
            raise SpecError(f"--algo {spec}: not a finished meta-training or imitation run (it "
                            "needs best/ and summary.json; see python -m training.meta_train)")
        form = "run"
    elif ":" in spec:
        try:
            agents.spec(spec)  # imports the class and checks that it is a Controller
        except UnknownAlgorithmError as error:
            raise SpecError(f"--algo {spec}: {error}") from None
        form = "class"
    else:
        # the registry's own static is played as the fixed row of the same name, and its
        # rollout is refused above: neither is offered twice
        played = [a for a in ALGORITHMS if a not in FIXED and a != "rollout"]
        close = difflib.get_close_matches(spec, [*FIXED, *played], n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise SpecError(f"--algo {spec!r} is unknown{hint}: give {', '.join(FIXED)}, recipe:NAME, "
                        f"a registered algorithm ({', '.join(played)}), zoo:NAME, run:DIR, "
                        "module.path:ClassName or sb3:PPO|A2C|DQN")
    if meta_episodes:
        why = (" (meta-trained controllers are deployed frozen through "
               "agents.load_controller, which reloads registered algorithms only: play your "
               "class online)" if form == "class" else "")
        raise SpecError(f"--meta-episodes applies to registered algorithms and sb3:ALGO, not "
                        f"to --algo {spec}{why}; drop it")
    return form


def check_method(spec: str, form: str, chosen: Mapping[str, str | envs.Task]) -> None:
    """Build, on every chosen target's spaces, a throwaway of the controller each of
    ``spec``'s runs will build (``benchmarks.core.episodes.check_online`` / ``check_frozen``), so
    that a controller that cannot be built or loaded fails here, before any run (the SBS's
    included) or meta-training; a ``SpecError`` naming ``--algo`` otherwise. A meta-trained
    algorithm is checked as it plays online (its frozen copy does not exist yet); static
    recipes and SB3 models need nothing here."""
    try:
        for target in chosen.values():
            if form in ("registered", "class"):
                check_online(target, ControllerSpec(spec))
            elif form == "zoo":
                check_frozen(target, spec)
            elif form == "run":
                check_frozen(target, Path(spec.removeprefix(RUN_PREFIX)) / "best")
    except MLICError as error:
        raise SpecError(f"--algo {spec}: {error}") from error


def prepare(spec: str, form: str, config: ProtocolConfig, ts: envs.TaskSet,
            best: str) -> Method:
    """The method ``--algo`` names, meta-trained first where the protocol says so."""
    info = MethodInfo("online (learns within each run)", "none", ONE_RUN, config.command)
    if form == "fixed":
        fixed = FIXED[spec]
        return Method(fixed.label, "recipe", fixed.recipe(best), dataclasses.replace(
            info, kind=fixed.kind, meta_training=fixed.meta_training(config)))
    if form == "recipe":
        return Method(spec, "recipe", envs.Recipe.parse(spec.removeprefix(RECIPE_PREFIX)),
                      dataclasses.replace(info, kind="static", meta_training="none"))
    if form == "class":
        return Method(spec, "online", spec, info)
    if form in ("zoo", "run"):
        run = Path(spec.removeprefix(RUN_PREFIX))
        card = zoo.read_card(spec) if form == "zoo" else json.loads(
            (run / "summary.json").read_text())
        return Method(spec, "frozen", spec if form == "zoo" else str(run / "best"),
                      dataclasses.replace(info, kind="frozen", meta_training=training_line(card)))
    if not config.meta_episodes:
        return Method(f"{spec} online", "online", spec, info)
    label, kind = f"{spec} (meta-trained {config.meta_episodes} ep)", "meta-trained here, frozen"
    if form == "sb3":
        train_set = shrunk(ts) if config.quick else ts
        algo = spec.removeprefix(sb3_joint.PREFIX)
        run, line = sb3_joint.train(algo, train_set, config.meta_episodes, config.meta_out / (
            f"sb3-{algo.lower()}-{train_set.name}-{config.meta_episodes}ep"), config.command)
        return Method(label, "sb3", str(run), MethodInfo(kind, line, ONE_RUN, config.command))
    run, line = meta_train(spec, ts, config)
    return Method(label, "frozen", str(run / "best"),
                  MethodInfo(kind, line, ONE_RUN, config.command))


def panel_line(calibration: Path) -> str:
    """The SBS's selection compute: the calibration panel's train-split episodes."""
    with calibration.open() as file:
        rows = [r for r in csv.DictReader(file) if r["split"] == "train"]
    header = calibration.with_suffix(".md")
    lines = header.read_text().splitlines() if header.is_file() else []
    seeds = next((int(line.split()[2]) for line in lines if line.startswith("- seeds: ")), 3)
    recipes = sum(1 for name in RECIPES if rows and f"mAP[{name}]" in rows[0])  # its panel
    episodes = len(rows) * recipes * seeds
    hours = sum(float(r["s_per_episode"]) for r in rows) * recipes * seeds / 3600
    return (f"the calibration panel on the train split ({calibration.name}): {len(rows)} tasks "
            f"x {recipes} recipes x {seeds} seeds = {episodes} episodes, about "
            f"{hours:.2f} CPU-hours")


def shrunk(ts: envs.TaskSet) -> envs.TaskSet:
    """``ts`` with every task shrunk (``envs.task_sets.shrink``), named ``<name>-quick``."""
    return envs.TaskSet(f"{ts.name}-quick", tuple(map(envs.task_sets.shrink, ts.train)),
                        tuple(map(envs.task_sets.shrink, ts.heldout)), f"{ts.name} shrunk")


def meta_train(algo: str, ts: envs.TaskSet, config: ProtocolConfig) -> tuple[Path, str]:
    """Meta-train ``algo`` on the train split for exactly ``meta_episodes`` episodes (seed 0),
    continuing from its run folder's checkpoint if there is one; the folder, its compute."""
    from training.meta.rounds import CHECKPOINT, MetaConfig, MetaTrainer
    name = ts.name
    if config.quick:  # training.meta_train finds a task set by name: register the shrunk one
        name = shrunk(ts).name
        if name not in envs.list_task_sets():
            envs.register_task_set(shrunk(ts))
    out = config.meta_out / f"{algo}-{name}-{config.meta_episodes}ep"
    meta = MetaConfig(algo=algo, task_set=name, episodes=config.meta_episodes,
                      workers=config.meta_workers, seed=0, out=str(out), progress=config.progress)
    try:
        summary = MetaTrainer(meta, resume=(out / CHECKPOINT).is_file()).run()
    except MLICError as error:  # reported by cli.command, naming the run
        raise ConfigError(f"meta-training {algo} in {out}: {error}") from error
    return out, training_line(summary)


# ------------------------------------------------------------------ one run
def run_one(job: Job) -> Run:
    """One target, method and seed (in a worker process started by ``warm_up``)."""
    if job.play == "recipe":
        episode = run_recipe(job.target, job.source, job.seed, {})
    elif job.play == "online":
        episode = run_controller(job.target, ControllerSpec(job.source), job.seed, {})
    elif job.play == "frozen":
        episode = run_frozen(job.target, job.source, job.seed)
    else:
        episode = sb3_joint.play(job.target, Path(job.source), job.seed)
    return Run(job.label, job.method, job.seed, episode.test["mAP"], episode.choices,
               episode.wall_s, episode.val_map, episode.step_s)


# ------------------------------------------------------------------ the runs
class _Replaying:
    """A store whose runs of ``names`` are played again (a run without ``--resume``)."""

    def __init__(self, store: RunStore, names: set[str]) -> None:
        self.store, self.names = store, names

    def get(self, name: str, seed: int, kind: type) -> Any:
        return None if name in self.names else self.store.get(name, seed, kind)

    def put(self, name: str, seed: int, result: Any) -> None:
        self.store.put(name, seed, result)


def play(sbs: Method, method: Method, chosen: Mapping[str, str | envs.Task], store: RunStore,
         config: ProtocolConfig) -> None:
    """The SBS's runs and the method's on every chosen target and seed, into ``store``: the
    SBS's stored runs are reused, the method's only with ``resume``."""
    jobs = {}
    for m in (sbs, method):
        for label, target in chosen.items():
            for seed in range(config.seeds):
                job = Job(label, target, m.label, m.play, m.source, seed)
                jobs[job.key()] = job
    replay = set() if config.resume else {
        name for name, _ in jobs if name.endswith(f"|{method.label}")}
    with tqdm(total=len(jobs), unit="run", desc="protocol", disable=not config.progress) as bar:
        play_stored(list(jobs.values()), run_one, Job.key, Run, _Replaying(store, replay),
                    config.workers, bar, warm_up)


def regenerate(config: ProtocolConfig, stores: list[Path]) -> Path:
    """The leaderboard again, from ``stores`` (the protocol store first)."""
    runs = leaderboard.read_stores(stores, config.task_set)
    return leaderboard.write(config.out, runs, leaderboard.row_infos(runs), config.headroom,
                             command=config.command, reps=config.reps, vbs=config.vbs)


def record(config: ProtocolConfig, sbs: Method, method: Method) -> None:
    """The method's kind, compute, command and machine, beside the store (and the SBS's,
    which keeps the command and machine that first played it)."""
    path = leaderboard.methods_file(config.store)
    infos = json.loads(path.read_text()) if path.is_file() else {}
    machine = machine_description()
    infos.setdefault(sbs.label, dataclasses.asdict(sbs.info) | {"machine": machine})
    infos[method.label] = dataclasses.asdict(method.info) | {"machine": machine}
    write_text_atomic(path, json.dumps(infos, indent=2) + "\n")


# ------------------------------------------------------------------ CLI
def check_stores(p: argparse.ArgumentParser, config: ProtocolConfig, *, given_vbs: bool) -> None:
    """Read the ``--vbs`` and ``--from`` stores the leaderboard will read, before any run: a
    missing ``--vbs`` store is a usage error; a file that is not a store of the kind and task
    set wanted, or a missing ``--from`` store, is the project error of
    ``benchmarks.ranking.leaderboard``'s readers (``cli.command`` reports it)."""
    for path in config.vbs:
        if not path.is_file():
            default = "" if given_vbs else f" (--vbs's default for {config.task_set})"
            p.error(f"--vbs {path} is missing{default}: give benchmarks.headroom run stores "
                    f"(runs/headroom*-{config.task_set}.jsonl) that exist, run python -m "
                    f"benchmarks.headroom --task-set {config.task_set} first, or pass --vbs "
                    "with no store for no VBS row")
    if config.vbs:
        read_vbs(config.vbs)
    if config.extra:
        leaderboard.read_stores(list(config.extra), config.task_set)


def parser() -> argparse.ArgumentParser:
    p = cli.parser("benchmarks.protocol", __doc__, example=(
        "python -m benchmarks.protocol --algo bandit --task-set digits-v1 --seeds 5 "
        "--targets heldout,mnist --workers 2 --resume\n"
        "python -m benchmarks.protocol --leaderboard --task-set digits-v1"))
    what = p.add_argument_group("what to run")
    meta = p.add_argument_group("meta-training (registered algorithms, sb3:ALGO)")
    inputs = p.add_argument_group("inputs")
    output = p.add_argument_group("output")
    what.add_argument("--algo", help="the method, SPEC: static, sbs, recipe:aug+opt+lrs+loss, a "
                      "registered algorithm, zoo:NAME, run:DIR, module.path:ClassName or "
                      "sb3:PPO|A2C|DQN (needed unless --leaderboard)")
    what.add_argument("--task-set", default="digits-v1",
                      help="the task set: its held-out tasks are targets, its train split "
                           "meta-trains (envs.list_task_sets())")
    what.add_argument("--seeds", type=positive_int, default=5,
                      help="runs per method and target, on seeds 0..N-1")
    what.add_argument("--targets", default=",".join(TARGET_KINDS),
                      help=f"comma-separated subset of {','.join(TARGET_KINDS)}")
    what.add_argument("--workers", type=positive_int, default=2,
                      help="runs side by side, 1 thread each")
    meta.add_argument("--meta-episodes", type=non_negative_int, default=0,
                      help="meta-train a registered algorithm (or train sb3:ALGO) for exactly N "
                           "episodes of the train split first; 0: play it online")
    meta.add_argument("--meta-workers", type=positive_int, default=1,
                      help="meta-training's rollout workers")
    meta.add_argument("--meta-out", type=Path, default=Path("runs/protocol"),
                      help="folder of the meta-training runs")
    inputs.add_argument("--calibration", type=Path, help="the task set's calibration csv, whose "
                        "best train recipe is the SBS (default: benchmarks/results/task_sets.csv "
                        "for digits-v0, task_sets_digits_v1.csv for v1, "
                        "task_sets_<task set>.csv otherwise)")
    inputs.add_argument("--headroom", type=Path,
                        help="the benchmarks.headroom run store (.jsonl) or result csv (.csv) "
                             "(default: the committed csv, benchmarks/results/headroom.csv for "
                             "digits-v1, headroom_digits_v0.csv for digits-v0, "
                             "headroom_<task set>.csv otherwise)")
    output.add_argument("--out", type=Path,
                        help="the leaderboard (default: benchmarks/results/leaderboard.md for "
                             "digits-v1, leaderboard_<task set>.md otherwise)")
    output.add_argument("--store", type=Path, help="the run store (default: <out "
                        "dir>/runs/protocol-<task set>.jsonl)")
    inputs.add_argument("--from", dest="extra", type=Path, nargs="*", default=[],
                        help="zero-shot stores whose rows join the leaderboard")
    inputs.add_argument("--vbs", type=Path, nargs="*", default=None,
                        help="benchmarks.headroom run stores whose panels give each target's VBS "
                             "row (default: the committed ones of digits-v1: headroom_curves and "
                             "default_task)")
    what.add_argument("--leaderboard", action="store_true",
                      help="only write the leaderboard again (no --algo needed)")
    output.add_argument("--reps", type=positive_int,
                        help="bootstrap resamples of every interval (default 5000; 200 with "
                             "--quick)")
    output.add_argument("--resume", action="store_true", help="reuse the method's stored runs")
    what.add_argument("--quick", action="store_true",
                      help="tiny targets and train tasks, for tests")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars (runs, meta-training)")
    return p


@cli.command
def main(argv: list[str] | None = None) -> Path:
    p = parser()
    args = p.parse_args(argv)
    config = ProtocolConfig.from_args(args, command_line(
        "benchmarks.protocol", argv if argv is not None else sys.argv[1:]))
    ts = envs.task_set(config.task_set)  # an unknown name lists the registered ones
    if set(config.targets) - set(TARGET_KINDS) or not config.targets:
        p.error(f"--targets {args.targets!r}: give a comma-separated subset of "
                f"{','.join(TARGET_KINDS)}")
    if config.headroom.suffix not in HEADROOM_SUFFIXES:
        p.error(f"--headroom {config.headroom}: give a benchmarks.headroom run store (.jsonl) "
                "or the result csv it writes (.csv, e.g. benchmarks/results/headroom.csv)")
    if not config.headroom.is_file():
        p.error(f"--headroom {config.headroom} is missing: run python -m benchmarks.headroom "
                f"--task-set {config.task_set} first (its rollout expert is the normalised "
                "score's 1), or pass --headroom FILE (its run store, .jsonl, or its result "
                "csv, .csv)")
    ran = normalised.read_settings(config.headroom, normalised.HEADROOM_KINDS).get(
        "task_set", config.task_set)
    if ran != config.task_set:
        p.error(f"--headroom {config.headroom} ran {ran}, not --task-set {config.task_set}: "
                "pass the headroom store or result csv of that task set")
    check_stores(p, config, given_vbs=args.vbs is not None)
    if args.leaderboard:
        stores = ([config.store] if config.store.is_file() else []) + list(config.extra)
        if not stores:
            p.error(f"nothing to rank: {config.store} is missing; run python -m "
                    "benchmarks.protocol --algo sbs first, or give --from STORE")
        return regenerate(config, stores)
    if not config.algo:
        p.error("--algo SPEC is required (or --leaderboard)")
    try:  # zoo:recommended is stored and ranked as the entry it names now
        config = dataclasses.replace(config, algo=zoo.resolve(config.algo))
        form = check_spec(config.algo, config.meta_episodes)
        best = panel_best(config.calibration)
    except (SpecError, MLICError) as error:
        p.error(str(error))
    except FileNotFoundError as error:
        p.error(f"--calibration: {error}")
    chosen = targets(ts, list(config.targets), config.quick)
    check_method(config.algo, form, chosen)  # before any run: cli.command reports it
    everything = targets(ts, list(TARGET_KINDS), config.quick)
    settings = {"task_set": ts.name, "panel_best": best, "quick": config.quick,
                "targets": {k: getattr(v, "name", v) for k, v in everything.items()}}
    try:
        store = RunStore(config.store, settings, resume=config.store.is_file(), kind=PROTOCOL)
    except SweepResumeError as error:
        raise SweepResumeError(f"{error} (every method shares the protocol store: pass "
                               "--store PATH for runs with other settings)") from error
    sbs = prepare(SBS, "fixed", config, ts, best)
    method = prepare(config.algo, form, config, ts, best)
    play(sbs, method, chosen, store, config)
    record(config, sbs, method)
    return regenerate(config, [config.store, *config.extra])
