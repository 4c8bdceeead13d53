"""One reader and one appender for every JSON-lines store and log (``training.core.jsonl``,
issue 31): foreign files are refused by name, a cut last line is skipped with a warning,
legacy files are read, a kill at any byte resumes to the uninterrupted records, and the
readers behind the CLIs answer a foreign file with an error, not a traceback."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.offline import dataset
from benchmarks.ranking import normalised, protocol
from training import imitate
from training.core import jsonl
from training.core.jsonl import CutLineWarning, StoreFormatError
from training.core.logs import STEPS_FILE, RunLogger, read_steps
from training.core.run_store import RunStore, SweepResumeError

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "runs"


def committed_stores() -> list[Path]:
    """The run stores under ``RESULTS``, less those git ignores (a stage still running keeps
    its store there, ignored, until its table is committed)."""
    paths = sorted(RESULTS.glob("*.jsonl"))
    try:
        ignored = subprocess.run(["git", "check-ignore", *map(str, paths)], cwd=RESULTS,
                                 capture_output=True, text=True, check=False).stdout.split()
    except OSError:  # no git: a source tarball holds the committed stores only
        ignored = []
    return [p for p in paths if str(p) not in ignored]
KINDS = [k for k in jsonl.KINDS.values() if k is not jsonl.RUNS]
RECORDS = 5


def _record(kind: jsonl.StoreKind, i: int) -> dict[str, Any]:
    """A record of ``kind`` (its result, for a run store): every key it needs, plus a seed."""
    return {**{key: f"{key}-{i}" for key in sorted(kind.keys)}, "seed": i}


def _line(kind: jsonl.StoreKind, i: int) -> dict[str, Any]:
    return {"name": f"run{i}", "seed": i, "result": _record(kind, i)} if kind.runs \
        else _record(kind, i)


def _write(path: Path, kind: jsonl.StoreKind, task_set: str = "digits-v1",
           legacy: bool = False) -> Path:
    """A store of ``kind`` with ``RECORDS`` records (``legacy``: as written before kinds)."""
    header = ({"settings": {"task_set": task_set}} if kind.runs else None) if legacy \
        else jsonl.header_line(kind, {"task_set": task_set})
    lines = ([header] if header else []) + [_line(kind, i) for i in range(RECORDS)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _other(kind: jsonl.StoreKind) -> jsonl.StoreKind:
    """A kind whose records are not ``kind``'s."""
    return jsonl.HEADROOM if kind is jsonl.DEMONSTRATIONS else jsonl.DEMONSTRATIONS


def _record_types() -> dict[str, type]:
    from benchmarks.expert import budgets, headroom, search, task_sets
    from benchmarks.ranking import algoperf, user_loop, zero_shot
    from training.core.callbacks import EpisodeResult
    from training.imitation.demonstrations import DemoEpisode
    return {"demonstrations": DemoEpisode, "dataset": dataset.Episode, "headroom": headroom.Run,
            "zero-shot": zero_shot.Run, "protocol": zero_shot.Run, "user-loop": user_loop.Run,
            "budgets": budgets.Run, "task-sets": task_sets.PanelRun,
            "peers": search.MethodResult, "ablations": EpisodeResult,
            "algoperf-controllers": algoperf.ControllerRun,
            "algoperf-targets": algoperf.TargetRun}


@pytest.mark.parametrize("kind", [k for k in KINDS if k.runs], ids=lambda k: k.name)
def test_every_run_store_kind_names_keys_its_records_carry(kind):
    fields = {f.name for f in dataclasses.fields(_record_types()[kind.name])}
    assert kind.keys <= fields


# ------------------------------------------------------------------ foreign files
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_foreign_file_is_refused_naming_the_file_and_both_kinds(tmp_path, kind):
    path = tmp_path / "store.jsonl"
    foreign = {"an empty file": b"", "binary data": bytes(range(256)) * 4,
               "not JSON lines": b"task,seed\nx,1\n", "JSON that is not a store": b"[1, 2]\n"}
    for found, data in foreign.items():
        path.write_bytes(data)
        with pytest.raises(StoreFormatError) as error:
            jsonl.read(path, kind)
        assert str(path) in str(error.value) and kind.what in str(error.value), found
        assert found in str(error.value)
    for legacy in (False, True):  # another kind, with a header or written before kinds
        other = _other(kind)
        _write(path, other, legacy=legacy)
        with pytest.raises(StoreFormatError) as error:
            jsonl.read(path, kind)
        message = str(error.value)
        assert str(path) in message and f"expected {kind.what}" in message
        assert f"found {other.what}" in message


