"""The corpus's named builders: what a case needs beyond a plain call or a command line.

Two registries, each referenced by name from the case rows (``api_cases``, ``cli_cases``,
``store_cases``):

* :data:`TRIGGERS` - API triggers that must build something first (a broken VOC tree, a
  stepped env, a damaged zoo copy); each is called as ``trigger(tmp, *args, **kwargs)``;
* :data:`FILES` - files and folders a command line points at (``{file:NAME}`` in a row);
  each is called as ``build(tmp)`` and returns the path it wrote. ``{store:KIND}`` and
  ``{store:KIND@TASK_SET}`` name :func:`store`, a run store or log of that kind.

Plain text or bytes a case needs are written from the row itself (its ``files``), not here.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

import envs
from agents import StaticController, load_controller
from benchmarks.quality import tiny_datasets as fd

TINY: dict[str, Any] = dict(image_size=16, max_train_images=32, max_eval_images=32,
                            max_decisions=2, steps_per_decision=1, batch_size=16)
"""Env overrides that build and step a digits env in a fraction of a second."""
TINY_FLAGS = ["--image-size", "16", "--max-train-images", "32", "--max-eval-images", "32",
              "--max-decisions", "1", "--steps-per-decision", "1", "--batch-size", "16",
              "--no-progress"]
"""The same as ``run_marl`` flags (one decision); ``{tiny}`` in a command line."""
OK_ACTION = {"aug": 0, "opt": 0, "lrs": 0, "loss": 0}
VOC = "{tmp}/voc/VOCdevkit/VOC2007"
"""The VOC tree :func:`voc` writes, as a row names it."""
RESULTS = Path(__file__).resolve().parents[2] / "results"

TRIGGERS: dict[str, Callable[..., Any]] = {}
FILES: dict[str, Callable[[Path], Path]] = {}


def trigger(function: Callable[..., Any]) -> Callable[..., Any]:
    TRIGGERS[function.__name__] = function
    return function


def file(function: Callable[[Path], Path]) -> Callable[[Path], Path]:
    FILES[function.__name__] = function
    return function


# ---------------------------------------------------------------- datasets

def cache(tmp: Path) -> Path:
    return tmp / "cache"


def voc(tmp: Path) -> Path:
    """A fresh, writable VOC tree under ``tmp/voc``; returns the data root."""
    return fd.write_voc(tmp / "voc")


def voc_load(tmp: Path, root: Path, split: str = "train", **kwargs: Any):
    return envs.load_dataset("voc", split, data_root=root, cache_dir=cache(tmp), **kwargs)


def coco_root(tmp: Path, images: bool = True) -> Path:
    return fd.write_coco(tmp / "coco", images=images)


def coco_json(tmp: Path, split: str = "train") -> Path:
    return tmp / "coco" / "annotations" / f"instances_{split}2014.json"


def csv_root(tmp: Path, classes: bool = True) -> Path:
    return fd.write_csv(tmp / "csv", classes=classes)


def csv_load(tmp: Path, **kwargs: Any):
    return envs.load_dataset("csv", "all", data_root=tmp / "csv", cache_dir=cache(tmp), **kwargs)


def tiny_env(tmp: Path, **overrides: Any):
    return envs.make("mlic-digits", **{**TINY, **overrides})


def write_image(path: Path, image: Image.Image, fmt: str, **save: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **save)
    return path


def replace_voc_image(tmp: Path, data: bytes, image_id: str = "000003") -> Path:
    root = voc(tmp)
    (fd.voc_dir(root) / "JPEGImages" / f"{image_id}.jpg").write_bytes(data)
    return root


@trigger
def voc_with_image_bytes(tmp: Path, data: bytes) -> Any:
    """Image 000003 of a VOC tree replaced by ``data``."""
    return voc_load(tmp, replace_voc_image(tmp, data))


@trigger
def voc_with_noise_jpeg(tmp: Path, keep_bytes: int | None = None, keep: float = 1.0) -> Any:
    """Image 000003 replaced by a noise JPEG cut to ``keep_bytes`` bytes or a ``keep`` share."""
    data = fd.save_noise_jpeg(tmp / "noise.jpg", size=(128, 96)).read_bytes()
    return voc_with_image_bytes(tmp, data[:keep_bytes] if keep_bytes else
                                data[: int(len(data) * keep)])


@trigger
def decompression_bomb(tmp: Path) -> Any:
    root = voc(tmp)
    write_image(fd.voc_dir(root) / "JPEGImages" / "000003.jpg", Image.new("RGB", (300, 300)),
                "PNG")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 20_000  # 90,000 px is over twice the limit: PIL refuses it
    try:
        return voc_load(tmp, root)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


@trigger
def all_test_images_bad(tmp: Path) -> Any:
    root = voc(tmp)
    for image_id in fd.VOC_SPLITS["test"]:
        (fd.voc_dir(root) / "JPEGImages" / f"{image_id}.jpg").write_bytes(b"")
    return voc_load(tmp, root, "test", on_bad_image="skip")


@trigger
def voc_with_file(tmp: Path, relative: str, data: str | bytes, split: str = "train") -> Any:
    """A VOC tree whose ``relative`` file (under ``VOC2007/``) holds ``data``."""
    root = voc(tmp)
    path = fd.voc_dir(root) / relative
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return voc_load(tmp, root, split)


@trigger
def voc_root_is_a_file(tmp: Path) -> Any:
    (tmp / "voc.tar").write_bytes(b"not a folder")
    return voc_load(tmp, tmp / "voc.tar")


@trigger
def voc_root_is_jpegimages(tmp: Path) -> Any:
    return voc_load(tmp, fd.voc_dir(voc(tmp)) / "JPEGImages")


@trigger
def voc_without_jpegimages(tmp: Path) -> Any:
    root = voc(tmp)
    shutil.rmtree(fd.voc_dir(root) / "JPEGImages")
    return voc_load(tmp, root)


@trigger
def coco_without_image_folder(tmp: Path) -> Any:
    return envs.load_dataset("coco", "train", data_root=coco_root(tmp, images=False),
                             cache_dir=cache(tmp))


@trigger
def coco_with_json(tmp: Path, raw: str | None = None, top: dict | None = None,
                   image0: dict | None = None) -> Any:
    """A COCO train json replaced by ``raw``, or updated: ``top`` keys, ``image0``'s keys."""
    root = coco_root(tmp, images=False)
    path = coco_json(tmp)
    if raw is None:
        data = json.loads(path.read_text())
        data.update(top or {})
        data["images"][0].update(image0 or {})
        raw = json.dumps(data)
    path.write_text(raw)
    return envs.load_dataset("coco", "train", data_root=root, cache_dir=cache(tmp))


