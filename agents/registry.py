"""The registry of controller algorithms: names are data, classes are imported on first use.

``make_controller("mat-dqn", env, seed=0, batch_size=16)`` builds a controller;
``load_controller(directory, env, seed=0)`` rebuilds one that ``save`` wrote (the
``--load-agents DIR`` path of ``training.run_marl``).
"""
from __future__ import annotations

import difflib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pettingzoo import ParallelEnv

from agents.base import MANIFEST, Controller, build_config
from agents.errors import ControllerCheckpointError, UnknownAlgorithmError


@dataclass(frozen=True)
class AlgorithmSpec:
    """How to build one registered algorithm."""

    name: str
    """The id users pass (``--algo``)."""
    controller: str
    """``module:Class`` of the controller."""
    config: str
    """``module:Class`` of its hyperparameter dataclass."""
    passthrough: str | None = None
    """Config field (a dict) that collects hyperparameters the dataclass does not name."""


_SPECS: dict[str, AlgorithmSpec] = {s.name: s for s in (
    AlgorithmSpec("mat-dqn", "agents.mat_dqn:MatDQNController", "agents.mat_dqn:MatDQNConfig",
                  passthrough="dqn_kwargs"),
    AlgorithmSpec("ma2ml", "agents.ma2ml:MA2MLController", "agents.ma2ml:MA2MLConfig"),
    AlgorithmSpec("ma2ml-lite", "agents.ma2ml_lite:MA2MLLiteController",
                  "agents.ma2ml_lite:MA2MLLiteConfig"),
    AlgorithmSpec("bandit", "agents.baselines:BanditController", "agents.baselines:BanditConfig"),
    AlgorithmSpec("random", "agents.baselines:RandomController", "agents.baselines:RandomConfig"),
    AlgorithmSpec("static", "agents.baselines:StaticController", "agents.baselines:StaticConfig"),
)}
ALGORITHMS: tuple[str, ...] = tuple(_SPECS)

_NOT_RELOADED = ("log_dir",)
"""Saved settings a reloaded controller does not inherit (it must not write into an old run)."""


def spec(algo: str) -> AlgorithmSpec:
    """The registered spec of ``algo``, or an ``UnknownAlgorithmError`` naming close matches."""
    if algo not in _SPECS:
        close = difflib.get_close_matches(str(algo), ALGORITHMS, n=3, cutoff=0.4)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise UnknownAlgorithmError(f"unknown algorithm {algo!r}{hint} Known: {', '.join(ALGORITHMS)}")
    return _SPECS[algo]


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_controller(algo: str, env: ParallelEnv, *, seed: int, **hyperparameters: Any) -> Controller:
    """Build the controller ``algo`` for ``env``'s agents; hyperparameters go to its config."""
    s = spec(algo)
    config = build_config(_resolve(s.config), hyperparameters, extra_field=s.passthrough)
    return _resolve(s.controller)(env, seed=seed, config=config)


def load_controller(directory: Path, env: ParallelEnv, *, seed: int, training: bool = True,
                    **overrides: Any) -> Controller:
    """Rebuild a controller saved with ``save(directory)`` for ``env``.

    The algorithm and hyperparameters come from ``controller.json`` (``overrides`` win,
    e.g. ``total_steps`` of the new run; fields JSON could not hold must be given again);
    learned artefacts are then loaded. Replay
    buffers and generators are not part of ``save``: use ``state_dict`` for exact resume.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ControllerCheckpointError(f"{path} is missing: {directory} holds no saved controller")
    manifest = json.loads(path.read_text())
    if list(manifest["agents"]) != list(env.possible_agents):
        raise ControllerCheckpointError(
            f"{directory} holds agents {manifest['agents']}; this env has {list(env.possible_agents)}")
    missing = [k for k in manifest.get("not_saved", []) if k not in overrides]
    if missing:
        raise ControllerCheckpointError(
            f"{path} could not store {missing} as JSON (e.g. a class in dqn_kwargs); pass them "
            "again as keyword arguments to load_controller")
    config = {k: v for k, v in manifest["config"].items() if k not in _NOT_RELOADED}
    controller = make_controller(manifest["algo"], env, seed=seed, **{**config, **overrides})
    controller.load_artifacts(Path(directory))
    controller.training = training
    return controller
