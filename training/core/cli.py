"""How every ``python -m`` command of ``training`` and ``benchmarks`` speaks (issue 31).

* A project error (``envs.errors.MLICError``, the root of every error the project raises on
  purpose) ends the command with one ``error: <message>`` paragraph on stderr and exit status
  2, as argparse's own usage errors do. Anything else is a bug and keeps its traceback.
* ``--debug`` (any command) re-raises the project error instead, so its traceback shows.
* Counts, sizes and indices are checked at parse time by the argparse types below, so the
  error names the flag (``argument --seeds: must be a positive integer, got 0``).

A command applies :func:`command` to its ``main(argv)``::

    @cli.command
    def main(argv: list[str] | None = None) -> Path:   # a result; errors raise SystemExit(2)
        args = cli.parser("benchmarks.x", __doc__).parse_args(argv)

    @cli.command(returns_status=True)
    def main(argv: list[str] | None = None) -> int:    # an exit status; errors return 2

The first kind keeps argparse's convention (``main`` returns what it made and exits on bad
input), the second is for commands whose ``main`` already returns an exit status
(``training.run_marl``, ``meta_train``, ``imitate``, ``publish``). ``python -m`` runs them
as ``main()`` and ``sys.exit(main())``.
"""
from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

from envs.errors import MLICError

EXIT_USAGE = 2
"""The exit status of bad input: a project error or an argparse usage error."""
DEBUG = "--debug"
"""The flag that shows a project error's traceback instead of its one-paragraph message."""
DEBUG_HELP = "on a project error, show its traceback (for a bug report) instead of 'error: ...'"

F = TypeVar("F", bound=Callable[..., Any])


def split_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug`` (before a ``--`` that ends the options), and whether it
    was there."""
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != DEBUG] + args[end:]
    return kept, len(kept) != len(args)


def report(error: MLICError) -> None:
    """Print a project error as the commands do: ``error: <message>`` on stderr."""
    print(f"error: {error}", file=sys.stderr)


@overload
def command(main: F) -> F:
    ...


@overload
def command(*, returns_status: bool = False) -> Callable[[F], F]:
    ...


def command(main: F | None = None, *, returns_status: bool = False) -> Any:
    """Decorate a command's ``main(argv=None, **kwargs)``: ``--debug`` is taken out of
    ``argv`` (``sys.argv[1:]`` when None); a project error is reported with :func:`report`,
    then ``main`` returns ``EXIT_USAGE`` (``returns_status``) or raises ``SystemExit(2)``;
    with ``--debug`` it propagates. Other exceptions (bugs) always propagate."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(argv: Sequence[str] | None = None, **kwargs: Any) -> Any:
            args, debug = split_debug(sys.argv[1:] if argv is None else argv)
            try:
                return function(args, **kwargs)
            except MLICError as error:
                if debug:
                    raise
                report(error)
                if returns_status:
                    return EXIT_USAGE
                raise SystemExit(EXIT_USAGE) from None
        return run  # type: ignore[return-value]
    return decorate(main) if main is not None else decorate


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """List ``--debug`` in ``parser``'s help (``command`` takes it out of argv before any
    parser sees it, so it never reaches the parsed arguments)."""
    parser.add_argument(DEBUG, action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(text: str) -> str:
    """``text`` with the reST markup of docstrings taken out, for a terminal:
    ``:class:`~envs.Task``` becomes ``Task``, a ``literal`` its bare text, ``::`` a colon."""
    def role(match: re.Match[str]) -> str:
        name = match.group(1)
        return name.rsplit(".", 1)[-1] if match.group(0).count("`~") else name
    text = _ROLE.sub(role, text)
    return _LITERAL.sub(r"\1", text).replace("::", ":")


ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: a default path under it is shown relative to it."""


def shown(value: Any) -> str:
    """A default as a help text shows it: a path under the repository relative to it (so help
    reads the same on every machine), a list or tuple comma-separated (as the flags take
    them), anything else as text."""
    if isinstance(value, Path) and value.is_absolute():
        try:
            return str(value.relative_to(ROOT))
        except ValueError:
            return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(shown(v) for v in value)
    return str(value)


def _hidden_default(action: argparse.Action) -> bool:
    """Whether ``action``'s default says nothing worth a "(default: ...)": None, empty, or
    the implied value of a switch (``store_true``/``store_false``/``store_const``)."""
    default = action.default
    return (action.nargs == 0 or default is argparse.SUPPRESS or default is None
            or default is False or default == "" or default == [] or default == ())


_SAYS_DEFAULT = re.compile(r"\(default\b|\bdefault:|%\(default\)", re.IGNORECASE)


def says_default(text: str) -> bool:
    """Whether a help text already names its default: ``(default ...``, ``default: ...`` or
    argparse's ``%(default)s`` (a mere "the default recipe" does not)."""
    return _SAYS_DEFAULT.search(text) is not None


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The commands' help: docstring markup taken out (:func:`plain`), each flag's default
    shown (:func:`shown`; unless it is None, empty, a switch's, or its help already names it,
    :func:`says_default`), the description and the epilog's example kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain(action.help or "")
        if _hidden_default(action) or says_default(text):
            return text
        return f"{text} (default: {shown(action.default).replace('%', '%%')})"

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help, and its subcommands' help, uses :class:`HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def example_epilog(example: str) -> str:
    """An epilog of example command lines (one a line; a continuation line keeps its own
    indent): ``example:`` then each line indented, as ``--help`` prints it last."""
    lines = example.strip("\n").splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "example:\n" + "\n".join(f"  {line[indent:]}" for line in lines)


def parser(module: str, doc: str | None, example: str | None = None,
           **kwargs: Any) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: its description is the first paragraph of
    ``doc`` (the module's docstring), its epilog the ``example`` command line(s)
    (:func:`example_epilog`), and it lists ``--debug``."""
    if example is not None:
        kwargs.setdefault("epilog", example_epilog(example))
    p = Parser(prog=f"python -m {module}", description=(doc or "").split("\n\n")[0], **kwargs)
    add_debug_flag(p)
    return p


def subcommand(commands: Any, name: str, help: str, example: str,
               description: str | None = None, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand's parser (``commands`` is what ``add_subparsers`` returned): ``help`` is
    its line in the command's list and, unless ``description`` is given, its description
    too; its epilog the ``example`` command line(s)."""
    return commands.add_parser(name, help=help, description=description or help,
                               epilog=example_epilog(example), **kwargs)


def show_defaults(parser: argparse.ArgumentParser, defaults: Mapping[str, Any]) -> None:
    """Name in each flag's help the default a config fills in, where the flag's own argparse
    default is None (so that only what is given reaches the config): ``defaults`` maps a
    flag's ``dest`` to the config's default. Empty defaults (None, "", {}, ()) are left
    unsaid, as is one a help already names (:func:`says_default`)."""
    for action in parser._actions:
        if action.dest not in defaults or action.default is not None:
            continue
        value = defaults[action.dest]
        text = action.help or ""
        if value is None or value is False or value in ("", {}, (), []) or says_default(text):
            continue
        action.help = f"{text} (default: {shown(value).replace('%', '%%')})"


# ------------------------------------------------------------------ argparse types
def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (a count or size; argparse names the flag)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an int >= 0 (a seed, or a count where 0 has a meaning of its own,
    e.g. ``--candidates 0``: all of them)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite float >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0 (a learning rate, a scale)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value
