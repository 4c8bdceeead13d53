"""The ablation and peer sweeps run end to end on tiny settings and write their reports.

The end-to-end runs check structure (files, rows, columns) and that every sentence of the
report is the one its own CSV implies; the sentences themselves are checked on constructed
scores whose answer is known. The PBT test needs Ray (the ``ray`` extra, not in ``test``) and
is skipped, with that reason, without it; the skipped-PBT report is checked either way.
"""
from __future__ import annotations

import csv
import math

import pytest
from pettingzoo.test import parallel_api_test

import envs
from conftest import TINY as TINY_ENV
from agents.rewards.individual import IndividualRewardWrapper
from benchmarks.paper import ablations, peers
from benchmarks.expert import pbt
from benchmarks.core.episodes import describe_choices, parse_recipe, recipe_name
from benchmarks.paper.peers_report import SweepResult, curiosity_sentence, write_outputs
from benchmarks.core.reporting import reach_epoch, shortfalls, winner_sentence
from benchmarks.expert.search import MethodResult

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ["--quick", "--seeds", "1", "--max-train-images", "64", "--steps-per-decision", "2",
        "--no-progress"]
TPE, PBT = "Optuna TPE + median pruner", "Ray Tune PBT"
RAY = "needs the `ray` extra (pip install -c constraints.txt 'ray[tune]'), not in `test`"


def _csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _tiny_env(**overrides) -> envs.MLICTrainingEnv:
    return envs.make("mlic-digits", **TINY_ENV.overrides(**overrides))


# ------------------------------------------------------------------ helpers
def test_reach_epoch_and_shortfalls():
    assert reach_epoch([1.0, 3.0, 5.0], 3.0) == 2 and reach_epoch([1.0], 2.0) is None
    scores = {"ours": [50.0, 52.0], "weak": [40.0, 41.0], "strong": [60.0, 61.0],
              "close": [50.5, 51.0]}
    text = " ".join(shortfalls(scores, ["ours"], ["weak", "strong", "close"]))
    assert "**ours does not beat** strong" in text and "close" in text and "weak" not in text
    assert "every comparison (b)" in shortfalls({"a": [9.0], "b": [1.0]}, ["a"], ["b"])[0]
    assert shortfalls(scores, ["ours"], ["close"]) == [
        "ours is ahead of close (50.75 vs 51.00) by less than one seed std: not a clear win."]


def test_winner_sentence_pairs_seeds():
    text = winner_sentence({"a": [50.0, 52.0, 51.0], "b": [49.0, 53.0, 50.0], "c": [10.0] * 3})
    assert text.startswith("**Best mean test mAP: a, 51.0 ± 1.0.**")
    assert "b +0.3 ± 1.2 (ahead on 2/3 seeds); c +41.0 ± 1.0 (ahead on 3/3 seeds)" in text


def test_recipe_names_round_trip_and_choices_are_described():
    recipe = envs.Recipe(aug="crop", opt="sgd", lrs="cosine", loss="focal")
    assert parse_recipe(recipe_name(recipe)) == recipe
    with pytest.raises(ValueError):
        parse_recipe("crop+sgd")
    text = describe_choices(["a", "a", "b", "a", "a"])
    assert text == "2 switch(es); most played a (4/5 decisions)"


def test_individual_reward_wrapper_pays_each_agent_its_own_signal():
    env = IndividualRewardWrapper(_tiny_env(), tail_classes=[0, 1])
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({"aug": 0, "opt": 0, "lrs": 0, "loss": 2})
    assert set(rewards) == set(envs.COMPONENTS) and all(math.isfinite(r) for r in rewards.values())
    assert all(infos[a]["reward_individual"] == rewards[a] for a in rewards)
    assert len({infos[a]["reward_shared"] for a in rewards}) == 1
    assert rewards["lrs"] == pytest.approx(infos["lrs"]["reward_terms"]["stability"]
                                           - 0.5 * 0.1 / 4)  # lrs switched from one_cycle
    state = env.state_dict()
    twin = IndividualRewardWrapper(_tiny_env(), tail_classes=[0, 1])
    twin.load_state_dict(state)
    action = {"aug": 2, "opt": 2, "lrs": 3, "loss": 2}
    assert env.step(action)[1] == twin.step(action)[1]


