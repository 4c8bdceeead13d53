"""The leaderboard of ``benchmarks.protocol``: normalised scores and rliable aggregates.

Every row is a method's test mAP per target and seed, from run stores in the zero-shot
format (``benchmarks.ranking.zero_shot.Run``: the protocol store, and any zero-shot store, which
may have been made on another machine and may cover some targets only, e.g. the full
default task), plus anchor rows read from the ``benchmarks.headroom`` store or the result
csv it writes (the rollout expert, TPE, the VBS-C, Ray Tune PBT), which only that benchmark
measures: the committed csv (``benchmarks/results/headroom.csv``) holds every number the
leaderboard takes from it, so a fresh clone, without the gitignored store, ranks too. The
leaderboard lists every store it read with the machine that made it (the ``machine`` line of
the store's result file). Per target and seed:

* raw test mAP (the held-out, mnist and default-task means are columns of the table);
* the normalised score ``(method_s - SBS_s) / (expert - mean SBS)``: 0 is the single best
  static recipe (``static panel-best``, the same target and seed ``s``, from the same store
  where it holds them: the same machine), 1 the rollout
  expert (its mean test mAP on the target, from the headroom runs, at its k x compute).
  The gap is the target's, over the seeds used, so one noisy SBS seed cannot flip its
  sign, and a method's mean score over seeds is exactly ``benchmarks.normalised``'s.
  Targets without an expert measurement (those the headroom benchmark did not run, e.g.
  the full default task) have raw mAP only; train tasks are never targets.

Aggregates as rliable recommends (Agarwal et al., NeurIPS 2021): the IQM and mean of the
normalised scores (seeds x targets) with 95% stratified-bootstrap intervals, the
probability of improvement over the SBS on raw test mAP (per target, seeds as runs), and
a performance profile of the normalised scores.
"""
from __future__ import annotations

import contextlib
import json
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents import zoo
from agents.errors import AgentsError
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.reporting import shown
from benchmarks.ranking import algoperf
from benchmarks.ranking import normalised as normalised_score
from benchmarks.ranking.targets import Scores, is_target, short_target, target_order
from benchmarks.ranking.vbs import VBS_ROW, read_vbs
from benchmarks.ranking.zero_shot import DEFAULT, PANEL_BEST, PBT, RUN_PREFIX, Run, training_line
from envs.engine.checks import require_file
from envs.errors import ConfigError, DependencyNotInstalledError
from training.core.jsonl import PROTOCOL, ZERO_SHOT
from training.core.run_store import read_store

ANCHORS = {"expert": "expert (headroom)", "expert-sbs": "expert-sbs (headroom)",
           "tpe": "Optuna TPE (headroom)", "vbs-c": "VBS-C (headroom)",
           "pbt": "Ray Tune PBT (headroom)"}
"""Headroom-store methods shown as anchor rows, and their row names."""
ANCHOR_KINDS = {"expert": "search (rollout expert)", "expert-sbs": "search (rollout expert "
                "from the SBS)", "tpe": "search (Optuna TPE over static recipes)",
                "vbs-c": "search (best of random static recipes on val)",
                "pbt": "search (Ray Tune PBT)"}
ONE_RUN = "1x (one episode per run)"
"""The deployment compute of every protocol row: one episode of the target per run."""


@dataclass(frozen=True)
class MethodInfo:
    """What a row says about how a method was made and what it cost."""

    kind: str
    """static / online / frozen / meta-trained here / search at k x compute."""
    meta_training: str
    """Compute spent before deployment (meta-training, imitation, a calibration panel)."""
    deployment: str
    """Compute per run, in episodes of the target (1x: one episode)."""
    command: str
    """The command that made the row's runs."""
    machine: str = ""
    """The machine that made them (``benchmarks.core.common.machine_description``), where the
    protocol recorded it; other stores' machines are read from their result files."""


@dataclass(frozen=True)
class Aggregates:
    """One row's numbers (None where the row has no such scores)."""

    iqm: tuple[float, float, float] | None
    """Normalised IQM, CI low, CI high."""
    mean: tuple[float, float, float] | None
    improvement: tuple[float, float, float] | None
    """P(method > SBS) on raw test mAP, CI low, CI high."""


