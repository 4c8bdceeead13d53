"""Env training throughput vs a plain hand-written PyTorch loop, side by side in one process.

    python -m benchmarks.throughput [--env mlic-digits] [--epochs 3] [--repeats 3]

Both sides train the same model on the same data with the same batch size and the
same recipe (the static default: flip/crop, AdamW, one-cycle, ASL), with the same
per-step work a careful hand-written loop does: augmentation, normalisation,
channels-last, forward, loss, backward, gradient clipping, optimizer step, LR update
and a weight EMA. The repeats are interleaved (env, plain, env, plain, ...) so machine
noise hits both alike. Reported:

* images/s of each (training time only: evaluation is excluded on both sides);
* their ratio (target >= 0.95);
* the env's overhead share: the time per ``env.step`` spent outside training and
  evaluation (target <= 2%).

Results go to ``benchmarks/results/throughput.md``.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import envs
from benchmarks.common import machine_description, markdown_table, mean_std, today
from envs.engine.augment import augment_batch
from envs.engine.data import DatasetSplits
from envs.engine.init import init_weights
from envs.engine.losses import build_loss
from envs.engine.metrics import multilabel_metrics
from envs.engine.models import build_model
from envs.engine.optimizers import OPTIMIZERS, param_groups
from envs.engine.recipe import COMPONENTS, DEFAULT_RECIPE, Recipe
from envs.engine.schedules import schedule_factor

RESULTS = Path(__file__).resolve().parent / "results" / "throughput.md"


@dataclass(frozen=True)
class Measurement:
    images: int
    train_seconds: float
    overhead_share: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.train_seconds


def run_env(env_id: str, epochs: int, seed: int, **overrides) -> Measurement:
    """One env episode of ``epochs`` decisions under the default recipe."""
    env = envs.make(env_id, max_decisions=epochs, **overrides)
    env.reset(seed=seed)
    action = {a: env.action_names(a).index(getattr(DEFAULT_RECIPE, a)) for a in env.agents}
    images, busy, overhead, total = 0, 0.0, 0.0, 0.0
    while env.agents:
        start = time.perf_counter()
        _, _, _, _, infos = env.step(action)
        wall = time.perf_counter() - start
        info = infos[env.possible_agents[0]]
        images += info["train"]["images"]
        busy += wall - info["time"].eval_s
        overhead += info["time"].overhead_s
        total += wall
    return Measurement(images=images, train_seconds=busy, overhead_share=overhead / total)


def run_plain(data: DatasetSplits, recipe: Recipe, epochs: int, batch_size: int, seed: int,
              backbone: str = "small_cnn") -> Measurement:
    """The same training, written as the plain loop a user would write by hand."""
    g = torch.Generator().manual_seed(seed)
    train = data.train
    model = build_model(backbone, train.num_classes)
    init_weights(model, g)
    model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    spec = OPTIMIZERS[recipe.opt]
    optimizer = spec.build(param_groups(model), spec.base_lr)
    loss_fn = build_loss(recipe.loss, train.positive_counts(), len(train))
    x_all = train.images.float().div(255.0)
    mean = x_all.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    std = x_all.std(dim=(0, 2, 3)).view(1, 3, 1, 1)
    targets_all, mask_all = train.labels.float(), ~train.ignore
    per_epoch = len(train) // batch_size
    total_steps = epochs * per_epoch
    images, train_seconds, step = 0, 0.0, 0
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(train), generator=g)
        for b in range(per_epoch):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            x = train.images[idx].float().div_(255.0)
            x, y = augment_batch(recipe.aug, x, torch.cat([targets_all[idx], mask_all[idx].float()], 1), g)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            for group in optimizer.param_groups:
                group["lr"] = spec.base_lr * schedule_factor(recipe.lrs, step / total_steps)
            k = train.num_classes
            loss = loss_fn(model(x), y[:, :k], y[:, k:] > 0.999)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            with torch.no_grad():
                decay = min(0.99, (1 + step) / (10 + step))
                for e, p in zip(ema.parameters(), model.parameters()):
                    e.lerp_(p, 1.0 - decay)
                for e, b_ in zip(ema.buffers(), model.buffers()):
                    e.copy_(b_)
            step += 1
            images += batch_size
        train_seconds += time.perf_counter() - start
        _evaluate(ema, data, mean, std)  # as the env does; not timed as training
    return Measurement(images=images, train_seconds=train_seconds)


@torch.no_grad()
def _evaluate(model: torch.nn.Module, data: DatasetSplits, mean: torch.Tensor, std: torch.Tensor) -> float:
    logits = torch.cat([model(((x.float() / 255.0 - mean) / std).contiguous(memory_format=torch.channels_last))
                        for x in data.val.images.split(512)])
    return multilabel_metrics(logits, data.val.labels, ignore=data.val.ignore)["mAP"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="mlic-digits")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved env/plain pairs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    env = envs.make(args.env, max_decisions=1)
    data, config = env.data, env.config
    print(f"{args.env}: {len(data.train)} train images at {data.train.image_size} px, "
          f"batch {config.batch_size}, {args.epochs} epochs x {args.repeats} repeats")
    env_runs, plain_runs = [], []
    for r in range(args.repeats):
        env_runs.append(run_env(args.env, args.epochs, seed=r))
        plain_runs.append(run_plain(data, config.default_recipe, args.epochs, config.batch_size, seed=r,
                                    backbone=config.backbone))
        print(f"  repeat {r + 1}: env {env_runs[-1].images_per_second:,.0f} img/s, "
              f"plain {plain_runs[-1].images_per_second:,.0f} img/s, "
              f"overhead {100 * env_runs[-1].overhead_share:.2f}%")
    ratios = [e.images_per_second / p.images_per_second for e, p in zip(env_runs, plain_runs)]
    rows = [
        ["env (`envs.make` + `step`)", mean_std([m.images_per_second for m in env_runs], 0)],
        ["plain PyTorch loop", mean_std([m.images_per_second for m in plain_runs], 0)],
        ["ratio env / plain", mean_std(ratios, 3)],
        ["env overhead share of step time (%)", mean_std([100 * m.overhead_share for m in env_runs], 2)],
    ]
    table = markdown_table(["measure", "mean ± std over repeats"], rows)
    print(table)
    recipe = ", ".join(f"{c}={getattr(config.default_recipe, c)}" for c in COMPONENTS)
    report = (f"# Throughput: env vs plain PyTorch loop\n\n"
              f"- command: `python -m benchmarks.throughput --env {args.env} --epochs {args.epochs} "
              f"--repeats {args.repeats}`\n- machine: {machine_description()}\n- date: {today()}\n"
              f"- setup: {len(data.train)} train images at {data.train.image_size} px, batch "
              f"{config.batch_size}, backbone {config.backbone}, recipe {recipe}; repeats interleaved; "
              f"training time only (evaluation excluded on both sides)\n"
              f"- targets: ratio >= 0.95, overhead <= 2%; median ratio {statistics.median(ratios):.3f}\n\n"
              f"{table}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
