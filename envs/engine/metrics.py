"""Multi-label classification metrics: mAP and the ML-GCN precision/recall/F1 family.

These are the numbers multi-label image classification papers report (e.g. ML-GCN,
Chen et al., CVPR 2019; ASL, Ridnik et al., ICCV 2021), computed fully vectorised in
numpy (float64) over a whole evaluation set of ``N`` samples and ``K`` classes.

Average precision (per class, non-interpolated)
    Samples are ranked by descending logit; AP is the mean, over the positives, of the
    precision at each positive's rank. Ignored entries are removed from the ranking
    before anything is counted. **Ties** are broken pessimistically: among equal
    scores, negatives are ranked before positives (and otherwise the original sample
    order is kept). The result therefore does not depend on the order of the samples
    and never over-states AP. (scikit-learn's ``average_precision_score`` instead
    treats a group of tied scores as a single threshold, so the two agree exactly only
    on tie-free data.) Ranking uses the raw logits, not ``sigmoid(logit)``, so large
    logits that would saturate the sigmoid do not create spurious ties.

    ``AP[k]`` is NaN for a class without (non-ignored) positives; ``mAP`` is the mean
    over the other classes, x100 (NaN when no class has a positive).

Thresholded metrics (ML-GCN definitions)
    An entry is predicted positive when ``sigmoid(logit) >= threshold``, i.e. when
    ``logit >= log(threshold / (1 - threshold))``. With per-class counts
    ``TP_k, FP_k, FN_k`` over non-ignored entries:

    * ``CP = mean_k TP_k / (TP_k + FP_k)``: a class with no predicted positive counts
      precision 0 (as in ML-GCN, which divides by ``max(TP+FP, 1)``);
    * ``CR = mean_k TP_k / (TP_k + FN_k)``;
    * ``CF1 = 2 CP CR / (CP + CR)``: the harmonic mean of the two averages, which is
      **not** the macro-F1 (the mean of per-class F1s);
    * ``OP, OR, OF1``: the same with counts pooled over all classes (micro averages).

    CP and CR average over the same classes as mAP: those with at least one
    non-ignored positive (a class without positives has no defined recall and its
    precision is 0 by construction, which would only add noise). Every F1 is 0 when
    its precision and recall are both 0. All values are python floats in 0..100.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["average_precision", "multilabel_metrics"]


def _to_numpy(value: Any, name: str) -> np.ndarray:
    """Convert a torch tensor or array-like to a 2-D numpy array."""
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        value = value.detach().float().cpu().numpy() if value.dtype.is_floating_point \
            else value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, K], got shape {array.shape}")
    return array


def _inputs(logits: Any, targets: Any, ignore: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (scores float64, positive bool, valid bool) arrays of one shape."""
    scores = _to_numpy(logits, "logits").astype(np.float64)
    positive = _to_numpy(targets, "targets") > 0.5
    if positive.shape != scores.shape:
        raise ValueError(f"targets shape {positive.shape} != logits shape {scores.shape}")
    if ignore is None:
        valid = np.ones(scores.shape, dtype=bool)
    else:
        valid = ~_to_numpy(ignore, "ignore").astype(bool)
        if valid.shape != scores.shape:
            raise ValueError(f"ignore shape {valid.shape} != logits shape {scores.shape}")
    return scores, positive & valid, valid


def average_precision(logits: Any, targets: Any, ignore: Any = None) -> np.ndarray:
    """Per-class non-interpolated AP [K] (float64, NaN where a class has no positive)."""
    scores, positive, valid = _inputs(logits, targets, ignore)
    # Pessimistic ties: stable sort by "is positive" first, then stable sort by
    # descending score, so equal scores keep negatives ahead of positives.
    by_label = np.argsort(positive, axis=0, kind="stable")
    by_score = np.argsort(-np.take_along_axis(scores, by_label, axis=0), axis=0, kind="stable")
    order = np.take_along_axis(by_label, by_score, axis=0)
    pos = np.take_along_axis(positive, order, axis=0)
    val = np.take_along_axis(valid, order, axis=0)
    rank = np.cumsum(val, axis=0)                  # rank among non-ignored entries
    hits = np.cumsum(pos, axis=0)                  # positives at or above this rank
    precision = np.divide(hits, rank, out=np.zeros(rank.shape), where=rank > 0)
    n_pos = pos.sum(axis=0)
    total = (precision * pos).sum(axis=0)
    return np.divide(total, n_pos, out=np.full(n_pos.shape, np.nan), where=n_pos > 0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(num.shape), where=np.asarray(den) > 0)


def _f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _threshold_logit(threshold: float) -> float:
    """Logit equivalent of a probability threshold in (0, 1)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    return math.log(threshold / (1.0 - threshold))


def multilabel_metrics(logits: Any, targets: Any, ignore: Any = None,
                       threshold: float = 0.5) -> dict:
    """mAP, CP, CR, CF1, OP, OR, OF1 (floats, 0..100) and per-class AP [K] of a set."""
    scores, positive, valid = _inputs(logits, targets, ignore)
    ap = average_precision(scores, positive, ~valid)
    predicted = (scores >= _threshold_logit(threshold)) & valid
    tp = (predicted & positive).sum(axis=0)
    n_pred = predicted.sum(axis=0)
    n_pos = positive.sum(axis=0)
    has_pos = n_pos > 0
    if has_pos.any():
        m_ap = float(np.mean(ap[has_pos])) * 100
        cp = float(np.mean(_ratio(tp, n_pred)[has_pos])) * 100
        cr = float(np.mean(_ratio(tp, n_pos)[has_pos])) * 100
    else:
        m_ap = cp = cr = float("nan")
    op = float(_ratio(tp.sum(), n_pred.sum())) * 100
    o_r = float(_ratio(tp.sum(), n_pos.sum())) * 100
    return {
        "mAP": m_ap, "CP": cp, "CR": cr, "CF1": _f1(cp, cr),
        "OP": op, "OR": o_r, "OF1": _f1(op, o_r), "AP": ap,
    }
