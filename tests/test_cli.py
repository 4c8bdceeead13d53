"""Every ``python -m`` command speaks the same way (issue 31, ``training.core.cli``).

* a project error (``envs.errors.MLICError``) is one ``error: ...`` line on stderr and exit
  status 2, never a traceback; ``--debug`` shows the traceback instead; a bug keeps its own;
* a count, size or index flag is refused at parse time, by argparse, naming the flag;
* a controller (``--algo``, ``--zoo``, ``--runs``) or the expert's options are checked in the
  parent, by building a throwaway, before any run is played or any store line written.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents import StaticController
from envs.errors import ConfigError, MLICError
from benchmarks.quality.badinputs.builders import unfinished_run
from training.core import cli

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = sorted(
    f"{p.parent.name}.{p.stem}" for folder in ("training", "benchmarks")
    for p in (ROOT / folder).glob("*.py") if 'if __name__ == "__main__":' in p.read_text())
"""Every ``python -m`` module of ``training`` and ``benchmarks``."""


def _main(module: str):
    return importlib.import_module(module).main


def _code(module: str):
    """The module a command's code lives in (``benchmarks.<command>`` is a thin entry point
    over a product's module), where its ``play_stored`` is looked up."""
    return importlib.import_module(_main(module).__module__)


def test_the_entry_points_are_found():
    assert len(ENTRY_POINTS) >= 24 and {"training.run_marl", "benchmarks.protocol"} <= set(
        ENTRY_POINTS)


# ------------------------------------------------------------------ the helper itself
class _Stop(Exception):
    pass


@cli.command
def _result_main(argv: list[str] | None = None) -> Path:
    if argv and argv[0] == "bug":
        raise _Stop("a bug")
    if argv and argv[0] == "error":
        raise ConfigError("--thing 3 is wrong: pass --thing 2")
    return Path(*argv or ["."])


@cli.command(returns_status=True)
def _status_main(argv: list[str] | None = None) -> int:
    if argv and argv[0] == "error":
        raise ConfigError("--thing 3 is wrong")
    return len(argv or [])


