"""Each target's VBS: its best static recipe in hindsight, a reference and not a competitor.

The leaderboard shows it as a row (``VBS_ROW``) and the zero-shot table as a column, both from
the same reading (``read_vbs``) of ``benchmarks.headroom`` run stores: their panel recipes and
their search over static recipes (``vbs-c``), beside the table's own static rows. Each task
set's committed stores are ``VBS_STORES`` (the default of ``--vbs`` in ``benchmarks.protocol``
and ``benchmarks.zero_shot``).
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.ranking import normalised
from benchmarks.ranking.targets import Scores, is_target, short_target

RESULTS = Path(__file__).resolve().parents[1] / "results"
VBS_STORES = {"digits-v1": (RESULTS / "runs" / "headroom_curves-digits-v1.jsonl",
                            RESULTS / "runs" / "default_task-digits-v1.jsonl")}
"""The committed ``benchmarks.headroom`` stores whose panels give each target's VBS row (the
held-out tasks, the full default task): ``--vbs``'s default."""
VBS_ROW = "VBS (best static recipe, hindsight)"
"""The reference row: on each target, its best static recipe in hindsight."""


def read_vbs(paths: Sequence[Path], static_rows: Mapping[str, Scores] | None = None
             ) -> tuple[Scores, dict[str, str]]:
    """On each target: the runs of the static method with the best mean test mAP among the
    panel recipes and searches over static recipes (``vbs-c``) of ``benchmarks.headroom`` run
    stores ``paths`` (train tasks never), and the leaderboard's own static rows
    (``static_rows``: the static default, the SBS, ``recipe:NAME``); and, per target, which
    it was."""
    by: dict[tuple[str, str], dict[int, float]] = {
        (target, name): runs for name, rows in (static_rows or {}).items()
        for target, runs in rows.items()}
    for path in paths:
        for (label, method, seed), value in normalised.read_runs(
                path, normalised.HEADROOM_KINDS).items():
            if is_target(label) and (method.startswith("panel:") or method == "vbs-c"):
                by.setdefault((short_target(label), method), {})[seed] = value
    scores: Scores = {}
    which: dict[str, str] = {}
    for target in {t for t, _ in by}:
        method = max((m for t, m in by if t == target),
                     key=lambda m: statistics.fmean(by[(target, m)].values()))
        scores[target], which[target] = by[(target, method)], method.removeprefix("panel:")
    return scores, which
