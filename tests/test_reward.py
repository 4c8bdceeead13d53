"""The reward's config: every weight and scale is validated when it is built (the kind in
``tests/test_transfer_modes.py``)."""
from __future__ import annotations

import math
from dataclasses import fields

import pytest

from envs.errors import ConfigError
from envs.reward import RewardConfig, compute_reward

FIELDS = [f.name for f in fields(RewardConfig) if f.name != "kind"]


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1.0", True])
def test_non_finite_or_non_numeric_fields_are_rejected_by_name(name, value):
    with pytest.raises(ConfigError, match=rf"RewardConfig\.{name} must be a finite number"):
        RewardConfig(**{name: value})


def test_map_scale_must_be_positive_and_weights_not_negative():
    with pytest.raises(ConfigError, match=r"map_scale must be a finite number in \(0, inf\)"):
        RewardConfig(map_scale=0.0)
    for name in ("w_map", "w_stab", "w_conv", "w_pen", "switch_cost"):
        with pytest.raises(ConfigError, match=rf"RewardConfig\.{name} .* in \[0, inf\), got -1"):
            RewardConfig(**{name: -1})


def test_finite_config_gives_a_finite_reward():
    config = RewardConfig(w_map=2, w_pen=0.0, switch_cost=1e6)
    terms = compute_reward(config, map_now=40.0, map_before=38.0, best_now=40.0,
                           best_before=39.0, map_start=20.0, val_loss_now=0.5,
                           val_loss_before=0.6, progress=0.5, diverged=False, switched=2,
                           components=4)
    assert math.isfinite(terms.reward) and terms.map_gain == pytest.approx(math.tanh(1.0))
