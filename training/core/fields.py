"""Field docstrings of config dataclasses, read from their source, and the flag names they give.

Every config field here carries a docstring on the line after it (CleanRL's ``Args``
style). ``field_docs(EnvConfig)["image_size"]`` returns that text, so a CLI flag's help is
its field's docstring and is never written twice.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from envs.config import EnvConfig
from envs.engine.data.images import BAD_IMAGE_POLICIES
from envs.engine.models import BACKBONES
from envs.engine.recipe import CATALOGUE_NAMES
from envs.engine.trainer import AMP_MODES, SCHEDULE_FREE_EVALS
from envs.observation import OBSERVATION_MODES
from envs.reward import REWARD_KINDS
from training.core.cli import (non_negative_float, non_negative_int, positive_float,
                               positive_int)

ENV_FLAG_CHOICES: dict[str, tuple[str, ...]] = {
    "amp": AMP_MODES, "on_bad_image": BAD_IMAGE_POLICIES, "observation": OBSERVATION_MODES,
    "reward_kind": REWARD_KINDS, "catalogue": CATALOGUE_NAMES,
    "schedule_free_eval": SCHEDULE_FREE_EVALS}
"""Env settings with a fixed catalogue (owned by envs): their flags take only those values."""
FLAG_NAMES: dict[str, str] = {"weights_path": "--weights"}
"""Fields whose flag is not their name with dashes: ``EnvConfig.weights_path`` is
``--weights`` (its YAML key stays ``weights_path``)."""
ENV_FLAG_NOTES: dict[str, Callable[[], str]] = {
    "backbone": lambda: (
        f"Built in: {', '.join(b for b in BACKBONES if '<' not in b)}; also tv:<name> (a "
        "torchvision.models model, needs torchvision) and timm:<name> (e.g. timm:resnet101, "
        "needs timm: pip install 'mlic-marl[vision]'). Built before the run starts, so an "
        "unknown name fails at once."),
    "weights_path": lambda: (
        "A state_dict saved with torch.save (e.g. resnet101.pth for --backbone "
        "timm:resnet101); nothing is downloaded. Its entries must match the backbone exactly; "
        "its classifier head is ignored and a new one trained. Loaded before the run starts: "
        "a missing, damaged or mismatched file fails at once."),
    "device": lambda: "cpu, cuda, cuda:<index> or mps.",
}
"""What a flag's help adds to its field's docstring (read when the parser is built)."""
NESTED_ENV_FLAGS: dict[str, tuple[str, str]] = {"reward_kind": ("reward", "kind")}
"""Env settings that are a field of a config nested in ``EnvConfig``: name -> (the
``EnvConfig`` field holding that config, the field in it). ``reward_kind`` is
``EnvConfig.reward.kind``."""


def dotted_settings(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat env settings (``reward_kind``) as a zoo card names them (``reward.kind``)."""
    return {".".join(NESTED_ENV_FLAGS.get(k, (k,))): v for k, v in flat.items()}


def flat_settings(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`dotted_settings`."""
    names = {".".join(path): name for name, path in NESTED_ENV_FLAGS.items()}
    return {names.get(k, k): v for k, v in dotted.items()}


_INT_FIELDS = ("image_size", "max_train_images", "max_eval_images", "steps_per_decision")
"""Integer ``EnvConfig`` fields whose default is ``None``."""
FLAG_TYPES: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(("episodes", "workers", "seeds", "epochs", "eval_every", "eval_seeds",
                     "dagger_episodes", "neighbours", "threads", "image_size",
                     "max_train_images", "max_eval_images", "max_decisions", "steps_per_decision", "batch_size"),
                    positive_int),
    **dict.fromkeys(("seed", "max_tasks", "candidates", "horizon", "dagger_rounds"),
                    non_negative_int),
    **dict.fromkeys(("beta", "weight_decay"), non_negative_float),
    **dict.fromkeys(("learning_rate", "score_scale"), positive_float)}
"""Argparse types of the config fields that are counts, sizes or indices (and of the
weights, rates and scales), by field name, whatever the config (``RunConfig``, ``MetaConfig``,
``DemoConfig``, ``FitConfig``, ``SelectConfig``, the ``EnvConfig`` flags): a bad value is
refused at parse time, naming the flag. >= 0 where the field's docstring gives 0 a meaning
(``max_tasks``/``candidates`` 0: all; ``horizon`` 0: to the end; ``dagger_rounds`` 0: none)
or it is a seed; >= 1 otherwise. The configs check them again, for callers from Python."""


@cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field: first paragraph of its docstring}`` for a dataclass defined in source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            text = inspect.cleandoc(following.value.value).split("\n\n")[0]
            docs[node.target.id] = " ".join(text.split())
    return docs


def field_default(f: dataclasses.Field) -> Any:
    """A dataclass field's default (built by its factory if it has one), or None."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def flag(name: str) -> str:
    """The command-line flag of a field: ``max_decisions`` -> ``--max-decisions``
    (``weights_path`` -> ``--weights``, :data:`FLAG_NAMES`)."""
    return FLAG_NAMES.get(name) or "--" + name.replace("_", "-")


def flag_value(value: Any) -> str:
    """A setting's value as its flag takes it: a list or tuple comma-separated (``--agents
    aug,opt``), anything else as text."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def flag_text(name: str, value: Any) -> str:
    """A setting as the command line gives it: ``--catalogue classic``; a switch by its name
    when on (``--context-features``) and as ``(no --context-features)`` when off."""
    if isinstance(value, bool):
        return flag(name) if value else f"(no {flag(name)})"
    return f"{flag(name)} {flag_value(value)}"


def json_object(text: str) -> dict[str, Any]:
    """A flag's value as a JSON object (``--options '{"gamma": 0.9}'``); argparse shows the
    error, naming the flag."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not valid JSON ({error}); give an object such as '{{\"gamma\": 0.9}}'"
            " (single quotes around it in the shell)") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is a JSON {type(value).__name__}; give an "
                                         "object such as '{\"gamma\": 0.9}'")
    return value


