"""Interrupted benchmark sweeps resume from their stored runs (``training.core.run_store``)."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

import pytest

from benchmarks.paper import ablations, peers
from benchmarks.core import episodes
from training.core.jsonl import CutLineWarning
from training.core.run_store import RunStore, SweepResumeError, run_sweep


@dataclass
class Result:
    score: float
    curve: list[float] = field(default_factory=list)


def test_store_reloads_runs_with_the_same_settings(tmp_path):
    path = tmp_path / "runs" / "sweep.jsonl"
    store = RunStore(path, {"env": "x", "budget": 3})
    calls = []
    first = store.fetch("a", 0, Result, lambda: calls.append(1) or Result(1.5, [1.0, 1.5]))
    assert first == Result(1.5, [1.0, 1.5]) and calls == [1] and store.reused == 0

    again = RunStore(path, {"env": "x", "budget": 3}, resume=True)
    assert again.fetch("a", 0, Result, lambda: pytest.fail("must not rerun")) == first
    assert again.reused == 1 and again.get("a", 1, Result) is None

    fresh = RunStore(path, {"env": "x", "budget": 3})  # no --resume: starts afresh
    assert fresh.get("a", 0, Result) is None and len(path.read_text().splitlines()) == 1


def test_store_refuses_other_settings_and_names_them(tmp_path):
    path = tmp_path / "sweep.jsonl"
    RunStore(path, {"env": "x", "budget": 3}).put("a", 0, Result(1.0))
    with pytest.raises(SweepResumeError, match=r"budget: stored 3, now 5.*--resume"):
        RunStore(path, {"env": "x", "budget": 5}, resume=True)
    path.write_text("not json\n")
    with pytest.raises(SweepResumeError, match="settings line"):
        RunStore(path, {"env": "x"}, resume=True)


def test_store_skips_a_line_cut_short_and_appends_cleanly(tmp_path):
    path = tmp_path / "sweep.jsonl"
    store = RunStore(path, {"env": "x"})
    store.put("a", 0, Result(1.0))
    with path.open("a") as f:
        f.write('{"name": "a", "seed": 1, "result": {"sco')  # killed mid-write
    with pytest.warns(CutLineWarning, match="line 3 was cut short"):
        resumed = RunStore(path, {"env": "x"}, resume=True)
    assert resumed.get("a", 1, Result) is None and resumed.get("a", 0, Result) == Result(1.0)
    resumed.put("a", 1, Result(2.0))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line.get("seed") for line in lines] == [None, 0, 1]


def _ablation_args(out, decisions: int = 2) -> list[str]:
    return ["--quick", "--max-train-images", "48", "--steps-per-decision", "1", "--max-decisions",
            str(decisions), "--variants", "full,static", "--seeds", "2", "--no-progress", "--out", str(out)]


@pytest.mark.usefixtures("one_torch_thread")
def test_interrupted_ablation_sweep_resumes_to_the_same_table(tmp_path, monkeypatch, capsys):
    ablations.main(_ablation_args(tmp_path / "whole"))
    whole = list(csv.DictReader((tmp_path / "whole" / "ablations.csv").open()))

    real, calls = episodes.run_controller, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ablations, "run_controller", interrupted)
    with pytest.raises(SystemExit) as stop:
        ablations.main(_ablation_args(tmp_path / "cut"))
    assert stop.value.code == 130 and "--resume" in capsys.readouterr().err
    monkeypatch.setattr(ablations, "run_controller", real)

    path = ablations.main(_ablation_args(tmp_path / "cut") + ["--resume"])
    assert "2 finished run(s) reloaded" in path.read_text()
    resumed = list(csv.DictReader((tmp_path / "cut" / "ablations.csv").open()))
    key = ("variant", "seed", "test_mAP", "test_CF1", "final_val_mAP")
    assert [[r[k] for k in key] for r in resumed] == [[r[k] for k in key] for r in whole]

    with pytest.raises(SystemExit) as refused:  # other settings: a clear exit, nothing lost
        ablations.main(_ablation_args(tmp_path / "cut", decisions=3) + ["--resume"])
    assert refused.value.code == 2 and "max_decisions" in capsys.readouterr().err


def test_run_sweep_passes_results_through(tmp_path):
    assert run_sweep(lambda config: config * 2, 21, tmp_path / "x.jsonl") == 42


@pytest.mark.usefixtures("one_torch_thread")
def test_peers_resume_adds_seeds_without_rerunning_the_stored_ones(tmp_path):
    args = ["--quick", "--max-train-images", "48", "--steps-per-decision", "1", "--budget-epochs",
            "2", "--trial-epochs", "1", "--methods", "static,random-search", "--no-progress",
            "--out", str(tmp_path)]
    peers.main(args + ["--seeds", "1"])
    first = list(csv.DictReader((tmp_path / "peers.csv").open()))
    path = peers.main(args + ["--seeds", "2", "--resume"])
    assert "3 finished run(s) reloaded" in path.read_text()  # static, search and its retrain
    rows = list(csv.DictReader((tmp_path / "peers.csv").open()))
    assert [r["seed"] for r in rows] == ["0", "1", "0", "1"]
    assert [r for r in rows if r["seed"] == "0"] == first
