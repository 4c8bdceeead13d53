"""One reader and one appender for every JSON-lines file the project writes (issue 31).

Run stores (``training.core.run_store``: every benchmark sweep, the demonstrations, the
dataset collection) and logs (``steps.jsonl`` of ``training.run_marl``, ``episodes.jsonl`` of
``training.meta_train``) are read by :func:`read` and written by :func:`create` (a new file)
or :func:`resume` (an existing one, then :meth:`Appender.append`).

**Layout.** A header line names the file's kind and the format version,
``{"kind": "headroom", "version": 1, "settings": {...}}`` (a log's header has no settings),
then one JSON object per line: a run store's ``{"name", "seed", "result"}``, a log's record.
The header is written atomically; each record is written with its newline in one call,
flushed and fsynced, so a kill can only leave the last line cut short.

**Damage.** A line is complete once its newline is written. What follows the last newline
(a line cut short by a kill) is skipped with a :class:`CutLineWarning`; :func:`resume` cuts
it off before appending, so the next record starts a line of its own (before issue 31,
``run_marl --resume`` appended onto the partial line). A complete line that is not a JSON
object of the kind is damage, not a cut: an error names the line.

**Recognising a file.** :func:`read` takes the kinds the caller accepts and refuses anything
else with a :class:`StoreFormatError` naming the file, the kind expected and the kind found:

* an empty file, or one with no complete line;
* binary data (a NUL byte, or not UTF-8);
* a first line that is not a JSON object;
* a header of another kind, or of a format version newer than :data:`FORMAT_VERSION`;
* a legacy file (below) whose first record is another kind's;
* a store whose settings name another task set, where the caller gives one.

**Legacy files** (written before kinds, ``version`` 0) are read, never refused: a run store
whose first line is ``{"settings": ...}`` alone, and a headerless log (an old ``steps.jsonl``
or ``episodes.jsonl``: its first line is already a record). A legacy file's kind, and that of
a store whose header names the generic kind ``runs`` (a ``RunStore`` given no kind), is told
by its first record (a run store's ``result``): it is an accepted kind when it carries every
key of that kind's :attr:`StoreKind.keys`. Otherwise the error names the known kind whose
keys it carries, the one with the most keys (:data:`KINDS` order breaks ties; zero-shot and
protocol, which share one record format, are named together). A legacy store with no record
yet is taken as the kind asked for. Every later record must carry the keys of one of the
accepted kinds. Legacy files are appended to as they are, header included: nothing rewrites
them. :meth:`Store.describe` names a store's kind, format version, task set, data generator
version and catalogue, so that an older store is read and named.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.atomic import write_text_atomic
from envs.errors import ConfigError

FORMAT_VERSION = 1
"""The header's ``version``; legacy files (no ``kind`` in a header) are version 0."""


class StoreFormatError(ConfigError):
    """A file given as a store or log that is not one of the kind expected, or is damaged."""


class CutLineWarning(UserWarning):
    """A store or log ends in a line cut short (a write interrupted by a kill); it is skipped."""


@dataclass(frozen=True)
class StoreKind:
    """A kind of JSON-lines file: its name in headers, what it is, how its records look."""

    name: str
    """Written in the header's ``kind``."""
    what: str
    """What the file is and which command writes it, for messages (``a ... (module)``)."""
    keys: frozenset[str] = frozenset()
    """Keys every record carries (a run store's: its ``result``): they tell a legacy file's
    kind. The generic :data:`RUNS` has none and accepts every run store."""
    runs: bool = True
    """A run store (settings in the header; lines ``{"name", "seed", "result"}``); False: a
    log of bare records."""


def _kind(name: str, what: str, *keys: str, runs: bool = True) -> StoreKind:
    return StoreKind(name, what, frozenset(keys), runs)


STEPS = _kind("steps", "a decision log (training.run_marl's steps.jsonl)",
              "episode", "decision", "step", "actions", runs=False)
META_EPISODES = _kind("meta-episodes", "an episode log (training.meta_train's episodes.jsonl)",
                      "round", "worker", "split", "task", "reset_seed", runs=False)
