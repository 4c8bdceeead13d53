"""``python -m training.run_marl``: train a classifier while agents reconfigure its
recipe.

    python -m training.run_marl --env mlic-digits
    python -m training.run_marl --env mlic-voc --data-root ~/data/VOCdevkit/VOC2007
    python -m training.run_marl --config run.yaml --seed 3      # flags win over the file
    python -m training.run_marl --load-agents zoo:mat-dqn-rnd-digits-v0 --freeze

Writes ``summary.json``, ``steps.jsonl``, TensorBoard events (``tb/``), ``report.png``,
the trained agents (``agents/``) and ``checkpoint.pt`` into ``--out``. SIGINT/SIGTERM
stop after the current decision, with a checkpoint; ``--resume`` continues from it.
A controller loaded with ``--load-agents`` brings the env settings it was trained with
(``training.core.config.controller_settings``); errors name flags, never ``envs.make`` keywords.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import agents
import envs
from agents import zoo
from agents.base import MANIFEST
from agents.errors import AgentConfigError, EnvSettingsError
from agents.ma2ml.policy_team import SETTINGS
from agents.registry import declared_options
from agents.rewards import CURIOSITY_CHOICES, REWARDS
from envs.errors import ConfigError, MLICError
from training.core import cli
from training.core.config import (ENV_FLAGS, RunConfig, check_backbone, controller_settings,
                                  from_settings, parse_agents, read_yaml)
from training.core.fields import (add_env_flags, add_field_flag, env_default_text,
                                  field_default, field_docs, flag_text, flat_settings)
from training.core.signals import StopFlag

EXIT_IO = 1
CHECKPOINT_FILE = "checkpoint.pt"  # training.run.loop.CHECKPOINT, without importing the loop


RUN_FLAG_HELP = {
    "env": lambda: f"{field_docs(RunConfig)['env']} One of {', '.join(envs.list_envs())}.",
    "algo": lambda: f"{field_docs(RunConfig)['algo']} One of {', '.join(agents.ALGORITHMS)}.",
}
"""Flags whose help also lists what is registered (read when the parser is built)."""
RUN_FLAG_GROUPS: dict[str, tuple[str, ...]] = {
    "run": ("env", "setting", "episodes", "seed"),
    "controller": ("algo", "curiosity", "beta", "reward", "load_agents", "freeze", "options",
                   "workers", "address"),
    "output": ("out", "resume", "progress"),
}
"""The help's groups of ``RunConfig``'s flags (each field in one; a new one lands in "run")."""
ENV_FLAG_GROUPS: dict[str, tuple[str, ...]] = {
    "env overrides: data": ("data_root", "download", "image_size", "max_train_images",
                            "max_eval_images", "on_bad_image"),
    "env overrides: model and training": ("backbone", "weights_path", "device", "amp",
                                          "batch_size", "schedule_free_eval"),
    "env overrides: budget": ("max_decisions", "steps_per_decision"),
    "env overrides: agents, observation and reward": ("agents", "observation", "reward_kind",
                                                      "catalogue", "context_features"),
}
"""The help's groups of the ``ENV_FLAGS`` (each in one; a new one lands in "env overrides")."""
ENV_GROUP_TEXT = ("Each replaces the env's own setting (envs.make_config(ENV)), so its default\n"
                  "is the env's (shown for the default --env). YAML keys: the field names.")
METAVARS = {
    "config": "FILE", "env": "ENV", "algo": "ALGO",
    "curiosity": "{" + ",".join(CURIOSITY_CHOICES) + "}",
    "reward": "{" + ",".join(REWARDS) + "}", "setting": "{" + ",".join(SETTINGS) + "}",
    "episodes": "N", "seed": "N", "out": "DIR", "load_agents": "DIR|zoo:NAME", "workers": "N",
    "address": "auto|HOST:PORT", "data_root": "DIR", "image_size": "PX", "max_train_images": "N",
    "max_eval_images": "N", "max_decisions": "N", "steps_per_decision": "N", "batch_size": "N", "device": "DEVICE",
    "backbone": "NAME", "weights_path": "PATH", "agents": "AGENT[,AGENT...]", "beta": "BETA"}
"""How the help names each flag's value."""
EXAMPLE = """\
python -m training.run_marl --env mlic-digits
# MAT-Agent's paper setting (needs timm, a GPU and Pascal VOC 2007 on disk):
python -m training.run_marl --env mlic-voc --data-root ~/data/VOCdevkit \\
    --backbone timm:resnet101 --weights resnet101.pth --image-size 448 \\
    --device cuda
# settings from a file (flags win over it); a pretrained controller, frozen:
python -m training.run_marl --config run.yaml --seed 3
python -m training.run_marl --load-agents zoo:mat-dqn-rnd-digits-v0 --freeze"""


