"""Classifier backbones for the training engine (pure torch; optional torchvision/timm).

``build_model(name, num_classes, weights_path=None)`` returns an ``nn.Module`` mapping
float images ``[B, 3, H, W]`` (already normalised by the trainer) to logits
``[B, num_classes]``. Built-in backbones end in global average pooling, so they work at
any input size (16 px and up):

``small_cnn``   four Conv-BN-ReLU layers 32-64-128-256 (strides 2, 2, 2, 1), global
                average pooling and a linear head; ~0.41M parameters with 80 classes.
                Built for CPU speed at 32 px: the stride-2 stem keeps every layer
                at 16x16 or below, so one training step on 64 images costs ~20 ms on
                2 cores with channels_last.
``resnet``      a ResNet-18 layout (He et al., CVPR 2016) at half width: a 3x3 stride-1
                stem, four stages of two BasicBlocks with widths 32-64-128-256 and
                strides 1, 2, 2, 2, global average pooling; ~2.8M parameters. Its
                compute grows with the input area (no stride-2 stem), so prefer
                ``tv:``/``timm:`` models for large images.
``small_cnn_half`` ``small_cnn`` at half width (16-32-64-128); ~0.1M parameters.
``gn_resnet``   a residual CNN with GroupNorm and no BatchNorm: a 3x3 stride-2 stem, three
                stages of one BasicBlock-style residual block (widths 16-32-64, strides
                1, 2, 2), GroupNorm(8) throughout, global average pooling; ~0.08M
                parameters. Its statistics do not depend on the batch, unlike BatchNorm's.
``patch_mlp``   no convolutions: 4x4 patches (cut by reshapes, zero-padded to a multiple of
                8 px) embedded by one linear map, a residual MLP block per token, 2x2 patch
                merging (concatenation and a linear map), a second block, mean over tokens
                and a linear head; ~0.1M parameters.
``tv:<name>``   ``torchvision.models.get_model(<name>)`` (needs a torchvision build that
                matches torch); listed in :data:`BACKBONES` when torchvision is installed.
``timm:<name>`` ``timm.create_model(<name>)`` (the ``vision`` extra); listed when installed.

Optional libraries are imported lazily, only when such a model is built; a missing
or broken one raises ``ConfigError`` naming what to install. No model downloads
weights: ``weights_path`` loads a local ``state_dict`` file instead. Its backbone
entries must match the model exactly (strict); the classifier head is always freshly
initialised for ``num_classes`` (the file's head, whatever its size, is ignored).
"""
from __future__ import annotations

import importlib.util
import os
import zipfile
from typing import Any, Callable

import torch
from torch import Tensor, nn

from envs.engine.weights import archive_problem
from envs.errors import CheckpointError, ConfigError

__all__ = ["BACKBONES", "GNResNet", "PatchMLP", "ResNet", "SmallCNN", "build_model"]


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """3x3 convolution (no bias), batch norm and ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Fast CPU classifier: Conv-BN-ReLU 32-64-128-256, global pooling, linear head."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (32, 64, 128, 256),
                 strides: tuple[int, ...] = (2, 2, 2, 1), dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for width, stride in zip(widths, strides):
            layers += _conv_bn_relu(c_in, width, stride)
            c_in = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B, num_classes]."""
        return self.head(self.dropout(self.features(x)))


class BasicBlock(nn.Module):
    """Two 3x3 Conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with BasicBlocks, a 3x3 stem and global average pooling."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (32, 64, 128, 256),
                 blocks: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        layers: list[nn.Module] = _conv_bn_relu(3, widths[0])
        c_in = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(c_in, width, stride))
                c_in = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B, num_classes]."""
        return self.head(self.features(x))


class GNResidualBlock(nn.Module):
    """Two 3x3 Conv-GroupNorm layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, groups: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.GroupNorm(groups, c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.GroupNorm(groups, c_out))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.GroupNorm(groups, c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class GNResNet(nn.Module):
    """Residual CNN with GroupNorm: stride-2 stem, one residual block per stage, pooling."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (16, 32, 64),
                 strides: tuple[int, ...] = (1, 2, 2)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
                                   nn.GroupNorm(8, widths[0]), nn.ReLU(inplace=True)]
        c_in = widths[0]
        for width, stride in zip(widths, strides):
            layers.append(GNResidualBlock(c_in, width, stride))
            c_in = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B, num_classes]."""
        return self.head(self.features(x))


class TokenBlock(nn.Module):
    """A pre-norm residual MLP applied to every token alone: x + W2 gelu(W1 norm(x))."""

    def __init__(self, dim: int, expansion: int = 2) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, expansion * dim), nn.GELU(),
                                 nn.Linear(expansion * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(x)


def _patches(x: Tensor, size: int) -> Tensor:
    """``[B, C, H, W]`` (H, W multiples of ``size``) to ``[B, H/size, W/size, C*size*size]``."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // size, size, w // size, size)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, h // size, w // size, c * size * size)


