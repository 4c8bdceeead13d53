"""The SB3 internals ``mat-dqn`` drives: replay buffer, train(), epsilon schedule, target net, save."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN

from agents import make_controller
from agents.common import SeededReplayBuffer
from agents.mat_dqn import MatDQNController
from envs.fakes import CooperativeFakeEnv
import fakes

RUN = 40
"""The run every test tells its controller (``begin(total_steps=RUN)``)."""
rollout = partial(fakes.rollout, total_steps=RUN)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def controller(seed: int = 0, **overrides) -> MatDQNController:
    options = {"learning_starts": 4, "batch_size": 8, **overrides}
    built = make_controller("mat-dqn", CooperativeFakeEnv(max_steps=10), seed=seed, **options)
    assert isinstance(built, MatDQNController)
    return built


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_models_are_real_sb3_dqns_with_seeded_buffers():
    ctrl = controller()
    assert set(ctrl.models) == {"aug", "opt", "lrs", "loss"}
    for agent, model in ctrl.models.items():
        assert isinstance(model, DQN) and isinstance(model.replay_buffer, SeededReplayBuffer)
        assert model.action_space.n == ctrl.action_sizes[agent]


def test_replay_buffer_add_and_sample_shapes():
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller()
    rollout(ctrl, env, 10)
    buffer = ctrl.models["aug"].replay_buffer
    dim = env.observation_space("aug").shape[0]
    assert buffer.pos == 10 and buffer.observations.shape[1:] == (1, dim)
    batch = buffer.sample(5)
    assert batch.observations.shape == batch.next_observations.shape == (5, dim)
    assert batch.actions.shape == batch.rewards.shape == batch.dones.shape == (5, 1)
    # the 10th step truncated the episode: stored done, but flagged as a time-out so that
    # SB3 bootstraps through it (dones * (1 - timeouts) == 0)
    assert buffer.dones[9, 0] == 1 and buffer.timeouts[9, 0] == 1
    assert buffer.dones[:9, 0].sum() == 0


def test_replay_sampling_ignores_the_global_generator():
    ctrl = controller()
    rollout(ctrl, CooperativeFakeEnv(max_steps=10), 12)
    buffer = ctrl.models["opt"].replay_buffer
    state = buffer.state_dict()["rng"]
    batches = []
    for global_seed in (0, 1):
        np.random.seed(global_seed)
        buffer.rng.bit_generator.state = state
        batches.append(buffer.sample(16).observations)
    assert torch.equal(*batches)


def test_train_changes_the_q_network():
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller(tau=1.0, target_update_interval=1000)
    model = ctrl.models["loss"]
    rollout(ctrl, env, 4)  # learning_starts: no gradient step yet
    before = params(model.q_net)
    assert all(torch.equal(a, b) for a, b in zip(before, params(model.q_net_target)))
    rollout(ctrl, env, 3)
    after = params(model.q_net)
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert all(torch.equal(a, b) for a, b in zip(before, params(model.q_net_target)))


def test_target_network_is_polyak_updated_every_interval():
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller(tau=0.25, target_update_interval=2)
    model = ctrl.models["opt"]
    _, _, obs = rollout(ctrl, env, 5)  # 5 steps: the next one (6th) updates the target
    online, target = params(model.q_net), params(model.q_net_target)
    rollout(ctrl, env, 1, obs)  # target update happens before this step's train()
    for q, t, new in zip(online, target, params(model.q_net_target)):
        torch.testing.assert_close(new, 0.75 * t + 0.25 * q)
    target = params(model.q_net_target)
    rollout(ctrl, env, 1)  # 7th step: no target update
    assert all(torch.equal(a, b) for a, b in zip(target, params(model.q_net_target)))


def test_exploration_rate_follows_sb3_schedule():
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller(exploration_fraction=0.5, exploration_final_eps=0.1)
    model = ctrl.models["lrs"]
    assert model.exploration_rate == 1.0
    _, logs, obs = rollout(ctrl, env, 10)
    assert logs[-1]["agent/lrs/epsilon"] == pytest.approx(1.0 - 0.9 * 10 / 20)
    rollout(ctrl, env, 15, obs)
    assert model.exploration_rate == pytest.approx(0.1)


def test_epsilon_one_explores_and_frozen_is_greedy():
    ctrl = controller(exploration_initial_eps=1.0)
    obs, _ = CooperativeFakeEnv().reset(seed=0)
    greedy = ctrl.greedy_actions(obs["aug"])
    explored = [ctrl.act(obs)["aug"] for _ in range(40)]
    assert len(set(explored)) > 3
    assert all(ctrl.act(obs, training=False) == greedy for _ in range(5))


def test_seed_fixes_initial_weights():
    nets = [params(controller(seed).models["aug"].q_net) for seed in (0, 0, 1)]
    assert all(torch.equal(a, b) for a, b in zip(nets[0], nets[1]))
    assert any(not torch.equal(a, b) for a, b in zip(nets[0], nets[2]))


def test_state_dict_is_a_snapshot():
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller()
    rollout(ctrl, env, 8)
    state = ctrl.state_dict()
    weight = state["models"]["aug"]["policy"]["q_net.q_net.0.weight"].clone()
    rollout(ctrl, env, 8)
    assert torch.equal(weight, state["models"]["aug"]["policy"]["q_net.q_net.0.weight"])
    assert state["models"]["aug"]["buffer"]["observations"].shape[0] == 8


def test_saved_zip_loads_in_plain_sb3_and_predicts_the_same(tmp_path):
    env = CooperativeFakeEnv(max_steps=10)
    ctrl = controller()
    rollout(ctrl, env, 20)
    ctrl.save(tmp_path)
    probe = CooperativeFakeEnv(max_steps=10)
    obs, _ = probe.reset(seed=4)
    models = {a: DQN.load(tmp_path / f"{a}.zip", device="cpu") for a in ctrl.agents}
    for step in range(6):
        greedy = ctrl.act(obs, training=False)
        assert greedy == {a: int(m.predict(obs[a], deterministic=True)[0]) for a, m in models.items()}
        obs, *_ = probe.step({a: (step + i) % probe.action_space(a).n
                              for i, a in enumerate(probe.agents)})


def test_log_dir_gets_one_sb3_csv_per_agent(tmp_path):
    ctrl = controller(log_dir=str(tmp_path))
    rollout(ctrl, CooperativeFakeEnv(max_steps=10), 8)
    for agent in ctrl.agents:
        lines = (tmp_path / agent / "progress.csv").read_text().splitlines()
        assert "train/loss" in lines[0] and len(lines) == 1 + 8 - 4  # one row per train() call
