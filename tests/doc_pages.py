"""The documentation the doc tests read: its pages and their sections.

The docs are README.md and every Markdown page of the docs site under docs/ (its build
folder aside). ``test_readme_commands`` runs their shell commands, ``test_docs_examples``
their Python blocks and ``test_readme_results`` checks the numbers they quote.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                                         if "_build" not in p.parts)]
"""README.md, then the docs site's pages in path order."""


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each section of a Markdown page (any heading level; the text
    before the first heading is the section ``""``). Headings inside code fences are not
    headings."""
    out, heading, body, fence = [], "", [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"#{1,6} ", line):
            out.append((heading, "".join(body)))
            heading, body = line.lstrip("#").strip(), []
        else:
            body.append(line)
    out.append((heading, "".join(body)))
    return out
