"""The ``rollout`` expert's successive halving (``halving``): rungs of (candidates kept,
horizon), every rung re-forked from the real env, every segment counted, the incumbent in
every rung, and the guarantee against ``static`` when the last rung runs to the end."""
from __future__ import annotations

import json

import pytest

from agents import AgentConfigError, load_controller, make_controller
from agents.rollout import (InProcessScorer, RolloutConfig, halving_text, parse_halving,
                            rollout_options)
from envs.fakes import CooperativeFakeEnv
from training.core.callbacks import Callback
from training.core.episode import run_episode


class CountingEnv(CooperativeFakeEnv):
    """The fake env, counting the steps its forks play (a list shared with every fork)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fork_steps = [0]
        self.is_fork = False

    def fork(self):
        other = super().fork()
        other.is_fork = True
        return other

    def step(self, actions):
        self.fork_steps[0] += self.is_fork
        return super().step(actions)


class Watching(InProcessScorer):
    """The in-process scorer, keeping every call's candidates, continuation and results, and
    the controller's incumbent at that moment."""

    def __init__(self, controller):
        self.controller, self.calls = controller, []

    def score(self, env, candidates, continuation):
        results = super().score(env, candidates, continuation)
        self.calls.append((dict(self.controller.incumbent), [dict(c) for c in candidates],
                           continuation, results))
        return results


class Fixed:
    """A scorer that plays nothing: each candidate's score is ``scores(candidate, horizon)``,
    each fork as many segments as asked, with ``left`` segments left in the budget."""

    def __init__(self, scores, left=100):
        self.scores, self.left, self.calls = scores, left, []

    def score(self, env, candidates, continuation):
        self.calls.append(([dict(c) for c in candidates], continuation))
        h = continuation.horizon
        played = min(1 + h, self.left) if h else self.left
        return [(self.scores(c, h), played) for c in candidates]


class Logs(Callback):
    """The controller's logs of every step."""

    def __init__(self):
        self.seen = []

    def on_step(self, ctx):
        self.seen.append(dict(ctx.logs))
        return True  # go on


def _rollout(env, **options):
    return make_controller("rollout", env, seed=1, score="return", **options)


def test_without_rungs_it_is_one_scoring_round_as_before():
    assert RolloutConfig().halving == ()
    env = CooperativeFakeEnv(max_steps=4)
    controller = _rollout(env, candidates=3, horizon=1)
    assert controller.rungs == ((0, 1),)
    watch = controller.scorer = Watching(controller)
    logs = Logs()
    run_episode(env, controller, seed=0, callbacks=[logs])
    # one call a decision, every candidate, today's continuation; the logged keys are today's
    assert [len(c[1]) for c in watch.calls] == [4] * 4
    assert [c[2] for c in watch.calls] == [controller.continuation] * 4
    assert {k for step in logs.seen for k in step} == {
        "search/segments", "search/episodes_of_compute", "search/predicted_gain"}
    assert controller.last_rungs == [controller.last_candidates]
    assert controller.last_candidates == [(c, s) for c, (s, _) in
                                          zip(watch.calls[-1][1], watch.calls[-1][3])]


def test_one_rung_is_the_expert_with_that_horizon():
    choices = {}
    for name, options in (("horizon", {"horizon": 2}), ("rung", {"halving": [[0, 2]]})):
        env = CooperativeFakeEnv(max_steps=5, noise=0.3)
        controller = _rollout(env, candidates=3, **options)
        controller.scorer = Watching(controller)
        run_episode(env, controller, seed=0)
        scores = [call[3] for call in controller.scorer.calls]
        choices[name] = (scores, controller.segments)
    assert choices["horizon"] == choices["rung"]


@pytest.mark.parametrize("rungs", [[[0, 1], [2, 0]], [[0, 1], [3, 2], [1, 0]], [[0, 2], [1, 0]]])
def test_the_compute_counted_is_every_segment_its_forks_played(rungs):
    env = CountingEnv(max_steps=6, noise=0.2)
    controller = _rollout(env, candidates=4, halving=rungs)
    watch = controller.scorer = Watching(controller)
    run_episode(env, controller, seed=3)
    assert controller.segments == env.fork_steps[0] > 0
    assert controller.segments == sum(p for call in watch.calls for _, p in call[3])
    assert controller.episodes_of_compute == controller.segments / 6
    # each rung is one scorer call with its own horizon, rung 1 over every candidate
    horizons = [call[2].horizon for call in watch.calls]
    assert horizons[:len(rungs)] == [h for _, h in rungs]
    assert all(call[2].score == "return" for call in watch.calls)
    assert len(watch.calls[0][1]) == 1 + 4


