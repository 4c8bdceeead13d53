"""The bad-input corpus (``benchmarks/quality/badinputs/``): clear errors, counted skips, RGB loads.

Every case either raises a project exception whose message names the culprit AND the fix,
exits its command with code 2 and one ``error: ...`` paragraph (or argparse's usage error),
loads correctly, or is skipped with exactly one warning that gives the count. The cases are
rows of data (``badinputs.api_cases``, ``badinputs.cli_cases``) run by
``badinputs.runner``; each test records what it saw for the report. Cases already tested
elsewhere are listed in ``badinputs.ELSEWHERE`` with their node ids;
``test_referenced_test_exists`` keeps those references honest. ``benchmarks/quality/reliability.py``
renders the table.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import envs
from benchmarks.quality import badinputs as bi
from benchmarks.quality import tiny_datasets as fd
from benchmarks.quality.badinputs import runner
from envs.engine.data.images import decode_image
from training.run_marl import main

ROOT = Path(__file__).resolve().parents[1]
DATA_LOGGER = "envs.engine.data"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _params(cases: list[Any]) -> list[Any]:
    """One param per case, by id; a known gap is a strict xfail naming why."""
    return [pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=c.gap))
            if c.gap else pytest.param(c, id=c.id) for c in cases]


def _skip_on_cuda(case: Any) -> None:
    if case.needs_no_cuda and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")


# ---------------------------------------------------------------- errors with the fix

@pytest.mark.parametrize("case", _params(bi.ERRORS))
def test_error_case(case: bi.ErrorCase, tmp_path: Path, record_property: Any) -> None:
    _skip_on_cuda(case)
    observed = runner.observe_error(case, tmp_path)
    record_property("observed", observed.summary(tmp_path))
    problems = runner.problems_error(case, observed, tmp_path)
    assert not problems, "\n".join(problems)


CLI_ERRORS = [c for c in bi.CLI_ERRORS if c.code]


@pytest.mark.parametrize("case", _params(CLI_ERRORS))
def test_cli_error_case(case: bi.CliCase, tmp_path: Path, record_property: Any) -> None:
    _skip_on_cuda(case)
    observed = runner.observe_cli(case, tmp_path)
    record_property("observed", observed.summary(tmp_path))
    problems = runner.problems_cli(case, observed, tmp_path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", _params([c for c in bi.CLI_ERRORS if not c.code]))
def test_cli_warning_case(case: bi.CliCase, tmp_path: Path, record_property: Any) -> None:
    """A store whose last line a kill cut short: the command works and says so."""
    observed = runner.observe_cli(case, tmp_path)
    record_property("observed", observed.summary(tmp_path))
    problems = runner.problems_cli(case, observed, tmp_path)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- images that must load as RGB

COLOUR = (200, 100, 50)
LUMA = 124  # PIL's ITU-R 601-2 luma of COLOUR
BASE = Image.new("RGB", (40, 30), COLOUR)


def _half_and_half(dtype: type, low: float, high: float) -> Image.Image:
    arr = np.full((30, 40), low, dtype=dtype)
    arr[:, 20:] = high
    return Image.fromarray(arr)


IMAGES = {  # id -> (image, format, save kwargs, expected per-channel mean, tolerance)
    "grayscale_jpeg": (BASE.convert("L"), "JPEG", {}, (LUMA,) * 3, 3),
    "cmyk_jpeg": (BASE.convert("CMYK"), "JPEG", {}, COLOUR, 4),
    "cmyk_tiff_as_jpg": (BASE.convert("CMYK"), "TIFF", {}, COLOUR, 1),
    "palette_png": (BASE.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG", {}, COLOUR,
                    1),
    "palette_png_transparency": (BASE.convert("P"), "PNG", {"transparency": 0}, COLOUR, 6),
    "gif_as_jpg": (BASE.convert("P"), "GIF", {}, COLOUR, 6),
    "la_png": (BASE.convert("LA"), "PNG", {}, (LUMA,) * 3, 1),
    "bilevel_png": (BASE.convert("1"), "PNG", {}, (LUMA,) * 3, 16),
    "gray16_png": (_half_and_half(np.uint16, 20000, 40000), "PNG", {}, ((127.5 + 255) / 2,) * 3, 2),
    "float_tiff": (_half_and_half(np.float32, 0.25, 0.75), "TIFF", {}, (127.5,) * 3, 2),
    "rgba_png": (BASE.convert("RGBA"), "PNG", {}, COLOUR, 1),
    "webp_as_jpg": (BASE, "WEBP", {"quality": 95}, COLOUR, 6),
    "bmp_as_jpg": (BASE, "BMP", {}, COLOUR, 1),
}


@pytest.mark.parametrize("name", list(IMAGES))
def test_image_modes_load_as_rgb(name: str, tmp_path: Path) -> None:
    image, fmt, save, expected, tol = IMAGES[name]
    path = bi.write_image(tmp_path / f"{name}.jpg", image, fmt, **save)
    arr = decode_image(path, 16)
    assert arr.shape == (3, 16, 16) and arr.dtype == np.uint8
    mean = arr.reshape(3, -1).mean(axis=1)
    assert np.allclose(mean, expected, atol=tol), (name, mean.tolist(), expected)
    if expected[0] == expected[1] == expected[2] and name != "float_tiff":
        assert (arr[0] == arr[1]).all() and (arr[1] == arr[2]).all()  # gray stays gray


def test_corrupt_jpeg_body_is_a_documented_limitation(tmp_path: Path) -> None:
    """Zeroed bytes inside the entropy-coded data: libjpeg recovers and PIL raises nothing.

    Such damage cannot be told from image content without a checksum, so it is a documented
    limitation: the image decodes (with artefacts), of the right shape, without crashing.
    """
    path = fd.save_noise_jpeg(tmp_path / "noise.jpg", size=(128, 96))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = b"\x00" * 200
    path.write_bytes(bytes(data))
    arr = decode_image(path, 32)
    assert arr.shape == (3, 32, 32) and arr.dtype == np.uint8


# ---------------------------------------------------------------- counted skips

def test_voc_image_without_objects_is_dropped_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = bi.voc(tmp_path)
    xml = fd.voc_dir(root) / "Annotations" / "000002.xml"
    xml.write_text(fd.voc_xml("000002", []))
    with caplog.at_level(logging.WARNING, logger=DATA_LOGGER):
        ds = bi.voc_load(tmp_path, root, "train")
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "dropped 1 of 18" in warnings[0] and str(xml) in warnings[0]
    assert len(ds) == 17
    first_two = [{ds.class_names[k] for k in np.flatnonzero(ds.labels[i].numpy())}
                 for i in range(2)]
    assert first_two == [{"dog", "person"}, {"bicycle"}]  # 000001, then 000003 (000002 gone)


def test_coco_images_without_annotations_dropped_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = bi.coco_root(tmp_path)
    with caplog.at_level(logging.WARNING, logger=DATA_LOGGER):
        ds = envs.load_dataset("coco", "train", data_root=root, cache_dir=bi.cache(tmp_path))
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "dropped 1 of 35" in warnings[0] and "COCO_train2014_000000000099.jpg" in warnings[0]
    assert str(bi.coco_json(tmp_path)) in warnings[0] and len(ds) == 34


def test_csv_rows_without_labels_kept_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bi.csv_root(tmp_path)
    with caplog.at_level(logging.WARNING, logger=DATA_LOGGER):
        ds = bi.csv_load(tmp_path)
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    empty = sum(1 for _, labels, *_ in fd.CSV_ROWS if not labels)  # c.png, x00, x08, x16
    assert f"{empty} of 30 images have no label" in warnings[0] and "c.png, line 4" in warnings[0]
    assert len(ds) == 30 and ds.labels[2].sum() == 0 and not ds.ignore.any()


def _csv_with_corrupt_image(tmp_path: Path) -> tuple[Path, Path]:
    root = bi.csv_root(tmp_path)
    bad = root / "images" / "b.jpg"
    bad.write_bytes(b"")
    return root, bad


def test_env_on_bad_image_skip_drops_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, bad = _csv_with_corrupt_image(tmp_path)
    kwargs = dict(data_root=str(root), cache_dir=str(bi.cache(tmp_path)), **bi.TINY)
    with pytest.raises(envs.CorruptImageError, match="on_bad_image='skip'"):
        envs.make("mlic-csv", **kwargs)
    with caplog.at_level(logging.WARNING, logger=DATA_LOGGER):
        env = envs.make("mlic-csv", on_bad_image="skip", **kwargs)
    skipped = [w for w in _warnings(caplog) if "skipped" in w]
    assert len(skipped) == 1 and "skipped 1 " in skipped[0] and str(bad) in skipped[0]
    assert len(env.data.train) + len(env.data.val) + len(env.data.test) == 29
    env.reset(seed=0)
    env.step(bi.OK_ACTION)


def test_cli_on_bad_image_skip_completes(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                         capsys: pytest.CaptureFixture) -> None:
    root, bad = _csv_with_corrupt_image(tmp_path)
    args = bi.TINY_FLAGS + ["--env", "mlic-csv", "--data-root", str(root), "--algo", "static",
                            "--out", str(tmp_path / "run")]
    assert main(args) == 2 and "--on-bad-image skip" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING, logger=DATA_LOGGER):
        assert main(args + ["--on-bad-image", "skip"]) == 0
    skipped = [w for w in _warnings(caplog) if "skipped" in w]
    assert len(skipped) == 1 and str(bad) in skipped[0]
    assert (tmp_path / "run" / "summary.json").is_file()


# ---------------------------------------------------------------- seeds

@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_env_reset_rejects_bad_seeds(seed: object, tmp_path: Path) -> None:
    env = bi.tiny_env(tmp_path)
    with pytest.raises(envs.ConfigError, match="seed"):
        env.reset(seed=seed)


# ---------------------------------------------------------------- references stay valid

REFERENCED = bi.OTHER + bi.ELSEWHERE + bi.FAULTS


@pytest.mark.parametrize("entry", REFERENCED, ids=lambda e: e.node.split("::")[-1])
def test_referenced_test_exists(entry: bi.Entry) -> None:
    path, _, name = entry.node.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert f"def {name.split('[')[0]}(" in source, entry.node


def test_corpus_ids_are_unique() -> None:
    ids = [c.id for c in bi.ERRORS] + [c.id for c in bi.CLI_ERRORS]
    assert len(ids) == len(set(ids)) and all(ids)
    assert set(bi.GAPS) <= set(ids)  # a gap names a case of the corpus
    described = [(row[1], row[3]) for row in bi.all_entries()]
    assert len(set(described)) == len(described)  # one row per case


def test_the_runner_stops_a_command_that_starts_runs(tmp_path: Path) -> None:
    """A command that does not refuse its input fails the case at once, not after a sweep."""
    from benchmarks.quality.badinputs import cli_cases
    case = bi.CliCase("valid", "names", "a valid command", tuple(cli_cases.BUDGETS),
                      error="ConfigError")
    observed = runner.observe_cli(case, tmp_path)
    assert observed.code == 1 and "RunStarted: benchmarks.budgets started runs" in observed.err
    assert "RunStarted: benchmarks.budgets started runs" in observed.summary(tmp_path)
    assert runner.problems_cli(case, observed, tmp_path) == [f"exit 1, expected 2:\n{observed.err}"]


def test_a_row_with_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown keys \\['nmaes'\\]"):
        bi.schema.build(bi.ErrorCase, "names", {"id": "x", "what": "x", "error": "ConfigError",
                                                "names": [], "fix": [], "nmaes": []})


def test_reliability_report_renders_outcomes(tmp_path: Path) -> None:
    """``benchmarks/quality/reliability.py`` maps JUnit outcomes onto the corpus rows and totals
    them."""
    from benchmarks.quality import reliability
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_x" name="test_a"><properties>'
        '<property name="observed" value="ConfigError: x | y" /></properties></testcase>'
        '<testcase classname="tests.test_x" name="test_b[p1]" />'
        '<testcase classname="tests.test_x" name="test_b[p2]"><failure message="boom"/></testcase>'
        '<testcase classname="tests.test_x" name="test_c"><skipped type="pytest.xfail" '
        'message="gap"/>'
        '</testcase></testsuite></testsuites>')
    results = reliability.outcomes(junit)
    assert results["tests/test_x.py::test_a"] == "passed"
    assert reliability.status_of("tests/test_x.py::test_b", results) == "failed"
    assert reliability.status_of("tests/test_x.py::test_c", results) == "xfailed"
    assert reliability.status_of("tests/test_x.py::test_d", results) == "not run"
    rows = [("names", "a", "ok", "tests/test_x.py::test_a", True, ""),
            ("names", "b", "ok", "tests/test_x.py::test_b", True, ""),
            ("names", "c", "raw error", "tests/test_x.py::test_c", False, "known gap")]
    seen = reliability.observations(junit)
    assert seen == {"tests/test_x.py::test_a": "ConfigError: x | y"}
    text = reliability.render(rows, results, ["python", "-m", "benchmarks.reliability"], 1.0, 1,
                              True, list(reliability.CORPUS_FILES), seen)
    assert "**tried: 3, handled: 1**; not handled: 2" in text
    assert "| 1 | names | a | ConfigError: x \\| y | `tests/test_x.py::test_a` | handled |" in text
    assert "| 2 | names | b | ok | `tests/test_x.py::test_b` | FAILED |" in text
    assert "#3 c: known gap" in text
    targets = reliability.pytest_targets(bi.all_entries())
    assert targets[:2] == list(reliability.CORPUS_FILES)
    assert "tests/test_env.py::test_bad_actions_name_agent_and_range" in targets
