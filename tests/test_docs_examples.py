"""Every ```python block of the docs runs, as a reader would paste it, and the docs build.

The docs are README.md and every page under docs/ (``DOC_PAGES``). Each fenced ```python
block runs on its own, in a fresh module namespace and a fresh temporary working directory (so
what it writes, e.g. ``runs/...``, stays out of the checkout), with the envs it builds at the
tiny test size: ``envs.make`` (and so ``envs.make_joint``) fills in ``conftest.TINY``'s
settings for every setting the block does not give itself, and builds a ``Task`` shrunk by
``envs.task_sets.shrink``; the surrogate env is built as it is. A block marked by the HTML
comment ``<!-- slow -->`` on the line before it runs under ``pytest.mark.slow``.

Blocks name real objects: an undefined name fails here, and an ``...`` placeholder is refused
before the block runs. Two blocks restate code that lives elsewhere and are compared with it:
the contract table of ``docs/guides/own-algorithm.md`` lists every abstract method of
``agents.Controller``, and the protocol page's ``MyController`` is
``examples/protocol_controller.py``. The environment page's list of the ``EnvConfig`` fields
that are ``run_marl`` flags is ``training.core.config.ENV_FLAGS``.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import re
import subprocess
import sys
import tokenize
import types
from pathlib import Path
from typing import Any

import pytest

import envs
from agents import Controller
from conftest import TINY
from doc_pages import DOC_PAGES
from envs.task_sets import shrink

ROOT = Path(__file__).resolve().parents[1]
SLOW = "<!-- slow -->"


@dataclasses.dataclass(frozen=True)
class Block:
    """One ```python block of a docs page."""

    page: Path
    line: int
    """The 1-based line of its opening fence."""
    code: str
    slow: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


def python_blocks() -> list[Block]:
    """Every ```python block of ``DOC_PAGES``, in page order."""
    blocks = []
    for page in DOC_PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```python":
                end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
                before = next((lines[k].strip() for k in range(i - 1, -1, -1)
                               if lines[k].strip()), "")
                blocks.append(Block(page, i + 1, "\n".join(lines[i + 1:end]) + "\n",
                                    slow=before == SLOW))
                i = end
            i += 1
    return blocks


BLOCKS = python_blocks()


def _param(block: Block) -> Any:
    return pytest.param(block, id=block.name, marks=[pytest.mark.slow] if block.slow else [])


@pytest.fixture()
def tiny_envs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``envs.make`` at the tiny test size, for every setting the caller does not give."""
    real = envs.make

    def make(env_id: Any, **overrides: Any) -> Any:
        if isinstance(env_id, envs.Task):
            return real(shrink(env_id), **overrides)
        if isinstance(env_id, str) and env_id.startswith("mlic-surrogate"):
            return real(env_id, **overrides)
        return real(env_id, **{**TINY.overrides(), **overrides})

    monkeypatch.setattr(envs, "make", make)


def placeholders(code: str) -> list[int]:
    """Lines of ``code`` where ``...`` stands for code (in a comment or a string it is prose)."""
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [t.start[0] for t in tokens if t.type == tokenize.OP and t.string == "..."]


def test_the_docs_have_python_blocks_and_some_run_fast():
    assert len(BLOCKS) >= 15
    assert sum(not b.slow for b in BLOCKS) >= len(BLOCKS) - 3
    assert {b.page.name for b in BLOCKS} >= {"README.md", "own-algorithm.md", "user-loop.md"}


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_python_block_runs(block: Block, tiny_envs: None, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert not placeholders(block.code), f"{block.name}: '...' placeholder on line(s) " \
                                         f"{placeholders(block.code)} of the block"
    monkeypatch.chdir(tmp_path)
    name = "docs_block_" + re.sub(r"\W", "_", block.name)
    module = types.ModuleType(name)
    module.__file__ = str(tmp_path / f"{name}.py")
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses and pickling look it up
    exec(compile(block.code, block.name, "exec"), module.__dict__)


def test_the_contract_lists_every_abstract_method_of_controller():
    page = (ROOT / "docs/guides/own-algorithm.md").read_text(encoding="utf-8")
    contract = page[page.index("## The controller contract"):]
    abstract = sorted(Controller.__abstractmethods__)
    assert len(abstract) >= 6
    for name in abstract:
        parameters = ", ".join(["self", *list(inspect.signature(getattr(Controller, name))
                                             .parameters)[1:]])
        assert f"`{name}(" in contract, f"the contract does not list {name}"
        listed = re.search(rf"`{name}\(([^)]*)\)", contract).group(1)
        assert [p.split("=")[0].split(":")[0].strip() for p in listed.split(",")] == \
            [p.strip() for p in parameters.split(",")], (name, listed)


def test_the_protocol_example_is_the_example_file():
    page = (ROOT / "docs/guides/protocol.md").read_text(encoding="utf-8")
    (block,) = [b for b in BLOCKS if b.page.name == "protocol.md" and "MyController" in b.code]
    source = (ROOT / "examples/protocol_controller.py").read_text(encoding="utf-8")
    assert block.code == source[source.index("from __future__"):]
    assert "examples/protocol_controller.py" in page


def test_the_environment_page_lists_the_run_marl_env_flags():
    """docs/environment.md names the ``EnvConfig`` fields that are also ``run_marl`` flags, and
    how many: ``training.core.config.ENV_FLAGS`` but ``reward_kind`` (its own sentence)."""
    from training.core.config import ENV_FLAGS
    numbers = {14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
               19: "nineteen", 20: "twenty"}
    page = " ".join((ROOT / "docs/environment.md").read_text(encoding="utf-8").split())
    listed = re.search(r"one docstring per field\): (.*?) \(these (\w+) are also `run_marl` "
                       r"flags", page)
    assert listed, "the sentence listing the EnvConfig fields that are run_marl flags is gone"
    names = re.findall(r"`(\w+)`", listed.group(1))
    flags = [f for f in ENV_FLAGS if f != "reward_kind"]
    assert sorted(names) == sorted(flags) and len(names) == len(set(names))
    assert listed.group(2) == numbers[len(flags)]
    assert "`--reward-kind`" in page


def test_the_docs_build_without_warnings(tmp_path: Path) -> None:
    """``make docs``'s build: Sphinx with warnings as errors (the CLI reference runs every
    command's --help), into a temporary folder."""
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(ROOT / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "html" / "cli.html").is_file()
