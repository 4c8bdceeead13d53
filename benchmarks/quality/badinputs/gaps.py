"""Known gaps: the cases not handled yet, by id, with why and where the fix belongs.

A case listed here is a strict xfail (``tests/test_bad_inputs.py``): its expectation stays
as it should be, the report lists it as not handled with this reason, and the day the code
is fixed the test passes, fails as XPASS, and the entry is deleted. Found by issue 31's
corpus on 2026-12-06, after the CLI work of part 2 (commit b7681d2).
"""
from __future__ import annotations

GAPS: dict[str, str] = {}
"""Empty since 2026-12-06: the 44 gaps found then are fixed (every newer command now reports
its bad input as a project error, exit 2, before any run)."""