@dataclass(frozen=True)
class Stores:
    """Run stores read together (``read_stores``)."""

    paths: tuple[Path, ...]
    scores: dict[str, Scores]
    """Test mAP per method, target and seed (the first store that holds a run wins)."""
    settings: dict[str, Any]
    """The first store's settings (task set, SBS recipe, targets)."""
    origins: dict[str, list[Path]]
    """The stores each method's runs come from."""
    sources: dict[tuple[str, str, int], Path]
    """The store of each ``(method, target, seed)`` run in ``scores``."""
    sbs: dict[Path, Scores]
    """Each store's own SBS (``static panel-best``) runs."""
    curves: dict[str, dict[str, dict[int, list[float]]]] = field(default_factory=dict)
    """Val curves per method, target and seed, where the stores kept them (for AlgoPerf's
    time to target)."""

    def sbs_for(self, method: str) -> Scores:
        """The SBS runs ``method``'s runs are compared with: on each target and seed, those of
        the store its run comes from (the same machine and code) where that store holds them,
        else the first store's."""
        merged, out = self.scores.get(PANEL_BEST, {}), {}
        for target, runs in self.scores[method].items():
            for seed in runs:
                own = self.sbs.get(self.sources[(method, target, seed)], {}).get(target, {})
                value = own.get(seed, merged.get(target, {}).get(seed))
                if value is not None:
                    out.setdefault(target, {})[seed] = value
        return out

    def sbs_disagreements(self) -> list[str]:
        """Targets whose SBS runs differ between stores on a seed they share (``default (5
        seeds)``): stores made on other machines or by other code."""
        differ: dict[str, set[int]] = {}
        for i, a in enumerate(self.paths):
            for b in self.paths[i + 1:]:
                for target, runs in self.sbs.get(a, {}).items():
                    other = self.sbs.get(b, {}).get(target, {})
                    differ.setdefault(target, set()).update(
                        s for s in runs if s in other and runs[s] != other[s])
        return [f"{t} ({len(s)} seed{'s' * (len(s) != 1)})"
                for t, s in sorted(differ.items(), key=lambda i: target_order(i[0])) if s]


def read_stores(stores: Sequence[Path], task_set: str | None = None) -> Stores:
    """Runs of every method from run stores in the zero-shot format (the first store wins
    where two hold the same target label, method and seed). Stores of another task set
    (``task_set`` where given, else the first store's) or SBS, or that ran other tasks under
    one label (a ``--quick`` store beside a full one), are refused (a ``ConfigError``), as is
    a missing file, or one that is not a zero-shot or protocol store (``training.core.jsonl``'s
    ``StoreFormatError``)."""
    scores: dict[str, Scores] = {}
    origins: dict[str, list[Path]] = {}
    sources: dict[tuple[str, str, int], Path] = {}
    own_sbs: dict[Path, Scores] = {}
    curves: dict[str, dict[str, dict[int, list[float]]]] = {}
    names: dict[str, tuple[str, Path]] = {}
    first: dict[str, Any] = {}
    for path in stores:
        require_file(path, "give run stores that exist (benchmarks/results/runs/*.jsonl)")
        settings, runs = read_store(path, Run, (ZERO_SHOT, PROTOCOL), task_set=task_set)
        first = first or settings
        for key, what in (("task_set", "task set"), ("panel_best", "SBS (panel-best recipe)")):
            if settings.get(key, first.get(key)) != first.get(key):
                raise ConfigError(f"{path} ran {what} {settings.get(key)}, {stores[0]} ran "
                                  f"{first.get(key)}: rank one {what} at a time")
        for label, name in (settings.get("targets") or {}).items():
            if names.setdefault(label, (name, path))[0] != name:
                raise ConfigError(f"{path} ran {name} as {label!r}, {names[label][1]} ran "
                                  f"{names[label][0]}: leave one of them out (a --quick store "
                                  "cannot share a leaderboard with a full one)")
        for run in runs:
            target = short_target(run.target)
            if run.method == PANEL_BEST:
                own_sbs.setdefault(path, {}).setdefault(target, {})[run.seed] = run.test_mAP
            if (run.method, target, run.seed) not in sources:
                sources[(run.method, target, run.seed)] = path
                if path not in origins.setdefault(run.method, []):
                    origins[run.method].append(path)
                scores.setdefault(run.method, {}).setdefault(target, {})[run.seed] = run.test_mAP
                if run.curve:
                    curves.setdefault(run.method, {}).setdefault(target, {})[run.seed] = run.curve
    return Stores(tuple(stores), scores, first, origins, sources, own_sbs, curves)


