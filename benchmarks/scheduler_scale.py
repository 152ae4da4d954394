"""W6: hpcflow's scheduler alone — the pure graph and placement layers, no processes.

``python -m benchmarks.scheduler_scale SIZES_JSON`` builds a layered data-flow graph of
``w6_tasks`` tasks with :class:`hpcflow.graph.graph.TaskGraph` (each task past the first
layer reads the outputs of two tasks of the previous layer; a layer is 1% of the tasks),
then drives it as the master does, one event at a time: place every ready task with
:func:`hpcflow.scheduler.placement.place` on ``w6_nodes`` :class:`NodeLedger` s of 128
cores (locality as the master computes it), then complete the oldest running task
(release its ledger, ``finish``, ``commit`` its outputs, enqueue what became ready), and
place again. Completion is simulated: no process, no clock but the benchmark's own.

Decisions/s is the number of tasks placed per second spent deciding: inside ``place``,
which includes building the candidates with their locality. The loop rate is the number
of tasks placed per second of the whole loop, whose time also includes the completions
(the graph's bookkeeping, as the master's does). The loop stops after ``w6_budget``
seconds (checked between placements too, so one long ``place`` call cannot overrun it);
the rate is then over what was done, and the result says how far it got. Memory is the
peak resident-set growth of this process (``getrusage``) over the baseline taken after
the imports, per task of the graph, measured in the same run.
"""

from __future__ import annotations

import collections
import resource
import sys
import time
from collections.abc import Iterator

from benchmarks import workloads as wl
from hpcflow.graph.graph import Access, TaskGraph, Version
from hpcflow.graph.spec import Constraints, Mode
from hpcflow.graph.states import TaskState
from hpcflow.scheduler.index import NodeLedgers
from hpcflow.scheduler.placement import Candidate, place
from hpcflow.scheduler.resources import NodeLedger, NodeResources

CORES = 128
MEMORY_GB = 256.0
OUTPUT_BYTES = 8  # the size the locality map credits for one input held on a node


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def accesses(task: int, width: int) -> list[Access]:
    """Task ``task`` reads two outputs of the previous layer and writes its own."""
    result = []
    if task >= width:
        first = task - width
        second = first + 1 if (first + 1) % width else first + 1 - width
        result += [Access(("future", first), Mode.IN), Access(("future", second), Mode.IN)]
    result.append(Access(("future", task), Mode.OUT))
    return result


def simulate(tasks: int, nodes: int, budget: float) -> dict[str, float]:
    base = peak_rss_bytes()
    width = max(1, tasks // 100)
    graph = TaskGraph()
    ready: dict[int, None] = {}
    t0 = time.perf_counter()
    for task in range(tasks):
        if graph.add_task(task, accesses(task, width)).state is TaskState.READY:
            ready[task] = None
    build = time.perf_counter() - t0

    ledgers = NodeLedgers(NodeLedger(NodeResources(f"node{i:05d}", CORES, MEMORY_GB))
                          for i in range(nodes))
    versions = (Constraints(),)
    where: dict[Version, str] = {}
    running: collections.deque[tuple[int, str]] = collections.deque()
    placed = done = 0
    t1 = time.perf_counter()
    deadline = t1 + budget
    out_of_time = False

    def candidates() -> Iterator[Candidate]:
        nonlocal out_of_time
        for count, task_id in enumerate(list(ready)):
            if count % 64 == 63 and time.perf_counter() > deadline:
                out_of_time = True
                return
            held: dict[str, int] = {}
            for version in graph.tasks[task_id].reads:
                node = where.get(version)
                if node is not None:
                    held[node] = held.get(node, 0) + OUTPUT_BYTES
            yield Candidate(task_id, versions, held)

    deciding = 0.0
    while not out_of_time:
        start = time.perf_counter()
        placements = place(candidates(), ledgers)
        deciding += time.perf_counter() - start
        for placement in placements:
            del ready[placement.task_id]
            graph.start(placement.task_id)
            running.append((placement.task_id, placement.node))
            placed += 1
        if not running or out_of_time:
            break
        task_id, node = running.popleft()
        ledgers[node].release(task_id, versions[0])
        for version in graph.tasks[task_id].writes:
            where[version] = node
        todo = [graph.finish(task_id)]
        while todo:
            progress = todo.pop()
            todo += [graph.commit(version) for version in progress.commits]
            for ready_id in progress.ready:
                ready[ready_id] = None
        done += 1
        if time.perf_counter() > deadline:
            out_of_time = True
    loop = time.perf_counter() - t1
    complete = done == tasks
    return {"workload": "w6", "value": placed / deciding,
            "loop_rate": placed / loop, "tasks": tasks, "nodes": nodes,
            "placed": placed, "done": done, "complete": complete, "loop_s": loop,
            "build_s": build, "build_rate": tasks / build,
            "peak_bytes_per_task": (peak_rss_bytes() - base) / tasks}


def main(argv: list[str]) -> None:
    sizes = wl.Sizes.from_json(argv[0])
    wl.emit(simulate(sizes.w6_tasks, sizes.w6_nodes, sizes.w6_budget))


if __name__ == "__main__":
    main(sys.argv[1:])