DEMONSTRATIONS = _kind("demonstrations", "a demonstrations store (training.imitate demos)",
                       "task", "seed", "candidates", "scores", "chosen")
DATASET = _kind("dataset", "a transition collection (benchmarks.dataset collect)",
                "observations", "actions", "rewards", "behaviour")
HEADROOM = _kind("headroom", "a headroom run store (benchmarks.headroom)",
                 "label", "method", "seed", "test_mAP")
ZERO_SHOT = _kind("zero-shot", "a zero-shot run store (benchmarks.zero_shot)",
                  "target", "method", "seed", "test_mAP")
PROTOCOL = _kind("protocol", "a protocol run store (benchmarks.protocol)",
                 "target", "method", "seed", "test_mAP")
USER_LOOP = _kind("user-loop", "a user-loop run store (benchmarks.user_loop)",
                  "method", "seed", "test_mAP", "recipes")
BUDGETS = _kind("budgets", "a budgets run store (benchmarks.budgets)",
                "method", "budget", "seed", "test_mAP")
TASK_SETS = _kind("task-sets", "a calibration panel store (benchmarks.task_sets)",
                  "task", "recipe", "seed", "test_mAP")
PEERS = _kind("peers", "a peers run store (benchmarks.peers)", "test", "curve", "wall_s")
ABLATIONS = _kind("ablations", "an ablations run store (benchmarks.ablations)",
                  "val_map", "test", "wall_s")
ALGOPERF_CONTROLLERS = _kind("algoperf-controllers", "an AlgoPerf controllers store "
                             "(benchmarks.algoperf score)", "seed", "curve", "test_mAP", "choices")
ALGOPERF_TARGETS = _kind("algoperf-targets", "an AlgoPerf target-setting store "
                         "(benchmarks.algoperf targets)", "seed", "curve", "test_mAP")
RUNS = _kind("runs", "a run store (training.core.run_store)")
KINDS: dict[str, StoreKind] = {k.name: k for k in (
    STEPS, META_EPISODES, DEMONSTRATIONS, DATASET, HEADROOM, ZERO_SHOT, PROTOCOL, USER_LOOP,
    BUDGETS, TASK_SETS, PEERS, ABLATIONS, ALGOPERF_CONTROLLERS, ALGOPERF_TARGETS, RUNS)}
"""Every kind, by name; where a legacy record fits several, the first named wins."""


@dataclass(frozen=True)
class Store:
    """A file as :func:`read` found it."""

    path: Path
    kind: StoreKind
    version: int
    """:data:`FORMAT_VERSION` of its header; 0 for a legacy file."""
    header: dict[str, Any] | None
    """The header line as written (None: a headerless legacy log)."""
    records: list[dict[str, Any]]
    """Every complete record, in file order (a run store's: ``{"name", "seed", "result"}``)."""
    warnings: tuple[str, ...] = ()
    """What was skipped (a line cut short)."""
    ends: tuple[int, ...] = field(default=(), repr=False)
    """Byte offset after the header, then after each record (where an appender cuts)."""

    @property
    def settings(self) -> dict[str, Any]:
        """A run store's settings (empty for a log)."""
        return dict((self.header or {}).get("settings") or {})

    @property
    def results(self) -> list[dict[str, Any]]:
        """A run store's results, in file order."""
        return [record["result"] for record in self.records]

    def describe(self) -> str:
        """The kind, format version and, where its settings name them, the task set, data
        generator version and catalogue: an older store is read and named, never refused."""
        parts = [self.kind.what.split(" (")[0],
                 f"format version {self.version}" if self.version else "legacy (no kind header)"]
        names = {"task_set": "task set", "data_generator_version": "data generator version",
                 "catalogue": "catalogue"}
        parts += [f"{label} {self.settings[k]}" for k, label in names.items() if k in self.settings]
        return ", ".join(parts)


# ------------------------------------------------------------------ reading
Refuse = Callable[[str], StoreFormatError]


