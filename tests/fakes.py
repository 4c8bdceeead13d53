"""Helpers to drive controllers in the agent tests: a rollout, exact comparison, one thread.

The cheap env they drive is ``envs.fakes.CooperativeFakeEnv``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np
import pytest
import torch
from pettingzoo import ParallelEnv


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny MLPs run fastest, and least disturbed by other jobs, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def rollout(controller: Any, env: ParallelEnv, steps: int, obs: dict | None = None,
            seed: int = 0, training: bool = True) -> tuple[list[dict], list[dict], dict]:
    """Drive ``controller`` for ``steps`` env steps (resetting at episode ends).

    Returns the joint actions, the logs of every ``observe`` and the last observations.
    """
    if obs is None:
        obs, _ = env.reset(seed=seed)
    actions_seen, logs = [], []
    for _ in range(steps):
        actions = controller.act(obs, training=training)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        logs.append(controller.observe(obs, actions, rewards, next_obs, terms, truncs, infos))
        actions_seen.append(actions)
        obs = next_obs if env.agents else env.reset()[0]
    return actions_seen, logs, obs


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
