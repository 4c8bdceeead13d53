"""Learning from the rollout expert: demonstrations, the learners' targets and fits, the run
they write (publishable, and fine-tunable by ``meta_train --init``)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

import envs
from envs import task_sets
from envs.observation import feature_names
from agents import load_controller, make_controller
from envs.errors import ConfigError
from training import imitate, meta_train
from training.imitation import demonstrations, learners
from training.imitation.demonstrations import DemoConfig, DemoEpisode
from training.imitation.recordings import load_recordings
from agents.selector import Episode
from training.imitation.selector import selector_memory
from training.core.run_store import read_store
from training.publish import publish

SIZES = {"aug": 8, "opt": 4, "lrs": 5, "loss": 5}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """One expert episode on the first tiny train task: 2 sampled changes and the SBS jump."""
    out = tmp_path_factory.mktemp("demos")
    config = DemoConfig(task_set="digits-tiny-v0", seeds=1, max_tasks=1, candidates=2,
                        jumps=("none+sgd+constant+bce",), out=str(out), progress=False)
    return config, demonstrations.record(config)


def test_demonstrations_hold_every_candidate_score_and_the_experts_choice(demos):
    config, (episode,) = demos
    task = envs.task_set("digits-tiny-v0").train[0]
    assert episode.task == task.name and episode.seed == 0 and episode.decisions == task.decisions
    for candidates, scores, chosen, obs in zip(episode.candidates, episode.scores, episode.chosen,
                                               episode.observations):
        assert len(candidates) == len(scores) == 4 and len(obs) > 0  # incumbent, 2, the jump
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))  # a tie keeps the first
        assert chosen == candidates[best]
    assert episode.played == episode.chosen  # the expert plays its own choices
    assert episode.candidates[0][0] == envs.recipe_actions(envs.make(task), envs.DEFAULT_RECIPE)
    assert episode.episodes_of_compute > 1 and episode.segments > 0
    settings, stored = demonstrations.load(config.out)
    assert stored == [episode] and settings["observation"] == "relative"


def test_a_resumed_recording_plays_nothing_it_has(demos, monkeypatch):
    config, episodes = demos
    monkeypatch.setattr(demonstrations, "record_episode",
                        lambda *a, **k: pytest.fail("replayed a stored episode"))
    resumed = DemoConfig(**{**config.__dict__, "resume": True})
    assert demonstrations.record(resumed) == episodes


def _episode(candidates, scores, chosen):
    return DemoEpisode("t", 0, [[0.0, 1.0]] * len(chosen), candidates, scores, chosen, 0.0,
                       0.0, 0, 1.0, 0.0, list(SIZES))


def test_q_targets_are_one_component_gains_over_the_incumbent():
    inc = {"aug": 1, "opt": 2, "lrs": 3, "loss": 4}
    candidates = [[inc, {**inc, "opt": 0}, {**inc, "loss": 1},
                   {"aug": 0, "opt": 0, "lrs": 0, "loss": 0}]]  # the last is a jump
    episode = _episode(candidates, [[40.0, 45.0, 37.5, 50.0]], [{**inc, "opt": 0}])
    t = learners.q_targets([episode], SIZES, score_scale=5.0)
    assert t["opt"].values[0, 0] == 1.0 and t["loss"].values[0, 1] == -0.5
    assert [int(t[a].mask.sum()) for a in SIZES] == [1, 2, 1, 2]  # incumbents + the changes
    assert all(t[a].values[0, inc[a]] == 0.0 and t[a].mask[0, inc[a]] for a in SIZES)
    assert not t["aug"].mask[0, 0]  # the jump teaches no single head


def test_bc_fits_the_experts_choices_and_q_its_gains(demos):
    _, episodes = demos
    env = envs.make(envs.task_set("digits-tiny-v0").train[0], observation="relative")
    x = learners.observations(episodes)
    chosen = {a: t.values for a, t in learners.bc_targets(episodes, list(SIZES)).items()}
    bc = make_controller("mat-dqn", env, seed=0)
    learners.fit(bc, "bc", x, learners.targets("bc", episodes, SIZES), epochs=300)
    assert learners.agreement(bc, x, chosen) == 1.0  # three decisions: it memorises them
    q = make_controller("mat-dqn", env, seed=0)
    targets = learners.targets("q", episodes, SIZES)
    losses = learners.fit(q, "q", x, targets, epochs=400, learning_rate=3e-3)
    assert max(losses.values()) < 1e-3
    with torch.no_grad():
        for a in SIZES:
            fitted = q.models[a].q_net(x)[targets[a].mask]
            assert torch.allclose(fitted, targets[a].values[targets[a].mask], atol=0.05)


def test_a_fitted_learner_is_a_run_that_publishes_and_fine_tunes(demos, tmp_path, capsys):
    config, _ = demos
    out = tmp_path / "fit"
    assert imitate.main(["fit", "--learner", "q", "--demos", config.out, "--epochs", "20",
                         "--eval-every", "10", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [p["epochs"] for p in summary["curve"]] == [0, 10, 20]
    assert summary["demonstrations"]["decisions"] == 3 and summary["learner"] == "q"
    assert summary["env_settings"] == {"observation": "relative"}
    entry = publish(out, "tiny-q", root=tmp_path / "zoo", date="2026-12-04")
    assert (entry / "card.json").is_file()
    env = envs.make(envs.task_set("digits-tiny-v0").heldout[0], observation="relative")
    loaded = load_controller(out / "best", env, seed=0, training=False)
    assert loaded.name == "mat-dqn"
    # RL fine-tuning starts from the weights: its first (untrained) evaluation is theirs
    ft = tmp_path / "ft"
    assert meta_train.main(["--algo", "mat-dqn", "--task-set", "digits-tiny-v0",
                            "--episodes", "1", "--observation", "relative", "--init",
                            str(out / "best"), "--out", str(ft), "--no-progress"]) == 0
    first = json.loads((ft / "summary.json").read_text())["curve"][0]
    assert first["heldout_mAP"] == pytest.approx(summary["best"]["heldout_mAP"])


@pytest.mark.parametrize("argv, message", [
    (["--algo", "bandit"], "holds a 'mat-dqn' controller, not 'bandit': pass --algo mat-dqn"),
    (["--algo", "mat-dqn"], "pass --observation relative"),
])
def test_fine_tuning_refuses_other_algorithms_and_settings(demos, tmp_path, capsys, argv,
                                                           message):
    config, _ = demos
    out = tmp_path / "fit"
    imitate.main(["fit", "--learner", "bc", "--demos", config.out, "--epochs", "1",
                  "--eval-every", "1", "--out", str(out), "--no-progress"])
    assert meta_train.main([*argv, "--task-set", "digits-tiny-v0", "--episodes", "1",
                            "--init", str(out / "best"), "--out", str(tmp_path / "ft"),
                            "--no-progress"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["fit", "--learner", "dagger"], "--learner 'dagger' is not one of bc, q"),
    (["fit", "--demos", "/nonexistent"], "no demonstrations at /nonexistent"),
    (["demos", "--jumps", "none+sgd"], "is not aug+opt+lrs+loss"),
    (["demos", "--task-set", "digits-v9"], "unknown task set"),
])
def test_bad_imitation_input_names_the_problem(argv, message, capsys):
    assert imitate.main([*argv, "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_unknown_learner_in_code_says_which_exist():
    with pytest.raises(ConfigError, match="the learners are bc, q"):
        learners.targets("dagger", [], SIZES)


def test_dagger_labels_the_states_the_learner_reaches_and_refits(demos, tmp_path):
    config, _ = demos
    out = tmp_path / "dagger"
    assert imitate.main(["fit", "--learner", "bc", "--demos", config.out, "--epochs", "5",
                         "--eval-every", "5", "--dagger-rounds", "1", "--dagger-episodes", "1",
                         "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dagger"]["episodes"] == 1
    assert [p["dagger_episodes"] for p in summary["curve"]] == [0, 0, 1]
    _, (labelled,) = read_store(out / "dagger.jsonl", DemoEpisode)
    for candidates, scores, label in zip(labelled.candidates, labelled.scores, labelled.chosen):
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        assert label == candidates[best]  # the expert's label, whatever the learner played
    # the expert searched around the recipe the learner played, not its own choice
    incumbents = [c[0] for c in labelled.candidates]
    assert incumbents[1:] == labelled.played[:-1]


def test_the_selector_picks_the_recipe_the_nearest_episodes_scored_best():
    inc, sgd, adam = ({"aug": 1, "opt": 2, "lrs": 3, "loss": 4}, {"aug": 0, "opt": 0, "lrs": 0,
                      "loss": 0}, {"aug": 0, "opt": 1, "lrs": 0, "loss": 0})

    def first_decision(obs, scores, rare=None):
        candidates = [inc, sgd, adam] + ([rare] if rare else [])
        e = _episode([candidates], [scores], [inc])
        e.observations = [obs]
        return e
    episodes = [first_decision([0.0, 0.0], [30.0, 35.0, 31.0]),
                first_decision([0.0, 0.1], [30.0, 34.0, 30.0]),
                first_decision([0.0, 5.0], [30.0, 20.0, 33.0],
                               rare={"aug": 2, "opt": 0, "lrs": 0, "loss": 0})]
    recipes, memory = selector_memory(episodes, min_share=0.5)
    assert recipes == [inc, sgd, adam]  # the start first; the rare one (1 of 3) left out
    assert memory[0].scores == {0: 0.0, 1: 5.0, 2: 1.0}
    env = envs.make(envs.task_set("digits-tiny-v0").train[0], observation="relative")
    selector = make_controller("selector", env, seed=0, recipes=recipes, neighbours=1)
    selector.remember(memory)
    assert selector.choose([0.0, 0.05]) == 1 and selector.choose([0.0, 4.0]) == 2
    obs = {a: [0.0, 4.0] for a in env.possible_agents}
    assert selector.act(obs) == adam
    assert selector.act({a: [0.5, 0.0] for a in obs}) == adam  # held within the episode
    assert selector.act({a: [0.0, 0.0] for a in obs}) == sgd   # progress 0: a new episode


def test_select_writes_a_run_that_loads_and_plays(demos, tmp_path):
    config, _ = demos
    out = tmp_path / "selector"
    assert imitate.main(["select", "--demos", config.out, "--out", str(out),
                         "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "selector" and len(summary["curve"]) == 1
    env = envs.make(envs.task_set("digits-tiny-v0").heldout[0], observation="relative")
    loaded = load_controller(out / "best", env, seed=0, training=False)
    assert loaded.memory and len(loaded.recipes) == len(summary["options"]["recipes"])


@pytest.fixture(scope="module")
def demos_v2(demos, tmp_path_factory):
    """A second recording, in observation version 2: digits-tiny-v0's first train and held-out
    tasks on their -v2 env ids, as a task set registered for this module only."""
    tiny = envs.task_set("digits-tiny-v0")
    moved = envs.TaskSet("digits-tiny-v2-test",
                         train=tuple(dataclasses.replace(t, version=2) for t in tiny.train[:1]),
                         heldout=tuple(dataclasses.replace(t, version=2, decisions=2)
                                       for t in tiny.heldout[:1]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(task_sets._REGISTRY, moved.name, moved)
        out = tmp_path_factory.mktemp("demos-v2")
        config = DemoConfig(task_set=moved.name, seeds=1, max_tasks=1, candidates=1,
                            jumps=(), out=str(out), progress=False)
        yield config, demonstrations.record(config)


def test_recordings_of_two_versions_are_read_in_the_newest(demos, demos_v2):
    (old, (old_episode,)), (new, (new_episode,)) = demos, demos_v2
    recorded = load_recordings(f"{old.out},{new.out}")
    assert recorded.version == 2 and recorded.newest_settings["task_set"] == new.task_set
    upgraded = recorded.episodes[0]
    width = len(feature_names(4, "tuning-free", context=True))
    assert {len(o) for e in recorded.episodes for o in e.observations} == {width}
    names = dict(zip(feature_names(4, "tuning-free", context=True), range(width)))
    for name, i in zip(feature_names(4, "classic"), range(10 ** 6)):  # kept by name
        assert [o[names[name]] for o in upgraded.observations] == pytest.approx(
            [o[i] for o in old_episode.observations])
    # the same task in version 2: the budget block the env measured from its data is the one
    # the upgrade computed from the task's settings; the label effects read "nothing yet"
    budget = [names[n] for n in ("budget_epochs", "budget_decisions", "epochs_left",
                                 "budget_images")]
    assert [upgraded.observations[0][i] for i in budget] == pytest.approx(
        [new_episode.observations[0][i] for i in budget])
    assert all(upgraded.observations[t][names["aug_effect=flip_crop"]] == 0.0
               for t in range(upgraded.decisions))
    assert upgraded.chosen == old_episode.chosen  # a classic index keeps its meaning
    # one task set: the newest version's tasks first, every task on a -v2 id
    joined = recorded.task_set
    assert joined.name == f"{new.task_set}+{old.task_set}"
    assert joined.train[0] == envs.task_set(new.task_set).train[0]
    assert len(joined.heldout) == 1 + len(envs.task_set(old.task_set).heldout)
    assert {t.version for t in (*joined.train, *joined.heldout)} == {2}


def test_a_learner_fits_on_two_recordings_and_is_selected_on_both_held_outs(
        demos, demos_v2, tmp_path):
    (old, _), (new, _) = demos, demos_v2
    out = tmp_path / "both"
    assert imitate.main(["fit", "--learner", "bc", "--demos", f"{new.out},{old.out}",
                         "--epochs", "2", "--eval-every", "2", "--out", str(out),
                         "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["demonstrations"]["episodes"] == 2
    assert len(summary["best"]["per_task"]) == 1 + len(envs.task_set(old.task_set).heldout)
    assert summary["env"].endswith("-v2")


@pytest.mark.parametrize("demos_arg, extra, message", [
    ("{old},{old}", [], "names a recording twice"),
    ("{old},", [], "give one or more demonstrations' folders"),
    ("{old},{new}", ["--dagger-rounds", "1"], "DAgger's expert is one recording's"),
])
def test_bad_recordings_are_named(demos, demos_v2, capsys, demos_arg, extra, message):
    (old, _), (new, _) = demos, demos_v2
    assert imitate.main(["fit", "--demos", demos_arg.format(old=old.out, new=new.out), *extra,
                         "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_start_from_a_calibration_starts_each_task_from_its_best_recipe(tmp_path):
    """``--start-from CSV``: each task's expert starts from the calibration's best recipe for
    it (the panel's ``default (ASL paper)`` is the default recipe); the store records the
    starts, so a recording with other starts is refused on resume."""
    tiny = envs.task_set("digits-tiny-v0")
    csv = tmp_path / "calibration.csv"
    csv.write_text("split,task,best,best_mAP\n"
                   f"train,{tiny.train[0].name},none+sgd+constant+bce,40.0\n"
                   f"train,{tiny.train[1].name},default (ASL paper),39.0\n")
    config = DemoConfig(task_set="digits-tiny-v0", seeds=1, max_tasks=1, candidates=1,
                        jumps=(), start_from=str(csv), out=str(tmp_path / "demos"),
                        progress=False)
    starts = config.starts()
    assert starts[tiny.train[0].name] == "none+sgd+constant+bce"
    assert starts[tiny.train[1].name] == starts[tiny.train[2].name] == envs.DEFAULT_RECIPE.name
    (episode,) = demonstrations.record(config)
    sgd = envs.recipe_actions(envs.make(tiny.train[0]), envs.Recipe.parse(
        "none+sgd+constant+bce"))
    assert episode.candidates[0][0] == sgd  # the first incumbent is the task's best recipe
    settings, _ = demonstrations.load(config.out)
    assert settings["starts"][tiny.train[0].name] == "none+sgd+constant+bce"


@pytest.mark.parametrize("text, message", [
    (None, "no such file"),
    ("task,recipe\nx,y\n", "not a calibration csv"),
    ("task,best\nx,warp+adamw+one_cycle+asl\n", "recipe .warp"),
])
def test_a_bad_calibration_for_the_starts_is_named(tmp_path, text, message):
    csv = tmp_path / "calibration.csv"
    if text is not None:
        csv.write_text(text)
    with pytest.raises(ConfigError, match=message):
        DemoConfig(task_set="digits-tiny-v0", start_from=str(csv))


def test_reuse_changes_the_experts_compute_not_the_recording():
    """``--reuse`` gives the same demonstrations for fewer segments, so a recording resumes
    with it on or off: it is an option of the expert, not a setting of the store."""
    plain = DemoConfig(task_set="digits-tiny-v0", halving="0:1,1:0")
    reused = DemoConfig(task_set="digits-tiny-v0", halving="0:1,1:0", reuse=True)
    assert reused.settings() == plain.settings()
    assert demonstrations.expert_options(reused) == {**demonstrations.expert_options(plain),
                                                     "reuse": True}


def test_two_recordings_of_one_task_set_are_refused(demos, tmp_path):
    (old, _) = demos
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / demonstrations.STORE).write_text(
        (Path(old.out) / demonstrations.STORE).read_text())
    with pytest.raises(ConfigError, match="two recordings of task set 'digits-tiny-v0'"):
        load_recordings(f"{old.out},{copy}")


def _panel_csv(path, rows):
    """A calibration csv of the panel's columns (``python -m benchmarks.task_sets``' layout)."""
    header = "split,task,best,mAP[default (ASL paper)],mAP[none+sgd+constant+bce]," \
             "mAP[randaug+adamw+one_cycle+asl]\n"
    path.write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_the_panel_selector_remembers_each_train_tasks_first_observation_and_panel(
        demos, tmp_path):
    """``select --panel``: the memory is each calibrated train task's first observation with
    every panel recipe relative to the default's; held-out rows and blank cells are not read."""
    config, _ = demos
    tiny = envs.task_set("digits-tiny-v0")
    first, second = tiny.train[:2]
    csv = _panel_csv(tmp_path / "panel.csv", [
        ("train", first.name, "x", 30.0, 36.0, ""),
        ("train", second.name, "x", 40.0, 38.5, 41.0),
        ("heldout", tiny.heldout[0].name, "x", 10.0, 90.0, 10.0)])
    out = tmp_path / "selector"
    assert imitate.main(["select", "--demos", config.out, "--panel", str(csv), "--out", str(out),
                         "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "--panel" in summary["command"]
    env = envs.make(first, observation="relative")
    names = [envs.DEFAULT_RECIPE.name, "none+sgd+constant+bce", "randaugment+adamw+one_cycle+asl"]
    assert summary["options"]["recipes"] == [envs.recipe_actions(env, envs.Recipe.parse(n))
                                             for n in names]
    loaded = load_controller(out / "best", env, seed=0, training=False)
    observation, _ = env.reset(seed=0)
    assert [m.scores for m in loaded.memory] == [{0: 0.0, 1: 6.0}, {0: 0.0, 1: -1.5, 2: 1.0}]
    assert loaded.memory[0].observation == pytest.approx(
        list(next(iter(observation.values()))))


@pytest.mark.parametrize("rows, message", [
    ([("train", "not-a-task", "x", 30.0, 36.0, 1.0)], "names none of digits-tiny-v0's train"),
    ([("train", "{first}", "x", "", 36.0, 1.0)], "no score of the default recipe"),
    ([("train", "{first}", "x", "abc", 36.0, 1.0)], "is 'abc', not a number"),
])
def test_a_panel_that_cannot_teach_the_selector_is_named(demos, tmp_path, capsys, rows, message):
    config, _ = demos
    first = envs.task_set("digits-tiny-v0").train[0].name
    csv = _panel_csv(tmp_path / "panel.csv", [tuple(str(c).format(first=first) for c in r)
                                              for r in rows])
    assert imitate.main(["select", "--demos", config.out, "--panel", str(csv), "--out",
                         str(tmp_path / "s"), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_the_panels_names_are_the_recipes_the_benchmarks_play():
    from benchmarks.expert.static_recipes import RECIPES
    assert RECIPES is envs.engine.recipe.PANEL
    assert envs.engine.recipe.panel_recipe("default (ASL paper)") == envs.DEFAULT_RECIPE
    assert envs.engine.recipe.panel_recipe("randaug+adamw+one_cycle+asl").aug == "randaugment"


def test_a_selector_deciding_later_plays_the_first_recipe_until_then():
    env = envs.make(envs.task_set("digits-tiny-v0").train[0], observation="relative")
    first, other = {"aug": 1, "opt": 2, "lrs": 3, "loss": 4}, {"aug": 0, "opt": 0, "lrs": 0,
                                                               "loss": 0}
    selector = make_controller("selector", env, seed=0, recipes=[first, other], neighbours=1,
                               decide_at=1)
    selector.remember([Episode([0.5, 1.0], {0: 0.0, 1: 3.0}),
                       Episode([0.5, -1.0], {0: 0.0, 1: -3.0})])
    obs = lambda progress, x: {a: [progress, x] for a in env.possible_agents}  # noqa: E731
    assert selector.act(obs(0.0, 1.0)) == first  # decision 0: not yet
    assert selector.act(obs(0.5, 1.0)) == other  # decision 1: picks from this observation
    assert selector.act(obs(0.9, -1.0)) == other  # and holds it
    assert selector.act(obs(0.0, -1.0)) == first  # a new episode
    assert selector.act(obs(0.5, -1.0)) == first  # the nearest episode lost with `other`


def test_the_panel_selector_deciding_later_remembers_that_decisions_observation(demos,
                                                                               tmp_path):
    config, _ = demos
    first = envs.task_set("digits-tiny-v0").train[0]
    csv = _panel_csv(tmp_path / "panel.csv", [("train", first.name, "x", 30.0, 36.0, "")])
    out = tmp_path / "later"
    assert imitate.main(["select", "--demos", config.out, "--panel", str(csv), "--decide-at",
                         "1", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["decide_at"] == 1 and "--decide-at 1" in summary["command"]
    env = envs.make(first, observation="relative")
    (remembered,) = load_controller(out / "best", env, seed=0, training=False).memory
    observation, _ = env.reset(seed=0)
    after, *_ = env.step(envs.recipe_actions(env, envs.DEFAULT_RECIPE))
    assert remembered.observation == pytest.approx(list(next(iter(after.values()))))
    assert remembered.observation[0] > 0.0  # progress: after one segment
    with pytest.raises(ConfigError, match="--decide-at 1 needs --panel"):
        imitate.SelectConfig(demos=config.out, decide_at=1)
