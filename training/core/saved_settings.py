"""What env settings a saved controller needs, read from where it was saved.

A controller's observations mean something only in the env it was trained in: its catalogue
and observation version (the manifest), and the settings in :data:`CONTROLLER_ENV_SETTINGS`,
which its run recorded (a meta-training run's ``summary.json``, a ``run_marl`` run's
``config.json``) or its zoo card names. ``training.core.config`` (``--load-agents``),
meta-training (``--init``), the user loop and the benchmarks read them here, so that whoever
loads a controller builds the same env.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents import zoo
from agents.base import MANIFEST, manifest_catalogue, manifest_context_features
from envs.errors import ConfigError
from training.core.fields import dotted_settings

CONTROLLER_ENV_SETTINGS = ("observation", "reward_kind", "catalogue", "context_features")
"""The env settings a trained controller depends on beyond its spaces: what its observations
mean and what it was rewarded for. A run records them (a meta-training run's summary.json, a
run's ``RUN_CONFIG``) so that whoever loads its controller builds the same env."""
RUN_CONFIG = "config.json"
"""The file in a run's output folder that holds its settings (``RunConfig.as_dict``)."""


SUMMARY = "summary.json"
"""The file a meta-training run (and an imitation fit) writes its result and settings to."""


def controller_env_settings(source: str | Path) -> dict[str, Any]:
    """The env settings a saved controller needs (``EnvConfig`` names, dotted for nested ones):
    a zoo entry's card; for a folder inside a run, that run's record of them: a meta-training
    run's (``RUN/best``, ``RUN/final``) ``summary.json``, or a ``run_marl`` run's
    (``RUN/agents``) ``RUN_CONFIG``; else none."""
    if zoo.is_zoo_name(source):
        settings = dict(zoo.read_card(str(source))["env_settings"] or {})
        return {**saved_catalogue(zoo.zoo_dir(str(source))), **settings}
    if not Path(source).is_dir():  # an algorithm name, or nothing saved
        return {}
    return {**saved_catalogue(Path(source)), **_run_env_settings(Path(source))}


def saved_catalogue(directory: Path) -> dict[str, Any]:
    """``{"catalogue": NAME, "context_features": BOOL}`` for a saved controller that acts in a
    catalogue (its manifest's, or ``classic`` and no context features for a manifest older
    than those settings: ``agents.base.manifest_catalogue``, ``manifest_context_features``);
    else ``{}``."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return {}
    manifest = zoo.read_json_object(path, ConfigError, "")
    name = manifest_catalogue(manifest)
    if name is None:
        return {}
    return {"catalogue": name, "context_features": bool(manifest_context_features(manifest))}


def _run_env_settings(source: Path) -> dict[str, Any]:
    """The env settings the run that saved the controller in ``source`` recorded."""
    run = Path(source).resolve().parent
    if (run / SUMMARY).is_file():
        summary = zoo.read_json_object(run / SUMMARY, ConfigError, "")
        if "env_settings" in summary:  # a meta-training run's (run_marl's has none)
            return dict(summary["env_settings"] or {})
    if (run / RUN_CONFIG).is_file():
        config = zoo.read_json_object(run / RUN_CONFIG, ConfigError, "")
        return controller_settings_of(config.get("env_overrides") or {})
    return {}


def controller_settings_of(env_overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The ``CONTROLLER_ENV_SETTINGS`` among a run's flat env overrides, as a card names them
    (``reward.kind``): what the run records for whoever loads its controller."""
    return dotted_settings({k: v for k, v in env_overrides.items() if k in CONTROLLER_ENV_SETTINGS})
