"""Weight-space helpers of the trainer: snapshots, norms, finiteness, input statistics, and
whether a saved weights archive is whole."""
from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence

import torch
from torch import nn


def archive_problem(path: str | os.PathLike, members: Sequence[str] = ()) -> str | None:
    """What is wrong with the zip archive at ``path`` (``torch.save``, SB3's ``save`` and
    ``numpy.savez`` all write one), or None if it is whole: every member's CRC holds and
    ``members`` are in it.

    Their readers do not all check: ``torch.load`` loads flipped bytes in a tensor as
    weights, and ``numpy.load`` raises ``zipfile.BadZipFile``. A file cut short by a full
    disk or an interrupted copy, or overwritten, is caught here instead.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            corrupt = archive.testzip()  # reads every member, checking its CRC
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError,
            zlib.error) as error:  # ValueError: e.g. a member name that no longer decodes
        return f"not a readable zip archive: {error}"
    missing = [m for m in members if m not in names]
    if missing:
        return f"{', '.join(missing)} missing from it"
    if corrupt is not None:
        return f"{corrupt} in it fails its checksum"
    return None


def channel_stats(images: torch.Tensor, max_images: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean/std in [0,1] units, from at most ``max_images`` images."""
    x = images[:max_images].float().div(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return mean, std


@torch.no_grad()
def all_finite(model: nn.Module) -> bool:
    """True if every floating-point entry of the model's state (weights, BN statistics) is finite."""
    # max |t| is NaN or inf exactly when some entry is (amax propagates NaN): one abs pass and
    # one reduction per tensor, about 4x cheaper than isfinite(t).all(), and a single host sync.
    peaks = [t.abs().amax().float() for t in model.state_dict().values()
             if t.is_floating_point() and t.numel() > 0]
    return not peaks or bool(torch.isfinite(torch.stack(peaks)).all())


def clone_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


@torch.no_grad()
def param_norm(model: nn.Module) -> float:
    return float(torch.sqrt(sum((p.float() ** 2).sum() for p in model.parameters())))


@torch.no_grad()
def param_distance(model: nn.Module, reference: dict[str, torch.Tensor]) -> float:
    total = torch.zeros(())
    for name, p in model.named_parameters():
        total = total + ((p.float() - reference[name].float()) ** 2).sum().cpu()
    return float(torch.sqrt(total))
