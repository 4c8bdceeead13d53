"""Weight initialisation from an explicit generator.

PyTorch layers initialise themselves from the global RNG. To keep seeding local to
``reset(seed=...)`` (no ``torch.manual_seed`` in library code), the trainer
re-initialises every layer from its own ``torch.Generator``, with the same
distributions PyTorch's defaults use (``kaiming_uniform_(a=sqrt(5))`` for conv and
linear weights, a fan-in uniform bias, ones/zeros for normalisation layers).
"""
from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every conv, linear and norm layer of ``model`` from ``generator``."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight[0].numel()  # in_channels * kernel elements
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
