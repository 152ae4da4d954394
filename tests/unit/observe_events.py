"""Event lists for the observe tests, written the way the master writes them."""

from __future__ import annotations

from typing import Any

T0 = 1_700_000_000.0


def node(name: str, t: float = 0.0, cores: int = 2) -> dict[str, Any]:
    return {"t": T0 + t, "event": "node_joined", "node": name, "cores": cores,
            "memory_gb": 4.0, "architecture": "x86_64", "gpus": 0, "slots": cores}


def submitted(task: int, name: str, deps: tuple[int, ...] = (), t: float = 0.0,
              reads: tuple[str, ...] = (), writes: tuple[str, ...] | None = None
              ) -> dict[str, Any]:
    return {"t": T0 + t, "event": "submitted", "task": task, "name": name, "deps": list(deps),
            "reads": list(reads) or [f"fut:{d}" for d in deps],
            "writes": list(writes) if writes is not None else [f"fut:{task}"], "group": None}


def ran(task: int, start: float, end: float, node_name: str = "n1", outcome: str = "finished",
        attempt: int = 1, cores: int = 1) -> list[dict[str, Any]]:
    """A ``started`` and an end event of one attempt (the worker's start and end times
    are ``start`` and ``end``; the master logs them a moment later)."""
    end_event = {"t": T0 + end + 0.001, "event": outcome, "task": task, "node": node_name,
                 "attempt": attempt, "host": node_name, "pid": 100 + task,
                 "started": T0 + start, "ended": T0 + end}
    if outcome != "finished":
        end_event.update(error="boom", policy="retry")
    return [{"t": T0 + start + 0.002, "event": "started", "task": task, "node": node_name,
             "attempt": attempt, "version": "v", "cores": cores}, end_event]


def chain_run() -> list[dict[str, Any]]:
    """A chain 1 -> 2 -> 3 (1 s each) beside 4 (2 s) -> 5 (0.5 s), on one 2-core node."""
    events = [node("n1"), {"t": T0, "event": "run_started", "app": "/apps/chain.py",
                           "args": ["x"], "pid": 7, "software": {"python": "3.11.7",
                                                                  "hpcflow": "0.1.0"}}]
    events += [submitted(1, "step"), submitted(2, "step", (1,)), submitted(3, "step", (2,)),
               submitted(4, "long"), submitted(5, "tail", (4,))]
    events += ran(1, 0.0, 1.0) + ran(4, 0.0, 2.0) + ran(2, 1.0, 2.0) + ran(3, 2.0, 3.0)
    events += ran(5, 2.0, 2.5)
    events.append({"t": T0 + 3.1, "event": "run_finished", "status": 0, "message": "",
                   "modules": ["numpy"]})
    return sorted(events, key=lambda e: e["t"])  # stable: submissions before starts
