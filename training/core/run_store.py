"""Finished runs of a sweep (a benchmark's, the expert's demonstrations), kept on disk so that
an interrupted sweep can resume.

A sweep writes one JSON line per finished run (a method or variant on one seed) to
``DIR/runs/<sweep>.jsonl``, flushed and fsynced as soon as the run ends. The first line
holds the sweep's settings (env, budget, overrides, ...: whatever changes a run's result),
and the data generator's version, so that runs on older generated data are never reused.
With ``--resume`` the sweep reloads every stored run whose key it needs and trains only
the rest; seeds or methods may be added on resume, but a file written with different
settings is refused with an error that names the differences. Without ``--resume`` the
file is started afresh. A line cut short by a crash is ignored (that run is redone).

The records are ``dataclasses.asdict`` of the sweep's result dataclasses, so any
dataclass whose fields are JSON values can be stored.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from envs.atomic import write_text_atomic
from envs.engine.data.digits import GENERATOR_VERSION
from envs.errors import MLICError

T = TypeVar("T")
J = TypeVar("J")
C = TypeVar("C")


class SweepResumeError(MLICError, RuntimeError):
    """The stored runs cannot be resumed by this sweep."""


class RunStore:
    """Append-only store of finished runs, keyed by ``(name, seed)``."""

    def __init__(self, path: Path, settings: Mapping[str, Any], resume: bool = False):
        self.path = path
        # runs on data of another generator version are other runs (tasks keep their names)
        settings = {**settings, "data_generator_version": GENERATOR_VERSION}
        self.settings = json.loads(json.dumps(settings, default=str))
        self._runs: dict[tuple[str, int], dict[str, Any]] = {}
        self.reused = 0
        """How many runs ``fetch`` returned from the store instead of running them."""
        if resume and path.exists():
            self._load()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line({"settings": self.settings}, mode="w")


    def get(self, name: str, seed: int, kind: type[T]) -> T | None:
        """The stored run, rebuilt as ``kind``, or None if it has not finished yet."""
        record = self._runs.get((name, seed))
        return None if record is None else kind(**record)

    def fetch(self, name: str, seed: int, kind: type[T], run: Callable[[], T]) -> T:
        """The stored run if there is one; otherwise ``run()``, stored before it is returned."""
        result = self.get(name, seed, kind)
        if result is None:
            result = run()
            self.put(name, seed, result)
        else:
            self.reused += 1
        return result

    def put(self, name: str, seed: int, result: Any) -> None:
        """Store a finished run (a dataclass) durably."""
        record = dataclasses.asdict(result)
        self._runs[(name, seed)] = record
        self._write_line({"name": name, "seed": seed, "result": record})

    def _load(self) -> None:
        stored, self._runs = _parse(self.path)
        if stored != self.settings:
            differ = sorted(k for k in set(stored or {}) | set(self.settings)
                            if (stored or {}).get(k) != self.settings.get(k))
            details = ", ".join(f"{k}: stored {(stored or {}).get(k)!r}, now "
                                f"{self.settings.get(k)!r}" for k in differ)
            raise SweepResumeError(
                f"cannot resume from {self.path}: it was written with other settings "
                f"({details}). Rerun with the same settings, choose another --out, or drop "
                "--resume to start afresh.")
        # Rewrite without any damaged line, so that new runs are appended to a clean file.
        entries = [{"settings": self.settings}] + [
            {"name": name, "seed": seed, "result": record}
            for (name, seed), record in self._runs.items()]
        write_text_atomic(self.path, "".join(json.dumps(e) + "\n" for e in entries))

    def _write_line(self, entry: Mapping[str, Any], mode: str = "a") -> None:
        with self.path.open(mode, encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _parse(path: Path) -> tuple[dict[str, Any] | None, dict[tuple[str, int], dict[str, Any]]]:
    """A store file's settings and its runs by ``(name, seed)``; damaged lines are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        settings = json.loads(lines[0])["settings"] if lines else None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SweepResumeError(
            f"{path} does not start with a sweep's settings line ({error}); "
            "delete it or run without --resume") from error
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
            runs[(entry["name"], int(entry["seed"]))] = entry["result"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a line cut short by a crash: that run is redone
    return settings, runs


def read_store(path: Path, kind: type[T]) -> tuple[dict[str, Any], list[T]]:
    """A store's settings and every run in it, rebuilt as ``kind``, without writing to it
    (for whoever consumes a finished sweep, e.g. learners reading demonstrations)."""
    settings, runs = _parse(path)
    return settings or {}, [kind(**record) for record in runs.values()]


def reloaded_note(count: int, path: Path) -> str:
    """The report's remark on runs reloaded with ``--resume`` (empty when there were none)."""
    return (f" ({count} finished run(s) reloaded from {path} with --resume; their time is "
            "not included)" if count else "")


def run_sweep(sweep: Callable[[C], T], config: C, store_path: Path) -> T:
    """``sweep(config)``, with a refused resume or Ctrl-C turned into a clear exit.

    A resume that does not fit exits with status 2 and the reason; Ctrl-C exits with 130
    after saying where the finished runs are and how to continue.
    """
    try:
        return sweep(config)
    except SweepResumeError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished runs are kept in {store_path}; rerun the same "
              "command with --resume to continue where it stopped", file=sys.stderr)
        raise SystemExit(130) from None


def play_stored(jobs: Sequence[J], run: Callable[[J], T], key: Callable[[J], tuple[str, int]],
                kind: type[T], store: RunStore, workers: int, bar: Any,
                initializer: Callable[[], None] | None = None) -> list[T]:
    """Every job's result in job order: from ``store`` if it holds it, else ``run(job)`` in
    ``workers`` processes (started by ``initializer``), each stored the moment it ends.
    ``key(job)`` is the ``(name, seed)`` the store files it under; ``bar`` counts jobs."""
    from concurrent.futures import ProcessPoolExecutor
    done: dict[int, T | None] = {i: store.get(*key(j), kind) for i, j in enumerate(jobs)}
    todo = [i for i, result in done.items() if result is None]
    bar.update(len(jobs) - len(todo))
    if todo:
        with ProcessPoolExecutor(max_workers=workers, initializer=initializer) as pool:
            for i, result in zip(todo, pool.map(run, [jobs[i] for i in todo])):
                store.put(*key(jobs[i]), result)
                done[i] = result
                bar.update(1)
    return [done[i] for i in range(len(jobs))]  # type: ignore[misc]
