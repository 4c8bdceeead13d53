"""Every config value is checked where it is declared (issue 31).

Hypothesis throws values at each typed config: valid ones drawn from the range its docstring
states, mixed with NaN, infinities, huge and negative numbers, bools, strings, None, lists,
numpy scalars. Each config either builds, with every field in its documented range, or
raises the project's error (``envs.errors.MLICError``), never another exception. ``SPECS``
restates each documented range here, apart from the code that enforces it.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs
from agents.baselines import BanditConfig, StaticConfig
from agents.ma2ml.critic import MA2MLConfig
from agents.ma2ml.lite import MA2MLLiteConfig
from agents.ma2ml.policy_team import REWARD_SOURCES, SETTINGS, PolicyTeamConfig
from agents.mat_dqn import MatDQNConfig
from agents.rewards import CURIOSITY_CHOICES, REWARDS, IndividualRewardConfig
from agents.rewards.curiosity.base import CuriosityConfig
from agents.rewards.curiosity.icm import ICMConfig
from agents.rollout import BASE_POLICIES, SCORES, RolloutConfig
from agents.selector import SelectorConfig
from envs.engine.data.digits import DigitsConfig
from envs.engine.data.digits_axes import BACKGROUNDS
from envs.engine.data.images import BAD_IMAGE_POLICIES
from envs.engine.trainer import AMP_MODES, SCHEDULE_FREE_EVALS, TrainerConfig
from envs.errors import MLICError
from envs.observation import OBSERVATION_MODES
from envs.reward import REWARD_KINDS, RewardConfig
from envs.tasks import SOURCES, Task
from training.core.config import RunConfig

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
"""Few, reproducible examples (nothing written to ``.hypothesis/``): the whole file stays well
under 20 s."""

NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0, 1, -1, 0.0, 1.0, -0.0, 0.5, 2, 1e308,
                     -1e308, 5e-324, 10 ** 400, -10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-2 ** 70, 2 ** 70),
    st.floats(-10, 10).map(np.float32), st.integers(-5, 5).map(np.int64))
WILD = st.one_of(
    NUMBERS, st.none(), st.booleans(), st.text(max_size=4), st.just("nan"),
    st.lists(NUMBERS, max_size=3), st.tuples(NUMBERS, NUMBERS),
    st.tuples(NUMBERS, NUMBERS, NUMBERS),
    st.dictionaries(st.text(max_size=3), NUMBERS, max_size=2), st.just(object()))
"""Values a config must refuse cleanly (or, where one happens to be valid, accept)."""


# ------------------------------------------------------------------ documented ranges
@dataclass(frozen=True)
class Field:
    """A field's valid values: ``draw`` some, ``holds`` says whether a stored value is one."""

    draw: st.SearchStrategy
    holds: Callable[[Any], bool]


def real(low: float = -math.inf, high: float = math.inf, low_open: bool = False,
         high_open: bool = False) -> Field:
    def holds(v: Any) -> bool:
        return (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                and (v > low if low_open else v >= low) and (v < high if high_open else v <= high))
    lo, hi = max(low, -1e6), min(high, 1e6)
    floats = st.floats(lo, hi, exclude_min=low_open, exclude_max=high_open)
    return Field(st.one_of(floats, floats.map(np.float64)), holds)


def integer(low: int, high: int | None = None) -> Field:
    def holds(v: Any) -> bool:
        return (isinstance(v, int) and not isinstance(v, bool) and v >= low
                and (high is None or v <= high))
    return Field(st.integers(low, low + 50 if high is None else high), holds)


def choice(*options: Any) -> Field:
    return Field(st.sampled_from(options),
                 lambda v: isinstance(v, type(options[0])) and v in options)


def optional(field: Field) -> Field:
    return Field(st.one_of(st.none(), field.draw), lambda v: v is None or field.holds(v))


def pair(of: Field) -> Field:
    """A tuple (lo, hi) of ``of`` with lo <= hi (drawn as a tuple or a list)."""
    def holds(v: Any) -> bool:
        return isinstance(v, tuple) and len(v) == 2 and all(map(of.holds, v)) and v[0] <= v[1]
    ordered = st.tuples(of.draw, of.draw).map(sorted)
    return Field(st.one_of(ordered.map(tuple), ordered), holds)


def sizes() -> Field:
    def holds(v: Any) -> bool:
        return isinstance(v, tuple) and all(integer(1).holds(n) for n in v)
    return Field(st.lists(st.integers(1, 64), max_size=3).flatmap(
        lambda xs: st.sampled_from([xs, tuple(xs)])), holds)


