"""The caller's side of the master: waiting for values, files and the end of the run."""

from __future__ import annotations

import os
import pickle
import threading
from typing import TYPE_CHECKING, Any

from hpcflow.errors import TaskFailed, UsageError
from hpcflow.graph.graph import DataKey, TaskGraph, Version
from hpcflow.graph.states import TaskState, VersionState
from hpcflow.runtime.calls import Tracker

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from hpcflow.runtime.tasks import TaskRecord


_UNFINISHED = (VersionState.PENDING, VersionState.WRITTEN)


class Waiting:
    """Blocking calls of the app's thread; mixed into the master, whose state they read.

    A thread waiting for one value is woken only once that value is final (or the run
    failed), not at every event of the run: :meth:`_wake` decides.
    """

    graph: TaskGraph
    tracker: Tracker
    records: dict[int, TaskRecord]
    fatal: TaskFailed | None
    _lock: AbstractContextManager[Any]  # the master's RLock
    _cond: threading.Condition
    _store: dict[Version, bytes]
    _awaited: dict[Version, int]  # versions threads wait for, with how many threads
    _general_waits: int  # threads waiting for anything else (barriers, groups, files)

    def _wake(self) -> None:
        """Call with the lock held, after the run's state changed."""
        if self._general_waits or self.fatal is not None or any(
                v.state not in _UNFINISHED for v in self._awaited):
            self._cond.notify_all()

    def _wait_general(self, timeout: float | None = None) -> None:
        self._general_waits += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._general_waits -= 1

    def wait_value(self, key: DataKey) -> Any:
        """Block until the latest version of ``key`` exists; return its value."""
        with self._lock:
            version = self.graph.latest(key)
            if version is None:
                raise UsageError("this object was deleted (delete_object) or is unknown")
            blob = self._wait_version(version)
        return pickle.loads(blob) if blob is not None else None

    def settle_values(self, keys: list[DataKey]) -> None:
        """Block until the latest versions of ``keys`` are final or the run failed.
        The last first: results come roughly in order, so this thread wakes about once."""
        with self._lock:
            for key in reversed(keys):
                version = self.graph.latest(key)
                while version is not None and version.state in _UNFINISHED and \
                        self.fatal is None:
                    self._await(version)

    def _wait_version(self, version: Version) -> bytes | None:
        while version.state in _UNFINISHED:
            if self.fatal is not None:
                raise self.fatal
            self._await(version)
        if version.state is VersionState.CANCELLED:
            failure = self.records[version.writer].failure if version.writer else None
            raise failure or TaskFailed("?", "its producer failed")
        return self._store.get(version)

    def _await(self, version: Version) -> None:
        self._awaited[version] = self._awaited.get(version, 0) + 1
        try:
            self._cond.wait()
        finally:
            left = self._awaited.pop(version) - 1
            if left:
                self._awaited[version] = left

    def wait_object(self, obj: Any) -> Any:
        """The latest value of a tracked object; the object is no longer tracked after."""
        key = self.tracker.key_of(obj)
        if key is None:
            return obj
        value = self.wait_value(key)
        if key[0] == "obj":
            with self._lock:
                self.tracker.forget(obj)
                self.graph.forget(key)
        return value

    def wait_file(self, path: str | os.PathLike[str], writing: bool = False) -> str:
        """Block until the last writer of ``path`` committed it (and, when ``writing``,
        until nothing reads it any more)."""
        key: DataKey = ("file", os.path.abspath(os.fspath(path)))
        with self._lock:
            version = self.graph.latest(key)
            if version is not None:
                self._wait_version(version)
            while writing and not self.graph.accesses_final(key):
                self._wait_general()
            if writing:
                self.graph.main_version(key, in_place=True)
        return os.fspath(path)

    def forget_file(self, path: str | os.PathLike[str]) -> None:
        self.wait_file(path, writing=True)
        with self._lock:
            self.graph.forget(("file", os.path.abspath(os.fspath(path))))

    def forget_object(self, obj: Any) -> None:
        with self._lock:
            key = self.tracker.forget(obj)
            if key is not None:
                self.graph.forget(key)

    def barrier(self) -> None:
        """Wait until every submitted task is final; raise if the application failed."""
        with self._lock:
            while not self.graph.all_final() and self.fatal is None:
                self._wait_general()
            if self.fatal is not None:
                raise self.fatal

    def settle(self) -> None:
        """Wait until every task is final, even after a fatal failure (used at exit)."""
        with self._lock:
            while not self.graph.all_final():
                self._wait_general(timeout=0.5)

    def counts(self) -> dict[str, int]:
        with self._lock:
            c = self.graph.counts()
        return {"done": c[TaskState.DONE], "running": c[TaskState.RUNNING],
                "pending": c[TaskState.PENDING] + c[TaskState.READY],
                "failed": c[TaskState.FAILED] + c[TaskState.CANCELLED]}