def test_individual_reward_wrapper_passes_the_pettingzoo_api_test():
    parallel_api_test(IndividualRewardWrapper(_tiny_env(max_decisions=2)), num_cycles=2)


# --------------------------------------------------------------- ablations
def test_ablations_quick_writes_every_row(tmp_path):
    path = ablations.main(TINY + ["--max-decisions", "2", "--out", str(tmp_path)])
    assert path == tmp_path / "ablations.md"
    for name in ("ablations.csv", "ablations_curves.csv", "ablations.png",
                 "ablations_test_map.png"):
        assert (tmp_path / name).stat().st_size > 0
    text = path.read_text()
    assert "command: `python -m benchmarks.ablations --quick" in text and "machine:" in text
    for variant in ablations.VARIANTS.values():
        assert f"| {variant.label} |" in text
    assert "±" in text and "epochs to static's final val mAP" in text and "Convergence:" in text
    rows = _csv(tmp_path / "ablations.csv")
    assert len(rows) == len(ablations.VARIANTS)
    assert {"test_mAP", "test_CF1", "test_OF1", "epochs_to_target"} <= set(rows[0])
    static = next(r for r in rows if r["key"] == "static")
    assert static["epochs_to_target"] and int(static["epochs_to_target"]) <= 2
    assert len(_csv(tmp_path / "ablations_curves.csv")) == 2 * len(ablations.VARIANTS)


def test_ablations_pass_backbone_weights_and_device_to_every_variant(tmp_path, monkeypatch):
    import torch
    from envs.engine.models import build_model
    weights = tmp_path / "gn.pt"
    torch.save(build_model("gn_resnet", 5).state_dict(), weights)
    built = []
    make = envs.make

    def recording_make(env_id, **overrides):
        env = make(env_id, **overrides)
        built.append(env.config.trainer_config())
        return env
    monkeypatch.setattr(envs, "make", recording_make)
    out = tmp_path / "out"
    path = ablations.main(TINY + ["--max-decisions", "1", "--variants", "full", "--out", str(out),
                                  "--backbone", "gn_resnet", "--weights", str(weights),
                                  "--device", "cpu"])
    assert len(built) == 2  # the static default and full
    assert {(t.backbone, t.weights_path, t.device) for t in built} == {
        ("gn_resnet", str(weights), "cpu")}
    assert "backbone gn_resnet" in path.read_text()


