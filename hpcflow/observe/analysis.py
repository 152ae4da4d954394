"""Where the time went: the critical path, utilisation over time, per-function statistics
and the worker slot each attempt ran in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hpcflow.observe.model import Attempt, RunModel, TaskRun

_EPSILON = 1e-9


@dataclass(frozen=True)
class CriticalPath:
    """The chain of dependent tasks with the largest summed run time, first task first."""

    tasks: tuple[int, ...]
    length: float
    wall: float

    @property
    def fraction(self) -> float:
        """The path's length as a fraction of the run's wall time."""
        return self.length / self.wall if self.wall > 0 else 0.0


@dataclass(frozen=True)
class UsagePoint:
    """From time ``t`` on: cores busy with tasks, cores of the nodes present, nodes."""

    t: float
    busy: int
    allocated: int
    nodes: int


@dataclass(frozen=True)
class FunctionSummary:
    """Per task function: tasks by final state, attempts and run times."""

    name: str
    tasks: int
    done: int
    failed: int
    cancelled: int
    attempts: int
    total: float
    longest: float

    @property
    def mean(self) -> float:
        """Mean run time of an attempt (0 with no attempts)."""
        return self.total / self.attempts if self.attempts else 0.0


def task_time(task: TaskRun, until: float) -> float:
    """Seconds the task's attempts ran, counting open ones up to ``until``."""
    return sum(a.duration(until) for a in task.attempts)


def critical_path(model: RunModel) -> CriticalPath:
    """The longest chain through the dependencies, weighted by each task's run time
    (ties go to the lower task id, so the answer is stable)."""
    longest: dict[int, float] = {}
    before: dict[int, int | None] = {}
    for task_id in sorted(model.tasks):  # a task's deps were submitted before it
        task = model.tasks[task_id]
        deps = [d for d in task.deps if d in longest]
        best = max(deps, key=lambda d: (longest[d], -d), default=None)
        longest[task_id] = task_time(task, model.end) + (longest[best] if best is not None else 0.0)
        before[task_id] = best
    last = max(longest, key=lambda t: (longest[t], -t), default=None)
    chain: list[int] = []
    while last is not None:
        chain.append(last)
        last = before[last]
    length = longest[chain[0]] if chain else 0.0
    return CriticalPath(tuple(reversed(chain)), length, model.wall)


def utilisation(model: RunModel) -> list[UsagePoint]:
    """Busy and allocated cores and node count as a step function over the run."""
    changes: list[tuple[float, int, int, int]] = []
    for node in model.nodes:
        changes.append((node.joined, 0, node.cores, 1))
        if node.left is not None:
            changes.append((node.left, 0, -node.cores, -1))
    for attempt in model.attempts():
        changes.append((attempt.start, attempt.cores, 0, 0))
        changes.append((attempt.end if attempt.end is not None else model.end,
                        -attempt.cores, 0, 0))
    points: list[UsagePoint] = []
    busy = allocated = nodes = 0
    for t, d_busy, d_alloc, d_nodes in sorted(changes):
        busy, allocated, nodes = busy + d_busy, allocated + d_alloc, nodes + d_nodes
        if points and points[-1].t == t:
            points.pop()
        points.append(UsagePoint(t, busy, allocated, nodes))
    return points


def mean_utilisation(points: Sequence[UsagePoint], end: float) -> float:
    """Busy core-seconds over allocated core-seconds, from the first point to ``end``."""
    busy = allocated = 0.0
    for point, after in zip(points, [*points[1:], None], strict=True):
        span = (after.t if after else end) - point.t
        busy += point.busy * span
        allocated += point.allocated * span
    return busy / allocated if allocated > 0 else 0.0


def function_stats(model: RunModel) -> list[FunctionSummary]:
    """One summary per task function, by name."""
    names = sorted({t.name for t in model.tasks.values()})
    return [_summary(name, [t for t in model.tasks.values() if t.name == name], model.end)
            for name in names]


def _summary(name: str, tasks: Sequence[TaskRun], until: float) -> FunctionSummary:
    times = [a.duration(until) for t in tasks for a in t.attempts]
    return FunctionSummary(
        name=name, tasks=len(tasks), done=sum(t.state == "done" for t in tasks),
        failed=sum(t.state == "failed" for t in tasks),
        cancelled=sum(t.state == "cancelled" for t in tasks), attempts=len(times),
        total=sum(times), longest=max(times, default=0.0))


def assign_slots(attempts: Iterable[Attempt], until: float) -> dict[tuple[int, int], int]:
    """A worker slot (0, 1, ...) per ``(task, attempt)`` of one node, so that attempts in
    one slot never overlap: each takes the lowest slot free at its start."""
    free_at: list[float] = []
    slots: dict[tuple[int, int], int] = {}
    for attempt in sorted(attempts, key=lambda a: (a.start, a.task, a.number)):
        end = attempt.end if attempt.end is not None else until
        slot = next((i for i, t in enumerate(free_at) if t <= attempt.start + _EPSILON),
                    len(free_at))
        if slot == len(free_at):
            free_at.append(end)
        free_at[slot] = end
        slots[(attempt.task, attempt.number)] = slot
    return slots


def node_slots(model: RunModel) -> dict[tuple[int, int], tuple[str, int]]:
    """``(node, slot)`` of every attempt of the run."""
    by_node: dict[str, list[Attempt]] = {}
    for attempt in model.attempts():
        by_node.setdefault(attempt.node, []).append(attempt)
    where: dict[tuple[int, int], tuple[str, int]] = {}
    for node, attempts in by_node.items():
        for key, slot in assign_slots(attempts, model.end).items():
            where[key] = (node, slot)
    return where


def node_order(model: RunModel) -> list[str]:
    """Node names in the order they first joined (then those only seen in attempts)."""
    names = [n.name for n in model.nodes] + [a.node for a in model.attempts()]
    return list(dict.fromkeys(names))
