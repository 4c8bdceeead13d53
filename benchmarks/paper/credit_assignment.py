"""Steps to the optimal joint action on a cooperative game with a known reward: ma2ml vs the rest.

    python -m benchmarks.credit_assignment [--seeds 6] [--budget 1000]

The game is ``envs.fakes.InteractionGameEnv`` (four agents, each action adds its own
term, one pair of actions adds an interaction bonus, noise 0.1); the measurement is the
same ``steps_to_optimum`` that ``tests/test_credit_assignment.py`` asserts on, so the table
and the test cannot drift apart. For each learner and seed: the first step (checked every
5) from which the greedy joint action stayed optimal until the end of the budget. Every
learner runs its defaults, without discount (a repeated one-shot game), ``mat-dqn`` with
the budget as its run (``begin(total_steps=budget)``). ``bandit``'s constant step size
makes its greedy arm flicker under noise (see ``agents/baselines.py``), so "optimal until
the end" is harder for it the longer the run. Results go to ``benchmarks/results/credit_assignment.md``.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from training.core import cli
from agents import make_controller
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from envs.fakes import InteractionGameEnv
from envs.fakes.interaction import OPTIMUM
from training.core.callbacks import StopOn
from training.core.episode import Callback, StepContext
from training.core.episode import run as run_episodes

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "credit_assignment.md"
LEARNERS: dict[str, dict[str, object]] = {
    "ma2ml": {"gamma": 0.0}, "ma2ml-lite": {"gamma": 0.0}, "mat-dqn": {"gamma": 0.0}, "bandit": {}}


def greedy_is_optimal(controller: Any, env: InteractionGameEnv) -> bool:
    """Whether the frozen joint choice is ``OPTIMUM`` at the start, middle and end of an episode."""
    probes = (0, env.max_steps // 2, env.max_steps - 1)
    return all(controller.act({a: env.observation_at(t) for a in env.possible_agents},
                              training=False) == OPTIMUM for t in probes)


@dataclass
class Run:
    """One training run on the game: when it found the optimum, the controller, its logs."""

    since: int | None
    """First checked step from which the greedy joint action stayed optimal to the end."""
    controller: Any
    logs: list[dict[str, float]] = field(default_factory=list)
    """What every ``observe`` returned."""


class _TrackOptimum(Callback):
    """Every ``every`` steps, checks the greedy joint action; keeps every ``observe`` log."""

    def __init__(self, run: Run, env: InteractionGameEnv, every: int) -> None:
        self.run, self.env, self.every = run, env, every

    def on_step(self, ctx: StepContext) -> bool:
        self.run.logs.append(dict(ctx.logs))
        if ctx.step % self.every == 0:
            optimal = greedy_is_optimal(self.run.controller, self.env)
            self.run.since = (self.run.since or ctx.step) if optimal else None
        return True


def steps_to_optimum(make: Callable[[InteractionGameEnv], Any], seed: int, budget: int,
                     check_every: int = 5) -> Run:
    """Train ``make(env)`` for ``budget`` steps; every ``check_every`` steps test its greedy choice.

    ``since`` is the first checked step from which the greedy joint action was optimal at
    every later check until the end (None if it was not optimal at the end). Only the first
    episode is seeded; the run stops after ``budget`` steps, mid-episode if need be.
    """
    env = InteractionGameEnv()
    run = Run(None, make(env))
    run_episodes(env, run.controller, episodes=math.ceil(budget / env.max_steps), seed=seed,
                 total_steps=budget, seed_each_episode=False,
                 callbacks=[_TrackOptimum(run, env, check_every), StopOn(lambda c: c.step >= budget)])
    return run


def measure(algo: str, seeds: int, budget: int) -> list[int | None]:
    """Steps to the optimum per seed (None: not optimal at the end of the budget)."""
    return [steps_to_optimum(lambda env, s=seed: make_controller(algo, env, seed=s, **LEARNERS[algo]),
                             seed, budget).since for seed in range(seeds)]


def table(results: dict[str, list[int | None]], budget: int) -> str:
    rows = []
    for algo, found in results.items():
        censored = [budget if s is None else s for s in found]
        reached = [s for s in found if s is not None]
        rows.append([f"`{algo}`", ", ".join("-" if s is None else str(s) for s in found),
                     f"{len(reached)}/{len(found)}", mean_std(censored, 0),
                     f"{statistics.median(censored):.0f}"])
    return markdown_table(["learner", "steps per seed (-: not at the end)", "reached",
                           f"mean ± std (misses count {budget})", "median"], rows)


@cli.command(returns_status=True)
def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("benchmarks.credit_assignment", __doc__.splitlines()[0],
                        example="python -m benchmarks.credit_assignment --seeds 6 --budget 1000")
    parser.add_argument("--seeds", type=cli.positive_int, default=6,
                        help="seeds of every learner, 0..N-1 (default 6)")
    parser.add_argument("--budget", type=cli.positive_int, default=1000,
                        help="env steps per run, the learner's whole run (default 1000)")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report "
                             "(default benchmarks/results/credit_assignment.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny MLPs: one thread is fastest and steadiest
    results = {algo: measure(algo, args.seeds, args.budget) for algo in LEARNERS}
    body = table(results, args.budget)
    command = f"python -m benchmarks.credit_assignment --seeds {args.seeds} --budget {args.budget}"
    report = (result_header("Credit assignment: steps to the optimal joint action", command,
                            seeds=args.seeds)
              + f"\n{body}\n\n{__doc__.split(chr(10) + chr(10), 2)[2].strip()}\n")
    print(body)
    write_result(args.out, report)
    return 0
