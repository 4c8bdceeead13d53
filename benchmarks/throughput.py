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

import argparse
import copy
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import envs
from benchmarks.common import machine_description, markdown_table, mean_std, today
from envs.engine.augment import augment_batch
from envs.engine.data import DatasetSplits
from envs.engine.losses import build_loss
from envs.engine.metrics import multilabel_metrics
from envs.engine.optimizers import OPTIMIZERS, param_groups
from envs.engine.recipe import COMPONENTS, DEFAULT_RECIPE, Recipe
from envs.engine.schedules import schedule_factor
from envs.engine.trainer import Trainer
from envs.engine.weights import channel_stats

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.md"


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


class EnvRunner:
    """Drives one env episode under the default recipe, one decision (epoch) per call."""

    def __init__(self, env_id: str, epochs: int, seed: int) -> None:
        self.env = envs.make(env_id, max_decisions=epochs)
        self.env.reset(seed=seed)
        self.action = {a: self.env.action_names(a).index(getattr(DEFAULT_RECIPE, a)) for a in self.env.agents}
        self.measurement = Measurement()

    def epoch(self) -> None:
        start = time.perf_counter()
        _, _, _, _, infos = self.env.step(self.action)
        wall = time.perf_counter() - start
        info = infos[self.env.possible_agents[0]]
        m = self.measurement
        m.images += info["train"]["images"]
        m.train_seconds += wall - info["time"].eval_s  # everything but evaluation
        m.overhead_seconds += info["time"].overhead_s
        m.step_seconds += wall


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


def measure_pair(env_id: str, epochs: int, seed: int) -> Pair:
    """Env and plain loop side by side, alternating epoch by epoch.

    The order flips every epoch; even seeds start with the env, odd seeds with the plain
    loop, so neither side always takes the first epoch after both were built.
    """
    env = EnvRunner(env_id, epochs, seed)
    config = env.env.config
    plain = PlainLoop(env.env.data, config.default_recipe, epochs, config.batch_size,
                      env.env.trainer)
    for epoch in range(epochs):
        for runner in ((env, plain) if (epoch + seed) % 2 == 0 else (plain, env)):
            runner.epoch()
    same = all(torch.equal(a, b) for a, b in zip(env.env.trainer.model.state_dict().values(),
                                                  plain.model.state_dict().values()))
    return Pair(env.measurement, plain.measurement, same)


@torch.no_grad()
def _evaluate(model: torch.nn.Module, data: DatasetSplits, mean: torch.Tensor, std: torch.Tensor) -> float:
    logits = torch.cat([model(((x.float() / 255.0 - mean) / std).contiguous(memory_format=torch.channels_last))
                        for x in data.val.images.split(512)])
    return multilabel_metrics(logits, data.val.labels, ignore=data.val.ignore)["mAP"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="mlic-digits")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="independent env/plain pairs (fresh models, seeds 0..N-1)")
    parser.add_argument("--note", default="",
                        help="a line for the report, e.g. what else ran on the machine")
    parser.add_argument("--out", type=Path, default=RESULTS)
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
    note = f"- note: {args.note}\n" if args.note else ""
    report = (f"# Throughput: env vs plain PyTorch loop\n\n"
              f"- command: `python -m benchmarks.throughput --env {args.env} --epochs {args.epochs} "
              f"--repeats {args.repeats}`\n- machine: {machine_description()}\n- date: {today()}\n"
              f"- load average (1 min) at start / end: {load_before:.2f} / {load_after:.2f} on "
              f"{os.cpu_count()} cores (this run adds up to {torch.get_num_threads()}; more means "
              f"other jobs shared the machine)\n{note}"
              f"- setup: {len(data.train)} train images at {data.train.image_size} px, batch "
              f"{config.batch_size}, backbone {config.backbone}, recipe {recipe}; epochs alternated "
              f"env/plain (odd seeds start with plain); training time only (evaluation excluded on "
              f"both sides); the plain loop starts from the "
              f"env trainer's initial state and ended with bit-identical weights in "
              f"{sum(p.same_weights for p in pairs)}/{len(pairs)} repeats\n"
              f"- targets: ratio >= 0.95, overhead <= 2%; median ratio {statistics.median(ratios):.3f} "
              f"(per repeat: {', '.join(f'{r:.3f}' for r in ratios)})\n\n"
              f"{table}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"wrote {args.out}")

if __name__ == "__main__":
    main()
