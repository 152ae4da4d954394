"""What the master keeps per task, and what it needs of task definitions and agents."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Protocol

from hpcflow.agents.protocol import Assignment, Result
from hpcflow.errors import TaskFailed
from hpcflow.graph.graph import DataKey
from hpcflow.graph.spec import Constraints, TaskSpec
from hpcflow.runtime.calls import CallPlan
from hpcflow.runtime.steps import Shape
from hpcflow.scheduler.resources import NodeResources


class Definition(Protocol):
    """What the master needs of a decorated task function."""

    spec: TaskSpec
    signature: inspect.Signature
    func_key: str

    def versions(self) -> list[Definition]: ...

    def function_bytes(self) -> bytes: ...


class Agent(Protocol):
    """A node's executor, as the master sees it."""

    resources: NodeResources

    def dispatch(self, assignment: Assignment) -> None: ...

    def kill(self, task_id: int, reason: str) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(eq=False)
class _Group:
    name: str
    tasks: list[int] = field(default_factory=list)
    failure: TaskFailed | None = None
    closed: bool = False


@dataclass(eq=False, slots=True)
class TaskRecord:
    """The master's view of one task call."""

    id: int
    definition: Definition
    plan: CallPlan
    outputs: list[DataKey]
    group: _Group | None
    submitted: float
    attempt: int = 0
    node: str | None = None
    version: int = 0
    started: float = 0.0
    ended: float = 0.0
    failure: TaskFailed | None = None
    ignored: bool = False
    result: Result | None = None
    shapes: tuple[Shape | None, ...] = ()  # launched tasks: the shape of each version
    nodes: tuple[str, ...] = ()  # every node of the current attempt (node is the first)

    @property
    def label(self) -> str:
        return f"{self.definition.spec.name} #{self.id}"

    def constraints(self) -> Constraints:
        return self.definition.versions()[self.version].spec.constraints
