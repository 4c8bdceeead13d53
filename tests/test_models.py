"""Tests for envs.engine.models: shapes, sizes, optional backbones and local weights."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from envs.engine.models import BACKBONES, ResNet, SmallCNN, build_model
from envs.errors import CheckpointError, ConfigError


def _images(b: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_builtin_backbones_are_listed() -> None:
    assert BACKBONES[:2] == ("small_cnn", "resnet")
    assert isinstance(build_model("small_cnn", 3), SmallCNN)
    assert isinstance(build_model("resnet", 3), ResNet)


def test_small_cnn_size() -> None:
    model = build_model("small_cnn", 80)
    count = sum(p.numel() for p in model.parameters())
    assert 300_000 <= count <= 500_000
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]


def test_resnet_uses_basic_blocks_with_the_requested_widths() -> None:
    model = build_model("resnet", 10)
    blocks = [m for m in model.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 8
    assert sorted({b.conv2.out_channels for b in blocks}) == [32, 64, 128, 256]


@pytest.mark.parametrize("name,size", [("small_cnn", 16), ("small_cnn", 32), ("small_cnn", 97),
                                       ("resnet", 16), ("resnet", 40)])
def test_forward_shapes_train_and_eval(name: str, size: int) -> None:
    model = build_model(name, 7)
    out = model(_images(4, size))
    assert out.shape == (4, 7) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model(_images(1, size)).shape == (1, 7)


def test_resnet_runs_at_448_px() -> None:
    model = build_model("resnet", 5).eval()
    with torch.no_grad():
        assert model(_images(1, 448)).shape == (1, 5)


@pytest.mark.parametrize("name", ["small_cnn", "resnet"])
def test_channels_last_and_bf16_autocast(name: str) -> None:
    model = build_model(name, 6).eval()
    x = _images(3, 32)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model_cl(x.contiguous(memory_format=torch.channels_last))
    assert low.shape == (3, 6) and torch.isfinite(low).all()
    assert (low.float() - ref).abs().max() < 0.25 * ref.abs().max() + 0.1


def test_unknown_names_raise_config_error_listing_choices() -> None:
    for bad in ("vgg", "tv:", "timm:", "Small_CNN"):
        with pytest.raises(ConfigError, match="small_cnn"):
            build_model(bad, 3)
    with pytest.raises(ConfigError):
        build_model("small_cnn", 0)


def test_missing_optional_libraries_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)                 # import timm -> ImportError
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    with pytest.raises(ConfigError, match=r"mlic-marl\[vision\]"):
        build_model("timm:resnet18", 3)
    with pytest.raises(ConfigError, match="torchvision"):
        build_model("tv:resnet18", 3)


def test_weights_path_loads_backbone_and_replaces_head(tmp_path: Path) -> None:
    source = build_model("small_cnn", 10)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)                                             # distinguishable weights
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    model = build_model("small_cnn", 4, weights_path=str(path))
    for key, value in source.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(model.state_dict()[key], value), key
    assert model.head.out_features == 4
    torch.save({"state_dict": source.state_dict()}, path)          # wrapped form
    wrapped = build_model("small_cnn", 10, weights_path=path)
    assert torch.equal(wrapped.features[0].weight, source.features[0].weight)
    assert not torch.equal(wrapped.head.weight, source.head.weight)  # head always fresh


def test_weights_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.pt"):
        build_model("small_cnn", 3, weights_path=str(tmp_path / "nope.pt"))
    path = tmp_path / "resnet.pt"
    torch.save(build_model("resnet", 3).state_dict(), path)
    with pytest.raises(CheckpointError, match="does not match"):
        build_model("small_cnn", 3, weights_path=str(path))
    partial = build_model("small_cnn", 3).state_dict()
    partial.pop("features.0.weight")
    torch.save(partial, path)
    with pytest.raises(CheckpointError, match="features.0.weight"):
        build_model("small_cnn", 3, weights_path=str(path))
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        build_model("small_cnn", 3, weights_path=str(tmp_path / "garbage.pt"))


@pytest.mark.parametrize("size", [16, 24, 30])
def test_digits_v1_backbones_train_on_any_size(size: int) -> None:
    """The task set digits-v1's architectures: outputs of the right shape, gradients flow."""
    for name in ("small_cnn_half", "gn_resnet", "patch_mlp"):
        model = build_model(name, 5)
        out = model(_images(2, size))
        assert out.shape == (2, 5)
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters()), name


def test_gn_resnet_has_no_batchnorm_and_patch_mlp_no_convolution() -> None:
    gn = build_model("gn_resnet", 4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gn.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in gn.modules())
    mlp = build_model("patch_mlp", 4)
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)) for m in mlp.modules())
    half = build_model("small_cnn_half", 4)
    assert [c.out_channels for c in half.modules() if isinstance(c, torch.nn.Conv2d)] == \
        [16, 32, 64, 128]
