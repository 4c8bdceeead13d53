"""Saving and restoring a ring buffer of numpy arrays (the replay buffers' checkpoint state).

Both replay buffers (the SB3 subclass in ``agents.replay`` and ``agents.joint_replay``)
store rows in fixed-size numpy arrays with a write position, a full flag and their own
numpy generator; this is the one place that turns that into tensors and back.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from agents.base import generator_state, set_generator_state
from agents.errors import ControllerCheckpointError


def ring_state(buffer: Any, keys: Sequence[str], filled: int) -> dict[str, Any]:
    """The first ``filled`` rows of each array (as tensors), write position and generator state."""
    state: dict[str, Any] = {k: torch.from_numpy(getattr(buffer, k)[:filled].copy()) for k in keys}
    state.update(pos=int(buffer.pos), full=bool(buffer.full), rng=generator_state(buffer.rng))
    return state


def load_ring_state(buffer: Any, keys: Sequence[str], capacity: int, state: Mapping[str, Any]) -> None:
    """Restore :func:`ring_state` output into ``buffer`` (arrays must fit its shapes)."""
    n = capacity if state["full"] else int(state["pos"])
    for key in keys:
        values, target = state[key].numpy(), getattr(buffer, key)
        if values.shape[0] != n or values.shape[1:] != target.shape[1:] or n > len(target):
            raise ControllerCheckpointError(
                f"replay buffer {key} of shape {tuple(values.shape)} does not fit a buffer "
                f"of shape {target.shape}")
        target[:n] = values
    buffer.pos, buffer.full = int(state["pos"]), bool(state["full"])
    set_generator_state(buffer.rng, state["rng"])
