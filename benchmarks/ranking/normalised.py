"""How much of the SBS-to-expert gap does a 1x controller close? ASlib's normalised score.

    python -m benchmarks.normalised --headroom benchmarks/results/runs/headroom-digits-v1.jsonl \\
        --zero-shot benchmarks/results/runs/zero_shot_digits_v1.jsonl

For each held-out task that both stores ran, and on the seeds both ran, the score of a
controller is ``(controller - SBS) / (expert - SBS)`` on mean test mAP: 0 is the single best
static recipe, 1 the rollout expert (at its k x compute). The expert and the SBS come from
the ``benchmarks.headroom`` store (or the result csv it writes beside its report, e.g. the
committed ``benchmarks/results/headroom.csv``), the controllers from the
``benchmarks.zero_shot`` store; the SBS runs of both are the same runs (same task, recipe and
seed), which is checked.
"""
from __future__ import annotations

import csv
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envs.engine.checks import require_file
from envs.errors import ConfigError
from training.core import cli
from benchmarks.core.common import markdown_table, result_header, write_result
from benchmarks.core.reporting import command_line
from training.core import jsonl
from training.core.jsonl import HEADROOM, PROTOCOL, ZERO_SHOT, StoreKind

RESULTS = Path(__file__).resolve().parents[1] / "results" / "normalised_digits_v1.md"
SBS = "panel:none+sgd+constant+bce"
"""The headroom store's method name of the SBS."""
ZERO_SHOT_SBS = "static panel-best"


CSV_COLUMNS = ("task", "method", "seed", "test_mAP", "episodes", "schedule")
"""The columns of a ``benchmarks.headroom`` result csv that its runs are read from."""
CSV_FIX = "give a headroom run store (.jsonl) or the csv the headroom benchmark writes"
"""What to pass instead of a csv that is not a headroom result csv."""
STORE_KINDS = (HEADROOM, ZERO_SHOT, PROTOCOL)
"""The run stores whose results this module reads (``training.core.jsonl`` kinds)."""
HEADROOM_KINDS = (HEADROOM,)
"""Where a headroom store is asked for (``--headroom``, ``--vbs``)."""


