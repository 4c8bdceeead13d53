"""The zero-shot table's VBS column (each target's best static recipe in hindsight), rebuilt
from synthetic stores with ``--resume``: nothing is trained."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import envs
from agents import zoo
from benchmarks.ranking import zero_shot
from benchmarks.ranking.targets import targets
from benchmarks.ranking.vbs import VBS_ROW as VBS, VBS_STORES
from benchmarks.ranking.zero_shot import DEFAULT, ONLINE, PANEL_BEST, Run
from training.core.run_store import RunStore

SBS = "none+sgd+constant+bce"
SEEDS = 2


def _calibration(path: Path) -> Path:
    """A calibration csv whose train tasks make ``SBS`` the panel-best recipe."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, ["task", "split", f"mAP[{SBS}]", "mAP[default (ASL paper)]"])
        writer.writeheader()
        writer.writerow({"task": "t", "split": "train", f"mAP[{SBS}]": 30.0,
                         "mAP[default (ASL paper)]": 20.0})
    return path


def _zero_shot_store(out: Path, task_set: str, kinds: list[str], controller: str,
                     mAP: dict[tuple[str, str], float]) -> list[str]:
    """Every run ``zero_shot.main`` would play (``--no-pbt``), each seed ``s`` at
    ``mAP[(target kind or 'heldout N', method)] + s`` (20 where not given); the labels."""
    chosen = targets(envs.task_set(task_set), kinds)
    store = RunStore(out.parent / "runs" / f"{out.stem}.jsonl",
                     {"task_set": task_set, "panel_best": SBS,
                      "targets": {k: getattr(v, "name", v) for k, v in chosen.items()}})
    for label in chosen:
        short = label.split(":")[0] if label.startswith("heldout") else label
        for method in (controller, DEFAULT, PANEL_BEST, *ONLINE):
            for seed in range(SEEDS):
                value = mAP.get((short, method), 20.0) + seed
                store.put(f"{label}|{method}", seed,
                          Run(label, method, seed, value, [SBS, SBS], 1.0))
    return list(chosen)


