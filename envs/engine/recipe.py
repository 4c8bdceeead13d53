"""The four catalogues the agents choose from, and the recipe they form together.

A *recipe* is one choice per component: augmentation (``aug``), optimizer
(``opt``), learning-rate schedule (``lrs``) and loss (``loss``). The names here
are the stable action names users see through ``env.action_names(agent)``; an
action index is a position in these tuples, so only append to them.

Catalogues
    What the agents may choose is a *catalogue*, named (``CATALOGUE_NAMES``), never
    numbered, so that its name cannot be mistaken for an env version (``mlic-digits-v1``)
    or a task set (``digits-v1``):

    * ``classic``: the first catalogue, 8 augmentations x 4 optimizers (SGD, Adam, AdamW,
      RMSprop) x 5 schedules x 5 losses. The ``-v0`` env ids, the ``digits-v0`` and
      ``digits-v1`` task sets, the zoo entries published before the tuning-free
      optimizers, the Minari datasets ``mlic/digits-v1-mixed-v0``/``-v1`` and the surrogate
      use it.
    * ``tuning-free`` (the latest): ``classic`` plus Schedule-Free AdamW (``sf_adamw``)
      and Prodigy (``prodigy``), appended, so every ``classic`` action index keeps its
      meaning. The ``-v1`` env ids and their unversioned aliases (``mlic-digits``) use it.

    ``CATALOGUES`` is the latest catalogue; :func:`catalogue` returns any by name.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from envs.errors import ConfigError

AUG_NAMES: tuple[str, ...] = (
    "none", "crop", "flip_crop", "color_jitter", "cutout", "mixup", "cutmix", "randaugment",
)
OPT_NAMES: tuple[str, ...] = ("sgd", "adam", "adamw", "rmsprop", "sf_adamw", "prodigy")
"""Every optimizer the engine knows; a catalogue offers a prefix of it."""
LRS_NAMES: tuple[str, ...] = ("constant", "step", "cosine", "one_cycle", "warm_restarts")
LOSS_NAMES: tuple[str, ...] = ("bce", "focal", "asl", "cb_bce", "ls_bce")

COMPONENTS: tuple[str, ...] = ("aug", "opt", "lrs", "loss")
CLASSIC, TUNING_FREE = "classic", "tuning-free"
_EDITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    CLASSIC: {"aug": AUG_NAMES, "opt": OPT_NAMES[:4], "lrs": LRS_NAMES, "loss": LOSS_NAMES},
    TUNING_FREE: {"aug": AUG_NAMES, "opt": OPT_NAMES, "lrs": LRS_NAMES, "loss": LOSS_NAMES},
}
CATALOGUE_NAMES: tuple[str, ...] = tuple(_EDITIONS)
"""The catalogues, oldest first (see the module docstring)."""
LATEST_CATALOGUE = CATALOGUE_NAMES[-1]
"""The catalogue the latest env ids use (``tuning-free``)."""
LEGACY_CATALOGUE = CLASSIC
"""What a record without a catalogue name (a manifest, card or store written before
catalogues were named) was made with: the only catalogue there was."""


def catalogue(name: str) -> dict[str, tuple[str, ...]]:
    """The choices of catalogue ``name``, per component (a fresh dict)."""
    if name not in _EDITIONS:
        raise ConfigError(f"unknown catalogue {name!r}; catalogues: {', '.join(CATALOGUE_NAMES)} "
                          f"(the latest, {LATEST_CATALOGUE!r}, is what unversioned env ids use)")
    return dict(_EDITIONS[name])


def catalogue_of_sizes(sizes: dict[str, int]) -> str | None:
    """The catalogue whose choice counts are ``sizes`` (agent -> number of actions), or None."""
    for name, choices in _EDITIONS.items():
        if all(len(choices[a]) == int(n) for a, n in sizes.items() if a in choices):
            return name
    return None


CATALOGUES: dict[str, tuple[str, ...]] = catalogue(LATEST_CATALOGUE)
"""The latest catalogue's choices per component (``catalogue(LATEST_CATALOGUE)``)."""