def read(path: Path, kinds: StoreKind | Sequence[StoreKind], *,
         task_set: str | None = None) -> Store:
    """The file at ``path``, refused unless it is one of ``kinds`` (of ``task_set`` where the
    header's settings name one); a line cut short is skipped with a :class:`CutLineWarning`."""
    path = Path(path)
    kinds = (kinds,) if isinstance(kinds, StoreKind) else tuple(kinds)
    expected = " or ".join(k.what for k in kinds)

    def refuse(found: str) -> StoreFormatError:
        return StoreFormatError(f"{path}: expected {expected}, found {found}")

    lines, ends, cut = _lines(path, refuse)
    notes = ()
    if cut:
        notes = (f"{path}: line {len(lines) + 1} was cut short (a write interrupted by a "
                 "kill?); it is skipped",)
        warnings.warn(notes[0], CutLineWarning, stacklevel=2)
    header, version = _header(lines[0][1], refuse)
    records = lines[1:] if header is not None else lines
    kind = _recognise(header, records, kinds, refuse)
    allowed = (kind,) if _named(header) else tuple(k for k in kinds if k.runs == kind.runs)
    for number, value in records:
        _check_record(path, number, value, allowed or (kind,))
    store = Store(path, kind, version, header, [value for _, value in records], notes,
                  tuple(ends) if header is not None else (0, *ends))
    ran = store.settings.get("task_set")
    if task_set is not None and ran is not None and ran != task_set:
        raise StoreFormatError(f"{path}: expected {expected} of task set {task_set}, found "
                               f"{_short(kind)} of task set {ran}")
    return store


def _short(kind: StoreKind) -> str:
    return kind.what.split(" (")[0]


