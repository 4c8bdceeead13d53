"""The opt-in modes for controllers meant to transfer across tasks: ``observation="relative"``
(``envs.observation``) and ``RewardConfig(kind="best_gain")`` (``envs.reward``), and their
run flags ``--observation`` and ``--reward-kind``. The defaults must stay as they were."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from conftest import TINY
from envs.errors import ConfigError
from envs.observation import FEATURES, OBSERVATION_MODES, RELATIVE_FEATURES
from envs.registry import make_config
from envs.reward import REWARD_KINDS, RewardConfig, compute_reward
from training.core.logs import read_steps
from training.run_marl import main, parse_config

ACTIONS = ({"aug": 1, "opt": 1, "lrs": 1, "loss": 1}, {"aug": 2, "opt": 1, "lrs": 0, "loss": 3},
           {"aug": 0, "opt": 0, "lrs": 0, "loss": 0})
"""One tiny episode's joint actions (``TINY.max_decisions`` of them)."""
BEST_GAIN = RewardConfig(kind="best_gain", w_pen=0.3, switch_cost=0.2)


def _episode(env, seed: int = 0):
    """``(reset observation, reset info, [(observation, reward, info) per decision])``."""
    obs, infos = env.reset(seed=seed)
    steps = []
    for action in ACTIONS:
        observation, rewards, _, _, infos_t = env.step(action)
        steps.append((observation["aug"], rewards["aug"], infos_t["aug"]))
    return obs["aug"], infos["aug"], steps


pytestmark = pytest.mark.usefixtures("one_torch_thread")
FULL_EVAL = {"max_eval_images": None}
"""The values below were measured on the whole val and test splits."""


@pytest.fixture(scope="module")
def default_episode(tiny_env):
    """``_episode`` of the default tiny env (shared: it is the reference of several tests)."""
    return _episode(tiny_env("mlic-digits-v1"))  # v2 adds the context block


# ---------------------------------------------------------------- defaults unchanged
def test_default_step_matches_the_values_measured_before_the_modes_existed(tiny_env):
    # Measured at 6da5cd4 (before the modes) with this file's _episode: tiny_env("mlic-digits"),
    # reset(seed=0), then ACTIONS[0] (every action 1), on small_cnn (the tiny env's backbone
    # then); the sums are of the float32 observations, in float64. The same on 1 and 2 torch
    # threads.
    obs0, _, steps = _episode(tiny_env("mlic-digits-v1", backbone="small_cnn", **FULL_EVAL))
    obs1, reward, _ = steps[0]
    assert reward == pytest.approx(-0.29985310326538395, rel=1e-6)
    assert float(obs0.astype(np.float64).sum()) == pytest.approx(6.568646781146526, rel=1e-6)
    assert float(obs1.astype(np.float64).sum()) == pytest.approx(9.87641550519038, rel=1e-6)


def test_explicit_standard_and_composite_equal_the_defaults_bit_for_bit(tiny_env, default_episode):
    explicit = _episode(tiny_env("mlic-digits-v1", observation="standard",
                                 reward=RewardConfig(kind="composite")))
    assert np.array_equal(default_episode[0], explicit[0])
    for (o1, r1, i1), (o2, r2, i2) in zip(default_episode[2], explicit[2]):
        assert np.array_equal(o1, o2) and r1 == r2 and i1["reward_terms"] == i2["reward_terms"]
    assert set(default_episode[2][0][2]["reward_terms"]) == {"reward", "map_gain", "stability",
                                                              "convergence", "penalty"}


# ------------------------------------------------------------------------ best_gain
def _penalties(start_info, steps, config: RewardConfig) -> list[float]:
    configs = [start_info["config"]] + [info["config"] for _, _, info in steps]
    return [float(info["train"]["diverged"])
            + config.switch_cost * sum(before[c] != now[c] for c in now) / len(now)
            for (_, _, info), before, now in zip(steps, configs, configs[1:])]


