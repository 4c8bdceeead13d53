"""Every ``python -m`` command's ``--help`` teaches (``training.core.cli``'s formatter).

For every command and subcommand of ``training`` and ``benchmarks``, its real parser (the one
its ``main`` builds, caught at its ``parse_args``) is checked:

* every flag and positional has help, a phrase of its own (not a bare "Do not");
* the help shows no reST markup (no double backticks, no ``:role:`` references) and no path
  of this machine (a default under the repository shows relative to it);
* the epilog gives an example command line of that command, and each example parses;
* a command with more than 6 flags groups them (at least 2 argument groups of its own).

Nothing is trained: building a parser only imports the module.
"""
from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path
from unittest import mock

import pytest

from training.core import cli

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = sorted(
    f"{p.parent.name}.{p.stem}" for folder in ("training", "benchmarks")
    for p in (ROOT / folder).glob("*.py") if 'if __name__ == "__main__":' in p.read_text())
"""Every ``python -m`` module of ``training`` and ``benchmarks``."""
COMMANDS: dict[str, tuple[str, ...]] = {
    "training.run_marl": (),
    "training.meta_train": (),
    "training.imitate": ("demos", "fit", "select"),
    "training.publish": (),
    "benchmarks.ablations": (),
    "benchmarks.algoperf": ("targets", "score"),
    "benchmarks.budgets": (),
    "benchmarks.credit_assignment": (),
    "benchmarks.data_fingerprints": (),
    "benchmarks.dataset": ("collect", "export"),
    "benchmarks.first_decisions": (),
    "benchmarks.headroom": (),
    "benchmarks.learner_curves": (),
    "benchmarks.machine": (),
    "benchmarks.normalised": (),
    "benchmarks.overhead": (),
    "benchmarks.peers": (),
    "benchmarks.protocol": (),
    "benchmarks.reliability": (),
    "benchmarks.static_recipes": (),
    "benchmarks.surrogate": ("fit", "fidelity", "train"),
    "benchmarks.task_sets": (),
    "benchmarks.throughput": (),
    "benchmarks.user_loop": (),
    "benchmarks.zero_shot": (),
}
"""Every command and its subcommands."""
PARSERS = [pytest.param(module, words, id=" ".join((module, *words)))
           for module, subcommands in COMMANDS.items()
           for words in [(), *((s,) for s in subcommands)]]
