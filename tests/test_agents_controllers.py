"""Every registered controller, with and without curiosity: episodes, exact resume, freeze, save/load."""
from __future__ import annotations

import ast
import copy
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import (ALGORITHMS, AgentConfigError, Controller, ControllerCheckpointError,
                    UnknownAlgorithmError, load_controller, make_controller)
from agents.curiosity import CURIOSITY, make_curiosity
from envs.fakes import CooperativeFakeEnv
from fakes import assert_same, one_torch_thread, rollout  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]
HP = {"mat-dqn": {"total_steps": 60, "learning_starts": 4, "batch_size": 8},
      "ma2ml": {"learning_starts": 2, "batch_size": 8, "hidden": (16,)},
      "ma2ml-lite": {"horizon": 3, "hidden": (16,)}}
"""Small settings so the tests train from the first few steps."""


LOG_KEY = r"agent/(aug|opt|lrs|loss)/\w+|(critic|baseline)/\w+"
"""Per-agent keys, plus ma2ml's critic and ma2ml-lite's baseline."""


def build(algo: str, env, seed: int = 0, **overrides):
    return make_controller(algo, env, seed=seed, **{**HP.get(algo, {}), **overrides})


def strip_rngs(state):
    """A state dict without generator states (what acting may legitimately consume)."""
    if isinstance(state, dict):
        return {k: strip_rngs(v) for k, v in state.items() if k not in ("rng", "rngs")}
    return state


def torch_round_trip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("curiosity", (None, *CURIOSITY))
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_runs_an_episode(algo, curiosity):
    env = CooperativeFakeEnv(max_steps=12)
    if curiosity:
        env = make_curiosity(curiosity, env, seed=1)
    controller = build(algo, env)
    assert isinstance(controller, Controller) and controller.name == algo
    obs, _ = env.reset(seed=0)
    for _ in range(12):
        actions = controller.act(obs)
        assert all(env.action_space(a).contains(actions[a]) for a in env.agents)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        logs = controller.observe(obs, actions, rewards, next_obs, terms, truncs, infos)
        assert all(re.fullmatch(LOG_KEY, key) for key in logs), logs
        assert all(np.isfinite(v) for v in logs.values())
        if curiosity:
            assert all(infos[a]["reward_intrinsic"] >= 0 for a in rewards)
        obs = next_obs
    assert not env.agents


@pytest.mark.parametrize("algo,curiosity", [("mat-dqn", "rnd"), ("bandit", "icm"), ("static", None),
                                            ("ma2ml", None), ("ma2ml-lite", "rnd")])
def test_drives_the_real_training_env(tiny_env, algo, curiosity):
    env = tiny_env("mlic-digits", max_decisions=3)
    if curiosity:
        env = make_curiosity(curiosity, env, seed=0)
    controller = build(algo, env)
    obs, _ = env.reset(seed=0)
    steps = 0
    while env.agents:
        actions = controller.act(obs)
        assert set(actions) == set(env.agents)
        assert all(env.action_space(a).contains(actions[a]) for a in actions)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        logs = controller.observe(obs, actions, rewards, next_obs, terms, truncs, infos)
        assert all(env.observation_space(a).contains(o) for a, o in next_obs.items())
        obs, steps = next_obs, steps + 1
    assert steps == 3
    assert (algo == "static") == (not logs)
    if curiosity:
        assert {"reward_extrinsic", "reward_intrinsic", "metrics"} <= set(infos["opt"])


