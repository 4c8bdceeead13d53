"""The peer comparison's report: per-seed rows, markdown tables and sentences, CSVs and plots.

``benchmarks.peers`` runs the sweep and hands a ``SweepResult`` to ``write_outputs``, which
writes ``peers.md``, ``peers.csv`` (one row per method and seed), ``peers_curves.csv`` (best
val mAP after every epoch spent), ``peers.png`` (those curves, mean ± std over seeds) and
``peers_test_map.png``. Every sentence in ``peers.md`` is computed from the numbers:

* the method with the best mean test mAP and its per-seed margin over every other method;
* where an agent method does not beat a peer (``benchmarks.core.reporting.shortfalls``);
* whether curiosity changed any of mat-dqn's choices;
* what the search peers' chosen recipes score when trained for the whole budget (extra
  compute, reported apart from the equal-compute table).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import envs
from benchmarks.core.common import markdown_table, mean_std, result_header
from benchmarks.core.episodes import describe_choices
from benchmarks.core.plots import plot_bars, plot_curves
from benchmarks.core.reporting import shortfalls, winner_sentence, write_csv
from training.core.run_store import reloaded_note
from benchmarks.expert.search import MethodResult

if TYPE_CHECKING:
    from benchmarks.paper.peers import PeersConfig

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


@dataclass
class SweepResult:
    """What one sweep produced."""

    results: dict[str, list[MethodResult]]
    """Method name -> one result per seed, at equal compute."""
    retrained: dict[str, list[MethodResult]] = field(default_factory=dict)
    """Search method -> its chosen recipe trained for the whole budget, per seed."""
    notes: list[str] = field(default_factory=list)
    """Why methods were skipped."""
    wall_s: float = 0.0
    """Wall time of this invocation (reloaded runs not included)."""
    reloaded: int = 0
    """Runs reloaded from an interrupted sweep (``--resume``)."""


def at_fraction(curve: list[float], budget: int, fraction: float) -> float:
    """Best val mAP after ``ceil(fraction * budget)`` epochs (the last one if fewer were spent)."""
    index = min(len(curve), max(1, math.ceil(fraction * budget))) - 1
    return curve[index]


def run_rows(config: PeersConfig, sweep: SweepResult) -> list[dict[str, Any]]:
    rows = []
    for method, runs in sweep.results.items():
        again = sweep.retrained.get(method, [])
        for seed, r in enumerate(runs):
            rows.append({"method": config.label(method), "seed": seed, "test_mAP": r.test["mAP"],
                         "test_CF1": r.test["CF1"], "test_OF1": r.test["OF1"],
                         **{f"best_val_at_{int(f * 100)}pct": at_fraction(r.curve, config.budget, f)
                            for f in FRACTIONS},
                         "epochs_spent": len(r.curve), "trials": r.trials,
                         "wall_s": round(r.wall_s, 2), "detail": r.detail, "recipe": r.recipe,
                         "retrained_test_mAP": again[seed].test["mAP"] if again else "",
                         "choices": " ".join(r.choices)})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    labels = list(dict.fromkeys(r["method"] for r in rows))
    body = []
    for label in labels:
        mine = [r for r in rows if r["method"] == label]
        body.append([label] + [mean_std([r[k] for r in mine])
                               for k in ("test_mAP", "test_CF1", "test_OF1")]
                    + [mean_std([r[f"best_val_at_{int(f * 100)}pct"] for r in mine])
                       for f in FRACTIONS]
                    + [f"{statistics.fmean(r['epochs_spent'] for r in mine):.1f}",
                       f"{statistics.fmean(r['trials'] for r in mine):.1f}",
                       f"{statistics.fmean(r['wall_s'] for r in mine):.1f}"])
    head = ["method", "test mAP", "test CF1", "test OF1"] + [
        f"best val mAP @{int(f * 100)}% of E" for f in FRACTIONS] + [
        "epochs spent", "trials", "wall (s) per seed"]
    return markdown_table(head, body)


def curiosity_sentence(config: PeersConfig, results: dict[str, list[MethodResult]]) -> str | None:
    """How often curiosity changed mat-dqn's recipe sequence (same seed, same start)."""
    plain, curious = results.get("mat-dqn"), results.get("mat-dqn-curiosity")
    if not plain or not curious:
        return None
    same = sum(a.choices == b.choices for a, b in zip(plain, curious))
    label = config.label("mat-dqn-curiosity")
    if same == 0:
        return f"{label} and mat-dqn played different recipe sequences on every seed."
    return (f"{label} played exactly the same recipe sequence as mat-dqn on {same} of "
            f"{min(len(plain), len(curious))} seeds: within one {config.budget}-decision episode "
            "the curiosity bonus changed none of its choices on those seeds.")


def play_lines(config: PeersConfig, results: dict[str, list[MethodResult]],
               agent_methods: list[str]) -> list[str]:
    """One line per agent method: how it played on each seed."""
    return [f"{config.label(m)}: " + "; ".join(f"seed {s}: {describe_choices(r.choices)}"
                                               for s, r in enumerate(results[m]))
            for m in agent_methods if m in results]


