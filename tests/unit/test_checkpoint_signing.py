"""Who signs a finished task for its checkpoint: the writer process when it read no input
and its call is short (the master keeps the call), the master otherwise; either way the
signature is the one the master computes, also for the tasks that read its output."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from hpcflow import task
from hpcflow.agents.protocol import Assignment, Result
from hpcflow.runtime import context
from hpcflow.runtime.checkpoint import DEFER_CALL_MAX, Checkpointer
from hpcflow.runtime.ckstore import CheckpointStore
from hpcflow.runtime.master import Master
from hpcflow.scheduler.resources import NodeResources


@task(returns=1)
def echo(x):
    return x


class Agent:
    """Runs nothing: the test answers each assignment (its value: the task's id)."""

    def __init__(self) -> None:
        self.resources = NodeResources("n1", 4, 8.0)
        self.sent: list[Assignment] = []

    def dispatch(self, assignment: Assignment) -> None:
        self.sent.append(assignment)

    def kill(self, task_id: int, reason: str) -> None:
        pass

    def shutdown(self) -> None:
        pass


def _run_all(master: Master, agent: Agent) -> None:
    while agent.sent:
        batch, agent.sent = agent.sent, []
        now = time.time()
        master.on_results([Result(a.task_id, a.attempt, True, "n1", 1, now, now,
                                  (pickle.dumps(a.task_id),)) for a in batch])


def test_short_calls_without_inputs_are_left_to_the_writer(tmp_path: Path) -> None:
    master, agent = Master(), Agent()
    master.add_agent(agent)
    checkpoints = master.checkpoints = Checkpointer(CheckpointStore(str(tmp_path))).start(False)
    long_text = "x" * DEFER_CALL_MAX
    with context.installed(master):
        short, long = echo(1), echo(long_text)
        reader = echo(short)  # reads a task the writer signs: signed here, from its call
        _run_all(master, agent)
        _run_all(master, agent)
    short_id, long_id, reader_id = 1, 2, 3
    assert set(checkpoints._unsigned) == set()  # the reader made the master sign task 1
    assert short_id in checkpoints.sigs and long_id in checkpoints.sigs
    assert reader_id in checkpoints.sigs
    for task_id in (short_id, long_id, reader_id):
        record = master.records.get(task_id) or master.finished.writers[task_id]
        if task_id in master.records:  # still held: signed again, the same
            assert checkpoints.signature(master, record) == checkpoints.sigs[task_id]
    assert checkpoints.flush(30)
    checkpoints.close()
    stored = CheckpointStore(str(tmp_path))
    assert stored.load() == 3 and set(stored.entries) == {
        checkpoints.sigs[short_id], checkpoints.sigs[long_id], checkpoints.sigs[reader_id]}
    del long, reader


def test_the_master_keeps_only_short_calls_for_the_writer(tmp_path: Path) -> None:
    master, agent = Master(), Agent()
    master.add_agent(agent)
    checkpoints = master.checkpoints = Checkpointer(CheckpointStore(str(tmp_path))).start(False)
    with context.installed(master):
        futures = [echo(1), echo("x" * DEFER_CALL_MAX)]
        _run_all(master, agent)
    assert list(checkpoints._unsigned) == [1] and list(checkpoints.sigs) == [2]
    checkpoints.close()
    del futures
