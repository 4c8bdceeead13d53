"""envs.fakes: the known-reward envs pass PettingZoo's checks and need a reset like the real one."""
from __future__ import annotations

import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from envs.fakes import CooperativeFakeEnv, InteractionGameEnv
from envs.fakes.interaction import OPTIMUM, expected_reward

FAKES = [CooperativeFakeEnv, InteractionGameEnv]


@pytest.mark.parametrize("make", FAKES)
def test_fakes_conform(make) -> None:
    parallel_api_test(make(), num_cycles=30)
    parallel_seed_test(make, num_cycles=10)


@pytest.mark.parametrize("make", FAKES)
def test_step_needs_a_reset(make) -> None:
    env = make(max_steps=1)
    actions = {a: 0 for a in env.possible_agents}
    with pytest.raises(envs.ResetNeededError, match=r"call reset\(\)"):
        env.step(actions)
    env.reset(seed=0)
    env.step(actions)
    with pytest.raises(envs.ResetNeededError, match="episode is over"):
        env.step(actions)


def test_noise_free_rewards_are_the_known_ones() -> None:
    env = InteractionGameEnv(noise=0.0)
    env.reset(seed=0)
    _, rewards, _, _, _ = env.step(OPTIMUM)
    assert rewards["aug"] == pytest.approx(expected_reward(OPTIMUM)) == pytest.approx(1.25)
    coop = CooperativeFakeEnv(noise=0.0)
    coop.reset(seed=0)
    _, rewards, _, _, _ = coop.step(coop.best)
    assert rewards["opt"] == pytest.approx(1.0)
    with pytest.raises(envs.ConfigError, match="does not fit"):
        CooperativeFakeEnv(best={"aug": 99, "opt": 0, "lrs": 0, "loss": 0})