@trigger
def csv_with_labels(tmp: Path, data: str | bytes, classes: bool = True) -> Any:
    root = csv_root(tmp, classes=classes)
    (root / "labels.csv").write_bytes(data if isinstance(data, bytes) else data.encode())
    return csv_load(tmp)


@trigger
def csv_no_label_file(tmp: Path) -> Any:
    root = csv_root(tmp)
    (root / "labels.csv").unlink()
    return csv_load(tmp)


@trigger
def csv_train_without_test(tmp: Path) -> Any:
    root = fd.write_csv_splits(tmp / "csv")
    (root / "test.csv").unlink()
    return envs.load_splits("csv", data_root=root, cache_dir=cache(tmp))


# ---------------------------------------------------------------- envs and controllers

@trigger
def step_agent(tmp: Path, agent: str, action: Any) -> Any:
    """Step a fresh tiny env with ``action`` for ``agent`` and valid actions for the others."""
    env = tiny_env(tmp)
    env.reset(seed=0)
    return env.step({**OK_ACTION, agent: action})


@trigger
def step_all(tmp: Path, actions: Any) -> Any:
    env = tiny_env(tmp)
    env.reset(seed=0)
    return env.step(actions)


@trigger
def step_joint(tmp: Path, flatten: bool, action: Any) -> Any:
    env = envs.make_joint("mlic-digits", flatten=flatten, **TINY)
    env.reset(seed=0)
    return env.step(action)


