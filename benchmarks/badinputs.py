"""The bad-input corpus: every case, what it must produce, and where it is tested.

``tests/test_bad_inputs.py`` runs the cases defined here; ``benchmarks/reliability.py``
renders the same lists (plus the results of a pytest run) into
``benchmarks/results/reliability.md``. The corpus lives in the benchmarks package so that
the report needs nothing from ``tests/``; the tests import it from here. Five kinds of
entries:

* :data:`ERRORS` - API calls that must raise a specific project exception whose message
  names the culprit (file, field or value) AND says how to fix it;
* :data:`CLI_ERRORS` - ``python -m training.run_marl`` arguments that must exit with code 2
  and a one-paragraph ``error: ...`` (no traceback) naming the culprit and the fix;
* :data:`OTHER` - inputs that load correctly, are skipped with one counted warning, or are a
  documented limitation; each is a named test in ``test_bad_inputs.py``;
* :data:`ELSEWHERE` - cases already covered by another test file (referenced, not repeated).
* :data:`FAULTS` - faults during a run (divergence, signals, kill -9, full disk), each a
  named test in ``tests/test_faults.py``.

Message checks take ``{tmp}`` placeholders, filled with the test's temporary folder.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

import envs
from agents.errors import BeginNeededError, UnknownAlgorithmError, UnknownCuriosityError
from benchmarks import tiny_datasets as fd
from envs.errors import (ConfigError, CorruptImageError, DatasetFormatError,
                         DatasetNotFoundError, InvalidActionError, ResetNeededError,
                         UnknownEnvError)

TINY: dict[str, Any] = dict(image_size=16, max_train_images=32, max_decisions=2,
                            steps_per_decision=1, batch_size=16)
"""Env overrides that build and step a digits env in a fraction of a second."""
TINY_FLAGS = ["--image-size", "16", "--max-train-images", "32", "--max-decisions", "1",
              "--steps-per-decision", "1", "--batch-size", "16", "--no-progress"]
OK_ACTION = {"aug": 0, "opt": 0, "lrs": 0, "loss": 0}


@dataclass(frozen=True)
class ErrorCase:
    """An input that must raise ``error`` with a message containing ``names`` and ``fix``."""

    id: str
    group: str
    what: str
    trigger: Callable[[Path], Any]
    error: type[BaseException]
    names: tuple[str, ...]
    """Substrings naming the culprit: the file, field or value (``{tmp}`` = the temp folder)."""
    fix: tuple[str, ...]
    """Substrings that tell the user what to do."""
    gist: str
    """The message's gist, for the report."""


@dataclass(frozen=True)
class CliCase:
    """``run_marl`` arguments that must exit 2 with ``error: ...`` naming the culprit and fix."""

    id: str
    group: str
    what: str
    args: Callable[[Path], list[str]]
    names: tuple[str, ...]
    fix: tuple[str, ...]
    gist: str
    error: str = "ConfigError"
    code: int = 2
    prefix: str = "error: "
    needs_no_cuda: bool = False
    base: tuple[str, ...] = tuple(TINY_FLAGS)
    """Flags given before ``args`` (flags win over a --config file, so some cases drop one)."""


@dataclass(frozen=True)
class Entry:
    """A case tested by a dedicated test function (``node``), with the outcome for the report."""

    what: str
    group: str
    outcome: str
    node: str
    handled: bool = True
    """False for a documented limitation or a known gap (the test pins the current behaviour)."""
    notes: str = ""


# ---------------------------------------------------------------- data helpers

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


def stepped(tmp: Path, action: Any, agent: str = "aug"):
    """Step a fresh tiny env with ``action`` for ``agent`` and valid actions for the others."""
    env = tiny_env(tmp)
    env.reset(seed=0)
    return env.step({**OK_ACTION, agent: action})


def step_whole(actions: Any) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        env = tiny_env(tmp)
        env.reset(seed=0)
        return env.step(actions)
    return run


def joint_step(flatten: bool, action: Any) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        env = envs.make_joint("mlic-digits", flatten=flatten, **TINY)
        env.reset(seed=0)
        return env.step(action)
    return run


def write_image(path: Path, image: Image.Image, fmt: str, **save: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **save)
    return path


def _replace_voc_image(tmp: Path, data: bytes, image_id: str = "000003") -> Path:
    root = voc(tmp)
    (fd.voc_dir(root) / "JPEGImages" / f"{image_id}.jpg").write_bytes(data)
    return root


def _noise_jpeg_bytes(tmp: Path, keep: float = 1.0) -> bytes:
    data = fd.save_noise_jpeg(tmp / "noise.jpg", size=(128, 96)).read_bytes()
    return data[: int(len(data) * keep)]


def _split_file(voc_dir: Path, split: str) -> Path:
    return voc_dir / "ImageSets" / "Main" / f"{split}.txt"


def _voc_with_bad_image(data: Callable[[Path], bytes]) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        return voc_load(tmp, _replace_voc_image(tmp, data(tmp)))
    return run


def _decompression_bomb(tmp: Path) -> Any:
    root = voc(tmp)
    write_image(fd.voc_dir(root) / "JPEGImages" / "000003.jpg", Image.new("RGB", (300, 300)), "PNG")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 20_000  # 90,000 px is over twice the limit: PIL refuses it
    try:
        return voc_load(tmp, root)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _all_test_images_bad(tmp: Path) -> Any:
    root = voc(tmp)
    for image_id in fd.VOC_SPLITS["test"]:
        (fd.voc_dir(root) / "JPEGImages" / f"{image_id}.jpg").write_bytes(b"")
    return voc_load(tmp, root, "test", on_bad_image="skip")


def _voc_edit(edit: Callable[[Path], None], split: str = "train") -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        root = voc(tmp)
        edit(fd.voc_dir(root))
        return voc_load(tmp, root, split)
    return run


def _coco_edit(edit: Callable[[dict], Any], raw: str | None = None,
               images: bool = False) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        root = coco_root(tmp, images=images)
        path = coco_json(tmp)
        if raw is not None:
            path.write_text(raw)
        else:
            data = json.loads(path.read_text())
            data = edit(data) or data
            path.write_text(json.dumps(data))
        return envs.load_dataset("coco", "train", data_root=root, cache_dir=cache(tmp))
    return run


def _csv_labels(text: str, classes: bool = True) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        root = csv_root(tmp, classes=classes)
        (root / "labels.csv").write_text(text)
        return csv_load(tmp)
    return run


def _csv_bytes(data: bytes) -> Callable[[Path], Any]:
    def run(tmp: Path) -> Any:
        root = csv_root(tmp)
        (root / "labels.csv").write_bytes(data)
        return csv_load(tmp)
    return run


