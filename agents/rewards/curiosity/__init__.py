"""Curiosity reward wrappers (ICM, RND) for any PettingZoo ParallelEnv with a shared observation.

    from agents.rewards.curiosity import make_curiosity
    env = make_curiosity("icm", env, seed=0, beta=0.05)   # or ICMWrapper(env, seed=0)
"""
from __future__ import annotations

import difflib
from typing import Any

from pettingzoo import ParallelEnv

from agents.base import build_config
from agents.rewards.curiosity.base import CuriosityConfig, CuriosityWrapper, RunningStd
from agents.rewards.curiosity.icm import ICMConfig, ICMWrapper
from agents.rewards.curiosity.rnd import RNDWrapper
from agents.errors import UnknownCuriosityError

_WRAPPERS: dict[str, tuple[type[CuriosityWrapper], type[CuriosityConfig]]] = {
    "icm": (ICMWrapper, ICMConfig), "rnd": (RNDWrapper, CuriosityConfig)}
CURIOSITY: tuple[str, ...] = tuple(_WRAPPERS)


def make_curiosity(kind: str, env: ParallelEnv, *, seed: int,
                   **hyperparameters: Any) -> CuriosityWrapper:
    """Wrap ``env`` in the curiosity module ``kind`` (one of ``CURIOSITY``; ``"none"`` is not a
    module: ``agents.rewards.shape_rewards`` handles it)."""
    if kind not in _WRAPPERS:
        close = difflib.get_close_matches(str(kind), CURIOSITY, n=2, cutoff=0.4)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise UnknownCuriosityError(
            f"unknown curiosity module {kind!r}{hint} Known: {', '.join(CURIOSITY)}")
    wrapper, config = _WRAPPERS[kind]
    return wrapper(env, seed=seed, config=build_config(config, hyperparameters))


__all__ = ["CURIOSITY", "CuriosityConfig", "CuriosityWrapper", "ICMConfig", "ICMWrapper",
           "RNDWrapper", "RunningStd", "make_curiosity"]
