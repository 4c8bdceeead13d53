"""Every shell command in the docs' ```bash blocks, run as a user would type it.

The docs are README.md and every page under docs/ (``DOC_PAGES``). Each ``python -m`` line of
their ```bash blocks (continuations joined, comments dropped) has one entry in ``CASES``
saying how it is checked, and the docs' commands and ``CASES`` must be the same set, so a
command moved from one page to another stays checked:

* ``run``: it runs to completion as typed, in a fresh working directory (so its ``runs/...``
  stay out of the checkout), with the tiny-env flags of ``TINY.flags()`` added where its own
  flags allow; a placeholder (``zoo:<name>``, ``DIR``) is filled in with something real.
* ``fails clearly``: it needs what a test cannot have (Pascal VOC on disk, the outputs of a
  run the docs leave to the reader, the user's own data); it must exit with 2 and a
  one-paragraph error naming what is missing, without a traceback. ``reason`` says why it
  cannot run.
* ``parses``: it runs too long for a test (a 200-episode meta-training, a 5-seed sweep); its
  arguments must parse to the settings it says. ``reason`` says why it cannot run.

The other lines (``make``, ``pip install``, ``python examples/...``) are in ``NOT_PYTHON``,
each with where it is checked. A command that writes into ``benchmarks/results/`` (``--out``
there, or a benchmark whose default output is there: ``DEFAULT_OUTPUTS``) must stand in a
section whose text says that it regenerates (or rewrites) that file.

The commands run in-process (``main(argv)``: tokens split and ``~`` expanded as a shell
would); one of them also runs through ``python -m`` in a subprocess, the way it is typed.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from agents import zoo
from benchmarks.paper import ablations, peers
from benchmarks.expert import budgets, headroom
from conftest import TINY
from doc_pages import DOC_PAGES, sections
from training import imitate, meta_train, publish, run_marl
from training.imitation import demonstrations
from training.core.logs import read_steps
from training.run.loop import run
from training.meta.rounds import MetaConfig

ROOT = Path(__file__).resolve().parents[1]
MAIN: dict[str, Callable[[list[str]], int]] = {
    "training.run_marl": run_marl.main, "training.meta_train": meta_train.main,
    "training.publish": publish.main, "training.imitate": imitate.main,
    "benchmarks.ablations": ablations.main}
"""The entry point behind each ``python -m`` module the docs run (or make fail)."""
MAKE_TARGETS = ("make run", "make test", "make docs")
TORCH_FIRST = "pip install torch==2.13.0"
PIP_EXTRAS = 'pip install -c constraints.txt -e ".[test,protocol,minari]"'
OFFLINE_EXAMPLE = "python examples/offline_dqn.py --out runs/offline-dqn"
NOT_PYTHON = {"make run": "its recipe is the first run_marl command, checked here; the target "
                          "is checked to exist in the Makefile",
              "make test": "it runs this test suite; the target is checked to exist",
              "make docs": "tests/test_docs_examples.py builds the docs the same way; the "
                           "target is checked to exist",
              TORCH_FIRST: "test_pip_commands_match_the_makefile_and_pyproject: the Makefile's "
                           "torch pin",
              PIP_EXTRAS: "test_pip_commands_match_the_makefile_and_pyproject: the extras "
                          "exist in pyproject.toml and the lock file exists",
              OFFLINE_EXAMPLE: "tests/test_surrogate.py runs its main() on a tiny Minari "
                               "dataset"}
"""Commands in the bash blocks that are not ``python -m`` lines, and where they are checked."""
META = ("python -m training.meta_train --algo mat-dqn --task-set digits-v0 --episodes 200 "
        "--workers 2 --seed 0 --observation relative --reward-kind best_gain --out runs/meta")
"""The meta-training command; the docs' ``meta_train ... --flag`` lines add to it."""


ROLLOUT = "python -m training.run_marl --algo rollout --options '{\"candidates\": 6}'"
"""The rollout expert's command (the README's second one adds --workers 2)."""


HEADROOM = ("python -m benchmarks.headroom --tasks heldout:1,heldout:2,heldout:3,heldout:4,mnist,"
            "train:3,train:7,train:8,train:12 --sbs none+sgd+constant+bce --seeds 3 --workers 2")
HEADROOM_V0 = ("python -m benchmarks.headroom --task-set digits-v0 --tasks heldout:1,heldout:3,"
               "heldout:4,mnist --sbs none+sgd+constant+bce --seeds 3 --workers 2 --out "
               "benchmarks/results/headroom_digits_v0.md")
HEADROOM_LONG_V1 = ("python -m benchmarks.headroom --task-set digits-long-v1 --tasks heldout:1,"
                    "heldout:2,heldout:3,heldout:4,heldout:5 --seeds 3 --methods panel,expert "
                    "--sbs crop+sgd+constant+bce --halving 0:1,1:4 --workers 2 --resume --out "
                    "benchmarks/results/headroom_long_v1.md")
HEADROOM_LONG_V1_SEARCH = (
    "python -m benchmarks.headroom --task-set digits-long-v1 --tasks heldout:1,heldout:2,"
    "heldout:3,heldout:4,heldout:5 --seeds 1 --methods panel,expert,vbs-c,tpe --sbs "
    "crop+sgd+constant+bce --halving 0:1,1:4 --workers 2 --resume --no-progress --out "
    "benchmarks/results/headroom_long_v1_search.md")
DEMOS_LONG_V1 = (
    "python -m training.imitate demos --task-set digits-long-v1 --seeds 2 --halving 0:1,1:0 "
    "--jumps none+sgd+constant+bce,crop+adamw+cosine+asl,crop+sgd+constant+bce --start-from "
    "benchmarks/results/task_sets_digits_long_v1.csv --reuse --workers 2 --resume --out "
    "runs/demos-long-v1")
DEMOS_LONG_V1_STORE = "benchmarks/results/runs/demonstrations-digits-long-v1.jsonl"
BUDGETS = ("python -m benchmarks.budgets --budgets 6,12,25,50 --controllers "
           "zoo:bc-digits-v1,zoo:recommended --seeds 1 --workers 1 --resume --no-progress --out "
           "benchmarks/results/budgets.md")
HEADROOM_DRIFT = ("python -m benchmarks.headroom --task-set digits-drift-v0 --tasks heldout:1,"
                  "heldout:2,heldout:3 --sbs none+sgd+constant+bce --seeds 3 --workers 2 "
                  "--methods panel,expert,vbs-c --out benchmarks/results/headroom_drift.md")
ZERO_SHOT_V1 = ("python -m benchmarks.zero_shot --task-set digits-v1 --seeds 5 --workers 2 "
                "--targets heldout,mnist --zoo mat-dqn-rnd-digits-v0,mat-dqn-digits-v0,"
                "bandit-digits-v0 --runs runs/imitate-bc,runs/imitate-q,runs/imitate-bc-dagger,"
                "runs/selector --calibration benchmarks/results/task_sets_digits_v1.csv --no-pbt "
                "--out benchmarks/results/zero_shot_digits_v1.md")


