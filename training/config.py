"""``RunConfig``: every setting of ``python -m training.run_marl``, from flags or a YAML file.

Flags and file keys share names (``max_decisions`` in YAML is ``--max-decisions`` on the
command line). Flags given on the command line win over the file. An unknown key in the
file is an error that names it and lists the valid keys.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from agents.shaping import REWARDS
from envs.engine.recipe import COMPONENTS
from envs.errors import ConfigError

CURIOSITY_CHOICES = ("none", "icm", "rnd")
SETTINGS = ("per-step", "pipeline")
AMP_CHOICES = ("none", "bf16", "fp16")
BAD_IMAGE_CHOICES = ("error", "skip")
ENV_OVERRIDES = ("data_root", "image_size", "max_train_images", "max_decisions",
                 "steps_per_decision", "batch_size", "device", "amp", "on_bad_image")
_INT_OVERRIDES = ("image_size", "max_train_images", "max_decisions", "steps_per_decision",
                  "batch_size")


@dataclass(frozen=True)
class RunConfig:
    """One run of controllers on an environment."""

    env: str = "mlic-digits"
    """Registered env id (``envs.list_envs()``)."""
    algo: str = "mat-dqn"
    """Controller: mat-dqn, bandit, random or static (see ``agents.ALGORITHMS``)."""
    agents: tuple[str, ...] = COMPONENTS
    """Active agents; the others keep the default recipe's choice (ablations)."""
    curiosity: str = "none"
    """Curiosity reward wrapper: none, icm or rnd."""
    beta: float = 0.05
    """Weight of the intrinsic reward when curiosity is on."""
    reward: str = "shared"
    """``shared`` (every agent is paid the env's composite reward) or ``individual`` (each
    agent learns from a signal of its own: the "w/o coordination" ablation,
    ``agents.individual_reward``)."""
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
    """Directory of saved agents (``<out>/agents`` of an earlier run) to start from."""
    freeze: bool = False
    """Do not learn: act greedily with the (loaded) agents; curiosity models frozen too."""
    data_root: str | None = None
    """Dataset location (else ``$MLIC_DATA_ROOT``)."""
    image_size: int | None = None
    """Env override: image side in pixels."""
    max_train_images: int | None = None
    """Env override: use a fixed subset of the training images."""
    max_decisions: int | None = None
    """Env override: decisions per episode."""
    steps_per_decision: int | None = None
    """Env override: training iterations per decision (default one epoch)."""
    batch_size: int | None = None
    """Env override: training batch size."""
    device: str = "cpu"
    """torch device for the classifier."""
    amp: str = "none"
    """Mixed precision: none, bf16 or fp16 (CUDA)."""
    progress: bool = True
    """Show a progress bar."""
    on_bad_image: str = "error"
    """A missing or undecodable image: ``error`` stops with its name, ``skip`` drops it."""

    def __post_init__(self) -> None:
        self._check_types()
        if self.curiosity not in CURIOSITY_CHOICES:
            close = difflib.get_close_matches(str(self.curiosity), CURIOSITY_CHOICES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--curiosity {self.curiosity!r} is not one of {CURIOSITY_CHOICES}.{hint}")
        if self.setting not in SETTINGS:
            raise ConfigError(f"--setting {self.setting!r} is not one of {SETTINGS}")
        if self.reward not in REWARDS:
            raise ConfigError(f"--reward {self.reward!r} is not one of {REWARDS}")
        if self.reward == "individual" and self.setting == "pipeline":
            raise ConfigError("--reward individual pays each agent for what its component did "
                              "in the last segment; with --setting pipeline there is only one "
                              "decision per episode: use --setting per-step or --reward shared")
        if self.setting == "pipeline" and self.steps_per_decision is not None:
            raise ConfigError("--setting pipeline trains the whole budget in one decision; drop "
                              "--steps-per-decision (--max-decisions gives the budget in epochs)")
        if not _is_int(self.episodes) or self.episodes < 1:
            raise ConfigError(f"--episodes must be a positive integer, got {self.episodes!r}")
        if self.freeze and self.load_agents is None and self.algo == "mat-dqn":
            raise ConfigError("--freeze without --load-agents would run untrained mat-dqn agents; "
                              "pass --load-agents DIR (the 'agents' folder of an earlier run)")

    def _check_types(self) -> None:
        """Wrong types (typically from a YAML file) fail here, naming the setting and the fix."""
        for name in ("env", "algo", "curiosity", "reward", "device"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{_flag(name)} must be a non-empty string, got {value!r}")
        for name in ("out", "load_agents", "data_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, PathLike)):
                raise ConfigError(f"{_flag(name)} must be a path, got {value!r}")
        for name in ("resume", "freeze", "progress"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{_flag(name)} must be true or false, got {value!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) \
                or not math.isfinite(self.beta) or self.beta < 0:
            raise ConfigError(f"--beta must be a finite number >= 0, got {self.beta!r}")
        for name in _INT_OVERRIDES:
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ConfigError(f"{_flag(name)} must be a positive integer, got {value!r}")
        if self.amp not in AMP_CHOICES:
            raise ConfigError(f"--amp {self.amp!r} is not one of {AMP_CHOICES}")
        if self.on_bad_image not in BAD_IMAGE_CHOICES:
            raise ConfigError(f"--on-bad-image {self.on_bad_image!r} is not one of "
                              f"{BAD_IMAGE_CHOICES}")
        if not isinstance(self.agents, tuple):
            if not isinstance(self.agents, (str, list)):
                raise ConfigError(f"--agents must be a comma-separated string or a list of agent "
                                  f"ids from {','.join(COMPONENTS)}, got {self.agents!r}")
            object.__setattr__(self, "agents", parse_agents(self.agents))
        else:
            parse_agents(self.agents)

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / f"{self.env}-{self.algo}-s{self.seed}"

    def env_overrides(self) -> dict[str, Any]:
        """Keyword overrides for ``envs.make``."""
        overrides = {k: getattr(self, k) for k in ENV_OVERRIDES if getattr(self, k) is not None}
        overrides["agents"] = self.agents
        if self.setting == "pipeline":  # the per-step budget (in epochs) becomes one decision
            budget = overrides.pop("max_decisions", None) or _default_decisions(self.env)
            overrides.update(max_decisions=1, epochs_per_decision=budget)
        return overrides

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_decisions(env_id: str) -> int:
    """The registered env's default number of decisions (its per-step budget in epochs)."""
    from envs.registry import make_config  # envs is heavy; only needed for pipeline runs
    return make_config(env_id).max_decisions


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(RunConfig))


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
    unknown = sorted(set(settings) - set(field_names()))
    if unknown:
        hints = [f"{k!r} (did you mean {difflib.get_close_matches(k, field_names(), n=1)[0]!r}?)"
                 if difflib.get_close_matches(k, field_names(), n=1) else repr(k) for k in unknown]
        raise ConfigError(f"unknown key(s) in --config file {path}: {', '.join(hints)}. "
                          f"Valid keys: {', '.join(field_names())}")
    if isinstance(settings.get("agents"), (list, str)):
        settings["agents"] = parse_agents(settings["agents"])
    return settings


def parse_agents(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
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