def _lines(path: Path, refuse: Refuse) -> tuple[list[tuple[int, Any]], list[int], bool]:
    """``(line number, JSON value)`` of every complete non-blank line, the byte offset after
    each, and whether text follows the last newline (a line cut short)."""
    data = path.read_bytes()
    if not data.strip():
        raise refuse("an empty file")
    if b"\0" in data:
        raise refuse("binary data (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("binary data (not UTF-8 text)") from None
    *complete, tail = text.split("\n")
    out, ends, offset = [], [], 0
    for number, line in enumerate(complete, 1):
        offset += len(line.encode("utf-8")) + 1
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            if not out:
                raise refuse(f"text that is not JSON lines (line {number}: {line[:60]!r})") \
                    from None
            raise StoreFormatError(f"{path}: line {number} is damaged (not JSON: {error}); "
                                   "only the last line may be cut short") from None
        out.append((number, value))
        ends.append(offset)
    if not out:
        raise refuse("no complete line (only a line cut short)")
    return out, ends, bool(tail.strip())


def _header(first: Any, refuse: Refuse) -> tuple[dict[str, Any] | None, int]:
    """The header (None: a headerless legacy log) and its format version."""
    if not isinstance(first, dict):
        raise refuse(f"JSON that is not a store (its first line is a {type(first).__name__})")
    if "kind" in first:
        version = first.get("version")
        if not isinstance(version, int) or version < 1:
            raise refuse(f"a header with no valid format version ({version!r})")
        if version > FORMAT_VERSION:
            kind = KINDS.get(first["kind"])
            raise refuse(f"{_short(kind) if kind else first['kind']} of format version "
                         f"{version}, newer than this code reads ({FORMAT_VERSION}): update "
                         "the project")
        return first, version
    if set(first) == {"settings"} and isinstance(first["settings"], dict):
        return first, 0  # a run store written before kinds
    return None, 0


def _recognise(header: dict[str, Any] | None, records: list[tuple[int, Any]],
               kinds: tuple[StoreKind, ...], refuse: Refuse) -> StoreKind:
    """The file's kind, if one of ``kinds`` (the rules are in the module docstring)."""
    if _named(header):
        found = KINDS.get(header["kind"])
        if found is None:
            raise refuse(f"a store of unknown kind {header['kind']!r}")
        if not any(k == found or (k is RUNS and found.runs) for k in kinds):
            raise refuse(found.what)
        return found
    runs = header is not None  # a legacy header is a run store's
    if not records:  # a legacy or generic run store with no run yet: any run store kind
        match = next((k for k in kinds if k.runs), None)
        if match is None:
            raise refuse(f"{RUNS.what} with no run yet")
        return match
    keys = _record_keys(records[0][1], runs)
    accepted = [k for k in kinds if k.runs == runs and k.keys <= keys]
    if accepted:
        return max(accepted, key=lambda k: len(k.keys))
    known = [k for k in KINDS.values() if k.runs == runs and k.keys <= keys]
    if not known:
        raise refuse(f"JSON lines of no known kind (first record's keys: {sorted(keys)})")
    most = max(len(k.keys) for k in known)
    best = [k for k in known if len(k.keys) == most]
    # kinds of one record format (zero-shot, protocol) are named together; else the first
    named = [k.what for k in best if k.keys == best[0].keys]
    raise refuse(f"{' or '.join(named)} (told by its records: it has no kind header)")


def _named(header: dict[str, Any] | None) -> bool:
    """Whether the header names a kind (legacy headers and the generic ``runs`` do not)."""
    return header is not None and header.get("kind", RUNS.name) != RUNS.name


def _record_keys(value: Any, runs: bool) -> frozenset[str]:
    if runs:
        value = value.get("result") if isinstance(value, dict) else None
    return frozenset(value) if isinstance(value, dict) else frozenset()


def _check_record(path: Path, number: int, value: Any, kinds: Sequence[StoreKind]) -> None:
    """A complete line must be a record of one of ``kinds``: damage is named, not skipped."""
    if kinds[0].runs and not (isinstance(value, dict) and {"name", "seed", "result"} <= set(value)
                              and isinstance(value["result"], dict) and _is_int(value["seed"])):
        raise StoreFormatError(f"{path}: line {number} is not a run (a JSON object with name, "
                               "seed and result)")
    keys = _record_keys(value, kinds[0].runs)
    if not isinstance(value, dict) or not any(k.keys <= keys for k in kinds):
        missing = sorted(kinds[0].keys - keys)
        raise StoreFormatError(f"{path}: line {number} is not a record of {kinds[0].what} "
                               f"(it lacks {', '.join(missing) or 'a JSON object'})")


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


# ------------------------------------------------------------------ writing
class Appender:
    """Appends one JSON line per record to ``path``: written in one call with its newline,
    flushed and fsynced before ``append`` returns."""

    def __init__(self, path: Path, default: Callable[[Any], Any] | None = None) -> None:
        self.path = Path(path)
        self.default = default
        """``json.dumps``'s ``default`` (how values JSON lacks are written)."""

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=self.default) + "\n"
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())


def header_line(kind: StoreKind, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The header :func:`create` writes."""
    header: dict[str, Any] = {"kind": kind.name, "version": FORMAT_VERSION}
    if kind.runs:
        header["settings"] = dict(settings or {})
    return header


def create(path: Path, kind: StoreKind, settings: Mapping[str, Any] | None = None,
           default: Callable[[Any], Any] | None = None) -> Appender:
    """Start ``path`` afresh (replacing any file there) with the header of ``kind``."""
    write_text_atomic(path, json.dumps(header_line(kind, settings)) + "\n")
    return Appender(path, default)


def resume(path: Path, kind: StoreKind, settings: Mapping[str, Any] | None = None, *,
           keep: int | None = None, default: Callable[[Any], Any] | None = None
           ) -> tuple[Store | None, Appender]:
    """Continue ``path``: the store read (None where there was no file: it is created), and an
    appender after its last complete record, or after its first ``keep`` records (a log
    resumed from a checkpoint drops what was written past it). A foreign file is refused
    before anything is changed; a line cut short is cut off."""
    path = Path(path)
    if not path.exists():
        return None, create(path, kind, settings, default)
    store = read(path, kind)
    records = len(store.records) if keep is None else min(keep, len(store.records))
    end = store.ends[records]
    if path.stat().st_size > end:
        with path.open("r+b") as file:
            file.truncate(end)
            file.flush()
            os.fsync(file.fileno())
    return store, Appender(path, default)
