"""Argument checks shared by the configs, raising :class:`envs.errors.ConfigError`.

Each check names the setting, the value it got and what is valid, so a config refuses a bad
value where it is declared (issue 31) rather than as an exception from deep inside training.
``error`` lets another package raise its own subclass of ``MLICError`` (``agents`` raises
``AgentConfigError``).
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from envs.errors import ConfigError, MLICError


def require_positive_int(name: str, value: object,
                         error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is an ``int`` greater than zero (bools rejected)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise error(f"{name} must be a positive integer, got {value!r}")


def require_finite(name: str, value: object, error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is a finite real number (bools, NaN, inf rejected)."""
    if not _is_finite(value):
        raise error(f"{name} must be a finite number, got {value!r}")


def interval(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """``[low, high)`` and the like, as the docstrings write ranges (an infinite end is open)."""
    left = "(" if low_open or math.isinf(low) else "["
    right = ")" if high_open or math.isinf(high) else "]"
    return f"{left}{_bound(low)}, {_bound(high)}{right}"


def require_in_range(name: str, value: object, low: float = -math.inf, high: float = math.inf,
                     *, low_open: bool = False, high_open: bool = False, integer: bool = False,
                     error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is a finite number (an ``int`` with ``integer``) in the
    interval from ``low`` to ``high``, each end open or closed as given.

    Bools, NaN and inf are refused whatever the bounds (an infinite bound means "no bound").
    The message names the setting, the value and the interval (``(0, 1]``).
    """
    kind = "an int" if integer else "a finite number"
    valid = isinstance(value, int) and not isinstance(value, bool) if integer \
        else _is_finite(value)
    if valid:
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if above and below:
            return
    raise error(f"{name} must be {kind} in {interval(low, high, low_open, high_open)}, "
                f"got {value!r}")


def require_optional_in_range(name: str, value: object, low: float = -math.inf,
                              high: float = math.inf, **bounds: object) -> None:
    """:func:`require_in_range`, with ``None`` also accepted."""
    if value is not None:
        require_in_range(name, value, low, high, **bounds)  # type: ignore[arg-type]


def require_pair(name: str, value: object, low: float, high: float, *, integer: bool = False,
                 error: type[MLICError] = ConfigError) -> tuple:
    """``value`` as a tuple ``(lo, hi)`` with ``low <= lo <= hi <= high`` (both ends closed),
    or ``error``; a list is accepted and returned as a tuple."""
    numbers_of = _sequence(name, value, 2, error)
    for item in numbers_of:
        require_in_range(f"{name} entries", item, low, high, integer=integer, error=error)
    if numbers_of[0] > numbers_of[1]:
        raise error(f"{name} must be a pair (lo, hi) with {_bound(low)} <= lo <= hi <= "
                    f"{_bound(high)}, got {value!r}")
    return numbers_of


def require_choice(name: str, value: object, choices: tuple[str, ...],
                   error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` naming the valid ``choices`` unless ``value`` is one of them."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {choices}, got {value!r}")


def require_bool(name: str, value: object, error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise error(f"{name} must be True or False, got {value!r}")


def require_str(name: str, value: object, error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is a string."""
    if not isinstance(value, str):
        raise error(f"{name} must be a string, got {value!r}")


def require_optional_path(name: str, value: object,
                          error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is ``None`` or a path (a ``str`` or ``os.PathLike``)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise error(f"{name} must be a path (a string) or None, got {value!r}")


def require_file(path: str | os.PathLike, fix: str, *, flag: str = "",
                 error: type[MLICError] = ConfigError) -> Path:
    """``path`` as a ``Path`` if a file is there, else ``error``: ``[flag ]<path> is missing:
    <fix>`` (or ``is a folder, not a file``), so a command refuses an input file it names
    before it starts any work, rather than with a ``FileNotFoundError`` from deep inside."""
    path = Path(path)
    if not path.is_file():
        state = "is a folder, not a file" if path.is_dir() else "is missing"
        raise error(f"{flag} {path} {state}: {fix}" if flag else f"{path} {state}: {fix}")
    return path


def require_mapping(name: str, value: object, error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``value`` is a mapping whose keys are strings."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise error(f"{name} must be a mapping with string keys, got {value!r}")


def require_sizes(name: str, value: object, error: type[MLICError] = ConfigError
                  ) -> tuple[int, ...]:
    """``value`` (layer sizes: a list or tuple of positive ints) as a tuple, or ``error``."""
    sizes = _sequence(name, value, None, error)
    for size in sizes:
        require_positive_int(f"{name} entries", size, error)
    return sizes


def check_device(device: object, error: type[MLICError] = ConfigError) -> None:
    """Raise ``error`` unless ``device`` is a torch device string (``cpu``, ``cuda:0``).

    Only the syntax is checked here; ``envs.make`` also checks that the device exists.
    """
    if not isinstance(device, str):
        raise error(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise error(f"device {device!r} is not a torch device ({exc}); use 'cpu', 'cuda' or "
                    f"'cuda:<index>'") from None


def _sequence(name: str, value: object, length: int | None,
              error: type[MLICError]) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) \
            or (length is not None and len(value) != length):
        size = f"{length} " if length is not None else ""
        raise error(f"{name} must be a tuple (or list) of {size}numbers, got {value!r}")
    return tuple(value)


def _is_finite(value: object) -> bool:
    """A real number (not a bool) that is neither NaN nor infinite as a float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float: it would be inf where it is used
        return False


def _bound(value: float) -> str:
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:g}"