def test_a_project_error_is_one_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        _result_main(["error"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == "error: --thing 3 is wrong: pass --thing 2\n"
    assert _status_main(["error"]) == 2 and capsys.readouterr().err.startswith("error: ")


def test_debug_shows_the_traceback_and_is_taken_out_of_argv():
    with pytest.raises(ConfigError, match="--thing 3"):
        _result_main(["error", "--debug"])
    with pytest.raises(ConfigError):
        _status_main(["--debug", "error"])
    assert _result_main(["a", "--debug", "b"]) == Path("a", "b")
    assert _status_main(["x", "--", "--debug"]) == 3  # after --, an argument like any other


def test_a_bug_keeps_its_traceback():
    with pytest.raises(_Stop):
        _result_main(["bug"])


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_entry_point_reports_project_errors_and_lists_debug(module, capsys):
    main = _main(module)
    assert getattr(main, "__wrapped__", None) is not None, f"{module}.main: use cli.command"
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0 and "--debug" in capsys.readouterr().out


# ------------------------------------------------------------------ project errors, for real
def _store_of_other_settings(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kind": "runs", "settings": {"other": 1}}) + "\n")
    return path


def _errors(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """A command line of each command that fails with a project error at once: (argv, a
    fragment of the message)."""
    missing = tmp / "missing"
    return {
        "training.run_marl": (["--env", "mlic-vco", "--out", str(tmp / "r")], "mlic-voc"),
        "training.meta_train": (["--task-set", "nope", "--out", str(tmp / "m")], "nope"),
        "training.imitate": (["demos", "--task-set", "nope", "--out", str(tmp / "d")], "nope"),
        "training.publish": ([str(missing), "--name", "x", "--zoo", str(tmp / "zoo")],
                             str(missing)),
        "benchmarks.task_sets": (["--task-set", "nope", "--out", str(tmp / "t.md")],
                                 "unknown task set 'nope'"),
        "benchmarks.zero_shot": (["--task-set", "nope", "--out", str(tmp / "z.md")], "nope"),
        "benchmarks.headroom": (["--task-set", "nope", "--out", str(tmp / "h.md")], "nope"),
        "benchmarks.budgets": (["--controllers", "zoo:nope", "--out", str(tmp / "b.md")],
                               "zoo:nope"),
        "benchmarks.first_decisions": (["--from", str(missing / "s.jsonl"), "--method", "x",
                                        "--out", str(tmp / "f.md")], str(missing / "s.jsonl")),
        "benchmarks.surrogate": (["train", "--weights", str(missing / "w.pt"), "--out",
                                  str(tmp / "s")], "surrogate weights"),
        "benchmarks.static_recipes": (["--env", "mlic-vco", "--seeds", "1", "--out",
                                       str(tmp / "s.md")], "mlic-voc"),
        "benchmarks.throughput": (["--env", "mlic-vco", "--out", str(tmp / "t.md")],
                                  "mlic-voc"),
    }


@pytest.fixture
def keep_threads():
    """Some commands set torch's thread count for their run (surrogate train): restore it."""
    import torch
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("module", sorted(_errors(Path("."))))
def test_a_project_error_exits_2_with_one_line_and_debug_shows_it(module, tmp_path, capsys,
                                                                 keep_threads):
    argv, message = _errors(tmp_path)[module]
    main = _main(module)
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err
    with pytest.raises(MLICError):
        main([*argv, "--debug"])


@pytest.mark.parametrize("module, store", [
    ("benchmarks.task_sets", "runs/task_sets-digits-tiny-v0.jsonl"),
    ("benchmarks.zero_shot", "runs/x.jsonl"),
])
def test_a_refused_resume_is_a_project_error(module, store, tmp_path, capsys, monkeypatch):
    path = _store_of_other_settings(tmp_path / store)
    monkeypatch.setattr(_code(module), "play_stored", _no_runs)
    argv = ["--task-set", "digits-tiny-v0", "--quick", "--resume", "--no-progress", "--out",
            str(tmp_path / "x.md")]
    argv += ["--zoo", "bandit-digits-v0", "--no-pbt"] if module.endswith("zero_shot") else []
    with pytest.raises(SystemExit) as stop:
        _main(module)(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: cannot resume") and str(path) in err
    assert "Traceback" not in err


def test_dataset_collect_refuses_a_foreign_store(tmp_path, capsys, monkeypatch):
    from benchmarks.offline import dataset
    path = _store_of_other_settings(tmp_path / "store.jsonl")
    monkeypatch.setattr(dataset, "play_stored", _no_runs)
    with pytest.raises(SystemExit) as stop:
        dataset.main(["collect", "--task-set", "digits-tiny-v0", "--store", str(path),
                      "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: ") and "Traceback" not in err


def _run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_python_m_reports_a_project_error_and_debug_its_traceback():
    done = _run_module("benchmarks.task_sets", "--task-set", "nope")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: unknown task set 'nope'")
    assert done.stderr.count("\n") == 1
    debug = _run_module("benchmarks.task_sets", "--task-set", "nope", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert "unknown task set 'nope'" in debug.stderr


def test_python_m_refuses_a_negative_count_at_parse_time():
    done = _run_module("training.imitate", "demos", "--max-tasks", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument --max-tasks: must be a non-negative integer, got -1" in done.stderr


# ------------------------------------------------------------------ counts at parse time
BAD_COUNTS = [
    ("training.run_marl", [], "--episodes", "0"), ("training.run_marl", [], "--workers", "0"),
    ("training.run_marl", [], "--seed", "-1"), ("training.run_marl", [], "--image-size", "0"),
    ("training.run_marl", [], "--batch-size", "-3"),
    ("training.run_marl", [], "--max-decisions", "0"),
    ("training.run_marl", [], "--steps-per-decision", "0"),
    ("training.run_marl", [], "--max-train-images", "0"), ("training.run_marl", [], "--beta", "-1"),
    ("training.meta_train", [], "--episodes", "0"), ("training.meta_train", [], "--workers", "0"),
    ("training.meta_train", [], "--eval-every", "0"),
    ("training.meta_train", [], "--eval-seeds", "0"), ("training.meta_train", [], "--seed", "-2"),
    ("training.imitate", ["demos"], "--max-tasks", "-1"),
    ("training.imitate", ["demos"], "--seeds", "0"),
    ("training.imitate", ["demos"], "--candidates", "-1"),
    ("training.imitate", ["demos"], "--horizon", "-1"),
    ("training.imitate", ["demos"], "--threads", "0"),
    ("training.imitate", ["demos"], "--workers", "0"),
    ("training.imitate", ["fit"], "--epochs", "0"),
    ("training.imitate", ["fit"], "--dagger-rounds", "-1"),
    ("training.imitate", ["fit"], "--dagger-episodes", "0"),
    ("training.imitate", ["fit"], "--eval-seeds", "0"),
    ("training.imitate", ["fit"], "--learning-rate", "0"),
    ("training.imitate", ["select"], "--neighbours", "0"),
    ("benchmarks.headroom", [], "--candidates", "-1"),
    ("benchmarks.headroom", [], "--horizon", "-1"),
    ("benchmarks.headroom", [], "--seeds", "0"), ("benchmarks.headroom", [], "--workers", "0"),
    ("benchmarks.protocol", [], "--seeds", "0"), ("benchmarks.protocol", [], "--workers", "0"),
    ("benchmarks.protocol", [], "--meta-episodes", "-1"),
    ("benchmarks.protocol", [], "--meta-workers", "0"), ("benchmarks.protocol", [], "--reps", "0"),
    ("benchmarks.zero_shot", [], "--seeds", "0"), ("benchmarks.zero_shot", [], "--workers", "0"),
    ("benchmarks.user_loop", [], "--seeds", "0"), ("benchmarks.user_loop", [], "--workers", "0"),
    ("benchmarks.task_sets", [], "--seeds", "0"), ("benchmarks.task_sets", [], "--workers", "0"),
    ("benchmarks.dataset", ["collect"], "--seeds", "0"),
    ("benchmarks.dataset", ["collect"], "--workers", "0"),
    ("benchmarks.surrogate", ["fit"], "--members", "0"),
    ("benchmarks.surrogate", ["fit"], "--epochs", "0"),
    ("benchmarks.surrogate", ["fit"], "--threads", "0"),
    ("benchmarks.surrogate", ["fit"], "--seed", "-1"),
    ("benchmarks.surrogate", ["fidelity"], "--episodes", "0"),
    ("benchmarks.surrogate", ["train"], "--episodes", "0"),
    ("benchmarks.surrogate", ["train"], "--eval-seeds", "0"),
    ("benchmarks.surrogate", ["train"], "--workers", "0"),
    ("benchmarks.budgets", [], "--seeds", "0"), ("benchmarks.budgets", [], "--workers", "0"),
    ("benchmarks.ablations", [], "--seeds", "0"),
    ("benchmarks.ablations", [], "--max-decisions", "0"),
    ("benchmarks.peers", [], "--population", "0"), ("benchmarks.peers", [], "--seeds", "0"),
    ("benchmarks.peers", [], "--budget-epochs", "0"),
    ("benchmarks.peers", [], "--trial-epochs", "0"), ("benchmarks.peers", [], "--interval", "0"),
    ("benchmarks.static_recipes", [], "--seeds", "0"),
    ("benchmarks.static_recipes", [], "--max-decisions", "0"),
    ("benchmarks.overhead", [], "--seeds", "0"), ("benchmarks.overhead", [], "--image-size", "0"),
    ("benchmarks.throughput", [], "--epochs", "0"), ("benchmarks.throughput", [], "--repeats", "0"),
    ("benchmarks.credit_assignment", [], "--seeds", "0"),
    ("benchmarks.credit_assignment", [], "--budget", "0"),
    ("benchmarks.algoperf", ["score"], "--seeds", "0"),
    ("benchmarks.algoperf", ["targets"], "--seeds", "-1"),
    ("benchmarks.first_decisions", [], "--workers", "0"),
    ("benchmarks.zero_shot", [], "--seeds", "two"),
]


@pytest.mark.parametrize("module, command, flag, value", BAD_COUNTS,
                         ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_counts_are_refused_at_parse_time_naming_the_flag(module, command, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        _main(module)([*command, flag, value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"error: argument {flag}: must be " in err, err
    assert f"got {value}" in err or f"got {value!r}" in err


@pytest.mark.parametrize("argv", [["--candidates", "0"], ["--horizon", "0"]])
def test_zero_is_valid_where_it_means_all_or_to_the_end(argv):
    from benchmarks.expert import headroom
    config = headroom.parse_args(["--quick", *argv])
    assert getattr(config, argv[0][2:]) == 0


def test_imitate_demos_max_tasks_minus_one_is_refused(capsys):
    from training import imitate
    from training.imitation.demonstrations import DemoConfig
    with pytest.raises(SystemExit) as stop:
        imitate.main(["demos", "--max-tasks", "-1", "--no-progress"])
    assert stop.value.code == 2 and "--max-tasks" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="max_tasks"):  # from Python too: it dropped a task
        DemoConfig(max_tasks=-1)
    assert imitate.parse_args(["demos", "--max-tasks", "0"]).max_tasks == 0  # 0: all


# ------------------------------------------------------------------ controllers, before runs
def _no_runs(*args, **kwargs):
    raise AssertionError("a run was started")


class NeedsAnArgument(StaticController):
    """A controller whose constructor wants more than the env, seed and config."""

    name = "needs-an-argument"

    def __init__(self, env, *, seed: int = 0, config=None, extra: int) -> None:
        super().__init__(env, seed=seed, config=config)


def _headroom_store(path: Path) -> Path:
    path.write_text(json.dumps({"settings": {"task_set": "digits-v1"}}) + "\n")
    return path


@pytest.mark.parametrize("algo, message", [
    ("run:{run}", "controller.json is missing"),
    (f"{__name__}:NeedsAnArgument", "missing 1 required keyword-only argument: 'extra'"),
])
def test_protocol_checks_the_controller_before_any_run(algo, message, tmp_path, capsys,
                                                       monkeypatch):
    from benchmarks.ranking import protocol
    monkeypatch.setattr(protocol, "play_stored", _no_runs)
    algo = algo.format(run=unfinished_run(tmp_path))
    with pytest.raises(SystemExit) as stop:
        protocol.main(["--quick", "--algo", algo, "--targets", "heldout", "--seeds", "1",
                       "--workers", "1", "--no-progress", "--headroom",
                       str(_headroom_store(tmp_path / "h.jsonl")), "--out",
                       str(tmp_path / "lb.md")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"error: --algo {algo}: ") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # no store line written
    with pytest.raises(MLICError):  # --debug: the traceback, chained to the cause
        protocol.main(["--quick", "--algo", algo, "--targets", "heldout", "--headroom",
                       str(tmp_path / "h.jsonl"), "--out", str(tmp_path / "lb.md"), "--debug"])


@pytest.mark.parametrize("module", ["benchmarks.zero_shot", "benchmarks.user_loop"])
def test_zero_shot_and_user_loop_check_runs_before_any_run(module, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setattr(_code(module), "play_stored", _no_runs)
    run = unfinished_run(tmp_path)
    argv = ["--quick", "--zoo", "bandit-digits-v0", "--runs", str(run), "--seeds", "1",
            "--no-progress", "--out", str(tmp_path / "x.md")]
    with pytest.raises(SystemExit) as stop:
        _main(module)(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"error: run:{run}: ")
    assert "controller.json is missing" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_headroom_checks_the_expert_before_any_run(tmp_path, capsys, monkeypatch):
    """A jump outside the tasks' catalogue failed in a worker after the panel runs."""
    from benchmarks.expert import headroom
    monkeypatch.setattr(headroom, "play_stored", _no_runs)
    with pytest.raises(SystemExit) as stop:
        headroom.main(["--quick", "--tasks", "train:1", "--seeds", "1", "--no-progress",
                       "--jumps", "crop+sf_adamw+constant+asl", "--out", str(tmp_path / "h.md")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("error: ") and "sf_adamw" in err
    assert not (tmp_path / "runs").exists()
