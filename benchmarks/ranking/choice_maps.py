"""What a controller plays on each target, and whether it plays differently on different ones.

``plot_choice_maps`` draws, for one controller, a grid in the style of ``report.png`` (a row
per target, a panel per component, a row per catalogue choice, a column per decision), each
cell shaded by the share of seeds that played that choice at that decision.

``task_dependence`` puts a number on "does it play differently per task": the mean total
variation distance between the component-choice distributions of two episodes, between
targets (same seed, different targets) and within a target (same target, different seeds).
A controller that ignores the task has ``between`` close to ``within``; one that plays one
fixed recipe everywhere has both at 0.
"""
from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from benchmarks.core.episodes import parse_recipe  # noqa: E402

#: ``{target: {seed: recipe names, one per decision}}``
Episodes = Mapping[str, Mapping[int, Sequence[str]]]


def _component_choices(choices: Sequence[str], component: str) -> list[str]:
    return [getattr(parse_recipe(c), component) for c in choices]


def _total_variation(a: Sequence[str], b: Sequence[str]) -> float:
    ca, cb = Counter(a), Counter(b)
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in set(ca) | set(cb))


def _episode_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean over components of the total variation between two episodes' choice shares."""
    return statistics.fmean(_total_variation(_component_choices(a, c), _component_choices(b, c))
                            for c in envs.COMPONENTS)


def task_dependence(episodes: Episodes) -> tuple[float, float]:
    """``(between, within)``: mean episode distance across targets at the same seed, and
    across seeds on the same target (each 0 when there is only one target or one seed)."""
    targets = list(episodes)
    seeds = sorted(set.intersection(*(set(episodes[t]) for t in targets))) if targets else []
    between = [_episode_distance(episodes[a][s], episodes[b][s])
               for a, b in itertools.combinations(targets, 2) for s in seeds]
    within = [_episode_distance(episodes[t][s], episodes[t][r])
              for t in targets for s, r in itertools.combinations(seeds, 2)]
    return (statistics.fmean(between) if between else 0.0,
            statistics.fmean(within) if within else 0.0)


def plot_choice_maps(episodes: Episodes, path: Path, title: str) -> Path:
    """One row per target, one panel per component: the share of seeds playing each choice
    at each decision."""
    targets = list(episodes)
    heights = [len(envs.CATALOGUES[c]) for c in envs.COMPONENTS]
    fig, axes = plt.subplots(len(targets), len(envs.COMPONENTS), squeeze=False,
                             figsize=(4.2 * len(envs.COMPONENTS), 0.3 * max(heights) * len(targets) + 1.2),
                             gridspec_kw={"wspace": 0.55})
    for row, target in enumerate(targets):
        runs = list(episodes[target].values())
        decisions = max(len(r) for r in runs)
        for col, component in enumerate(envs.COMPONENTS):
            names = list(envs.CATALOGUES[component])
            grid = np.zeros((len(names), decisions))
            for run in runs:
                for j, choice in enumerate(_component_choices(run, component)):
                    grid[names.index(choice), j] += 1.0 / len(runs)
            ax = axes[row][col]
            ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest",
                      extent=(0.5, decisions + 0.5, len(names) - 0.5, -0.5))
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names, fontsize=6)
            ax.tick_params(axis="x", labelsize=6)
            if row == 0:
                ax.set_title(component, fontsize=9)
            if col == 0:
                ax.set_ylabel(target.split(":")[0], fontsize=8)
            if row == len(targets) - 1:
                ax.set_xlabel("decision", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