def test_mat_dqn_logs_epsilon_and_loss():
    env = CooperativeFakeEnv()
    _, logs, _ = rollout(build("mat-dqn", env), env, 10)
    assert {"agent/opt/epsilon", "agent/opt/loss"} <= set(logs[-1])
    assert "agent/opt/loss" not in logs[0]  # before learning_starts


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_state_dict_round_trip_resumes_exactly(algo):
    env = CooperativeFakeEnv(max_steps=10)
    first = build(algo, env, seed=0)
    _, _, obs = rollout(first, env, 25, seed=3)
    saved = torch_round_trip(first.state_dict())  # must survive torch.load(weights_only=True)
    env_saved, obs_saved = copy.deepcopy(env.state_dict()), copy.deepcopy(obs)
    actions_first, _, _ = rollout(first, env, 20, obs)

    second = build(algo, CooperativeFakeEnv(max_steps=10), seed=123)
    second.load_state_dict(saved)
    env2 = CooperativeFakeEnv(max_steps=10)
    env2.load_state_dict(env_saved)
    actions_second, _, _ = rollout(second, env2, 20, obs_saved)
    assert actions_first == actions_second
    assert_same(first.state_dict(), second.state_dict())


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_same_seed_same_run_whatever_the_global_seeds(algo):
    runs = []
    for global_seed in (0, 1):
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        env = CooperativeFakeEnv(max_steps=10)
        controller = build(algo, env, seed=7)
        actions, _, _ = rollout(controller, env, 20, seed=2)
        runs.append((actions, controller.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert_same(runs[0][1], runs[1][1])


def test_load_state_dict_rejects_another_algorithm():
    env = CooperativeFakeEnv()
    with pytest.raises(ControllerCheckpointError, match="bandit"):
        build("random", env).load_state_dict(build("bandit", env).state_dict())


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_frozen_controller_does_not_change(algo):
    env = CooperativeFakeEnv(max_steps=10)
    controller = build(algo, env)
    rollout(controller, env, 15)
    controller.training = False
    before = copy.deepcopy(strip_rngs(controller.state_dict()))
    _, logs, obs = rollout(controller, env, 15)
    assert_same(before, strip_rngs(controller.state_dict()))
    if algo != "random":  # frozen acting is greedy, hence repeatable
        assert controller.act(obs) == controller.act(obs)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_save_then_load_controller_acts_the_same(algo, tmp_path):
    env = CooperativeFakeEnv(max_steps=10)
    controller = build(algo, env, choices={"opt": 2}) if algo == "static" else build(algo, env)
    rollout(controller, env, 30)
    controller.save(tmp_path)
    loaded = load_controller(tmp_path, CooperativeFakeEnv(max_steps=10), seed=5, training=False)
    assert loaded.name == algo and loaded.training is False
    probe = CooperativeFakeEnv(max_steps=10)
    obs, _ = probe.reset(seed=9)
    for _ in range(8):
        expected = controller.act(obs, training=False)
        if algo != "random":
            assert loaded.act(obs) == expected
        obs, *_ = probe.step(expected)


def test_load_controller_rejects_other_agents(tmp_path):
    build("bandit", CooperativeFakeEnv()).save(tmp_path)
    with pytest.raises(ControllerCheckpointError, match="agents"):
        load_controller(tmp_path, CooperativeFakeEnv(n_actions={"opt": 4, "loss": 5}), seed=0)


def test_load_controller_asks_again_for_what_json_cannot_hold(tmp_path):
    kwargs = {"policy_kwargs": {"activation_fn": torch.nn.Tanh}}
    build("mat-dqn", CooperativeFakeEnv(), dqn_kwargs=kwargs).save(tmp_path)
    with pytest.raises(ControllerCheckpointError, match="dqn_kwargs"):
        load_controller(tmp_path, CooperativeFakeEnv(), seed=0)
    loaded = load_controller(tmp_path, CooperativeFakeEnv(), seed=0, dqn_kwargs=kwargs)
    assert any(isinstance(m, torch.nn.Tanh) for m in loaded.models["aug"].q_net.modules())


def test_unknown_algorithm_names_close_matches():
    with pytest.raises(UnknownAlgorithmError, match="mat-dqn") as info:
        make_controller("mat_dqn", CooperativeFakeEnv(), seed=0)
    assert isinstance(info.value, ValueError)
    assert all(name in str(info.value) for name in ALGORITHMS)


@pytest.mark.parametrize("algo,options,message", [
    ("bandit", {"alpah": 0.1}, "alpha"),
    ("bandit", {"epsilon": 1.5}, "epsilon"),
    ("static", {"choices": {"opt": 9}}, "opt"),
    ("mat-dqn", {"dqn_kwargs": {"seed": 3}}, "global"),
    ("mat-dqn", {"replay_buffer_class": object}, "SeededReplayBuffer"),
    ("mat-dqn", {"batch_size": 0}, "batch_size"),
])
def test_bad_hyperparameters_fail_clearly(algo, options, message):
    with pytest.raises(AgentConfigError, match=message):
        make_controller(algo, CooperativeFakeEnv(), seed=0, **options)


def test_static_plays_its_choices_and_defaults_to_zero():
    env = CooperativeFakeEnv()
    obs, _ = env.reset(seed=0)
    assert build("static", env, choices={"opt": 2, "loss": 1}).act(obs) == \
        {"aug": 0, "opt": 2, "lrs": 0, "loss": 1}


def test_mat_dqn_passes_unknown_hyperparameters_to_sb3():
    controller = build("mat-dqn", CooperativeFakeEnv(), max_grad_norm=3.0, n_steps=1,
                       policy_kwargs={"activation_fn": torch.nn.Tanh})
    model = controller.models["opt"]
    assert model.max_grad_norm == 3.0
    assert any(isinstance(m, torch.nn.Tanh) for m in model.q_net.modules())


def test_agents_package_never_imports_envs_engine():
    offenders = []
    for path in (ROOT / "agents").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith("envs.engine")
                          or n.split(".")[0] in ("training", "benchmarks")]
    assert not offenders
