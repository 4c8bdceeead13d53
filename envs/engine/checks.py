"""Argument checks shared by the configs, raising :class:`envs.errors.ConfigError`."""
from __future__ import annotations

import math
import numbers

from envs.errors import ConfigError


def require_positive_int(name: str, value: object) -> None:
    """Raise ``ConfigError`` unless ``value`` is an ``int`` greater than zero (bools rejected)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def require_finite(name: str, value: object) -> None:
    """Raise ``ConfigError`` unless ``value`` is a finite real number (bools, NaN, inf rejected)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) \
            or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` naming the valid ``choices`` unless ``value`` is one of them."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}")
