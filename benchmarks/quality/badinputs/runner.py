"""Run one case of the corpus and say what went wrong, if anything.

:func:`observe_error` triggers an API case and :func:`observe_cli` runs a command's
``main(argv)`` in-process (stdout, stderr and warnings captured; an escaping exception
printed as the interpreter would); each returns what happened, an :class:`Observed`.
:func:`problems_error` / :func:`problems_cli` compare that with what the case expects. All
are plain functions of a case and a temporary folder, so each test in
``tests/test_bad_inputs.py`` is three lines, and the reliability report shows what was
observed (:meth:`Observed.summary`).

A command is run under two guards, so a check that has not landed cannot start a sweep: a
deadline (:data:`DEADLINE_S`) and, in the module of the command's code (:func:`implementation`),
``play_stored`` (which plays a sweep's runs) replaced by a function that fails
(:class:`RunStarted`); the environment variables a command sets (``MINARI_DATASETS_PATH``)
are restored after it. A refused command must also leave no checkpoint and no stored run under
``{tmp}/out``, where every row points its outputs.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.quality.badinputs.builders import FILES, TINY_FLAGS, TRIGGERS, store
from benchmarks.quality.badinputs.schema import CliCase, ErrorCase
from envs.errors import MLICError

ROOT = Path(__file__).resolve().parents[3]
DEADLINE_S = 120
"""Longest a case may run: every case fails at parse or construction time, or reads a file."""
GUARDED = ("play_stored",)
"""Functions that start a sweep's runs, replaced in a command's code (its product module)
while it runs."""
_PLACEHOLDER = re.compile(r"\{(file|store):([\w@.-]+)\}")


class RunStarted(AssertionError):
    """A command started runs: it did not refuse its input first."""


class CaseTimeout(BaseException):
    """A case ran past :data:`DEADLINE_S` (a BaseException: no ``except`` in the code under
    test swallows it)."""


# ---------------------------------------------------------------- placeholders

class Filler:
    """Fills a row's placeholders for one temporary folder: ``{tmp}``, ``{file:NAME}``
    (``builders.FILES``), ``{store:KIND}`` / ``{store:KIND@TASK_SET}`` (``builders.store``);
    a command line's ``{tiny}`` becomes ``builders.TINY_FLAGS``. Each file is built once."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.built = tmp, {}

    def path(self, kind: str, name: str) -> str:
        if (kind, name) not in self.built:
            if kind == "file":
                made = FILES[name](self.tmp)
            else:
                made = store(self.tmp, *name.split("@"))
            self.built[kind, name] = str(made)
        return self.built[kind, name]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("{tmp}", str(self.tmp))
            return _PLACEHOLDER.sub(lambda m: self.path(*m.groups()), value)
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) for v in value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value

    def argv(self, words: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for word in words:
            out += TINY_FLAGS if word == "{tiny}" else [self(word)]
        return out


def write_files(files: dict[str, str | bytes], tmp: Path) -> None:
    """A row's ``files``: relative path -> text or bytes, written under ``tmp``."""
    for name, data in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())


def resolve(dotted: str) -> Any:
    """``envs.Task.of`` -> the object: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ValueError(f"cannot resolve {dotted!r}")


# ---------------------------------------------------------------- observing

@dataclass
class Observed:
    """What a case did."""

    error: BaseException | None = None
    """The exception it raised (API), or raised under ``--debug`` (a command)."""
    code: int | None = None
    """A command's exit status."""
    err: str = ""
    """A command's stderr."""
    warnings: list[str] = field(default_factory=list)

    def summary(self, tmp: Path) -> str:
        """One line for the report: the status and the message, paths shortened."""
        if self.code is None:
            text = (f"{type(self.error).__name__}: {self.error}" if self.error is not None
                    else "no error")
        elif "Traceback" in self.err:
            text = f"exit {self.code}, traceback: {self.err.strip().splitlines()[-1]}"
        elif self.code == 0:
            text = "exit 0" + (f"; warning: {self.warnings[0]}" if self.warnings else "")
        else:
            lines = [line for line in self.err.splitlines() if "error: " in line]
            line = (lines or self.err.strip().splitlines() or [""])[-1]
            usage = self.err.startswith("usage: ")
            line = line.split("error: ", 1)[-1]
            text = f"exit {self.code}{' (usage)' if usage else ''}: {line}"
        text = " ".join(text.replace(str(tmp), "<tmp>").replace(str(ROOT), ".").split())
        return text if len(text) <= 220 else text[:217] + "..."


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the block after ``seconds`` (SIGALRM: main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"still running after {seconds:.0f} s: the input was not refused")

    before = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def implementation(module: Any) -> Any:
    """The module a command's ``main`` is defined in: ``benchmarks.<command>`` is a thin entry
    point, its code (and the ``play_stored`` it calls) lives in a product's module."""
    return sys.modules.get(getattr(module.main, "__module__", ""), module)


