"""``MLICTrainingEnv.fork``: an in-memory copy that continues exactly as the original does.

The rollout expert tries alternatives from one state by forking; that is only a fair search
if a fork given the same actions reproduces the original's trajectory bit for bit (CPU), and
if what one does never leaks into the other.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import envs


def _plan(env, length, seed=0):
    rng = np.random.default_rng(seed)
    return [{a: int(rng.integers(env.action_space(a).n)) for a in env.possible_agents}
            for _ in range(length)]


def _play(env, plan):
    out = []
    for actions in plan:
        obs, rewards, _, truncs, infos = env.step(actions)
        info = infos["aug"]
        out.append((obs["aug"].tobytes(), rewards["aug"], info["metrics"]["mAP"], info["lr"],
                    info.get("test_metrics", {}).get("mAP"), truncs["aug"]))
    return out


def test_a_fork_continues_exactly_as_the_original(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=4)
    env.reset(seed=3)
    plan = _plan(env, 4)
    env.step(plan[0])
    fork = env.fork()
    assert fork is not env and fork.data is env.data  # the datasets are shared, read-only
    forked = _play(fork, plan[1:])
    original = _play(env, plan[1:])
    assert forked == original and original[-1][-1]  # to the episode's end, test mAP included
    weights = [dict(e.trainer.runtime.model.state_dict()) for e in (env, fork)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_what_a_fork_does_never_reaches_the_original(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=3)
    env.reset(seed=1)
    plan = _plan(env, 3, seed=1)
    reference = env.fork()  # untouched copy of the start
    fork = env.fork()
    _play(fork, _plan(env, 3, seed=2))  # other actions, to its end
    assert not fork.agents and env.agents  # the fork's episode ended, not the original's
    assert _play(env, plan) == _play(reference, plan)


def test_fork_before_reset_says_how_to_fix(tiny_env):
    with pytest.raises(envs.ResetNeededError, match="reset"):
        tiny_env("mlic-digits").fork()
