"""The zoo of pretrained controllers: publish a run into a temporary zoo, load it by name
(frozen), play it; fit checks (agents, spaces, env settings); publish errors; and the
shipped zoo itself, entry by entry."""
from __future__ import annotations

import json
import pickle
import tomllib
from pathlib import Path

import numpy as np
import pytest

import agents
from agents import zoo
from agents.base import MANIFEST
from agents.errors import (AgentsError, ControllerCheckpointError, EnvSettingsError,
                           UnknownZooControllerError)
from conftest import TINY
from training.core.config import env_make_kwargs
from training.core.episode import run_episode
from training.core.fields import flat_settings
from training.publish import PublishError, main as publish_main, publish, read_summary
from training.run_marl import main as run_marl_main

ROOT = Path(__file__).resolve().parents[1]
ALGOS = {"bandit": {}, "mat-dqn": {"learning_starts": 1, "batch_size": 2, "net_arch": (8,)}}
"""The controllers published here, with hyperparameters that keep them tiny."""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def summary(**changes) -> dict:
    """A ``summary.json`` as the meta-training run writes it (see ``training.publish``)."""
    base = {"command": "python -m training.meta_train --algo bandit --out runs/m", "algo": "bandit",
            "task_set": "digits-v0", "episodes": 12, "workers": 2, "seed": 0,
            "cpu_hours": 0.25, "wall_s": 450.0, "commit": "0123abc", "env_settings": {},
            "best": {"round": 3, "heldout_mAP": 41.5,
                     "per_task": {"digits-heldout-a": 40.0, "shapes-heldout-b": 43.0}},
            "curve": [{"round": 1, "episodes": 4, "heldout_mAP": 30.0},
                      {"round": 3, "episodes": 12, "heldout_mAP": 41.5}]}
    return {**base, **changes}


@pytest.fixture(scope="module")
def env(tiny_env):
    return tiny_env("mlic-digits")


def make_run(tmp_path: Path, env, algo: str = "bandit", **summary_changes):
    """A fake meta-training RUN_DIR: ``best/`` saved by a controller that learned one
    episode, and ``summary.json``. Returns (run_dir, controller)."""
    controller = agents.make_controller(algo, env, seed=0, **ALGOS[algo])
    run_episode(env, controller, seed=0)
    run_dir = tmp_path / f"run-{algo}"
    controller.save(run_dir / "best")
    (run_dir / "summary.json").write_text(json.dumps(summary(algo=algo, **summary_changes)))
    return run_dir, controller


@pytest.fixture()
def zoo_root(tmp_path) -> Path:
    return tmp_path / "zoo"


# ---------------------------------------------------------------- publish + load
@pytest.mark.parametrize("algo", list(ALGOS))
def test_published_controller_loads_by_name_frozen_and_plays(tmp_path, zoo_root, env, algo):
    run_dir, source = make_run(tmp_path, env, algo)
    target = publish(run_dir, f"tiny-{algo}", root=zoo_root, date="2025-01-02")
    assert target == zoo_root / f"tiny-{algo}" and zoo.list_zoo(zoo_root) == [f"tiny-{algo}"]
    assert all((target / f).is_file() for f in zoo.ENTRY_FILES)
    controller = agents.load_controller(f"zoo:tiny-{algo}", env, seed=0, zoo_root=zoo_root)
    assert controller.name == algo and controller.training is False
    observations, _ = env.reset(seed=5)
    assert controller.act(observations, training=False) == source.act(observations, training=False)
    outcome = run_episode(env, controller, seed=0, learn=False)
    assert outcome.state.step == TINY.max_decisions and not outcome.stopped
    fine_tune = agents.load_controller(f"zoo:tiny-{algo}", env, seed=0, zoo_root=zoo_root,
                                       training=True)
    assert fine_tune.training is True


def test_card_names_the_data_version_of_its_run(tmp_path, zoo_root, env):
    run_dir, _ = make_run(tmp_path, env, generator_version=7)
    publish(run_dir, "tiny", root=zoo_root, date="2025-01-02")
    assert zoo.read_card("zoo:tiny", root=zoo_root)["generator_version"] == 7