@pytest.mark.parametrize("kind", [k for k in KINDS if k.runs], ids=lambda k: k.name)
def test_a_store_of_another_task_set_is_refused(tmp_path, kind):
    path = _write(tmp_path / "store.jsonl", kind, task_set="digits-v0")
    assert len(jsonl.read(path, kind).records) == RECORDS  # no task set asked for: read
    with pytest.raises(StoreFormatError, match="expected .* of task set digits-v1, found .* of "
                                               "task set digits-v0"):
        jsonl.read(path, kind, task_set="digits-v1")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_cut_last_line_is_skipped_with_a_warning_a_cut_middle_line_is_an_error(tmp_path, kind):
    path = _write(tmp_path / "store.jsonl", kind)
    whole = path.read_bytes()
    path.write_bytes(whole[:-20])
    with pytest.warns(CutLineWarning, match=f"{path}: line {RECORDS + 1} was cut short"):
        store = jsonl.read(path, kind)
    assert store.records == [_line(kind, i) for i in range(RECORDS - 1)] and store.warnings
    lines = whole.decode().splitlines(keepends=True)
    lines[2] = lines[2][:15] + "\n"  # cut, then appended to: damage, not a cut
    path.write_text("".join(lines))
    with pytest.raises(StoreFormatError, match=f"{path}: line 3 is damaged"):
        jsonl.read(path, kind)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_legacy_file_is_read_and_named(tmp_path, kind):
    path = _write(tmp_path / "old.jsonl", kind, legacy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = jsonl.read(path, kind)
    assert store.kind is kind and store.version == 0 and len(store.records) == RECORDS
    assert store.describe().startswith(kind.what.split(" (")[0]) and "legacy" in store.describe()
    newer = {**jsonl.header_line(kind, {}), "version": jsonl.FORMAT_VERSION + 1}
    path.write_text(json.dumps(newer) + "\n")
    with pytest.raises(StoreFormatError, match="newer than this code reads"):
        jsonl.read(path, kind)


def test_kinds_that_share_a_record_format_are_named_together(tmp_path):
    path = _write(tmp_path / "old.jsonl", jsonl.PROTOCOL, legacy=True)
    assert jsonl.read(path, (jsonl.ZERO_SHOT, jsonl.PROTOCOL)).kind is jsonl.ZERO_SHOT
    with pytest.raises(StoreFormatError, match="found a zero-shot run store .* or a protocol"):
        jsonl.read(path, jsonl.HEADROOM)


def test_a_run_store_with_no_run_yet_is_no_log(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"settings": {}}) + "\n")
    assert jsonl.read(path, jsonl.HEADROOM).kind is jsonl.HEADROOM  # legacy: as asked for
    with pytest.raises(StoreFormatError, match="found a run store .* with no run yet"):
        jsonl.read(path, jsonl.STEPS)


def test_a_run_store_given_no_kind_is_told_by_its_records(tmp_path):
    result = dataclasses.make_dataclass("Result", sorted(_record(jsonl.ZERO_SHOT, 0)))
    path = tmp_path / "runs.jsonl"
    RunStore(path, {"task_set": "digits-v1"}).put("run0", 0, result(**_record(jsonl.ZERO_SHOT, 0)))
    assert jsonl.read(path, jsonl.ZERO_SHOT).kind is jsonl.ZERO_SHOT
    with pytest.raises(StoreFormatError, match="found a zero-shot run store .* it has no kind "
                                               "header"):
        jsonl.read(path, jsonl.DEMONSTRATIONS)


def test_a_legacy_store_describes_its_generator_version(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"settings": {"task_set": "digits-v0",
                                             "data_generator_version": 1}}) + "\n")
    store = jsonl.read(path, jsonl.HEADROOM)
    assert store.describe() == ("a headroom run store, legacy (no kind header), task set "
                                "digits-v0, data generator version 1")