PBT_STORE = "benchmarks/results/runs/zero_shot_pbt_digits_v1.jsonl"
"""The zero-shot store whose row (Ray Tune PBT) the committed leaderboard holds: every
protocol command names it with ``--from``, or it would drop that row."""
PROTOCOL_MINE = ("python -m benchmarks.protocol --algo examples.protocol_controller:MyController "
                 f"--targets heldout,mnist --from {PBT_STORE}")
PROTOCOL_SB3 = ("python -m benchmarks.protocol --algo sb3:PPO --meta-episodes 100 "
                f"--targets heldout,mnist --from {PBT_STORE}")
PROTOCOL_OFFLINE = ("python -m benchmarks.protocol --algo run:runs/offline-dqn "
                    f"--targets heldout,mnist --from {PBT_STORE}")
LEADERBOARD = f"python -m benchmarks.protocol --leaderboard --from {PBT_STORE}"
CALIBRATION_V0 = "python -m benchmarks.task_sets --task-set digits-v0 --seeds 3 --workers 2"
CALIBRATION_V1 = ("python -m benchmarks.task_sets --task-set digits-v1 --seeds 3 --workers 2 "
                  "--out benchmarks/results/task_sets_digits_v1.md")
ABLATIONS_VOC = ("python -m benchmarks.ablations --env mlic-voc --data-root "
                 "~/data/VOCdevkit/VOC2007 --seeds 3 --out runs/ablations-voc")
PAPER_FLAGS = ("--env mlic-voc --data-root ~/data/VOCdevkit --backbone timm:resnet101 --weights "
               "resnet101.pth --image-size 448 --device cuda")
"""MAT-Agent's setting: a pretrained ResNet-101 at 448 px on a GPU, on Pascal VOC 2007."""
PAPER_RUN = f"python -m training.run_marl {PAPER_FLAGS}"
PAPER_ABLATIONS = f"python -m benchmarks.ablations {PAPER_FLAGS} --seeds 3 --out runs/ablations-voc"
PAPER_NEEDS = "needs timm, a GPU, Pascal VOC 2007 on disk and a ResNet-101 state_dict"
COLLECT = "python -m benchmarks.dataset collect --task-set digits-v1 --seeds 3 --workers 2"
EXPORT = "python -m benchmarks.dataset export"
EXPORT_V0 = "python -m benchmarks.dataset export --dataset-id mlic/digits-v1-mixed-v0"
SURROGATE_FIT = "python -m benchmarks.surrogate fit"
SURROGATE_FIDELITY = (
    "python -m benchmarks.surrogate fidelity "
    "--real benchmarks/results/runs/protocol-digits-v1.jsonl "
    "--methods 'static default,static panel-best,random online,bandit online,mat-dqn online,"
    "ma2ml online,ma2ml-lite online,examples.protocol_controller:MyController,zoo:bc-digits-v1,"
    "zoo:mat-dqn-rnd-digits-v0,zoo:mat-dqn-digits-v0,zoo:bandit-digits-v0,run:runs/imitate-q,"
    "run:runs/selector,run:runs/finetune-bc,run:runs/offline-dqn,run:runs/surrogate-mat-dqn'")
DEFAULT_TASK = ("python -m benchmarks.headroom --tasks default --methods panel,vbs-c --sbs "
                "none+sgd+constant+bce --seeds 2 --workers 2 --out benchmarks/results/default_task.md")
TARGETS = ("python -m benchmarks.algoperf targets --tasks default --reference "
           "benchmarks/results/runs/default_task-digits-v1.jsonl")
SCORE = ("python -m benchmarks.algoperf score --tasks default --headroom "
         "benchmarks/results/runs/default_task-digits-v1.jsonl --controllers "
         "zoo:bc-digits-v1,zoo:recommended,zoo:mat-dqn-rnd-digits-v0 --seeds 2 --out "
         "benchmarks/results/algoperf_default.md")
SF_EVAL = ("python -m benchmarks.static_recipes --env mlic-digits --recipes "
           "crop+sf_adamw+constant+asl --schedule-free-eval average --seeds 2 --out "
           "benchmarks/results/schedule_free_eval.md")
HEADROOM_CURVES = ("python -m benchmarks.headroom --tasks heldout:1,heldout:2,heldout:3,heldout:4 "
                   "--methods panel,vbs-c --sbs none+sgd+constant+bce --seeds 3 --workers 2 "
                   "--out benchmarks/results/headroom_curves.md")
TARGETS_HELDOUT = ("python -m benchmarks.algoperf targets --tasks heldout:1,heldout:2,heldout:3,"
                   "heldout:4 --reference benchmarks/results/runs/headroom_curves-digits-v1.jsonl")
SCORE_ALL = ("python -m benchmarks.algoperf score --tasks heldout:1,heldout:2,heldout:3,heldout:4,"
             "default --headroom benchmarks/results/runs/headroom_curves-digits-v1.jsonl "
             "benchmarks/results/runs/default_task-digits-v1.jsonl --controllers "
             "zoo:bc-digits-v1,zoo:recommended --seeds 2 --out benchmarks/results/algoperf.md")
USER_LOOP_PEERS = ("python -m benchmarks.user_loop --task-set digits-v1 --seeds 3 --workers 2 --zoo "
                   "bc-digits-v1 --panel --calibration benchmarks/results/task_sets_digits_v1.csv "
                   "--out benchmarks/results/user_loop_peers.md")
TARGETS_LONG = ("python -m benchmarks.algoperf targets --task-set digits-long-v1 --tasks "
                "heldout:1,heldout:2,heldout:3,heldout:4,heldout:5 --reference "
                "benchmarks/results/runs/headroom_long_v1-digits-long-v1.jsonl --targets "
                "benchmarks/results/algoperf_targets_long_v1.json")
SCORE_LONG = ("python -m benchmarks.algoperf score --task-set digits-long-v1 --tasks "
              "heldout:1,heldout:2,heldout:3,heldout:4,heldout:5 --headroom "
              "benchmarks/results/runs/headroom_long_v1-digits-long-v1.jsonl --targets "
              "benchmarks/results/algoperf_targets_long_v1.json --sbs crop+sgd+constant+bce "
              "--controllers zoo:recommended --seeds 3 --out "
              "benchmarks/results/algoperf_long_v1.md")
USER_LOOP_LONG = ("python -m benchmarks.user_loop --model {model} --task-set digits-long-v1 "
                  "--seeds 3 --workers 2 --zoo recommended,bc-digits-v1 --calibration "
                  "benchmarks/results/task_sets_digits_long_v1.csv --resume --no-progress --panel "
                  "--out benchmarks/results/user_loop_long_{model}.md")
USER_LOOP_LONG_RESNET, USER_LOOP_LONG_CM, USER_LOOP_LONG_VIT = (
    USER_LOOP_LONG.format(model=m) for m in ("resnet", "convmixer", "vit"))
