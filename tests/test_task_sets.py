"""Task sets: registered by versioned name, disjoint splits, a seeded resumable sampler,
held-out tasks refused for training, and conformance on a sample of each set's tasks."""
from __future__ import annotations


import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from envs.errors import ConfigError, UnknownEnvError


def test_registered_sets_and_their_latest_alias():
    assert {"digits-v0", "digits-v1"} <= set(envs.list_task_sets())
    assert envs.task_set("digits") is envs.task_set("digits-v1")


@pytest.mark.parametrize("name, message", [("digits-v7", "Did you mean 'digits-v"),
                                           ("cifar", "Registered task sets: digits-drift-v0, digits-tiny-v0, digits-v0, digits-v1")])
def test_unknown_task_set_names_the_valid_ones(name, message):
    with pytest.raises(UnknownEnvError, match=message):
        envs.task_set(name)


def test_the_tiny_set_is_digits_v0_shrunk():
    full, tiny = envs.task_set("digits-v0"), envs.task_set("digits-tiny-v0")
    for split in ("train", "heldout"):
        assert tiny.split(split) == tuple(envs.task_sets.shrink(t) for t in full.split(split))
    assert {t.generator.image_size for t in tiny.train} == {16}


@pytest.mark.parametrize("name", ["digits-v0", "digits-v1"])  # the sets to meta-train on
def test_splits_are_disjoint_varied_and_never_hold_mnist(name):
    ts = envs.task_set(name)
    assert not set(ts.train) & set(ts.heldout)
    tasks = ts.train + ts.heldout
    assert all(t.source != "mnist" for t in tasks)  # the cross-dataset transfer target
    assert {t.source for t in ts.train} == {"digits", "shapes"}  # flip-sensitive and symmetric
    varied = {f: {getattr(t.generator, f) for t in ts.train}
              for f in ("n_train", "label_noise", "zipf_exponent", "n_classes",
                        "digits_per_image", "background")}
    assert all(len(values) > 1 for values in varied.values()), varied
    assert len({t.decisions for t in ts.train}) > 1


def test_the_drift_set_changes_its_data_mid_run_in_every_task():
    ts = envs.task_set("digits-drift-v0")
    tasks = ts.train + ts.heldout
    assert all(t.drift is not None and 0 < t.drift.at < 1 for t in tasks)
    assert not set(ts.train) & set(ts.heldout) and all(t.source != "mnist" for t in tasks)
    assert envs.task_set("digits") is envs.task_set("digits-v1")  # not a version of digits


def test_sampler_is_seeded_resumable_and_draws_only_its_split():
    ts = envs.task_set("digits-v0")
    a, b = ts.sampler(seed=3), ts.sampler(seed=3)
    first = [a.sample() for _ in range(20)]
    assert first == [b.sample() for _ in range(20)] and set(first) <= set(ts.train)
    assert first != [ts.sampler(seed=4).sample() for _ in range(20)]
    state = a.state_dict()
    ahead = [a.sample() for _ in range(5)]
    a.load_state_dict(state)
    assert [a.sample() for _ in range(5)] == ahead
    assert set(ts.sampler(seed=0, split="heldout").sample() for _ in range(30)) <= set(ts.heldout)


def test_a_held_out_task_is_refused_in_a_train_context():
    ts = envs.task_set("digits-v0")
    assert ts.require_train(ts.train[0]) is ts.train[0]
    with pytest.raises(envs.HeldOutTaskError, match="held-out split of digits-v0"):
        ts.require_train(ts.heldout[0])
    with pytest.raises(ConfigError, match="split 'test' is not one of"):
        ts.split("test")


@pytest.mark.parametrize("split", ["train", "heldout"])
@pytest.mark.parametrize("name", [n for n in envs.list_task_sets() if "tiny" not in n])
def test_a_sample_of_each_split_passes_conformance(env_cache, name, split):
    rng = np.random.default_rng(0)
    tasks = envs.task_set(name).split(split)
    for index in rng.choice(len(tasks), size=2, replace=False):
        task = envs.task_sets.shrink(tasks[int(index)])  # digits-tiny-v0's

        def make(task=task):
            return envs.make(task, steps_per_decision=1, batch_size=16, cache_dir=str(env_cache))
        parallel_api_test(make(), num_cycles=3)
        parallel_seed_test(make)
        runs = []
        for _ in range(2):  # multi-step determinism (parallel_seed_test checks one step)
            env = make()
            env.reset(seed=5)
            runs.append([env.step({a: (t + i) % env.action_space(a).n
                                   for i, a in enumerate(env.agents)})[1] for t in range(3)])
        assert runs[0] == runs[1]


def test_digits_v1_varies_the_backbone_and_builds_it():
    tasks = envs.task_set("digits-v1").train
    assert {t.backbone for t in tasks} >= {"small_cnn", "small_cnn_half", "gn_resnet", "patch_mlp"}
    task = next(t for t in tasks if t.backbone == "patch_mlp")
    assert task.overrides()["backbone"] == "patch_mlp" and "patch_mlp" in task.name
    # a task without a backbone keeps its env id's default, and its old name
    plain = envs.task_set("digits-v0").train[0]
    assert "backbone" not in plain.overrides() and "small_cnn" not in plain.name
