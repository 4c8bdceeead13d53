"""First decisions: how much of a controller's gain over the SBS its first recipe wins, and how
much its later switches add.

    python -m benchmarks.first_decisions --from STORE --method LABEL [--sbs LABEL]
        [--targets heldout 1,mnist,...] [--workers 2] [--resume] [--no-progress] [--out MD]

The comparison is a controller that holds its first recipe to the end. For each run of
``--method`` in a protocol or zero-shot run store (``benchmarks.protocol``,
``benchmarks.zero_shot``), the run's first recipe (``choices[0]``) is held for the whole
budget on the same target and seed: the protocol's ``recipe:NAME`` run (``run_recipe``, the
env's own settings), so it trains exactly as the stored run would have with that recipe held.
Each run's gain over the SBS (the store's ``static panel-best`` runs, or ``--sbs``) then
splits exactly in two, paired by seed:

    method - SBS = (first held - SBS)  +  (method - first held)
                    its first decision     its later switches

A run that holds one recipe throughout is its own first-held run (nothing is replayed: its
later switches add 0). A first-held run that the input store already holds (a run of any
method on that target and seed that held the same recipe throughout: ``recipe:NAME``, the
SBS) is taken from it. The others are played, ``--workers`` side by side, and kept in
``OUT_DIR/runs/first_decisions-<input store stem>.jsonl`` as each ends (keyed as the
protocol's ``recipe:NAME`` runs; ``--resume`` reuses them, whatever method first chose them).

Reported per target: the mean over seeds of the method, its first recipe held, the SBS and
both parts of the gain (paired per-seed differences, mean ± std), then every run: its first
recipe, how many of its later decisions differ from it, and where its first-held run came
from. The per-run numbers also go to ``<out>.csv``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.reporting import command_line, write_csv
from benchmarks.expert.task_sets import warm_up
from benchmarks.ranking.protocol import RECIPE_PREFIX, Job, run_one
from benchmarks.ranking.targets import TARGET_KINDS, short_target, target_order, targets
from benchmarks.ranking.vbs import VBS_STORES, read_vbs
from benchmarks.ranking.zero_shot import DEFAULT, PANEL_BEST, Run
from envs.engine.checks import require_file
from envs.errors import ConfigError, MLICError
from training.core import cli
from training.core.cli import positive_int
from training.core.jsonl import PROTOCOL, ZERO_SHOT
from training.core.run_store import RunStore, play_stored, read_store

OUT = Path("runs/first_decisions.md")
STORE_PREFIX = "first_decisions-"
"""The replay store: ``OUT_DIR/runs/first_decisions-<input store stem>.jsonl``."""
ITSELF = "the run itself (one recipe throughout)"
STORED = "input store"
REPLAYED = "replayed"
"""Where a first-held run comes from (the per-run table's last column)."""


@dataclass(frozen=True)
class FirstDecisionsConfig:
    """One invocation."""

    store: Path
    """The protocol or zero-shot run store whose runs are split (``--from``)."""
    method: str
    """The method label whose runs are split."""
    sbs: str = PANEL_BEST
    """The label of the SBS's runs in the same store."""
    targets: tuple[str, ...] = ()
    """Short target names (``heldout 1``, ``mnist``, ``default``) or labels; empty: all."""
    workers: int = 2
    """Replays side by side, one torch thread each."""
    out: Path = OUT
    """The markdown report (its csv beside it, its replay store in ``OUT_DIR/runs/``)."""
    resume: bool = False
    """Reuse the replays stored by an earlier invocation."""
    progress: bool = True
    """A progress bar over the replays."""
    command: str = ""
    """The command line, written in the report's header."""

    @property
    def replay_store(self) -> Path:
        return self.out.parent / "runs" / f"{STORE_PREFIX}{self.store.stem}.jsonl"


@dataclass(frozen=True)
class Split:
    """One run of the method, its first recipe held, and the SBS on the same target and seed."""

    target: str
    """The target's label in the store."""
    seed: int
    first: str
    """The run's first recipe (``choices[0]``)."""
    decisions: int
    """How many decisions the run made."""
    later_differ: int
    """How many of its later decisions chose another recipe than the first."""
    method_mAP: float
    held_mAP: float
    """Test mAP of the first recipe held for the whole budget."""
    sbs_mAP: float
    source: str
    """Where the first-held run comes from (``ITSELF``, ``STORED``: <method>, ``REPLAYED``)."""

    @property
    def gain(self) -> float:
        """The method's gain over the SBS."""
        return self.method_mAP - self.sbs_mAP

    @property
    def first_gain(self) -> float:
        """What the first decision wins: first recipe held minus the SBS."""
        return self.held_mAP - self.sbs_mAP

    @property
    def later_gain(self) -> float:
        """What the later switches add: the method minus its first recipe held."""
        return self.method_mAP - self.held_mAP


@dataclass(frozen=True)
class Plan:
    """The method's runs to split, their SBS runs, and the first-held runs still to play."""

    runs: tuple[Run, ...]
    sbs: dict[tuple[str, int], float]
    """The SBS's test mAP by ``(target label, seed)``."""
    found: dict[tuple[str, int], tuple[float, str]]
    """First-held results already known (the run itself, or the input store's): mAP, source."""
    jobs: tuple[Job, ...]
    """First-held runs to play (or reload from the replay store)."""


# ------------------------------------------------------------------ reading the input
def read_input(path: Path) -> tuple[dict[str, Any], list[Run]]:
    """The input store's settings and runs; a missing file, or one that is not a protocol or
    zero-shot store, is a project error naming it."""
    require_file(path, "give a protocol or zero-shot run store (e.g. "
                 "benchmarks/results/runs/protocol-digits-v1.jsonl)", flag="--from")
    return read_store(path, Run, (PROTOCOL, ZERO_SHOT))


def _labels(runs: Sequence[Run]) -> str:
    return ", ".join(repr(m) for m in dict.fromkeys(r.method for r in runs))


def method_runs(path: Path, runs: Sequence[Run], method: str, wanted: Sequence[str]
                ) -> list[Run]:
    """``method``'s runs on the ``wanted`` targets (short names or labels; empty: all), in
    target then seed order; an unknown method or target, or runs without their choices, is a
    ``ConfigError`` that says what the store holds."""
    mine = [r for r in runs if r.method == method]
    if not mine:
        raise ConfigError(f"--method {method!r}: {path} holds no run of it; give one of its "
                          f"method labels: {_labels(runs)}")
    if wanted:
        present = {short_target(r.target) for r in mine} | {r.target for r in mine}
        unknown = [t for t in wanted if t not in present]
        if unknown:
            shorts = sorted({short_target(r.target) for r in mine}, key=target_order)
            raise ConfigError(f"--targets {','.join(unknown)}: {method!r} has no run there in "
                              f"{path}; give a comma-separated subset of {','.join(shorts)}")
        mine = [r for r in mine if r.target in wanted or short_target(r.target) in wanted]
    empty = [f"{r.target} seed {r.seed}" for r in mine if not r.choices]
    if empty:
        raise ConfigError(f"{path}: the runs of {method!r} keep no choices ({empty[0]}"
                          f"{f' and {len(empty) - 1} more' if len(empty) > 1 else ''}), so "
                          "their first recipe is unknown: play them again with python -m "
                          "benchmarks.protocol (which stores every decision's recipe)")
    for r in mine:
        try:
            envs.Recipe.parse(r.choices[0])
        except MLICError as error:
            raise ConfigError(f"{path}: {r.target} seed {r.seed} of {method!r} starts with "
                              f"{r.choices[0]!r}, not a recipe ({error})") from None
    return sorted(mine, key=lambda r: (target_order(short_target(r.target)), r.target, r.seed))


def sbs_runs(path: Path, runs: Sequence[Run], sbs: str, mine: Sequence[Run]
             ) -> dict[tuple[str, int], float]:
    """The SBS's test mAP on every target and seed of ``mine``; a label the store lacks, or a
    run of ``mine`` with no SBS run beside it, is a ``ConfigError``."""
    scores = {(r.target, r.seed): r.test_mAP for r in runs if r.method == sbs}
    if not scores:
        raise ConfigError(f"--sbs {sbs!r}: {path} holds no run of it; give the label of the "
                          f"SBS's runs among: {_labels(runs)}")
    missing = [f"{r.target} seed {r.seed}" for r in mine if (r.target, r.seed) not in scores]
    if missing:
        raise ConfigError(f"{path} holds no {sbs!r} run on {missing[0]}"
                          f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: "
                          "play the SBS on the same targets and seeds first (python -m "
                          "benchmarks.protocol --algo sbs), or narrow --targets")
    return scores


def resolve_targets(path: Path, settings: Mapping[str, Any], labels: Sequence[str]
                    ) -> dict[str, str | envs.Task]:
    """The task or env id each target label ran, as the protocol built it
    (``benchmarks.ranking.targets.targets`` of the store's task set, full size or ``--quick``),
    checked against the name the store's settings record; a ``ConfigError`` otherwise."""
    recorded = settings.get("targets") or {}
    name = settings.get("task_set")
    if name is None:
        raise ConfigError(f"{path}: its settings name no task set, so its targets cannot be "
                          "rebuilt; give a store written by benchmarks.protocol or "
                          "benchmarks.zero_shot")
    ts = envs.task_set(name)
    quick = bool(settings.get("quick", False))
    built: dict[str, str | envs.Task] = {}
    for shrunk in (quick, not quick):  # a zero-shot store does not record --quick
        for label, target in targets(ts, list(TARGET_KINDS), shrunk).items():
            built.setdefault(f"{label}\0{getattr(target, 'name', target)}", target)
    out = {}
    for label in labels:
        ran = recorded.get(label)
        target = built.get(f"{label}\0{ran}")
        if target is None:
            raise ConfigError(f"{path}: target {label!r} ran {ran!r}, which is not a target of "
                              f"task set {name} (benchmarks.ranking.targets): replay needs the "
                              "store's own targets; give a store written by this code's "
                              "benchmarks.protocol or benchmarks.zero_shot")
        out[label] = target
    return out


def held_name(recipe: str) -> str:
    """The method name of a recipe held fixed (the protocol's ``recipe:NAME``)."""
    return f"{RECIPE_PREFIX}{recipe}"


def plan(path: Path, settings: Mapping[str, Any], runs: Sequence[Run],
         config: FirstDecisionsConfig) -> Plan:
    """What to split and what is still to play (nothing is played here)."""
    mine = method_runs(path, runs, config.method, config.targets)
    sbs = sbs_runs(path, runs, config.sbs, mine)
    held_in_store: dict[tuple[str, int, str], tuple[float, str]] = {}
    static = (PANEL_BEST, DEFAULT, config.sbs)
    # any run that held one recipe throughout is that recipe's held run (a static method's first)
    for r in sorted(runs, key=lambda r: not (r.method in static
                                             or r.method.startswith(RECIPE_PREFIX))):
        if r.choices and len(set(r.choices)) == 1:
            held_in_store.setdefault((r.target, r.seed, r.choices[0]), (r.test_mAP, r.method))
    found: dict[tuple[str, int], tuple[float, str]] = {}
    todo: list[Run] = []
    for r in mine:
        first = r.choices[0]
        if len(set(r.choices)) == 1:
            found[(r.target, r.seed)] = (r.test_mAP, ITSELF)
        elif (r.target, r.seed, first) in held_in_store:
            value, method = held_in_store[(r.target, r.seed, first)]
            found[(r.target, r.seed)] = (value, f"{STORED}: {method}")
        else:
            todo.append(r)
    chosen = resolve_targets(path, settings, list(dict.fromkeys(r.target for r in todo)))
    jobs = {}
    for r in todo:
        job = Job(r.target, chosen[r.target], held_name(r.choices[0]), "recipe",
                  envs.Recipe.parse(r.choices[0]), r.seed)
        jobs[job.key()] = job  # two methods' runs, or one, may share a replay
    return Plan(tuple(mine), sbs, found, tuple(jobs.values()))


# ------------------------------------------------------------------ the split
def splits(p: Plan, replays: Mapping[tuple[str, int], float]) -> list[Split]:
    """Every run's split; ``replays``: the played first-held runs' test mAP by their key
    (``Job.key``: ``(f"{label}|recipe:NAME", seed)``)."""
    out = []
    for r in p.runs:
        first = r.choices[0]
        if (r.target, r.seed) in p.found:
            held, source = p.found[(r.target, r.seed)]
        else:
            held, source = replays[(f"{r.target}|{held_name(first)}", r.seed)], REPLAYED
        out.append(Split(r.target, r.seed, first, len(r.choices),
                         sum(c != first for c in r.choices[1:]), r.test_mAP, held,
                         p.sbs[(r.target, r.seed)], source))
    return out


def replay(p: Plan, config: FirstDecisionsConfig, settings: Mapping[str, Any]
           ) -> tuple[dict[tuple[str, int], float], int]:
    """Play the plan's first-held runs (the replay store's, with ``resume``, are reused):
    their test mAP by ``Job.key``, and how many were played now."""
    store = RunStore(config.replay_store, {"task_set": settings.get("task_set"),
                                           "targets": settings.get("targets") or {}},
                     config.resume, PROTOCOL)
    todo = sum(store.get(*job.key(), Run) is None for job in p.jobs)
    with tqdm(total=len(p.jobs), unit="run", desc="first recipe held",
              disable=not config.progress) as bar:
        played = play_stored(list(p.jobs), run_one, Job.key, Run, store, config.workers, bar,
                             warm_up)
    return {job.key(): run.test_mAP for job, run in zip(p.jobs, played)}, todo


# ------------------------------------------------------------------ the report
def _seed_diffs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:+.1f}" for v in values)