USER_LOOP_PEERS_CM = ("python -m benchmarks.user_loop --task-set digits-v1 --seeds 3 --workers 2 "
                      "--zoo bc-digits-v1 --panel --model convmixer --calibration "
                      "benchmarks/results/task_sets_digits_v1.csv --out "
                      "benchmarks/results/user_loop_peers_convmixer.md")
CALIBRATION_LONG = ("python -m benchmarks.task_sets --task-set digits-long-v0 --seeds 2 "
                    "--third-seed-within 1.0 --workers 2 --resume "
                    "--out benchmarks/results/task_sets_digits_long_v0.md")
CALIBRATION_LONG_V1 = CALIBRATION_LONG.replace("long-v0", "long-v1").replace("long_v0", "long_v1")
FIRST_DECISIONS = ('python -m benchmarks.first_decisions --from '
                   'benchmarks/results/runs/protocol-digits-v1.jsonl --method zoo:bc-digits-v1 '
                   '--targets "heldout 1,heldout 2,heldout 3,heldout 4,mnist" --workers 1 '
                   '--resume --out benchmarks/results/first_decisions_bc_digits_v1.md')
SURROGATE_TRAIN = ("python -m benchmarks.surrogate train --algo mat-dqn --episodes 2000 "
                   "--out runs/surrogate-mat-dqn")


def _joined(block: str) -> list[str]:
    """A bash block's commands: continuations joined, comments dropped (quotes kept)."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        command = " ".join(re.sub(r"(^|\s)#.*$", "", line).split())
        if command:
            commands.append(command)
    return commands


@dataclasses.dataclass(frozen=True)
class DocCommand:
    """One command of a docs page, with the text of the section it stands in."""

    page: Path
    section: str
    """The section's heading."""
    prose: str
    """The section's text without its code blocks: what a reader reads around the command."""
    command: str


def doc_commands() -> list[DocCommand]:
    """Every command of every ```bash block of ``DOC_PAGES``, in page order."""
    found = []
    for page in DOC_PAGES:
        for heading, body in sections(page.read_text(encoding="utf-8")):
            prose = re.sub(r"```.*?```", "", body, flags=re.S)
            for block in re.findall(r"```bash\n(.*?)```", body, re.S):
                found += [DocCommand(page, heading, prose, c) for c in _joined(block)]
    return found


def readme_commands() -> list[str]:
    """The commands of every docs page, as typed (kept under its old name)."""
    return [c.command for c in doc_commands()]


@dataclasses.dataclass(frozen=True)
class Case:
    """How one README command is checked (see the module docstring)."""

    how: str
    """``run``, ``fails clearly`` or ``parses``."""
    reason: str = ""
    """Why it cannot run in a test (for ``fails clearly`` and ``parses``)."""
    tiny: bool = True
    """Add ``TINY.flags()`` (``run``)."""
    expect: str = ""
    """A fragment of the error (``fails clearly``)."""


