"""The MAT-Agent ablation table, scripted: which agents (and which reward) the
result needs.

    python -m benchmarks.ablations --env mlic-digits --seeds 3 --out benchmarks/results
    python -m benchmarks.ablations --quick --seeds 2 --out /tmp/abl      # a few minutes

Every row is one episode of the env's ``max_decisions`` epochs per seed, driven by
``mat-dqn`` learning online (as ``training.run_marl`` runs it), with env and controller
seeded by the seed:

* ``full``: the four agents on the shared reward.
* ``w/o AUG`` / ``OPT`` / ``LRS`` / ``LOSS`` / ``AUG+OPT``: those agents are removed (the
  env's ``agents`` subset); a removed agent's component stays at the default recipe.
* ``w/o coordination``: the four agents, but each learns from a reward of its own instead
  of the shared one (``agents.rewards.individual.IndividualRewardWrapper``, whose docstring
  justifies each choice; decision t compared with t-1; a single run of it is
  ``python -m training.run_marl --reward individual``):

  - aug: ``-tanh(d log(val_loss / train_loss) / 0.05)``, the narrowing generalisation gap;
  - opt: ``tanh(((L_{t-1} - L_t) / L_{t-1}) / 0.1)``, the relative train-loss decrease;
  - lrs: the env's stability term ``-clip(relative rise of the val loss, 0, 1)``;
  - loss: ``tanh(d AP_tail / 2)``, the change (points) of the mean val AP of the rarest
    third of the classes (``env.profile.tail_classes``);

  aug and opt get 0 when the loss function was switched (train losses not comparable);
  each agent pays ``0.5 * (diverged + 0.1 * own_switch / 4)``, its share of the shared
  penalty. Same algorithm, observations and budget: only the team's common credit is gone.
* ``w/o all agents``: the static default recipe throughout (the ``static`` controller).

Reported per row, mean ± std over seeds: test mAP, CF1 and OF1 (the env evaluates the test
split once, after the last epoch), and the convergence measure behind the paper's "47%
faster": per seed, the first epoch at which the row's val mAP reaches the static default's
*final* val mAP on the same seed; mean ± std over the seeds that reach it, and how many do.
Outputs in ``--out``: ``ablations.md``, ``ablations.csv`` (one line per run),
``ablations_curves.csv`` (val mAP per epoch), ``ablations.png`` (val mAP curves) and
``ablations_test_map.png``. Every finished episode is stored at once in
``OUT/runs/ablations.jsonl``; after an interruption the same command with ``--resume``
reloads them and trains only the rest.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envs
from training.core import cli
from benchmarks.core.common import markdown_table, mean_std, result_header
from benchmarks.core.episodes import ControllerSpec, EpisodeResult, run_controller
from training.core.callbacks import ProgressBar
from training.core.config import check_backbone
from training.core.fields import add_env_flags, env_default_text
from benchmarks.core.plots import plot_bars, plot_curves
from benchmarks.core.reporting import (QUICK_OVERRIDES, SWEEP_ENV_FLAGS, command_line,
                                       env_overrides, progress_bar, reach_epoch, shortfalls,
                                       write_csv)
from training.core.jsonl import ABLATIONS
from training.core.run_store import RunStore, reloaded_note, run_sweep

ALGO = "mat-dqn"
STATIC = "static"


def _without(*removed: str) -> tuple[str, ...]:
    return tuple(a for a in envs.COMPONENTS if a not in removed)


@dataclass(frozen=True)
class Variant:
    """One row of the table."""

    label: str
    spec: ControllerSpec
    plays_agents: bool = True
    """False for the static default: no agent chooses anything (the table says "none")."""


VARIANTS: dict[str, Variant] = {
    "full": Variant("full", ControllerSpec(ALGO)),
    "no-aug": Variant("w/o AUG", ControllerSpec(ALGO, _without("aug"))),
    "no-opt": Variant("w/o OPT", ControllerSpec(ALGO, _without("opt"))),
    "no-lrs": Variant("w/o LRS", ControllerSpec(ALGO, _without("lrs"))),
    "no-loss": Variant("w/o LOSS", ControllerSpec(ALGO, _without("loss"))),
    "no-aug-opt": Variant("w/o AUG+OPT", ControllerSpec(ALGO, _without("aug", "opt"))),
    "no-coordination": Variant("w/o coordination", ControllerSpec(ALGO, individual_reward=True)),
    STATIC: Variant("w/o all agents (static default)", ControllerSpec("static"),
                    plays_agents=False),
}
QUICK_DECISIONS = 3


@dataclass(frozen=True)
class AblationConfig:
    """One sweep: which env, seeds, variants and env overrides."""

    env: str = "mlic-digits"
    seeds: int = 3
    out: Path = Path("benchmarks/results")
    overrides: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = tuple(VARIANTS)
    """Variant keys; ``static`` always runs (it sets the convergence target)."""
    resume: bool = False
    """Reload the runs an interrupted sweep with the same settings stored in ``store_path``."""
    progress: bool = True
    command: str = "python -m benchmarks.ablations"

    @property
    def keys(self) -> list[str]:
        return [STATIC] + [k for k in self.variants if k != STATIC]

    @property
    def store_path(self) -> Path:
        return self.out / "runs" / "ablations.jsonl"

    def settings(self) -> dict[str, Any]:
        """What changes a run's result (seeds and variants may change on resume)."""
        return {"env": self.env, "overrides": self.overrides}


