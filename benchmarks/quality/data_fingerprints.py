"""SHA-256 of every generated dataset and task, to check that a machine makes the same bytes.

    python -m benchmarks.data_fingerprints                  # the three env ids' default data
    python -m benchmarks.data_fingerprints --task-sets      # plus every task of every task set
    OPENBLAS_CORETYPE=Prescott python -m benchmarks.data_fingerprints   # by hand, one-off

Each line is a dataset (``mlic-digits``, ``mlic-mnist``, ``mlic-shapes`` at their defaults,
or a task by name), the first 16 hex digits of the SHA-256 of its train, val and test images
and labels, and its train pixel sum. Data is generated afresh (no cache), so two machines,
two BLAS kernels or two thread counts that print different lines make different data.
The machine's arithmetic (:mod:`benchmarks.machine`) is printed first.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import envs
from training.core import cli
from benchmarks.core.machine import numerics_lines
from envs.engine.data import DatasetSplits, DigitsConfig, make_digits
from envs.engine.data.digits import GENERATOR_VERSION
from envs.engine.data.splits import GENERATED

SPLITS = ("train", "val", "test")


def fingerprint(splits: DatasetSplits) -> str:
    """SHA-256 (hex) of every split's images and labels, in train, val, test order."""
    digest = hashlib.sha256()
    for split in SPLITS:
        ds = getattr(splits, split)
        digest.update(ds.images.numpy().tobytes())
        digest.update(ds.labels.numpy().tobytes())
    return digest.hexdigest()


def generated(task_sets: bool = True) -> dict[str, Callable[[], DatasetSplits]]:
    """``name -> make its splits`` for each env id's default data, then (with ``task_sets``)
    every task of every task set (``envs.list_task_sets()``), each once (a task on an env id's
    default data, such as ``make run``'s task in ``digits-long-v0``, is that id's line)."""
    out: dict[str, Callable[[], DatasetSplits]] = {
        f"mlic-{source}": (lambda glyphs=glyphs: make_digits(DigitsConfig(), glyphs))
        for source, glyphs in GENERATED.items()}
    if task_sets:
        for name in envs.list_task_sets():
            ts = envs.task_set(name)
            for task in ts.train + ts.heldout:
                if task.generator == DigitsConfig():  # an env id's default data, made above
                    continue
                out.setdefault(task.name, lambda task=task: make_digits(
                    task.generator, GENERATED[task.source]))
    return out


@cli.command(returns_status=True)
def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("benchmarks.data_fingerprints", __doc__, example="""\
python -m benchmarks.data_fingerprints
python -m benchmarks.data_fingerprints --task-sets""")
    parser.add_argument("--task-sets", action="store_true",
                        help="also fingerprint every task of every task set "
                             "(envs.list_task_sets()), not only the three env ids' default data")
    args = parser.parse_args(argv)
    print("\n".join(numerics_lines()))
    print(f"generator version {GENERATOR_VERSION}")
    for name, make in generated(args.task_sets).items():
        splits = make()
        print(f"{name}  {fingerprint(splits)[:16]}  train pixel sum {int(splits.train.images.sum())}",
              flush=True)
    return 0