def _csv_no_label_file(tmp: Path) -> Any:
    root = csv_root(tmp)
    (root / "labels.csv").unlink()
    return csv_load(tmp)


def _csv_train_without_test(tmp: Path) -> Any:
    root = fd.write_csv_splits(tmp / "csv")
    (root / "test.csv").unlink()
    return envs.load_splits("csv", data_root=root, cache_dir=cache(tmp))


def _voc_root_is_file(tmp: Path) -> Any:
    (tmp / "voc.tar").write_bytes(b"not a folder")
    return voc_load(tmp, tmp / "voc.tar")


def _voc_root_is_jpegimages(tmp: Path) -> Any:
    return voc_load(tmp, fd.voc_dir(voc(tmp)) / "JPEGImages")


def _voc_without_jpegimages(tmp: Path) -> Any:
    root = voc(tmp)
    shutil.rmtree(fd.voc_dir(root) / "JPEGImages")
    return voc_load(tmp, root)


def _coco_without_image_folder(tmp: Path) -> Any:
    return envs.load_dataset("coco", "train", data_root=coco_root(tmp, images=False),
                             cache_dir=cache(tmp))


def _missing_weights(tmp: Path) -> Any:
    return envs.make("mlic-digits", weights_path=str(tmp / "backbone.pt"), **TINY)


def _cuda_without_gpu(tmp: Path) -> Any:
    import pytest
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    return envs.make("mlic-digits", device="cuda", **TINY)


def _unknown_algorithm(tmp: Path) -> Any:
    from agents import make_controller
    return make_controller("matdqn", None, seed=0)  # the name is checked before the env


def _unknown_curiosity(tmp: Path) -> Any:
    from agents.rewards.curiosity import make_curiosity
    from envs.fakes import CooperativeFakeEnv
    return make_curiosity("icn", CooperativeFakeEnv(), seed=0)


def _observe_before_begin(tmp: Path) -> Any:
    from agents import Transition, make_controller
    from envs.fakes import CooperativeFakeEnv
    env = CooperativeFakeEnv()
    controller = make_controller("mat-dqn", env, seed=0)
    obs, _ = env.reset(seed=0)
    actions = controller.act(obs)
    next_obs, rewards, terms, truncs, infos = env.step(actions)
    return controller.observe(Transition(obs, actions, rewards, next_obs, terms, truncs, infos))


def _step_before_reset(tmp: Path) -> Any:
    env = tiny_env(tmp)
    return env.step({a: 0 for a in env.possible_agents})


def _action_names(tmp: Path) -> Any:
    return tiny_env(tmp).action_names("lr")


VOC = "{tmp}/voc/VOCdevkit/VOC2007"

# ---------------------------------------------------------------- API error cases

