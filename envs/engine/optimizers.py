"""Optimizer families the ``opt`` agent chooses from (``recipe.OPT_NAMES``).

Each family is an :class:`OptimizerSpec` with its own base learning rate and weight
decay, tuned for small CNNs trained from scratch; the trainer multiplies the base LR
by the schedule factor (``envs.engine.schedules``). :func:`param_groups` splits a
model's parameters into a decayed group (conv / linear weights) and a no-decay group
(biases and normalisation parameters, i.e. every tensor with ``ndim <= 1``).

Switching families mid-run: what happens to the optimizer state
    :func:`transfer_state` carries per-parameter state only where it means the same
    thing in the new optimizer:

    * the same family: the whole state (momentum buffers, moments, step counts);
    * ``adam <-> adamw``: ``exp_avg``, ``exp_avg_sq`` and ``step`` are the same
      estimates of the gradient's first and second moments; the two differ only in
      how weight decay is applied, which is not part of the state;
    * any other pair: nothing. Adam's second moments have no SGD counterpart, an SGD
      momentum buffer is a sum of LR-free gradients while RMSprop's ``square_avg``
      uses a different averaging constant and no bias correction, so mixing them
      would give updates of the wrong scale. Starting fresh is safe: Adam/AdamW
      bias-correct their moments, so their first steps are well scaled; SGD and
      RMSprop restart their buffers from zero.

    The trainer adds two safety nets on top: it moves the LR *multiplier* towards the
    new schedule with a fast EMA (no LR jump at a switch), and rolls a segment back
    if its loss turns non-finite.

The tuning-free optimizers (catalogue ``tuning-free``)
    * ``sf_adamw``: Schedule-Free AdamW (Defazio et al., "The Road Less Scheduled", 2024;
      package ``schedulefree``), winner of AlgoPerf 2024's self-tuning track. Its authors'
      LR (0.0025) and betas, a linear warm-up over the first 5 % of the run's steps (their
      recommendation), and this catalogue's AdamW weight decay. It is meant for the
      ``constant`` schedule. The optimizer keeps two sequences: the model's parameters are
      the point ``y`` where gradients are taken, and the point to evaluate is the average
      ``x`` (:func:`evaluation_point`). The runtime keeps it in ``train()`` mode while it
      trains, evaluates at ``x`` with BatchNorm statistics recomputed there, and on a switch
      away (:func:`leave`) first moves the weights to ``x``: the next optimizer continues
      from the average, and nothing of Schedule-Free's state (``z``, second moments, the
      averaging weights) is carried.
    * ``prodigy``: Prodigy (Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive
      Parameter-Free Learner", 2024; package ``prodigyopt``), Adam with its step size ``d``
      estimated on the fly: LR 1.0 as its authors prescribe (the schedule multiplies it),
      decoupled weight decay as AdamW's. ``d`` and its statistics live in the optimizer's
      param groups, so they persist across segments and schedule switches (the optimizer is
      rebuilt only when the family changes), roll back with a non-finite segment, and are
      checkpointed. A switch to another family starts that family fresh; a switch back to
      Prodigy restarts ``d`` from ``d0``.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import torch
from prodigyopt import Prodigy
from schedulefree import AdamWScheduleFree
from torch import nn

from envs.errors import ConfigError

__all__ = ["OPTIMIZERS", "OptimizerSpec", "copy_state_dict", "evaluation_point", "leave",
           "param_groups", "transfer_state"]

SCHEDULE_FREE = "sf_adamw"
"""The family whose parameters are not its evaluation point (see the module docstring)."""

_COMPATIBLE: frozenset[frozenset[str]] = frozenset({frozenset({"adam", "adamw"})})
"""Pairs of distinct families whose per-parameter state means the same thing."""


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer family: torch class, base LR, weight decay and fixed options."""

    name: str
    base_lr: float
    weight_decay: float
    options: tuple[tuple[str, Any], ...] = ()
    """Fixed constructor keyword arguments (momentum, betas, ...), as (key, value) pairs."""
    warmup_fraction: float = 0.0
    """Schedule-Free's own linear warm-up, as a fraction of the run's steps (0: none)."""

    def __post_init__(self) -> None:
        _check_name(self.name)

    def build(self, param_groups: list[dict], lr: float,
              total_steps: int | None = None) -> torch.optim.Optimizer:
        """An optimizer over ``param_groups`` at learning rate ``lr``, ready to step.

        Groups without a ``weight_decay`` key get this family's weight decay; groups
        that set one (the no-decay group sets 0.0) keep it. The input is not modified.
        ``total_steps`` (the run's budget) sizes a warm-up given as a fraction.
        """
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        groups = []
        for group in param_groups:
            params = list(group["params"])
            if params:  # drop empty groups (e.g. a model without biases or norms)
                groups.append({"weight_decay": self.weight_decay, **group, "params": params,
                               "lr": lr})
        if not groups:
            raise ConfigError("the model has no trainable parameters")
        options = dict(self.options)
        if self.warmup_fraction > 0 and total_steps is not None:
            options["warmup_steps"] = max(1, round(self.warmup_fraction * total_steps))
        with contextlib.redirect_stdout(io.StringIO()):  # prodigyopt prints on construction
            optimizer = _CLASSES[self.name](groups, lr=lr, **options)
        if self.name == SCHEDULE_FREE:
            optimizer.train()  # type: ignore[attr-defined]  # its step() refuses eval mode
        return optimizer