@dataclass
class Run:
    variant: str
    seed: int
    episode: EpisodeResult
    reloaded: bool = False
    """Reloaded from an interrupted sweep's store (``--resume``), not run now."""


def sweep(config: AblationConfig) -> list[Run]:
    """Every variant on every seed, one episode each (the bar counts epochs).

    Each finished episode is stored in ``config.store_path`` at once; with ``config.resume``
    the episodes an interrupted sweep with the same settings stored are reloaded, not rerun.
    """
    epochs = envs.make_config(config.env, **config.overrides).max_decisions
    store = RunStore(config.store_path, config.settings(), resume=config.resume, kind=ABLATIONS)
    runs = []
    total = epochs * config.seeds * len(config.keys)
    with progress_bar(total, "ablations", config.progress) as bar:
        for key in config.keys:
            for seed in range(config.seeds):
                bar.set_postfix_str(f"{key} seed {seed}")
                done, reused = bar.n, store.reused
                episode = store.fetch(key, seed, EpisodeResult, lambda key=key, seed=seed:
                                      run_controller(config.env, VARIANTS[key].spec, seed,
                                                     config.overrides,
                                                     callbacks=[ProgressBar(bar)]))
                bar.update(max(0, done + epochs - bar.n))  # a reloaded episode
                runs.append(Run(key, seed, episode, reloaded=store.reused > reused))
    return runs


def targets(runs: list[Run]) -> dict[int, float]:
    """Per seed: the static default's final val mAP."""
    return {r.seed: r.episode.final_val for r in runs if r.variant == STATIC}


def run_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One CSV line per run."""
    target = targets(runs)
    return [{"variant": VARIANTS[r.variant].label, "key": r.variant, "seed": r.seed,
             "test_mAP": r.episode.test["mAP"], "test_CF1": r.episode.test["CF1"],
             "test_OF1": r.episode.test["OF1"], "final_val_mAP": r.episode.final_val,
             "best_val_mAP": r.episode.best_val, "target_val_mAP": target[r.seed],
             "epochs_to_target": reach_epoch(r.episode.val_map, target[r.seed]),
             "epochs": r.episode.epochs, "wall_s": round(r.episode.wall_s, 2)} for r in runs]


def _reach_cell(values: list[int | None]) -> str:
    reached = [v for v in values if v is not None]
    if not reached:
        return f"never (0/{len(values)})"
    return f"{mean_std([float(v) for v in reached])} ({len(reached)}/{len(values)})"


def table_rows(rows: list[dict[str, Any]], keys: list[str]) -> list[list[str]]:
    out = []
    for key in keys:
        mine = [r for r in rows if r["key"] == key]
        variant = VARIANTS[key]
        agents = ",".join(variant.spec.agents) if variant.plays_agents else "none"
        out.append([VARIANTS[key].label, agents] + [mean_std([r[m] for r in mine])
                                                    for m in ("test_mAP", "test_CF1", "test_OF1")]
                   + [_reach_cell([r["epochs_to_target"] for r in mine]),
                      f"{statistics.fmean(r['wall_s'] for r in mine):.0f}"])
    return out


def convergence_sentence(rows: list[dict[str, Any]]) -> str:
    """The paper's measure for ``full``: epochs to the static final val mAP, relative to static."""
    def reached(key: str) -> dict[int, int]:
        return {r["seed"]: r["epochs_to_target"] for r in rows
                if r["key"] == key and r["epochs_to_target"] is not None}
    full, static = reached("full"), reached(STATIC)
    common = sorted(set(full) & set(static))
    if not common:
        return ("The full agents never reached the static default's final val mAP: "
                "no speed-up to report.")
    f = statistics.fmean(full[s] for s in common)
    s = statistics.fmean(static[s] for s in common)
    change = 100 * (s - f) / s
    verdict = (f"{change:.0f}% fewer epochs" if change > 0
               else f"{-change:.0f}% more epochs (not faster)")
    return (f"Convergence: on the {len(common)} seed(s) where it gets there, the full agents "
            f"reach the static default's final val mAP after {f:.1f} epochs vs {s:.1f} for the "
            f"static default: {verdict}.")


