"""A run's event list (``events.jsonl``) as frozen records: tasks, attempts, nodes, run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Event = Mapping[str, Any]

#: The state a task is in after each kind of event about it.
STATE_AFTER = {"submitted": "pending", "started": "running", "retrying": "pending",
               "finished": "done", "failed": "failed", "cancelled": "cancelled"}
#: Task states, in the order they are shown.
STATES = ("pending", "running", "done", "failed", "cancelled")
#: Events that end an attempt.
ATTEMPT_ENDS = ("finished", "retrying", "failed")


@dataclass(frozen=True)
class Attempt:
    """One execution of a task on a node; ``end`` is None while it runs (or if the run
    was killed). ``outcome``: finished, retrying, failed, cancelled or running."""

    task: int
    number: int
    node: str
    start: float
    end: float | None = None
    outcome: str = "running"
    cores: int = 1
    version: str = ""
    host: str | None = None
    pid: int | None = None
    error: str | None = None

    def duration(self, until: float) -> float:
        """Seconds it ran, counting a still open attempt up to ``until``."""
        end = self.end if self.end is not None else until
        return max(0.0, end - self.start)


@dataclass(frozen=True)
class TaskRun:
    """One task call: what it read and wrote, what it waited on, how it ran and ended."""

    id: int
    name: str
    submitted: float
    deps: tuple[int, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group: str | None = None
    state: str = "pending"
    attempts: tuple[Attempt, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class NodeSpan:
    """A node's membership of the run, from joining until leaving (None: to the end)."""

    name: str
    joined: float
    cores: int
    slots: int = 0
    memory_gb: float = 0.0
    architecture: str = ""
    gpus: int = 0
    left: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """The application run: app, arguments, times and exit status (None: unknown)."""

    app: str | None = None
    args: tuple[str, ...] = ()
    pid: int | None = None
    started: float | None = None
    finished: float | None = None
    status: int | None = None
    message: str = ""
    software: Mapping[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunModel:
    """Everything the event log says about a run; ``begin``/``end`` bound every event."""

    run: RunInfo
    tasks: Mapping[int, TaskRun]
    nodes: tuple[NodeSpan, ...]
    begin: float
    end: float

    @property
    def wall(self) -> float:
        """Seconds from the first to the last event."""
        return max(0.0, self.end - self.begin)

    def attempts(self) -> list[Attempt]:
        """Every attempt of every task, by task id then attempt number."""
        return [a for t in sorted(self.tasks) for a in self.tasks[t].attempts]


def build_model(events: Iterable[Event]) -> RunModel:
    """The :class:`RunModel` of an event list (unknown events and fields are ignored)."""
    builder = _Builder()
    for event in events:
        builder.add(event)
    return builder.model()


class _Builder:
    """Folds events into mutable tables, then freezes them."""

    def __init__(self) -> None:
        self.tasks: dict[int, TaskRun] = {}
        self.open: dict[int, Attempt] = {}
        self.nodes: list[NodeSpan] = []
        self.run = RunInfo()
        self.times: list[float] = []
        self._handlers: dict[str, Callable[[Event], None]] = {
            "submitted": self._submitted, "started": self._started,
            "finished": self._ended, "retrying": self._ended, "failed": self._ended,
            "cancelled": self._cancelled, "node_joined": self._joined,
            "node_left": self._left, "run_started": self._run_started,
            "run_finished": self._run_finished,
        }

    def add(self, event: Event) -> None:
        handler = self._handlers.get(str(event.get("event")))
        if handler is None or not isinstance(event.get("t"), int | float):
            return
        self.times.append(float(event["t"]))
        if "task" in event and event["event"] != "submitted" and event["task"] not in self.tasks:
            return  # a task whose submission is not in the log (torn or foreign log)
        handler(event)
        if "task" in event:
            task = self.tasks[event["task"]]
            self.tasks[task.id] = replace(task, state=STATE_AFTER[event["event"]])

    def _submitted(self, e: Event) -> None:
        self.tasks[e["task"]] = TaskRun(
            id=e["task"], name=str(e.get("name", "?")), submitted=e["t"],
            deps=tuple(e.get("deps") or ()), reads=tuple(e.get("reads") or ()),
            writes=tuple(e.get("writes") or ()), group=e.get("group"))

    def _started(self, e: Event) -> None:
        self._close(e["task"], e["t"], "cancelled", None)  # a started without an end
        self.open[e["task"]] = Attempt(
            task=e["task"], number=int(e.get("attempt") or 1), node=str(e.get("node")),
            start=e["t"], cores=int(e.get("cores") or 1), version=str(e.get("version") or ""))

    def _ended(self, e: Event) -> None:
        attempt = self.open.pop(e["task"], None)
        if attempt is None:
            attempt = Attempt(e["task"], int(e.get("attempt") or 1), str(e.get("node")),
                              start=e.get("started") or e["t"])
        start = e.get("started") or attempt.start
        end = max(e.get("ended") or e["t"], start)
        self._append(replace(attempt, start=start, end=end, outcome=e["event"],
                             host=e.get("host"), pid=e.get("pid"), error=e.get("error")))

    def _cancelled(self, e: Event) -> None:
        self._close(e["task"], e["t"], "cancelled", e.get("reason"))
        self.tasks[e["task"]] = replace(self.tasks[e["task"]], reason=e.get("reason"))

    def _close(self, task_id: int, when: float, outcome: str, error: str | None) -> None:
        attempt = self.open.pop(task_id, None)
        if attempt is not None:
            self._append(replace(attempt, end=max(when, attempt.start), outcome=outcome,
                                 error=error))

    def _append(self, attempt: Attempt) -> None:
        task = self.tasks[attempt.task]
        reason = attempt.error if attempt.outcome == "failed" else task.reason
        self.tasks[task.id] = replace(task, attempts=(*task.attempts, attempt), reason=reason)

    def _joined(self, e: Event) -> None:
        self.nodes.append(NodeSpan(
            name=str(e.get("node")), joined=e["t"], cores=int(e.get("cores") or 0),
            slots=int(e.get("slots") or 0), memory_gb=float(e.get("memory_gb") or 0.0),
            architecture=str(e.get("architecture") or ""), gpus=int(e.get("gpus") or 0)))

    def _left(self, e: Event) -> None:
        for index in reversed(range(len(self.nodes))):
            node = self.nodes[index]
            if node.name == e.get("node") and node.left is None:
                self.nodes[index] = replace(node, left=e["t"], reason=e.get("reason"))
                return

    def _run_started(self, e: Event) -> None:
        self.run = replace(self.run, app=e.get("app"), args=tuple(e.get("args") or ()),
                           pid=e.get("pid"), started=e["t"],
                           software=dict(e.get("software") or {}))

    def _run_finished(self, e: Event) -> None:
        self.run = replace(self.run, finished=e["t"], status=e.get("status"),
                           message=str(e.get("message") or ""),
                           modules=tuple(e.get("modules") or ()))

    def model(self) -> RunModel:
        begin = min(self.times, default=0.0)
        end = max(self.times, default=0.0)
        tasks = dict(self.tasks)
        for task_id, attempt in self.open.items():  # still running, or the run was killed
            tasks[task_id] = replace(tasks[task_id], attempts=(*tasks[task_id].attempts,
                                                               attempt))
        for attempt in (a for t in tasks.values() for a in t.attempts):
            begin = min(begin, attempt.start)
            end = max(end, attempt.end or attempt.start)
        return RunModel(self.run, tasks, tuple(self.nodes), begin, end)
