"""Tasks: typed and hashable, ``envs.make(task)`` builds exactly that env, bad input is named."""
from __future__ import annotations

import dataclasses

import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from envs.errors import ConfigError

SMALL = dict(image_size=16, n_train=96, n_val=32, n_test=40)
"""Generator sizes that build in a fraction of a second."""


def tiny(source: str = "digits", **changes) -> envs.Task:
    return envs.Task.of(source, decisions=3, **{**SMALL, **changes})


def test_tasks_are_hashable_values_with_stable_names():
    a, b, c = tiny(), tiny(), tiny(zipf_exponent=0.0)
    assert a == b and hash(a) == hash(b) and len({a, b, c}) == 2
    assert a.name == b.name != c.name and a.name.startswith("digits-16px-96img-3x1ep-")
    assert envs.Task.of("digits").generator == envs.engine.data.DigitsConfig()  # the defaults


@pytest.mark.parametrize("source", ["digits", "mnist", "shapes"])
def test_make_builds_the_task_data_and_budget(env_cache, source):
    task = tiny(source, digits_per_image=(2, 2), seed=3)
    env = envs.make(task, steps_per_decision=2, batch_size=16, cache_dir=str(env_cache))
    assert env.env_id == task.env_id == f"mlic-{source}-v0"
    assert tuple(env.data.train.images.shape) == (96, 3, 16, 16) and len(env.data.test) == 40
    assert env.config.max_decisions == 3 and env.config.generator == task.generator
    assert (env.data.train.labels.sum(1) >= 1).all()  # two digits drawn, possibly one class
    other = envs.make(dataclasses.replace(task, generator=dataclasses.replace(task.generator,
                                                                              seed=4)),
                      steps_per_decision=2, batch_size=16, cache_dir=str(env_cache))
    assert not (other.data.train.images == env.data.train.images).all()


@pytest.mark.parametrize("source", ["digits", "mnist", "shapes"])
def test_task_envs_pass_pettingzoo_conformance(env_cache, source):
    def make():
        return envs.make(tiny(source), steps_per_decision=1, batch_size=16,
                         cache_dir=str(env_cache))
    parallel_api_test(make(), num_cycles=4)
    parallel_seed_test(make)


@pytest.mark.parametrize("build, message", [
    (lambda: envs.Task.of("digitz"), "Did you mean 'digits'"),
    (lambda: envs.Task.of("digits", n_trian=10), "n_train"),
    (lambda: envs.Task.of("digits", decisions=0), r"Task.decisions must be an int in \[1, 1000\]"),
    (lambda: envs.Task.of("digits", epochs_per_decision=1.5), "Task.epochs_per_decision"),
    (lambda: envs.Task.of("digits", n_train=0), "DigitsConfig.n_train"),
    (lambda: envs.Task(generator={"n_train": 5}), "Task.generator must be a DigitsConfig"),
])
def test_bad_task_parameters_name_the_field_and_what_is_valid(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_make_refuses_to_override_what_the_task_sets():
    with pytest.raises(ConfigError, match=r"\['max_decisions'\] are set by the task"):
        envs.make(tiny(), max_decisions=5)