def test_it_is_cheaper_than_the_full_expert():
    cost = {}
    for name, options in (("full", {}), ("halving", {"halving": [[0, 1], [1, 0]]})):
        env = CountingEnv(max_steps=8)
        controller = _rollout(env, **options)  # all 19 candidates
        run_episode(env, controller, seed=0)
        cost[name] = controller.segments
    k, left = 19, range(8, 0, -1)
    assert cost["full"] == k * sum(left)
    # rung 1: every candidate 2 segments (1 at the last decision, which then decides);
    # rung 2: the best and, if it is not the best, the incumbent, to the end
    assert k * (2 * 7 + 1) + sum(left[:-1]) <= cost["halving"] <= k * 15 + 2 * sum(left[:-1])
    assert cost["halving"] < cost["full"] / 1.5


def test_the_incumbent_is_in_every_rung_even_when_it_scores_worst():
    env = CooperativeFakeEnv(max_steps=5)
    controller = _rollout(env, candidates=5, halving=[[0, 1], [2, 2], [1, 0]])
    incumbents = []

    def scores(candidate, horizon):  # the incumbent always worst, the others by their actions
        return -1.0 if candidate == controller.incumbent else float(sum(candidate.values()))
    scorer = controller.scorer = Fixed(scores)
    env.reset(seed=0)
    for _ in range(2):
        incumbents.append(dict(controller.incumbent))
        controller.act({a: env.state() for a in env.agents})
    calls = scorer.calls
    assert len(calls) == 2 * 3  # no fork reaches the budget's end before the last rung
    for d, incumbent in enumerate(incumbents):
        rungs = calls[3 * d:3 * d + 3]
        assert [c.horizon for _, c in rungs] == [1, 2, 0]
        for candidates, _ in rungs:
            assert candidates[0] == incumbent  # first, in every rung
        assert [len(c) for c, _ in rungs] == [6, 3, 2]  # the best k and the incumbent besides
        best = max(rungs[0][0][1:], key=lambda c: sum(c.values()))
        assert rungs[2][0][1] == best


def test_tied_scores_keep_the_candidate_order_incumbent_first():
    env = CooperativeFakeEnv(max_steps=5)
    controller = _rollout(env, candidates=5, halving=[[0, 1], [2, 0]])
    scorer = controller.scorer = Fixed(lambda c, h: 0.5)
    env.reset(seed=0)
    choice = controller.act({a: env.state() for a in env.agents})
    first, second = scorer.calls
    assert second[0] == first[0][:2]  # the incumbent and the next candidate, in that order
    assert choice == controller.incumbent == first[0][0]  # a tie keeps the incumbent
    assert controller.last_candidates == [(c, 0.5) for c in first[0][:2]]
    assert controller.last_rungs[0] == [(c, 0.5) for c in first[0]]


def test_a_rung_whose_forks_reach_the_end_decides():
    env = CountingEnv(max_steps=3)
    controller = _rollout(env, candidates=2, halving=[[0, 5], [1, 0]])
    watch = controller.scorer = Watching(controller)
    run_episode(env, controller, seed=0)
    # 3 segments left at most: a horizon of 5 is capped to the end, the rung to the end skipped
    assert [call[2].horizon for call in watch.calls] == [5, 5, 5]
    assert controller.segments == 3 * (3 + 2 + 1) == env.fork_steps[0]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rungs", [[[0, 1], [1, 0]], [[0, 1], [2, 3], [1, 0]]])
def test_with_the_last_rung_to_the_end_it_never_does_worse_than_static(seed, rungs):
    """The fake env has no val mAP: the score is the return, and so is the guarantee."""
    returns = {}
    best = {"aug": 5, "opt": 2, "lrs": 0, "loss": 1}
    for algo, options in (("static", {}), ("rollout", {"candidates": 3, "halving": rungs,
                                                       "score": "return"})):
        env = CooperativeFakeEnv(max_steps=6, noise=0.5, best=best)
        controller = make_controller(algo, env, seed=seed, choices={"aug": 1, "opt": 3},
                                     **options)
        rewards = []
        env.reset(seed=seed)
        observations = {a: env.state() for a in env.agents}
        while env.agents:
            observations, reward, *_ = env.step(controller.act(observations))
            rewards.append(next(iter(reward.values())))
        returns[algo] = sum(rewards)
    assert returns["rollout"] >= returns["static"] - 1e-9


