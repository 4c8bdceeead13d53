"""The observation: a normalised float32 vector describing the training state.

All agents share one observation, and ``env.state()`` returns the same vector. The
features, in order, are listed in :func:`feature_names` and described in
``FEATURES``; each is scaled to roughly [-1, 1] and then clipped to it, so the space
below contains every observation. The space is built here, beside the code that
builds the vector, so the two cannot drift apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from envs.engine.recipe import CATALOGUES, COMPONENTS, Recipe

FEATURES: tuple[tuple[str, str], ...] = (
    ("progress", "fraction of the training budget spent"),
    ("val_map", "val mAP / 100"),
    ("best_val_map", "best val mAP so far / 100"),
    ("d_val_map", "val mAP change since the previous decision, in points / 10"),
    ("val_cf1", "val CF1 / 100"),
    ("val_of1", "val OF1 / 100"),
    ("tail_ap", "mean val AP (0..1) of the rarest third of classes"),
    ("train_loss", "log1p(mean train loss of the last segment) / log1p(10)"),
    ("val_loss", "log1p(val BCE loss) / log1p(10)"),
    ("d_train_loss", "relative change of the train loss since the previous segment"),
    ("d_val_loss", "relative change of the val loss since the previous decision"),
    ("grad_norm", "log10(1 + mean gradient L2 norm) / 3"),
    ("update_ratio", "log10(||dw|| / ||w|| over the segment) / 4 + 1"),
    ("lr", "-log10(current LR) / 6"),
    ("diverged", "1 if the last segment hit a non-finite loss and was rolled back"),
    ("label_cardinality", "mean positive labels per training image / number of classes"),
    ("imbalance", "log10(max / min positive count over classes) / 3"),
    ("num_classes", "log10(number of classes) / 3"),
    ("train_size", "log10(training images) / 6"),
)
"""Scalar features: (name, definition). Then come the one-hot last choices and the history."""


def feature_names(history: int) -> tuple[str, ...]:
    """Names of every observation entry, in order."""
    scalars = tuple(name for name, _ in FEATURES)
    last = tuple(f"last_{c}={n}" for c in COMPONENTS for n in CATALOGUES[c])
    past = tuple(f"val_map_t-{i + 1}" for i in range(history))
    return scalars + last + past


def observation_space(history: int) -> spaces.Box:
    """The Box every observation lies in."""
    n = len(feature_names(history))
    return spaces.Box(low=-1.0, high=1.0, shape=(n,), dtype=np.float32)


@dataclass(frozen=True)
class DataProfile:
    """Static characteristics of the training data (computed once per env)."""

    label_cardinality: float
    imbalance: float
    num_classes: int
    train_size: int
    tail_classes: np.ndarray
    """Indices of the rarest third of classes (by positive count)."""


@dataclass(frozen=True)
class TrainingStatus:
    """The training state after a decision, as the observation sees it."""

    progress: float
    val_map: float
    best_val_map: float
    prev_val_map: float
    val_cf1: float
    val_of1: float
    val_ap: np.ndarray
    train_loss: float
    prev_train_loss: float
    val_loss: float
    prev_val_loss: float
    grad_norm: float
    update_ratio: float
    lr: float
    diverged: bool
    recipe: Recipe
    map_history: tuple[float, ...]
    """Earlier val mAPs, most recent first."""


def _rel_change(now: float, before: float) -> float:
    if not (math.isfinite(now) and math.isfinite(before)) or before <= 0:
        return 0.0
    return (now - before) / before


def _log1p_scaled(x: float) -> float:
    return math.log1p(max(x, 0.0)) / math.log1p(10.0) if math.isfinite(x) else 1.0


def build_observation(status: TrainingStatus, profile: DataProfile, history: int) -> np.ndarray:
    """The observation vector for ``status`` (float32, finite, inside ``observation_space``)."""
    tail_ap = status.val_ap[profile.tail_classes]
    tail_ap = tail_ap[np.isfinite(tail_ap)]
    scalars = [
        status.progress,
        status.val_map / 100.0,
        status.best_val_map / 100.0,
        (status.val_map - status.prev_val_map) / 10.0,
        status.val_cf1 / 100.0,
        status.val_of1 / 100.0,
        float(tail_ap.mean()) if tail_ap.size else 0.0,
        _log1p_scaled(status.train_loss),
        _log1p_scaled(status.val_loss),
        _rel_change(status.train_loss, status.prev_train_loss),
        _rel_change(status.val_loss, status.prev_val_loss),
        math.log10(1.0 + status.grad_norm) / 3.0 if math.isfinite(status.grad_norm) else 1.0,
        math.log10(max(status.update_ratio, 1e-8)) / 4.0 + 1.0,
        -math.log10(max(status.lr, 1e-12)) / 6.0,
        float(status.diverged),
        profile.label_cardinality,
        profile.imbalance,
        math.log10(profile.num_classes) / 3.0,
        math.log10(max(profile.train_size, 1)) / 6.0,
    ]
    one_hot = [float(getattr(status.recipe, c) == n) for c in COMPONENTS for n in CATALOGUES[c]]
    past = list(status.map_history[:history]) + [0.0] * max(0, history - len(status.map_history))
    vector = np.asarray(scalars + one_hot + [m / 100.0 for m in past], dtype=np.float32)
    return np.clip(np.nan_to_num(vector, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
