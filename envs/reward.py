"""The composite reward shared by all agents.

``r = w_map * f(dmAP) + w_stab * stability + w_conv * convergence - w_pen * penalty``

* ``f(dmAP) = tanh(dmAP / map_scale)``: the change of val mAP (in points) since the
  previous decision, squashed so one lucky step cannot dominate the return.
* ``stability = -clip(relative rise of the val loss, 0, 1)``: penalises segments that
  make the validation loss jump (MAT-Agent's stability term).
* ``convergence = (mAP / 100) * (1 - progress)``: high mAP reached early is worth more,
  which rewards fast convergence.
* ``penalty = divergence + switch_cost * (components switched / components)``: a
  rollback after a non-finite loss costs 1; switching components costs compute (fresh
  optimizer state, a new loss scale). Every term is computed from deterministic
  quantities, so the reward is reproducible from ``reset(seed=...)``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from envs.engine.checks import require_finite
from envs.errors import ConfigError


@dataclass(frozen=True)
class RewardConfig:
    """Weights and scales of the composite reward."""

    w_map: float = 1.0
    """Weight of the squashed mAP change."""
    w_stab: float = 0.2
    """Weight of the stability term (val-loss rises)."""
    w_conv: float = 0.2
    """Weight of the convergence term (mAP reached early)."""
    w_pen: float = 0.5
    """Weight of the penalty (divergence, switching cost)."""
    map_scale: float = 2.0
    """mAP points at which ``tanh`` reaches 0.76."""
    switch_cost: float = 0.1
    """Penalty when every component switches at once (scaled by the fraction switched)."""

    def __post_init__(self) -> None:
        # A NaN weight would turn every reward into NaN, silently, many steps later.
        for f in fields(self):
            require_finite(f"RewardConfig.{f.name}", getattr(self, f.name))
        if self.map_scale <= 0:
            raise ConfigError(f"map_scale must be positive, got {self.map_scale}")


@dataclass(frozen=True)
class RewardTerms:
    """The reward and its parts, as reported in ``infos``."""

    reward: float
    map_gain: float
    stability: float
    convergence: float
    penalty: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def compute_reward(config: RewardConfig, *, map_now: float, map_before: float,
                   val_loss_now: float, val_loss_before: float, progress: float,
                   diverged: bool, switched: int, components: int) -> RewardTerms:
    """Combine one decision's outcome into the shared reward."""
    map_gain = math.tanh((map_now - map_before) / config.map_scale)
    rise = (val_loss_now - val_loss_before) / max(val_loss_before, 1e-8)
    stability = -min(max(rise, 0.0), 1.0) if math.isfinite(rise) else -1.0
    convergence = (map_now / 100.0) * (1.0 - progress)
    penalty = float(diverged) + config.switch_cost * switched / max(components, 1)
    reward = (config.w_map * map_gain + config.w_stab * stability
              + config.w_conv * convergence - config.w_pen * penalty)
    return RewardTerms(reward=reward, map_gain=map_gain, stability=stability,
                       convergence=convergence, penalty=penalty)
