"""The observation: a normalised float32 vector describing the training state.

All agents share one observation, and ``env.state()`` returns the same vector. The
features, in order, are listed in :func:`feature_names` and described in
``FEATURES``; each is scaled to roughly [-1, 1] and then clipped to it, so the space
below contains every observation. The space is built here, beside the code that
builds the vector, so the two cannot drift apart. So are the status transitions
(``initial_status``, ``next_status``) and the data profile, which the env and the user-loop
API (``training.user_loop.dynamic``) share.

Three modes (``EnvConfig.observation``, one of ``OBSERVATION_MODES``) give vectors of the
same length, order and space:

* ``standard`` (the default): the definitions in ``FEATURES``. Some are *levels* (val mAP
  / 100, log train loss, ...) whose meaning depends on the task: 30 mAP is good on one
  task and poor on another.
* ``relative``: for controllers trained across many tasks and used frozen on new ones.
  The level features are replaced by scale-free ones measured from the episode's start
  (the status at ``reset``, when the env evaluates the initial model), defined in
  ``RELATIVE_FEATURES``. Scores become the share of the start's headroom gained,
  ``(x - x_0) / (100 - x_0)``, not the gain in units of the start, ``(x - x_0) / x_0``:
  on ``mlic-digits`` the start is about 21 mAP (measured at ``reset``, seeds 0 and 1) and
  good recipes reach 60, so the latter would reach its clip (1) at 42 mAP and stay there.
  Losses become ratios to the start's. The other features are kept: progress, the relative loss changes, the
  data characteristics and the divergence flag are scale-free already; gradient norm,
  update size and LR depend on the model and optimizer rather than on the task's level.
* ``model_free``: ``relative`` with those three (``MODEL_SCALE_FEATURES``) held at 0, for
  controllers meant to run on architectures they were not trained with (the user loop).

Observation version 2 (``EnvConfig.context_features``, the ``-v2`` env ids) adds the run's
*context* after the scalars, in every mode (``CONTEXT_FEATURES``):

* the budget, scale-free: its length in epochs and decisions, the epochs left and the budget
  in images seen (``RunBudget``), each on a log scale, so that a 12-epoch and a 50-epoch run
  read apart while a controller trained on one length transfers to the next;
* what each augmentation family does to this data's labels, measured inside the run
  (``aug_effect=<family>``): the eval model's BCE on an augmented view of a few training
  images over its BCE on the clean view, as ``tanh(log(ratio))``. A family that keeps the
  labels (flips on mirror-symmetric shapes) reads near 0 once the model has learnt the data;
  one that changes them (flips turn a 2 into another glyph) stays above. The probe is
  ``PROBE_IMAGES`` clean images of the last training batch, one forward pass per family with
  a fixed generator (``envs.engine.runtime.RecipeRuntime.probe_losses``), 0 before the
  first segment. It runs after every ``probe_stride`` decisions (the reading is held in
  between), so that it costs at most ``PROBE_BUDGET`` (1 %) of the training it follows.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from envs.engine.checks import require_choice
from envs.engine.runtime import PROBE_IMAGES  # noqa: F401 - named in the docs
from envs.engine.recipe import COMPONENTS, LATEST_CATALOGUE, Recipe, catalogue
from envs.errors import ConfigError

OBSERVATION_MODES: tuple[str, ...] = ("standard", "relative", "model_free")
"""The observation modes ``EnvConfig.observation`` may name (see the module docstring)."""

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
"""Scalar features: (name, definition). Then come the one-hot last choices and the history
of val mAPs (``val_map_t-i``: val mAP i decisions ago / 100; 0 before the episode)."""

RELATIVE_FEATURES: dict[str, str] = {
    "val_map": "(val mAP - start's) / (100 - start's): share of the start's headroom gained",
    "best_val_map": "(best val mAP so far - start's) / (100 - start's)",
    "d_val_map": "val mAP change since the previous decision / (100 - previous val mAP): "
                 "share of the remaining headroom closed",
    "val_cf1": "(val CF1 - start's) / (100 - start's)",
    "val_of1": "(val OF1 - start's) / (100 - start's)",
    "tail_ap": "(tail-class AP - start's) / (1 - start's)",
    "train_loss": "train loss / start's - 1 (the start's train loss is its val BCE, as in "
                  "d_train_loss; the train loss is the recipe's loss function); 1 if non-finite",
    "val_loss": "val BCE loss / start's - 1; 1 if non-finite",
    "val_map_t-i": "(val mAP i decisions ago - start's) / (100 - start's); 0 before the episode",
}
MODEL_SCALE_FEATURES: tuple[str, ...] = ("grad_norm", "update_ratio", "lr")
"""Features whose scale belongs to the model and optimizer, not to the task:
``observation="model_free"`` is ``relative`` with these held at 0, for controllers meant to
transfer to architectures they were not trained with."""

"""``observation="relative"``: the features it redefines, (name: definition), each clipped to
[-1, 1]; "start's" is the value at ``reset``. Headrooms are floored at 1% of the scale."""


BUDGET_FEATURES: tuple[tuple[str, str], ...] = (
    ("budget_epochs", "log10(epochs in the whole budget) / 2"),
    ("budget_decisions", "log10(decisions in the budget) / 2"),
    ("epochs_left", "log10(1 + epochs left) / 2"),
    ("budget_images", "log10(images seen over the budget: epochs x training images) / 6"),
)
"""Observation version 2's budget features: (name, definition), each clipped to [-1, 1]."""