def target_rows(rows: Sequence[Split], vbs: Mapping[str, str] | None = None
                ) -> list[list[str]]:
    """One row per target (then one over every run): means over seeds, paired differences;
    ``vbs``: each target's VBS cell, by short name ("—" where none is known)."""
    groups = {label: [s for s in rows if s.target == label]
              for label in dict.fromkeys(s.target for s in rows)}
    if len(groups) > 1:
        groups["all targets (every run)"] = list(rows)
    out = []
    for label, group in groups.items():
        later = [s.later_gain for s in group]
        out.append([label, str(len(group)), *(mean_std(values) for values in (
            [s.method_mAP for s in group], [s.held_mAP for s in group],
            [s.sbs_mAP for s in group], [s.gain for s in group],
            [s.first_gain for s in group], later)),
            f"{sum(v > 0 for v in later)}/{len(later)}",
            (vbs or {}).get(short_target(label), "—")])
    return out


def run_rows(rows: Sequence[Split]) -> list[list[str]]:
    return [[s.target, str(s.seed), f"`{s.first}`", f"{s.later_differ}/{s.decisions - 1}",
             f"{s.method_mAP:.2f}", f"{s.held_mAP:.2f}", f"{s.sbs_mAP:.2f}", f"{s.gain:+.2f}",
             f"{s.first_gain:+.2f}", f"{s.later_gain:+.2f}", s.source] for s in rows]


