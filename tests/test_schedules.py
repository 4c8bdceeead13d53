"""Tests for envs.engine.schedules: shape properties of each LR multiplier."""
from __future__ import annotations

import math

import numpy as np
import pytest

from envs.engine.recipe import LRS_NAMES
from envs.engine.schedules import SCHEDULES, schedule_factor
from envs.errors import ConfigError

GRID = np.linspace(0.0, 1.0, 2001)


def _curve(name: str) -> np.ndarray:
    return np.array([schedule_factor(name, float(p)) for p in GRID])


def test_every_catalogue_name_is_implemented() -> None:
    assert tuple(SCHEDULES) == LRS_NAMES


def test_unknown_name_and_nan_progress_raise() -> None:
    with pytest.raises(ConfigError, match="one_cycle"):
        schedule_factor("poly", 0.5)
    with pytest.raises(ValueError):
        schedule_factor("cosine", float("nan"))


@pytest.mark.parametrize("name", LRS_NAMES)
def test_factor_is_a_python_float_in_0_1(name: str) -> None:
    curve = _curve(name)
    assert (curve > 0).all() and (curve <= 1).all()
    assert type(schedule_factor(name, 0.3)) is float


@pytest.mark.parametrize("name", LRS_NAMES)
def test_progress_is_clamped(name: str) -> None:
    assert schedule_factor(name, -3.0) == schedule_factor(name, 0.0)
    assert schedule_factor(name, 7.0) == schedule_factor(name, 1.0)
    assert schedule_factor(name, math.inf) == schedule_factor(name, 1.0)


def test_constant() -> None:
    assert (_curve("constant") == 1.0).all()


def test_step_drops_tenfold_at_half_and_three_quarters() -> None:
    assert schedule_factor("step", 0.0) == schedule_factor("step", 0.4999) == 1.0
    assert schedule_factor("step", 0.5) == pytest.approx(0.1)
    assert schedule_factor("step", 0.7499) == pytest.approx(0.1)
    assert schedule_factor("step", 0.75) == pytest.approx(0.01)
    assert schedule_factor("step", 1.0) == pytest.approx(0.01)


def test_cosine_is_continuous_monotone_and_reaches_its_floor() -> None:
    curve = _curve("cosine")
    assert curve[0] == 1.0 and curve[-1] == pytest.approx(0.01)
    assert (np.diff(curve) <= 0).all()
    assert np.abs(np.diff(curve)).max() < 2e-3                    # no jumps on a fine grid
    assert schedule_factor("cosine", 0.5) == pytest.approx((1 + 0.01) / 2)


def test_one_cycle_warms_up_then_anneals() -> None:
    curve = _curve("one_cycle")
    peak = int(np.argmax(curve))
    assert GRID[peak] == pytest.approx(0.3, abs=1e-3) and curve[peak] == pytest.approx(1.0)
    assert curve[0] == pytest.approx(0.04) and curve[-1] == pytest.approx(1e-3)
    assert (np.diff(curve[:peak + 1]) >= 0).all() and (np.diff(curve[peak:]) <= 0).all()
    assert np.abs(np.diff(curve)).max() < 5e-3


def test_warm_restarts_restart_with_doubling_periods() -> None:
    curve = _curve("warm_restarts")
    jumps = np.nonzero(np.diff(curve) > 0.5)[0]
    assert len(jumps) == 2
    np.testing.assert_allclose(GRID[jumps + 1], [1 / 7, 3 / 7], atol=1e-3)
    assert schedule_factor("warm_restarts", 1 / 7) == pytest.approx(1.0)
    assert schedule_factor("warm_restarts", 3 / 7) == pytest.approx(1.0)
    # each cycle is a cosine from 1 to the floor, decreasing inside the cycle
    for start, end in ((0.0, 1 / 7), (1 / 7, 3 / 7), (3 / 7, 1.0)):
        inside = curve[(GRID >= start + 1e-6) & (GRID < end - 1e-6)]
        assert (np.diff(inside) <= 0).all()
        assert schedule_factor("warm_restarts", (start + end) / 2) == pytest.approx(0.505)
    assert schedule_factor("warm_restarts", 1.0) == pytest.approx(0.01)
