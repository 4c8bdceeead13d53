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
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from agents.buffer_state import load_ring_state, ring_state

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
        """The stored rows (as tensors), write position and generator state."""
        return ring_state(self, _ARRAYS, self.size_filled)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_ring_state(self, _ARRAYS, self.buffer_size, state)
