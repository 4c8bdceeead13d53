"""The reward shared by all agents: the composite (default) or MA-DAC's ``best_gain``.

``RewardConfig.kind`` picks one of ``REWARD_KINDS``.

``composite`` (the default):
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

``best_gain`` (the reward of MA-DAC, Xue et al., "Multi-agent Dynamic Algorithm
Configuration", NeurIPS 2022), for controllers meant to transfer across tasks:
``r_t = b_t**2 - b_{t-1}**2 - w_pen * penalty`` with
``b_t = max(0, (best val mAP up to decision t - m_0) / max(m_0, START_FLOOR))``.

* ``m_0`` is the val mAP at ``reset``: the env evaluates the initial model before any
  decision, so ``b_0 = 0`` and only new bests pay. Measuring the gain relative to ``m_0``
  makes it scale-free (a task whose untrained model starts at 20 mAP and one that starts
  at 50 pay alike for doubling it); squaring pays a late improvement, near the best the
  recipe can reach, more than an early one of the same size.
* The return telescopes to ``b_T**2 - w_pen * sum(penalty)``: it tracks the episode's final
  best val mAP, whatever path led there.
* The penalty (divergence, switching) is the composite's, kept so that the reward still
  weighs gain against cost; ``w_map``, ``w_stab``, ``w_conv`` and ``map_scale`` are unused.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from envs.engine.checks import require_choice, require_in_range
from envs.engine.recipe import COMPONENTS

REWARD_KINDS: tuple[str, ...] = ("composite", "best_gain")
"""The rewards ``RewardConfig.kind`` may name."""
START_FLOOR = 1.0
"""``best_gain``: a start val mAP below this many points counts as this much, so a
degenerate start (an undefined mAP is reported as 0) cannot make the gain explode."""


@dataclass(frozen=True)
class RewardConfig:
    """Weights and scales of the reward, and which reward it is."""

    w_map: float = 1.0
    """Weight of the squashed mAP change, in [0, inf)."""
    w_stab: float = 0.2
    """Weight of the stability term (val-loss rises), in [0, inf)."""
    w_conv: float = 0.2
    """Weight of the convergence term (mAP reached early), in [0, inf)."""
    w_pen: float = 0.5
    """Weight of the penalty (divergence, switching cost), in [0, inf)."""
    map_scale: float = 2.0
    """mAP points at which ``tanh`` reaches 0.76, in (0, inf)."""
    switch_cost: float = 0.1
    """Penalty when every component switches at once (scaled by the fraction switched), in
    [0, inf)."""
    kind: str = "composite"
    """Reward: ``composite`` (weighted mAP change, stability, convergence, penalty) or
    ``best_gain`` (MA-DAC's: pays only new best val mAPs, relative to the start, minus the
    penalty; for transfer across tasks).

    See ``envs.reward`` for both definitions."""

    def __post_init__(self) -> None:
        require_choice("RewardConfig.kind", self.kind, REWARD_KINDS)
        # A NaN weight would turn every reward into NaN, silently, many steps later; every
        # range is that of the field's docstring (a negative weight would pay for the opposite)
        for name in ("w_map", "w_stab", "w_conv", "w_pen", "switch_cost"):
            require_in_range(f"RewardConfig.{name}", getattr(self, name), 0.0)
        require_in_range("RewardConfig.map_scale", self.map_scale, 0.0, low_open=True)


class _Terms:
    def as_dict(self) -> dict[str, float]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class RewardTerms(_Terms):
    """The composite reward and its parts, as reported in ``infos``."""

    reward: float
    map_gain: float
    stability: float
    convergence: float
    penalty: float


@dataclass(frozen=True)
class BestGainTerms(_Terms):
    """The ``best_gain`` reward and its parts, as reported in ``infos``."""

    reward: float
    relative_best: float
    """``b_t``: the best val mAP so far, as a gain over the start's (0 at reset)."""
    best_gain: float
    """``b_t**2 - b_{t-1}**2``: 0 unless this decision reached a new best."""
    penalty: float


def relative_best(best: float, start: float) -> float:
    """``b``: the best val mAP so far as a gain over the start's, in units of the start."""
    return max(0.0, (best - start) / max(start, START_FLOOR))


def compute_reward(config: RewardConfig, *, map_now: float, map_before: float,
                   best_now: float, best_before: float, map_start: float,
                   val_loss_now: float, val_loss_before: float, progress: float,
                   diverged: bool, switched: int, components: int
                   ) -> RewardTerms | BestGainTerms:
    """Combine one decision's outcome into the shared reward (of kind ``config.kind``).

    ``best_*`` are the best val mAPs up to this decision and the previous one (at ``reset``,
    the start's); ``map_start`` the val mAP at ``reset``.
    """
    penalty = float(diverged) + config.switch_cost * switched / max(components, 1)
    if config.kind == "best_gain":
        b_now, b_before = relative_best(best_now, map_start), relative_best(best_before, map_start)
        gain = b_now ** 2 - b_before ** 2
        return BestGainTerms(reward=gain - config.w_pen * penalty, relative_best=b_now,
                             best_gain=gain, penalty=penalty)
    map_gain = math.tanh((map_now - map_before) / config.map_scale)
    rise = (val_loss_now - val_loss_before) / max(val_loss_before, 1e-8)
    stability = -min(max(rise, 0.0), 1.0) if math.isfinite(rise) else -1.0
    convergence = (map_now / 100.0) * (1.0 - progress)
    reward = (config.w_map * map_gain + config.w_stab * stability
              + config.w_conv * convergence - config.w_pen * penalty)
    return RewardTerms(reward=reward, map_gain=map_gain, stability=stability,
                       convergence=convergence, penalty=penalty)


def decision_reward(config: RewardConfig, before: Any, after: Any, components: int
                    ) -> RewardTerms | BestGainTerms:
    """:func:`compute_reward` for one decision, from the ``TrainingStatus`` before and after
    it (``envs.observation``); the env and the user-loop API both pay this."""
    switched = sum(getattr(before.recipe, c) != getattr(after.recipe, c) for c in COMPONENTS)
    return compute_reward(
        config, map_now=after.val_map, map_before=before.val_map,
        best_now=after.best_val_map, best_before=before.best_val_map,
        map_start=after.origin.val_map, val_loss_now=after.val_loss,
        val_loss_before=before.val_loss, progress=after.progress, diverged=after.diverged,
        switched=switched, components=components)
