"""The benchmark scripts run end to end on tiny settings and write their markdown tables."""
from __future__ import annotations

import pytest

import envs
from benchmarks.speed import overhead, throughput
from benchmarks.expert import static_recipes
from benchmarks.core.common import mean_std


def test_mean_std_formats():
    assert mean_std([1.0, 3.0]) == "2.0 ± 1.4" and mean_std([2.0]) == "2.0 ± 0.0"


@pytest.mark.parametrize("seed", [0, 1])  # env first, plain first
def test_throughput_pair_does_the_same_work(tmp_path, seed):
    pair = throughput.measure_pair("mlic-digits", epochs=2, seed=seed, image_size=16,
                                   max_train_images=64, batch_size=16)
    env_m, plain_m = pair.env, pair.plain
    assert env_m.images == plain_m.images > 0
    assert env_m.train_seconds > 0 and plain_m.train_seconds > 0 and 0 <= env_m.overhead_share < 1
    assert pair.same_weights  # same start, data order, LR rule: the same arithmetic


def test_static_recipes_quick_writes_a_table(tmp_path):
    out = tmp_path / "static.md"
    static_recipes.main(["--recipes", "quick", "--seeds", "1", "--max-decisions", "1",
                         "--image-size", "16", "--max-train-images", "64", "--out", str(out)])
    text = out.read_text()
    assert "| recipe" in text and "default (ASL paper)" in text and "command:" in text
    assert "--max-train-images 64" in text


def test_overhead_writes_a_table(tmp_path):
    out = tmp_path / "overhead.md"
    overhead.main(["--seeds", "1", "--max-decisions", "2", "--image-size", "16",
                   "--max-train-images", "64", "--out", str(out)])
    text = out.read_text()
    assert text.count("mat-dqn, curiosity=") == 3 and "agents total" in text
    # mlic-digits is version 2: the label probe runs (at its first decision) and is reported
    probe = [float(row.split("|")[6].split("±")[0]) for row in text.splitlines()
             if row.startswith("| mat-dqn")]
    assert "label probe (% of training)" in text and all(p > 0 for p in probe)


# slow: 16 tasks x 11 recipes x 2 seeds of tiny runs (about 10 s)
@pytest.mark.slow
def test_task_set_calibration_quick_writes_its_table_and_verdicts(tmp_path):
    from benchmarks.expert import task_sets
    out = task_sets.main(["--quick", "--seeds", "2", "--workers", "1", "--no-progress",
                          "--out", str(tmp_path / "ts.md")])
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| train", "| heldout"))]
    assert len(rows) == 16  # every task of digits-v0, both splits
    targets = text.split("Targets (issue 11):")[1].split("Per-recipe means")[0]
    verdicts = [line for line in targets.splitlines() if line.startswith("- ")]
    assert len(verdicts) == 4 and all(" met" in line for line in verdicts)
    assert "spread >= 8 mAP on every task" in targets
    assert (tmp_path / "ts.csv").read_text().count("\n") == 17


def test_zero_shot_quick_compares_a_zoo_controller_with_the_baselines(tmp_path):
    from agents import zoo
    from benchmarks.ranking import zero_shot
    names = zoo.list_zoo()
    assert names, "the zoo ships at least one controller"
    out = zero_shot.main(["--quick", "--seeds", "2", "--workers", "1", "--no-progress",
                          "--no-pbt", "--targets", "mnist", "--zoo", names[0],
                          "--out", str(tmp_path / "zs.md")])
    text = out.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| target"))
    for method in (f"zoo:{names[0]}", "static default", "static panel-best", "bandit online",
                   "mat-dqn online"):
        assert method in header
    rows = [line for line in text.splitlines() if line.startswith("| mlic-mnist")]
    assert len(rows) == 1
    margins = [line for line in text.splitlines() if line.startswith(f"| zoo:{names[0]} |")]
    assert len(margins) == 4  # vs the default, vs panel-best, what it played, per-task play
    assert (tmp_path / f"zs_choices_{names[0]}.png").stat().st_size > 1000
    assert "CPU-hours" in text


def test_task_dependence_separates_task_specific_play_from_seed_noise():
    from benchmarks.ranking.choice_maps import task_dependence
    a = "none+sgd+constant+bce"
    b = "crop+adamw+cosine+asl"
    assert task_dependence({"t1": {0: [a, a], 1: [a, a]}, "t2": {0: [a, a], 1: [a, a]}}) == (0, 0)
    between, within = task_dependence({"t1": {0: [a, a], 1: [a, a]}, "t2": {0: [b, b], 1: [b, b]}})
    assert (between, within) == (1.0, 0.0)
    between, within = task_dependence({"t1": {0: [a, b], 1: [b, b]}})
    assert between == 0.0 and within == 0.5


