"""The bad-input corpus: every case, what it must produce, and where it is tested.

The corpus is data. Each case is a row (``api_cases.ROWS``, ``cli_cases.ROWS``,
``store_cases.ROWS``): an id,
what it is, how to trigger it (a call, a named builder, or a command line), the error or
exit code it must produce and substrings naming the culprit and the fix. Only triggers
that must build files are Python (``builders``); :mod:`benchmarks.quality.badinputs.runner` runs a
row. ``tests/test_bad_inputs.py`` parametrizes over the rows by id, and
``benchmarks/quality/reliability.py`` renders the same rows (plus a pytest run's outcomes and what
each case was seen to do) into ``benchmarks/results/reliability.md``. The corpus lives in
the benchmarks package so that the report needs nothing from ``tests/``. Five lists:

* :data:`ERRORS` - API calls that must raise a specific project exception whose message
  names the culprit (file, field or value) AND says how to fix it;
* :data:`CLI_ERRORS` - ``python -m training.*`` / ``benchmarks.*`` command lines that must
  exit 2 with one ``error: ...`` paragraph (or argparse's usage error, for what is refused
  while parsing), no traceback, naming the culprit and the fix - or, for a few, work and
  warn (a store whose last line a kill cut short);
* :data:`OTHER` - inputs that load correctly, are skipped with one counted warning, or are a
  documented limitation; each is a named test in ``test_bad_inputs.py``;
* :data:`ELSEWHERE` - cases already covered by another test file (referenced, not repeated);
* :data:`FAULTS` - faults during a run (divergence, signals, kill -9, full disk), each a
  named test in ``tests/test_faults.py``.

:data:`GAPS` (``gaps.py``) names the cases not handled yet and why; their tests are strict
xfails, so the expectation stays and the report says what is missing.
"""
from __future__ import annotations

import re

from benchmarks.quality.badinputs import api_cases, cli_cases, store_cases
from benchmarks.quality.badinputs.builders import (OK_ACTION, TINY, TINY_FLAGS, cache, coco_json,
                                                   coco_root, csv_load, csv_root, tiny_env, voc,
                                                   voc_load, write_image)
from benchmarks.quality.badinputs.entries import ELSEWHERE, FAULTS, OTHER
from benchmarks.quality.badinputs.gaps import GAPS
from benchmarks.quality.badinputs.schema import CliCase, Entry, ErrorCase, build

__all__ = ["CLI_ERRORS", "ELSEWHERE", "ERRORS", "FAULTS", "GAPS", "OK_ACTION", "OTHER",
           "TINY", "TINY_FLAGS", "CliCase", "Entry", "ErrorCase", "all_entries", "cache",
           "coco_json", "coco_root", "csv_load", "csv_root", "expected", "tiny_env", "voc",
           "voc_load", "write_image"]

ERRORS: list[ErrorCase] = [build(ErrorCase, group, row, GAPS)
                           for group, rows in api_cases.ROWS.items() for row in rows]
CLI_ERRORS: list[CliCase] = [build(CliCase, group, row, GAPS)
                             for table in (cli_cases.ROWS, store_cases.ROWS)
                             for group, rows in table.items() for row in rows]
T = "tests/test_bad_inputs.py::"


def _shown(parts: tuple[str, ...]) -> str:
    text = ", ".join(repr(p) for p in parts)
    return re.sub(r"\{(?:file|store):([\w@.-]+)\}", r"<\1>", text).replace("{tmp}", "<tmp>")


def expected(case: ErrorCase | CliCase) -> str:
    """What a case must produce, in words (the report's text where no run observed it)."""
    if isinstance(case, CliCase) and case.code == 0:
        return f"exit 0, a warning with {_shown(case.warns)}; writes {_shown(case.writes)}"
    error = "argparse usage error" if case.error == "argparse" else case.error
    head = f"exit {case.code}, {error}" if isinstance(case, CliCase) else error
    return f"{head} naming {_shown(case.names)}; fix: {_shown(case.fix)}"


def node(case: ErrorCase | CliCase) -> str:
    """The test node that runs ``case``."""
    if isinstance(case, ErrorCase):
        return f"{T}test_error_case[{case.id}]"
    test = "test_cli_warning_case" if case.code == 0 else "test_cli_error_case"
    return f"{T}{test}[{case.id}]"


def all_entries() -> list[tuple[str, str, str, str, bool, str]]:
    """``(group, what, outcome, node id, handled-if-passing, notes)`` for every case, in order."""
    rows = [(c.group, c.what, expected(c), node(c), True, c.gap) for c in ERRORS + CLI_ERRORS]
    rows += [(e.group, e.what, e.outcome, e.node, e.handled, e.notes)
             for e in OTHER + ELSEWHERE + FAULTS]
    return rows
