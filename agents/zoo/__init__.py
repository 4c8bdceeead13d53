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
  set, episodes, CPU-hours, held-out results, commit, the version of the generated data it
  was trained and measured on (``generator_version``), and ``env_settings``, the env settings
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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pettingzoo import ParallelEnv

from agents.base import MANIFEST, Controller, read_manifest
from agents.errors import (AgentConfigError, ControllerCheckpointError, EnvSettingsError,
                           UnknownZooControllerError)

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
               "seed", "cpu_hours", "wall_s", "commit", "date", "generator_version",
               "env_settings", "heldout", "curve")
"""Keys of ``card.json``. ``env`` is an env id the controller plays (the conformance test
builds a tiny one); ``heldout`` is ``{"round", "mAP", "per_task": {task: mAP}}``."""
OPTIONAL_CARD_FIELDS = ("learner", "demonstrations", "dagger", "architectures", "recommended")
"""Keys a card may add after ``CARD_FIELDS``, in this order: an imitation learner's (its
name, the expert's demonstrations and DAgger labels with their compute, the backbones it
was trained on), and ``recommended: true`` on the one entry ``zoo:recommended`` names."""
RECOMMENDED = "recommended"
"""``zoo:recommended`` resolves to the entry whose card says ``"recommended": true``."""
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
    if bare == RECOMMENDED and bare not in available:
        marked = recommended(root)
        if marked is None:
            raise UnknownZooControllerError(
                f"no entry of the zoo ({root}) is marked recommended; publish one with python "
                "-m training.publish RUN_DIR --name NAME --recommended. Available: "
                + (", ".join(PREFIX + n for n in available) or "none"))
        bare = marked
    if bare not in available:
        raise UnknownZooControllerError(_unknown_message(str(bare), available, root))
    return root / bare


def resolve(source: Any, root: Path | None = None) -> Any:
    """``zoo:recommended`` as the entry it names now (``zoo:<name>``); any other source as
    given. Result stores key their runs by what this returns, so moving the mark never
    reuses (or relabels) another entry's runs."""
    if not is_zoo_name(source) or source[len(PREFIX):] != RECOMMENDED:
        return source
    return PREFIX + zoo_dir(source, root).name


def recommended(root: Path | None = None) -> str | None:
    """The entry whose card is marked ``recommended`` (None if none is)."""
    root = Path(root) if root is not None else ZOO_ROOT
    marked = [n for n in list_zoo(root) if _card_of(root / n).get(RECOMMENDED) is True]
    if len(marked) > 1:
        raise ControllerCheckpointError(f"several zoo entries are marked recommended ({marked}); "
                                        "republish one with --recommended to keep one mark")
    return marked[0] if marked else None


