"""Imports point one way: envs never imports agents or training; the engine imports no RL;
benchmarks never import from tests (tests may import from benchmarks)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_envs_never_imports_agents_or_training():
    offenders = {str(p): _imported_modules(p) & {"agents", "training", "benchmarks"}
                 for p in (ROOT / "envs").rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_engine_imports_nothing_of_rl():
    rl = {"gymnasium", "gym", "pettingzoo", "stable_baselines3", "ray", "torchrl"}
    offenders = {str(p): _imported_modules(p) & rl for p in (ROOT / "envs" / "engine").rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_importing_envs_is_light_and_one_way():
    code = ("import sys, envs; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('agents', 'training', 'torchvision', 'sklearn', 'mlxtend')]; print(bad); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


TEST_MODULES = {p.stem for p in (ROOT / "tests").glob("*.py")} | {"tests"}
NOT_YET: dict[str, str] = {}
"""Benchmark modules allowed, for a stated reason, to break the rule (none)."""


BENCHMARK_FILES = sorted(str(p.relative_to(ROOT / "benchmarks"))
                         for p in (ROOT / "benchmarks").rglob("*.py"))
"""Every module of ``benchmarks``: the commands at the top and each product's subpackage."""


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[name]))
    if name in NOT_YET else name for name in BENCHMARK_FILES])
def test_benchmarks_never_import_from_tests(name):
    path = ROOT / "benchmarks" / name
    assert not _imported_modules(path) & TEST_MODULES
    assert "sys.path" not in path.read_text(), "a sys.path entry would reach into tests/"


def _module_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for package in ("envs", "agents", "training", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    return files


def _runtime_imports(path: Path, files: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports at run time, anywhere in the file (a function's
    import too), except under ``if TYPE_CHECKING:``."""
    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(branch.test)
                   for child in branch.body for node in ast.walk(child)}
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(owner(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(owner(f"{node.module}.{alias.name}") for alias in node.names)
    return {name for name in found if name is not None}


def test_no_module_imports_the_module_that_imports_it():
    """No import circle between two modules (a package and its own submodules aside): loading
    goes one way, so each module can be read, and imported, on its own."""
    files = _module_files()
    graph = {name: _runtime_imports(path, files) - {name} for name, path in files.items()}
    circles = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                      if a in graph.get(b, ()) and not (a.startswith(b + ".")
                                                        or b.startswith(a + "."))})
    assert not circles, circles