ERRORS: list[ErrorCase] = [
    # --- unknown names
    ErrorCase("env_id_wrong_case", "names", "env id in the wrong case: envs.make('MLIC-Digits')",
              lambda tmp: envs.make("MLIC-Digits"), UnknownEnvError,
              ("'MLIC-Digits'",), ("Did you mean 'mlic-digits'", "Registered ids"),
              "unknown env id 'MLIC-Digits'. Did you mean 'mlic-digits'? Registered ids: ..."),
    ErrorCase("env_id_underscore", "names", "env id with '_' for '-': envs.make('mlic_voc')",
              lambda tmp: envs.make("mlic_voc"), UnknownEnvError,
              ("'mlic_voc'",), ("Did you mean 'mlic-voc'",),
              "unknown env id 'mlic_voc'. Did you mean 'mlic-voc'? ..."),
    ErrorCase("unknown_algorithm_api", "names", "agents.make_controller('matdqn', env)",
              _unknown_algorithm, UnknownAlgorithmError,
              ("'matdqn'",), ("did you mean 'mat-dqn'", "Known:"),
              "unknown algorithm 'matdqn'; did you mean 'mat-dqn'? Known: ..."),
    ErrorCase("unknown_curiosity_api", "names", "agents.rewards.make_curiosity('icn', env)",
              _unknown_curiosity, UnknownCuriosityError,
              ("'icn'",), ("did you mean 'icm'", "Known:"),
              "unknown curiosity module 'icn'; did you mean 'icm'? Known: icm, rnd"),
    ErrorCase("observe_before_begin", "names", "mat-dqn's observe() before begin(total_steps)",
              _observe_before_begin, BeginNeededError,
              ("'mat-dqn'",), ("begin(total_steps=N)",),
              "'mat-dqn' schedules over the run: call controller.begin(total_steps=N) ..."),
    ErrorCase("step_before_reset", "names", "env.step() before the first reset()",
              _step_before_reset, ResetNeededError,
              ("step",), ("reset()",), "... call reset() before step()"),
    ErrorCase("reward_weight_nan", "names", "envs.RewardConfig(w_map=nan)",
              lambda tmp: envs.RewardConfig(w_map=float("nan")), ConfigError,
              ("RewardConfig.w_map", "nan"), ("finite number",),
              "RewardConfig.w_map must be a finite number, got nan"),
    ErrorCase("unknown_agent_in_agents_string", "names", "envs.make(..., agents='aug,lr')",
              lambda tmp: envs.make_config("mlic-digits", agents="aug,lr"), ConfigError,
              ("'lr'",), ("non-empty subset of", "'aug', 'opt', 'lrs', 'loss'"),
              "agents=('aug', 'lr') is invalid: give a non-empty subset of (...) (unknown: "
              "['lr'])"),
    ErrorCase("agents_not_a_list", "names", "envs.make(..., agents=5)",
              lambda tmp: envs.make_config("mlic-digits", agents=5), ConfigError,
              ("agents", "5"), ("comma-separated string such as 'aug,opt'",),
              "agents must be a list of agent ids or a comma-separated string ..., got 5"),
    ErrorCase("unknown_agent_action_names", "names", "env.action_names('lr')",
              _action_names, ConfigError, ("'lr'",), ("agents are ['aug', 'opt', 'lrs', 'loss']",),
              "unknown agent 'lr'; agents are [...]"),
    # --- data roots and layout
    ErrorCase("voc_root_is_a_file", "data root and layout",
              "data_root is a file (an unextracted tar)",
              _voc_root_is_file, DatasetNotFoundError,
              ("{tmp}/voc.tar",), ("Expected layout", "download=True", "mlic-digits"),
              "dataset 'voc' not found under data root ...; Looked at / Expected layout / How to "
              "get it"),
    ErrorCase("voc_root_is_jpegimages", "data root and layout",
              "data_root points inside the tree (at JPEGImages/)", _voc_root_is_jpegimages,
              DatasetNotFoundError, (VOC + "/JPEGImages",),
              ("<root>/VOCdevkit/VOC2007/", "ImageSets/Main"),
              "dataset 'voc' not found under data root .../JPEGImages; expected layout ..."),
    ErrorCase("voc_without_jpegimages", "data root and layout",
              "VOC tree without JPEGImages/ (only the annotations extracted)",
              _voc_without_jpegimages, DatasetNotFoundError, (VOC + "/JPEGImages",),
              ("Extract the JPEGImages/ folder", "download=True"),
              ".../JPEGImages does not exist ...; extract the JPEGImages/ folder of the official "
              "archive ..."),
    ErrorCase("coco_without_image_folder", "data root and layout",
              "COCO annotations present but no train2014/ image folder",
              _coco_without_image_folder, DatasetNotFoundError,
              ("{tmp}/coco/train2014", "instances_train2014.json"), ("'2014 Train images'",),
              "the COCO train2014 images are missing: found ...json but no folder ...; download "
              "..."),
    ErrorCase("csv_folder_without_label_file", "data root and layout",
              "CSV folder with images but no labels.csv / train.csv", _csv_no_label_file,
              DatasetNotFoundError, ("{tmp}/csv/labels.csv", "{tmp}/csv/train.csv"),
              ("Expected layout", "rows 'filename,label1|label2|...'"),
              "dataset 'csv' not found under data root ...; Looked at / Expected layout"),
    ErrorCase("csv_train_without_test", "data root and layout", "CSV train.csv without test.csv",
              _csv_train_without_test, DatasetNotFoundError, ("{tmp}/csv", "test.csv"),
              ("add test.csv", "labels.csv"),
              "... has train.csv but no test.csv; add test.csv, or put every row in labels.csv"),
    ErrorCase("voc_split_file_not_text", "data root and layout", "binary VOC split file",
              _voc_edit(lambda d: _split_file(d, "val").write_bytes(b"\xff\xfe\x00x\n"),
                        "val"), DatasetFormatError,
              (VOC + "/ImageSets/Main/val.txt",), ("one image id per line", "re-extract it"),
              "cannot read VOC split file ...: 'utf-8' codec ...; re-extract it ..."),
    ErrorCase("voc_split_lists_unknown_id", "data root and layout",
              "VOC split file lists an id without annotation",
              _voc_edit(lambda d: _split_file(d, "val").write_text("000005\n999999\n"),
                        "val"), DatasetNotFoundError,
              (VOC + "/Annotations/999999.xml",), ("re-extract it", "remove the id"),
              "VOC annotation .../999999.xml does not exist but its id is listed ...; re-extract "
              "..."),
    ErrorCase("csv_label_file_empty", "data root and layout", "labels.csv with only a header row",
              _csv_labels("filename,labels\n"), DatasetFormatError,
              ("{tmp}/csv/labels.csv",), ("add one row 'filename,label1|label2|...'",),
              "label file .../labels.csv has no rows; add one row ... per image"),
    ErrorCase("csv_label_file_not_utf8", "data root and layout",
              "labels.csv that is not UTF-8 text",
              _csv_bytes(b"\xff\xfe\x00\x01garbage"), DatasetFormatError,
              ("{tmp}/csv/labels.csv",), ("UTF-8 CSV text",),
              "cannot read label file ...: 'utf-8' codec ...; it must be UTF-8 CSV text ..."),
    # --- images
    ErrorCase("html_page_saved_as_jpg", "images", "an HTML error page saved as .jpg",
              _voc_with_bad_image(lambda tmp: b"<html><body>404 Not Found</body></html>"),
              CorruptImageError, (VOC + "/JPEGImages/000003.jpg", "cannot identify"),
              ("re-download it", "on_bad_image='skip'", "--on-bad-image skip"),
              "cannot decode image ...: UnidentifiedImageError ...; re-download it, delete it, or "
              "on_bad_image='skip'"),
    ErrorCase("jpeg_header_only", "images", "a JPEG cut after 20 bytes (header only)",
              _voc_with_bad_image(lambda tmp: _noise_jpeg_bytes(tmp)[:20]), CorruptImageError,
              (VOC + "/JPEGImages/000003.jpg",), ("re-download it", "on_bad_image='skip'"),
              "cannot decode image ...: UnidentifiedImageError ... corrupt or truncated ..."),
    ErrorCase("jpeg_truncated_at_99_percent", "images", "a JPEG missing its last 1% of bytes",
              _voc_with_bad_image(lambda tmp: _noise_jpeg_bytes(tmp, keep=0.99)),
              CorruptImageError, (VOC + "/JPEGImages/000003.jpg", "truncated"),
              ("re-download it", "on_bad_image='skip'"),
              "cannot decode image ...: OSError: image file is truncated ...; re-download it ..."),
    ErrorCase("decompression_bomb", "images", "an image over PIL's decompression-bomb limit",
              _decompression_bomb, CorruptImageError,
              (VOC + "/JPEGImages/000003.jpg", "DecompressionBombError"),
              ("MAX_IMAGE_PIXELS", "on_bad_image='skip'"),
              "cannot decode image ...: DecompressionBombError ... raise "
              "PIL.Image.MAX_IMAGE_PIXELS, or ..."),
    ErrorCase("every_image_unreadable_with_skip", "images",
              "on_bad_image='skip' and every image of the split unreadable", _all_test_images_bad,
              DatasetFormatError, ("voc/test", "000007.jpg"), ("Fix the data",),
              "voc/test has no usable images: all 13 of its images are missing or unreadable ..."),
    # --- annotations
    ErrorCase("voc_annotation_zero_bytes", "annotations", "a zero-byte VOC annotation XML",
              _voc_edit(lambda d: (d / "Annotations" / "000001.xml").write_text("")),
              DatasetFormatError, (VOC + "/Annotations/000001.xml",),
              ("Fix the XML", "re-extract it"),
              "malformed VOC annotation ...: no element found ... Fix the XML, or re-extract it "
              "..."),
    ErrorCase("coco_json_top_level_list", "annotations", "COCO json whose top level is a list",
              _coco_edit(lambda d: None, raw="[]"), DatasetFormatError,
              ("{tmp}/coco/annotations/instances_train2014.json", "'images'"),
              ("unmodified instances_*2014.json",),
              "COCO annotation file ...: the top level has no key 'images'; use the unmodified "
              "..."),
    ErrorCase("coco_json_empty", "annotations", "an empty COCO json file",
              _coco_edit(lambda d: None, raw=""), DatasetFormatError,
              ("{tmp}/coco/annotations/instances_train2014.json",), ("truncated or not JSON",),
              "cannot parse COCO annotation file ...: Expecting value ... It is truncated or not "
              "JSON; ..."),
    ErrorCase("coco_categories_not_a_list", "annotations", "COCO 'categories' is an object",
              _coco_edit(lambda d: d.update(categories={})), DatasetFormatError,
              ("instances_train2014.json", "'categories'", "dict"),
              ("unmodified instances_*2014.json",),
              "COCO annotation file ...: 'categories' must be a list, got dict; ..."),
    ErrorCase("coco_file_name_null", "annotations", "a COCO image whose file_name is null",
              _coco_edit(lambda d: d["images"][0].update(file_name=None)), DatasetFormatError,
              ("instances_train2014.json", "images[0]['file_name']", "None"),
              ("unmodified instances_*2014.json",),
              "COCO annotation file ...: images[0]['file_name'] must be a non-empty string, got "
              "None"),
    ErrorCase("coco_no_annotations_at_all", "annotations", "a COCO json with no annotation",
              _coco_edit(lambda d: d.update(annotations=[])), DatasetFormatError,
              ("instances_train2014.json", "none of its 35 images"),
              ("unmodified instances_*2014.json",),
              "COCO annotation file ...: none of its 35 images has an annotation ..."),
    # --- labels
    ErrorCase("csv_duplicate_filename", "labels", "an image listed twice with different labels",
              _csv_labels("filename,labels\na.jpg,apple\nb.jpg,mango\na.jpg,zebra\n"),
              DatasetFormatError, ("{tmp}/csv/labels.csv", "line 4", "a.jpg", "line 2"),
              ("list each image once", "'a.jpg,cat|dog'"),
              "labels.csv, line 4: a.jpg is listed again (first on line 2); list each image once "
              "..."),
    ErrorCase("csv_semicolon_separator", "labels", "labels joined by ';' instead of '|'",
              _csv_labels("a.jpg,apple;mango\nb.jpg,mango\nd.jpg,zebra\n", classes=False),
              DatasetFormatError, ("{tmp}/csv/labels.csv", "line 1", "'apple;mango'"),
              ("'apple|mango'", "classes.txt"),
              "labels.csv, line 1 (a.jpg): label 'apple;mango' contains ';' - write 'apple|mango' "
              "..."),
    ErrorCase("csv_semicolon_with_classes_txt", "labels",
              "';'-joined labels with classes.txt present",
              _csv_labels("a.jpg,apple;mango\nb.jpg,mango\n"), DatasetFormatError,
              ("{tmp}/csv/labels.csv", "'apple;mango'"),
              ("separated by '|'", "add the class to classes.txt"),
              "unknown label 'apple;mango' (labels are separated by '|', not ';'); classes.txt "
              "lists ..."),
    ErrorCase("csv_no_row_has_a_label", "labels",
              "labels.csv without a label column (classes.txt present)",
              _csv_labels("a.jpg\nb.jpg\nd.jpg\n"), DatasetFormatError,
              ("{tmp}/csv/labels.csv", "none of its 3 rows"), ("'filename,label1|label2|...'",),
              "label file ...: none of its 3 rows has a label (is the label column missing?) ..."),
    # --- actions
    ErrorCase("action_string", "actions", "action '1' (a string)",
              lambda tmp: stepped(tmp, "1"), InvalidActionError, ("'aug'", "'1'", "str"),
              ("an int in [0, 7]",),
              "action for agent 'aug' is '1' of type str: expected an int in [0, 7]"),
    ErrorCase("action_none", "actions", "action None", lambda tmp: stepped(tmp, None),
              InvalidActionError, ("'aug'", "None"), ("an int in [0, 7]",),
              "action for agent 'aug' is None ...: expected an int in [0, 7]"),
    ErrorCase("action_numpy_float", "actions", "action np.float32(1.0)",
              lambda tmp: stepped(tmp, np.float32(1.0)), InvalidActionError, ("'aug'", "float32"),
              ("an int in [0, 7]",),
              "action for agent 'aug' is np.float32(1.0) of type float32: ..."),
    ErrorCase("action_numpy_nan", "actions", "action np.array(nan) (0-d float array)",
              lambda tmp: stepped(tmp, np.array(np.nan)), InvalidActionError, ("'aug'", "NaN"),
              ("an int in [0, 7]",), "action for agent 'aug' is NaN of type float: ..."),
    ErrorCase("action_vector", "actions", "action np.array([1, 2]) for one agent",
              lambda tmp: stepped(tmp, np.array([1, 2])), InvalidActionError,
              ("'aug'", "array([1, 2])"),
              ("an int in [0, 7]",),
              "action for agent 'aug' is array([1, 2]) of type ndarray: ..."),
    ErrorCase("action_huge_int", "actions", "action 2**70",
              lambda tmp: stepped(tmp, 2 ** 70), InvalidActionError, ("'aug'", str(2 ** 70)),
              ("an int in [0, 7]",),
              "action 1180591620717411303424 for agent 'aug' is out of range: ..."),
    ErrorCase("actions_none", "actions", "env.step(None)", step_whole(None), InvalidActionError,
              ("NoneType",), ("dict mapping each agent to an int", "['aug', 'opt', 'lrs', 'loss']"),
              "actions must be a dict mapping each agent to an int, got NoneType; expected keys "
              "[...]"),
    ErrorCase("joint_flat_float", "actions", "joint (flattened) action 1.5",
              joint_step(True, 1.5), InvalidActionError, ("1.5",), ("an int in [0, 1199]",),
              "joint action 1.5 must be an int in [0, 1199]"),
    ErrorCase("joint_multidiscrete_out_of_range", "actions", "MultiDiscrete action [1, 2, 3, 99]",
              joint_step(False, [1, 2, 3, 99]), InvalidActionError, ("99", "'loss'"),
              ("an int in [0, 4]",),
              "action 99 for agent 'loss' is out of range: expected an int in [0, 4]"),
    ErrorCase("joint_multidiscrete_floats", "actions", "MultiDiscrete action of floats",
              joint_step(False, np.array([1.0, 2.0, 3.0, 0.0])), InvalidActionError,
              ("'aug'", "float64"), ("an int in [0, 7]",),
              "action for agent 'aug' is np.float64(1.0) of type float64: expected an int in [0, "
              "7]"),
    # --- sizes and settings
    ErrorCase("image_size_negative", "sizes and settings", "envs.make(image_size=-16)",
              lambda tmp: envs.make_config("mlic-digits", image_size=-16), ConfigError,
              ("image_size", "-16"), ("must be a positive integer",),
              "image_size must be a positive integer, got -16"),
    ErrorCase("batch_size_zero", "sizes and settings", "envs.make(batch_size=0)",
              lambda tmp: envs.make_config("mlic-digits", batch_size=0), ConfigError,
              ("batch_size", "0"), ("must be a positive integer",),
              "batch_size must be a positive integer, got 0"),
    ErrorCase("image_size_too_small", "sizes and settings", "envs.make(image_size=4) (below 8 px)",
              lambda tmp: envs.make("mlic-digits", image_size=4), ConfigError,
              ("image_size", "4"), ("an int in 8..1024",),
              "image_size must be an int in 8..1024, got 4"),
    ErrorCase("image_size_float", "sizes and settings", "envs.make(image_size=32.0)",
              lambda tmp: envs.make_config("mlic-digits", image_size=32.0), ConfigError,
              ("image_size", "32.0"), ("must be a positive integer",),
              "image_size must be a positive integer, got 32.0"),
    ErrorCase("steps_per_decision_negative", "sizes and settings",
              "envs.make(steps_per_decision=-1)",
              lambda tmp: envs.make_config("mlic-digits", steps_per_decision=-1), ConfigError,
              ("steps_per_decision", "-1"), ("must be a positive integer",),
              "steps_per_decision must be a positive integer, got -1"),
    ErrorCase("device_unknown", "sizes and settings", "envs.make(device='tpu')",
              lambda tmp: envs.make_config("mlic-digits", device="tpu"), ConfigError,
              ("'tpu'",), ("use 'cpu', 'cuda'",),
              "device 'tpu' is not a torch device (...); use 'cpu', 'cuda' or 'cuda:<index>'"),
    ErrorCase("device_cuda_without_gpu", "sizes and settings",
              "envs.make(device='cuda') on a CPU machine",
              _cuda_without_gpu, ConfigError, ("'cuda'", "CUDA is not available"),
              ("device='cpu'",),
              "device 'cuda': CUDA is not available (...); use device='cpu' (--device cpu)"),
    ErrorCase("amp_unknown", "sizes and settings",
              "envs.make(amp='fp8') (fails before loading data)",
              lambda tmp: envs.make_config("mlic-digits", amp="fp8"), ConfigError,
              ("amp='fp8'",), ("('none', 'bf16', 'fp16')",),
              "amp='fp8' is not one of ('none', 'bf16', 'fp16')"),
    ErrorCase("weights_path_missing", "sizes and settings",
              "envs.make(weights_path=<missing file>)",
              _missing_weights, ConfigError, ("{tmp}/backbone.pt",),
              ("leave weights_path unset",),
              "weights_path '.../backbone.pt' is not a file: pass the path of a saved backbone "
              "state_dict ..."),
    ErrorCase("on_bad_image_unknown", "sizes and settings", "envs.make(on_bad_image='ignore')",
              lambda tmp: envs.make_config("mlic-digits", on_bad_image="ignore"), ConfigError,
              ("'ignore'",), ("('error', 'skip')",),
              "on_bad_image must be one of ('error', 'skip'), got 'ignore'"),
]


