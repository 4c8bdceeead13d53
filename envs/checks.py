"""The checks ``envs`` shares with the packages built on it (``agents``), which do not reach
into ``envs.engine``: config values (:mod:`envs.engine.checks`, each raising the error class
it is given) and whether a saved weights archive is whole
(:func:`envs.engine.weights.archive_problem`)."""
from __future__ import annotations

from envs.engine.checks import (check_device, interval, require_bool, require_choice,
                                require_finite, require_in_range, require_mapping,
                                require_optional_in_range, require_optional_path, require_pair,
                                require_positive_int, require_sizes, require_str)
from envs.engine.weights import archive_problem

__all__ = ["archive_problem", "check_device", "interval", "require_bool", "require_choice",
           "require_finite", "require_in_range", "require_mapping", "require_optional_in_range",
           "require_optional_path", "require_pair", "require_positive_int", "require_sizes",
           "require_str"]
