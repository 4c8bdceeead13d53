"""Meta-training (training.meta.rounds, training.meta.workers, training.meta_train) on digits-tiny-v0.

In-process and on 2 Ray workers, exact resume, a real worker killed mid-episode, and the
errors a user meets first. Every episode is a tiny task (16 px, 96 images, 3 decisions).
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

import envs
from envs.engine.data.digits import GENERATOR_VERSION
from agents import load_controller
from envs.errors import ConfigError
from training import meta_train
from training.core import jsonl
from training.core.episode import run_episode
from training.meta.rounds import CHECKPOINT, MetaConfig, MetaTrainer
from training.meta.rollouts import ControllerSpec, EpisodeJob
from training.meta.workers import InProcessPool, RayPool, WorkerPoolError, make_pool

TINY_SET = "digits-tiny-v0"


def config(tmp_path, name="run", **kw) -> MetaConfig:
    settings = {"algo": "mat-dqn", "task_set": TINY_SET, "episodes": 4, "workers": 1, "seed": 0,
                "out": str(tmp_path / name), "eval_every": 2, "progress": False} | kw
    return MetaConfig(**settings)


def strip_time(episodes):
    return [{k: v for k, v in e.items() if k != "wall_s"} for e in episodes]


def test_in_process_run_writes_summary_best_controller_and_logs(tmp_path):
    summary = MetaTrainer(config(tmp_path)).run()
    out = tmp_path / "run"
    assert summary["finished"] and summary["episodes"] == 4 and summary["rounds"] == 4
    assert summary["generator_version"] == GENERATOR_VERSION  # what its data was
    # held-out evaluations: before round 1, after rounds 2 and 4
    assert [e["round"] for e in summary["curve"]] == [0, 2, 4]
    assert set(summary["best"]["per_task"]) == {t.name for t in envs.task_set(TINY_SET).heldout}
    assert summary["best"]["episodes"] > 0  # the untrained baseline is never "best"
    assert summary["final"]["round"] == 4 and (out / "final" / "controller.json").is_file()
    assert summary["cpu_hours"] > 0 and 0 < summary["learner_share"] < 1
    assert summary["return_test_spearman"] is None or -1 <= summary["return_test_spearman"] <= 1
    lines = jsonl.read(out / "episodes.jsonl", jsonl.META_EPISODES).records
    assert len(lines) == 4 and all(line["split"] == "train" for line in lines)
    assert (out / CHECKPOINT).is_file() and any((out / "tb").iterdir())
    task = envs.task_set(TINY_SET).heldout[0]
    env = envs.make(task)
    best = load_controller(out / "best", env, seed=0, training=False)
    outcome = run_episode(env, best, seed=0, learn=False)
    assert outcome.state.episode == 1


@pytest.mark.parametrize("algo", ["bandit", "ma2ml"])
def test_other_algorithms_meta_train(tmp_path, algo):
    summary = MetaTrainer(config(tmp_path, algo=algo, episodes=2, eval_every=2)).run()
    assert summary["finished"] and summary["algo"] == algo and summary["best"] is not None


def test_bandit_learns_a_prior_across_episodes(tmp_path):
    trainer = MetaTrainer(config(tmp_path, algo="bandit", episodes=3, eval_every=3))
    trainer.run()
    counts = trainer.controller.counts
    assert all(int(c.sum()) == 9 for c in counts.values())  # 3 episodes x 3 decisions, kept


def test_resume_equals_an_uninterrupted_run(tmp_path):
    # with learner-side RND curiosity, whose model and running std must resume too
    whole = MetaTrainer(config(tmp_path, "whole", episodes=3, eval_every=1, curiosity="rnd"))
    expected = whole.run()
    assert whole.curiosity.stats.count == 9  # 3 episodes x 3 decisions, learned by the learner
    rounds = iter(range(100))
    first = MetaTrainer(config(tmp_path, "split", episodes=3, eval_every=1, curiosity="rnd"))
    partial = first.run(should_stop=lambda: next(rounds) >= 0)   # stop after round 1
    assert not partial["finished"] and partial["rounds"] == 1
    resumed = MetaTrainer(config(tmp_path, "split", episodes=3, eval_every=1, curiosity="rnd"),
                          resume=True)
    got = resumed.run()
    assert strip_time(resumed.state.episodes) == strip_time(whole.state.episodes)
    assert got["curve"] == expected["curve"]
    a, b = whole.controller.actor_state(), resumed.controller.actor_state()
    for agent in a:
        for key, tensor in a[agent]["q_net"].items():
            assert tensor.equal(b[agent]["q_net"][key]), (agent, key)
    assert len(jsonl.read(tmp_path / "split" / "episodes.jsonl", jsonl.META_EPISODES).records) == 3


def test_resume_refuses_changed_settings(tmp_path):
    MetaTrainer(config(tmp_path, episodes=1, eval_every=1)).run()
    with pytest.raises(ConfigError, match="algo"):
        MetaTrainer(config(tmp_path, algo="bandit", episodes=2), resume=True)


# slow: the fast suite's Ray test is the README's rollout expert on two workers, which uses
# the same pool (training.meta.workers.RayPool)
@pytest.mark.slow
def test_two_ray_workers_give_the_in_process_result(tmp_path, ray_cluster):
    cfg = config(tmp_path, "ray", workers=2, episodes=4, eval_every=2)
    ray_summary = MetaTrainer(cfg).run()
    local = MetaTrainer(config(tmp_path, "local", workers=2, episodes=4, eval_every=2))
    local_summary = local.run(pool=InProcessPool())
    ray_episodes = jsonl.read(tmp_path / "ray" / "episodes.jsonl", jsonl.META_EPISODES).records
    assert strip_time(ray_episodes) == strip_time(local.state.episodes)
    assert ray_summary["curve"] == local_summary["curve"]
    assert [e["worker"] for e in ray_episodes] == [0, 1, 0, 1]


# slow: a 20-decision episode per actor, so the kill lands mid-episode
@pytest.mark.slow
def test_a_killed_worker_costs_only_its_episode(tmp_path, ray_cluster):
    ts = envs.task_set(TINY_SET)
    spec = ControllerSpec("bandit", {})
    env = envs.make(ts.train[0])
    from agents import make_controller
    state = make_controller("bandit", env, seed=0).actor_state()
    # long enough to be killed mid-episode: 20 decisions of a tiny task
    import dataclasses
    task = dataclasses.replace(ts.train[0], decisions=20)
    jobs = [EpisodeJob(0, w, task, reset_seed=w, explore_seed=10 + w) for w in range(2)]
    expected = InProcessPool().map(jobs, spec, state)
    with RayPool(2) as pool:
        victim = pool.pids()[0]
        killer = threading.Thread(target=lambda: (time.sleep(1.5), os.kill(victim, signal.SIGKILL)))
        killer.start()
        got = pool.map(jobs, spec, state)
        killer.join()
        assert pool.restarts == 1
    assert [r.attempts for r in got] == [2, 1]
    for a, b in zip(got, expected):
        assert a.result.val_map == b.result.val_map and a.result.choices == b.result.choices


def test_cli_runs_and_prints_how_to_resume_when_stopped(tmp_path, capsys):
    out = tmp_path / "cli"
    code = meta_train.main(["--algo", "bandit", "--task-set", TINY_SET, "--episodes", "2",
                            "--workers", "1", "--seed", "3", "--eval-every", "1",
                            "--out", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "best held-out mAP" in text and (out / "summary.json").is_file()
    assert json.loads((out / "summary.json").read_text())["seed"] == 3


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "argument --workers: must be a positive integer"),  # parse time
    (["--task-set", "digits-v9"],
     "Registered task sets: digits-drift-v0, digits-long-v0, digits-long-v1, digits-tiny-v0, "
     "digits-v0"),
    (["--algo", "dqn"], "dqn"),
    (["--curiosity", "rdn"], "Did you mean 'rnd'"),
])
def test_cli_bad_input_names_the_fix(tmp_path, capsys, argv, message):
    try:
        code = meta_train.main(["--out", str(tmp_path / "x"), "--task-set", TINY_SET, *argv])
    except SystemExit as stop:  # argparse's usage error
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_unreachable_address_fails_fast_with_a_fix(tmp_path):
    pytest.importorskip("ray")
    start = time.perf_counter()
    with pytest.raises(WorkerPoolError, match="ray start --head"):
        make_pool(2, address="127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(WorkerPoolError, match="HOST:PORT"):
        make_pool(2, address="nowhere")
    assert time.perf_counter() - start < 15


# slow: Ray up in this process (about 5 s to start) for one refusal
@pytest.mark.slow
def test_an_address_is_refused_while_ray_is_up_in_the_process(ray_cluster):
    """The pool would otherwise join the instance that is up, not the cluster it was given."""
    import socket
    with socket.socket() as head:  # something listens there: the address is reachable
        head.bind(("127.0.0.1", 0))
        head.listen()
        with pytest.raises(WorkerPoolError, match="already up in this process"):
            make_pool(2, address=f"127.0.0.1:{head.getsockname()[1]}")


def test_task_reward_norm_scales_each_tasks_returns_to_unit_rms(tmp_path):
    trainer = MetaTrainer(config(tmp_path, reward_norm="task", episodes=2))
    seen = []
    original = trainer.controller.observe_many
    trainer.controller.observe_many = lambda ts: (seen.append(ts), original(ts))[1]
    summary = trainer.run()
    assert summary["reward_norm"] == "task" and "--reward-norm task" in summary["command"]
    moments = trainer.state.return_moments
    assert sum(n for n, _ in moments.values()) == 2
    first = seen[0]
    # the first episode of a task is divided by its own |return|: its return becomes +-1
    assert abs(sum(t.mean_reward for t in first)) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ConfigError, match="reward_norm"):
        config(tmp_path, reward_norm="per-episode")


def test_options_flag_takes_a_json_object(capsys):
    config, _ = meta_train.parse_args(["--options", '{"gamma": 0.9}'])
    assert config.options == {"gamma": 0.9}
    with pytest.raises(SystemExit):
        meta_train.parse_args(["--options", "gamma=0.9"])
    assert "argument --options: 'gamma=0.9' is not valid JSON" in capsys.readouterr().err
