"""A controller class written outside ``agents`` (``module.path:ClassName``) goes through the
registry like a registered algorithm: built, offered options, played by the benchmarks; and
names that cannot be one are refused with the fix."""
from __future__ import annotations

import pytest

from agents import Controller, UnknownAlgorithmError, make_controller
from agents.registry import declared_options, spec
from benchmarks.core.episodes import ControllerSpec, run_controller
from conftest import TINY
from training.core.episode import Callback, StepContext, run_episode

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OUTSIDE = "examples.protocol_controller:MyController"


def test_an_outside_class_is_built_and_plays_a_tiny_env(tiny_env):
    import envs
    env = tiny_env("mlic-digits", max_decisions=4)
    offered = {"choices": envs.recipe_actions(env, env.config.default_recipe), "setting": "x"}
    assert set(declared_options(OUTSIDE, offered)) == {"choices"}  # StaticConfig's field
    controller = make_controller(OUTSIDE, env, seed=0, **declared_options(OUTSIDE, offered))
    assert isinstance(controller, Controller) and controller.name == "my-controller"
    opts: list[int] = []

    class Opts(Callback):
        def on_step(self, ctx: StepContext) -> bool:
            opts.append(int(ctx.transition.actions["opt"]))
            return True

    run_episode(env, controller, seed=0, callbacks=[Opts()])
    default = offered["choices"]["opt"]  # the default recipe's optimiser, then sgd
    assert opts == [default, default, controller.sgd, controller.sgd] and default != opts[-1]


def test_benchmarks_play_an_outside_class_as_a_registered_one(env_cache):
    overrides = TINY.overrides(cache_dir=str(env_cache), max_decisions=2)
    result = run_controller("mlic-digits", ControllerSpec(OUTSIDE), 0, overrides)
    assert len(result.choices) == 2 and result.test["mAP"] >= 0


@pytest.mark.parametrize("algo, message", [
    ("no_such_module:Thing", "cannot import 'no_such_module'.*PYTHONPATH"),
    ("examples.protocol_controller:Nope", "has no 'Nope'"),
    ("benchmarks.core.episodes:ControllerSpec", "is not an agents.base.Controller subclass; "
                                           "subclass it"),
    ("agents.base:Controller", "does not implement .*act"),
])
def test_names_that_are_no_controller_class_are_refused_with_the_fix(algo, message):
    with pytest.raises(UnknownAlgorithmError, match=message):
        spec(algo)


def test_zoo_names_keep_their_meaning():
    with pytest.raises(UnknownAlgorithmError, match="unknown algorithm 'zoo:x'"):
        spec("zoo:x")  # make_controller loads zoo entries itself; they name no class

