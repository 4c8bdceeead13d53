"""The offline dataset (``benchmarks.dataset``) and the surrogate env (``mlic-surrogate-v0``).

A tiny pipeline runs once per session: real episodes on ``digits-tiny-v0`` recorded with
``TransitionRecorder``, exported as a Minari dataset, loaded back, and a 2-member ensemble
fitted on its train tasks. The bundled surrogate is checked for conformance as it ships.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import envs
from benchmarks.offline import dataset as ds
from benchmarks.offline import surrogate as sg
from benchmarks.offline import surrogate_fit
from envs.surrogate import WEIGHTS, Ensemble, SurrogateEnv
from envs.surrogate.model import ACTION_SIZES, SCALARS

BEHAVIOURS = "static:none+sgd+constant+bce,random"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("offline")
    store = root / "t.jsonl"
    mp = pytest.MonkeyPatch()
    mp.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    episodes = ds.main(["collect", "--task-set", "digits-tiny-v0", "--behaviours", BEHAVIOURS,
                        "--workers", "1", "--store", str(store), "--no-progress"])
    dataset = ds.main(["export", "--store", str(store), "--dataset-id", "mlic/tiny-v0"])
    weights = sg.main(["fit", "--dataset-id", "mlic/tiny-v0", "--out", str(root / "s.npz"),
                       "--members", "2", "--epochs", "3", "--threads", "1"])
    yield {"episodes": episodes, "dataset": dataset, "weights": weights, "store": store,
           "root": root}
    mp.undo()


def test_recorded_episodes_are_the_env_s_own_steps(pipeline):
    episodes = pipeline["episodes"]
    ts = envs.task_set("digits-tiny-v0")
    assert len(episodes) == (len(ts.train) + len(ts.heldout)) * 2
    for e in episodes:
        assert e.steps == 3 and len(e.observations) == 4 and len(e.val_mAP) == 4
        assert e.truncations[-1] and not any(e.terminations) and e.test_mAP is not None
        assert e.agents == list(envs.COMPONENTS)
        assert all(0 <= a < n for row in e.actions for a, n in zip(row, ACTION_SIZES))
    static = [e for e in episodes if e.behaviour.startswith("static:")]
    sbs = envs.recipe_actions(envs.make(ts.train[0], observation="relative"),
                              ds.RECIPES["none+sgd+constant+bce"])
    assert all(row == [sbs[a] for a in envs.COMPONENTS] for e in static for row in e.actions)


def test_the_minari_dataset_loads_with_minari(pipeline, monkeypatch):
    import minari
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(pipeline["root"] / "minari"))
    loaded = minari.load_dataset("mlic/tiny-v0")
    episodes = pipeline["episodes"]
    assert loaded.total_episodes == len(episodes)
    assert loaded.total_steps == sum(e.steps for e in episodes)
    first = next(loaded.iterate_episodes())
    np.testing.assert_allclose(first.observations, np.asarray(episodes[0].observations, np.float32))
    np.testing.assert_array_equal(first.actions, episodes[0].actions)
    assert first.infos["test_mAP"][0, 0] == pytest.approx(episodes[0].test_mAP)
    info = json.loads(loaded.storage.metadata["description"])
    assert info["tasks"][int(first.infos["task"][0, 0])] == episodes[0].task
    assert set(info["splits"].values()) == {"train", "heldout"}
    assert isinstance(loaded.action_space, envs.JointActionEnv(
        envs.make(envs.task_set("digits-tiny-v0").train[0]), flatten=False).action_space.__class__)


def test_collect_resumes_from_its_store(pipeline, monkeypatch):
    calls = []
    monkeypatch.setattr(ds, "play", lambda job: calls.append(job))
    again = ds.collect("digits-tiny-v0", ["train", "heldout"], BEHAVIOURS.split(","), 1, 1,
                       pipeline["store"], resume=True, progress=False)
    assert calls == [] and [e.test_mAP for e in again] == [e.test_mAP for e in pipeline["episodes"]]


def test_the_surrogate_passes_pettingzoo_s_parallel_tests(pipeline):
    parallel_api_test(SurrogateEnv(pipeline["weights"]), num_cycles=20)
    parallel_seed_test(lambda: SurrogateEnv(pipeline["weights"]))


def test_the_surrogate_s_exact_parts_follow_the_action(pipeline):
    env = SurrogateEnv(pipeline["weights"])
    obs, _ = env.reset(seed=3)
    before = obs["aug"]
    history = env.config.history
    action = {"aug": 1, "opt": 2, "lrs": 3, "loss": 4}
    after = env.step(action)[0]["aug"]
    steps = env.tasks[env.task]["decisions"]
    assert after[SCALARS.index("progress")] == pytest.approx(
        min(1.0, before[SCALARS.index("progress")] + 1 / steps))
    one_hot = after[len(SCALARS):len(SCALARS) + sum(ACTION_SIZES)]
    offsets = np.cumsum((0,) + ACTION_SIZES[:-1])
    assert np.flatnonzero(one_hot).tolist() == [o + action[a] for o, a in
                                                zip(offsets, envs.COMPONENTS)]
    past = after[len(SCALARS) + sum(ACTION_SIZES):]
    assert len(past) == history and past[0] == before[SCALARS.index("val_map")]
    for name in ("label_cardinality", "imbalance", "num_classes", "train_size"):
        assert after[SCALARS.index(name)] == before[SCALARS.index(name)]


def test_the_surrogate_samples_rather_than_averages(pipeline):
    env = SurrogateEnv(pipeline["weights"])
    finals = set()
    for seed in range(6):
        env.reset(seed=seed, options={"task": sorted(env.tasks)[0]})
        while env.agents:
            _, _, _, _, infos = env.step({a: 0 for a in env.agents})
        finals.add(round(infos["aug"]["val_mAP"], 6))
    assert len(finals) > 1  # the same task, start and actions: different outcomes
    assert infos["aug"]["uncertainty"] >= 0


def test_ensemble_files_round_trip_and_bad_ones_are_named(pipeline, tmp_path):
    model = Ensemble.load(pipeline["weights"])
    x = np.zeros((2, model.x_mean.shape[0]), np.float32)
    copy = Ensemble.load(model.save(tmp_path / "copy.npz"))
    np.testing.assert_array_equal(copy.forward(1, x)[0], model.forward(1, x)[0])
    with pytest.raises(envs.ConfigError, match="missing.*benchmarks.surrogate fit"):
        SurrogateEnv(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(envs.ConfigError, match="unreadable"):
        SurrogateEnv(tmp_path / "bad.npz")
    env = SurrogateEnv(pipeline["weights"])
    with pytest.raises(envs.ConfigError, match="not in the surrogate's task table"):
        env.reset(seed=0, options={"task": "no-such-task"})
    with pytest.raises(envs.ResetNeededError):
        env.step({a: 0 for a in env.possible_agents})
    env.reset(seed=0)
    with pytest.raises(envs.InvalidActionError):
        env.step({"aug": 99, "opt": 0, "lrs": 0, "loss": 0})


def test_export_takes_the_behaviours_asked_for(pipeline, monkeypatch, capsys):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(pipeline["root"] / "minari"))
    only = ds.main(["export", "--store", str(pipeline["store"]), "--dataset-id",
                    "mlic/tiny-random-v0", "--behaviours", "random"])
    assert only.total_episodes == sum(e.behaviour == "random" for e in pipeline["episodes"])
    with pytest.raises(SystemExit):  # v0 holds the zoo's and other behaviours never collected
        ds.main(["export", "--store", str(pipeline["store"]), "--dataset-id",
                 "mlic/digits-v1-mixed-v0"])
    err = capsys.readouterr().err
    assert "zoo:bc-digits-v1" in err and "not in" in err and "collect --behaviours" in err


def test_dataset_cli_names_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit):
        ds.main(["collect", "--behaviours", "static:no-such-recipe", "--store",
                 str(tmp_path / "x.jsonl")])
    assert "unknown behaviour" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # a project error: one line, exit 2
        ds.main(["export", "--store", str(tmp_path / "missing.jsonl")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: --store ") and "collect first" in err
    with pytest.raises(envs.ConfigError, match="missing.jsonl is missing"):
        ds.stored_episodes(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="unknown behaviour"):
        ds.check_behaviour("ppo")


def test_prediction_error_is_measured_against_a_baseline(pipeline, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(pipeline["root"] / "minari"))
    dataset, info = surrogate_fit.load_dataset("mlic/tiny-v0")
    errors = surrogate_fit.prediction_error(Ensemble.load(pipeline["weights"]),
                                 surrogate_fit.split_transitions(dataset, info, "heldout"))
    assert errors["transitions"] == 3 * 2 * len(envs.task_set("digits-tiny-v0").heldout)
    assert errors["val_mAP_change_mae"] >= 0 and errors["val_mAP_change_mae_no_change"] >= 0


def test_the_bundled_surrogate_is_a_conforming_env():
    env = envs.make("mlic-surrogate-v0")
    assert isinstance(env, SurrogateEnv) and WEIGHTS.is_file()
    parallel_api_test(env, num_cycles=30)
    parallel_seed_test(lambda: envs.make("mlic-surrogate-v0"))
    heldout = SurrogateEnv(split="heldout")
    names = {t.name for t in envs.task_set("digits-v1").heldout}
    assert {n for n, t in heldout.tasks.items() if t["split"] == "heldout"} == names
    card = json.loads(WEIGHTS.with_suffix(".json").read_text())
    assert card["command"].startswith("python -m benchmarks.surrogate fit")


def test_training_on_the_surrogate_gives_a_controller_the_real_env_takes(pipeline, tmp_path):
    from benchmarks.core.episodes import run_frozen
    out = sg.main(["train", "--algo", "mat-dqn", "--episodes", "4", "--weights",
                   str(pipeline["weights"]), "--out", str(tmp_path / "run"), "--no-evaluate"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 4 and summary["env_settings"] == {"observation": "relative"}
    task = envs.task_set("digits-tiny-v0").heldout[0]
    result = run_frozen(task, out / "best", seed=0)  # the real env, with the run's settings
    assert len(result.choices) == task.decisions and result.test["mAP"] > 0


def test_train_keeps_the_committed_leaderboards_rows(pipeline, tmp_path, monkeypatch):
    """``train``'s protocol run names the committed leaderboard's zero-shot store (the PBT row)
    with ``--from``, as the docs' protocol commands do; a bare ``--from`` names none, and a
    missing store is refused before any training."""
    from benchmarks.ranking import protocol
    assert all(p.is_file() for p in sg.LEADERBOARD_FROM)  # committed
    forwarded = []
    monkeypatch.setattr(protocol, "main", forwarded.append)
    common = ["train", "--algo", "random", "--episodes", "1", "--weights",
              str(pipeline["weights"])]
    sg.main(common + ["--out", str(tmp_path / "a")])
    sg.main(common + ["--out", str(tmp_path / "b"), "--from"])
    with_from, bare = forwarded
    assert [Path(s).resolve() for s in with_from[with_from.index("--from") + 1:]] == list(
        sg.LEADERBOARD_FROM)
    assert "--from" not in bare and bare[:2] == ["--algo", f"run:{tmp_path / 'b'}"]
    with pytest.raises(SystemExit) as stop:
        sg.main(common + ["--out", str(tmp_path / "c"), "--from", str(tmp_path / "none.jsonl")])
    assert stop.value.code == 2 and not (tmp_path / "c").exists() and len(forwarded) == 2


def test_the_offline_example_learns_from_the_dataset_alone(pipeline, monkeypatch, tmp_path):
    import importlib.util
    from benchmarks.core.episodes import run_frozen
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(pipeline["root"] / "minari"))
    spec = importlib.util.spec_from_file_location(
        "offline_dqn", ds.Path(__file__).resolve().parents[1] / "examples" / "offline_dqn.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main("mlic/tiny-v0", str(tmp_path / "offline"), passes=1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["offline"]["episodes"] == 2 * len(envs.task_set("digits-tiny-v0").train)
    task = envs.task_set("digits-tiny-v0").heldout[0]
    assert run_frozen(task, out / "best", seed=0).test["mAP"] > 0
