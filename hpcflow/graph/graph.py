"""The data-flow task graph: data versions, dependencies, readiness and cancellation.

Pure bookkeeping. Every write creates a new version of a datum, so readers of an older
version never wait for a later writer (no false WAR/WAW dependencies). Data that lives in
place (files, directories) is written to a private path and *committed* later; a commit
waits until the previous version is committed and all its readers are final, so running
readers never see a newer file under their feet.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from hpcflow.graph.spec import Mode, Share
from hpcflow.graph.states import FINAL_STATES, TaskState, VersionState

DataKey = tuple[str, Hashable]


@dataclass(eq=False, slots=True)
class Version:
    """One version of one datum."""

    key: DataKey
    number: int
    writer: int | None
    in_place: bool
    state: VersionState
    previous: Version | None = None
    next: Version | None = None
    # unfinished tasks reading it; a set only while there are some (most versions have none)
    readers: set[int] | frozenset[int] = frozenset()
    waiters: list[int] | tuple[()] = ()  # a list only while tasks wait (most never do)
    committing: bool = False  # handed to the runtime to commit
    share: Share | None = None  # written by a CONCURRENT/COMMUTATIVE group of tasks
    members: set[int] | frozenset[int] = frozenset()  # shared: every writer of the group
    unfinished: set[int] | frozenset[int] = frozenset()  # shared: writers still to finish

    @property
    def label(self) -> str:
        return f"{self.key[0]}:{self.key[1]}@v{self.number}"


class Access(NamedTuple):
    """How one task touches one datum (a named tuple: one or more is made per call)."""

    key: DataKey
    mode: Mode
    in_place: bool = False
    share: Share | None = None


@dataclass(eq=False, slots=True)
class TaskNode:
    """A task as the graph sees it."""

    id: int
    state: TaskState
    reads: list[Version]
    writes: list[Version]
    missing: int = 0


@dataclass(slots=True)
class Progress:
    """What an event made possible: tasks now ready, versions to commit, tasks cancelled."""

    ready: list[int] = field(default_factory=list)
    commits: list[Version] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def merge(self, other: Progress) -> Progress:
        self.ready += other.ready
        self.commits += other.commits
        self.cancelled += other.cancelled
        return self


class TaskGraph:
    """Tasks, the versions they read and write, and the edges between them."""

    def __init__(self) -> None:
        self.tasks: dict[int, TaskNode] = {}
        self._latest: dict[DataKey, Version] = {}
        self._unfinished = 0  # tasks not in a final state

    # -- building ---------------------------------------------------------------------
    def latest(self, key: DataKey) -> Version | None:
        return self._latest.get(key)

    def main_version(self, key: DataKey, in_place: bool = False) -> Version:
        """A new version written by the main program itself, available at once."""
        return self._new_version(key, None, in_place, VersionState.AVAILABLE)

    def add_task(self, task_id: int, accesses: Iterable[Access],
                 outputs: Iterable[DataKey] = ()) -> TaskNode:
        """Record a task; it is READY at once when every version it reads is available.

        ``outputs``: keys the task alone writes, new ones (its return values), written
        after ``accesses`` as ``Access(key, Mode.OUT)`` would be, without making those."""
        node = TaskNode(task_id, TaskState.PENDING, [], [])
        if accesses:
            self._add_accesses(node, list(accesses))
        writes = node.writes
        for key in outputs:
            writes.append(self._new_version(key, task_id, False, VersionState.PENDING))
        if node.missing == 0:
            node.state = TaskState.READY
        self.tasks[task_id] = node
        self._unfinished += 1
        return node

    def _add_accesses(self, node: TaskNode, accesses: list[Access]) -> None:
        written: set[DataKey] = set()
        for access in accesses:
            if access.share is not None and access.key not in written:
                written.add(access.key)
                self._add_shared(node, access)
        for access in accesses:  # (mode.reads and mode.writes, inlined: a hot path)
            if access.mode is not Mode.OUT and access.key not in written:
                self._add_read(node, access)
        for access in accesses:
            if access.mode is not Mode.IN and access.key not in written:
                written.add(access.key)
                node.writes.append(
                    self._new_version(access.key, node.id, access.in_place, VersionState.PENDING))

    def _add_read(self, node: TaskNode, access: Access) -> None:
        version = self._latest.get(access.key)
        if version is None:
            version = self.main_version(access.key, access.in_place)
        if version in node.reads:
            return
        node.reads.append(version)
        if version.readers:
            version.readers.add(node.id)  # type: ignore[union-attr]
        else:
            version.readers = {node.id}
        if version.state is VersionState.CANCELLED:
            node.missing += 1  # the caller cancels the task right away
        elif version.state is not VersionState.AVAILABLE:
            node.missing += 1
            if version.waiters:
                version.waiters.append(node.id)  # type: ignore[union-attr]
            else:
                version.waiters = [node.id]

    def _add_shared(self, node: TaskNode, access: Access) -> None:
        """Join the open CONCURRENT/COMMUTATIVE group of the datum, or open one: every
        member reads the version before the group and writes the group's version."""
        latest = self._latest.get(access.key)
        joining = latest is not None and latest.share is access.share and \
            latest.state is VersionState.PENDING and latest.unfinished
        if joining:
            assert latest is not None
            group, base = latest, latest.previous
        else:
            base = latest or self.main_version(access.key, access.in_place)
            group = self._new_version(access.key, node.id, access.in_place,
                                      VersionState.PENDING)
            group.share, group.members, group.unfinished = access.share, set(), set()
        if base is not None:
            self._latest[access.key] = base  # read the version before the group
            self._add_read(node, Access(access.key, Mode.IN, access.in_place))
            self._latest[access.key] = group
        group.members.add(node.id)  # type: ignore[union-attr]
        group.unfinished.add(node.id)  # type: ignore[union-attr]
        node.writes.append(group)

    def shared_blocked(self, task_id: int, starting: set[int] | None = None) -> bool:
        """A shared writer that may not start yet: a COMMUTATIVE one while another member
        of its group runs (or is in ``starting``), an in-place one while readers of the
        version before its group (submitted before the group) still run."""
        starting = starting or set()
        for version in self.tasks[task_id].writes:
            if version.share is None:
                continue
            others = version.members - {task_id}
            if version.share is Share.COMMUTATIVE and any(
                    t in starting or self.tasks[t].state is TaskState.RUNNING for t in others):
                return True
            base = version.previous
            if version.in_place and base is not None and any(
                    self.tasks[t].state not in FINAL_STATES
                    for t in base.readers - version.members):
                return True
        return False

    def _new_version(self, key: DataKey, writer: int | None, in_place: bool,
                     state: VersionState) -> Version:
        previous = self._latest.get(key)
        version = Version(key, previous.number + 1 if previous else 0, writer, in_place, state,
                          previous=previous)
        if previous is not None:
            previous.next = version
        self._latest[key] = version
        return version

    def forget(self, key: DataKey) -> None:
        """Stop tracking a datum (delete_object / delete_file); running readers keep theirs."""
        self._latest.pop(key, None)

    def reads_cancelled_input(self, task_id: int) -> bool:
        return any(v.state is VersionState.CANCELLED for v in self.tasks[task_id].reads)

    # -- events -----------------------------------------------------------------------
    def start(self, task_id: int) -> None:
        self.tasks[task_id].state = TaskState.RUNNING

    def requeue(self, task_id: int) -> None:
        """A running task goes back to READY (retry, or its node was lost)."""
        self.tasks[task_id].state = TaskState.READY

    def finish(self, task_id: int, state: TaskState = TaskState.DONE) -> Progress:
        """The task ended and its outputs exist (DONE, or FAILED under IGNORE)."""
        node = self.tasks[task_id]
        if node.state not in FINAL_STATES:
            self._unfinished -= 1
        node.state = state
        progress = Progress()
        for version in node.writes:
            if version.share is not None:
                version.unfinished.discard(task_id)  # type: ignore[union-attr]
                if version.unfinished or version.state is not VersionState.PENDING:
                    continue  # the group goes on (or one of its writers failed)
            version.state = VersionState.WRITTEN
            self._offer_commit(version, progress)
        self._release_reads(node, progress)
        return progress

    def _offer_commit(self, version: Version, progress: Progress) -> None:
        if not version.committing and self._committable(version):
            version.committing = True
            progress.commits.append(version)

    def commit(self, version: Version) -> Progress:
        """The runtime has put ``version`` in place: wake its readers."""
        version.state = VersionState.AVAILABLE
        progress = Progress()
        for task_id in version.waiters:
            node = self.tasks[task_id]
            node.missing -= 1
            if node.missing == 0 and node.state is TaskState.PENDING:
                node.state = TaskState.READY
                progress.ready.append(task_id)
        version.waiters = ()
        self._check_next(version, progress)
        return progress

    def fail(self, task_id: int, cancel_successors: bool = True) -> Progress:
        """The task failed for good: its outputs will never exist."""
        return self._end_without_outputs(task_id, TaskState.FAILED, cancel_successors)

    def cancel(self, task_id: int) -> Progress:
        """Cancel one task (not yet final) and everything that depends on it."""
        return self._end_without_outputs(task_id, TaskState.CANCELLED, True)

    def cancel_all(self) -> Progress:
        """Cancel every task that has not started (FAIL policy: stop the application)."""
        progress = Progress()
        for task_id, node in list(self.tasks.items()):
            if node.state in (TaskState.PENDING, TaskState.READY):
                progress.merge(self.cancel(task_id))
        return progress

    def _end_without_outputs(self, task_id: int, state: TaskState,
                             cancel_successors: bool) -> Progress:
        node = self.tasks[task_id]
        progress = Progress()
        if node.state in FINAL_STATES:
            return progress
        self._unfinished -= 1
        node.state = state
        if state is TaskState.CANCELLED:
            progress.cancelled.append(task_id)
        for version in node.writes:
            version.state = VersionState.CANCELLED
            waiters, version.waiters = version.waiters, ()
            if cancel_successors:
                for waiter in waiters:
                    progress.merge(self.cancel(waiter))
            self._check_next(version, progress)
        self._release_reads(node, progress)
        return progress

    def _release_reads(self, node: TaskNode, progress: Progress) -> None:
        for version in node.reads:
            if node.id in version.readers:
                version.readers.discard(node.id)  # type: ignore[union-attr]
                if not version.readers:
                    version.readers = frozenset()
            if not version.readers:
                self._check_next(version, progress)

    def _check_next(self, version: Version, progress: Progress) -> None:
        nxt = version.next
        if nxt is not None and nxt.state is VersionState.WRITTEN and nxt.in_place:
            self._offer_commit(nxt, progress)

    def _committable(self, version: Version) -> bool:
        if not version.in_place:
            return True
        previous = version.previous
        if previous is None:
            return True
        if previous.state not in (VersionState.AVAILABLE, VersionState.CANCELLED):
            return False
        others = previous.readers - {version.writer}
        return all(self.tasks[t].state in FINAL_STATES for t in others)

    # -- queries ----------------------------------------------------------------------
    def counts(self) -> dict[TaskState, int]:
        result = dict.fromkeys(TaskState, 0)
        for node in self.tasks.values():
            result[node.state] += 1
        return result

    def all_final(self) -> bool:
        return self._unfinished == 0

    def accesses_final(self, key: DataKey) -> bool:
        """No unfinished task reads or writes any version of ``key``."""
        version = self._latest.get(key)
        while version is not None:
            if version.state in (VersionState.PENDING, VersionState.WRITTEN) or version.readers:
                return False
            version = version.previous
        return True
