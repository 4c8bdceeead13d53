"""ma2ml and ma2ml-lite internals: counterfactual batch, importance weights, returns, settings."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agents import AgentConfigError, Transition, make_controller
from agents.common import JointReplayBuffer
from agents.ma2ml import MA2MLController
from agents.ma2ml.nets import JointCritic
from envs.fakes import CooperativeFakeEnv
from fakes import rollout
from training.core.episode import Callback, StepContext, run_episode

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = {"hidden": (16,)}


def test_counterfactual_forward_equals_one_forward_per_joint_action():
    sizes = [3, 2, 4]
    critic = JointCritic(5, sizes, (8,), torch.Generator().manual_seed(0))
    states = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    actions = torch.tensor([[0, 1, 3], [2, 0, 0], [1, 1, 2], [0, 0, 1], [2, 1, 0], [1, 0, 3]])
    q_cf = critic.counterfactual(states, actions)
    assert [q.shape for q in q_cf] == [(6, n) for n in sizes]
    for i, n in enumerate(sizes):
        for alternative in range(n):
            changed = actions.clone()
            changed[:, i] = alternative
            torch.testing.assert_close(q_cf[i][:, alternative], critic(states, changed))
    # the replayed action's entry is Q(s, a) itself, whichever agent is varied
    for i in range(len(sizes)):
        taken = q_cf[i].gather(1, actions[:, i, None])[:, 0]
        torch.testing.assert_close(taken, critic(states, actions))


def test_counterfactual_advantage_is_zero_mean_under_the_policy():
    env = CooperativeFakeEnv(max_steps=10)
    controller = make_controller("ma2ml", env, seed=0, learning_starts=4, batch_size=8, **SMALL)
    rollout(controller, env, 20)
    batch = controller.buffer.sample(16)
    advantages = controller.counterfactual_advantages(batch.states, batch.actions)
    for agent, adv in advantages.items():
        probs = torch.softmax(controller.policies[agent](batch.states), -1).detach()
        torch.testing.assert_close((probs * adv).sum(-1), torch.zeros(16), atol=1e-5, rtol=0)


def test_importance_weights_truncate_the_others_ratio():
    env = CooperativeFakeEnv(max_steps=10)
    controller = make_controller("ma2ml", env, seed=0, learning_starts=4, batch_size=8, **SMALL)
    assert isinstance(controller, MA2MLController)
    rollout(controller, env, 30)
    batch = controller.buffer.sample(32)
    logp = {a: torch.log_softmax(p(batch.states), -1).detach()
            for a, p in controller.policies.items()}
    weights = controller._importance_weights(batch, logp)
    taken = torch.stack([logp[a].gather(1, batch.actions[:, i, None])[:, 0]
                         for i, a in enumerate(controller.agents)], 1)
    ratio = (taken - batch.behaviour_logp).exp()
    for i, agent in enumerate(controller.agents):
        others = torch.cat([ratio[:, :i], ratio[:, i + 1:]], 1).prod(1)
        torch.testing.assert_close(weights[agent], others.clamp(max=1.0))
    assert any(bool((w < 1).any()) for w in weights.values())  # the policies have moved


def test_replay_buffer_wraps_and_samples_from_its_own_generator():
    buffer = JointReplayBuffer(4, state_dim=2, n_agents=3, seed=0)
    for i in range(6):
        buffer.add(np.full(2, i, np.float32), np.array([i % 2, 0, 1]), np.zeros(3, np.float32),
                   float(i), np.full(2, i + 1, np.float32), i == 5)
    assert len(buffer) == 4 and buffer.full and sorted(buffer.rewards.tolist()) == [2, 3, 4, 5]
    state = buffer.rng.bit_generator.state
    np.random.seed(0)
    first = buffer.sample(8)
    buffer.rng.bit_generator.state = state
    np.random.seed(1)
    torch.testing.assert_close(buffer.sample(8).rewards, first.rewards)


def test_ma2ml_logs_every_agent_and_the_critic():
    env = CooperativeFakeEnv(max_steps=10)
    _, logs, _ = rollout(make_controller("ma2ml", env, seed=0, learning_starts=4, batch_size=8,
                                         **SMALL), env, 6)
    assert logs[0] == {}  # before learning_starts
    expected = {f"agent/{a}/{k}" for a in env.possible_agents
                for k in ("advantage", "policy_loss", "entropy", "kl")}
    expected |= {"critic/loss", "critic/q_mean"}
    assert set(logs[-1]) == expected


def test_lite_learns_from_each_transition_once_its_horizon_is_in():
    env = CooperativeFakeEnv(max_steps=6)
    controller = make_controller("ma2ml-lite", env, seed=0, horizon=3, **SMALL)
    pending, updated = [], []

    class Watch(Callback):
        def on_step(self, ctx: StepContext) -> bool:
            pending.append([len(e["rewards"]) for e in controller.pending])
            updated.append("baseline/loss" in ctx.logs)
            return True

    run_episode(env, controller, seed=0, callbacks=[Watch()])
    # steps 1-2 wait; from step 3 the oldest transition has its 3 rewards; the end flushes all
    assert pending == [[1], [2, 1], [2, 1], [2, 1], [2, 1], []]
    assert updated == [False, False, True, True, True, True]


def test_pipeline_setting_learns_from_the_val_map_once_per_episode():
    env = CooperativeFakeEnv(max_steps=1)
    controller = make_controller("ma2ml", env, seed=0, setting="pipeline", learning_starts=2,
                                 batch_size=4, **SMALL)
    assert controller.config.rewards_from == "val_map"
    obs, _ = env.reset(seed=0)
    actions = controller.act(obs)
    next_obs, rewards, terms, truncs, _ = env.step(actions)
    infos = {a: {"metrics": {"mAP": 42.0}} for a in env.possible_agents}
    step = Transition(obs, actions, rewards, next_obs, terms, truncs, infos)
    controller.observe(step)
    assert controller.buffer.rewards[0] == pytest.approx(0.42) and controller.buffer.dones[0] == 1.0
    with pytest.raises(AgentConfigError, match="metrics"):
        controller.observe(dataclasses.replace(step, infos={a: {} for a in rewards}))


@pytest.mark.parametrize("algo", ["ma2ml", "ma2ml-lite"])
def test_pipeline_setting_fails_on_a_step_that_does_not_end_the_episode(algo):
    env = CooperativeFakeEnv(max_steps=5)
    controller = make_controller(algo, env, seed=0, setting="pipeline", reward_source="env",
                                 **SMALL)
    with pytest.raises(AgentConfigError, match="max_decisions=1"):
        rollout(controller, env, 1)


@pytest.mark.parametrize("algo", ["ma2ml", "ma2ml-lite"])
def test_pipeline_on_the_real_env_reads_the_final_val_map(tiny_env, algo):
    env = tiny_env("mlic-digits", max_decisions=1, steps_per_decision=4)
    options = {"learning_starts": 1, "batch_size": 4} if algo == "ma2ml" else {}
    controller = make_controller(algo, env, seed=0, setting="pipeline", **options, **SMALL)
    _, logs, state = rollout(controller, env, 2, total_steps=2)
    assert state.episode == 2 and not env.agents
    assert all(np.isfinite(list(entry.values())).all() for entry in logs)
    assert ("critic/loss" if algo == "ma2ml" else "baseline/loss") in logs[-1]


@pytest.mark.parametrize("algo,options,message", [
    ("ma2ml", {"setting": "per_step"}, "setting"),
    ("ma2ml", {"reward_source": "map"}, "reward_source"),
    ("ma2ml", {"importance_clip": 0.0}, "importance_clip"),
    ("ma2ml", {"tau": 0.0}, "tau"),
    ("ma2ml", {"critic_lr": 1e-3, "critc_lr": 1}, "critic_lr"),
    ("ma2ml-lite", {"horizon": 0}, "horizon"),
    ("ma2ml-lite", {"buffer_size": 10}, "buffer_size"),
])
def test_bad_hyperparameters_fail_clearly(algo, options, message):
    with pytest.raises(AgentConfigError, match=message):
        make_controller(algo, CooperativeFakeEnv(), seed=0, **options)


def test_agents_must_share_one_flat_observation():
    class Mixed(CooperativeFakeEnv):
        def observation_space(self, agent):
            space = super().observation_space(agent)
            return space if agent != "opt" else type(space)(-1, 1, shape=(3,))
    with pytest.raises(AgentConfigError, match="same flat Box"):
        make_controller("ma2ml", Mixed(), seed=0)
