"""``benchmarks.first_decisions``: a controller's gain over the SBS, split into its first
decision (its first recipe held to the end) and its later switches, on hand-made stores."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import envs
from benchmarks.core.episodes import run_recipe
from benchmarks.ranking import first_decisions as fd
from benchmarks.ranking.protocol import Job
from benchmarks.ranking.targets import TARGET_KINDS, targets
from benchmarks.ranking.zero_shot import PANEL_BEST, Run
from training.core.jsonl import PROTOCOL
from training.core.run_store import RunStore

R1, R2, R3 = "none+sgd+constant+bce", "crop+adamw+cosine+asl", "crop+sgd+constant+bce"
METHOD = "bandit online"


def _targets() -> dict[str, str | envs.Task]:
    return targets(envs.task_set("digits-v1"), list(TARGET_KINDS), quick=True)


def _settings() -> dict:
    return {"task_set": "digits-v1", "panel_best": R1, "quick": True,
            "targets": {k: getattr(v, "name", v) for k, v in _targets().items()}}


def _store(path: Path, runs: list[Run]) -> Path:
    """A protocol store of ``runs`` on the shrunk digits-v1 targets (as --quick writes)."""
    store = RunStore(path, _settings(), kind=PROTOCOL)
    for run in runs:
        store.put(f"{run.target}|{run.method}", run.seed, run)
    return path


def _run(target: str, method: str, seed: int, mAP: float, choices: list[str]) -> Run:
    return Run(target, method, seed, mAP, choices, 1.0)


def _labels() -> tuple[str, str]:
    first, second, *_ = _targets()
    return first, second


def _hand_made(path: Path) -> Path:
    """heldout 1: seed 0 switches (R2 first: replayed), seed 1 holds R1 throughout; heldout 2:
    seed 0 starts with R3, which the store's ``recipe:R3`` run held (taken from it)."""
    a, b = _labels()
    return _store(path, [
        _run(a, METHOD, 0, 50.0, [R2, R1, R1]), _run(a, METHOD, 1, 44.0, [R1, R1, R1]),
        _run(b, METHOD, 0, 47.0, [R3, R1, R3]),
        _run(a, PANEL_BEST, 0, 40.0, [R1] * 3), _run(a, PANEL_BEST, 1, 41.0, [R1] * 3),
        _run(b, PANEL_BEST, 0, 42.0, [R1] * 3), _run(b, f"recipe:{R3}", 0, 45.0, [R3] * 3)])


class FakePlay:
    """``play_stored`` with a controlled replay: each first-held run not in the store gets
    ``value`` (stored, as the real one stores it); ``played`` lists the keys it played."""

    def __init__(self, value: float | None) -> None:
        self.value, self.played = value, []

    def __call__(self, jobs, run, key, kind, store, workers, bar, initializer=None):
        out = []
        for job in jobs:
            found = store.get(*key(job), kind)
            if found is None:
                assert self.value is not None, f"{key(job)} was played again"
                found = _run(job.label, job.method, job.seed, self.value, [])
                store.put(*key(job), found)
                self.played.append(key(job))
            out.append(found)
        return out


def _csv(out: Path) -> list[dict[str, str]]:
    with out.with_suffix(".csv").open() as file:
        return list(csv.DictReader(file))


def _argv(store: Path, out: Path, *extra: str) -> list[str]:
    return ["--from", str(store), "--method", METHOD, "--workers", "1", "--no-progress",
            "--out", str(out), *extra]


def test_the_split_adds_up_per_run(tmp_path, monkeypatch):
    store, out = _hand_made(tmp_path / "protocol-x.jsonl"), tmp_path / "fd.md"
    fake = FakePlay(46.0)
    monkeypatch.setattr(fd, "play_stored", fake)
    assert fd.main(_argv(store, out)) == out
    a, b = _labels()
    assert fake.played == [(f"{a}|recipe:{R2}", 0)]  # only the switching run not in the store
    rows = {(r["target"], int(r["seed"])): r for r in _csv(out)}
    expected = {(a, 0): (50, 46, 40, 2, fd.REPLAYED), (a, 1): (44, 44, 41, 0, fd.ITSELF),
                (b, 0): (47, 45, 42, 1, f"{fd.STORED}: recipe:{R3}")}
    assert set(rows) == set(expected)
    for key, (method, held, sbs, differ, source) in expected.items():
        row = rows[key]
        assert float(row["held_mAP"]) == held and row["source"] == source
        assert float(row["first_gain"]) == pytest.approx(held - sbs)
        assert float(row["later_gain"]) == pytest.approx(method - held)
        assert float(row["gain"]) == pytest.approx(method - sbs)
        assert float(row["first_gain"]) + float(row["later_gain"]) == pytest.approx(method - sbs)
        assert int(row["later_differ"]) == differ
    text = out.read_text()
    # heldout 1: gains 10 and 3 = first decisions 6 and 3 + later switches 4 and 0
    assert "| 6.5 ± 4.9 | 4.5 ± 2.1 | 2.0 ± 2.8 | 1/2 |" in text
    assert "gain over the SBS +6.00 mAP = first decision +4.00 + later switches +2.00" in text
    assert f"`{R2}` | 2/2 |" in text and f"`{R1}` | 0/2 |" in text and f"`{R3}` | 1/2 |" in text


