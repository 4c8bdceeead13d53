"""The reward a controller learns from: shared or individual, with or without curiosity.

``shape_rewards`` stacks the reward wrappers over a ParallelEnv in one fixed order, so that
``python -m training.run_marl`` and the benchmark sweeps build the same thing:

1. ``reward="individual"``: ``IndividualRewardWrapper`` gives each agent its own signal
   in place of the shared reward (the "w/o coordination" ablation);
2. ``curiosity="icm"|"rnd"``: the curiosity wrapper adds ``beta * intrinsic`` to
   whatever reward it receives.

With ``reward="shared"`` and ``curiosity="none"`` the env is returned unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.curiosity import make_curiosity
from agents.errors import AgentConfigError
from agents.individual_reward import IndividualRewardWrapper

REWARDS = ("shared", "individual")


def shape_rewards(env: Any, *, seed: int, reward: str = "shared", curiosity: str = "none",
                  tail_classes: Sequence[int] | None = None, **curiosity_options: Any) -> Any:
    """``env`` wrapped for ``reward`` and ``curiosity`` (``tail_classes``: the rare classes
    the ``loss`` agent is paid for under individual rewards, e.g. ``env.profile.tail_classes``)."""
    if reward not in REWARDS:
        raise AgentConfigError(f"reward {reward!r} is not one of {REWARDS}")
    stepper = env
    if reward == "individual":
        stepper = IndividualRewardWrapper(stepper, tail_classes=tail_classes)
    if curiosity != "none":
        stepper = make_curiosity(curiosity, stepper, seed=seed, **curiosity_options)
    return stepper