@pytest.mark.parametrize("path", committed_stores(), ids=lambda p: p.name)
def test_every_committed_store_reads_without_error_or_warning(path):
    kinds = {"algoperf_targets": jsonl.ALGOPERF_TARGETS, "budgets": jsonl.BUDGETS,
             "default_task": jsonl.HEADROOM,
             "first_decisions": jsonl.PROTOCOL,
             "headroom": jsonl.HEADROOM, "protocol": jsonl.PROTOCOL, "user_loop": jsonl.USER_LOOP,
             "demonstrations": jsonl.DEMONSTRATIONS, "zero_shot": jsonl.ZERO_SHOT,
             "task_sets": jsonl.TASK_SETS}
    kind = (jsonl.ALGOPERF_CONTROLLERS if path.name.endswith("-controllers.jsonl") else
            next(k for prefix, k in kinds.items() if path.name.startswith(prefix)))
    before = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = jsonl.read(path, kind)
    assert store.records and store.version in (0, jsonl.FORMAT_VERSION)  # legacy or current
    assert path.read_bytes() == before


# ------------------------------------------------------------------ kill during write
def _cuts(path: Path, after: int) -> list[int]:
    """Three seeded byte offsets past ``after`` (the header, written atomically)."""
    return sorted(np.random.default_rng(0).integers(after, path.stat().st_size, 3).tolist())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_a_kill_at_any_byte_resumes_to_the_uninterrupted_records(tmp_path, kind):
    whole = tmp_path / "whole.jsonl"
    settings = {"task_set": "digits-v1"}
    result = dataclasses.make_dataclass("Result", sorted(_record(kind, 0)))
    if kind.runs:
        store = RunStore(whole, settings, kind=kind)
        for i in range(RECORDS):
            store.put(f"run{i}", i, result(**_record(kind, i)))
    else:
        log = jsonl.create(whole, kind)
        for i in range(RECORDS):
            log.append(_record(kind, i))
    expected = jsonl.read(whole, kind).records
    header_end = len(whole.read_bytes().split(b"\n")[0]) + 1
    for cut in _cuts(whole, header_end):
        copy = tmp_path / f"cut{cut}.jsonl"
        copy.write_bytes(whole.read_bytes()[:cut])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CutLineWarning)
            if kind.runs:
                resumed = RunStore(copy, settings, resume=True, kind=kind)
                for i in range(RECORDS):
                    if resumed.get(f"run{i}", i, result) is None:
                        resumed.put(f"run{i}", i, result(**_record(kind, i)))
            else:
                held, log = jsonl.resume(copy, kind)
                for i in range(len(held.records), RECORDS):
                    log.append(_record(kind, i))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert jsonl.read(copy, kind).records == expected, cut
        assert copy.read_bytes() == whole.read_bytes(), cut


def test_the_steps_log_resumes_at_the_checkpoint_after_a_kill_at_any_byte(tmp_path):
    steps = [{"episode": 0, "decision": i, "step": i + 1, "actions": {"aug": i}, "reward": 0.5}
             for i in range(RECORDS)]
    whole = tmp_path / "whole"
    logger = RunLogger(whole, tensorboard=False)
    for record in steps:
        logger.write(record, {}, record["step"])
    data = (whole / STEPS_FILE).read_bytes()
    for cut in _cuts(whole / STEPS_FILE, data.index(b"\n") + 1):
        out = tmp_path / f"cut{cut}"
        out.mkdir()
        (out / STEPS_FILE).write_bytes(data[:cut])
        # the checkpoint follows the last complete line (a kill lands before it is saved)
        done = data[:cut].count(b"\n") - 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CutLineWarning)
            logger = RunLogger(out, resume_at=done, tensorboard=False) if done \
                else RunLogger(out, tensorboard=False)
        for record in steps[done:]:
            logger.write(record, {}, record["step"])
        assert read_steps(out) == steps and (out / STEPS_FILE).read_bytes() == data, cut


