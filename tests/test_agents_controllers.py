"""Every registered controller, with and without curiosity: episodes, exact resume, freeze, save/load."""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import (ALGORITHMS, AgentConfigError, BeginNeededError, Controller,
                    ControllerCheckpointError, Transition, UnknownAlgorithmError, load_controller,
                    make_controller)
from agents.rewards.curiosity import CURIOSITY, make_curiosity
from envs.fakes import CooperativeFakeEnv
from fakes import assert_same, rollout, torch_round_trip
from training.core.episode import Callback, StepContext, run_episode

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]
HP = {"mat-dqn": {"learning_starts": 4, "batch_size": 8},
      "ma2ml": {"learning_starts": 2, "batch_size": 8, "hidden": (16,)},
      "ma2ml-lite": {"horizon": 3, "hidden": (16,)}}
"""Small settings so the tests train from the first few steps."""


LOG_KEY = r"agent/(aug|opt|lrs|loss)/\w+|(critic|baseline|search)/\w+"
"""Per-agent keys, plus ma2ml's critic, ma2ml-lite's baseline and rollout's search."""


def build(algo: str, env, seed: int = 0, **overrides):
    return make_controller(algo, env, seed=seed, **{**HP.get(algo, {}), **overrides})


def strip_rngs(state):
    """A state dict without generator states and rollout's search position (what acting may
    legitimately consume or move)."""
    if isinstance(state, dict):
        return {k: strip_rngs(v) for k, v in state.items() if k not in ("rng", "rngs", "search")}
    return state


@pytest.mark.parametrize("curiosity", (None, *CURIOSITY))
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_runs_an_episode(algo, curiosity):
    env = CooperativeFakeEnv(max_steps=12)
    if curiosity:
        env = make_curiosity(curiosity, env, seed=1)
    controller = build(algo, env)
    assert isinstance(controller, Controller) and controller.name == algo

    class Check(Callback):
        def on_step(self, ctx: StepContext) -> bool:
            t = ctx.transition
            assert all(env.action_space(a).contains(t.actions[a]) for a in t.actions)
            assert all(re.fullmatch(LOG_KEY, key) for key in ctx.logs), ctx.logs
            assert all(np.isfinite(v) for v in ctx.logs.values())
            if curiosity:
                assert all(t.infos[a]["reward_intrinsic"] >= 0 for a in t.rewards)
            return True

    outcome = run_episode(env, controller, seed=0, callbacks=[Check()])
    assert outcome.state.step == 12 and not env.agents


@pytest.mark.parametrize("algo,curiosity", [("mat-dqn", "rnd"), ("bandit", "icm"), ("static", None),
                                            ("ma2ml", None), ("ma2ml-lite", "rnd")])
def test_drives_the_real_training_env(tiny_env, algo, curiosity):
    env = tiny_env("mlic-digits", max_decisions=3)
    if curiosity:
        env = make_curiosity(curiosity, env, seed=0)
    controller = build(algo, env)
    seen: list[StepContext] = []

    class Check(Callback):
        def on_step(self, ctx: StepContext) -> bool:
            t = ctx.transition
            assert set(t.actions) == set(env.possible_agents)
            assert all(env.action_space(a).contains(t.actions[a]) for a in t.actions)
            assert all(env.observation_space(a).contains(o) for a, o in t.next_observations.items())
            seen.append(ctx)
            return True

    run_episode(env, controller, seed=0, callbacks=[Check()])
    assert len(seen) == 3
    assert (algo == "static") == (not seen[-1].logs)
    if curiosity:
        assert {"reward_extrinsic", "reward_intrinsic", "metrics"} <= set(seen[-1].transition.infos["opt"])


def test_mat_dqn_logs_epsilon_and_loss():
    env = CooperativeFakeEnv()
    _, logs, _ = rollout(build("mat-dqn", env), env, 10)
    assert {"agent/opt/epsilon", "agent/opt/loss"} <= set(logs[-1])
    assert "agent/opt/loss" not in logs[0]  # before learning_starts


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_state_dict_round_trip_resumes_exactly(algo):
    env = CooperativeFakeEnv(max_steps=10)
    first = build(algo, env, seed=0)
    _, _, state = rollout(first, env, 25, seed=3)
    saved = torch_round_trip(first.state_dict())  # must survive torch.load(weights_only=True)
    env_saved, state_saved = copy.deepcopy(env.state_dict()), copy.deepcopy(state)
    actions_first, _, _ = rollout(first, env, 20, state)

    second = build(algo, CooperativeFakeEnv(max_steps=10), seed=123)
    second.load_state_dict(saved)
    env2 = CooperativeFakeEnv(max_steps=10)
    env2.load_state_dict(env_saved)
    actions_second, _, _ = rollout(second, env2, 20, state_saved)
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
    _, logs, state = rollout(controller, env, 15)
    assert_same(before, strip_rngs(controller.state_dict()))
    if algo != "random":  # frozen acting is greedy, hence repeatable
        assert controller.act(state.observations) == controller.act(state.observations)


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
    for c in (controller, loaded):  # a search controller (rollout) forks the env it plays
        c.attach(probe)
    for _ in range(8):
        expected = controller.act(obs, training=False)
        if algo != "random":
            assert loaded.act(obs) == expected
        obs, *_ = probe.step(expected)


