"""Faults during training: divergence, random abuse, signals, kill -9, truncated checkpoints.

The signal and ``kill -9`` tests use real subprocesses and real signals. The processes of
the signal tests run concurrently (a module fixture) to keep the file fast on two cores.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import envs
from benchmarks.quality import badinputs as bi
from envs.errors import CheckpointError
from training.core import checkpoint as checkpoint_mod
from training.core.checkpoint import load_checkpoint, save_atomic
from training.core.logs import read_steps
from training.run_marl import main

ROOT = Path(__file__).resolve().parents[1]
RUN_FLAGS = ["--max-decisions", "6", "--steps-per-decision", "2", "--image-size", "16",
             "--max-train-images", "48", "--max-eval-images", "48", "--batch-size", "16",
             "--no-progress", "--seed", "3"]
WAIT_S = 240.0


# ---------------------------------------------------------------- divergence

def test_lr_blow_up_rolls_back_penalises_and_continues() -> None:
    env = envs.make("mlic-digits", lr_scale=1e9, **{**bi.TINY, "max_decisions": 3,
                                                     "steps_per_decision": 2})
    obs, infos = env.reset(seed=0)
    start_map = infos["aug"]["metrics"]["mAP"]
    flag = env.observation_names.index("diverged")
    plain_sgd = {"aug": 0, "opt": 0, "lrs": 0, "loss": 0}  # none, sgd, constant, bce
    assert [env.action_names(a)[0] for a in plain_sgd] == ["none", "sgd", "constant", "bce"]
    decisions = 0
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step(plain_sgd)
        decisions += 1
        for agent, info in infos.items():
            assert info["train"]["diverged"] is True
            assert info["reward_terms"]["penalty"] >= 1.0
            assert np.isfinite(rewards[agent]) and rewards[agent] < 0
            # rolled back to the last good state: the evaluated model is the initial one
            assert info["metrics"]["mAP"] == pytest.approx(start_map)
        for vector in obs.values():
            assert np.isfinite(vector).all() and vector[flag] == 1.0
            assert env.observation_space("aug").contains(vector)
        assert not any(terms.values())
    assert decisions == 3 and all(truncs.values())
    assert 0.0 <= infos["aug"]["test_metrics"]["mAP"] <= 100.0


# ---------------------------------------------------------------- random abuse

@pytest.mark.parametrize("episodes", [20, pytest.param(100, marks=pytest.mark.slow)],
                         ids=["20", "100"])
def test_random_episodes_stay_finite(episodes: int) -> None:
    """Random joint actions for many short episodes: no crash, everything finite."""
    env = envs.make("mlic-digits", **bi.TINY)
    rng = np.random.default_rng(0)
    space = env.observation_space("aug")
    steps = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        assert all(space.contains(v) for v in obs.values())
        while env.agents:
            actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
            obs, rewards, _, truncs, infos = env.step(actions)
            steps += 1
            assert all(np.isfinite(r) for r in rewards.values()), (episode, actions, rewards)
            assert all(space.contains(v) and np.isfinite(v).all() for v in obs.values()), \
                (episode, actions)
            info = infos["aug"]
            assert all(np.isfinite(v) for v in info["reward_terms"].values())
            assert info["metrics"]["mAP"] is None or 0.0 <= info["metrics"]["mAP"] <= 100.0
        assert all(truncs.values()) and "test_metrics" in infos["aug"]
    assert steps == episodes * bi.TINY["max_decisions"]


# ---------------------------------------------------------------- SIGINT / SIGTERM

def _run_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "training.run_marl", *RUN_FLAGS, "--out", str(out), *extra]


def _start(cmd: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stdout").open("wb") as stdout, (logs / "stderr").open("wb") as stderr:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)


def _first_line_logged(out: Path) -> bool:
    steps = out / "steps.jsonl"
    return steps.is_file() and steps.read_bytes().count(b"\n") >= 2  # the header, a decision


def _first_checkpoint_written(out: Path) -> bool:
    return (out / "checkpoint.pt").is_file()


def _signal_when(runs: dict[str, tuple[subprocess.Popen, Path, Callable[[Path], bool],
                                       list[int]]]) -> None:
    """Send each run its signals as soon as ITS condition holds (all runs polled at once)."""
    pending = dict(runs)
    deadline = time.monotonic() + WAIT_S
    while pending and time.monotonic() < deadline:
        for name, (proc, out, ready, signals) in list(pending.items()):
            if ready(out):
                for sig in signals:
                    proc.send_signal(sig)
                del pending[name]
            elif proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}) before its first decision")
        time.sleep(0.005)
    if pending:
        raise AssertionError(f"no decision within {WAIT_S} s: {sorted(pending)}")


def _finish(proc: subprocess.Popen, logs: Path) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, (logs / "stderr").read_text(errors="replace")


def _signal_runs(tmp_path_factory: pytest.TempPathFactory, names: tuple[str, ...]) -> dict:
    """The runs ``names`` (of straight, SIGINT, SIGTERM, abort) and the stopped ones' resumes.

    The runs start at once and each resume as soon as its run has stopped, so the processes
    overlap (they are independent; the digits cache is decoded beforehand).
    """
    base = tmp_path_factory.mktemp("signals")
    cache = base / "cache"
    envs.load_splits("digits", image_size=16, cache_dir=cache)  # decode once, not in each process
    env = {**os.environ, "MLIC_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    env.pop("MLIC_DATA_ROOT", None)
    procs = {n: _start(_run_cmd(base / n), env, base / "logs" / n) for n in names}
    resumes: dict[str, subprocess.Popen] = {}
    try:
        return _drive_signal_runs(base, env, procs, resumes)
    finally:  # never leave a run behind if an assertion fired half-way
        for proc in [*procs.values(), *resumes.values()]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def signal_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted run, a run stopped by SIGINT and its resume, and one abort."""
    return _signal_runs(tmp_path_factory, ("straight", "SIGINT", "abort"))


