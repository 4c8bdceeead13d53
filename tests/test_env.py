"""Behaviour of MLICTrainingEnv beyond the PettingZoo API: determinism, infos, agents, actions."""
from __future__ import annotations

import numpy as np
import pytest

import envs
from envs.engine.recipe import CATALOGUES, DEFAULT_RECIPE


def _rollout(env, seed, actions_per_step):
    obs, _ = env.reset(seed=seed)
    trace = [np.concatenate(list(obs.values()))]
    for actions in actions_per_step:
        obs, rewards, _, _, infos = env.step(actions)
        trace.append(np.concatenate(list(obs.values())))
        trace.append(np.array(list(rewards.values())))
        trace.append(np.array([infos["aug"]["metrics"]["mAP"], infos["aug"]["train"]["loss"]]))
    return trace


def test_multi_step_determinism(tiny_env):
    # pettingzoo's seed test compares one step only; compare a whole episode.
    plan = [{"aug": 6, "opt": 0, "lrs": 2, "loss": 1}, {"aug": 5, "opt": 1, "lrs": 3, "loss": 2},
            {"aug": 7, "opt": 2, "lrs": 4, "loss": 4}]
    a = _rollout(tiny_env("mlic-digits"), 11, plan)
    b = _rollout(tiny_env("mlic-digits"), 11, plan)
    c = _rollout(tiny_env("mlic-digits"), 12, plan)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_reset_without_seed_continues_the_seed_sequence(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=1)
    first, _ = env.reset(seed=5)
    second, _ = env.reset()
    again, _ = env.reset(seed=5)
    assert np.array_equal(first["aug"], again["aug"])
    assert not np.array_equal(first["aug"], second["aug"])


@pytest.mark.parametrize("env_id, probes", [("mlic-digits-v1", False), ("mlic-digits-v2", True)])
def test_the_label_probe_reports_its_seconds_apart(tiny_env, env_id, probes):
    env = tiny_env(env_id, max_decisions=1)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({agent: 0 for agent in env.agents})
    timing = infos["aug"]["time"]
    assert (timing.probe_s > 0) == probes and (timing.probe_s == 0) == (not probes)
    assert timing.total_s == pytest.approx(timing.train_s + timing.eval_s + timing.overhead_s
                                           + timing.probe_s)


def test_step_infos_and_truncation(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=2)
    env.reset(seed=0)
    action = {"aug": 2, "opt": 1, "lrs": 0, "loss": 3}
    _, rewards, terms, truncs, infos = env.step(action)
    info = infos["opt"]
    assert info["config"] == {"aug": "flip_crop", "opt": "adam", "lrs": "constant", "loss": "cb_bce"}
    assert set(info["metrics"]) >= {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "AP", "loss"}
    assert set(info["reward_terms"]) == {"reward", "map_gain", "stability", "convergence", "penalty"}
    assert info["reward_terms"]["reward"] == pytest.approx(rewards["opt"])
    assert set(info["time"].as_dict()) == {"train_s", "eval_s", "overhead_s", "probe_s"}
    assert info["time"].train_s > 0 and info["time"].eval_s > 0
    assert info["train"]["steps"] == 2 and "test_metrics" not in info
    assert not any(truncs.values()) and not any(terms.values())
    _, _, _, truncs, infos = env.step(action)
    assert all(truncs.values()) and env.agents == []
    assert 0.0 <= infos["aug"]["test_metrics"]["mAP"] <= 100.0
    with pytest.raises(envs.ResetNeededError, match="episode is over.*reset"):
        env.step(action)


def test_using_the_env_before_reset_raises_reset_needed(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=1)
    action = {"aug": 0, "opt": 0, "lrs": 0, "loss": 0}
    for use in (lambda: env.step(action), env.state, env.state_dict):
        with pytest.raises(envs.ResetNeededError, match=r"call reset\(\)"):
            use()
    assert issubclass(envs.ResetNeededError, RuntimeError)  # old ``except RuntimeError`` still works
    env.reset(seed=0)
    env.step(action)
    env.close()
    with pytest.raises(envs.ResetNeededError, match=r"call reset\(\)"):
        env.state_dict()


def test_removed_agent_keeps_its_default(tiny_env):
    env = tiny_env("mlic-digits", agents=("opt", "loss"))
    assert env.possible_agents == ["opt", "loss"]
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"opt": 0, "loss": 0})
    assert infos["opt"]["config"] == {"aug": DEFAULT_RECIPE.aug, "opt": "sgd",
                                      "lrs": DEFAULT_RECIPE.lrs, "loss": "bce"}
    with pytest.raises(envs.InvalidActionError, match="not active"):
        env.step({"opt": 0, "loss": 0, "aug": 1})


def test_action_names_match_spaces(tiny_env):
    env = tiny_env("mlic-digits")
    for agent in env.possible_agents:
        names = env.action_names(agent)
        assert names == list(CATALOGUES[agent]) and env.action_space(agent).n == len(names)
    assert env.action_names("opt")[:4] == ["sgd", "adam", "adamw", "rmsprop"]
    assert len(env.observation_names) == env.observation_space("aug").shape[0]


@pytest.mark.parametrize("bad, message", [
    ({"aug": 99, "opt": 0, "lrs": 0, "loss": 0}, r"'aug'.*out of range.*\[0, 7\]"),
    ({"aug": -1, "opt": 0, "lrs": 0, "loss": 0}, r"'aug'.*out of range"),
    ({"aug": 1.0, "opt": 0, "lrs": 0, "loss": 0}, r"'aug'.*float"),
    ({"aug": float("nan"), "opt": 0, "lrs": 0, "loss": 0}, r"'aug' is NaN"),
    ({"aug": True, "opt": 0, "lrs": 0, "loss": 0}, r"'aug'.*bool"),
    ({"opt": 0, "lrs": 0, "loss": 0}, r"no action for agent 'aug'.*\[0, 7\]"),
    ([0, 0, 0, 0], r"must be a dict"),
])
def test_bad_actions_name_agent_and_range(tiny_env, bad, message):
    env = tiny_env("mlic-digits")
    env.reset(seed=0)
    with pytest.raises(envs.InvalidActionError, match=message):
        env.step(bad)


def test_numpy_integer_actions_are_accepted(tiny_env):
    env = tiny_env("mlic-digits", max_decisions=1)
    env.reset(seed=0)
    _, _, _, truncs, infos = env.step(
        {"aug": np.int64(1), "opt": np.array(2), "lrs": np.int32(0), "loss": np.uint8(4)})
    assert infos["aug"]["config"] == {"aug": "crop", "opt": "adamw", "lrs": "constant",
                                      "loss": "ls_bce"}
    assert all(truncs.values()) and "test_metrics" in infos["aug"]


def test_unknown_env_id_suggests_close_matches():
    with pytest.raises(envs.UnknownEnvError, match="mlic-voc") as err:
        envs.make("mlic-vco")
    assert "mlic-digits" in str(err.value)


@pytest.mark.parametrize("override", [{"image_size": 0}, {"batch_size": -4}, {"max_decisions": 0},
                                      {"agents": ("aug", "nope")}, {"agents": ()}, {"colour": 1}])
def test_bad_overrides_raise_config_error(override):
    with pytest.raises(envs.ConfigError):
        envs.make_config("mlic-digits", **override)


def test_agents_override_accepts_comma_string():
    assert envs.make_config("mlic-digits", agents="loss,aug").agents == ("aug", "loss")