@pytest.mark.parametrize("algo, name", [("mat-dqn", "aug.zip"), ("ma2ml", "policies.pt"),
                                        ("ma2ml", "critic.pt"), ("ma2ml-lite", "baseline.pt"),
                                        ("bandit", "bandit.json")])
@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_weights_file_is_reported_as_damaged(tmp_path, algo, name, damage):
    build(algo, CooperativeFakeEnv()).save(tmp_path)
    path = tmp_path / name
    data = bytearray(path.read_bytes())
    if damage == "truncated":  # e.g. a full disk: SB3's zip then still opens, as a nested one
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ControllerCheckpointError, match=f"^{re.escape(str(path))} is damaged "
                                                        r"\(.*\): .* truncated or corrupted"):
        load_controller(tmp_path, CooperativeFakeEnv(), seed=0)


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


def test_epsilon_learners_must_be_told_the_run_before_they_learn():
    env = CooperativeFakeEnv()
    controller = build("mat-dqn", env)
    obs, _ = env.reset(seed=0)
    actions = controller.act(obs)
    next_obs, rewards, terms, truncs, infos = env.step(actions)
    step = Transition(obs, actions, rewards, next_obs, terms, truncs, infos)
    with pytest.raises(BeginNeededError, match=r"begin\(total_steps=N\)"):
        controller.observe(step)
    with pytest.raises(AgentConfigError, match="positive integer"):
        controller.begin(total_steps=0)
    controller.begin(total_steps=40)
    assert "agent/opt/epsilon" in controller.observe(step)


def test_epsilon_decays_over_the_run_given_to_begin():
    """The same controller config, told two run lengths, explores for different spans."""
    eps = {}
    for total in (20, 80):
        env = CooperativeFakeEnv(max_steps=10)
        controller = build("mat-dqn", env)
        _, logs, _ = rollout(controller, env, 10, total_steps=total)
        eps[total] = logs[-1]["agent/aug/epsilon"]
    assert eps[20] == pytest.approx(1.0 - 0.95 * 10 / 10)  # fraction 0.5 of 20 steps: done
    assert eps[80] == pytest.approx(1.0 - 0.95 * 10 / 40)


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
    ("mat-dqn", {"gama": 0.9}, r"'gama': \['gamma'\].*valid names: learning_rate, .* and the "
                               r"stable_baselines3.DQN arguments n_steps"),
    ("random", {"x": 1}, "RandomConfig takes no hyperparameters"),
    ("static", {"choices": {"opt": "sgd"}}, "this env does not name its actions"),
    ("static", {"choices": {"opt": 1.0}}, "outside 0..3"),
])
def test_bad_hyperparameters_fail_clearly(algo, options, message):
    with pytest.raises(AgentConfigError, match=message):
        make_controller(algo, CooperativeFakeEnv(), seed=0, **options)


def test_static_plays_its_choices_and_defaults_to_zero():
    env = CooperativeFakeEnv()
    obs, _ = env.reset(seed=0)
    assert build("static", env, choices={"opt": 2, "loss": 1}).act(obs) == \
        {"aug": 0, "opt": 2, "lrs": 0, "loss": 1}


def test_static_takes_its_choices_by_action_name_too():
    import envs
    spaces = envs.ControlSpaces(envs.EnvConfig())
    controller = build("static", spaces, choices={"opt": "sgd", "lrs": 2, "loss": "bce"})
    assert controller.choices == {"aug": 0, "opt": 0, "lrs": 2, "loss": 0}
    with pytest.raises(AgentConfigError, match="did you mean 'adam'.*choose from sgd, adam, "
                                               r"adamw, rmsprop, sf_adamw, prodigy \(or an index in 0..5\)"):
        build("static", spaces, choices={"opt": "adamv"})


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