def just(value: Any, holds: Callable[[Any], bool]) -> Field:
    return Field(st.just(value), holds)


def instance(*kinds: type) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, kinds)


PATH = optional(Field(st.sampled_from(["runs/x", "/tmp/w.pt"]), instance(str)))
BOOL = Field(st.booleans(), instance(bool))
FRACTIONS = Field(st.sampled_from([(0.6, 0.15, 0.25), [0.5, 0.25, 0.25], (0.8, 0.1, 0.1)]),
                  lambda v: isinstance(v, tuple) and len(v) == 3
                  and all(real(0, 1, True, True).holds(x) for x in v)
                  and abs(math.fsum(v) - 1) <= 1e-6)
MAPPING = Field(st.sampled_from([{}, {"opt": 1}, {"aug": "flip", "loss": 0}]),
                instance(Mapping))
RECIPES = Field(st.sampled_from([(), [{"opt": 1}], ({"aug": 0}, {"loss": "bce"})]),
                lambda v: isinstance(v, (list, tuple)) and all(isinstance(r, Mapping) for r in v))
DEVICE = Field(st.sampled_from(["cpu", "cuda", "cuda:1", "meta"]), instance(str))
POLICY_TEAM = {
    "setting": choice(*SETTINGS), "reward_source": optional(choice(*REWARD_SOURCES)),
    "gamma": real(0, 1), "hidden": sizes(), "policy_lr": real(0, low_open=True),
    "entropy_coef": real(0), "kl_coef": real(0), "policy_tau": real(0, 1, low_open=True),
    "max_grad_norm": real(0, low_open=True)}
CURIOSITY = {"beta": real(0), "learning_rate": real(0, low_open=True), "hidden": integer(1),
             "feature_dim": integer(1), "clip": real(0, low_open=True)}

