"""``benchmarks.protocol`` and ``benchmarks.ranking.leaderboard``: normalised scores and rliable
aggregates on hand-made stores, the headroom result csv scoring as its store, tiny end-to-end
runs (static, sbs, an outside controller, SB3 PPO) that each put a row on the leaderboard,
and clear errors for bad input."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import trim_mean

from benchmarks.ranking import leaderboard, normalised, protocol, vbs
from envs.errors import ConfigError

SBS = "none+sgd+constant+bce"


def _store(path: Path, settings: dict, results: list[dict]) -> Path:
    lines = [{"settings": settings}] + [
        {"name": f"{r.get('target') or r['label']}|{r['method']}", "seed": r["seed"], "result": r}
        for r in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _headroom(path: Path, experts: dict[int, float]) -> Path:
    """A headroom store: the expert (and TPE) on held-out tasks ``k`` over seeds 0 and 1, with
    the store's own SBS runs 5 below the expert."""
    return _store(path, {"task_set": "digits-v1"}, [
        {"label": f"heldout:{k}", "method": method, "seed": s, "test_mAP": expert - below + d,
         "episodes": episodes}
        for k, expert in experts.items() for s, d in ((0, -1.0), (1, 1.0))
        for method, below, episodes in (("expert", 0, 20.0), ("tpe", 2, 20.0),
                                        (f"panel:{SBS}", 5, 1.0))])


def _headroom_csv(path: Path, experts: dict[int, float], *, task_set: str = "digits-v1",
                  sbs: str = SBS) -> Path:
    """The runs of ``_headroom`` as the result csv ``benchmarks.headroom`` writes (its method
    names: ``SBS`` for ``panel:<sbs>``, plus ``default`` and ``VBS-8`` and a train task, which
    the leaderboard does not use), with the report beside it that names its task set."""
    rows = [(f"heldout:{k}", method, s, expert - below + d, episodes, schedule)
            for k, expert in experts.items() for s, d in ((0, -1.0), (1, 1.0))
            for method, below, episodes, schedule in (
                ("default", 6, 1.0, "flip_crop+adamw+one_cycle+asl ×4"),
                ("SBS", 5, 1.0, f"{sbs} ×4"), ("VBS-8", 4, 1.0, "crop+adamw+cosine+asl ×4"),
                ("expert", 0, 20.0, "a ×2 → b ×2"), ("tpe", 2, 20.0, ""))]
    rows += [("train:1", "expert", 0, 99.0, 20.0, "a ×4")]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["task", "method", "seed", "val_mAP", "test_mAP", "episodes",
                         "schedule", "detail"])
        writer.writerows([t, m, s, v - 1, v, e, sch, ""] for t, m, s, v, e, sch in rows)
    path.with_suffix(".md").write_text(
        f"# Headroom on {task_set}: the rollout expert against static recipes\n\n"
        "- command: `python -m benchmarks.headroom --tasks heldout:1,heldout:2`\n"
        "- machine: a test machine\n"
        f"- tasks: heldout:1, heldout:2 of {task_set} (labels: split:index, 1-based)\n"
        f"- SBS: {sbs}\n")
    return path


def _run(target: str, method: str, seed: int, value: float) -> dict:
    return {"target": target, "method": method, "seed": seed, "test_mAP": value,
            "choices": [], "wall_s": 1.0}


