"""The registry of controller algorithms: names are data, classes are imported on first use.

``make_controller("mat-dqn", env, seed=0, batch_size=16)`` builds a controller;
``load_controller(directory, env, seed=0)`` rebuilds one that ``save`` wrote (the
``--load-agents DIR`` path of ``training.run_marl``), whatever its algorithm. Both also take
``"zoo:<name>"``, a pretrained controller shipped in ``agents/zoo`` (loaded frozen).

Besides the registered names, ``algo`` may be ``"module.path:ClassName"``: an
``agents.base.Controller`` subclass written outside the package (e.g.
``examples.protocol_controller:MyController``), imported when named; everything that takes
an algorithm (``make_controller``, ``declared_options``, ``benchmarks.core.episodes``,
``training.meta_train --algo``) then builds it as it builds a registered one.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pettingzoo import ParallelEnv

from agents import zoo
from agents.base import Controller, build_config, read_manifest
from agents.errors import UnknownAlgorithmError


@dataclass(frozen=True)
class AlgorithmSpec:
    """How to build one registered algorithm."""

    name: str
    """The id users pass (``--algo``)."""
    controller: str
    """``module:Class`` of the controller (a ``Controller`` subclass)."""

    def resolve(self) -> type[Controller]:
        """Import and return the controller class."""
        module, _, attribute = self.controller.partition(":")
        return getattr(importlib.import_module(module), attribute)


_SPECS: dict[str, AlgorithmSpec] = {s.name: s for s in (
    AlgorithmSpec("mat-dqn", "agents.mat_dqn:MatDQNController"),
    AlgorithmSpec("ma2ml", "agents.ma2ml.critic:MA2MLController"),
    AlgorithmSpec("ma2ml-lite", "agents.ma2ml.lite:MA2MLLiteController"),
    AlgorithmSpec("bandit", "agents.baselines:BanditController"),
    AlgorithmSpec("random", "agents.baselines:RandomController"),
    AlgorithmSpec("static", "agents.baselines:StaticController"),
    AlgorithmSpec("rollout", "agents.rollout:RolloutController"),
    AlgorithmSpec("selector", "agents.selector:SelectorController"),
)}
ALGORITHMS: tuple[str, ...] = tuple(_SPECS)


_OUTSIDE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
"""``module.path:ClassName``: a controller class outside the registry."""


def spec(algo: str) -> AlgorithmSpec:
    """The spec of ``algo``: a registered name, or ``module.path:ClassName`` naming an
    ``agents.base.Controller`` subclass (imported and checked here); otherwise an
    ``UnknownAlgorithmError`` that names close matches or what is wrong with the class."""
    if algo in _SPECS:
        return _SPECS[algo]
    if isinstance(algo, str) and not zoo.is_zoo_name(algo) and _OUTSIDE.fullmatch(algo):
        _outside_class(algo)
        return AlgorithmSpec(algo, algo)
    close = difflib.get_close_matches(str(algo), ALGORITHMS, n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise UnknownAlgorithmError(f"unknown algorithm {algo!r}{hint} Known: {', '.join(ALGORITHMS)}"
                                "; or module.path:ClassName, a Controller subclass of your own")


def _outside_class(algo: str) -> type[Controller]:
    """The class ``module.path:ClassName`` names, if it is a concrete ``Controller``."""
    module, _, name = algo.partition(":")
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        raise UnknownAlgorithmError(
            f"algorithm {algo!r}: cannot import {module!r} ({error}); run from the folder that "
            "holds it (the repository root for examples/) or put that folder on PYTHONPATH"
        ) from None
    cls = getattr(imported, name, None)
    if cls is None:
        raise UnknownAlgorithmError(f"algorithm {algo!r}: module {module!r} has no {name!r}; "
                                    "name a class it defines")
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise UnknownAlgorithmError(
            f"algorithm {algo!r}: {module}.{name} is not an agents.base.Controller subclass; "
            "subclass it (or a controller such as agents.StaticController) as "
            "examples/protocol_controller.py does")
    if inspect.isabstract(cls):
        raise UnknownAlgorithmError(
            f"algorithm {algo!r}: {name} does not implement "
            f"{', '.join(sorted(cls.__abstractmethods__))} (abstract in agents.base.Controller)")
    return cls


def declared_options(algo: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``options`` that ``algo``'s config declares as fields.

    How a run offers what it decides (e.g. ``setting``, fixed ``choices``) to any algorithm
    without knowing algorithms by name.
    """
    names = {f.name for f in dataclasses.fields(spec(algo).resolve().config_class)}
    return {k: v for k, v in options.items() if k in names}


def check_options(algo: str, options: Mapping[str, Any]) -> None:
    """Refuse hyperparameters that ``algo``'s config does not take (naming the valid ones) or
    rejects, before any env exists: they are checked again when the controller is built."""
    controller = spec(algo).resolve()
    build_config(controller.config_class, options, extra_field=controller.passthrough)


def make_controller(algo: str, env: ParallelEnv, *, seed: int, **hyperparameters: Any) -> Controller:
    """Build the controller ``algo`` (a registered name or ``module.path:ClassName``) for
    ``env``'s agents; hyperparameters go to its config.

    ``algo="zoo:<name>"`` loads that pretrained controller, frozen (:func:`load_controller`);
    ``hyperparameters`` then override its saved ones.
    """
    if zoo.is_zoo_name(algo):
        return load_controller(algo, env, seed=seed, training=False, **hyperparameters)
    return spec(algo).resolve().from_options(env, seed=seed, **hyperparameters)


def load_controller(directory: Path | str, env: ParallelEnv, *, seed: int,
                    training: bool | None = None, zoo_root: Path | None = None,
                    **overrides: Any) -> Controller:
    """Rebuild a controller saved with ``save(directory)`` for ``env`` (see ``Controller.load``).

    ``directory`` may be ``"zoo:<name>"``: the entry's folder (in ``zoo_root``, default the
    installed zoo), checked to fit ``env`` (``agents.zoo.checked_dir``). ``training`` defaults
    to True for a directory (learning goes on) and False, frozen, for a zoo entry
    (``training=True`` fine-tunes it).
    """
    if zoo.is_zoo_name(directory):
        directory = zoo.checked_dir(str(directory), env, zoo_root)
        training = bool(training)
    training = True if training is None else training
    algo = read_manifest(directory, env)["algo"]
    return spec(algo).resolve().load(directory, env, seed=seed, training=training, **overrides)
