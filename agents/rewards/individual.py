"""Individual rewards: the "w/o coordination" ablation as a PettingZoo ParallelEnv wrapper.

With the shared reward every agent is paid for the team's result (val mAP gain, stability,
convergence, penalties; ``envs.reward``). ``IndividualRewardWrapper`` replaces it by one
signal per agent, each a local proxy of what that agent's component is for, computed only
from ``infos`` (so it works with any env that reports the same keys as
``envs.MLICTrainingEnv``). Decision ``t`` is compared with decision ``t-1`` (or with the
state after ``reset``):

* ``aug`` (generalisation): ``-tanh(d / aug_scale)`` with
  ``d = log(val_loss_t / train_loss_t) - log(val_loss_{t-1} / train_loss_{t-1})``, the
  change of the (log-ratio) generalisation gap between the validation BCE and the training
  loss. Augmentation is meant to make what is learnt on the training batches carry over to
  unseen images; a gap that narrows is paid. A ratio, not a difference, because the train
  loss is measured with the recipe's own loss function (ASL and BCE differ in scale).
* ``opt`` (optimisation speed): ``tanh(((L_{t-1} - L_t) / L_{t-1}) / opt_scale)``, the
  relative decrease of the training loss ``L`` over the segment.
* ``lrs`` (stability): the env's stability term ``-clip(relative rise of the val loss, 0,
  1)`` (``infos[a]["reward_terms"]["stability"]``): a schedule should not make training jump.
* ``loss`` (tail classes): ``tanh(dAP_tail / tail_scale)``, the change (in points) of the
  mean val AP over ``tail_classes`` (the rarest third of the training classes, given by the
  caller, e.g. ``env.profile.tail_classes``); without ``tail_classes`` it falls back to
  the change of val mAP. Multi-label losses (ASL, focal, class-balanced BCE) exist to fix
  the rare and hard labels.

Both train-loss signals (``aug``, ``opt``) are 0 at a decision where the ``loss`` agent
switched the loss function: losses of two different functions are not comparable. A
non-finite value (a rolled-back segment) also gives 0. Each agent then pays its own share
of the shared penalty, ``w_pen * (diverged + switch_cost * own_switch / n_agents)``, so
the agents' switch penalties sum to the shared reward's.

The signals are confounded by the other agents' choices (the ``aug`` signal moves when
the optimizer changes the train loss, etc.): that is what independent learners without a
shared objective face, and what the ablation measures. ``infos[a]`` gains
``reward_shared`` (the env's reward) and ``reward_individual`` (this agent's reward).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from agents.errors import AgentConfigError
from envs.checks import require_in_range
from envs.errors import ResetNeededError
from envs.reward import RewardConfig


@dataclass(frozen=True)
class IndividualRewardConfig:
    """Scales of the individual signals (the penalty's weights come from the env's ``RewardConfig``)."""

    aug_scale: float = 0.05
    """Change of log(val/train loss) at which the aug signal's tanh reaches 0.76, in
    (0, inf)."""
    opt_scale: float = 0.1
    """Relative train-loss decrease at which the opt signal's tanh reaches 0.76, in (0, inf)."""
    tail_scale: float = 2.0
    """Tail-class AP change (points) at which the loss signal's tanh reaches 0.76, in
    (0, inf)."""

    def __post_init__(self) -> None:
        for name in ("aug_scale", "opt_scale", "tail_scale"):
            require_in_range(name, getattr(self, name), 0.0, low_open=True,
                             error=AgentConfigError)


@dataclass(frozen=True)
class _Snapshot:
    """What the signals compare between two decisions."""

    val_loss: float
    train_loss: float
    tail_ap: float
    config: tuple[tuple[str, str], ...]