def probe_families(catalogue_name: str) -> tuple[str, ...]:
    """The augmentation families the label-effect probe measures: every ``aug`` choice of the
    catalogue but ``none``."""
    return tuple(a for a in catalogue(catalogue_name)["aug"] if a != "none")


def context_feature_names(catalogue_name: str) -> tuple[str, ...]:
    """Observation version 2's context block: the budget, then each family's label effect."""
    return (tuple(name for name, _ in BUDGET_FEATURES)
            + tuple(f"aug_effect={a}" for a in probe_families(catalogue_name)))


CONTEXT_FEATURES = "budget and label effects"
"""What ``EnvConfig.context_features`` adds (``context_feature_names``)."""

OBSERVATION_VERSIONS: dict[tuple[str, bool], int] = {
    ("classic", False): 0, ("tuning-free", False): 1, ("tuning-free", True): 2}
"""The observation's version per (catalogue, context features). The one-hot block of last
choices spans the catalogue, so ``classic`` gives version 0 (45 entries with ``history=4``) and
``tuning-free`` version 1 (47: ``last_opt=sf_adamw`` and ``last_opt=prodigy`` follow
``last_opt=rmsprop``); version 2 is version 1 with the context block (the budget and the
augmentations' label effects, 11 entries) after the scalars (58)."""


def observation_version(catalogue_name: str, context: bool = False) -> int:
    """The observation version of catalogue ``catalogue_name`` with or without the context
    features (``OBSERVATION_VERSIONS``); a pair with no version raises ``ConfigError``."""
    catalogue(catalogue_name)  # an unknown name fails here, naming the catalogues
    key = (catalogue_name, bool(context))
    if key not in OBSERVATION_VERSIONS:
        raise ConfigError(f"context_features=True (observation version 2, the -v2 env ids) "
                          f"needs catalogue 'tuning-free', not {catalogue_name!r}: use a -v0 "
                          f"id for {catalogue_name!r} without them, or catalogue='tuning-free'")
    return OBSERVATION_VERSIONS[key]


def feature_names(history: int, catalogue_name: str = LATEST_CATALOGUE,
                  context: bool = False) -> tuple[str, ...]:
    """Names of every observation entry, in order, in catalogue ``catalogue_name`` (with the
    context block when ``context``)."""
    observation_version(catalogue_name, context)
    choices = catalogue(catalogue_name)
    scalars = tuple(name for name, _ in FEATURES)
    extra = context_feature_names(catalogue_name) if context else ()
    last = tuple(f"last_{c}={n}" for c in COMPONENTS for n in choices[c])
    past = tuple(f"val_map_t-{i + 1}" for i in range(history))
    return scalars + extra + last + past


def observation_space(history: int, catalogue_name: str = LATEST_CATALOGUE,
                      context: bool = False) -> spaces.Box:
    """The Box every observation lies in."""
    n = len(feature_names(history, catalogue_name, context))
    return spaces.Box(low=-1.0, high=1.0, shape=(n,), dtype=np.float32)