def _card_of(directory: Path) -> dict[str, Any]:
    try:
        value = json.loads((directory / CARD_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not JSON, or not UTF-8
        return {}
    return value if isinstance(value, dict) else {}


def _unknown_message(name: str, available: list[str], root: Path) -> str:
    if not available:
        return (f"no controller {PREFIX}{name}: the zoo ({root}) is empty; publish one with "
                "python -m training.publish RUN_DIR --name NAME, or pass a directory written "
                "by Controller.save")
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" Did you mean {PREFIX}{close[0]}?" if close else ""
    marked = recommended(root)
    first = [f"{PREFIX}{RECOMMENDED} (= {PREFIX}{marked})"] if marked else []
    return (f"no controller {PREFIX}{name} in the zoo ({root}).{hint} Available: "
            + ", ".join(first + [PREFIX + n for n in available]))


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
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as problem:  # not JSON, or not even UTF-8 text
        raise error(f"{path} is damaged, not valid JSON ({problem})") from problem
    if not isinstance(value, dict):
        raise error(f"{path} must hold a JSON object, not {type(value).__name__}")
    return value


def weights_bytes(directory: Path) -> int:
    """Total size of a saved controller's files (every file but the model card)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*")
               if p.is_file() and p.name not in (CARD_JSON, CARD_MD))


def checked_dir(name: str, env: ParallelEnv, root: Path | None = None) -> Path:
    """The folder of entry ``name`` (``zoo:`` optional), checked to fit ``env``: its card's env
    settings and its manifest's spaces. Refuses an env it does not fit, naming what differs and
    the fix. Loading is the registry's (``agents.load_controller("zoo:<name>", env, ...)``):
    this module only resolves names, so the registry depends on it and not the other way."""
    directory = zoo_dir(name, root)
    label = PREFIX + directory.name
    # The card's settings first: they name the exact value to pass, where a wrong observation
    # size (read_manifest) can only guess at its cause.
    card = directory / CARD_JSON
    settings = read_card(name, root).get("env_settings") or {}
    if not isinstance(settings, Mapping):
        raise ControllerCheckpointError(f"{card} is damaged: its env_settings is not an object "
                                        "of settings; reinstall the package (or republish the "
                                        "entry)")
    check_env_settings(settings, env, label)
    read_manifest(directory, env, label=label)
    return directory


# ------------------------------------------------------------------ env settings
_MISSING = object()


def check_env_settings(settings: Mapping[str, Any], env: ParallelEnv, label: str) -> None:
    """Refuse ``env`` unless its config (``env.unwrapped.config``) has every setting in
    ``settings`` at the value given (``EnvSettingsError``, whose ``mismatches`` say which).

    A key is an ``EnvConfig`` field (``history``), a dotted path into a nested config
    (``reward.w_map``), or a field of the nested reward config (``config.reward``) when
    ``EnvConfig`` has none of that name. A mapping value is compared key by key. A setting
    this env's config does not have is refused too: that version of ``envs`` cannot build
    the env the controller was trained on.
    """
    if not settings:
        return
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    mismatches = [m for key, value in sorted(settings.items())
                  for m in _mismatches(key, value, config)]
    if mismatches:
        raise EnvSettingsError(label, mismatches)


def keyword_fix(setting: str, wanted: Any) -> str:
    """How to pass env setting ``setting`` (dotted for a nested one) at ``wanted`` to
    ``envs.make``."""
    head, _, rest = setting.partition(".")
    if not rest:
        return f"pass {head}={wanted!r} when building the env"
    return f"pass {head}= a config with {rest}={wanted!r} when building the env"


@dataclasses.dataclass(frozen=True)
class Wording:
    """How an error names an env setting at a value (``show``) and says how to pass it
    (``fix``), both given the setting (dotted, as a card names it) and the value. The default
    speaks ``envs.make`` keywords; a CLI gives one that speaks its flags."""

    show: Callable[[str, Any], str] = lambda setting, value: f"{setting}={value!r}"
    """``setting`` at ``value``, e.g. ``reward.kind='best_gain'``."""
    fix: Callable[[str, Any], str] = keyword_fix
    """How to pass ``setting`` at ``value``."""


KEYWORDS = Wording()
"""The default wording: ``envs.make`` keywords."""


@dataclasses.dataclass(frozen=True)
class SettingMismatch:
    """One env setting a controller needs that the env does not have at that value."""

    setting: str
    """Where the setting resolves in the env's config (dotted for a nested one:
    ``reward.kind``), or the key as the card gives it when it resolves nowhere."""
    wanted: Any
    """The value the controller was trained with."""
    found: Any = None
    """The env's value (as JSON holds it); None unless ``kind`` is ``differs``."""
    kind: str = "differs"
    """``differs``; ``absent`` (the env's config has no such setting); ``no_config`` (the env
    has no config to check against)."""
    config_name: str = ""
    """The type of the env's config (for ``absent``)."""

    def describe(self, wording: Wording | None = None) -> str:
        """One clause of the error, in ``wording`` (default ``KEYWORDS``)."""
        wording = wording or KEYWORDS
        wanted = wording.show(self.setting, self.wanted)
        if self.kind == "no_config":
            return f"it needs {wanted}, but this env has no config to check it against"
        if self.kind == "absent":
            return (f"it needs the env setting {wanted}, which this env's config "
                    f"({self.config_name}) does not have (update the package, or pick another "
                    "controller)")
        return (f"it was trained with {wanted} and this env has "
                f"{wording.show(self.setting, self.found)} "
                f"({wording.fix(self.setting, self.wanted)})")


def _mismatches(key: str, wanted: Any, config: Any) -> list[SettingMismatch]:
    """How ``config`` differs from ``key`` at ``wanted`` (empty when it does not)."""
    if config is None:
        return [SettingMismatch(key, wanted, kind="no_config")]
    path, found = _lookup(config, key)
    if found is _MISSING:
        return [SettingMismatch(key, wanted, kind="absent", config_name=type(config).__name__)]
    if isinstance(wanted, Mapping):
        return [m for k, v in sorted(wanted.items()) for m in _mismatches(f"{path}.{k}", v, config)]
    if _plain(found) != _plain(wanted):
        return [SettingMismatch(path, wanted, found=_plain(found))]
    return []


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
           "KEYWORDS", "SettingMismatch", "Wording", "ZOO_ROOT", "check_env_settings", "check_name",
           "is_zoo_name", "keyword_fix", "list_zoo", "load", "read_card", "resolve",
           "weights_bytes", "zoo_dir"]