@trigger
def step_before_reset(tmp: Path) -> Any:
    env = tiny_env(tmp)
    return env.step({a: 0 for a in env.possible_agents})


@trigger
def fork_before_reset(tmp: Path) -> Any:
    return tiny_env(tmp).fork()


@trigger
def action_names(tmp: Path, agent: str) -> Any:
    return tiny_env(tmp).action_names(agent)


@trigger
def cuda_without_gpu(tmp: Path) -> Any:
    return envs.make("mlic-digits", device="cuda", **TINY)


@trigger
def missing_backbone_weights(tmp: Path) -> Any:
    return envs.make("mlic-digits", weights_path=str(tmp / "backbone.pt"), **TINY)


@trigger
def make_controller(tmp: Path, algo: str) -> Any:
    """``agents.make_controller(algo, <a fake env>)``."""
    from agents import make_controller as make
    from envs.fakes import CooperativeFakeEnv
    return make(algo, CooperativeFakeEnv(), seed=0)


@trigger
def make_curiosity(tmp: Path, name: str) -> Any:
    from agents.rewards.curiosity import make_curiosity as make
    from envs.fakes import CooperativeFakeEnv
    return make(name, CooperativeFakeEnv(), seed=0)


@trigger
def observe_before_begin(tmp: Path) -> Any:
    from agents import Transition
    from agents import make_controller as make
    from envs.fakes import CooperativeFakeEnv
    env = CooperativeFakeEnv()
    controller = make("mat-dqn", env, seed=0)
    obs, _ = env.reset(seed=0)
    actions = controller.act(obs)
    next_obs, rewards, terms, truncs, infos = env.step(actions)
    return controller.observe(Transition(obs, actions, rewards, next_obs, terms, truncs, infos))


class NeedsAnArgument(StaticController):
    """A controller whose constructor wants more than the env, seed and config
    (``--algo benchmarks.quality.badinputs.builders:NeedsAnArgument``)."""

    name = "needs-an-argument"

    def __init__(self, env: Any, *, seed: int = 0, config: Any = None, extra: int) -> None:
        super().__init__(env, seed=seed, config=config)


# ---------------------------------------------------------------- damaged weights

