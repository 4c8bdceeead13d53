"""The set-up is locked: constraints.txt pins every package the project installs.

``make setup`` installs with ``-c constraints.txt`` (and ``--build-constraint``), so a fresh
machine resolves exactly the versions CI ran; ``make lock`` regenerates the file. Here the
installed closure of the project's requirements (with the extras ``make setup`` installs)
must be pinned there, at the versions installed, and torch must be the CPU build.
"""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
EXTRAS = re.search(r"^EXTRAS\s*:=\s*(\S+)", MAKEFILE, re.M).group(1).split(",")


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt line {line!r} is not an exact pin"
            assert canonicalize_name(name) not in pins, f"{name} is pinned twice"
            pins[canonicalize_name(name)] = version
    return pins


def _closure() -> dict[str, str]:
    """Installed name -> version of everything mlic-marl[EXTRAS] needs, transitively."""
    seen: dict[str, str] = {}
    todo = [Requirement(f"mlic-marl[{','.join(EXTRAS)}]")]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        dist = metadata.distribution(req.name)
        for extra in sorted(req.extras) or [""]:
            key = f"{name}[{extra}]"
            if key in seen:
                continue
            seen[key] = dist.version
            for dep in (Requirement(r) for r in dist.requires or []):
                if dep.marker is None or dep.marker.evaluate({"extra": extra}):
                    todo.append(dep)
    return {k.split("[")[0]: v for k, v in seen.items() if not k.startswith("mlic-marl[")}


def test_every_installed_dependency_is_pinned_at_its_version():
    pins, closure = _pins(), _closure()
    assert len(closure) > 50  # the walk really followed the requirements
    unpinned = sorted(set(closure) - set(pins))
    assert not unpinned, f"not in constraints.txt (run `make lock`): {unpinned}"
    differ = {n: (closure[n], pins[n]) for n in closure if closure[n] != pins[n]}
    assert not differ, f"installed != pinned (run `make setup` or `make lock`): {differ}"


def test_torch_is_the_cpu_build_and_no_cuda_package_is_pinned():
    pins = _pins()
    assert pins["torch"].endswith("+cpu")
    assert not [n for n in pins if n.startswith("nvidia")]
    assert "torch==2.13.0" in MAKEFILE and "--build-constraint" in MAKEFILE