@pytest.mark.parametrize("bad, message", [
    ([[0, -1]], "rung 1 .* negative"),
    ([[0, 1], [0, 0]], "rung 2 .* keeps at least 1"),
    ([[0, 0], [2, 1]], "last horizon is the longest"),
    ([[0, 2], [2, 1]], "longer than the one before"),
    ([[0, 1.5]], "not a pair of ints"),
    ([[0, True]], "not a pair of ints"),
    ([[0, 1, 2]], "not a pair of ints"),
    ([[2, 1], [1, 0]], "first rung scores every candidate"),
    ([[0, 1], [1, 2], [2, 0]], "never grow"),
    ("0:1,2:0", "must be a list of rungs"),
])
def test_bad_rungs_are_refused_naming_the_setting_and_the_fix(bad, message):
    with pytest.raises(AgentConfigError, match=message) as error:
        make_controller("rollout", CooperativeFakeEnv(), seed=0, halving=bad)
    assert "rollout halving" in str(error.value) and "[[0, 1], [2, 0]]" in str(error.value)


def test_halving_and_a_horizon_together_are_refused():
    with pytest.raises(AgentConfigError, match="leave horizon 0"):
        make_controller("rollout", CooperativeFakeEnv(), seed=0, horizon=2,
                        halving=[[0, 1], [1, 0]])


def test_the_json_list_form_is_accepted_and_saved_and_reloaded(tmp_path):
    options = json.loads('{"halving": [[0, 1], [2, 0]], "candidates": 2}')
    env = CooperativeFakeEnv(max_steps=4)
    controller = make_controller("rollout", env, seed=0, **options)
    assert controller.config.halving == ((0, 1), (2, 0))
    controller.save(tmp_path / "c")
    saved = json.loads((tmp_path / "c" / "controller.json").read_text())
    assert saved["config"]["halving"] == [[0, 1], [2, 0]]
    loaded = load_controller(tmp_path / "c", CooperativeFakeEnv(max_steps=4), seed=0)
    assert loaded.config.halving == controller.config.halving == ((0, 1), (2, 0))


def test_a_state_round_trip_continues_exactly():
    def play(controller, env, decisions):
        out = []
        for _ in range(decisions):
            action = controller.act({a: env.state() for a in env.agents})
            env.step(action)
            out.append((action, controller.last_rungs, controller.segments))
        return out
    options = {"candidates": 2, "score": "return", "halving": [[0, 1], [1, 0]]}
    env = CooperativeFakeEnv(max_steps=5, noise=0.3)
    env.reset(seed=2)
    first = make_controller("rollout", env, seed=7, **options)
    play(first, env, 2)
    state, fork = first.state_dict(), env.fork()
    expected = play(first, env, 3)
    second = make_controller("rollout", fork, seed=0, **options)
    second.load_state_dict(state)
    assert play(second, fork, 3) == expected


def test_the_worker_pool_scores_the_rungs_as_the_default_scorer():
    from training.meta.workers import InProcessPool
    results = []
    for scorer in (None, InProcessPool()):
        env = CooperativeFakeEnv(max_steps=5, noise=0.3)
        controller = _rollout(env, candidates=3, halving=[[0, 1], [2, 0]])
        if scorer is not None:
            controller.scorer = scorer
        run_episode(env, controller, seed=1)
        results.append((controller.segments, controller.last_rungs))
    assert results[0] == results[1]


def test_rollout_options_and_the_command_line_form():
    from envs.engine.recipe import DEFAULT_RECIPE
    assert "halving" not in rollout_options(DEFAULT_RECIPE, candidates=2, horizon=0)
    options = rollout_options(DEFAULT_RECIPE, candidates=2, horizon=0, halving=[[0, 1], [2, 0]])
    assert options["halving"] == ((0, 1), (2, 0))
    assert parse_halving("0:1,2:0") == ((0, 1), (2, 0)) and parse_halving("") == ()
    assert halving_text(parse_halving(" 0:1, 3:4,2:0 ")) == "0:1,3:4,2:0"
    for bad, message in (("0-1", "not KEPT:HORIZON"), ("0:1:2", "not KEPT:HORIZON"),
                         ("0:x", "not KEPT:HORIZON"), ("0:1,2:1", "longer than the one before")):
        with pytest.raises(AgentConfigError, match=message) as error:
            parse_halving(bad)
        assert "--halving" in str(error.value) and "0:1,2:0" in str(error.value)


