"""The corpus's three kinds of rows, as typed records (the data lives in ``api_cases``,
``cli_cases`` and ``entries``)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ErrorCase:
    """An API call that must raise ``error`` with a message containing ``names`` and ``fix``."""

    id: str
    group: str
    what: str
    error: str
    """The exception class's name (or a base's); it must be a project error (``MLICError``)."""
    names: tuple[str, ...]
    """Substrings naming the culprit: the file, field or value (``{tmp}`` = the temp folder)."""
    fix: tuple[str, ...]
    """Substrings that tell the user what to do."""
    call: str = ""
    """The dotted path of the function or class called (``envs.Drift``) ..."""
    trigger: str = ""
    """... or the name of a builder in ``builders.TRIGGERS``, called with ``tmp`` first."""
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    """Files written under the temp folder first: relative path -> text or bytes."""
    needs_no_cuda: bool = False
    gap: str = ""
    """A known gap: why the case is not handled yet (its test is a strict xfail)."""


@dataclass(frozen=True)
class CliCase:
    """A command line that must exit ``code`` (2: one error naming the culprit and the fix)."""

    id: str
    group: str
    what: str
    cli: tuple[str, ...]
    """The module (``benchmarks.headroom``), then its arguments."""
    names: tuple[str, ...] = ()
    fix: tuple[str, ...] = ()
    error: str = ""
    """``argparse`` (a usage error) or the project error's class name; empty for code 0."""
    code: int = 2
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    warns: tuple[str, ...] = ()
    """Substrings of the warnings the command must give (code 0: it works and says so)."""
    writes: tuple[str, ...] = ()
    """Paths the command must write."""
    absent: tuple[str, ...] = ()
    """Paths that must not exist afterwards (nothing written before the input was refused)."""
    needs_no_cuda: bool = False
    gap: str = ""


@dataclass(frozen=True)
class Entry:
    """A case tested by a dedicated test function (``node``), with the outcome for the report."""

    what: str
    group: str
    outcome: str
    node: str
    handled: bool = True
    """False for a documented limitation or a known gap (the test pins the current behaviour)."""
    notes: str = ""


def build(kind: type, group: str, row: Mapping[str, Any],
          gaps: Mapping[str, str] | None = None) -> Any:
    """A case of ``kind`` from a data row (lists become tuples, as the records are frozen);
    ``gaps`` (case id -> why it is not handled yet) sets ``gap``."""
    known = {f.name for f in fields(kind)}
    unknown = set(row) - known
    if unknown:
        raise ValueError(f"case {row.get('id')!r}: unknown keys {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) and k != "args" else v for k, v in row.items()}
    if "args" in values:
        values["args"] = tuple(values["args"])
    if gaps and row.get("id") in gaps:
        values["gap"] = gaps[row["id"]]
    return kind(group=group, **values)
