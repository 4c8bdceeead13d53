"""Observation version 2: the budget and the augmentations' label effects (``-v2`` ids,
``EnvConfig.context_features``), in the env and the user loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

import envs
from envs.errors import ConfigError
from envs.observation import (BUDGET_FEATURES, FORWARD_SHARE, PROBE_BUDGET, RunBudget,
                              context_feature_names, feature_names, label_effect, label_effects,
                              observation_version, probe_families, probe_stride)
from envs.engine.runtime import PROBE_IMAGES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STATIC = {"aug": 2, "opt": 2, "lrs": 2, "loss": 0}  # flip_crop + adamw + cosine + bce


def _play(env, seed=0):
    obs, _ = env.reset(seed=seed)
    observations, vals = [obs["aug"]], []
    while env.agents:
        obs, _, _, _, infos = env.step(STATIC)
        observations.append(obs["aug"])
        vals.append(infos["aug"]["metrics"]["mAP"])
    return np.stack(observations), vals, infos["aug"]["test_metrics"]["mAP"]


def test_v2_is_v1_with_the_context_block_after_the_scalars(tiny_env):
    v1, v2 = tiny_env("mlic-digits-v1"), tiny_env("mlic-digits-v2")
    assert (v1.observation_version, v2.observation_version) == (1, 2)
    assert envs.spec("mlic-digits").id == "mlic-digits-v2"  # the unversioned id: the latest
    n_scalars = len(envs.observation.FEATURES)
    names1, names2 = v1.observation_names, v2.observation_names
    block = context_feature_names("tuning-free")
    assert len(block) == len(BUDGET_FEATURES) + len(probe_families("tuning-free")) == 11
    assert names2 == names1[:n_scalars] + block + names1[n_scalars:]
    assert v2.observation_space("aug").shape == (len(names2),)


def test_the_context_changes_nothing_in_training(tiny_env):
    obs1, vals1, test1 = _play(tiny_env("mlic-digits-v1", max_decisions=3))
    obs2, vals2, test2 = _play(tiny_env("mlic-digits-v2", max_decisions=3))
    assert vals1 == vals2 and test1 == test2  # the probe draws from its own generator
    n = len(envs.observation.FEATURES)
    block = len(context_feature_names("tuning-free"))
    np.testing.assert_array_equal(obs2[:, :n], obs1[:, :n])
    np.testing.assert_array_equal(obs2[:, n + block:], obs1[:, n:])
    effects = obs2[1:, n + len(BUDGET_FEATURES):n + block]
    assert np.all(np.isfinite(effects)) and np.any(effects != 0)  # probed after the segments
    assert not np.any(obs2[0, n + len(BUDGET_FEATURES):n + block])  # nothing at reset


def test_the_budget_reads_the_run_length(tiny_env):
    short, long_ = (tiny_env("mlic-digits-v2", max_decisions=d, epochs_per_decision=e)
                    for d, e in ((2, 1), (4, 3)))
    names = short.observation_names
    i = {name: names.index(name) for name, _ in BUDGET_FEATURES}
    o_short, _ = short.reset(seed=0)
    o_long, _ = long_.reset(seed=0)
    for name in ("budget_epochs", "budget_decisions", "epochs_left", "budget_images"):
        assert o_long["aug"][i[name]] > o_short["aug"][i[name]], name
    budget = long_.budget
    assert budget.decisions == 4
    assert budget.epochs == pytest.approx(
        4 * long_.steps_per_decision * min(long_.config.batch_size, len(long_.data.train))
        / len(long_.data.train))
    # epochs left fall as the run goes
    before = o_long["aug"][i["epochs_left"]]
    after, *_ = long_.step(STATIC)
    assert after["aug"][i["epochs_left"]] < before


def test_forks_and_checkpoints_keep_the_probe_exact(tiny_env):
    env = tiny_env("mlic-digits-v2", max_decisions=3)
    env.reset(seed=1)
    env.step(STATIC)
    fork = env.fork()
    a, *_ = env.step(STATIC)
    b, *_ = fork.step(STATIC)
    np.testing.assert_array_equal(a["aug"], b["aug"])


def test_the_probe_costs_at_most_its_budget_of_the_training_it_follows():
    families = len(probe_families("tuning-free"))
    for images in (96, 500, 1000, 4000, 8000, 100_000):
        stride = probe_stride(images, families)
        probe = (1 + families) * PROBE_IMAGES * FORWARD_SHARE
        assert probe <= PROBE_BUDGET * images * stride + 1e-9
        assert stride == 1 or probe > PROBE_BUDGET * images * (stride - 1)  # the fewest
    assert probe_stride(4000, families) == 2


def test_label_effect_is_the_squashed_log_ratio():
    assert label_effect(1.0, 1.0) == 0.0
    assert label_effect(0.5, 1.0) == pytest.approx(math.tanh(math.log(2.0)))
    assert label_effect(1.0, 0.5) == pytest.approx(-math.tanh(math.log(2.0)))
    assert label_effect(0.0, 1.0) == label_effect(1.0, float("nan")) == 0.0
    assert label_effects(()) == ()
    assert label_effects((1.0, 1.0, 2.0)) == (0.0, pytest.approx(math.tanh(math.log(2.0))))


def test_an_invalid_pairing_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="tuning-free"):
        envs.EnvConfig(catalogue="classic", context_features=True)
    with pytest.raises(ConfigError, match="True or False"):
        envs.EnvConfig(context_features="yes")
    assert observation_version("tuning-free", True) == 2
    assert len(feature_names(4, "tuning-free", True)) == 58


def test_run_budget_epochs():
    assert RunBudget(decisions=10, epochs_per_decision=2.5, train_images=100).epochs == 25


def test_the_user_loop_asks_for_the_batch_size_the_budget_needs():
    import torch
    from training.user_loop.dynamic import DynamicRecipe, UserLoopError
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    targets = torch.eye(3)[torch.arange(30) % 3]
    kwargs = dict(num_classes=3, decisions=4, steps_per_decision=5, train_targets=targets,
                  env_settings={"context_features": True})
    with pytest.raises(UserLoopError, match="batch_size="):
        DynamicRecipe(model, **kwargs)
    dyn = DynamicRecipe(model, batch_size=12, **kwargs)
    assert dyn.budget.epochs == pytest.approx(4 * 5 * 12 / 30)
    assert DynamicRecipe(model, **{**kwargs, "env_settings": {}}).budget is None


def test_a_version_0_observation_upgrades_by_name(tiny_env):
    from envs.observation import upgrade_observation
    old, new = tiny_env("mlic-digits-v0", max_decisions=2), tiny_env("mlic-digits-v2",
                                                                      max_decisions=2)
    o_old, _ = old.reset(seed=0)
    o_new, _ = new.reset(seed=0)
    up = upgrade_observation(o_old["aug"], old.config.history, 0, new.budget)
    np.testing.assert_allclose(up, o_new["aug"], atol=1e-6)  # at reset nothing is probed yet
    a, *_ = old.step({"aug": 1, "opt": 3, "lrs": 0, "loss": 0})
    b, *_ = new.step({"aug": 1, "opt": 3, "lrs": 0, "loss": 0})
    up = upgrade_observation(a["aug"], old.config.history, 0, new.budget)
    names = new.observation_names
    effects = [i for i, n in enumerate(names) if n.startswith("aug_effect=")]
    rest = [i for i in range(len(names)) if i not in effects]
    np.testing.assert_allclose(up[rest], b["aug"][rest], atol=1e-6)
    assert not up[effects].any()  # not measured then
    with pytest.raises(ConfigError, match="upgraded only"):
        upgrade_observation(b["aug"], 4, 2, None, to_version=0)
    with pytest.raises(ConfigError, match="RunBudget"):
        upgrade_observation(a["aug"], 4, 0, None)