@dataclass(frozen=True)
class Recipe:
    """One choice per component, by name."""

    aug: str = "flip_crop"
    """Batch augmentation (see ``envs.engine.augment``)."""
    opt: str = "adamw"
    """Optimizer family; each has its own base LR (see ``envs.engine.optimizers``)."""
    lrs: str = "one_cycle"
    """LR schedule, a function of global training progress (``envs.engine.schedules``)."""
    loss: str = "asl"
    """Multi-label loss (see ``envs.engine.losses``)."""

    def __post_init__(self) -> None:
        for component in COMPONENTS:  # any catalogue's choice; the env checks its own
            name = getattr(self, component)
            if name not in CATALOGUES[component]:
                raise ConfigError(
                    f"unknown {component} choice {name!r}; valid choices: "
                    f"{', '.join(CATALOGUES[component])}")

    def in_catalogue(self, name: str) -> bool:
        """Whether every choice of this recipe is offered by catalogue ``name``."""
        choices = catalogue(name)
        return all(getattr(self, c) in choices[c] for c in COMPONENTS)

    def with_choice(self, component: str, name: str) -> "Recipe":
        """A copy with one component replaced."""
        return replace(self, **{component: name})

    def as_dict(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in COMPONENTS}

    @property
    def name(self) -> str:
        """``aug+opt+lrs+loss``, e.g. ``none+sgd+constant+bce`` (``Recipe.parse`` reads it)."""
        return "+".join(getattr(self, c) for c in COMPONENTS)

    @classmethod
    def parse(cls, text: str) -> "Recipe":
        """The recipe named ``aug+opt+lrs+loss`` (the inverse of :attr:`name`)."""
        parts = str(text).split("+")
        if len(parts) != len(COMPONENTS):
            raise ConfigError(f"recipe {text!r} is not aug+opt+lrs+loss (four names joined by "
                              f"'+', e.g. {DEFAULT_NAME!r})")
        return cls(**dict(zip(COMPONENTS, parts)))


DEFAULT_NAME = "flip_crop+adamw+one_cycle+asl"
"""The default recipe's name (an example in error messages)."""
DEFAULT_RECIPE = Recipe()
"""The static default: AdamW + one-cycle + ASL + flip/crop (the ASL paper's recipe)."""

PANEL: dict[str, Recipe] = {
    "default (ASL paper)": DEFAULT_RECIPE,
    "crop+adamw+cosine+asl": Recipe("crop", "adamw", "cosine", "asl"),
    "randaug+adamw+one_cycle+asl": Recipe("randaugment", "adamw", "one_cycle", "asl"),
    "none+adam+cosine+bce": Recipe("none", "adam", "cosine", "bce"),
    "cutmix+sgd+cosine+focal": Recipe("cutmix", "sgd", "cosine", "focal"),
    "none+sgd+constant+bce": Recipe("none", "sgd", "constant", "bce"),
    "mixup+rmsprop+step+cb_bce": Recipe("mixup", "rmsprop", "step", "cb_bce"),
    "color_jitter+rmsprop+constant+ls_bce": Recipe("color_jitter", "rmsprop", "constant", "ls_bce"),
    # The practitioner's peers: the standard recipe (crop+adamw+cosine+asl) with a tuning-free
    # optimizer instead, on the schedule its authors prescribe.
    "crop+sf_adamw+constant+asl": Recipe("crop", "sf_adamw", "constant", "asl"),
    "crop+prodigy+cosine+asl": Recipe("crop", "prodigy", "cosine", "asl"),
    # The default task's best known static recipe (found outside the first 8; VBS-C there).
    "crop+sgd+constant+bce": Recipe("crop", "sgd", "constant", "bce"),
}
"""The static panel by the names its tables use (``benchmarks.static_recipes``, the task sets'
calibrations): two names are not ``Recipe.name``, ``default (ASL paper)`` and ``randaug+...``."""


def panel_recipe(name: str) -> Recipe:
    """The recipe a panel name (``PANEL``) or an ``aug+opt+lrs+loss`` name stands for."""
    return PANEL[name] if name in PANEL else Recipe.parse(name)
