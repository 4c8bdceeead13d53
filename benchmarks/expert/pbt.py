"""Population Based Training of the recipe through Ray Tune's ``PopulationBasedTraining``.

Each member of a population of ``population`` is one env (one model) trained for
``budget // population`` epochs, so the population shares the method's budget. A member's
hyperparameters are the four components (``aug``, ``opt``, ``lrs``, ``loss``, by name);
the env applies them at every decision, so a member's recipe can change between segments.
Every epoch the member reports its val mAP; its checkpoint is its env's ``state_dict()``
(weights, EMA, optimizer, RNGs, training status, via ``training.core.checkpoint``). Every
``interval`` epochs of a member the scheduler lets it, if it is in the bottom quantile,
*exploit* a top member (restart from that member's latest checkpoint, with its recipe) and
then *explore*: each component is resampled or moved to a neighbouring catalogue entry.
The scheduler runs asynchronously (``synch=False``: Ray's synchronous mode is prone to
hanging trials), so a donor may be an epoch ahead or behind; a member stops when its env
has trained ``budget // population`` epochs, so the epochs actually spent (one per report,
counted in the driver) can differ slightly from the budget and are reported as such.
Members start from the same env seed with the first ``population`` recipes random search
draws (``benchmarks.expert.search.draw_recipes``, passed as Ray's ``points_to_evaluate``), so PBT
differs from random search by its exploit/explore steps and longer members only. Python's
``random``, which PBT perturbs with, is seeded with the seed for the run and restored after.

The result is the member with the best final val mAP; its test metrics (evaluated by its
env at the end) are the method's. Ray is optional (the ``ray`` extra): ``available()``
says whether it can be imported, and the peer benchmark reports PBT as skipped without it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import random
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.core.episodes import running_best
from benchmarks.expert.search import MethodResult, draw_recipes, catalogue_of
from training.core.ray_console import ray_console
import envs
from envs.engine.recipe import COMPONENTS, Recipe

STATE_FILE = "env.pt"
KEPT = ("val_mAP", "epoch", "recipe", "clock", "trained", "test_mAP", "test_CF1", "test_OF1")
"""Fields of each member report that the driver keeps."""


def available() -> bool:
    """Whether Ray Tune can be imported."""
    return (importlib.util.find_spec("ray") is not None
            and importlib.util.find_spec("ray.tune") is not None)


@dataclass(frozen=True)
class PBTConfig:
    """Population, perturbation interval and the shared budget."""

    budget: int
    """Epochs of the whole population."""
    population: int = 4
    """Members (4-8 is typical); each trains ``budget // population`` epochs."""
    interval: int = 2
    """Epochs between exploit/explore steps."""
    quantile: float = 0.25
    """Fraction of the population that exploits (and that is exploited)."""
    resample_probability: float = 0.25
    """Chance that a perturbed component is redrawn rather than moved to a neighbour."""

    @property
    def member_epochs(self) -> int:
        return self.budget // self.population

    def __post_init__(self) -> None:
        if self.population < 2 or self.member_epochs < 1 or self.interval < 1:
            raise ValueError(
                f"PBT needs population >= 2, budget >= population, interval >= 1: {self}")


def member_class() -> type:
    """The Ray Tune ``Trainable`` of one member (built on demand: Ray is optional).

    One ``step`` trains one epoch and reports val mAP (and the test metrics after the last
    epoch); ``save_checkpoint``/``load_checkpoint`` hold the env's ``state_dict()``;
    ``reset_config`` only swaps the recipe, so PBT reuses the worker after an exploit.
    """
    from ray import tune

    class Member(tune.Trainable):
        def setup(self, config: dict[str, Any]) -> None:
            import torch
            torch.set_num_threads(1)
            self.env = envs.make(config["env_id"],
                                 **{**config["overrides"], "max_decisions": config["epochs"]})
            self.reset_config(config)

        def reset_config(self, new_config: dict[str, Any]) -> bool:
            """A fresh member (Tune then loads the member's checkpoint, if it has one)."""
            self.env.reset(seed=new_config["seed"])
            self.last: dict[str, Any] = {}
            self.recipe = {c: new_config[c] for c in COMPONENTS}
            self.config = new_config
            return True

        def step(self) -> dict[str, Any]:
            if not self.env.agents:  # exploited a donor that had already finished: nothing to train
                return {**self.last, "clock": time.time(), "trained": 0, "done": True}
            actions = envs.recipe_actions(self.env, Recipe(**self.recipe))
            _, _, _, truncs, infos = self.env.step(actions)
            info = infos[self.env.possible_agents[0]]
            metrics = {"val_mAP": float(info["metrics"]["mAP"] or 0.0), "epoch": info["decision"],
                       "recipe": "+".join(self.recipe.values()), "clock": time.time(), "trained": 1}
            test = info.get("test_metrics")
            if test:
                metrics.update({f"test_{k}": float(test[k] or 0.0) for k in ("mAP", "CF1", "OF1")})
            self.last = metrics
            return metrics

        def save_checkpoint(self, checkpoint_dir: str) -> None:
            from training.core.checkpoint import save_atomic
            save_atomic({"env": self.env.state_dict(), "last": self.last},
                        Path(checkpoint_dir) / STATE_FILE)

        def load_checkpoint(self, checkpoint_dir: str) -> None:
            from training.core.checkpoint import load_checkpoint
            state = load_checkpoint(Path(checkpoint_dir) / STATE_FILE)
            self.env.load_state_dict(state["env"])
            self.last = state["last"]

    return Member