CASES: dict[str, Case] = {
    LEADERBOARD: Case("parses", "it rewrites the committed leaderboard (the docs say so); "
                                "tests/test_protocol.py rebuilds a leaderboard from stores"),
    CALIBRATION_V0: Case("parses", "16 tasks x 8 recipes x 3 seeds (about 40 minutes), and would "
                                   "rewrite its result"),
    CALIBRATION_V1: Case("parses", "16 tasks x 8 recipes x 3 seeds (about 40 minutes), and would "
                                   "rewrite its result"),
    ABLATIONS_VOC: Case("fails clearly", "needs Pascal VOC 2007 on disk",
                        expect="dataset 'voc' not found"),
    PAPER_RUN: Case("fails clearly", PAPER_NEEDS,
                    expect="--weights resnet101.pth does not exist"),
    PAPER_ABLATIONS: Case("fails clearly", PAPER_NEEDS,
                          expect="--weights resnet101.pth does not exist"),
    CALIBRATION_LONG: Case("parses", "15 tasks x 11 recipes x 2 seeds of up to 100,000 "
                                     "image-epochs each (about 2 hours on 2 cores)"),
    CALIBRATION_LONG_V1: Case("parses", "15 tasks x 11 recipes x 2 seeds, of which 9 tasks "
                                        "carry over from digits-long-v0 (about 40 minutes on "
                                        "2 cores)"),
    FIRST_DECISIONS: Case("parses", "replays 5 MNIST runs of 20 epochs (about 2 minutes), and "
                                    "would rewrite the committed result"),
    "python -m training.run_marl --env mlic-digits": Case("run"),
    "python -m training.run_marl --env mlic-voc --data-root ~/data/VOCdevkit/VOC2007": Case(
        "fails clearly", "needs Pascal VOC 2007 on disk", expect="dataset 'voc' not found"),
    "python -m training.run_marl --algo bandit --agents aug,opt --curiosity rnd --seed 3":
        Case("run"),
    "python -m training.run_marl --config run.yaml --seed 4": Case("run", tiny=False),
    "python -m training.run_marl --algo static --options "
    "'{\"choices\": {\"aug\": \"crop\", \"lrs\": \"cosine\"}}'": Case("run"),
    "python -m training.run_marl --out runs/x --resume": Case("run"),
    ROLLOUT: Case("run"),
    ROLLOUT + " --workers 2": Case("run"),
    "python -m training.run_marl --env mlic-voc --load-agents runs/coco/agents --freeze": Case(
        "fails clearly", "needs Pascal VOC and an earlier run's agents in runs/coco",
        expect="--load-agents runs/coco/agents does not exist"),
    META: Case("parses", "a 200-episode meta-training on 2 Ray workers (about 20 minutes)"),
    "python -m training.meta_train ... --address auto": Case(
        "parses", "joins a running Ray cluster (and trains for 200 episodes)"),
    "python -m training.meta_train ... --resume": Case(
        "parses", "continues a 200-episode meta-training"),
    "python -m training.publish runs/meta --name my-controller": Case(
        "fails clearly", "needs a finished meta-training run in runs/meta, and would publish "
        "into the package's own zoo", expect="runs/meta does not exist"),
    "python -m training.run_marl --env mlic-digits --load-agents zoo:<name> --freeze":
        Case("run"),
    "python -m training.publish RUN_DIR --name <name>": Case(
        "fails clearly", "RUN_DIR stands for a meta-training run, and publishing writes into "
        "the package's own zoo", expect="RUN_DIR does not exist"),
    "python -m training.run_marl --env mlic-csv --data-root DIR --load-agents "
    "zoo:mat-dqn-rnd-digits-v0 --freeze": Case("run"),
    "python -m benchmarks.ablations --env mlic-digits --seeds 5 --out benchmarks/results": Case(
        "parses", "5 seeds of 8 variants for 25 epochs (about 25 minutes), and would rewrite "
        "the committed results"),
    "python -m benchmarks.peers --env mlic-digits --budget-epochs 25 --seeds 5 --out "
    "benchmarks/results": Case("parses", "8 methods on 5 seeds for 25 epochs each (about 35 "
                                         "minutes), and would rewrite the committed results"),
    HEADROOM: Case("parses", "the expert and the searches on 7 tasks x 3 seeds (about 40 "
                             "minutes on 2 cores), and would rewrite the committed results"),
    HEADROOM_V0: Case("parses", "the expert and the searches on 4 digits-v0 targets x 3 seeds "
                                "(about an hour on 2 cores)"),
    "python -m training.imitate demos --task-set digits-v1 --seeds 2 --workers 2 --out runs/demos":
        Case("parses", "the expert on 12 tasks x 2 seeds (about 30 minutes on 2 cores)"),
    "python -m training.imitate fit --learner q --demos runs/demos --out runs/imitate-q": Case(
        "fails clearly", "needs the demonstrations the command before records",
        expect="no demonstrations at runs/demos"),
    "python -m training.imitate select --demos runs/demos --out runs/selector": Case(
        "fails clearly", "needs the demonstrations the demos command records",
        expect="no demonstrations at runs/demos"),
    "python -m training.meta_train --algo mat-dqn --task-set digits-v1 --observation relative "
    "--init runs/imitate-q/best --out runs/finetune-q": Case(
        "fails clearly", "needs the learner the fit command trains",
        expect="--init runs/imitate-q/best: runs/imitate-q/best holds no saved controller"),
    ZERO_SHOT_V1: Case("parses", "11 methods on 5 targets x 5 seeds (about 10 minutes), with "
                                 "the learners' runs/ that the imitate commands make"),
    HEADROOM_DRIFT: Case("parses", "the expert and the VBS-C on 3 drift tasks x 3 seeds (about "
                                   "40 minutes on 2 cores)"),
    HEADROOM_LONG_V1: Case("parses", "the panel and the cheap expert on 5 long targets x 3 seeds "
                                     "(about 2 hours on 2 cores without its store)"),
    HEADROOM_LONG_V1_SEARCH: Case("parses", "VBS-C and TPE at the expert's compute on 5 long "
                                            "targets, seed 0 (about 3 hours on 2 cores without "
                                            "its store)"),
    DEMOS_LONG_V1: Case("parses", "the expert on 10 long tasks x 2 seeds (about 2.4 hours on 2 "
                                  "cores); its recording is committed"),
    BUDGETS: Case("parses", "8 methods at 4 budgets on the default data (about 30 minutes on "
                            "one core without its store)"),
    PROTOCOL_MINE: Case("parses", "25 runs on 5 targets (about 2 minutes), and would rewrite the "
                                  "committed leaderboard; tests/test_protocol.py runs it tiny"),
    PROTOCOL_SB3: Case("parses", "100 PPO training episodes, then 25 runs (about 7 minutes)"),
    PROTOCOL_OFFLINE: Case("parses", "needs the offline example's run, and 25 runs"),
    COLLECT: Case("parses", "624 real episodes, 48 of them the expert's (about an hour on 2 "
                            "cores)"),
    EXPORT: Case("parses", "needs the episodes collect stores; tests/test_surrogate.py exports "
                           "a tiny store"),
    EXPORT_V0: Case("parses", "needs the episodes collect stores; tests/test_surrogate.py "
                              "exports a tiny store by behaviour"),
    SURROGATE_FIT: Case("parses", "needs the exported dataset, and would overwrite the shipped "
                                  "fit; tests/test_surrogate.py fits a tiny one"),
    SURROGATE_FIDELITY: Case("parses", "needs the dataset and the zero-shot and protocol stores "
                                       "of the leaderboard's runs"),
    SURROGATE_TRAIN: Case("parses", "2000 surrogate episodes, then the protocol's 20 real runs "
                                    "(about 4 minutes); tests/test_surrogate.py trains 4"),
    DEFAULT_TASK: Case("parses", "11 recipes and an 11-episode search on the full default task x "
                                 "2 seeds (about 50 minutes), and would rewrite its result"),
    TARGETS: Case("parses", "the reference recipe on 3 seeds of the full default task; the "
                            "target is committed and kept (tests/test_algoperf.py)"),
    SCORE: Case("parses", "3 controllers x 2 seeds of the full default task, and would rewrite "
                          "its result; tests/test_algoperf.py scores a tiny store"),
    SF_EVAL: Case("parses", "2 episodes of the full default task, and would rewrite its result"),
    HEADROOM_CURVES: Case("parses", "11 recipes and a static search on 4 targets x 3 seeds "
                                    "(about 25 minutes), and would rewrite its result"),
    TARGETS_HELDOUT: Case("parses", "the targets are committed and kept (tests/test_algoperf.py)"),
    SCORE_ALL: Case("parses", "2 controllers on 5 targets x 2 seeds, and would rewrite its result; "
                              "tests/test_algoperf.py rebuilds the default task's table"),
    TARGETS_LONG: Case("parses", "the targets are committed and kept (tests/test_algoperf.py)"),
    SCORE_LONG: Case("parses", "a controller on 5 long targets x 3 seeds (about 5 minutes), and "
                               "would rewrite its result"),
    USER_LOOP_LONG_RESNET: Case("parses", "13 methods x 3 seeds of 25 epochs (about 60 minutes),"
                                          " and would rewrite its result"),
    USER_LOOP_LONG_CM: Case("parses", "13 methods x 3 seeds of 25 epochs (about 25 minutes), and "
                                      "would rewrite its result"),
    USER_LOOP_LONG_VIT: Case("parses", "13 methods x 3 seeds of 25 epochs (about 25 minutes), and "
                                       "would rewrite its result"),
    USER_LOOP_PEERS: Case("parses", "12 methods x 3 seeds (about 25 minutes), and would rewrite "
                                    "its result; tests/test_benchmarks.py runs the loop tiny"),
    USER_LOOP_PEERS_CM: Case("parses", "12 methods x 3 seeds (about 10 minutes), and would "
                                       "rewrite its result"),
}




RESULTS = "benchmarks/results"
DEFAULT_OUTPUTS: dict[tuple[str, str | None], str | None] = {
    ("benchmarks.headroom", None): "benchmarks/results/headroom.md",
    ("benchmarks.task_sets", None): "benchmarks/results/task_sets.md",
    ("benchmarks.protocol", None): "benchmarks/results/leaderboard.md",
    ("benchmarks.dataset", "collect"): "benchmarks/results/runs/transitions-digits-v1.jsonl",
    ("benchmarks.dataset", "export"): None,  # Minari's own folder
    ("benchmarks.surrogate", "fit"): None,  # envs/surrogate/weights/ (the docs say so)
    ("benchmarks.surrogate", "fidelity"): "benchmarks/results/surrogate.md",
    ("benchmarks.surrogate", "train"): "benchmarks/results/leaderboard.md",  # its protocol run
    ("benchmarks.algoperf", "targets"): "benchmarks/results/algoperf_targets.json",
}
"""Where a ``benchmarks.*`` command without ``--out`` writes (under ``benchmarks/results/``,
or None: elsewhere), by (module, subcommand); checked against the modules below."""
SAYS_IT_REWRITES = re.compile(r"regenerat|rewrit", re.I)