def _with_default(text: str, default: Any) -> str:
    """A run flag's help with its default, unless it has none to show or says it already."""
    if default is None or isinstance(default, bool) or default == {} or cli.says_default(text):
        return text
    return f"{text} (default: {cli.shown(default)})"


def build_parser() -> argparse.ArgumentParser:
    """Flags derived from ``RunConfig`` and the ``EnvConfig`` fields in ``ENV_FLAGS``, in the
    groups of ``RUN_FLAG_GROUPS`` and ``ENV_FLAG_GROUPS``; ``cli.HelpFormatter`` shows them
    without docstring markup. Every default is ``SUPPRESS``ed, so the parsed namespace holds
    only the flags given (they win over the ``--config`` file); the help states each default."""
    p = cli.parser("training.run_marl", __doc__, example=EXAMPLE,
                   argument_default=argparse.SUPPRESS)
    groups = {title: p.add_argument_group(title) for title in RUN_FLAG_GROUPS}
    groups["run"].add_argument("--config", metavar=METAVARS["config"], help=(
        "YAML file with any of these settings (keys are the flag names with - or _, e.g. "
        "max_decisions: 5; weights_path for --weights); flags given win over it"))
    docs = field_docs(RunConfig)
    for f in fields(RunConfig):
        if f.name == "env_overrides":
            continue
        title = next((t for t, names in RUN_FLAG_GROUPS.items() if f.name in names), "run")
        text = RUN_FLAG_HELP[f.name]() if f.name in RUN_FLAG_HELP else docs[f.name]
        add_field_flag(groups[title], f.name, field_default(f),
                       _with_default(text, field_default(f)), metavar=METAVARS.get(f.name))
    describe = env_default_text(RunConfig.env)
    grouped = [n for names in ENV_FLAG_GROUPS.values() for n in names]
    env_groups = {**ENV_FLAG_GROUPS,
                  "env overrides": tuple(n for n in ENV_FLAGS if n not in grouped)}
    for i, (title, names) in enumerate(env_groups.items()):
        names = tuple(n for n in names if n in ENV_FLAGS)
        if names:
            group = p.add_argument_group(title, ENV_GROUP_TEXT if i == 0 else None)
            add_env_flags(group, names, agents_type=_agents_argument, prefix="",
                          describe=describe, metavars=METAVARS)
    return p


def _agents_argument(value: str) -> tuple[str, ...]:
    try:
        return parse_agents(value)
    except ConfigError as error:  # argparse shows ArgumentTypeError's message, not ValueError's
        raise argparse.ArgumentTypeError(str(error)) from error


def parse_config(argv: Sequence[str] | None) -> RunConfig:
    """Defaults, then the ``--config`` file, then the flags given."""
    given = vars(build_parser().parse_args(argv))
    settings: dict[str, Any] = read_yaml(given.pop("config")) if "config" in given else {}
    settings.update(given)
    return from_settings(settings)


def check_load_agents(config: RunConfig) -> None:
    """``--load-agents DIR`` must be a folder saved by an earlier run (it holds the manifest),
    ``--load-agents zoo:<name>`` an entry of the zoo."""
    if config.load_agents is None:
        return
    if zoo.is_zoo_name(config.load_agents):
        zoo.zoo_dir(config.load_agents)  # an unknown name lists the available ones
        return
    directory = Path(config.load_agents)
    if not (directory / MANIFEST).is_file():
        what = "does not exist" if not directory.exists() else f"holds no {MANIFEST}"
        raise ConfigError(
            f"--load-agents {directory} {what}: pass the 'agents' folder of an earlier run "
            f"(e.g. runs/<name>/agents, written when that run finished) or zoo:<name>")


def check_controller_class(config: RunConfig) -> None:
    """``--algo module.path:ClassName`` (a class of the user's): build a throwaway on the env's
    spaces (no data, no training) as the run will build it, ``cls(env, seed=..., config=...)``
    through ``agents.make_controller``, so that a constructor that cannot be called so fails
    here, before the run starts, as a ``ConfigError`` naming the class. Registered algorithms
    and ``--load-agents`` are built by the run itself (their errors are the project's)."""
    if config.load_agents is not None or config.algo in agents.ALGORITHMS:
        return
    env_config = envs.make_config(config.env, **config.make_overrides())
    spaces = envs.ControlSpaces(env_config)
    offered = declared_options(config.algo, {  # what training.run.loop offers, then --options
        "setting": config.setting,
        "choices": envs.recipe_actions(spaces, env_config.default_recipe)})
    options = dict(config.options)
    if "choices" in offered and isinstance(options.get("choices"), dict):
        options["choices"] = {**offered["choices"], **options["choices"]}
    try:
        agents.make_controller(config.algo, spaces, seed=config.seed, **{**offered, **options})
    except AgentConfigError as error:  # a hyperparameter, or a choice, it refused
        if not config.options:
            raise
        raise AgentConfigError(f"--options: {error}") from None
    except MLICError:
        raise
    except Exception as error:  # noqa: BLE001 - the user's constructor: say how it is called
        raise ConfigError(
            f"--algo {config.algo}: {config.algo.partition(':')[2]}(env, seed={config.seed}, "
            f"config=...) failed ({type(error).__name__}: {error}): the registry "
            "(agents.make_controller) builds every controller so, so its constructor must be "
            "callable as cls(env, seed=..., config=...), taking the env and the keywords seed "
            "and config (see examples/protocol_controller.py)") from error


