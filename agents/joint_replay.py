"""A replay buffer of *joint* transitions for centralized critics (``ma2ml``).

SB3's ``ReplayBuffer`` stores one agent's action per row; a centralized critic needs the
whole joint action, and an off-policy correction needs the probability each agent's
behaviour policy gave its action. This ring buffer keeps both, samples from its own
``np.random.Generator`` and checkpoints to tensors (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.buffer_state import load_ring_state, ring_state

_ARRAYS = ("states", "actions", "behaviour_logp", "rewards", "next_states", "dones")


@dataclass(frozen=True)
class JointBatch:
    """Sampled transitions as tensors, one row each."""

    states: torch.Tensor
    """(B, state_dim) float32 global states."""
    actions: torch.Tensor
    """(B, n_agents) int64 joint actions, in the controller's agent order."""
    behaviour_logp: torch.Tensor
    """(B, n_agents) float32 log-probability the acting policies gave each agent's action."""
    rewards: torch.Tensor
    """(B,) float32 team rewards."""
    next_states: torch.Tensor
    """(B, state_dim) float32 next global states."""
    dones: torch.Tensor
    """(B,) float32, 1 where the episode ended (nothing to bootstrap from)."""


class JointReplayBuffer:
    """Fixed-capacity ring buffer of joint transitions.

    Args:
        capacity: rows kept; the oldest are overwritten first.
        state_dim: length of the global-state vector.
        n_agents: entries of a joint action.
        seed: seed of the private sampling generator.
    """

    def __init__(self, capacity: int, state_dim: int, n_agents: int, seed: int) -> None:
        self.capacity = int(capacity)
        self.states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, n_agents), dtype=np.int64)
        self.behaviour_logp = np.zeros((capacity, n_agents), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.pos, self.full = 0, False
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(self, state: np.ndarray, actions: np.ndarray, behaviour_logp: np.ndarray,
            reward: float, next_state: np.ndarray, done: bool) -> None:
        i = self.pos
        self.states[i], self.actions[i], self.behaviour_logp[i] = state, actions, behaviour_logp
        self.rewards[i], self.next_states[i], self.dones[i] = reward, next_state, float(done)
        self.pos = (i + 1) % self.capacity
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int) -> JointBatch:
        """``batch_size`` rows drawn uniformly with replacement from the private generator."""
        if len(self) == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        rows = self.rng.integers(0, len(self), size=batch_size)
        return JointBatch(*(torch.from_numpy(getattr(self, k)[rows]) for k in _ARRAYS))

    def state_dict(self) -> dict[str, Any]:
        """The stored rows (as tensors), write position and generator state."""
        return ring_state(self, _ARRAYS, len(self))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_ring_state(self, _ARRAYS, self.capacity, state)