def _headroom_store(path: Path, task_set: str, runs: dict[tuple[str, str], list[float]]) -> Path:
    """A ``benchmarks.headroom`` store: ``{(label, method): test mAP per seed 0, 1, ...}``."""
    lines = [{"settings": {"task_set": task_set, "quick": False}}]
    for (label, method), values in runs.items():
        for seed, value in enumerate(values):
            lines.append({"name": f"{label}|{method}|{seed}", "seed": seed, "result": {
                "label": label, "method": method, "seed": seed, "val_mAP": value,
                "test_mAP": value, "episodes": 1.0, "choices": []}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _rows(text: str, table: str) -> tuple[list[str], dict[str, list[str]]]:
    """A table's header and its rows by first cell (the table after the line ``table``)."""
    lines = text.split(table, 1)[1].strip().split("\n\n")[0].splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return header, {row[0]: row for row in rows}


def _main(tmp_path: Path, task_set: str, kinds: str, controller: str, *extra: str) -> str:
    out = tmp_path / "zs.md"
    zero_shot.main(["--task-set", task_set, "--seeds", str(SEEDS), "--targets", kinds,
                    "--zoo", controller.removeprefix(zoo.PREFIX), "--no-pbt", "--resume",
                    "--no-progress", "--workers", "1", "--out", str(out),
                    "--calibration", str(_calibration(tmp_path / "cal.csv")), *extra])
    return out.read_text()


def test_the_vbs_column_names_each_targets_best_static_recipe(tmp_path):
    controller = f"{zoo.PREFIX}{zoo.list_zoo()[0]}"
    labels = _zero_shot_store(tmp_path / "zs.md", "digits-v1", ["heldout", "mnist"], controller, {
        ("heldout 1", controller): 41.0, ("heldout 2", controller): 26.0,
        ("heldout 2", PANEL_BEST): 27.0})
    vbs = _headroom_store(tmp_path / "headroom.jsonl", "digits-v1", {
        # heldout 1: a panel recipe of the store is best (3 seeds there; 0 and 1 are this table's)
        ("heldout:1", "panel:crop+sgd+constant+bce"): [42.0, 40.0, 50.0],
        ("heldout:1", f"panel:{SBS}"): [30.0, 31.0, 32.0],
        # heldout 2: this table's static panel-best (27, 28) beats every run of the store
        ("heldout:2", "panel:crop+sf_adamw+constant+asl"): [25.0, 26.0],
        ("heldout:2", "vbs-c"): [26.0],
        ("train:3", "panel:crop+sgd+constant+bce"): [99.0, 99.0]})  # never a target
    text = _main(tmp_path, "digits-v1", "heldout,mnist", controller, "--vbs", str(vbs))
    header, rows = _rows(text, "Test mAP, mean ± std over seeds:")
    assert header[-1] == VBS
    heldout = {label.split(":")[0]: label for label in labels if label.startswith("heldout")}
    assert rows[heldout["heldout 1"]][-1] == "41.0 ± 1.4 (crop+sgd+constant+bce)"
    assert rows[heldout["heldout 2"]][-1] == f"27.5 ± 0.7 ({PANEL_BEST}: {SBS})"
    for uncovered in (heldout["heldout 3"], heldout["heldout 4"], "mlic-mnist-v0 (task size)"):
        assert rows[uncovered][-1] == "—"  # no store covers it, whatever this table's statics
    line = next(x for x in text.splitlines() if x.startswith(f"- {VBS}"))
    assert str(vbs) in line and "heldout 3" in line and "not a competitor" in line
    margins = [x for x in text.splitlines() if x.startswith(f"| {controller} |") and "VBS" in x]
    assert margins == [
        f"| {controller} | {heldout['heldout 1']} | VBS (crop+sgd+constant+bce) | 0.5 ± 2.1 "
        "| 1/2 | -1.0, +2.0 |",
        f"| {controller} | {heldout['heldout 2']} | VBS ({PANEL_BEST}: {SBS}) | -1.0 ± 0.0 "
        "| 0/2 | -1.0, -1.0 |"]


def test_the_vbs_column_notes_fewer_seeds_and_pairs_the_margin_on_those(tmp_path):
    controller = f"{zoo.PREFIX}{zoo.list_zoo()[0]}"
    labels = _zero_shot_store(tmp_path / "zs.md", "digits-v1", ["heldout"], controller, {})
    vbs = _headroom_store(tmp_path / "headroom.jsonl", "digits-v1", {
        ("heldout:3", "panel:crop+sgd+constant+bce"): [25.0]})
    text = _main(tmp_path, "digits-v1", "heldout", controller, "--vbs", str(vbs))
    _, rows = _rows(text, "Test mAP, mean ± std over seeds:")
    third = next(label for label in labels if label.startswith("heldout 3"))
    assert rows[third][-1] == "25.0 ± 0.0 (crop+sgd+constant+bce; 1 seed)"
    assert f"| {controller} | {third} | VBS (crop+sgd+constant+bce, seeds 0) | -5.0 ± 0.0 | 0/1 " \
           "| -5.0 |" in text


def test_a_task_set_without_vbs_stores_shows_dashes_and_says_so(tmp_path):
    controller = f"{zoo.PREFIX}{zoo.list_zoo()[0]}"
    assert "digits-v0" not in VBS_STORES
    labels = _zero_shot_store(tmp_path / "zs.md", "digits-v0", ["heldout"], controller, {})
    text = _main(tmp_path, "digits-v0", "heldout", controller)
    header, rows = _rows(text, "Test mAP, mean ± std over seeds:")
    assert header[-1] == VBS and all(rows[label][-1] == "—" for label in labels)
    line = next(x for x in text.splitlines() if x.startswith(f"- {VBS}"))
    assert "task set digits-v0 has no VBS stores" in line
    assert not any("| VBS" in x for x in text.splitlines() if x.startswith(f"| {controller} |"))