def test_resume_reuses_stored_replays_and_a_fresh_run_plays_them_again(tmp_path, monkeypatch):
    store, out = _hand_made(tmp_path / "protocol-x.jsonl"), tmp_path / "fd.md"
    monkeypatch.setattr(fd, "play_stored", FakePlay(30.0))
    fd.main(_argv(store, out))
    replays = tmp_path / "runs" / "first_decisions-protocol-x.jsonl"
    assert replays.is_file()
    monkeypatch.setattr(fd, "play_stored", FakePlay(None))  # a replay would fail
    fd.main(_argv(store, out, "--resume"))
    a, _ = _labels()
    assert {r["held_mAP"] for r in _csv(out) if r["target"] == a and r["seed"] == "0"} == {"30.0"}
    assert "0 played now" in out.read_text()
    again = FakePlay(31.0)
    monkeypatch.setattr(fd, "play_stored", again)
    fd.main(_argv(store, out))  # no --resume: the store starts afresh
    assert len(again.played) == 1
    assert {r["held_mAP"] for r in _csv(out) if r["target"] == a and r["seed"] == "0"} == {"31.0"}


def test_a_method_that_never_switches_replays_nothing(tmp_path, monkeypatch):
    store, out = _hand_made(tmp_path / "protocol-x.jsonl"), tmp_path / "fd.md"
    monkeypatch.setattr(fd, "play_stored", FakePlay(None))
    fd.main(["--from", str(store), "--method", f"recipe:{R3}", "--no-progress", "--out",
             str(out)])
    [row] = _csv(out)
    assert row["source"] == fd.ITSELF and float(row["later_gain"]) == 0
    assert "holds one recipe throughout" in out.read_text()


def test_targets_narrow_the_runs(tmp_path, monkeypatch):
    store, out = _hand_made(tmp_path / "protocol-x.jsonl"), tmp_path / "fd.md"
    monkeypatch.setattr(fd, "play_stored", FakePlay(None))
    fd.main(_argv(store, out, "--targets", "heldout 2"))
    assert [r["target"] for r in _csv(out)] == [_labels()[1]]


def test_a_real_replay_is_the_first_recipe_held(tmp_path):
    """One real replay (a shrunk task, seconds): the protocol's recipe run of choices[0]."""
    a, _ = _labels()
    store = _store(tmp_path / "protocol-x.jsonl", [
        _run(a, METHOD, 0, 50.0, [R2, R1, R1]), _run(a, PANEL_BEST, 0, 40.0, [R1] * 3)])
    out = tmp_path / "fd.md"
    fd.main(_argv(store, out))
    [row] = _csv(out)
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        held = run_recipe(_targets()[a], envs.Recipe.parse(R2), 0, {}).test["mAP"]
    finally:
        torch.set_num_threads(threads)
    assert row["source"] == fd.REPLAYED
    assert float(row["held_mAP"]) == pytest.approx(held, abs=1e-6)
    stored = [json.loads(line) for line in
              (tmp_path / "runs" / "first_decisions-protocol-x.jsonl").read_text().splitlines()]
    assert stored[1]["name"] == Job(a, None, f"recipe:{R2}", "recipe", None, 0).key()[0]


# ------------------------------------------------------------------ bad input
def _error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        fd.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_a_missing_store_is_named(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    err = _error(_argv(missing, tmp_path / "fd.md"), capsys)
    assert f"--from {missing} is missing" in err and "protocol" in err


def test_an_unknown_method_lists_the_labels(tmp_path, capsys):
    store = _hand_made(tmp_path / "protocol-x.jsonl")
    err = _error(["--from", str(store), "--method", "bandit", "--out",
                  str(tmp_path / "fd.md")], capsys)
    assert "--method 'bandit'" in err and f"'{METHOD}'" in err and f"'{PANEL_BEST}'" in err


def test_an_unknown_sbs_or_target_is_named(tmp_path, capsys):
    store = _hand_made(tmp_path / "protocol-x.jsonl")
    err = _error(_argv(store, tmp_path / "fd.md", "--sbs", "static best"), capsys)
    assert "--sbs 'static best'" in err and f"'{PANEL_BEST}'" in err
    err = _error(_argv(store, tmp_path / "fd.md", "--targets", "heldout 9"), capsys)
    assert "--targets heldout 9" in err and "heldout 1,heldout 2" in err


def test_runs_without_choices_are_refused(tmp_path, capsys):
    a, _ = _labels()
    store = _store(tmp_path / "protocol-x.jsonl", [
        _run(a, METHOD, 0, 50.0, []), _run(a, PANEL_BEST, 0, 40.0, [R1])])
    err = _error(_argv(store, tmp_path / "fd.md"), capsys)
    assert "keep no choices" in err and "benchmarks.protocol" in err


def test_a_missing_sbs_run_is_named(tmp_path, capsys):
    a, b = _labels()
    store = _store(tmp_path / "protocol-x.jsonl", [
        _run(a, METHOD, 0, 50.0, [R1, R2]), _run(b, METHOD, 0, 50.0, [R1, R2]),
        _run(a, PANEL_BEST, 0, 40.0, [R1])])
    err = _error(_argv(store, tmp_path / "fd.md"), capsys)
    assert f"no '{PANEL_BEST}' run on {b} seed 0" in err and "--algo sbs" in err


def test_a_file_that_is_not_a_store_is_refused(tmp_path, capsys):
    path = tmp_path / "notes.jsonl"
    path.write_text("not json\n")
    err = _error(_argv(path, tmp_path / "fd.md"), capsys)
    assert str(path) in err


def test_each_target_has_its_vbs_beside_the_sbs():
    """digits-v1's committed headroom stores give every held-out target a VBS (MNIST: none)."""
    from benchmarks.ranking.first_decisions import vbs_cells
    cells = vbs_cells("digits-v1")
    assert {"heldout 1", "heldout 2", "heldout 3", "heldout 4"} <= set(cells)
    assert all("±" in c and "(" in c for c in cells.values())
    assert vbs_cells("digits-tiny-v0") == {}  # no committed headroom store: no VBS known
