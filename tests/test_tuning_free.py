"""The tuning-free optimizers (catalogue ``tuning-free``): Schedule-Free AdamW and Prodigy run
as their authors prescribe, switch by the catalogue's rules, and leave the ``classic``
catalogue's ids, controllers and results as they were."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

import envs
from agents import make_controller
from agents.base import manifest_catalogue
from agents.errors import ControllerCheckpointError
from envs.engine.optimizers import evaluation_point
from envs.engine.recipe import Recipe
from envs.engine.runtime import RecipeRuntime
from envs.engine.trainer import TrainerConfig

SF = Recipe("crop", "sf_adamw", "constant", "asl")
PRODIGY = Recipe("crop", "prodigy", "cosine", "asl")


def _runtime(schedule_free_eval: str = "ema", total_steps: int = 40) -> RecipeRuntime:
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    config = TrainerConfig(channels_last=False, schedule_free_eval=schedule_free_eval)
    return RecipeRuntime(model, config, total_steps=total_steps,
                         positive_counts=torch.tensor([5.0, 4.0, 3.0, 2.0]), train_size=16,
                         generator=torch.Generator().manual_seed(1))


def _batch(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(16, 3, 8, 8, generator=g), (torch.rand(16, 4, generator=g) < 0.3).float()


def _train(runtime: RecipeRuntime, recipe: Recipe, steps: int) -> None:
    runtime.apply_recipe(recipe)
    runtime.begin_segment()
    for i in range(steps):
        images, targets, mask = runtime.augment(*_batch(i))
        loss = runtime.loss(runtime.model(images), targets, mask)
        runtime.record(loss, runtime.optimizer_step(loss))
    runtime.end_segment()


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_schedule_free_trains_in_train_mode_and_evaluates_its_average() -> None:
    runtime = _runtime("average")
    _train(runtime, SF, 6)
    optimizer = runtime.optimizer
    assert optimizer.param_groups[0]["train_mode"]  # its step() refuses eval mode
    assert optimizer.param_groups[0]["warmup_steps"] == 2  # 5 % of 40 steps, rounded
    x = evaluation_point(optimizer, "sf_adamw", list(runtime.model.parameters()))
    y = _params(runtime.model)
    assert any(not torch.equal(a, b) for a, b in zip(x, y))  # the average is not y
    # "average": the evaluated weights are Schedule-Free's x exactly
    for ema, expected in zip(runtime.ema_model.parameters(), x):
        torch.testing.assert_close(ema, expected)
    # "ema" (the default): the slow EMA of x, which differs from x itself
    ema_runtime = _runtime("ema")
    _train(ema_runtime, SF, 6)
    assert any(not torch.allclose(a, b) for a, b in zip(ema_runtime.ema_model.parameters(), x))


def test_batch_norm_statistics_are_recomputed_at_the_evaluated_weights() -> None:
    runtime = _runtime("average")
    _train(runtime, SF, 5)
    copied = runtime.ema_model[1].running_mean.clone()  # y's statistics, copied each step
    assert torch.equal(copied, runtime.model[1].running_mean)
    runtime.prepare_evaluation()
    recomputed = runtime.ema_model[1].running_mean.clone()
    assert not torch.allclose(recomputed, copied)
    # what it recomputed: the mean BN input over the kept clean batches, at the weights of x
    kept = torch.cat(list(runtime._bn_batches))
    expected = runtime.ema_model[0](kept).mean(dim=(0, 2, 3))
    torch.testing.assert_close(recomputed, expected, rtol=1e-4, atol=1e-5)
    runtime.prepare_evaluation()  # idempotent: evaluating twice gives the same metrics
    assert torch.equal(runtime.ema_model[1].running_mean, recomputed)
    assert not runtime.ema_model.training
    # other optimizers keep the copied statistics and no batches
    other = _runtime()
    _train(other, Recipe("crop", "adamw", "constant", "asl"), 3)
    other.prepare_evaluation()
    assert not other._bn_batches
    assert torch.equal(other.ema_model[1].running_mean, other.model[1].running_mean)


def test_a_switch_away_from_schedule_free_continues_from_its_average() -> None:
    runtime = _runtime()
    _train(runtime, SF, 6)
    x = evaluation_point(runtime.optimizer, "sf_adamw", list(runtime.model.parameters()))
    runtime.apply_recipe(Recipe("crop", "adamw", "constant", "asl"))
    for param, expected in zip(runtime.model.parameters(), x):
        torch.testing.assert_close(param.detach(), expected)  # the weights moved to x
    assert len(runtime.optimizer.state) == 0  # nothing of Schedule-Free's state carried
    assert not runtime._bn_batches
    _train(runtime, Recipe("crop", "adamw", "constant", "asl"), 3)
    assert all(torch.isfinite(p).all() for p in runtime.model.parameters())
    # and back: a fresh Schedule-Free, its own warm-up again
    runtime.apply_recipe(SF)
    assert runtime.optimizer.param_groups[0]["k"] == 0


def test_prodigy_keeps_its_step_size_across_segments_rollback_and_checkpoints() -> None:
    runtime = _runtime()
    _train(runtime, PRODIGY, 4)
    d = runtime.optimizer.param_groups[0]["d"]
    assert d > 1e-6  # it adapted away from its d0
    _train(runtime, PRODIGY.with_choice("lrs", "constant"), 4)  # a schedule switch: same optimizer
    d2 = runtime.optimizer.param_groups[0]["d"]
    assert d2 >= d  # the estimate carried on (Prodigy's d never decreases)
    runtime.rollback()  # the last segment undone: d with it
    assert runtime.optimizer.param_groups[0]["d"] == d
    state = runtime.state_dict()
    restored = _runtime()
    restored.load_state_dict(state)
    assert restored.optimizer.param_groups[0]["d"] == d
    assert restored.optimizer.param_groups[0]["d_numerator"] == \
        runtime.optimizer.param_groups[0]["d_numerator"]


def test_schedule_free_resumes_exactly_from_a_checkpoint() -> None:
    runtime = _runtime()
    _train(runtime, SF, 4)
    restored = _runtime()
    restored.load_state_dict(copy.deepcopy(runtime.state_dict()))  # as torch.save would
    for r in (runtime, restored):
        _train(r, SF, 3)
        r.prepare_evaluation()
    for a, b in zip(runtime.ema_model.state_dict().values(), restored.ema_model.state_dict().values()):
        assert torch.equal(a, b)


def test_ids_v0_and_v1_differ_in_their_catalogue_and_observation(tiny_env) -> None:
    old, new = tiny_env("mlic-digits-v0"), tiny_env("mlic-digits-v1")
    assert old.action_names("opt") == ["sgd", "adam", "adamw", "rmsprop"]
    assert new.action_names("opt") == ["sgd", "adam", "adamw", "rmsprop", "sf_adamw", "prodigy"]
    assert (old.observation_version, new.observation_version) == (0, 1)
    assert old.observation_space("aug").shape[0] + 2 == new.observation_space("aug").shape[0]
    assert [n for n in new.observation_names if n not in old.observation_names] == [
        "last_opt=sf_adamw", "last_opt=prodigy"]
    # a classic recipe plays the same on both: same actions, same training
    recipe = Recipe("crop", "sgd", "constant", "bce")
    curves = []
    for env in (old, new):
        env.reset(seed=0)
        actions = envs.recipe_actions(env, recipe)
        curves.append([env.step(actions)[4]["aug"]["metrics"]["mAP"] for _ in range(3)])
    assert curves[0] == curves[1]
    with pytest.raises(envs.InvalidActionError, match="sf_adamw"):
        envs.recipe_actions(old, SF)
    with pytest.raises(envs.ConfigError, match="outside catalogue 'classic'"):
        envs.make_config("mlic-digits-v0", default_recipe=SF)
    with pytest.raises(envs.ConfigError, match="catalogues: classic, tuning-free"):
        envs.make_config("mlic-digits", catalogue="v1")


@pytest.mark.parametrize("recipe", [SF, PRODIGY])
def test_the_tuning_free_recipes_train_through_the_env(tiny_env, recipe: Recipe) -> None:
    env = tiny_env("mlic-digits")
    env.reset(seed=0)
    actions = envs.recipe_actions(env, recipe)
    while env.agents:
        _, _, _, _, infos = env.step(actions)
    assert infos["aug"]["config"]["opt"] == recipe.opt
    assert 0 < infos["aug"]["test_metrics"]["mAP"] <= 100


def test_an_old_zoo_entry_plays_a_new_id_in_its_own_catalogue(tiny_env) -> None:
    """``zoo:bc-digits-v1`` was trained on ``classic``: on a ``-v1`` id it needs the env built
    with ``catalogue='classic'``, which every loader that reads its settings does."""
    from training.core.saved_settings import controller_env_settings
    settings = controller_env_settings("zoo:bc-digits-v1")
    assert settings["catalogue"] == "classic"  # from its manifest, older than catalogue names
    with pytest.raises(ControllerCheckpointError, match="catalogue='classic'"):
        make_controller("zoo:bc-digits-v1", tiny_env("mlic-digits", observation="relative"), seed=0)
    env = tiny_env("mlic-digits", **settings)
    controller = make_controller("zoo:bc-digits-v1", env, seed=0)
    obs, _ = env.reset(seed=0)
    assert set(controller.act(obs, training=False)) == set(env.possible_agents)


def test_a_saved_controller_names_its_catalogue_and_a_legacy_one_is_classic(tiny_env, tmp_path):
    controller = make_controller("static", tiny_env("mlic-digits"), seed=0)
    controller.save(tmp_path)
    manifest = json.loads((tmp_path / "controller.json").read_text())
    assert manifest["catalogue"] == "tuning-free" and manifest_catalogue(manifest) == "tuning-free"
    legacy = {k: v for k, v in manifest.items() if k != "catalogue"}
    legacy["action_sizes"] = {"aug": 8, "opt": 4, "lrs": 5, "loss": 5}
    assert manifest_catalogue(legacy) == "classic"
    assert manifest_catalogue({"agents": ["a"], "action_sizes": {"a": 3}}) is None  # not MLIC


def test_the_user_loop_evaluates_schedule_free_at_its_average_with_batch_norm_recomputed():
    from training.user_loop.dynamic import DynamicRecipe
    g = torch.Generator().manual_seed(0)
    images, targets = torch.rand(32, 3, 8, 8, generator=g), (torch.rand(32, 4, generator=g) > 0.6).float()
    model = _runtime().model
    dyn = DynamicRecipe(model, num_classes=4, decisions=2, steps_per_decision=3, controller=SF,
                        seed=0, train_targets=targets)
    dyn.start([(images, targets)])
    while not dyn.done:
        for _ in range(3):
            x, y = dyn.augment(images, targets)
            dyn.step(dyn.loss(model(x), y))
        dyn.decide([(images, targets)])
    copied = model[1].running_mean.clone()
    evaluated = dyn.eval_model  # recomputes BatchNorm at the evaluated weights
    assert not torch.allclose(evaluated[1].running_mean, copied)
    assert [d.recipe.opt for d in dyn.history] == ["sf_adamw"] * 2
