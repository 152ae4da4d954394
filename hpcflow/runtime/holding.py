"""The values the master holds for tasks: what a shared (CONCURRENT/COMMUTATIVE) writer
gets, and letting go of IN_DELETE data once their readers have them."""

from __future__ import annotations

from typing import Any

from hpcflow.graph.graph import DataKey, TaskGraph, Version
from hpcflow.graph.states import VersionState
from hpcflow.runtime.calls import Tracker


class Holding:
    """Mixed into the master, whose state it reads (under the master's lock)."""

    graph: TaskGraph
    tracker: Tracker
    _store: dict[Version, bytes]
    _dropped: set[Version]  # IN_DELETE versions whose readers have not all finished

    def _input(self, task_id: int, key: DataKey, reads: dict[DataKey, Version]) -> bytes:
        """The version the task reads, or for a shared writer the value its group's
        previous members left."""
        for version in self.graph.tasks[task_id].writes:
            if version.key == key and version.share is not None and version in self._store:
                return self._store[version]
        return self._store[reads[key]]

    def _release_object(self, obj: Any) -> None:
        """IN_DELETE: the runtime forgets ``obj``; its value goes once it has been read."""
        key = self.tracker.forget(obj)
        version = self.graph.latest(key) if key is not None else None
        if key is not None and version is not None:
            self.graph.forget(key)
            self._dropped.add(version)
            self._drop(version)

    def _drop_read(self, task_id: int) -> None:
        """A task ended: drop the IN_DELETE values it was the last reader of."""
        if self._dropped:
            for version in self.graph.tasks[task_id].reads:
                self._drop(version)

    def _drop(self, version: Version) -> None:
        if version in self._dropped and not version.readers and \
                version.state is VersionState.AVAILABLE:
            self._store.pop(version, None)
            self._dropped.discard(version)
