"""Reward wrappers: what a controller learns from (shared or individual, with or without curiosity).

* ``individual``: ``IndividualRewardWrapper``, one signal per agent instead of the shared
  reward (the "w/o coordination" ablation);
* ``curiosity``: the ICM and RND wrappers, which add ``beta * intrinsic`` to the reward.

``shape_rewards`` stacks them over a ParallelEnv in one fixed order, so that
``python -m training.run_marl`` and the benchmark sweeps build the same thing:

1. ``reward="individual"``: ``IndividualRewardWrapper`` gives each agent its own signal
   in place of the shared reward;
2. ``curiosity="icm"|"rnd"``: the curiosity wrapper adds ``beta * intrinsic`` to
   whatever reward it receives.

With ``reward="shared"`` and ``curiosity="none"`` the env is returned unchanged.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from agents.errors import AgentConfigError, UnknownCuriosityError
from agents.rewards.curiosity import CURIOSITY, make_curiosity
from agents.rewards.individual import IndividualRewardConfig, IndividualRewardWrapper
from envs.reward import RewardConfig

REWARDS = ("shared", "individual")
"""What each agent is paid: the env's shared reward, or a signal of its own."""
CURIOSITY_CHOICES: tuple[str, ...] = ("none", *CURIOSITY)
"""``none`` or a curiosity module."""


def check_choice(name: str, value: str, choices: Sequence[str],
                 error: type[Exception] = AgentConfigError) -> None:
    """Raise ``error`` naming ``name``, the valid ``choices`` and a close match, unless valid."""
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise error(f"{name} {value!r} is not one of {tuple(choices)}.{hint}")


def shape_rewards(env: Any, *, seed: int, reward: str = "shared", curiosity: str = "none",
                  tail_classes: Sequence[int] | None = None,
                  penalty: RewardConfig | None = None, **curiosity_options: Any) -> Any:
    """``env`` wrapped for ``reward`` and ``curiosity``.

    ``tail_classes``: the rare classes the ``loss`` agent is paid for under individual
    rewards (e.g. ``env.profile.tail_classes``); ``penalty``: the env's ``RewardConfig``,
    whose ``w_pen`` and ``switch_cost`` the individual rewards share (default: its defaults).
    """
    check_choice("reward", reward, REWARDS)
    check_choice("curiosity", curiosity, CURIOSITY_CHOICES, UnknownCuriosityError)
    stepper = env
    if reward == "individual":
        stepper = IndividualRewardWrapper(stepper, tail_classes=tail_classes, penalty=penalty)
    if curiosity != "none":
        stepper = make_curiosity(curiosity, stepper, seed=seed, **curiosity_options)
    return stepper


__all__ = ["CURIOSITY_CHOICES", "REWARDS", "IndividualRewardConfig", "IndividualRewardWrapper",
           "check_choice", "make_curiosity", "shape_rewards"]