def read_headroom(path: Path, sbs: str) -> tuple[dict[str, float], dict[str, Scores], Scores]:
    """From a headroom store or result csv (``benchmarks.ranking.normalised.read_results``): the
    expert's mean test mAP per target it ran (held-out tasks, mnist, the default task; never a
    train task), each anchor's scores there, and the benchmark's own SBS runs (method
    ``panel:<sbs>``)."""
    by_method: dict[str, Scores] = {}
    runs = normalised_score.read_runs(path, normalised_score.HEADROOM_KINDS)
    if path.suffix == ".csv" and not any(m == f"panel:{sbs}" for _, m, _ in runs):
        held = sorted({m.removeprefix("panel:") for _, m, _ in runs if m.startswith("panel:")})
        raise ConfigError(f"the headroom csv {path} holds the runs of the static recipes "
                          f"{', '.join(held) or 'none'} only, not of the runs' SBS {sbs}: pass "
                          "the headroom store (--headroom benchmarks/results/runs/"
                          "headroom-<task set>.jsonl), which holds every panel recipe")
    for (label, method, seed), value in runs.items():
        if is_target(label):
            by_method.setdefault(method, {}).setdefault(short_target(label), {})[seed] = value
    experts = {t: statistics.fmean(s.values()) for t, s in by_method.get("expert", {}).items()}
    anchors = {ANCHORS[m]: by_method[m] for m in ANCHORS if m in by_method}
    return experts, anchors, by_method.get(f"panel:{sbs}", {})


def anchor_infos(path: Path, command: str) -> dict[str, MethodInfo]:
    """Kind and compute of each anchor row (from a headroom store or result csv): its mean
    compute in episodes of the target."""
    episodes: dict[str, list[float]] = {}
    for (label, method, _), result in normalised_score.read_results(
            path, normalised_score.HEADROOM_KINDS).items():
        if method in ANCHORS and is_target(label):
            episodes.setdefault(method, []).append(float(result.get("episodes", 1.0)))
    infos = {}
    for method, values in episodes.items():
        k = f"{statistics.fmean(values):.1f}x"
        infos[ANCHORS[method]] = MethodInfo(
            f"{ANCHOR_KINDS[method]} at {k} compute", "none (searches within each run)",
            f"{k} (mean over its runs; {min(values):.1f}x to {max(values):.1f}x)", command)
    return infos


def normalised_matrix(method: Scores, sbs: Scores, experts: Mapping[str, float]
                      ) -> tuple[np.ndarray, list[str]] | None:
    """Normalised scores, seeds x targets, over the targets with an expert measurement that
    both the method and the SBS ran, on the seeds they share on all of them (None if none)."""
    targets = [t for t in sorted(method) if t in experts and t in sbs]
    seeds = _common_seeds(method, sbs, targets)
    gaps = {t: experts[t] - statistics.fmean(sbs[t][s] for s in seeds) for t in targets} \
        if seeds else {}
    targets = [t for t in targets if gaps.get(t, 0.0) > 0]  # no gap: nothing to normalise by
    if not targets:
        return None
    matrix = np.array([[(method[t][s] - sbs[t][s]) / gaps[t] for t in targets] for s in seeds])
    return matrix, targets


def paired_matrices(method: Scores, sbs: Scores) -> tuple[np.ndarray, np.ndarray] | None:
    """Raw test mAP of the method and of the SBS, seeds x targets, on every target both ran."""
    targets = [t for t in sorted(method) if t in sbs]
    seeds = _common_seeds(method, sbs, targets)
    if not targets or not seeds:
        return None
    return (np.array([[method[t][s] for t in targets] for s in seeds]),
            np.array([[sbs[t][s] for t in targets] for s in seeds]))