def test_normalised_scores_and_rliable_aggregates_on_a_hand_made_store(tmp_path):
    # SBS: heldout 1 has mean 31 (gap 4 to the expert's 35), heldout 2 mean 20 (gap 10)
    sbs = {"heldout 1: a": [30, 32, 30, 32], "heldout 2: b": [20, 20, 20, 20],
           "mlic-mnist-v0 (task size)": [28, 29, 28, 29]}
    ours = {"heldout 1: a": [33, 35, 31, 30], "heldout 2: b": [25, 30, 20, 40],
            "mlic-mnist-v0 (task size)": [28, 27, 30, 30]}
    runs = [_run(t, m, s, v) for m, table in (("static panel-best", sbs), ("mine", ours))
            for t, values in table.items() for s, v in enumerate(values)]
    store = _store(tmp_path / "runs" / "p.jsonl", {"task_set": "digits-v1", "panel_best": SBS},
                   runs)
    headroom = _headroom(tmp_path / "h.jsonl", {1: 35.0, 2: 30.0})
    stores = leaderboard.read_stores([store])
    scores = stores.scores
    experts, anchors, anchor_sbs = leaderboard.read_headroom(headroom, SBS)
    assert experts == {"heldout 1": 35.0, "heldout 2": 30.0}
    matrix, covered = leaderboard.normalised_matrix(scores["mine"], scores["static panel-best"],
                                                    experts)
    assert covered == ["heldout 1", "heldout 2"]  # mnist: no expert, raw only
    expected = [[0.75, 0.5], [0.75, 1.0], [0.25, 0.0], [-0.5, 2.0]]  # (m - sbs_s) / gap
    assert matrix == pytest.approx(np.array(expected))

    pair = leaderboard.paired_matrices(scores["mine"], scores["static panel-best"])
    # of the 16 (ours, SBS) pairs per target, ahead + ties / 2: heldout 1: 10 + 2/2,
    # heldout 2: 12 + 4/2, mnist: 8 + 2/2
    improvement = np.mean([11 / 16, 14 / 16, 9 / 16])
    stats = leaderboard.aggregate({"mine": matrix}, {"mine": pair}, reps=200)["mine"]
    assert stats.iqm[0] == pytest.approx(trim_mean(np.array(expected).reshape(-1), 0.25))
    assert stats.mean[0] == pytest.approx(np.mean(expected))
    assert stats.improvement[0] == pytest.approx(improvement)
    for point, low, high in (stats.iqm, stats.mean, stats.improvement):
        assert low <= point <= high
    again = leaderboard.aggregate({"mine": matrix}, {"mine": pair}, reps=200)["mine"]
    assert again == stats  # a seeded bootstrap

    out = leaderboard.write(tmp_path / "lb.md", stores, {}, headroom, command="cmd", reps=100)
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows[:4]] == [
        "| expert (headroom)", "| Optuna TPE (headroom)", "| mine", "| static panel-best"]
    assert "raw test mAP only (left out of the normalised aggregates): mnist" in text
    assert (tmp_path / "lb_profile.png").stat().st_size > 1000
    assert "## How to add a row" in text


def test_an_expert_run_on_mnist_makes_mnist_a_normalised_target(tmp_path):
    path = _store(tmp_path / "h.jsonl", {"task_set": "digits-v1"}, [
        {"label": label, "method": method, "seed": 0, "test_mAP": value, "episodes": 1.0}
        for label in ("heldout:1", "mnist", "train:2")
        for method, value in (("expert", 35.0), (f"panel:{SBS}", 30.0))])
    experts, _, sbs = leaderboard.read_headroom(path, SBS)
    assert experts == {"heldout 1": 35.0, "mnist": 35.0}  # a train task is never a target
    assert set(sbs) == {"heldout 1", "mnist"}


def test_a_headroom_csv_scores_as_its_store(tmp_path):
    experts = {1: 35.0, 2: 30.0}
    store = _headroom(tmp_path / "runs" / "headroom-digits-v1.jsonl", experts)
    table = _headroom_csv(tmp_path / "headroom.csv", experts)  # the same runs; the same report
    assert leaderboard.read_headroom(table, SBS) == leaderboard.read_headroom(store, SBS)
    assert leaderboard.anchor_infos(table, "cmd") == leaderboard.anchor_infos(store, "cmd")
    assert leaderboard.anchor_infos(table, "cmd")["expert (headroom)"].deployment.startswith(
        "20.0x")
    for path in (store, table):
        assert leaderboard.result_command(path, "digits-v1") == (
            "python -m benchmarks.headroom --tasks heldout:1,heldout:2")
    runs = [_run(t, m, s, v + s) for t, v in (("heldout 1: a", 30.0), ("heldout 2: b", 25.0),
                                              ("mlic-mnist-v0 (task size)", 28.0))
            for m in ("static panel-best", "mine") for s in range(3)]
    stores = leaderboard.read_stores([_store(tmp_path / "p" / "runs" / "p.jsonl",
                                             {"task_set": "digits-v1", "panel_best": SBS}, runs)])
    texts = [leaderboard.write(tmp_path / name / "lb.md", stores, {}, path, command="cmd",
                               reps=50).read_text() for name, path in (("a", store), ("b", table))]
    assert texts[0].replace(str(store), str(table)) == texts[1]
    assert f"`{table}` (the expert, anchors): a test machine" in texts[1]
    assert _row(texts[1], "expert (headroom)")[-1] == (
        "`python -m benchmarks.headroom --tasks heldout:1,heldout:2` |")


