"""The run_marl CLI and loop: every algorithm, curiosity, ablations, resume, outputs, errors."""
from __future__ import annotations

import dataclasses
import json

import pytest

import agents
from conftest import TINY
from envs.errors import ConfigError
from training.core.config import RunConfig
from training.core.jsonl import CutLineWarning
from training.core.logs import STEPS_FILE, read_steps
from training.run.loop import run
from training.run_marl import main, parse_config

TINY_FLAGS = TINY.flags()


def _tiny(tmp_path, **overrides) -> RunConfig:
    base = parse_config(TINY_FLAGS + ["--out", str(tmp_path / "run")])
    return dataclasses.replace(base, **overrides)


CHEAP = {"rollout": ["--options", '{"candidates": 2}']}
"""Flags that keep a search method's run to a few seconds (rollout: 2 of its 18 changes)."""


def test_every_registered_algorithm_is_run_below():
    assert set(agents.ALGORITHMS) == {"mat-dqn", "ma2ml", "ma2ml-lite", "bandit", "random",
                                     "static", "rollout", "selector"}


CURIOSITIES = ("none", "icm", "rnd")


def _algorithm_curiosity_pairs() -> list:
    """Every algorithm with every curiosity; the fast suite runs each algorithm once, the
    curiosities taking turns (each met by 2 or 3 algorithms), the rest is ``slow``."""
    return [pytest.param(algo, curiosity, marks=[] if j == i % len(CURIOSITIES)
                         else [pytest.mark.slow])
            for i, algo in enumerate(agents.ALGORITHMS) for j, curiosity in enumerate(CURIOSITIES)]


@pytest.mark.parametrize("algo, curiosity", _algorithm_curiosity_pairs())
def test_every_algorithm_with_and_without_curiosity(tmp_path, algo, curiosity):
    out = tmp_path / "run"
    code = main(TINY_FLAGS + ["--algo", algo, "--curiosity", curiosity, "--out", str(out),
                              *CHEAP.get(algo, [])])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("env", "algo", "seed", "best_val_mAP", "test_mAP", "test_CF1", "test_OF1",
                "epochs", "wall_s", "agent_overhead_share"):
        assert key in summary, key
    assert summary["algo"] == algo and summary["decisions"] == TINY.max_decisions
    assert 0 <= summary["test_mAP"] <= 100 and 0 <= summary["agent_overhead_share"] < 1
    steps = read_steps(out)
    assert len(steps) == TINY.max_decisions and "test" in steps[-1]
    assert ("curiosity" in steps[0]) == (curiosity != "none")
    assert (out / "report.png").stat().st_size > 1000
    assert any((out / "tb").iterdir()) and (out / "agents" / "controller.json").is_file()
    if algo == "static":
        assert all(s["config"] == steps[0]["config"] for s in steps)


@pytest.mark.parametrize("agents", ["aug", "opt,lrs", "aug,opt,loss"])
def test_ablation_subsets(tmp_path, agents):
    out = tmp_path / "run"
    assert main(TINY_FLAGS + ["--algo", "random", "--agents", agents, "--out", str(out)]) == 0
    steps = read_steps(out)
    assert all(set(s["actions"]) == set(agents.split(",")) for s in steps)
    removed = {"aug", "opt", "lrs", "loss"} - set(agents.split(","))
    default = {"aug": "flip_crop", "opt": "adamw", "lrs": "one_cycle", "loss": "asl"}
    assert all(s["config"][a] == default[a] for s in steps for a in removed)


@pytest.mark.parametrize("algo,curiosity,reward", [("mat-dqn", "rnd", "shared"),
                                                   ("bandit", "icm", "shared"),
                                                   ("mat-dqn", "none", "individual")])
def test_resume_matches_an_uninterrupted_run(tmp_path, algo, curiosity, reward):
    straight = run(_tiny(tmp_path / "a", algo=algo, curiosity=curiosity, reward=reward,
                         episodes=2))
    assert not straight.interrupted
    calls = {"n": 0}

    def stop_after_four():
        calls["n"] += 1
        return calls["n"] >= 4

    config = _tiny(tmp_path / "b", algo=algo, curiosity=curiosity, reward=reward, episodes=2)
    first = run(config, should_stop=stop_after_four)
    assert first.interrupted and first.summary["decisions"] == 4
    resumed = run(dataclasses.replace(config, resume=True))
    assert not resumed.interrupted
    for key in ("test_mAP", "test_CF1", "best_val_mAP", "final_val_mAP", "decisions", "epochs",
                "test_per_episode"):
        assert resumed.summary[key] == straight.summary[key], key
    a, b = read_steps(tmp_path / "a" / "run"), read_steps(tmp_path / "b" / "run")
    strip = lambda s: {k: v for k, v in s.items() if k not in ("time", "agent")}  # noqa: E731
    assert [strip(s) for s in a] == [strip(s) for s in b]