def test_card_holds_every_field_and_reads_well(tmp_path, zoo_root, env):
    run_dir, _ = make_run(tmp_path, env, env_settings={"history": 4})
    publish(run_dir, "tiny", root=zoo_root, date="2025-01-02")
    card = zoo.read_card("zoo:tiny", root=zoo_root)
    assert tuple(card)[:len(zoo.CARD_FIELDS)] == zoo.CARD_FIELDS
    assert set(tuple(card)[len(zoo.CARD_FIELDS):]) <= set(zoo.OPTIONAL_CARD_FIELDS)
    given = summary()
    for key in ("task_set", "episodes", "workers", "seed", "cpu_hours", "wall_s", "commit"):
        assert card[key] == given[key], key
    # the command that made the weights: the run's, then the publication
    assert card["command"] == (f"{given['command']} && python -m training.publish {run_dir} "
                               "--name tiny --controller best")
    assert card["env_settings"] == {"history": 4} and card["date"] == "2025-01-02"
    assert card["heldout"] == {"round": 3, "mAP": 41.5, "per_task": given["best"]["per_task"]}
    assert card["curve"] == given["curve"] and card["algo"] == "bandit"
    assert card["agents"] == list(env.possible_agents) and card["env"].startswith("mlic-")
    assert card["generator_version"] == 1  # a summary that does not say: before it was recorded
    text = (zoo_root / "tiny" / zoo.CARD_MD).read_text()
    assert "| data | generated datasets of generator version 1 |" in text
    for fragment in ("# zoo:tiny", given["command"], "digits-v0", "| CPU-hours | 0.25 |",
                     "0123abc", "2025-01-02", "| digits-heldout-a | 40.00 |",
                     "| **mean** | **41.50** |", "`history` = `4`", "--load-agents zoo:tiny"):
        assert fragment in text, fragment


def test_publish_cli_and_replace(tmp_path, zoo_root, env, capsys):
    run_dir, _ = make_run(tmp_path, env)
    args = [str(run_dir), "--name", "tiny", "--zoo", str(zoo_root)]
    assert publish_main(args) == 0
    assert "published zoo:tiny" in capsys.readouterr().out
    assert publish_main(args) == 2
    err = capsys.readouterr().err
    assert "exists already" in err and "--replace" in err
    assert publish_main(args + ["--replace"]) == 0
    assert zoo.list_zoo(zoo_root) == ["tiny"]  # no staging folder left behind


# ------------------------------------------------------------------ unknown names
def test_unknown_name_lists_every_entry_ready_to_paste(tmp_path, zoo_root, env):
    run_dir, _ = make_run(tmp_path, env)
    for name in ("alpha", "beta-2"):
        publish(run_dir, name, root=zoo_root)
    with pytest.raises(UnknownZooControllerError) as caught:
        agents.load_controller("zoo:alpah", env, seed=0, zoo_root=zoo_root)
    message = str(caught.value)
    assert "zoo:alpah" in message and "Did you mean zoo:alpha?" in message
    assert message.endswith("Available: zoo:alpha, zoo:beta-2")
    assert isinstance(caught.value, AgentsError) and not isinstance(caught.value, KeyError)
    with pytest.raises(UnknownZooControllerError, match=r"the zoo \(.*\) is empty"):
        zoo.zoo_dir("zoo:anything", root=tmp_path / "empty")


def test_registry_and_cli_resolve_zoo_names_in_the_shipped_zoo(env, tmp_path, capsys):
    shipped = ", ".join(f"zoo:{n}" for n in zoo.list_zoo()) or "is empty"
    for load in (lambda: agents.make_controller("zoo:no-such", env, seed=0),
                 lambda: agents.load_controller("zoo:no-such", env, seed=0)):
        with pytest.raises(UnknownZooControllerError, match="zoo:no-such") as caught:
            load()
        assert shipped in str(caught.value)
    code = run_marl_main(TINY.flags() + ["--load-agents", "zoo:no-such", "--freeze",
                                         "--out", str(tmp_path / "out")])
    assert code == 2 and "zoo:no-such" in capsys.readouterr().err