def upgrade_observation(vector: np.ndarray, history: int, version: int, budget: RunBudget | None,
                        to_version: int = 2) -> np.ndarray:
    """An observation recorded in ``version`` written in ``to_version``'s layout (e.g. ``digits-v1``'s
    demonstrations, recorded in version 0, for a learner of version 2).

    Entries are matched by name (``feature_names``): every entry of the old vector keeps its
    value; a choice the old catalogue lacked (``last_opt=sf_adamw``, ``last_opt=prodigy``) is
    0, as it was never played; the budget features are computed from ``budget`` and the
    vector's own ``progress``; the label effects are 0, the reading the probe gives before its
    first segment ("nothing measured"). Going down a version is refused."""
    layouts = {v: k for k, v in OBSERVATION_VERSIONS.items()}
    if version not in layouts or to_version not in layouts or to_version < version:
        raise ConfigError(f"cannot write an observation of version {version} as version "
                          f"{to_version}: versions are {sorted(layouts)}, upgraded only")
    source = feature_names(history, *layouts[version])
    target = feature_names(history, *layouts[to_version])
    vector = np.asarray(vector, dtype=np.float32)
    if vector.shape != (len(source),):
        raise ConfigError(f"an observation of version {version} with history={history} has "
                          f"{len(source)} entries, got shape {vector.shape}")
    values = dict(zip(source, vector.tolist()))
    if layouts[to_version][1] and not layouts[version][1]:
        if budget is None:
            raise ConfigError(f"version {to_version} carries the budget: pass the run's RunBudget")
        budget_values = _budget_scalars(budget, values["progress"])
        values.update(zip((name for name, _ in BUDGET_FEATURES), budget_values))
    out = np.asarray([values.get(name, 0.0) for name in target], dtype=np.float32)
    return np.clip(out, -1.0, 1.0)


@dataclass(frozen=True)
class RunBudget:
    """The budget of a run, as the context features read it."""

    decisions: int
    epochs_per_decision: float
    """Epochs trained per decision (steps x batch size / training images in the user loop)."""
    train_images: int

    @property
    def epochs(self) -> float:
        return self.decisions * self.epochs_per_decision


def _budget_scalars(budget: RunBudget, progress: float) -> list[float]:
    epochs = max(budget.epochs, 1e-6)
    return [math.log10(epochs) / 2.0, math.log10(max(budget.decisions, 1)) / 2.0,
            math.log10(1.0 + epochs * (1.0 - progress)) / 2.0,
            math.log10(max(epochs * budget.train_images, 1.0)) / 6.0]


PROBE_BUDGET = 0.01
"""The probe's cost, at most, as a share of the training between two probes."""
FORWARD_SHARE = 1 / 3
"""A forward pass's share of a training step's cost per image (forward + backward + update),
the usual rule of thumb; measured 0.23 for ``small_cnn`` at 32 px on one CPU thread."""


def probe_stride(images_per_decision: float, families: int) -> int:
    """Decisions between two label-effect probes: the fewest that hold the probe's forward
    passes (``(1 + families) x PROBE_IMAGES`` images) within ``PROBE_BUDGET`` of the training
    steps of those decisions. Depends only on sizes, so every run of a task probes alike."""
    probe = (1 + families) * PROBE_IMAGES * FORWARD_SHARE
    return max(1, math.ceil(probe / (PROBE_BUDGET * max(images_per_decision, 1.0))))


def probed_effects(runtime: Any, decision: int, budget: RunBudget | None, catalogue_name: str,
                   before: TrainingStatus) -> tuple[float, ...]:
    """The label effects after decision ``decision`` (1-based) of a run: probed with
    ``runtime`` (a ``RecipeRuntime``) every ``probe_stride`` decisions, from the first, and
    ``before``'s reading held in between; ``()`` without a budget (no context features)."""
    if budget is None:
        return ()
    families = probe_families(catalogue_name)
    stride = probe_stride(budget.epochs_per_decision * budget.train_images, len(families))
    if (decision - 1) % stride:
        return before.label_effects
    return label_effects(runtime.probe_losses(families))


def label_effect(clean_loss: float, augmented_loss: float) -> float:
    """One family's ``aug_effect``: ``tanh(log(augmented / clean))`` of the two BCE losses
    (0 where either is not a positive finite number)."""
    if not (math.isfinite(clean_loss) and math.isfinite(augmented_loss)) \
            or clean_loss <= 0 or augmented_loss <= 0:
        return 0.0
    return math.tanh(math.log(augmented_loss / clean_loss))


def label_effects(probe_losses: tuple[float, ...]) -> tuple[float, ...]:
    """Every family's ``aug_effect`` from ``RecipeRuntime.probe_losses``' output (the clean
    loss first); ``()`` for an empty probe."""
    if not probe_losses:
        return ()
    clean, *augmented = probe_losses
    return tuple(label_effect(clean, a) for a in augmented)


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
    start: TrainingStatus | None
    """The status at the episode's reset; ``None`` for that status itself."""
    label_effects: tuple[float, ...] = ()
    """Each probed augmentation family's ``aug_effect`` (``probe_families`` order), measured
    after the segment; empty where nothing was probed (observation versions 0 and 1, reset)."""

    @property
    def origin(self) -> TrainingStatus:
        """The status at the episode's reset (what relative features are measured from)."""
        return self if self.start is None else self.start


