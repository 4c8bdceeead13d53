"""Each learner's held-out curve, from its run's ``summary.json``: does more fitting help?

    python -m benchmarks.learner_curves RUN [RUN ...]
        [--out benchmarks/results/learner_curves_digits_v1.md]

A run is a ``training.imitate`` fit or selector, or a ``training.meta_train`` run (RL, or RL
fine-tuning from imitation weights with ``--init``). Each records a curve of held-out test
mAP at its evaluations: per fitting epoch block for the imitation learners (round 0 is
the untrained network), per round of episodes for meta-training. The table gives every
point; the plot puts them on one axis, the evaluation's index.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from envs.engine.checks import require_file
from envs.errors import ConfigError
from training.core import cli
from benchmarks.core.common import markdown_table, result_header, write_result
from benchmarks.core.plots import plot_curves
from benchmarks.core.reporting import command_line

RESULTS = Path(__file__).resolve().parents[1] / "results" / "learner_curves_digits_v1.md"


def read_curve(run: Path) -> tuple[dict, list[dict]]:
    """The run's summary and its curve (a clear error if it has none)."""
    fix = "give a training.imitate or training.meta_train output folder"
    path = require_file(run / "summary.json", fix)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not a run's summary (not JSON: {error}): {fix}") from None
    curve = summary.get("curve") if isinstance(summary, dict) else None
    if not curve:
        raise ConfigError(f"{path} has no held-out curve (the run recorded no evaluation): "
                          "give a run that evaluated on the held-out tasks at least once")
    return summary, curve


def _x(point: dict) -> str:
    """Where on its run a point lies: fitting epochs, DAgger and RL episodes."""
    parts = [f"{point[k]} {k.replace('_', ' ')}" for k in ("epochs", "dagger_episodes", "episodes")
             if point.get(k)]
    return ", ".join(parts) or "start"


@cli.command
def main(argv: Sequence[str] | None = None) -> Path:
    p = cli.parser("benchmarks.learner_curves", __doc__, example=(
        "python -m benchmarks.learner_curves runs/imitate-bc runs/imitate-q runs/selector"))
    p.add_argument("runs", nargs="+", type=Path,
                   help="run folders with a summary.json: training.imitate fit or select, or "
                        "training.meta_train --out folders")
    p.add_argument("--out", type=Path, default=RESULTS,
                   help="the markdown report (its .png plot goes beside it)")
    args = p.parse_args(argv)
    rows, curves = [], {}
    for run in args.runs:
        summary, curve = read_curve(run)
        name = f"{run.name} ({summary.get('learner') or summary['algo']})"
        values = [float(point["heldout_mAP"]) for point in curve]
        curves[name] = [values]
        best = max(range(len(values)), key=values.__getitem__)
        rows.append([name, summary.get("command", ""), " → ".join(f"{v:.1f}" for v in values),
                     f"{values[best]:.1f} at {_x(curve[best])}", f"{values[-1] - values[0]:+.1f}",
                     f"{summary.get('cpu_hours', 0.0):.2f}"])
    plot = plot_curves(args.out.with_suffix(".png"), curves,
                       title="Held-out test mAP along each learner's run",
                       xlabel="evaluation (1 = before fitting or at the initial weights)",
                       ylabel="held-out test mAP")
    command = command_line("benchmarks.learner_curves", argv if argv is not None else sys.argv[1:])
    text = (result_header("Learners' held-out curves", command, seeds=None, details=[
                "held-out test mAP: the mean over the task set's held-out tasks and each run's "
                "evaluation seeds (its --eval-seeds), greedy, frozen",
                "curve: one point per evaluation, the first before any fitting (imitation: a "
                "fresh network; --init: the initial weights)"])
            + "\n" + markdown_table(["run (learner)", "command", "held-out test mAP per "
                                     "evaluation", "best", "last − first", "CPU-hours"], rows)
            + f"\n\n![curves]({plot.name})\n")
    return write_result(args.out, text)