def test_resume_after_the_steps_log_was_cut_mid_line(tmp_path):
    """Issue 31: the log cut behind its checkpoint (decision 2 half written) is cut back to
    its last complete line; the next decision starts a line of its own and the run ends."""
    calls = {"n": 0}

    def stop_after_two():
        calls["n"] += 1
        return calls["n"] >= 2

    config = _tiny(tmp_path, algo="static")
    assert run(config, should_stop=stop_after_two).summary["decisions"] == 2
    out = tmp_path / "run"
    before = read_steps(out)
    (out / STEPS_FILE).write_bytes((out / STEPS_FILE).read_bytes()[:-10])
    with pytest.warns(CutLineWarning) as caught:
        resumed = run(dataclasses.replace(config, resume=True))
    said = " | ".join(str(w.message) for w in caught)
    assert "line 3 was cut short" in said and "holds 1 of the 2 decisions" in said
    assert not resumed.interrupted and resumed.summary["decisions"] == TINY.max_decisions
    steps = read_steps(out)  # every line whole: the run's end read them for its report
    assert steps[0] == before[0] and [s["step"] for s in steps[1:]] == [before[1]["step"] + 1]


@pytest.mark.parametrize("algo", ["ma2ml", "ma2ml-lite", "mat-dqn"])
def test_pipeline_setting_makes_one_decision_per_episode(tmp_path, algo):
    """MA2ML's AutoML setting: each episode is one decision covering the whole budget."""
    out = tmp_path / "run"
    flags = [f for f in TINY_FLAGS if f not in ("--steps-per-decision", str(TINY.steps_per_decision))]
    assert main(flags + ["--algo", algo, "--setting", "pipeline", "--episodes", "2",
                         "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    steps = read_steps(out)
    assert summary["decisions"] == 2 and [s["episode"] for s in steps] == [0, 1]
    assert all("test" in s for s in steps)
    assert summary["epochs"] == pytest.approx(2 * TINY.max_decisions)  # the budget, in epochs


def test_individual_rewards_pay_each_agent_its_own_signal(tmp_path):
    out = tmp_path / "run"
    assert main(TINY_FLAGS + ["--reward", "individual", "--algo", "bandit", "--out", str(out)]) == 0
    steps = read_steps(out)
    assert all(set(s["rewards"]) == {"aug", "opt", "lrs", "loss"} for s in steps)
    assert any(len(set(s["rewards"].values())) > 1 for s in steps)
    assert json.loads((out / "summary.json").read_text())["reward"] == "individual"
    shared = tmp_path / "shared"
    assert main(TINY_FLAGS + ["--algo", "bandit", "--out", str(shared)]) == 0
    assert all(len(set(s["rewards"].values())) == 1 for s in read_steps(shared))


def test_reward_setting_is_checked():
    with pytest.raises(ConfigError, match="--reward 'own' is not one of"):
        parse_config(TINY_FLAGS + ["--reward", "own"])
    with pytest.raises(ConfigError, match="--setting per-step or --reward shared"):
        parse_config(["--reward", "individual", "--setting", "pipeline"])


def test_transfer_with_frozen_loaded_agents(tmp_path):
    source = tmp_path / "source"
    assert main(TINY_FLAGS + ["--algo", "mat-dqn", "--out", str(source)]) == 0
    target = tmp_path / "target"
    code = main(TINY_FLAGS + ["--env", "mlic-digits", "--load-agents", str(source / "agents"),
                              "--freeze", "--out", str(target)])
    assert code == 0
    assert all(s["agent"].get("agent/aug/loss") is None for s in read_steps(target))


def test_summary_names_the_loaded_algorithm_not_the_algo_flag(tmp_path):
    source = tmp_path / "source"
    assert main(TINY_FLAGS + ["--algo", "bandit", "--out", str(source)]) == 0
    target = tmp_path / "target"
    assert main(TINY_FLAGS + ["--load-agents", str(source / "agents"), "--freeze",
                              "--out", str(target)]) == 0
    summary = json.loads((target / "summary.json").read_text())
    assert summary["algo"] == f"bandit (loaded from {source / 'agents'})"


def test_config_file_and_flag_precedence(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("algo: bandit\nmax-decisions: 2\nagents: [aug, loss]\nseed: 4\n")
    config = parse_config(["--config", str(path), "--seed", "7"])
    assert (config.algo, config.env_overrides["max_decisions"], config.agents, config.seed) == (
        "bandit", 2, ("aug", "loss"), 7)


@pytest.mark.parametrize("args, message", [
    (["--env", "mlic-vco"], "Did you mean 'mlic-voc'"),
    (["--algo", "mat-dq"], "mat-dqn"),
    (["--env", "mlic-voc", "--data-root", "/nonexistent/voc"], "mlic-digits"),
    (["--env", "mlic-voc", "--data-root", "/nonexistent/voc"], "(run_marl: --data-root DIR)"),
    (["--env", "mlic-voc", "--data-root", "/nonexistent/voc"], "(run_marl: --download)"),
    (["--curiosity", "rdn"], "rnd"),
    (["--resume"], "no checkpoint"),
])  # counts and sizes (--image-size 0) are refused at parse time: tests/test_cli.py
def test_cli_errors_are_one_paragraph_with_the_fix(tmp_path, capsys, args, message):
    code = main(TINY_FLAGS + ["--out", str(tmp_path / "run")] + args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert err.startswith("error: ")


def test_an_outside_controller_class_runs_and_one_that_cannot_be_built_is_refused_first(
        tmp_path, capsys):
    out = tmp_path / "mine"
    assert main(TINY_FLAGS + ["--algo", "examples.protocol_controller:MyController", "--out",
                              str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["decisions"] == TINY.max_decisions
    capsys.readouterr()
    algo = "benchmarks.quality.badinputs.builders:NeedsAnArgument"  # its constructor wants 'extra'
    refused = tmp_path / "refused"
    assert main(TINY_FLAGS + ["--algo", algo, "--out", str(refused)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --algo {algo}: NeedsAnArgument(env, seed=") and "'extra'" in err
    assert "seed and config" in err and "Traceback" not in err
    assert not refused.exists()  # refused before the run made its folder


def test_config_file_with_unknown_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("algo: bandit\nmax_decision: 2\n")
    assert main(["--config", str(path)]) == 2
    assert "max_decision" in capsys.readouterr().err


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(TINY_FLAGS + ["--out", str(blocker / "run")]) == 2
    assert str(blocker / "run") in capsys.readouterr().err


def test_unknown_agent_name_in_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--agents", "aug,lr"])
    assert exit_info.value.code == 2 and "unknown agent" in capsys.readouterr().err


def test_a_checkpoint_from_before_the_episode_driver_is_refused_clearly(tmp_path, capsys):
    from training.core.checkpoint import save_atomic
    out = tmp_path / "run"
    save_atomic({"config": {}, "env": {}, "controller": {}, "progress": {"decisions": 1}},
                out / "checkpoint.pt")
    assert main(TINY_FLAGS + ["--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "older version" in err and "delete it" in err and "Traceback" not in err


# ------------------------------------------- a loaded controller's env settings
ZOO_ENTRY = "zoo:mat-dqn-rnd-digits-v0"
"""A shipped entry whose card needs --observation relative --reward-kind best_gain."""


def test_a_zoo_controller_brings_the_env_settings_its_card_names():
    config = parse_config(TINY_FLAGS + ["--load-agents", ZOO_ENTRY, "--freeze"])
    assert (config.env_overrides["observation"], config.env_overrides["reward_kind"]) == (
        "relative", "best_gain")
    agreeing = parse_config(TINY_FLAGS + ["--load-agents", ZOO_ENTRY, "--freeze",
                                          "--observation", "relative"])
    assert agreeing.env_overrides == config.env_overrides


def test_a_flag_that_contradicts_the_loaded_controller_is_refused_by_name(tmp_path, capsys):
    code = main(TINY_FLAGS + ["--load-agents", ZOO_ENTRY, "--freeze", "--observation",
                              "standard", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert (f"--observation standard contradicts --load-agents {ZOO_ENTRY}, which was trained "
            "with --observation relative") in err
    assert "drop --observation" in err and "observation=" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_run_marl_runs_agents_bring_that_runs_settings(tmp_path, capsys):
    source = tmp_path / "source"
    assert main(TINY_FLAGS + ["--algo", "bandit", "--observation", "relative",
                              "--out", str(source)]) == 0
    target = tmp_path / "target"
    assert main(TINY_FLAGS + ["--load-agents", str(source / "agents"), "--freeze",
                              "--out", str(target)]) == 0
    assert json.loads((target / "config.json").read_text())["env_overrides"]["observation"] == \
        "relative"
    assert "env settings of --load-agents" in capsys.readouterr().out
    assert main(TINY_FLAGS + ["--load-agents", str(source / "agents"), "--freeze",
                              "--observation", "standard", "--out", str(tmp_path / "x")]) == 2
    assert "trained with --observation relative" in capsys.readouterr().err


def test_the_loaders_env_check_names_flags_in_the_cli(tmp_path, capsys, monkeypatch):
    """Were the card's settings not applied, the loader's check would fire: the CLI words
    its fixes as flags, where the library names ``envs.make`` keywords."""
    import training.core.config
    monkeypatch.setattr(training.core.config, "controller_env_settings", lambda source: {})
    code = main(TINY_FLAGS + ["--load-agents", ZOO_ENTRY, "--freeze", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {ZOO_ENTRY} does not fit this env")
    assert ("it was trained with --observation relative and this env has --observation "
            "standard (pass --observation relative)") in err
    assert "(pass --reward-kind best_gain)" in err and "=" not in err


# ------------------------------------------------------------ controller options
def test_static_plays_the_recipe_its_options_name(tmp_path):
    out = tmp_path / "run"
    options = '{"choices": {"opt": "sgd", "lrs": "cosine", "loss": 0}}'
    assert main(TINY_FLAGS + ["--algo", "static", "--options", options, "--out", str(out)]) == 0
    played = {tuple(s["config"].values()) for s in read_steps(out)}
    assert played == {("flip_crop", "sgd", "cosine", "bce")}  # aug: the default recipe's
    assert json.loads((out / "config.json").read_text())["options"] == json.loads(options)


def test_options_from_the_config_file_reach_the_controller(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("algo: bandit\noptions:\n  epsilon: 0.0\n  alpha: 0.5\n")
    out = tmp_path / "run"
    assert main(["--config", str(path), "--out", str(out)] + TINY_FLAGS) == 0
    saved = json.loads((out / "agents" / "controller.json").read_text())["config"]
    assert (saved["epsilon"], saved["alpha"]) == (0.0, 0.5)


@pytest.mark.parametrize("algo, options, message", [
    ("static", '{"epsilon": 0.1}', "--options: unknown hyperparameters for StaticConfig: "
                                   "{'epsilon': []} (name: close matches); valid names: choices"),
    ("bandit", '{"epsilom": 0.1}', "'epsilom': ['epsilon']"),
    ("mat-dqn", '{"gama": 0.9}', "valid names: learning_rate,"),
    ("static", '{"choices": {"opt": "sgdd"}}', "--options: choices['opt']='sgdd' is not an "
                                               "action of 'opt': did you mean 'sgd'?"),
    ("ma2ml", '{"setting": "pipeline"}', "pass --setting pipeline instead"),
])
def test_bad_options_are_refused_naming_the_valid_keys(tmp_path, capsys, algo, options, message):
    code = main(TINY_FLAGS + ["--algo", algo, "--options", options, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("options, message", [("[1]", "is a JSON list"),
                                              ("{epsilon: 1}", "is not valid JSON")])
def test_options_that_are_not_a_json_object_are_refused_by_argparse(capsys, options, message):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(["--options", options])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "argument --options" in err and message in err


def test_options_in_a_config_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("options: [epsilon, 0.1]\n")
    with pytest.raises(ConfigError, match="--options must be a JSON object of hyperparameters"):
        parse_config(["--config", str(path)])


def test_no_progress_help_reads_as_a_sentence(capsys):
    from training import meta_train
    for parse in (parse_config, meta_train.parse_args):
        with pytest.raises(SystemExit):
            parse(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--no-progress Do not show a progress bar" in text and "Turn off" not in text
