"""The surrogate's data and fit: real transitions from the Minari dataset, the ensemble fitted
on the train tasks' ones, and its per-step error on the held-out tasks' ones.

``benchmarks.surrogate`` is the command line (``fit``, ``fidelity``, ``train``); this module
is what its ``fit`` and the fidelity's prediction error are made of.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

import envs
from benchmarks.offline.dataset import require_minari
from envs.errors import ConfigError, DatasetFormatError
from envs.surrogate import Ensemble
from envs.surrogate.model import DYNAMIC, model_inputs, model_targets, task_features

_VAL = DYNAMIC.index("val_map")


# ------------------------------------------------------------------ the data
@dataclass
class Transitions:
    """Flat arrays of one split's real transitions (rows aligned)."""

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray
    start_val: np.ndarray
    """The episode's val mAP at reset, per row (to turn relative shares into points)."""
    features: np.ndarray
    """The task's features (``envs.surrogate.model.task_features``), per row."""

    def inputs(self) -> np.ndarray:
        return model_inputs(self.observations, self.actions, self.features)


def load_dataset(dataset_id: str) -> tuple[Any, dict[str, Any]]:
    """The Minari dataset and its description (tasks, splits, ...)."""
    minari = require_minari()
    try:
        dataset = minari.load_dataset(dataset_id)
    except Exception as error:  # minari raises several kinds for a missing dataset
        raise ConfigError(f"cannot load Minari dataset {dataset_id!r} ({error}): make it "
                          "with python -m benchmarks.dataset collect, then export") from None
    return dataset, json.loads(dataset.storage.metadata["description"])


def dataset_tasks(info: dict[str, Any]) -> dict[str, envs.Task]:
    """The dataset's tasks by name, from its task set."""
    ts = envs.task_set(info["task_set"])
    by_name = {t.name: t for t in (*ts.train, *ts.heldout)}
    missing = sorted(set(info["tasks"]) - set(by_name))
    if missing:
        raise DatasetFormatError(f"tasks {missing} of the dataset are not in task set "
                                 f"{info['task_set']}: was it collected with another version? "
                                 "Collect and export it again with this one (python -m "
                                 "benchmarks.dataset collect, then export)")
    return by_name


def split_transitions(dataset: Any, info: dict[str, Any], split: str) -> Transitions:
    """Every transition of the dataset's ``split`` tasks."""
    tasks = dataset_tasks(info)
    obs, act, nxt, rew, start, feat = [], [], [], [], [], []
    for episode in dataset.iterate_episodes():
        task = info["tasks"][int(episode.infos["task"][0, 0])]
        if info["splits"][task] != split:
            continue
        obs.append(episode.observations[:-1])
        nxt.append(episode.observations[1:])
        act.append(episode.actions)
        rew.append(episode.rewards)
        start.append(np.full(len(episode.actions), episode.infos["val_mAP"][0, 0]))
        feat.append(np.tile(task_features(tasks[task]), (len(episode.actions), 1)))
    if not obs:
        raise DatasetFormatError(f"the dataset has no {split} transitions: collect with "
                                 "--splits train,heldout")
    return Transitions(np.concatenate(obs), np.concatenate(act), np.concatenate(nxt),
                       np.concatenate(rew), np.concatenate(start), np.concatenate(feat))


def task_table(dataset: Any, info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per task: its split, decisions, features, and every distinct recorded initial
    observation."""
    tasks = dataset_tasks(info)
    table: dict[str, dict[str, Any]] = {}
    for episode in dataset.iterate_episodes():
        task = info["tasks"][int(episode.infos["task"][0, 0])]
        entry = table.setdefault(task, {"split": info["splits"][task],
                                        "decisions": int(len(episode.actions)),
                                        "features": task_features(tasks[task]),
                                        "starts": [], "start_val": []})
        first = [round(float(x), 6) for x in episode.observations[0]]
        if first not in entry["starts"]:
            entry["starts"].append(first)
            entry["start_val"].append(float(episode.infos["val_mAP"][0, 0]))
    return table


# ------------------------------------------------------------------ fitting
@dataclass(frozen=True)
class FitConfig:
    """How the ensemble is fitted (``python -m benchmarks.surrogate fit``'s flags)."""

    members: int = 5
    """Ensemble members, each on its own bootstrap resample."""
    hidden: int = 96
    """Units in each of the two hidden layers."""
    epochs: int = 300
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def fit(data: Transitions, config: FitConfig, meta: dict[str, Any]) -> Ensemble:
    """The ensemble, each member fitted by Gaussian negative log-likelihood."""
    x = data.inputs()
    y = model_targets(data.observations, data.next_observations, data.rewards)
    x_mean, x_std = x.mean(0), x.std(0) + 1e-3
    y_mean, y_std = y.mean(0), y.std(0) + 1e-3
    xn = torch.from_numpy((x - x_mean) / x_std)
    yn = torch.from_numpy((y - y_mean) / y_std)
    generator = torch.Generator().manual_seed(config.seed)
    members = []
    for _ in range(config.members):
        torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=generator)))
        net = nn.Sequential(nn.Linear(x.shape[1], config.hidden), nn.SiLU(),
                            nn.Linear(config.hidden, config.hidden), nn.SiLU(),
                            nn.Linear(config.hidden, 2 * y.shape[1]))
        rows = torch.randint(len(xn), (len(xn),), generator=generator)  # the bootstrap
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                      weight_decay=config.weight_decay)
        for _ in range(config.epochs):
            order = rows[torch.randperm(len(rows), generator=generator)]
            for start in range(0, len(order), config.batch_size):
                batch = order[start:start + config.batch_size]
                out = net(xn[batch])
                mean, log_var = out[:, :y.shape[1]], out[:, y.shape[1]:].clamp(-10, 4)
                loss = (0.5 * (log_var + (yn[batch] - mean) ** 2 / log_var.exp())).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        members.append([(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                        for m in net if isinstance(m, nn.Linear)])
    return Ensemble(members, x_mean, x_std, y_mean, y_std, meta)


def prediction_error(model: Ensemble, data: Transitions) -> dict[str, float]:
    """Per-step mean absolute errors of the ensemble's mean on real transitions: the val-mAP
    change in points, and the reward; each beside a no-change / mean-reward baseline."""
    x = data.inputs()
    y = model_targets(data.observations, data.next_observations, data.rewards)
    mean = model.forward_all(x)[0].mean(axis=0)
    scale = np.maximum(1.0, 100.0 - data.start_val)  # a relative share -> mAP points
    val_true, val_pred = y[:, _VAL] * scale, mean[:, _VAL] * scale
    return {"transitions": float(len(y)),
            "val_mAP_change_mae": float(np.abs(val_pred - val_true).mean()),
            "val_mAP_change_mae_no_change": float(np.abs(val_true).mean()),
            "reward_mae": float(np.abs(mean[:, -1] - y[:, -1]).mean()),
            "reward_mae_mean": float(np.abs(y[:, -1] - y[:, -1].mean()).mean())}
