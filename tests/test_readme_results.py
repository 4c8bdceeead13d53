"""The README quotes committed results: each figure must be the one in the file it cites.

A section of the README that quotes a ``mean ± std`` must link the result file(s) under
``benchmarks/results`` it took them from, and each quote must appear there verbatim
(thousands separators aside). The default run's JSON block must be ``summary.json`` rounded.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MEAN_STD = re.compile(r"\d[\d,]*(?:\.\d+)? ± \d[\d,]*(?:\.\d+)?")
CITED = re.compile(r"\]\((benchmarks/results/[\w./-]+\.md)\)")


def _sections() -> dict[str, str]:
    """Heading (``##`` or ``###``) -> the text up to the next such heading."""
    parts = re.split(r"(?m)^#{2,3} (.*)$", README)
    return dict(zip(parts[1::2], parts[2::2]))


QUOTING = {title: body for title, body in _sections().items() if MEAN_STD.search(body)}


@pytest.mark.parametrize("title", list(QUOTING))
def test_every_mean_std_is_in_a_result_file_its_section_cites(title):
    body = QUOTING[title]
    files = CITED.findall(body)
    assert files, f"{title!r} quotes mean ± std figures but links no result file"
    texts = [(ROOT / f).read_text(encoding="utf-8") for f in files]
    missing = [q for q in MEAN_STD.findall(body)
               if not any(q.replace(",", "") in text for text in texts)]
    assert not missing, f"{title!r}: not in {files}: {missing}"


def test_default_run_block_is_summary_json_rounded():
    block = re.search(r"```json\n(.*?)```", README, re.DOTALL)
    assert block, "the README's default-run summary block is gone"
    quoted = json.loads(block.group(1))
    summary = json.loads((ROOT / "benchmarks/results/default_run/summary.json").read_text())
    for key, value in quoted.items():
        if isinstance(value, float):
            digits = len(repr(value).split(".")[1])
            assert round(summary[key], digits) == value, (key, summary[key])
        else:
            assert summary[key] == value, (key, summary[key])
    assert f"`wall_s` ({summary['wall_s']:.0f} s)" in README  # quoted with how it was measured
