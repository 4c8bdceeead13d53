"""Tests for envs.engine.metrics against scikit-learn and hand-worked cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

from envs.engine.metrics import average_precision, multilabel_metrics


def _random_set(n: int = 200, k: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tie-free logits correlated with random binary targets; every class has positives."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, k)) < 0.3).astype(np.int64)
    targets[0] = 1
    logits = rng.normal(size=(n, k)) + 1.5 * targets - 0.7
    return logits, targets


def test_ap_matches_sklearn_on_tie_free_data() -> None:
    logits, targets = _random_set()
    result = multilabel_metrics(logits, targets)
    expected = [average_precision_score(targets[:, k], logits[:, k]) for k in range(6)]
    np.testing.assert_allclose(result["AP"], expected, rtol=1e-12)
    assert result["AP"].dtype == np.float64 and result["AP"].shape == (6,)
    assert result["mAP"] == pytest.approx(100 * np.mean(expected))


def test_ap_hand_worked_without_ties() -> None:
    # ranking: pos, neg, pos, neg, pos -> precisions at positives 1, 2/3, 3/5
    logits = np.array([[5.0], [4.0], [3.0], [2.0], [1.0]])
    targets = np.array([[1], [0], [1], [0], [1]])
    ap = average_precision(logits, targets)
    assert ap[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


def test_ap_ties_are_broken_pessimistically_and_order_free() -> None:
    # pos 0.9, then a tie at 0.5 between two positives and one negative.
    # Pessimistic order: pos, neg, pos, pos -> (1 + 2/3 + 3/4) / 3.
    logits = np.array([[0.9], [0.5], [0.5], [0.5]])
    targets = np.array([[1], [1], [1], [0]])
    expected = (1 + 2 / 3 + 3 / 4) / 3
    assert average_precision(logits, targets)[0] == pytest.approx(expected)
    reversed_ap = average_precision(logits[::-1].copy(), targets[::-1].copy())[0]
    assert reversed_ap == pytest.approx(expected)
    # sklearn treats the tie as one threshold: 1/3 * 1 + 2/3 * 3/4 (documented difference)
    sk = average_precision_score(targets[:, 0], logits[:, 0])
    assert sk == pytest.approx(1 / 3 + 2 / 3 * 3 / 4) and sk != pytest.approx(expected)


def test_ap_all_tied_equals_pessimistic_floor() -> None:
    logits = np.zeros((4, 1))
    targets = np.array([[1], [0], [1], [0]])
    # negatives first: ranks 3 and 4 -> (1/3 + 2/4) / 2
    assert average_precision(logits, targets)[0] == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_ignored_entries_are_removed_from_the_ranking() -> None:
    logits, targets = _random_set(n=120, k=4, seed=1)
    rng = np.random.default_rng(2)
    ignore = rng.random(logits.shape) < 0.2
    result = multilabel_metrics(logits, targets, ignore=ignore)
    for k in range(4):
        keep = ~ignore[:, k]
        expected = average_precision_score(targets[keep, k], logits[keep, k])
        assert result["AP"][k] == pytest.approx(expected, rel=1e-12)
    # pooled metrics equal binary metrics over the flattened kept entries
    keep = ~ignore
    pred = (logits >= 0)[keep]
    truth = targets[keep]
    assert result["OP"] == pytest.approx(100 * precision_score(truth, pred))
    assert result["OR"] == pytest.approx(100 * recall_score(truth, pred))
    assert result["OF1"] == pytest.approx(100 * f1_score(truth, pred))


def test_class_without_positives_is_nan_and_excluded() -> None:
    logits = np.array([[2.0, 1.0, 0.5], [-1.0, 3.0, -2.0], [0.5, -1.0, 1.0]])
    targets = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    result = multilabel_metrics(logits, targets)
    assert np.isnan(result["AP"][1]) and not np.isnan(result["AP"][[0, 2]]).any()
    assert result["mAP"] == pytest.approx(100 * np.nanmean(result["AP"]))
    # CP/CR average over classes 0 and 2 only; class 1 (no positives) is left out
    pred = (logits >= 0).astype(int)
    kwargs = {"average": "macro", "labels": [0, 2], "zero_division": 0}
    assert result["CP"] == pytest.approx(25.0)
    assert result["CP"] == pytest.approx(100 * precision_score(targets, pred, **kwargs))
    assert result["CR"] == pytest.approx(100 * recall_score(targets, pred, **kwargs))
    # an ignored positive does not count as a positive
    only_ignored = multilabel_metrics(logits, targets, ignore=targets.astype(bool))
    assert np.isnan(only_ignored["AP"]).all() and np.isnan(only_ignored["mAP"])


def test_thresholded_metrics_match_sklearn() -> None:
    logits, targets = _random_set(seed=3)
    result = multilabel_metrics(logits, targets)
    pred = (1 / (1 + np.exp(-logits)) >= 0.5).astype(np.int64)
    kwargs = {"zero_division": 0}
    assert result["OP"] == pytest.approx(100 * precision_score(targets, pred, average="micro"))
    assert result["OR"] == pytest.approx(100 * recall_score(targets, pred, average="micro"))
    assert result["OF1"] == pytest.approx(100 * f1_score(targets, pred, average="micro"))
    assert result["CP"] == pytest.approx(
        100 * precision_score(targets, pred, average="macro", **kwargs))
    assert result["CR"] == pytest.approx(100 * recall_score(targets, pred, average="macro"))
    cp, cr = result["CP"], result["CR"]
    assert result["CF1"] == pytest.approx(2 * cp * cr / (cp + cr))


def test_threshold_argument() -> None:
    logits, targets = _random_set(seed=4)
    result = multilabel_metrics(logits, targets, threshold=0.8)
    pred = (1 / (1 + np.exp(-logits)) >= 0.8).astype(np.int64)
    assert result["OP"] == pytest.approx(100 * precision_score(targets, pred, average="micro"))
    with pytest.raises(ValueError):
        multilabel_metrics(logits, targets, threshold=1.0)


def test_cf1_is_not_macro_f1_hand_worked() -> None:
    # class 0: TP=1 FP=0 FN=1 -> P=1, R=1/2, F1=2/3
    # class 1: TP=1 FP=2 FN=0 -> P=1/3, R=1, F1=1/2
    logits = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]])
    targets = np.array([[1, 1], [1, 0], [0, 0], [0, 0]])
    result = multilabel_metrics(logits, targets)
    cp, cr = (1 + 1 / 3) / 2, (1 / 2 + 1) / 2
    assert result["CP"] == pytest.approx(100 * cp)
    assert result["CR"] == pytest.approx(100 * cr)
    assert result["CF1"] == pytest.approx(100 * 2 * cp * cr / (cp + cr))
    macro_f1 = 100 * f1_score(targets, (logits >= 0).astype(int), average="macro")
    assert macro_f1 == pytest.approx(100 * (2 / 3 + 1 / 2) / 2)
    assert abs(result["CF1"] - macro_f1) > 1.0
    # pooled: TP=2, predicted=4, positives=3
    assert result["OP"] == pytest.approx(50.0) and result["OR"] == pytest.approx(200 / 3)


def test_class_with_no_predicted_positive_counts_precision_zero() -> None:
    logits = np.array([[-1.0, 1.0], [-1.0, -1.0]])
    targets = np.array([[1, 1], [0, 0]])
    result = multilabel_metrics(logits, targets)
    assert result["CP"] == pytest.approx(50.0)       # (0 + 1) / 2
    assert result["CR"] == pytest.approx(50.0)


def test_torch_inputs_and_python_float_outputs() -> None:
    logits, targets = _random_set(seed=5)
    np_result = multilabel_metrics(logits, targets)
    t_result = multilabel_metrics(torch.tensor(logits, dtype=torch.float32),
                                  torch.tensor(targets, dtype=torch.float32),
                                  ignore=torch.zeros(targets.shape, dtype=torch.bool))
    for key in ("mAP", "CP", "CR", "CF1", "OP", "OR", "OF1"):
        assert type(t_result[key]) is float and 0.0 <= t_result[key] <= 100.0
        assert t_result[key] == pytest.approx(np_result[key], rel=1e-5)


def test_saturated_logits_do_not_create_ties() -> None:
    logits = np.array([[40.0], [30.0], [20.0]])    # all sigmoid to 1.0 in float32
    targets = np.array([[0], [1], [1]])
    assert average_precision(logits, targets)[0] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        multilabel_metrics(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        multilabel_metrics(np.zeros(3), np.zeros(3))


def test_coco_sized_set_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(6)
    targets = (rng.random((5000, 80)) < 0.05).astype(np.int64)
    logits = rng.normal(size=targets.shape) + 2 * targets
    result = multilabel_metrics(torch.tensor(logits), torch.tensor(targets))
    for k in (0, 41, 79):
        assert result["AP"][k] == pytest.approx(
            average_precision_score(targets[:, k], logits[:, k]), rel=1e-9)
