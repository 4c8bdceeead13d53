"""One training episode, driven by a fixed recipe or by a controller, for the benchmark sweeps.

``run_episode`` steps an env until it truncates (or a callback stops it, e.g. an Optuna
pruner) and returns what the sweeps compare: the val mAP after every decision, the test
metrics (evaluated by the env when the episode ends), and wall time. A decision is one
budget unit: one epoch unless ``steps_per_decision`` is overridden.

``run_recipe`` holds one recipe fixed (the static default, random-search and TPE trials);
``run_controller`` builds a controller with ``agents.make_controller`` on the env, optionally
wrapped by ``agents.shaping.shape_rewards`` (individual rewards for the "w/o coordination"
ablation, curiosity) exactly as ``training.loop`` wraps it, and lets it act and learn online
in one episode.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import envs
from agents import make_controller
from agents.shaping import shape_rewards
from envs.engine.recipe import Recipe

OnEpoch = Callable[[int, float], bool]
"""``on_epoch(epoch, val_mAP) -> stop``: called after every decision (epochs from 1)."""
Tick = Callable[[], None]
"""Called once per trained epoch (drives the sweep's progress bar)."""


@dataclass
class EpisodeResult:
    """What one episode produced."""

    val_map: list[float]
    """Val mAP after each decision (0..100)."""
    test: dict[str, float] = field(default_factory=dict)
    """Test mAP / CF1 / OF1 at the end; empty when the episode was stopped early."""
    wall_s: float = 0.0
    """Wall time of the episode, env construction included."""
    recipe: str = ""
    """The fixed recipe (``aug+opt+lrs+loss``), if any."""
    train_s: float = 0.0
    """Seconds spent training (the env's ``StepTiming.train_s``), evaluation excluded."""
    train_images: int = 0
    """Training images seen."""
    train_epochs: float = 0.0
    """``train_images`` over the training split's size."""
    choices: list[str] = field(default_factory=list)
    """The recipe (``aug+opt+lrs+loss``) trained in each decision."""

    @property
    def epochs(self) -> int:
        return len(self.val_map)

    @property
    def final_val(self) -> float:
        return self.val_map[-1] if self.val_map else 0.0

    @property
    def best_val(self) -> float:
        return max(self.val_map, default=0.0)

    @property
    def stopped(self) -> bool:
        return not self.test


def recipe_name(recipe: Recipe) -> str:
    return "+".join(recipe.as_dict().values())


def parse_recipe(name: str) -> Recipe:
    """The inverse of ``recipe_name``."""
    return Recipe(**dict(zip(envs.COMPONENTS, name.split("+"), strict=True)))


def describe_choices(choices: list[str]) -> str:
    """``"N switches; most played R (k/n decisions)"`` for an episode's recipe sequence."""
    if not choices:
        return "no decisions"
    switches = sum(a != b for a, b in zip(choices, choices[1:]))
    top = max(dict.fromkeys(choices), key=choices.count)
    return (f"{switches} switch(es); most played {top} "
            f"({choices.count(top)}/{len(choices)} decisions)")


def recipe_actions(env: Any, recipe: Recipe) -> dict[str, int]:
    """The action of every live agent that plays ``recipe``."""
    return {a: env.action_names(a).index(getattr(recipe, a)) for a in env.possible_agents}


def running_best(values: list[float]) -> list[float]:
    """Best value so far after each entry."""
    out, best = [], float("-inf")
    for value in values:
        best = max(best, value)
        out.append(best)
    return out


def run_episode(env: Any, act: Callable[[Mapping], dict[str, int]], seed: int, *,
                learn: Callable[..., Any] | None = None, on_epoch: OnEpoch | None = None,
                tick: Tick | None = None) -> EpisodeResult:
    """Step ``env`` (a ParallelEnv or wrapper) from ``reset(seed)`` to the end of the episode
    (or until ``on_epoch`` asks to stop).

    ``act(observations)`` picks the joint action; ``learn(obs, actions, rewards, next_obs,
    terms, truncs, infos)`` (a controller's ``observe``) sees every transition.
    """
    start = time.perf_counter()
    observations, _ = env.reset(seed=seed)
    result = EpisodeResult(val_map=[])
    while True:
        actions = act(observations)
        next_obs, rewards, terms, truncs, infos = env.step(actions)
        if learn is not None:
            learn(observations, actions, rewards, next_obs, terms, truncs, infos)
        info = next(iter(infos.values()))
        result.val_map.append(float(info["metrics"]["mAP"] or 0.0))
        result.choices.append("+".join(info["config"].values()))
        result.train_s += info["time"].train_s
        result.train_images += int(info["train"]["images"])
        if tick is not None:
            tick()
        done = any(truncs.values()) or any(terms.values())
        if done:
            test = info.get("test_metrics", {})
            result.test = {k: float(test[k] or 0.0) for k in ("mAP", "CF1", "OF1")}
            break
        if on_epoch is not None and on_epoch(result.epochs, result.val_map[-1]):
            break
        observations = next_obs
    result.wall_s = time.perf_counter() - start
    return result


def run_recipe(env_id: str, recipe: Recipe, seed: int, overrides: Mapping[str, Any], *,
               on_epoch: OnEpoch | None = None, tick: Tick | None = None) -> EpisodeResult:
    """One episode with ``recipe`` held fixed (``overrides`` go to ``envs.make``)."""
    start = time.perf_counter()
    env = envs.make(env_id, **{**overrides, "agents": envs.COMPONENTS})
    action = recipe_actions(env, recipe)
    result = run_episode(env, lambda _obs: dict(action), seed, on_epoch=on_epoch, tick=tick)
    result.recipe = recipe_name(recipe)
    return _finish(result, env, start)


def _finish(result: EpisodeResult, env: envs.MLICTrainingEnv, start: float) -> EpisodeResult:
    """Wall time from ``start`` (env construction included) and epochs trained."""
    result.wall_s = time.perf_counter() - start
    result.train_epochs = result.train_images / max(1, len(env.data.train))
    return result


@dataclass(frozen=True)
class ControllerSpec:
    """A controller variant: algorithm, active agents and reward shaping."""

    algo: str = "mat-dqn"
    agents: tuple[str, ...] = envs.COMPONENTS
    """Active agents; the others keep the default recipe's choice."""
    curiosity: str = "none"
    """``none``, ``icm`` or ``rnd``."""
    individual_reward: bool = False
    """Each agent learns from its own reward (``IndividualRewardWrapper``), not the shared one."""


def run_controller(env_id: str, spec: ControllerSpec, seed: int, overrides: Mapping[str, Any], *,
                   tick: Tick | None = None) -> EpisodeResult:
    """One episode in which ``spec``'s controller reconfigures the recipe and learns online."""
    start = time.perf_counter()
    env = envs.make(env_id, **{**overrides, "agents": spec.agents})
    stepper = shape_rewards(env, seed=seed, curiosity=spec.curiosity,
                            reward="individual" if spec.individual_reward else "shared",
                            tail_classes=env.profile.tail_classes)
    controller = make_controller(spec.algo, stepper, seed=seed, **controller_kwargs(spec.algo, env))
    result = run_episode(stepper, controller.act, seed, learn=controller.observe, tick=tick)
    return _finish(result, env, start)


def controller_kwargs(algo: str, env: Any) -> dict[str, Any]:
    """Hyperparameters that depend on the run: as ``training.loop`` sets them."""
    if algo == "mat-dqn":
        return {"total_steps": env.config.max_decisions}
    if algo == "static":
        return {"choices": recipe_actions(env, env.config.default_recipe)}
    return {}
