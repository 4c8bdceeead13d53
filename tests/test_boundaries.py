"""Outside libraries' failures are caught at our boundary (issue 31).

A damaged weights file (a zoo controller's SB3 zip or manifest, the surrogate's ``.npz``, a
backbone's ``torch.save`` file) is reported as damaged, naming its path, never as
``BadZipFile``, a decode error or a shape mismatch; a bad Minari dataset id is refused before
Minari writes anything; the surrogate env names the settings it takes.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import agents
import envs
from agents import zoo
from agents.errors import ControllerCheckpointError
from envs.engine.models import build_model
from envs.errors import CheckpointError
from envs.surrogate import WEIGHTS, Ensemble
from training.core.config import env_make_kwargs
from training.core.fields import flat_settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _flipped(raw: bytes) -> bytes:
    """``raw`` with 64 bytes in its middle zeroed: a damaged copy that still opens as a zip."""
    middle = len(raw) // 2
    return raw[:middle] + bytes(64) + raw[middle + 64:]


DAMAGE = {"garbage": lambda raw: b"not an archive at all",
          "truncated": lambda raw: raw[:len(raw) // 2],
          "flipped": _flipped,
          "binary": lambda raw: b"\xff\xfe\x00\x01" * 8}


# ------------------------------------------------------------------ zoo controllers
ZOO_ENTRY = "mat-dqn-digits-v0"


@pytest.fixture(scope="module")
def zoo_env(tiny_env):
    card = zoo.read_card(ZOO_ENTRY)  # the env it was trained for, as test_zoo builds it
    settings = env_make_kwargs(card["env"], flat_settings(card["env_settings"]))
    return tiny_env(card["env"], agents=tuple(card["agents"]), **settings)


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("file", ["aug.zip", "controller.json"])
def test_a_damaged_zoo_file_is_reported_as_damaged_naming_its_path(tmp_path, zoo_env, file,
                                                                     damage):
    root = tmp_path / "zoo"
    shutil.copytree(zoo.zoo_dir(ZOO_ENTRY), root / ZOO_ENTRY)
    path = root / ZOO_ENTRY / file
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    with pytest.raises(ControllerCheckpointError, match="damaged") as caught:
        agents.load_controller(f"zoo:{ZOO_ENTRY}", zoo_env, seed=0, zoo_root=root)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("manifest", ["[]", "null", '{"algo": "mat-dqn"}'])
def test_a_manifest_of_the_wrong_form_is_damaged_not_a_key_error(tmp_path, zoo_env, manifest):
    saved = tmp_path / "saved"
    shutil.copytree(zoo.zoo_dir(ZOO_ENTRY), saved)
    (saved / "controller.json").write_text(manifest)
    with pytest.raises(ControllerCheckpointError, match=f"{saved / 'controller.json'} is damaged"):
        agents.load_controller(saved, zoo_env, seed=0)


# ------------------------------------------------------------------ the surrogate's fit
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_surrogate_weights_are_reported_as_damaged_naming_their_path(tmp_path, damage):
    path = tmp_path / "fit.npz"
    path.write_bytes(DAMAGE[damage](WEIGHTS.read_bytes()))
    with pytest.raises(envs.ConfigError, match="damaged") as caught:
        envs.make("mlic-surrogate-v0", weights=path)
    assert str(path) in str(caught.value)


def test_surrogate_arrays_that_do_not_chain_are_damaged_not_a_shape_error(tmp_path):
    fit = Ensemble.load(WEIGHTS)
    fit.x_mean = fit.x_mean[:-3]
    path = fit.save(tmp_path / "short.npz")
    with pytest.raises(envs.ConfigError, match=f"{path} are damaged.*x_std has shape"):
        envs.make("mlic-surrogate-v0", weights=path)


def test_the_surrogate_names_the_settings_it_takes():
    with pytest.raises(envs.ConfigError) as caught:
        envs.make("mlic-surrogate-v0", image_size=16)
    message = str(caught.value)
    assert "'image_size'" in message and "It takes weights, split, task" in message
    with pytest.raises(envs.ConfigError, match="did you mean 'split'"):
        envs.make("mlic-surrogate-v0", splits="train")


# ------------------------------------------------------------------ backbone weights
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_backbone_weights_are_reported_as_damaged_naming_their_path(tmp_path, damage):
    path = tmp_path / "backbone.pt"
    torch.save(build_model("small_cnn", 3).state_dict(), path)
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    with pytest.raises(CheckpointError, match="is damaged") as caught:
        build_model("small_cnn", 3, weights_path=str(path))
    assert str(path) in str(caught.value)


# ------------------------------------------------------------------ Minari ids
def test_a_bad_minari_id_is_refused_before_minari_writes_anything(tmp_path, monkeypatch,
                                                                   capsys):
    pytest.importorskip("minari")
    from benchmarks.offline import dataset

    root = tmp_path / "minari"
    with pytest.raises(SystemExit) as exit_info:
        dataset.main(["export", "--store", str(tmp_path / "none.jsonl"), "--dataset-id",
                      "not a valid id", "--root", str(root)])
    assert exit_info.value.code == 2
    assert "--dataset-id 'not a valid id' is not a Minari dataset id" in capsys.readouterr().err
    assert not root.exists() or not any(root.iterdir())
    root.mkdir(exist_ok=True)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    for bad in ("not a valid id", "mlic/no-version", "../up-v0"):
        with pytest.raises(envs.ConfigError, match="name-v<version>"):
            dataset.export([], bad, "digits-v1")
    assert not any(root.iterdir())
    assert dataset.check_dataset_id("mlic/digits-v1-mixed-v1") == "mlic/digits-v1-mixed-v1"


def test_surrogate_fit_round_trips(tmp_path):
    """The checks leave a whole fit loadable, as saved."""
    fit = Ensemble.load(WEIGHTS)
    again = Ensemble.load(fit.save(tmp_path / "copy.npz"))
    assert again.members == fit.members and np.array_equal(again.x_mean, fit.x_mean)