def test_best_gain_return_is_the_final_relative_best_squared_minus_penalties(tiny_env):
    _, start, steps = _episode(tiny_env("mlic-digits", reward=BEST_GAIN, **FULL_EVAL))
    m0 = start["metrics"]["mAP"]
    maps = [info["metrics"]["mAP"] for _, _, info in steps]
    b_final = max(0.0, (max([m0] + maps) - m0) / max(m0, 1.0))
    penalties = _penalties(start, steps, BEST_GAIN)
    total = sum(reward for _, reward, _ in steps)
    assert total == pytest.approx(b_final ** 2 - BEST_GAIN.w_pen * sum(penalties), abs=1e-9)
    best = m0
    for (_, reward, info), penalty, m in zip(steps, penalties, maps):
        terms = info["reward_terms"]
        assert set(terms) == {"reward", "relative_best", "best_gain", "penalty"}
        assert terms["penalty"] == pytest.approx(penalty)
        assert terms["relative_best"] == pytest.approx(max(0.0, (max(best, m) - m0) / max(m0, 1.0)))
        assert reward == terms["reward"] == pytest.approx(terms["best_gain"]
                                                          - BEST_GAIN.w_pen * penalty)
        assert (terms["best_gain"] > 0) == (m > best)
        best = max(best, m)
    # The first step's mAP drops below the start (seed 0; see the regression test above).
    assert maps[0] < m0 and steps[0][2]["reward_terms"]["best_gain"] == 0.0


def test_best_gain_is_zero_without_a_new_best():
    outcome = dict(map_now=30.0, map_before=35.0, val_loss_now=0.5, val_loss_before=0.4,
                   progress=0.5, diverged=False, switched=0, components=4)
    same = compute_reward(BEST_GAIN, best_now=40.0, best_before=40.0, map_start=20.0, **outcome)
    assert same.reward == 0.0 and same.best_gain == 0.0 and same.relative_best == 1.0
    new = compute_reward(BEST_GAIN, best_now=50.0, best_before=40.0, map_start=20.0, **outcome)
    assert new.reward == pytest.approx(1.5 ** 2 - 1.0)
    # A degenerate start (undefined mAP, reported as 0) is floored at 1 point.
    floor = compute_reward(BEST_GAIN, best_now=2.0, best_before=0.0, map_start=0.0, **outcome)
    assert floor.reward == pytest.approx(4.0)


# ------------------------------------------------------------------ relative observation
def _headroom(now: float, start: float, full: float = 100.0) -> float:
    return (now - start) / max(full - start, full / 100.0)


def _tail(info, tail_classes) -> float:
    ap = [info["metrics"]["AP"][i] for i in tail_classes if info["metrics"]["AP"][i] is not None]
    return sum(ap) / len(ap) / 100.0 if ap else 0.0


def _expected_relative(start, previous, info, maps_before, tail_classes, history):
    """The relative features of ``info``'s decision, from the infos alone."""
    m0, m, loss0 = start["metrics"]["mAP"], info["metrics"]["mAP"], start["metrics"]["loss"]
    past = [_headroom(x, m0) for x in maps_before[::-1][:history]]
    values = {
        "val_map": _headroom(m, m0),
        "best_val_map": _headroom(max(maps_before + [m]), m0),
        "d_val_map": _headroom(m, previous["metrics"]["mAP"]),
        "val_cf1": _headroom(info["metrics"]["CF1"], start["metrics"]["CF1"]),
        "val_of1": _headroom(info["metrics"]["OF1"], start["metrics"]["OF1"]),
        "tail_ap": _headroom(_tail(info, tail_classes), _tail(start, tail_classes), 1.0),
        "train_loss": info["train"]["loss"] / loss0 - 1.0,
        "val_loss": info["metrics"]["loss"] / loss0 - 1.0,
    } | {f"val_map_t-{i + 1}": v for i, v in enumerate(past + [0.0] * (history - len(past)))}
    return {k: min(max(v, -1.0), 1.0) for k, v in values.items()}


def test_relative_observation_equals_values_computed_from_the_infos(tiny_env, default_episode):
    relative_env = tiny_env("mlic-digits-v1", observation="relative")
    standard_env = tiny_env("mlic-digits-v1")
    names = relative_env.observation_names
    assert names == standard_env.observation_names
    obs0, start, steps = _episode(relative_env)
    std0, _, std_steps = default_episode
    space = relative_env.observation_space("aug")
    assert space == standard_env.observation_space("aug") and obs0.shape == std0.shape
    levels = [n for n in names if n in RELATIVE_FEATURES or n.startswith("val_map_t-")]
    assert all(obs0[names.index(n)] == 0.0 for n in levels)  # the start is the origin
    previous, maps = start, [start["metrics"]["mAP"]]
    tail_classes = relative_env.profile.tail_classes
    for (vector, _, info), (std_vector, _, std_info) in zip(steps, std_steps):
        assert space.contains(vector) and info["metrics"] == std_info["metrics"]
        expected = _expected_relative(start, previous, info, maps, tail_classes,
                                      relative_env.config.history)
        for i, name in enumerate(names):
            want = expected[name] if name in expected else std_vector[i]  # kept features
            assert vector[i] == pytest.approx(want, abs=1e-6), name
        previous, maps = info, maps + [info["metrics"]["mAP"]]


