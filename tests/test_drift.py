"""``envs.Drift``: train labels that change partway through the budget, exactly and only then."""
from __future__ import annotations

import hashlib

import pytest
import torch

import envs
from envs.errors import ConfigError

SMALL = dict(image_size=16, n_train=96, n_val=32, n_test=40)


def _task(drift=None, decisions=4):
    return envs.Task.of("digits", decisions=decisions, drift=drift, **SMALL)


def _val_curve(task, env_cache, seed=0):
    env = envs.make(task, steps_per_decision=3, batch_size=16, cache_dir=str(env_cache))
    env.reset(seed=seed)
    curve = []
    for _ in range(task.decisions):
        _, _, _, _, infos = env.step({a: 0 for a in env.agents})
        curve.append(infos["aug"]["metrics"]["mAP"])
    return curve


def test_training_is_unchanged_before_the_drift_and_changes_after_it(env_cache):
    clean = _val_curve(_task(), env_cache)
    drifted = _val_curve(_task(envs.Drift(at=0.5, label_noise=0.5)), env_cache)
    assert drifted[:2] == clean[:2]  # decisions 1-2: the first 6 of 12 iterations, clean labels
    assert drifted[2:] != clean[2:]


def test_drifted_labels_are_pinned_bytes_at_the_asked_rate():
    labels = torch.zeros(2000, 10, dtype=torch.uint8)
    flipped = envs.Drift(at=0.5, label_noise=0.2, seed=3).labels(labels)
    assert flipped.dtype == torch.uint8 and flipped.shape == labels.shape
    assert abs(flipped.float().mean().item() - 0.2) < 0.01
    assert torch.equal(flipped, envs.Drift(at=0.9, label_noise=0.2, seed=3).labels(labels))
    assert not torch.equal(flipped, envs.Drift(label_noise=0.2, seed=4).labels(labels))
    # the same bytes on every CPU: numpy's PCG64 stream, compared with a threshold
    digest = hashlib.sha256(flipped.numpy().tobytes()).hexdigest()[:16]
    assert digest == "58808ccbfc871bc9"


def test_a_fork_drifts_exactly_as_its_parent(env_cache):
    task = _task(envs.Drift(at=0.5, label_noise=0.3))
    env = envs.make(task, steps_per_decision=3, batch_size=16, cache_dir=str(env_cache))
    env.reset(seed=1)
    env.step({a: 1 for a in env.agents})
    fork = env.fork()
    for _ in range(3):
        a = env.step({a: 0 for a in env.agents})[4]["aug"]["metrics"]["mAP"]
        b = fork.step({a: 0 for a in fork.agents})[4]["aug"]["metrics"]["mAP"]
        assert a == b


def test_a_drift_names_its_task_and_a_task_without_one_keeps_its_name():
    plain, drifted = _task(), _task(envs.Drift(at=0.5, label_noise=0.3))
    assert "drift" not in plain.name and "-drift0.3@0.5-" in drifted.name
    assert plain != drifted and drifted.as_dict()["drift"] == {"at": 0.5, "label_noise": 0.3,
                                                               "seed": 0}


@pytest.mark.parametrize("build, message", [
    (lambda: envs.Drift(at=0.0), r"Drift.at must be a finite number in \(0, 1\), got 0.0"),
    (lambda: envs.Drift(at=1.0), r"Drift.at must be a finite number in \(0, 1\), got 1.0"),
    (lambda: envs.Drift(at=1.5), "Drift.at"),
    (lambda: envs.Drift(at=float("nan")), "Drift.at .* got nan"),
    (lambda: envs.Drift(label_noise=0.7),
     r"Drift.label_noise must be a finite number in \[0, 0.5\]"),
    (lambda: envs.Drift(seed=-1), r"Drift.seed must be an int in \[0, inf\), got -1"),
    (lambda: envs.Task.of("digits", drift={"at": 0.5}), "Task.drift must be an envs.Drift"),
    (lambda: envs.EnvConfig(drift=0.3), "drift must be an envs.Drift or None"),
])
def test_bad_drifts_name_the_field_and_what_is_valid(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_the_drift_step_rounds_the_fraction_of_the_budget():
    assert envs.Drift(at=0.5).start_step(12) == 6 and envs.Drift(at=0.25).start_step(10) == 2
    assert envs.Drift(at=0.999).start_step(1000) == 999