class IndividualRewardWrapper(BaseParallelWrapper):
    """Gives each agent its own component-specific reward instead of the shared one.

    Args:
        env: a ParallelEnv whose ``infos`` carry ``metrics`` (``loss``, ``mAP``, ``AP``),
            ``train`` (``loss``, ``diverged``), ``reward_terms["stability"]`` and ``config``.
        config: scales of the signals.
        tail_classes: class indices whose mean AP the ``loss`` agent is paid for.
        penalty: the env's reward config; its ``w_pen`` and ``switch_cost`` price divergence
            and switching exactly as the shared reward does (default ``RewardConfig()``).
    """

    def __init__(self, env: ParallelEnv, *, config: IndividualRewardConfig | None = None,
                 tail_classes: Sequence[int] | None = None,
                 penalty: RewardConfig | None = None) -> None:
        super().__init__(env)
        self.config = config or IndividualRewardConfig()
        self.penalty = penalty or RewardConfig()
        self.tail_classes = None if tail_classes is None else [int(c) for c in tail_classes]
        self._last: _Snapshot | None = None

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, Any], dict[str, dict]]:
        observations, infos = self.env.reset(seed=seed, options=options)
        info = _first(infos)
        val_loss = _finite(info["metrics"].get("loss"))
        self._last = _Snapshot(val_loss=val_loss, train_loss=val_loss,
                               tail_ap=self._tail_ap(info["metrics"]),
                               config=tuple(sorted(info["config"].items())))
        return observations, infos

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._last is None:
            raise ResetNeededError("IndividualRewardWrapper: call reset() before step()")
        observations, rewards, terms, truncs, infos = self.env.step(actions)
        info = _first(infos)
        now = self._snapshot(info)
        signals = self.signals(self._last, now, info)
        self._last = now
        shaped = {a: signals.get(a, 0.0) for a in rewards}
        infos = {a: {**infos.get(a, {}), "reward_shared": float(rewards[a]),
                     "reward_individual": shaped[a]} for a in infos}
        return observations, shaped, terms, truncs, infos

    # ------------------------------------------------------------ signals
    def signals(self, before: _Snapshot, now: _Snapshot,
                info: Mapping[str, Any]) -> dict[str, float]:
        """Every agent's individual reward for the transition ``before -> now``."""
        c, p = self.config, self.penalty
        old, new = dict(before.config), dict(now.config)
        loss_switched = old.get("loss") != new.get("loss")
        gap = (_log_ratio(now.val_loss, now.train_loss)
               - _log_ratio(before.val_loss, before.train_loss))
        decrease = (before.train_loss - now.train_loss) / max(abs(before.train_loss), 1e-8)
        raw = {
            "aug": 0.0 if loss_switched else -_squash(gap, c.aug_scale),
            "opt": 0.0 if loss_switched else _squash(decrease, c.opt_scale),
            "lrs": _finite(info.get("reward_terms", {}).get("stability")),
            "loss": _squash(now.tail_ap - before.tail_ap, c.tail_scale),
        }
        diverged = float(bool(info.get("train", {}).get("diverged", False)))
        n = max(len(self.env.possible_agents), 1)
        own_switch = {a: float(old.get(a) != new.get(a)) for a in self.env.possible_agents}
        return {a: raw.get(a, 0.0) - p.w_pen * (diverged + p.switch_cost * own_switch[a] / n)
                for a in self.env.possible_agents}

    def _snapshot(self, info: Mapping[str, Any]) -> _Snapshot:
        assert self._last is not None
        metrics = info["metrics"]
        val_loss = metrics.get("loss")
        train_loss = info.get("train", {}).get("loss")
        return _Snapshot(
            val_loss=_finite(val_loss, self._last.val_loss),
            train_loss=_finite(train_loss, self._last.train_loss),
            tail_ap=self._tail_ap(metrics), config=tuple(sorted(info["config"].items())))

    def _tail_ap(self, metrics: Mapping[str, Any]) -> float:
        if self.tail_classes is None:
            return _finite(metrics.get("mAP"))
        ap = metrics.get("AP") or []
        values = [ap[i] for i in self.tail_classes if i < len(ap) and ap[i] is not None]
        return sum(values) / len(values) if values else _finite(metrics.get("mAP"))

    # ---------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """The last snapshot plus the wrapped env's ``state_dict()`` (if any) under ``"env"``."""
        inner = self.env.state_dict() if hasattr(self.env, "state_dict") else None
        return {"individual": None if self._last is None else asdict(self._last), "env": inner}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        own = state["individual"]
        self._last = None if own is None else _Snapshot(
            val_loss=own["val_loss"], train_loss=own["train_loss"], tail_ap=own["tail_ap"],
            config=tuple(tuple(p) for p in own["config"]))
        if state.get("env") is not None and hasattr(self.env, "load_state_dict"):
            self.env.load_state_dict(state["env"])


def _first(infos: Mapping[str, dict]) -> dict:
    return next(iter(infos.values()))


def _finite(value: Any, default: float = 0.0) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else default


def _squash(value: float, scale: float) -> float:
    return math.tanh(value / scale) if math.isfinite(value) else 0.0


def _log_ratio(numerator: float, denominator: float) -> float:
    return math.log(max(numerator, 1e-8) / max(denominator, 1e-8))