def add_field_flag(parser: Any, name: str, default: Any, text: str,
                   choices: Sequence[str] | None = None,
                   agents_type: Callable[[str], Any] | None = None,
                   metavar: str | None = None) -> None:
    """One flag for one config field (on a parser or an argument group), typed by its
    default: bools are switches (``progress`` becomes ``--no-progress``), mappings take a JSON
    object, ``agents`` goes through ``agents_type``, counts and sizes are checked by their
    ``FLAG_TYPES`` entry. ``metavar`` names a value in the help (default: the flag's name)."""
    text = text.replace("%", "%%")  # argparse formats help with %
    named = {"metavar": metavar} if metavar else {}
    if name == "progress":
        parser.add_argument("--no-progress", dest=name, action="store_false",
                            help=f"Do not {text[:1].lower()}{text[1:]}")  # "Show a ..." docs
    elif isinstance(default, bool):
        parser.add_argument(flag(name), dest=name, action="store_true", help=text)
    elif isinstance(default, Mapping):
        parser.add_argument(flag(name), dest=name, type=json_object, metavar="JSON", help=text)
    elif name == "agents":
        parser.add_argument(flag(name), dest=name, type=agents_type or str, help=text, **named)
    else:
        kind = int if (isinstance(default, int) or name in _INT_FIELDS) else (
            float if isinstance(default, float) else str)
        parser.add_argument(flag(name), dest=name, type=FLAG_TYPES.get(name, kind),
                            choices=choices, help=text, **named)


def env_setting(config: EnvConfig, name: str) -> tuple[Any, str]:
    """The config that holds env setting ``name`` (``config`` or one nested in it, see
    ``NESTED_ENV_FLAGS``) and the setting's field name in it."""
    if name in NESTED_ENV_FLAGS:
        outer, inner = NESTED_ENV_FLAGS[name]
        return getattr(config, outer), inner
    return config, name


def env_flag_help(name: str, prefix: str = "Env override: ") -> str:
    """The help of env setting ``name``'s flag: ``prefix``, its field's docstring and its
    :data:`ENV_FLAG_NOTES` entry."""
    owner, field_name = env_setting(EnvConfig(), name)
    note = ENV_FLAG_NOTES[name]() if name in ENV_FLAG_NOTES else ""
    return " ".join(filter(None, (f"{prefix}{field_docs(type(owner))[field_name]}", note)))


def env_default_text(env_id: str) -> Callable[[str, str], str]:
    """A ``describe`` for :func:`add_env_flags`: each help ends with ``(default: the env's;
    <env_id>: <its value>)``, the value that env ``env_id`` has without the flag."""
    from envs.registry import make_config

    config = make_config(env_id)

    def describe(name: str, text: str) -> str:
        owner, field_name = env_setting(config, name)
        value = getattr(owner, field_name)
        if value is None:
            shown = "none"
        elif isinstance(value, bool):
            shown = "on" if value else "off"
        else:
            shown = flag_value(value)
        return f"{text} (default: the env's; {env_id}: {shown})"
    return describe


def add_env_flags(parser: Any, names: Sequence[str],
                  agents_type: Callable[[str], Any] | None = None, *,
                  prefix: str = "Env override: ",
                  describe: Callable[[str, str], str] | None = None,
                  metavars: Mapping[str, str] | None = None) -> None:
    """Flags for the env settings ``names`` (on a parser or an argument group); each help is
    :func:`env_flag_help` (``prefix`` and the field's docstring), passed through
    ``describe(name, help)`` if given (e.g. to add the default)."""
    default = EnvConfig()
    for name in names:
        owner, field_name = env_setting(default, name)
        text = env_flag_help(name, prefix)
        add_field_flag(parser, name, getattr(owner, field_name),
                       describe(name, text) if describe else text,
                       choices=ENV_FLAG_CHOICES.get(name), agents_type=agents_type,
                       metavar=(metavars or {}).get(name))
