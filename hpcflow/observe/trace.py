"""The run as a Chrome trace (JSON object format), for ui.perfetto.dev or chrome://tracing.

One process per node, one thread per worker slot, one complete ("X") event per attempt,
a flow arrow ("s" -> "f") per dependency, and a counter of busy and allocated cores.
"""

from __future__ import annotations

from typing import Any

from hpcflow.observe.analysis import node_order, node_slots, utilisation
from hpcflow.observe.model import Attempt, RunModel

#: The pid of the counters' track (nodes are 1, 2, ...).
RUN_PID = 0
_INSIDE = 0.5  # microseconds into a slice where a flow arrow is anchored


def chrome_trace(model: RunModel) -> dict[str, Any]:
    """The ``{"traceEvents": [...]}`` document of a run; times in µs from its begin."""
    pids = {name: index + 1 for index, name in enumerate(node_order(model))}
    where = node_slots(model)
    events: list[dict[str, Any]] = _metadata(pids, where)
    for attempt in model.attempts():
        node, slot = where[(attempt.task, attempt.number)]
        events.append(_slice(model, attempt, pids[node], slot + 1))
    events += _flows(model, pids, where)
    events += _counters(model)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"app": model.run.app or "", "args": list(model.run.args),
                          "tasks": len(model.tasks), "begin_epoch_s": model.begin}}


def _us(model: RunModel, t: float) -> float:
    return round((t - model.begin) * 1e6, 3)


def _metadata(pids: dict[str, int], where: dict[tuple[int, int], tuple[str, int]]
              ) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": RUN_PID, "tid": 0,
         "args": {"name": "run"}}]
    for name, pid in pids.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                       "args": {"name": f"node {name}"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                       "args": {"sort_index": pid}})
    for node, slot in sorted(set(where.values())):
        events.append({"ph": "M", "name": "thread_name", "pid": pids[node], "tid": slot + 1,
                       "args": {"name": f"worker {slot}"}})
    return events


def _slice(model: RunModel, attempt: Attempt, pid: int, tid: int) -> dict[str, Any]:
    task = model.tasks[attempt.task]
    return {"ph": "X", "name": task.name, "cat": attempt.outcome, "pid": pid, "tid": tid,
            "ts": _us(model, attempt.start),
            "dur": round(attempt.duration(model.end) * 1e6, 3),
            "args": {"task": task.id, "attempt": attempt.number, "outcome": attempt.outcome,
                     "host": attempt.host, "pid": attempt.pid, "cores": attempt.cores,
                     "version": attempt.version, "reads": list(task.reads),
                     "writes": list(task.writes), "error": attempt.error}}


def _flows(model: RunModel, pids: dict[str, int],
           where: dict[tuple[int, int], tuple[str, int]]) -> list[dict[str, Any]]:
    """An arrow from the end of each dependency's last attempt to the start of the
    dependent's first attempt (edges with an end that never ran are left out)."""
    events: list[dict[str, Any]] = []
    for task in (model.tasks[t] for t in sorted(model.tasks)):
        for dep in task.deps:
            before = model.tasks.get(dep)
            if not task.attempts or before is None or not before.attempts:
                continue
            src, dst = before.attempts[-1], task.attempts[0]
            flow_id = len(events) // 2 + 1
            events.append(_flow_point("s", model, src, pids, where, flow_id, at_end=True))
            events.append(_flow_point("f", model, dst, pids, where, flow_id, at_end=False))
    return events


def _flow_point(phase: str, model: RunModel, attempt: Attempt, pids: dict[str, int],
                where: dict[tuple[int, int], tuple[str, int]], flow_id: int,
                at_end: bool) -> dict[str, Any]:
    node, slot = where[(attempt.task, attempt.number)]
    start = _us(model, attempt.start)
    span = attempt.duration(model.end) * 1e6
    inset = min(_INSIDE, span / 2)
    ts = start + span - inset if at_end else start + inset
    event = {"ph": phase, "id": flow_id, "name": "dependency", "cat": "dependency",
             "pid": pids[node], "tid": slot + 1, "ts": round(ts, 3)}
    if phase == "f":
        event["bp"] = "e"
    return event


def _counters(model: RunModel) -> list[dict[str, Any]]:
    return [{"ph": "C", "name": "cores", "pid": RUN_PID, "tid": 0, "ts": _us(model, p.t),
             "args": {"busy": p.busy, "allocated": p.allocated}}
            for p in utilisation(model)]