SPECS: dict[type, dict[str, Field]] = {
    envs.Drift: {"at": real(0, 1, True, True), "label_noise": real(0, 0.5), "seed": integer(0)},
    DigitsConfig: {
        "n_train": integer(1), "n_val": integer(1), "n_test": integer(1),
        "image_size": integer(16, 1024), "seed": integer(0),
        "digits_per_image": pair(integer(1, 10)), "digit_size": pair(integer(1, 32)),
        "zipf_exponent": real(0), "n_partner_pairs": integer(0, 5), "partner_prob": real(0, 1),
        "source_fractions": FRACTIONS, "background_crop": pair(real(0.01, 1)),
        "background_contrast": pair(real(0, 2)), "desaturate_prob": real(0, 1),
        "ink_contrast": pair(real(0, 1)), "ink_saturation": real(0, 1),
        "ink_opacity": pair(real(0, 1)), "max_overlap": real(0, 1), "noise_std": real(0, 255),
        "label_noise": real(0, 0.5), "n_classes": integer(2, 10),
        "background": choice(*BACKGROUNDS)},
    Task: {
        "source": choice(*SOURCES), "generator": just(DigitsConfig(), instance(DigitsConfig)),
        "decisions": integer(1, 1000), "epochs_per_decision": integer(1, 100),
        "backbone": Field(st.sampled_from(["", "small_cnn"]), instance(str)),
        "drift": optional(just(envs.Drift(), instance(envs.Drift))), "version": integer(0, 2)},
    envs.EnvConfig: {
        "dataset": Field(st.sampled_from(["digits", "voc"]), instance(str)), "data_root": PATH,
        "image_size": optional(integer(1)), "max_train_images": optional(integer(1)),
        "max_eval_images": optional(integer(1)),
        "max_decisions": integer(1), "steps_per_decision": optional(integer(1)),
        "epochs_per_decision": integer(1), "batch_size": integer(1),
        "agents": Field(st.sampled_from([("aug",), ["opt", "loss"], envs.COMPONENTS]),
                        lambda v: isinstance(v, tuple) and v and set(v) <= set(envs.COMPONENTS)),
        "device": DEVICE, "amp": choice(*AMP_MODES), "backbone": choice("small_cnn"),
        "weights_path": PATH, "lr_scale": real(0, low_open=True),
        "catalogue": choice(*envs.CATALOGUE_NAMES), "context_features": BOOL,
        "schedule_free_eval": choice(*SCHEDULE_FREE_EVALS), "history": integer(0),
        "observation": choice(*OBSERVATION_MODES), "download": BOOL, "cache_dir": PATH,
        "on_bad_image": choice(*BAD_IMAGE_POLICIES),
        "generator": optional(just(DigitsConfig(), instance(DigitsConfig))),
        "drift": optional(just(envs.Drift(), instance(envs.Drift)))},
    TrainerConfig: {
        "backbone": choice("small_cnn"), "weights_path": PATH, "batch_size": integer(1),
        "eval_batch_size": integer(1), "device": DEVICE, "amp": choice(*AMP_MODES),
        "channels_last": BOOL, "lr_ema_rate": real(0, 1, low_open=True),
        "weight_ema_decay": real(0, 1, high_open=True), "lr_scale": real(0, low_open=True),
        "grad_clip": optional(real(0, low_open=True)), "finite_check_every": integer(1),
        "schedule_free_eval": choice(*SCHEDULE_FREE_EVALS)},
    RewardConfig: {"w_map": real(0), "w_stab": real(0), "w_conv": real(0), "w_pen": real(0),
                   "map_scale": real(0, low_open=True), "switch_cost": real(0),
                   "kind": choice(*REWARD_KINDS)},
    MatDQNConfig: {
        "learning_rate": real(0, low_open=True), "buffer_size": integer(1),
        "learning_starts": integer(0), "batch_size": integer(1), "tau": real(0, 1, low_open=True),
        "target_update_interval": integer(1), "gamma": real(0, 1), "train_freq": integer(1),
        "gradient_steps": integer(1), "exploration_fraction": real(0, 1, low_open=True),
        "exploration_initial_eps": real(0, 1), "exploration_final_eps": real(0, 1),
        "max_grad_norm": real(0, low_open=True), "net_arch": sizes(), "device": DEVICE,
        "log_dir": PATH, "dqn_kwargs": Field(st.sampled_from([{}, {"policy_kwargs": {}}]),
                                             instance(Mapping))},
    BanditConfig: {"alpha": real(0, 1, low_open=True), "epsilon": real(0, 1),
                   "initial_value": real()},
    StaticConfig: {"choices": MAPPING},
    SelectorConfig: {"recipes": RECIPES, "neighbours": integer(1), "decide_at": integer(0)},
    RolloutConfig: {
        "choices": MAPPING, "candidates": integer(0), "jumps": RECIPES, "horizon": integer(0),
        "base_policy": choice(*BASE_POLICIES), "score": choice(*SCORES), "reuse": BOOL,
        "halving": Field(st.sampled_from([(), [[0, 1], [2, 0]], ((0, 2), (3, 4), (1, 0))]),
                         lambda v: isinstance(v, tuple) and all(
                             isinstance(r, tuple) and len(r) == 2 for r in v))},
    PolicyTeamConfig: POLICY_TEAM,
    MA2MLConfig: {**POLICY_TEAM, "critic_lr": real(0, low_open=True), "buffer_size": integer(1),
                  "learning_starts": integer(1), "batch_size": integer(1),
                  "gradient_steps": integer(1), "tau": real(0, 1, low_open=True),
                  "next_action_samples": integer(1),
                  "importance_clip": optional(real(0, low_open=True))},
    MA2MLLiteConfig: {**POLICY_TEAM, "baseline_lr": real(0, low_open=True),
                      "horizon": optional(integer(1))},
    IndividualRewardConfig: {name: real(0, low_open=True)
                             for name in ("aug_scale", "opt_scale", "tail_scale")},
    CuriosityConfig: CURIOSITY,
    ICMConfig: {**CURIOSITY, "forward_weight": real(0, 1)},
    RunConfig: {
        "env": choice("mlic-digits", "mlic-shapes-v0"), "algo": choice("bandit", "mat-dqn"),
        "curiosity": choice(*CURIOSITY_CHOICES), "beta": real(0), "reward": choice(*REWARDS),
        "setting": choice(*SETTINGS), "episodes": integer(1), "seed": integer(0),
        "out": PATH, "resume": BOOL, "freeze": BOOL, "progress": BOOL, "workers": integer(1),
        "address": optional(choice("auto", "127.0.0.1:6379"))},
}
"""Each config's fields and the range its docstrings state (bounds open or closed as they
say); a field left out of a config's entry is one no value of which is in question here."""

ALWAYS_VALID = {envs.Drift, RewardConfig, MatDQNConfig, BanditConfig, StaticConfig,
                SelectorConfig, PolicyTeamConfig, MA2MLConfig, MA2MLLiteConfig,
                IndividualRewardConfig, CuriosityConfig, ICMConfig}
