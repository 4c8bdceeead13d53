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
import sys
from collections.abc import Callable, Sequence
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


def parser(module: str, doc: str | None, **kwargs: Any) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: its description is the first paragraph of
    ``doc`` (the module's docstring), and it lists ``--debug``."""
    p = argparse.ArgumentParser(prog=f"python -m {module}",
                                description=(doc or "").split("\n\n")[0], **kwargs)
    add_debug_flag(p)
    return p


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
