"""Learn a 1x controller from the rollout expert: ``python -m training.imitate``.

    python -m training.imitate demos --task-set digits-v1 --seeds 2 --workers 2 --out runs/demos
    python -m training.imitate fit --learner q --demos runs/demos --out runs/imitate-q
    python -m training.imitate select --demos runs/demos --out runs/selector  # the baseline
    python -m training.publish runs/imitate-q --name digits-v1-q        # into the zoo
    python -m training.meta_train --algo mat-dqn --init runs/imitate-q/best ...  # RL fine-tuning

``demos`` records the expert's every decision on the train tasks (resumable with
``--resume``; :mod:`training.imitation.demonstrations`); ``fit`` trains a learner on them and
selects it on the held-out tasks (:mod:`training.imitation.fit`, the learners in
:mod:`training.imitation.learners`); ``select`` fits the per-task selector of one static
recipe, the algorithm-selection baseline (:mod:`training.imitation.selector`).
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any

from training.core import cli
from training.core.fields import add_field_flag, field_default, field_docs
from training.imitation.demonstrations import DemoConfig
from training.imitation.fit import FitConfig
from training.imitation.selector import SelectConfig

COMMANDS = {"demos": DemoConfig, "fit": FitConfig, "select": SelectConfig}
EXAMPLES = {
    "demos": "python -m training.imitate demos --task-set digits-v1 --seeds 2 --workers 2 "
             "--out runs/demos",
    "fit": "python -m training.imitate fit --learner q --demos runs/demos --out runs/imitate-q",
    "select": "python -m training.imitate select --demos runs/demos --out runs/selector"}
"""Each subcommand's example command line (its ``--help`` ends with it)."""
SUMMARIES = {
    "demos": "record the rollout expert's every decision on a task set's train tasks "
             "(resumable with --resume)",
    "fit": "fit a learner (bc or q) on demonstrations and select it on the held-out tasks: a "
           "run that training.publish and training.meta_train --init take",
    "select": "fit the selector (which static recipe, from the first observation) on "
              "demonstrations: the algorithm-selection baseline"}
"""Each subcommand's line in ``--help``, and its own ``--help``'s description."""
GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "demos": {"what to record": ("task_set", "seeds", "max_tasks", "observation"),
              "the expert": ("candidates", "horizon", "halving", "jumps", "start", "start_from",
                             "reuse"),
              "compute": ("workers", "threads", "address"),
              "output": ("out", "resume", "progress")},
    "fit": {"what to fit": ("demos", "learner", "options", "seed"),
            "training": ("epochs", "learning_rate", "weight_decay", "score_scale",
                         "dagger_rounds", "dagger_episodes"),
            "held-out evaluation": ("eval_every", "eval_seeds", "workers", "address"),
            "output": ("out", "progress")},
    "select": {"what to fit": ("demos", "neighbours", "min_share", "panel", "decide_at"),
               "held-out evaluation": ("eval_seeds", "workers", "address"),
               "output": ("out", "progress")}}
"""Each subcommand's groups of flags in its help, by config field (the flags keep the order
of the fields)."""


def parse_args(argv: list[str] | None = None) -> DemoConfig | FitConfig | SelectConfig:
    parser = cli.parser("training.imitate", __doc__, example="\n".join(EXAMPLES.values()))
    commands = parser.add_subparsers(dest="command", required=True, title="commands",
                                     help="what to do (each has its own --help)")
    for name, kind in COMMANDS.items():
        sub = cli.subcommand(commands, name, SUMMARIES[name], EXAMPLES[name])
        groups = {title: sub.add_argument_group(title) for title in GROUPS[name]}
        group_of = {field: groups[title] for title, fields in GROUPS[name].items()
                    for field in fields}
        docs = field_docs(kind)
        defaults = {f.name: field_default(f) for f in dataclasses.fields(kind)}
        for f in dataclasses.fields(kind):
            add_field_flag(group_of[f.name], f.name, defaults[f.name], docs.get(f.name, ""))
        cli.show_defaults(sub, defaults)
    args: dict[str, Any] = vars(parser.parse_args(argv))
    kind = COMMANDS[args.pop("command")]
    given = {k: v for k, v in args.items() if v is not None}
    if isinstance(given.get("jumps"), str):
        given["jumps"] = tuple(j for j in given["jumps"].split(",") if j)
    return kind(**given)


@cli.command(returns_status=True)
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0, 2 bad input, 130 interrupted)."""
    try:
        config = parse_args(argv)
        if isinstance(config, DemoConfig):
            from training.imitation.demonstrations import record, summary
            print(f"demonstrations: {summary(record(config))} in {config.out}", flush=True)
        elif isinstance(config, SelectConfig):
            from training.imitation.selector import run_select
            result = run_select(config)
            print(f"done: selector over {len(result['options']['recipes'])} recipes; held-out "
                  f"mAP {result['best']['heldout_mAP']:.2f} in {config.out}/best", flush=True)
        else:
            from training.imitation.fit import run_fit
            result = run_fit(config)
            best = result["best"] or {}
            print(f"done: {config.learner} on {result['demonstrations']['decisions']} decisions; "
                  f"best held-out mAP {best.get('heldout_mAP', float('nan')):.2f} (after "
                  f"{best.get('epochs')} epochs) in {config.out}/best", flush=True)
    except KeyboardInterrupt:  # the episodes recorded so far are in the store
        print("interrupted: rerun the same command with --resume to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
