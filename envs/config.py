"""Typed configuration of one environment instance.

``EnvConfig`` is the *task*: which data, how big, how long, which agents, what they
observe. How the classifier trains lives in :class:`envs.engine.trainer.TrainerConfig`
and the reward (its kind and weights) in :class:`envs.reward.RewardConfig`; both are
nested here and passed down explicitly. The registry (``envs.registry``) holds one default
``EnvConfig`` per env id; ``envs.make(id, **overrides)`` replaces fields by name.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from envs.engine.data.digits import DigitsConfig
from envs.engine.data.images import check_bad_image_policy
from envs.engine.drift import Drift
from envs.engine.recipe import COMPONENTS, DEFAULT_RECIPE, LATEST_CATALOGUE, Recipe, catalogue
from envs.engine.trainer import TrainerConfig
from envs.engine.checks import (check_device, require_bool, require_choice,
                                require_in_range, require_optional_path, require_positive_int,
                                require_str)
from envs.errors import ConfigError
from envs.observation import OBSERVATION_MODES, RunBudget, observation_version
from envs.reward import RewardConfig


@dataclass(frozen=True)
class EnvConfig:
    """Everything that defines one MLIC training environment."""

    dataset: str = "digits"
    """Dataset name: ``digits``, ``voc``, ``coco``, ``csv`` or one added with
    ``envs.register_dataset``."""
    data_root: str | None = None
    """Where the data lives (else ``$MLIC_DATA_ROOT``); unused by ``digits``."""
    image_size: int | None = None
    """Square image side in pixels, an int in [1, inf); ``None`` uses the dataset's default."""
    max_train_images: int | None = None
    """Use only this many training images (a fixed subset), e.g. for tests: an int in
    [1, inf), or ``None`` for all."""
    max_eval_images: int | None = None
    """Evaluate on only this many val and this many test images (fixed subsets), e.g. for
    smoke tests: an int in [1, inf), or ``None`` for all. Its mAPs are not comparable with
    full-split ones."""
    max_decisions: int = 25
    """Decisions per episode, an int in [1, inf); the episode is truncated after the last one."""
    steps_per_decision: int | None = None
    """Training iterations per decision, an int in [1, inf); ``None`` means
    ``epochs_per_decision`` epochs."""
    epochs_per_decision: int = 1
    """Epochs per decision when ``steps_per_decision`` is ``None``, an int in [1, inf)
    (MA2ML's pipeline setting uses one decision covering the whole budget)."""
    batch_size: int = 64
    """Training batch size: an int in [1, inf)."""
    agents: tuple[str, ...] = COMPONENTS
    """Active agents; a removed agent's component stays at ``default_recipe``'s choice."""
    device: str = "cpu"
    """torch device for training."""
    amp: str = "none"
    """Mixed precision: ``none``, ``bf16`` or ``fp16`` (CUDA)."""
    backbone: str = "small_cnn"
    """Classifier backbone (see ``envs.engine.models``)."""
    weights_path: str | None = None
    """Local pretrained backbone weights, if any."""
    lr_scale: float = 1.0
    """Multiplies every optimizer family's base LR: a finite number in (0, inf)."""
    catalogue: str = LATEST_CATALOGUE
    """What the agents choose from (``envs.engine.recipe.CATALOGUE_NAMES``): it sets the
    action spaces and the observation's one-hot block. ``-v0`` ids use ``classic``, the
    latest ids ``tuning-free`` (adds Schedule-Free AdamW and Prodigy)."""
    context_features: bool = False
    """Add the run's context to the observation (version 2, the ``-v2`` ids): the budget's
    length (epochs, decisions, epochs left, images seen) and each augmentation family's label
    effect measured in the run (``envs.observation.CONTEXT_FEATURES``). Needs catalogue
    ``tuning-free``."""
    schedule_free_eval: str = "ema"
    """What is evaluated while Schedule-Free AdamW trains (``TrainerConfig.schedule_free_eval``):
    ``ema`` (the slow EMA of its average) or ``average`` (its average alone)."""
    default_recipe: Recipe = DEFAULT_RECIPE
    """The recipe before any decision, and the fixed choice of removed agents."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """The reward: its kind and weights."""
    history: int = 4
    """How many past val mAPs the observation carries: an int in [0, inf)."""
    observation: str = "standard"
    """Observation: ``standard`` (levels such as val mAP / 100) or ``relative`` (scale-free
    features measured from the episode's start, for controllers meant to transfer across
    tasks).

    Same length, order and space in both; see ``envs.observation.RELATIVE_FEATURES``."""
    download: bool = False
    """Download the dataset if missing (VOC only)."""
    cache_dir: str | None = None
    """Decoded-tensor cache directory (default ``$MLIC_CACHE_DIR`` or ``~/.cache/mlic-marl``)."""
    on_bad_image: str = "error"
    """A missing or undecodable image file: ``"error"`` stops with its name, ``"skip"`` drops
    it (one warning with the count per split)."""
    generator: DigitsConfig | None = None
    """The scene generator's settings, for the generated datasets (``digits``, ``mnist``);
    ``None`` uses its defaults at ``image_size``. Set by ``envs.Task``."""
    drift: Drift | None = None
    """Train labels that change partway through the budget (``envs.Drift``); ``None``: the
    data stays as it is. Set by ``envs.Task``."""

    def __post_init__(self) -> None:
        self._check_plain_fields()
        if not isinstance(self.reward, RewardConfig):
            raise ConfigError(f"reward must be an envs.RewardConfig, got "
                              f"{type(self.reward).__name__}")
        if isinstance(self.agents, (str, bytes)) or not isinstance(self.agents, Iterable):
            raise ConfigError(f"agents must be a tuple of agent ids from {COMPONENTS}, "
                              f"got {self.agents!r}")
        agents = tuple(self.agents)
        unknown = [a for a in agents if a not in COMPONENTS]
        if unknown or not agents or len(set(agents)) != len(agents):
            raise ConfigError(
                f"agents={agents!r} is invalid: give a non-empty subset of {COMPONENTS} without "
                f"repeats (unknown: {unknown})")
        object.__setattr__(self, "agents", tuple(a for a in COMPONENTS if a in agents))
        require_str("catalogue", self.catalogue)
        choices = catalogue(self.catalogue)  # an unknown name fails here, naming the catalogues
        observation_version(self.catalogue, self.context_features)  # a pair with no version
        if not isinstance(self.default_recipe, Recipe):
            raise ConfigError(f"default_recipe must be an envs.Recipe, got "
                              f"{self.default_recipe!r}")
        outside = {c: getattr(self.default_recipe, c) for c in COMPONENTS
                   if getattr(self.default_recipe, c) not in choices[c]}
        if outside:
            raise ConfigError(f"default_recipe {self.default_recipe.name} has choices {outside} "
                              f"outside catalogue {self.catalogue!r}; use catalogue="
                              f"{LATEST_CATALOGUE!r} or a recipe of that catalogue")
        check_bad_image_policy(self.on_bad_image)
        if self.generator is not None and not isinstance(self.generator, DigitsConfig):
            raise ConfigError(f"generator must be an envs.engine.data.DigitsConfig or None, "
                              f"got {type(self.generator).__name__}")
        if self.drift is not None and not isinstance(self.drift, Drift):
            raise ConfigError(f"drift must be an envs.Drift or None, got {type(self.drift).__name__}")
        check_device(self.device)
        self.trainer_config()  # validates amp, lr_scale, ... now rather than after loading data

    def _check_plain_fields(self) -> None:
        """The fields that are plain values: types and the ranges their docstrings state."""
        require_str("dataset", self.dataset)
        for name in ("image_size", "max_train_images", "max_eval_images", "steps_per_decision"):
            value = getattr(self, name)
            if value is not None:
                require_positive_int(name, value)
        for name in ("max_decisions", "epochs_per_decision", "batch_size"):
            require_positive_int(name, getattr(self, name))
        require_in_range("history", self.history, 0, integer=True)
        require_choice("observation", self.observation, OBSERVATION_MODES)
        for name in ("data_root", "weights_path", "cache_dir"):
            require_optional_path(name, getattr(self, name))
        for name in ("download", "context_features"):
            require_bool(name, getattr(self, name))
        require_str("on_bad_image", self.on_bad_image)

    def trainer_config(self) -> TrainerConfig:
        """The training settings this env config implies."""
        return TrainerConfig(backbone=self.backbone, weights_path=self.weights_path,
                             batch_size=self.batch_size, device=self.device, amp=self.amp,
                             lr_scale=self.lr_scale, schedule_free_eval=self.schedule_free_eval)


def config_field_names() -> tuple[str, ...]:
    """Names accepted as keyword overrides by ``envs.make``."""
    return tuple(f.name for f in fields(EnvConfig))


def decision_steps(config: EnvConfig, train_images: int) -> int:
    """Training iterations per decision of ``config`` on ``train_images`` images:
    ``steps_per_decision``, else ``epochs_per_decision`` epochs of whole batches."""
    epoch = max(1, train_images // min(config.batch_size, max(train_images, 1)))
    return config.steps_per_decision or epoch * config.epochs_per_decision


def run_budget(config: EnvConfig, train_images: int) -> RunBudget:
    """The budget the context features read for a run of ``config`` on ``train_images``
    images (``envs.observation.RunBudget``), whether or not ``config`` reads it."""
    batch = min(config.batch_size, max(train_images, 1))
    return RunBudget(decisions=config.max_decisions,
                     epochs_per_decision=decision_steps(config, train_images) * batch
                     / max(train_images, 1),
                     train_images=train_images)
