"""``RunConfig``: every setting of ``python -m training.run_marl``, from flags or a YAML file.

Flags and file keys share names (``max_decisions`` in YAML is ``--max-decisions`` on the
command line). Flags given on the command line win over the file. An unknown key in the
file is an error that names it and lists the valid keys.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from envs.engine.recipe import COMPONENTS
from envs.errors import ConfigError

CURIOSITY_CHOICES = ("none", "icm", "rnd")
ENV_OVERRIDES = ("data_root", "image_size", "max_train_images", "max_decisions",
                 "steps_per_decision", "batch_size", "device", "amp")


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

    def __post_init__(self) -> None:
        if self.curiosity not in CURIOSITY_CHOICES:
            close = difflib.get_close_matches(str(self.curiosity), CURIOSITY_CHOICES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--curiosity {self.curiosity!r} is not one of {CURIOSITY_CHOICES}.{hint}")
        if not isinstance(self.episodes, int) or self.episodes < 1:
            raise ConfigError(f"--episodes must be a positive integer, got {self.episodes!r}")
        if self.freeze and self.load_agents is None and self.algo == "mat-dqn":
            raise ConfigError("--freeze without --load-agents would run untrained mat-dqn agents; "
                              "pass --load-agents DIR (the 'agents' folder of an earlier run)")

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / f"{self.env}-{self.algo}-s{self.seed}"

    def env_overrides(self) -> dict[str, Any]:
        """Keyword overrides for ``envs.make``."""
        overrides = {k: getattr(self, k) for k in ENV_OVERRIDES if getattr(self, k) is not None}
        overrides["agents"] = self.agents
        return overrides

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(RunConfig))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The settings in a YAML file (keys may use ``-`` or ``_``); unknown keys are an error."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read --config file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"--config file {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"--config file {path} must hold a mapping of settings, got {type(data).__name__}")
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
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown or not names:
        raise ConfigError(f"--agents {','.join(names) or '(empty)'}: unknown agent(s) {unknown}; "
                          f"choose from {','.join(COMPONENTS)}")
    return tuple(names)