# ---------------------------------------------------------------------- fit checks
def test_other_agents_are_refused(tmp_path, zoo_root, env, tiny_env):
    publish(make_run(tmp_path, env)[0], "tiny", root=zoo_root)
    fewer = tiny_env("mlic-digits", agents=("aug", "opt"))
    with pytest.raises(ControllerCheckpointError) as caught:
        agents.load_controller("zoo:tiny", fewer, seed=0, zoo_root=zoo_root)
    message = str(caught.value)
    assert message.startswith("zoo:tiny holds agents ['aug', 'opt', 'lrs', 'loss']; this env "
                              "has ['aug', 'opt']")
    assert "--agents aug,opt,lrs,loss" in message


def test_other_observation_size_is_refused_with_the_likely_fix(tmp_path, zoo_root, env, tiny_env):
    publish(make_run(tmp_path, env, "mat-dqn")[0], "tiny", root=zoo_root)
    n = env.observation_space("aug").shape[0]
    longer = tiny_env("mlic-digits", history=6)
    with pytest.raises(ControllerCheckpointError) as caught:
        agents.load_controller("zoo:tiny", longer, seed=0, zoo_root=zoo_root)
    assert str(caught.value).startswith(
        f"zoo:tiny was trained on observations of {n} features for 'aug'; this env gives "
        f"{n + 2} (history length? this env has history=6; history=4 would give {n})")


def test_other_action_sizes_are_refused_and_old_manifests_still_load(tmp_path, env):
    run_dir, _ = make_run(tmp_path, env)
    path = run_dir / "best" / MANIFEST
    manifest = json.loads(path.read_text())
    assert manifest["observation_shapes"] == {a: list(env.observation_space(a).shape)
                                              for a in env.possible_agents}
    old = {k: v for k, v in manifest.items() if k != "observation_shapes"}
    path.write_text(json.dumps(old))
    assert agents.load_controller(run_dir / "best", env, seed=0).training is True
    sizes = {**manifest["action_sizes"], "opt": 99}
    path.write_text(json.dumps({**manifest, "action_sizes": sizes}))
    with pytest.raises(ControllerCheckpointError, match="trained with 99 actions for 'opt'; "
                                                        "this env gives"):
        agents.load_controller(run_dir / "best", env, seed=0)


@pytest.mark.parametrize("settings, fragment", [
    ({"history": 6}, "it was trained with history=6 and this env has history=4 "
                     "(pass history=6 when building the env)"),
    ({"observation": "relative"}, "it was trained with observation='relative' and this env has "
                                  "observation='standard'"),
    ({"colour_space": "lab"}, "it needs the env setting colour_space='lab', which this "
                              "env's config (EnvConfig) does not have"),
    ({"reward.w_map": 2.0}, "it was trained with reward.w_map=2.0 and this env has "
                            "reward.w_map=1.0 (pass reward= a config with w_map=2.0 when "
                            "building the env)"),
    ({"reward": {"w_pen": 0.0}}, "reward.w_pen=0.0 and this env has reward.w_pen=0.5"),
    ({"switch_cost": 0.3}, "reward.switch_cost=0.3 and this env has reward.switch_cost=0.1"),
    ({"reward": "best_gain"}, "it was trained with reward='best_gain' and this env has "
                              "reward={'w_map': 1.0,"),
])
def test_env_settings_the_card_names_must_match(env, settings, fragment):
    with pytest.raises(ControllerCheckpointError, match="^zoo:x does not fit this env: ") as caught:
        zoo.check_env_settings(settings, env, "zoo:x")
    assert fragment in str(caught.value)


def test_env_settings_errors_say_which_and_take_a_callers_wording(env):
    with pytest.raises(EnvSettingsError) as caught:
        zoo.check_env_settings({"history": 6, "reward.kind": "best_gain"}, env, "zoo:x")
    error = caught.value
    assert [(m.setting, m.wanted, m.found) for m in error.mismatches] == [
        ("history", 6, 4), ("reward.kind", "best_gain", "composite")]
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # crosses process boundaries
    shout = zoo.Wording(show=lambda s, v: f"<{s} {v}>", fix=lambda s, v: f"set <{s} {v}>")
    assert ("it was trained with <reward.kind best_gain> and this env has <reward.kind "
            "composite> (set <reward.kind best_gain>)") in error.message(shout)


