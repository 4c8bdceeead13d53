"""The ``examples/`` scripts run end to end on a tiny env: SB3 PPO and DQN on the joint views,
TorchRL independent PPO on the ParallelEnv, and a zoo controller's recipes in a user's own
loop, plain and under Lightning (``make test`` installs the ``torchrl`` and ``lightning``
extras and CI fails without them; a bare checkout without one skips its test, saying why)."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest
from gymnasium import spaces

import envs
from conftest import TINY


pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (``examples`` is a folder of scripts)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_valid_episode(out: dict) -> None:
    assert len(out["recipes"]) == TINY.max_decisions
    for recipe in out["recipes"]:
        assert all(recipe[agent] in envs.CATALOGUES[agent] for agent in envs.COMPONENTS), recipe
    assert 0.0 <= out["val_mAP"] <= 100.0 and 0.0 <= out["test_mAP"] <= 100.0


def test_sb3_ppo_on_the_multidiscrete_view(env_cache):
    out = load("sb3_ppo_joint").main(total_timesteps=12, n_steps=6, cache_dir=str(env_cache),
                                     **TINY.overrides())
    model = out["model"]
    assert isinstance(model.action_space, spaces.MultiDiscrete) and model.num_timesteps == 12
    assert model._n_updates > 0
    assert_valid_episode(out)


def test_sb3_dqn_on_the_flat_discrete_view(env_cache):
    out = load("sb3_dqn_joint").main(total_timesteps=12, learning_starts=4,
                                     cache_dir=str(env_cache), **TINY.overrides())
    model = out["model"]
    assert isinstance(model.action_space, spaces.Discrete) and model.action_space.n == 1200
    assert model.num_timesteps == 12 and model._n_updates > 0
    assert_valid_episode(out)


@pytest.mark.filterwarnings("ignore:Creating .*WeightUpdater:DeprecationWarning",
                            "ignore:PettingZoo in TorchRL is tested:UserWarning")
def test_torchrl_independent_ppo_on_the_parallel_env(env_cache):
    pytest.importorskip("torchrl", reason="the torchrl extra is missing: `make test` installs "
                        "it, or pip install -c constraints.txt -e '.[torchrl]'")
    out = load("torchrl_ippo").main(total_frames=6, frames_per_batch=3, epochs=2,
                                    cache_dir=str(env_cache), **TINY.overrides())
    assert math.isfinite(out["loss"]) and 0.0 <= out["val_map"] <= 1.0
    assert set(out["actions"]) == set(envs.COMPONENTS)
    for agent, actions in out["actions"].items():
        assert len(actions) == TINY.max_decisions
        assert all(0 <= a < len(envs.CATALOGUES[agent]) for a in actions), (agent, actions)


def _user_loop_options(env_cache) -> dict:
    """The user-loop examples' budget and data on the ``TINY`` sizes."""
    return dict(decisions=TINY.max_decisions, batch_size=TINY.batch_size,
                image_size=TINY.image_size, max_train_images=TINY.max_train_images,
                cache_dir=str(env_cache))


def test_a_zoo_controller_drives_a_user_resnet_in_a_plain_loop(env_cache):
    out = load("user_loop_plain").main(**_user_loop_options(env_cache))
    assert_valid_episode(out)
    assert len(out["val_mAPs"]) == TINY.max_decisions and out["val_mAPs"][-1] == out["val_mAP"]
    assert out["dynamic_recipe"].done and not out["dynamic_recipe"].controller.training


@pytest.mark.filterwarnings("ignore:.*configure_optimizers.* returned `None`",
                            "ignore:.*does not have many workers",
                            "ignore:.*LeafSpec.* is deprecated")
def test_a_zoo_controller_drives_a_lightning_module(env_cache):
    pytest.importorskip("pytorch_lightning", reason="the lightning extra is missing: `make test` "
                        "installs it, or pip install -c constraints.txt -e '.[lightning]'")
    out = load("user_loop_lightning").main(**_user_loop_options(env_cache))
    assert_valid_episode(out)
    assert len(out["val_mAPs"]) == TINY.max_decisions and out["dynamic_recipe"].done
