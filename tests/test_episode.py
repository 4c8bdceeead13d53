"""The episode driver: hook order, stopping, resuming from its state, frozen play, evaluation."""
from __future__ import annotations

import copy

import pytest

from agents import make_controller
from envs.errors import ConfigError
from envs.fakes import CooperativeFakeEnv
from training.core.callbacks import Checkpoint, Evaluate, StopOn
from training.core.episode import (Callback, CallbackList, EpisodeEnd, RunStart, StepContext, run,
                              run_episode)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Trace(Callback):
    """Every hook call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_run_start(self, run: RunStart) -> None:
        self.calls.append(("run_start", run.episodes, run.state.step))

    def on_episode_start(self, episode: int, seed: int) -> None:
        self.calls.append(("episode_start", episode, seed))

    def on_step(self, ctx: StepContext) -> bool:
        self.calls.append(("step", ctx.episode, ctx.step, ctx.episode_step, ctx.done))
        return True

    def on_episode_end(self, end: EpisodeEnd) -> None:
        self.calls.append(("episode_end", end.episode, end.seed, end.steps))

    def on_run_end(self, outcome) -> None:
        self.calls.append(("run_end", outcome.stopped, outcome.state.episode))


def test_hooks_run_in_order_and_episodes_are_seeded_from_the_run_seed():
    env = CooperativeFakeEnv(max_steps=2)
    trace = Trace()
    outcome = run(env, make_controller("random", env, seed=0), episodes=2, seed=5,
                  total_steps=4, callbacks=[trace])
    assert trace.calls == [
        ("run_start", 2, 0),
        ("episode_start", 0, 5), ("step", 0, 1, 1, False), ("step", 0, 2, 2, True),
        ("episode_end", 0, 5, 2),
        ("episode_start", 1, 6), ("step", 1, 3, 1, False), ("step", 1, 4, 2, True),
        ("episode_end", 1, 6, 2),
        ("run_end", False, 2)]
    assert not outcome.stopped and outcome.state.step == 4


def test_the_controller_is_told_the_run_ahead():
    env = CooperativeFakeEnv(max_steps=5)
    controller = make_controller("mat-dqn", env, seed=0)
    run(env, controller, episodes=2, seed=0, total_steps=10)
    assert controller.total_steps == 10
    with pytest.raises(ConfigError, match="total_steps"):
        run(env, controller, episodes=1, seed=0)


def test_every_callback_sees_a_step_that_one_of_them_stops_after():
    env = CooperativeFakeEnv(max_steps=5)
    after = Trace()
    outcome = run(env, make_controller("random", env, seed=0), episodes=3, seed=0,
                  total_steps=15, callbacks=[StopOn(lambda ctx: ctx.step == 7), after])
    assert outcome.stopped and outcome.state.step == 7 and outcome.state.episode == 1
    assert [c for c in after.calls if c[0] == "step"][-1] == ("step", 1, 7, 2, False)
    assert outcome.state.observations is not None  # mid-episode: the run can continue


def test_a_stop_on_the_last_step_is_not_a_stop():
    env = CooperativeFakeEnv(max_steps=3)
    outcome = run(env, make_controller("random", env, seed=0), episodes=1, seed=0,
                  total_steps=3, callbacks=[StopOn(lambda ctx: ctx.done)])
    assert not outcome.stopped


@pytest.mark.parametrize("algo", ["mat-dqn", "ma2ml", "bandit"])
def test_resuming_from_a_saved_state_continues_exactly(algo):
    """A run stopped mid-episode, checkpointed (env, controller, driver) and continued in new
    objects plays the same actions as a run that was never stopped."""
    def actions_of():
        seen = []

        class Actions(Callback):
            def on_step(self, ctx: StepContext) -> bool:
                seen.append(dict(ctx.transition.actions))
                return True
        return seen, Actions()

    straight_env = CooperativeFakeEnv(max_steps=6)
    straight, record = actions_of()
    run(straight_env, make_controller(algo, straight_env, seed=1), episodes=3, seed=2,
        total_steps=18, callbacks=[record])

    env = CooperativeFakeEnv(max_steps=6)
    controller = make_controller(algo, env, seed=1)
    saved: dict = {}

    def save() -> None:
        saved.update(env=copy.deepcopy(env.state_dict()),
                     controller=copy.deepcopy(controller.state_dict()))
    first, record = actions_of()
    outcome = run(env, controller, episodes=3, seed=2, total_steps=18,
                  callbacks=[record, StopOn(lambda ctx: ctx.step == 8), Checkpoint(save)])
    state = copy.deepcopy(outcome.state)

    env2 = CooperativeFakeEnv(max_steps=6)
    env2.load_state_dict(saved["env"])
    controller2 = make_controller(algo, env2, seed=99)
    controller2.load_state_dict(saved["controller"])
    rest, record = actions_of()
    run(env2, controller2, episodes=3, seed=2, total_steps=18, callbacks=[record], state=state)
    assert first + rest == straight


def test_frozen_play_never_learns():
    env = CooperativeFakeEnv(max_steps=4)
    controller = make_controller("bandit", env, seed=0)
    before = copy.deepcopy(controller.values)
    seen = Trace()
    run_episode(env, controller, seed=0, learn=False, callbacks=[seen])
    assert all((controller.values[a] == before[a]).all() for a in before)
    assert len([c for c in seen.calls if c[0] == "step"]) == 4


def test_evaluate_plays_greedy_episodes_every_n_training_episodes():
    env = CooperativeFakeEnv(max_steps=5)
    evaluate = Evaluate(CooperativeFakeEnv(max_steps=5), every=2, episodes=2, seed=100)
    controller = make_controller("bandit", env, seed=0)
    run(env, controller, episodes=4, seed=0, total_steps=20, callbacks=[evaluate])
    assert [(e.after_episode, e.step) for e in evaluate.evaluations] == [(2, 10), (4, 20)]
    last = evaluate.evaluations[-1]
    assert len(last.actions) == 2 and all(len(episode) == 5 for episode in last.actions)
    greedy = {a: int(v.argmax()) for a, v in controller.values.items()}
    assert all(step == greedy for step in last.actions[-1])


def test_callback_list_is_a_callback():
    env = CooperativeFakeEnv(max_steps=2)
    inner = Trace()
    run(env, make_controller("random", env, seed=0), episodes=1, seed=0, total_steps=2,
        callbacks=CallbackList([inner]))
    assert inner.calls[0][0] == "run_start" and inner.calls[-1][0] == "run_end"