"""Configs with no rule across fields: valid values alone always build one."""


@st.composite
def settings_of(draw: st.DrawFn, spec: Mapping[str, Field]) -> tuple[dict[str, Any], set[str]]:
    """Keyword arguments for some of ``spec``'s fields, at most two of them wild."""
    names = draw(st.lists(st.sampled_from(sorted(spec)), unique=True, max_size=len(spec)))
    wild = draw(st.sets(st.sampled_from(names), max_size=2)) if names else set()
    return {n: draw(WILD if n in wild else spec[n].draw) for n in names}, wild


def build(cls: type, kwargs: Mapping[str, Any]) -> Any:
    """``cls(**kwargs)``, or None where it raised the project's error (any other propagates)."""
    try:
        return cls(**kwargs)
    except MLICError:
        return None


@pytest.mark.parametrize("cls", list(SPECS), ids=lambda c: c.__name__)
def test_every_field_of_every_config_is_named_here(cls: type) -> None:
    documented = {f.name for f in fields(cls)}
    unnamed = documented - set(SPECS[cls])
    allowed = {RunConfig: {"load_agents", "options", "env_overrides"},
               envs.EnvConfig: {"default_recipe", "reward"}}.get(cls, set())
    assert unnamed <= allowed, f"{cls.__name__}: {sorted(unnamed - allowed)} have no range here"
    assert cls() == cls(), "the defaults build"


@pytest.mark.parametrize("cls", list(SPECS), ids=lambda c: c.__name__)
def test_a_config_builds_within_its_ranges_or_raises_the_projects_error(cls: type) -> None:
    spec = SPECS[cls]

    @PROPERTY
    @given(settings_of(spec))
    def check(drawn: tuple[dict[str, Any], set[str]]) -> None:
        kwargs, wild = drawn
        config = build(cls, kwargs)
        if config is None:
            assert wild or cls not in ALWAYS_VALID, f"{cls.__name__} refused valid {kwargs}"
            return
        for name, field in spec.items():
            value = getattr(config, name)
            assert field.holds(value), f"{cls.__name__}.{name}={value!r} is outside its range"
        _check_across_fields(config)

    check()


def _check_across_fields(config: Any) -> None:
    """The rules that tie fields together, where a config has them."""
    if isinstance(config, DigitsConfig):
        lo, hi = config.scaled_digit_size()
        assert 3 <= lo <= hi <= config.image_size
        assert config.digits_per_image[1] <= config.n_classes
    if isinstance(config, RolloutConfig):
        assert not (config.halving and config.horizon)
    if isinstance(config, (TrainerConfig, envs.EnvConfig)) and config.amp == "fp16":
        assert config.device.startswith("cuda")
    if isinstance(config, envs.EnvConfig) and config.context_features:
        assert config.catalogue == "tuning-free"


# ------------------------------------------------------------------ the cases
def test_drift_at_the_end_of_the_budget_is_refused() -> None:
    with pytest.raises(envs.ConfigError, match=r"Drift.at must be a finite number in \(0, 1\), "
                                               r"got 1.0"):
        envs.Drift(at=1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "2"])
def test_a_task_of_nan_settings_builds_no_data(value: Any) -> None:
    with pytest.raises(envs.ConfigError, match=r"DigitsConfig.zipf_exponent .* \[0, inf\), got"):
        envs.Task.of("digits", zipf_exponent=value)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"lr_scale": math.nan}, r"lr_scale must be a finite number in \(0, inf\), got nan"),
    ({"history": 2.5}, r"history must be an int in \[0, inf\), got 2.5"),
    ({"agents": 3}, "agents must be a tuple of agent ids"),
    ({"download": "yes"}, "download must be True or False"),
])
def test_env_config_names_the_setting_the_value_and_the_range(kwargs: dict, fragment: str) -> None:
    with pytest.raises(envs.ConfigError, match=fragment):
        envs.EnvConfig(**kwargs)


def test_digits_config_keeps_a_list_as_the_tuple_it_stands_for() -> None:
    config = DigitsConfig(digits_per_image=[1, 2], source_fractions=[0.5, 0.25, 0.25])
    assert config.digits_per_image == (1, 2) and config.source_fractions == (0.5, 0.25, 0.25)
    assert hash(Task(generator=config)) == hash(Task(generator=DigitsConfig(
        digits_per_image=(1, 2), source_fractions=(0.5, 0.25, 0.25))))