# ---------------------------------------------------------------- CLI error cases

def _yaml(text: str) -> Callable[[Path], list[str]]:
    def args(tmp: Path) -> list[str]:
        path = tmp / "run.yaml"
        path.write_text(text)
        return ["--config", str(path)]
    return args


def _out_is_file(tmp: Path) -> list[str]:
    (tmp / "taken").write_text("a file, not a folder")
    return ["--out", str(tmp / "taken")]


def _voc_corrupt_cli(tmp: Path) -> list[str]:
    root = _replace_voc_image(tmp, b"")
    return ["--env", "mlic-voc", "--data-root", str(root), "--algo", "static"]


CLI_ERRORS: list[CliCase] = [
    CliCase("config_file_missing", "config file", "--config pointing at a missing file",
            lambda tmp: ["--config", str(tmp / "nope.yaml")], ("{tmp}/nope.yaml",),
            ("pass the path of an existing YAML file",),
            "cannot read --config file .../nope.yaml: No such file or directory; pass the path "
            "..."),
    CliCase("config_not_yaml", "config file", "--config file with a YAML syntax error",
            _yaml("algo: [bandit\n"), ("{tmp}/run.yaml", "not valid YAML"), ("Fix the syntax",),
            "--config file ... is not valid YAML: ... Fix the syntax: one 'key: value' line per "
            "setting"),
    CliCase("config_top_level_list", "config file", "--config file holding a list",
            _yaml("- algo\n- bandit\n"), ("{tmp}/run.yaml", "got list"), ("'key: value' line",),
            "--config file ... must hold a mapping of settings, got list: write one 'key: value' "
            "line ..."),
    CliCase("config_unknown_key_suggests", "config file", "--config key 'max-decision' (typo)",
            _yaml("max-decision: 2\n"), ("'max_decision'",),
            ("did you mean 'max_decisions'", "Valid keys"),
            "unknown key(s) in --config file ...: 'max_decision' (did you mean 'max_decisions'?). "
            "Valid keys: ..."),
    CliCase("config_seed_not_int", "config file", "--config 'seed: abc'", _yaml("seed: abc\n"),
            ("--seed", "'abc'"), ("non-negative integer",),
            "--seed must be a non-negative integer, got 'abc'"),
    CliCase("config_agents_not_list", "config file", "--config 'agents: 5'", _yaml("agents: 5\n"),
            ("--agents", "5"), ("comma-separated string or a list",),
            "--agents must be a comma-separated string or a list of agent ids from "
            "aug,opt,lrs,loss, got 5"),
    CliCase("config_beta_not_number", "config file", "--config 'beta: lots'", _yaml("beta: lots\n"),
            ("--beta", "'lots'"), ("finite number >= 0",),
            "--beta must be a finite number >= 0, got 'lots'"),
    CliCase("config_resume_not_bool", "config file", "--config 'resume: maybe'",
            _yaml("resume: maybe\n"),
            ("--resume", "'maybe'"), ("true or false",),
            "--resume must be true or false, got 'maybe'"),
    CliCase("config_image_size_text", "config file", "--config 'image_size: big'",
            _yaml("image_size: big\n"), ("--image-size", "'big'"), ("positive integer",),
            "--image-size must be a positive integer, got 'big'",
            base=tuple(TINY_FLAGS[2:]) + ("--algo", "static")),
    CliCase("cli_negative_seed", "sizes and settings", "--seed -1", lambda tmp: ["--seed", "-1"],
            ("--seed", "-1"), ("non-negative integer",),
            "--seed must be a non-negative integer, got -1"),
    CliCase("cli_max_decisions_zero", "sizes and settings", "--max-decisions 0",
            lambda tmp: ["--max-decisions", "0"], ("max_decisions", "0"), ("positive integer",),
            "max_decisions must be a positive integer, got 0"),
    CliCase("cli_max_train_images_zero", "sizes and settings", "--max-train-images 0",
            lambda tmp: ["--max-train-images", "0"], ("max_train_images", "0"),
            ("positive integer",),
            "max_train_images must be a positive integer, got 0"),
    CliCase("cli_episodes_zero", "sizes and settings", "--episodes 0",
            lambda tmp: ["--episodes", "0"],
            ("--episodes", "0"), ("positive integer",),
            "--episodes must be a positive integer, got 0"),
    CliCase("cli_unknown_device", "sizes and settings", "--device tpu",
            lambda tmp: ["--device", "tpu"],
            ("'tpu'",), ("use 'cpu', 'cuda'",),
            "device 'tpu' is not a torch device (...); use 'cpu', ..."),
    CliCase("cli_cuda_without_gpu", "sizes and settings", "--device cuda on a CPU machine",
            lambda tmp: ["--device", "cuda", "--algo", "static"],
            ("'cuda'", "CUDA is not available"),
            ("--device cpu",),
            "device 'cuda': CUDA is not available (...); use device='cpu' (--device cpu)",
            needs_no_cuda=True),
    CliCase("cli_unknown_on_bad_image", "sizes and settings", "--on-bad-image ignore",
            lambda tmp: ["--on-bad-image", "ignore"], ("--on-bad-image", "'ignore'"),
            ("choose from 'error', 'skip'",),
            "argparse: invalid choice: 'ignore' (choose from 'error', 'skip')",
            error="argparse usage error", prefix="usage: "),
    CliCase("cli_out_is_a_file", "output", "--out naming an existing file",
            _out_is_file, ("{tmp}/taken", "File exists"),
            ("Pick a writable directory with --out DIR",),
            "cannot write to --out .../taken: File exists. Pick a writable directory with --out "
            "DIR."),
    CliCase("cli_out_under_proc", "output", "--out under /proc (not creatable)",
            lambda tmp: ["--out", "/proc/mlic-run/out"], ("/proc/mlic-run/out",),
            ("Pick a writable directory with --out DIR",),
            "cannot write to --out /proc/mlic-run/out: No such file or directory. Pick a writable "
            "..."),
    CliCase("cli_load_agents_missing", "output", "--load-agents pointing at a missing folder",
            lambda tmp: ["--load-agents", str(tmp / "agents")], ("{tmp}/agents", "does not exist"),
            ("pass the 'agents' folder of an earlier run",),
            "--load-agents .../agents does not exist: pass the 'agents' folder of an earlier run "
            "..."),
    CliCase("cli_corrupt_image_names_flag", "images", "--env mlic-voc with a zero-byte image",
            _voc_corrupt_cli, (VOC + "/JPEGImages/000003.jpg", "empty (0 bytes)"),
            ("--on-bad-image skip",),
            "cannot decode image ...: the file is empty (0 bytes) ... or pass on_bad_image='skip' "
            "(run_marl: --on-bad-image skip)",
            error="CorruptImageError"),
]


