"""``vdn``: it finds a joint optimum that needs coordination, its TD target, exact resume,
save/load, rollout-worker copies (``actor_state``) and config errors."""
from __future__ import annotations

import copy
from functools import partial

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from agents import (AgentConfigError, Transition, VDNController, load_controller,
                    make_controller)
from agents.common import generator_state
from benchmarks.credit_assignment import steps_to_optimum
from envs.fakes import CooperativeFakeEnv
from fakes import assert_same, rollout, torch_round_trip

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = {"learning_starts": 4, "batch_size": 8, "hidden": (16,)}
"""Trains from the fourth step, on tiny nets: what the mechanics tests need."""


def build(seed: int = 0, env=None, **overrides) -> VDNController:
    controller = make_controller("vdn", env or CooperativeFakeEnv(max_steps=10), seed=seed,
                                 **{**SMALL, **overrides})
    assert isinstance(controller, VDNController)
    return controller


def probe_observations(steps: int = 8) -> list[dict[str, np.ndarray]]:
    """The observations of one episode of a fresh env under a fixed sequence of joint actions."""
    env = CooperativeFakeEnv(max_steps=10)
    obs, _ = env.reset(seed=9)
    seen = []
    for t in range(steps):
        seen.append(obs)
        obs, *_ = env.step({a: (t + i) % env.n_actions[a] for i, a in enumerate(env.agents)})
    return seen


# ------------------------------------------------------------------ learning
@pytest.mark.parametrize("seed", (0, 1))
def test_finds_the_joint_optimum_that_needs_coordination(seed):
    """``InteractionGameEnv``: aug's choice 2 is only its second best alone and pays off only
    with opt's choice 1, so the additive ``Q_aug`` must learn that from what opt plays.
    Defaults, without discount (a repeated one-shot game, as in test_credit_assignment).
    Measured (1 torch thread), the step from which the greedy joint action stays optimal to
    the end of a 400-step run, seeds 0-9: 360, 125, 275, 345, 270, 265, 155, 115, 140, 400
    (every seed optimal at the end). With a 300-step run, seeds 0-5: 295, 230, None, 200,
    150, 240; test_credit_assignment has ma2ml 55 / 150 and mat-dqn None / None there."""
    run = steps_to_optimum(partial(make_controller, "vdn", seed=seed, gamma=0.0), seed, 400)
    assert run.since is not None and run.since <= 380, run.since


# ------------------------------------------------------------- the TD target
def next_values(controller, states: torch.Tensor, double_q: bool) -> torch.Tensor:
    """``sum_i Q_i^target(s', a_i')``, ``a_i'`` the argmax of the target (double_q: online) net."""
    total = torch.zeros(len(states))
    for agent in controller.agents:
        target_q = controller.q_targets[agent](states)
        chooser = controller.q_nets[agent] if double_q else controller.q_targets[agent]
        total += target_q.gather(1, chooser(states).argmax(1, keepdim=True))[:, 0]
    return total


@pytest.mark.parametrize("double_q", (False, True))
def test_td_target_sums_the_agents_and_bootstraps_only_on_truncation(double_q):
    controller = build(gamma=0.5, learning_starts=100, double_q=double_q)
    env = CooperativeFakeEnv(max_steps=10)
    controller.begin(total_steps=50)
    obs, _ = env.reset(seed=0)
    for t in range(6):
        actions = controller.act(obs)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        if t == 4:  # a termination: nothing to bootstrap from
            terms = {a: True for a in terms}
        step = Transition(obs, actions, rewards, next_obs, terms, truncs, infos)
        controller.observe(step)
        obs = next_obs
    assert controller.buffer.dones[:6].tolist() == [0, 0, 0, 0, 1, 0]
    truncated = {a: True for a in env.agents}
    controller.observe(Transition(obs, controller.act(obs), {a: 1.0 for a in obs},
                                  obs, {a: False for a in obs}, truncated, {a: {} for a in obs}))
    assert controller.buffer.dones[6] == 0.0  # a time limit bootstraps

    # target nets unlike the online ones, so that double Q's choice differs from the max
    controller.q_targets.load_state_dict(build(seed=99).q_nets.state_dict())
    rng_state = copy.deepcopy(controller.buffer.rng.bit_generator.state)
    batch = controller.buffer.sample(16)
    controller.buffer.rng.bit_generator.state = rng_state
    with torch.no_grad():
        q_tot = sum(controller.q_nets[a](batch.states).gather(1, batch.actions[:, i, None])[:, 0]
                    for i, a in enumerate(controller.agents))
        next_max = next_values(controller, batch.next_states, double_q)
        expected = F.smooth_l1_loss(q_tot, batch.rewards + 0.5 * (1 - batch.dones) * next_max)
    logs = controller._update(controller.buffer.sample(16))
    assert logs["team/td_loss"] == pytest.approx(expected.item(), rel=1e-6)
    assert logs["team/q_tot"] == pytest.approx(q_tot.mean().item(), rel=1e-5)