class PatchMLP(nn.Module):
    """No convolutions: patch embedding, token MLPs, one 2x2 patch merge, mean pooling."""

    def __init__(self, num_classes: int, dims: tuple[int, int] = (64, 128), patch: int = 4) -> None:
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(3 * patch * patch, dims[0])
        self.block1 = TokenBlock(dims[0])
        self.merge = nn.Sequential(nn.LayerNorm(4 * dims[0]), nn.Linear(4 * dims[0], dims[1]))
        self.block2 = TokenBlock(dims[1])
        self.norm = nn.LayerNorm(dims[1])
        self.head = nn.Linear(dims[1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B, num_classes]."""
        step = 2 * self.patch
        pad_h, pad_w = -x.shape[2] % step, -x.shape[3] % step
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h))
        tokens = self.block1(self.embed(_patches(x, self.patch)))        # [B, h, w, d0]
        b, h, w, d = tokens.shape
        merged = tokens.reshape(b, h // 2, 2, w // 2, 2, d).permute(0, 1, 3, 2, 4, 5)
        tokens = self.block2(self.merge(merged.reshape(b, h // 2, w // 2, 4 * d)))
        return self.head(self.norm(tokens.mean(dim=(1, 2))))


def _small_cnn_half(num_classes: int) -> SmallCNN:
    return SmallCNN(num_classes, widths=(16, 32, 64, 128))


# ------------------------------------------------------------------- optional libraries
def _torchvision_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised torchvision model with a ``num_classes`` head."""
    try:
        import torchvision.models as tv_models
    except (ImportError, RuntimeError, OSError) as exc:
        raise ConfigError(
            f"backbone 'tv:{arch}' needs torchvision, which could not be imported ({exc}); "
            "install a torchvision build that matches your torch") from exc
    try:
        return tv_models.get_model(arch, weights=None, num_classes=num_classes)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"unknown torchvision model {arch!r}; see "
                          "torchvision.models.list_models()") from exc


def _timm_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised timm model with a ``num_classes`` head."""
    try:
        import timm
    except (ImportError, RuntimeError, OSError) as exc:
        raise ConfigError(
            f"backbone 'timm:{arch}' needs timm, which could not be imported ({exc}); "
            "install the vision extra: pip install 'mlic-marl[vision]'") from exc
    try:
        return timm.create_model(arch, pretrained=False, num_classes=num_classes)
    except RuntimeError as exc:  # timm raises RuntimeError("Unknown model ...")
        raise ConfigError(f"unknown timm model {arch!r}; see timm.list_models()") from exc


_BUILTIN: dict[str, Callable[[int], nn.Module]] = {
    "small_cnn": SmallCNN, "resnet": ResNet, "small_cnn_half": _small_cnn_half,
    "gn_resnet": GNResNet, "patch_mlp": PatchMLP}
_PREFIXED: dict[str, tuple[str, Callable[[str, int], nn.Module]]] = {
    "tv:": ("torchvision", _torchvision_model),
    "timm:": ("timm", _timm_model),
}

BACKBONES: tuple[str, ...] = tuple(_BUILTIN) + tuple(
    f"{prefix}<name>" for prefix, (module, _) in _PREFIXED.items()
    if importlib.util.find_spec(module) is not None)
"""Valid backbone names; ``tv:<name>`` / ``timm:<name>`` appear when the library is installed."""


# ---------------------------------------------------------------------------- weights
def _head_prefix(model: nn.Module) -> str:
    """Name of the classifier module whose parameters a weights file does not supply."""
    if isinstance(model, (SmallCNN, ResNet, GNResNet, PatchMLP)):
        return "head"
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(cfg, dict) and isinstance(cfg.get("classifier"), str):
        return cfg["classifier"]                        # timm
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError(f"cannot find the classifier head of {type(model).__name__}")
    return linears[-1]


def classifier_head(model: nn.Module) -> nn.Module:
    """The classifier module of ``model`` (the part pretrained weights never supply)."""
    return model.get_submodule(_head_prefix(model))


def _read_state_dict(path: str) -> dict[str, Tensor]:
    """Load a state_dict (optionally wrapped under 'state_dict' or 'model') from a file."""
    if not os.path.isfile(path):
        raise ConfigError(f"weights file not found: {path!r}")
    # torch.save writes a zip, whose checksums torch.load does not check: flipped bytes would
    # load as weights. A file that is no zip at all may be torch's legacy format: torch decides.
    problem = archive_problem(path) if zipfile.is_zipfile(path) else None
    if problem is not None:
        raise _damaged(path, problem)
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        first = (str(exc).strip().splitlines() or [""])[0][:200]  # torch's run to pages
        raise _damaged(path, f"{type(exc).__name__}: {first}") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"weights file {path!r} does not hold a state_dict of tensors")
    return state


def _damaged(path: str, detail: str) -> CheckpointError:
    return CheckpointError(f"weights file {path!r} is damaged ({detail}): it is truncated or "
                           "corrupted, or not a torch.save file; copy or download it again")


def _load_backbone(model: nn.Module, path: str) -> None:
    """Load every non-head entry of ``path`` into ``model``, strictly."""
    head = _head_prefix(model) + "."
    state = {k: v for k, v in _read_state_dict(path).items() if not k.startswith(head)}
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(head)}
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    wrong = sorted(k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"weights file {path!r} does not match this backbone: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}")
    model.load_state_dict(state, strict=False)


def build_model(name: str, num_classes: int, *, weights_path: str | None = None) -> nn.Module:
    """The backbone ``name`` with a ``num_classes`` head, optionally loading local weights."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    if name in _BUILTIN:
        model = _BUILTIN[name](num_classes)
    else:
        prefix = next((p for p in _PREFIXED if name.startswith(p)), None)
        if prefix is None or not name[len(prefix):]:
            raise ConfigError(f"unknown backbone {name!r}; valid choices: {', '.join(_BUILTIN)}, "
                              "tv:<name> (needs torchvision), timm:<name> (needs timm)")
        model = _PREFIXED[prefix][1](name[len(prefix):], num_classes)
    if weights_path is not None:
        _load_backbone(model, os.fspath(weights_path))
    return model