# ---------------------------------------------------------------- dedicated tests

T = "tests/test_bad_inputs.py::"
OTHER: list[Entry] = [
    Entry("grayscale (L) JPEG", "images", "loads as RGB (R = G = B = luma)",
          T + "test_image_modes_load_as_rgb[grayscale_jpeg]"),
    Entry("CMYK JPEG", "images", "loads as RGB, colour within 4 levels",
          T + "test_image_modes_load_as_rgb[cmyk_jpeg]"),
    Entry("CMYK TIFF named .jpg", "images", "loads as RGB",
          T + "test_image_modes_load_as_rgb[cmyk_tiff_as_jpg]"),
    Entry("palette PNG", "images", "loads as RGB", T + "test_image_modes_load_as_rgb[palette_png]"),
    Entry("palette PNG with a transparent index", "images", "loads as RGB",
          T + "test_image_modes_load_as_rgb[palette_png_transparency]"),
    Entry("palette GIF named .jpg", "images", "loads as RGB",
          T + "test_image_modes_load_as_rgb[gif_as_jpg]"),
    Entry("grayscale + alpha (LA) PNG", "images", "loads as RGB",
          T + "test_image_modes_load_as_rgb[la_png]"),
    Entry("1-bit PNG", "images", "loads as RGB (black/white)",
          T + "test_image_modes_load_as_rgb[bilevel_png]"),
    Entry("16-bit grayscale PNG", "images", "loads as RGB, rescaled to 8 bits",
          T + "test_image_modes_load_as_rgb[gray16_png]"),
    Entry("32-bit float TIFF (values in [0, 1])", "images",
          "loads as RGB, [0, 1] scaled to [0, 255] (was all black: fixed)",
          T + "test_image_modes_load_as_rgb[float_tiff]"),
    Entry("RGBA PNG", "images", "loads as RGB", T + "test_image_modes_load_as_rgb[rgba_png]"),
    Entry("WebP bytes named .jpg", "images", "loads as RGB (content sniffed)",
          T + "test_image_modes_load_as_rgb[webp_as_jpg]"),
    Entry("BMP bytes named .jpg", "images", "loads as RGB (content sniffed)",
          T + "test_image_modes_load_as_rgb[bmp_as_jpg]"),
    Entry("JPEG whose entropy-coded data is overwritten mid-stream", "images",
          "decodes with visible artefacts and no error (libjpeg pads/continues; not detectable "
          "without a checksum)", T + "test_corrupt_jpeg_body_is_a_documented_limitation",
          handled=False, notes="documented limitation"),
    Entry("a VOC annotation with no <object>", "labels",
          "skipped: image dropped, ONE warning with the count and an example XML; not repeated "
          "on a cached load", T + "test_voc_image_without_objects_is_dropped_with_one_warning"),
    Entry("COCO images without annotations", "labels",
          "skipped: dropped (ML-GCN convention), ONE warning with the count (was INFO)",
          T + "test_coco_images_without_annotations_dropped_with_one_warning"),
    Entry("CSV rows with an empty label field", "labels",
          "kept as negatives for every class (documented), ONE warning with the count",
          T + "test_csv_rows_without_labels_kept_with_one_warning"),
    Entry("envs.make(..., on_bad_image='skip') with a corrupt image", "images",
          "skipped: image dropped, ONE warning (the env could not skip before: fixed)",
          T + "test_env_on_bad_image_skip_drops_with_one_warning"),
    Entry("run_marl --on-bad-image skip with a corrupt image", "images",
          "run completes, ONE warning naming the file (new flag)",
          T + "test_cli_on_bad_image_skip_completes"),
    Entry("env.reset(seed=-1) / 1.5 / True / '3'", "actions",
          "ConfigError: reset(seed=...): the seed must be a non-negative int or None",
          T + "test_env_reset_rejects_bad_seeds"),
    Entry("an action on an episode that is over", "actions",
          "ResetNeededError: the episode is over: call reset() before step()",
          "tests/test_env.py::test_step_infos_and_truncation"),
]

