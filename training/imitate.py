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


def parse_args(argv: list[str] | None = None) -> DemoConfig | FitConfig | SelectConfig:
    parser = cli.parser("training.imitate", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, kind in COMMANDS.items():
        sub = commands.add_parser(name, help=(kind.__doc__ or "").split("\n")[0])
        docs = field_docs(kind)
        for f in dataclasses.fields(kind):
            add_field_flag(sub, f.name, field_default(f), docs.get(f.name, ""))
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