def _check_name(name: str) -> None:
    """Raise ConfigError for a name that is not an optimizer family."""
    if name not in _CLASSES:
        raise ConfigError(f"unknown optimizer {name!r}; valid choices: {', '.join(_CLASSES)}")


_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sf_adamw": AdamWScheduleFree,
    "prodigy": Prodigy,
}

OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec("sgd", 0.05, 5e-4, (("momentum", 0.9), ("nesterov", True))),
    "adam": OptimizerSpec("adam", 1e-3, 0.0),
    "adamw": OptimizerSpec("adamw", 2e-3, 5e-2),
    "rmsprop": OptimizerSpec("rmsprop", 5e-4, 1e-5, (("alpha", 0.99), ("eps", 1e-6))),
    "sf_adamw": OptimizerSpec("sf_adamw", 2.5e-3, 5e-2, (("betas", (0.9, 0.999)),),
                              warmup_fraction=0.05),
    "prodigy": OptimizerSpec("prodigy", 1.0, 5e-2, (("betas", (0.9, 0.999)), ("decouple", True))),
}
"""Optimizer families by name, in ``recipe.OPT_NAMES`` order."""


def param_groups(model: nn.Module) -> list[dict]:
    """[decay group (ndim >= 2 weights), no-decay group (biases, norms; weight_decay 0.0)]."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of one parameter's optimizer state (tensors cloned)."""
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def copy_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``optimizer.state_dict()`` that later optimizer steps leave unchanged.

    The same content as ``copy.deepcopy(state_dict)`` at about a twentieth of its cost:
    the state tensors are cloned, and the rest is immutable settings in containers that
    ``state_dict()`` builds afresh on every call, so a shallow copy of them suffices.
    """
    return {**state_dict,
            "state": {index: _copy_state(s) for index, s in state_dict["state"].items()},
            "param_groups": [_copy_state(group) for group in state_dict["param_groups"]]}


def transfer_state(old: torch.optim.Optimizer, old_name: str, new: torch.optim.Optimizer,
                   new_name: str) -> bool:
    """Copy per-parameter state from ``old`` to ``new`` where meaningful; True if copied."""
    _check_name(old_name)
    _check_name(new_name)
    if old_name != new_name and frozenset({old_name, new_name}) not in _COMPATIBLE:
        return False
    new_params = {id(p) for group in new.param_groups for p in group["params"]}
    copied = False
    for param, state in old.state.items():
        if id(param) in new_params and state:
            new.state[param] = _copy_state(state)
            copied = True
    return copied


def evaluation_point(optimizer: torch.optim.Optimizer, name: str,
                     params: list[torch.Tensor]) -> list[torch.Tensor] | None:
    """The weights to evaluate for ``params`` (the model's, in order), where they are not the
    parameters themselves: Schedule-Free's average ``x``, computed from the gradient point
    ``y`` (the parameters, in train mode) and ``z`` as its ``eval()`` would set them, without
    touching the parameters. None for every other family (evaluate the parameters)."""
    if name != SCHEDULE_FREE:
        return None
    beta1 = {id(p): group["betas"][0] for group in optimizer.param_groups for p in group["params"]}
    out = []
    for p in params:
        state = optimizer.state.get(p, {})
        if "z" in state and id(p) in beta1 and optimizer.param_groups[0]["train_mode"]:
            out.append(torch.lerp(p.detach(), state["z"].to(p.device), 1.0 - 1.0 / beta1[id(p)]))
        else:
            out.append(p.detach())
    return out


@torch.no_grad()
def leave(optimizer: torch.optim.Optimizer, name: str) -> None:
    """Called before the runtime replaces ``optimizer`` (of family ``name``) by another family:
    Schedule-Free moves the weights to its average ``x`` (``eval()``), where the next optimizer
    continues; other families leave them as they are."""
    if name == SCHEDULE_FREE:
        optimizer.eval()  # type: ignore[attr-defined]