def _common_seeds(method: Scores, sbs: Scores, targets: Sequence[str]) -> list[int]:
    if not targets:
        return []
    sets = [set(method[t]) & set(sbs[t]) for t in targets]
    return sorted(set.intersection(*sets))


def rliable() -> tuple[Any, Any, Any]:
    """``rliable``'s ``library``, ``metrics`` and ``plot_utils`` (imported on first use: they
    pull in arch and seaborn), or a ``DependencyNotInstalledError`` that says how to install
    them."""
    import benchmarks.core.plots  # noqa: F401  (the Agg backend, before rliable imports pyplot)
    try:
        from rliable import library, metrics, plot_utils
    except ImportError as error:
        raise DependencyNotInstalledError(f"the leaderboard needs rliable ({error}): pip "
                                          "install -e '.[protocol]' -c constraints.txt") from None
    return library, metrics, plot_utils


@contextlib.contextmanager
def seeded_resamples(seed: int) -> Iterator[None]:
    """rliable 1.2's stratified bootstraps draw their resamples from numpy's global generator
    (``np.random.choice``), whatever ``random_state`` they are given: seed it for the block
    and put the caller's state back, so the intervals are the same every time and nothing
    outside the block sees a seeded generator."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """``P(X_m > Y_m) + P(X_m = Y_m) / 2`` averaged over the tasks ``m`` (columns), runs in rows:
    rliable's ``metrics.probability_of_improvement`` (its Mann-Whitney U over
    ``n_x n_y``), by broadcasting instead of one scipy test per task and resample, which
    made the bootstrap of a full leaderboard take minutes."""
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + ties / 2))


def aggregate(normalised: Mapping[str, np.ndarray],
              paired: Mapping[str, tuple[np.ndarray, np.ndarray]], *, reps: int,
              seed: int = 0) -> dict[str, Aggregates]:
    """IQM and mean of each method's normalised scores and its probability of improvement
    over the SBS, each with a 95% stratified-bootstrap interval (``reps`` resamples, seeded
    by ``seed``: the same numbers every time)."""
    rly, metrics, _ = rliable()

    def iqm_and_mean(scores: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores)])

    with seeded_resamples(seed):
        points, cis = (rly.get_interval_estimates(dict(normalised), iqm_and_mean, reps=reps)
                       if normalised else ({}, {}))
    with seeded_resamples(seed):
        poi, poi_cis = (rly.get_interval_estimates(dict(paired), probability_of_improvement,
                                                   reps=reps) if paired else ({}, {}))
    out = {}
    for name in {*normalised, *paired}:
        iqm = mean = improvement = None
        if name in points:
            iqm = (float(points[name][0]), float(cis[name][0][0]), float(cis[name][1][0]))
            mean = (float(points[name][1]), float(cis[name][0][1]), float(cis[name][1][1]))
        if name in poi:
            ci = np.asarray(poi_cis[name]).reshape(-1)
            improvement = (float(poi[name]), float(ci[0]), float(ci[-1]))
        out[name] = Aggregates(iqm, mean, improvement)
    return out


def plot_profiles(normalised: Mapping[str, np.ndarray], path: Path, *, reps: int) -> Path:
    """rliable's performance profile of the normalised scores (the share of runs above each
    score tau), with stratified-bootstrap bands; the headroom anchors dashed."""
    rly, _, plot_utils = rliable()
    import matplotlib.pyplot as plt
    values = np.concatenate([m.reshape(-1) for m in normalised.values()])
    low, high = min(0.0, float(values.min())), max(1.0, float(values.max()))
    pad = 0.05 * (high - low)  # so that every profile starts at 1 and ends at 0
    taus = np.linspace(low - pad, high + pad, 81)
    with seeded_resamples(0):
        profiles, cis = rly.create_performance_profile(dict(normalised), taus, reps=reps)
    fig, ax = plt.subplots(figsize=(8, 5))
    plot_utils.plot_performance_profiles(
        profiles, taus, performance_profile_cis=cis, ax=ax, color_palette="tab20", alpha=0.08,
        linestyles={m: "--" if m in ANCHORS.values() else "-" for m in profiles},
        xlabel=r"normalised score $\tau$ (0: SBS, 1: rollout expert)",
        ylabel=r"fraction of runs with score $> \tau$")
    ax.legend(fontsize=8, loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _interval(value: tuple[float, float, float] | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    point, low, high = value
    return f"{point:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def _probability(value: tuple[float, float, float] | None) -> str:
    return "—" if value is None else f"{value[0]:.2f} [{value[1]:.2f}, {value[2]:.2f}]"


def _coverage(scores: Scores, normalised_on: Sequence[str]) -> str:
    """``heldout 1,2,3,4, mnist (5 seeds); normalised: heldout 1,2,3,4, mnist``."""
    seeds = sorted({s for runs in scores.values() for s in runs})
    text = f"{_targets_text(scores)} ({len(seeds)} seed{'s' * (len(seeds) != 1)})"
    return text + (f"; normalised: {_targets_text(normalised_on)}" if normalised_on else
                   "; no expert: raw only")


def _targets_text(targets: Iterable[str]) -> str:
    """``heldout 1,2,4, mnist, default``: the held-out targets by number, then the others."""
    targets = list(targets)
    heldout = sorted(int(t.split()[1]) for t in targets if t.startswith("heldout "))
    return ", ".join(([f"heldout {','.join(map(str, heldout))}"] if heldout else []) + sorted(
        (t for t in targets if not t.startswith("heldout ")), key=target_order))


def _raw_mean(scores: Scores, which: str) -> str:
    targets = [t for t in scores
               if (t.startswith("heldout ") if which == "heldout" else t == which)]
    if not targets:
        return "—"
    return f"{statistics.fmean(statistics.fmean(scores[t].values()) for t in targets):.1f}"


def _seed_range(seeds: Sequence[int]) -> str:
    if not seeds:
        return "none"
    if len(seeds) == 1:
        return f"1 ({seeds[0]})"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{len(seeds)} ({seeds[0]} to {seeds[-1]})"
    return f"{len(seeds)} ({', '.join(map(str, seeds))})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def tables(scores: Mapping[str, Scores], infos: Mapping[str, MethodInfo],
           stats: Mapping[str, Aggregates], normalised_on: Mapping[str, list[str]],
           algoperf_scores: Mapping[str, float] | None = None) -> tuple[list[str], str, str]:
    """The methods in leaderboard order (normalised IQM, then held-out raw mAP), the
    leaderboard table and the per-target table."""
    def order(name: str) -> tuple[float, float]:
        iqm = stats.get(name, Aggregates(None, None, None)).iqm
        held = [statistics.fmean(v.values()) for t, v in scores[name].items()
                if t.startswith("heldout ")]
        return (-iqm[0] if iqm else float("inf"), -statistics.fmean(held) if held else 0.0)

    methods = sorted(scores, key=order)
    unknown = MethodInfo("?", "?", "?", "?")
    rows = []
    for name in methods:
        info, agg = infos.get(name, unknown), stats.get(name, Aggregates(None, None, None))
        rows.append([_cell(name), info.kind, _coverage(scores[name], normalised_on.get(name, [])),
                     _interval(agg.iqm), _interval(agg.mean), _probability(agg.improvement),
                     _raw_mean(scores[name], "heldout"), _raw_mean(scores[name], "mnist"),
                     _raw_mean(scores[name], "default"),
                     _algoperf_cell(name, info, algoperf_scores or {}), _cell(info.meta_training),
                     info.deployment, f"`{_cell(info.command)}`"])
    board = markdown_table(
        ["method", "kind", "covers", "normalised IQM [95% CI]", "normalised mean [95% CI]",
         "P(improvement over SBS) [95% CI]", "held-out test mAP", "mnist test mAP",
         "default test mAP", "AlgoPerf score [track]", "meta-training compute",
         "deployment compute", "command"], rows)
    columns = sorted({t for s in scores.values() for t in s}, key=target_order)
    per_target = markdown_table(
        ["method", *columns],
        [[_cell(name), *(f"{mean_std(list(scores[name][t].values()))} "
                         f"({len(scores[name][t])})" if t in scores[name] else "—"
                         for t in columns)] for name in methods])
    return methods, board, per_target


def result_field(store: Path, task_set: str, field: str) -> str | None:
    """The ``- <field>: ...`` line (``command``, ``machine``) of the header of the result file
    that made a store (``DIR/runs/NAME.jsonl``, zero-shot's, or ``DIR/runs/NAME-<task
    set>.jsonl``, headroom's -> ``DIR/NAME.md``; a result csv ``DIR/NAME.csv`` ->
    ``DIR/NAME.md``; ``benchmarks.core.common.result_header``)."""
    results = [store.with_suffix(".md")] if store.suffix == ".csv" else [
        store.parent.parent / f"{stem}.md"
        for stem in (store.stem, store.stem.removesuffix(f"-{task_set}"))]
    for result in results:
        if result.is_file():
            match = re.search(rf"^- {field}: (.*)$", result.read_text(encoding="utf-8"), re.M)
            if match:
                return match.group(1).strip()
    return None


def result_command(store: Path, task_set: str) -> str | None:
    """The command that made a store, from its result file's header (``result_field``)."""
    command = result_field(store, task_set, "command")
    return command.strip("`") if command else None