def status_state(status: TrainingStatus) -> dict[str, Any]:
    """``status`` as plain values (``torch.load(weights_only=True)`` reads them back)."""
    out = {f.name: getattr(status, f.name) for f in dataclasses.fields(status)}
    out["val_ap"] = [float(x) for x in np.asarray(status.val_ap, dtype=np.float64)]
    out["recipe"] = status.recipe.as_dict()
    out["map_history"] = list(status.map_history)
    out["start"] = None if status.start is None else status_state(status.start)
    out["label_effects"] = list(status.label_effects)
    return out


def status_from_state(state: dict[str, Any]) -> TrainingStatus:
    """The inverse of :func:`status_state`."""
    return TrainingStatus(**{
        **state, "val_ap": np.asarray(state["val_ap"], dtype=np.float64),
        "recipe": Recipe(**state["recipe"]), "map_history": tuple(state["map_history"]),
        "label_effects": tuple(state.get("label_effects", ())),  # absent: an older state
        "start": None if state["start"] is None else status_from_state(state["start"])})


def data_profile(labels: torch.Tensor, positive_counts: torch.Tensor) -> DataProfile:
    """The ``DataProfile`` of a training set: multi-hot ``labels`` ``[N, K]`` and the positives
    per class ``[K]`` (not counting ignored entries)."""
    labels = labels.float()
    counts = positive_counts.double().numpy()
    k = labels.shape[1]
    positive = counts[counts > 0]
    imbalance = math.log10(positive.max() / positive.min()) / 3.0 if positive.size else 0.0
    tail = np.argsort(counts, kind="stable")[: max(1, k // 3)]
    return DataProfile(label_cardinality=float(labels.sum(1).mean()) / k, imbalance=imbalance,
                       num_classes=k, train_size=labels.shape[0], tail_classes=tail)


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def initial_status(evaluation: Any, lr: float, recipe: Recipe) -> TrainingStatus:
    """The status at an episode's start: the initial model's val ``evaluation``
    (an ``EvalResult``), the LR and the recipe in force."""
    m = {k: _finite(evaluation.metrics[k]) for k in ("mAP", "CF1", "OF1")}
    return TrainingStatus(
        progress=0.0, val_map=m["mAP"], best_val_map=m["mAP"], prev_val_map=m["mAP"],
        val_cf1=m["CF1"], val_of1=m["OF1"], val_ap=np.asarray(evaluation.metrics["AP"]),
        train_loss=evaluation.loss, prev_train_loss=evaluation.loss,
        val_loss=evaluation.loss, prev_val_loss=evaluation.loss, grad_norm=0.0,
        update_ratio=0.0, lr=lr, diverged=False, recipe=recipe, map_history=(), start=None)


def next_status(before: TrainingStatus, segment: Any, evaluation: Any, recipe: Recipe,
                progress: float, history: int,
                label_effects: tuple[float, ...] = ()) -> TrainingStatus:
    """The status after a decision: ``segment`` (``SegmentStats``) trained under ``recipe``,
    then the val ``evaluation``; ``history`` val mAPs are kept; ``label_effects``: the probe's
    readings after the segment (observation version 2)."""
    m = {k: _finite(evaluation.metrics[k]) for k in ("mAP", "CF1", "OF1")}
    train_loss = segment.train_loss if math.isfinite(segment.train_loss) else before.train_loss
    return TrainingStatus(
        progress=progress, val_map=m["mAP"],
        best_val_map=max(before.best_val_map, m["mAP"]), prev_val_map=before.val_map,
        val_cf1=m["CF1"], val_of1=m["OF1"], val_ap=np.asarray(evaluation.metrics["AP"]),
        train_loss=train_loss, prev_train_loss=before.train_loss,
        val_loss=evaluation.loss, prev_val_loss=before.val_loss,
        grad_norm=segment.grad_norm, update_ratio=segment.update_ratio, lr=segment.lr,
        diverged=segment.diverged, recipe=recipe,
        map_history=((before.val_map,) + before.map_history)[:history],
        start=before.origin, label_effects=tuple(label_effects))


def _rel_change(now: float, before: float) -> float:
    if not (math.isfinite(now) and math.isfinite(before)) or before <= 0:
        return 0.0
    return (now - before) / before


def _log1p_scaled(x: float) -> float:
    return math.log1p(max(x, 0.0)) / math.log1p(10.0) if math.isfinite(x) else 1.0


def _tail_ap(val_ap: np.ndarray, profile: DataProfile) -> float:
    tail_ap = val_ap[profile.tail_classes]
    tail_ap = tail_ap[np.isfinite(tail_ap)]
    return float(tail_ap.mean()) if tail_ap.size else 0.0


def _headroom_gain(now: float, start: float, full: float) -> float:
    """The share of the headroom ``full - start`` gained by ``now`` (floored at 1% of ``full``)."""
    return (now - start) / max(full - start, full / 100.0)


def _loss_ratio(now: float, start: float) -> float:
    return _rel_change(now, start) if math.isfinite(now) else 1.0


def _standard_scalars(status: TrainingStatus, profile: DataProfile) -> dict[str, float]:
    return {
        "progress": status.progress,
        "val_map": status.val_map / 100.0,
        "best_val_map": status.best_val_map / 100.0,
        "d_val_map": (status.val_map - status.prev_val_map) / 10.0,
        "val_cf1": status.val_cf1 / 100.0,
        "val_of1": status.val_of1 / 100.0,
        "tail_ap": _tail_ap(status.val_ap, profile),
        "train_loss": _log1p_scaled(status.train_loss),
        "val_loss": _log1p_scaled(status.val_loss),
        "d_train_loss": _rel_change(status.train_loss, status.prev_train_loss),
        "d_val_loss": _rel_change(status.val_loss, status.prev_val_loss),
        "grad_norm": (math.log10(1.0 + status.grad_norm) / 3.0
                      if math.isfinite(status.grad_norm) else 1.0),
        "update_ratio": math.log10(max(status.update_ratio, 1e-8)) / 4.0 + 1.0,
        "lr": -math.log10(max(status.lr, 1e-12)) / 6.0,
        "diverged": float(status.diverged),
        "label_cardinality": profile.label_cardinality,
        "imbalance": profile.imbalance,
        "num_classes": math.log10(profile.num_classes) / 3.0,
        "train_size": math.log10(max(profile.train_size, 1)) / 6.0,
    }


def _relative_scalars(status: TrainingStatus, profile: DataProfile) -> dict[str, float]:
    """The features ``RELATIVE_FEATURES`` redefines."""
    start = status.origin
    return {
        "val_map": _headroom_gain(status.val_map, start.val_map, 100.0),
        "best_val_map": _headroom_gain(status.best_val_map, start.val_map, 100.0),
        "d_val_map": _headroom_gain(status.val_map, status.prev_val_map, 100.0),
        "val_cf1": _headroom_gain(status.val_cf1, start.val_cf1, 100.0),
        "val_of1": _headroom_gain(status.val_of1, start.val_of1, 100.0),
        "tail_ap": _headroom_gain(_tail_ap(status.val_ap, profile),
                                  _tail_ap(start.val_ap, profile), 1.0),
        "train_loss": _loss_ratio(status.train_loss, start.train_loss),
        "val_loss": _loss_ratio(status.val_loss, start.val_loss),
    }


def build_observation(status: TrainingStatus, profile: DataProfile, history: int,
                      mode: str = "standard", catalogue_name: str = LATEST_CATALOGUE,
                      budget: RunBudget | None = None) -> np.ndarray:
    """The observation vector for ``status`` (float32, finite, inside ``observation_space``).

    ``mode`` is one of ``OBSERVATION_MODES``; each gives the entries of ``feature_names`` in
    catalogue ``catalogue_name``. A ``budget`` adds the context block (observation version 2).
    """
    require_choice("observation", mode, OBSERVATION_MODES)
    scalars = _standard_scalars(status, profile)
    recent = status.map_history[:history]
    if mode in ("relative", "model_free"):
        scalars.update(_relative_scalars(status, profile))
        past = [_headroom_gain(m, status.origin.val_map, 100.0) for m in recent]
    else:
        past = [m / 100.0 for m in recent]
    if mode == "model_free":
        scalars.update(dict.fromkeys(MODEL_SCALE_FEATURES, 0.0))
    past += [0.0] * (history - len(past))
    choices = catalogue(catalogue_name)
    one_hot = [float(getattr(status.recipe, c) == n) for c in COMPONENTS for n in choices[c]]
    context: list[float] = []
    if budget is not None:
        effects = list(status.label_effects)[:len(probe_families(catalogue_name))]
        effects += [0.0] * (len(probe_families(catalogue_name)) - len(effects))
        context = _budget_scalars(budget, status.progress) + effects
    vector = np.asarray([scalars[name] for name, _ in FEATURES] + context + one_hot + past,
                        dtype=np.float32)
    return np.clip(np.nan_to_num(vector, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
