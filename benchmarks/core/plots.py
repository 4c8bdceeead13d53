"""PNG plots of the ablation and peer sweeps (matplotlib, Agg backend: no display needed).

Every plot shows the mean over seeds, with a band of ± one (sample) std where there is
more than one seed.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def mean_band(runs: Sequence[Sequence[float]]) -> tuple[list[int], list[float], list[float]]:
    """x = 1..longest run; mean and std over the runs that reach each x."""
    length = max((len(r) for r in runs), default=0)
    xs, means, stds = [], [], []
    for i in range(length):
        values = [r[i] for r in runs if len(r) > i]
        xs.append(i + 1)
        means.append(statistics.fmean(values))
        stds.append(statistics.stdev(values) if len(values) > 1 else 0.0)
    return xs, means, stds


def plot_curves(path: Path, curves: Mapping[str, Sequence[Sequence[float]]], *, title: str,
                xlabel: str, ylabel: str, hline: float | None = None,
                hline_label: str = "", x_at: Sequence[float] | None = None) -> Path:
    """One line per name (mean over its runs, ± std band); ``hline`` draws a reference level.

    ``x_at`` places the i-th point of every run at ``x_at[i]`` on a log-2 axis ticked there
    (e.g. budgets in epochs); by default point i is at x = i + 1.
    """
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, runs in curves.items():
        xs, means, stds = mean_band(runs)
        if not xs:
            continue
        if x_at is not None:
            xs = [x_at[i - 1] for i in xs]
        line, = ax.plot(xs, means, marker="o", markersize=3, label=name)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)],
                        [m + s for m, s in zip(means, stds)],
                        color=line.get_color(), alpha=0.15, linewidth=0)
    if hline is not None:
        ax.axhline(hline, color="black", linestyle="--", linewidth=1, label=hline_label or None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if x_at is not None:
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(x_at), [f"{x:g}" for x in x_at])
        ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_bars(path: Path, values: Mapping[str, Sequence[float]], *, title: str,
              ylabel: str) -> Path:
    """One bar per name: mean with a ± std error bar."""
    names = list(values)
    means = [statistics.fmean(values[n]) for n in names]
    stds = [statistics.stdev(values[n]) if len(values[n]) > 1 else 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4.5))
    ax.bar(range(len(names)), means, yerr=stds, capsize=3, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    low = min((m - s for m, s in zip(means, stds)), default=0.0)
    high = max((m + s for m, s in zip(means, stds)), default=1.0)
    pad = max(1.0, 0.1 * (high - low))
    ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
