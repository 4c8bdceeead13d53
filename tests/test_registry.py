"""The registries: a dataset loader of the test's own, an env id on it, and what errors name."""
from __future__ import annotations

import dataclasses

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import torch
from pettingzoo.test import parallel_api_test

import envs

DATASET = "tiny_random"
ENV_ID = "tiny-random-v0"
CLASSES = ("red", "green", "blue")


@dataclass
class RandomLoader:
    """Random uint8 images with multi-hot labels, remembering what it made and was asked."""

    sizes: tuple[int, int, int] = (24, 8, 8)
    made: envs.DatasetSplits | None = None
    requests: list[envs.DataRequest] | None = None

    def __call__(self, request: envs.DataRequest) -> envs.DatasetSplits:
        self.requests = [*(self.requests or []), request]
        gen = torch.Generator().manual_seed(0)
        parts = {}
        for split, n in zip(("train", "val", "test"), self.sizes):
            s = request.image_size
            images = torch.randint(0, 256, (n, 3, s, s), generator=gen, dtype=torch.uint8)
            labels = (torch.rand(n, len(CLASSES), generator=gen) < 0.4).to(torch.uint8)
            labels[torch.arange(n), torch.arange(n) % len(CLASSES)] = 1  # >= 1 label per image
            parts[split] = envs.MLICDataset(images=images, labels=labels,
                                            ignore=torch.zeros(labels.shape, dtype=torch.bool),
                                            class_names=CLASSES, name=request.name, split=split)
        self.made = envs.DatasetSplits(**parts)
        return self.made


@pytest.fixture()
def loader() -> Iterator[RandomLoader]:
    """``RandomLoader`` registered as ``DATASET`` and ``ENV_ID``, both removed afterwards."""
    made = RandomLoader()
    envs.register_dataset(DATASET, made)
    envs.register(envs.EnvSpec(ENV_ID, envs.EnvConfig(dataset=DATASET, image_size=12,
                                                      batch_size=8, max_decisions=3,
                                                      steps_per_decision=1),
                               "random pixels, for the registry test"))
    try:
        yield made
    finally:
        envs.unregister(ENV_ID)
        envs.unregister_dataset(DATASET)


def test_registered_loader_builds_a_conforming_env(loader: RandomLoader) -> None:
    env = envs.make(ENV_ID)
    assert loader.made is not None and env.data.train is loader.made.train  # the test's data
    assert torch.equal(env.data.val.images, loader.made.val.images)
    assert env.data.train.class_names == CLASSES and env.data.train.image_size == 12
    (request,) = loader.requests or []
    assert request.name == DATASET and request.image_size == 12 and request.download is False
    parallel_api_test(env, num_cycles=5)


def test_overrides_reach_the_loader_and_max_train_images_applies(loader: RandomLoader) -> None:
    env = envs.make(ENV_ID, image_size=16, max_train_images=10)
    assert env.data.train.image_size == 16 and len(env.data.train) == 10
    assert len(env.data.val) == 8


def test_load_dataset_serves_a_registered_loaders_splits(loader: RandomLoader) -> None:
    val = envs.load_dataset(DATASET, "val", image_size=20)
    assert loader.made is not None and val is loader.made.val
    with pytest.raises(envs.ConfigError, match="has no split 'trainval'; its splits are train"):
        envs.load_dataset(DATASET, "trainval")
    with pytest.raises(envs.ConfigError,
                       match=r"download=True \(run_marl: --download\) is not supported for tiny_random"):
        envs.load_splits(DATASET, download=True)


def test_a_loader_returning_the_wrong_thing_is_named(loader: RandomLoader) -> None:
    envs.register_dataset("wrong_size", lambda request: loader(
        replace(request, image_size=request.image_size + 1)))
    envs.register_dataset("not_splits", lambda request: loader(request).train)
    try:
        with pytest.raises(envs.DatasetFormatError, match="'wrong_size' returned 17 px.*16"):
            envs.load_splits("wrong_size", image_size=16)
        with pytest.raises(envs.DatasetFormatError, match="'not_splits' returned MLICDataset"):
            envs.load_splits("not_splits")
    finally:
        envs.unregister_dataset("wrong_size")
        envs.unregister_dataset("not_splits")


def test_dataset_names_are_checked_and_unknown_ones_list_the_registered(loader) -> None:
    assert DATASET in envs.dataset_names()
    with pytest.raises(envs.ConfigError, match="already registered"):
        envs.register_dataset(DATASET, loader)
    with pytest.raises(envs.ConfigError, match="invalid"):
        envs.register_dataset("My-Data", loader)
    with pytest.raises(envs.UnknownEnvError, match=f"coco, csv, digits, mnist, shapes, {DATASET}, voc"):
        envs.load_splits("imagenet")


def test_unregistering_leaves_no_trace() -> None:
    # Runs after the fixture's tests: nothing they registered is left behind.
    assert DATASET not in envs.dataset_names() and ENV_ID not in envs.list_envs()
    with pytest.raises(envs.UnknownEnvError, match="register_dataset"):
        envs.load_splits(DATASET)


# ---------------------------------------------------------------- versioned env ids

def test_builtin_ids_are_versioned_and_names_alias_the_latest() -> None:
    names = ("mlic-coco", "mlic-csv", "mlic-digits", "mlic-mnist", "mlic-shapes", "mlic-voc")
    assert envs.list_envs() == [f"{n}-v{v}" for n in names for v in (0, 1, 2)]
    for name in names:
        assert envs.spec(name) is envs.spec(f"{name}-v2")
        assert envs.spec(name).name == name and envs.spec(name).version == 2
        # v1 differs from v0 in its catalogue alone, v2 from v1 in its context features alone
        old, new, context = (envs.make_config(f"{name}-v{v}") for v in (0, 1, 2))
        assert (old.catalogue, new.catalogue) == ("classic", "tuning-free")
        assert dataclasses.replace(old, catalogue="tuning-free") == new
        assert dataclasses.replace(new, context_features=True) == context
    assert envs.make_config("mlic-digits") == envs.make_config("mlic-digits-v2")


def test_an_alias_follows_a_newer_version_and_the_old_one_stays() -> None:
    newer = envs.EnvSpec("mlic-digits-v3", envs.EnvConfig(dataset="digits", max_decisions=7), "")
    envs.register(newer)
    try:
        assert envs.spec("mlic-digits") is newer
        assert envs.spec("mlic-digits-v2").config.max_decisions == 25
        with pytest.raises(envs.ConfigError, match="alias of 'mlic-digits-v3'.*mlic-digits-v4"):
            envs.register(envs.EnvSpec("mlic-digits", envs.EnvConfig(), ""))
    finally:
        envs.unregister("mlic-digits-v3")
    assert envs.spec("mlic-digits").id == "mlic-digits-v2"


def test_an_unknown_version_names_the_versions_there_are() -> None:
    with pytest.raises(envs.UnknownEnvError) as info:
        envs.make("mlic-digits-v7")
    message = str(info.value)
    assert "no version 7" in message and "'mlic-digits-v0'" in message
    with pytest.raises(envs.UnknownEnvError, match="Did you mean 'mlic-voc-v0'"):
        envs.spec("mlic-vco-v0")
    with pytest.raises(envs.ConfigError, match="malformed"):
        envs.register(envs.EnvSpec("bad id", envs.EnvConfig(), ""))


def test_the_env_keeps_the_id_it_was_made_with(tiny_env) -> None:
    assert tiny_env("mlic-digits", max_decisions=1).env_id == "mlic-digits"
    assert tiny_env("mlic-digits-v0", max_decisions=1).env_id == "mlic-digits-v0"
