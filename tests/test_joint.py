"""The single-agent joint views pass Gymnasium's and SB3's env checkers."""
from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.joint import JointActionEnv


@pytest.mark.parametrize("flatten", [False, True])
def test_checkers_pass(tiny_env, flatten):
    joint = JointActionEnv(tiny_env("mlic-digits"), flatten=flatten)
    expected = spaces.Discrete if flatten else spaces.MultiDiscrete
    assert isinstance(joint.action_space, expected)
    gym_check_env(joint, skip_render_check=True)
    sb3_check_env(JointActionEnv(tiny_env("mlic-digits"), flatten=flatten), warn=False)


def test_flat_index_decodes_to_every_joint_choice(tiny_env):
    joint = JointActionEnv(tiny_env("mlic-digits", agents=("opt", "lrs")), flatten=True)
    assert joint.action_space.n == 6 * 5  # the tuning-free catalogue's 6 optimizers
    decoded = {tuple(int(v) for v in joint.decode(i).values()) for i in range(joint.action_space.n)}
    assert decoded == {(o, s) for o in range(6) for s in range(5)}


def test_joint_step_matches_parallel_step(tiny_env):
    joint = JointActionEnv(tiny_env("mlic-digits"), flatten=False)
    parallel = tiny_env("mlic-digits")
    obs_j, _ = joint.reset(seed=4)
    obs_p, _ = parallel.reset(seed=4)
    assert np.array_equal(obs_j, obs_p["aug"])
    action = np.array([3, 1, 2, 0])
    obs_j, reward, _, _, _ = joint.step(action)
    obs_p, rewards, _, _, _ = parallel.step(dict(zip(parallel.agents, action.tolist())))
    assert np.array_equal(obs_j, obs_p["aug"]) and reward == rewards["aug"]


def test_bad_joint_actions(tiny_env):
    joint = JointActionEnv(tiny_env("mlic-digits"), flatten=True)
    joint.reset(seed=0)
    with pytest.raises(envs.InvalidActionError, match="must be an int"):
        joint.step(10**6)
    multi = JointActionEnv(tiny_env("mlic-digits"), flatten=False)
    multi.reset(seed=0)
    with pytest.raises(envs.InvalidActionError, match="4 entries"):
        multi.step([1, 2])


def test_joint_step_needs_a_reset(tiny_env):
    joint = JointActionEnv(tiny_env("mlic-digits", max_decisions=1), flatten=True)
    with pytest.raises(envs.ResetNeededError, match="reset"):
        joint.step(0)
    joint.reset(seed=0)
    assert joint.step(0)[3]  # truncated after its one decision
    with pytest.raises(envs.ResetNeededError, match="episode is over"):
        joint.step(0)