# ------------------------------------------------------------------- resume
@pytest.mark.parametrize("double_q", (False, True))
def test_state_dict_resumes_exactly(double_q):
    env = CooperativeFakeEnv(max_steps=10)
    first = build(seed=0, double_q=double_q)
    _, _, state = rollout(first, env, 23, seed=3)  # stops mid-episode, after 20 updates
    saved = torch_round_trip(first.state_dict())
    env_saved, state_saved = copy.deepcopy(env.state_dict()), copy.deepcopy(state)
    actions_first, logs_first, _ = rollout(first, env, 20, state)

    second = build(seed=123, double_q=double_q)
    second.load_state_dict(saved)
    env2 = CooperativeFakeEnv(max_steps=10)
    env2.load_state_dict(env_saved)
    actions_second, logs_second, _ = rollout(second, env2, 20, state_saved)
    assert actions_first == actions_second and logs_first == logs_second
    assert_same(first.state_dict(), second.state_dict())
    assert second.steps == 43 and second.updates == 43 - SMALL["learning_starts"] + 1


def test_save_then_load_acts_the_same_greedily(tmp_path):
    controller = build()
    rollout(controller, CooperativeFakeEnv(max_steps=10), 30)
    controller.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"controller.json", "q_nets.pt"}
    loaded = load_controller(tmp_path, CooperativeFakeEnv(max_steps=10), seed=5, training=False)
    assert isinstance(loaded, VDNController) and loaded.config == controller.config
    for obs in probe_observations():
        assert loaded.act(obs) == controller.act(obs, training=False)
    assert_same(loaded.q_targets.state_dict(), controller.q_targets.state_dict())


def test_actor_state_copy_acts_the_same_and_keeps_its_generator():
    learner = build(seed=0)
    rollout(learner, CooperativeFakeEnv(max_steps=10), 30)
    actor = learner.actor_state()
    assert set(actor) == {"q_nets", "epsilon"} and actor["epsilon"] == learner.epsilon

    copy_ = build(seed=7)
    before = generator_state(copy_.act_rng)
    copy_.load_actor_state(torch_round_trip(actor))
    assert generator_state(copy_.act_rng) == before and copy_.epsilon == learner.epsilon
    for obs in probe_observations():
        assert copy_.act(obs, training=False) == learner.act(obs, training=False)
    assert len(copy_.buffer) == 0 and copy_.steps == 0  # nothing but weights and epsilon came


# ------------------------------------------------------------------- config
@pytest.mark.parametrize("field,value", [
    ("learning_rate", 0.0), ("buffer_size", 0), ("learning_starts", 0), ("batch_size", 2.5),
    ("gamma", 1.5), ("tau", 0.0), ("exploration_fraction", 0.0),
    ("exploration_initial_eps", 2.0), ("exploration_final_eps", -0.1), ("hidden", (64, 0)),
    ("max_grad_norm", -1.0), ("double_q", "yes"), ("buffer_size", "many"),
])
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(AgentConfigError, match=field):
        make_controller("vdn", CooperativeFakeEnv(), seed=0, **{field: value})


def test_unknown_hyperparameter_names_close_matches():
    with pytest.raises(AgentConfigError, match="learning_rate"):
        make_controller("vdn", CooperativeFakeEnv(), seed=0, learning_rat=1e-3)
