"""The controller interface the training loop drives, and the plumbing controllers share.

A *controller* chooses one Discrete action per agent of a PettingZoo ``ParallelEnv``
and learns from the joint transitions it is shown. It sees the env only through
``possible_agents``, ``action_space(agent)`` and ``observation_space(agent)``, and all
of its randomness comes from generators built from the ``seed`` given at construction,
never from the global ``numpy`` / ``torch`` generators.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from agents.errors import AgentConfigError, ControllerCheckpointError

MANIFEST = "controller.json"
"""File that ``save`` writes beside the artefacts: algorithm, agents and hyperparameters."""

Observations = Mapping[str, np.ndarray]
C = TypeVar("C")


@runtime_checkable
class Controller(Protocol):
    """What ``training.run_marl`` needs from an algorithm."""

    name: str
    agents: list[str]
    training: bool

    def act(self, observations: Observations, training: bool = True) -> dict[str, int]: ...

    def observe(self, observations: Observations, actions: Mapping[str, int],
                rewards: Mapping[str, float], next_observations: Observations,
                terminations: Mapping[str, bool], truncations: Mapping[str, bool],
                infos: Mapping[str, dict]) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def save(self, directory: Path) -> None: ...

    def load_artifacts(self, directory: Path) -> None: ...


class BaseController:
    """Shared bookkeeping: the agents, their action sizes, the frozen flag and the manifest.

    Subclasses set ``name``, keep their hyperparameters in ``self.config`` (a dataclass)
    and implement ``act``, ``observe``, ``_state``, ``_load_state``, ``_save_artifacts``
    and ``load_artifacts``.
    """

    name: str = "base"

    def __init__(self, env: ParallelEnv, config: Any) -> None:
        self.config = config
        self.agents: list[str] = list(env.possible_agents)
        self.action_sizes: dict[str, int] = {a: discrete_size(env, a) for a in self.agents}
        self.training = True
        """False freezes the controller: it acts greedily and ``observe`` learns nothing."""

    # ---------------------------------------------------------------- acting
    def explores(self, training: bool) -> bool:
        """Whether this call may explore: only when both the call and the controller train."""
        return bool(training and self.training)

    def live(self, observations: Observations) -> list[str]:
        """The controlled agents present in ``observations``, in ``possible_agents`` order."""
        unknown = set(observations) - set(self.agents)
        if unknown:
            raise AgentConfigError(f"observations for unknown agents {sorted(unknown)}; "
                                   f"this controller drives {self.agents}")
        return [a for a in self.agents if a in observations]

    # ------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (torch-saveable with ``weights_only=True``)."""
        return {"algo": self.name, "agents": list(self.agents), **self._state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("algo") != self.name or list(state.get("agents", [])) != self.agents:
            raise ControllerCheckpointError(
                f"state dict of {state.get('algo')!r} for agents {state.get('agents')} cannot be "
                f"loaded into {self.name!r} for agents {self.agents}")
        self._load_state(state)

    def save(self, directory: Path) -> None:
        """Write ``controller.json`` plus the algorithm's own artefacts into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config, not_saved = _json_fields(dataclasses.asdict(self.config))
        manifest = {"algo": self.name, "agents": self.agents, "action_sizes": self.action_sizes,
                    "config": config, "not_saved": not_saved}
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
        self._save_artifacts(directory)

    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _load_state(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _save_artifacts(self, directory: Path) -> None:
        raise NotImplementedError


# -------------------------------------------------------------------- helpers
def discrete_size(env: ParallelEnv, agent: str) -> int:
    """``agent``'s number of actions; every controller here needs Discrete action spaces."""
    space = env.action_space(agent)
    if not isinstance(space, spaces.Discrete) or int(space.start) != 0:
        raise AgentConfigError(f"agent {agent!r} has action space {space}; controllers in "
                               "`agents` need Discrete(n) spaces starting at 0")
    return int(space.n)


def _json_fields(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config fields JSON can hold, and the names of those it cannot (e.g. classes)."""
    kept, dropped = {}, []
    for key, value in config.items():
        try:
            kept[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            dropped.append(key)
    return kept, dropped


def spawn_generators(seed: int, count: int) -> list[np.random.Generator]:
    """``count`` independent numpy generators derived from one seed."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A copy of a numpy generator's state (plain ints and strings)."""
    return json.loads(json.dumps(rng.bit_generator.state))


def set_generator_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    rng.bit_generator.state = dict(state)


def build_config(cls: type[C], options: Mapping[str, Any], extra_field: str | None = None) -> C:
    """``cls(**options)``, failing clearly on unknown names.

    With ``extra_field``, unknown names are collected into that dict field instead (how
    ``mat-dqn`` passes any other SB3 ``DQN`` argument through).
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    known = {k: v for k, v in options.items() if k in names}
    unknown = {k: v for k, v in options.items() if k not in names}
    if extra_field is not None:
        known[extra_field] = {**dict(known.get(extra_field) or {}), **unknown}
    elif unknown:
        hints = {k: difflib.get_close_matches(k, names, n=2) for k in unknown}
        raise AgentConfigError(f"unknown hyperparameters for {cls.__name__}: {hints} "
                               f"(name: close matches); valid names: {names}")
    try:
        return cls(**known)
    except TypeError as error:
        raise AgentConfigError(f"bad hyperparameters for {cls.__name__}: {error}") from error


def mapping_of_ints(name: str, values: Mapping[str, int], sizes: Mapping[str, int]) -> dict[str, int]:
    """Validate a per-agent dict of action indices against the action sizes."""
    out = {}
    for agent, value in values.items():
        if agent not in sizes:
            raise AgentConfigError(f"{name}: unknown agent {agent!r}; agents are {list(sizes)}")
        if not 0 <= int(value) < sizes[agent]:
            raise AgentConfigError(f"{name}[{agent!r}]={value} is outside 0..{sizes[agent] - 1}")
        out[agent] = int(value)
    return out
