"""``python -m training.run_marl``: train a classifier while agents reconfigure its recipe.

    python -m training.run_marl --env mlic-digits
    python -m training.run_marl --env mlic-voc --data-root ~/data/VOCdevkit/VOC2007
    python -m training.run_marl --config run.yaml --seed 3      # flags win over the file

Writes ``summary.json``, ``steps.jsonl``, TensorBoard events (``tb/``), ``report.png``,
the trained agents (``agents/``) and ``checkpoint.pt`` into ``--out``. SIGINT/SIGTERM
stop after the current decision, with a checkpoint; ``--resume`` continues from it.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

import agents
import envs
from agents.errors import AgentsError
from envs.errors import ConfigError, MLICError
from training.config import RunConfig, parse_agents, read_yaml

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.run_marl", description=__doc__.split("\n\n")[0],
                                argument_default=argparse.SUPPRESS)
    p.add_argument("--config", help="YAML file with any of these settings (keys as below, - or _)")
    p.add_argument("--env", help=f"env id: {', '.join(envs.list_envs())} (default mlic-digits)")
    p.add_argument("--data-root", dest="data_root", help="dataset location (else $MLIC_DATA_ROOT)")
    p.add_argument("--algo", help=f"controller: {', '.join(agents.ALGORITHMS)} (default mat-dqn)")
    p.add_argument("--agents", type=_agents_argument, help="active agents, e.g. aug,opt (ablations)")
    p.add_argument("--curiosity", help="none, icm or rnd (default none)")
    p.add_argument("--beta", type=float, help="intrinsic reward weight (default 0.05)")
    p.add_argument("--episodes", type=int, help="training runs; agents keep learning across them")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="output directory (default runs/<env>-<algo>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--load-agents", dest="load_agents", help="start from agents saved by an earlier run")
    p.add_argument("--freeze", action="store_true", help="do not learn (transfer evaluation)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda")
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), help="mixed precision")
    for flag in ("image-size", "max-train-images", "max-decisions", "steps-per-decision", "batch-size"):
        p.add_argument(f"--{flag}", dest=flag.replace("-", "_"), type=int, help="env override")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def _agents_argument(value: str) -> tuple[str, ...]:
    try:
        return parse_agents(value)
    except ConfigError as error:  # argparse shows ArgumentTypeError's message, not ValueError's
        raise argparse.ArgumentTypeError(str(error)) from error


def parse_config(argv: Sequence[str] | None) -> RunConfig:
    """Defaults, then the ``--config`` file, then the flags given."""
    given = vars(build_parser().parse_args(argv))
    settings: dict[str, Any] = read_yaml(given.pop("config")) if "config" in given else {}
    settings.update(given)
    return RunConfig(**settings)


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop stops after the current decision (a second signal aborts)."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name} received: stopping after this decision "
              "(a checkpoint is written; continue with --resume)", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
        envs.spec(config.env)
        agents.spec(config.algo)
        from training.loop import run  # heavy imports only once the arguments are valid
        stop = StopFlag()
        stop.install()
        print(f"run: env={config.env} algo={config.algo} agents={','.join(config.agents)} "
              f"curiosity={config.curiosity} seed={config.seed} out={config.out_dir}", flush=True)
        result = run(config, should_stop=stop)
    except (MLICError, AgentsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if result.interrupted:
        print(f"interrupted after {result.summary['decisions']} decisions; checkpoint in {config.out_dir}. "
              f"Continue with: python -m training.run_marl --out {config.out_dir} --resume "
              "(plus the same settings)", file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)
    print(json.dumps(result.summary, indent=2))
    print(f"outputs in {config.out_dir}: summary.json, steps.jsonl, tb/, report.png, agents/, checkpoint.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