def write_outputs(config: AblationConfig, runs: list[Run], wall_s: float) -> Path:
    """``ablations.md``, ``.csv``, ``_curves.csv`` and ``.png`` in ``config.out``."""
    out = config.out
    rows = run_rows(runs)
    write_csv(out / "ablations.csv", rows)
    write_csv(out / "ablations_curves.csv", [
        {"variant": VARIANTS[r.variant].label, "seed": r.seed, "epoch": i + 1, "val_mAP": v}
        for r in runs for i, v in enumerate(r.episode.val_map)])
    keys = [k for k in VARIANTS if k in config.keys]
    curves = {VARIANTS[k].label: [r.episode.val_map for r in runs if r.variant == k] for k in keys}
    target = statistics.fmean(targets(runs).values())
    plot_curves(out / "ablations.png", curves, title=f"Ablations on {config.env} ({ALGO})",
                xlabel="epoch", ylabel="val mAP", hline=target,
                hline_label="static default's final val mAP (mean)")
    plot_bars(out / "ablations_test_map.png",
              {VARIANTS[k].label: [r["test_mAP"] for r in rows if r["key"] == k] for k in keys},
              title=f"Ablations on {config.env}: test mAP", ylabel="test mAP")
    table = markdown_table(["variant", "agents", "test mAP", "test CF1", "test OF1",
                            "epochs to static's final val mAP (reached)", "wall (s) per run"],
                           table_rows(rows, keys))
    scores = {VARIANTS[k].label: [r["test_mAP"] for r in rows if r["key"] == k] for k in keys}
    verdicts = shortfalls(scores, ["full"], [VARIANTS[k].label for k in keys if k != "full"])
    env_config = envs.make_config(config.env, **config.overrides)
    details = [f"{ALGO} learning online, one episode of {env_config.max_decisions} epochs per run "
               f"(batch {env_config.batch_size}, backbone {env_config.backbone}, env overrides "
               f"{config.overrides or 'none'})",
               "w/o coordination: each agent learns from a reward of its own (aug: narrowing "
               "val/train loss gap; opt: relative train-loss decrease; lrs: stability term; "
               "loss: tail-class val AP change; see agents/rewards/individual.py)",
               f"sweep wall time: {wall_s / 60:.1f} min"
               + reloaded_note(sum(r.reloaded for r in runs), config.store_path)]
    text = (result_header(f"MAT-Agent ablations on {config.env}", config.command,
                          seeds=config.seeds, details=details) + "\n" + table
            + "\n\n" + convergence_sentence(rows) + "\n\n" + "\n".join(f"- {v}" for v in verdicts)
            + "\n\n![val mAP per epoch](ablations.png)\n![test mAP](ablations_test_map.png)\n")
    (out / "ablations.md").write_text(text, encoding="utf-8")
    return out / "ablations.md"