def test_a_steps_log_cut_behind_its_checkpoint_is_not_merged_on_resume(tmp_path):
    """The user report: the checkpoint says 3 decisions, the log holds 2 and a cut line."""
    steps = [{"episode": 0, "decision": i, "step": i + 1, "actions": {}} for i in range(4)]
    logger = RunLogger(tmp_path, tensorboard=False)
    for record in steps[:3]:
        logger.write(record, {}, record["step"])
    path = tmp_path / STEPS_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.warns(CutLineWarning) as caught:
        logger = RunLogger(tmp_path, resume_at=3, tensorboard=False)
    assert any("holds 2 of the 3 decisions" in str(w.message) for w in caught)
    logger.write(steps[3], {}, 4)
    assert read_steps(tmp_path) == [steps[0], steps[1], steps[3]]


def test_a_headerless_steps_log_is_read_and_resumed_as_it_is(tmp_path):
    steps = [{"episode": 0, "decision": i, "step": i + 1, "actions": {}} for i in range(3)]
    path = tmp_path / STEPS_FILE
    path.write_text("".join(json.dumps(s) + "\n" for s in steps))  # before kinds
    assert read_steps(tmp_path) == steps
    RunLogger(tmp_path, resume_at=2, tensorboard=False).write(steps[2], {}, 3)
    assert path.read_text() == "".join(json.dumps(s) + "\n" for s in steps)


def test_a_run_store_resumed_from_a_foreign_file_is_refused_and_left_alone(tmp_path):
    path = _write(tmp_path / "runs.jsonl", jsonl.DEMONSTRATIONS)
    before = path.read_bytes()
    with pytest.raises(SweepResumeError, match="expected a zero-shot run store .* found a "
                                               "demonstrations store"):
        RunStore(path, {"task_set": "digits-v1"}, resume=True, kind=jsonl.ZERO_SHOT)
    assert path.read_bytes() == before


# ------------------------------------------------------------------ the CLIs' readers
def _foreign(tmp_path: Path) -> dict[str, Path]:
    """An empty file, a binary one, a demonstrations store, and a zero-shot store."""
    files = {"empty": tmp_path / "empty.jsonl", "binary": tmp_path / "binary.jsonl"}
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)))
    files["demonstrations"] = _write(tmp_path / "demos.jsonl", jsonl.DEMONSTRATIONS)
    files["zero-shot"] = _write(tmp_path / "zs.jsonl", jsonl.ZERO_SHOT)
    return files


def _refusal(main: Any, capsys: pytest.CaptureFixture) -> str:
    """What a CLI says when it refuses its input: stderr and the exit, never a traceback."""
    try:
        code = main()
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code not in (0, None) and "Traceback" not in err
    return f"{err} {code}"


@pytest.mark.parametrize("found", ["empty", "binary", "demonstrations", "zero-shot"])
def test_the_readers_behind_the_clis_refuse_a_foreign_file_without_a_traceback(
        tmp_path, capsys, found):
    path = _foreign(tmp_path)[found]
    clis = {jsonl.ZERO_SHOT: lambda: protocol.main([
                "--leaderboard", "--store", str(tmp_path / "none.jsonl"), "--from", str(path),
                "--out", str(tmp_path / "lb.md")]),
            jsonl.HEADROOM: lambda: normalised.main([
                "--headroom", str(path), "--zero-shot", str(path),
                "--out", str(tmp_path / "n.md")]),
            jsonl.DATASET: lambda: dataset.main(["export", "--store", str(path)]),
            jsonl.DEMONSTRATIONS: lambda: imitate.main([
                "fit", "--demos", str(path), "--out", str(tmp_path / "fit"), "--no-progress"])}
    for kind, main in clis.items():
        if kind.name != found:
            message = _refusal(main, capsys)
            assert str(path) in message and f"expected {kind.what}" in message, kind.name


def test_the_protocol_refuses_a_store_of_another_task_set(tmp_path, capsys):
    path = _write(tmp_path / "zs.jsonl", jsonl.ZERO_SHOT, task_set="digits-v0")
    message = _refusal(lambda: protocol.main([
        "--leaderboard", "--store", str(tmp_path / "none.jsonl"), "--from", str(path),
        "--out", str(tmp_path / "lb.md")]), capsys)
    assert "of task set digits-v1, found a zero-shot run store of task set digits-v0" in message
