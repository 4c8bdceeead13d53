"""PettingZoo conformance on every registered env id, on fixtures in the true on-disk formats."""
from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test
from pettingzoo.utils.conversions import parallel_to_aec

import envs

ENV_IDS = envs.list_envs()


def test_every_builtin_id_is_tested():
    assert set(ENV_IDS) >= {"mlic-digits-v0", "mlic-mnist-v0", "mlic-voc-v0", "mlic-coco-v0",
                            "mlic-csv-v0"}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_parallel_api(env_id, tiny_env):
    parallel_api_test(tiny_env(env_id), num_cycles=10)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_parallel_seed(env_id, tiny_env):
    parallel_seed_test(lambda: tiny_env(env_id), num_cycles=10)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_aec_api_checks_dtypes(env_id, tiny_env):
    # parallel_api_test ignores dtypes; the AEC test catches float64 in a float32 Box.
    api_test(parallel_to_aec(tiny_env(env_id)), num_cycles=10)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_space_contains_every_observation(env_id, tiny_env):
    env = tiny_env(env_id, max_decisions=4)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    seen = 0
    while True:
        for agent, o in obs.items():
            assert o.dtype == np.float32
            assert env.observation_space(agent).contains(o), (agent, o)
            seen += 1
        assert env.state_space.contains(env.state())
        if not env.agents:
            break
        actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
        obs, rewards, _, _, _ = env.step(actions)
        assert all(np.isfinite(r) for r in rewards.values())
    assert seen == 4 * 5
