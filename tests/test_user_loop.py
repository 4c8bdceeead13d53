"""The user-loop API (``training.user_loop.dynamic.DynamicRecipe``): equivalence with the env, exact
resume, controllers of every kind, and the errors that name what to fix."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

import envs
from agents.baselines import StaticController
from envs.engine.init import init_weights
from envs.engine.models import build_model
from envs.engine.sampler import BatchSampler
from envs.engine.weights import channel_stats
from conftest import TINY
from training.user_loop.dynamic import DynamicRecipe, UserLoopError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PLAN = [envs.Recipe(aug="mixup", opt="adam", lrs="cosine", loss="asl"),
        envs.Recipe(aug="crop", opt="adamw", lrs="step", loss="cb_bce"),
        envs.Recipe(aug="cutmix", opt="sgd", lrs="warm_restarts", loss="ls_bce")]
"""Switches of every component, mixing augmentations, and the Adam -> AdamW state carry-over."""


class Scripted(StaticController):
    """Plays a fixed recipe sequence."""

    def __init__(self, env, recipes):
        super().__init__(env)
        self.plan = [envs.recipe_actions(env, r) for r in recipes]

    def act(self, observations, training=True):
        return self.plan.pop(0)


def _batches(split, size=512):
    return [(split.images[i:i + size].float().div(255.0), split.labels[i:i + size])
            for i in range(0, len(split), size)]


def _env():
    return envs.make("mlic-digits", **TINY.overrides(max_train_images=96, steps_per_decision=4,
                                                     image_size=16))


def _user_loop(env, trainer_seed, controller, **kwargs):
    """The engine's own model and batches, built exactly as the env's trainer builds them."""
    config = env.config.trainer_config()
    generator = torch.Generator().manual_seed(int(np.random.default_rng(trainer_seed).integers(2**63 - 1)))
    train = env.data.train
    model = build_model(config.backbone, train.num_classes)
    init_weights(model, generator)
    model = model.to(memory_format=torch.channels_last)
    sampler = BatchSampler(len(train), min(config.batch_size, len(train)), generator)
    dyn = DynamicRecipe(model, num_classes=train.num_classes, decisions=env.config.max_decisions,
                        steps_per_decision=env.steps_per_decision, train_targets=train.labels,
                        controller=controller, normalize=channel_stats(train.images),
                        trainer=config, generator=generator,
                        env_settings={"reward": env.config.reward, "history": env.config.history,
                                      "context_features": env.config.context_features},
                        batch_size=min(config.batch_size, len(train)), **kwargs)
    return dyn, model, sampler


def _train_decision(dyn, model, sampler, train, steps):
    for _ in range(steps):
        index = sampler.next_batch()
        images, targets = dyn.augment(train.images[index].float().div_(255.0), train.labels[index])
        dyn.step(dyn.loss(model(images), targets))


def test_user_loop_reproduces_the_env_trajectory():
    env = _env()
    obs, _ = env.reset(seed=3)
    env_obs, env_val, env_rewards = [obs["aug"]], [], []
    for recipe in PLAN:
        obs, rewards, _, _, infos = env.step(envs.recipe_actions(env, recipe))
        env_obs.append(obs["aug"])
        env_val.append(infos["aug"]["metrics"]["mAP"])
        env_rewards.append(rewards["aug"])
    env_test = infos["aug"]["test_metrics"]["mAP"]

    dyn, model, sampler = _user_loop(env, 3, Scripted(env, PLAN))
    val = _batches(env.data.val)
    assert dyn.start(val) == PLAN[0]
    loop_obs = [dyn.spaces.state().copy()]
    while not dyn.done:
        _train_decision(dyn, model, sampler, env.data.train, env.steps_per_decision)
        dyn.decide(val)
        loop_obs.append(dyn.spaces.state().copy())
    assert [d.recipe for d in dyn.history] == PLAN
    np.testing.assert_allclose([d.val["mAP"] for d in dyn.history], env_val, atol=1e-3)
    np.testing.assert_allclose([d.reward for d in dyn.history], env_rewards, atol=1e-4)
    np.testing.assert_allclose(np.stack(loop_obs), np.stack(env_obs), atol=1e-4)
    test = dyn.evaluate(_batches(env.data.test)).metrics["mAP"]
    assert test == pytest.approx(env_test, abs=1e-3)
    assert env_val[-1] != env_val[0]  # it trained


def test_state_dict_resumes_mid_decision_exactly():
    env = _env()
    train, val = env.data.train, _batches(env.data.val)

    def run(stop_at=None):
        dyn, model, sampler = _user_loop(env, 5, "random", seed=1)
        dyn.start(val)
        _train_decision(dyn, model, sampler, train, 2)
        if stop_at is not None:
            buffer = io.BytesIO()  # a real checkpoint file, read back as plain tensors
            torch.save({"dyn": dyn.state_dict(), "model": model.state_dict(),
                        "sampler": sampler.state_dict()}, buffer)
            buffer.seek(0)
            state = torch.load(buffer, weights_only=True)
            dyn, model, sampler = _user_loop(env, 99, "random", seed=1)
            model.load_state_dict(state["model"])
            sampler.load_state_dict(state["sampler"])
            dyn.load_state_dict(state["dyn"])
        _train_decision(dyn, model, sampler, train, env.steps_per_decision - 2)
        dyn.decide(val)
        while not dyn.done:
            _train_decision(dyn, model, sampler, train, env.steps_per_decision)
            dyn.decide(val)
        return [(d.recipe, d.val["mAP"]) for d in dyn.history]

    assert run() == run(stop_at=2)


class UserMLP(nn.Module):
    """A model the engine does not define."""

    def __init__(self, side: int, classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * side * side, 32), nn.ReLU(),
                                 nn.Linear(32, classes))

    def forward(self, x):
        return self.net(x)


def _mlp_loop(**kwargs):
    torch.manual_seed(0)
    model = UserMLP(8, 4)
    targets = (torch.rand(40, 4) > 0.5).float()
    options = dict(num_classes=4, decisions=2, steps_per_decision=3, train_targets=targets)
    options.update(kwargs)
    return DynamicRecipe(model, **options), model, targets


def _val():
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(16, 3, 8, 8, generator=g), (torch.rand(16, 4, generator=g) > 0.5).float())]


@pytest.mark.parametrize("controller", ["static", "bandit", "random", PLAN[1]])
def test_any_controller_drives_a_user_model(controller):
    dyn, model, targets = _mlp_loop(controller=controller)
    first = dyn.start(_val())
    assert dyn.recipe == first and dyn.optimizer is not None
    while not dyn.done:
        for _ in range(3):
            images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
            dyn.step(dyn.loss(model(images), y))
        dyn.decide(_val())
    assert len(dyn.history) == 2 and all(d.steps == 3 for d in dyn.history)
    if controller == "static":
        assert {d.recipe for d in dyn.history} == {envs.DEFAULT_RECIPE}
    if isinstance(controller, envs.Recipe):
        assert {d.recipe for d in dyn.history} == {controller}


def test_a_zoo_controller_takes_its_cards_settings():
    from agents import zoo
    name = zoo.list_zoo()[0]
    dyn, model, targets = _mlp_loop(controller=f"zoo:{name}")
    settings = zoo.read_card(name)["env_settings"]
    assert dyn.env_config.observation == settings.get("observation", "standard")
    assert not dyn.controller.training
    dyn.start(_val())
    for _ in range(3):
        images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
        dyn.step(dyn.loss(model(images), y))
    assert isinstance(dyn.decide(_val()), envs.Recipe)


def test_a_controller_for_other_agents_or_observations_is_refused():
    from agents import zoo
    name = zoo.list_zoo()[0]
    with pytest.raises(Exception, match="agents"):
        _mlp_loop(controller=f"zoo:{name}", env_settings={"agents": ("opt",)})
    with pytest.raises(Exception, match="history"):
        _mlp_loop(controller=f"zoo:{name}", env_settings={"history": 2})
    other = StaticController(envs.ControlSpaces(envs.EnvConfig(agents=("opt", "lrs"))))
    with pytest.raises(Exception, match="agents"):
        _mlp_loop(controller=other)


def test_bad_input_names_what_to_fix():
    dyn, model, targets = _mlp_loop()
    with pytest.raises(UserLoopError, match=r"before start\(\)"):
        dyn.augment(torch.rand(2, 3, 8, 8), targets[:2])
    dyn.start(_val())
    with pytest.raises(UserLoopError, match="before any training step"):
        dyn.decide(_val())
    with pytest.raises(UserLoopError, match=r"expected \[B, 4\]"):
        dyn.loss(torch.zeros(8, 5), targets[:8])
    with pytest.raises(UserLoopError, match="one target row per logit row"):
        dyn.loss(torch.zeros(8, 4), targets[:7])
    with pytest.raises(UserLoopError, match="multi-hot"):
        dyn.augment(torch.rand(2, 3, 8, 8), torch.tensor([[0.0, 2.0, 1.0, 0.0]] * 2))
    with pytest.raises(UserLoopError, match="one_hot"):
        dyn.augment(torch.rand(2, 3, 8, 8), torch.tensor([1, 3]))
    with pytest.raises(UserLoopError, match=r"\[B, 3, H, W\]"):
        dyn.augment(torch.rand(2, 8, 8), targets[:2])
    for _ in range(3):
        images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
        dyn.step(dyn.loss(model(images), y))
    with pytest.raises(UserLoopError, match=r"call decide\(val\)"):
        dyn.step(dyn.loss(model(images), y))
    with pytest.raises(UserLoopError, match="logits have shape"):
        dyn.decide(logits=torch.zeros(16, 3), targets=torch.zeros(16, 4))
    with pytest.raises(UserLoopError, match="val targets"):  # a bad loader leaves it open
        dyn.decide([(torch.rand(4, 3, 8, 8), torch.zeros(4, 6))])
    dyn.decide(_val())
    for _ in range(3):
        images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
        dyn.step(dyn.loss(model(images), y))
    assert dyn.decide(logits=torch.zeros(16, 4), targets=_val()[0][1]) is None and dyn.done
    with pytest.raises(UserLoopError, match="after the budget ended"):
        dyn.step(dyn.loss(model(images), y))
    with pytest.raises(UserLoopError, match="multi-hot"):
        _mlp_loop(train_targets=torch.full((4, 4), 0.5))
    with pytest.raises(UserLoopError, match="positive int"):
        _mlp_loop(decisions=0)
    with pytest.raises(Exception, match="zoo:"):
        _mlp_loop(controller="zoo:no-such-controller")


def test_a_non_finite_loss_rolls_the_segment_back():
    dyn, model, targets = _mlp_loop(controller="static")
    dyn.start(_val())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
    dyn.step(dyn.loss(model(images), y) * float("nan"))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    for _ in range(2):  # the rest of the segment updates nothing
        images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
        dyn.step(dyn.loss(model(images), y))
    dyn.decide(_val())
    assert dyn.history[-1].diverged and dyn.history[-1].steps == 1
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_bf16_autocast_is_offered_for_the_users_forward_pass():
    dyn, model, targets = _mlp_loop(trainer=envs.TrainerConfig(amp="bf16", channels_last=False))
    dyn.start(_val())
    images, y = dyn.augment(torch.rand(8, 3, 8, 8), targets[:8])
    with dyn.autocast():
        logits = model(images)
    assert logits.dtype == torch.bfloat16
    dyn.step(dyn.loss(logits, y))  # the loss is taken in float32
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_saved_run_controller_takes_the_runs_settings(tmp_path):
    import json
    import shutil
    from agents import zoo
    name = zoo.list_zoo()[0]
    shutil.copytree(zoo.zoo_dir(name), tmp_path / "run" / "best")
    settings = zoo.read_card(name)["env_settings"]
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"env_settings": settings}))
    dyn, _, _ = _mlp_loop(controller=tmp_path / "run" / "best")
    assert dyn.env_config.observation == settings["observation"]
    assert not dyn.controller.training