def test_user_loop_quick_compares_a_zoo_controller_with_static_recipes(tmp_path):
    from agents import zoo
    from benchmarks.ranking import user_loop
    name = zoo.list_zoo()[0]
    out = user_loop.main(["--quick", "--seeds", "2", "--workers", "1", "--no-progress",
                          "--zoo", name, "--out", str(tmp_path / "ul.md")])
    text = out.read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()
            if line.startswith(("| zoo:", "| static", "| crop+"))}
    assert {f"zoo:{name}", "static default", "static panel-best", "crop+sf_adamw+constant+asl",
            "crop+prodigy+cosine+asl"} <= set(rows)  # the tuning-free peers beside the SBS
    assert "API share of wall" in text and "paired" in text.lower()
    assert (tmp_path / "runs" / "ul.jsonl").is_file()


@pytest.mark.parametrize("model, name", [("convmixer", "UserConvMixer"), ("vit", "UserViT")])
def test_user_loop_takes_other_user_written_models(tmp_path, model, name):
    from benchmarks.ranking import user_loop
    out = user_loop.main(["--quick", "--seeds", "1", "--workers", "1", "--no-progress",
                          "--model", model, "--zoo", "bc-digits-v1",
                          "--out", str(tmp_path / "ul.md")])
    text = out.read_text()
    assert f"model: {name}" in text and "| zoo:bc-digits-v1 |" in text
    with pytest.raises(SystemExit):
        user_loop.main(["--quick", "--model", "mlp", "--out", str(tmp_path / "x.md")])


def test_the_mnist_target_takes_the_first_train_tasks_size_budget_and_version():
    from benchmarks.ranking.targets import targets
    (label, task), = targets(envs.task_set("digits-long-v0"), ["mnist"]).items()
    assert label == "mlic-mnist-v2 (task size)" and task.env_id == "mlic-mnist-v2"
    assert (task.decisions * task.epochs_per_decision, task.generator.n_train) == (25, 2000)
    (label, task), = targets(envs.task_set("digits-v1"), ["mnist"]).items()
    assert label == "mlic-mnist-v0 (task size)" and task.env_id == "mlic-mnist-v0"


def test_a_meta_training_runs_controller_takes_the_runs_env_settings(tmp_path):
    """A run's best/ must not be played in an env without the settings it was trained with
    (the relative observation has the standard one's shape, so no shape check would notice)."""
    import json
    import shutil
    from agents import zoo
    from benchmarks.core.episodes import controller_env_settings
    name = zoo.list_zoo()[0]
    shutil.copytree(zoo.zoo_dir(name), tmp_path / "run" / "best")
    settings = {"observation": "relative", "reward.kind": "best_gain"}
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"env_settings": settings}))
    # and the catalogue it acts in, from its manifest (the tiny task set's: classic)
    assert controller_env_settings(tmp_path / "run" / "best") == {**settings, "catalogue": "classic",
                                                                 "context_features": False}
    assert controller_env_settings(f"zoo:{name}") == {**zoo.read_card(name)["env_settings"],
                                                      "catalogue": "classic",
                                                      "context_features": False}
    assert controller_env_settings(tmp_path) == {}


def test_learner_curves_tabulates_each_run_s_heldout_curve(tmp_path, capsys):
    import json
    from benchmarks.paper import learner_curves
    for name, curve in (("bc", [30.0, 33.5, 32.0]), ("rl", [33.0, 31.0])):
        run = tmp_path / name
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({
            "algo": "mat-dqn", "learner": name if name == "bc" else None, "command": f"make {name}",
            "cpu_hours": 0.5, "curve": [{"round": i, "epochs": 100 * i, "heldout_mAP": v}
                                        for i, v in enumerate(curve)]}))
    out = learner_curves.main([str(tmp_path / "bc"), str(tmp_path / "rl"),
                               "--out", str(tmp_path / "curves.md")])
    text = out.read_text()
    assert "30.0 → 33.5 → 32.0" in text and "33.5 at 100 epochs" in text and "+2.0" in text
    assert "| rl (mat-dqn) |" in text and "-2.0" in text
    assert (tmp_path / "curves.png").is_file()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as stop:  # a project error: exit 2, one error: line
        learner_curves.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.md")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: ") and "summary.json is missing" in err


def test_budgets_quick_reports_recipes_and_a_controller_per_budget(tmp_path):
    from benchmarks.expert import budgets
    out = budgets.main(["--quick", "--budgets", "1,2", "--recipes", "quick", "--workers", "1",
                        "--controllers", "zoo:bc-digits-v1", "--no-progress",
                        "--out", str(tmp_path / "b.md")])
    text = out.read_text()
    assert "| 1 epochs | 2 epochs |" in text and "| best static recipe |" in text
    assert "| zoo:bc-digits-v1 | 2 |" in text and (tmp_path / "b.png").is_file()
    with pytest.raises(SystemExit):
        budgets.main(["--budgets", "0,5", "--out", str(tmp_path / "x.md")])
