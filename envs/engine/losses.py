"""Multi-label losses the ``loss`` agent chooses from (``recipe.LOSS_NAMES``).

Every loss is an ``nn.Module`` called as ``loss(logits, targets, mask=None)``:

* ``logits``: float ``[B, K]`` (any float dtype; computed in fp32 inside, with
  autocast disabled, so bf16 autocast outside is safe);
* ``targets``: float ``[B, K]`` **soft** labels in ``[0, 1]`` (mixup/cutmix mix them);
  each loss is written as ``y * positive_term + (1 - y) * negative_term``, which is the
  paper's formula for hard labels and its linear interpolation for soft ones;
* ``mask``: bool ``[B, K]`` or ``None``; ``True`` marks an entry that counts (datasets
  with unknown labels mask them out).

**Reduction** (the same for every loss, so switching losses mid-run keeps the scale
comparable): the per-entry losses are summed over counted entries and divided by
the batch size ``B`` (not by the number of counted entries), i.e. the mean over
samples of each sample's summed per-class loss, as in the ASL reference code.

Losses
    ``bce``    binary cross-entropy with logits.
    ``focal``  focal loss, Lin et al., "Focal Loss for Dense Object Detection", ICCV
               2017: ``-a (1-p)^g log p`` on positives, ``-(1-a) p^g log(1-p)`` on
               negatives, ``a = 0.25, g = 2``.
    ``asl``    asymmetric loss, Ridnik et al., "Asymmetric Loss For Multi-Label
               Classification", ICCV 2021: ``-(1-p)^g+ log p`` on positives and
               ``-p_m^g- log(1-p_m)`` on negatives with the probability margin
               ``p_m = max(p - clip, 0)``; ``g- = 4, g+ = 0, clip = 0.05``.
    ``cb_bce`` class-balanced BCE, Cui et al., "Class-Balanced Loss Based on Effective
               Number of Samples", CVPR 2019: class ``k`` is weighted by
               ``(1 - beta) / (1 - beta^n_k)`` (``n_k`` = its positive count, clamped
               to >= 1, ``beta = 0.999``), weights normalised to sum to ``K``.
    ``ls_bce`` BCE on label-smoothed targets ``y (1 - eps) + eps / 2``, ``eps = 0.1``
               (Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016).

``log p`` and ``log(1 - p)`` are computed with ``logsigmoid`` (exact and finite for
logits of +-100, with non-zero gradients where a clamp would give none); ASL's
``eps`` clamp guards the one remaining ``log`` of the shifted negative probability.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from envs.errors import ConfigError

__all__ = [
    "AsymmetricLoss", "BCELoss", "ClassBalancedBCELoss", "FocalLoss", "LOSSES",
    "LabelSmoothingBCELoss", "MultiLabelLoss", "build_loss",
]


def _pow(base: Tensor, gamma: float) -> Tensor:
    """base ** gamma, skipping the power (and its 0 * inf gradient) when gamma == 0."""
    return torch.ones_like(base) if gamma == 0 else base.pow(gamma)


class MultiLabelLoss(nn.Module):
    """Base class: fp32 computation, masking and the shared sum / B reduction."""

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry loss [B, K] in fp32; implemented by each loss."""
        raise NotImplementedError

    def forward(self, logits: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        """Scalar loss: sum over counted entries / batch size."""
        if logits.ndim != 2 or targets.shape != logits.shape:
            raise ValueError(f"expected logits and targets of one shape [B, K], got "
                             f"{tuple(logits.shape)} and {tuple(targets.shape)}")
        with torch.autocast(device_type=logits.device.type, enabled=False):
            per_entry = self.elementwise(logits.float(), targets.float())
            if mask is not None:
                per_entry = torch.where(mask, per_entry, torch.zeros_like(per_entry))
            return per_entry.sum() / max(logits.shape[0], 1)


class BCELoss(MultiLabelLoss):
    """Binary cross-entropy with logits."""

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry BCE."""
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none")


class LabelSmoothingBCELoss(MultiLabelLoss):
    """BCE on targets smoothed towards 1/2: y (1 - eps) + eps / 2."""

    def __init__(self, eps: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= eps < 1.0:
            raise ConfigError(f"label smoothing eps must be in [0, 1), got {eps}")
        self.eps = eps

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry BCE against smoothed targets."""
        smoothed = targets * (1.0 - self.eps) + self.eps / 2
        return F.binary_cross_entropy_with_logits(logits, smoothed, reduction="none")


class FocalLoss(MultiLabelLoss):
    """Sigmoid focal loss (Lin et al. 2017), alpha-balanced."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0) -> None:
        super().__init__()
        self.alpha, self.gamma = alpha, gamma

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry focal loss, linear in the (soft) target."""
        p = torch.sigmoid(logits)
        pos = self.alpha * _pow(1 - p, self.gamma) * -F.logsigmoid(logits)
        neg = (1 - self.alpha) * _pow(p, self.gamma) * -F.logsigmoid(-logits)
        return targets * pos + (1 - targets) * neg


class AsymmetricLoss(MultiLabelLoss):
    """Asymmetric loss (Ridnik et al. 2021) with a probability margin on negatives."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 eps: float = 1e-8) -> None:
        super().__init__()
        if gamma_pos not in (0, 1):
            raise ConfigError(f"ASL gamma_pos must be 0 or 1, got {gamma_pos}")
        if not 0.0 <= clip < 1.0:
            raise ConfigError(f"ASL clip must be in [0, 1), got {clip}")
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry ASL, linear in the (soft) target."""
        p = torch.sigmoid(logits)
        pos = _pow(1 - p, self.gamma_pos) * -F.logsigmoid(logits)
        if self.clip > 0:
            p_m = (p - self.clip).clamp(min=0)
            log_not_p = torch.log((1 - p_m).clamp(min=self.eps))
        else:
            p_m, log_not_p = p, F.logsigmoid(-logits)
        neg = _pow(p_m, self.gamma_neg) * -log_not_p
        return targets * pos + (1 - targets) * neg


class ClassBalancedBCELoss(MultiLabelLoss):
    """BCE weighted per class by the inverse effective number of samples (Cui et al. 2019)."""

    def __init__(self, positive_counts: Tensor, beta: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= beta < 1.0:
            raise ConfigError(f"class-balanced beta must be in [0, 1), got {beta}")
        counts = torch.as_tensor(positive_counts, dtype=torch.float64).clamp(min=1)
        weights = (1 - beta) / (1 - beta ** counts)
        weights = weights / weights.sum() * counts.numel()
        self.register_buffer("weights", weights.float(), persistent=False)

    def elementwise(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Per-entry BCE times its class weight."""
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        weights = self.weights.to(device=logits.device)
        if weights.numel() != logits.shape[1]:
            raise ValueError(f"loss built for {weights.numel()} classes, got {logits.shape[1]}")
        return bce * weights


def _positive_counts(positive_counts: Tensor, num_samples: int) -> Tensor:
    """Validated 1-D per-class positive counts."""
    counts = torch.as_tensor(positive_counts).detach().cpu()
    if counts.ndim != 1 or counts.numel() == 0:
        raise ConfigError(f"positive_counts must be a non-empty 1-D tensor [K], "
                          f"got shape {tuple(counts.shape)}")
    if num_samples < 1 or bool((counts < 0).any()) or bool((counts > num_samples).any()):
        raise ConfigError(f"positive_counts must lie in [0, num_samples={num_samples}]")
    return counts


LOSSES: dict[str, Callable[[Tensor], MultiLabelLoss]] = {
    "bce": lambda counts: BCELoss(),
    "focal": lambda counts: FocalLoss(),
    "asl": lambda counts: AsymmetricLoss(),
    "cb_bce": lambda counts: ClassBalancedBCELoss(counts),
    "ls_bce": lambda counts: LabelSmoothingBCELoss(),
}
"""Loss factories by name, taking the validated per-class positive counts."""


def build_loss(name: str, positive_counts: Tensor, num_samples: int) -> nn.Module:
    """The loss ``name`` with default hyper-parameters, given training-set label counts."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid choices: {', '.join(LOSSES)}")
    return LOSSES[name](_positive_counts(positive_counts, num_samples))
