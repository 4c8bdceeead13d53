"""Measurements on ``envs.fakes.InteractionGameEnv``: greedy optimality, steps to the optimum, true Q.

``steps_to_optimum`` is the measurement shared by ``tests/test_credit_assignment.py``
and ``benchmarks/credit_assignment.py``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.fakes.interaction import OPTIMUM, InteractionGameEnv, expected_reward, expected_team_reward


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


def steps_to_optimum(make: Callable[[InteractionGameEnv], Any], seed: int, budget: int,
                     check_every: int = 5) -> Run:
    """Train ``make(env)`` for ``budget`` steps; every ``check_every`` steps test its greedy choice.

    ``since`` is the first checked step from which the greedy joint action was optimal at
    every later check until the end (None if it was not optimal at the end).
    """
    env = InteractionGameEnv()
    run = Run(None, make(env))
    obs, _ = env.reset(seed=seed)
    for step in range(1, budget + 1):
        actions = run.controller.act(obs)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        logs = run.controller.observe(obs, actions, rewards, next_obs, terms, truncs, infos)
        run.logs.append(logs)
        obs = next_obs if env.agents else env.reset()[0]
        if step % check_every == 0:
            optimal = greedy_is_optimal(run.controller, env)
            run.since = (run.since or step) if optimal else None
    return run


def true_q(controller: Any, env: InteractionGameEnv, joint: Mapping[str, int],
           gamma: float) -> np.ndarray:
    """``Q^pi(s_t, joint)`` at every step t of an episode, for ``controller``'s current policies.

    Backward recursion on the known game: ``V_T = 0``, ``V_t = E_{pi(.|s_t)}[r] + gamma V_{t+1}``,
    ``Q_t(a) = r(a) + gamma V_{t+1}``; the episode's end is final, as for the controllers.
    Needs ``controller.action_probs(observation)`` (the ma2ml controllers have it).
    """
    values, q = [0.0], []
    for t in reversed(range(env.max_steps)):
        q.append(expected_reward(joint) + gamma * values[-1])
        probs = controller.action_probs(env.observation_at(t))
        values.append(expected_team_reward(probs) + gamma * values[-1])
    return np.array(q[::-1])