def test_matching_env_settings_load(tmp_path, zoo_root, env, tiny_env):
    matching = {"history": 4, "agents": list(env.possible_agents), "reward": {"w_map": 1.0},
                "reward.switch_cost": 0.1, "w_pen": 0.5}
    zoo.check_env_settings(matching, env, "zoo:x")
    publish(make_run(tmp_path, env, env_settings={"history": 4, "max_decisions": 5})[0], "tiny",
            root=zoo_root)
    with pytest.raises(ControllerCheckpointError, match="max_decisions=5 and this env has "
                                                        f"max_decisions={TINY.max_decisions}"):
        agents.load_controller("zoo:tiny", env, seed=0, zoo_root=zoo_root)
    assert agents.load_controller("zoo:tiny", tiny_env("mlic-digits", max_decisions=5), seed=0,
                                  zoo_root=zoo_root).training is False


# ------------------------------------------------------------------ publish errors
def test_oversize_weights_are_refused(tmp_path, zoo_root, env):
    run_dir, _ = make_run(tmp_path, env)
    (run_dir / "best" / "huge.bin").write_bytes(b"\0" * zoo.MAX_WEIGHTS_BYTES)
    with pytest.raises(PublishError, match=r"best weighs 2\.00 MiB; .* at most 2 MiB"):
        publish(run_dir, "tiny", root=zoo_root)
    assert zoo.list_zoo(zoo_root) == []


def test_missing_or_malformed_files_name_the_path(tmp_path, zoo_root, env):
    with pytest.raises(PublishError, match=f"{tmp_path / 'nowhere'} does not exist"):
        publish(tmp_path / "nowhere", "tiny", root=zoo_root)
    run_dir, _ = make_run(tmp_path, env)
    with pytest.raises(PublishError, match=f"{run_dir / 'final'} does not exist: .*"
                                           "saved controllers here: best"):
        publish(run_dir, "tiny", controller="final", root=zoo_root)
    (run_dir / "summary.json").write_text(json.dumps({k: v for k, v in summary().items()
                                                      if k != "cpu_hours"}))
    with pytest.raises(PublishError, match=r"summary.json lacks \['cpu_hours'\]"):
        publish(run_dir, "tiny", root=zoo_root)
    (run_dir / "summary.json").write_text(json.dumps(summary(episodes="12")))
    with pytest.raises(PublishError, match="episodes must be int, got '12'"):
        read_summary(run_dir / "summary.json")
    (run_dir / "summary.json").write_text(json.dumps(summary(best={"round": 1})))
    with pytest.raises(PublishError, match=r"best lacks \['heldout_mAP', 'per_task'\]"):
        read_summary(run_dir / "summary.json")
    (run_dir / "summary.json").write_text(json.dumps(summary(algo="mat-dqn")))
    with pytest.raises(PublishError, match="says algo 'mat-dqn' but .* holds a 'bandit'"):
        publish(run_dir, "tiny", root=zoo_root)
    (run_dir / "summary.json").unlink()
    with pytest.raises(PublishError, match=f"{run_dir / 'summary.json'} is missing"):
        publish(run_dir, "tiny", root=zoo_root)
    for bad in ("Tiny", "../up", ""):
        with pytest.raises(PublishError, match="--name: zoo name .* is invalid"):
            publish(run_dir, bad, root=zoo_root)
    assert zoo.list_zoo(zoo_root) == []