def retrained_section(config: PeersConfig, sweep: SweepResult, scores: dict[str, list[float]],
                      agent_labels: list[str]) -> str:
    """The search peers' chosen recipes trained for the whole budget, apart from the main table."""
    if not sweep.retrained:
        return ""
    body = []
    sentences = []
    best_agent = max(agent_labels, key=lambda n: statistics.fmean(scores[n]), default=None)
    for method, again in sweep.retrained.items():
        found = sweep.results[method]
        retrained = [r.test["mAP"] for r in again]
        body.append([config.label(method), "; ".join(r.recipe for r in found),
                     mean_std([r.test["mAP"] for r in found]), mean_std(retrained)])
        compare = [f"static default {mean_std(scores['static'])}"] if "static" in scores else []
        if best_agent:
            compare.append(f"the best agent method, {best_agent}, {mean_std(scores[best_agent])}")
        sentences.append(f"Retrained for all {config.budget} epochs, the recipes "
                         f"{config.label(method)} chose score {mean_std(retrained)} test mAP"
                         + (f" (vs {' and '.join(compare)} at 1× compute)." if compare else "."))
    trial = min(config.trial_epochs, config.budget)
    intro = (f"At equal compute a search splits the {config.budget} epochs across its trials: "
             f"each trial trains a fresh model for at most {trial} epochs (a PBT member for "
             f"{config.budget // config.population}), so its final model is a short-trained one. "
             "To separate *which recipe* a search finds from *how long its model trains*, each "
             f"chosen recipe is trained again from the same seed for all {config.budget} epochs. "
             "That costs the budget a second time, so these numbers are not at equal compute. "
             "PBT is not retrained: its result is a schedule tied to its members' timeline.")
    table_text = markdown_table(
        ["method", "recipe chosen (per seed)", "test mAP at equal compute",
         f"test mAP, recipe retrained for {config.budget} epochs"], body)
    return (f"\n## Search recipes retrained for the whole budget (2× compute)\n\n{intro}\n\n"
            f"{table_text}\n\n" + "\n".join(f"- {s}" for s in sentences) + "\n")


def write_outputs(config: PeersConfig, sweep: SweepResult, agent_methods: list[str],
                  peer_methods: list[str]) -> Path:
    """Every output file; returns the path of ``peers.md``."""
    out, results = config.out, sweep.results
    rows = run_rows(config, sweep)
    write_csv(out / "peers.csv", rows)
    write_csv(out / "peers_curves.csv", [
        {"method": config.label(m), "seed": seed, "epochs_spent": i + 1, "best_val_mAP": v}
        for m, runs in results.items() for seed, r in enumerate(runs)
        for i, v in enumerate(r.curve)])
    curves = {config.label(m): [r.curve for r in runs] for m, runs in results.items()}
    plot_curves(out / "peers.png", curves,
                title=f"{config.env}: best val mAP vs budget spent (E = {config.budget})",
                xlabel=f"epochs spent (of {config.budget})", ylabel="best val mAP so far")
    scores = {config.label(m): [r.test["mAP"] for r in runs] for m, runs in results.items()}
    plot_bars(out / "peers_test_map.png", scores,
              title=f"{config.env}: test mAP at {config.budget} epochs",
              ylabel="test mAP")
    ours = [config.label(m) for m in results if m in agent_methods]
    peers = [config.label(m) for m in results if m in peer_methods]
    verdicts = [winner_sentence(scores)] if scores else []
    verdicts += (shortfalls(scores, ours, peers)
                 or ["No agent method and peer both ran: nothing to compare."])
    verdicts += [s for s in (curiosity_sentence(config, results),) if s]
    env_config = envs.make_config(config.env, **config.overrides)
    details = [f"budget E = {config.budget} epochs of training per method per seed (batch "
               f"{env_config.batch_size}, backbone {env_config.backbone}, env overrides "
               f"{config.overrides or 'none'})",
               f"search trials of {min(config.trial_epochs, config.budget)} epochs; PBT population "
               f"{config.population}, {config.budget // config.population} epochs each, "
               f"perturbation every {config.interval} epochs",
               f"sweep wall time: {sweep.wall_s / 60:.1f} min"
               + reloaded_note(sweep.reloaded, config.store_path)]
    skipped = "\n".join(f"- **Skipped:** {n}" for n in sweep.notes)
    plays = play_lines(config, results, agent_methods)
    text = (result_header(f"Agents vs peers at equal compute on {config.env}", config.command,
                          seeds=config.seeds, details=details)
            + (f"\n{skipped}\n" if skipped else "") + "\n" + table(rows) + "\n\n"
            + "\n".join(f"- {v}" for v in verdicts)
            + "\n\n![best val mAP vs budget](peers.png)\n![test mAP](peers_test_map.png)\n"
            + retrained_section(config, sweep, scores, ours)
            + ("\n## How the agents played\n\n" + "\n".join(f"- {p}" for p in plays) + "\n"
               if plays else ""))
    (out / "peers.md").write_text(text, encoding="utf-8")
    return out / "peers.md"
