"""The local pool with real task processes: short tasks travel in batches (each runs once,
a crash in a batch fails only the task that crashed), other tasks go one at a time to
whichever process is idle."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from hpcflow.agents.pool import MAX_BATCH, WorkerPool
from hpcflow.agents.protocol import Assignment, Result


class Collector:
    """The pool's ``on_results``: every list it is handed, and a wait for a count."""

    def __init__(self) -> None:
        self.lists: list[list[Result]] = []
        self._cond = threading.Condition()

    def __call__(self, results: list[Result]) -> None:
        with self._cond:
            self.lists.append(list(results))
            self._cond.notify_all()

    @property
    def results(self) -> list[Result]:
        return [r for batch in self.lists for r in batch]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Result]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.results) >= count, timeout), \
                f"{len(self.results)} of {count} results came back"
            return self.results


def assignment(task_id: int, func: Callable[..., Any], *args: Any) -> Assignment:
    return Assignment(task_id=task_id, attempt=1, name=f"t{task_id}", func_key=func.__name__,
                      func=cloudpickle.dumps(func), call=pickle.dumps((args, {})), refs=(),
                      n_returns=1)


def run_pool(assignments: list[Assignment], warm: list[Assignment] = ()) -> Collector:
    collector = Collector()
    pool = WorkerPool(2, collector)
    pool.start()
    try:
        for a in warm:
            pool.submit(a)
        collector.wait_for(len(warm))
        for a in assignments:
            pool.submit(a)
        collector.wait_for(len(warm) + len(assignments))
    finally:
        pool.shutdown()
    return collector


def test_short_tasks_come_back_in_batches_each_run_once(tmp_path: Any) -> None:
    log = str(tmp_path / "ran")

    def short(i: int) -> int:
        with open(log, "a") as fh:
            fh.write(f"{i}\n")
        return i * 2

    warm = [assignment(i, short, i) for i in range(-4, 0)]  # measured: short
    tasks = [assignment(i, short, i) for i in range(1, 401)]
    collector = run_pool(tasks, warm)
    values = {r.task_id: pickle.loads(r.values[0]) for r in collector.results}
    assert values == {i: 2 * i for i in range(-4, 401) if i}
    ran = [int(line) for line in open(log)]
    assert sorted(ran) == sorted(values)  # once each
    assert max(len(batch) for batch in collector.lists) > 1  # results travel together
    assert len(collector.lists) < len(tasks) // 2
    assert max(len(batch) for batch in collector.lists) <= 2 * MAX_BATCH


def test_a_crash_in_a_batch_fails_that_task_alone() -> None:
    def maybe_die(i: int) -> int:
        if i == 50:
            os._exit(3)
        return i

    warm = [assignment(i, maybe_die, i) for i in range(-4, 0)]
    tasks = [assignment(i, maybe_die, i) for i in range(1, 201)]
    results = run_pool(tasks, warm).results
    by_id = {r.task_id: r for r in results}
    assert len(results) == len(by_id) == 204
    assert not by_id[50].ok and by_id[50].crashed and "exit code 3" in by_id[50].error
    assert all(r.ok and pickle.loads(r.values[0]) == r.task_id
               for r in results if r.task_id != 50)


def test_tasks_not_known_to_be_short_go_one_at_a_time() -> None:
    def nap(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    tasks = [assignment(1, nap, 0.6)] + [assignment(i, nap, 0.05) for i in range(2, 8)]
    results = run_pool(tasks).results
    pids = {r.task_id: pickle.loads(r.values[0]) for r in results}
    # the long task's process took nothing else: the idle one ran all the short ones
    assert all(pids[i] != pids[1] for i in range(2, 8))
