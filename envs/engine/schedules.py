"""Learning-rate schedules the ``lrs`` agent chooses from (``recipe.LRS_NAMES``).

A schedule is a pure function of **global** training progress ``p`` in ``[0, 1]``
(``p`` outside is clamped) returning a multiplier in ``(0, 1]`` of the optimizer
family's base LR. Because it depends on nothing but ``p``, switching schedules
mid-run is well defined: the new schedule simply takes over at the current ``p``
(the trainer smooths the jump with an EMA of the multiplier).

``constant``       1.
``step``           1, x0.1 from 50 % and x0.01 from 75 % (the classic step decay of
                   He et al., "Deep Residual Learning", CVPR 2016).
``cosine``         cosine annealing from 1 to the floor 0.01 (Loshchilov & Hutter,
                   "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017,
                   without restarts).
``one_cycle``      one-cycle policy (Smith & Topin, "Super-Convergence", 2019): cosine
                   warm-up from 0.04 (1/25) to 1 over the first 30 %, then cosine
                   annealing to 1e-3.
``warm_restarts``  SGDR (Loshchilov & Hutter 2017) with period doubling: cycles
                   ``[0, 1/7)``, ``[1/7, 3/7)``, ``[3/7, 1]`` (lengths 1/7, 2/7, 4/7), each a
                   cosine from 1 to the floor 0.01, restarting at 1.
"""
from __future__ import annotations

import math
from typing import Callable

from envs.errors import ConfigError

__all__ = ["SCHEDULES", "schedule_factor"]

FLOOR = 0.01
"""Smallest multiplier of the cosine and SGDR schedules."""
ONE_CYCLE_START, ONE_CYCLE_END, ONE_CYCLE_WARMUP = 0.04, 1e-3, 0.3
RESTART_CYCLES: tuple[float, ...] = (1 / 7, 2 / 7, 4 / 7)
"""SGDR cycle lengths as fractions of training (T_0 = 1/7, T_mult = 2)."""


def _cosine(t: float, start: float, end: float) -> float:
    """Half-cosine from ``start`` (t = 0) to ``end`` (t = 1)."""
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


def _constant(p: float) -> float:
    """Always 1."""
    return 1.0


def _step(p: float) -> float:
    """x0.1 at 50 % and again at 75 %."""
    return 1.0 if p < 0.5 else 0.1 if p < 0.75 else 0.01


def _cosine_schedule(p: float) -> float:
    """Cosine annealing from 1 to FLOOR."""
    return _cosine(p, 1.0, FLOOR)


def _one_cycle(p: float) -> float:
    """Cosine warm-up to 1 over the first 30 %, then cosine annealing to 1e-3."""
    if p < ONE_CYCLE_WARMUP:
        return _cosine(p / ONE_CYCLE_WARMUP, ONE_CYCLE_START, 1.0)
    return _cosine((p - ONE_CYCLE_WARMUP) / (1 - ONE_CYCLE_WARMUP), 1.0, ONE_CYCLE_END)


def _warm_restarts(p: float) -> float:
    """SGDR: cosine cycles of lengths 1/7, 2/7, 4/7, each restarting at 1."""
    start = 0.0
    for length in RESTART_CYCLES[:-1]:
        if p < start + length:
            return _cosine((p - start) / length, 1.0, FLOOR)
        start += length
    return _cosine(min(1.0, (p - start) / RESTART_CYCLES[-1]), 1.0, FLOOR)


SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": _constant,
    "step": _step,
    "cosine": _cosine_schedule,
    "one_cycle": _one_cycle,
    "warm_restarts": _warm_restarts,
}
"""Schedules by name, in ``recipe.LRS_NAMES`` order."""


def schedule_factor(name: str, progress: float) -> float:
    """LR multiplier in (0, 1] of schedule ``name`` at global progress (clamped to [0, 1])."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown LR schedule {name!r}; valid choices: {', '.join(SCHEDULES)}")
    progress = float(progress)
    if math.isnan(progress):
        raise ValueError("progress is NaN")
    return float(SCHEDULES[name](min(1.0, max(0.0, progress))))
