"""Meta-train a controller across a task set: ``python -m training.meta_train``.

    python -m training.meta_train --algo mat-dqn --task-set digits-v0 --episodes 200 \\
        --workers 2 --seed 0 --out runs/meta            # a local ray.init() for 2 workers
    python -m training.meta_train ... --address auto     # join a running Ray cluster
    python -m training.meta_train ... --resume           # continue exactly where it stopped

``--workers 1`` runs in-process and needs no Ray. Writes into ``--out``: ``checkpoint.pt``
(after every round), ``episodes.jsonl`` (a header, then one line per training episode:
read it with ``training.core.jsonl.read(path, jsonl.META_EPISODES)``), ``tb/``
(TensorBoard), ``best/`` (the controller with the best held-out val mAP so far, loadable
with ``--load-agents`` or ``agents.load_controller``) and ``summary.json``. Ctrl-C stops
after the current round and prints the command that resumes it. How the rounds work is
in :mod:`training.meta.rounds`.
"""
from __future__ import annotations

import dataclasses
import sys

from training.core import cli
from training.core.fields import add_env_flags, add_field_flag, field_default, field_docs
from training.meta.rounds import MetaConfig
from training.core.signals import StopFlag

META_ENV_FLAGS = ("observation", "reward_kind", "device")
"""``EnvConfig`` fields a meta-training run may set for every task."""
GROUPS: dict[str, tuple[str, ...]] = {
    "what to train": ("algo", "task_set", "episodes", "seed", "curiosity", "reward_norm",
                      "options", "init"),
    "compute": ("workers", "address"),
    "held-out evaluation": ("eval_every", "eval_seeds"),
    "env overrides (unset: each task's own setting)": META_ENV_FLAGS,
    "output": ("out", "progress", "resume")}
"""The help's groups of flags, by config field (the flags keep the order of the fields)."""
RUN = "--algo mat-dqn --task-set digits-v0 --episodes 200 --workers 2 --out runs/meta"
EXAMPLE = f"python -m training.meta_train {RUN}\npython -m training.meta_train {RUN} --resume"
"""The help's example: a run, and the command that resumes it."""


def parse_args(argv: list[str] | None = None) -> tuple[MetaConfig, bool]:
    parser = cli.parser("training.meta_train", __doc__, example=EXAMPLE)
    groups = {title: parser.add_argument_group(title) for title in GROUPS}
    group_of = {name: groups[title] for title, names in GROUPS.items() for name in names}
    docs = field_docs(MetaConfig)
    defaults = {}
    for f in dataclasses.fields(MetaConfig):
        if f.name != "env_overrides":
            defaults[f.name] = field_default(f)
            add_field_flag(group_of[f.name], f.name, defaults[f.name], docs[f.name])
    for name in META_ENV_FLAGS:
        add_env_flags(group_of[name], (name,))
    group_of["resume"].add_argument(
        "--resume", action="store_true",
        help="Continue the run in --out from its checkpoint; only --episodes, --address and "
             "--no-progress may differ from the run's own flags")
    cli.show_defaults(parser, defaults)
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume")
    overrides = {k: args.pop(k) for k in META_ENV_FLAGS if args.get(k) is not None}
    for k in META_ENV_FLAGS:
        args.pop(k, None)
    given = {k: v for k, v in args.items() if v is not None}
    return MetaConfig(**given, env_overrides=overrides), resume


@cli.command(returns_status=True)
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0, 2 bad input, 130 stopped)."""
    stop = StopFlag(unit="round")
    try:
        config, resume = parse_args(argv)
        from training.meta.rounds import MetaTrainer  # heavy imports once the arguments are valid
        trainer = MetaTrainer(config, resume=resume)
        stop.install()
        print(f"meta-train: algo={config.algo} task_set={config.task_set} "
              f"episodes={config.episodes} workers={config.workers} seed={config.seed} "
              f"out={config.out}" + (" (resumed)" if resume else ""), flush=True)
        summary = trainer.run(should_stop=stop)
    finally:
        stop.uninstall(ignore=stop.signal is not None)
    if not summary["finished"]:
        again = " ".join(["python -m training.meta_train", *(argv if argv is not None
                                                             else sys.argv[1:])])
        again = again if "--resume" in again else again + " --resume"
        print(f"stopped after round {summary['rounds']} of {config.rounds} "
              f"({summary['episodes']} episodes); continue with:\n  {again}", flush=True)
        return 130
    best = summary["best"] or {}
    print(f"done: {summary['episodes']} episodes in {summary['wall_s']:.0f} s "
          f"({summary['cpu_hours']:.2f} CPU-hours); best held-out mAP "
          f"{best.get('heldout_mAP', float('nan')):.2f} (round {best.get('round')}) in "
          f"{config.out}/best; return-vs-test-mAP Spearman {summary['return_test_spearman']}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