def csv_rows(rows: Sequence[Split]) -> list[dict[str, Any]]:
    return [asdict(s) | {"gain": s.gain, "first_gain": s.first_gain, "later_gain": s.later_gain}
            for s in rows]


def vbs_cells(task_set: str | None) -> dict[str, str]:
    """Each target's VBS (its best static recipe in hindsight, from the task set's committed
    headroom stores, ``benchmarks.ranking.vbs``) as a table cell: mean ± std and the recipe."""
    scores, which = read_vbs(VBS_STORES.get(task_set or "", ()))
    return {t: f"{mean_std(list(runs.values()))} ({which[t]})" for t, runs in scores.items()}


def report(rows: Sequence[Split], config: FirstDecisionsConfig, replayed: int,
           vbs: Mapping[str, str] | None = None) -> str:
    held = sum(s.source == ITSELF for s in rows)
    stored = sum(s.source.startswith(STORED) for s in rows)
    details = [f"input: {config.store} ({len(rows)} runs of {config.method!r} on "
               f"{len({s.target for s in rows})} targets); SBS: its {config.sbs!r} runs",
               f"first recipe held: {held} run(s) hold one recipe throughout (their own "
               f"first-held run), {stored} taken from the input store's runs that held it, "
               f"{len(rows) - held - stored} replayed ({replayed} played now, the rest reused "
               f"from {config.replay_store}); {config.workers} replays side by side, 1 torch "
               "thread each",
               "gain over SBS = first decision (first recipe held - SBS) + later switches "
               "(method - first recipe held), per seed; ± is the std over seeds"]
    if held == len(rows):
        summary = (f"Every run of {config.method!r} holds one recipe throughout: its whole "
                   "gain over the SBS is its first decision; its later switches add 0.")
    else:
        first = statistics.fmean(s.first_gain for s in rows)
        later = statistics.fmean(s.later_gain for s in rows)
        summary = (f"Over every run: gain over the SBS {first + later:+.2f} mAP = first "
                   f"decision {first:+.2f} + later switches {later:+.2f}.")
    return (result_header(f"First decisions: {config.method}", config.command,
                          details=details)
            + "\nPer target, mean ± std over seeds (gain and its parts: per-seed paired "
              "differences):\n\n"
            + markdown_table(["target", "runs", "method", "first recipe held", "SBS",
                              "gain over SBS", "first decision", "later switches",
                              "switches ahead", "VBS (best static, hindsight)"],
                             target_rows(rows, vbs))
            + "\n\n" + summary
            + "\n\nEvery run (later decisions that differ from the first, of all later ones):"
              "\n\n"
            + markdown_table(["target", "seed", "first recipe", "later differ", "method",
                              "first held", "SBS", "gain", "first decision", "later switches",
                              "first held from"], run_rows(rows))
            + f"\n\nPer-run numbers: [{config.out.with_suffix('.csv').name}]"
              f"({config.out.with_suffix('.csv').name}).\n")


