"""Taking back the tasks an agent holds queued (prefetched) but has not started.

The local agent takes one queued task per task process beyond those running (see
``NodeLedger.queue``). When the walltime drain begins, a queued task must not start after
all: it goes back to READY, where the drain decides whether it may still run, and no
node queues a task any more (it would start only after a running one, maybe too late).
"""

from __future__ import annotations

from typing import Any

from hpcflow.graph.states import TaskState


def withdraw_queued(master: Any) -> int:
    """Put every task queued in an agent, not yet started, back in the ready queue."""
    withdrawn = 0
    if not getattr(master, "_agents", None):  # nothing dispatched anywhere yet
        return withdrawn
    with master._lock:
        for ledger in master._ledgers.values():
            ledger.stop_queueing()  # a task queued from now on would start too late
        for agent in list(master._agents.values()):
            withdraw = getattr(agent, "withdraw", None)
            for task_id in withdraw() if withdraw is not None else ():
                record = master.records.get(task_id)
                if record is None or master.graph.tasks[task_id].state is not TaskState.RUNNING:
                    continue
                master._release(record)
                record.attempt -= 1  # it never started: not an attempt
                master.graph.requeue(task_id)
                master._enqueue(task_id)
                withdrawn += 1
        master._schedule()
    return withdrawn
