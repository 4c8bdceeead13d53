"""A cheap cooperative game whose reward is known, to show credit assignment (no images).

``InteractionGameEnv`` is a PettingZoo ParallelEnv with the agents of the MLIC env. The
shared reward of a joint action ``a`` is::

    r(a) = sum_i w_i[a_i] + BONUS * [a_aug == 2 and a_opt == 1] + noise * N(0, 1)

Each agent's choice adds its own term; ``aug``'s choice 2 is only its second best alone
(0.20 < 0.30) but, together with ``opt``'s best choice 1, earns the interaction bonus, so
the optimal joint action is ``OPTIMUM`` (expected reward 1.25; the best joint action
without the bonus earns 1.05). The observation is the episode progress ``[2 t / T - 1]``.
The noise comes from a generator seeded by ``reset(seed=...)``.

``steps_to_optimum`` is the measurement shared by ``tests/test_credit_assignment.py``
and ``benchmarks/credit_assignment.py``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

WEIGHTS: dict[str, tuple[float, ...]] = {
    "aug": (0.30, 0.00, 0.20, 0.10),
    "opt": (0.00, 0.30, 0.10, 0.20),
    "lrs": (0.10, 0.00, 0.25),
    "loss": (0.20, 0.10, 0.00),
}
"""Each agent's own contribution w_i[a_i]; any two of an agent's choices differ by >= 0.1."""
BONUS = 0.3
PAIR = {"aug": 2, "opt": 1}
"""The joint choice of two agents that earns ``BONUS``."""
OPTIMUM: dict[str, int] = {"aug": 2, "opt": 1, "lrs": 2, "loss": 0}
NOISE = 0.1
"""Default standard deviation of the reward noise."""


def expected_reward(joint: Mapping[str, int]) -> float:
    """The noise-free reward of one joint action."""
    own = sum(WEIGHTS[a][int(joint[a])] for a in WEIGHTS)
    return own + BONUS * all(int(joint[a]) == c for a, c in PAIR.items())


def contribution(agent: str, action: int, others: Mapping[str, int] = OPTIMUM) -> float:
    """What ``agent`` playing ``action`` earns when every other agent plays ``others``."""
    return expected_reward({**others, agent: action})


def expected_team_reward(probs: Mapping[str, np.ndarray]) -> float:
    """E[r] when each agent draws independently from ``probs[agent]``."""
    own = sum(float(np.dot(probs[a], WEIGHTS[a])) for a in WEIGHTS)
    return own + BONUS * float(np.prod([probs[a][c] for a, c in PAIR.items()]))


class InteractionGameEnv(ParallelEnv):
    """Repeated cooperative game with a known reward (see the module docstring)."""

    metadata = {"name": "interaction_game_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, max_steps: int = 25, noise: float = NOISE) -> None:
        self.max_steps, self.noise = int(max_steps), float(noise)
        self.render_mode = None
        self.possible_agents = list(WEIGHTS)
        self.agents: list[str] = []
        self._action_spaces = {a: spaces.Discrete(len(w)) for a, w in WEIGHTS.items()}
        self._observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.state_space = self._observation_space
        self._rng: np.random.Generator | None = None
        self._step = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self._step = 0
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("episode over: call reset()")
        assert self._rng is not None
        reward = expected_reward(actions) + self.noise * float(self._rng.normal())
        self._step += 1
        truncated = self._step >= self.max_steps
        agents, observations = self.agents, self._observations()
        if truncated:
            self.agents = []
        return (observations, {a: reward for a in agents}, {a: False for a in agents},
                {a: truncated for a in agents}, {a: {} for a in agents})

    def state(self) -> np.ndarray:
        return self.observation_at(self._step)

    def observation_at(self, step: int) -> np.ndarray:
        """The observation at ``step`` of an episode (``step`` decisions already taken)."""
        return np.array([2.0 * step / self.max_steps - 1.0], dtype=np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.state() for a in self.agents}


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
