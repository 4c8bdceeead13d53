"""The targets every ranking row is played on, and how their labels read.

``targets(task_set, kinds)`` gives the targets of ``TARGET_KINDS``: every held-out task of the
task set, ``mlic-mnist`` (real MNIST digits, the cross-dataset target, at the task set's
size) and the full default task. Stores label a target by what it is (``heldout 1: <task>``,
a headroom store's ``heldout:1``); ``short_target`` gives the name the leaderboard's columns
and ``Scores`` use, ``target_order`` their order, ``is_target`` tells a target from a train
task. The protocol, zero-shot, the user loop, the leaderboard and the headroom benchmark all
read them here.
"""
from __future__ import annotations

import re

import envs
from benchmarks.expert.static_recipes import DEFAULT_TASK

TARGET_KINDS = ("heldout", "mnist", "default")
Scores = dict[str, dict[int, float]]
"""Test mAP by target (short name: ``heldout 1``, ``mnist``, ``default``) and seed."""


def targets(task_set: envs.TaskSet, kinds: list[str], quick: bool = False
            ) -> dict[str, str | envs.Task]:
    """``{label: task or env id}`` for the chosen target kinds (``quick``: tasks shrunk by
    ``envs.task_sets.shrink``, and no full default task)."""
    out: dict[str, str | envs.Task] = {}
    if "heldout" in kinds:
        out.update({f"heldout {i + 1}: {t.name}": t for i, t in enumerate(task_set.heldout)})
    if "mnist" in kinds:
        first = task_set.train[0]  # its size, budget and env version
        size = first.generator
        out[f"mlic-mnist-v{first.version} (task size)"] = envs.Task.of(
            "mnist", decisions=first.decisions, epochs_per_decision=first.epochs_per_decision,
            version=first.version, image_size=size.image_size, n_train=size.n_train,
            n_val=size.n_val, n_test=size.n_test)
    if quick:
        return {label: envs.task_sets.shrink(t) for label, t in out.items()}
    if "default" in kinds:
        out[f"{DEFAULT_TASK} (full default)"] = DEFAULT_TASK
    return out


def short_target(label: str) -> str:
    """``heldout 1: <task>`` and ``heldout:1`` -> ``heldout 1``; the mnist and default targets
    -> ``mnist`` / ``default``; anything else as given."""
    match = re.match(r"heldout[ :](\d+)\b", label)
    if match:
        return f"heldout {match.group(1)}"
    if label.startswith("mlic-mnist") or label == "mnist":
        return "mnist"
    if "full default" in label or label == "default":
        return "default"
    return label


def target_order(target: str) -> tuple[int, int, str]:
    """Held-out targets by number, then mnist, then the full default task, then the rest."""
    if target.startswith("heldout "):
        return 0, int(target.split()[1]), ""
    return {"mnist": 1, "default": 2}.get(target, 3), 0, target


def is_target(label: str) -> bool:
    """Whether a headroom run's task is a protocol target (not one of the train tasks)."""
    return not label.startswith("train:")