def test_the_headroom_and_demos_commands_take_halving(capsys):
    from benchmarks.expert import headroom
    from training import imitate
    config = headroom.parse_args(["--halving", "0:1,2:0"])
    assert config.halving == ((0, 1), (2, 0))
    assert headroom.config_argv(config)[-2:] == ["--halving", "0:1,2:0"]
    assert headroom._expert_options(config, headroom.DEFAULT_RECIPE, ())["halving"] == \
        ((0, 1), (2, 0))
    assert "halving" not in headroom._expert_options(headroom.parse_args([]),
                                                     headroom.DEFAULT_RECIPE, ())
    for argv in (["--halving", "0:1,0:0"], ["--halving", "0:1,2:0", "--horizon", "2"]):
        with pytest.raises(SystemExit) as exit_info:
            headroom.parse_args(argv)
        assert exit_info.value.code == 2 and "--halving" in capsys.readouterr().err
    demos = imitate.parse_args(["demos", "--task-set", "digits-tiny-v0", "--halving", "0:1,2:0"])
    assert demos.halving == ((0, 1), (2, 0)) and demos.settings()["halving"] == "0:1,2:0"
    assert "halving" not in imitate.parse_args(["demos"]).settings()
    from training.imitation.demonstrations import expert_options
    assert expert_options(demos)["halving"] == ((0, 1), (2, 0))
    assert imitate.main(["demos", "--halving", "1:1", "--no-progress"]) == 2
    assert "--halving '1:1': rung 1" in capsys.readouterr().err


def test_it_logs_the_rungs_it_played():
    env = CooperativeFakeEnv(max_steps=3)
    controller = _rollout(env, candidates=2, halving=[[0, 1], [1, 0]])
    logs = Logs()
    run_episode(env, controller, seed=0, callbacks=[logs])
    # at the last decision rung 1 already reaches the budget's end, and decides
    assert [step["search/rungs"] for step in logs.seen] == [2.0, 2.0, 1.0]


class Trap(CooperativeFakeEnv):
    """The fake env where ``aug`` 7 pays 1 more a segment for its first 2 segments held, then
    1 less a segment: the best over a short horizon, the worst to the end (but near it)."""

    held = 0

    def reset(self, seed=None, options=None):
        self.held = 0
        return super().reset(seed=seed, options=options)

    def step(self, actions):
        self.held = self.held + 1 if actions["aug"] == 7 else 0
        observations, rewards, *rest = super().step(actions)
        bonus = 0.0 if not self.held else 1.0 if self.held <= 2 else -1.0
        return (observations, {a: r + bonus for a, r in rewards.items()}, *rest)


def _return(algo, **options):
    env = Trap(max_steps=8, noise=0.0)
    controller = make_controller(algo, env, seed=0, **options)
    env.reset(seed=0)
    observations, total, played = {a: env.state() for a in env.agents}, 0.0, []
    while env.agents:
        actions = controller.act(observations)
        observations, rewards, *_ = env.step(actions)
        total += next(iter(rewards.values()))
        played.append(actions["aug"])
    return total, played


def test_a_trap_that_wins_the_first_rung_is_refused_by_the_incumbent_at_the_last():
    static, _ = _return("static")
    halving, played = _return("rollout", score="return", halving=[[0, 1], [1, 0]])
    full, _ = _return("rollout", score="return")
    assert played[:5] == [0] * 5  # the trap alone survived rung 1, the incumbent beat it
    assert played[5] == 7  # 3 segments from the end the trap is the best, and is played
    assert full > halving >= static  # the full expert found aug 3, which rung 1 cut


def test_reuse_keeps_every_choice_and_score_and_trains_fewer_segments(tiny_env):
    """``reuse``: the chosen candidate's to-the-end val mAP is its score as the next
    decision's incumbent. Forks are exact, so the search is the same, scores included, with
    the incumbent's forks to the end left out."""
    seen = {}
    for reuse in (False, True):
        env = tiny_env("mlic-digits", max_decisions=3)
        expert = make_controller("rollout", env, seed=0, candidates=1, halving=[[0, 0]],
                                 reuse=reuse)
        rungs, choices = [], []

        class Keep(Callback):
            def on_step(self, ctx):
                rungs.append([[(c, round(s, 9)) for c, s in rung] for rung in expert.last_rungs])
                choices.append(dict(ctx.transition.actions))
                return True  # go on
        run_episode(env, expert, seed=3, callbacks=[Keep()])
        seen[reuse] = rungs, choices, expert.segments
    (rungs, choices, segments), (rungs_reused, choices_reused, fewer) = seen[False], seen[True]
    assert choices_reused == choices and rungs_reused == rungs
    # one rung to the end: decisions 2 and 3 reuse their incumbent's score, 2 + 1 segments
    assert fewer == segments - (2 + 1)
