"""``python -m training.publish RUN_DIR --name NAME``: put a trained controller into the zoo.

    python -m training.publish runs/meta-digits --name digits-v0-mat-dqn
    python -m training.publish runs/meta-digits --name digits-v0-mat-dqn --controller final

Copies ``RUN_DIR/<controller>/`` (a folder written by ``Controller.save``; default ``best``)
into ``agents/zoo/NAME/`` and writes its model card, ``card.json`` and ``CARD.md``, from
``RUN_DIR/summary.json``. That file is the meta-training run's (``training.meta_train``)
and must hold ``SUMMARY_KEYS``::

    command (str)  algo (str)  task_set (str)  episodes (int)  workers (int)  seed (int)
    cpu_hours (float)  wall_s (float)  commit (str)  env_settings (dict, may be empty)
    best: {"round": int, "heldout_mAP": float, "per_task": {task: mAP}}
    curve: [{"round": int, "episodes": int, "heldout_mAP": float}, ...]
    generator_version (int; optional: summaries from before it was recorded were version 1)

Controllers over ``agents.zoo.MAX_WEIGHTS_BYTES`` are refused: the zoo ships in the package.
Then run ``pytest tests/test_zoo.py``: it loads every entry and plays a frozen episode.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agents import zoo
from agents.base import MANIFEST
from envs.errors import MLICError
from training.core import cli

EXIT_IO = 1

NUMBER = (int, float)
SUMMARY_KEYS: dict[str, type | tuple[type, ...]] = {
    "command": str, "algo": str, "task_set": str, "episodes": int, "workers": int,
    "seed": int, "cpu_hours": NUMBER, "wall_s": NUMBER, "commit": str, "env_settings": dict,
    "best": dict, "curve": list}
"""What ``summary.json`` must hold, and the JSON type of each value."""
BEST_KEYS = {"round": int, "heldout_mAP": NUMBER, "per_task": dict}
CURVE_KEYS = {"round": int, "episodes": int, "heldout_mAP": NUMBER}


class PublishError(MLICError, ValueError):
    """A run folder that cannot be published: a missing or malformed file, a name, a size."""


def publish(run_dir: Path, name: str, *, controller: str = "best", root: Path | None = None,
            env: str | None = None, replace: bool = False,
            date: str | None = None, recommended: bool = False) -> Path:
    """Copy ``run_dir/controller`` into the zoo at ``root`` (default ``agents/zoo``) as
    ``name``, with its model card; returns the entry's folder.

    ``env``: the env id the card names (default: the summary's ``env``, else the first train
    task of its task set). ``replace`` overwrites an existing entry. ``date``: ISO date on
    the card (default today, UTC). ``recommended`` marks the entry the one
    ``zoo:recommended`` loads, and takes the mark from any other.
    """
    run_dir, root = Path(run_dir), Path(root) if root is not None else zoo.ZOO_ROOT
    bare = _checked_name(name)
    source = _controller_dir(run_dir, controller)
    summary = read_summary(run_dir / "summary.json")
    manifest = json.loads((source / MANIFEST).read_text())
    if summary["algo"] != manifest["algo"]:
        raise PublishError(f"{run_dir / 'summary.json'} says algo {summary['algo']!r} but "
                           f"{source} holds a {manifest['algo']!r} controller: is it the same run?")
    size = zoo.weights_bytes(source)
    if size > zoo.MAX_WEIGHTS_BYTES:
        raise PublishError(
            f"{source} weighs {size / 2**20:.2f} MiB; the zoo ships inside the package and takes "
            f"at most {zoo.MAX_WEIGHTS_BYTES / 2**20:.0f} MiB per controller: train smaller "
            "networks, or save without optimizer state")
    target = root / bare
    if target.exists() and not replace:
        raise PublishError(f"{target} exists already: pick another --name, or pass --replace")
    card = build_card(summary, name=bare, manifest=manifest,
                      env=env or summary.get("env") or _task_set_env(summary["task_set"]),
                      date=date or datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
                      controller=controller, run_dir=run_dir)
    if recommended:
        card["recommended"] = True
        _unmark_others(root, bare)
    _write_entry(source, target, card)
    return target


def _unmark_others(root: Path, keep: str) -> None:
    """Take the ``recommended`` mark from every entry but ``keep`` (card.json and CARD.md)."""
    for other in zoo.list_zoo(root):
        path = root / other / zoo.CARD_JSON
        if other == keep or not path.is_file():
            continue
        card = json.loads(path.read_text())
        if card.pop("recommended", None) is not None:
            path.write_text(json.dumps(card, indent=2) + "\n")
            (root / other / zoo.CARD_MD).write_text(render_card(card))


def _checked_name(name: str) -> str:
    try:
        return zoo.check_name(name)
    except MLICError as error:
        raise PublishError(f"--name: {error}") from None


def _controller_dir(run_dir: Path, controller: str) -> Path:
    if not run_dir.is_dir():
        raise PublishError(f"{run_dir} does not exist: pass the --out folder of a meta-training "
                           "run (python -m training.meta_train ... --out DIR)")
    source = run_dir / controller
    if not (source / MANIFEST).is_file():
        what = "does not exist" if not source.exists() else f"holds no {MANIFEST}"
        found = sorted(p.parent.name for p in run_dir.glob(f"*/{MANIFEST}"))
        hint = f"; saved controllers here: {', '.join(found)} (--controller NAME)" if found else ""
        raise PublishError(f"{source} {what}: --controller names the folder of RUN_DIR that "
                           f"Controller.save wrote{hint}")
    nested = sorted(p.name for p in source.iterdir() if p.is_dir())
    if nested:  # the package data glob is agents/zoo/*/*: deeper files would not ship
        raise PublishError(f"{source} holds folders {nested}; a zoo entry ships its files one "
                           "level deep (pyproject.toml package-data), so save them flat")
    return source


def read_summary(path: Path) -> dict[str, Any]:
    """``summary.json`` of a meta-training run, checked against ``SUMMARY_KEYS``."""
    summary = zoo.read_json_object(path, PublishError, "the meta-training run writes it when "
                                   "it ends (an interrupted run has none yet)")
    _check_keys(summary, SUMMARY_KEYS, f"{path}")
    _check_keys(summary["best"], BEST_KEYS, f"{path}: best")
    for i, point in enumerate(summary["curve"]):
        if not isinstance(point, dict):
            raise PublishError(f"{path}: curve[{i}] must be an object with {list(CURVE_KEYS)}")
        _check_keys(point, CURVE_KEYS, f"{path}: curve[{i}]")
    return summary


def _check_keys(obj: Mapping[str, Any], keys: Mapping[str, Any], where: str) -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise PublishError(f"{where} lacks {missing} (needed: {list(keys)})")
    for key, kind in keys.items():
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            names = "/".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            raise PublishError(f"{where}: {key} must be {names}, got {value!r}")


def _task_set_env(task_set: str) -> str:
    """The env id of ``task_set``'s first train task (what the card's conformance test plays)."""
    import envs

    try:
        return envs.task_set(task_set).train[0].env_id
    except MLICError as error:
        raise PublishError(f"cannot tell which env the controller plays ({error}); pass --env ID "
                           "or add 'env' to summary.json") from None


def build_card(summary: Mapping[str, Any], *, name: str, manifest: Mapping[str, Any], env: str,
               date: str, controller: str = "best", run_dir: Path | None = None
               ) -> dict[str, Any]:
    """``card.json``: ``agents.zoo.CARD_FIELDS`` from the summary and the manifest."""
    best = summary.get(controller) or summary["best"]  # the evaluation of what is published
    card = {
        "name": name, "algo": manifest["algo"], "agents": list(manifest["agents"]), "env": env,
        **{k: summary[k] for k in ("command", "task_set", "episodes", "workers", "seed",
                                   "cpu_hours", "wall_s", "commit", "env_settings")},
        "date": date, "generator_version": int(summary.get("generator_version", 1)),
        # the command that made the weights: the run, then this publication
        **({"command": f"{summary['command']} && python -m training.publish {run_dir} "
                       f"--name {name} --controller {controller}"} if run_dir else {}),
        "heldout": {"round": best["round"], "mAP": best["heldout_mAP"],
                    "per_task": dict(best["per_task"])},
        "curve": [dict(point) for point in summary["curve"]],
        **{k: summary[k] for k in zoo.OPTIONAL_CARD_FIELDS if summary.get(k) is not None},
    }
    keys = zoo.CARD_FIELDS + tuple(k for k in zoo.OPTIONAL_CARD_FIELDS if k in card)
    return {key: card[key] for key in keys}  # the documented order


def render_card(card: Mapping[str, Any]) -> str:
    """``CARD.md``: the card for people."""
    settings = card["env_settings"]
    lines = [
        f"# zoo:{card['name']}", "",
        f"A pretrained `{card['algo']}` controller for agents {', '.join(card['agents'])}, "
        + (f"fitted by learner `{card['learner']}` on the rollout expert's demonstrations on "
           f"task set `{card['task_set']}`." if card.get("learner") else
           f"meta-trained on task set `{card['task_set']}`."), "",
        "## Use", "", "```python",
        f'controller = agents.make_controller("zoo:{card["name"]}", env, seed=0)  # frozen',
        "```", "", "```bash",
        f"python -m training.run_marl --env {card['env']} --load-agents zoo:{card['name']} "
        "--freeze",
        "```", "",
        "## Env settings it needs", "",
        "`run_marl --load-agents` and `DynamicRecipe` apply them for you; pass them to `envs.make` when you build the env yourself.", "",
        *([f"- `{k}` = `{json.dumps(v)}`" for k, v in sorted(settings.items())]
          or ["None beyond the defaults."]), "",
        "## Training", "", "| | |", "|---|---|",
        f"| command | `{card['command']}` |", f"| task set | `{card['task_set']}` |",
        f"| episodes | {card['episodes']} |", f"| workers | {card['workers']} |",
        f"| seed | {card['seed']} |", f"| CPU-hours | {card['cpu_hours']:.2f} |",
        f"| wall time | {card['wall_s']:.0f} s |", f"| commit | `{card['commit']}` |",
        f"| published | {card['date']} |",
        f"| data | generated datasets of generator version {card['generator_version']} |", "",
    ]
    if card.get("learner"):
        demos = card.get("demonstrations") or {}
        dagger = card.get("dagger") or {}
        lines += ["## Learned from the rollout expert", "", "| | |", "|---|---|",
                  f"| learner | `{card['learner']}` (fitted into `{card['algo']}`'s Q-networks) |",
                  f"| demonstrations | {demos.get('episodes')} episodes, "
                  f"{demos.get('decisions')} decisions, {demos.get('candidates_scored')} "
                  f"candidates scored, {demos.get('episodes_of_compute')} episodes of compute |",
                  f"| the expert | {json.dumps(demos.get('expert'))} |",
                  f"| DAgger | {dagger.get('episodes', 0)} labelled episodes, "
                  f"{dagger.get('episodes_of_compute', 0)} episodes of compute |",
                  f"| trained on backbones | {', '.join(card.get('architectures') or [])} |", ""]
    if card.get("recommended"):
        lines += ["**Recommended**: `zoo:recommended` loads this entry.", ""]
    heldout = card["heldout"]
    per_task = heldout["per_task"]
    lines += [f"## Held-out results (frozen, the controller of round {heldout['round']})", "",
              "| task | mAP |", "|---|---:|",
              *[f"| {task} | {value:.2f} |" for task, value in sorted(per_task.items())],
              f"| **mean** | **{heldout['mAP']:.2f}** |", ""]
    if card["curve"]:
        unit = "epochs" if card.get("learner") else "episodes"  # a learner's: fit epochs
        lines += ["## Learning curve", "", f"| round | {unit} | held-out mAP |",
                  "|---:|---:|---:|",
                  *[f"| {p['round']} | {p.get(unit, p['episodes'])} | {p['heldout_mAP']:.2f} |"
                    for p in card["curve"]], ""]
    return "\n".join(lines)


def _write_entry(source: Path, target: Path, card: Mapping[str, Any]) -> None:
    """Build the entry beside ``target`` and move it into place, so a failed copy leaves no
    half-written entry in the zoo."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.publishing"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging)
        (staging / zoo.CARD_JSON).write_text(json.dumps(card, indent=2) + "\n")
        (staging / zoo.CARD_MD).write_text(render_card(card))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("training.publish", __doc__, example="""\
python -m training.publish runs/imitate-q --name digits-v1-q
python -m training.publish runs/meta-digits --name digits-v0-mat-dqn --controller final""")
    what = p.add_argument_group("what to publish")
    entry = p.add_argument_group("the zoo entry")
    what.add_argument("run_dir", type=Path,
                      help="the --out folder of a training.meta_train or training.imitate run "
                           "(it holds summary.json and the controller's folder)")
    entry.add_argument("--name", required=True,
                       help="the entry's zoo name (loaded as zoo:NAME; a folder of the zoo)")
    what.add_argument("--controller", default="best",
                      help="which folder of RUN_DIR written by Controller.save to copy "
                           "(default: best, the best held-out one; final: the last)")
    entry.add_argument("--env", default=None,
                       help="the env id the card names (default: the summary's env, else the "
                            "task set's first train task's)")
    entry.add_argument("--zoo", type=Path, default=None,
                       help="the zoo folder to publish into (default: agents/zoo)")
    entry.add_argument("--replace", action="store_true",
                       help="overwrite an existing entry of that name")
    entry.add_argument("--recommended", action="store_true",
                       help="mark this entry recommended (zoo:recommended loads it); the mark "
                            "leaves any other entry")
    return p


@cli.command(returns_status=True)
def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0, 2 bad input, 1 I/O error)."""
    args = build_parser().parse_args(argv)
    try:
        target = publish(args.run_dir, args.name, controller=args.controller, root=args.zoo,
                         env=args.env, replace=args.replace, recommended=args.recommended)
    except MLICError:  # reported by cli.command (before OSError: some are OSErrors too)
        raise
    except OSError as error:
        print(f"error: {error.strerror or error} ({error.filename})", file=sys.stderr)
        return EXIT_IO
    print(f"published zoo:{target.name} in {target} ({zoo.weights_bytes(target) / 1024:.0f} KiB); "
          "check it with: python -m pytest tests/test_zoo.py -q")
    return 0


if __name__ == "__main__":
    sys.exit(main())
