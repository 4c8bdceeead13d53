"""The registry of environment ids: ids are data, construction is lazy.

Each :class:`EnvSpec` holds a default :class:`envs.config.EnvConfig`; ``make`` replaces
fields with the caller's keyword overrides, loads the data (from the on-disk tensor
cache after the first time) and builds the env. Nothing heavy happens at import.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from envs.config import EnvConfig, config_field_names
from envs.engine.data import load_splits
from envs.env import MLICTrainingEnv
from envs.errors import ConfigError, UnknownEnvError


@dataclass(frozen=True)
class EnvSpec:
    """A registered environment: an id, its default config and a one-line description."""

    id: str
    config: EnvConfig
    description: str


_BUILTIN = (
    EnvSpec("mlic-digits", EnvConfig(dataset="digits"),
            "Bundled default: multi-digit scenes from scikit-learn's handwritten digits, 32 px, no download."),
    EnvSpec("mlic-voc", EnvConfig(dataset="voc", image_size=128, backbone="resnet", batch_size=32,
                                  max_decisions=20),
            "Pascal VOC 2007 (20 classes) from a local VOCdevkit; train = trainval minus a val slice."),
    EnvSpec("mlic-coco", EnvConfig(dataset="coco", image_size=128, backbone="resnet", batch_size=32,
                                   max_decisions=20),
            "COCO 2014 (80 classes) from a local folder with instances_{train,val}2014.json."),
    EnvSpec("mlic-csv", EnvConfig(dataset="csv", image_size=64, max_decisions=20),
            "Your own data: a folder of images plus labels.csv rows 'filename,label1|label2'."),
)
_REGISTRY: dict[str, EnvSpec] = {spec.id: spec for spec in _BUILTIN}


def register(spec: EnvSpec) -> None:
    """Add an env id (e.g. your dataset with its own defaults). Ids must be new.

    ``spec.config.dataset`` names a dataset loader: a built-in one or one added with
    ``envs.register_dataset``. Nothing is loaded until ``make``.
    """
    if spec.id in _REGISTRY:
        raise ConfigError(f"env id {spec.id!r} is already registered; pick another id or "
                          f"unregister({spec.id!r}) first")
    _REGISTRY[spec.id] = spec


def unregister(env_id: str) -> None:
    """Remove a registered env id (e.g. one a test registered); unknown ids raise as ``spec``."""
    _REGISTRY.pop(spec(env_id).id)


def list_envs() -> list[str]:
    """All registered env ids, sorted."""
    return sorted(_REGISTRY)


def spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; an unknown id raises ``UnknownEnvError`` with close matches."""
    if env_id not in _REGISTRY:
        close = difflib.get_close_matches(str(env_id).strip().lower().replace("_", "-"),
                                          list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownEnvError(
            f"unknown env id {env_id!r}.{hint} Registered ids: {', '.join(list_envs())}. "
            f"'mlic-digits' needs no download.")
    return _REGISTRY[env_id]


def make_config(env_id: str, **overrides: Any) -> EnvConfig:
    """The config ``make(env_id, **overrides)`` would use."""
    base = spec(env_id).config
    unknown = sorted(set(overrides) - set(config_field_names()))
    if unknown:
        raise ConfigError(
            f"unknown override(s) {unknown} for {env_id!r}; valid overrides: "
            f"{', '.join(config_field_names())}")
    if isinstance(overrides.get("agents"), str):
        overrides["agents"] = tuple(a.strip() for a in overrides["agents"].split(",") if a.strip())
    elif "agents" in overrides:
        try:
            overrides["agents"] = tuple(overrides["agents"])
        except TypeError:
            raise ConfigError(f"agents must be a list of agent ids or a comma-separated string "
                              f"such as 'aug,opt', got {overrides['agents']!r}") from None
    return replace(base, **overrides)


def check_resources(config: EnvConfig) -> None:
    """Fail before loading any data if ``config`` names a device or a file that is not there."""
    device = torch.device(config.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {config.device!r}: CUDA is not available (this torch build "
                f"{'has no CUDA support' if torch.version.cuda is None else 'sees no GPU'}); "
                f"use device='cpu' (--device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {config.device!r}: only {torch.cuda.device_count()} CUDA "
                              f"device(s) are visible; use cuda:0 .. "
                              f"cuda:{torch.cuda.device_count() - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {config.device!r} is not available on this machine; "
                          f"use device='cpu' (--device cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {config.device!r} is not supported; use 'cpu' or 'cuda'")
    if config.weights_path is not None and not Path(config.weights_path).expanduser().is_file():
        raise ConfigError(
            f"weights_path {config.weights_path!r} is not a file: pass the path of a saved "
            f"backbone state_dict (.pt), or leave weights_path unset to train from scratch")


def make(env_id: str, **overrides: Any) -> MLICTrainingEnv:
    """Build the environment ``env_id`` with keyword overrides of its :class:`EnvConfig`."""
    config = make_config(env_id, **overrides)
    check_resources(config)
    data = load_splits(config.dataset, data_root=config.data_root, image_size=config.image_size,
                       download=config.download, cache_dir=config.cache_dir,
                       max_train_images=config.max_train_images,
                       on_bad_image=config.on_bad_image)
    return MLICTrainingEnv(config, data, env_id=env_id)
