"""The ``rollout`` expert: a search on exact forks that never does worse than its base policy."""
from __future__ import annotations

import json

import pytest
from conftest import TINY

import envs
from agents import AgentConfigError, make_controller
from envs.fakes import CooperativeFakeEnv
from training.core.callbacks import Callback, Recorder, StepContext
from training import run_marl
from training.core.episode import run_episode

TINY_FLAGS = TINY.flags()


class _Actions(Callback):
    """The joint action of every step."""

    def __init__(self) -> None:
        self.seen: list[dict[str, int]] = []

    def on_step(self, ctx: StepContext) -> bool:
        self.seen.append(dict(ctx.transition.actions))
        return True  # go on


def test_on_known_contributions_it_climbs_to_the_best_joint_choice():
    env = CooperativeFakeEnv(max_steps=8, noise=0.1)
    controller = make_controller("rollout", env, seed=0, score="return")
    actions = _Actions()
    run_episode(env, controller, seed=0, callbacks=[actions])
    seen = actions.seen
    # one component changes at a time, from the first recipe (all zeros) to the best
    assert all(sum(x[a] != y[a] for a in x) <= 1 for x, y in zip(seen, seen[1:]))
    assert seen[-4:] == [env.best] * 4  # reached within 4 decisions, then held


@pytest.mark.parametrize("candidates, horizon", [(0, 0), (3, 0), (3, 1)])
def test_it_counts_the_segments_its_forks_train(candidates, horizon):
    env = CooperativeFakeEnv(max_steps=5)
    controller = make_controller("rollout", env, seed=1, score="return",
                                 candidates=candidates, horizon=horizon)
    run_episode(env, controller, seed=0)
    per_decision = 1 + (candidates or sum(n - 1 for n in env.n_actions.values()))
    left = [5 - t for t in range(5)]  # segments from decision t to the end, its own included
    played = [min(n, 1 + horizon) if horizon else n for n in left]
    assert controller.segments == per_decision * sum(played)
    assert controller.episodes_of_compute == controller.segments / 5


def test_final_val_map_is_never_below_static_on_a_real_env(tiny_env):
    final = {}
    for algo, options in (("static", {}), ("rollout", {"candidates": 4})):
        env = tiny_env("mlic-digits", max_decisions=3)
        choices = envs.recipe_actions(env, env.config.default_recipe)
        controller = make_controller(algo, env, seed=0, choices=choices, **options)
        recorder = Recorder()
        run_episode(env, controller, seed=4, callbacks=[recorder])
        episode = recorder.episodes[0]
        assert 0 <= episode.test["mAP"] <= 100  # test is reported, never selected on
        final[algo] = episode.val_map[-1]
    assert final["rollout"] >= final["static"]


def test_an_env_that_cannot_fork_is_refused_naming_the_fix():
    class NoFork(CooperativeFakeEnv):
        fork = None
    with pytest.raises(AgentConfigError, match="fork"):
        make_controller("rollout", NoFork(), seed=0)


@pytest.mark.parametrize("bad, message", [({"candidates": -1}, "candidates"),
                                          ({"base_policy": "greedy"}, "base_policy"),
                                          ({"score": "test_mAP"}, "score")])
def test_bad_settings_name_the_setting(bad, message):
    with pytest.raises(AgentConfigError, match=message):
        make_controller("rollout", CooperativeFakeEnv(), seed=0, **bad)


def test_jumps_are_candidates_at_every_decision_so_far_recipes_are_reached():
    env = CooperativeFakeEnv(max_steps=4, noise=0.0)
    best = {a: int(k) for a, k in env.best.items()}
    # no one-component changes at all (a sample of 0 is "all": use 1), but the best as a jump
    controller = make_controller("rollout", env, seed=0, score="return", candidates=1,
                                 jumps=[best])
    assert controller.neighbours()[-1] == best
    actions = _Actions()
    run_episode(env, controller, seed=0, callbacks=[actions])
    assert actions.seen[0] == best  # one jump away from the first recipe, at the first decision


def test_a_jump_equal_to_a_candidate_is_tried_once():
    env = CooperativeFakeEnv(max_steps=2)
    controller = make_controller("rollout", env, seed=0, jumps=[{}])  # {}: the all-zero recipe
    candidates = controller.neighbours()
    assert len(candidates) == len({tuple(sorted(c.items())) for c in candidates})


def test_a_bad_jump_names_it():
    with pytest.raises(AgentConfigError, match=r"jumps\[0\]"):
        make_controller("rollout", CooperativeFakeEnv(), seed=0, jumps=[{"nope": 1}])


def _run_rollout(tmp_path, name: str, *extra: str) -> dict:
    out = tmp_path / name
    code = run_marl.main(TINY_FLAGS + ["--algo", "rollout", "--options", '{"candidates": 3}',
                                       "--seed", "2", "--out", str(out), "--no-progress",
                                       *extra])
    assert code == 0
    return json.loads((out / "summary.json").read_text())


# slow: the README's rollout-on-Ray test runs the same forks on the session's cluster;
# this one adds joining it through --address
@pytest.mark.slow
def test_ray_workers_on_a_two_node_cluster_give_the_in_process_result(tmp_path, ray_cluster):
    """The forks played by two Ray actors, one on each node of a cluster joined through
    ``--address`` (one CPU each: one actor fits on each), score as the run would here."""
    import ray
    ray.shutdown()  # leave the session's cluster: run_marl joins it through --address itself
    assert len(ray_cluster.list_all_nodes()) == 2
    joined = _run_rollout(tmp_path, "cluster", "--workers", "2", "--address", ray_cluster.address)
    here = _run_rollout(tmp_path, "here")
    assert (joined["test_mAP"], joined["final_val_mAP"]) == (here["test_mAP"],
                                                             here["final_val_mAP"])


def test_workers_are_refused_for_a_controller_that_does_not_search(tmp_path, capsys):
    code = run_marl.main(TINY_FLAGS + ["--algo", "static", "--workers", "2",
                                       "--out", str(tmp_path / "x")])
    assert code == 2
    assert "only rollout does" in capsys.readouterr().err


def test_it_logs_what_each_switch_was_predicted_to_gain():
    env = CooperativeFakeEnv(max_steps=6, noise=0.1)
    controller = make_controller("rollout", env, seed=0, score="return")
    gains = []

    class Gains(Callback):
        def on_step(self, ctx: StepContext) -> bool:
            gains.append(ctx.logs["search/predicted_gain"])
            return True

    actions = _Actions()
    run_episode(env, controller, seed=0, callbacks=[actions, Gains()])
    assert len(gains) == 6 and all(g >= 0 for g in gains)  # the incumbent is always scored
    held = [x == y for x, y in zip(actions.seen, actions.seen[1:])]
    assert all(g == 0 for g, same in zip(gains[1:], held) if same)  # no switch, no gain
    assert gains[0] > 0  # the first recipe (all zeros) is not the best
