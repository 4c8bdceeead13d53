"""The agents' share of wall time on the default run: acting, learning, curiosity.

    python -m benchmarks.overhead [--env mlic-digits] [--seeds 2] [--max-decisions N]

Runs ``training.run_marl``'s loop for ``mat-dqn`` without curiosity, with ICM and with
RND, and splits each decision's wall time into the env (training + evaluation + env
overhead) and the agents (``act``, ``observe``/learn, the curiosity model's update).
Target: agents <= 2% of wall time. It also gives the env's label-effect probe (observation
version 2) as a share of the training time (target: <= 1%). Results go to ``benchmarks/results/overhead.md``.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from training.core import cli
from agents.rewards import CURIOSITY_CHOICES
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.reporting import add_env_flags, command_line, env_overrides
from training.core.config import RunConfig
from training.core.logs import read_steps
from training.run.loop import run

RESULTS = Path(__file__).resolve().parents[1] / "results" / "overhead.md"


def measure(env_id: str, curiosity: str, seed: int, overrides: dict[str, Any]) -> dict[str, float]:
    """Percent of wall time per part for one run (``overrides`` go to the env)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(env=env_id, algo="mat-dqn", curiosity=curiosity, seed=seed, out=tmp,
                           progress=False, env_overrides=overrides)
        result = run(config)
        steps = read_steps(Path(tmp))
    wall = result.summary["wall_s"]
    parts = {k: sum(s["time"][k] for s in steps) for k in ("act_s", "learn_s", "curiosity_s")}
    share = {k: 100 * v / wall for k, v in parts.items()}
    share["agents"] = 100 * result.summary["agent_overhead_share"]
    # the env's label-effect probe (observation version 2) against the training it follows
    train_s = sum(s["time"]["train_s"] for s in steps)
    share["probe"] = 100 * sum(s["time"].get("probe_s", 0.0) for s in steps) / train_s
    share["wall_s"] = wall
    return share


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = cli.parser("benchmarks.overhead", __doc__,
                        example="python -m benchmarks.overhead --env mlic-digits --seeds 2")
    what = parser.add_argument_group("what to run")
    output = parser.add_argument_group("output")
    what.add_argument("--env", default="mlic-digits",
                      help="the env id each mat-dqn run trains in (envs.list_envs())")
    what.add_argument("--seeds", type=cli.positive_int, default=2,
                      help="runs per curiosity setting (seeds 0..N-1)")
    what.add_argument("--max-decisions", type=cli.positive_int, default=None,
                      help="decisions per run, one segment each (default: the env's)")
    output.add_argument("--out", type=Path, default=RESULTS, help="the markdown report")
    add_env_flags(parser)
    args = parser.parse_args(argv)
    overrides = env_overrides(args, quick=False)
    if args.max_decisions is not None:
        overrides["max_decisions"] = args.max_decisions
    rows = []
    for curiosity in CURIOSITY_CHOICES:
        runs = [measure(args.env, curiosity, seed, overrides) for seed in range(args.seeds)]
        row = [f"mat-dqn, curiosity={curiosity}"] + [
            mean_std([r[k] for r in runs], 3)
            for k in ("act_s", "learn_s", "curiosity_s", "agents", "probe")]
        row.append(mean_std([r["wall_s"] for r in runs], 1))
        rows.append(row)
        print(" | ".join(row), flush=True)
    table = markdown_table(["run", "act (%)", "learn (%)", "curiosity (%)", "agents total (%)",
                            "label probe (% of training)", "run wall time (s)"], rows)
    command = command_line("benchmarks.overhead", argv if argv is not None else sys.argv[1:])
    share = ("share of the run's wall time spent in the agents; target <= 2%. Label probe: "
             "the env's label-effect probe (observation version 2) as a share of the training "
             "time it follows; target <= 1%")
    text = (result_header("Agent overhead on the default run", command, seeds=args.seeds,
                          details=[share]) + f"\n{table}\n")
    write_result(args.out, text)