def read_results(path: Path, kinds: Sequence[StoreKind] = STORE_KINDS
                 ) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every run's result in a benchmark run store or a headroom result csv, by ``(task label,
    method, seed)``.

    Reads the stores of ``benchmarks.headroom`` (whose results carry ``label``, e.g.
    ``heldout:1``) and of ``benchmarks.zero_shot`` / ``benchmarks.protocol`` (whose results
    carry ``target``, e.g. ``heldout 1: <task>``, read as ``heldout:1``; the mnist and default
    targets keep their whole label): one JSON line of settings, then one run per line. A run
    stored twice keeps its last line. A ``.csv`` is read as a headroom result csv
    (``read_headroom_csv``), under the store's method names. ``kinds``: the stores accepted;
    anything else raises ``jsonl.StoreFormatError`` naming the file, the kind expected and the
    kind found.
    """
    if path.suffix == ".csv":
        return read_headroom_csv(path)
    out = {}
    for result in jsonl.read(path, kinds).results:
        label = result.get("label") or re.sub(r"^heldout (\d+):.*", r"heldout:\1",
                                              result["target"])
        out[(label, result["method"], int(result["seed"]))] = result
    return out


def read_runs(path: Path, kinds: Sequence[StoreKind] = STORE_KINDS
              ) -> dict[tuple[str, str, int], float]:
    """The test mAP of every run in a benchmark run store or headroom result csv, by ``(task
    label, method, seed)`` (``read_results``)."""
    return {key: float(result["test_mAP"]) for key, result in read_results(path, kinds).items()}


def read_headroom_csv(path: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The runs of a ``benchmarks.headroom`` result csv (``headroom.csv``: one row per task,
    method and seed) under the method names of the headroom store: ``SBS`` is
    ``panel:<its recipe>`` (the recipe its schedule holds throughout), ``default``
    ``panel:default (ASL paper)``; ``VBS-8`` (a copy of each task's best panel recipe's runs)
    is left out; ``expert``, ``expert-sbs``, ``tpe``, ``vbs-c`` and ``pbt`` keep their names."""
    from benchmarks.expert.static_recipes import RECIPES

    def refuse(what: str) -> ConfigError:
        return ConfigError(f"{path} is not a benchmarks.headroom result csv ({what}): {CSV_FIX}")
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise refuse(f"it lacks the column(s) {', '.join(missing)}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:  # binary data, NUL bytes
        raise refuse(f"unreadable as csv text: {error}") from None
    default, names = next(iter(RECIPES)), {r.name: name for name, r in RECIPES.items()}
    sbs = {re.sub(r" ×\d+$", "", r["schedule"]) for r in rows if r["method"] == "SBS"}
    if len(sbs) > 1 or any(" → " in s for s in sbs):
        raise refuse(f"its SBS runs do not hold one recipe throughout: {', '.join(sorted(sbs))}")
    methods = {"default": f"panel:{default}", "VBS-8": None,
               **{"SBS": f"panel:{names.get(s, s)}" for s in sbs}}
    out = {}
    for line, row in enumerate(rows, 2):
        method = methods.get(row["method"], row["method"])
        if method is None:
            continue
        try:
            seed = int(row["seed"])
            out[(row["task"], method, seed)] = {
                "label": row["task"], "method": method, "seed": seed,
                "test_mAP": float(row["test_mAP"]), "episodes": float(row["episodes"] or 1.0)}
        except (TypeError, ValueError) as error:  # a cut row, or text where a number goes
            raise refuse(f"line {line}: {error}") from None
    return out


def read_settings(path: Path, kinds: Sequence[StoreKind] = STORE_KINDS) -> dict[str, Any]:
    """A run store's settings (its first line); for a headroom result csv, its task set, from
    the ``tasks: ... of <task set>`` line of the report beside it (``headroom.md`` for
    ``headroom.csv``; none when there is no report)."""
    if path.suffix != ".csv":
        return jsonl.read(path, kinds).settings
    report = path.with_suffix(".md")
    if not report.is_file():
        return {}
    match = re.search(r"^- tasks: .* of (\S+) \(labels", report.read_text(encoding="utf-8"),
                      re.M)
    return {"task_set": match.group(1)} if match else {}


def scores(headroom: Path, zero_shot: Path) -> tuple[list[list[str]], dict[str, list[float]]]:
    """Table rows (task, seeds, SBS, expert, then each controller's mean and score) and the
    scores per controller."""
    h, z = read_runs(headroom, HEADROOM_KINDS), read_runs(zero_shot, (ZERO_SHOT, PROTOCOL))
    tasks = sorted({k[0] for k in h if k[0].startswith("heldout:") and k[1] == "expert"})
    controllers = sorted({k[1] for k in z if k[1].startswith(("run:", "zoo:"))})
    rows, per_controller = [], {c: [] for c in controllers}
    for task in tasks:
        seeds = sorted(s for (t, m, s) in h if t == task and m == "expert"
                       and (task, SBS, s) in h and (task, ZERO_SHOT_SBS, s) in z)
        if not seeds:
            continue
        sbs = [h[(task, SBS, s)] for s in seeds]
        if sbs != [z[(task, ZERO_SHOT_SBS, s)] for s in seeds]:
            raise ConfigError(f"the SBS runs of {task} differ between the stores: they were "
                              "not made with the same task set and data; give a headroom and a "
                              "zero-shot store of one task set, made by the same code")
        expert = statistics.fmean(h[(task, "expert", s)] for s in seeds)
        gap = expert - statistics.fmean(sbs)
        row = [task, str(len(seeds)), f"{statistics.fmean(sbs):.1f}", f"{expert:.1f}"]
        for c in controllers:
            mean = statistics.fmean(z[(task, c, s)] for s in seeds)
            score = (mean - statistics.fmean(sbs)) / gap if gap else float("nan")
            per_controller[c].append(score)
            row.append(f"{mean:.1f} ({score:+.2f})")
        rows.append(row)
    return rows, per_controller


@cli.command
def main(argv: Sequence[str] | None = None) -> Path:
    p = cli.parser("benchmarks.normalised", __doc__, example=(
        "python -m benchmarks.normalised "
        "--headroom benchmarks/results/runs/headroom-digits-v1.jsonl "
        "--zero-shot benchmarks/results/runs/zero_shot_digits_v1.jsonl"))
    p.add_argument("--headroom", type=Path, required=True,
                   help="a benchmarks.headroom store (.jsonl) or result csv (.csv): the expert "
                        "and the SBS")
    p.add_argument("--zero-shot", type=Path, required=True,
                   help="a benchmarks.zero_shot store (.jsonl): the controllers")
    p.add_argument("--out", type=Path, default=RESULTS, help="the markdown report")
    args = p.parse_args(argv)
    for flag, path, writer in (("--headroom", args.headroom, "benchmarks.headroom"),
                               ("--zero-shot", args.zero_shot, "benchmarks.zero_shot")):
        require_file(path, f"run the benchmark that writes it first (python -m {writer})",
                     flag=flag)
    rows, per_controller = scores(args.headroom, args.zero_shot)
    if not rows:
        raise ConfigError(f"no held-out task with the expert and the SBS in both stores: give "
                          f"a --headroom store whose expert and SBS ({SBS}) ran held-out tasks "
                          f"and a --zero-shot store whose {ZERO_SHOT_SBS!r} ran them on the "
                          "same seeds")
    controllers = list(per_controller)
    rows.append(["**mean score**", "", "", "",
                 *[f"**{statistics.fmean(v):+.2f}**" for v in per_controller.values()]])
    table = markdown_table(["task", "seeds", "SBS", "expert", *[f"{c}: mAP (score)"
                                                              for c in controllers]], rows)
    command = command_line("benchmarks.normalised", argv if argv is not None else sys.argv[1:])
    text = (result_header("Normalised score: the share of the SBS-to-expert gap closed", command,
                          seeds=None, details=[
                              "score = (controller - SBS) / (expert - SBS), mean test mAP on "
                              "the seeds both stores ran; the expert at its k x compute, the "
                              "controllers frozen at 1x",
                              f"stores: {args.headroom} (expert, SBS), {args.zero_shot} "
                              "(controllers)"])
            + "\n" + table + "\n")
    return write_result(args.out, text)