@pytest.mark.parametrize("args, message", [
    (["--weights", "{tmp}/missing.pt"], "error: --weights {tmp}/missing.pt does not exist"),
    (["--backbone", "no_such_net"], "error: --backbone no_such_net: unknown backbone"),
])
def test_ablations_refuse_bad_backbone_flags_before_any_output(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        ablations.main(TINY + ["--out", str(out)] + [a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith(message.format(tmp=tmp_path))
    assert len(err.strip().splitlines()) == 1 and not out.exists()


# ------------------------------------------------------------------- peers
def test_peers_quick_without_pbt_writes_curves(tmp_path):
    methods = "static,random-search,tpe,bandit,mat-dqn,mat-dqn-curiosity,ma2ml"
    missing = {m: peers.unavailable(m) for m in methods.split(",") if peers.unavailable(m)}
    assert not missing, f"every method here must run under the `test` extra: {missing}"
    path = peers.main(TINY + ["--budget-epochs", "4", "--methods", methods, "--out", str(tmp_path)])
    text = path.read_text()
    assert path.name == "peers.md" and "budget E = 4 epochs" in text and "±" in text
    for name in ("peers.csv", "peers_curves.csv", "peers.png", "peers_test_map.png"):
        assert (tmp_path / name).stat().st_size > 0
    rows = _csv(tmp_path / "peers.csv")
    assert [r["method"] for r in rows] == ["static", "random-search", TPE, "bandit", "mat-dqn",
                                           "mat-dqn+rnd", "ma2ml"]
    assert all(int(r["epochs_spent"]) == 4 for r in rows)
    assert int(next(r for r in rows if r["method"] == "random-search")["trials"]) == 2
    curves = _csv(tmp_path / "peers_curves.csv")
    static = [float(c["best_val_mAP"]) for c in curves if c["method"] == "static"]
    assert len(static) == 4 and static == sorted(static)
    # Every sentence is the one the CSV's numbers imply (one seed, so the CSV holds them all).
    scores = {r["method"]: [float(r["test_mAP"])] for r in rows}
    expected = [winner_sentence(scores)] + shortfalls(
        scores, ["bandit", "mat-dqn", "mat-dqn+rnd", "ma2ml"], ["static", "random-search", TPE])
    choices = {r["method"]: r["choices"] for r in rows}
    if choices["mat-dqn"] == choices["mat-dqn+rnd"]:
        expected.append("mat-dqn+rnd played exactly the same recipe sequence as mat-dqn on 1 of 1 "
                        "seeds: within one 4-decision episode the curiosity bonus changed none of "
                        "its choices on those seeds.")
    else:
        expected.append("mat-dqn+rnd and mat-dqn played different recipe sequences on every seed.")
    for sentence in expected:
        assert f"- {sentence}\n" in text
    assert "## Search recipes retrained for the whole budget" in text
    assert "## How the agents played" in text and "switch(es)" in text
    for row in rows:
        searched = row["method"] in ("random-search", TPE)
        assert (row["retrained_test_mAP"] != "") == searched
        assert len(row["choices"].split()) == (0 if searched else 4)
    static_row = next(r for r in rows if r["method"] == "static")
    assert static_row["choices"].split() == [static_row["recipe"]] * 4


def _result(test_map: float, choices: tuple[str, ...] = ()) -> MethodResult:
    return MethodResult(test={"mAP": test_map, "CF1": 0.0, "OF1": 0.0}, curve=[test_map] * 4,
                        wall_s=1.0, recipe="crop+sgd+cosine+focal", choices=list(choices))


A, B = ("crop+sgd+cosine+bce",) * 4, ("none+sgd+cosine+bce",) * 4


def test_peers_report_says_what_constructed_scores_imply(tmp_path):
    config = peers.PeersConfig(budget=4, seeds=2, out=tmp_path)
    sweep = SweepResult(results={
        "static": [_result(50.0), _result(52.0)], "tpe": [_result(41.0), _result(43.0)],
        "bandit": [_result(60.0, A), _result(62.0, A)],
        "mat-dqn": [_result(40.0, A), _result(42.0, B)],
        "mat-dqn-curiosity": [_result(45.0, A), _result(41.0, A)]},
        retrained={"tpe": [_result(48.0), _result(50.0)]})
    text = write_outputs(config, sweep, list(peers.AGENTS), list(peers.PEERS)).read_text()
    for sentence in [
        "**Best mean test mAP: bandit, 61.0 ± 1.4.** Its per-seed margin over each other method: "
        "static +10.0 ± 0.0 (ahead on 2/2 seeds); mat-dqn+rnd +18.0 ± 4.2 (ahead on 2/2 seeds); "
        f"{TPE} +19.0 ± 0.0 (ahead on 2/2 seeds); mat-dqn +20.0 ± 0.0 (ahead on 2/2 seeds).",
        f"bandit is ahead of every comparison (static, {TPE}) on mean test mAP by more than one "
        "seed std.",
        f"**mat-dqn does not beat** static (51.00 vs 41.00), {TPE} (42.00 vs 41.00) on mean test "
        "mAP.",
        "**mat-dqn+rnd does not beat** static (51.00 vs 43.00) on mean test mAP.",
        f"mat-dqn+rnd is ahead of {TPE} (42.00 vs 43.00) by less than one seed std: not a clear "
        "win.",
        "mat-dqn+rnd played exactly the same recipe sequence as mat-dqn on 1 of 2 seeds: within "
        "one 4-decision episode the curiosity bonus changed none of its choices on those seeds.",
        f"Retrained for all 4 epochs, the recipes {TPE} chose score 49.0 ± 1.4 test mAP (vs static "
        "default 51.0 ± 1.4 and the best agent method, bandit, 61.0 ± 1.4 at 1× compute).",
    ]:
        assert f"- {sentence}\n" in text
    assert f"| {TPE} | 42.0 ± 1.4 |" in text and "| tpe |" not in text
    assert [r["method"] for r in _csv(tmp_path / "peers.csv")] == [
        "static", "static", TPE, TPE, "bandit", "bandit", "mat-dqn", "mat-dqn", "mat-dqn+rnd",
        "mat-dqn+rnd"]


def test_curiosity_sentence_when_no_seed_played_the_same():
    config = peers.PeersConfig(budget=4)
    results = {"mat-dqn": [_result(1.0, A)], "mat-dqn-curiosity": [_result(1.0, B)]}
    assert curiosity_sentence(config, results) == (
        "mat-dqn+rnd and mat-dqn played different recipe sequences on every seed.")
    assert curiosity_sentence(config, {"mat-dqn": results["mat-dqn"]}) is None


def test_peers_says_pbt_was_skipped_without_ray(tmp_path, monkeypatch):
    monkeypatch.setattr(pbt, "available", lambda: False)
    path = peers.main(TINY + ["--budget-epochs", "4", "--population", "2",
                              "--methods", "static,pbt", "--out", str(tmp_path)])
    text = path.read_text()
    assert "**Skipped:** PBT was skipped because Ray is missing" in text
    assert [r["method"] for r in _csv(tmp_path / "peers.csv")] == ["static"]


# slow: a Tune PBT trial per population member; the Ray tests of meta-training and the
# rollout expert stay in the fast suite
@pytest.mark.slow
def test_peers_pbt_runs_through_ray_tune(tmp_path, ray_cluster):
    pytest.importorskip("ray.tune", reason=RAY)
    path = peers.main(TINY + ["--budget-epochs", "4", "--population", "2", "--interval", "1",
                              "--methods", "pbt", "--out", str(tmp_path)])
    rows = _csv(tmp_path / "peers.csv")
    assert [r["method"] for r in rows] == [PBT] and f"| {PBT} |" in path.read_text()
    assert 1 <= int(rows[0]["epochs_spent"]) <= 4 and int(rows[0]["trials"]) == 2


def test_ray_console_hides_banners_but_shows_them_on_failure(capsys):
    with pbt.ray_console():
        print("Configuration for experiment")
    assert capsys.readouterr() == ("", "")
    with pytest.raises(RuntimeError), pbt.ray_console():
        print("trial failed: see this")
        raise RuntimeError("boom")
    assert "trial failed: see this" in capsys.readouterr().err


def test_the_static_peer_is_the_static_controller_holding_the_default_recipe():
    """``static`` is played as every algorithm is (no branch of its own in ``peers.runner``),
    and gives exactly what holding the default recipe fixed gives."""
    from benchmarks.expert.search import static_recipe
    over = {k: v for k, v in TINY_ENV.overrides().items() if k != "max_decisions"}
    config = peers.PeersConfig(budget=2, overrides=over, methods=("static",))
    played = peers.runner(config, "static")(0, None)
    held = static_recipe("mlic-digits", over, 0, 2)
    assert (played.test, played.curve, played.choices) == (held.test, held.curve, held.choices)
    assert played.detail.startswith("static (curiosity none): 0 switch(es)")