def _collector(rows: list[dict[str, Any]], bar: Any | None) -> Any:
    from ray import tune

    class Collect(tune.Callback):
        """Records every report in the driver (each with ``trained=1`` is one epoch trained)."""

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                            **info: Any) -> None:
            rows.append({"trial": trial.trial_id, **{k: result.get(k) for k in KEPT}})
            if bar is not None and result.get("trained"):
                bar.update(1)

    return Collect()


def start_ray(num_cpus: int) -> None:
    """A local Ray instance with ``num_cpus`` logical CPUs (one member each), quiet."""
    import ray
    with ray_console():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)


@contextlib.contextmanager
def ray_session(num_cpus: int) -> Iterator[None]:
    """Keep one Ray instance up across several ``run_pbt`` calls (saves its start-up per seed)."""
    import ray
    started = not ray.is_initialized()
    if started:
        start_ray(num_cpus)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def run_pbt(env_id: str, overrides: Mapping[str, Any], seed: int, config: PBTConfig,
            bar: Any | None = None) -> MethodResult:
    """PBT over the recipe at ``config.budget`` epochs in total; needs Ray."""
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search.basic_variant import BasicVariantGenerator

    choices = catalogue_of(env_id, overrides)
    start = time.perf_counter()
    saved_random = random.getstate()  # PBT perturbs with the global ``random``: restored below
    random.seed(seed)
    rows: list[dict[str, Any]] = []
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=config.interval,
        hyperparam_mutations={c: list(choices[c]) for c in COMPONENTS}, synch=False,
        quantile_fraction=config.quantile, resample_probability=config.resample_probability)
    start_points = [r.as_dict() for r in draw_recipes(seed, config.population, choices)]
    space = {"env_id": env_id, "overrides": dict(overrides), "seed": seed,
             "epochs": config.member_epochs,
             **{c: tune.choice(list(choices[c])) for c in COMPONENTS}}
    with ray_session(config.population), tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(member_class(), {"cpu": 1}), param_space=space,
            tune_config=tune.TuneConfig(metric="val_mAP", mode="max", scheduler=scheduler,
                                        num_samples=config.population, reuse_actors=True,
                                        search_alg=BasicVariantGenerator(
                                            points_to_evaluate=start_points, random_state=seed)),
            run_config=tune.RunConfig(storage_path=storage, verbose=0,
                                      stop={"epoch": config.member_epochs},
                                      callbacks=[_collector(rows, bar)]))
        try:
            with ray_console():
                tuner.fit()
        finally:
            random.setstate(saved_random)
    return summarise(rows, time.perf_counter() - start)


def summarise(rows: list[dict[str, Any]], wall_s: float) -> MethodResult:
    """The best finished member's test metrics, and the best-so-far curve over all reports."""
    ordered = sorted(rows, key=lambda r: r["clock"])
    finals = [r for r in ordered if r.get("test_mAP") is not None]
    if not finals:
        raise RuntimeError("no PBT member finished its episode; see Ray's logs")
    best = max(finals, key=lambda r: r["val_mAP"])
    members = len({r["trial"] for r in rows})
    last: dict[str, str] = {}
    changes = 0
    for row in ordered:
        changes += row["trial"] in last and last[row["trial"]] != row["recipe"]
        last[row["trial"]] = row["recipe"]
    return MethodResult(test={k: best[f"test_{k}"] for k in ("mAP", "CF1", "OF1")},
                        curve=running_best([r["val_mAP"] for r in ordered if r["trained"]]),
                        wall_s=wall_s, trials=members,
                        detail=f"{changes} recipe change(s) by exploit/explore; best member "
                               f"ended with {best['recipe']}")
