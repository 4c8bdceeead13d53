"""The zoo: pretrained controllers shipped inside the package, loaded by name as ``zoo:<name>``.

::

    from agents import make_controller, load_controller
    controller = make_controller("zoo:<name>", env, seed=0)     # loaded and frozen
    python -m training.run_marl --load-agents zoo:<name> --freeze
    agents.zoo.list_zoo()                                       # the names available

Each entry is a folder ``agents/zoo/<name>/`` holding

* what ``Controller.save(dir)`` writes: ``controller.json`` (algorithm, agents, the action
  sizes and observation shapes it was trained on, hyperparameters) and the weights, at most
  ``MAX_WEIGHTS_BYTES`` in all (the zoo ships inside the package);
* ``card.json``: the model card's fields (``CARD_FIELDS``): the command that trained it, task
  set, episodes, CPU-hours, held-out results, commit, and ``env_settings``, the env settings
  the controller needs (``EnvConfig`` field names; dotted for nested ones, ``reward.<field>``);
* ``CARD.md``: the same card, for people.

Entries are written by ``python -m training.publish RUN_DIR --name NAME`` from a
meta-training run, not by hand. Loading refuses an env the controller does not fit (other
agents, action sizes or observation shape: ``agents.base.read_manifest``; other env settings
than its card names: ``check_env_settings``) instead of acting on features that mean
something else. Every function takes ``root=`` (default: this folder), so tests publish into
a temporary zoo without touching the package.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pettingzoo import ParallelEnv

from agents.base import MANIFEST, Controller, read_manifest
from agents.errors import AgentConfigError, ControllerCheckpointError, UnknownZooControllerError

ZOO_ROOT = Path(__file__).resolve().parent
"""Where the shipped entries live (one folder per controller)."""
PREFIX = "zoo:"
"""What marks a zoo name where a directory could also be given (``--load-agents``)."""
CARD_JSON = "card.json"
CARD_MD = "CARD.md"
ENTRY_FILES = (MANIFEST, CARD_JSON, CARD_MD)
"""Files every entry holds (beside the controller's weights)."""
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024
"""The most an entry's controller files (manifest + weights) may weigh: 2 MiB."""
CARD_FIELDS = ("name", "algo", "agents", "env", "command", "task_set", "episodes", "workers",
               "seed", "cpu_hours", "wall_s", "commit", "date", "env_settings", "heldout", "curve")
"""Keys of ``card.json``. ``env`` is an env id the controller plays (the conformance test
builds a tiny one); ``heldout`` is ``{"round", "mAP", "per_task": {task: mAP}}``."""
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def is_zoo_name(source: Any) -> bool:
    """Whether ``source`` (a ``--load-agents`` value, a string or a path) names a zoo entry."""
    return isinstance(source, str) and source.startswith(PREFIX)


def check_name(name: str) -> str:
    """``name`` without the ``zoo:`` prefix, if it is a valid entry name (lowercase letters,
    digits, ``.``, ``_``, ``-``; a folder name on every platform)."""
    bare = name[len(PREFIX):] if is_zoo_name(name) else name
    if not isinstance(bare, str) or not _NAME.fullmatch(bare):  # a path, a Path, "", "../x"
        raise AgentConfigError(f"zoo name {name!r} is invalid: use lowercase letters, digits, "
                               "'.', '_' and '-', starting with a letter or digit "
                               "(e.g. digits-v0-mat-dqn)")
    return bare


def list_zoo(root: Path | None = None) -> list[str]:
    """The names of the zoo's entries (without ``zoo:``), sorted."""
    root = Path(root) if root is not None else ZOO_ROOT
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(("_", ".")))


def zoo_dir(name: str, root: Path | None = None) -> Path:
    """The folder of entry ``name`` (``zoo:`` optional), or ``UnknownZooControllerError``
    listing every available name."""
    root = Path(root) if root is not None else ZOO_ROOT
    bare = name[len(PREFIX):] if is_zoo_name(name) else name
    available = list_zoo(root)
    if bare not in available:
        raise UnknownZooControllerError(_unknown_message(str(bare), available, root))
    return root / bare


def _unknown_message(name: str, available: list[str], root: Path) -> str:
    if not available:
        return (f"no controller {PREFIX}{name}: the zoo ({root}) is empty; publish one with "
                "python -m training.publish RUN_DIR --name NAME, or pass a directory written "
                "by Controller.save")
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" Did you mean {PREFIX}{close[0]}?" if close else ""
    return (f"no controller {PREFIX}{name} in the zoo ({root}).{hint} Available: "
            + ", ".join(PREFIX + n for n in available))