def first_decisions(config: FirstDecisionsConfig) -> Path:
    """Split the method's runs, playing what is missing, and write the report and its csv."""
    settings, runs = read_input(config.store)
    p = plan(config.store, settings, runs, config)
    replays, played = replay(p, config, settings) if p.jobs else ({}, 0)
    rows = splits(p, replays)
    write_csv(config.out.with_suffix(".csv"), csv_rows(rows))
    vbs = vbs_cells(settings.get("task_set"))
    return write_result(config.out, report(rows, config, played, vbs))


# ------------------------------------------------------------------ CLI
def parser() -> argparse.ArgumentParser:
    p = cli.parser("benchmarks.first_decisions", __doc__, example=(
        "python -m benchmarks.first_decisions --from "
        "benchmarks/results/runs/protocol-digits-v1.jsonl --method \"bandit online\" "
        "--workers 2 --resume --out runs/first_decisions.md"))
    inputs = p.add_argument_group("inputs")
    compute = p.add_argument_group("compute")
    output = p.add_argument_group("output")
    inputs.add_argument("--from", dest="store", type=Path, required=True,
                        help="the protocol or zero-shot run store whose runs are split (e.g. "
                             "benchmarks/results/runs/protocol-digits-v1.jsonl)")
    inputs.add_argument("--method", required=True,
                        help="the label of the method whose runs are split, as the store "
                             "names it (e.g. \"bandit online\", \"zoo:bc-digits-v1\")")
    inputs.add_argument("--sbs", default=PANEL_BEST,
                        help="the label of the SBS's runs in the same store")
    inputs.add_argument("--targets", default="",
                        help="comma-separated targets, short names (heldout 1, mnist, default) "
                             "or labels (default: every target the method ran)")
    compute.add_argument("--workers", type=positive_int, default=2,
                         help="replays side by side, 1 torch thread each")
    output.add_argument("--out", type=Path, default=OUT,
                        help="the markdown report; its per-run csv goes beside it and its "
                             "replays to OUT_DIR/runs/first_decisions-<input store stem>.jsonl")
    output.add_argument("--resume", action="store_true",
                        help="reuse the replays stored in OUT_DIR/runs/ (without it they are "
                             "played again)")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    return p


@cli.command
def main(argv: list[str] | None = None) -> Path:
    args = parser().parse_args(argv)
    config = FirstDecisionsConfig(
        store=args.store, method=args.method, sbs=args.sbs,
        targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
        workers=args.workers, out=args.out, resume=args.resume, progress=args.progress,
        command=command_line("benchmarks.first_decisions",
                             argv if argv is not None else sys.argv[1:]))
    return first_decisions(config)