"""Every parser: a command's, and each of its subcommands'."""
MAX_UNGROUPED = 6
"""A parser with more flags than this groups them."""
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`")


class _Built(Exception):
    """Carries the parser a command's ``main`` was about to parse with."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser built")
        self.parser = parser


def _caught(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
    raise _Built(self)


_TOP: dict[str, argparse.ArgumentParser] = {}


def top_parser(module: str) -> argparse.ArgumentParser:
    """The parser ``python -m <module>`` parses its arguments with (built once)."""
    if module not in _TOP:
        main = importlib.import_module(module).main
        with mock.patch.object(argparse.ArgumentParser, "parse_args", _caught), \
                mock.patch.object(argparse.ArgumentParser, "parse_known_args", _caught), \
                pytest.raises(_Built) as built:
            main([])
        _TOP[module] = built.value.parser
    return _TOP[module]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands' parsers, by name (empty if it has none)."""
    return {name: sub for action in parser._actions
            if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()}


def parser_of(module: str, words: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of ``python -m <module> <words...>``."""
    parser = top_parser(module)
    for word in words:
        parser = subcommands(parser)[word]
    return parser


def examples(epilog: str) -> list[str]:
    """The command lines of an epilog's example block: continuation lines joined, comments
    left out."""
    lines, current = [], ""
    for raw in epilog.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#") or line.endswith(":")):
            continue
        current = f"{current} {line}".strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            lines.append(current)
            current = ""
    return lines + ([current] if current else [])


# ------------------------------------------------------------------ the list of commands
def test_the_list_covers_every_entry_point():
    assert set(COMMANDS) == set(ENTRY_POINTS)


def test_each_command_has_one_main_block_at_the_top():
    """A command's code lives in a product's subpackage (``benchmarks.expert.headroom``); the
    module users run (``benchmarks/headroom.py``) holds its one ``__main__`` block, so no module
    of a subpackage has one."""
    nested = sorted(str(p.relative_to(ROOT)) for folder in ("training", "benchmarks")
                    for p in (ROOT / folder).rglob("*.py") if p.parent != ROOT / folder
                    and 'if __name__ == "__main__":' in p.read_text())
    assert not nested, f"a __main__ block below the top: {nested}"


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_the_list_names_each_commands_subcommands(module):
    assert tuple(subcommands(top_parser(module))) == COMMANDS[module]
    assert top_parser(module).prog == f"python -m {module}"


# ------------------------------------------------------------------ each parser
@pytest.mark.parametrize("module, words", PARSERS)
def test_every_flag_has_help_of_its_own(module, words):
    parser = parser_of(module, words)
    missing, bare = [], []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        text = (action.help or "").strip()
        if not text or text == argparse.SUPPRESS:
            missing.append(name)
        elif re.fullmatch(r"do not\W*", text, re.IGNORECASE):
            bare.append(name)
        if isinstance(action, argparse._SubParsersAction):
            missing += [f"{name} {choice.dest}" for choice in action._choices_actions
                        if not (choice.help or "").strip()]
    assert not missing, f"no help: {missing}"
    assert not bare, f"help that says only 'Do not': {bare}"


@pytest.mark.parametrize("module, words", PARSERS)
def test_help_shows_no_markup_and_no_local_path(module, words):
    text = parser_of(module, words).format_help()
    assert "``" not in text
    assert not _ROLE.search(text), _ROLE.search(text)
    assert str(ROOT) not in text, "a default path shows this machine's checkout"


@pytest.mark.parametrize("module, words", PARSERS)
def test_the_epilog_gives_an_example_that_parses(module, words):
    parser = parser_of(module, words)
    command = " ".join(("python -m", module, *words))
    assert parser.epilog and command in parser.epilog, f"no example of {command!r}"
    ours = [line for line in examples(parser.epilog) if f"python -m {module}" in line]
    assert ours
    for line in ours:
        argv = shlex.split(line.split(f"python -m {module}", 1)[1])
        if words:
            assert argv[:len(words)] == list(words), line
        args, _ = cli.split_debug(argv)
        try:
            top_parser(module).parse_args(args)
        except SystemExit as error:  # argparse refused it: the example is not a valid command
            pytest.fail(f"the example does not parse ({error}): {line}")


@pytest.mark.parametrize("module, words", PARSERS)
def test_a_long_list_of_flags_is_grouped(module, words):
    parser = parser_of(module, words)
    flags = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    own_groups = [g for g in parser._action_groups[2:] if g._group_actions]
    if len(flags) > MAX_UNGROUPED:
        assert len(own_groups) >= 2, (
            f"{len(flags)} flags in {len(own_groups)} groups of its own: group them with "
            "add_argument_group")


# ------------------------------------------------------------------ the formatter
def test_a_default_path_under_the_repository_shows_relative_to_it():
    p = cli.parser("benchmarks.x", "The x.")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "x.md",
                   help="the report")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no bar")
    p.add_argument("--seed", type=int, default=0, help="the seed")
    text = p.format_help()
    assert "(default: benchmarks/results/x.md)" in text
    assert "(default: 0)" in text  # 0 is a value, not "no default"
    assert "(default: True)" not in text  # a switch's implied value says nothing


def test_a_help_that_names_its_default_gets_no_second_one():
    p = cli.parser("benchmarks.x", "The x.")
    p.add_argument("--a", default="x", help="a thing (default: x)")
    p.add_argument("--b", default="y", help="a thing besides the default recipe")
    text = p.format_help()
    assert text.count("default: x") == 1
    assert "besides the default recipe (default: y)" in " ".join(text.split())


def test_subcommand_and_example_epilog():
    p = cli.parser("benchmarks.x", "The x.", example="python -m benchmarks.x run --n 1")
    sub = p.add_subparsers(dest="command", required=True, help="what to do")
    run = cli.subcommand(sub, "run", "run the ``x``", "python -m benchmarks.x run --n 2")
    run.add_argument("--n", type=int, default=1, help="how many")
    assert p.epilog == "example:\n  python -m benchmarks.x run --n 1"
    assert run.epilog == "example:\n  python -m benchmarks.x run --n 2"
    assert "run the x" in run.format_help() and "``" not in p.format_help()


def test_show_defaults_names_a_config_default():
    p = cli.parser("benchmarks.x", "The x.")
    p.add_argument("--episodes", type=int, help="episodes in all")
    p.add_argument("--init", help="weights to start from")
    cli.show_defaults(p, {"episodes": 200, "init": ""})
    text = " ".join(p.format_help().split())
    assert "episodes in all (default: 200)" in text
    assert "weights to start from (default" not in text
