"""Env training throughput vs a plain hand-written PyTorch loop, side by side in one process.

    python -m benchmarks.throughput [--env mlic-digits] [--epochs 3] [--repeats 3]

Both sides train the same model on the same data with the same batch size and the
same recipe (the static default: flip/crop, AdamW, one-cycle, ASL), with the same
per-step work a careful hand-written loop does: augmentation, normalisation,
channels-last, forward, loss, backward, gradient clipping, optimizer step, LR update
and a weight EMA. The plain loop starts from the env trainer's initial state (weights,
generator state, first shuffle) and uses its LR rule, so both do the same arithmetic:
they end with bit-identical weights, which is checked. Both live in one process and
alternate epoch by epoch (the order flips every epoch, and odd seeds start with the plain
loop), so machine noise and warm-up hit both alike. Reported:

* images/s of each (training time only: evaluation is excluded on both sides);
* their ratio (target >= 0.95);
* the env's overhead share: the time per ``env.step`` spent outside training and
  evaluation (target <= 2%). The trainer's own per-segment bookkeeping (snapshot for
  rollback, update-size statistics, finiteness check) counts as training here; the
  ratio is what shows it.

Results go to ``benchmarks/results/throughput.md``.
"""
from __future__ import annotations

import copy
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import torch

import envs
from training.core import cli
from agents import make_controller
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from envs.engine.augment import augment_batch
from envs.engine.data import DatasetSplits
from envs.engine.losses import build_loss
from envs.engine.metrics import multilabel_metrics
from envs.engine.optimizers import OPTIMIZERS, param_groups
from envs.engine.recipe import COMPONENTS, Recipe
from envs.engine.schedules import schedule_factor
from envs.engine.trainer import Trainer
from envs.engine.weights import channel_stats
from training.core.episode import Callback, StepContext, run_episode

RESULTS = Path(__file__).resolve().parents[1] / "results" / "throughput.md"


@dataclass
class Measurement:
    images: int = 0
    train_seconds: float = 0.0
    overhead_seconds: float = 0.0
    step_seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.train_seconds

    @property
    def overhead_share(self) -> float:
        return self.overhead_seconds / self.step_seconds if self.step_seconds else 0.0


class Alternate(Callback):
    """Measures each env epoch (one ``env.step``, as the episode driver timed it) and trains
    the plain loop's matching epoch right before or after it: the order flips every epoch,
    and even seeds start with the env, odd seeds with the plain loop."""

    def __init__(self, plain: "PlainLoop", seed: int) -> None:
        self.plain, self.seed = plain, seed
        self.measurement = Measurement()

    def env_first(self, epoch: int) -> bool:
        return (epoch + self.seed) % 2 == 0

    def on_episode_start(self, episode: int, seed: int) -> None:
        if not self.env_first(0):
            self.plain.epoch()

    def on_step(self, ctx: StepContext) -> bool:
        info, m = ctx.info, self.measurement
        m.images += info["train"]["images"]
        m.train_seconds += ctx.env_s - info["time"].eval_s  # everything but evaluation
        m.overhead_seconds += info["time"].overhead_s
        m.step_seconds += ctx.env_s
        epoch = ctx.episode_step - 1
        if self.env_first(epoch):
            self.plain.epoch()
        if not ctx.done and not self.env_first(epoch + 1):
            self.plain.epoch()
        return True


