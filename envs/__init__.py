"""MLIC training environments: multi-label image classification as a PettingZoo env.

Public API::

    import envs
    envs.list_envs()                      # versioned ids: mlic-digits-v0, ...
    env = envs.make("mlic-digits", max_decisions=3)      # latest version; PettingZoo ParallelEnv
    joint = envs.make_joint("mlic-digits", flatten=True)  # Gymnasium env, one agent
    fast = envs.make("mlic-surrogate-v0")  # same spaces, dynamics fitted on real transitions
    ds = envs.load_dataset("voc", split="trainval", data_root=..., image_size=64)
    envs.register_dataset("mine", loader)  # your data: loader(request) -> DatasetSplits
    envs.register(envs.EnvSpec("mine-v0", envs.EnvConfig(dataset="mine"), "my data"))
    envs.multilabel_metrics(logits, targets, ignore=None)

This package never imports ``agents`` or ``training``.
"""
from __future__ import annotations

from typing import Any

from envs.actions import recipe_actions
from envs.config import EnvConfig
from envs.engine.data import (DataRequest, DatasetLoader, DatasetSplits, MLICDataset,
                              dataset_names, load_dataset, load_splits, register_dataset,
                              unregister_dataset)
from envs.engine.drift import Drift
from envs.engine.metrics import multilabel_metrics
from envs.engine.recipe import (CATALOGUE_NAMES, CATALOGUES, COMPONENTS, DEFAULT_RECIPE,
                                LATEST_CATALOGUE, LEGACY_CATALOGUE, Recipe, catalogue,
                                catalogue_of_sizes)
from envs.engine.trainer import TrainerConfig
from envs.env import MLICTrainingEnv
from envs.errors import (CheckpointError, ConfigError, CorruptImageError, DatasetFormatError,
                         DatasetNotFoundError, DependencyNotInstalledError, InvalidActionError,
                         MLICError, ResetNeededError, UnknownEnvError)
from envs.joint import JointActionEnv
from envs.task_sets import (HeldOutTaskError, TaskSampler, TaskSet, list_task_sets,
                            register_task_set, task_set)
from envs.tasks import Task
from envs.registry import EnvSpec, list_envs, make, make_config, register, spec, unregister
from envs.reward import RewardConfig
from envs.surrogate import SurrogateEnv
from envs.spaces import ControlSpaces


def make_joint(env_id: str, flatten: bool = False, **overrides: Any) -> JointActionEnv:
    """A single-agent Gymnasium view of ``make(env_id, **overrides)``.

    ``flatten=False`` gives a ``MultiDiscrete`` action (one entry per agent);
    ``flatten=True`` a single ``Discrete`` index over every joint choice.
    """
    return JointActionEnv(make(env_id, **overrides), flatten=flatten)


__all__ = [
    "CATALOGUE_NAMES", "CATALOGUES", "COMPONENTS", "LATEST_CATALOGUE", "LEGACY_CATALOGUE", "catalogue", "catalogue_of_sizes", "DEFAULT_RECIPE", "CheckpointError", "ConfigError", "ControlSpaces",
    "CorruptImageError", "DataRequest", "DatasetFormatError", "DatasetLoader",
    "DatasetNotFoundError", "DatasetSplits", "DependencyNotInstalledError", "Drift", "EnvConfig", "EnvSpec",
    "InvalidActionError", "JointActionEnv", "MLICDataset", "MLICError", "MLICTrainingEnv",
    "Recipe", "Task", "TaskSampler", "TaskSet", "HeldOutTaskError", "list_task_sets",
    "register_task_set", "task_set",
    "ResetNeededError", "RewardConfig", "SurrogateEnv", "TrainerConfig", "UnknownEnvError", "dataset_names",
    "list_envs", "load_dataset", "load_splits", "make", "make_config", "make_joint",
    "multilabel_metrics", "recipe_actions", "register", "register_dataset", "spec", "unregister",
    "unregister_dataset",
]
