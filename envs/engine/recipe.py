"""The four catalogues the agents choose from, and the recipe they form together.

A *recipe* is one choice per component: augmentation (``aug``), optimizer
(``opt``), learning-rate schedule (``lrs``) and loss (``loss``). The names here
are the stable action names users see through ``env.action_names(agent)``; an
action index is a position in these tuples, so only append to them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from envs.errors import ConfigError

AUG_NAMES: tuple[str, ...] = (
    "none", "crop", "flip_crop", "color_jitter", "cutout", "mixup", "cutmix", "randaugment",
)
OPT_NAMES: tuple[str, ...] = ("sgd", "adam", "adamw", "rmsprop")
LRS_NAMES: tuple[str, ...] = ("constant", "step", "cosine", "one_cycle", "warm_restarts")
LOSS_NAMES: tuple[str, ...] = ("bce", "focal", "asl", "cb_bce", "ls_bce")

COMPONENTS: tuple[str, ...] = ("aug", "opt", "lrs", "loss")
CATALOGUES: dict[str, tuple[str, ...]] = {
    "aug": AUG_NAMES, "opt": OPT_NAMES, "lrs": LRS_NAMES, "loss": LOSS_NAMES,
}


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
        for component in COMPONENTS:
            name = getattr(self, component)
            if name not in CATALOGUES[component]:
                raise ConfigError(
                    f"unknown {component} choice {name!r}; valid choices: "
                    f"{', '.join(CATALOGUES[component])}")

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