MODEL_ENV_FLAGS: tuple[str, ...] = ("backbone", "weights_path", "device")
"""The env settings of the classifier every variant trains, besides the sweeps' own
(``benchmarks.core.reporting.SWEEP_ENV_FLAGS``): ``--backbone``, ``--weights`` and ``--device``."""
EXAMPLE = """\
# tiny runs, a few minutes on a CPU; then the digits table:
python -m benchmarks.ablations --quick --seeds 2 --out /tmp/abl
python -m benchmarks.ablations --env mlic-digits --seeds 3 --out abl-digits
# MAT-Agent's paper setting (needs timm, a GPU and Pascal VOC 2007 on disk):
python -m benchmarks.ablations --env mlic-voc --data-root ~/data/VOCdevkit \\
    --backbone timm:resnet101 --weights resnet101.pth --image-size 448 \\
    --device cuda --seeds 3 --out runs/ablations-voc"""


def build_parser() -> argparse.ArgumentParser:
    """The flags, in groups: the sweep, the env overrides every variant gets, the output."""
    parser = cli.parser("benchmarks.ablations", __doc__, example=EXAMPLE)
    sweep_group = parser.add_argument_group("sweep")
    sweep_group.add_argument("--env", default="mlic-digits", metavar="ENV", help=(
        f"registered env id, one of {', '.join(envs.list_envs())}"))
    sweep_group.add_argument("--seeds", type=cli.positive_int, default=3, metavar="N",
                             help="seeds per variant (0 .. N-1), one episode each")
    sweep_group.add_argument("--variants", default=",".join(VARIANTS), metavar="KEY[,KEY...]",
                             help=f"comma-separated subset of {','.join(VARIANTS)} (default: "
                                  f"all; {STATIC} always runs: it sets the convergence target)")
    sweep_group.add_argument("--quick", action="store_true", help=(
        f"tiny runs: image_size {QUICK_OVERRIDES['image_size']}, "
        f"{QUICK_OVERRIDES['max_train_images']} train images, {QUICK_DECISIONS} epochs "
        "(the env overrides below win over it)"))
    sweep_group.add_argument("--max-decisions", type=cli.positive_int, default=None,
                             metavar="N", help=(
                                 "epochs per run (default: the env's, mlic-digits: "
                                 f"{envs.make_config('mlic-digits').max_decisions}; with "
                                 f"--quick: {QUICK_DECISIONS})"))
    env_group = parser.add_argument_group(
        "env overrides", "Each replaces the env's own setting in every variant, so its default "
        "is\nthe env's (shown for the default --env).")
    add_env_flags(env_group, SWEEP_ENV_FLAGS + MODEL_ENV_FLAGS, prefix="",
                  describe=env_default_text(AblationConfig.env), metavars=METAVARS)
    out_group = parser.add_argument_group("output")
    out_group.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                           metavar="DIR", help="folder of the report (ablations.md, .csv, .png) "
                                               "and of runs/ablations.jsonl")
    out_group.add_argument("--resume", action="store_true", help=(
        "reload the runs an interrupted sweep with the same settings stored in "
        "OUT/runs/ablations.jsonl and train only the rest"))
    out_group.add_argument("--no-progress", action="store_true",
                           help="do not show a progress bar")
    return parser


METAVARS = {"data_root": "DIR", "image_size": "PX", "max_train_images": "N", "max_eval_images": "N",
            "steps_per_decision": "N", "batch_size": "N", "device": "DEVICE",
            "backbone": "NAME", "weights_path": "PATH"}
"""How the help names the env overrides' values."""


def parse_args(argv: list[str]) -> AblationConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = env_overrides(args, args.quick)
    overrides.update({k: getattr(args, k) for k in MODEL_ENV_FLAGS
                      if getattr(args, k, None) is not None})
    if "weights_path" in overrides:
        overrides["weights_path"] = os.path.expanduser(overrides["weights_path"])
    decisions = args.max_decisions or (QUICK_DECISIONS if args.quick else None)
    if decisions:
        overrides["max_decisions"] = decisions
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    return AblationConfig(env=args.env, seeds=args.seeds, out=args.out, overrides=overrides,
                          variants=variants, resume=args.resume, progress=not args.no_progress,
                          command=command_line("benchmarks.ablations", argv))


@cli.command
def main(argv: list[str] | None = None) -> Path:
    config = parse_args(list(sys.argv[1:] if argv is None else argv))
    check_backbone(envs.make_config(config.env, **config.overrides))  # before any output
    start = time.perf_counter()
    runs = run_sweep(sweep, config, config.store_path)
    path = write_outputs(config, runs, time.perf_counter() - start)
    print(f"wrote {path}")
    return path
