"""What the master lets go of once nothing depends on it, so that its memory stays flat.

- A data version's value (the pickled bytes in the master's store) is dropped when no
  task still to finish reads it, and either a later version replaced it (and is final)
  or the user's handle on it is gone (the :class:`Future` was garbage-collected and no
  stand-in object aliases it). A live future or tracked object keeps its latest value,
  so ``wait_on`` of it works at any time.
- A task that succeeded, once its outputs are in place, leaves ``master.records``: its
  row for ``records.jsonl`` is appended to a spool file in the run directory
  (``records.part``) and read back when the run writes its records. Failed and cancelled
  tasks keep their record (their failure explains their successors'). Without a run
  directory (``start()`` in a notebook, tests) records stay in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpcflow.graph.graph import DataKey, TaskNode, Version
from hpcflow.graph.states import TaskState, VersionState
from hpcflow.runtime import futures, plain
from hpcflow.runtime.trim import Trimmer

if TYPE_CHECKING:
    from hpcflow.runtime.master import Master
    from hpcflow.runtime.tasks import TaskRecord

_FINAL = (VersionState.AVAILABLE, VersionState.CANCELLED)
SPOOL_NAME = "records.part"
_SPOOL_BATCH = 512  # rows encoded and written at once


_ROW_KEYS = ("id", "name", "state", "node", "host", "pid", "attempts", "version",
             "submitted", "started", "ended", "error", "nodes", "launch")


def task_row(record: TaskRecord, state: TaskState) -> dict[str, Any]:
    """The ``records.jsonl`` row of one task: what ran, where, when, how it ended."""
    return dict(zip(_ROW_KEYS, row_values(record, state), strict=True))


def row_values(record: TaskRecord, state: TaskState) -> tuple[Any, ...]:
    """The values of :func:`task_row`, in its order (a tuple: cheaper to keep)."""
    result = record.result
    return (record.id, record.definition.spec.name, state.value, record.node,
            result.host if result else None, result.pid if result else None, record.attempt,
            record.version, record.submitted, result.started if result else None,
            result.ended if result else None,
            record.failure.reason if record.failure else None, list(record.nodes),
            _launch_info(record))


def _launch_info(record: TaskRecord) -> dict[str, str] | None:
    """A launched task's outcome (logs, nodes, exit code); outputs named by their final path."""
    extra = record.result.extra if record.result else None
    if not extra:
        return None
    final = {out.temp: out.path for out in record.plan.files}
    return {key: final.get(value, value) for key, value in extra.items()}


@dataclass(frozen=True, slots=True)
class _Refs:
    refs: tuple[DataKey, ...]


_NO_REFS = _Refs(())  # most tasks write no argument: one shared instance


@dataclass(eq=False, slots=True)
class Retired:
    """What a checkpoint signature needs of a retired writer (``_role`` in checkpoint.py);
    tuples, not the record's lists: kept for every task of the run (one made per task:
    not frozen, which would cost twice as much to make)."""

    id: int
    outputs: tuple[DataKey, ...]
    plan: _Refs

    @classmethod
    def of(cls, record: TaskRecord) -> Retired:
        refs = record.plan.refs
        return cls(record.id, tuple(record.outputs), _Refs(tuple(refs)) if refs else _NO_REFS)


class RecordSpool:
    """Rows of retired tasks, appended to a file in batches (runtime/plain.py: the process
    that writes them reads them back at the end, and that costs a fraction of JSON). Each
    batch: its length (8 bytes, little-endian), then the batch."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pending: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: tuple[Any, ...]) -> None:
        """Spool the :func:`row_values` of one task."""
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= _SPOOL_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        data = plain.dumps(batch)
        with open(self.path, "ab") as fh:
            fh.write(len(data).to_bytes(8, "little") + data)

    def rows(self) -> Iterable[dict[str, Any]]:
        """Every spooled row (pending ones included)."""
        self.flush()
        if os.path.exists(self.path):
            with open(self.path, "rb") as fh:
                while head := fh.read(8):
                    for values in plain.loads(fh.read(int.from_bytes(head, "little"))):
                        yield dict(zip(_ROW_KEYS, values, strict=True))

    def remove(self) -> None:
        self._pending = []
        if os.path.exists(self.path):
            os.unlink(self.path)


class Retirer:
    """Releases the master's per-task memory; called by the master under its lock."""

    def __init__(self, master: Master) -> None:
        self._master = master
        self._orphans: set[DataKey] = set()  # keys whose future the user dropped
        self.writers: dict[int, Retired] = {}  # retired tasks, when checkpoints need them
        self._trimmer = Trimmer()
        path = master.events.path
        self.spool = RecordSpool(os.path.join(os.path.dirname(path), SPOOL_NAME)) if path else None
        if self.spool is not None:
            self.spool.remove()  # a stale one from a killed earlier run in the same dir

    def collect(self) -> None:
        """Take note of the futures the user dropped since the last call."""
        dropped = futures.DROPPED
        graph = self._master.graph
        aliased = self._master.tracker.aliased
        while dropped:
            key = dropped.popleft()
            version = graph.latest(key)
            if version is None or key in aliased:
                continue
            self._orphans.add(key)
            self._check(version)

    def task_final(self, record: TaskRecord) -> None:
        """``record``'s task reached a final state: release what it held, retire it."""
        node = self._master.graph.tasks[record.id]
        self._release(node)
        self.maybe_retire(record, node)

    def _release(self, node: TaskNode) -> None:
        for version in node.reads:
            self._check(version)
        for version in node.writes:
            self._check(version)
            if version.previous is not None:
                self._check(version.previous)

    def maybe_retire(self, record: TaskRecord, node: TaskNode | None = None) -> None:
        """Move a succeeded task whose outputs are all in place out of memory."""
        master = self._master
        if self.spool is None or record.id not in master.records:
            return
        node = node or master.graph.tasks[record.id]
        if node.state is not TaskState.DONE or record.failure:
            return
        if any(v.state is not VersionState.AVAILABLE for v in node.writes):
            return  # a file or directory still to be put in place
        self.spool.add(row_values(record, node.state))
        if master.checkpoints is not None:
            self.writers[record.id] = Retired.of(record)
        del master.records[record.id]

    def _check(self, version: Version) -> None:
        """Drop the value of ``version`` if nothing can ask for it any more."""
        if version.readers or version.state not in _FINAL or version.key[0] == "file":
            return
        graph, store = self._master.graph, self._master._store
        orphan = version.key in self._orphans and graph.latest(version.key) is version
        nxt = version.next
        superseded = nxt is not None and nxt.state in _FINAL
        if not (orphan or superseded):
            return
        blob = store.pop(version, None)
        if blob is not None:
            self._trimmer.released(len(blob))
        self._master._where.pop(version, None)
        if orphan:
            self._orphans.discard(version.key)
            graph.forget(version.key)