@pytest.fixture(scope="module")
def sigterm_runs(tmp_path_factory: pytest.TempPathFactory, signal_runs: dict) -> dict:
    """A run stopped by SIGTERM and its resume (the slow tests'), and ``signal_runs``' straight
    run to compare with."""
    runs = _signal_runs(tmp_path_factory, ("SIGTERM",))
    return {**runs, "straight": signal_runs["straight"], "straight_base": signal_runs["base"]}


SIGNALS = {"SIGINT": ("signal_runs", signal.SIGINT, []),
           "SIGTERM": ("sigterm_runs", signal.SIGTERM, [pytest.mark.slow])}
"""Each stopping signal's fixture, number and marks: SIGTERM takes the same path as SIGINT
(``training.core.signals``), so its runs are behind the ``slow`` marker."""


def _signal_params() -> list:
    return [pytest.param(name, marks=marks, id=name) for name, (_, _, marks) in SIGNALS.items()]


def _drive_signal_runs(base: Path, env: dict[str, str], procs: dict[str, subprocess.Popen],
                       resumes: dict[str, subprocess.Popen]) -> dict:
    # SIGINT / SIGTERM once the first decision's line is in steps.jsonl; the abort run gets
    # a second signal while it is stopping, once its first checkpoint exists
    stopping = [name for name in SIGNALS if name in procs]
    _signal_when({
        **{name: (procs[name], base / name, _first_line_logged, [SIGNALS[name][1]])
           for name in stopping},
        **({"abort": (procs["abort"], base / "abort", _first_checkpoint_written,
                      [signal.SIGINT, signal.SIGTERM])} if "abort" in procs else {})})
    stopped: dict[str, dict] = {}
    for name in stopping:  # each resume starts as soon as its run has stopped
        code, err = _finish(procs[name], base / "logs" / name)
        stopped[name] = {"code": code, "err": err, "steps": read_steps(base / name),
                         "summary_written": (base / name / "summary.json").exists(),
                         "checkpoint": load_checkpoint(base / name / "checkpoint.pt")}
        resumes[name] = _start(_run_cmd(base / name, "--resume"), env,
                               base / "logs" / f"{name}-resume")
    others = {n: _finish(procs[n], base / "logs" / n) for n in ("straight", "abort") if n in procs}
    for name, proc in resumes.items():
        stopped[name]["resume"] = _finish(proc, base / "logs" / f"{name}-resume")
    return {"base": base, **others, **stopped}


def _runs_of(request: pytest.FixtureRequest, name: str) -> dict:
    return request.getfixturevalue(SIGNALS[name][0])


@pytest.mark.parametrize("name", _signal_params())
def test_signal_stops_with_checkpoint_and_exit_code(request: pytest.FixtureRequest,
                                                    name: str) -> None:
    run = _runs_of(request, name)[name]
    assert run["code"] == 128 + SIGNALS[name][1], run["err"]
    err = run["err"]
    assert f"{name} received" in err and "--resume" in err and "Traceback" not in err
    decisions = run["checkpoint"]["driver"]["step"]
    assert 1 <= decisions < 6  # stopped early, after a checkpointed decision
    assert len(run["steps"]) == decisions  # the logs end where the checkpoint does
    assert not run["summary_written"]  # the run did not pretend to have finished


def _strip(step: dict) -> dict:
    return {k: v for k, v in step.items() if k not in ("time", "agent")}  # wall-clock times


@pytest.mark.parametrize("name", _signal_params())
def test_resume_after_signal_matches_uninterrupted_run(request: pytest.FixtureRequest,
                                                       name: str) -> None:
    runs = _runs_of(request, name)
    assert runs["straight"][0] == 0, runs["straight"][1]
    code, err = runs[name]["resume"]
    assert code == 0, err
    straight_base = runs.get("straight_base", runs["base"])
    straight = json.loads((straight_base / "straight" / "summary.json").read_text())
    resumed = json.loads((runs["base"] / name / "summary.json").read_text())
    for key in ("test_mAP", "best_val_mAP", "final_val_mAP", "decisions", "test_per_episode"):
        assert resumed[key] == straight[key], key
    a, b = read_steps(straight_base / "straight"), read_steps(runs["base"] / name)
    assert len(a) == len(b) == 6
    assert [s["actions"] for s in a] == [s["actions"] for s in b]
    assert [s["reward"] for s in a] == [s["reward"] for s in b]
    assert [_strip(s) for s in a] == [_strip(s) for s in b]