@contextlib.contextmanager
def no_runs(module: Any) -> Iterator[None]:
    """The ``play_stored`` of ``module``'s code (:func:`implementation`) fails while the block
    runs: a guard, not a fake (a case that gets that far has already failed), so that a missing
    check costs an error, not a sweep of training runs."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RunStarted(f"{module.__name__} started runs before refusing its input")

    code = implementation(module)
    saved = {name: getattr(code, name) for name in GUARDED if hasattr(code, name)}
    for name in saved:
        setattr(code, name, refuse)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(code, name, function)


def observe_error(case: ErrorCase, tmp: Path) -> Observed:
    fill = Filler(tmp)
    write_files(case.files, tmp)
    args, kwargs = fill(case.args), fill(case.kwargs)
    with deadline(DEADLINE_S):
        try:
            if case.trigger:
                TRIGGERS[case.trigger](tmp, *args, **kwargs)
            else:
                resolve(case.call)(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - observed, then judged by problems()
            return Observed(error=error)
    return Observed()


@contextlib.contextmanager
def restored() -> Iterator[None]:
    """Puts back what a command may change for its run: torch's threads, the environment."""
    import torch
    threads, environ = torch.get_num_threads(), dict(os.environ)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)


def _main(module: Any, argv: list[str]) -> tuple[int, str, list[str]]:
    """``module.main(argv)``: (exit status, stderr, warnings), as ``python -m`` would end: an
    exception that escapes is printed with its traceback, status 1 (124 past the deadline)."""
    err = io.StringIO()
    with restored(), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings(record=True) as caught, no_runs(module):
        warnings.simplefilter("always")
        try:
            with deadline(DEADLINE_S):
                returned = module.main(argv)
            code = returned if isinstance(returned, int) else 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
            if isinstance(stop.code, str):  # as the interpreter prints it
                err.write(stop.code + "\n")
        except (Exception, CaseTimeout) as error:  # noqa: BLE001 - a bug, or not refused
            code = 124 if isinstance(error, CaseTimeout) else 1
            err.write("".join(traceback.format_exception(error)))
    libraries = (DeprecationWarning, PendingDeprecationWarning)  # not the project's to give
    return code, err.getvalue(), [str(w.message) for w in caught
                                  if not issubclass(w.category, libraries)]


def observe_cli(case: CliCase, tmp: Path) -> Observed:
    fill = Filler(tmp)
    write_files(case.files, tmp)
    argv = fill.argv(case.cli)
    module = importlib.import_module(argv[0])
    code, err, caught = _main(module, argv[1:])
    observed = Observed(code=code, err=err, warnings=caught)
    if code == 2 and case.error != "argparse" and "Traceback" not in err:
        try:  # --debug: the project error itself, to check its type
            with restored(), contextlib.redirect_stderr(io.StringIO()), no_runs(module), \
                    deadline(DEADLINE_S):
                module.main([*argv[1:], "--debug"])
        except Exception as error:  # noqa: BLE001 - judged by problems_cli()
            observed.error = error
        except SystemExit:
            pass
    return observed


# ---------------------------------------------------------------- judging

def _missing(text: str, parts: tuple[str, ...], fill: Filler, what: str) -> list[str]:
    return [f"{what} {fill(p)!r} not in: {text}" for p in parts if fill(p) not in text]


def _type_problem(error: BaseException | None, expected: str) -> list[str]:
    if error is None:
        return [f"expected {expected}, nothing was raised"]
    names = {c.__name__ for c in type(error).__mro__}
    if not isinstance(error, MLICError) or expected not in names:
        return [f"expected {expected} (a project error), got {type(error).__name__}: {error}"]
    return []


def problems_error(case: ErrorCase, observed: Observed, tmp: Path) -> list[str]:
    found = _type_problem(observed.error, case.error)
    if found:
        return found
    fill, message = Filler(tmp), str(observed.error)
    return (_missing(message, case.names, fill, "the message does not name")
            + _missing(message, case.fix, fill, "the message lacks the fix"))


def _shape_problems(case: CliCase, observed: Observed) -> list[str]:
    err = observed.err
    if "Traceback" in err:
        return [f"a traceback:\n{err}"]
    if case.code == 0:
        return []
    errors = [line for line in err.splitlines() if re.match(r"(\S+( \S+)*: )?error: ", line)]
    if case.error == "argparse":
        ok = err.startswith("usage: ") and len(errors) == 1
        return [] if ok else [f"not one argparse usage error:\n{err}"]
    if not err.startswith("error: ") or len(errors) != 1 or "\n\n" in err.strip():
        return [f"not one 'error: ...' paragraph:\n{err}"]
    return _type_problem(observed.error, case.error)


def problems_cli(case: CliCase, observed: Observed, tmp: Path) -> list[str]:
    if observed.code != case.code:
        return [f"exit {observed.code}, expected {case.code}:\n{observed.err}"]
    fill = Filler(tmp)
    found = _shape_problems(case, observed)
    found += _missing(observed.err, case.names + case.fix, fill, "stderr lacks")
    said = " | ".join(observed.warnings)
    found += _missing(said, case.warns, fill, "no warning says")
    found += [f"{fill(p)} was not written" for p in case.writes if not Path(fill(p)).exists()]
    found += [f"{fill(p)} exists: written before the input was refused"
              for p in case.absent if Path(fill(p)).exists()]
    if case.code:
        found += [f"{p} was written before the input was refused" for p in _runs_written(tmp)]
    return found


def _runs_written(tmp: Path) -> list[Path]:
    """Checkpoints, and stores or logs holding a record (a header alone is no run), under
    ``{tmp}/out``."""
    return [p for p in (tmp / "out").rglob("*") if p.name == "checkpoint.pt" or
            (p.suffix == ".jsonl" and len(p.read_bytes().splitlines()) > 1)]
