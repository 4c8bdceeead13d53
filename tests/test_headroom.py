"""benchmarks.headroom on tiny tasks: every method runs, the table and headroom are written,
an interrupted run resumes from its stored runs, and bad input is named."""
from __future__ import annotations

import csv

import pytest

from benchmarks.expert import headroom

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_quick_run_writes_the_table_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "headroom.md"
    argv = ["--quick", "--tasks", "train:1,heldout:1", "--seeds", "1", "--workers", "1",
            "--candidates", "2", "--methods", "panel,expert,expert-sbs,vbs-c",
            "--no-progress", "--out", str(out)]
    headroom.main(argv)
    text = out.read_text()
    assert "| task | default | SBS | VBS-8 | vbs-c | expert | expert-sbs |" in text
    assert "headroom (expert − VBS-C)" in text and "headroom: expert-sbs − VBS-C" in text and (tmp_path / "headroom.png").is_file()
    rows = list(csv.DictReader((tmp_path / "headroom.csv").open()))
    expert = [r for r in rows if r["method"] == "expert"]
    # 3 decisions, 1 + 2 candidates held to the end: 3 * (3 + 2 + 1) forked segments, plus
    # the episode's own 3, is 7 episodes; VBS-C gets as many whole-budget recipes
    assert {float(r["episodes"]) for r in expert} == {7.0}
    assert {float(r["episodes"]) for r in rows if r["method"] == "vbs-c"} == {7.0}
    # never below the static default on val at the same seed (the rollout guarantee)
    for label in ("train:1", "heldout:1"):
        by = {r["method"]: r for r in rows if r["task"] == label}
        assert float(by["expert"]["val_mAP"]) >= float(by["default"]["val_mAP"])

    def refuse(job):
        raise AssertionError(f"{job} ran again instead of being reloaded")
    monkeypatch.setattr(headroom, "run_job", refuse)
    headroom.main(argv + ["--resume"])
    assert out.read_text().split("\n", 3)[3] == text.split("\n", 3)[3]  # below the date


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "train:99"], "not a task of digits-v1; valid: train:1"),
    (["--methods", "expert"], "the panel is needed"),
    (["--sbs", "none+sgd+constant"], "neither a panel recipe"),
    (["--tasks", "heldout:1"], "pass --sbs RECIPE"),
])
def test_bad_input_is_named(tmp_path, capsys, monkeypatch, argv, message):
    def refuse(*args, **kwargs):
        raise AssertionError("runs started before the input was refused")
    monkeypatch.setattr(headroom, "play_stored", refuse)
    with pytest.raises(SystemExit) as exit_info:  # a project error: exit 2, one error: line
        headroom.main(["--quick", "--seeds", "1", "--workers", "1", "--candidates", "1",
                       "--methods", "panel", "--no-progress", "--out", str(tmp_path / "h.md"),
                       *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and message in err



def test_expert_jumps_starts_from_the_default_with_the_given_jumps(tmp_path):
    """``expert-jumps`` is the demonstrations' expert (``training.imitate demos --jumps``):
    from the default, trying the ``--jumps`` recipes at every decision; the report gives it
    its own column, compute, headroom and schedule."""
    jumps = ("none+sgd+constant+bce", "crop+sgd+constant+bce")
    config = headroom.HeadroomConfig(tasks=("train:1",), seeds=1, jumps=jumps, quick=True,
                                     methods=("panel", "expert", "expert-jumps", "vbs-c"),
                                     halving=((0, 1), (1, 0)), out=tmp_path / "jumps.md")
    assert headroom.expert_starts(config) == [(headroom.DEFAULT_RECIPE, ()),
                                              (headroom.DEFAULT_RECIPE, jumps)]
    options = headroom._expert_options(config, headroom.DEFAULT_RECIPE, jumps)
    assert options["choices"] == headroom.recipe_of(headroom.DEFAULT_RECIPE).as_dict()
    assert options["jumps"] == tuple(headroom.recipe_of(j).as_dict() for j in jumps)
    headroom.check_experts(config, headroom.parse_tasks(config))  # playable on the task

    recipes = list(headroom.QUICK)
    runs = [headroom.Run("train:1", f"panel:{r}", 0, 1.0, 1.0 + i, 1.0)
            for i, r in enumerate(recipes)]
    runs += [headroom.Run("train:1", m, 0, 1.0, mAP, 5.0, choices=["crop+sgd+constant+bce"] * 3)
             for m, mAP in (("expert", 2.0), ("expert-jumps", 4.5), ("vbs-c", 3.0))]
    text = headroom.report(config, headroom.parse_tasks(config), runs, recipes[0],
                           recipes).read_text()
    assert "| expert | expert-jumps |" in text and "headroom: expert-jumps − VBS-C" in text
    assert "expert with jumps (seed 0): crop+sgd+constant+bce ×3" in text
    assert "headroom (expert-jumps − VBS-C) +1.5 on average" in text
