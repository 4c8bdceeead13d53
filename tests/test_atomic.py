"""envs.atomic: the one atomic-write helper behind the cache, checkpoints and run stores."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
import torch

from envs.atomic import atomic_write, remove_stale_temps, save_torch_atomic, write_text_atomic


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.txt"  # the folder is created
    assert write_text_atomic(path, "first\n") == path
    write_text_atomic(str(path), "second ü\n")
    assert path.read_text(encoding="utf-8") == "second ü\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def half_then_fail(f) -> None:
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):  # the caller's error, unchanged
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_torch_payload_round_trips(tmp_path: Path) -> None:
    path = save_torch_atomic({"w": torch.arange(5.0)}, tmp_path / "x.pt", mode=0o600)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(5.0))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_remove_stale_temps_deletes_only_that_files_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "ckpt[1].pt"  # glob characters in the name are escaped
    for name in (".ckpt[1].pt.abc.tmp", ".ckpt[1].pt.def.tmp", ".other.pt.abc.tmp", "ckpt[1].pt"):
        (tmp_path / name).write_bytes(b"x")
    remove_stale_temps(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.abc.tmp", "ckpt[1].pt"]
