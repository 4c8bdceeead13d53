"""Finished runs of a sweep (a benchmark's, the expert's demonstrations), kept on disk so that
an interrupted sweep can resume.

A sweep writes one JSON line per finished run (a method or variant on one seed) to
``DIR/runs/<sweep>.jsonl``, flushed and fsynced as soon as the run ends. The first line
names the store's kind (``training.core.jsonl``: headroom, zero-shot, demonstrations, ...)
and holds the sweep's settings (env, budget, overrides, ...: whatever changes a run's
result), and the data generator's version, so that runs on older generated data are never
reused. With ``--resume`` the sweep reloads every stored run whose key it needs and trains
only the rest; seeds or methods may be added on resume, but a file written with different
settings, or a file that is not a store of the sweep's kind, is refused with an error that
names the differences. Without ``--resume`` the file is started afresh. A line cut short by
a crash is skipped with a warning and cut off before the next run is appended (that run is
redone). Files are read and written by ``training.core.jsonl``.

The records are ``dataclasses.asdict`` of the sweep's result dataclasses, so any
dataclass whose fields are JSON values can be stored.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from envs.engine.data.digits import GENERATOR_VERSION
from envs.errors import MLICError
from training.core import jsonl
from training.core.jsonl import RUNS, StoreFormatError, StoreKind

T = TypeVar("T")
J = TypeVar("J")
C = TypeVar("C")


class SweepResumeError(MLICError, RuntimeError):
    """The stored runs cannot be resumed by this sweep."""


class RunStore:
    """Append-only store of finished runs, keyed by ``(name, seed)``; ``kind``: the store's
    kind (``training.core.jsonl.KINDS``), written in its header and checked on resume."""

    def __init__(self, path: Path, settings: Mapping[str, Any], resume: bool = False,
                 kind: StoreKind = RUNS):
        self.path = path
        self.kind = kind
        # runs on data of another generator version are other runs (tasks keep their names)
        settings = {**settings, "data_generator_version": GENERATOR_VERSION}
        self.settings = json.loads(json.dumps(settings, default=str))
        self._runs: dict[tuple[str, int], dict[str, Any]] = {}
        self.reused = 0
        """How many runs ``fetch`` returned from the store instead of running them."""
        if resume and path.exists():
            self._log = self._load()
        else:
            self._log = jsonl.create(path, kind, self.settings)

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
        self._log.append({"name": name, "seed": seed, "result": record})

    def _load(self) -> jsonl.Appender:
        """Reload the stored runs; the appender continues after the last complete line (a
        line cut short is cut off: that run is redone)."""
        try:
            store, log = jsonl.resume(self.path, self.kind, self.settings)
        except StoreFormatError as error:
            raise SweepResumeError(
                f"cannot resume: {error} (a run store starts with its sweep's settings "
                "line); delete it or run without --resume") from None
        stored = store.settings if store is not None else self.settings
        if stored != self.settings:
            differ = sorted(k for k in set(stored) | set(self.settings)
                            if stored.get(k) != self.settings.get(k))
            details = ", ".join(f"{k}: stored {stored.get(k)!r}, now "
                                f"{self.settings.get(k)!r}" for k in differ)
            raise SweepResumeError(
                f"cannot resume from {self.path}: it was written with other settings "
                f"({details}). Rerun with the same settings, choose another --out, or drop "
                "--resume to start afresh.")
        self._runs = _runs(store) if store is not None else {}
        return log


def _runs(store: jsonl.Store) -> dict[tuple[str, int], dict[str, Any]]:
    """A store's runs by ``(name, seed)`` (a run stored twice: its last line)."""
    return {(entry["name"], int(entry["seed"])): entry["result"] for entry in store.records}


def read_store(path: Path, kind: type[T], kinds: StoreKind | Sequence[StoreKind] = RUNS, *,
               task_set: str | None = None) -> tuple[dict[str, Any], list[T]]:
    """A store's settings and every run in it, rebuilt as ``kind``, without writing to it
    (for whoever consumes a finished sweep, e.g. learners reading demonstrations). ``kinds``:
    the store kinds accepted (``training.core.jsonl``; any run store by default), of
    ``task_set`` where given; anything else raises ``jsonl.StoreFormatError``."""
    store = jsonl.read(path, kinds, task_set=task_set)
    runs = []
    for (name, seed), record in _runs(store).items():
        try:
            runs.append(kind(**record))
        except TypeError as error:  # a run of another version of the record
            raise StoreFormatError(f"{path}: the run {name!r} (seed {seed}) is not a "
                                   f"{kind.__module__}.{kind.__qualname__} ({error})") from None
    return store.settings, runs


def reloaded_note(count: int, path: Path) -> str:
    """The report's remark on runs reloaded with ``--resume`` (empty when there were none)."""
    return (f" ({count} finished run(s) reloaded from {path} with --resume; their time is "
            "not included)" if count else "")


def run_sweep(sweep: Callable[[C], T], config: C, store_path: Path) -> T:
    """``sweep(config)``, with Ctrl-C turned into a clear exit: status 130, after saying where
    the finished runs are and how to continue. A resume that does not fit raises
    ``SweepResumeError``, a project error: the command reports it (``training.core.cli``:
    ``error: ...``, exit status 2)."""
    try:
        return sweep(config)
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
