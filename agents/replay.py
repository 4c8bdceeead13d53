"""An SB3 ``ReplayBuffer`` that samples from its own seeded generator and can be checkpointed.

SB3's ``ReplayBuffer.sample`` draws indices from the global ``np.random`` (SB3 2.x,
``BaseBuffer.sample``), so two controllers in one process would perturb each other and
a resumed run would not replay the same batches. This subclass keeps the storage and
sample layout of SB3 and only replaces where the indices come from.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from agents.base import generator_state, set_generator_state
from agents.errors import ControllerCheckpointError

_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class SeededReplayBuffer(ReplayBuffer):
    """``ReplayBuffer`` with a private ``np.random.Generator`` for sampling.

    Args:
        sampler_seed: seed of the index generator (passed via ``replay_buffer_kwargs``).
        *args, **kwargs: as for ``stable_baselines3.common.buffers.ReplayBuffer``.
    """

    def __init__(self, *args: Any, sampler_seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.optimize_memory_usage:
            raise ValueError("SeededReplayBuffer does not support optimize_memory_usage=True")
        self.rng = np.random.default_rng(sampler_seed)

    @property
    def size_filled(self) -> int:
        """Number of stored transitions."""
        return self.buffer_size if self.full else self.pos

    def sample(self, batch_size: int, env: Any = None) -> ReplayBufferSamples:
        # With n_envs == 1, SB3's _get_samples still draws its env index (always 0) from the
        # global np.random; that draw cannot change the batch, so determinism holds.
        batch_inds = self.rng.integers(0, self.size_filled, size=batch_size)
        return self._get_samples(batch_inds, env=env)

    def state_dict(self) -> dict[str, Any]:
        """The stored transitions (as tensors), write position and generator state."""
        n = self.size_filled
        state: dict[str, Any] = {k: torch.from_numpy(getattr(self, k)[:n].copy()) for k in _ARRAYS}
        state.update(pos=int(self.pos), full=bool(self.full), rng=generator_state(self.rng))
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        n = self.buffer_size if state["full"] else int(state["pos"])
        for key in _ARRAYS:
            values = state[key].numpy()
            target = getattr(self, key)
            if values.shape[0] != n or values.shape[1:] != target.shape[1:] or n > len(target):
                raise ControllerCheckpointError(
                    f"replay buffer {key} of shape {tuple(values.shape)} does not fit a buffer "
                    f"of shape {target.shape}")
            target[:n] = values
        self.pos, self.full = int(state["pos"]), bool(state["full"])
        set_generator_state(self.rng, state["rng"])
