"""``RunConfig``: every setting of ``python -m training.run_marl``, from flags or a YAML file.

A run's own settings (algorithm, curiosity, episodes, seed, output, ...) are the fields of
``RunConfig``. The env settings a run may override are *not* restated here: they are the
``envs.EnvConfig`` fields named in ``ENV_FLAGS``, kept in ``RunConfig.env_overrides`` and
validated by ``EnvConfig`` itself. One is a field of a config nested in ``EnvConfig``
(``reward_kind`` is ``EnvConfig.reward.kind``, ``training.core.fields.NESTED_ENV_FLAGS``); it
stays flat in ``env_overrides`` and becomes that config in ``envs.make``'s keywords
(:func:`env_make_kwargs`). Choice lists come from the modules that own them.

Flags and file keys share names (``max_decisions`` in YAML is ``--max-decisions`` on the
command line); a flag's help is its field's docstring (``training.core.fields``). Flags given on
the command line win over the file. An unknown key in the file is an error that names it
and lists the valid keys.
"""
from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from agents.ma2ml.policy_team import SETTINGS
from agents.rewards import CURIOSITY_CHOICES, REWARDS, check_choice
from envs.engine.recipe import COMPONENTS
from envs.errors import ConfigError
from training.core.saved_settings import controller_env_settings
from training.core.fields import NESTED_ENV_FLAGS, env_setting, flag, flag_text, flat_settings

ENV_FLAGS = ("agents", "data_root", "download", "image_size", "max_train_images", "max_eval_images",
             "max_decisions", "steps_per_decision", "batch_size", "device", "amp", "backbone", "weights_path",
             "on_bad_image", "observation", "reward_kind", "catalogue", "context_features",
             "schedule_free_eval")
