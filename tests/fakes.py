"""Helpers to drive controllers in the agent tests: a rollout (through the episode driver) and
exact comparison.

The cheap env they drive is ``envs.fakes.CooperativeFakeEnv``.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from pettingzoo import ParallelEnv

from training.core.callbacks import StopOn
from training.core.episode import Callback, DriverState, StepContext, run


def rollout(controller: Any, env: ParallelEnv, steps: int, state: DriverState | None = None,
            seed: int = 0, training: bool = True, total_steps: int = 100
            ) -> tuple[list[dict], list[dict], DriverState]:
    """Drive ``controller`` for ``steps`` env steps through the episode driver.

    The first reset is seeded with ``seed``; later episodes continue the env's generator.
    ``state`` continues an earlier rollout (its last return value); ``total_steps`` is
    the run told to the controller (``begin``). ``training=False`` plays greedily and
    learns nothing. Returns the joint actions, the logs of every ``observe`` and the state.
    """
    state = state if state is not None else DriverState()
    seen = _Seen()
    target = state.step + steps
    run(env, controller, episodes=state.episode + steps + 1, seed=seed,
        total_steps=total_steps if training else None, state=state, learn=training,
        seed_each_episode=False,
        callbacks=[seen, StopOn(lambda ctx: ctx.step >= target)])
    return seen.actions, seen.logs, state


class _Seen(Callback):
    def __init__(self) -> None:
        self.actions: list[dict[str, int]] = []
        self.logs: list[dict[str, float]] = []

    def on_step(self, ctx: StepContext) -> bool:
        self.actions.append(dict(ctx.transition.actions))
        self.logs.append(dict(ctx.logs))
        return True


def torch_round_trip(state: Any) -> Any:
    """``state`` after ``torch.save`` and ``torch.load(weights_only=True)``, as a checkpoint."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Exact equality of nested dicts / lists / tensors / arrays / scalars."""
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{path}: tensors differ"
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
