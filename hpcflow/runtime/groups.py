"""Task groups (``TaskGroup``): the first failure (or StopGroup) of a group cancels its
other tasks, running ones too, and is raised at the group's end or at its barrier."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from hpcflow.errors import TaskFailed, UsageError
from hpcflow.graph.graph import Progress, TaskGraph
from hpcflow.graph.states import FINAL_STATES, TaskState
from hpcflow.runtime.tasks import _Group

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from hpcflow.runtime.tasks import TaskRecord


class Groups:
    """Mixed into the master, whose state and methods it uses (under its lock)."""

    graph: TaskGraph
    records: dict[int, TaskRecord]
    _lock: AbstractContextManager[Any]  # the master's RLock
    _cond: threading.Condition
    _groups: list[_Group]
    _named_groups: dict[str, _Group]

    def _advance(self, progress: Progress, cause: TaskFailed | None = None) -> None:
        raise NotImplementedError

    def _wait_general(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    def _kill(self, record: TaskRecord, reason: str) -> Progress:
        raise NotImplementedError

    def open_group(self, name: str) -> None:
        with self._lock:
            self._groups.append(_Group(name))

    def close_group(self, name: str, wait: bool = True) -> None:
        """Leave the group; unless ``wait`` is false, wait for its tasks and raise its
        first failure (``barrier_group`` does it later)."""
        with self._lock:
            group = self._groups.pop()
            self._named_groups[group.name] = group
        if wait:
            self.barrier_group(group.name)

    def barrier_group(self, name: str) -> None:
        """Wait for the tasks of the group ``name``; raise its first failure."""
        with self._lock:
            group = self._named_group(name)
            while not all(self.graph.tasks[t].state in FINAL_STATES for t in group.tasks):
                self._wait_general()
            group.closed = True
        if group.failure is not None:
            raise group.failure

    def cancel_group(self, name: str) -> None:
        """Cancel what is left of the group ``name``; running tasks are killed."""
        with self._lock:
            group = self._named_group(name)
            self._advance(self._cancel_members(group, f"group {name} was cancelled"))

    def _named_group(self, name: str) -> _Group:
        group = self._named_groups.get(name)
        if group is None:
            group = next((g for g in self._groups if g.name == name), None)
        if group is None:
            raise UsageError(f"no task group named {name!r}")
        return group

    def _group_of(self, record: TaskRecord) -> _Group | None:
        group = record.group
        return group if group is not None and not group.closed else None

    def _fail_group(self, group: _Group, record: TaskRecord, error: TaskFailed) -> None:
        group.failure = group.failure or error
        progress = self.graph.fail(record.id)
        progress.merge(self._cancel_members(group, f"group {group.name} failed"))
        self._advance(progress, cause=error)

    def _cancel_members(self, group: _Group, reason: str) -> Progress:
        progress = Progress()
        for task_id in group.tasks:
            state = self.graph.tasks[task_id].state
            if state is TaskState.RUNNING:
                progress.merge(self._kill(self.records[task_id], reason))
            elif state not in FINAL_STATES:
                progress.merge(self.graph.cancel(task_id))
        return progress
