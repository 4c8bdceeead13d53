"""The surrogate's dynamics: an ensemble of small MLPs, run in NumPy, saved as one ``.npz``.

Each member maps (observation, one-hot joint action, the task's features) to a Gaussian over
the next step's *dynamic* features (what training changes: val mAP and F1s, tail AP, losses
and their changes, gradient norm, update size, LR, divergence; as changes from the current
observation) and the reward. The rest of the next observation follows exactly from the
current one and the action: progress advances by one decision, the "last choice" one-hots
are the action, the val-mAP history shifts by one, and the data characteristics stay.

Sampling, not averaging: each step draws one member (the spread between members is the
model's uncertainty about what it has not seen), then a draw from that member's Gaussian
(the noise of training itself); ``sample`` also returns the members' disagreement.

Inference is NumPy (one batched product per layer for all members): deterministic given the
generator, and about a tenth of a millisecond a step.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.engine.models import BACKBONES
from envs.engine.recipe import CLASSIC, COMPONENTS, catalogue
from envs.engine.weights import archive_problem
from envs.errors import ConfigError
from envs.observation import FEATURES
from envs.tasks import SOURCES, Task

SCALARS = tuple(name for name, _ in FEATURES)
DYNAMIC = ("val_map", "best_val_map", "d_val_map", "val_cf1", "val_of1", "tail_ap",
           "train_loss", "val_loss", "d_train_loss", "d_val_loss", "grad_norm", "update_ratio",
           "lr", "diverged")
"""The scalar features the model predicts; the others follow from the action and the task."""
DYNAMIC_INDEX = np.array([SCALARS.index(n) for n in DYNAMIC])
CATALOGUE = CLASSIC
"""The catalogue the surrogate's data and model use: its fit (the Minari dataset
``mlic/digits-v1-mixed-v0``, recorded on ``digits-v1``) knows no other choices."""
ACTION_SIZES = tuple(len(catalogue(CATALOGUE)[c]) for c in COMPONENTS)
ONE_HOT_START = len(SCALARS)
"""Where the "last choice" one-hots start in the observation."""


_OFFSETS = np.cumsum((0,) + ACTION_SIZES[:-1])


def action_one_hot(actions: np.ndarray) -> np.ndarray:
    """``[N, 4]`` catalogue indices (agents in ``COMPONENTS`` order) -> ``[N, 22]`` one-hots."""
    actions = np.asarray(actions, dtype=np.int64).reshape(-1, len(ACTION_SIZES))
    out = np.zeros((len(actions), sum(ACTION_SIZES)), dtype=np.float32)
    np.put_along_axis(out, actions + _OFFSETS, 1.0, axis=1)
    return out


def task_features(task: Task) -> list[float]:
    """What the surrogate knows of a task beyond the observation: its source and backbone
    (one-hot), and its size, budget, label noise and class imbalance, scaled to about [0, 1].
    The observation cannot say these at the reset, and the recipe that wins depends on them."""
    g = task.generator
    backbone = task.backbone or "small_cnn"
    return ([float(task.source == s) for s in SOURCES] + [float(backbone == b) for b in BACKBONES]
            + [math.log10(g.n_train) / 4, math.log10(task.decisions * task.epochs_per_decision) / 2,
               g.label_noise, g.zipf_exponent / 3, g.n_classes / 20, g.image_size / 64,
               float(task.drift is not None)])


def model_inputs(observations: np.ndarray, actions: np.ndarray,
                 features: np.ndarray) -> np.ndarray:
    """The model's input rows: observation, the joint action's one-hots, the task's features
    (one row per transition, or one row for all)."""
    one_hot = action_one_hot(actions)
    n = len(one_hot)
    features = np.asarray(features, dtype=np.float32)
    features = np.broadcast_to(features.reshape(-1, features.shape[-1]), (n, features.shape[-1]))
    return np.concatenate([np.asarray(observations, dtype=np.float32).reshape(n, -1), one_hot,
                           features], axis=1)


def model_targets(observations: np.ndarray, next_observations: np.ndarray,
                  rewards: np.ndarray) -> np.ndarray:
    """The model's target rows: the dynamic features' changes, then the reward."""
    obs, nxt = np.asarray(observations), np.asarray(next_observations)
    delta = nxt[:, DYNAMIC_INDEX] - obs[:, DYNAMIC_INDEX]
    return np.concatenate([delta, np.asarray(rewards).reshape(-1, 1)], axis=1).astype(np.float32)


def next_observation(observation: np.ndarray, actions: np.ndarray, prediction: np.ndarray,
                     progress_step: float, history: int,
                     one_hot: np.ndarray | None = None) -> np.ndarray:
    """The next observation from the current one, the joint action (and its one-hot, if the
    caller has it) and a sampled prediction (the dynamic features' changes): the exact parts
    set exactly, all clipped to [-1, 1]."""
    out = np.array(observation, dtype=np.float32, copy=True)
    out[DYNAMIC_INDEX] = observation[DYNAMIC_INDEX] + prediction[:len(DYNAMIC)]
    progress = SCALARS.index("progress")
    out[progress] = min(1.0, observation[progress] + progress_step)
    out[SCALARS.index("diverged")] = float(out[SCALARS.index("diverged")] > 0.5)
    one_hot_end = ONE_HOT_START + sum(ACTION_SIZES)
    out[ONE_HOT_START:one_hot_end] = action_one_hot(actions)[0] if one_hot is None else one_hot
    if history:  # the val-mAP history: "i decisions ago" moves one further back
        past = observation[one_hot_end:one_hot_end + history]
        out[one_hot_end:one_hot_end + history] = np.concatenate(
            [[observation[SCALARS.index("val_map")]], past[:-1]])
    best = SCALARS.index("best_val_map")
    out[best] = max(out[best], out[SCALARS.index("val_map")], observation[best])
    return np.clip(out, -1.0, 1.0)


@dataclass
class Ensemble:
    """Members' weights (lists of ``(W, b)`` per layer, SiLU between) and normalisers."""

    layers: list[list[tuple[np.ndarray, np.ndarray]]]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    meta: dict[str, Any]
    """What it was fitted on, the task table (``tasks``: name -> decisions, split, starts),
    and its measured errors (the card)."""
    _stacked: list[tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    @property
    def members(self) -> int:
        return len(self.layers)

    def forward(self, member: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, log-variance) of one member, in target units, for input rows ``x``."""
        mean, log_var = self.forward_all(x)
        return mean[member], log_var[member]

    def forward_all(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, log-variance) of every member at once, ``[members, rows, outputs]`` each."""
        if self._stacked is None:  # [members, in, out] weights: one batched product per layer
            self._stacked = [(np.stack([m[i][0] for m in self.layers]),
                              np.stack([m[i][1] for m in self.layers])[:, None, :])
                             for i in range(len(self.layers[0]))]
        h = np.broadcast_to((np.asarray(x, dtype=np.float32) - self.x_mean) / self.x_std,
                            (self.members, *np.shape(x)))
        for w, b in self._stacked[:-1]:
            h = h @ w + b
            h = 0.5 * h * (1.0 + np.tanh(0.5 * h))  # SiLU, h * sigmoid(h), with no overflow
        w, b = self._stacked[-1]
        out = h @ w + b
        n = out.shape[-1] // 2
        mean = out[..., :n] * self.y_std + self.y_mean
        log_var = np.clip(out[..., n:], -10.0, 4.0) + 2.0 * np.log(self.y_std)
        return mean, log_var

    def sample(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One draw for one input row (a random member, then its Gaussian), and the members'
        disagreement per output (the std of their means)."""
        mean, log_var = self.forward_all(x)
        member = int(rng.integers(self.members))
        draw = mean[member, 0] + np.exp(0.5 * log_var[member, 0]) * rng.standard_normal(
            mean.shape[-1])
        return draw, mean[:, 0].std(axis=0)

    # ------------------------------------------------------------ files
    def save(self, path: Path) -> Path:
        """One ``.npz`` (weights as float32, ``meta`` as JSON) at ``path``."""
        arrays: dict[str, np.ndarray] = {"x_mean": self.x_mean, "x_std": self.x_std,
                                         "y_mean": self.y_mean, "y_std": self.y_std}
        for m, layers in enumerate(self.layers):
            for i, (w, b) in enumerate(layers):
                arrays[f"m{m}_w{i}"], arrays[f"m{m}_b{i}"] = w, b
        arrays["meta"] = np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            np.savez_compressed(file, **{k: np.asarray(v) for k, v in arrays.items()})
        return path

    @classmethod
    def load(cls, path: Path) -> Ensemble:
        """The ensemble saved at ``path``; a ``ConfigError`` naming ``path`` if it is missing,
        or damaged (not a whole ``.npz``, or arrays that do not form an ensemble)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"surrogate weights {path} are missing: fit them with "
                              "python -m benchmarks.surrogate fit")
        problem = archive_problem(path)  # numpy.load reports a bad checksum as BadZipFile
        if problem is not None:
            raise _damaged(path, problem)
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except (OSError, ValueError, KeyError, EOFError) as error:  # ValueError: JSON, UTF-8
            raise _damaged(path, f"{type(error).__name__}: {error}") from None
        try:
            layers = _layers(arrays)
            ensemble = cls(layers, arrays["x_mean"], arrays["x_std"], arrays["y_mean"],
                           arrays["y_std"], meta)
        except KeyError as error:
            raise _damaged(path, f"array {error} missing") from None
        problem = ensemble.problem()
        if problem is not None:
            raise _damaged(path, problem)
        return ensemble

    def problem(self) -> str | None:
        """What keeps these arrays from being an ensemble (not float arrays, shapes that do not
        chain, non-finite entries, a zero scale, no task table), or None."""
        stats = {"x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean,
                 "y_std": self.y_std}
        arrays = list(stats.values()) + [a for member in self.layers for pair in member
                                         for a in pair]
        if not all(isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)
                   for a in arrays):
            return "arrays that are not floating-point"
        sizes = {"x": self.x_mean.size, "y": self.y_mean.size}
        for name, array in stats.items():
            if array.shape != (sizes[name[0]],):
                return f"{name} has shape {array.shape}"
        for m, member in enumerate(self.layers):
            rows = len(self.x_mean)
            for i, (w, b) in enumerate(member):
                if w.ndim != 2 or w.shape[0] != rows or b.shape != (w.shape[1],):
                    return (f"layer {i} of member {m} has weights {w.shape} and bias {b.shape} "
                            f"after {rows} inputs")
                rows = w.shape[1]
            if rows != 2 * len(self.y_mean):
                return f"member {m} has {rows} outputs for {len(self.y_mean)} targets"
        if not all(np.isfinite(a).all() for a in arrays):
            return "non-finite entries"
        if not (self.x_std > 0).all() or not (self.y_std > 0).all():
            return "a scale (x_std or y_std) that is not positive"
        if not isinstance(self.meta, dict) or not isinstance(self.meta.get("tasks"), dict) \
                or not isinstance(self.meta.get("history"), int):
            return "its meta lacks the task table ('tasks') or 'history'"
        return None


def _layers(arrays: dict[str, np.ndarray]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Each member's ``(W, b)`` per layer, from the arrays ``m<member>_w<layer>`` and
    ``m<member>_b<layer>``; a ``KeyError`` names one that is missing."""
    found = [re.fullmatch(r"m(\d+)_[wb](\d+)", k) for k in arrays]
    indices = [(int(f.group(1)), int(f.group(2))) for f in found if f]
    if not indices:
        raise KeyError("m0_w0")
    members = 1 + max(m for m, _ in indices)
    depth = 1 + max(i for _, i in indices)
    return [[(arrays[f"m{m}_w{i}"], arrays[f"m{m}_b{i}"]) for i in range(depth)]
            for m in range(members)]


def _damaged(path: Path, detail: str) -> ConfigError:
    return ConfigError(f"surrogate weights {path} are damaged, unreadable ({detail}): copy "
                       "them again (the bundled fit: reinstall the package), or fit them "
                       "again with python -m benchmarks.surrogate fit")


__all__ = ["ACTION_SIZES", "DYNAMIC", "Ensemble", "action_one_hot", "model_inputs",
           "model_targets", "next_observation", "task_features"]