class PlainLoop:
    """The same training, written as the plain loop a user would write by hand."""

    def __init__(self, data: DatasetSplits, recipe: Recipe, epochs: int, batch_size: int,
                 start: Trainer) -> None:
        # Start from the env trainer's fresh state, so both sides do the same arithmetic.
        self.g = torch.Generator()
        self.g.set_state(start.generator.get_state())
        self.first_perm = start.sampler.state_dict()["perm"]  # drawn when the trainer was built
        self.lr_ema_rate = start.config.lr_ema_rate
        self.data, self.recipe, self.batch_size = data, recipe, batch_size
        train = data.train
        self.model = copy.deepcopy(start.model)
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.spec = OPTIMIZERS[recipe.opt]
        self.base_lr = self.spec.base_lr * start.config.lr_scale
        self.optimizer = self.spec.build(param_groups(self.model), self.base_lr)
        self.loss_fn = build_loss(recipe.loss, train.positive_counts(), len(train))
        mean, std = channel_stats(train.images)
        self.mean, self.std = mean.view(1, 3, 1, 1), std.view(1, 3, 1, 1)
        self.targets, self.mask = train.labels.float(), ~train.ignore
        self.per_epoch = len(train) // batch_size
        self.total_steps = epochs * self.per_epoch
        self.step = 0
        self.lr_multiplier = schedule_factor(recipe.lrs, 0.0)
        self.measurement = Measurement()

    def epoch(self) -> None:
        train, k, bs = self.data.train, self.data.train.num_classes, self.batch_size
        start = time.perf_counter()
        perm, self.first_perm = self.first_perm, None
        if perm is None:
            perm = torch.randperm(len(train), generator=self.g)
        for b in range(self.per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            x = train.images[idx].float().div_(255.0)
            x, y = augment_batch(self.recipe.aug, x, torch.cat([self.targets[idx], self.mask[idx].float()], 1), self.g)
            x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
            # The scheduled LR multiplier, smoothed by a fast EMA as the trainer does.
            target = schedule_factor(self.recipe.lrs, self.step / self.total_steps)
            self.lr_multiplier += self.lr_ema_rate * (target - self.lr_multiplier)
            for group in self.optimizer.param_groups:
                group["lr"] = self.base_lr * self.lr_multiplier
            loss = self.loss_fn(self.model(x), y[:, :k], y[:, k:] > 0.999)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
            self.optimizer.step()
            with torch.no_grad():
                decay = min(0.99, (1 + self.step) / (10 + self.step))
                for e, p in zip(self.ema.parameters(), self.model.parameters()):
                    e.lerp_(p, 1.0 - decay)
                for e, b_ in zip(self.ema.buffers(), self.model.buffers()):
                    e.copy_(b_)
            self.step += 1
        self.measurement.images += self.per_epoch * bs
        self.measurement.train_seconds += time.perf_counter() - start
        _evaluate(self.ema, self.data, self.mean, self.std)  # as the env does; not timed as training


@dataclass(frozen=True)
class Pair:
    """One env/plain measurement pair."""

    env: Measurement
    plain: Measurement
    same_weights: bool
    """Both sides ended with bit-identical weights: they did the same arithmetic."""


def measure_pair(env_id: str, epochs: int, seed: int, **overrides: Any) -> Pair:
    """Env and plain loop side by side, alternating epoch by epoch (see ``Alternate``), so
    neither side always takes the first epoch after both were built. The env plays the
    static default recipe through the episode driver; ``overrides`` go to ``envs.make``."""
    env = envs.make(env_id, **{**overrides, "max_decisions": epochs})
    config = env.config
    controller = make_controller("static", env, seed=seed,
                                 choices=envs.recipe_actions(env, config.default_recipe))
    env.reset(seed=seed)  # builds the trainer, whose initial state the plain loop copies
    plain = PlainLoop(env.data, config.default_recipe, epochs, config.batch_size, env.trainer)
    alternate = Alternate(plain, seed)
    run_episode(env, controller, seed=seed, callbacks=[alternate])
    same = all(torch.equal(a, b) for a, b in zip(env.trainer.model.state_dict().values(),
                                                  plain.model.state_dict().values()))
    return Pair(alternate.measurement, plain.measurement, same)


@torch.no_grad()
def _evaluate(model: torch.nn.Module, data: DatasetSplits, mean: torch.Tensor, std: torch.Tensor) -> float:
    logits = torch.cat([model(((x.float() / 255.0 - mean) / std).contiguous(memory_format=torch.channels_last))
                        for x in data.val.images.split(512)])
    return multilabel_metrics(logits, data.val.labels, ignore=data.val.ignore)["mAP"]


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = cli.parser("benchmarks.throughput", __doc__,
                        example="python -m benchmarks.throughput --env mlic-digits --epochs 3 "
                                "--repeats 15")
    parser.add_argument("--env", default="mlic-digits",
                        help="the env id whose data, model and default recipe both sides train "
                             "(envs.list_envs())")
    parser.add_argument("--epochs", type=cli.positive_int, default=3,
                        help="epochs per measurement")
    parser.add_argument("--repeats", type=cli.positive_int, default=3,
                        help="independent env/plain pairs (fresh models, seeds 0..N-1)")
    parser.add_argument("--note", default="",
                        help="a line for the report, e.g. what else ran on the machine")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the markdown report")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    env = envs.make(args.env, max_decisions=1)
    data, config = env.data, env.config
    print(f"{args.env}: {len(data.train)} train images at {data.train.image_size} px, "
          f"batch {config.batch_size}, {args.epochs} epochs x {args.repeats} repeats")
    pairs = []
    for r in range(args.repeats):
        pair = measure_pair(args.env, args.epochs, seed=r)
        pairs.append(pair)
        print(f"  repeat {r + 1}: env {pair.env.images_per_second:,.0f} img/s, "
              f"plain {pair.plain.images_per_second:,.0f} img/s, "
              f"overhead {100 * pair.env.overhead_share:.2f}%, same weights {pair.same_weights}",
              flush=True)
    load_after = os.getloadavg()[0]
    ratios = [p.env.images_per_second / p.plain.images_per_second for p in pairs]
    rows = [
        ["env (`envs.make` + `step`)", mean_std([p.env.images_per_second for p in pairs], 0)],
        ["plain PyTorch loop", mean_std([p.plain.images_per_second for p in pairs], 0)],
        ["ratio env / plain", mean_std(ratios, 3)],
        ["env overhead share of step time (%)",
         mean_std([100 * p.env.overhead_share for p in pairs], 2)],
    ]
    table = markdown_table(["measure", "mean ± std over repeats"], rows)
    print(table)
    recipe = ", ".join(f"{c}={getattr(config.default_recipe, c)}" for c in COMPONENTS)
    command = (f"python -m benchmarks.throughput --env {args.env} --epochs {args.epochs} "
               f"--repeats {args.repeats}")
    details = [
        f"load average (1 min) at start / end: {load_before:.2f} / {load_after:.2f} on "
        f"{os.cpu_count()} cores (this run adds up to {torch.get_num_threads()}; more means "
        f"other jobs shared the machine)",
        *([f"note: {args.note}"] if args.note else []),
        f"setup: {len(data.train)} train images at {data.train.image_size} px, batch "
        f"{config.batch_size}, backbone {config.backbone}, recipe {recipe}; epochs alternated "
        f"env/plain (odd seeds start with plain); training time only (evaluation excluded on "
        f"both sides); the plain loop starts from the env trainer's initial state and ended "
        f"with bit-identical weights in {sum(p.same_weights for p in pairs)}/{len(pairs)} repeats",
        f"targets: ratio >= 0.95, overhead <= 2%; median ratio {statistics.median(ratios):.3f} "
        f"(per repeat: {', '.join(f'{r:.3f}' for r in ratios)})"]
    write_result(args.out, result_header("Throughput: env vs plain PyTorch loop", command,
                                         seeds=args.repeats, details=details) + f"\n{table}\n")
