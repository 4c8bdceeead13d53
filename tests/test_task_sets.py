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
                                           ("cifar", "Registered task sets: digits-drift-v0, "
                                                     "digits-long-v0, digits-long-v1, "
                                                     "digits-tiny-v0, digits-v0, digits-v1")])
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


# ------------------------------------------------------------------ digits-long-v0, -v1
@pytest.mark.parametrize("name", ["digits-long-v0", "digits-long-v1"])
def test_long_set_has_the_shape_its_issue_asks_for(name):
    ts = envs.task_set(name)
    assert len(ts.train) >= 8 and len(ts.heldout) >= 4 + 1
    default = envs.task_sets.DEFAULT_TASK
    assert default in ts.heldout and default not in ts.train
    # make run's task: mlic-digits at its defaults (None: the generator's defaults at 32 px)
    import dataclasses
    plain = envs.make_config("mlic-digits")
    assert (plain.image_size, plain.generator) == (None, None)
    assert envs.make_config(default) == dataclasses.replace(
        plain, image_size=32, generator=envs.engine.data.DigitsConfig())
    for task in ts.train + ts.heldout:
        epochs = task.decisions * task.epochs_per_decision
        assert task.generator.image_size == 32 and task.env_id.endswith("-v2")
        assert 12 <= epochs <= 50 and 500 <= task.generator.n_train <= 4000, task.name
    assert len({t.backbone for t in ts.train}) >= 4  # three families, small_cnn at two widths
    # the train tasks cover the default's budget and its data size, never both in one task
    assert any(t.decisions * t.epochs_per_decision == 25 for t in ts.train)
    assert any(t.generator.n_train == 4000 for t in ts.train)
    assert not any(t.decisions * t.epochs_per_decision == 25 and t.generator.n_train == 4000
                   for t in ts.train)
    # where a family hurts: flips on digits, jitter on faint ink, mixing on small data
    assert {t.source for t in ts.train} == {"digits", "shapes"}
    assert any(t.generator.ink_contrast[1] <= 0.3 for t in ts.train)
    assert any(t.generator.n_train <= 600 for t in ts.train)
    assert envs.task_set("digits").name == "digits-v1"  # not the latest "digits"


def test_long_v1_replaces_only_v0s_narrow_tasks():
    """The tasks v1 keeps are v0's, to the name (their calibration runs carry over)."""
    v0, v1 = envs.task_set("digits-long-v0"), envs.task_set("digits-long-v1")
    changed = {split: [i for i, (a, b) in enumerate(zip(v0.split(split), v1.split(split)))
                       if a != b] for split in ("train", "heldout")}
    assert changed == {"train": [2, 5, 7, 8], "heldout": [0, 2]}
    from benchmarks.expert.task_sets import targets_of
    assert targets_of("digits-long-v1").spread_share == targets_of("digits-long-v0").spread_share


def test_long_targets_and_verdicts():
    from benchmarks.expert.task_sets import targets_of, verdicts
    t = targets_of("digits-long-v0")
    assert (t.s_per_episode, t.spread_share, t.best_recipes, t.best_share) == (60, 0.75, 4, 0.4)
    assert targets_of("digits-v1") == targets_of("digits-v0")

    def row(split, best, spread, s=10.0):
        return {"split": split, "best": best, "spread": spread, "s_per_episode": s,
                "max_seed_std": 1.0}
    rows = [row("train", b, 9.0) for b in "abcdab"] + [row("heldout", "z", 2.0)]
    lines = verdicts(rows, t)
    assert "6/7 tasks" in lines[1] and lines[1].endswith("met") and "not" not in lines[1]
    assert "4 (a, b, c, d)" in lines[2] and "most: 33%, met" in lines[2]
    rows = [row("train", b, 9.0) for b in "aaabcd"] + [row("heldout", "z", 2.0)] * 3
    lines = verdicts(rows, t)
    assert "**not met**" in lines[1] and "most: 50%, **not met**" in lines[2]


def test_a_third_seed_only_where_the_top_two_are_close():
    from benchmarks.expert.task_sets import PanelRun, third_seed_jobs
    a, b = envs.task_set("digits-long-v0").train[:2]
    runs = [PanelRun(a.name, "x", s, 50.0 + s, 1.0) for s in (0, 1)] + \
           [PanelRun(a.name, "y", s, 50.0, 1.0) for s in (0, 1)] + \
           [PanelRun(a.name, "w", s, 10.0, 1.0) for s in (0, 1)] + \
           [PanelRun(b.name, "x", s, 60.0, 1.0) for s in (0, 1)] + \
           [PanelRun(b.name, "y", s, 50.0, 1.0) for s in (0, 1)]
    assert third_seed_jobs([a, b], runs, 2, 1.0) == [(a, "x", 2), (a, "y", 2)]
    assert third_seed_jobs([a, b], runs, 2, 0.1) == []
