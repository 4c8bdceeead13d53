"""``--backbone``, ``--weights`` and ``--device`` of ``training.run_marl`` (and the help of the
command): they reach the env's ``TrainerConfig``, and a weights file that is missing, damaged
or made for another backbone is refused with one ``error:`` line before anything is written."""
from __future__ import annotations

import argparse
import json
import os

import pytest
import torch

import envs
from conftest import TINY
from envs.engine.models import GNResNet, build_model
from envs.errors import ConfigError
from training.core.saved_settings import CONTROLLER_ENV_SETTINGS
from training.core.config import (ENV_FLAGS, check_backbone,
                                  checked_env_overrides)
from training.core.fields import flag
from training.run_marl import ENV_FLAG_GROUPS, RUN_FLAG_GROUPS, build_parser, main, parse_config

TINY_FLAGS = TINY.flags()


def _weights(path, backbone="gn_resnet"):
    torch.save(build_model(backbone, 5).state_dict(), path)
    return path


def _trainer_config(argv):
    config = parse_config(argv)
    return envs.make_config(config.env, **config.make_overrides()).trainer_config()


def test_backbone_and_weights_reach_the_trainer_config(tmp_path):
    path = _weights(tmp_path / "gn.pt")
    trainer = _trainer_config(TINY_FLAGS + ["--backbone", "gn_resnet", "--weights", str(path),
                                            "--device", "cpu"])
    assert (trainer.backbone, trainer.weights_path, trainer.device) == (
        "gn_resnet", str(path), "cpu")
    assert _trainer_config([]).backbone == "small_cnn"  # mlic-digits' own


def test_the_yaml_keys_are_the_field_names_and_a_home_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _weights(tmp_path / "gn.pt")
    (tmp_path / "run.yaml").write_text("backbone: gn_resnet\nweights_path: ~/gn.pt\n")
    config = parse_config(["--config", str(tmp_path / "run.yaml")])
    assert config.env_overrides == {"backbone": "gn_resnet",
                                    "weights_path": str(tmp_path / "gn.pt")}


def test_weights_path_is_named_weights_on_the_command_line():
    assert flag("weights_path") == "--weights" and "weights_path" in ENV_FLAGS
    assert "backbone" not in CONTROLLER_ENV_SETTINGS  # a controller does not depend on it
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--weights-path", "x.pt"])
    with pytest.raises(ConfigError, match="^--weights: weights_path must be a path"):
        checked_env_overrides("mlic-digits", {"weights_path": 3})


def test_a_tiny_run_trains_the_backbone_from_the_weights_and_resume_refuses_another(
        tmp_path, capsys):
    path = _weights(tmp_path / "gn.pt")
    out = tmp_path / "run"
    flags = TINY_FLAGS + ["--max-decisions", "1", "--out", str(out), "--algo", "random"]
    assert main(flags + ["--backbone", "gn_resnet", "--weights", str(path)]) == 0
    saved = json.loads((out / "config.json").read_text())["env_overrides"]
    assert (saved["backbone"], saved["weights_path"]) == ("gn_resnet", str(path))
    capsys.readouterr()
    assert main(flags + ["--backbone", "small_cnn", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume with settings that differ") and "gn_resnet" in err


@pytest.mark.parametrize("content, message", [
    (None, "error: --weights {path} does not exist: pass a backbone state_dict"),
    (bytes(range(7)) * 3, "error: --weights for --backbone gn_resnet: weights file '{path}' "
                          "is damaged"),
    ("resnet", "error: --weights for --backbone gn_resnet: weights file '{path}' does not "
               "match this backbone"),
])
def test_a_bad_weights_file_is_one_error_line_before_any_output(tmp_path, capsys, content,
                                                                 message):
    path = tmp_path / "weights.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        _weights(path, content)
    out = tmp_path / "run"
    code = main(TINY_FLAGS + ["--out", str(out), "--backbone", "gn_resnet", "--weights",
                              str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith(message.format(path=path))
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert not out.exists()  # refused before the run made its folder


def test_python_m_refuses_a_missing_weights_file_with_exit_2(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "training.run_marl", "--weights",
                             str(tmp_path / "missing.pt"), "--out", str(out)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: --weights {tmp_path / 'missing.pt'} does not exist: pass a backbone state_dict "
        "saved with torch.save (e.g. resnet101.pth for --backbone timm:resnet101), or leave "
        "--weights out to train the backbone from scratch"]
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--backbone", "no_such_net"], "error: --backbone no_such_net: unknown backbone"),
    (["--device", "cuda:7"], "error: device 'cuda:7'"),
])
def test_a_bad_backbone_or_device_is_refused_before_any_output(tmp_path, capsys, args, message):
    if args[0] == "--device" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    out = tmp_path / "run"
    assert main(TINY_FLAGS + ["--out", str(out)] + args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.out == "" and not out.exists()


def test_check_backbone_leaves_the_global_rng_alone(tmp_path):
    config = envs.make_config("mlic-digits", backbone="gn_resnet",
                              weights_path=str(_weights(tmp_path / "gn.pt")))
    torch.manual_seed(0)
    state = torch.get_rng_state()
    check_backbone(config)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_weights_are_loaded_into_the_trained_model(tmp_path):
    """What the flags set is what ``envs.engine.models`` loads: the backbone's entries."""
    saved = build_model("gn_resnet", 5)
    torch.save(saved.state_dict(), tmp_path / "gn.pt")
    model = build_model("gn_resnet", 3, weights_path=str(tmp_path / "gn.pt"))
    assert isinstance(model, GNResNet)
    loaded, mine = model.state_dict(), saved.state_dict()
    assert all(torch.equal(loaded[k], mine[k]) for k in mine if not k.startswith("head."))


# ------------------------------------------------------------------ help
def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help()


@pytest.mark.parametrize("module", ["training.run_marl", "benchmarks.ablations"])
def test_help_is_plain_grouped_and_gives_defaults_and_an_example(module, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one line per flag's help
    if module == "training.run_marl":
        parser = build_parser()
    else:
        from benchmarks.paper.ablations import build_parser as ablations_parser
        parser = ablations_parser()
    text = _help(parser)
    for markup in ("``", ":func:", ":class:", ":data:", ":mod:", ":meth:"):
        assert markup not in text, markup
    titles = [g.title for g in parser._action_groups if g._group_actions]
    assert len(titles) >= 4 and "output" in titles and any("env overrides" in t for t in titles)
    for action in parser._actions:
        assert action.help, action.option_strings  # every flag says what it does
    assert "\nexample:\n" in text and "--backbone timm:resnet101" in text
    for needed in ("--backbone NAME", "--weights PATH", "--device DEVICE", "--data-root DIR",
                   "(default: the env's; mlic-digits: small_cnn)"):
        assert needed in text
    assert "(default: 0.05)" in text if module == "training.run_marl" else "(default: 3)" in text


def test_every_flag_of_run_marl_is_in_a_named_group():
    env_grouped = [n for names in ENV_FLAG_GROUPS.values() for n in names]
    assert sorted(env_grouped) == sorted(ENV_FLAGS)
    run_grouped = [n for names in RUN_FLAG_GROUPS.values() for n in names]
    assert len(run_grouped) == len(set(run_grouped))
    text = _help(build_parser())
    assert "\nenv overrides:\n" not in text  # the group of flags left out of ENV_FLAG_GROUPS