CLI_FIX = "tests/test_run_marl.py::test_cli_errors_are_one_paragraph_with_the_fix"
ELSEWHERE: list[Entry] = [
    Entry("unknown env id 'mlic-vco' (envs.make)", "names",
          "UnknownEnvError: ... Did you mean 'mlic-voc'?",
          "tests/test_env.py::test_unknown_env_id_suggests_close_matches"),
    Entry("--env mlic-vco", "names", "exit 2, error: ... Did you mean 'mlic-voc'",
          CLI_FIX + "[args0-Did you mean 'mlic-voc']"),
    Entry("--algo mat-dq", "names", "exit 2, UnknownAlgorithmError: ... did you mean 'mat-dqn'",
          CLI_FIX + "[args1-mat-dqn]"),
    Entry("--curiosity rdn", "names", "exit 2, ConfigError: ... Did you mean 'rnd'?",
          CLI_FIX + "[args3-rnd]"),
    Entry("--agents aug,lr", "names", "exit 2 (argparse): unknown agent(s) ['lr']; choose from ...",
          "tests/test_run_marl.py::test_unknown_agent_name_in_flags"),
    Entry("envs.make(agents=('aug', 'nope')), agents=(), unknown override", "names", "ConfigError",
          "tests/test_env.py::test_bad_overrides_raise_config_error"),
    Entry("unknown dataset name / split / on_bad_image policy (load_dataset)", "names",
          "UnknownEnvError / ConfigError listing the valid ones",
          "tests/test_data_voc.py::test_unknown_names_and_options"),
    Entry("missing VOC data root", "data root and layout",
          "DatasetNotFoundError: every path looked at, the layout, the download URL, "
          "download=True, mlic-digits",
          "tests/test_data_voc.py::test_missing_root_names_paths_layout_and_digits"),
    Entry("missing COCO data root", "data root and layout",
          "DatasetNotFoundError: paths, layout, cocodataset.org",
          "tests/test_data_coco.py::test_missing_coco_names_paths_and_digits"),
    Entry("missing CSV data root", "data root and layout",
          "DatasetNotFoundError: paths looked at, mlic-digits",
          "tests/test_data_csv.py::test_missing_csv_dataset"),
    Entry("--env mlic-voc --data-root /nonexistent/voc", "data root and layout",
          "exit 2, DatasetNotFoundError",
          CLI_FIX + "[args2-mlic-digits]"),
    Entry("missing / empty VOC split file", "data root and layout",
          "DatasetNotFoundError naming test.txt / DatasetFormatError naming val.txt",
          "tests/test_data_voc.py::test_missing_and_empty_split_files"),
    Entry("VOC split id without annotation", "data root and layout",
          "DatasetNotFoundError naming the XML",
          "tests/test_data_voc.py::test_missing_annotation_for_listed_id"),
    Entry("truncated JPEG", "images",
          "CorruptImageError naming the file, re-download, on_bad_image='skip'",
          "tests/test_data_voc.py::test_corrupt_image_raises_naming_file_and_fix[truncated]"),
    Entry("zero-byte image", "images", "CorruptImageError: the file is empty (0 bytes) ...",
          "tests/test_data_voc.py::test_corrupt_image_raises_naming_file_and_fix[zero_bytes]"),
    Entry("garbage bytes named .jpg", "images", "CorruptImageError naming the file and the fix",
          "tests/test_data_voc.py::test_corrupt_image_raises_naming_file_and_fix[garbage]"),
    Entry("on_bad_image='skip' with 2 bad images", "images", "skipped, ONE warning 'skipped 2 ...'",
          "tests/test_data_voc.py::test_skip_drops_bad_images_with_one_warning"),
    Entry("missing image file", "images", "DatasetNotFoundError naming the file; skip drops it",
          "tests/test_data_voc.py::test_missing_image_file"),
    Entry("PNG bytes saved as .jpg", "images", "loads correctly (content sniffed)",
          "tests/test_data_voc.py::test_png_bytes_in_jpg_file_decode"),
    Entry("grayscale, CMYK, palette-PNG-as-.jpg in a VOC tree", "images",
          "load as RGB with the right colour",
          "tests/test_data_voc.py::test_images_decoded_in_label_order_all_modes"),
    Entry("RGBA, L, palette images in a CSV folder", "images", "load as RGB with the right colour",
          "tests/test_data_csv.py::test_every_colour_mode_decodes_to_rgb"),
    Entry("a skip-built cache read back under on_bad_image='error'", "images",
          "CorruptImageError naming the file",
          "tests/test_data_cache.py::test_skip_built_cache_still_raises_under_error"),
    Entry("corrupt / truncated / empty cache file", "images", "rebuilt, with a warning naming it",
          "tests/test_data_cache.py::test_unreadable_cache_file_is_rebuilt_with_warning"),
    Entry("malformed annotation XML", "annotations", "DatasetFormatError naming the XML",
          "tests/test_data_voc.py::test_malformed_xml"),
    Entry("unknown class name in a VOC XML", "annotations",
          "DatasetFormatError naming the XML, the name and the 20 classes",
          "tests/test_data_voc.py::test_unknown_class_names_file_and_value"),
    Entry("<difficult>yes</difficult>", "annotations",
          "DatasetFormatError: must be 0 or 1, got 'yes'",
          "tests/test_data_voc.py::test_bad_difficult_value"),
    Entry("COCO json missing images/annotations/categories/id/file_name/category_id/image_id",
          "annotations", "DatasetFormatError naming the file and the key (8 cases)",
          "tests/test_data_coco.py::test_missing_json_key_names_file_and_key"),
    Entry("COCO unknown category_id / image_id", "annotations", "DatasetFormatError naming the id",
          "tests/test_data_coco.py::test_unknown_category_and_image_ids"),
    Entry("truncated COCO json", "annotations", "DatasetFormatError naming the file",
          "tests/test_data_coco.py::test_malformed_json"),
    Entry("CSV unknown label", "labels", "DatasetFormatError naming file, line, image and label",
          "tests/test_data_csv.py::test_unknown_label_names_row_label_and_file"),
    Entry("CSV row naming a missing image", "labels", "DatasetNotFoundError naming the image",
          "tests/test_data_csv.py::test_missing_image_is_named"),
    Entry("CSV row with 3 fields; classes.txt with a duplicate", "labels",
          "DatasetFormatError naming line / file",
          "tests/test_data_csv.py::test_too_many_fields_and_duplicate_class"),
    Entry("COCO image without annotations is dropped", "labels",
          "dropped (labels of the rest exact)",
          "tests/test_data_coco.py::test_labels_exact_and_unannotated_image_dropped"),
    Entry("out-of-range, negative, float, NaN, bool, missing actions; a list for the dict",
          "actions",
          "InvalidActionError naming the agent, the value and [0, n-1] (7 cases)",
          "tests/test_env.py::test_bad_actions_name_agent_and_range"),
    Entry("action for an agent that is not active", "actions", "InvalidActionError: ... not active",
          "tests/test_env.py::test_removed_agent_keeps_its_default"),
    Entry("joint action out of range / wrong length", "actions", "InvalidActionError",
          "tests/test_joint.py::test_bad_joint_actions"),
    Entry("envs.make(image_size=0 / batch_size=-4 / max_decisions=0)", "sizes and settings",
          "ConfigError: ... must be a positive integer",
          "tests/test_env.py::test_bad_overrides_raise_config_error"),
    Entry("--image-size 0", "sizes and settings",
          "exit 2: image_size must be a positive integer, got 0",
          CLI_FIX + "[args4-image_size must be a positive integer]"),
    Entry("--batch-size -3", "sizes and settings",
          "exit 2: batch_size must be a positive integer, got -3",
          CLI_FIX + "[args5-batch_size must be a positive integer]"),
    Entry("bad trainer settings (amp, lr_scale, ...)", "sizes and settings", "ConfigError",
          "tests/test_trainer.py::test_bad_trainer_config"),
    Entry("--config file with an unknown key", "config file", "exit 2, ConfigError naming the key",
          "tests/test_run_marl.py::test_config_file_with_unknown_key"),
    Entry("unwritable --out (its parent is a file)", "output",
          "exit 2, ConfigError naming the path",
          "tests/test_run_marl.py::test_unwritable_out"),
    Entry("--resume without a checkpoint", "output",
          "exit 2, CheckpointError: no checkpoint at ...",
          CLI_FIX + "[args6-no checkpoint]"),
]

