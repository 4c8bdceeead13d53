"""What the controllers share: seeded generators and MLPs, replay buffers, checkpoint helpers.

* **Seeding.** All randomness comes from explicit generators built from the ``seed`` a
  controller is given (``spawn_generators``), never from the global ``numpy`` / ``torch``
  ones; ``redraw_linear_`` re-draws torch layers from such a generator.
* **The shared state.** The centralized learner (``ma2ml``) takes the observation
  every agent shares as the global state (``shared_state_dim``, ``as_state``,
  ``joint_step``): in ``MLICTrainingEnv``, as in the test fakes, ``env.state()`` *is* it.
* **Replay buffers.** ``SeededReplayBuffer`` (one agent's SB3 buffer, for ``mat-dqn``) and
  ``JointReplayBuffer`` (joint transitions for a centralized critic, ``ma2ml``) both store
  rows in fixed-size numpy arrays with a write position and their own generator;
  ``ring_state`` / ``load_ring_state`` turn that into tensors and back for checkpoints.
  SB3's ``ReplayBuffer.sample`` draws indices from the global ``np.random`` (SB3 2.x,
  ``BaseBuffer.sample``), so two controllers in one process would perturb each other and a
  resumed run would not replay the same batches: the subclass only replaces where the
  indices come from.
* **Checkpoint helpers.** Loading a module, an optimizer or a saved file with an error
  that says which part did not fit, or that the file is damaged (``check_archive``).
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from torch import nn

from agents.base import Transition
from agents.errors import AgentConfigError, ControllerCheckpointError
from envs.checks import archive_problem


# ------------------------------------------------------------------- seeding
def spawn_generators(seed: int, count: int) -> list[np.random.Generator]:
    """``count`` independent numpy generators derived from one seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def spawn_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent integer seeds derived from one seed (for torch / numpy generators)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(count)]


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A copy of a numpy generator's state (plain ints and strings)."""
    return json.loads(json.dumps(rng.bit_generator.state))


def set_generator_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    rng.bit_generator.state = dict(state)


# ------------------------------------------------------------ shared state
def shared_state_dim(env: Any, agents: Sequence[str], who: str) -> int:
    """Length of the observation all ``agents`` share, which ``who`` takes as the global state.

    Fails unless every agent has the same flat ``Box`` observation space.
    """
    found = {a: env.observation_space(a) for a in agents}
    first = found[agents[0]]
    if not isinstance(first, spaces.Box) or len(first.shape) != 1 or any(
            s.shape != first.shape for s in found.values()):
        raise AgentConfigError(
            f"{who} takes the shared observation as the global state, so every agent needs "
            f"the same flat Box observation space; got {found}")
    return int(first.shape[0])


def as_state(observation: Any) -> torch.Tensor:
    """One observation as a (1, state_dim) float32 batch."""
    return torch.from_numpy(np.array(observation, dtype=np.float32)).reshape(1, -1)