"""The ``envs.EnvConfig`` settings a run may override, as flags and YAML keys of the same names
(``reward_kind`` sets ``EnvConfig.reward.kind``; ``weights_path``'s flag is ``--weights``,
``training.core.fields.FLAG_NAMES``)."""
PAIRED_ENV_FLAGS = {"catalogue": ("context_features",), "context_features": ("catalogue",)}
"""Env settings valid only together (observation version 2 is the ``tuning-free`` catalogue's):
each is checked with its partner when both are given."""
_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}")
"""HOST:PORT of a Ray head (an IPv6 host in brackets), as ``--address`` takes it."""
@dataclass(frozen=True)
class RunConfig:
    """One run of controllers on an environment."""

    env: str = "mlic-digits"
    """Registered env id (``envs.list_envs()``)."""
    algo: str = "mat-dqn"
    """Controller (``agents.ALGORITHMS``, or ``module.path:ClassName``; checked unless
    --load-agents brings its own)."""
    curiosity: str = "none"
    """Curiosity reward wrapper: none, icm or rnd."""
    beta: float = 0.05
    """Weight of the intrinsic reward when curiosity is on: a finite number in [0, inf)."""
    reward: str = "shared"
    """``shared`` (every agent is paid the env's composite reward) or ``individual`` (each
    agent learns from a signal of its own: the "w/o coordination" ablation,
    ``agents.rewards.individual``)."""
    setting: str = "per-step"
    """``per-step`` (a decision every segment, MAT-Agent) or ``pipeline`` (MA2ML's AutoML
    setting: one decision per episode covering the whole budget, rewarded by final val mAP)."""
    episodes: int = 1
    """Training runs; the agents keep learning across them."""
    seed: int = 0
    """Seeds the env (episode ``e`` uses ``seed + e``) and the controller."""
    out: str | None = None
    """Output directory; default ``runs/<env>-<algo>-s<seed>``."""
    resume: bool = False
    """Continue from ``<out>/checkpoint.pt``."""
    load_agents: str | None = None
    """Directory of saved agents (``<out>/agents`` of an earlier run) to start from, or
    ``zoo:<name>``, a pretrained controller of ``agents.zoo``. The env gets the settings it
    was trained with (its card's or its run's --observation and --reward-kind)."""
    freeze: bool = False
    """Do not learn: act greedily with the (loaded) agents; curiosity models frozen too."""
    progress: bool = True
    """Show a progress bar."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Controller hyperparameters by name, as a JSON object (e.g. '{"epsilon": 0.1}' for
    bandit); with --load-agents they override the saved ones. static's recipe is its
    "choices", by action name or index: '{"choices": {"opt": "sgd", "loss": "bce"}}' (agents
    left out keep the default recipe's)."""
    workers: int = 1
    """Ray workers that play a search controller's forks (``rollout``'s candidates) side by
    side; 1 plays them in-process, without Ray."""
    address: str | None = None
    """A Ray cluster to join for --workers (``auto``, or HOST:PORT of its head); default: a
    local Ray."""
    env_overrides: Mapping[str, Any] = field(default_factory=dict)
    """``envs.EnvConfig`` fields to override (any of ``ENV_FLAGS``), validated by ``EnvConfig``."""

    def __post_init__(self) -> None:
        self._check_types()
        if self.load_agents is None:  # a loaded controller brings its own algorithm
            from agents.registry import spec
            spec(self.algo)  # an unknown one fails here, naming the algorithms
        check_choice("--curiosity", self.curiosity, CURIOSITY_CHOICES, ConfigError)
        check_choice("--setting", self.setting, SETTINGS, ConfigError)
        check_choice("--reward", self.reward, REWARDS, ConfigError)
        object.__setattr__(self, "env_overrides", with_controller_settings(
            self.env, self.load_agents, checked_env_overrides(self.env, self.env_overrides)))
        reward_kind = self.env_overrides.get("reward_kind", "composite")
        if self.reward == "individual" and reward_kind != "composite":
            raise ConfigError("--reward individual replaces the env's reward by one signal per "
                              "agent, so --reward-kind would not change what the agents learn "
                              "from (and the lrs signal reads the composite's stability term): "
                              "drop --reward-kind or use --reward shared")
        if self.reward == "individual" and self.setting == "pipeline":
            raise ConfigError("--reward individual pays each agent for what its component did "
                              "in the last segment; with --setting pipeline there is only one "
                              "decision per episode: use --setting per-step or --reward shared")
        if self.setting == "pipeline" and "steps_per_decision" in self.env_overrides:
            raise ConfigError("--setting pipeline trains the whole budget in one decision; drop "
                              "--steps-per-decision (--max-decisions gives the budget in epochs)")
        self._check_options()
        if self.freeze and self.load_agents is None:
            raise ConfigError("--freeze without --load-agents would run untrained agents; pass "
                              "--load-agents DIR (the 'agents' folder of an earlier run) or "
                              "zoo:<name>")

    def _check_types(self) -> None:
        """Wrong types (typically from a YAML file) fail here, naming the setting and the fix."""
        for name in ("env", "algo", "curiosity", "reward", "setting"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{flag(name)} must be a non-empty string, got {value!r}")
        for name in ("out", "load_agents"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, PathLike)):
                raise ConfigError(f"{flag(name)} must be a path, got {value!r}")
        for name in ("resume", "freeze", "progress"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{flag(name)} must be true or false, got {value!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if not _is_int(self.episodes) or self.episodes < 1:
            raise ConfigError(f"--episodes must be a positive integer, got {self.episodes!r}")
        if not _is_int(self.workers) or self.workers < 1:
            raise ConfigError(f"--workers must be a positive integer (1 runs in-process, "
                              f"without Ray), got {self.workers!r}")
        if self.address is not None and (not isinstance(self.address, str) or not (
                self.address == "auto" or _HOST_PORT.fullmatch(self.address))):
            raise ConfigError(f"--address must be 'auto' or HOST:PORT, got {self.address!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) \
                or not math.isfinite(self.beta) or self.beta < 0:
            raise ConfigError(f"--beta must be a finite number >= 0, got {self.beta!r}")

    def _check_options(self) -> None:
        """``options`` is a mapping of names the controller takes (``--algo``'s; a loaded
        controller's are checked when it is loaded), and leaves the run's own settings alone."""
        if not isinstance(self.options, Mapping) \
                or not all(isinstance(k, str) for k in self.options):
            raise ConfigError(f"--options must be a JSON object of hyperparameters by name, e.g. "
                              f"'{{\"epsilon\": 0.1}}', got {self.options!r}")
        if "setting" in self.options:
            raise ConfigError("--options sets 'setting', which is the run's: pass --setting "
                              f"{self.options['setting']} instead")
        if self.options and self.load_agents is None:
            from agents.errors import AgentConfigError
            from agents.registry import check_options
            try:
                check_options(self.algo, self.options)
            except AgentConfigError as error:
                raise ConfigError(f"--options: {error}") from None

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / f"{self.env}-{self.algo}-s{self.seed}"

    @property
    def agents(self) -> tuple[str, ...]:
        """The active agents (the ``agents`` override, else all four)."""
        return tuple(self.env_overrides.get("agents", COMPONENTS))

    def make_overrides(self) -> dict[str, Any]:
        """Keyword overrides for ``envs.make``: the given ones, plus the setting's budget."""
        overrides = env_make_kwargs(self.env, self.env_overrides)
        if self.setting == "pipeline":  # the per-step budget (in epochs) becomes one decision
            budget = overrides.pop("max_decisions", None) or _default_decisions(self.env)
            overrides.update(max_decisions=1, epochs_per_decision=budget)
        return overrides

    def as_dict(self) -> dict[str, Any]:
        return {f.name: dict(getattr(self, f.name)) if f.name in ("options", "env_overrides")
                else getattr(self, f.name) for f in fields(self)}


def checked_env_overrides(env_id: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` checked by ``EnvConfig`` one by one (so an error names its flag), normalised
    to the values ``EnvConfig`` keeps (e.g. ``"aug,opt"`` -> ``("aug", "opt")``)."""
    from envs.registry import make_config  # envs is heavy; imported when a config is built

    if not isinstance(overrides, Mapping):
        raise ConfigError(f"env_overrides must be a mapping of {ENV_FLAGS} to values, "
                          f"got {overrides!r}")
    unknown = sorted(set(overrides) - set(ENV_FLAGS))
    if unknown:
        raise ConfigError(f"unknown env override(s) {unknown}; a run may override {ENV_FLAGS}")
    if "agents" in overrides:
        overrides = {**overrides, "agents": parse_agents(overrides["agents"])}
    if isinstance(overrides.get("weights_path"), (str, PathLike)):  # ~ from a YAML file
        overrides = {**overrides, "weights_path": os.path.expanduser(overrides["weights_path"])}
    values = {k: v for k, v in overrides.items() if v is not None}
    for name, value in values.items():
        paired = {p: values[p] for p in PAIRED_ENV_FLAGS.get(name, ()) if p in values}
        try:
            make_config(env_id, **env_make_kwargs(env_id, {name: value, **paired}))
        except ConfigError as error:
            raise ConfigError(f"{flag(name)}: {error}") from None
    config = make_config(env_id, **env_make_kwargs(env_id, values))
    return {k: getattr(*env_setting(config, k)) for k in values}


def controller_settings(env_id: str, load_agents: str | PathLike | None) -> dict[str, Any]:
    """The env settings the controller in ``load_agents`` (a saved folder or ``zoo:<name>``)
    was trained with that a run sets (``ENV_FLAGS``), checked as ``env_overrides`` are. Those
    no flag sets are left to the loader's check (``agents.zoo.check_env_settings``)."""
    if load_agents is None:
        return {}
    needed = flat_settings(controller_env_settings(load_agents))
    settable = {k: v for k, v in needed.items() if k in ENV_FLAGS}
    try:
        return checked_env_overrides(env_id, settable)
    except ConfigError as error:
        raise ConfigError(f"--load-agents {load_agents} was trained with env settings that "
                          f"{env_id} does not take ({error}); use a controller trained for "
                          "this env") from None


def with_controller_settings(env_id: str, load_agents: str | PathLike | None,
                             overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` plus the settings of :func:`controller_settings` that they leave out; one
    given that contradicts the controller's is refused, naming its flag and the value needed."""
    needed = controller_settings(env_id, load_agents)
    conflicts = [name for name, value in needed.items()
                 if name in overrides and overrides[name] != value]
    if conflicts:
        raise ConfigError(
            "; ".join(f"{flag_text(n, overrides[n])} contradicts --load-agents "
                      f"{load_agents}, which was trained with {flag_text(n, needed[n])}"
                      for n in conflicts)
            + f": drop {' and '.join(flag(n) for n in conflicts)} (the run then takes the "
              "controller's), or load a controller trained with what you passed")
    return {**overrides, **{k: v for k, v in needed.items() if k not in overrides}}


def env_make_kwargs(env_id: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``envs.make`` keywords for flat env settings: a nested one (``reward_kind``) replaces its
    field in the env's own nested config (``reward=replace(<env's RewardConfig>, kind=...)``)."""
    from envs.registry import make_config

    return config_kwargs(lambda: make_config(env_id), overrides)


def config_kwargs(base: Any, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``EnvConfig`` keywords for flat settings, a nested one replacing its field in the nested
    config of ``base()`` (an ``EnvConfig``, built only if a nested setting needs it)."""
    kwargs = {k: v for k, v in overrides.items() if k not in NESTED_ENV_FLAGS}
    for name, value in overrides.items():
        if name in NESTED_ENV_FLAGS:
            outer, inner = NESTED_ENV_FLAGS[name]
            nested = kwargs.get(outer) or getattr(base(), outer)
            kwargs[outer] = replace(nested, **{inner: value})
    return kwargs


def check_backbone(config: Any) -> None:
    """Fail now, naming the flag, if the ``envs.EnvConfig`` ``config`` cannot train: its
    ``--weights`` file is missing, its ``--device`` is not there
    (``envs.registry.check_resources``), or its ``--backbone`` cannot be built or the weights
    file loaded into it (damaged, not a state_dict, or entries that do not match). A command
    calls it before it writes anything; ``envs.make`` would find the same later, after the
    output folder and the data. The model is built once on the CPU with a one-class head (the
    file's head is never loaded), leaving the global torch RNG as it was."""
    from envs.engine.models import BACKBONES, build_model
    from envs.errors import CheckpointError
    from envs.registry import check_resources

    path = config.weights_path
    if path is not None and not Path(path).is_file():
        what = "is a folder, not a file" if Path(path).is_dir() else "does not exist"
        raise ConfigError(f"--weights {path} {what}: pass a backbone state_dict saved with "
                          "torch.save (e.g. resnet101.pth for --backbone timm:resnet101), or "
                          "leave --weights out to train the backbone from scratch")
    check_resources(config)
    if path is None and config.backbone in BACKBONES:  # a built-in one: nothing can fail
        return
    import torch
    with torch.random.fork_rng(devices=[]):
        try:
            build_model(config.backbone, 1, weights_path=path)
        except CheckpointError as error:  # the file: damaged, not a state_dict, mismatched
            raise CheckpointError(f"--weights for --backbone {config.backbone}: {error}") from None
        except ConfigError as error:  # the name, or a library it needs
            raise ConfigError(f"--backbone {config.backbone}: {error}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _default_decisions(env_id: str) -> int:
    """The registered env's default number of decisions (its per-step budget in epochs)."""
    from envs.registry import make_config
    return make_config(env_id).max_decisions


def setting_names() -> tuple[str, ...]:
    """Every key a run accepts: ``RunConfig``'s fields (less ``env_overrides``) and ``ENV_FLAGS``."""
    return tuple(f.name for f in fields(RunConfig) if f.name != "env_overrides") + ENV_FLAGS


def from_settings(settings: Mapping[str, Any]) -> RunConfig:
    """A ``RunConfig`` from flat settings (flags or YAML keys): env keys go to ``env_overrides``."""
    env = {k: v for k, v in settings.items() if k in ENV_FLAGS}
    run = {k: v for k, v in settings.items() if k not in ENV_FLAGS}
    return RunConfig(**run, env_overrides=env)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The settings in a YAML file (keys may use ``-`` or ``_``); unknown keys are an error."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read --config file {path}: {error.strerror}; pass the path of "
                          f"an existing YAML file (or leave --config out)") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"--config file {path} is not valid YAML: {error}\nFix the syntax: one "
                          f"'key: value' line per setting, e.g. 'algo: bandit'") from error
    if not isinstance(data, dict):
        raise ConfigError(f"--config file {path} must hold a mapping of settings, got "
                          f"{type(data).__name__}: write one 'key: value' line per setting, "
                          f"e.g. 'algo: bandit'")
    settings = {str(k).replace("-", "_"): v for k, v in data.items()}
    names = setting_names()
    unknown = sorted(set(settings) - set(names))
    if unknown:
        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, names, n=1)[0]!r}?)"
                 if difflib.get_close_matches(k, names, n=1) else repr(k) for k in unknown]
        raise ConfigError(f"unknown key(s) in --config file {path}: {', '.join(hints)}. "
                          f"Valid keys: {', '.join(names)}")
    return settings


def parse_agents(value: Any) -> tuple[str, ...]:
    """``"aug,opt"`` or ``["aug", "opt"]`` -> ``("aug", "opt")``, checked against the agent ids."""
    if not isinstance(value, (str, list, tuple)):
        raise ConfigError(f"--agents must be a comma-separated string or a list of agent ids "
                          f"from {','.join(COMPONENTS)}, got {value!r}")
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown or not names:
        raise ConfigError(f"--agents {','.join(names) or '(empty)'}: unknown agent(s) {unknown}; "
                          f"choose from {','.join(COMPONENTS)}")
    return tuple(names)
