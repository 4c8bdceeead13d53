"""ICM and RND reward wrappers, and the fake env they are tested around."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from agents import UnknownCuriosityError
from agents.rewards.curiosity import CURIOSITY, CuriosityWrapper, RunningStd, make_curiosity
from envs.fakes import CooperativeFakeEnv
from fakes import assert_same

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPEAT = {"aug": 3, "opt": 1, "lrs": 2, "loss": 4}
NOVEL = {"aug": 6, "opt": 3, "lrs": 0, "loss": 1}


def wrapped(kind: str, max_steps: int = 25, **options) -> CuriosityWrapper:
    return make_curiosity(kind, CooperativeFakeEnv(max_steps=max_steps), seed=0, **options)


def test_fake_env_passes_the_pettingzoo_api_tests():
    parallel_api_test(CooperativeFakeEnv(), num_cycles=60)
    api_test(parallel_to_aec(CooperativeFakeEnv()), num_cycles=60)  # also checks dtypes


def test_fake_env_is_deterministic_over_many_steps():
    runs = []
    for _ in range(2):
        env = CooperativeFakeEnv(max_steps=30)
        env.reset(seed=5)
        runs.append([env.step({a: (t * 3 + i) % env.n_actions[a] for i, a in enumerate(env.agents)})[1]
                     for t in range(30)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kind", CURIOSITY)
def test_wrapper_passes_the_pettingzoo_api_tests(kind):
    parallel_api_test(wrapped(kind), num_cycles=60)
    api_test(parallel_to_aec(wrapped(kind)), num_cycles=60)


@pytest.mark.parametrize("kind", CURIOSITY)
def test_reward_is_extrinsic_plus_beta_intrinsic(kind):
    env = wrapped(kind, beta=0.3)
    env.reset(seed=0)
    for _ in range(5):
        _, rewards, _, _, infos = env.step(REPEAT)
        for agent, reward in rewards.items():
            info = infos[agent]
            assert info["reward_intrinsic"] > 0
            assert reward == pytest.approx(info["reward_extrinsic"] + 0.3 * info["reward_intrinsic"])
            assert "terms" in info  # the wrapped env's own info is kept


@pytest.mark.parametrize("kind", CURIOSITY)
def test_novel_next_states_earn_more_than_repeated_ones(kind):
    env = wrapped(kind, max_steps=80)
    obs, _ = env.reset(seed=0)
    for _ in range(60):
        before = obs["aug"]
        obs, *_ = env.step(REPEAT)
    repeated_next = obs["aug"].copy()
    novel_next = repeated_next.copy()
    novel_next[1:] = 0.0
    offset = 1
    for agent, n in env.n_actions.items():
        novel_next[offset + NOVEL[agent]] = 1.0
        offset += n
    repeated = env.intrinsic_reward(before, REPEAT, repeated_next)
    novel = env.intrinsic_reward(before, NOVEL, novel_next)
    assert novel > 3 * repeated, (novel, repeated)


@pytest.mark.parametrize("kind", CURIOSITY)
def test_frozen_wrapper_reports_but_does_not_learn(kind):
    env = wrapped(kind)
    env.reset(seed=0)
    env.step(REPEAT)
    env.training = False
    before = copy.deepcopy(env.state_dict()["curiosity"])
    bonuses = [env.step(REPEAT)[4]["opt"]["reward_intrinsic"] for _ in range(5)]
    after = env.state_dict()["curiosity"]
    assert_same({k: v for k, v in before.items() if k != "last_obs"},
                {k: v for k, v in after.items() if k != "last_obs"})
    assert all(b > 0 for b in bonuses)


@pytest.mark.parametrize("kind", CURIOSITY)
def test_state_dict_round_trip_gives_identical_rewards(kind):
    env = wrapped(kind, max_steps=40)
    env.reset(seed=1)
    for t in range(10):
        env.step(REPEAT if t % 2 else NOVEL)
    state = copy.deepcopy(env.state_dict())
    assert state["env"] is not None  # the wrapped env's own state travels with it
    plan = [REPEAT, NOVEL, NOVEL, REPEAT, NOVEL]
    first = [env.step(a)[1] for a in plan]
    other = make_curiosity(kind, CooperativeFakeEnv(max_steps=40), seed=99)
    other.load_state_dict(state)
    assert first == [other.step(a)[1] for a in plan]


def test_seed_fixes_the_curiosity_model():
    a, b, c = (make_curiosity("icm", CooperativeFakeEnv(), seed=s) for s in (0, 0, 1))
    assert_same(a.model.state_dict(), b.model.state_dict())
    assert not torch.equal(a.model.encoder[0].weight, c.model.encoder[0].weight)


def test_running_std_matches_numpy():
    values = np.random.default_rng(0).exponential(size=50)
    stats = RunningStd()
    for v in values:
        stats.update(float(v))
    assert stats.std == pytest.approx(values.std())
    assert stats.rms == pytest.approx(np.sqrt(np.mean(values ** 2)))


def test_unknown_curiosity_kind_and_bad_options_fail_clearly():
    with pytest.raises(UnknownCuriosityError, match="unknown curiosity module .icn.*icm"):
        make_curiosity("icn", CooperativeFakeEnv(), seed=0)
    with pytest.raises(ValueError, match="beta"):
        make_curiosity("rnd", CooperativeFakeEnv(), seed=0, beta=-1.0)