def results_written(command: str) -> list[str]:
    """The paths under ``benchmarks/results/`` that ``command`` writes."""
    if not command.startswith("python -m benchmarks."):
        return []  # make, pip, the examples and the training commands write to runs/ (their
        # --out), .venv or the zoo
    module, args = argv_of(command)
    flag = "--targets" if (module, args[:1]) == ("benchmarks.algoperf", ["targets"]) else "--out"
    out = args[args.index(flag) + 1] if flag in args else None
    if out is None:
        sub = args[0] if args and not args[0].startswith("-") else None
        assert (module, sub) in DEFAULT_OUTPUTS, (
            f"{command!r}: add where it writes to DEFAULT_OUTPUTS")
        out = DEFAULT_OUTPUTS[module, sub]
    return [out] if out is not None and out.startswith(RESULTS) else []


def test_every_doc_command_is_checked_here():
    commands = readme_commands()
    python = [c for c in commands if c.startswith("python -m ")]
    assert sorted(set(commands) - set(python)) == sorted(NOT_PYTHON)
    assert sorted(set(python)) == sorted(CASES), "a docs command without a check, or a " \
                                                 "check for a command the docs dropped"
    assert all(case.reason for case in CASES.values() if case.how != "run")


def test_the_docs_pages_are_collected():
    pages = {c.page.relative_to(ROOT).as_posix() for c in doc_commands()}
    assert {"README.md", "docs/getting-started.md", "docs/guides/protocol.md"} <= pages


def test_commands_that_write_into_the_results_say_they_regenerate_them():
    """A command that writes into benchmarks/results/ stands in a section whose text says that
    it regenerates (or rewrites) that file, naming it (or "the result file it names")."""
    silent = []
    for doc in doc_commands():
        for out in results_written(doc.command):
            named = Path(out).name in doc.prose or "the result file it names" in doc.prose
            if not (SAYS_IT_REWRITES.search(doc.prose) and named):
                silent.append((doc.page.name, doc.section, doc.command, out))
    assert not silent, f"commands that write into {RESULTS}/ without saying so: {silent}"


SAYS_HOW_LONG = re.compile(r"\b(about|several|takes?|long)\b[^.]*\b(minutes?|hours?|seconds?|"
                           r"min|h|episodes?|runs?)\b|\blong\b", re.I)
"""How the docs mark a command as long: a duration or the word "long" in its section."""


def test_commands_that_only_parse_are_marked_long_in_their_section():
    unmarked = [(doc.page.name, doc.section, doc.command) for doc in doc_commands()
                if doc.command in CASES and CASES[doc.command].how == "parses"
                and not SAYS_HOW_LONG.search(doc.prose)]
    assert not unmarked, unmarked


def test_default_outputs_are_where_the_modules_write():
    from benchmarks.ranking import algoperf, protocol
    from benchmarks.offline import dataset, surrogate
    from benchmarks.expert import task_sets
    assert headroom.RESULTS == ROOT / DEFAULT_OUTPUTS["benchmarks.headroom", None]
    assert task_sets.RESULTS == ROOT / DEFAULT_OUTPUTS["benchmarks.task_sets", None]
    config = protocol.ProtocolConfig.from_args(protocol.parser().parse_args([]), "")
    assert ROOT / config.out == ROOT / DEFAULT_OUTPUTS["benchmarks.protocol", None]
    assert dataset.STORE == ROOT / DEFAULT_OUTPUTS["benchmarks.dataset", "collect"]
    assert surrogate.RESULTS == ROOT / DEFAULT_OUTPUTS["benchmarks.surrogate", "fidelity"]
    targets = algoperf.parser().parse_args(["targets", "--tasks", "default", "--reference",
                                            "crop+sgd+constant+bce"]).targets
    assert targets == ROOT / DEFAULT_OUTPUTS["benchmarks.algoperf", "targets"]
    assert results_written(PROTOCOL_MINE) == ["benchmarks/results/leaderboard.md"]
    assert results_written(ABLATIONS_VOC) == [] and results_written(META) == []


def test_every_protocol_command_keeps_the_committed_leaderboards_rows():
    """Without ``--from`` the PBT store, a protocol run rewrites leaderboard.md without the
    Ray Tune PBT row (``benchmarks.surrogate train`` passes it itself:
    test_protocol_dataset_and_surrogate_commands_parse_to_what_they_say)."""
    protocol_runs = [c for c in CASES if c.startswith("python -m benchmarks.protocol")]
    assert len(protocol_runs) == 4
    for typed in protocol_runs:
        args = argv_of(typed)[1]
        assert args[args.index("--from") + 1] == PBT_STORE and (ROOT / PBT_STORE).is_file()
    made_by = (ROOT / "benchmarks/results/leaderboard.md").read_text(encoding="utf-8")
    assert f"command: `{LEADERBOARD}`" in made_by


def test_make_targets_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    for typed in MAKE_TARGETS:
        target = typed.split()[1]
        assert target in phony and re.search(rf"^{target}:", makefile, re.M), typed


