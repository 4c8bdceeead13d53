"""``benchmarks.normalised``: the share of the SBS-to-expert gap, from two benchmark stores."""
from __future__ import annotations

import json

import pytest

from benchmarks import normalised


def _store(path, rows):
    lines = [json.dumps({"settings": {}})] + [json.dumps({"name": "x", "seed": s, "result": r})
                                              for s, r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_scores_are_the_gap_closed_on_the_shared_seeds(tmp_path):
    headroom = _store(tmp_path / "h.jsonl", [
        (s, {"label": "heldout:1", "method": m, "seed": s, "test_mAP": v})
        for s in (0, 1) for m, v in ((normalised.SBS, 30.0 + s), ("expert", 34.0 + s))])
    zero_shot = _store(tmp_path / "z.jsonl", [
        (s, {"target": "heldout 1: task", "method": m, "seed": s, "test_mAP": v})
        for s in (0, 1, 2) for m, v in ((normalised.ZERO_SHOT_SBS, 30.0 + s),
                                        ("run:runs/bc", 33.0 + s))])
    rows, per = normalised.scores(headroom, zero_shot)
    assert per == {"run:runs/bc": [pytest.approx(0.75)]}  # (33.5 - 30.5) / (34.5 - 30.5)
    assert rows[0][:2] == ["heldout:1", "2"]  # seed 2 ran in one store only
    out = normalised.main(["--headroom", str(headroom), "--zero-shot", str(zero_shot),
                           "--out", str(tmp_path / "n.md")])
    assert "**+0.75**" in out.read_text()


def test_sbs_runs_that_differ_between_the_stores_are_refused(tmp_path):
    headroom = _store(tmp_path / "h.jsonl", [
        (0, {"label": "heldout:1", "method": m, "seed": 0, "test_mAP": v})
        for m, v in ((normalised.SBS, 30.0), ("expert", 34.0))])
    zero_shot = _store(tmp_path / "z.jsonl", [
        (0, {"target": "heldout 1: task", "method": normalised.ZERO_SHOT_SBS, "seed": 0,
             "test_mAP": 31.0})])
    with pytest.raises(SystemExit, match="SBS runs of heldout:1 differ"):
        normalised.scores(headroom, zero_shot)


def test_read_runs_keys_every_store_by_task_label_method_and_seed(tmp_path):
    store = _store(tmp_path / "z.jsonl", [
        (0, {"target": "heldout 2: digits-24px", "method": "m", "seed": 0, "test_mAP": 30.0}),
        (0, {"target": "mlic-digits-v0 (full default)", "method": "m", "seed": 0,
             "test_mAP": 50.0}),
        (1, {"label": "heldout:1", "method": "expert", "seed": 1, "test_mAP": 40.0})])
    assert normalised.read_runs(store) == {("heldout:2", "m", 0): 30.0,
                                           ("mlic-digits-v0 (full default)", "m", 0): 50.0,
                                           ("heldout:1", "expert", 1): 40.0}