def _flag_name(setting: str) -> str:
    """The run_marl setting of an env setting as a card names it (``reward.kind``)."""
    (name, _), = flat_settings({setting: None}).items()
    return name


def _show_flag(setting: str, value: Any) -> str:
    name = _flag_name(setting)
    return flag_text(name, value) if name in ENV_FLAGS else f"{setting}={value!r}"


def _fix_flag(setting: str, wanted: Any) -> str:
    if _flag_name(setting) in ENV_FLAGS:
        return f"pass {_show_flag(setting, wanted)}"
    return f"run_marl has no flag for {setting}; from Python, {zoo.keyword_fix(setting, wanted)}"


FLAGS = zoo.Wording(show=_show_flag, fix=_fix_flag)
"""How this CLI words the env settings a loaded controller needs (``EnvSettingsError``): as
its flags."""


@cli.command(returns_status=True)
def main(argv: Sequence[str] | None = None, restore_signal_handlers: bool = True) -> int:
    """Run the CLI; returns the exit code (0, 2 bad input, 1 I/O error, 130/143 interrupted).
    A project error is ``error: ...`` and 2 (``training.core.cli.command``; ``--debug``: its
    traceback).

    ``restore_signal_handlers=False`` (the ``python -m`` entry point) ignores SIGINT/SIGTERM
    once the run is over, so a late Ctrl-C cannot raise during interpreter shutdown.
    """
    config: RunConfig | None = None
    stop = StopFlag()
    try:
        config = parse_config(argv)
        envs.spec(config.env)
        agents.spec(config.algo)
        check_load_agents(config)
        check_controller_class(config)
        check_backbone(envs.make_config(config.env, **config.make_overrides()))
        from training.run.loop import run  # heavy imports only once the arguments are valid
        stop.install()
        algo = f"(loaded from {config.load_agents})" if config.load_agents else config.algo
        options = f" options={json.dumps(dict(config.options))}" if config.options else ""
        print(f"run: env={config.env} algo={algo} agents={','.join(config.agents)} "
              f"curiosity={config.curiosity} reward={config.reward} seed={config.seed} "
              f"out={config.out_dir}{options}", flush=True)
        taken = controller_settings(config.env, config.load_agents)
        if taken:
            print(f"env settings of --load-agents {config.load_agents}: "
                  + " ".join(flag_text(k, v) for k, v in taken.items()), flush=True)
        result = run(config, should_stop=stop)
    except EnvSettingsError as error:  # its fixes worded as this CLI's flags
        raise ConfigError(error.message(FLAGS)) from error
    except MLICError:  # reported by cli.command (before OSError: DatasetNotFoundError is one)
        raise
    except KeyboardInterrupt:  # a second SIGINT/SIGTERM, or Ctrl-C before the handlers
        print(_abort_message(config), file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)
    except OSError as error:  # e.g. the disk filled up while writing the logs
        where = f" ({error.filename})" if error.filename else ""
        print(f"error: {error.strerror or error}{where}. "
              + (_resume_hint(config, "fix the cause, then continue with") if config else ""),
              file=sys.stderr)
        return EXIT_IO
    finally:
        stop.uninstall(ignore=not restore_signal_handlers)
    if result.interrupted:
        print(f"interrupted after {result.summary['decisions']} decisions; checkpoint in {config.out_dir}. "
              f"Continue with: python -m training.run_marl --out {config.out_dir} --resume "
              "(plus the same settings)", file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)
    print(json.dumps(result.summary, indent=2))
    print(f"outputs in {config.out_dir}: summary.json, steps.jsonl, tb/, report.png, agents/, checkpoint.pt")
    return 0


def _resume_hint(config: RunConfig, lead: str) -> str:
    if (config.out_dir / CHECKPOINT_FILE).is_file():
        return (f"The last complete checkpoint, {config.out_dir / CHECKPOINT_FILE}, is intact; "
                f"{lead}: python -m training.run_marl --out {config.out_dir} --resume "
                f"(plus the same settings)")
    return "No checkpoint was written yet, so there is nothing to resume: start the run again."


def _abort_message(config: RunConfig | None) -> str:
    if config is None:
        return "aborted"
    return "aborted. " + _resume_hint(config, "continue with")


if __name__ == "__main__":
    sys.exit(main(restore_signal_handlers=False))