# --------------------------------------------------------------- the shipped zoo
def test_shipped_zoo_is_well_formed_and_ships_with_the_package():
    assert (zoo.ZOO_ROOT / "__init__.py").is_file() and zoo.ZOO_ROOT == ROOT / "agents" / "zoo"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*/*" in data["package-data"]["agents.zoo"]
    for name in zoo.list_zoo():
        entry = zoo.zoo_dir(name)
        assert zoo.check_name(name) == name
        assert all((entry / f).is_file() for f in zoo.ENTRY_FILES), name
        assert not [p for p in entry.iterdir() if p.is_dir()], f"{name}: nested folders do not ship"
        assert zoo.weights_bytes(entry) <= zoo.MAX_WEIGHTS_BYTES, name
        keys = tuple(zoo.read_card(name))
        assert keys[:len(zoo.CARD_FIELDS)] == zoo.CARD_FIELDS, name
        assert set(keys[len(zoo.CARD_FIELDS):]) <= set(zoo.OPTIONAL_CARD_FIELDS), name


def _tiny_overrides(card: dict) -> dict:
    """``envs.make`` overrides for the env a card names: its agents and the settings it needs
    (a dotted one, ``reward.kind``, as its flag's ``envs.make`` keyword)."""
    settings = env_make_kwargs(card["env"], flat_settings(card["env_settings"]))
    return {"agents": tuple(card["agents"]), **settings}


@pytest.mark.parametrize("name", zoo.list_zoo() or ["<empty zoo>"])
def test_every_shipped_controller_loads_frozen_and_plays(name, tiny_env):
    if name == "<empty zoo>":  # nothing to play: the empty zoo must say so when asked
        assert zoo.list_zoo() == []
        with pytest.raises(UnknownZooControllerError, match="is empty"):
            zoo.zoo_dir("zoo:anything")
        return
    card = zoo.read_card(name)
    env = tiny_env(card["env"], **_tiny_overrides(card))
    controller = agents.make_controller(f"zoo:{name}", env, seed=0)
    assert controller.training is False and controller.name == card["algo"]
    outcome = run_episode(env, controller, seed=0, learn=False)
    assert outcome.state.step == env.config.max_decisions
    assert np.isfinite(outcome.state.episode_return)


def test_recommended_names_one_entry_is_listed_first_and_moves(tmp_path, zoo_root, env):
    run_dir, _ = make_run(tmp_path, env)
    with pytest.raises(UnknownZooControllerError, match="--recommended"):
        zoo.zoo_dir("zoo:recommended", root=zoo_root)  # none marked yet
    publish(run_dir, "a", root=zoo_root, date="2026-12-04", recommended=True)
    publish(run_dir, "b", root=zoo_root, date="2026-12-04")
    assert zoo.zoo_dir("zoo:recommended", root=zoo_root) == zoo_root / "a"
    assert "`zoo:recommended` loads this entry" in (zoo_root / "a" / zoo.CARD_MD).read_text()
    with pytest.raises(UnknownZooControllerError,
                       match=r"Available: zoo:recommended \(= zoo:a\), zoo:a, zoo:b"):
        zoo.zoo_dir("zoo:c", root=zoo_root)
    assert publish_main([str(run_dir), "--name", "b", "--zoo", str(zoo_root), "--replace",
                         "--recommended"]) == 0
    assert zoo.recommended(zoo_root) == "b"
    assert "recommended" not in zoo.read_card("a", root=zoo_root)
    assert "zoo:recommended" not in (zoo_root / "a" / zoo.CARD_MD).read_text()


def test_resolve_names_the_entry_the_mark_is_on_now(tmp_path, zoo_root, env):
    """Result stores key runs by ``zoo.resolve``: once the mark moves, ``zoo:recommended``
    keys the new entry's runs, never the old one's."""
    run_dir, _ = make_run(tmp_path, env)
    publish(run_dir, "a", root=zoo_root, date="2026-12-04", recommended=True)
    publish(run_dir, "b", root=zoo_root, date="2026-12-04")
    assert zoo.resolve("zoo:recommended", root=zoo_root) == "zoo:a"
    publish(run_dir, "b", root=zoo_root, date="2026-12-04", replace=True, recommended=True)
    assert zoo.resolve("zoo:recommended", root=zoo_root) == "zoo:b"
    for other in ("zoo:a", "static", "run:runs/x", tmp_path):  # anything else as given
        assert zoo.resolve(other, root=zoo_root) == other
    with pytest.raises(UnknownZooControllerError, match="--recommended"):
        zoo.resolve("zoo:recommended", root=tmp_path / "empty")
