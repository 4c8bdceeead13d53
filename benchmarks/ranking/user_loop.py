"""Does a zoo controller help inside a user's own training loop, on a model it never saw?

    python -m benchmarks.user_loop [--seeds 5] [--workers 2] [--zoo NAME,...]
                                   [--model resnet|convmixer|vit] [--resume]

A plain PyTorch loop (``DataLoader`` and a user-written model that no task set has: a
residual CNN with GroupNorm, ``--model resnet``, or a ConvMixer with BatchNorm and depthwise
convolutions, ``--model convmixer``, or a small vision transformer, ``--model vit``; the zoo
was meta-trained on the engine's backbones)
trains on ``mlic-mnist`` at the task set's size and budget (its first train task's; real MNIST
digits composited into
multi-label scenes, the zero-shot benchmark's cross-dataset target) through
``training.user_loop.dynamic.DynamicRecipe``. The same loop, seed for seed (same initial weights,
same batch order), runs with:

* each zoo controller, frozen, and the ``best/`` controller of each meta-training run given
  with ``--runs`` (``run:<dir>``);
* ``static default``: the default recipe (ASL paper) held fixed;
* ``static panel-best``: the task-set calibration's best recipe over its train tasks
  (``benchmarks.ranking.zero_shot.panel_best``; choosing it cost the panel's compute): the SBS;
* the tuning-free optimizers a practitioner would pick instead of a controller, each as a
  fixed recipe through ``DynamicRecipe`` (``benchmarks.expert.static_recipes.PEERS``:
  Schedule-Free AdamW on a constant LR, Prodigy on cosine, both with crop and ASL);
* with ``--panel``, every other panel recipe too, so that the table has the target's best
  static recipe on this model (the **VBS**, hindsight, a reference row).

Reported: test mAP of ``eval_model`` (mean ± std over seeds), each controller's per-seed
paired margin over both static recipes, and the API's own time at each decision
(observation, act, switch, the segment's bookkeeping: everything but the user's batches and
the val evaluation) per decision and as a share of the run's wall time. Runs are stored in
``OUT_DIR/runs/user_loop.jsonl`` as they end (``--resume`` reuses them).
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

import envs
from benchmarks.core.common import markdown_table, mean_std, result_header, write_result
from benchmarks.core.reporting import command_line
from training.core import cli
from training.core.jsonl import USER_LOOP
from training.core.run_store import RunStore, play_stored
from benchmarks.expert.static_recipes import PEERS, RECIPES
from benchmarks.ranking.targets import targets
from benchmarks.ranking.zero_shot import (DEFAULT, PANEL_BEST, RUN_PREFIX, add_controller_flags,
                                          chosen_controllers, panel_best)
from envs.engine.init import init_weights
from envs.engine.weights import channel_stats
from envs.errors import ConfigError, MLICError
from training.user_loop.dynamic import DynamicRecipe, split_loader

RESULTS = Path(__file__).resolve().parents[1] / "results" / "user_loop.md"
BATCH_SIZE = 64


class ResidualBlock(nn.Module):
    """conv-GN-ReLU-conv-GN plus the input (a 1x1 projection where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.GroupNorm(8, c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.GroupNorm(8, c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out
                     else nn.Conv2d(c_in, c_out, 1, stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class UserResNet(nn.Module):
    """The "user's" model: a stem and three residual blocks, GroupNorm, no BatchNorm."""

    def __init__(self, num_classes: int, width: int = 24) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.GroupNorm(8, width), nn.ReLU(),
            ResidualBlock(width, width, 1), ResidualBlock(width, 2 * width, 2),
            ResidualBlock(2 * width, 2 * width, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class UserConvMixer(nn.Module):
    """A second "user's" model: a ConvMixer (patch embedding, then depthwise-spatial and
    pointwise mixing blocks with BatchNorm and GELU), unlike any backbone of the task sets."""

    def __init__(self, num_classes: int, width: int = 48, depth: int = 4, patch: int = 3) -> None:
        super().__init__()

        def mixer() -> nn.Module:
            spatial = nn.Sequential(nn.Conv2d(width, width, 5, padding=2, groups=width),
                                    nn.GELU(), nn.BatchNorm2d(width))
            return nn.Sequential(_Residual(spatial), nn.Conv2d(width, width, 1), nn.GELU(),
                                 nn.BatchNorm2d(width))

        self.features = nn.Sequential(
            nn.Conv2d(3, width, patch, patch), nn.GELU(), nn.BatchNorm2d(width),
            *[mixer() for _ in range(depth)], nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class UserViT(nn.Module):
    """A third "user's" model: a small vision transformer (4x4 patches, a learnt position
    embedding, 2 pre-norm encoder layers of width 64 with 4 heads, mean-pooled tokens), with
    LayerNorm and attention where the task sets' backbones have convolutions."""

    def __init__(self, num_classes: int, width: int = 64, depth: int = 2, patch: int = 4,
                 image_size: int = 32) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, width, patch, patch)
        self.position = nn.Parameter(torch.zeros(1, (image_size // patch) ** 2, width))
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = self.encoder(tokens + self.position[:, :tokens.shape[1]])
        return self.head(self.norm(tokens.mean(1)))


class _Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


MODELS: dict[str, tuple[type[nn.Module], str]] = {
    "resnet": (UserResNet, "UserResNet (3 residual blocks, GroupNorm)"),
    "convmixer": (UserConvMixer, "UserConvMixer (3x3 patches, 4 depthwise/pointwise mixing "
                                 "blocks, BatchNorm)"),
    "vit": (UserViT, "UserViT (4x4 patches, 2 transformer layers of width 64, LayerNorm)"),
}
"""The user-written models, by ``--model`` name: none is a backbone of any task set."""


@dataclass
class Run:
    method: str
    seed: int
    test_mAP: float
    recipes: list[str]
    wall_s: float
    """The loop's wall time, from building ``DynamicRecipe`` to the test evaluation."""
    api_s: float
    """The API's own time at the decisions (``Decision.seconds_controller``, summed)."""
    decisions: int


def _controller(method: str, best: str) -> str | Path | envs.Recipe:
    if method == DEFAULT:
        return envs.DEFAULT_RECIPE
    if method == PANEL_BEST:
        return RECIPES[best]
    if method in RECIPES:
        return RECIPES[method]
    if method.startswith(RUN_PREFIX):  # its env settings come from the run's summary.json
        return Path(method.removeprefix(RUN_PREFIX)) / "best"
    return method


def check_controllers(controllers: list[str], task: envs.Task, best: str) -> None:
    """Build a throwaway ``DynamicRecipe`` (a one-weight model, no data) with each controller,
    as ``run_one`` builds it, before any run: a controller that cannot be loaded fails now,
    naming it. Each run builds its own."""
    for c in controllers:
        try:
            DynamicRecipe(nn.Linear(1, 1), num_classes=1, decisions=task.decisions,
                          steps_per_decision=1, train_targets=torch.ones(1, 1),
                          controller=_controller(c, best), batch_size=BATCH_SIZE)
        except MLICError as error:
            raise ConfigError(f"{c}: {error}") from error


def run_one(job: tuple[str, envs.Task, int, str, str]) -> Run:
    """The user's loop on one method and seed (in a worker process, one torch thread)."""
    method, task, seed, best, model_name = job
    data = envs.make(task).data
    generator = torch.Generator().manual_seed(seed)
    model = MODELS[model_name][0](data.train.num_classes)
    init_weights(model, generator)  # the same initial weights for every method at a seed
    train = split_loader(data.train, BATCH_SIZE, seed, drop_last=True)
    val, test = split_loader(data.val, 512), split_loader(data.test, 512)
    start = time.perf_counter()  # the loop's wall time: from the controller's loading on
    dyn = DynamicRecipe(model, num_classes=data.train.num_classes, decisions=task.decisions,
                        steps_per_decision=len(train) * task.epochs_per_decision,
                        train_targets=data.train.labels, controller=_controller(method, best),
                        seed=seed, normalize=channel_stats(data.train.images),
                        batch_size=BATCH_SIZE)  # the budget in epochs, for a -v2 controller
    dyn.start(val)
    while not dyn.done:
        for _ in range(task.epochs_per_decision):
            for images, labels in train:
                images, labels = dyn.augment(images, labels)
                dyn.step(dyn.loss(model(images), labels))
        dyn.decide(val)
    test_map = dyn.evaluate(test).metrics["mAP"]
    return Run(method, seed, test_map, ["+".join(d.recipe.as_dict().values()) for d in dyn.history],
               time.perf_counter() - start, sum(d.seconds_controller for d in dyn.history),
               len(dyn.history))


def _warm_up() -> None:
    torch.set_num_threads(1)


@cli.command
def main(argv: list[str] | None = None) -> Path:
    parser = cli.parser("benchmarks.user_loop", __doc__, example=(
        "python -m benchmarks.user_loop --task-set digits-v1 --seeds 3 --workers 2 "
        "--zoo bc-digits-v1 --panel --calibration benchmarks/results/task_sets_digits_v1.csv "
        "--out benchmarks/results/user_loop_peers.md"))
    what = parser.add_argument_group("what to run")
    methods = parser.add_argument_group("the methods")
    output = parser.add_argument_group("output")
    what.add_argument("--task-set", default="digits-v0",
                      help="whose size the mnist target takes, and whose calibration picks "
                           "the panel-best recipe")
    what.add_argument("--seeds", type=cli.positive_int, default=5,
                      help="runs per method, on seeds 0..N-1 (same weights and batches across "
                           "methods)")
    what.add_argument("--workers", type=cli.positive_int, default=2,
                      help="runs side by side, 1 thread each")
    what.add_argument("--model", choices=sorted(MODELS), default="resnet",
                      help="the user's model (default: resnet)")
    add_controller_flags(methods)
    methods.add_argument("--panel", action="store_true",
                         help="also run every other panel recipe, for the VBS row")
    output.add_argument("--out", type=Path, default=RESULTS,
                        help="the markdown report; its run store goes to OUT_DIR/runs/<out "
                             "stem>.jsonl")
    output.add_argument("--resume", action="store_true",
                        help="reuse the runs stored in OUT_DIR/runs/<out stem>.jsonl")
    what.add_argument("--quick", action="store_true", help="a tiny mnist target, for tests")
    output.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars")
    args = parser.parse_args(argv)
    controllers = chosen_controllers(args)
    best = panel_best(args.calibration)
    (label, task), = targets(envs.task_set(args.task_set), ["mnist"], args.quick).items()
    check_controllers(controllers, task, best)
    statics = [DEFAULT, PANEL_BEST, *PEERS]
    if args.panel:
        statics += [r for r in RECIPES if r not in (next(iter(RECIPES)), best, *PEERS)]
    methods = [*controllers, *statics]
    store = RunStore(args.out.parent / "runs" / f"{args.out.stem}.jsonl",
                     {"task": task.name, "panel_best": best, "batch_size": BATCH_SIZE,
                      "model": MODELS[args.model][0].__name__}, args.resume, USER_LOOP)
    jobs = [(m, task, s, best, args.model) for m in methods for s in range(args.seeds)]
    with tqdm(total=len(jobs), unit="run", desc="user loop", disable=not args.progress) as bar:
        runs = play_stored(jobs, run_one, lambda j: (j[0], j[2]), Run, store, args.workers, bar,
                           _warm_up)
    return write_result(args.out, report(runs, methods, controllers, best, label, task, args, argv))


def report(runs: list[Run], methods: list[str], controllers: list[str], best: str, label: str,
           task: envs.Task, args: Any, argv: list[str] | None) -> str:
    by = {(r.method, r.seed): r for r in runs}
    seeds = range(args.seeds)

    def values(method: str) -> list[float]:
        return [by[(method, s)].test_mAP for s in seeds]

    def share(method: str) -> float:
        return 100 * sum(by[(method, s)].api_s for s in seeds) / sum(by[(method, s)].wall_s for s in seeds)

    statics = [m for m in methods if m not in controllers]
    vbs = max(statics, key=lambda m: statistics.fmean(values(m)))

    def name(method: str) -> str:
        return f"{method} = VBS" if method == vbs and len(statics) > 4 else method

    rows = [[name(m), mean_std(values(m)),
             f"{1000 * statistics.fmean(by[(m, s)].api_s / by[(m, s)].decisions for s in seeds):.1f}",
             f"{share(m):.2f}%", f"{statistics.fmean(by[(m, s)].wall_s for s in seeds):.1f}"]
            for m in methods]
    table = markdown_table(["method", "test mAP", "API ms per decision", "API share of wall",
                            "wall s per run"], rows)
    margins = []
    bases = list(dict.fromkeys([DEFAULT, PANEL_BEST, *PEERS] + ([vbs] if len(statics) > 4 else [])))
    for c in controllers:
        for base in bases:
            diff = [a - b for a, b in zip(values(c), values(base))]
            margins.append([c, base, mean_std(diff), f"{sum(d > 0 for d in diff)}/{len(diff)}",
                            ", ".join(f"{d:+.1f}" for d in diff)])
    margin_table = markdown_table(["controller", "vs", "margin", "wins", "per seed"], margins)
    played = markdown_table(["controller", "seed 0: recipes played, decision by decision"],
                            [[c, " → ".join(by[(c, 0)].recipes)] for c in controllers])
    details = [f"target: {label} ({task.name}, {task.decisions} decisions of "
               f"{task.epochs_per_decision} epoch(s))",
               f"model: {MODELS[args.model][1]}; no task set has it, batch 64, one torch "
               "thread per run, "
               f"{args.workers} runs side by side",
               f"panel-best recipe (the SBS): {best} (best mean over the calibration's train "
               "tasks; choosing it cost the panel's compute)",
               f"tuning-free peers: {', '.join(PEERS)} (fixed recipes through DynamicRecipe)",
               (f"VBS: {vbs}, the best of {len(statics)} static recipes on this target and model "
                "(hindsight; a reference, not a competitor)" if len(statics) > 4 else
                "VBS: not measured (run with --panel)"),
               "same initial weights and batch order for every method at a seed"]
    command = command_line("benchmarks.user_loop", argv if argv is not None else sys.argv[1:])
    return (result_header("A zoo controller in a user's own training loop", command,
                          seeds=args.seeds, details=details)
            + "\nTest mAP (mean ± std over seeds) and the API's own time:\n\n" + table
            + "\n\nPaired margins (controller minus static recipe, same seed):\n\n" + margin_table
            + "\n\nWhat the controllers played:\n\n" + played + "\n")