def test_pip_commands_match_the_makefile_and_pyproject():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pinned = re.search(r"pip install -q (torch==\S+)", makefile).group(1)
    assert TORCH_FIRST.endswith(pinned)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    named = re.search(r"\.\[([\w,]+)\]", PIP_EXTRAS).group(1).split(",")
    assert set(named) <= set(extras), set(named) - set(extras)
    assert (ROOT / "constraints.txt").is_file()
    # every extra the docs' table names is one pyproject.toml has
    table = (ROOT / "docs/getting-started.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert set(listed) == set(extras), (set(listed) ^ set(extras))


@pytest.fixture()
def shell(tmp_path, monkeypatch):
    """A fresh working directory and home (for ``~``), no data root from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MLIC_DATA_ROOT", raising=False)
    return tmp_path


def argv_of(command: str, **placeholders: str) -> tuple[str, list[str]]:
    """(module, arguments) of ``command`` as a shell would pass them, placeholders filled in."""
    for name, value in placeholders.items():
        command = command.replace(name, value)
    _, _, module, *args = shlex.split(command)
    return module, [os.path.expanduser(a) if a.startswith("~") else a for a in args]


def run_as_typed(command: str, *, tiny: bool = True, **placeholders: str) -> int:
    module, args = argv_of(command, **placeholders)
    try:
        return MAIN[module](args + (TINY.flags() if tiny else []))
    except SystemExit as stop:  # the benchmarks' entry points exit instead of returning
        return stop.code


def command(fragment: str) -> str:
    """The one command of ``CASES`` that contains ``fragment``."""
    (found,) = [c for c in CASES if fragment in c]
    return found


def _summary(path: str) -> dict:
    return json.loads((Path(path) / "summary.json").read_text())


def test_default_run(shell):
    assert run_as_typed("python -m training.run_marl --env mlic-digits") == 0
    assert _summary("runs/mlic-digits-mat-dqn-s0")["decisions"] == TINY.max_decisions


def test_bandit_run_with_agents_curiosity_and_seed(shell):
    assert run_as_typed(command("--algo bandit")) == 0
    summary = _summary("runs/mlic-digits-bandit-s3")
    assert (summary["agents"], summary["curiosity"], summary["seed"]) == (["aug", "opt"], "rnd", 3)


def test_config_file_run_with_a_flag_over_it(shell):
    settings = {k.replace("_", "-"): v for k, v in dataclasses.asdict(TINY).items()}
    Path("run.yaml").write_text("algo: random\nseed: 1\nprogress: false\n"
                                + "".join(f"{k}: {v}\n" for k, v in settings.items()))
    assert run_as_typed(command("--config run.yaml"), tiny=False) == 0
    assert _summary("runs/mlic-digits-random-s4")["algo"] == "random"  # --seed 4 won


def test_static_recipe_by_action_names(shell):
    assert run_as_typed(command("--algo static")) == 0
    steps = read_steps(Path("runs/mlic-digits-static-s0"))
    assert {tuple(s["config"].values()) for s in steps} == {("crop", "adamw", "cosine", "asl")}


def test_rollout_expert_counts_its_compute_and_on_two_ray_workers_gives_the_same_result(
        shell, ray_cluster):
    assert run_as_typed(ROLLOUT + " --out runs/here") == 0
    here = _summary("runs/here")
    assert here["algo"] == "rollout" and here["decisions"] == TINY.max_decisions
    steps = read_steps(Path("runs/here"))
    # 7 candidates (the incumbent and 6 changes), each held from its decision to the end
    segments = 7 * sum(range(1, TINY.max_decisions + 1))
    assert steps[-1]["agent"]["search/segments"] == segments
    assert steps[-1]["agent"]["search/episodes_of_compute"] == segments / TINY.max_decisions
    assert run_as_typed(ROLLOUT + " --workers 2") == 0  # on the session's cluster, which is up
    ray = _summary("runs/mlic-digits-rollout-s0")
    assert ray["decisions"] == TINY.max_decisions
    assert (ray["test_mAP"], ray["final_val_mAP"]) == (here["test_mAP"], here["final_val_mAP"])


def test_resume_after_a_stop(shell):
    first = run(run_marl.parse_config(["--out", "runs/x"] + TINY.flags()), should_stop=lambda: True)
    assert first.interrupted and first.summary["decisions"] == 1
    assert run_as_typed(command("--out runs/x --resume")) == 0  # "(plus the same settings)": the tiny ones
    assert _summary("runs/x")["decisions"] == TINY.max_decisions


ISSUE_ENTRY = "mat-dqn-rnd-digits-v0"
"""The entry of the issue's report; its command runs through ``python -m`` below."""


@pytest.mark.parametrize("name", [n for n in zoo.list_zoo() if n != ISSUE_ENTRY])
def test_zoo_command_for_every_other_shipped_entry(shell, name, capsys):
    assert run_as_typed(command("zoo:<name>"), **{"<name>": name}) == 0
    out = capsys.readouterr().out
    # the catalogue and context features of the observation version its card's env id plays:
    # classic without them (version 0: it predates the tuning-free optimizers), or version 2's
    version = zoo.read_card(name)["env"].rsplit("-v", 1)[1]
    settings = {"0": "--catalogue classic (no --context-features)",
                "2": "--catalogue tuning-free --context-features"}[version]
    assert f"env settings of --load-agents zoo:{name}: {settings} --observation relative" in out
    assert _summary("runs/mlic-digits-mat-dqn-s0")["algo"].endswith(f"(loaded from zoo:{name})")


def test_zoo_command_through_python_m(tmp_path):
    """The command as typed into a shell (plus the tiny flags), for the issue's entry."""
    assert ISSUE_ENTRY in zoo.list_zoo()
    typed = command("zoo:<name>").replace("<name>", ISSUE_ENTRY)
    done = subprocess.run([sys.executable, *shlex.split(typed)[1:], *TINY.flags()], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"env settings of --load-agents zoo:{ISSUE_ENTRY}: --catalogue classic (no " \
           "--context-features) --observation relative --reward-kind best_gain" in done.stdout
    assert json.loads((tmp_path / "runs/mlic-digits-mat-dqn-s0/summary.json").read_text())[
        "decisions"] == TINY.max_decisions


def test_zoo_controller_on_your_own_csv_data(shell, csv_root):
    assert run_as_typed(command("mlic-csv"), DIR=str(csv_root)) == 0
    assert _summary("runs/mlic-csv-mat-dqn-s0")["env"] == "mlic-csv"


@pytest.mark.parametrize("typed", [c for c, case in CASES.items() if case.how == "fails clearly"])
def test_commands_that_need_what_a_test_lacks_fail_clearly(shell, capsys, typed):
    assert run_as_typed(typed, tiny=False, **{"<name>": "my-controller"}) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: " in err
    before, error = err[:err.index("error: ")], err[err.index("error: "):]
    assert not before.strip() or "\r" in before or "it/s" in before or "/s]" in before, \
        before  # only a sweep's progress bar may come first
    assert CASES[typed].expect in error and "\n\n" not in error.strip()


@pytest.mark.parametrize("typed", [PAPER_RUN, PAPER_ABLATIONS], ids=["run_marl", "ablations"])
def test_the_papers_setting_names_each_missing_piece_in_turn(shell, capsys, typed):
    """The paper's commands as typed fail on the weights file (the fails-clearly test); given
    each piece in turn, the next missing one is named, with exit 2 and one error paragraph: the
    device, timm (or, with timm, the damaged file), then Pascal VOC under the temp home's
    ~/data/VOCdevkit. The weights, device and backbone are refused before anything is written."""
    import importlib.util
    import torch
    from envs.engine.models import build_model

    def fails_with(command: str, expect: str, *, writes: bool = False) -> None:
        assert run_as_typed(command, tiny=False) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and expect in err, err
        error = err[err.index("error: "):]
        assert "\n\n" not in error.strip(), error
        assert writes or not Path("runs").exists()

    fails_with(typed, "--weights resnet101.pth does not exist")
    Path("resnet101.pth").write_bytes(b"not a state_dict")  # a damaged download
    has_timm = importlib.util.find_spec("timm") is not None
    backbone = ("is damaged" if has_timm else "needs timm, which could not be imported")
    if not torch.cuda.is_available():
        fails_with(typed, "device 'cuda': CUDA is not available")
    on_cpu = typed.replace("--device cuda", "--device cpu")
    fails_with(on_cpu, backbone)
    torch.save(build_model("resnet", 20).state_dict(), "resnet.pth")  # a backbone that loads
    built_in = on_cpu.replace("timm:resnet101 --weights resnet101.pth",
                              "resnet --weights resnet.pth")
    fails_with(built_in, "dataset 'voc' not found under data root "
               f"{Path.home() / 'data/VOCdevkit'}", writes=True)


def test_the_ablation_table_gives_each_variant_its_run_marl_command():
    """docs/guides/mat-agent.md's table: one row per ``benchmarks.ablations`` variant, whose
    ``run_marl`` command plays that variant's controller (algorithm, agents, reward)."""
    page = (ROOT / "docs/guides/mat-agent.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [^|]+ \| `([\w-]+)` \| `(python -m training\.run_marl [^`]*)` \|$",
                      page, re.M)
    assert [key for key, _ in rows] == list(ablations.VARIANTS)
    for key, typed in rows:
        spec = ablations.VARIANTS[key].spec
        config = run_marl.parse_config(argv_of(typed.replace("ENV", "mlic-digits"))[1])
        assert (config.algo, config.env_overrides.get("agents", ablations._without()),
                config.reward == "individual", config.curiosity) == (
            spec.algo, spec.agents, spec.individual_reward, spec.curiosity), key


def test_meta_training_commands_parse_to_what_they_say():
    config, resume = meta_train.parse_args(argv_of(META)[1])
    assert config == MetaConfig(algo="mat-dqn", task_set="digits-v0", episodes=200, workers=2,
                                seed=0, out="runs/meta", env_overrides={
                                    "observation": "relative", "reward_kind": "best_gain"})
    assert not resume
    full = META.removeprefix("python -m training.meta_train ")
    address = meta_train.parse_args(argv_of(
        "python -m training.meta_train ... --address auto", **{"...": full})[1])
    assert address == (dataclasses.replace(config, address="auto"), False)
    again = meta_train.parse_args(argv_of("python -m training.meta_train ... --resume",
                                          **{"...": full})[1])
    assert again == (config, True)


def test_benchmark_sweeps_parse_to_what_they_say():
    def first(module: str) -> str:
        return next(c for c in CASES if c.startswith(f"python -m benchmarks.{module} ")
                    and "--env mlic-digits" in c)
    ablation = ablations.parse_args(argv_of(first("ablations"))[1])
    assert (ablation.env, ablation.seeds, ablation.out) == ("mlic-digits", 5,
                                                            Path("benchmarks/results"))
    sweep = peers.parse_args(argv_of(first("peers"))[1])
    assert (sweep.env, sweep.budget, sweep.seeds, sweep.out) == ("mlic-digits", 25, 5,
                                                                 Path("benchmarks/results"))
    room = headroom.parse_args(argv_of(HEADROOM)[1])
    assert (room.task_set, len(room.tasks), room.sbs, room.seeds, room.candidates) == (
        "digits-v1", 9, "none+sgd+constant+bce", 3, 4)
    assert room.out == headroom.RESULTS and "expert-sbs" in room.methods
    assert f"--tasks {','.join(room.tasks)}`" in headroom.RESULTS.read_text()  # made by it
    v0 = headroom.parse_args(argv_of(HEADROOM_V0)[1])
    assert (v0.task_set, v0.tasks[-1], v0.out.name) == ("digits-v0", "mnist",
                                                        "headroom_digits_v0.md")
    assert list(headroom.parse_tasks(v0)) == ["heldout:1", "heldout:3", "heldout:4", "mnist"]
    drift = headroom.parse_args(argv_of(HEADROOM_DRIFT)[1])
    assert (drift.task_set, drift.methods, drift.out.name) == (
        "digits-drift-v0", ("panel", "expert", "vbs-c"), "headroom_drift.md")
    assert all(t.drift is not None for t in headroom.parse_tasks(drift).values())
    long = headroom.parse_args(argv_of(HEADROOM_LONG_V1)[1])
    assert (long.task_set, long.methods, long.halving, long.resume) == (
        "digits-long-v1", ("panel", "expert"), ((0, 1), (1, 4)), True)
    assert f"--tasks {','.join(long.tasks)} --methods panel,expert --halving 0:1,1:4 " \
           f"--out {long.out}`" in long.out.read_text()  # the committed table is its output
    search = headroom.parse_args(argv_of(HEADROOM_LONG_V1_SEARCH)[1])
    assert (search.seeds, search.methods, search.resume) == (
        1, ("panel", "expert", "vbs-c", "tpe"), True)
    assert "--methods panel,expert,vbs-c,tpe --halving 0:1,1:4 " \
           f"--out {search.out}`" in search.out.read_text()  # the committed table is its output
    sweep = budgets.parser().parse_args(argv_of(BUDGETS)[1])
    assert (sweep.budgets, sweep.seeds, sweep.resume) == ((6, 12, 25, 50), 1, True)
    assert f"`{BUDGETS}`" in sweep.out.read_text()  # the committed table is its output


def test_the_zero_shot_command_names_the_learners_and_the_v1_calibration():
    _, args = argv_of(ZERO_SHOT_V1)
    assert args[args.index("--runs") + 1].split(",") == [
        "runs/imitate-bc", "runs/imitate-q", "runs/imitate-bc-dagger", "runs/selector"]
    assert (ROOT / args[args.index("--calibration") + 1]).is_file()
    assert (ROOT / args[args.index("--out") + 1]).is_file()  # the result it made


def test_the_demonstrations_command_parses_to_what_it_says():
    config = imitate.parse_args(argv_of(command("imitate demos --task-set digits-v1 "))[1])
    assert config == imitate.DemoConfig(task_set="digits-v1", seeds=2, workers=2,
                                        out="runs/demos")
    assert config.jumps == ("none+sgd+constant+bce", "crop+adamw+cosine+asl")


def test_the_long_demonstrations_command_made_the_committed_recording():
    config = imitate.parse_args(argv_of(DEMOS_LONG_V1)[1])
    assert (config.task_set, config.seeds, config.reuse, config.resume) == (
        "digits-long-v1", 2, True, True)
    settings, episodes = demonstrations.load(ROOT / DEMOS_LONG_V1_STORE)
    settings.pop("data_generator_version")  # the store's own (training.core.run_store)
    assert settings == config.settings()  # the store refuses other settings on --resume
    assert len(episodes) == 20 and {e.seed for e in episodes} == {0, 1}


def test_protocol_dataset_and_surrogate_commands_parse_to_what_they_say():
    from benchmarks.offline import dataset, surrogate
    from benchmarks.ranking import protocol
    mine = protocol.ProtocolConfig.from_args(protocol.parser().parse_args(
        argv_of(PROTOCOL_MINE)[1]), PROTOCOL_MINE)
    assert (mine.algo, mine.targets, mine.seeds, mine.meta_episodes) == (
        "examples.protocol_controller:MyController", ("heldout", "mnist"), 5, 0)
    assert mine.headroom.is_file() and mine.calibration.is_file()  # committed: a clone runs it
    assert mine.extra == (Path(PBT_STORE),) and mine.out == ROOT / DEFAULT_OUTPUTS[
        "benchmarks.protocol", None]
    board = protocol.ProtocolConfig.from_args(protocol.parser().parse_args(
        argv_of(LEADERBOARD)[1]), LEADERBOARD)
    assert protocol.parser().parse_args(argv_of(LEADERBOARD)[1]).leaderboard
    assert board.extra == mine.extra and board.store.is_file()  # the committed store
    sb3 = protocol.parser().parse_args(argv_of(PROTOCOL_SB3)[1])
    assert (sb3.algo, sb3.meta_episodes) == ("sb3:PPO", 100)
    offline = protocol.parser().parse_args(argv_of(PROTOCOL_OFFLINE)[1])
    assert offline.algo == "run:runs/offline-dqn"
    collect = dataset.parser().parse_args(argv_of(COLLECT)[1])
    assert (collect.command, collect.task_set, collect.seeds, collect.workers,
            collect.behaviours.split(",")) == ("collect", "digits-v1", 3, 2,
                                               list(dataset.BEHAVIOURS))
    export = dataset.parser().parse_args(argv_of(EXPORT)[1])
    assert (export.store, export.dataset_id) == (collect.store, dataset.DATASET_ID)
    export_v0 = dataset.parser().parse_args(argv_of(EXPORT_V0)[1])
    assert (export_v0.store, export_v0.dataset_id) == (collect.store, surrogate.SURROGATE_DATASET)
    assert dataset.DATASETS[surrogate.SURROGATE_DATASET] == dataset.MIXED
    fit = surrogate.parser().parse_args(argv_of(SURROGATE_FIT)[1])
    assert (fit.dataset_id, fit.out) == (surrogate.SURROGATE_DATASET, surrogate.WEIGHTS)
    fidelity = surrogate.parser().parse_args(argv_of(SURROGATE_FIDELITY)[1])
    assert fidelity.weights == surrogate.WEIGHTS and fidelity.real
    assert f"command: `{SURROGATE_FIDELITY}`" in surrogate.RESULTS.read_text()  # made by it
    train = surrogate.parser().parse_args(argv_of(SURROGATE_TRAIN)[1])
    assert (train.algo, train.episodes, train.evaluate) == ("mat-dqn", 2000, True)
    assert surrogate.leaderboard_stores(train.extra) == [ROOT / PBT_STORE]  # its protocol's --from


def test_the_default_task_and_algoperf_commands_parse_to_what_they_say():
    from benchmarks.ranking import algoperf
    from benchmarks.expert import static_recipes
    room = headroom.parse_args(argv_of(DEFAULT_TASK)[1])
    assert (room.tasks, room.methods, room.seeds) == (("default",), ("panel", "vbs-c"), 2)
    assert list(headroom.parse_tasks(room).values()) == ["mlic-digits-v1"]  # make run's task
    assert (ROOT / headroom.store_path(room)).is_file()  # committed: the next two read it
    targets = algoperf.parser().parse_args(argv_of(TARGETS)[1])
    assert targets.reference == str(headroom.store_path(room))
    assert "default" in json.loads(targets.targets.read_text())  # fixed in advance, committed
    score = algoperf.parser().parse_args(argv_of(SCORE)[1])
    assert score.headroom == [headroom.store_path(room)] and (ROOT / score.out).is_file()
    sf = static_recipes.parser().parse_args(argv_of(SF_EVAL)[1])
    assert (sf.recipes, sf.schedule_free_eval, sf.seeds) == ("crop+sf_adamw+constant+asl",
                                                             "average", 2)
    assert (ROOT / sf.out).is_file()


def test_the_held_out_algoperf_and_user_loop_commands_made_their_results():
    from benchmarks.ranking import algoperf
    room = headroom.parse_args(argv_of(HEADROOM_CURVES)[1])
    assert (ROOT / headroom.store_path(room)).is_file()
    assert set(json.loads((ROOT / "benchmarks/results/algoperf_targets.json").read_text())) == {
        "default", "heldout:1", "heldout:2", "heldout:3", "heldout:4"}
    targets = algoperf.parser().parse_args(argv_of(TARGETS_HELDOUT)[1])
    assert targets.reference == str(headroom.store_path(room))
    score = algoperf.parser().parse_args(argv_of(SCORE_ALL)[1])
    assert len(score.headroom) == 2 and (ROOT / score.out).is_file()
    for typed in (USER_LOOP_PEERS, USER_LOOP_PEERS_CM):
        out = argv_of(typed)[1][argv_of(typed)[1].index("--out") + 1]
        assert f"command: `{typed}" in (ROOT / out).read_text()  # made by it (plus --resume)


def test_the_long_algoperf_and_user_loop_commands_made_their_results():
    from benchmarks.ranking import algoperf
    targets = algoperf.parser().parse_args(argv_of(TARGETS_LONG)[1])
    assert (targets.task_set, targets.targets.name) == ("digits-long-v1",
                                                        "algoperf_targets_long_v1.json")
    held = json.loads((ROOT / targets.targets).read_text())
    assert set(held) == {f"heldout:{i}" for i in range(1, 6)}
    assert {t["command"] for t in held.values()} == {TARGETS_LONG}  # made by it
    score = algoperf.parser().parse_args(argv_of(SCORE_LONG)[1])
    assert (score.seeds, score.sbs) == (3, "crop+sgd+constant+bce")
    assert f"command: `{SCORE_LONG}`" in (ROOT / score.out).read_text()
    for typed in (USER_LOOP_LONG_RESNET, USER_LOOP_LONG_CM, USER_LOOP_LONG_VIT):
        out = argv_of(typed)[1][argv_of(typed)[1].index("--out") + 1]
        assert f"command: `{typed}`" in (ROOT / out).read_text()


@pytest.mark.parametrize("typed, name", [(CALIBRATION_LONG, "digits-long-v0"),
                                         (CALIBRATION_LONG_V1, "digits-long-v1")])
def test_the_long_calibration_command_parses_to_what_it_says(typed, name):
    from benchmarks.expert import task_sets
    args = task_sets.parser().parse_args(shlex.split(typed)[3:])
    assert (args.task_set, args.seeds, args.third_seed_within, args.workers, args.resume) == (
        name, 2, 1.0, 2, True)
    assert task_sets.targets_of(args.task_set).best_recipes == 4


def test_the_first_decisions_command_parses_to_what_it_says_and_made_its_result():
    from benchmarks.ranking import first_decisions
    args = first_decisions.parser().parse_args(argv_of(FIRST_DECISIONS)[1])
    assert (args.method, args.workers, args.resume, args.out.name) == (
        "zoo:bc-digits-v1", 1, True, "first_decisions_bc_digits_v1.md")
    made = (ROOT / RESULTS / args.out.name).read_text()
    assert "--method zoo:bc-digits-v1" in made and args.store.name in made


def test_the_calibration_commands_made_their_results():
    from benchmarks.expert import task_sets
    for typed, made in ((CALIBRATION_V0, "task_sets.md"), (CALIBRATION_V1,
                                                            "task_sets_digits_v1.md")):
        args = task_sets.parser().parse_args(argv_of(typed)[1])
        assert (args.seeds, args.workers, args.out.name) == (3, 2, made)
        assert f"command: `{typed} --no-progress`" in (ROOT / RESULTS / made).read_text()
