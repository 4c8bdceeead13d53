"""``report.png``: the val mAP curve and a heat map of each agent's choices over training.

The heat map follows Figure 3 of the MAT-Agent paper: one panel per agent, a row per
catalogue choice, a column per decision, filled where that choice was active.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def write_report(steps: Sequence[dict[str, Any]], catalogues: dict[str, Sequence[str]],
                 path: Path, title: str) -> None:
    """Plot the run's ``steps.jsonl`` records to ``path``."""
    components = list(catalogues)
    heights = [2.5] + [max(1.0, 0.28 * len(catalogues[c])) for c in components]
    fig, axes = plt.subplots(len(heights), 1, figsize=(9, sum(heights) + 0.8), sharex=True,
                             gridspec_kw={"height_ratios": heights})
    x = np.arange(1, len(steps) + 1)
    val = [s["val"]["mAP"] if s["val"]["mAP"] is not None else np.nan for s in steps]
    axes[0].plot(x, val, color="tab:blue", label="val mAP")
    for boundary in [i + 1 for i, s in enumerate(steps[:-1]) if s["episode"] != steps[i + 1]["episode"]]:
        axes[0].axvline(boundary + 0.5, color="grey", lw=0.8, ls="--")
    tests = [(i + 1, s["test"]["mAP"]) for i, s in enumerate(steps) if s.get("test")]
    if tests:
        axes[0].scatter(*zip(*tests), color="tab:red", zorder=3, label="test mAP (episode end)")
    axes[0].set_ylabel("mAP")
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title(title)
    for ax, component in zip(axes[1:], components):
        names = list(catalogues[component])
        grid = np.zeros((len(names), len(steps)))
        for j, s in enumerate(steps):
            grid[names.index(s["config"][component]), j] = 1.0
        ax.imshow(grid, aspect="auto", cmap="Blues", interpolation="nearest",
                  extent=(0.5, len(steps) + 0.5, len(names) - 0.5, -0.5))
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.set_ylabel(component, rotation=0, ha="right", va="center")
    axes[-1].set_xlabel("decision")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