F = "tests/test_faults.py::"
FAULTS: list[Entry] = [
    Entry("LR blow-up (lr_scale=1e9): non-finite loss", "faults",
          "rolled back; infos[a]['train']['diverged'] True; penalty >= 1; observations finite; "
          "episode truncates",
          F + "test_lr_blow_up_rolls_back_penalises_and_continues"),
    Entry("20 random-action episodes on a tiny env", "faults",
          "no crash; observations in the space and finite; rewards finite",
          F + "test_random_episodes_stay_finite[20]"),
    Entry("100 random-action episodes (pytest -m slow)", "faults", "same, 100 episodes",
          F + "test_random_episodes_stay_finite[100]", notes="marked slow"),
    Entry("SIGINT during run_marl (real subprocess, real signal)", "faults",
          "checkpoint written, exit 130, message names --resume",
          F + "test_signal_stops_with_checkpoint_and_exit_code[SIGINT]"),
    Entry("SIGTERM during run_marl", "faults",
          "checkpoint written, exit 143, message names --resume",
          F + "test_signal_stops_with_checkpoint_and_exit_code[SIGTERM]"),
    Entry("--resume after SIGINT", "faults",
          "same test_mAP, best_val_mAP and steps.jsonl actions/rewards as an uninterrupted run",
          F + "test_resume_after_signal_matches_uninterrupted_run[SIGINT]"),
    Entry("--resume after SIGTERM", "faults", "same result as an uninterrupted run",
          F + "test_resume_after_signal_matches_uninterrupted_run[SIGTERM]"),
    Entry("a second signal while stopping (SIGINT then SIGTERM: abort)", "faults",
          "exit 130, no traceback (was a raw KeyboardInterrupt: fixed); the last complete "
          "checkpoint loads and the message names it and --resume",
          F + "test_second_signal_aborts_without_traceback"),
    Entry("kill -9 while a checkpoint is being written", "faults",
          "previous checkpoint loads complete; the leftover .tmp is removed by the next save",
          F + "test_kill_9_mid_write_keeps_previous_checkpoint"),
    Entry("truncated checkpoint (load_checkpoint)", "faults",
          "CheckpointError naming the file (12 cut points)",
          F + "test_truncated_checkpoint_is_a_clear_error"),
    Entry("truncated checkpoint (run_marl --resume)", "faults",
          "exit 2, 'error: checkpoint <file> is truncated or corrupt'",
          F + "test_resume_from_truncated_checkpoint_exits_2"),
    Entry("disk full while writing a checkpoint", "faults",
          "CheckpointError naming the file; previous checkpoint intact; no .tmp left (was a raw "
          "OSError: fixed)",
          F + "test_failed_checkpoint_write_keeps_previous"),
    Entry("disk full while writing the run logs", "faults",
          "exit 1, 'error: No space left on device (<file>)' + --resume hint (was a traceback: "
          "fixed)",
          F + "test_io_error_during_run_is_reported_without_traceback"),
]


def all_entries() -> list[tuple[str, str, str, str, bool, str]]:
    """``(group, what, outcome, node id, handled-if-passing, notes)`` for every case, in order."""
    rows: list[tuple[str, str, str, str, bool, str]] = []
    for c in ERRORS:
        rows.append((c.group, c.what, f"{c.error.__name__}: {c.gist}",
                     f"tests/test_bad_inputs.py::test_error_case[{c.id}]", True, ""))
    for c in CLI_ERRORS:
        rows.append((c.group, f"run_marl {c.what}", f"exit {c.code}, {c.error}: {c.gist}",
                     f"tests/test_bad_inputs.py::test_cli_error_case[{c.id}]", True, ""))
    for e in OTHER + ELSEWHERE + FAULTS:
        rows.append((e.group, e.what, e.outcome, e.node, e.handled, e.notes))
    return rows