def methods_file(store: Path) -> Path:
    """Where ``benchmarks.protocol`` keeps each method's ``MethodInfo``, beside its store."""
    return store.with_name(f"{store.stem}.methods.json")


def infer_info(method: str, stores: list[Path], task_set: str) -> MethodInfo:
    """A method of other (zero-shot) stores: its kind from its name, its compute from its
    card, and the commands in the headers of the stores' results."""
    command = " && ".join(dict.fromkeys(result_command(s, task_set)
                                       or f"see {shown(s)}" for s in stores))
    kind, meta = "?", "?"
    if method == DEFAULT:
        kind, meta = "static", "none"
    elif method == PANEL_BEST:
        kind, meta = "static (chosen on the train split)", "the calibration panel"
    elif method == PBT:
        kind, meta = "search at 1x compute (a population of 4 sharing the run's budget)", "none"
    elif method.endswith(" online"):
        kind, meta = "online (learns within each run)", "none"
    elif method.startswith((zoo.PREFIX, RUN_PREFIX)):
        kind = "frozen"
        try:
            meta = training_line(zoo.read_card(method) if method.startswith(zoo.PREFIX) else
                                 json.loads((Path(method.removeprefix(RUN_PREFIX))
                                             / "summary.json").read_text()))
        except (AgentsError, OSError, ValueError, KeyError) as error:
            meta = f"unknown ({error})"
    return MethodInfo(kind, meta, ONE_RUN, command)