ZOO_ENTRY = "mat-dqn-digits-v0"
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda raw: b"not an archive at all",
    "truncated": lambda raw: raw[:len(raw) // 2]}


@trigger
def damaged_zoo_entry(tmp: Path, name: str, damage: str) -> Any:
    """Load a copy of zoo entry ``ZOO_ENTRY`` (under ``tmp/zoo``) whose file ``name`` is
    damaged, into a tiny env of the settings it was trained for."""
    from agents import zoo
    from training.core.config import env_make_kwargs
    from training.core.fields import flat_settings
    card = zoo.read_card(ZOO_ENTRY)
    settings = env_make_kwargs(card["env"], flat_settings(card["env_settings"]))
    env = envs.make(card["env"], agents=tuple(card["agents"]), **{**settings, **TINY})
    shutil.copytree(zoo.zoo_dir(ZOO_ENTRY), tmp / "zoo" / ZOO_ENTRY)
    path = tmp / "zoo" / ZOO_ENTRY / name
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    return load_controller(f"zoo:{ZOO_ENTRY}", env, seed=0, zoo_root=tmp / "zoo")


@trigger
def damaged_backbone(tmp: Path, damage: str) -> Any:
    """A backbone ``state_dict`` saved, damaged, then given as ``weights_path``."""
    import torch

    from envs.engine.models import build_model
    path = tmp / "backbone.pt"
    torch.save(build_model("small_cnn", 3).state_dict(), path)
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    return build_model("small_cnn", 3, weights_path=str(path))


@file
def truncated_surrogate(tmp: Path) -> Path:
    """The bundled surrogate fit, cut in half."""
    from envs.surrogate import WEIGHTS
    path = tmp / "surrogate.npz"
    path.write_bytes(DAMAGE["truncated"](WEIGHTS.read_bytes()))
    return path


# ---------------------------------------------------------------- stores and runs

def store(tmp: Path, kind_name: str, task_set: str = "digits-v1") -> Path:
    """A store of ``kind_name`` (``training.core.jsonl.KINDS``) with a header and three
    records that carry every key of the kind (placeholder values): enough for any reader
    to tell its kind and task set."""
    from training.core import jsonl
    kind = jsonl.KINDS[kind_name]
    lines = [jsonl.header_line(kind, {"task_set": task_set})]
    for i in range(3):
        record = {**{key: f"{key}-{i}" for key in sorted(kind.keys)}, "seed": i}
        lines.append({"name": f"run{i}", "seed": i, "result": record} if kind.runs else record)
    path = tmp / "stores" / f"{kind_name}-{task_set}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _cut(path: Path) -> Path:
    """``path`` with its last line cut short, as a kill mid-write leaves it."""
    path.write_bytes(path.read_bytes()[:-12])
    return path


def _runs(path: Path, kind_name: str, results: list[dict[str, Any]]) -> Path:
    from training.core import jsonl
    lines = [jsonl.header_line(jsonl.KINDS[kind_name], {"task_set": "digits-v1"})]
    lines += [{"name": f"{r['method']}|{r['seed']}", "seed": r["seed"], "result": r}
              for r in results]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


SBS = "panel:none+sgd+constant+bce"


def headroom_runs(tmp: Path) -> Path:
    """A two-task headroom store: the expert and the SBS on held-out tasks 1 and 2, seed 0."""
    results = [{"label": f"heldout:{t}", "method": m, "seed": 0, "test_mAP": mAP}
               for t in (1, 2) for m, mAP in (("expert", 60.0 + t), (SBS, 50.0))]
    return _runs(tmp / "headroom.jsonl", "headroom", results)


def zero_shot_runs(tmp: Path) -> Path:
    """A zero-shot store of the same two tasks: the SBS (as its panel-best) and a controller."""
    results = [{"target": f"heldout {t}: task{t}", "method": m, "seed": 0, "test_mAP": mAP}
               for t in (1, 2) for m, mAP in (("static panel-best", 50.0), ("zoo:x", 55.0))]
    return _runs(tmp / "zero_shot.jsonl", "zero-shot", results)


@file
def headroom_store(tmp: Path) -> Path:
    return headroom_runs(tmp)


@file
def zero_shot_store(tmp: Path) -> Path:
    return zero_shot_runs(tmp)


@file
def cut_headroom_store(tmp: Path) -> Path:
    """:func:`headroom_runs` plus a third task's run cut short by a kill."""
    path = headroom_runs(tmp)
    with path.open("a") as f:
        f.write(json.dumps({"name": "x", "seed": 0, "result": {"label": "heldout:3"}}) + "\n")
    return _cut(path)


@file
def cut_zero_shot_store(tmp: Path) -> Path:
    path = zero_shot_runs(tmp)
    with path.open("a") as f:
        f.write(json.dumps({"name": "x", "seed": 0, "result": {"target": "heldout 3"}}) + "\n")
    return _cut(path)


@file
def cut_protocol_store(tmp: Path) -> Path:
    """A copy of the committed protocol store of digits-v1 with its last line cut short."""
    path = tmp / "protocol-digits-v1.jsonl"
    shutil.copyfile(RESULTS / "runs" / "protocol-digits-v1.jsonl", path)
    return _cut(path)


@file
def default_task_store(tmp: Path) -> Path:
    """The committed headroom store of ``make run``'s task (read, never written)."""
    return RESULTS / "runs" / "default_task-digits-v1.jsonl"


@file
def unfinished_run(tmp: Path) -> Path:
    """A run folder that passes the form check (best/ and summary.json) but whose best/
    holds no saved controller."""
    run = tmp / "run"
    (run / "best").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"algo": "mat-dqn"}))
    return run


@file
def voc_with_empty_image(tmp: Path) -> Path:
    """A VOC data root whose image 000003 is a zero-byte file."""
    return replace_voc_image(tmp, b"")
