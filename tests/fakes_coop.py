"""The true Q of a controller's current policies on ``envs.fakes.InteractionGameEnv``.

The training measurement (``steps_to_optimum``) lives in ``benchmarks.credit_assignment``,
which plays the game through the episode driver.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.fakes.interaction import InteractionGameEnv, expected_reward, expected_team_reward


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
