"""Small torch helpers shared by the controllers and curiosity modules: seeded MLPs."""
from __future__ import annotations

import math

import torch
from torch import nn


def redraw_linear_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every ``nn.Linear`` in ``module`` as torch's default init does, from ``generator``.

    torch's own ``reset_parameters`` reads the global generator; this keeps weights a
    function of an explicit seed. Other layer types keep their (deterministic or global) init.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    bound = 1.0 / math.sqrt(layer.in_features)
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


def mlp(sizes: list[int], generator: torch.Generator) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them, seeded by ``generator``."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return redraw_linear_(nn.Sequential(*layers), generator)  # type: ignore[return-value]
