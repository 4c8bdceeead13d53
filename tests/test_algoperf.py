"""``benchmarks.algoperf``: time to target, performance ratios and profiles, the integrated score
(checked against a numerical integration of the profile), tracks apart, and the command's
refusals."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ranking import algoperf
from benchmarks.ranking.algoperf import (EXTERNAL, REFERENCE, SELF, Method, method_time,
                                         performance_ratios, profile, report, score, time_to_target)
from benchmarks.expert.headroom import Run


def test_time_to_target_is_the_first_decision_that_reaches_it() -> None:
    assert time_to_target([10.0, 20.0, 30.0, 25.0], 20.0) == 2
    assert time_to_target([10.0, 19.9], 20.0) == math.inf
    assert method_time([3.0, 5.0, math.inf]) == 5.0
    assert method_time([3.0, math.inf]) == math.inf  # a median that takes a miss is a miss


def _numeric_score(ratios: dict[str, float]) -> float:
    """The profile integrated on a fine grid (trapezoids), an independent check of ``score``."""
    taus = np.linspace(1.0, algoperf.R_MAX, 300_001)
    rho = np.array([profile(ratios, t) for t in taus[::1000]])
    fine = np.interp(taus, taus[::1000], rho)
    return float(np.trapezoid(fine, taus) / (algoperf.R_MAX - 1))


@pytest.mark.parametrize("seed", range(5))
def test_the_score_is_the_profiles_integral(seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = {m: {f"t{i}": float(rng.choice([rng.uniform(1, 30), math.inf], p=[0.8, 0.2]))
                 for i in range(6)} for m in "abcd"}
    ratios = performance_ratios(times)
    for method, by_target in ratios.items():
        assert all(r >= 1.0 or math.isinf(r) for r in by_target.values())
        assert score(by_target) == pytest.approx(_numeric_score(by_target), abs=0.01), method
    # the fastest method on every target scores 1; never within R_MAX scores 0
    assert score({"t": 1.0, "u": 1.0}) == 1.0 and score({"t": 4.5, "u": math.inf}) == 0.0


def test_wall_time_to_target_sums_the_decisions_up_to_the_one_that_reaches_it() -> None:
    assert algoperf.wall_to_target([10.0, 20.0, 30.0], [1.5, 2.0, 4.0], 20.0) == 3.5
    assert algoperf.wall_to_target([10.0, 19.0], [1.0, 1.0], 20.0) == math.inf
    assert math.isnan(algoperf.wall_to_target([10.0, 20.0], [], 20.0))  # times not kept


def test_ratios_are_relative_to_the_fastest_and_capped() -> None:
    ratios = performance_ratios({"a": {"t": 10.0}, "b": {"t": 25.0}, "c": {"t": 50.0},
                                 "d": {"t": math.inf}})
    assert ratios == {"a": {"t": 1.0}, "b": {"t": 2.5}, "c": {"t": math.inf}, "d": {"t": math.inf}}
    nobody = performance_ratios({"a": {"t": math.inf}, "b": {"t": math.inf}})
    assert nobody == {"a": {"t": math.inf}, "b": {"t": math.inf}}


def _method(name: str, track: str, curves: dict[int, list[float]], static: bool = True) -> Method:
    return Method(name, track, curves, {s: c[-1] for s, c in curves.items()}, static=static)


def test_the_report_keeps_tracks_apart_and_the_vbs_outside_them() -> None:
    target = {"target_val_mAP": 50.0}
    methods = [
        _method("static default", SELF, {0: [30, 40, 45], 1: [31, 41, 44]}),
        _method("zoo:x", SELF, {0: [35, 50, 52], 1: [40, 50, 51]}, static=False),
        _method("best recipe", REFERENCE, {0: [50, 60, 62], 1: [50, 61, 63]}),
        _method("vbs-c", EXTERNAL, {0: [20, 30, 50, 55], 1: [20, 30, 40, 56]}),
    ]
    _, rows = report("t", target, methods)
    by = {r["method"]: r for r in rows}
    assert by["zoo:x"]["time"] == 2 and by["zoo:x"]["ratio"] == 1.0
    assert by["static default"]["time"] == math.inf and by["static default"]["score"] == 0.0
    assert by["vbs-c"]["ratio"] == 1.0  # the only method of its track
    vbs = by["VBS = best recipe"]
    assert vbs["track"] == REFERENCE and "ratio" not in vbs  # a reference, not a competitor
    # the budget each needs to reach the default's final val mAP on the same seed
    assert by["zoo:x"]["convergence"] == {0: 2 / 3, 1: 2 / 3}
    assert by["static default"]["convergence"] == {0: 1.0, 1: 1.0}


def _store(path, runs: list[Run]) -> None:
    lines = [{"settings": {}}] + [{"name": f"{r.label}|x|{r.method}", "seed": r.seed,
                                   "result": dataclasses.asdict(r)} for r in runs]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_the_score_command_reads_a_store_and_refuses_what_it_cannot_score(tmp_path, capsys):
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"default": {
        "task": "mlic-digits-v1", "reference": "crop+sgd+constant+bce", "seeds": [100, 101, 102],
        "best_val_mAP": [50.0, 51.0, 52.0], "target_val_mAP": 50.0, "decisions": 3,
        "reference_reaches_at": [3, 3, 2], "machine": "m", "date": "d"}}))
    runs = [Run("default", f"panel:{recipe}", s, c[-1], c[-1], 1.0, curve=c)
            for s in (0, 1) for recipe, c in (("default (ASL paper)", [30.0, 40.0, 45.0]),
                                               ("none+sgd+constant+bce", [30.0, 48.0, 50.0]),
                                               ("crop+sgd+constant+bce", [45.0, 55.0, 60.0]))]
    store = tmp_path / "store.jsonl"
    _store(store, runs)
    out = tmp_path / "algoperf.md"
    common = ["score", "--headroom", str(store), "--targets", str(targets), "--controllers", "",
              "--out", str(out)]
    algoperf.main(common)
    text = out.read_text()
    assert "VBS = crop+sgd+constant+bce" in text and "SBS (none+sgd+constant+bce)" in text
    # wall seconds: — where the runs kept no decision times (stores older than them)
    assert "| self-tuning | SBS (none+sgd+constant+bce) | 1× | 50.0 ± 0.0 | 3, 3 | —, — | 1.00 | 1.00 |" \
        in text
    with pytest.raises(SystemExit) as exit_info:
        algoperf.main(common + ["--seeds", "200"])  # seeds 0..199 take in the target-setting ones
    with pytest.raises(SystemExit) as exit_info:
        algoperf.main([*common[:4], str(tmp_path / "none.json"), *common[5:]])
    assert exit_info.value.code == 2 and "set the targets first" in capsys.readouterr().err
    damaged = tmp_path / "damaged.json"
    for text in ("{not json", '["a list"]', '{"default": {"task": "x"}}'):  # a foreign file
        damaged.write_text(text)
        with pytest.raises(SystemExit):
            algoperf.main([*common[:4], str(damaged), *common[5:]])
        assert "is not a targets file" in capsys.readouterr().err
    old = [dataclasses.replace(r, curve=[]) for r in runs]  # a store older than curves
    _store(store, old)
    with pytest.raises(SystemExit):
        algoperf.main(common)
    assert "without val curves" in capsys.readouterr().err


def test_the_committed_default_task_table_rebuilds_from_its_committed_stores(tmp_path):
    """Every run it scores is in a committed store: a clone rebuilds it without training."""
    root = Path(__file__).resolve().parents[1]
    results = root / "benchmarks" / "results"
    committed = (results / "algoperf_default.md").read_text()
    command = committed.split("command: `")[1].split("`")[0].split()
    args = command[command.index("score"):]
    args[args.index("--out") + 1] = str(tmp_path / "rebuilt.md")
    args[args.index("--headroom") + 1] = str(root / args[args.index("--headroom") + 1])
    store = results / "runs" / "algoperf_default-controllers.jsonl"
    before = store.read_bytes()
    algoperf.main([*args, "--store", str(store),
                   "--targets", str(results / "algoperf_targets.json")])
    assert store.read_bytes() == before  # nothing ran, nothing was added
    table = [line for line in committed.splitlines() if line.startswith("| ")]
    assert table and table == [line for line in (tmp_path / "rebuilt.md").read_text().splitlines()
                               if line.startswith("| ")]


def test_each_targets_file_keeps_its_own_reference_stores(tmp_path, monkeypatch):
    """Two task sets both have a ``heldout:1``: their targets files, and the reference runs
    behind them, never share a store."""
    played = []

    def fake_run(env_id, recipe, seed, overrides):
        played.append((env_id, seed))
        return algoperf.TargetRun(seed, [10.0, 20.0 + seed], 20.0)

    monkeypatch.setattr(algoperf, "_target_run", fake_run)
    short, long = tmp_path / "algoperf_targets.json", tmp_path / "algoperf_targets_long_v1.json"
    algoperf.set_targets(["heldout:1"], "crop+sgd+constant+bce", (100, 101), task_set="digits-v1",
                         path=short, progress=False)
    algoperf.set_targets(["heldout:1"], "crop+sgd+constant+bce", (100, 101),
                         task_set="digits-long-v1", path=long, progress=False)
    assert len(played) == 4  # the second file's target ran: nothing was reused across sets
    stores = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert stores == ["algoperf_targets-heldout1.jsonl", "algoperf_targets_long_v1-heldout1.jsonl"]
    assert json.loads(short.read_text())["heldout:1"]["task"] != \
        json.loads(long.read_text())["heldout:1"]["task"]
