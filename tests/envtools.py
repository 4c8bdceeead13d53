"""Tiny env factories shared by the env, joint-view and benchmark tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import envs

TINY: dict[str, Any] = dict(image_size=16, max_train_images=48, max_decisions=3,
                            steps_per_decision=2, batch_size=16)
"""Overrides that make every env id train in well under a second per step."""


def tiny_factory(roots: dict[str, Path | None], cache_dir: Path) -> Callable[..., envs.MLICTrainingEnv]:
    """A factory ``f(env_id, **overrides)`` building tiny envs on the test fixtures.

    ``roots`` maps a dataset name (``voc``, ...) to its fixture's data root.
    """
    def make(env_id: str, **overrides: Any) -> envs.MLICTrainingEnv:
        root = roots.get(envs.spec(env_id).config.dataset)
        kwargs = {**TINY, "cache_dir": str(cache_dir), **overrides}
        if root is not None:
            kwargs["data_root"] = str(root)
        return envs.make(env_id, **kwargs)
    return make