def joint_step(transition: Transition, agents: Sequence[str], who: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state, joint action in ``agents`` order, next state) of one env step.

    ``who`` (a centralized learner) needs every agent's action. The state is the first
    agent's observation (they all share it); without a next observation, it is also the
    next state.
    """
    t = transition
    missing = [a for a in agents if a not in t.actions]
    if missing:
        raise AgentConfigError(f"{who} needs every agent's action; missing {missing}")
    first = agents[0]
    state = as_state(t.observations[first])[0].numpy()
    next_state = as_state(t.next_observations.get(first, t.observations[first]))[0].numpy()
    joint = np.array([int(t.actions[a]) for a in agents], dtype=np.int64)
    return state, joint, next_state


# ---------------------------------------------------------------------- nets
def redraw_linear_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every ``nn.Linear`` in ``module`` as torch's default init does, from ``generator``.

    torch's own ``reset_parameters`` reads the global generator; this keeps weights a
    function of an explicit seed. Other layer types keep their (deterministic or global) init.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    bound = 1.0 / math.sqrt(layer.in_features)
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


def mlp(sizes: list[int], generator: torch.Generator) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them, seeded by ``generator``."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return redraw_linear_(nn.Sequential(*layers), generator)  # type: ignore[return-value]


# ------------------------------------------------------------ replay buffers
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


_SB3_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class SeededReplayBuffer(ReplayBuffer):
    """``ReplayBuffer`` with a private ``np.random.Generator`` for sampling.

    Args:
        sampler_seed: seed of the index generator (passed via ``replay_buffer_kwargs``).
        *args, **kwargs: as for ``stable_baselines3.common.buffers.ReplayBuffer``.
    """

    def __init__(self, *args: Any, sampler_seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.optimize_memory_usage:
            raise AgentConfigError("SeededReplayBuffer does not support optimize_memory_usage=True")
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
        return ring_state(self, _SB3_ARRAYS, self.size_filled)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_ring_state(self, _SB3_ARRAYS, self.buffer_size, state)


_JOINT_ARRAYS = ("states", "actions", "behaviour_logp", "rewards", "next_states", "dones")


@dataclass(frozen=True)
class JointBatch:
    """Sampled transitions as tensors, one row each."""

    states: torch.Tensor
    """(B, state_dim) float32 global states."""
    actions: torch.Tensor
    """(B, n_agents) int64 joint actions, in the controller's agent order."""
    behaviour_logp: torch.Tensor
    """(B, n_agents) float32 log-probability the acting policies gave each agent's action
    (zeros from learners that do not need it)."""
    rewards: torch.Tensor
    """(B,) float32 team rewards."""
    next_states: torch.Tensor
    """(B, state_dim) float32 next global states."""
    dones: torch.Tensor
    """(B,) float32, 1 where there is nothing to bootstrap from (``ma2ml``: the episode
    ended)."""


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
        return JointBatch(*(torch.from_numpy(getattr(self, k)[rows]) for k in _JOINT_ARRAYS))

    def state_dict(self) -> dict[str, Any]:
        """The stored rows (as tensors), write position and generator state."""
        return ring_state(self, _JOINT_ARRAYS, len(self))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        load_ring_state(self, _JOINT_ARRAYS, self.capacity, state)


# -------------------------------------------------------- checkpoint helpers
def load_module(module: nn.Module, state: Mapping[str, Any], what: str) -> None:
    """``module.load_state_dict(state)``, or a ``ControllerCheckpointError`` naming ``what``."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError) as error:
        raise ControllerCheckpointError(f"{what}: {error}") from error


def load_optimizer(optimizer: torch.optim.Optimizer, state: Mapping[str, Any], what: str) -> None:
    """``optimizer.load_state_dict(state)`` (on a copy), or an error naming ``what``."""
    try:
        optimizer.load_state_dict(copy.deepcopy(dict(state)))
    except (RuntimeError, KeyError, ValueError) as error:
        raise ControllerCheckpointError(f"{what}: {error}") from error


def load_file(path: Path, what: str) -> dict[str, Any]:
    """A ``torch.save``d dict written by a controller's ``save``, or a clear error if it is
    missing or damaged."""
    if not path.is_file():
        raise ControllerCheckpointError(f"{path} is missing: not a saved {what}")
    check_archive(path, what)
    try:
        return torch.load(path, weights_only=True)
    except (RuntimeError, EOFError, ValueError) as error:  # intact archive, bad contents
        raise damaged(path, what, f"{type(error).__name__}: {error}") from error


def check_archive(path: Path, what: str, members: Sequence[str] = ()) -> None:
    """Refuse a saved weights file that is not the whole zip archive it was written as (both
    ``torch.save`` and SB3's ``save`` write one): cut short by a full disk or an interrupted
    copy, or overwritten. ``members`` are files the archive must hold (a truncated SB3 zip can
    still open, as the torch archive nested in it)."""
    problem = archive_problem(path, members)
    if problem is not None:
        raise damaged(path, what, problem)


def damaged(path: Path, what: str, detail: str) -> ControllerCheckpointError:
    """The error for a saved file that was written but cannot be read back."""
    return ControllerCheckpointError(
        f"{path} is damaged ({detail}): the file of the {what} is truncated or corrupted, not a "
        "controller of another shape. Save or copy the controller again (for a zoo entry, "
        "reinstall the package)")