def test_second_signal_aborts_without_traceback(signal_runs: dict) -> None:
    code, err = signal_runs["abort"]
    assert code in (130, 143) and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    path = signal_runs["base"] / "abort" / "checkpoint.pt"
    assert "aborted" in err and str(path) in err and "--resume" in err, err
    # the abort struck mid-decision (or mid-save): the last complete checkpoint still loads
    assert load_checkpoint(path)["driver"]["step"] >= 1
    assert not list(path.parent.glob(".checkpoint.pt.*.tmp"))


# ---------------------------------------------------------------- kill -9 while writing

WRITER = """
import sys
from pathlib import Path
import torch
from training.core.checkpoint import save_atomic
target = Path(sys.argv[1])
i = 0
while True:
    i += 1
    save_atomic({"i": i, "blob": torch.full((4_000_000,), float(i)), "tail": 7 * i}, target)
"""


def _partial_tmp(directory: Path, name: str, min_bytes: int) -> Path | None:
    for path in directory.glob(f".{name}.*.tmp"):
        try:
            if path.stat().st_size >= min_bytes:
                return path
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return None


def _wait_stopped(pid: int) -> None:
    """Wait until ``pid`` is stopped (state T in /proc), so the files it writes are still."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(10_000):
        if stat.read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop")


def test_kill_9_mid_write_keeps_previous_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + WAIT_S
        partial = None
        while time.monotonic() < deadline and proc.poll() is None:
            # a complete checkpoint exists AND the next one is half written (>= 1 MB of 16 MB);
            # the writer is stopped, the file checked again (on a busy machine the write may
            # have finished meanwhile: then it goes on), and only then killed
            if target.exists() and _partial_tmp(tmp_path, target.name, 1 << 20) is not None:
                proc.send_signal(signal.SIGSTOP)
                _wait_stopped(proc.pid)
                partial = _partial_tmp(tmp_path, target.name, 1 << 20)
                if partial is not None and partial.stat().st_size < target.stat().st_size:
                    break
                partial = None
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.001)
        assert partial is not None, proc.stderr.read().decode() if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    leftovers = list(tmp_path.glob(".checkpoint.pt.*.tmp"))
    assert leftovers and leftovers[0].stat().st_size < target.stat().st_size  # killed mid-write
    payload = load_checkpoint(target)  # the previous checkpoint is complete
    i = payload["i"]
    assert i >= 1 and payload["tail"] == 7 * i
    assert payload["blob"].shape == (4_000_000,) and bool((payload["blob"] == float(i)).all())
    save_atomic({"i": -1}, target)  # a later save is not disturbed by the leftover ...
    assert load_checkpoint(target)["i"] == -1
    assert not list(tmp_path.glob(".checkpoint.pt.*.tmp"))  # ... and removes it


# ---------------------------------------------------------------- truncated / failed checkpoints

def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_atomic({"weights": torch.arange(50_000.0), "note": "x" * 1000}, path)
    data = path.read_bytes()
    cuts = [0, 1, 10, 100, 1000] + [int(len(data) * f) for f in (0.25, 0.5, 0.75, 0.9, 0.99)] \
        + [len(data) - 22, len(data) - 1]
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        message = str(info.value)
        assert str(path) in message and "without --resume" in message, (cut, message)
    path.write_bytes(data)
    assert torch.equal(load_checkpoint(path)["weights"], torch.arange(50_000.0))


def test_resume_from_truncated_checkpoint_exits_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(bi.TINY_FLAGS + ["--algo", "static", "--out", str(out)]) == 0
    path = out / "checkpoint.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert main(bi.TINY_FLAGS + ["--algo", "static", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint ") and str(path) in err and "Traceback" not in err
    assert "truncated or corrupt" in err and "without --resume" in err


def test_failed_checkpoint_write_keeps_previous(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pt"
    save_atomic({"i": 1}, path)

    def disk_full(obj, f) -> None:
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_mod.torch, "save", disk_full)
    with pytest.raises(CheckpointError) as info:
        save_atomic({"i": 2}, path)
    message = str(info.value)
    assert str(path) in message and "No space left on device" in message
    assert "previous checkpoint is unchanged" in message and "--resume" in message
    monkeypatch.undo()
    assert load_checkpoint(path)["i"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no .tmp left


def test_io_error_during_run_is_reported_without_traceback(tmp_path: Path, monkeypatch,
                                                            capsys) -> None:
    from training.core import logs
    out = tmp_path / "run"
    real_write = logs.RunLogger.write
    calls = {"n": 0}

    def write(self, record, scalars, step):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real_write(self, record, scalars, step)

    monkeypatch.setattr(logs.RunLogger, "write", write)
    flags = bi.TINY_FLAGS + ["--max-decisions", "3", "--algo", "static", "--out", str(out)]
    assert main(flags) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No space left on device") and "Traceback" not in err
    assert str(out / "steps.jsonl") in err and "--resume" in err
    assert load_checkpoint(out / "checkpoint.pt")["driver"]["step"] == 1