def test_the_committed_headroom_csvs_are_the_defaults(tmp_path):
    for task_set, table in protocol.HEADROOMS.items():
        assert table.is_file(), f"{table} is committed: the protocol's default for {task_set}"
        assert normalised.read_settings(table) == {"task_set": task_set}
        experts, anchors, sbs = leaderboard.read_headroom(
            table, protocol.panel_best(protocol.CALIBRATIONS[task_set]))
        assert experts and sbs and set(anchors) >= {"expert (headroom)", "VBS-C (headroom)"}
    # a fresh clone: no run store of headroom, the leaderboard ranks from the committed csv
    runs = [_run(f"heldout {k}: t{k}", m, s, 30.0 + s + (m == "mine"))
            for k in (1, 2, 3) for m in ("static panel-best", "mine") for s in range(2)]
    store = _store(tmp_path / "runs" / "p.jsonl", {"task_set": "digits-v1", "panel_best": SBS},
                   runs)
    text = protocol.main(["--leaderboard", "--store", str(store), "--out",
                          str(tmp_path / "lb.md"), "--reps", "50"]).read_text()
    assert re.search(r"`[^`]*headroom\.csv` \(the expert, anchors\): AMD EPYC", text)
    assert _row(text, "expert (headroom)")[3].startswith("+")
    assert _row(text, "mine")[3] != "—"  # normalised by the csv's expert


HEADROOM_STORES = {"digits-v1": "headroom-digits-v1.jsonl",
                   "digits-v0": "headroom_digits_v0-digits-v0.jsonl"}


@pytest.mark.parametrize("task_set", HEADROOM_STORES)
def test_the_committed_headroom_csv_scores_as_the_local_store(task_set):
    store = protocol.RESULTS / "runs" / HEADROOM_STORES[task_set]
    if not store.is_file():
        pytest.skip(f"{store} is not here (run stores are gitignored: only the csv is committed)")
    table, sbs = protocol.HEADROOMS[task_set], protocol.panel_best(protocol.CALIBRATIONS[task_set])
    from_csv, from_store = (leaderboard.read_headroom(path, sbs) for path in (table, store))
    assert from_csv == from_store  # exactly: the csv keeps every digit
    experts, anchors, anchor_sbs = from_csv
    assert experts and anchor_sbs and len(anchors) >= 4
    for name, runs in anchors.items():  # the anchors' normalised scores, from either
        matrix, targets = leaderboard.normalised_matrix(runs, anchor_sbs, experts)
        again, same = leaderboard.normalised_matrix(from_store[1][name], from_store[2],
                                                    from_store[0])
        assert targets == same and np.array_equal(matrix, again)
    infos = leaderboard.anchor_infos(table, "cmd")
    assert infos == leaderboard.anchor_infos(store, "cmd") and set(infos) == set(anchors)
    assert normalised.read_settings(table)["task_set"] == normalised.read_settings(store)[
        "task_set"] == task_set
    assert leaderboard.result_command(table, task_set) == leaderboard.result_command(store,
                                                                                     task_set)