def row_infos(stores: Stores) -> dict[str, MethodInfo]:
    """What each method of ``stores`` is and cost: as the protocol recorded it beside its
    store (``methods_file``), else inferred (``infer_info``)."""
    task_set, known = str(stores.settings.get("task_set", "")), {}
    for store in stores.paths:
        if methods_file(store).is_file():
            known.update({k: MethodInfo(**v) for k, v in
                          json.loads(methods_file(store).read_text()).items()})
    return {m: known.get(m) or infer_info(m, stores.origins[m], task_set) for m in stores.scores}


def source_lines(stores: Stores, headroom: Path) -> list[str]:
    """One line per store a leaderboard reads, with the machine that made it: its result
    file's ``machine`` line, else the machines the protocol recorded beside it for its
    methods (``methods_file``), else ``unknown``."""
    task_set = str(stores.settings.get("task_set", ""))
    lines = []
    for path, role in [*((p, "runs") for p in stores.paths), (headroom, "the expert, anchors")]:
        machine = result_field(path, task_set, "machine")
        if machine is None:
            recorded: dict[str, list[str]] = {}
            if methods_file(path).is_file():
                for method, info in json.loads(methods_file(path).read_text()).items():
                    if info.get("machine"):
                        recorded.setdefault(info["machine"], []).append(method)
            machine = "; ".join(f"{m} ({', '.join(methods)})"
                                for m, methods in recorded.items()) or "unknown"
        lines.append(f"- `{shown(path)}` ({role}): {machine}")
    return lines


def track_of(info: MethodInfo) -> str:
    """AlgoPerf's track of a row: searches at k x compute tune externally, a hindsight
    reference is in neither track, the rest self-tune."""
    if info.kind.startswith("reference"):
        return algoperf.REFERENCE
    return algoperf.EXTERNAL if info.kind.startswith("search") and "1x" not in info.kind \
        else algoperf.SELF


