"""``benchmarks.normalised``: the share of the SBS-to-expert gap, from two benchmark stores."""
from __future__ import annotations

import json
import re

import pytest

from benchmarks.ranking import normalised
from envs.errors import ConfigError


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
    with pytest.raises(ConfigError, match="SBS runs of heldout:1 differ"):
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


def test_a_headroom_result_csv_reads_as_its_store(tmp_path):
    """``benchmarks.headroom``'s csv (method names ``SBS``, ``default``, ``VBS-8``, ...)
    reads under its store's names, and scores as the store does."""
    values = {(s, m): v for s in (0, 1)
              for m, v in (("SBS", 30.0 + s), ("default", 29.0), ("VBS-8", 31.0),
                           ("expert", 34.0 + s), ("tpe", 32.5))}
    schedules = {"SBS": "none+sgd+constant+bce ×6", "default": "flip_crop+adamw+one_cycle+asl ×6",
                 "VBS-8": "crop+adamw+cosine+asl ×6", "expert": "a ×3 → b ×3", "tpe": ""}
    table = tmp_path / "headroom.csv"
    table.write_text("task,method,seed,val_mAP,test_mAP,episodes,schedule,detail\n" + "".join(
        f"heldout:1,{m},{s},0.0,{v!r},{20.0 if m in ('expert', 'tpe') else 1.0},"
        f"{schedules[m]},\n" for (s, m), v in values.items()))
    names = {"SBS": normalised.SBS, "default": "panel:default (ASL paper)", "expert": "expert",
             "tpe": "tpe"}
    assert normalised.read_runs(table) == {("heldout:1", names[m], s): v
                                           for (s, m), v in values.items() if m != "VBS-8"}
    assert normalised.read_results(table)[("heldout:1", "tpe", 1)]["episodes"] == 20.0
    assert normalised.read_settings(table) == {}  # no report beside it: no task set to check
    (tmp_path / "headroom.md").write_text(
        "# Headroom\n\n- tasks: heldout:1 of digits-v1 (labels: split:index, 1-based)\n")
    assert normalised.read_settings(table) == {"task_set": "digits-v1"}
    store = _store(tmp_path / "h.jsonl", [
        (s, {"label": "heldout:1", "method": names[m], "seed": s, "test_mAP": v})
        for (s, m), v in values.items() if m != "VBS-8"])
    zero_shot = _store(tmp_path / "z.jsonl", [
        (s, {"target": "heldout 1: task", "method": m, "seed": s, "test_mAP": v})
        for s in (0, 1) for m, v in ((normalised.ZERO_SHOT_SBS, 30.0 + s),
                                     ("run:runs/bc", 33.0 + s))])
    assert normalised.scores(table, zero_shot) == normalised.scores(store, zero_shot)
    assert normalised.scores(table, zero_shot)[1] == {"run:runs/bc": [pytest.approx(0.75)]}


def test_a_csv_that_is_not_a_headroom_result_is_refused(tmp_path):
    table = tmp_path / "peers.csv"
    table.write_text("method,seed,test_mAP\nx,0,1.0\n")
    with pytest.raises(ConfigError, match="not a benchmarks.headroom result csv"):
        normalised.read_runs(table)


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe\x00binary", "not a benchmarks.headroom result csv (unreadable as csv text"),
    (b"task,method,seed,test_mAP,episodes,schedule\nheldout:1,expert,zero,30,1,x\n",
     "not a benchmarks.headroom result csv (line 2: invalid literal"),
])
def test_a_damaged_headroom_csv_is_refused_with_the_fix(tmp_path, text, message):
    table = tmp_path / "headroom.csv"
    table.write_bytes(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        normalised.read_runs(table)
    assert "give a headroom run store (.jsonl)" in str(refused.value)


def test_a_folder_given_as_a_store_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        normalised.main(["--headroom", str(tmp_path), "--zero-shot", str(tmp_path / "z.jsonl"),
                         "--out", str(tmp_path / "n.md")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"error: --headroom {tmp_path} is a folder")
    assert "python -m benchmarks.headroom" in err
