"""The docs quote committed results: each figure must be the one in the file it cites.

The docs are README.md and every page under docs/ (``DOC_PAGES``). A section of a page (the
text under one heading, down to the next heading of any level) that quotes a ``mean ± std``
or an interval ``+0.81 [+0.63, +0.95]`` must cite the result file(s) under
``benchmarks/results`` it took them from (a link, a ``{download}`` role or a code span naming
the path), and each quote must appear in one of those files verbatim (thousands separators
aside for ``mean ± std``). The default run's JSON block must be ``summary.json`` rounded. The
prose never names an issue number or a borrowed machine (result files keep their machine
lines), and the README stays a front page.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from doc_pages import DOC_PAGES, sections

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MEAN_STD = re.compile(r"\d[\d,]*(?:\.\d+)? ± \d[\d,]*(?:\.\d+)?")
INTERVAL = re.compile(r"[+-]\d+\.\d+ \[[+-]\d+\.\d+, [+-]\d+\.\d+\]")
CITED = re.compile(r"benchmarks/results/([\w./-]+\.(?:md|csv|json))(?![\w])")  # not .jsonl


def _quoting() -> dict[str, str]:
    """``page: heading`` -> body, for every section that quotes a result."""
    found = {}
    for page in DOC_PAGES:
        name = page.relative_to(ROOT).as_posix()
        for heading, body in sections(page.read_text(encoding="utf-8")):
            if MEAN_STD.search(body) or INTERVAL.search(body):
                found[f"{name}: {heading}"] = body
    return found


QUOTING = _quoting()


def test_the_docs_pages_quote_results():
    pages = {key.split(": ")[0] for key in QUOTING}
    assert {"README.md", "docs/results.md", "docs/guides/protocol.md",
            "docs/guides/mat-agent.md", "docs/guides/zoo.md"} <= pages


@pytest.mark.parametrize("title", list(QUOTING))
def test_every_quote_is_in_a_result_file_its_section_cites(title):
    body = QUOTING[title]
    files = sorted(set(CITED.findall(body)))
    assert files, f"{title!r} quotes results but cites no file under benchmarks/results"
    texts = [(ROOT / "benchmarks/results" / f).read_text(encoding="utf-8") for f in files]
    missing = [q for q in MEAN_STD.findall(body)
               if not any(q.replace(",", "") in text for text in texts)]
    missing += [q for q in INTERVAL.findall(body) if not any(q in text for text in texts)]
    assert not missing, f"{title!r}: not in {files}: {missing}"


def test_default_run_block_is_summary_json_rounded():
    blocks = [(page, block) for page in DOC_PAGES
              for block in re.findall(r"```json\n(.*?)```", page.read_text(encoding="utf-8"),
                                      re.DOTALL)]
    assert len(blocks) == 1, "the default run's summary block is gone (or there are two)"
    page, block = blocks[0]
    quoted = json.loads(block)
    summary = json.loads((ROOT / "benchmarks/results/default_run/summary.json").read_text())
    for key, value in quoted.items():
        if isinstance(value, float):
            digits = len(repr(value).split(".")[1])
            assert round(summary[key], digits) == value, (key, summary[key])
        else:
            assert summary[key] == value, (key, summary[key])
    # quoted with how it was measured
    assert f"`wall_s` ({summary['wall_s']:.0f} s)" in page.read_text(encoding="utf-8")


def test_the_reliability_counts_are_the_result_files():
    page = (ROOT / "docs/results.md").read_text(encoding="utf-8")
    quoted = re.search(r"Of the (\d+) cases tried, (\d+) are handled; not handled: (\d+)", page)
    made = re.search(r"\*\*tried: (\d+), handled: (\d+)\*\*; not handled: (\d+)",
                     (ROOT / "benchmarks/results/reliability.md").read_text(encoding="utf-8"))
    assert quoted and made and quoted.groups() == made.groups(), (quoted, made)


FORBIDDEN = re.compile(r"\bissues? \d+|\blent machine|2-core Xeon|the issue('s| asked)", re.I)


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_prose_names_no_issue_and_no_borrowed_machine(page):
    found = FORBIDDEN.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.name}: {found}"


def test_the_readme_is_a_front_page():
    lines = README.splitlines()
    assert len(lines) <= 200, len(lines)
    assert README.index("make run") < README.index("```python")  # the two commands first
    for guide in ("docs/guides/own-algorithm.md", "docs/guides/protocol.md",
                  "docs/guides/user-loop.md", "docs/guides/mat-agent.md",
                  "docs/getting-started.md", "LICENSE", "docs/citing.md"):
        assert f"]({guide})" in README, guide
        assert (ROOT / guide).is_file(), guide
    assert "make docs" in README and "benchmarks/results/leaderboard.md" in README
