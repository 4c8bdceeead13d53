"""The expert's candidate forks as real transitions (``ForkRecorder``, ``benchmarks.dataset``'s
``expert`` behaviour): the same scores as the default scorer, and every fork's steps the env's
own, starting where it was forked."""
from __future__ import annotations

import json

import numpy as np
import pytest

import envs
from agents import make_controller
from agents.rollout import InProcessScorer, rollout_options
from benchmarks.offline import dataset as ds
from training.core.transitions import ForkRecorder


@pytest.fixture(scope="module")
def task():
    return envs.task_set("digits-tiny-v0").train[0]


@pytest.fixture(scope="module")
def expert_episode(task):
    return ds.play(("train:1", "train", task, ds.EXPERT, 0))


def test_fork_recorder_scores_as_the_default_scorer(task):
    env = envs.make(task, observation="relative")
    env.reset(seed=3)
    env.step({a: 0 for a in env.agents})
    controller = make_controller("rollout", env, seed=0, **rollout_options(
        envs.DEFAULT_RECIPE, candidates=2, horizon=1))
    candidates = controller.neighbours()
    recorder = ForkRecorder()
    scores = recorder.score(env, candidates, controller.continuation)
    assert scores == InProcessScorer().score(env, candidates, controller.continuation)
    assert len(recorder.forks) == len(candidates)
    for fork, candidate, (score, played) in zip(recorder.forks, candidates, scores):
        assert fork.start == 1 and fork.steps == played == 2  # its segment, then horizon 1
        assert all(row == [candidate[a] for a in fork.agents] for row in fork.actions)
        np.testing.assert_array_equal(fork.observations[0], env.state())
        assert fork.val_mAP[-1] == pytest.approx(score)  # scored by its last val mAP
        assert fork.test_mAP is not None  # the tiny budget's end was reached


def test_expert_forks_replay_the_played_episode_exactly(expert_episode, task):
    e = expert_episode
    assert e.behaviour == ds.EXPERT and e.steps == task.decisions and e.test_mAP is not None
    forks = e.fork_episodes()
    assert {f.behaviour for f in forks} == {"expert-fork"}
    assert sorted({f.start for f in forks}) == list(range(task.decisions))
    for t in range(task.decisions):
        at = [f for f in forks if f.start == t]
        assert len(at) == 1 + ds.EXPERT_CANDIDATES  # the incumbent and 4 changes
        for f in at:
            assert f.steps == task.decisions - t and f.truncations[-1]
            np.testing.assert_array_equal(f.observations[0], e.observations[t])
            assert f.val_mAP[0] == e.val_mAP[t]
        # the fork of the candidate the expert played is the episode's own next step (exact)
        played = [f for f in at if f.actions[0] == e.actions[t]]
        assert played
        np.testing.assert_array_equal(played[0].observations[1], e.observations[t + 1])
        assert played[0].rewards[0] == e.rewards[t] and played[0].val_mAP[1] == e.val_mAP[t + 1]
    last = [f for f in forks if f.start == task.decisions - 1 and f.actions[0] == e.actions[-1]]
    assert last[0].test_mAP == e.test_mAP


def test_forks_are_exported_as_episodes(expert_episode, tmp_path, monkeypatch):
    import minari
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    stored = ds.Episode(**json.loads(json.dumps(ds.asdict(expert_episode))))  # a store's round trip
    dataset = ds.export([stored], "mlic/forks-v0", "digits-tiny-v0")
    forks = stored.fork_episodes()
    assert dataset.total_episodes == 1 + len(forks)
    assert dataset.total_steps == stored.steps + sum(f.steps for f in forks)
    loaded = list(minari.load_dataset("mlic/forks-v0").iterate_episodes())
    assert loaded[0].infos["decision"][:, 0].tolist() == list(range(stored.steps + 1))
    assert loaded[-1].infos["decision"][0, 0] == forks[-1].start
    behaviours = json.loads(dataset.storage.metadata["description"])["behaviours"]
    assert behaviours == ["expert", "expert-fork"]