def test_a_checkpoint_keeps_the_episode_start(tiny_env):
    """The relative features and best_gain are measured from the start: a resumed episode
    must keep it (it travels inside the status of ``env.state_dict``)."""
    straight = _episode(tiny_env("mlic-digits", observation="relative", reward=BEST_GAIN))
    env = tiny_env("mlic-digits", observation="relative", reward=BEST_GAIN)
    env.reset(seed=0)
    env.step(ACTIONS[0])
    resumed = tiny_env("mlic-digits", observation="relative", reward=BEST_GAIN)
    resumed.load_state_dict(env.state_dict())
    for action, (vector, reward, _) in zip(ACTIONS[1:], straight[2][1:]):
        observation, rewards, _, _, _ = resumed.step(action)
        assert np.array_equal(observation["aug"], vector) and rewards["aug"] == reward


def test_relative_definitions_name_existing_features():
    scalars = {name for name, _ in FEATURES}
    assert set(RELATIVE_FEATURES) - {"val_map_t-i"} <= scalars
    assert all(text.strip() for text in RELATIVE_FEATURES.values())


def test_parallel_api_with_both_modes_on(tiny_env):
    parallel_api_test(tiny_env("mlic-digits", observation="relative", reward=BEST_GAIN),
                      num_cycles=4)


# ------------------------------------------------------------------------ validation
def test_invalid_kind_and_mode_name_the_valid_choices():
    with pytest.raises(ConfigError, match=r"RewardConfig\.kind must be one of \('composite', "
                                          r"'best_gain'\), got 'gain'"):
        RewardConfig(kind="gain")
    with pytest.raises(ConfigError, match=r"observation must be one of \('standard', "
                                          r"'relative', 'model_free'\), got 'rel'"):
        make_config("mlic-digits", observation="rel")
    assert REWARD_KINDS == ("composite", "best_gain")
    assert OBSERVATION_MODES == ("standard", "relative", "model_free")


# ------------------------------------------------------------------------------ flags
def test_run_flags_reach_the_env(tmp_path):
    out = tmp_path / "run"
    flags = ["--observation", "relative", "--reward-kind", "best_gain"]
    assert main(TINY.flags() + ["--algo", "random", "--out", str(out)] + flags) == 0
    written = json.loads((out / "config.json").read_text())["env_overrides"]
    assert written["observation"] == "relative" and written["reward_kind"] == "best_gain"
    steps = read_steps(out)
    assert len(steps) == TINY.max_decisions
    assert all(set(s["reward_terms"]) == {"reward", "relative_best", "best_gain", "penalty"}
               for s in steps)
    overrides = parse_config(flags).make_overrides()
    assert overrides["observation"] == "relative" and overrides["reward"] == RewardConfig(
        kind="best_gain")
    assert "reward_kind" not in overrides


def test_yaml_keys_and_invalid_values(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("observation: relative\nreward-kind: best_gain\n")
    config = parse_config(["--config", str(path)])
    assert config.env_overrides == {"observation": "relative", "reward_kind": "best_gain"}
    path.write_text("reward_kind: gain\n")
    with pytest.raises(ConfigError, match=r"--reward-kind: RewardConfig\.kind must be one of"):
        parse_config(["--config", str(path)])
    with pytest.raises(SystemExit):  # argparse: invalid choice, listing the valid ones
        parse_config(["--observation", "rel"])


def test_individual_rewards_refuse_a_reward_kind():
    with pytest.raises(ConfigError, match="drop --reward-kind or use --reward shared"):
        parse_config(["--reward", "individual", "--reward-kind", "best_gain"])
    assert parse_config(["--reward", "individual", "--reward-kind", "composite"]).reward == \
        "individual"


def test_model_free_observation_is_relative_without_the_models_scale(tiny_env):
    from envs.observation import MODEL_SCALE_FEATURES
    relative = _episode(tiny_env("mlic-digits", observation="relative"))
    free_env = tiny_env("mlic-digits", observation="model_free")
    free = _episode(free_env)
    names = free_env.observation_names
    assert set(MODEL_SCALE_FEATURES) <= set(names)
    for (rel_vector, _, _), (free_vector, _, _) in zip(relative[2], free[2]):
        for i, name in enumerate(names):
            want = 0.0 if name in MODEL_SCALE_FEATURES else rel_vector[i]
            assert free_vector[i] == want, name
    assert any(rel_vector[names.index("grad_norm")] != 0.0 for rel_vector, _, _ in relative[2])
