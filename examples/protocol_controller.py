"""A controller written outside the library, put on the leaderboard as it is:

    python -m benchmarks.protocol --algo examples.protocol_controller:MyController --resume

Any ``agents.base.Controller`` subclass will do; this one starts from ``StaticController``
(a fixed action per agent, saved and loaded with its config) and adds one rule.
"""
from __future__ import annotations

from typing import Any

from agents import StaticController
from agents.base import action_names


class MyController(StaticController):
    """The env's default recipe (the protocol offers it as ``choices``), then plain SGD from
    half the run on."""

    name = "my-controller"

    def __init__(self, env: Any, *, seed: int = 0, config: Any = None) -> None:
        super().__init__(env, seed=seed, config=config)
        self.sgd, self.steps = action_names(env, ["opt"])["opt"].index("sgd"), 0

    def act(self, observations: Any, training: bool = True) -> dict[str, int]:
        actions = super().act(observations, training)
        if "opt" in actions and self.steps >= self.require_begun() / 2:
            actions["opt"] = self.sgd
        return actions

    def observe(self, transition: Any) -> dict[str, float]:
        self.steps += 1
        return {}