def test_probability_of_improvement_is_rliables():
    from rliable import metrics
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 3, (rng.integers(1, 5), 3)).astype(float)
        y = rng.integers(0, 3, (rng.integers(1, 5), 3)).astype(float)
        assert leaderboard.probability_of_improvement(x, y) == pytest.approx(
            metrics.probability_of_improvement(x, y))


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``quick(*flags)``: a tiny protocol run into one shared store (SBS runs are reused)."""
    root = tmp_path_factory.mktemp("protocol")
    headroom = _headroom(root / "h.jsonl", {1: 60.0, 2: 60.0, 3: 60.0, 4: 60.0})

    def run(*flags: str) -> str:
        out = protocol.main(["--quick", "--seeds", "1", "--workers", "1", "--no-progress",
                             "--headroom", str(headroom), "--out", str(root / "lb.md"),
                             "--meta-out", str(root / "meta"), "--reps", "50", "--resume",
                             *flags])
        return out.read_text()
    run.root = root
    return run


def _row(text: str, method: str) -> list[str]:
    return next(line.split(" | ") for line in text.splitlines()
                if line.startswith(f"| {method} |"))


def test_the_leaderboard_scores_time_to_target_where_runs_kept_curves(quick, tmp_path,
                                                                     monkeypatch):
    """AlgoPerf's score beside the normalised one: per track, from the runs' val curves and the
    targets committed for their tasks (here, targets set for the quick tasks)."""
    from benchmarks.ranking import algoperf
    quick("--algo", "sbs", "--targets", "heldout")
    store = quick.root / "runs" / "protocol-digits-v1-quick.jsonl"
    settings = json.loads(store.read_text().splitlines()[0])["settings"]
    names = [n for label, n in settings["targets"].items() if label.startswith("heldout")]
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({f"t{i}": {"task": n, "target_val_mAP": 0.0}
                                   for i, n in enumerate(names)}))  # reached at decision 1
    monkeypatch.setattr(algoperf, "TARGETS", targets)
    text = quick("--algo", "static", "--targets", "heldout")
    assert _row(text, "static default")[9] == "1.00 [self]"  # both reach every target at once
    assert _row(text, "static panel-best")[9] == "1.00 [self]"
    assert "AlgoPerf score (benchmarks.algoperf): time to the committed val-mAP target" in text
    monkeypatch.setattr(algoperf, "TARGETS", tmp_path / "none.json")  # no targets: no score
    assert _row(quick("--algo", "static", "--targets", "heldout"), "static default")[9] == "—"


def test_a_fixed_recipe_of_the_newer_catalogue_plays_the_older_tasks(quick):
    """``recipe:NAME``: a tuning-free optimizer's recipe on digits-v1's tasks, whose ids offer
    the classic catalogue (the recipe plays in the latest one: the same data and budget)."""
    text = quick("--algo", "recipe:crop+sf_adamw+constant+asl", "--targets", "heldout")
    row = _row(text, "recipe:crop+sf_adamw+constant+asl")
    assert row[1] == "static" and "heldout 1,2,3,4 (1 seed)" in row[2]
    with pytest.raises(SystemExit):
        quick("--algo", "recipe:crop+lamb+constant+asl", "--targets", "heldout")


def test_the_vbs_is_a_reference_row_beside_the_sbs(quick):
    text = quick("--algo", "static", "--targets", "heldout", "--vbs", str(quick.root / "h.jsonl"))
    row = _row(text, vbs.VBS_ROW)
    assert row[1].startswith("reference") and row[9] == "—"  # in no AlgoPerf track
    assert f"heldout 1: {SBS}; heldout 2: {SBS}" in row[-1]  # which recipe, per target
    assert vbs.VBS_ROW not in quick("--algo", "static", "--targets", "heldout")  # --quick


def test_static_and_sbs_put_their_rows_on_the_leaderboard(quick):
    quick("--algo", "sbs", "--targets", "heldout")
    text = quick("--algo", "static", "--targets", "heldout")
    default, sbs = _row(text, "static default"), _row(text, "static panel-best")
    assert sbs[1].startswith("static") and "calibration panel" in sbs[10]
    assert sbs[3].startswith("+0.00") and default[3] != "—"  # every held-out target normalised
    assert "heldout 1,2,3,4 (1 seed)" in default[2]
    store = quick.root / "runs" / "protocol-digits-v1-quick.jsonl"
    names = [json.loads(line)["name"] for line in store.read_text().splitlines()[1:]]
    names = [n for n in names if n.endswith(("|static default", "|static panel-best"))]
    assert len(names) == 8 and len(set(names)) == 8  # the sbs runs were reused, not replayed
    methods = json.loads((quick.root / "runs"
                          / "protocol-digits-v1-quick.methods.json").read_text())
    assert "--algo sbs" in methods["static panel-best"]["command"]


def test_an_outside_controller_runs_through_the_protocol(quick):
    spec = "examples.protocol_controller:MyController"
    text = quick("--algo", spec, "--targets", "mnist")
    row = _row(text, spec)
    assert row[1].startswith("online") and row[3] == "—" and row[7] != "—"  # raw mnist only
    store = quick.root / "runs" / "protocol-digits-v1-quick.jsonl"
    played = [json.loads(line)["result"]["choices"] for line in store.read_text().splitlines()[1:]
              if spec in line]
    assert len(played) == 1 and "+sgd+" not in played[0][0] and "+sgd+" in played[0][-1]


def test_sb3_ppo_is_trained_for_its_budget_then_deployed_frozen(quick):
    text = quick("--algo", "sb3:PPO", "--meta-episodes", "2", "--targets", "mnist")
    row = _row(text, "sb3:PPO (meta-trained 2 ep)")
    assert row[1] == "meta-trained here, frozen" and "2 episodes" in row[10]
    summary = json.loads((quick.root / "meta" / "sb3-ppo-digits-v1-quick-2ep"
                          / "summary.json").read_text())
    assert summary["episodes"] == 2


def test_the_leaderboard_alone_joins_a_zero_shot_store(quick, tmp_path):
    quick("--algo", "sbs", "--targets", "mnist")  # stored already if the tests above ran
    label = "mlic-mnist-v0 (task size)"
    extra = _store(tmp_path / "runs" / "zs.jsonl", {"task_set": "digits-v1"},
                   [_run(label, "bandit online", 0, 1.0)])
    (tmp_path / "zs.md").write_text("# zero-shot\n\n- command: `python -m benchmarks.zero_shot`\n")
    text = quick("--leaderboard", "--from", str(extra))
    row = _row(text, "bandit online")
    assert row[1].startswith("online") and row[-1] == "`python -m benchmarks.zero_shot` |"
    assert _row(text, "static panel-best")  # the protocol store's rows are kept


def test_a_default_task_store_from_another_machine_joins_with_its_own_sbs(quick, tmp_path):
    quick("--algo", "sbs", "--targets", "heldout")  # stored already if the tests above ran
    label, settings = "mlic-digits-v0 (full default)", {
        "task_set": "digits-v1", "panel_best": SBS, "targets": {
            "mlic-digits-v0 (full default)": "mlic-digits-v0"}}
    # made here: the SBS on the default task 1 above the one of the lent machine
    here = _store(tmp_path / "runs" / "here.jsonl", settings, [
        _run(label, "static panel-best", 0, 51.0), _run(label, "bandit online", 0, 50.5)])
    lent = _store(tmp_path / "runs" / "lent.jsonl", settings, [
        _run(label, "static panel-best", 0, 49.0), _run(label, "zoo:elsewhere", 0, 50.0)])
    (tmp_path / "lent.md").write_text(
        "# zero-shot\n\n- command: `python -m benchmarks.zero_shot --targets default`\n"
        "- machine: Intel(R) Xeon(R) Processor, 16 cores, torch 2.11.0+cu130\n")
    text = quick("--leaderboard", "--from", str(here), str(lent))
    lent_row, sbs = _row(text, "zoo:elsewhere"), _row(text, "static panel-best")
    assert lent_row[8] == "50.0" and lent_row[6] == lent_row[7] == "—"  # default only
    assert sbs[8] == "51.0" and sbs[6] != "—"  # the first store's SBS: the protocol's, then here
    assert lent_row[3] == "—" and lent_row[5].startswith("1.00")  # vs its own store's SBS (49)
    assert _row(text, "bandit online")[5].startswith("0.00")  # vs 51, its store's
    assert re.search(r"raw test mAP only \(left out of the normalised aggregates\): .*default",
                     text)
    assert "SBS runs that differ between stores: default (1 seed)" in text
    header = text[:text.index("One row per method")]
    assert "`" + str(lent) + "` (runs): Intel(R) Xeon(R) Processor, 16 cores, torch 2.11" in header
    assert "`" + str(here) + "` (runs): unknown" in header
    protocol_store = next(line for line in header.splitlines() if "protocol-digits-v1-quick" in line)
    assert "cores" in protocol_store and "static panel-best" in protocol_store  # recorded machine
    assert "(the expert, anchors): unknown" in header  # the hand-made headroom has no result


@pytest.mark.parametrize("flags, message", [
    (["--algo", "bandt"], "did you mean bandit"),
    (["--algo", "statik"], "(did you mean static?)"),  # the fixed row and the registry's: once
    (["--algo", "benchmarks.ranking.protocol:Job"], "is not an agents.base.Controller subclass"),
    (["--algo", "no_such_module:Thing"], "cannot import"),
    (["--algo", "sb3:PPO"], "--meta-episodes N"),
    (["--algo", "zoo:nothing-here"], "zoo:nothing-here"),
    (["--algo", "static", "--headroom", "missing.jsonl"], "run python -m benchmarks.headroom"),
    (["--algo", "static", "--headroom", "missing.csv"], "or its result csv, .csv"),
    (["--algo", "static", "--headroom", "headroom.md"], "run store (.jsonl) or the result csv"),
])
def test_bad_input_is_refused_with_the_fix(tmp_path, capsys, flags, message):
    headroom = _headroom(tmp_path / "h.jsonl", {1: 60.0})
    with pytest.raises(SystemExit) as exit_info:
        protocol.main(["--quick", "--headroom", str(headroom), "--out", str(tmp_path / "lb.md"),
                       *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lb.md").exists()


def test_a_headroom_csv_of_another_task_set_or_sbs_is_refused(tmp_path, capsys):
    runs = [_run("heldout 1: a", "static panel-best", 0, 30.0)]
    stores = leaderboard.read_stores([_store(tmp_path / "p" / "runs" / "p.jsonl",
                                             {"task_set": "digits-v1", "panel_best": SBS}, runs)])
    (tmp_path / "v0").mkdir()
    v0 = _headroom_csv(tmp_path / "v0" / "headroom.csv", {1: 35.0}, task_set="digits-v0")
    with pytest.raises(ConfigError, match="ran digits-v0, the runs digits-v1"):
        leaderboard.write(tmp_path / "lb.md", stores, {}, v0, command="cmd", reps=50)
    with pytest.raises(SystemExit) as exit_info:
        protocol.main(["--leaderboard", "--headroom", str(v0), "--store",
                       str(stores.paths[0]), "--out", str(tmp_path / "lb.md")])
    assert exit_info.value.code == 2
    assert "ran digits-v0, not --task-set digits-v1" in capsys.readouterr().err
    other = _headroom_csv(tmp_path / "headroom.csv", {1: 35.0}, sbs="crop+adamw+cosine+asl")
    with pytest.raises(ConfigError, match="not of the runs' SBS none.sgd.constant.bce: pass the "
                                         "headroom store"):
        leaderboard.write(tmp_path / "lb.md", stores, {}, other, command="cmd", reps=50)
    (tmp_path / "peers.csv").write_text("method,seed,test_mAP\nx,0,1.0\n")
    with pytest.raises(ConfigError, match="not a benchmarks.headroom result csv .*schedule"):
        leaderboard.write(tmp_path / "lb.md", stores, {}, tmp_path / "peers.csv",
                          command="cmd", reps=50)
    assert not (tmp_path / "lb.md").exists()