def _algoperf_cell(name: str, info: MethodInfo, scores: Mapping[str, float]) -> str:
    track = {algoperf.EXTERNAL: "external", algoperf.SELF: "self"}.get(track_of(info), "")
    return f"{scores[name]:.2f} [{track}]" if name in scores else "—"


def write(out: Path, stores: Stores, infos: Mapping[str, MethodInfo], headroom: Path, *,
          command: str, reps: int, vbs: Sequence[Path] = ()) -> Path:
    """Score every method of ``stores`` and every anchor, and write the leaderboard to ``out``
    (its performance profile beside it, ``<out>_profile.png``)."""
    scores, settings = stores.scores, stores.settings
    if PANEL_BEST not in scores:
        raise ConfigError(f"no {PANEL_BEST!r} runs to score against: run python -m "
                          "benchmarks.protocol --algo sbs first (it plays them)")
    require_file(headroom, "run python -m benchmarks.headroom first (its rollout expert is "
                 "the normalised score's 1), or pass --headroom FILE (its store, .jsonl, or its "
                 "result csv, .csv)", flag="the headroom runs")
    ran = normalised_score.read_settings(headroom, normalised_score.HEADROOM_KINDS)
    if ran.get("task_set", settings.get("task_set")) != settings.get("task_set"):
        raise ConfigError(f"the headroom runs {headroom} ran {ran['task_set']}, the runs "
                          f"{settings.get('task_set')}: pass the headroom store or result csv "
                          "of that task set")
    sbs_recipe = str(settings.get("panel_best", ""))
    experts, anchors, anchor_sbs = read_headroom(headroom, sbs_recipe)
    anchor_command = result_command(headroom, str(settings.get("task_set", ""))) \
        or f"see {shown(headroom)}"
    infos = {**anchor_infos(headroom, anchor_command), **infos}
    static_rows = {name: runs for name, runs in scores.items()
                   if infos.get(name, MethodInfo("?", "?", "?", "?")).kind.startswith("static")}
    vbs_scores, vbs_which = read_vbs(vbs, static_rows) if vbs else ({}, {})
    if vbs_scores:  # a reference row, in no track: the target's best static recipe in hindsight
        anchors = {**anchors, VBS_ROW: vbs_scores}
        infos[VBS_ROW] = MethodInfo(
            "reference (each target's best static recipe, in hindsight; not a competitor)",
            "the panel, a search over static recipes and the static rows on each target",
            ONE_RUN,
            "; ".join(f"{t}: {vbs_which[t]}" for t in sorted(vbs_which, key=target_order)))
    rows: dict[str, Scores] = {**scores, **anchors}
    normalised, paired, normalised_on = {}, {}, {}
    for name, runs in rows.items():
        sbs = anchor_sbs if name in anchors else stores.sbs_for(name)
        matrix = normalised_matrix(runs, sbs, experts)
        if matrix is not None:
            normalised[name], normalised_on[name] = matrix
        pair = paired_matrices(runs, sbs)
        if pair is not None:
            paired[name] = pair
    stats = aggregate(normalised, paired, reps=reps)
    by_task = algoperf.targets_by_task()
    goals = {short_target(label): by_task[name]
             for label, name in (settings.get("targets") or {}).items() if name in by_task}
    unknown = MethodInfo("?", "?", "?", "?")
    timed = algoperf.track_scores(stores.curves, {m: track_of(infos.get(m, unknown))
                                                  for m in stores.curves}, goals)
    order, board, per_target = tables(rows, infos, stats, normalised_on, timed)
    profile = out.with_name(f"{out.stem}_profile.png")
    if normalised:
        plot_profiles({m: normalised[m] for m in order if m in normalised}, profile,
                      reps=min(reps, 1000))
    raw_only = sorted({t for s in scores.values() for t in s} - set(experts), key=target_order)
    sbs = scores[PANEL_BEST]
    no_gap = [t for t in sorted(experts, key=target_order) if t in sbs
              and experts[t] <= statistics.fmean(sbs[t].values())]
    seeds = sorted({s for runs in scores.values() for target in runs.values() for s in target})
    anchor_seeds = sorted({s for runs in anchors.values() for t in runs.values() for s in t})
    facts = [
        f"task set: {settings.get('task_set', '?')}; SBS (static panel-best): {sbs_recipe}",
        "normalised score, per target and seed s: (method_s - SBS_s) / (expert - mean SBS), "
        "the expert being the rollout expert's mean test mAP on the target (at its k x "
        f"compute) from {shown(headroom)}; measured on "
        f"{', '.join(sorted(experts, key=target_order)) or 'no target'}",
        "targets without an expert measurement, raw test mAP only (left out of the normalised "
        f"aggregates): {', '.join(raw_only) or 'none'}",
        f"seeds: {_seed_range(seeds)} (the run stores); the anchors: "
        f"{_seed_range(anchor_seeds)} (the headroom store's); each row's in its 'covers' column",
        "targets where the expert is not above the SBS (nothing to normalise by), "
        f"left out of the normalised aggregates: {', '.join(no_gap) or 'none'}",
        f"aggregates with rliable: IQM and mean over seeds x targets, 95% stratified-bootstrap "
        f"percentile intervals ({reps} resamples, seed 0); P(improvement over SBS): "
        "P(method > SBS) on raw test mAP per target, seeds as runs, averaged over every "
        "target both ran",
        "the anchor rows (headroom) are the headroom benchmark's own runs, on the targets "
        "and seeds it ran, scored against its own SBS runs; every other row is paired "
        "with the SBS runs of its own store where that store holds them (the same machine), "
        "else the first store's; SBS runs that differ between stores: "
        f"{', '.join(stores.sbs_disagreements()) or 'none'}",
        f"the VBS row: each target's best static recipe in hindsight (its command column names "
        f"it), from {', '.join(shown(p) for p in vbs) or 'no headroom store (--vbs)'}",
        "AlgoPerf score (benchmarks.algoperf): time to the committed val-mAP target of each "
        f"target ({', '.join(sorted(goals, key=target_order)) or 'none with val curves in these stores'}),"
        " performance ratios within the row's track (self-tuning: 1x rows; external tuning: "
        "searches at k x compute), the profile's integral up to a ratio of 4; '—' where the "
        "row's runs kept no val curves (stores written before they were kept)"]
    text = (result_header("Leaderboard: dynamic training control against static recipes",
                          command, seeds=None, details=facts)
            + "\nThe run stores, and the machine each was made on (the `machine` line of the "
              "result file that made it):\n\n" + "\n".join(source_lines(stores, headroom))
            + "\n\nOne row per method, best normalised IQM first ('covers': the targets and "
              "seeds of its runs):\n\n" + board
            + (f"\n\n![performance profile]({profile.name})\n\nPerformance profile of the "
               "normalised scores (rliable): the share of a method's runs above each score."
               if normalised else "")
            + "\n\nTest mAP per target, mean ± std over seeds (runs):\n\n" + per_target
            + "\n\n" + HOW_TO_ADD.format(task_set=settings.get("task_set", "digits-v1")))
    return write_result(out, text)


HOW_TO_ADD = """## How to add a row

Write a controller (an `agents.base.Controller` subclass, as in
`examples/protocol_controller.py`) or pick a registered algorithm, then run
`python -m benchmarks.protocol --algo SPEC --task-set {task_set} --resume`: it plays one
episode per held-out target, mlic-mnist-v0 and the full default task on seeds 0 to 4 (the
same targets, seeds and budget as every row), stores the runs in
`benchmarks/results/runs/protocol-{task_set}.jsonl` and rewrites this file. SPEC is
`static`, `sbs`, a registered algorithm (online; with `--meta-episodes N` meta-trained on
the train tasks for exactly N episodes first, then frozen), `zoo:NAME`, `run:DIR`,
`module.path:ClassName` (played online) or `sb3:PPO|A2C|DQN` (trained on the joint view for
`--meta-episodes N` episodes, then frozen). Rows from another zero-shot store join with
`python -m benchmarks.protocol --leaderboard --from STORE`. Only the targets the headroom
benchmark measured the expert on are normalised; the others count in the raw columns and
the probability of improvement.
"""