def read_card(name: str, root: Path | None = None) -> dict[str, Any]:
    """The ``card.json`` of entry ``name``."""
    return read_json_object(zoo_dir(name, root) / CARD_JSON, ControllerCheckpointError,
                            "zoo entries are written by python -m training.publish, which "
                            "writes the card")


def read_json_object(path: Path, error: type[Exception], missing: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``error`` names the path (and ``missing`` when absent)."""
    if not path.is_file():
        raise error(f"{path} is missing: {missing}")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as problem:
        raise error(f"{path} is not valid JSON ({problem})") from problem
    if not isinstance(value, dict):
        raise error(f"{path} must hold a JSON object, not {type(value).__name__}")
    return value


def weights_bytes(directory: Path) -> int:
    """Total size of a saved controller's files (every file but the model card)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*")
               if p.is_file() and p.name not in (CARD_JSON, CARD_MD))


def load(name: str, env: ParallelEnv, *, seed: int, training: bool = False,
         root: Path | None = None, **overrides: Any) -> Controller:
    """Entry ``name`` (``zoo:`` optional) loaded for ``env``, frozen unless ``training=True``
    (fine-tuning). Refuses an env it does not fit, naming what differs and the fix."""
    directory = zoo_dir(name, root)
    label = PREFIX + directory.name
    # The card's settings first: they name the exact value to pass, where a wrong observation
    # size (read_manifest) can only guess at its cause.
    check_env_settings(read_card(name, root).get("env_settings") or {}, env, label)
    read_manifest(directory, env, label=label)
    # Imported here: the registry resolves zoo names through this module.
    from agents.registry import load_controller
    return load_controller(directory, env, seed=seed, training=training, **overrides)


# ------------------------------------------------------------------ env settings
_MISSING = object()


def check_env_settings(settings: Mapping[str, Any], env: ParallelEnv, label: str) -> None:
    """Refuse ``env`` unless its config (``env.unwrapped.config``) has every setting in
    ``settings`` at the value given.

    A key is an ``EnvConfig`` field (``history``), a dotted path into a nested config
    (``reward.w_map``), or a field of the nested reward config (``config.reward``) when
    ``EnvConfig`` has none of that name. A mapping value is compared key by key. A setting
    this env's config does not have is refused too: that version of ``envs`` cannot build
    the env the controller was trained on.
    """
    if not settings:
        return
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    problems = [_problem(key, value, config) for key, value in sorted(settings.items())]
    problems = [p for p in problems if p]
    if problems:
        raise ControllerCheckpointError(
            f"{label} does not fit this env: " + "; ".join(problems) + ". Build the env with "
            "the settings the controller was trained with (its card.json 'env_settings'), "
            "or use a controller trained for this env")


def _problem(key: str, wanted: Any, config: Any) -> str | None:
    """Why ``config`` does not have ``key`` at ``wanted`` (None when it does)."""
    if config is None:
        return f"it needs {key}={wanted!r}, but this env has no config to check it against"
    path, found = _lookup(config, key)
    if found is _MISSING:
        return (f"it needs the env setting {key}={wanted!r}, which this env's config "
                f"({type(config).__name__}) does not have (update the package, or pick another "
                "controller)")
    if isinstance(wanted, Mapping):
        problems = [_problem(f"{path}.{k}", v, config) for k, v in sorted(wanted.items())]
        return "; ".join(p for p in problems if p) or None
    if _plain(found) != _plain(wanted):
        return (f"it was trained with {path}={wanted!r} and this env has {path}={_plain(found)!r}"
                f" ({_how_to_pass(path, wanted)})")
    return None


def _how_to_pass(path: str, wanted: Any) -> str:
    head, _, rest = path.partition(".")
    if not rest:
        return f"pass {head}={wanted!r} when building the env"
    return f"pass {head}= a config with {rest}={wanted!r} when building the env"


def _lookup(config: Any, key: str) -> tuple[str, Any]:
    """Where ``key`` (dotted) resolves in ``config``, trying the nested reward config for a
    plain name that ``config`` lacks, and the value there (``_MISSING`` if nowhere)."""
    paths = [key] if "." in key else [key, f"reward.{key}"]
    for path in paths:
        obj = config
        for part in path.split("."):
            obj = getattr(obj, part, _MISSING)
            if obj is _MISSING:
                break
        if obj is not _MISSING:
            return path, obj
    return key, _MISSING


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (dataclasses as dicts, tuples as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


__all__ = ["CARD_FIELDS", "CARD_JSON", "CARD_MD", "ENTRY_FILES", "MAX_WEIGHTS_BYTES", "PREFIX",
           "ZOO_ROOT", "check_env_settings", "check_name", "is_zoo_name", "list_zoo", "load",
           "read_card", "weights_bytes", "zoo_dir"]
